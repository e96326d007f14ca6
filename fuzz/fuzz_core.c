/* libFuzzer target for the pure parts of the C core, with input as hostile
 * as the public API allows:
 *   - core.prepare over every catalog row, with parameter tables and lists
 *     of up to thousands of entries, nested tables, integers over the whole
 *     64-bit range, any double (NaN, inf, beyond 2^53), strings with NUL, CR
 *     and LF, dot segments, values of types no query can carry; checked and
 *     unchecked.  A prepared request is checked too: its path and query may
 *     only hold escaped bytes, and no path segment may be "." or "..".
 *   - core.interpret with any status, any headers table and any body;
 *   - the response head: raw bytes through the header callback (interim
 *     heads, trailers) and the parser, which must only yield lower-case
 *     token names and values without LF, and with whose table the lookup
 *     interpret makes in a raw head (esc_head_find) must agree;
 *   - the body callback's size cap, the request header and URL checks,
 *     escape, base64 round trips, gzip round trips, curl_new settings.
 *   make fuzz   (clang: -fsanitize=fuzzer,address,undefined,
 *                float-cast-overflow,integer; see the Makefile) */
#include <ctype.h>
#include <stdint.h>
#include <stddef.h>
#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
#include "../src/core.c"
#include "../src/curl.c"

struct cursor {
  const uint8_t *p;
  size_t n;
};

#define FUZZ_MAX_DEPTH 12
#define FUZZ_MAX_ENTRIES 4096

static unsigned take(struct cursor *c)
{
  unsigned v;
  if (c->n == 0)
    return 0;
  v = *c->p;
  c->p++;
  c->n--;
  return v;
}

static unsigned take16(struct cursor *c)
{
  unsigned hi = take(c);
  return (hi << 8) | take(c);
}

static uint64_t take64(struct cursor *c)
{
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++)
    v = (v << 8) | take(c);
  return v;
}

/* Up to max input bytes as a Lua string (NUL, CR, LF included). */
static void push_bytes(lua_State *L, struct cursor *c, size_t max)
{
  size_t len = take(c) % (max + 1);
  if (len > c->n)
    len = c->n;
  lua_pushlstring(L, (const char *)c->p, len);
  c->p += len;
  c->n -= len;
}

static void push_special_number(lua_State *L, unsigned pick)
{
  static const double floats[] = {
    0.5, -0.0, 1.5, 1e300, -1e300, 9007199254740991.0, 9007199254740992.0,
    9007199254740994.0, 9223372036854775808.0, -9223372036854775808.0,
    18446744073709551616.0, 4.9e-324, 2147483647.5, -2147483649.0
  };
  size_t count = sizeof floats / sizeof floats[0];
  if (pick % (count + 5) < count) {
    lua_pushnumber(L, (lua_Number)floats[pick % (count + 5)]);
    return;
  }
  switch (pick % (count + 5) - count) {
  case 0: lua_pushnumber(L, (lua_Number)(0.0 / 0.0)); break; /* NaN */
  case 1: lua_pushnumber(L, (lua_Number)(1.0 / 0.0)); break;
  case 2: lua_pushnumber(L, (lua_Number)(-1.0 / 0.0)); break;
  case 3: lua_pushinteger(L, (lua_Integer)(((uint64_t)1 << 63) - 1)); break; /* maxinteger */
  default: lua_pushinteger(L, (lua_Integer)-(lua_Integer)(((uint64_t)1 << 62)) * 2); break;
  }
}

static void push_value(lua_State *L, struct cursor *c, int depth);

/* A list of n values: short strings from the input, then made-up ones once
 * the input runs out (so thousands of distinct entries stay cheap). */
static void push_list(lua_State *L, struct cursor *c, size_t n, int depth)
{
  size_t i;
  lua_createtable(L, (int)n, 0);
  for (i = 1; i <= n; i++) {
    if (c->n == 0)
      lua_pushfstring(L, "e%d", (int)i);
    else if (depth < FUZZ_MAX_DEPTH && take(c) % 8 == 0)
      push_value(L, c, depth + 1);
    else
      push_bytes(L, c, 8);
    esc_rawseti(L, -2, i);
  }
}

