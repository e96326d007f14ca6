-- LuaRocks settings for an offline Debian install (LUAROCKS_CONFIG=...):
-- Debian's lua-cjson and lua-argparse count as installed, and curl.h is under multiarch.
rocks_provided = { ["lua-cjson"] = "2.1.0-1", argparse = "0.7.1-1" }
variables = { CURL_INCDIR = "/usr/include/x86_64-linux-gnu" }
