/* The blocking libcurl transport: one easy handle per client, reused so that
 * connections stay alive.
 *
 * Per-client settings (TLS, pin, size cap, protocols, default timeouts) are
 * read once by curl.curl_new(settings) into a struct esc_settings that the
 * handle owns; esc_easy_configure applies them to any easy handle (a multi
 * driver can configure several from the same settings).  handle:perform()
 * takes only what belongs to one request.  Every buffer hangs off the
 * userdata, so a Lua error at any point leaks nothing: __gc frees it all. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "compat.h"
#include "tls_pin.c"

#define ESC_CURL_MT "esconnector.curl"

#define ESC_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define ESC_DEFAULT_TIMEOUT_MS 30000
/* libcurl keeps timeouts as milliseconds in a long; INT_MAX (24.8 days) is
 * the largest value every platform's long holds. */
#define ESC_MAX_TIMEOUT_MS 2147483647.0
/* Sizes are exact up to 2^53 on every Lua. */
#define ESC_MAX_SIZE 9007199254740991.0
/* A response head larger than this is refused (libcurl's own limit is per
 * line). */
#define ESC_MAX_HEAD_BYTES (1024u * 1024u)

struct esc_buf {
  char *data;
  size_t len, cap;
};

/* What a client fixes once: owned copies, freed with the handle. */
struct esc_settings {
  char *ca_file, *ca_path, *client_cert, *client_key, *protocols;
  long connect_timeout_ms, timeout_ms; /* defaults for perform */
  size_t max_body;                     /* 0: no cap */
  int verify_peer, verify_host;
  int decompress;        /* inflate compressed answers */
  int accept_compressed; /* and ask for gzip and deflate ones */
  int pinned;
  unsigned char pin_digest[32];
};

/* One easy handle's per-request state. */
struct esc_transfer {
  struct curl_slist *headers;
  struct esc_buf body, head;
  size_t max_body;
  int head_status; /* status of the response whose head is being read */
  int head_done;   /* the final response's head is complete */
  int too_large, head_too_large, out_of_memory;
  struct esc_pin pin;
  char errbuf[CURL_ERROR_SIZE];
  /* headers is kept from one request to the next while the caller sends
   * the same lines: built from header_lines Lua lines, for a request with
   * (headers_body) or without a body; headers_valid once complete */
  size_t header_lines;
  int headers_body, headers_valid;
  int configured; /* esc_easy_configure applied to the easy handle */
};

/* An easy handle of the multi driver and the transfer it receives into;
 * allocated on its own since libcurl keeps pointers into xfer. */
struct esc_slot {
  CURL *easy;
  struct esc_transfer xfer;
  lua_Integer token; /* of the transfer in flight; 0 when idle */
  lua_Integer token_done; /* of the transfer being reported */
};

struct esc_curl {
  CURL *easy; /* perform's; NULL once closed */
  struct esc_settings settings;
  struct esc_transfer xfer;
  /* start/poll: one multi handle driving slots' easy handles, made on
   * the first start; connections stay in the multi's cache */
  CURLM *multi;
  struct esc_slot **slots;
  size_t nslots, slots_cap, running;
  lua_Integer last_token;
};

static int esc_buf_add(struct esc_buf *b, const char *data, size_t len)
{
  if (len > SIZE_MAX / 2 - b->len)
    return 0;
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
  struct esc_transfer *t = ud;
  size_t len = size * n;
  if (t->max_body && (len > t->max_body || t->body.len > t->max_body - len)) {
    t->too_large = 1;
    return 0; /* makes curl stop with CURLE_WRITE_ERROR */
  }
  if (!esc_buf_add(&t->body, data, len)) {
    t->out_of_memory = 1;
    return 0;
  }
  return len;
}

/* Keeps the head of the final response only: an interim 1xx head is
 * replaced by the next one, and lines after the final head's blank line
 * (chunked trailers) are not kept, so a trailer never passes for a header. */
static size_t esc_on_header(char *data, size_t size, size_t n, void *ud)
{
  struct esc_transfer *t = ud;
  size_t len = size * n;
  if (t->head_done)
    return len;
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
    const char *sp = memchr(data, ' ', len);
    t->head.len = 0;
    t->head_status = 0;
    if (sp && (size_t)(sp - data) + 4 <= len && sp[1] >= '0' && sp[1] <= '9' &&
        sp[2] >= '0' && sp[2] <= '9' && sp[3] >= '0' && sp[3] <= '9')
      t->head_status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
  }
  if (t->head.len + len > ESC_MAX_HEAD_BYTES) {
    t->head_too_large = 1;
    return 0;
  }
  if (!esc_buf_add(&t->head, data, len)) {
    t->out_of_memory = 1;
    return 0;
  }
  if ((len == 2 && data[0] == '\r' && data[1] == '\n') || (len == 1 && data[0] == '\n'))
    t->head_done = t->head_status < 100 || t->head_status >= 200 || t->head_status == 101;
  return len;
}

