/* ca_fingerprint: the certificate with this SHA-256 fingerprint (the one
 * Elasticsearch prints for its own CA at first start) becomes the ONLY trust
 * anchor of the handshake.  The server must present it, and its chain must
 * verify up to it (partial-chain verification, so an intermediate may be
 * pinned too); a chain from any other CA is refused even when that CA is in
 * the trust store and the pinned certificate is merely appended to the
 * chain.  OpenSSL-specific, through CURLOPT_SSL_CTX_FUNCTION; building with
 * -DESC_NO_OPENSSL leaves it out (the pin is then refused when set). */
#include <string.h>

struct esc_pin {
  unsigned char digest[32];
  int active;
  int mismatch; /* the last handshake presented no pinned certificate */
  int failed;   /* ... or one whose chain does not verify up to it: an
                 * X509_V_ERR_* code, 0 when none */
};

/* Parses 64 hex digits (colons between pairs allowed) into digest;
 * returns 0 on anything else. */
static int esc_pin_parse(unsigned char digest[32], const char *hex, size_t len)
{
  size_t i, n = 0;
  int half = -1;
  for (i = 0; i < len; i++) {
    char h = hex[i];
    int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 :
            h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
    if (v < 0) {
      if (h == ':' && half < 0)
        continue;
      return 0;
    }
    if (half < 0) {
      half = v;
    } else {
      if (n == 32)
        return 0;
      digest[n++] = (unsigned char)(half * 16 + v);
      half = -1;
    }
  }
  return n == 32 && half < 0;
}

#ifdef ESC_NO_OPENSSL

static int esc_pin_supported(void)
{
  return 0;
}

static CURLcode esc_pin_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
  (void)curl;
  (void)ssl_ctx;
  (void)arg;
  return CURLE_NOT_BUILT_IN;
}

static const char *esc_pin_error_string(int code)
{
  (void)code;
  return "unknown";
}

#define ESC_PIN_UNSUPPORTED "ca_fingerprint needs esconnector built with OpenSSL " \
  "(this core was built with ESC_NO_OPENSSL)"

#else
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#define ESC_PIN_UNSUPPORTED "ca_fingerprint needs libcurl built with OpenSSL"

static int esc_pin_matches(X509 *cert, const unsigned char digest[32])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  return X509_digest(cert, EVP_sha256(), md, &len) == 1 && len == 32 &&
         memcmp(md, digest, 32) == 0;
}

/* Verifies leaf and the presented chain with anchor as the only trust
 * anchor; on success hands the verified chain to ctx.  Returns an
 * X509_V_* code. */
static int esc_pin_verify_with(X509_STORE_CTX *ctx, X509 *anchor)
{
  X509_STORE *store = X509_STORE_new();
  X509_STORE_CTX *own = X509_STORE_CTX_new();
  int err = X509_V_ERR_UNSPECIFIED;
  if (store && own && X509_STORE_add_cert(store, anchor) == 1 &&
      X509_STORE_CTX_init(own, store, X509_STORE_CTX_get0_cert(ctx),
                          X509_STORE_CTX_get0_untrusted(ctx)) == 1) {
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(own);
    /* the handshake's purpose and depth, plus: an intermediate may anchor */
    if (X509_VERIFY_PARAM_set1(param, X509_STORE_CTX_get0_param(ctx)) == 1 &&
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN) == 1) {
      if (X509_verify_cert(own) == 1) {
        STACK_OF(X509) *chain = X509_STORE_CTX_get1_chain(own);
        int i, n = chain ? sk_X509_num(chain) : 0, anchored = 0;
        for (i = 0; i < n; i++)
          anchored |= X509_cmp(sk_X509_value(chain, i), anchor) == 0;
        if (anchored) {
          X509_STORE_CTX_set0_verified_chain(ctx, chain); /* ctx owns it */
          err = X509_V_OK;
        } else {
          sk_X509_pop_free(chain, X509_free);
          err = X509_V_ERR_CERT_UNTRUSTED;
        }
      } else {
        err = X509_STORE_CTX_get_error(own);
        if (err == X509_V_OK)
          err = X509_V_ERR_UNSPECIFIED;
      }
    }
  }
  X509_STORE_CTX_free(own);
  X509_STORE_free(store);
  return err;
}

/* Replaces OpenSSL's chain verification for this connection. */
static int esc_pin_verify(X509_STORE_CTX *ctx, void *arg)
{
  struct esc_pin *pin = arg;
  STACK_OF(X509) *presented = X509_STORE_CTX_get0_untrusted(ctx);
  X509 *anchor = NULL;
  int i, n = presented ? sk_X509_num(presented) : 0, err;
  for (i = 0; i < n && !anchor; i++)
    if (esc_pin_matches(sk_X509_value(presented, i), pin->digest))
      anchor = sk_X509_value(presented, i);
  if (!anchor) {
    pin->mismatch = 1;
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_CERT_UNTRUSTED);
    return 0;
  }
  err = esc_pin_verify_with(ctx, anchor);
  X509_STORE_CTX_set_error(ctx, err);
  if (err != X509_V_OK) {
    pin->failed = err;
    return 0;
  }
  return 1;
}

static CURLcode esc_pin_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
  (void)curl;
  SSL_CTX_set_cert_verify_callback((SSL_CTX *)ssl_ctx, esc_pin_verify, arg);
  return CURLE_OK;
}

static const char *esc_pin_error_string(int code)
{
  return X509_verify_cert_error_string(code);
}

/* Is libcurl's TLS backend OpenSSL (the only one the pin works with)? */
static int esc_pin_supported(void)
{
  const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
  return info->ssl_version && strncmp(info->ssl_version, "OpenSSL", 7) == 0;
}
#endif
