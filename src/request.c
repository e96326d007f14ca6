/* core.prepare: validate a call's parameters against its catalog row, in
 * Elasticsearch's own words, and build method, escaped path, query and body.
 * Pure: no I/O, no globals. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compat.h"
#include "catalog.h"

#define ESC_MAX_NAME 64

/* Stack slots used by prepare. */
#define ARG_PARAMS 2
#define SLOT_BODY_ARG 4 /* params.body, or nil */
#define SLOT_REQUEST 5
#define SLOT_BODY 6
#define SLOT_ERRORS 7  /* numbered validation messages */
#define SLOT_UNKNOWN 8 /* sorted names the row does not know */

static int esc_format_query(lua_State *L, int idx, const struct esc_param *p,
                            int validate);

static const struct esc_param *esc_find_param(const struct esc_param *list,
                                              const char *name)
{
  if (!list)
    return NULL;
  for (; list->name; list++)
    if (strcmp(list->name, name) == 0)
      return list;
  return NULL;
}

/* Pushes a new error table {kind = "validation", type = ..., reason = ...}. */
static int esc_push_validation_error(lua_State *L, const char *type);

/* Is v one of the values p enumerates? */
static int esc_is_choice(const struct esc_param *p, const char *v)
{
  const char *const *c;
  for (c = p->choices; *c; c++)
    if (strcmp(*c, v) == 0)
      return 1;
  return 0;
}

/* Is every comma-separated element of v one of p's values ("full,incremental")? */
static int esc_are_choices(const struct esc_param *p, const char *v)
{
  char one[ESC_MAX_NAME + 1];
  while (1) {
    const char *comma = strchr(v, ',');
    size_t len = comma ? (size_t)(comma - v) : strlen(v);
    if (len > ESC_MAX_NAME)
      return 0;
    memcpy(one, v, len);
    one[len] = '\0';
    if (!esc_is_choice(p, one))
      return 0;
    if (!comma)
      return 1;
    v = comma + 1;
  }
}

/* Pushes the error for a query value outside p's enumeration. */
static int esc_bad_choice(lua_State *L, const struct esc_param *p, const char *v)
{
  const char *const *c;
  luaL_Buffer b;
  lua_pushfstring(L, "Unknown value for [%s]: [%s], expected one of [", p->name, v);
  luaL_buffinit(L, &b);
  for (c = p->choices; *c; c++) {
    if (c != p->choices)
      luaL_addstring(&b, ", ");
    luaL_addstring(&b, **c ? *c : "\"\"");
  }
  luaL_addchar(&b, ']');
  luaL_pushresult(&b);
  lua_concat(L, 2);
  return esc_push_validation_error(L, "illegal_argument_exception");
}

static int esc_push_validation_error(lua_State *L, const char *type)
{
  /* reason is on top of the stack */
  lua_newtable(L);
  lua_pushliteral(L, "validation");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, type);
  lua_setfield(L, -2, "type");
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "reason");
  lua_remove(L, -2);
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

/* True when the table at idx should encode as a JSON array: marked so by
 * esconnector.array, or a non-empty sequence with no other keys. */
static int esc_is_array(lua_State *L, int idx)
{
  size_t n, count = 0;
  int is_array = 1;
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  if (luaL_getmetafield(L, idx, "__jsontype")) {
    is_array = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "array") == 0;
    lua_pop(L, 1);
    return is_array;
  }
  n = esc_rawlen(L, idx);
  if (n == 0)
    return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (lua_type(L, -1) != LUA_TNUMBER || !esc_isintegral(L, -1))
      is_array = 0;
  }
  return is_array && count == n;
}

static int esc_table_is_empty(lua_State *L, int idx)
{
  int empty;
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  lua_pushnil(L);
  empty = !lua_next(L, idx);
  if (!empty)
    lua_pop(L, 2);
  return empty;
}

/* Jackson's name for the token a Lua value encodes to. */
static const char *esc_token_name(lua_State *L, int idx)
{
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: return "VALUE_STRING";
  case LUA_TNUMBER: return "VALUE_NUMBER";
  case LUA_TBOOLEAN: return "VALUE_BOOLEAN";
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL)
      return "VALUE_NULL"; /* esconnector.null, cjson.null */
    break;
  case LUA_TTABLE: return esc_is_array(L, idx) ? "START_ARRAY" : "START_OBJECT";
  default: break;
  }
  return "VALUE_EMBEDDED_OBJECT";
}

static int esc_is_null(lua_State *L, int idx)
{
  return lua_isnil(L, idx) ||
         (lua_type(L, idx) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, idx));
}