/* Clears what one response left; the header list stays (see headers). */
static void esc_transfer_reset(struct esc_transfer *t)
{
  t->body.len = t->head.len = 0;
  t->head_status = t->head_done = 0;
  t->too_large = t->head_too_large = t->out_of_memory = 0;
  t->pin.mismatch = t->pin.failed = 0;
  t->errbuf[0] = '\0';
}

static void esc_transfer_free(struct esc_transfer *t)
{
  esc_transfer_reset(t);
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  t->headers_valid = 0;
  esc_buf_free(&t->body);
  esc_buf_free(&t->head);
}

static void esc_settings_free(struct esc_settings *s)
{
  free(s->ca_file);
  free(s->ca_path);
  free(s->client_cert);
  free(s->client_key);
  free(s->protocols);
  s->ca_file = s->ca_path = s->client_cert = s->client_key = s->protocols = NULL;
}

/* A failed setopt stops configuration; what names the option for the
 * message. */
#define ESC_SETOPT(h, opt, value, what)                                      \
  do {                                                                     \
    CURLcode esc_rc_ = curl_easy_setopt((h), opt, (value));                \
    if (esc_rc_ != CURLE_OK) {                                             \
      *(what) = #opt;                                                      \
      return esc_rc_;                                                      \
    }                                                                      \
  } while (0)

/* Applies the client's settings to an easy handle, with t receiving the
 * response.  Returns CURLE_OK, or the first failing option's code with its
 * name in *what.  Reusable for every easy handle of a multi. */
static CURLcode esc_easy_configure(CURL *h, const struct esc_settings *s,
                                   struct esc_transfer *t, const char **what)
{
  ESC_SETOPT(h, CURLOPT_NOSIGNAL, 1L, what);
  ESC_SETOPT(h, CURLOPT_PATH_AS_IS, 1L, what);
  ESC_SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L, what);
#if LIBCURL_VERSION_NUM >= 0x075500
  ESC_SETOPT(h, CURLOPT_PROTOCOLS_STR, s->protocols, what);
#else
  ESC_SETOPT(h, CURLOPT_PROTOCOLS,
             strcmp(s->protocols, "https") == 0 ? (long)CURLPROTO_HTTPS
             : strcmp(s->protocols, "http") == 0 ? (long)CURLPROTO_HTTP
             : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS), what);
#endif
  /* a proxy's CONNECT answer is not the server's head */
  ESC_SETOPT(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L, what);
  ESC_SETOPT(h, CURLOPT_ERRORBUFFER, t->errbuf, what);
  ESC_SETOPT(h, CURLOPT_WRITEFUNCTION, esc_on_body, what);
  ESC_SETOPT(h, CURLOPT_WRITEDATA, t, what);
  ESC_SETOPT(h, CURLOPT_HEADERFUNCTION, esc_on_header, what);
  ESC_SETOPT(h, CURLOPT_HEADERDATA, t, what);
  ESC_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms, what);
  ESC_SETOPT(h, CURLOPT_TIMEOUT_MS, s->timeout_ms, what);
  ESC_SETOPT(h, CURLOPT_SSL_VERIFYPEER, s->verify_peer || s->pinned ? 1L : 0L, what);
  ESC_SETOPT(h, CURLOPT_SSL_VERIFYHOST, s->verify_host ? 2L : 0L, what);
  if (s->ca_file)
    ESC_SETOPT(h, CURLOPT_CAINFO, s->ca_file, what);
  if (s->ca_path)
    ESC_SETOPT(h, CURLOPT_CAPATH, s->ca_path, what);
  if (s->client_cert)
    ESC_SETOPT(h, CURLOPT_SSLCERT, s->client_cert, what);
  if (s->client_key)
    ESC_SETOPT(h, CURLOPT_SSLKEY, s->client_key, what);
  t->pin.active = s->pinned;
  if (s->pinned) {
    memcpy(t->pin.digest, s->pin_digest, sizeof t->pin.digest);
    ESC_SETOPT(h, CURLOPT_SSL_CTX_FUNCTION, esc_pin_ssl_ctx, what);
    ESC_SETOPT(h, CURLOPT_SSL_CTX_DATA, &t->pin, what);
    /* a resumed session would skip the verify callback, so the pin */
    ESC_SETOPT(h, CURLOPT_SSL_SESSIONID_CACHE, 0L, what);
  }
  /* asked for: what the official clients accept.  Not asked for, the
   * header is taken out of each request (esc_headers_build) and every
   * decoder libcurl has stays on, for an answer compressed anyway. */
  if (s->decompress)
    ESC_SETOPT(h, CURLOPT_ACCEPT_ENCODING, s->accept_compressed ? "gzip, deflate" : "", what);
  t->max_body = s->max_body;
  if (s->max_body)
    ESC_SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max_body, what);
  return CURLE_OK;
}

