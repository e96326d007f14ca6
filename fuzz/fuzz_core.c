/* libFuzzer target for the pure parts of the C core: core.prepare over
 * every catalog row with parameters built from the input, core.escape, and
 * core.interpret with arbitrary statuses, headers and bodies.
 *   make fuzz            (clang, -fsanitize=fuzzer,address,undefined)  */
#include <stdint.h>
#include <stddef.h>
#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
#include "../src/core.c"

struct cursor {
  const uint8_t *p;
  size_t n;
};

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

static void push_bytes(lua_State *L, struct cursor *c)
{
  size_t len = take(c) % 24;
  if (len > c->n)
    len = c->n;
  lua_pushlstring(L, (const char *)c->p, len);
  c->p += len;
  c->n -= len;
}

static void push_value(lua_State *L, struct cursor *c)
{
  switch (take(c) % 8) {
  case 0: push_bytes(L, c); break;
  case 1: lua_pushinteger(L, (lua_Integer)(int8_t)take(c)); break;
  case 2: lua_pushnumber(L, (lua_Number)take(c) / 7.0); break;
  case 3: lua_pushboolean(L, (int)(take(c) & 1)); break;
  case 4: lua_pushlightuserdata(L, NULL); break; /* JSON null */
  case 5: lua_newtable(L); break;
  case 6:
    lua_newtable(L);
    push_bytes(L, c);
    lua_rawseti(L, -2, 1);
    break;
  default:
    lua_newtable(L);
    push_bytes(L, c);
    lua_setfield(L, -2, "k");
    break;
  }
}

/* A name the row knows, or "body", or arbitrary bytes. */
static void push_name(lua_State *L, const struct esc_endpoint *ep, struct cursor *c)
{
  const struct esc_param *lists[4];
  unsigned pick = take(c), i, count = 0;
  lists[0] = ep->path_params;
  lists[1] = ep->query;
  lists[2] = ep->body;
  lists[3] = esc_common_query;
  for (i = 0; i < 4; i++) {
    const struct esc_param *p;
    for (p = lists[i]; p && p->name; p++) {
      if (count++ == pick % 24) {
        lua_pushstring(L, p->name);
        return;
      }
    }
  }
  if (pick % 3 == 0)
    lua_pushliteral(L, "body");
  else
    push_bytes(L, c);
}

/* The decoder interpret() is given: fails, or returns an error object or
 * an error string, depending on the length, so every branch is reached. */
static int fuzz_decode(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  if (len % 3 == 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "bad json");
    return 2;
  }
  lua_newtable(L);
  if (len % 3 == 1) {
    lua_newtable(L);
    lua_pushlstring(L, s, len / 2);
    lua_setfield(L, -2, "reason");
    lua_setfield(L, -2, "error");
  } else {
    lua_pushlstring(L, s, len);
    lua_setfield(L, -2, "error");
  }
  return 1;
}

static int run(lua_State *L)
{
  struct cursor *c = lua_touserdata(L, 1);
  const struct esc_endpoint *ep;
  size_t count = 0;
  int i, pairs;
  static const char *const types[] = { "application/json", "text/plain", "",
                                       "application/vnd.elasticsearch+json;compatible-with=8" };
  while (esc_catalog_at(count))
    count++;
  ep = esc_catalog_at(take(c) % count);
  luaopen_esconnector_core(L);
  lua_getfield(L, -1, "prepare");
  lua_pushstring(L, ep->name);
  lua_newtable(L);
  pairs = (int)(take(c) % 8);
  for (i = 0; i < pairs; i++) {
    push_name(L, ep, c);
    push_value(L, c);
    if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "body") == 0 &&
        !lua_istable(L, -1)) {
      lua_pop(L, 1);
      lua_newtable(L);
    }
    lua_settable(L, -3);
  }
  lua_pushboolean(L, (int)(take(c) & 1));
  lua_pcall(L, 3, 2, 0); /* a raise (programmer error) is a valid outcome */
  lua_settop(L, 2);

  lua_getfield(L, 2, "escape");
  push_bytes(L, c);
  lua_call(L, 1, 1);
  lua_settop(L, 2);

  lua_getfield(L, 2, "interpret");
  lua_newtable(L);
  lua_pushinteger(L, (lua_Integer)(take(c) * 3));
  lua_setfield(L, -2, "status");
  lua_newtable(L);
  lua_pushstring(L, types[take(c) % 4]);
  lua_setfield(L, -2, "content-type");
  if (take(c) & 1) {
    lua_pushliteral(L, "Elasticsearch");
    lua_setfield(L, -2, "x-elastic-product");
  }
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, (const char *)c->p, c->n);
  lua_setfield(L, -2, "body");
  lua_pushcfunction(L, fuzz_decode);
  lua_call(L, 2, 2);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct cursor c;
  lua_State *L = luaL_newstate();
  c.p = data;
  c.n = size;
  luaL_openlibs(L);
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, &c);
  if (lua_pcall(L, 1, 0, 0) != 0)
    __builtin_trap(); /* only prepare may raise, and it runs protected */
  lua_close(L);
  return 0;
}
