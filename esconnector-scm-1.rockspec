rockspec_format = "3.0"
package = "esconnector"
version = "scm-1"
source = {
  url = "git+https://github.com/esconnector/esconnector.git",
  branch = "main",
}
description = {
  summary = "The Elasticsearch Connector API from Lua, with a libcurl C core",
  detailed = [[
Drives the Elasticsearch Connector API (first of all
PUT _connector/<id>/_api_key_id), connector secrets and API keys from Lua
scripts and OpenResty, with client-side validation in Elasticsearch's own
words, errors returned as nil, err, safe key rotation and a command-line
tool.  OpenSSL is optional at build time: OPENSSL=0 luarocks make ...
builds without it (only ca_fingerprint needs it).]],
  homepage = "https://github.com/esconnector/esconnector",
  issues_url = "https://github.com/esconnector/esconnector/issues",
  license = "MIT",
  labels = { "elasticsearch", "connectors", "http", "curl", "openresty" },
}
supported_platforms = { "unix" }
dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson",
  "argparse",
}
external_dependencies = {
  CURL = { header = "curl/curl.h", library = "curl" },
  ZLIB = { header = "zlib.h", library = "z" },
}
test_dependencies = {
  "busted",
}
test = {
  type = "busted",
}
build = {
  -- rockspecs/core.mk builds the C modules esconnector.core and esconnector.curl (with or without OpenSSL);
  -- LuaRocks installs the Lua modules and the tool from the list below.
  type = "make",
  makefile = "rockspecs/core.mk",
  build_target = "core",
  build_variables = {
    CC = "$(CC)", CFLAGS = "$(CFLAGS)", LIBFLAG = "$(LIBFLAG)", LUA_INCDIR = "$(LUA_INCDIR)",
    CURL_INCDIR = "$(CURL_INCDIR)", CURL_LIBDIR = "$(CURL_LIBDIR)",
    ZLIB_INCDIR = "$(ZLIB_INCDIR)", ZLIB_LIBDIR = "$(ZLIB_LIBDIR)",
  },
  install_variables = { INST_LIBDIR = "$(LIBDIR)" },
  install = {
    bin = { esconnector = "bin/esconnector" },
    lua = {
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
  },
}
