/* The blocking libcurl transport: one easy handle per client, reused so that
 * connections stay alive.  Every buffer it allocates hangs off the userdata,
 * so a Lua error at any point leaks nothing: __gc frees it all. */
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "compat.h"
#include "tls_pin.c"

#define ESC_CURL_MT "esconnector.curl"

struct esc_buf {
  char *data;
  size_t len, cap;
};

struct esc_curl {
  CURL *easy;
  struct curl_slist *headers;
  struct esc_buf body, head;
  size_t max_body; /* 0: no cap */
  int too_large, out_of_memory;
  struct esc_pin pin;
  char errbuf[CURL_ERROR_SIZE];
};

static int esc_buf_add(struct esc_buf *b, const char *data, size_t len)
{
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    char *p;
    while (cap < b->len + len + 1)
      cap *= 2;
    p = realloc(b->data, cap);
    if (!p)
      return 0;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 1;
}

static void esc_buf_free(struct esc_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static size_t esc_on_body(char *data, size_t size, size_t n, void *ud)
{
  struct esc_curl *c = ud;
  size_t len = size * n;
  if (c->max_body && c->body.len + len > c->max_body) {
    c->too_large = 1;
    return 0; /* makes curl stop with CURLE_WRITE_ERROR */
  }
  if (!esc_buf_add(&c->body, data, len)) {
    c->out_of_memory = 1;
    return 0;
  }
  return len;
}

static size_t esc_on_header(char *data, size_t size, size_t n, void *ud)
{
  struct esc_curl *c = ud;
  size_t len = size * n;
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
    c->head.len = 0; /* a new response (after 100-continue): start over */
  if (!esc_buf_add(&c->head, data, len)) {
    c->out_of_memory = 1;
    return 0;
  }
  return len;
}

static struct esc_curl *esc_check_curl(lua_State *L)
{
  struct esc_curl *c = luaL_checkudata(L, 1, ESC_CURL_MT);
  if (!c->easy)
    luaL_error(L, "esconnector: the curl transport is closed");
  return c;
}

static void esc_curl_release(struct esc_curl *c)
{
  if (c->easy)
    curl_easy_cleanup(c->easy);
  c->easy = NULL;
  curl_slist_free_all(c->headers);
  c->headers = NULL;
  esc_buf_free(&c->body);
  esc_buf_free(&c->head);
}

/* __gc and handle:close() */
static int esc_curl_gc(lua_State *L)
{
  esc_curl_release(luaL_checkudata(L, 1, ESC_CURL_MT));
  return 0;
}

static int esc_curl_tostring(lua_State *L)
{
  struct esc_curl *c = luaL_checkudata(L, 1, ESC_CURL_MT);
  lua_pushfstring(L, "esconnector.curl (%s)", c->easy ? "open" : "closed");
  return 1;
}

/* Reads an optional integer field of the request table at index 2. */
static long esc_opt_long(lua_State *L, const char *name, long def)
{
  long v = def;
  lua_getfield(L, 2, name);
  if (!lua_isnil(L, -1))
    v = (long)luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static const char *esc_opt_string(lua_State *L, const char *name)
{
  const char *v = NULL;
  lua_getfield(L, 2, name);
  if (!lua_isnil(L, -1))
    v = luaL_checkstring(L, -1);
  lua_pop(L, 1); /* the request table keeps the string alive */
  return v;
}

static int esc_opt_bool(lua_State *L, const char *name, int def)
{
  int v = def;
  lua_getfield(L, 2, name);
  if (!lua_isnil(L, -1))
    v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static const char *esc_error_kind(CURLcode code)
{
  switch (code) {
  case CURLE_OPERATION_TIMEDOUT:
    return "timeout";
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_USE_SSL_FAILED:
    return "tls";
  default:
    return "connection";
  }
}

/* Lower-cases header names and collects "name: value" lines into a table;
 * a repeated header (WWW-Authenticate) is joined with ", " as HTTP allows. */
static void esc_push_headers(lua_State *L, const struct esc_buf *head)
{
  const char *p = head->data, *end = head->data + head->len;
  lua_newtable(L);
  if (!p)
    return;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end, *colon, *v;
    if (line_end > p && line_end[-1] == '\r')
      line_end--;
    colon = memchr(p, ':', (size_t)(line_end - p));
    if (colon && colon > p) {
      luaL_Buffer b;
      const char *k;
      luaL_buffinit(L, &b);
      for (k = p; k < colon; k++)
        luaL_addchar(&b, (*k >= 'A' && *k <= 'Z') ? (char)(*k + 32) : *k);
      luaL_pushresult(&b);
      for (v = colon + 1; v < line_end && (*v == ' ' || *v == '\t'); v++)
        ;
      lua_pushvalue(L, -1);
      lua_rawget(L, -3);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(line_end - v));
      } else {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(line_end - v));
        lua_concat(L, 3);
      }
      lua_rawset(L, -3);
    }
    p = eol ? eol + 1 : end;
  }
}

/* handle:perform(request) -> { status, headers, body } | nil, kind, message
 * request = { method, url, headers = { "Name: value", ... }, body,
 *             connect_timeout_ms, timeout_ms, verify_peer, verify_host,
 *             ca_file, ca_path, client_cert, client_key, max_response_bytes,
 *             fresh_connect }
 * fresh_connect: a new connection, never a kept-alive one (libcurl resends a
 * request silently when a reused connection turns out closed: a call that
 * must go out at most once cannot allow that). */
