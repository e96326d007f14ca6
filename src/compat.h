/* Lua 5.1 / LuaJIT shims for the few 5.2+ API calls the core uses. */
#ifndef ESCONNECTOR_COMPAT_H
#define ESCONNECTOR_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define esc_rawlen(L, i) lua_objlen((L), (i))

static void esc_setfuncs(lua_State *L, const luaL_Reg *reg, int nup)
{
  int i;
  luaL_checkstack(L, nup, "too many upvalues");
  for (; reg->name; reg++) {
    for (i = 0; i < nup; i++)
      lua_pushvalue(L, -nup);
    lua_pushcclosure(L, reg->func, nup);
    lua_setfield(L, -(nup + 2), reg->name);
  }
  lua_pop(L, nup);
}
#else
#define esc_rawlen(L, i) lua_rawlen((L), (i))
#define esc_setfuncs(L, reg, nup) luaL_setfuncs((L), (reg), (nup))
#endif

/* True when the value at idx is a number with no fractional part that fits
 * in a lua_Integer-sized integer (works on every Lua, integers or not). */
static int esc_isintegral(lua_State *L, int idx)
{
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, idx))
    return 1;
#endif
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, idx);
    return n == n && n >= -9007199254740992.0 && n <= 9007199254740992.0 &&
           (lua_Number)(long long)n == n;
  }
  return 0;
}

#endif