/* Does the value at idx fit a body field of this type? */
static int esc_body_value_ok(lua_State *L, int idx, const struct esc_param *p)
{
  int t = lua_type(L, idx);
  const char *token = esc_token_name(L, idx);
  switch (p->type) {
  case ESC_STRING: return t == LUA_TSTRING;
  case ESC_STRING_OR_NULL: return t == LUA_TSTRING || esc_is_null(L, idx);
  case ESC_BOOLEAN:
    if (t == LUA_TSTRING) {
      const char *s = lua_tostring(L, idx);
      return strcmp(s, "true") == 0 || strcmp(s, "false") == 0;
    }
    return t == LUA_TBOOLEAN;
  case ESC_INTEGER: /* ES's parser also takes numbers in strings */
    if (t == LUA_TSTRING) {
      const char *s = lua_tostring(L, idx), *d = s + (*s == '-');
      if (!*d)
        return 0;
      for (; *d; d++)
        if (*d < '0' || *d > '9')
          return 0;
      return 1;
    }
    return t == LUA_TNUMBER;
  case ESC_NUMBER: return t == LUA_TNUMBER;
  case ESC_OBJECT: return strcmp(token, "START_OBJECT") == 0;
  case ESC_ARRAY:
    return t == LUA_TTABLE &&
           (strcmp(token, "START_ARRAY") == 0 || esc_table_is_empty(L, idx));
  case ESC_LIST:
  case ESC_ID:
  case ESC_ANY: break;
  }
  return 1;
}

/* Lucene's Levenshtein similarity (1 - distance / longest length), as
 * Elasticsearch uses for its "did you mean" suggestions. */
static double esc_similarity(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b), i, j;
  size_t prev[ESC_MAX_NAME + 1], cur[ESC_MAX_NAME + 1];
  if (la > ESC_MAX_NAME || lb > ESC_MAX_NAME)
    return 0.0;
  if (la == 0 && lb == 0)
    return 1.0;
  for (j = 0; j <= lb; j++)
    prev[j] = j;
  for (i = 1; i <= la; i++) {
    cur[0] = i;
    for (j = 1; j <= lb; j++) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t best = prev[j - 1] + cost;
      if (prev[j] + 1 < best)
        best = prev[j] + 1;
      if (cur[j - 1] + 1 < best)
        best = cur[j - 1] + 1;
      cur[j] = best;
    }
    memcpy(prev, cur, sizeof prev);
  }
  return 1.0 - (double)prev[lb] / (double)(la > lb ? la : lb);
}

/* Pushes the names in list whose similarity to name is above 0.5, best
 * first, formatted "[a]" or "any of [a, b]"; pushes nothing and returns 0
 * when there is none. */
static int esc_push_suggestions(lua_State *L, const char *name,
                                const struct esc_param *const *lists)
{
  const char *picked[16];
  double scores[16];
  int n = 0, i, j;
  const struct esc_param *const *l;
  luaL_Buffer b;
  for (l = lists; *l; l++) {
    const struct esc_param *p;
    for (p = *l; p->name && n < 16; p++) {
      double s = esc_similarity(name, p->name);
      if (s > 0.5) {
        picked[n] = p->name;
        scores[n++] = s;
      }
    }
  }
  if (n == 0)
    return 0;
  for (i = 1; i < n; i++) /* insertion sort: score desc, then name */
    for (j = i; j > 0 && (scores[j] > scores[j - 1] ||
                          (scores[j] == scores[j - 1] &&
                           strcmp(picked[j], picked[j - 1]) < 0)); j--) {
      const char *tp = picked[j];
      double ts = scores[j];
      picked[j] = picked[j - 1];
      scores[j] = scores[j - 1];
      picked[j - 1] = tp;
      scores[j - 1] = ts;
    }
  luaL_buffinit(L, &b);
  luaL_addstring(&b, n == 1 ? "[" : "any of [");
  for (i = 0; i < n; i++) {
    luaL_addstring(&b, picked[i]);
    if (i + 1 < n)
      luaL_addstring(&b, ", ");
  }
  luaL_addchar(&b, ']');
  luaL_pushresult(&b);
  return 1;
}

/* Is key one the row knows (path, query, common query or body)? */
static int esc_is_known(const struct esc_endpoint *ep, const char *key)
{
  return esc_find_param(ep->path_params, key) ||
         esc_find_param(ep->query, key) ||
         esc_find_param(esc_common_query, key) ||
         esc_find_param(ep->body, key);
}

