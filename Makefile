# lbguard -- top-level build and test orchestration (GNU make).
#
#   make test    install missing Debian packages, build everything, run every
#                test suite; ends with "N passed, N failed"
#   make demo    HAProxy -> nginx + lbguard -> misbehaving backend, off vs on
#   make bench   lbguard off vs repair (callgrind instructions + wrk)
#
# Everything is built under build/ (BUILD=...).

BUILD   ?= $(CURDIR)/build
CC      ?= cc
PYTHON  ?= python3

CORE_SRCS := common/lbg_rules.c common/lbg_check.c common/lbg_format.c common/lbg_quick.c \
             common/lbg_body.c common/lbg_chunked.c common/lbg_parse.c common/lbg_metrics.c \
             common/lbg_bypass.c
CORE_HDRS := common/lbg.h common/lbg_quick.h common/lbg_simd.h common/lbg_raw.h \
             common/lbg_internal.h

# The core is stricter than nginx's own flags (-Wall -Wpointer-arith
# -Wno-unused-parameter -Werror), and must also compile clean under those.
STRICT  := -std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wcast-qual -Wvla -Wformat=2 -Werror
CFLAGS  ?= -O2 -g
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer

.PHONY: all deps core cli unit unit-asan fuzz nginx-dynamic nginx-static nginx-static-asan \
        nginx-static-mainline apache test demo bench clean

all: core cli

deps:
	@bash scripts/deps.sh