static void push_value(lua_State *L, struct cursor *c, int depth)
{
  unsigned kind = take(c);
  luaL_checkstack(L, 8, "fuzz");
  if (depth >= FUZZ_MAX_DEPTH)
    kind = 0;
  switch (kind % 18) {
  case 0: push_bytes(L, c, 64); break;
  case 1: lua_pushinteger(L, (lua_Integer)(int8_t)take(c)); break;
  case 2: lua_pushinteger(L, (lua_Integer)take64(c)); break; /* the whole 64-bit range */
  case 3: {
    uint64_t bits = take64(c);
    double d;
    memcpy(&d, &bits, sizeof d); /* any double: NaN payloads, inf, subnormals */
    lua_pushnumber(L, (lua_Number)d);
    break;
  }
  case 4: push_special_number(L, take(c)); break;
  case 5: lua_pushboolean(L, (int)(take(c) & 1)); break;
  case 6: lua_pushlightuserdata(L, NULL); break; /* JSON null */
  case 7: lua_newtable(L); break;
  case 8: push_list(L, c, take16(c) % FUZZ_MAX_ENTRIES, depth); break;
  case 9: push_list(L, c, take(c) % 8, depth); break;
  case 10: { /* an object with nested values */
    unsigned i, n = take(c) % 6;
    lua_newtable(L);
    for (i = 0; i < n; i++) {
      push_bytes(L, c, 12);
      push_value(L, c, depth + 1);
      lua_rawset(L, -3);
    }
    break;
  }
  case 11: { /* a deep chain {child = {child = ...}} */
    unsigned i, n = take(c) % 64 + 1;
    lua_newtable(L);
    for (i = 0; i < n; i++) {
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, -3, "child");
      lua_remove(L, -2);
    }
    break;
  }
  case 12: /* an empty array marked as one */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__jsontype");
    lua_setmetatable(L, -2);
    break;
  case 13: lua_pushliteral(L, "a\r\nX-Injected: yes"); break;
  case 14: {
    static const char *const odd[] = { ".", "..", "", "a/../b", "%2E", "*", ",", "a\0b" };
    unsigned pick = take(c) % 8;
    lua_pushlstring(L, odd[pick], pick == 7 ? 3 : strlen(odd[pick]));
    break;
  }
  case 15: lua_pushcfunction(L, esc_l_now_ms); break; /* no query can carry it */
  case 16: { /* a sparse table */
    lua_newtable(L);
    lua_pushliteral(L, "x");
    lua_rawseti(L, -2, (int)(take16(c) + 2));
    break;
  }
  default: push_bytes(L, c, 4096); break;
  }
}

/* A name the row knows, or "body", or arbitrary bytes; a made-up one once
 * the input runs out, so that large tables have distinct keys. */
static void push_name(lua_State *L, const struct esc_endpoint *ep, struct cursor *c,
                      unsigned index)
{
  const struct esc_param *lists[4];
  unsigned pick, i, count = 0;
  if (c->n == 0) {
    lua_pushfstring(L, "u%d", (int)index);
    return;
  }
  pick = take(c);
  lists[0] = ep->path_params;
  lists[1] = ep->query;
  lists[2] = ep->body;
  lists[3] = esc_common_query;
  for (i = 0; i < 4; i++) {
    const struct esc_param *p;
    for (p = lists[i]; p && p->name; p++) {
      if (count++ == pick % 40) {
        lua_pushstring(L, p->name);
        return;
      }
    }
  }
  if (pick % 5 == 0)
    lua_pushliteral(L, "body");
  else
    push_bytes(L, c, 16);
}

/* The only bytes a prepared path or query may hold: unreserved, escapes,
 * the template's '/' and '_', and the kept '*' and ','. */
static int fuzz_wire_safe(const char *s, size_t len, int query)
{
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (esc_is_unreserved(ch) || ch == '/' || ch == '*' || ch == ',' ||
        (query && (ch == '=' || ch == '&')))
      continue;
    if (ch == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
        isxdigit((unsigned char)s[i + 2]))
      continue;
    return 0;
  }
  return 1;
}

