rockspec_format = "3.0"
package = "esconnector"
version = "scm-1"
source = {
  url = "git+https://example.invalid/esconnector.git",
}
description = {
  summary = "The Elasticsearch Connector API from Lua, with a libcurl C core",
  detailed = [[
Drives the Elasticsearch Connector API (first of all
PUT _connector/<id>/_api_key_id), connector secrets and API keys from Lua
scripts and OpenResty, with client-side validation in Elasticsearch's own
words and errors returned as nil, err.]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
  "argparse",
}
external_dependencies = {
  CURL = { header = "curl/curl.h", library = "curl" },
  ZLIB = { header = "zlib.h", library = "z" },
  OPENSSL = { header = "openssl/ssl.h", library = "ssl" },
}
build = {
  type = "builtin",
  install = { bin = { esconnector = "bin/esconnector" } },
  modules = {
    ["esconnector.core"] = {
      sources = { "src/core.c" }, -- a unity build: it includes the other src/*.c
      libraries = { "curl", "z", "ssl", "crypto" },
      incdirs = { "$(CURL_INCDIR)", "$(ZLIB_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(ZLIB_LIBDIR)", "$(OPENSSL_LIBDIR)" },
    },
    ["esconnector"] = "lua/esconnector/init.lua",
    ["esconnector.client"] = "lua/esconnector/client.lua",
    ["esconnector.errors"] = "lua/esconnector/errors.lua",
    ["esconnector.json"] = "lua/esconnector/json.lua",
    ["esconnector.pool"] = "lua/esconnector/pool.lua",
    ["esconnector.scheduler"] = "lua/esconnector/scheduler.lua",
    ["esconnector.rotation"] = "lua/esconnector/rotation.lua",
    ["esconnector.cli"] = "lua/esconnector/cli.lua",
    ["esconnector.transport.auto"] = "lua/esconnector/transport/auto.lua",
    ["esconnector.transport.curl"] = "lua/esconnector/transport/curl.lua",
    ["esconnector.transport.resty"] = "lua/esconnector/transport/resty.lua",
  },
}