static int esc_compare_names(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Pushes a table, sorted, of the string keys of params that the row does not
 * know (nil when there are none); raises on a key that is not a string (a
 * programmer error).  The keys stay alive in params, so a userdata array of
 * their pointers sorts them in O(n log n) whatever their number. */
static void esc_push_unknown_keys(lua_State *L, const struct esc_endpoint *ep)
{
  size_t n = 0, i;
  const char **names;
  lua_pushnil(L);
  while (lua_next(L, ARG_PARAMS)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "esconnector: parameter names must be strings");
    if (strcmp(lua_tostring(L, -1), "body") != 0 && !esc_is_known(ep, lua_tostring(L, -1)))
      n++;
  }
  if (n == 0) { /* the usual case: nothing to sort, no table */
    lua_pushnil(L);
    return;
  }
  names = lua_newuserdata(L, n * sizeof *names);
  i = 0;
  lua_pushnil(L);
  while (lua_next(L, ARG_PARAMS)) {
    lua_pop(L, 1);
    if (i < n && strcmp(lua_tostring(L, -1), "body") != 0 &&
        !esc_is_known(ep, lua_tostring(L, -1)))
      names[i++] = lua_tostring(L, -1);
  }
  qsort(names, i, sizeof *names, esc_compare_names);
  lua_createtable(L, i > INT_MAX ? 0 : (int)i, 0);
  for (n = 0; n < i; n++) {
    lua_pushstring(L, names[n]);
    esc_rawseti(L, -2, n + 1);
  }
  lua_remove(L, -2); /* the array */
}

/* Appends "<n>: <message>;" to the validation list; message on top. */
static void esc_add_validation(lua_State *L)
{
  int n = (int)esc_rawlen(L, SLOT_ERRORS); /* 0 while still nil */
  if (!lua_istable(L, SLOT_ERRORS)) { /* made on the first message */
    lua_newtable(L);
    lua_replace(L, SLOT_ERRORS);
  }
  lua_rawseti(L, SLOT_ERRORS, n + 1);
}

/* Pushes the value of a parameter: from params, or for body fields also from
 * params.body (a named parameter wins). */
static void esc_get_param(lua_State *L, const char *name, int body_too)
{
  lua_getfield(L, ARG_PARAMS, name);
  if (lua_isnil(L, -1) && body_too && lua_istable(L, SLOT_BODY_ARG)) {
    lua_pop(L, 1);
    lua_getfield(L, SLOT_BODY_ARG, name);
  }
}

/* Pushes the exact decimal form of the number at idx and returns 1, or
 * returns 0 (pushing nothing) for a number that has none: NaN, infinities,
 * and floats beyond 2^53, whose integer value is unknowable (on 5.1 and
 * LuaJIT, 9007199254740993 arrives as ...992: it must not hit another id). */
static int esc_push_number(lua_State *L, int idx)
{
  char buf[64];
  lua_Number n;
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, idx)) {
    snprintf(buf, sizeof buf, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
    lua_pushstring(L, buf);
    return 1;
  }
#endif
  n = lua_tonumber(L, idx);
  if (!(n >= -ESC_SAFE_INTEGER * 1024 && n <= ESC_SAFE_INTEGER * 1024))
    return 0; /* NaN, infinite, or far beyond any exact integer */
  if (n >= -ESC_SAFE_INTEGER && n <= ESC_SAFE_INTEGER && (lua_Number)(long long)n == n) {
    snprintf(buf, sizeof buf, "%lld", (long long)n);
  } else {
    if (n < -ESC_SAFE_INTEGER || n > ESC_SAFE_INTEGER)
      return 0; /* every such float is integral, and maybe rounded */
    snprintf(buf, sizeof buf, "%.17g", (double)n);
  }
  lua_pushstring(L, buf);
  return 1;
}

/* Formats a path or query scalar and pushes it: returns 1; 0 for a type no
 * path or query can carry; -1 for a number with no exact form. */
static int esc_push_scalar(lua_State *L, int idx)
{
  switch (lua_type(L, idx)) {
  case LUA_TSTRING:
    lua_pushvalue(L, idx);
    return 1;
  case LUA_TNUMBER:
    return esc_push_number(L, idx) ? 1 : -1;
  case LUA_TBOOLEAN:
    lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
    return 1;
  default:
    return 0;
  }
}

/* Pushes how a value that esc_push_scalar refused reads in a message: the
 * number ("nan", "inf", "9.2233720368548e+18") or the type name. */
static void esc_push_shown(lua_State *L, int idx)
{
  if (lua_type(L, idx) == LUA_TNUMBER)
    lua_pushfstring(L, "%f", lua_tonumber(L, idx));
  else
    lua_pushstring(L, luaL_typename(L, idx));
}

/* Pushes the validation error for a number esc_push_number refused. */
static int esc_bad_number(lua_State *L, const char *name, int idx)
{
  lua_pushfstring(L, "[%s] is %s: it has no exact decimal form to send", name,
                  lua_tonumber(L, idx) != lua_tonumber(L, idx) ? "NaN"
                  : "infinite or a float beyond 2^53 (use an integer, or a string)");
  return esc_push_validation_error(L, "illegal_argument_exception");
}