static int esc_curl_perform(lua_State *L)
{
  struct esc_curl *c = esc_check_curl(L);
  CURL *h = c->easy;
  const char *method, *url, *body, *s;
  size_t body_len = 0, i, n;
  long status = 0;
  CURLcode rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);

  curl_easy_reset(h); /* keeps the connection cache */
  curl_slist_free_all(c->headers);
  c->headers = NULL;
  c->body.len = c->head.len = 0;
  c->too_large = c->out_of_memory = 0;
  c->pin.active = c->pin.mismatch = 0;
  c->errbuf[0] = '\0';

  method = esc_opt_string(L, "method");
  url = esc_opt_string(L, "url");
  luaL_argcheck(L, method && url, 2, "method and url are required");
  lua_getfield(L, 2, "body");
  body = lua_isnil(L, -1) ? NULL : luaL_checklstring(L, -1, &body_len);
  lua_pop(L, 1);

  lua_getfield(L, 2, "headers");
  if (lua_istable(L, -1)) {
    n = esc_rawlen(L, -1);
    for (i = 1; i <= n; i++) {
      struct curl_slist *next;
      lua_rawgeti(L, -1, (int)i);
      next = curl_slist_append(c->headers, luaL_checkstring(L, -1));
      lua_pop(L, 1);
      if (!next)
        return luaL_error(L, "esconnector: out of memory");
      c->headers = next;
    }
  }
  lua_pop(L, 1);
  {
    /* No "Expect: 100-continue" round trip for bodies. */
    struct curl_slist *next = curl_slist_append(c->headers, "Expect:");
    if (!next)
      return luaL_error(L, "esconnector: out of memory");
    c->headers = next;
  }

  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, esc_on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, esc_on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   esc_opt_long(L, "connect_timeout_ms", 10000));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, esc_opt_long(L, "timeout_ms", 30000));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER,
                   esc_opt_bool(L, "verify_peer", 1) ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST,
                   esc_opt_bool(L, "verify_host", 1) ? 2L : 0L);
  if ((s = esc_opt_string(L, "ca_file")) != NULL)
    curl_easy_setopt(h, CURLOPT_CAINFO, s);
  if ((s = esc_opt_string(L, "ca_path")) != NULL)
    curl_easy_setopt(h, CURLOPT_CAPATH, s);
  if ((s = esc_opt_string(L, "client_cert")) != NULL)
    curl_easy_setopt(h, CURLOPT_SSLCERT, s);
  if ((s = esc_opt_string(L, "client_key")) != NULL)
    curl_easy_setopt(h, CURLOPT_SSLKEY, s);
  if ((s = esc_opt_string(L, "ca_fingerprint")) != NULL) {
    if (!esc_pin_supported() || !esc_pin_parse(&c->pin, s)) {
      lua_pushnil(L);
      lua_pushliteral(L, "tls");
      lua_pushstring(L, esc_pin_supported()
                        ? "ca_fingerprint must be 64 hex digits"
                        : "ca_fingerprint needs libcurl built with OpenSSL");
      return 3;
    }
    c->pin.active = 1;
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, esc_pin_ssl_ctx);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, &c->pin);
  }
  if (esc_opt_bool(L, "decompress", 1))
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* all built in */
  c->max_body = (size_t)esc_opt_long(L, "max_response_bytes", 0);
  if (esc_opt_bool(L, "fresh_connect", 0)
      && curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK) {
    lua_pushnil(L);
    lua_pushliteral(L, "connection");
    lua_pushliteral(L, "libcurl refused CURLOPT_FRESH_CONNECT");
    return 3;
  }

  if (strcmp(method, "GET") == 0 && !body) {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
      /* the request table keeps body alive through perform */
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    }
  }

  rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    lua_pushnil(L);
    if (c->pin.active && c->pin.mismatch) {
      lua_pushliteral(L, "tls");
      lua_pushliteral(L, "no certificate the server presented matches ca_fingerprint");
    } else if (c->too_large) {
      lua_pushliteral(L, "decode");
      lua_pushfstring(L, "the response body is larger than max_response_bytes "
                      "(%d bytes)", (int)c->max_body);
    } else if (c->out_of_memory) {
      lua_pushliteral(L, "connection");
      lua_pushliteral(L, "out of memory while reading the response");
    } else {
      lua_pushstring(L, esc_error_kind(rc));
      lua_pushstring(L, c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    }
    lua_pushinteger(L, (lua_Integer)rc);
    return 4;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)status);
  lua_setfield(L, -2, "status");
  esc_push_headers(L, &c->head);
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, c->body.data ? c->body.data : "", c->body.len);
  lua_setfield(L, -2, "body");
  return 1;
}

/* core.curl_new() -> handle */
static int esc_l_curl_new(lua_State *L)
{
  struct esc_curl *c = lua_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  luaL_getmetatable(L, ESC_CURL_MT);
  lua_setmetatable(L, -2);
  c->easy = curl_easy_init();
  if (!c->easy)
    return luaL_error(L, "esconnector: curl_easy_init failed");
  return 1;
}

static void esc_register_curl(lua_State *L)
{
  static const luaL_Reg methods[] = {
    { "perform", esc_curl_perform },
    { "close", esc_curl_gc }, /* both release everything, once */
    { NULL, NULL }
  };
  if (luaL_newmetatable(L, ESC_CURL_MT)) {
    lua_newtable(L);
    esc_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, esc_curl_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, esc_curl_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
}
