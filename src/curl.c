/* esconnector.curl: the libcurl transport (and the OpenSSL CA pin), a module
 * apart from esconnector.core so that libcurl, OpenSSL and their ~30
 * libraries are loaded only by the clients that send through libcurl (never
 * inside nginx unless transport = "curl").  A unity build like src/core.c. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */ /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#include <curl/curl.h>
#include "compat.h"

#include "headers.c"
#include "curl_transport.c"

/* curl.curl_version() -> "libcurl/7.88.1" */
static int esc_l_curl_version(lua_State *L)
{
  const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
  lua_pushfstring(L, "libcurl/%s", info->version);
  return 1;
}

ESC_EXPORT int luaopen_esconnector_curl(lua_State *L)
{
  static const luaL_Reg functions[] = {
    { "curl_new", esc_l_curl_new },
    { "curl_version", esc_l_curl_version },
    { NULL, NULL }
  };
  /* reference-counted by libcurl: once per process in effect */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return luaL_error(L, "esconnector: curl_global_init failed");
  esc_register_curl(L);
  lua_newtable(L);
  esc_setfuncs(L, functions, 0);
  /* can this build check ca_fingerprint (OpenSSL in the module and libcurl)? */
  lua_pushboolean(L, esc_pin_supported());
  lua_setfield(L, -2, "has_ca_fingerprint");
  return 1;
}
