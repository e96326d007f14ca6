/* core.interpret: turn an HTTP response into a result or an error table.
 * Pure: the transport did the I/O; the JSON decoder is passed in. */
#include <string.h>
#include "compat.h"
#include "headers.c"

#define ARG_RESPONSE 1
#define ARG_DECODE 2

static int esc_starts_with(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Content types Elasticsearch answers JSON with. */
static int esc_is_json_type(const char *ct)
{
  while (*ct == ' ')
    ct++;
  return esc_starts_with(ct, "application/json") ||
         esc_starts_with(ct, "application/vnd.elasticsearch+json");
}

/* Finds the header lname (lower case) in the head in data without making
 * a table: returns 0 when it is absent; 1 when it is there once, on one
 * line, with its value in [*value, *value + *value_len) as esc_parse_head
 * would give it; -1 when it is repeated or folded (then only the table
 * esc_parse_head makes has its joined value). */
static int esc_head_find(const char *data, size_t len, const char *lname,
                         const char **value, size_t *value_len)
{
  const char *p = esc_head_start(data, len), *end = data ? data + len : NULL;
  size_t n = strlen(lname), i;
  struct esc_field f;
  int found = 0;
  if (!data)
    return 0;
  while (esc_next_field(&p, end, &f)) {
    if ((size_t)(f.name_end - f.name) != n)
      continue;
    for (i = 0; i < n; i++) {
      char ch = f.name[i];
      if ((ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch) != lname[i])
        break;
    }
    if (i < n)
      continue;
    if (found || f.fold < f.fold_end)
      return -1;
    found = 1;
    *value = f.value;
    *value_len = (size_t)(f.value_end - f.value);
  }
  return found;
}

/* Pushes the value of the response's header name (lower case), or nil:
 * from response.headers when the transport made that table; else from the
 * raw head (response.head, the curl transport's) when the header is there
 * once on one line, without making a table; else from the table the head
 * parses into (response.headers, which the curl transport makes when it is
 * first read). */
static void esc_get_header(lua_State *L, const char *name)
{
  lua_pushliteral(L, "headers");
  lua_rawget(L, ARG_RESPONSE);
  if (lua_isnil(L, -1)) {
    const char *value = NULL;
    size_t len = 0, value_len = 0;
    const char *head;
    lua_pop(L, 1);
    lua_pushliteral(L, "head");
    lua_rawget(L, ARG_RESPONSE);
    head = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    switch (head ? esc_head_find(head, len, name, &value, &value_len) : -1) {
    case 0:
      lua_pop(L, 1);
      lua_pushnil(L);
      return;
    case 1:
      lua_pushlstring(L, value, value_len);
      lua_remove(L, -2);
      return;
    default:
      lua_pop(L, 1);
      lua_getfield(L, ARG_RESPONSE, "headers"); /* may parse the head */
    }
  }
  if (lua_istable(L, -1))
    lua_getfield(L, -1, name);
  else
    lua_pushnil(L);
  lua_remove(L, -2);
}

/* Starts an error table {kind, status}; leaves it on top. */
static void esc_new_error(lua_State *L, const char *kind, lua_Integer status)
{
  lua_newtable(L);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  if (status > 0) {
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
  }
}

/* Calls decode(body): pushes the value and returns 1, or pushes the
 * decoder's message and returns 0. */
static int esc_decode(lua_State *L, int body_idx)
{
  lua_pushvalue(L, ARG_DECODE);
  lua_pushvalue(L, body_idx);
  lua_call(L, 1, 2);
  if (lua_isnil(L, -2)) {
    if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushliteral(L, "invalid JSON");
    }
    lua_remove(L, -2);
    return 0;
  }
  lua_pop(L, 1);
  return 1;
}

/* Copies error.type / reason / root_cause / caused_by from a decoded
 * Elasticsearch error body (idx) into the error table on top.  ES sends
 * "error" as an object, or as a plain string for router-level errors. */