/* Clamps a number to [lo, hi]; NaN raises (the Lua side refuses it
 * first: this only keeps a cast from being undefined). */
static lua_Number esc_clamp(lua_State *L, lua_Number v, lua_Number lo,
                            lua_Number hi, const char *name)
{
  if (v != v)
    luaL_error(L, "esconnector: %s must be a number, got NaN", name);
  return v < lo ? lo : v > hi ? hi : v;
}

static long esc_field_ms(lua_State *L, int idx, const char *name, long def)
{
  long v = def;
  lua_getfield(L, idx, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "esconnector: %s must be a number", name);
    v = (long)esc_clamp(L, lua_tonumber(L, -1), 1, ESC_MAX_TIMEOUT_MS, name);
  }
  lua_pop(L, 1);
  return v;
}

static int esc_field_bool(lua_State *L, int idx, const char *name, int def)
{
  int v = def;
  lua_getfield(L, idx, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      luaL_error(L, "esconnector: %s must be a boolean", name);
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* A string field with no NUL in it (a NUL would cut a file name short),
 * copied; NULL when absent.  Raises on malloc failure. */
static char *esc_field_strdup(lua_State *L, int idx, const char *name)
{
  char *copy = NULL;
  size_t len;
  const char *s;
  lua_getfield(L, idx, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "esconnector: %s must be a string", name);
    s = lua_tolstring(L, -1, &len);
    if (strlen(s) != len)
      luaL_error(L, "esconnector: %s contains a NUL byte", name);
    copy = malloc(len + 1);
    if (!copy)
      luaL_error(L, "esconnector: out of memory");
    memcpy(copy, s, len + 1);
  }
  lua_pop(L, 1);
  return copy;
}

/* Raises for a key of the table at idx that is not in known. */
static void esc_check_fields(lua_State *L, int idx, const char *const *known,
                             const char *what)
{
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *const *k;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "esconnector: %s field names must be strings", what);
    for (k = known; *k && strcmp(*k, lua_tostring(L, -1)) != 0; k++)
      ;
    if (!*k)
      luaL_error(L, "esconnector: unknown %s field '%s'", what, lua_tostring(L, -1));
  }
}

/* esc_check_fields for a table at idx of which `present` known fields are
 * not nil: counting the entries (no name compared) settles the usual case
 * where nothing else is there. */
static void esc_check_fields_counted(lua_State *L, int idx, int present,
                                     const char *const *known, const char *what)
{
  int count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
  }
  if (count != present)
    esc_check_fields(L, idx, known, what);
}

/* Reads the settings table at idx into s (owned by a userdata already, so
 * a raise leaks nothing). */
