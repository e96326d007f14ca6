# The C core as the rockspecs build it (build.type = "make"): one shared
# module, rebuilt every time (a core.so of another Lua is never reused).
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
	$(CC) $(CFLAGS) -std=c99 -fvisibility=hidden $(TLS_DEFINES) -I$(LUA_INCDIR) -I$(CURL_INCDIR) -I$(ZLIB_INCDIR) \
	  $(LIBFLAG) -o esconnector_core.so src/core.c -L$(CURL_LIBDIR) -L$(ZLIB_LIBDIR) -lcurl -lz $(TLS_LIBS)

install:
	mkdir -p '$(INST_LIBDIR)/esconnector'
	cp esconnector_core.so '$(INST_LIBDIR)/esconnector/core.so'
