# versync — build, test and install.
#
# Sources are discovered by folder, so adding a module means adding files, not
# editing this Makefile:
#   src/common/*.c  → linked into both programs
#   src/store/*.c   → verstore   (entry point: src/store/verstore_main.c)
#   src/bridge/*.c  → versync    (entry point: src/bridge/versync_main.c)
#   sql/*.sql       → embedded into versync at build time (see sql_embed.h)
#   tests/unit/test_*.c → one cmocka binary each, linked with its side's objects
#                         and libraries (test_store_* the store's, a test named
#                         after a src/common file common's, the rest the bridge's)
#
# Each program links only the libraries it uses (STORE_LIBS, BRIDGE_LIBS), so
# verstore never needs libpq or libcurl and versync never LMDB or ICU; the
# integration test test_link_libs.sh reads their NEEDED entries to keep it so.
#
# BUILD selects the output folder; `make asan` builds into build-asan with
# AddressSanitizer + UBSan and runs the whole suite against those binaries.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
# Libraries per program. versync: PostgreSQL, the store client (libcurl),
# JSON, and libmicrohttpd for its --metrics endpoint. verstore: the HTTP
# front, LMDB, ICU and Snowball for analysis, crypt for the users file.
# Common code (src/common) needs only libc.
BRIDGE_PKGS := libpq libcurl libcjson libmicrohttpd
STORE_PKGS  := libcjson libmicrohttpd lmdb icu-uc icu-i18n
PKGS        := $(sort $(BRIDGE_PKGS) $(STORE_PKGS))

pkg_libs = $(shell pkg-config --libs $(1) 2>/dev/null)
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
BRIDGE_LIBS := $(call pkg_libs,$(BRIDGE_PKGS)) -lpthread
STORE_LIBS  := $(call pkg_libs,$(STORE_PKGS)) -lstemmer -lcrypt -lpthread -lm
COMMON_LIBS :=
CJSON_LIBS  := $(call pkg_libs,libcjson)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

CFLAGS   ?= -O2 -g
override CFLAGS += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -I$(BUILD)/gen $(PKG_CFLAGS)
CPPFLAGS += -MMD -MP
# Test helpers, benchmarks and fuzz targets that use both sides link everything.
ALL_LIBS := $(LDLIBS) $(BRIDGE_LIBS) $(STORE_LIBS)

ifeq ($(SANITIZE),1)
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

