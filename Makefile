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

.PHONY: all build deps test demo check asan valgrind lint bench fuzz clean yaml-tests doc

all: build

deps:
	@scripts/install-deps

# Two modules: esconnector.core (no libcurl, no OpenSSL: what every client
# loads) and esconnector.curl (libcurl and the OpenSSL pin: loaded by the
# first call through the curl transport).
MODULES   := core curl
build: $(foreach v,$(LUAS),$(foreach m,$(MODULES),build/$(v)/esconnector/$(m).so))

build/%/esconnector/core.so: $(SOURCES)
	@mkdir -p $(dir $@)
	$(CC) $(WARNINGS) $(CFLAGS) -fPIC -fvisibility=hidden -shared \
	  -I$(call incdir,$*) -o $@ src/core.c -lz

build/%/esconnector/curl.so: $(SOURCES)
	@mkdir -p $(dir $@)
	$(CC) $(WARNINGS) $(CFLAGS) -fPIC -fvisibility=hidden -shared \
	  -I$(call incdir,$*) $(DEFINES) -o $@ src/curl.c -lcurl $(TLS_LIBS)

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
	  -fPIC -shared -I/usr/include/lua5.4 -o $@ src/core.c -lz

build/asan/esconnector/curl.so: $(SOURCES)
	@mkdir -p $(dir $@)
	clang $(WARNINGS) -g -O1 -fno-omit-frame-pointer $(SANITIZE) \
	  -fPIC -shared -I/usr/include/lua5.4 \
	  $(DEFINES) -o $@ src/curl.c -lcurl $(TLS_LIBS)

build/nodlclose.so: scripts/nodlclose.c
	@mkdir -p build
	$(CC) -shared -fPIC -o $@ $<

test: deps build
	@scripts/run-tests

demo: deps build
	@scripts/demo

asan: deps build/asan/esconnector/core.so build/asan/esconnector/curl.so build/nodlclose.so
	@ASAN_LIB=$(ASAN_RT) TEST_MODE=asan LUAS=asan scripts/run-tests

valgrind: deps build build/nodlclose.so
	@TEST_MODE=valgrind LUAS=5.4 scripts/run-tests

check: asan valgrind

# Elasticsearch YAML REST tests: make yaml-tests YAML="files or dirs" [ES_URL=...]
# [YAML_FIXTURES=dir with roles.yml, users, run_as] [YAML_WIPE=delete]
# [YAML_EXPECTED_FAILURES=list of tests that fail on purpose, spec/yaml/expected-failures/]
YAML ?= ../shared/clients-tests
YAML_FIXTURES ?=
YAML_EXPECTED_FAILURES ?=
yaml-tests: deps build
	@YAML_FIXTURES="$(YAML_FIXTURES)" YAML_EXPECTED_FAILURES="$(YAML_EXPECTED_FAILURES)" scripts/yaml-tests $(YAML)

# Every shell script: tracked or new files whose first line is a sh/bash shebang.
SHELL_SCRIPTS = $(shell git ls-files -co --exclude-standard | while read -r f; do \
  [ -f "$$f" ] && head -n 1 "$$f" | grep -qE '^\#!.*[/ ](ba|da)?sh( |$$)' && echo "$$f"; done)

# C: cppcheck (warning, style, portability, performance; variableScope is a
# matter of taste in C99) and clang-tidy (bugprone, cert, clang-analyzer,
# misc, portability, performance; without the unity build's .c includes,
# swappable-parameter and recursion notes), with and without OpenSSL.
TIDY_CHECKS := -*,bugprone-*,cert-*,clang-analyzer-*,misc-*,portability-*,performance-*,$\
  -bugprone-suspicious-include,-bugprone-easily-swappable-parameters,-misc-no-recursion
# luacheck skips files without .lua inside folders: bin/esconnector is named.
lint: deps
	luacheck lua spec emulator/lua bin/esconnector bench examples doc
	shellcheck $(SHELL_SCRIPTS)
	cppcheck --enable=warning,style,portability,performance --suppress=variableScope \
	  --suppress=missingIncludeSystem --std=c99 --error-exitcode=1 --inline-suppr --quiet \
	  -I/usr/include/lua5.4 -DLLONG_MAX=9223372036854775807LL src/core.c src/curl.c
	clang-tidy --quiet --checks='$(TIDY_CHECKS)' --warnings-as-errors='*' src/core.c src/curl.c \
	  -- -std=c99 -I/usr/include/lua5.4
	clang-tidy --quiet --checks='$(TIDY_CHECKS)' --warnings-as-errors='*' src/curl.c \
	  -- -std=c99 -I/usr/include/lua5.4 -DESC_NO_OPENSSL

# The API reference: LDoc over the code's comments (config.ld), plus one page
# per namespace generated from the catalog.  Open build/doc/index.html.
doc: deps build/5.4/esconnector/core.so build/5.4/esconnector/curl.so
	@rm -rf build/doc build/doc-src
	@mkdir -p build/doc-src
	LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/5.4/?.so;;' lua5.4 doc/catalog_pages.lua build/doc-src
	ldoc --fatalwarnings .

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