static void esc_copy_es_error(lua_State *L, int body_idx)
{
  static const char *const fields[] = { "type", "reason", "root_cause",
                                        "caused_by", NULL };
  const char *const *f;
  if (!lua_istable(L, body_idx))
    return;
  lua_getfield(L, body_idx, "error");
  if (lua_istable(L, -1)) {
    for (f = fields; *f; f++) {
      lua_getfield(L, -1, *f);
      lua_setfield(L, -3, *f);
    }
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "reason");
  }
  lua_pop(L, 1);
}

/* core.interpret(response, decode) -> result | nil, err
 * response = { status = n, headers = { [lowercase name] = value }, body = s }
 *   (or, from the curl transport, head = the raw head, headers made on demand) */
static int esc_l_interpret(lua_State *L)
{
  lua_Integer status;
  const char *ct = "";
  size_t body_len = 0;
  int body_idx, decoded = 0, ok;
  luaL_checktype(L, ARG_RESPONSE, LUA_TTABLE);
  luaL_checktype(L, ARG_DECODE, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_getfield(L, ARG_RESPONSE, "status");
  {
    /* anything but an HTTP status (NaN, 1e300, -1, 200.5) reads as none */
    lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    status = n >= 0 && n <= 999 && (lua_Number)(lua_Integer)n == n ? (lua_Integer)n : 0;
  }
  lua_pop(L, 1);
  lua_getfield(L, ARG_RESPONSE, "body");
  body_idx = lua_gettop(L); /* 3 */
  if (lua_type(L, body_idx) == LUA_TSTRING)
    lua_tolstring(L, body_idx, &body_len);
  esc_get_header(L, "content-type"); /* 4 */
  if (lua_type(L, -1) == LUA_TSTRING)
    ct = lua_tostring(L, -1);
  ok = status >= 200 && status < 300;

  if (ok) {
    esc_get_header(L, "x-elastic-product");
    if (lua_type(L, -1) != LUA_TSTRING ||
        strcmp(lua_tostring(L, -1), "Elasticsearch") != 0) {
      lua_pushnil(L);
      esc_new_error(L, "product", status);
      lua_pushliteral(L, "the server is not Elasticsearch: its response has "
                         "no [X-elastic-product: Elasticsearch] header");
      lua_setfield(L, -2, "message");
      return 2;
    }
    lua_pop(L, 1);
  }

  if (body_len > 0 && esc_is_json_type(ct)) {
    decoded = esc_decode(L, body_idx); /* 5: value or message */
    if (!decoded) {
      lua_pushnil(L);
      esc_new_error(L, "decode", status);
      lua_pushfstring(L, "cannot decode the response body: %s",
                      lua_tostring(L, -3));
      lua_setfield(L, -2, "message");
      lua_pushvalue(L, body_idx);
      lua_setfield(L, -2, "body");
      return 2;
    }
  }

  if (ok) {
    if (decoded && lua_istable(L, -1))
      return 1;
    if (body_len == 0) { /* e.g. HEAD, or an empty 200 */
      lua_newtable(L);
      return 1;
    }
    lua_pushnil(L);
    esc_new_error(L, "decode", status);
    if (decoded)
      lua_pushliteral(L, "the response body is not a JSON object");
    else
      lua_pushfstring(L, "unexpected content-type [%s]", ct);
    lua_setfield(L, -2, "message");
    lua_pushvalue(L, body_idx);
    lua_setfield(L, -2, "body");
    return 2;
  }

  /* Not 2xx: an http error carrying what Elasticsearch said. */
  lua_pushnil(L);
  esc_new_error(L, "http", status);
  if (decoded) {
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "body");
    esc_copy_es_error(L, lua_gettop(L) - 2);
  } else if (body_len > 0) {
    lua_pushvalue(L, body_idx);
    lua_setfield(L, -2, "body");
  }
  return 2;
}