/* Pushes the elements of the list (or the string) at idx, each escaped
 * (keeping the characters in keep), joined with ","; or nil + error (returns
 * 2).  Constant stack: pieces go into a table, then one luaL_Buffer. */
static int esc_format_list(lua_State *L, int idx, const struct esc_param *p,
                           int validate, const char *keep)
{
  size_t i, n;
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t l;
    const char *s = lua_tolstring(L, idx, &l);
    esc_push_escaped(L, s, l, keep);
    return 1;
  }
  n = esc_rawlen(L, idx);
  lua_createtable(L, n > 1024 ? 1024 : (int)n, 0);
  for (i = 1; i <= n; i++) {
    int t, r;
    esc_rawgeti(L, idx, i);
    t = lua_type(L, -1);
    r = (validate && t != LUA_TSTRING && t != LUA_TNUMBER) ? 0 : esc_push_scalar(L, -1);
    if (r <= 0) {
      if (r < 0)
        return esc_bad_number(L, p->name, -1);
      lua_pushfstring(L, "[%s] must be a string or a list of strings", p->name);
      return esc_push_validation_error(L, "illegal_argument_exception");
    }
    if (validate && p->choices && !esc_is_choice(p, lua_tostring(L, -1)))
      return esc_bad_choice(L, p, lua_tostring(L, -1));
    {
      size_t l;
      const char *s = lua_tolstring(L, -1, &l);
      esc_push_escaped(L, s, l, "*");
    }
    esc_rawseti(L, -4, i);
    lua_pop(L, 2);
  }
  esc_join(L, lua_gettop(L), 1, n, ",");
  lua_remove(L, -2);
  return 1;
}

/* Pushes one path parameter's segment, or nil + error (returns 2).
 * Segments that could change the endpoint are refused or escaped: "." and
 * ".." are escaped; a list that formats to nothing (index = {} gave
 * "DELETE /") is refused; an absent or "" value is refused as the path's last
 * segment ("/_connector/" could be routed as "/_connector"), and otherwise
 * left empty for the server to judge ("/_connector//_check_in"), which
 * validate() does first in Elasticsearch's words. */
static int esc_push_path_value(lua_State *L, const struct esc_param *spec,
                               int validate, int last)
{
  int idx = lua_gettop(L); /* the value */
  int t = lua_type(L, idx);
  const char *name = spec ? spec->name : "?";
  size_t len;
  const char *s;
  if (t == LUA_TNIL || (t == LUA_TSTRING && esc_rawlen(L, idx) == 0)) {
    if (!last || (validate && spec && (spec->flags & (ESC_REQUIRED | ESC_NOT_EMPTY)))) {
      lua_pushliteral(L, "");
      return 1;
    }
  } else if (spec && spec->type == ESC_LIST && (t == LUA_TTABLE || t == LUA_TSTRING)) {
    if (esc_format_list(L, idx, spec, validate, "*,") == 2) /* "a,b": commas stay */
      return 2;
  } else if (t == LUA_TSTRING) {
    s = lua_tolstring(L, idx, &len);
    esc_push_escaped(L, s, len, NULL);
  } else if ((t == LUA_TNUMBER && (!validate || esc_isintegral(L, idx))) ||
             (t == LUA_TBOOLEAN && !validate)) {
    if (esc_push_scalar(L, idx) < 0)
      return esc_bad_number(L, name, idx);
    s = lua_tolstring(L, -1, &len);
    esc_push_escaped(L, s, len, NULL);
    lua_remove(L, -2);
  } else if (t == LUA_TNUMBER) {
    esc_push_shown(L, idx);
    lua_pushfstring(L, "[%s] must be a string or an exact integer (at most 2^53 - 1 "
                    "in size unless it is a Lua 5.3+ integer), got [%s]", name,
                    lua_tostring(L, -1));
    lua_remove(L, -2);
    return esc_push_validation_error(L, "illegal_argument_exception");
  } else {
    lua_pushfstring(L, "[%s] must be a string, got a %s", name, luaL_typename(L, idx));
    return esc_push_validation_error(L, "illegal_argument_exception");
  }
  if (lua_gettop(L) == idx || esc_rawlen(L, -1) == 0) {
    lua_settop(L, idx);
    lua_pushfstring(L, "[%s] cannot be empty: the path would lose a segment", name);
    return esc_push_validation_error(L, "illegal_argument_exception");
  }
  s = lua_tolstring(L, -1, &len);
  if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
    lua_pop(L, 1);
    lua_pushstring(L, len == 1 ? "%2E" : "%2E%2E");
  }
  return 1;
}