$(BUILD)/lib/liblbg.a: $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)/lib/obj
	@set -e; for s in $(CORE_SRCS); do \
	  $(CC) $(STRICT) $(CPPFLAGS) $(CFLAGS) -Icommon -c $$s -o $(BUILD)/lib/obj/$$(basename $$s .c).o; \
	  $(CC) -Wall -Wpointer-arith -Wno-unused-parameter -Werror -O2 -Icommon \
	        -fsyntax-only $$s; \
	done
	ar rcs $@ $(BUILD)/lib/obj/*.o

$(BUILD)/lib-asan/liblbg.a: $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)/lib-asan/obj
	@set -e; for s in $(CORE_SRCS); do \
	  $(CC) $(STRICT) -O1 -g $(SAN) -Icommon -c $$s -o $(BUILD)/lib-asan/obj/$$(basename $$s .c).o; \
	done
	ar rcs $@ $(BUILD)/lib-asan/obj/*.o

# The same core without SIMD (-DLBG_NO_SIMD): the portable byte checks
# that platforms without SSE2 use, tested by the unit-portable binaries.
$(BUILD)/lib-portable/liblbg.a: $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)/lib-portable/obj
	@set -e; for s in $(CORE_SRCS); do \
	  $(CC) $(STRICT) -O2 -g -DLBG_NO_SIMD $(SAN) -Icommon -c $$s \
	        -o $(BUILD)/lib-portable/obj/$$(basename $$s .c).o; \
	done
	ar rcs $@ $(BUILD)/lib-portable/obj/*.o

# The same core with SSE2 only (-DLBG_NO_AVX2): the 16-byte loops that
# CPUs without AVX2 run for long values, tested by unit-sse2 under ASan.
$(BUILD)/lib-sse2/liblbg.a: $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)/lib-sse2/obj
	@set -e; for s in $(CORE_SRCS); do \
	  $(CC) $(STRICT) -O1 -g -DLBG_NO_AVX2 $(SAN) -Icommon -c $$s \
	        -o $(BUILD)/lib-sse2/obj/$$(basename $$s .c).o; \
	done
	ar rcs $@ $(BUILD)/lib-sse2/obj/*.o

core: $(BUILD)/lib/liblbg.a

# ---- command-line tool (cli/) -------------------------------------------
CLI_SRCS := $(wildcard cli/*.c)
$(BUILD)/lbguard: $(CLI_SRCS) $(wildcard cli/*.h) $(BUILD)/lib/liblbg.a
	$(CC) $(STRICT) -D_POSIX_C_SOURCE=200809L $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -Icommon -Icli -o $@ \
	    $(CLI_SRCS) $(BUILD)/lib/liblbg.a -lssl -lcrypto -lz -pthread
$(BUILD)/lbguard-asan: $(CLI_SRCS) $(wildcard cli/*.h) $(BUILD)/lib-asan/liblbg.a
	$(CC) $(STRICT) -D_POSIX_C_SOURCE=200809L -O1 -g $(SAN) -Icommon -Icli -o $@ $(CLI_SRCS) \
	    $(BUILD)/lib-asan/liblbg.a -lssl -lcrypto -lz -pthread
cli: $(BUILD)/lbguard

# ---- unit tests (cmocka), plain and under ASan + UBSan --------------------
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_ASAN := $(patsubst tests/unit/%.c,$(BUILD)/unit-asan/%,$(UNIT_SRCS))
$(BUILD)/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/lib/liblbg.a
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O1 -g -Icommon -Itests/unit \
	    -DLBG_CASES_DIR='"$(CURDIR)/tests/cases"' -o $@ $< $(BUILD)/lib/liblbg.a -lcmocka
$(BUILD)/unit-asan/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/lib-asan/liblbg.a
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O1 -g $(SAN) -Icommon -Itests/unit \
	    -DLBG_CASES_DIR='"$(CURDIR)/tests/cases"' -o $@ $< $(BUILD)/lib-asan/liblbg.a -lcmocka
UNIT_PORTABLE := $(BUILD)/unit-portable/test_quick $(BUILD)/unit-portable/test_rules
$(BUILD)/unit-portable/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/lib-portable/liblbg.a
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -DLBG_NO_SIMD -Wall -Wextra -Werror -O1 -g $(SAN) -Icommon \
	    -Itests/unit -DLBG_CASES_DIR='"$(CURDIR)/tests/cases"' -o $@ $< \
	    $(BUILD)/lib-portable/liblbg.a -lcmocka
UNIT_SSE2 := $(BUILD)/unit-sse2/test_quick
$(BUILD)/unit-sse2/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/lib-sse2/liblbg.a
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -DLBG_NO_AVX2 -Wall -Wextra -Werror -O1 -g $(SAN) -Icommon \
	    -Itests/unit -DLBG_CASES_DIR='"$(CURDIR)/tests/cases"' -o $@ $< \
	    $(BUILD)/lib-sse2/liblbg.a -lcmocka
# test_cli: the CLI's shared layers that link without a subcommand or main
CLI_UNIT_SRCS := cli/lbguard_util.c cli/lbguard_json.c cli/lbguard_net.c
$(BUILD)/unit/test_cli: tests/unit/test_cli.c $(CLI_UNIT_SRCS) $(wildcard cli/*.h) \
                        $(wildcard tests/unit/*.h) $(BUILD)/lib/liblbg.a
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O1 -g -Icommon -Icli -Itests/unit \
	    -o $@ $< $(CLI_UNIT_SRCS) $(BUILD)/lib/liblbg.a -lssl -lcrypto -lcmocka
$(BUILD)/unit-asan/test_cli: tests/unit/test_cli.c $(CLI_UNIT_SRCS) $(wildcard cli/*.h) \
                             $(wildcard tests/unit/*.h) $(BUILD)/lib-asan/liblbg.a
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O1 -g $(SAN) -Icommon -Icli \
	    -Itests/unit -o $@ $< $(CLI_UNIT_SRCS) $(BUILD)/lib-asan/liblbg.a -lssl -lcrypto -lcmocka
unit: $(UNIT_BINS)
unit-asan: $(UNIT_ASAN) $(UNIT_PORTABLE) $(UNIT_SSE2)

# ---- fuzz target (libFuzzer, clang) ----------------------------------------
$(BUILD)/fuzz/fuzz_lbg: tests/fuzz/fuzz_lbg.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon -o $@ tests/fuzz/fuzz_lbg.c $(CORE_SRCS)
# the access-log line parser of `lbguard logs` (cli/lbguard_logs_parse.c)
$(BUILD)/fuzz/fuzz_logs: tests/fuzz/fuzz_logs.c cli/lbguard_logs_parse.c cli/lbguard_logs.h
	@mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Icli -o $@ tests/fuzz/fuzz_logs.c \
	    cli/lbguard_logs_parse.c
fuzz: $(BUILD)/fuzz/fuzz_lbg $(BUILD)/fuzz/fuzz_logs

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
apache:
	bash apache_module/build.sh $(BUILD)

# ---- Debian packages -------------------------------------------------------
# libnginx-mod-http-lbguard, libapache2-mod-lbguard and lbguard into
# $(BUILD)/deb/, built by dpkg-buildpackage in a copy of the tree.
.PHONY: deb
deb:
	bash scripts/build-deb.sh $(BUILD)

# ---- everything ------------------------------------------------------------
test: deps
	@$(MAKE) --no-print-directory core cli $(BUILD)/lbguard-asan unit unit-asan fuzz \
	    nginx-dynamic nginx-static nginx-static-asan nginx-static-mainline apache
	@$(PYTHON) tests/run_all.py --build $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory core nginx-dynamic apache
	@$(PYTHON) tests/integration/demo.py --build $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory core nginx-dynamic apache
	@bash bench/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD)