static void fuzz_check_request(lua_State *L, int idx)
{
  size_t len, i, start = 0;
  const char *path;
  lua_getfield(L, idx, "path");
  path = lua_tolstring(L, -1, &len);
  if (!path || !fuzz_wire_safe(path, len, 0))
    __builtin_trap();
  for (i = 0; i <= len; i++) { /* no "." or ".." segment */
    if (i == len || path[i] == '/') {
      size_t seg = i - start;
      if ((seg == 1 && path[start] == '.') ||
          (seg == 2 && path[start] == '.' && path[start + 1] == '.'))
        __builtin_trap();
      start = i + 1;
    }
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "query");
  if (!lua_isnil(L, -1)) {
    const char *q = lua_tolstring(L, -1, &len);
    if (!q || !fuzz_wire_safe(q, len, 1))
      __builtin_trap();
  }
  lua_pop(L, 1);
}

static void fuzz_prepare(lua_State *L, int core, struct cursor *c)
{
  const struct esc_endpoint *ep;
  size_t count = 0;
  unsigned i, pairs, size = take(c);
  while (esc_catalog_at(count))
    count++;
  ep = esc_catalog_at(take(c) % count);
  lua_getfield(L, core, "prepare");
  lua_pushstring(L, ep->name);
  lua_newtable(L);
  pairs = size & 0x80 ? take16(c) % FUZZ_MAX_ENTRIES : size % 12;
  for (i = 0; i < pairs; i++) {
    push_name(L, ep, c, i);
    push_value(L, c, 0);
    if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "body") == 0 &&
        !lua_istable(L, -1)) {
      lua_pop(L, 1);
      lua_newtable(L);
    }
    lua_settable(L, -3);
  }
  lua_pushboolean(L, (int)(take(c) & 1));
  /* a raise (a programmer error such as a non-string name) is an outcome */
  if (lua_pcall(L, 3, 2, 0) == 0 && lua_istable(L, -2))
    fuzz_check_request(L, lua_gettop(L) - 1);
}

/* The decoder interpret() is given: fails, or returns odd shapes. */
static int fuzz_decode(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  switch (len % 5) {
  case 0:
    lua_pushnil(L);
    lua_pushliteral(L, "bad json");
    return 2;
  case 1:
    lua_newtable(L);
    lua_newtable(L);
    lua_pushlstring(L, s, len / 2);
    lua_setfield(L, -2, "reason");
    lua_setfield(L, -2, "error");
    return 1;
  case 2:
    lua_newtable(L);
    lua_pushlstring(L, s, len);
    lua_setfield(L, -2, "error");
    return 1;
  case 3:
    lua_pushlstring(L, s, len); /* not an object */
    return 1;
  default:
    lua_pushnil(L); /* nil and no message */
    return 1;
  }
}

static void fuzz_interpret(lua_State *L, int core, struct cursor *c)
{
  static const char *const types[] = {
    "application/json", "text/plain", "", "  application/json",
    "application/vnd.elasticsearch+json;compatible-with=8"
  };
  unsigned i, n;
  lua_getfield(L, core, "interpret");
  lua_newtable(L);
  if (take(c) & 1)
    push_value(L, c, FUZZ_MAX_DEPTH - 1); /* any status: NaN, 1e300, "200", -1 */
  else
    lua_pushinteger(L, (lua_Integer)(take16(c) % 700));
  lua_setfield(L, -2, "status");
  if (take(c) % 8 == 0) {
    push_value(L, c, FUZZ_MAX_DEPTH - 1); /* headers that are not a table */
  } else {
    lua_newtable(L);
    lua_pushstring(L, types[take(c) % 5]);
    lua_setfield(L, -2, "content-type");
    if (take(c) & 1) {
      lua_pushliteral(L, "Elasticsearch");
      lua_setfield(L, -2, "x-elastic-product");
    }
    for (i = 0, n = take(c) % 4; i < n; i++) {
      push_bytes(L, c, 20);
      push_value(L, c, FUZZ_MAX_DEPTH - 1);
      if (lua_isnil(L, -2) || lua_isnil(L, -1))
        lua_pop(L, 2);
      else
        lua_rawset(L, -3);
    }
  }
  lua_setfield(L, -2, "headers");
  if (take(c) % 16 == 0)
    push_value(L, c, FUZZ_MAX_DEPTH - 1);
  else
    push_bytes(L, c, 255);
  lua_setfield(L, -2, "body");
  lua_pushcfunction(L, fuzz_decode);
  lua_call(L, 2, 2); /* never raises on a table response */
}

