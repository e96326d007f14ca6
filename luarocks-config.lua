-- LuaRocks settings for an offline Debian install (LUAROCKS_CONFIG=...):
-- Debian's lua-cjson counts as installed, and curl.h is under multiarch.
rocks_provided = { ["lua-cjson"] = "2.1.0-1" }
variables = { CURL_INCDIR = "/usr/include/x86_64-linux-gnu" }
