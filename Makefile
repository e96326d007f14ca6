# esconnector: build the C core for every Lua, test, demo, check, bench.
# `make test` and `make demo` install what is missing (Debian packages).

LUAS      ?= 5.4 5.3 5.2 5.1 jit
CC        ?= cc
CFLAGS    ?= -O2 -g
WARNINGS  := -std=c99 -Wall -Wextra -Werror -pedantic
SOURCES   := $(wildcard src/*.c src/*.h)

incdir = $(if $(filter jit,$(1)),/usr/include/luajit-2.1,/usr/include/lua$(1))

.PHONY: all build deps test demo check asan valgrind lint bench fuzz clean yaml-tests doc

all: build

deps:
	@scripts/install-deps

build: $(foreach v,$(LUAS),build/$(v)/esconnector/core.so)

build/%/esconnector/core.so: $(SOURCES)
	@mkdir -p $(dir $@)
	$(CC) $(WARNINGS) $(CFLAGS) -fPIC -fvisibility=hidden -shared \
	  -I$(call incdir,$*) -o $@ src/core.c -lcurl -lz -lssl -lcrypto

# Sanitizer build, for 5.4 only (the sanitizers see the same C on every Lua).
build/asan/esconnector/core.so: $(SOURCES)
	@mkdir -p $(dir $@)
	$(CC) $(WARNINGS) -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	  -fno-sanitize-recover=undefined -fPIC -shared -I/usr/include/lua5.4 \
	  -o $@ src/core.c -lcurl -lz -lssl -lcrypto

build/nodlclose.so: scripts/nodlclose.c
	@mkdir -p build
	$(CC) -shared -fPIC -o $@ $<

test: deps build
	@scripts/run-tests

demo: deps build
	@scripts/demo

asan: deps build/asan/esconnector/core.so build/nodlclose.so
	@TEST_MODE=asan LUAS=asan scripts/run-tests

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

# luacheck skips files without .lua inside folders: bin/esconnector is named.
lint: deps
	luacheck lua spec emulator/lua bin/esconnector bench examples doc
	shellcheck $(SHELL_SCRIPTS)

# The API reference: LDoc over the code's comments (config.ld), plus one page
# per namespace generated from the catalog.  Open build/doc/index.html.
doc: deps build/5.4/esconnector/core.so
	@rm -rf build/doc build/doc-src
	@mkdir -p build/doc-src
	LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/5.4/?.so;;' lua5.4 doc/catalog_pages.lua build/doc-src
	ldoc --fatalwarnings .

bench: deps build
	@scripts/bench

# libFuzzer over core.prepare / escape / interpret (clang); FUZZ_SECONDS=60
FUZZ_SECONDS ?= 30
build/fuzz_core: fuzz/fuzz_core.c $(SOURCES)
	@mkdir -p build
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -I/usr/include/lua5.4 -o $@ $< -llua5.4 -lcurl -lz -lssl -lcrypto

fuzz: deps build/fuzz_core
	@mkdir -p build/fuzz-corpus
	build/fuzz_core -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz-corpus

clean:
	rm -rf build
