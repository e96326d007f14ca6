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

/* One header field of a head: its name, the trimmed value of its first
 * line, and where its obs-fold continuation lines are ([fold, fold_end),
 * empty when none). */
struct esc_field {
  const char *name, *name_end, *value, *value_end, *fold, *fold_end;
};

/* Where the header lines of the head in data start: after the status line
 * when the head starts with "HTTP/", which is never a header. */
static const char *esc_head_start(const char *data, size_t len)
{
  const char *next = data;
  if (data && len >= 5 && memcmp(data, "HTTP/", 5) == 0)
    esc_line_end(data, data + len, &next);
  return data ? next : NULL;
}

/* Reads the next header field at *p (up to end) into f and moves *p past it
 * and its folded lines; returns 0 at the end of the head (the first empty
 * line: what follows, such as chunked trailers, is not read).  A line that
 * is not "token: value" is skipped, and so is a fold with no header above. */
static int esc_next_field(const char **p, const char *end, struct esc_field *f)
{
  while (*p < end) {
    const char *next, *line_end = esc_line_end(*p, end, &next), *k;
    if (line_end == *p)
      return 0; /* the blank line: the head is over */
    for (k = *p; k < line_end && esc_is_tchar((unsigned char)*k); k++)
      ;
    if (k == *p || k == line_end || *k != ':') {
      *p = next; /* not a header line (a stray fold lands here too) */
      continue;
    }
    f->name = *p;
    f->name_end = k;
    for (f->value = k + 1; f->value < line_end && esc_is_ows(*f->value); f->value++)
      ;
    for (f->value_end = line_end; f->value_end > f->value && esc_is_ows(f->value_end[-1]); f->value_end--)
      ;
    f->fold = next;
    while (next < end && esc_is_ows(*next)) /* obs-fold continuation lines */
      esc_line_end(next, end, &next);
    f->fold_end = next;
    *p = next;
    return 1;
  }
  return 0;
}

/* Pushes { [lower-case name] = value } for the head in data: folded lines
 * are joined to the header above with one space; a repeated header is
 * joined with ", ". */
static void esc_parse_head(lua_State *L, const char *data, size_t len)
{
  const char *p = esc_head_start(data, len), *end = data ? data + len : NULL;
  char lower[64]; /* a usual name is lower-cased here, without a buffer */
  struct esc_field f;
  lua_createtable(L, 0, 8); /* sized for a usual head: no rehash */
  if (!data)
    return;
  while (esc_next_field(&p, end, &f)) {
    size_t i, n = (size_t)(f.name_end - f.name);
    if (n <= sizeof lower) {
      for (i = 0; i < n; i++)
        lower[i] = (f.name[i] >= 'A' && f.name[i] <= 'Z') ? (char)(f.name[i] + 32) : f.name[i];
      lua_pushlstring(L, lower, n);
    } else {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (i = 0; i < n; i++)
        luaL_addchar(&b, (f.name[i] >= 'A' && f.name[i] <= 'Z') ? (char)(f.name[i] + 32) : f.name[i]);
      luaL_pushresult(&b);
    }
    if (f.fold < f.fold_end) {
      const char *q = f.fold, *next;
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      luaL_addlstring(&b, f.value, (size_t)(f.value_end - f.value));
      while (q < f.fold_end) {
        const char *line_end = esc_line_end(q, f.fold_end, &next);
        luaL_addchar(&b, ' ');
        esc_add_trimmed(&b, q, line_end);
        q = next;
      }
      luaL_pushresult(&b);
    } else {
      lua_pushlstring(L, f.value, (size_t)(f.value_end - f.value));
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
