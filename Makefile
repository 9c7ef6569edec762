# lbguard -- top-level build and test orchestration (GNU make).
#
#   make demo      HAProxy -> nginx + lbguard -> misbehaving backend, off vs on
#   make test      make deps, then make check (what CI runs, through .ci/run)
#   make check     build everything, run every test suite; ends with
#                  "N passed, N failed". Installs and downloads nothing: the
#                  Debian packages and the nginx sources come from make deps
#   make deps      install missing Debian packages (root: scripts/deps.sh),
#                  fetch the nginx source packages of the static builds
#   make install   build/lbguard and its man page, under DESTDIR + PREFIX
#   make bench     lbguard off vs repair (callgrind instructions + wrk)
#   make format    clang-format the sources in place (format-check: diff only)
#
# Everything is built under build/ (BUILD=...). The modules are built by
# their servers' tools: nginx's configure (ngx_module/build.sh, `config`)
# and apxs (apache_module/Makefile).

BUILD   ?= $(CURDIR)/build
PYTHON  ?= python3
# make always defines CC (as "cc"), so "CC ?= cc" would never apply: take
# CC from the environment or the command line, else cc.
ifeq ($(origin CC),default)
CC      := cc
endif
FUZZ_CC ?= clang
CLANG_FORMAT ?= clang-format
INSTALL ?= install
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man

