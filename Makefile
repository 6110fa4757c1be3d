# Axon - multi-tenant CRM server.  `make run` serves the demo; `make test` tests.
CC      ?= gcc
PKGS    := libmicrohttpd sqlite3 lua5.4 jansson libcurl libsodium libarchive libutf8proc libcrypto
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -Iinclude -Ibuild/gen
LDLIBS  += -lcsv -lm -pthread
PYTHON  := /usr/bin/python3

SRC     := $(wildcard src/*.c)
OBJ     := $(patsubst src/%.c,build/obj/%.o,$(SRC))
LIBOBJ  := $(filter-out build/obj/main.o,$(OBJ)) build/obj/schema_gen.o build/obj/assets_gen.o
SCHEMA  := $(sort $(wildcard schema/*.sql))
# Files the binary carries, so `./axon` runs from any directory (assets.h).
ASSETS  := lua/intents/default_terms.csv data/models/sentiment_zh.clf
UNIT    := $(patsubst tests/unit/%.c,build/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps run test unit lua-test api-test test-browser bench clean
all: axon

deps:
	@scripts/deps.sh build

build/flags: Makefile | build
	@pkg-config --cflags $(PKGS) > build/cflags.new && pkg-config --libs $(PKGS) > build/libs.new
	@mv build/cflags.new build/cflags && mv build/libs.new build/libs && touch build/flags

build:
	@mkdir -p build/obj build/gen build/tests

build/embed: tools/embed.c | build
	$(CC) -O1 -o $@ $<

build/gen/schema_gen.c: $(SCHEMA) build/embed
	build/embed schema_files $@ $(SCHEMA)

build/obj/schema_gen.o: build/gen/schema_gen.c
	$(CC) -c -o $@ $<

build/gen/assets_gen.c: $(ASSETS) build/embed
	build/embed asset_files $@ $(ASSETS)

build/obj/assets_gen.o: build/gen/assets_gen.c
	$(CC) -c -o $@ $<

build/obj/%.o: src/%.c $(wildcard include/axon/*.h) build/flags
	$(CC) $(CFLAGS) $$(cat build/cflags) -c -o $@ $<

axon: $(OBJ) build/obj/schema_gen.o build/obj/assets_gen.o
	$(CC) $(CFLAGS) -o $@ $^ $$(cat build/libs) $(LDLIBS)

build/tests/%: tests/unit/%.c $(LIBOBJ)
	$(CC) $(CFLAGS) $$(cat build/cflags) -o $@ $< $(LIBOBJ) $$(cat build/libs) $(LDLIBS) -lcmocka

# Serve the demo tenant (created and loaded on the first run).
run: deps axon
	./axon demo
	./axon serve

unit: $(UNIT)
	@set -e; for t in $(UNIT); do echo "== $$t"; $$t; done

# The workflow packs that ship in lua/packs: compliance scan and their own tests.
lua-test: axon
	./axon --log-level warn pack test $(wildcard lua/packs/*)

api-test: axon
	$(PYTHON) -m pytest -q tests/api

# Browser tests: playwright-core (pinned in tests/browser/package-lock.json,
# installed with npm ci) driving Debian's chromium against a real Axon.
tests/browser/node_modules/.installed: tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-browser: axon tests/browser/node_modules/.installed
	@command -v chromium >/dev/null || scripts/deps.sh test
	cd tests/browser && node --test --test-concurrency=1 .

test:
	@scripts/deps.sh test
	$(MAKE) axon unit
	$(MAKE) lua-test
	$(MAKE) api-test
	$(MAKE) test-browser

bench:
	@scripts/deps.sh bench
	$(MAKE) axon
	bench/run.sh

clean:
	rm -rf build axon