static void esc_settings_read(lua_State *L, int idx, struct esc_settings *s)
{
  static const char *const known[] = {
    "connect_timeout_ms", "timeout_ms", "verify_peer", "verify_host", "ca_file",
    "ca_path", "client_cert", "client_key", "ca_fingerprint",
    "max_response_bytes", "decompress", "accept_compressed", "protocols", NULL
  };
  s->connect_timeout_ms = ESC_DEFAULT_CONNECT_TIMEOUT_MS;
  s->timeout_ms = ESC_DEFAULT_TIMEOUT_MS;
  s->verify_peer = s->verify_host = s->decompress = 1;
  if (!lua_isnoneornil(L, idx)) {
    luaL_checktype(L, idx, LUA_TTABLE);
    esc_check_fields(L, idx, known, "curl_new settings");
    s->connect_timeout_ms = esc_field_ms(L, idx, "connect_timeout_ms", s->connect_timeout_ms);
    s->timeout_ms = esc_field_ms(L, idx, "timeout_ms", s->timeout_ms);
    s->verify_peer = esc_field_bool(L, idx, "verify_peer", 1);
    s->verify_host = esc_field_bool(L, idx, "verify_host", 1);
    s->decompress = esc_field_bool(L, idx, "decompress", 1);
    s->accept_compressed = esc_field_bool(L, idx, "accept_compressed", 0);
    s->ca_file = esc_field_strdup(L, idx, "ca_file");
    s->ca_path = esc_field_strdup(L, idx, "ca_path");
    s->client_cert = esc_field_strdup(L, idx, "client_cert");
    s->client_key = esc_field_strdup(L, idx, "client_key");
    s->protocols = esc_field_strdup(L, idx, "protocols");
    lua_getfield(L, idx, "max_response_bytes");
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "esconnector: max_response_bytes must be a number");
      s->max_body = (size_t)esc_clamp(L, lua_tonumber(L, -1), 1, ESC_MAX_SIZE,
                                      "max_response_bytes");
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "ca_fingerprint");
    if (!lua_isnil(L, -1)) {
      size_t len;
      const char *fp;
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "esconnector: ca_fingerprint must be a string");
      if (!esc_pin_supported())
        luaL_error(L, "esconnector: " ESC_PIN_UNSUPPORTED);
      fp = lua_tolstring(L, -1, &len);
      if (!esc_pin_parse(s->pin_digest, fp, len))
        luaL_error(L, "esconnector: ca_fingerprint must be a SHA-256 fingerprint "
                      "(64 hex digits)");
      s->pinned = 1;
    }
    lua_pop(L, 1);
  }
  if (!s->protocols) {
    s->protocols = malloc(sizeof "http,https");
    if (!s->protocols)
      luaL_error(L, "esconnector: out of memory");
    memcpy(s->protocols, "http,https", sizeof "http,https");
  }
  if (strcmp(s->protocols, "http") != 0 && strcmp(s->protocols, "https") != 0 &&
      strcmp(s->protocols, "http,https") != 0 && strcmp(s->protocols, "https,http") != 0)
    luaL_error(L, "esconnector: protocols must be \"http\", \"https\" or \"http,https\"");
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
  size_t i;
  if (c->easy)
    curl_easy_cleanup(c->easy);
  c->easy = NULL;
  esc_transfer_free(&c->xfer);
  for (i = 0; i < c->nslots; i++) {
    struct esc_slot *slot = c->slots[i];
    /* Nothing can be reported from __gc: an abandoned transfer is dropped
     * whatever libcurl says. */
    if (slot->easy && slot->token && c->multi)
      (void)curl_multi_remove_handle(c->multi, slot->easy);
    if (slot->easy)
      curl_easy_cleanup(slot->easy);
    esc_transfer_free(&slot->xfer);
    free(slot);
  }
  free(c->slots);
  c->slots = NULL;
  c->nslots = c->slots_cap = c->running = 0;
  if (c->multi)
    (void)curl_multi_cleanup(c->multi);
  c->multi = NULL;
  esc_settings_free(&c->settings);
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

/* Every failure of perform: nil, kind, message, curl code (or nil). */
static int esc_perform_fail(lua_State *L, const char *kind, const char *message,
                            CURLcode code)
{
  lua_pushnil(L);
  lua_pushstring(L, kind);
  lua_pushstring(L, message);
  if (code != CURLE_OK)
    lua_pushinteger(L, (lua_Integer)code);
  else
    lua_pushnil(L);
  return 4;
}

static int esc_perform_setopt_fail(lua_State *L, const char *what, CURLcode rc)
{
  lua_pushfstring(L, "libcurl refused %s: %s", what, curl_easy_strerror(rc));
  return esc_perform_fail(L, "connection", lua_tostring(L, -1), rc);
}

/* Is s a header line the wire may carry: "token: value" with no CR, LF or
 * NUL anywhere? */
static int esc_header_line_ok(const char *s, size_t len)
{
  size_t i = 0;
  while (i < len && esc_is_tchar((unsigned char)s[i]))
    i++;
  if (i == 0 || i == len || s[i] != ':')
    return 0;
  for (; i < len; i++)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
      return 0;
  return 1;
}

/* Pushes a validation message naming the header by its name only (the
 * value may be a credential). */
static void esc_push_bad_header(lua_State *L, const char *s, size_t len, size_t n)
{
  size_t i = 0;
  while (i < len && i < 64 && esc_is_tchar((unsigned char)s[i]))
    i++;
  if (i > 0 && i < len && s[i] == ':') {
    lua_pushlstring(L, s, i);
    lua_pushfstring(L, "request header '%s' contains CR, LF or NUL, which could "
                       "smuggle extra headers: refused", lua_tostring(L, -1));
    lua_remove(L, -2);
  } else {
    lua_pushfstring(L, "request header %d is not a 'Name: value' line "
                       "(or contains CR, LF or NUL): refused", (int)n);
  }
}

static int esc_token_ok(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++)
    if (!esc_is_tchar((unsigned char)s[i]))
      return 0;
  return len > 0;
}

/* A URL libcurl may send as it is: printable ASCII, no space. */
static int esc_url_ok(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return 0;
  return len > 0;
}

/* Is there a "Content-Type:" line among the headers? */
static int esc_has_content_type(const struct curl_slist *l)
{
  for (; l; l = l->next) {
    static const char name[] = "content-type:";
    size_t i;
    for (i = 0; i < sizeof name - 1 && l->data[i]; i++) {
      char ch = l->data[i];
      if ((ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch) != name[i])
        break;
    }
    if (i == sizeof name - 1)
      return 1;
  }
  return 0;
}