# ---- source lists: every list of C files is here ---------------------------
# the core library: every C file of common/ (its headers are found by the
# compiler's -MMD dependency files)
CORE_SRCS := $(wildcard common/*.c)
# the command-line tool
CLI_SRCS  := $(wildcard cli/*.c)
# test_cli: the CLI's shared layers that link without a subcommand or main
CLI_UNIT_SRCS := cli/lbguard_util.c cli/lbguard_json.c cli/lbguard_net.c
# the access-log line parser of `lbguard logs`, fuzzed by fuzz_logs
LOGS_PARSE_SRCS := cli/lbguard_logs_parse.c
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
# the tests run on the core without SIMD and with SSE2 only
UNIT_PORTABLE_TESTS := test_quick test_rules test_check_bytes test_cstr
UNIT_SSE2_TESTS     := test_quick test_check_bytes test_cstr
# make format: the directories clang-format owns (ngx_module/ and
# apache_module/ follow their hosts' style by hand: DisableFormat)
FORMAT_SRCS := $(wildcard common/*.[ch] cli/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c bench/*.c)

# ---- flags ------------------------------------------------------------------
# The core is stricter than nginx's own flags (NGX_WARN), and must also
# compile clean under those.
STRICT  := -std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wcast-qual -Wvla -Wformat=2 -Werror
NGX_WARN := -Wall -Wpointer-arith -Wno-unused-parameter -Werror -O2
CFLAGS  ?= -O2 -g
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
# unit tests: the plain flags, with the cases directory compiled in
UNIT_FLAGS := -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O1 -g \
              -Icommon -Icli -Itests/unit -DLBG_CASES_DIR='"$(CURDIR)/tests/cases"'
CLI_FLAGS  := $(STRICT) -D_POSIX_C_SOURCE=200809L -Icommon -Icli
CLI_LIBS   := -lssl -lcrypto -lz -pthread
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined
# every compile writes its header dependencies to $(BUILD)/deps/ (out of
# the way of tests/run_all.py's globs), one file per target
depfile  = $(BUILD)/deps/$(subst /,-,$(patsubst $(BUILD)/%,%,$(1))).d
DEPFLAGS = -MMD -MP -MF $(call depfile,$@)

# objs DIR, SRCS: the objects of SRCS under DIR
objs = $(patsubst %.c,$(1)/%.o,$(notdir $(2)))

.PHONY: all deps core cli unit unit-asan fuzz nginx-dynamic nginx-static nginx-static-asan \
        nginx-static-mainline apache check test demo bench clean install uninstall \
        format format-check deb

all: core cli

# ---- the core library, in four builds ---------------------------------------
#   lib/           the library the CLI and the unit tests link
#   lib-asan/      under ASan + UBSan
#   lib-portable/  without SIMD (-DLBG_NO_SIMD): the portable byte checks
#                  that platforms without SSE2 use, under ASan + UBSan
#   lib-sse2/      SSE2 only (-DLBG_NO_AVX2): the 16-byte loops CPUs without
#                  AVX2 run for long values, under ASan + UBSan
LIB_OBJS          := $(call objs,$(BUILD)/lib/obj,$(CORE_SRCS))
LIB_ASAN_OBJS     := $(call objs,$(BUILD)/lib-asan/obj,$(CORE_SRCS))
LIB_PORTABLE_OBJS := $(call objs,$(BUILD)/lib-portable/obj,$(CORE_SRCS))
LIB_SSE2_OBJS     := $(call objs,$(BUILD)/lib-sse2/obj,$(CORE_SRCS))
# the nginx-flags check: each core file also compiles clean under nginx's
# own warnings (stamp files, no objects)
LIB_NGX_CHECKS    := $(patsubst %.o,%.ngx-ok,$(call objs,$(BUILD)/lib/ngx-check,$(CORE_SRCS)))

$(BUILD)/lib/obj/%.o: common/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(STRICT) $(CPPFLAGS) $(CFLAGS) -Icommon $(DEPFLAGS) -c $< -o $@
$(BUILD)/lib/ngx-check/%.ngx-ok: common/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(NGX_WARN) -Icommon $(DEPFLAGS) -MT $@ -fsyntax-only $<
	@touch $@
$(BUILD)/lib-asan/obj/%.o: common/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(STRICT) -O1 -g $(SAN) -Icommon $(DEPFLAGS) -c $< -o $@
$(BUILD)/lib-portable/obj/%.o: common/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(STRICT) -O2 -g -DLBG_NO_SIMD $(SAN) -Icommon $(DEPFLAGS) -c $< -o $@
$(BUILD)/lib-sse2/obj/%.o: common/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(STRICT) -O1 -g -DLBG_NO_AVX2 $(SAN) -Icommon $(DEPFLAGS) -c $< -o $@

# each archive holds exactly its object list (no stale objects of
# deleted sources)
$(BUILD)/lib/liblbg.a: $(LIB_OBJS) $(LIB_NGX_CHECKS)
	@rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)
$(BUILD)/lib-asan/liblbg.a: $(LIB_ASAN_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/lib-portable/liblbg.a: $(LIB_PORTABLE_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/lib-sse2/liblbg.a: $(LIB_SSE2_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

core: $(BUILD)/lib/liblbg.a

# ---- command-line tool (cli/) -------------------------------------------
CLI_OBJS      := $(call objs,$(BUILD)/cli/obj,$(CLI_SRCS))
CLI_ASAN_OBJS := $(call objs,$(BUILD)/cli-asan/obj,$(CLI_SRCS))

$(BUILD)/cli/obj/%.o: cli/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(CLI_FLAGS) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
$(BUILD)/cli-asan/obj/%.o: cli/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(CLI_FLAGS) -O1 -g $(SAN) $(DEPFLAGS) -c $< -o $@

$(BUILD)/lbguard: $(CLI_OBJS) $(BUILD)/lib/liblbg.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)
$(BUILD)/lbguard-asan: $(CLI_ASAN_OBJS) $(BUILD)/lib-asan/liblbg.a
	$(CC) -O1 -g $(SAN) -o $@ $^ $(CLI_LIBS)
cli: $(BUILD)/lbguard

# ---- unit tests (cmocka), plain and under ASan + UBSan --------------------
# One binary per tests/unit/test_*.c, compiled and linked in one step.
UNIT_BINS     := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_ASAN     := $(patsubst tests/unit/%.c,$(BUILD)/unit-asan/%,$(UNIT_SRCS))
UNIT_PORTABLE := $(addprefix $(BUILD)/unit-portable/,$(UNIT_PORTABLE_TESTS))
UNIT_SSE2     := $(addprefix $(BUILD)/unit-sse2/,$(UNIT_SSE2_TESTS))

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/lib/liblbg.a
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(UNIT_FLAGS) $(DEPFLAGS) -o $@ $< $(BUILD)/lib/liblbg.a -lcmocka
$(BUILD)/unit-asan/%: tests/unit/%.c $(BUILD)/lib-asan/liblbg.a
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(UNIT_FLAGS) $(SAN) $(DEPFLAGS) -o $@ $< $(BUILD)/lib-asan/liblbg.a -lcmocka
$(BUILD)/unit-portable/%: tests/unit/%.c $(BUILD)/lib-portable/liblbg.a
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(UNIT_FLAGS) -DLBG_NO_SIMD $(SAN) $(DEPFLAGS) -o $@ $< \
	    $(BUILD)/lib-portable/liblbg.a -lcmocka
$(BUILD)/unit-sse2/%: tests/unit/%.c $(BUILD)/lib-sse2/liblbg.a
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(UNIT_FLAGS) -DLBG_NO_AVX2 $(SAN) $(DEPFLAGS) -o $@ $< \
	    $(BUILD)/lib-sse2/liblbg.a -lcmocka
# test_cli also links the CLI's shared layers (the CLI's own objects)
$(BUILD)/unit/test_cli: tests/unit/test_cli.c $(call objs,$(BUILD)/cli/obj,$(CLI_UNIT_SRCS)) \
                        $(BUILD)/lib/liblbg.a
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(UNIT_FLAGS) $(DEPFLAGS) -o $@ $^ -lssl -lcrypto -lcmocka
$(BUILD)/unit-asan/test_cli: tests/unit/test_cli.c \
                             $(call objs,$(BUILD)/cli-asan/obj,$(CLI_UNIT_SRCS)) \
                             $(BUILD)/lib-asan/liblbg.a
	@mkdir -p $(@D) $(BUILD)/deps
	$(CC) $(UNIT_FLAGS) $(SAN) $(DEPFLAGS) -o $@ $^ -lssl -lcrypto -lcmocka

unit: $(UNIT_BINS)
unit-asan: $(UNIT_ASAN) $(UNIT_PORTABLE) $(UNIT_SSE2)

# ---- fuzz targets (libFuzzer: FUZZ_CC, clang) ------------------------------
FUZZ_CORE_OBJS := $(call objs,$(BUILD)/fuzz/core,$(CORE_SRCS))
FUZZ_LOGS_OBJS := $(call objs,$(BUILD)/fuzz/cli,$(LOGS_PARSE_SRCS))

$(BUILD)/fuzz/core/%.o: common/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(FUZZ_CC) $(FUZZ_FLAGS) -Icommon $(DEPFLAGS) -c $< -o $@
$(BUILD)/fuzz/cli/%.o: cli/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(FUZZ_CC) $(FUZZ_FLAGS) -Icli $(DEPFLAGS) -c $< -o $@
$(BUILD)/fuzz/obj/%.o: tests/fuzz/%.c
	@mkdir -p $(@D) $(BUILD)/deps
	$(FUZZ_CC) $(FUZZ_FLAGS) -Icommon -Icli $(DEPFLAGS) -c $< -o $@

# the core: invariants over any response (tests/fuzz/README.md)
$(BUILD)/fuzz/fuzz_lbg: $(BUILD)/fuzz/obj/fuzz_lbg.o $(FUZZ_CORE_OBJS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^
# the access-log line parser of `lbguard logs`
$(BUILD)/fuzz/fuzz_logs: $(BUILD)/fuzz/obj/fuzz_logs.o $(FUZZ_LOGS_OBJS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^
fuzz: $(BUILD)/fuzz/fuzz_lbg $(BUILD)/fuzz/fuzz_logs

# the header dependencies (-MMD) of every object and binary above
-include $(foreach t,$(LIB_OBJS) $(LIB_NGX_CHECKS) $(LIB_ASAN_OBJS) $(LIB_PORTABLE_OBJS) \
    $(LIB_SSE2_OBJS) $(CLI_OBJS) $(CLI_ASAN_OBJS) $(UNIT_BINS) $(UNIT_ASAN) $(UNIT_PORTABLE) \
    $(UNIT_SSE2) $(FUZZ_CORE_OBJS) $(FUZZ_LOGS_OBJS) $(BUILD)/fuzz/obj/fuzz_lbg.o \
    $(BUILD)/fuzz/obj/fuzz_logs.o,$(call depfile,$(t)))

# ---- servers' modules ------------------------------------------------------
nginx-dynamic:
	bash ngx_module/build.sh dynamic $(BUILD)
nginx-static:
	bash ngx_module/build.sh static $(BUILD)
nginx-static-asan:
	bash ngx_module/build.sh static-asan $(BUILD)
# Debian 13's nginx 1.26 (after 1.23.0): the nginx_version >= 1023000 branches
nginx-static-mainline:
	bash ngx_module/build.sh static-mainline $(BUILD)
# apxs, through apache_module/Makefile, in a scratch copy under $(BUILD)
apache:
	bash apache_module/build.sh $(BUILD)

# ---- Debian packages -------------------------------------------------------
# libnginx-mod-http-lbguard, libapache2-mod-lbguard and lbguard into
# $(BUILD)/deb/, built by dpkg-buildpackage in a copy of the tree.
deb:
	bash scripts/build-deb.sh $(BUILD)

# ---- install -----------------------------------------------------------------
# The tool and its man page (GNU conventions: PREFIX, DESTDIR). The modules
# are installed by their servers' tools: README.md, "Install".
install: $(BUILD)/lbguard
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 0755 $(BUILD)/lbguard $(DESTDIR)$(BINDIR)/lbguard
	$(INSTALL) -m 0644 docs/lbguard.1 $(DESTDIR)$(MANDIR)/man1/lbguard.1
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/lbguard $(DESTDIR)$(MANDIR)/man1/lbguard.1

# ---- formatting (.clang-format) ----------------------------------------------
format:
	$(CLANG_FORMAT) -i $(FORMAT_SRCS)
format-check:
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRCS)

# ---- everything ------------------------------------------------------------
deps:
	@bash scripts/deps.sh
	@bash ngx_module/build.sh fetch $(BUILD)

# everything the suites of tests/run_all.py use
CHECK_BUILDS := core cli $(BUILD)/lbguard-asan unit unit-asan fuzz nginx-dynamic nginx-static \
                nginx-static-asan nginx-static-mainline apache
# LBG_NO_FETCH: the static nginx builds use the sources make deps fetched
check:
	@LBG_NO_FETCH=1 $(MAKE) --no-print-directory $(CHECK_BUILDS)
	@$(PYTHON) tests/run_all.py --build $(BUILD)

test: deps
	@$(MAKE) --no-print-directory check

demo:
	@bash scripts/deps.sh
	@$(MAKE) --no-print-directory core nginx-dynamic apache
	@$(PYTHON) tests/integration/demo.py --build $(BUILD)

bench:
	@bash scripts/deps.sh
	@$(MAKE) --no-print-directory core nginx-dynamic apache
	@bash bench/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD)