COMMON_SRC := $(wildcard src/common/*.c)
STORE_SRC  := $(wildcard src/store/*.c)
BRIDGE_SRC := $(wildcard src/bridge/*.c)
SQL_FILES  := $(sort $(wildcard sql/*.sql))
GEN_SRC    := $(BUILD)/gen/sql_embed.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_OBJ := $(call obj,$(COMMON_SRC))
STORE_OBJ  := $(call obj,$(filter-out src/store/verstore_main.c,$(STORE_SRC)))
BRIDGE_OBJ := $(call obj,$(filter-out src/bridge/versync_main.c,$(BRIDGE_SRC))) $(BUILD)/obj/gen/sql_embed.o
LIB_OBJ    := $(COMMON_OBJ) $(STORE_OBJ) $(BRIDGE_OBJ)

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# test_scan checks that both sides' parsers use the common scanner: both sides.
UNIT_BOTH_BIN   := $(BUILD)/tests/test_scan
UNIT_STORE_BIN  := $(filter $(BUILD)/tests/test_store_%,$(UNIT_BIN))
UNIT_COMMON_BIN := $(filter-out $(UNIT_BOTH_BIN),$(foreach t,$(UNIT_BIN),\
                     $(if $(wildcard src/common/$(patsubst test_%,%,$(notdir $(t))).c),$(t))))
UNIT_BRIDGE_BIN := $(filter-out $(UNIT_BOTH_BIN) $(UNIT_STORE_BIN) $(UNIT_COMMON_BIN),$(UNIT_BIN))
IT_SRC     := $(wildcard tests/integration/*.c)
IT_BIN     := $(patsubst tests/integration/%.c,$(BUILD)/itest/%,$(IT_SRC))
BENCH_SRC  := $(wildcard tests/bench/*.c)
BENCH_BIN  := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps ensure-deps test test-unit test-integration asan asan-bins valgrind flakehunt \
        bench demo clean format install unit-bins
.DEFAULT_GOAL := all

all: $(BUILD)/versync $(BUILD)/verstore

$(BUILD)/versync: $(call obj,src/bridge/versync_main.c) $(BRIDGE_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(BRIDGE_LIBS)

$(BUILD)/verstore: $(call obj,src/store/verstore_main.c) $(STORE_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(STORE_LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Embedded SQL: every sql/*.sql becomes a C string; regenerated when one changes.
$(GEN_SRC): $(SQL_FILES) scripts/embed_sql.sh
	@mkdir -p $(dir $@)
	scripts/embed_sql.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@

# The revision --version prints. FORCE runs the recipe every build, but the
# header is rewritten only when the revision changed, so nothing else rebuilds.
VERSION_GIT ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
%/gen/version_git.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define VERSION_GIT "%s"\n' '$(subst ','',$(VERSION_GIT))' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/obj/src/common/version.o: $(BUILD)/gen/version_git.h

.PHONY: FORCE
FORCE:

$(BUILD)/obj/gen/sql_embed.o: $(GEN_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Unit tests: one module each, linked with that module's side only.
$(UNIT_STORE_BIN): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(STORE_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS) $(STORE_LIBS)

$(UNIT_BRIDGE_BIN): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BRIDGE_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS) $(BRIDGE_LIBS)

# (cJSON: test_log reads the JSON log lines back.)
$(UNIT_COMMON_BIN): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS) $(COMMON_LIBS) $(CJSON_LIBS)

$(UNIT_BOTH_BIN): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(ALL_LIBS)

# Small helper programs the integration scripts drive (e.g. a notify socket listener).
$(BUILD)/itest/%: $(BUILD)/obj/tests/integration/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

unit-bins: $(UNIT_BIN) $(IT_BIN)

# deps installs the Debian packages; ensure-deps does so only when something is
# missing, so a machine that has everything is never touched.
deps:
	@scripts/deps.sh install

ensure-deps:
	@scripts/deps.sh ensure

# CI=true (or EXTENDED=1) makes `make test` the extended run of tests/extended.sh:
# the suite, then again under ASan + UBSan, the unit tests under valgrind and
# fuzz-smoke; one summary line over all of them.
EXTENDED ?= $(if $(filter true 1,$(CI)),1,0)
export EXTENDED

test: ensure-deps
	@$(MAKE) --no-print-directory all unit-bins $(BENCH_BIN)
ifeq ($(EXTENDED),1)
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/extended.sh
else
	@BUILD=$(BUILD) tests/run.sh all
endif

test-unit: ensure-deps
	@$(MAKE) --no-print-directory unit-bins
	@BUILD=$(BUILD) tests/run.sh unit

test-integration: ensure-deps
	@$(MAKE) --no-print-directory all $(IT_BIN)
	@BUILD=$(BUILD) tests/run.sh integration

asan: ensure-deps asan-bins
	@BUILD=build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run.sh all

asan-bins:
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 CFLAGS="-O1 -g" all unit-bins

valgrind: ensure-deps
	@$(MAKE) --no-print-directory unit-bins
	@BUILD=$(BUILD) VALGRIND=1 tests/run.sh unit

# The suite again and again with every core kept busy (tests/flakehunt.sh:
# ROUNDS, HUNT_MINUTES, HOGS, SUITE, TESTS). Not part of `make test`.
flakehunt: ensure-deps
	@$(MAKE) --no-print-directory all unit-bins
	@BUILD=$(BUILD) tests/flakehunt.sh

bench: ensure-deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@BUILD=$(BUILD) tests/bench/run.sh

demo: ensure-deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

format:
	clang-format -i $$(find include src tests -name '*.[ch]')

# install: binaries, man pages made from their --help, systemd units (with
# ExecStart pointing at $(BINDIR)), and the example config and crontab under
# $(DATADIR). Nothing is written to /etc: configs there belong to the admin.
BINDIR  ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
DATADIR ?= $(PREFIX)/share/versync
MANDIR  ?= $(PREFIX)/share/man

$(BUILD)/man/versync.1: $(BUILD)/versync scripts/help2man.sh
	@mkdir -p $(dir $@)
	scripts/help2man.sh versync $< "keep a search copy of PostgreSQL tables in sync" > $@.tmp && mv $@.tmp $@

$(BUILD)/man/verstore.1: $(BUILD)/verstore scripts/help2man.sh
	@mkdir -p $(dir $@)
	scripts/help2man.sh verstore $< "versioned document store with an Elasticsearch-compatible API" > $@.tmp && mv $@.tmp $@

install: all $(BUILD)/man/versync.1 $(BUILD)/man/verstore.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)
	install -m 755 $(BUILD)/versync $(BUILD)/verstore $(DESTDIR)$(BINDIR)/
	install -m 644 $(BUILD)/man/versync.1 $(BUILD)/man/verstore.1 $(DESTDIR)$(MANDIR)/man1/
	for f in config/systemd/*.service; do \
	  sed 's|/usr/local/bin/|$(BINDIR)/|g' $$f > $(DESTDIR)$(UNITDIR)/$${f##*/} && \
	  chmod 644 $(DESTDIR)$(UNITDIR)/$${f##*/} || exit 1; \
	done
	for f in $(wildcard config/*.json) config/cron/versync.cron; do \
	  sed 's|/usr/local/bin/|$(BINDIR)/|g' $$f > $(DESTDIR)$(DATADIR)/$${f##*/} && \
	  chmod 644 $(DESTDIR)$(DATADIR)/$${f##*/} || exit 1; \
	done

# Fuzzing (clang + libFuzzer, ASan + UBSan). `make fuzz` builds one binary per
# tests/fuzz/fuzz_*.c into build-fuzz/, from the project's sources compiled again
# with clang (the gcc build is untouched; an archive pulls in only the objects a
# target needs). `make fuzz-smoke` runs each target for FUZZ_SECONDS (default 30)
# on a temporary copy of its seed corpus tests/fuzz/corpus/<target>/ and fails on
# any crash, leak or sanitizer report (see tests/fuzz/smoke.sh).
FUZZ_BUILD   := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -O1 -g -Wall -Wextra -D_GNU_SOURCE -Iinclude -I$(FUZZ_BUILD)/gen $(PKG_CFLAGS) \
                $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(COMMON_SRC) \
                  $(filter-out src/store/verstore_main.c,$(STORE_SRC)) \
                  $(filter-out src/bridge/versync_main.c,$(BRIDGE_SRC))) $(FUZZ_BUILD)/obj/gen/sql_embed.o

.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_BIN)

fuzz-smoke: fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/smoke.sh $(FUZZ_BIN)

$(FUZZ_BIN): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/tests/fuzz/%.o $(FUZZ_BUILD)/libversync.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(ALL_LIBS)

$(FUZZ_BUILD)/libversync.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -MMD -MP $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/gen/sql_embed.c: $(SQL_FILES) scripts/embed_sql.sh
	@mkdir -p $(dir $@)
	scripts/embed_sql.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@

$(FUZZ_BUILD)/obj/src/common/version.o: $(FUZZ_BUILD)/gen/version_git.h

$(FUZZ_BUILD)/obj/gen/sql_embed.o: $(FUZZ_BUILD)/gen/sql_embed.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj $(if $(filter fuzz%,$(MAKECMDGOALS)),$(FUZZ_BUILD)/obj) -name '*.d' 2>/dev/null)