static int esc_append_header(lua_State *L, struct esc_transfer *t, const char *line)
{
  struct curl_slist *next = curl_slist_append(t->headers, line);
  if (!next)
    return luaL_error(L, "esconnector: out of memory");
  t->headers = next;
  return 0;
}

/* Do the Lua header lines at idx (n of them) match the list the transfer
 * holds, built for a request with (body) or without a body?  Then it is
 * reused: no copy, no check, no allocation. */
static int esc_headers_cached(lua_State *L, int idx, size_t n,
                              const struct esc_transfer *t, int body)
{
  const struct curl_slist *node = t->headers;
  size_t i;
  if (!t->headers_valid || t->header_lines != n || t->headers_body != body)
    return 0;
  for (i = 1; i <= n; i++, node = node->next) {
    size_t len;
    const char *line;
    int same;
    esc_rawgeti(L, idx, i);
    line = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    same = line && strlen(node->data) == len && memcmp(node->data, line, len) == 0;
    lua_pop(L, 1);
    if (!same)
      return 0;
  }
  return 1;
}

/* Builds the transfer's header list from the Lua lines at idx: each one
 * checked, then "Expect:" (no 100-continue round trip), for a body without
 * a type "Content-Type:" (libcurl would label it form-urlencoded), and
 * with quiet_encoding "Accept-Encoding:" (the decoders stay on, but
 * compressed answers are not asked for).  Returns 0, or sets the stack
 * back to top and pushes nil, kind, message, code for a refused line
 * (returns 4). */
static int esc_headers_build(lua_State *L, int idx, size_t n,
                             struct esc_transfer *t, int body,
                             int quiet_encoding, int top)
{
  size_t i;
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  t->headers_valid = 0;
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *line;
    esc_rawgeti(L, idx, i);
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_error(L, "esconnector: perform: headers must be a list of strings");
    line = lua_tolstring(L, -1, &len);
    if (!esc_header_line_ok(line, len)) {
      lua_settop(L, top); /* the line stays alive in the request table */
      esc_push_bad_header(L, line, len, i);
      esc_perform_fail(L, "validation", lua_tostring(L, top + 1), CURLE_OK);
      lua_remove(L, top + 1); /* the message, copied into the results */
      return 4;
    }
    esc_append_header(L, t, line); /* libcurl copies the line */
    lua_pop(L, 1);
  }
  esc_append_header(L, t, "Expect:");
  if (body && !esc_has_content_type(t->headers))
    esc_append_header(L, t, "Content-Type:");
  if (quiet_encoding)
    esc_append_header(L, t, "Accept-Encoding:");
  t->header_lines = n;
  t->headers_body = body;
  t->headers_valid = 1;
  return 0;
}

