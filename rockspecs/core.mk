# The C core as the rockspecs build it (build.type = "make"): two shared
# modules, rebuilt every time (a .so of another Lua is never reused):
# esconnector.core (zlib only) and esconnector.curl (libcurl, OpenSSL), so
# that libcurl is loaded only by clients that send through it.
# LuaRocks passes CC, CFLAGS, LIBFLAG, LUA_INCDIR and the CURL/ZLIB dirs.
# OpenSSL is optional: `OPENSSL=0 luarocks make ...` (from the environment)
# builds without libssl/libcrypto, and ca_fingerprint then raises a clear
# error; every other TLS feature is libcurl's and works the same.
OPENSSL ?= 1
CC ?= cc
CFLAGS ?= -O2 -fPIC
LIBFLAG ?= -shared

ifeq ($(OPENSSL),0)
TLS_DEFINES := -DESC_NO_OPENSSL
TLS_LIBS :=
else
TLS_DEFINES :=
TLS_LIBS := -lssl -lcrypto
endif

.PHONY: core install

core:
	$(CC) $(CFLAGS) -std=c99 -fvisibility=hidden -I$(LUA_INCDIR) -I$(ZLIB_INCDIR) \
	  $(LIBFLAG) -o esconnector_core.so src/core.c -L$(ZLIB_LIBDIR) -lz
	$(CC) $(CFLAGS) -std=c99 -fvisibility=hidden $(TLS_DEFINES) -I$(LUA_INCDIR) -I$(CURL_INCDIR) \
	  $(LIBFLAG) -o esconnector_curl.so src/curl.c -L$(CURL_LIBDIR) -lcurl $(TLS_LIBS)

install:
	mkdir -p '$(INST_LIBDIR)/esconnector'
	cp esconnector_core.so '$(INST_LIBDIR)/esconnector/core.so'
	cp esconnector_curl.so '$(INST_LIBDIR)/esconnector/curl.so'
