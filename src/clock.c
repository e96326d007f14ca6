/* Monotonic time and sleeping for the blocking transport: the retry loop's
 * deadline and backoff must not move with the wall clock. */
#include <time.h>
#include <errno.h>
#include "compat.h"

/* core.now_ms() -> milliseconds on a monotonic clock (a float). */
static int esc_l_now_ms(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec * 1000.0 + (lua_Number)ts.tv_nsec / 1e6);
  return 1;
}

/* core.sleep_ms(ms): blocks this thread (never use inside nginx). */
static int esc_l_sleep_ms(lua_State *L)
{
  lua_Number ms = luaL_checknumber(L, 1);
  struct timespec ts;
  if (!(ms > 0)) /* NaN too */
    return 0;
  if (ms > 2147483647.0) /* keeps the casts below defined (24.8 days) */
    ms = 2147483647.0;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)((ms - (lua_Number)ts.tv_sec * 1000) * 1e6);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
  return 0;
}
