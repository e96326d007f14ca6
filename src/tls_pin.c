/* ca_fingerprint: trust a chain when one of the certificates the server
 * presents has this SHA-256 fingerprint (the one Elasticsearch prints for its
 * own CA at first start), then verify the chain against that certificate.
 * OpenSSL-specific, through CURLOPT_SSL_CTX_FUNCTION. */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct esc_pin {
  unsigned char digest[32];
  int active;
  int mismatch; /* set when the last handshake found no matching certificate */
};

static int esc_pin_verify(X509_STORE_CTX *store, void *arg)
{
  struct esc_pin *pin = arg;
  STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(store);
  int i, n = chain ? sk_X509_num(chain) : 0;
  for (i = 0; i < n; i++) {
    X509 *cert = sk_X509_value(chain, i);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &len) && len == 32 &&
        memcmp(md, pin->digest, 32) == 0) {
      /* the pinned certificate becomes a trust anchor for this chain */
      X509_STORE_add_cert(X509_STORE_CTX_get0_store(store), cert);
      return X509_verify_cert(store);
    }
  }
  pin->mismatch = 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_UNTRUSTED);
  return 0;
}

static CURLcode esc_pin_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
  (void)curl;
  SSL_CTX_set_cert_verify_callback((SSL_CTX *)ssl_ctx, esc_pin_verify, arg);
  return CURLE_OK;
}

/* Parses 64 hex digits into pin->digest; returns 0 on bad input. */
static int esc_pin_parse(struct esc_pin *pin, const char *hex)
{
  int i;
  if (strlen(hex) != 64)
    return 0;
  for (i = 0; i < 32; i++) {
    int hi, lo;
    char h = hex[2 * i], l = hex[2 * i + 1];
    hi = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 :
         h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
    lo = l >= '0' && l <= '9' ? l - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 :
         l >= 'A' && l <= 'F' ? l - 'A' + 10 : -1;
    if (hi < 0 || lo < 0)
      return 0;
    pin->digest[i] = (unsigned char)(hi * 16 + lo);
  }
  return 1;
}

/* Is libcurl's TLS backend OpenSSL (the only one the pin works with)? */
static int esc_pin_supported(void)
{
  const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
  return info->ssl_version && strncmp(info->ssl_version, "OpenSSL", 7) == 0;
}
