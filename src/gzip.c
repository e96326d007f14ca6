/* gzip for request bodies (http_compress); responses are inflated by
 * libcurl itself (CURLOPT_ACCEPT_ENCODING). */
#define ZLIB_CONST
#include <string.h>
#include <zlib.h>
#include "compat.h"

/* core.gzip(s) -> the gzip member of s.  The output buffer is a userdata
 * allocated first, so no Lua call (which could raise) happens while zlib's
 * own state is alive. */
static int esc_l_gzip(lua_State *L)
{
  size_t len, cap;
  const char *s = luaL_checklstring(L, 1, &len);
  unsigned char *out;
  z_stream z;
  int rc;
  cap = deflateBound(NULL, (uLong)len) + 32; /* + gzip header and trailer */
  out = lua_newuserdata(L, cap);
  memset(&z, 0, sizeof z);
  /* 15 + 16: a gzip wrapper rather than zlib's */
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return luaL_error(L, "esconnector: deflateInit2 failed");
  z.next_in = (const Bytef *)s;
  z.avail_in = (uInt)len;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END)
    return luaL_error(L, "esconnector: gzip failed");
  lua_pushlstring(L, (const char *)out, cap - z.avail_out);
  return 1;
}
