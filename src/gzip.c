/* gzip for request bodies (http_compress); responses are inflated by
 * libcurl itself (CURLOPT_ACCEPT_ENCODING). */
#define ZLIB_CONST
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>
#include "compat.h"

/* core.gzip(s) -> the gzip member of s.  The output buffer is a userdata
 * allocated first, so no Lua call (which could raise) happens while zlib's
 * own state is alive.  zlib counts in uInt: inputs and outputs of 4 GiB and
 * more are fed through in pieces. */
static int esc_l_gzip(lua_State *L)
{
  size_t len, cap, in_left, out_left;
  const char *s = luaL_checklstring(L, 1, &len);
  unsigned char *out;
  z_stream z;
  int rc;
  if (len > SIZE_MAX / 2 || (uLong)len != len)
    return luaL_error(L, "esconnector: gzip input too large");
  cap = deflateBound(NULL, (uLong)len) + 32; /* + gzip header and trailer */
  out = lua_newuserdata(L, cap);
  memset(&z, 0, sizeof z);
  /* 15 + 16: a gzip wrapper rather than zlib's */
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return luaL_error(L, "esconnector: deflateInit2 failed");
  z.next_in = (const Bytef *)s;
  z.next_out = out;
  in_left = len;
  out_left = cap;
  do {
    if (z.avail_in == 0 && in_left > 0) {
      z.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
      in_left -= z.avail_in;
    }
    if (z.avail_out == 0 && out_left > 0) {
      z.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
      out_left -= z.avail_out;
    }
    rc = deflate(&z, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
  } while (rc == Z_OK || (rc == Z_BUF_ERROR && (in_left > 0 || out_left > 0)));
  len = cap - out_left - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END)
    return luaL_error(L, "esconnector: gzip failed");
  lua_pushlstring(L, (const char *)out, len);
  return 1;
}