/* esc_head_find (how interpret reads a raw head without a table) agrees
 * with the table esc_parse_head made of the same head (at index table). */
static void fuzz_check_find(lua_State *L, int table, const char *head, size_t len,
                            const char *name)
{
  const char *value = NULL, *in_table;
  size_t value_len = 0, table_len = 0;
  int found = esc_head_find(head, len, name, &value, &value_len);
  lua_getfield(L, table, name);
  in_table = lua_tolstring(L, -1, &table_len);
  if ((found == 0) != (in_table == NULL))
    __builtin_trap();
  if (found == 1 && (table_len != value_len || memcmp(in_table, value, value_len) != 0))
    __builtin_trap();
  lua_pop(L, 1);
}

/* Raw bytes as a response head: through the header callback, line by line
 * (interim heads, trailers, limits), then the parser. */
static void fuzz_head(lua_State *L, struct cursor *c)
{
  struct esc_transfer t;
  const char *p = (const char *)c->p, *end = p + c->n;
  memset(&t, 0, sizeof t);
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t len = eol ? (size_t)(eol - p) + 1 : (size_t)(end - p);
    if (esc_on_header((char *)(uintptr_t)p, 1, len, &t) != len)
      break;
    p += len;
  }
  esc_parse_head(L, t.head.data, t.head.len);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    size_t klen, vlen, i;
    const char *k = lua_tolstring(L, -2, &klen), *v = lua_tolstring(L, -1, &vlen);
    if (klen == 0 || memchr(v, '\n', vlen))
      __builtin_trap();
    for (i = 0; i < klen; i++)
      if (!esc_is_tchar((unsigned char)k[i]) || (k[i] >= 'A' && k[i] <= 'Z'))
        __builtin_trap();
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  esc_transfer_free(&t);
  /* the same bytes straight into the parser, and esc_head_find on them
   * for every name the table has and for the two interpret reads */
  esc_parse_head(L, (const char *)c->p, c->n);
  fuzz_check_find(L, lua_gettop(L), (const char *)c->p, c->n, "content-type");
  fuzz_check_find(L, lua_gettop(L), (const char *)c->p, c->n, "x-elastic-product");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    fuzz_check_find(L, lua_gettop(L) - 1, (const char *)c->p, c->n, lua_tostring(L, -1));
  }
  lua_pop(L, 1);
}

/* esc_request_setup on a handle: arg 1 the handle, arg 2 the request. */
static int fuzz_setup(lua_State *L)
{
  struct esc_curl *h = luaL_checkudata(L, 1, ESC_CURL_MT);
  int pushed = esc_request_setup(L, 2, h->easy, &h->settings, &h->xfer);
  if (pushed != 0 && pushed != 4)
    __builtin_trap();
  return 0;
}

