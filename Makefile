# esconnector: build the C core for every Lua, test, demo, check, bench.
# `make test` and `make demo` install what is missing (Debian packages).

LUAS      ?= 5.4 5.3 5.2 5.1 jit
CC        ?= cc
CFLAGS    ?= -O2 -g
WARNINGS  := -std=c99 -Wall -Wextra -Werror -pedantic
SOURCES   := $(wildcard src/*.c src/*.h)
# OPENSSL=0 builds without libssl/libcrypto: ca_fingerprint is then refused.
OPENSSL   ?= 1
ifeq ($(OPENSSL),0)
TLS_LIBS  :=
DEFINES   := -DESC_NO_OPENSSL
else
TLS_LIBS  := -lssl -lcrypto
DEFINES   :=
endif

incdir = $(if $(filter jit,$(1)),/usr/include/luajit-2.1,/usr/include/lua$(1))

.PHONY: all build deps test demo check asan valgrind lint bench fuzz clean yaml-tests

all: build

deps:
	@scripts/install-deps

build: $(foreach v,$(LUAS),build/$(v)/esconnector/core.so)

build/%/esconnector/core.so: $(SOURCES)
	@mkdir -p $(dir $@)
	$(CC) $(WARNINGS) $(CFLAGS) -fPIC -fvisibility=hidden -shared \
	  -I$(call incdir,$*) $(DEFINES) -o $@ src/core.c -lcurl -lz $(TLS_LIBS)

# clang's sanitizers for the ASan build and the fuzzer: ASan, all of UBSan's
# undefined group, float-cast-overflow (named: older clangs leave it out of
# "undefined") and the integer group (unsigned overflow, implicit truncation
# and sign change, which are not undefined in C but are bugs here); any
# report stops the run.
SANITIZE  := -fsanitize=address,undefined,float-cast-overflow,integer -fno-sanitize-recover=all
ASAN_RT    = $(shell clang -print-file-name=libclang_rt.asan-x86_64.so)

# Sanitizer build, for 5.4 only (the sanitizers see the same C on every Lua).
build/asan/esconnector/core.so: $(SOURCES)
	@mkdir -p $(dir $@)
	clang $(WARNINGS) -g -O1 -fno-omit-frame-pointer $(SANITIZE) \
	  -fPIC -shared -I/usr/include/lua5.4 \
	  $(DEFINES) -o $@ src/core.c -lcurl -lz $(TLS_LIBS)

build/nodlclose.so: scripts/nodlclose.c
	@mkdir -p build
	$(CC) -shared -fPIC -o $@ $<

test: deps build
	@scripts/run-tests

demo: deps build
	@scripts/demo

asan: deps build/asan/esconnector/core.so build/nodlclose.so
	@ASAN_LIB=$(ASAN_RT) TEST_MODE=asan LUAS=asan scripts/run-tests

valgrind: deps build build/nodlclose.so
	@TEST_MODE=valgrind LUAS=5.4 scripts/run-tests

check: asan valgrind

# Elasticsearch YAML REST tests: make yaml-tests YAML="files or dirs" [ES_URL=...]
YAML ?= ../shared/clients-tests
yaml-tests: deps build
	@scripts/yaml-tests $(YAML)

# C: cppcheck (warning, style, portability, performance; variableScope is a
# matter of taste in C99) and clang-tidy (bugprone, cert, clang-analyzer,
# misc, portability, performance; without the unity build's .c includes,
# swappable-parameter and recursion notes), with and without OpenSSL.
TIDY_CHECKS := -*,bugprone-*,cert-*,clang-analyzer-*,misc-*,portability-*,performance-*,$\
  -bugprone-suspicious-include,-bugprone-easily-swappable-parameters,-misc-no-recursion
lint: deps
	luacheck lua spec emulator/lua bin examples
	cppcheck --enable=warning,style,portability,performance --suppress=variableScope \
	  --suppress=missingIncludeSystem --std=c99 --error-exitcode=1 --inline-suppr --quiet \
	  -I/usr/include/lua5.4 -DLLONG_MAX=9223372036854775807LL src/core.c
	clang-tidy --quiet --checks='$(TIDY_CHECKS)' --warnings-as-errors='*' src/core.c \
	  -- -std=c99 -I/usr/include/lua5.4
	clang-tidy --quiet --checks='$(TIDY_CHECKS)' --warnings-as-errors='*' src/core.c \
	  -- -std=c99 -I/usr/include/lua5.4 -DESC_NO_OPENSSL

bench: deps build
	@scripts/bench

# libFuzzer over prepare, interpret, the response head, escape, base64, gzip
# and curl_new settings (clang, $(SANITIZE)); FUZZ_SECONDS=300
FUZZ_SECONDS ?= 30
build/fuzz_core: fuzz/fuzz_core.c $(SOURCES)
	@mkdir -p build
	clang -g -O1 -fsanitize=fuzzer $(SANITIZE) \
	  -I/usr/include/lua5.4 $(DEFINES) -o $@ $< -llua5.4 -lcurl -lz $(TLS_LIBS)

fuzz: deps build/fuzz_core
	@mkdir -p build/fuzz-corpus
	build/fuzz_core -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz-corpus

clean:
	rm -rf build