#define ESC_APPLY(h, opt, value)                                             \
  do {                                                                     \
    rc = curl_easy_setopt((h), opt, (value));                              \
    if (rc != CURLE_OK)                                                    \
      return esc_perform_setopt_fail(L, #opt, rc);                         \
  } while (0)

/* Reads the request table at req (absolute) and sets up h for it.  The
 * client's settings s are applied once, when h is first used
 * (esc_easy_configure); after that only what belongs to this request is set:
 * no reset, no settings read again, the header list rebuilt only when the
 * lines change.  copy_body: libcurl keeps its own copy of the body (a
 * transfer that outlives this call); otherwise h points into the request
 * table's strings, which must stay alive until the transfer is over.
 * Raises for a programmer error (a field of the wrong type or unknown);
 * returns 0 when h is ready, or pushes nil, kind, message, code and returns
 * 4 (a header with CR/LF/NUL, a refused setopt). */
static int esc_request_prepare(lua_State *L, int req, CURL *h, const struct esc_settings *s,
                               struct esc_transfer *t, int copy_body)
{
  static const char *const known[] = {
    "method", "url", "headers", "body", "connect_timeout_ms", "timeout_ms",
    "fresh_connect", NULL
  };
  const char *method, *url, *body = NULL, *what = NULL;
  size_t method_len, url_len, body_len = 0, n = 0;
  int fresh, top = lua_gettop(L), is_get, is_head, with_body, failed;
  long connect_ms, timeout_ms;
  CURLcode rc;
  lua_getfield(L, req, "method");
  lua_getfield(L, req, "url");
  lua_getfield(L, req, "body");
  lua_getfield(L, req, "headers");
  lua_getfield(L, req, "fresh_connect");
  lua_getfield(L, req, "connect_timeout_ms");
  lua_getfield(L, req, "timeout_ms");
  {
    int i, present = 0;
    for (i = top + 1; i <= top + 7; i++)
      present += !lua_isnil(L, i);
    esc_check_fields_counted(L, req, present, known, "perform request");
  }
  lua_settop(L, top + 4);
  if (lua_type(L, top + 1) != LUA_TSTRING || lua_type(L, top + 2) != LUA_TSTRING)
    return luaL_error(L, "esconnector: perform: method and url must be strings");
  method = lua_tolstring(L, top + 1, &method_len);
  url = lua_tolstring(L, top + 2, &url_len);
  if (!lua_isnil(L, top + 3)) {
    if (lua_type(L, top + 3) != LUA_TSTRING)
      return luaL_error(L, "esconnector: perform: body must be a string");
    body = lua_tolstring(L, top + 3, &body_len);
  }
  if (!lua_isnil(L, top + 4) && !lua_istable(L, top + 4))
    return luaL_error(L, "esconnector: perform: headers must be a list of strings");
  fresh = esc_field_bool(L, req, "fresh_connect", 0);
  connect_ms = esc_field_ms(L, req, "connect_timeout_ms", s->connect_timeout_ms);
  timeout_ms = esc_field_ms(L, req, "timeout_ms", s->timeout_ms);

  esc_transfer_reset(t);
  if (!esc_token_ok(method, method_len)) {
    lua_settop(L, top);
    return esc_perform_fail(L, "validation", "the request method is not an HTTP token: refused",
                            CURLE_OK);
  }
  if (!esc_url_ok(url, url_len)) {
    lua_settop(L, top);
    return esc_perform_fail(L, "validation", "the URL contains a space, a control "
                            "character or a non-ASCII byte: refused", CURLE_OK);
  }
  is_get = strcmp(method, "GET") == 0 && !body;
  is_head = strcmp(method, "HEAD") == 0;
  with_body = !is_get && !is_head &&
              (body || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0);
  if (lua_istable(L, top + 4)) {
    n = esc_rawlen(L, top + 4);
    if (n > INT_MAX)
      return luaL_error(L, "esconnector: perform: too many headers");
  }
  if (!esc_headers_cached(L, top + 4, n, t, with_body) &&
      (failed = esc_headers_build(L, top + 4, n, t, with_body,
                                  s->decompress && !s->accept_compressed, top)) != 0)
    return failed;
  lua_settop(L, top); /* the request table anchors its strings */

  if (!t->configured) {
    rc = esc_easy_configure(h, s, t, &what);
    if (rc != CURLE_OK)
      return esc_perform_setopt_fail(L, what, rc);
    t->configured = 1;
  }
  ESC_APPLY(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  ESC_APPLY(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  ESC_APPLY(h, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
  ESC_APPLY(h, CURLOPT_URL, url);
  /* GET first: it clears what an earlier request set (a body, HEAD's
   * no-body); the method and body of this one go on top */
  ESC_APPLY(h, CURLOPT_HTTPGET, 1L);
  if (is_head)
    ESC_APPLY(h, CURLOPT_NOBODY, 1L);
  ESC_APPLY(h, CURLOPT_CUSTOMREQUEST, is_get || is_head ? (const char *)NULL : method);
  if (with_body) {
    ESC_APPLY(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    if (copy_body)
      ESC_APPLY(h, CURLOPT_COPYPOSTFIELDS, body ? body : "");
    else /* the request table keeps body alive through perform */
      ESC_APPLY(h, CURLOPT_POSTFIELDS, body ? body : "");
  }
  ESC_APPLY(h, CURLOPT_HTTPHEADER, t->headers);
  return 0;
}

/* esc_request_prepare for a blocking transfer: h points into the request
 * table's strings.  Reusable for any easy handle (the fuzzer sets up
 * random requests with it). */
static int esc_request_setup(lua_State *L, int idx, CURL *h,
                             const struct esc_settings *s, struct esc_transfer *t)
{
  luaL_checktype(L, idx, LUA_TTABLE);
  return esc_request_prepare(L, idx, h, s, t, 0);
}

/* response.headers, read for the first time: the table the raw head parses
 * into, kept in the response.  (__index of the responses' metatable.) */
static int esc_response_index(lua_State *L)
{
  size_t len = 0;
  const char *head;
  if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "headers") != 0)
    return 0;
  lua_pushliteral(L, "head");
  lua_rawget(L, 1);
  head = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
  esc_parse_head(L, head, len);
  lua_pushliteral(L, "headers");
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

/* Pushes what a finished transfer gave: { status, head, body } with
 * headers made from head when first read (returns 1), or nil, kind,
 * message, code (returns 4).  Used by perform and poll, whose first upvalue
 * is the responses' metatable: core.interpret reads the headers it needs
 * from the raw head, so a usual answer never makes a headers table. */
static int esc_push_result(lua_State *L, CURL *h, const struct esc_transfer *t, CURLcode rc)
{
  long status = 0;
  if (rc != CURLE_OK) {
    char size[64];
    if (t->pin.active && t->pin.mismatch)
      return esc_perform_fail(L, "tls", "no certificate the server presented matches "
                              "ca_fingerprint", rc);
    if (t->pin.active && t->pin.failed) {
      lua_pushfstring(L, "the server's certificate chain does not lead to the "
                      "ca_fingerprint certificate (%s)", esc_pin_error_string(t->pin.failed));
      return esc_perform_fail(L, "tls", lua_tostring(L, -1), rc);
    }
    if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      snprintf(size, sizeof size, "%llu", (unsigned long long)t->max_body);
      lua_pushfstring(L, "the response body is larger than max_response_bytes "
                      "(%s bytes)", size);
      return esc_perform_fail(L, "decode", lua_tostring(L, -1), rc);
    }
    if (t->head_too_large)
      return esc_perform_fail(L, "decode", "the response headers are larger than 1 MiB", rc);
    if (t->out_of_memory)
      return esc_perform_fail(L, "connection", "out of memory while reading the response", rc);
    return esc_perform_fail(L, esc_error_kind(rc),
                            t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc), rc);
  }
  rc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK)
    return esc_perform_setopt_fail(L, "CURLINFO_RESPONSE_CODE", rc);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)status);
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, t->head.data ? t->head.data : "", t->head.len);
  lua_setfield(L, -2, "head");
  lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
  lua_setfield(L, -2, "body");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  return 1;
}

