/* The floor for one client: N sequential PUT round trips over one reused
 * libcurl easy handle, set up once.  Prints one JSON line.
 *   curl_loop URL N              the minimal request: Accept, Content-Type
 *   curl_loop URL N USER_AGENT   the request esconnector sends for
 *       connector.update_api_key_id, byte for byte: also its User-Agent;
 *       set up the way its curl transport sets libcurl up: libcurl's
 *       decoders on (CURLOPT_ACCEPT_ENCODING) and the header they would add
 *       taken out ("Accept-Encoding:"), as compression is off */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

struct sink {
  size_t bytes;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
  (void)data;
  ((struct sink *)ud)->bytes += size * n;
  return size * n;
}

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#define CHECK(call)                                                       \
  do {                                                                    \
    CURLcode rc_ = (call);                                                \
    if (rc_ != CURLE_OK) {                                                \
      fprintf(stderr, "curl_loop: %s: %s\n", #call, curl_easy_strerror(rc_)); \
      return 1;                                                           \
    }                                                                     \
  } while (0)

int main(int argc, char **argv)
{
  static const char body[] = "{\"api_key_id\":\"k\"}";
  struct curl_slist *headers = NULL, *h;
  const char *lines[] = {
    "Accept: application/vnd.elasticsearch+json; compatible-with=8",
    "Content-Type: application/vnd.elasticsearch+json; compatible-with=8",
    "Expect:",
    "Accept-Encoding:", /* esconnector's request only */
  };
  struct sink sink = { 0 };
  char url[1024], agent[1024];
  long i, n, status = 0;
  size_t k;
  double t0, ms;
  CURL *easy;
  int rc = 0;

  if (argc < 3 || argc > 4 ||
      (argc == 4 && snprintf(agent, sizeof agent, "User-Agent: %s", argv[3]) >= (int)sizeof agent) ||
      snprintf(url, sizeof url, "%s/_connector/bench/_api_key_id", argv[1]) >= (int)sizeof url) {
    fprintf(stderr, "usage: curl_loop URL N [USER_AGENT]\n");
    return 2;
  }
  n = strtol(argv[2], NULL, 10);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  easy = curl_easy_init();
  if (!easy)
    return 1;
  for (k = 0; k < sizeof lines / sizeof *lines - (argc == 4 ? 0 : 1); k++) {
    h = curl_slist_append(headers, lines[k]);
    if (!h)
      return 1;
    headers = h;
    if (k == 0 && argc == 4) { /* esconnector's order: Accept, User-Agent, Content-Type */
      h = curl_slist_append(headers, agent);
      if (!h)
        return 1;
      headers = h;
    }
  }
  if (argc == 4)
    CHECK(curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""));
  CHECK(curl_easy_setopt(easy, CURLOPT_URL, url));
  CHECK(curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L));
  CHECK(curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT"));
  CHECK(curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body));
  CHECK(curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)(sizeof body - 1)));
  CHECK(curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers));
  CHECK(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body));
  CHECK(curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink));
  t0 = now_ms();
  for (i = 0; i < n; i++) {
    CHECK(curl_easy_perform(easy));
    CHECK(curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status));
    if (status != 200) {
      fprintf(stderr, "curl_loop: status %ld\n", status);
      rc = 1;
      break;
    }
  }
  ms = now_ms() - t0;
  if (rc == 0)
    printf("{\"calls\":%ld,\"calls_per_s\":%.0f}\n", n, (double)n / ms * 1000.0);
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
  curl_global_cleanup();
  return rc;
}