/* Builds the path from the template; pushes it, or pushes nil + error. */
static int esc_build_path(lua_State *L, const struct esc_endpoint *ep,
                          int validate)
{
  const char *t = ep->path;
  const struct esc_param *p;
  int base = lua_gettop(L);
  if (ep->path_without_params) { /* optional ids: all absent -> short path */
    int any = 0;
    for (p = ep->path_params; p->name; p++) {
      lua_getfield(L, ARG_PARAMS, p->name);
      any |= !lua_isnil(L, -1);
      lua_pop(L, 1);
    }
    if (!any) {
      lua_pushstring(L, ep->path_without_params);
      return 1;
    }
  }
  while (*t) {
    const char *open = strchr(t, '{'), *close;
    char name[ESC_MAX_NAME + 1];
    size_t len;
    luaL_checkstack(L, 4, "esconnector: path template");
    if (!open) {
      lua_pushstring(L, t);
      break;
    }
    close = strchr(open, '}');
    len = (size_t)(close - open - 1);
    if (len > ESC_MAX_NAME)
      len = ESC_MAX_NAME;
    lua_pushlstring(L, t, (size_t)(open - t));
    memcpy(name, open + 1, len);
    name[len] = '\0';
    lua_getfield(L, ARG_PARAMS, name);
    if (esc_push_path_value(L, esc_find_param(ep->path_params, name), validate,
                            close[1] == '\0') == 2)
      return 2;
    lua_remove(L, -2); /* the raw value */
    t = close + 1;
  }
  lua_concat(L, lua_gettop(L) - base);
  return 1;
}

/* Checks path parameters for presence (validate() stage). */
static void esc_check_path_presence(lua_State *L, const struct esc_endpoint *ep)
{
  const struct esc_param *p;
  for (p = ep->path_params; p->name; p++) {
    int bad;
    lua_getfield(L, ARG_PARAMS, p->name);
    bad = (lua_isnil(L, -1) && (p->flags & ESC_REQUIRED)) ||
          ((p->flags & ESC_NOT_EMPTY) && lua_type(L, -1) == LUA_TSTRING &&
           esc_rawlen(L, -1) == 0);
    lua_pop(L, 1);
    if (bad) {
      if (p->missing)
        lua_pushstring(L, p->missing);
      else
        lua_pushfstring(L, "[%s] cannot be [null] or [\"\"].", p->name);
      esc_add_validation(L);
    }
  }
}

/* Pushes the query form of the scalar at idx, escaped (keeping '*' for
 * filter_path wildcards and ',' for lists); or nil + error (returns 2). */
static int esc_push_query_scalar(lua_State *L, int idx, const struct esc_param *p)
{
  size_t l;
  const char *s;
  int r = esc_push_scalar(L, idx);
  if (r < 0)
    return esc_bad_number(L, p->name, idx);
  if (r == 0) {
    lua_pushfstring(L, "[%s] cannot be sent as a query parameter", p->name);
    return esc_push_validation_error(L, "illegal_argument_exception");
  }
  s = lua_tolstring(L, -1, &l);
  esc_push_escaped(L, s, l, "*,");
  lua_remove(L, -2);
  return 1;
}

/* Formats one query value as the server wants it; pushes it, or pushes
 * nil + error. */
static int esc_format_query(lua_State *L, int idx, const struct esc_param *p,
                            int validate)
{
  int t = lua_type(L, idx);
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  if (!validate || p->type == ESC_ANY) {
    if (t == LUA_TTABLE)
      return esc_format_list(L, idx, p, 0, "*");
    return esc_push_query_scalar(L, idx, p);
  }
  switch (p->type) {
  case ESC_BOOLEAN:
    if (t == LUA_TBOOLEAN) {
      lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
      return 1;
    }
    if (t == LUA_TSTRING && (strcmp(lua_tostring(L, idx), "true") == 0 ||
                             strcmp(lua_tostring(L, idx), "false") == 0)) {
      lua_pushvalue(L, idx);
      return 1;
    }
    if (esc_push_scalar(L, idx) <= 0)
      esc_push_shown(L, idx);
    lua_pushfstring(L, "Failed to parse value [%s] as only [true] or [false] "
                    "are allowed.", lua_tostring(L, -1));
    lua_remove(L, -2);
    return esc_push_validation_error(L, "illegal_argument_exception");
  case ESC_INTEGER:
    if (esc_isintegral(L, idx)) {
      esc_push_scalar(L, idx);
      return 1;
    }
    if (esc_push_scalar(L, idx) <= 0)
      esc_push_shown(L, idx);
    lua_pushfstring(L, "Failed to parse int parameter [%s] with value [%s]",
                    p->name, lua_tostring(L, -1));
    lua_remove(L, -2);
    return esc_push_validation_error(L, "illegal_argument_exception");
  case ESC_LIST:
    if (t == LUA_TTABLE)
      return esc_format_list(L, idx, p, 1, "*");
    /* fall through */
  default:
    if (p->choices && t == LUA_TBOOLEAN && esc_is_choice(p, "true")) {
      lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
      return 1;
    }
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
      if (p->choices && (t != LUA_TSTRING ||
                         !(p->type == ESC_LIST ? esc_are_choices : esc_is_choice)(
                           p, lua_tostring(L, idx)))) {
        if (esc_push_scalar(L, idx) <= 0)
          esc_push_shown(L, idx);
        return esc_bad_choice(L, p, lua_tostring(L, -1));
      }
      return esc_push_query_scalar(L, idx, p);
    }
    lua_pushfstring(L, "[%s] must be a %s, got a %s", p->name,
                    p->type == ESC_LIST ? "string or a list of strings"
                                        : "string",
                    luaL_typename(L, idx));
    return esc_push_validation_error(L, "illegal_argument_exception");
  }
}

