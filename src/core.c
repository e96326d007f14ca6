/* esconnector.core: the C core without libcurl (src/curl.c is the curl
 * transport, a module of its own so that only its users load libcurl and
 * OpenSSL).  A unity build (as luv does): the concern files are included
 * here so that everything but luaopen_* stays static. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */ /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#include "compat.h"
#include "catalog.h"

#include "catalog.c"
#include "escape.c"
#include "request.c"
#include "rules.c"
#include "interpret.c"
#include "headers.c"
#include "clock.c"
#include "gzip.c"
#include "keyfile.c"

#define ESC_VERSION "0.2.0"

static void esc_push_param_names(lua_State *L, const struct esc_param *p)
{
  int i = 0;
  lua_newtable(L);
  for (; p && p->name; p++) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, p->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, esc_type_name(p->type));
    lua_setfield(L, -2, "type");
    lua_pushboolean(L, (p->flags & (ESC_REQUIRED | ESC_PARSER_REQUIRED)) != 0);
    lua_setfield(L, -2, "required");
    lua_rawseti(L, -2, ++i);
  }
}

/* core.catalog() -> { { name, method, path, path_params, query, body,
 *                       body_rule }, ... } (a fresh copy: callers may keep it) */
static int esc_l_catalog(lua_State *L)
{
  static const char *const rules[] = { "none", "optional", "required" };
  const struct esc_endpoint *ep;
  size_t i;
  lua_newtable(L);
  for (i = 0; (ep = esc_catalog_at(i)) != NULL; i++) {
    lua_createtable(L, 0, 7);
    lua_pushstring(L, ep->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, ep->method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, ep->path);
    lua_setfield(L, -2, "path");
    esc_push_param_names(L, ep->path_params);
    lua_setfield(L, -2, "path_params");
    esc_push_param_names(L, ep->query);
    lua_setfield(L, -2, "query");
    esc_push_param_names(L, ep->body);
    lua_setfield(L, -2, "body");
    lua_pushstring(L, rules[ep->body_rule]);
    lua_setfield(L, -2, "body_rule");
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

/* core.parse_headers(head) -> { [lower-case name] = value } (see above). */
static int esc_l_parse_headers(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  esc_parse_head(L, s, len);
  return 1;
}

/* core.base64(s) -> standard base64 with padding (for Authorization). */
static int esc_l_base64(lua_State *L)
{
  static const char abc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t len, i;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (i = 0; i + 2 < len; i += 3) {
    unsigned long v = ((unsigned long)s[i] << 16) | ((unsigned long)s[i + 1] << 8) | s[i + 2];
    luaL_addchar(&b, abc[(v >> 18) & 63]);
    luaL_addchar(&b, abc[(v >> 12) & 63]);
    luaL_addchar(&b, abc[(v >> 6) & 63]);
    luaL_addchar(&b, abc[v & 63]);
  }
  if (i < len) {
    unsigned long v = (unsigned long)s[i] << 16;
    if (i + 1 < len)
      v |= (unsigned long)s[i + 1] << 8;
    luaL_addchar(&b, abc[(v >> 18) & 63]);
    luaL_addchar(&b, abc[(v >> 12) & 63]);
    luaL_addchar(&b, i + 1 < len ? abc[(v >> 6) & 63] : '=');
    luaL_addchar(&b, '=');
  }
  luaL_pushresult(&b);
  return 1;
}

/* core.base64_decode(s) -> bytes, or nil for text that is not base64. */
static int esc_l_base64_decode(lua_State *L)
{
  size_t len, i;
  const char *s = luaL_checklstring(L, 1, &len);
  unsigned long acc = 0;
  int bits = 0;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (i = 0; i < len; i++) {
    char ch = s[i];
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '+' || ch == '-') v = 62;
    else if (ch == '/' || ch == '_') v = 63;
    else if (ch == '=') break;
    else {
      luaL_pushresult(&b);
      lua_pushnil(L);
      return 1;
    }
    acc = ((acc << 6) | (unsigned long)v) & 0xFFFFFFul;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      luaL_addchar(&b, (char)((acc >> bits) & 0xFF));
    }
  }
  luaL_pushresult(&b);
  return 1;
}

ESC_EXPORT int luaopen_esconnector_core(lua_State *L)
{
  static const luaL_Reg functions[] = {
    { "interpret", esc_l_interpret },
    { "escape", esc_l_escape },
    { "catalog", esc_l_catalog },
    { "base64", esc_l_base64 },
    { "base64_decode", esc_l_base64_decode },
    { "now_ms", esc_l_now_ms },
    { "sleep_ms", esc_l_sleep_ms },
    { "gzip", esc_l_gzip },
    { "write_private_file", esc_l_write_private_file },
    { "parse_headers", esc_l_parse_headers },
    { NULL, NULL }
  };
  size_t i;
  lua_newtable(L);
  esc_setfuncs(L, functions, 0);
  /* prepare finds a row by name in a table: { [name] = row pointer } */
  lua_createtable(L, 0, (int)ESC_ENDPOINT_COUNT);
  for (i = 0; i < ESC_ENDPOINT_COUNT; i++) {
    lua_pushlightuserdata(L, (void *)&esc_endpoints[i]);
    lua_setfield(L, -2, esc_endpoints[i].name);
  }
  lua_pushcclosure(L, esc_l_prepare, 1);
  lua_setfield(L, -2, "prepare");
  lua_pushliteral(L, ESC_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
