/* Lua 5.1 / LuaJIT shims for the few 5.2+ API calls the core uses. */
#ifndef ESCONNECTOR_COMPAT_H
#define ESCONNECTOR_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/* Only luaopen_* leave the shared objects (built with -fvisibility=hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define ESC_EXPORT __attribute__((visibility("default")))
#else
#define ESC_EXPORT
#endif

#if LUA_VERSION_NUM < 502
#define esc_rawlen(L, i) lua_objlen((L), (i))

static inline void esc_setfuncs(lua_State *L, const luaL_Reg *reg, int nup)
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

/* Integers every Lua number holds exactly: |n| <= 2^53 - 1. */
#define ESC_SAFE_INTEGER 9007199254740991.0

/* Array access with a size_t index (the int of 5.1/5.2 is range-checked by
 * the callers' loops, which never pass lengths beyond INT_MAX). */
#if LUA_VERSION_NUM >= 503
#define esc_rawgeti(L, t, i) ((void)lua_rawgeti((L), (t), (lua_Integer)(i)))
#define esc_rawseti(L, t, i) lua_rawseti((L), (t), (lua_Integer)(i))
#else
#define esc_rawgeti(L, t, i) lua_rawgeti((L), (t), (int)(i))
#define esc_rawseti(L, t, i) lua_rawseti((L), (t), (int)(i))
#endif

/* True when the value at idx is an integer: a 5.3+ integer, or a float with
 * no fractional part within +-(2^53 - 1), which no rounding can have made
 * (a 5.1 number beyond that may be a rounded neighbour: refused). */
static inline int esc_isintegral(lua_State *L, int idx)
{
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, idx))
    return 1;
#endif
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, idx);
    return n >= -ESC_SAFE_INTEGER && n <= ESC_SAFE_INTEGER &&
           (lua_Number)(long long)n == n;
  }
  return 0;
}

/* Pushes t[first] .. t[last] (strings) joined with sep, for the table at
 * absolute index t: one luaL_Buffer, so the stack stays small however long
 * the list. */
static inline void esc_join(lua_State *L, int t, size_t first, size_t last, const char *sep)
{
  luaL_Buffer b;
  size_t i;
  luaL_buffinit(L, &b);
  for (i = first; i <= last && i >= first; i++) {
    if (i > first)
      luaL_addstring(&b, sep);
    esc_rawgeti(L, t, i);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
}

#endif