/* handle:perform(request) -> { status, headers (from head), head, body }
 *                          | nil, kind, message, curl code (or nil)
 * request = { method, url, headers = { "Name: value", ... }, body,
 *             connect_timeout_ms, timeout_ms, fresh_connect }
 * Everything else was fixed by curl_new(settings).  Blocks. */
static int esc_curl_perform(lua_State *L)
{
  struct esc_curl *c = esc_check_curl(L);
  int failed;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  failed = esc_request_setup(L, 2, c->easy, &c->settings, &c->xfer);
  if (failed)
    return failed;
  return esc_push_result(L, c->easy, &c->xfer, curl_easy_perform(c->easy));
}

/* An idle slot of the multi driver, made (and kept) when none is free. */
static struct esc_slot *esc_idle_slot(lua_State *L, struct esc_curl *c)
{
  struct esc_slot *slot;
  size_t i;
  CURLcode rc;
  for (i = 0; i < c->nslots; i++)
    if (!c->slots[i]->token)
      return c->slots[i];
  if (c->nslots == c->slots_cap) {
    size_t cap = c->slots_cap ? c->slots_cap * 2 : 8;
    struct esc_slot **grown = cap < SIZE_MAX / sizeof *grown
                              ? realloc(c->slots, cap * sizeof *grown) : NULL;
    if (!grown)
      luaL_error(L, "esconnector: out of memory");
    c->slots = grown;
    c->slots_cap = cap;
  }
  slot = calloc(1, sizeof *slot);
  if (!slot)
    luaL_error(L, "esconnector: out of memory");
  c->slots[c->nslots++] = slot; /* owned by the handle from here on */
  slot->easy = curl_easy_init();
  if (!slot->easy)
    luaL_error(L, "esconnector: curl_easy_init failed");
  rc = curl_easy_setopt(slot->easy, CURLOPT_PRIVATE, (void *)slot);
  if (rc != CURLE_OK)
    luaL_error(L, "esconnector: libcurl refused CURLOPT_PRIVATE: %s", curl_easy_strerror(rc));
  return slot;
}

static int esc_multi_fail(lua_State *L, CURLMcode mc)
{
  lua_pushfstring(L, "libcurl's multi interface failed: %s", curl_multi_strerror(mc));
  return esc_perform_fail(L, "connection", lua_tostring(L, -1), CURLE_OK);
}

/* handle:start(request) -> token | nil, kind, message, curl code
 * Begins the request (as for perform) on the handle's multi driver and
 * returns at once; handle:poll() reports it finished. */
static int esc_curl_start(lua_State *L)
{
  struct esc_curl *c = esc_check_curl(L);
  struct esc_slot *slot;
  CURLMcode mc;
  int failed;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  if (!c->multi) {
    c->multi = curl_multi_init();
    if (!c->multi)
      return luaL_error(L, "esconnector: curl_multi_init failed");
    /* HTTP/1.1 one request at a time per connection: no pipelining (and
     * no HTTP/2 multiplexing, which is never negotiated over plain http) */
    mc = curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    if (mc != CURLM_OK)
      return esc_multi_fail(L, mc);
  }
  slot = esc_idle_slot(L, c);
  failed = esc_request_prepare(L, 2, slot->easy, &c->settings, &slot->xfer, 1);
  if (failed)
    return failed;
  mc = curl_multi_add_handle(c->multi, slot->easy);
  if (mc != CURLM_OK)
    return esc_multi_fail(L, mc);
  slot->token = ++c->last_token;
  c->running++;
  lua_pushinteger(L, slot->token);
  return 1;
}

