/* Response header parsing: the raw head of ONE response (status line, header
 * lines, blank line, as libcurl hands them over) into a Lua table.  Pure: no
 * I/O, constant Lua stack use, so the fuzzer can feed it any bytes.  Used by
 * both modules: core.parse_headers and the curl transport's header callback. */
#ifndef ESC_HEADERS_C /* in both modules: the fuzzer includes both */
#define ESC_HEADERS_C
#include <string.h>
#include "compat.h"

/* RFC 9110 token characters: what a header name may be made of. */
static int esc_is_tchar(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static int esc_is_ows(char c)
{
  return c == ' ' || c == '\t';
}

/* The end of the line starting at p (at its LF, or end), and the start of
 * the next one. */
static const char *esc_line_end(const char *p, const char *end, const char **next)
{
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  const char *line_end = eol ? eol : end;
  *next = eol ? eol + 1 : end;
  if (line_end > p && line_end[-1] == '\r')
    line_end--;
  return line_end;
}

/* Adds [from, to) without its surrounding whitespace to b. */
static void esc_add_trimmed(luaL_Buffer *b, const char *from, const char *to)
{
  while (from < to && esc_is_ows(*from))
    from++;
  while (to > from && esc_is_ows(to[-1]))
    to--;
  luaL_addlstring(b, from, (size_t)(to - from));
}

/* Pushes { [lower-case name] = value } for the head in data.  The first line
 * is the status line when it starts with "HTTP/" and is never a header; the
 * head ends at the first empty line (what follows, such as chunked trailers,
 * is not read); obsolete folded lines (starting with a space or tab) are
 * joined to the header above with one space; a line that is not
 * "token: value" is skipped; a repeated header is joined with ", ". */
static void esc_parse_head(lua_State *L, const char *data, size_t len)
{
  const char *p = data, *end, *next;
  char lower[64]; /* a usual name is lower-cased here, without a buffer */
  lua_createtable(L, 0, 8); /* sized for a usual head: no rehash */
  if (!data)
    return;
  end = data + len;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    esc_line_end(p, end, &next);
    p = next;
  }
  while (p < end) {
    const char *line_end = esc_line_end(p, end, &next), *k, *colon, *v, *v_end;
    if (line_end == p)
      break; /* the blank line: the head is over */
    for (k = p; k < line_end && esc_is_tchar((unsigned char)*k); k++)
      ;
    colon = k;
    if (colon == p || colon == line_end || *colon != ':') {
      p = next; /* not a header line (a stray fold lands here too) */
      continue;
    }
    if ((size_t)(colon - p) <= sizeof lower) {
      size_t i, n = (size_t)(colon - p);
      for (i = 0; i < n; i++)
        lower[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] + 32) : p[i];
      lua_pushlstring(L, lower, n);
    } else {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (k = p; k < colon; k++)
        luaL_addchar(&b, (*k >= 'A' && *k <= 'Z') ? (char)(*k + 32) : *k);
      luaL_pushresult(&b);
    }
    p = next;
    if (p < end && esc_is_ows(*p)) { /* obs-fold continuation lines */
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      esc_add_trimmed(&b, colon + 1, line_end);
      while (p < end && esc_is_ows(*p)) {
        line_end = esc_line_end(p, end, &next);
        luaL_addchar(&b, ' ');
        esc_add_trimmed(&b, p, line_end);
        p = next;
      }
      luaL_pushresult(&b);
    } else { /* one line: the trimmed value as it is */
      for (v = colon + 1; v < line_end && esc_is_ows(*v); v++)
        ;
      for (v_end = line_end; v_end > v && esc_is_ows(v_end[-1]); v_end--)
        ;
      lua_pushlstring(L, v, (size_t)(v_end - v));
    }
    lua_pushvalue(L, -2);
    lua_rawget(L, -4);
    if (!lua_isnil(L, -1)) { /* earlier value, then ", ", then this one */
      lua_pushliteral(L, ", ");
      lua_pushvalue(L, -3);
      lua_concat(L, 3);
      lua_remove(L, -2);
    } else {
      lua_pop(L, 1);
    }
    lua_rawset(L, -3);
  }
}

#endif /* ESC_HEADERS_C */
