/* Percent-encoding of path segments and query values (RFC 3986): only the
 * unreserved characters pass, so "a b/c?d#e" stays one path segment. */
#include "compat.h"

static int esc_is_unreserved(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

/* Pushes the escaped form of s.  keep is a set of extra characters to leave
 * as they are (the query keeps '*' for filter_path wildcards). */
static void esc_push_escaped(lua_State *L, const char *s, size_t len,
                             const char *keep)
{
  static const char hex[] = "0123456789ABCDEF";
  luaL_Buffer b;
  size_t i;
  luaL_buffinit(L, &b);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (esc_is_unreserved(c) || (keep && c && strchr(keep, c))) {
      luaL_addchar(&b, (char)c);
    } else {
      luaL_addchar(&b, '%');
      luaL_addchar(&b, hex[c >> 4]);
      luaL_addchar(&b, hex[c & 15]);
    }
  }
  luaL_pushresult(&b);
}

/* A path segment: "." and ".." are escaped too, or a proxy or libcurl
 * could resolve them as directory steps. */
static void esc_push_segment(lua_State *L, const char *s, size_t len)
{
  if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    lua_pushstring(L, len == 1 ? "%2E" : "%2E%2E");
  else
    esc_push_escaped(L, s, len, NULL);
}

/* core.escape(s) -> the percent-encoded path segment. */
static int esc_l_escape(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  esc_push_segment(L, s, len);
  return 1;
}