/* Appends every finished transfer to the list at out as { token, response }
 * or { token, nil, { kind =, message = } }; returns how many. */
static int esc_collect(lua_State *L, struct esc_curl *c, int out, int count)
{
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result, rc;
    CURLMcode mc;
    char *priv = NULL;
    struct esc_slot *slot;
    int pushed, entry;
    if (msg->msg != CURLMSG_DONE)
      continue;
    rc = curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    if (rc != CURLE_OK || !priv)
      return luaL_error(L, "esconnector: a finished transfer has no slot");
    slot = (struct esc_slot *)(void *)priv;
    mc = curl_multi_remove_handle(c->multi, easy); /* msg is invalid now */
    if (mc != CURLM_OK)
      return luaL_error(L, "esconnector: curl_multi_remove_handle: %s", curl_multi_strerror(mc));
    slot->token_done = slot->token;
    slot->token = 0;
    c->running--;
    luaL_checkstack(L, 12, "esconnector: poll");
    lua_createtable(L, 3, 0);
    entry = lua_gettop(L);
    lua_pushinteger(L, slot->token_done);
    lua_rawseti(L, entry, 1);
    pushed = esc_push_result(L, easy, &slot->xfer, result);
    if (pushed == 1) {
      lua_rawseti(L, entry, 2);
    } else { /* nil, kind, message, code on top (a message may lie below) */
      lua_createtable(L, 0, 3);
      lua_pushvalue(L, -4);
      lua_setfield(L, -2, "kind");
      lua_pushvalue(L, -3);
      lua_setfield(L, -2, "message");
      lua_pushvalue(L, -2);
      lua_setfield(L, -2, "code");
      lua_rawseti(L, entry, 3);
    }
    lua_settop(L, entry);
    lua_rawseti(L, out, ++count);
  }
  return count;
}

static double esc_monotonic_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* handle:poll(timeout_ms) -> { { token, response }, { token, nil, err }, ... }
 * Drives every started transfer; returns as soon as one or more have
 * finished, or after timeout_ms (an empty list). */
static int esc_curl_poll(lua_State *L)
{
  struct esc_curl *c = esc_check_curl(L);
  lua_Number timeout = luaL_optnumber(L, 2, 0);
  double deadline;
  int out, count = 0, still;
  CURLMcode mc;
  if (timeout != timeout || timeout < 0)
    timeout = 0;
  if (timeout > ESC_MAX_TIMEOUT_MS)
    timeout = ESC_MAX_TIMEOUT_MS;
  lua_settop(L, 2);
  lua_newtable(L);
  out = lua_gettop(L);
  if (!c->multi || c->running == 0)
    return 1;
  deadline = esc_monotonic_ms() + (double)timeout;
  for (;;) {
    double left;
    mc = curl_multi_perform(c->multi, &still);
    if (mc != CURLM_OK)
      return luaL_error(L, "esconnector: curl_multi_perform: %s", curl_multi_strerror(mc));
    count = esc_collect(L, c, out, count);
    left = deadline - esc_monotonic_ms();
    if (count > 0 || c->running == 0 || left <= 0)
      return 1;
    mc = curl_multi_poll(c->multi, NULL, 0, (int)(left + 0.999), NULL);
    if (mc != CURLM_OK)
      return luaL_error(L, "esconnector: curl_multi_poll: %s", curl_multi_strerror(mc));
  }
}

/* core.curl_new([settings]) -> handle
 * settings = { connect_timeout_ms, timeout_ms (defaults for perform),
 *              verify_peer, verify_host, ca_file, ca_path, client_cert,
 *              client_key, ca_fingerprint, max_response_bytes, decompress,
 *              accept_compressed,
 *              protocols = "http,https" } */
static int esc_l_curl_new(lua_State *L)
{
  struct esc_curl *c;
  lua_settop(L, 1);
  c = lua_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  luaL_getmetatable(L, ESC_CURL_MT);
  lua_setmetatable(L, -2);
  esc_settings_read(L, 1, &c->settings);
  c->easy = curl_easy_init();
  if (!c->easy)
    return luaL_error(L, "esconnector: curl_easy_init failed");
  return 1;
}

static void esc_register_curl(lua_State *L)
{
  static const luaL_Reg methods[] = {
    { "perform", esc_curl_perform },
    { "start", esc_curl_start },
    { "poll", esc_curl_poll },
    { "close", esc_curl_gc }, /* both release everything, once */
    { NULL, NULL }
  };
  if (luaL_newmetatable(L, ESC_CURL_MT)) {
    lua_newtable(L);
    lua_createtable(L, 0, 1); /* the responses' metatable: an upvalue of each */
    lua_pushcfunction(L, esc_response_index);
    lua_setfield(L, -2, "__index");
    esc_setfuncs(L, methods, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, esc_curl_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, esc_curl_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
}