static void fuzz_misc(lua_State *L, int core, int curl, struct cursor *c)
{
  struct esc_transfer t;
  size_t len, back_len;
  const char *s, *back;
  unsigned i;
  /* the body callback never keeps more than its cap */
  memset(&t, 0, sizeof t);
  t.max_body = take(c) % 64;
  for (i = 0; i < 8 && c->n; i++) {
    size_t piece = take(c) % 32;
    if (piece > c->n)
      piece = c->n;
    esc_on_body((char *)(uintptr_t)c->p, 1, piece, &t);
    if (t.max_body && t.body.len > t.max_body)
      __builtin_trap();
  }
  esc_transfer_free(&t);
  /* header lines and URLs: accepted ones carry no CR, LF or NUL */
  push_bytes(L, c, 64);
  s = lua_tolstring(L, -1, &len);
  if (esc_header_line_ok(s, len) &&
      (memchr(s, '\r', len) || memchr(s, '\n', len) || memchr(s, '\0', len)))
    __builtin_trap();
  if (esc_url_ok(s, len) && (memchr(s, ' ', len) || memchr(s, '\0', len)))
    __builtin_trap();
  /* escape, base64 and gzip */
  lua_getfield(L, core, "escape");
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);
  lua_pop(L, 1);
  lua_getfield(L, core, "base64_decode");
  lua_getfield(L, core, "base64");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 1);
  lua_call(L, 1, 1);
  back = lua_tolstring(L, -1, &back_len);
  if (!back || back_len != len || memcmp(back, s, len) != 0)
    __builtin_trap();
  lua_pop(L, 1);
  lua_getfield(L, core, "base64_decode");
  lua_pushvalue(L, -2); /* arbitrary text as base64 */
  lua_call(L, 1, 1);
  lua_pop(L, 1);
  lua_getfield(L, core, "gzip");
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);
  {
    size_t glen;
    const char *g = lua_tolstring(L, -1, &glen);
    unsigned char out[128];
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK)
      __builtin_trap();
    z.next_in = (const Bytef *)g;
    z.avail_in = (uInt)glen;
    z.next_out = out;
    z.avail_out = sizeof out;
    if (inflate(&z, Z_FINISH) != Z_STREAM_END || sizeof out - z.avail_out != len ||
        memcmp(out, s, len) != 0)
      __builtin_trap();
    inflateEnd(&z);
  }
  lua_pop(L, 2);
  /* curl_new with odd settings: a handle or a raise, nothing else */
  if (take(c) % 4 == 0) {
    static const char *const fields[] = {
      "connect_timeout_ms", "timeout_ms", "verify_peer", "max_response_bytes",
      "ca_fingerprint", "protocols", "ca_file", "decompress", "accept_compressed", "bogus"
    };
    lua_getfield(L, curl, "curl_new");
    lua_newtable(L);
    for (i = 0; i < 3; i++) {
      push_value(L, c, FUZZ_MAX_DEPTH - 1);
      lua_setfield(L, -2, fields[take(c) % (sizeof fields / sizeof *fields)]);
    }
    if (lua_pcall(L, 1, 1, 0) == 0) {
      /* a request set up on the handle (never performed): validation of
       * method, URL, headers and every setopt */
      static const char *const request_fields[] = {
        "method", "url", "headers", "body", "timeout_ms", "fresh_connect", "ca_file"
      };
      lua_pushcfunction(L, fuzz_setup);
      lua_pushvalue(L, -2);
      lua_newtable(L);
      lua_pushliteral(L, "PUT");
      lua_setfield(L, -2, "method");
      lua_pushliteral(L, "http://127.0.0.1:1/x");
      lua_setfield(L, -2, "url");
      for (i = 0; i < 4; i++) {
        unsigned f = take(c) % 7;
        if (f == 2 && take(c) & 1)
          push_list(L, c, take(c) % 8, FUZZ_MAX_DEPTH - 1);
        else
          push_value(L, c, FUZZ_MAX_DEPTH - 1);
        lua_setfield(L, -2, request_fields[f]);
      }
      if (lua_pcall(L, 2, 0, 0) != 0) /* raises for programmer errors */
        lua_pop(L, 1);
      lua_getfield(L, -1, "close");
      lua_pushvalue(L, -2);
      lua_call(L, 1, 0);
    }
    lua_pop(L, 1);
  }
}

static int run(lua_State *L)
{
  struct cursor *c = lua_touserdata(L, 1);
  int core, curl;
  luaopen_esconnector_core(L);
  core = lua_gettop(L);
  luaopen_esconnector_curl(L);
  curl = lua_gettop(L);
  switch (take(c) % 4) {
  case 0: fuzz_prepare(L, core, c); break;
  case 1: fuzz_interpret(L, core, c); break;
  case 2: fuzz_head(L, c); break;
  default: fuzz_misc(L, core, curl, c); break;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct cursor c;
  lua_State *L = luaL_newstate();
  if (!L)
    return 0;
  c.p = data;
  c.n = size;
  luaL_openlibs(L);
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, &c);
  if (lua_pcall(L, 1, 0, 0) != 0)
    __builtin_trap(); /* only prepare and curl_new may raise, and they run protected */
  lua_close(L);
  return 0;
}