/* The query list at qidx, made on the first pair (nil until then). */
static void esc_query_made(lua_State *L, int qidx)
{
  if (!lua_istable(L, qidx)) {
    lua_newtable(L);
    lua_replace(L, qidx);
  }
}

/* Appends "name=value" pairs for the params in list to the query list at
 * qidx; returns 0, or 2 with nil + error pushed. */
static int esc_add_query(lua_State *L, int qidx, const struct esc_param *list,
                         int validate)
{
  for (; list && list->name; list++) {
    lua_getfield(L, ARG_PARAMS, list->name);
    if (!lua_isnil(L, -1)) {
      if (esc_format_query(L, -1, list, validate) == 2)
        return 2;
      lua_pushfstring(L, "%s=%s", list->name, lua_tostring(L, -1));
      esc_query_made(L, qidx);
      esc_rawseti(L, qidx, esc_rawlen(L, qidx) + 1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  return 0;
}

/* Pushes "[parser] unknown field [key]" with ES's suggestion, as an error. */
static int esc_unknown_field(lua_State *L, const struct esc_endpoint *ep,
                             const char *key)
{
  const struct esc_param *lists[2];
  if (!ep->body) {
    lua_pushfstring(L, "request [%s] does not support having a body", ep->path);
    return esc_push_validation_error(L, "illegal_argument_exception");
  }
  lists[0] = ep->body;
  lists[1] = NULL;
  lua_pushfstring(L, "[%s] unknown field [%s]", ep->parser, key);
  if (esc_push_suggestions(L, key, lists)) {
    lua_pushfstring(L, " did you mean %s?", lua_tostring(L, -1));
    lua_remove(L, -2);
    lua_concat(L, 2);
  }
  return esc_push_validation_error(L, "x_content_parse_exception");
}

/* Parse stage for the body: unknown fields, value types, enumerations and
 * the fields the parser itself requires.  Copies accepted fields into
 * SLOT_BODY; returns their count, or -1 with nil + error pushed. */
static int esc_parse_body(lua_State *L, const struct esc_endpoint *ep,
                          int validate)
{
  const struct esc_param *p;
  int nbody = 0, missing = 0;
  if (validate && lua_istable(L, SLOT_BODY_ARG)) {
    lua_pushnil(L);
    while (lua_next(L, SLOT_BODY_ARG)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "esconnector: body field names must be strings");
      if (!esc_find_param(ep->body, lua_tostring(L, -1))) {
        esc_unknown_field(L, ep, lua_tostring(L, -1));
        return -1;
      }
    }
  }
  if (validate && ep->body && esc_rawlen(L, SLOT_UNKNOWN) > 0) {
    lua_rawgeti(L, SLOT_UNKNOWN, 1);
    esc_unknown_field(L, ep, lua_tostring(L, -1));
    return -1;
  }
  for (p = ep->body; p && p->name; p++) {
    esc_get_param(L, p->name, 1);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      if (validate && (p->flags & ESC_PARSER_REQUIRED)) {
        luaL_checkstack(L, 4, "esconnector: required fields");
        lua_pushstring(L, p->name);
        missing++;
      }
      continue;
    }
    if (validate && !esc_body_value_ok(L, -1, p)) {
      lua_pushfstring(L, "[%s] %s doesn't support values of type: %s",
                      ep->parser, p->name, esc_token_name(L, -1));
      esc_push_validation_error(L, "x_content_parse_exception");
      return -1;
    }
    if (validate && p->choices && lua_type(L, -1) == LUA_TSTRING) {
      const char *const *c;
      const char *v = lua_tostring(L, -1);
      for (c = p->choices; *c && strcmp(*c, v) != 0; c++)
        ;
      if (!*c) {
        lua_pushfstring(L, "[%s] failed to parse field [%s]", ep->parser, p->name);
        esc_push_validation_error(L, "x_content_parse_exception");
        return -1;
      }
    }
    lua_setfield(L, SLOT_BODY, p->name);
    nbody++;
  }
  if (missing > 0) { /* ConstructingObjectParser: "Required [a, b]" */
    int i, list;
    lua_createtable(L, missing, 0);
    list = lua_gettop(L);
    for (i = missing; i > 0; i--) { /* the names are below the table */
      lua_pushvalue(L, list - missing + i - 1);
      esc_rawseti(L, list, i);
    }
    esc_join(L, list, 1, (size_t)missing, ", ");
    lua_pushfstring(L, "Required [%s]", lua_tostring(L, -1));
    esc_push_validation_error(L, "illegal_argument_exception");
    return -1;
  }
  return nbody;
}

/* Pushes the REST layer's "unrecognized parameter" error for SLOT_UNKNOWN. */
static int esc_unrecognized(lua_State *L, const struct esc_endpoint *ep)
{
  size_t i, n = esc_rawlen(L, SLOT_UNKNOWN);
  int pieces;
  const struct esc_param *lists[3];
  lists[0] = ep->query;
  lists[1] = esc_common_query;
  lists[2] = NULL;
  lua_getfield(L, SLOT_REQUEST, "path");
  lua_pushfstring(L, "request [%s] contains unrecognized parameter%s: ",
                  lua_tostring(L, -1), n > 1 ? "s" : "");
  lua_remove(L, -2);
  lua_createtable(L, n > 1024 ? 1024 : (int)n, 0);
  pieces = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    const char *key;
    esc_rawgeti(L, SLOT_UNKNOWN, i);
    key = lua_tostring(L, -1);
    lua_pushfstring(L, "[%s]", key);
    if (esc_push_suggestions(L, key, lists)) {
      lua_pushfstring(L, " -> did you mean %s?", lua_tostring(L, -1));
      lua_remove(L, -2);
      lua_concat(L, 2);
    }
    esc_rawseti(L, pieces, i);
    lua_pop(L, 1);
  }
  esc_join(L, pieces, 1, n, ", ");
  lua_remove(L, pieces);
  lua_concat(L, 2);
  return esc_push_validation_error(L, "illegal_argument_exception");
}

/* Unchecked: names the row does not know go to the body when the endpoint
 * has one, to the query otherwise, as the official clients do; the rest of
 * params.body is sent too.  Returns the number of body fields added, or -1
 * with nil + error pushed for a value no query can carry. */
static int esc_add_unchecked(lua_State *L, const struct esc_endpoint *ep,
                             int qidx)
{
  int nbody = 0;
  lua_pushnil(L);
  while (lua_next(L, ARG_PARAMS)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (key && strcmp(key, "body") != 0 && !esc_is_known(ep, key)) {
      if (ep->body_rule != ESC_BODY_NONE) {
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_settable(L, SLOT_BODY);
        nbody++;
      } else {
        struct esc_param any = { NULL, ESC_ANY, 0, NULL, NULL, NULL };
        size_t key_len;
        any.name = key;
        lua_tolstring(L, -2, &key_len);
        if (esc_format_query(L, -1, &any, 0) == 2)
          return -1; /* nil + error pushed */
        /* the name is escaped too: "a&b=c#x" must stay one name */
        esc_push_escaped(L, key, key_len, NULL);
        lua_pushliteral(L, "=");
        lua_pushvalue(L, -3);
        lua_concat(L, 3);
        esc_query_made(L, qidx);
        esc_rawseti(L, qidx, esc_rawlen(L, qidx) + 1);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  if (lua_istable(L, SLOT_BODY_ARG)) {
    lua_pushnil(L);
    while (lua_next(L, SLOT_BODY_ARG)) {
      lua_pushvalue(L, -2);
      lua_rawget(L, SLOT_BODY);
      if (lua_isnil(L, -1)) {
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_settable(L, SLOT_BODY);
        nbody++;
      }
      lua_pop(L, 2);
    }
  }
  return nbody;
}

/* validate(): presence rules, all reported together as ES numbers them.
 * Returns 0, or 2 with nil + error pushed. */
static int esc_validate(lua_State *L, const struct esc_endpoint *ep)
{
  const struct esc_param *p;
  size_t i, n;
  esc_check_path_presence(L, ep);
  for (p = ep->body; p && p->name; p++) {
    int absent, empty;
    esc_get_param(L, p->name, 1);
    absent = esc_is_null(L, -1);
    empty = lua_type(L, -1) == LUA_TSTRING && esc_rawlen(L, -1) == 0;
    lua_pop(L, 1);
    if ((absent && (p->flags & ESC_REQUIRED)) ||
        (empty && (p->flags & ESC_NOT_EMPTY))) {
      const char *msg = empty && p->empty ? p->empty : p->missing;
      if (msg)
        lua_pushstring(L, msg);
      else
        lua_pushfstring(L, "[%s] cannot be [null] or [\"\"].", p->name);
      esc_add_validation(L);
    }
  }
  if (ep->one_of) {
    const char *const *f;
    int any = 0;
    for (f = ep->one_of; *f; f++) {
      esc_get_param(L, *f, 1);
      any |= !esc_is_null(L, -1);
      lua_pop(L, 1);
    }
    if (!any) {
      lua_pushstring(L, ep->one_of_message);
      esc_add_validation(L);
    }
  }
  if (ep->check)
    ep->check(L, esc_add_validation);
  n = esc_rawlen(L, SLOT_ERRORS);
  if (n == 0)
    return 0;
  for (i = 1; i <= n; i++) { /* "<n>: <message>;" in place */
    esc_rawgeti(L, SLOT_ERRORS, i);
    lua_pushfstring(L, "%d: %s;", (int)i, lua_tostring(L, -1));
    esc_rawseti(L, SLOT_ERRORS, i);
    lua_pop(L, 1);
  }
  lua_pushliteral(L, "Validation Failed: ");
  esc_join(L, SLOT_ERRORS, 1, n, "");
  lua_concat(L, 2);
  return esc_push_validation_error(L, "action_request_validation_exception");
}

/* core.prepare(api_name, params [, validate]) -> request | nil, err
 * request = { api, method, path, query (string or nil), body (table or nil),
 *             body_required (boolean) }
 * Checks run in Elasticsearch's order: body parsing, unknown query
 * parameters, then validate(). */
static int esc_l_prepare(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  const struct esc_endpoint *ep;
  int validate, qidx, nbody;
  lua_pushvalue(L, 1);
  lua_rawget(L, lua_upvalueindex(1)); /* name -> row, made at load */
  ep = (const struct esc_endpoint *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!ep)
    return luaL_error(L, "esconnector: unknown API '%s'", name);
  luaL_checktype(L, ARG_PARAMS, LUA_TTABLE);
  validate = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
  lua_settop(L, 3);
  lua_getfield(L, ARG_PARAMS, "body");
  if (!lua_isnil(L, SLOT_BODY_ARG) && !lua_istable(L, SLOT_BODY_ARG))
    return luaL_error(L, "esconnector: params.body must be a table");
  lua_createtable(L, 0, 6); /* SLOT_REQUEST: sized once, for all its fields */
  lua_createtable(L, 0, 2); /* SLOT_BODY: most bodies are small */
  lua_pushnil(L); /* SLOT_ERRORS: a table from the first message */
  if (validate)
    esc_push_unknown_keys(L, ep); /* SLOT_UNKNOWN */
  else
    lua_pushnil(L);

  nbody = esc_parse_body(L, ep, validate);
  if (nbody < 0)
    return 2;
  if (esc_build_path(L, ep, validate) == 2)
    return 2;
  lua_setfield(L, SLOT_REQUEST, "path");

  lua_pushnil(L); /* the query list, from the first pair */
  qidx = lua_gettop(L);
  if (esc_add_query(L, qidx, ep->query, validate) == 2 ||
      esc_add_query(L, qidx, esc_common_query, validate) == 2)
    return 2;
  if (validate) {
    if (esc_rawlen(L, SLOT_UNKNOWN) > 0)
      return esc_unrecognized(L, ep);
    if (esc_validate(L, ep) == 2)
      return 2;
  } else {
    int added = esc_add_unchecked(L, ep, qidx);
    if (added < 0)
      return 2;
    nbody += added;
  }

  if (esc_rawlen(L, qidx) > 0) { /* "a=1&b=2" */
    esc_join(L, qidx, 1, esc_rawlen(L, qidx), "&");
    lua_setfield(L, SLOT_REQUEST, "query");
  }
  lua_pushstring(L, ep->name);
  lua_setfield(L, SLOT_REQUEST, "api");
  lua_pushstring(L, ep->method);
  lua_setfield(L, SLOT_REQUEST, "method");
  lua_pushboolean(L, ep->body_rule == ESC_BODY_REQUIRED);
  lua_setfield(L, SLOT_REQUEST, "body_required");
  if (nbody > 0 || lua_istable(L, SLOT_BODY_ARG)) { /* an explicit body: sent */
    lua_pushvalue(L, SLOT_BODY);
    lua_setfield(L, SLOT_REQUEST, "body");
  }
  lua_pushvalue(L, SLOT_REQUEST);
  return 1;
}
