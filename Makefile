# jetway -- build, test and bench.
#
#   make                 build $(BUILD)/jetway and $(BUILD)/plugins/*.so
#   make test            install missing packages, lint, fuzz each parser briefly,
#                        build, run unit and integration tests, then the same
#                        under ASan+UBSan
#   make lint            clang-tidy (.clang-tidy) and cppcheck over core/ and plugins/
#   make fuzz            each libFuzzer target of tests/fuzz/ for FUZZ_SECONDS
#   make soak            kill -9/SIGHUP/Redis-restart loop under load (SOAK_SECONDS)
#   make unit            unit tests only (no servers)
#   make integration     integration tests only (builds with FAILPOINTS=1)
#   make test-containers a clean clone's first `make demo` on a bare Debian 12,
#                        and the image built and run (podman; in `make test`)
#   make test-asan       the test suite built with -fsanitize=address,undefined
#   make tsan            the integration suite under ThreadSanitizer
#   make valgrind        the unit tests under valgrind memcheck
#   make demo            the order-processing pipeline end to end (KEEP=1: leave it running)
#   make bench           throughput/latency against a raw cnats baseline
#   make install         binary, plugin headers (plugin.h, plugin_util.h), pkg-config
#                        file, example plugin and event schemas under share/jetway
#                        (PREFIX, DESTDIR); also the man page (help2man),
#                        config/*.yaml as examples and the systemd unit jetway@.service
#   make uninstall       remove what install put there (same PREFIX, DESTDIR)
#   make man             $(BUILD)/jetway.1 from the binary's --help
#   make check-layers    core/'s include rule (scripts/check-layers) and its self-test
#   make format / format-check
#
# BUILD selects the output directory, so several variants (and several
# developers' trees) can be built side by side: make BUILD=build/asan SAN=1.

BUILD   ?= build
PREFIX  ?= /usr/local
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/jetway
# systemd searches /usr/local/lib/systemd/system and /usr/lib/systemd/system
UNITDIR ?= $(PREFIX)/lib/systemd/system
SAN     ?=
WERROR  ?= 1
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)

# libcurl is for its headers only: core/obs/curl_dyn.c dlopen()s it when OTLP
# export is configured, so a process without tracing never maps it.
PKGS    := libuv libnats yaml-0.1 libcjson hiredis

# A bare machine: the flags below come from pkg-config, which knows the
# libraries only once their -dev packages are installed, and make reads them
# when it parses this file. So when they are missing, the makefile
# $(BUILD)/.deps.mk is remade first by running scripts/deps, and make then
# starts over (re-reading this file, now with the packages there) before it
# builds anything: `make`, `make demo`, `make test`, ... work the first time.
# (MAKE_RESTARTS: at most once, should pkg-config still not find them.)
NODEPS_GOALS := clean deps format format-check
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(MAKE_RESTARTS),)
ifneq ($(shell pkg-config --exists $(PKGS) libcurl 2>/dev/null && echo ok),ok)
.DEFAULT_GOAL := all
-include $(BUILD)/.deps.mk
$(BUILD)/.deps.mk: FORCE
	@scripts/deps
	@mkdir -p $(@D)
	@echo '# scripts/deps ran $(shell date -u +%FT%TZ)' >$@
endif
endif
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC      ?= cc
CPPFLAGS += -D_GNU_SOURCE -iquote core -Icore/include $(PKG_CFLAGS)
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wold-style-definition -Wwrite-strings -Wformat=2 -Wpointer-arith \
           -Wundef -Wvla -Wimplicit-fallthrough -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 $(WARN) -fno-common -fstack-protector-strong -MMD -MP -pthread
LDFLAGS += -Wl,-z,relro,-z,now -pthread
LDLIBS  += $(PKG_LIBS) -ldl -lm -lcrypto

# (a variable: a literal comma would split the branches of $(if ...))
SAN_FLAGS := -fsanitize=address,undefined

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SAN),thread)
# ThreadSanitizer (make tsan): Debian's cnats, libuv and hiredis are not
# instrumented, so races inside them go unseen; ours are reported.
SAN_FLAGS := -fsanitize=thread
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer -O1
LDFLAGS += -fsanitize=thread
else ifeq ($(SAN),fuzz)
# libFuzzer targets (make fuzz): clang only; the core's objects get the
# coverage instrumentation and the sanitizers, the targets add the runtime.
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer -O1
LDFLAGS += -fsanitize=address,undefined
else
CPPFLAGS += -D_FORTIFY_SOURCE=2
endif

# Fail points are compiled into test builds only (JW_FAILPOINTS=1).
ifeq ($(FAILPOINTS),1)
CPPFLAGS += -DJW_FAILPOINTS=1
endif

PLUGIN_CFLAGS  := -fPIC -fvisibility=hidden
PLUGIN_LDFLAGS := -shared -Wl,-z,defs

# Rebuild everything when the flags change (e.g. FAILPOINTS=1 after a plain
# build into the same directory): objects depend on a stamp of the flags.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW   := $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)

CORE_SRCS  := $(wildcard core/*/*.c)
# The status page's files (core/obs/status/) become one generated C file of
# byte arrays (scripts/embed-assets), linked like any core object.
STATUS_ASSETS := $(sort $(wildcard core/obs/status/*))
STATUS_GEN    := $(BUILD)/gen/status_assets.c
CORE_OBJS  := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/status_assets.o
LIB_OBJS   := $(filter-out $(BUILD)/obj/core/cmd/main.o,$(CORE_OBJS))

# plugins/shared holds header-only helpers of several plugins, and
# plugins/tools the order example's own programs; neither is a plugin.
PLUGIN_DIRS := $(filter-out plugins/shared plugins/tools,$(patsubst %/,%,$(wildcard plugins/*/)))
PLUGIN_SOS  := $(PLUGIN_DIRS:plugins/%=$(BUILD)/plugins/%.so)
EXAMPLE_CONFIGS := $(wildcard config/*.yaml)
# The plugin author's kit: an example plugin to copy, the events' schemas.
EXAMPLE_PLUGIN  := examples/shipping/shipping.c examples/shipping/Makefile \
    examples/shipping/shipping.yaml examples/shipping/shipping.scheduled.v1.json
EVENT_SCHEMAS   := $(wildcard plugins/*/schemas/*.json)

# The order example's tools: its load generator and its audit chain verifier
# (they know the example's subjects, Redis keys and record format, so they
# are not commands of the generic host).
EXAMPLE_BINS := $(BUILD)/bin/jetway-orders-load $(BUILD)/bin/jetway-audit-verify

TPLUGIN_SRCS := $(wildcard tests/plugins/*.c)
TPLUGIN_SOS  := $(TPLUGIN_SRCS:tests/plugins/%.c=$(BUILD)/tests/plugins/%.so)
# Fixtures built against the frozen ABI 1.0 header (tests/plugins/abi10/jetway/
# plugin.h, found before core/include): what a plugin compiled before 1.1 is.
TPLUGIN10_SRCS := $(wildcard tests/plugins/abi10/*.c)
TPLUGIN_SOS    += $(TPLUGIN10_SRCS:tests/plugins/abi10/%.c=$(BUILD)/tests/plugins/%.so)

# Unit tests: the core's in tests/unit/, each plugin's beside it in
# plugins/NAME/tests/ (the plugin rule above takes plugins/NAME/*.c only, so
# a plugin's tests never end up in its .so). `make unit` runs them all.
CORE_UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
CORE_UNIT_BINS   := $(CORE_UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
PLUGIN_UNIT_SRCS := $(wildcard plugins/*/tests/test_*.c)
PLUGIN_UNIT_BINS := $(PLUGIN_UNIT_SRCS:%.c=$(BUILD)/%)
UNIT_BINS := $(CORE_UNIT_BINS) $(PLUGIN_UNIT_BINS)

TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

# libFuzzer targets (tests/fuzz/README.md): the core's parsers linked
# with the core objects, the example plugins' with their own sources.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_PLUGIN_BINS := $(filter $(addprefix $(BUILD)/fuzz/fuzz_,order payment inventory audit audit_chain),$(FUZZ_BINS))
FUZZ_CORE_BINS := $(filter-out $(FUZZ_PLUGIN_BINS),$(FUZZ_BINS))
# Seconds per target: `make fuzz` (each target in turn) and the smoke run of
# `make test` (12 targets x 6 s, plus their regression inputs).
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 6

.PHONY: fuzz fuzz-build fuzz-bins fuzz-smoke lint
.PHONY: FORCE all plugins check-layers test unit integration test-asan asan tsan valgrind demo drill bench install clean \
        format format-check deps check-deps soak
.PHONY: uninstall man

all: $(BUILD)/jetway $(PLUGIN_SOS) $(EXAMPLE_BINS) $(TPLUGIN_SOS) $(BENCH_BINS) $(TOOL_BINS)

plugins: $(PLUGIN_SOS)

$(BUILD)/jetway: $(CORE_OBJS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The tool shares the NATS options of the jetway commands (core/nats/natscli.c).
$(BUILD)/bin/jetway-orders-load: plugins/tools/orders_load.c core/nats/natscli.c core/nats/nkey.c \
    core/nats/nats.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)

$(BUILD)/bin/jetway-audit-verify: plugins/tools/audit_verify.c plugins/tools/audit_chain.c \
    plugins/tools/audit_chain.h plugins/audit/audit_format.h plugins/audit/audit_s3.c \
    plugins/audit/audit_s3.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS) -lcurl

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(STATUS_GEN): $(STATUS_ASSETS) scripts/embed-assets
	@mkdir -p $(@D)
	$(if $(Q),@echo "  GEN     $@")
	$(Q)scripts/embed-assets $@ $(STATUS_ASSETS)

$(BUILD)/obj/gen/status_assets.o: $(STATUS_GEN) core/obs/status_int.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# A plugin is every .c of plugins/NAME/, linked into one .so with cJSON and
# the extra libraries listed in plugins/NAME/LIBS, if any (e.g. -lcrypto).
.SECONDEXPANSION:
$(BUILD)/plugins/%.so: $$(wildcard plugins/%/*.c) $$(wildcard plugins/%/*.h) $$(wildcard plugins/shared/*.h) $$(wildcard plugins/%/LIBS) core/include/jetway/plugin.h core/include/jetway/plugin_util.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(PLUGIN_CFLAGS) $(PLUGIN_LDFLAGS) -o $@ $(filter %.c,$^) \
	    $(shell pkg-config --cflags --libs libcjson) $$(cat plugins/$*/LIBS 2>/dev/null) \
	    $(if $(SAN),$(SAN_FLAGS))

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c tests/plugins/fixture.h core/include/jetway/plugin.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(PLUGIN_CFLAGS) $(PLUGIN_LDFLAGS) -o $@ $< \
	    $(shell pkg-config --cflags --libs libcjson) $(if $(SAN),$(SAN_FLAGS))

$(BUILD)/tests/plugins/%.so: tests/plugins/abi10/%.c tests/plugins/abi10/jetway/plugin.h tests/plugins/record.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) -Itests/plugins/abi10 $(CPPFLAGS) $(CFLAGS) $(PLUGIN_CFLAGS) $(PLUGIN_LDFLAGS) -o $@ $< \
	    $(shell pkg-config --cflags --libs libcjson) $(if $(SAN),$(SAN_FLAGS))

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# A plugin's tests see what the plugin sees: the ABI, no core object. They
# include the plugin's source (or dlopen its .so, which `make unit` builds)
# and drive it through a fake host; a change in the plugin's folder or in
# plugins/shared rebuilds them.
$(PLUGIN_UNIT_BINS): $(BUILD)/%: %.c $$(wildcard $$(dir $$*)../*.[ch]) $$(wildcard $$(dir $$*)*.h) \
    $$(wildcard plugins/shared/*.h plugins/shared/tests/*.h) core/include/jetway/plugin.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PLUGIN_UNIT_EXTRA) $(LDLIBS) -lcmocka

# The audit log's tests check each log with the example's chain verifier.
AUDIT_CHAIN_TESTS := $(BUILD)/plugins/audit/tests/test_audit $(BUILD)/plugins/tools/tests/test_audit_verify
$(AUDIT_CHAIN_TESTS): PLUGIN_UNIT_EXTRA := plugins/tools/audit_chain.c
$(AUDIT_CHAIN_TESTS): plugins/tools/audit_chain.c plugins/tools/audit_chain.h tests/tools/audit_fakehost.h \
    plugins/audit/tests/audit_testlib.h
# The archive's test also compiles the S3 client in.
$(BUILD)/plugins/audit/tests/test_archive: PLUGIN_UNIT_EXTRA := plugins/tools/audit_chain.c -lcurl
$(BUILD)/plugins/audit/tests/test_archive: plugins/tools/audit_chain.c plugins/tools/audit_chain.h \
    tests/tools/audit_fakehost.h plugins/audit/tests/audit_testlib.h

# Test tools (talk to real servers) may use any core module.
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(FUZZ_CORE_BINS): $(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(LIB_OBJS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  FUZZ    $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

$(FUZZ_PLUGIN_BINS): $(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h tests/fuzz/fuzz_plugin.h \
    $(wildcard plugins/*/*.[ch] plugins/shared/*.h plugins/shared/tests/*.h) \
    tests/tools/audit_fakehost.h core/include/jetway/plugin.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  FUZZ    $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(FUZZ_EXTRA) $(LDLIBS)
$(filter %/fuzz_audit %/fuzz_audit_chain,$(FUZZ_PLUGIN_BINS)): FUZZ_EXTRA := \
    plugins/audit/audit_log.c plugins/audit/audit_ids.c plugins/tools/audit_chain.c \
    plugins/audit/audit_archive.c plugins/audit/audit_s3.c -lcurl

# Rewritten only when the flags differ, so its mtime marks the last change.
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ 2>/dev/null || echo '$(FLAGS_NOW)' > $@

FORCE:

deps:
	@scripts/deps

unit: $(UNIT_BINS) $(TPLUGIN_SOS) $(PLUGIN_SOS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; JETWAY_BUILD=$(BUILD) timeout 300 $$t; done

# The container tests build in containers of their own (minutes, once per
# `make test`, not again under ASan): `make test-containers`, not `make
# integration`.
CONTAINER_TESTS := tests/integration/t_deploy_bare.sh tests/integration/t_deploy_image.sh
INTEG_TESTS     := $(filter-out $(CONTAINER_TESTS),$(wildcard tests/integration/t_*.sh))

# The fault tests crash jetway at fail points, so the suite always runs
# against a FAILPOINTS=1 build (the points stay inert unless JW_FAILPOINT
# names one); `make integration` after a plain `make` rebuilds for that.
# (deps archive: npm, for the S3 server of t_audit_archive.)
integration:
	@scripts/deps archive
	$(MAKE) FAILPOINTS=1 all
	@JETWAY_BUILD=$(BUILD) tests/integration/run.sh $(INTEG_TESTS)

# With podman, from a debootstrapped Debian 12 base: a clean clone of HEAD's
# first `make demo`, `make unit` and a few integration tests on the bare
# system; the Containerfile's image built and the order system run from it.
.PHONY: test-containers
test-containers:
	@mkdir -p build/containers
	@JETWAY_BUILD=build/containers JW_TEST_TIMEOUT=$${JW_CONTAINER_TIMEOUT:-900} \
	    tests/integration/run.sh $(CONTAINER_TESTS)

# The layer rule of core/ (see scripts/check-layers), then its self-test:
# violations injected into a copy of the tree must each be caught.
check-layers:
	@scripts/check-layers .
	@bash tests/layers/t_check_layers.sh

# `make test` is the README's test command and what CI runs.
test: deps
	$(MAKE) check-layers
	$(MAKE) lint
	$(MAKE) fuzz-smoke
	$(MAKE) FAILPOINTS=1 all $(UNIT_BINS)
	$(MAKE) FAILPOINTS=1 unit
	$(MAKE) FAILPOINTS=1 integration
	$(MAKE) test-asan
	$(MAKE) test-containers
	@cat $(BUILD)/integration.count build/asan/integration.count build/containers/integration.count | \
	    awk '{p += $$1; f += $$2} END {printf "tests: %d passed, %d failed\n", p, f}'

test-asan asan:
	$(MAKE) BUILD=build/asan SAN=1 FAILPOINTS=1 all
	$(MAKE) BUILD=build/asan SAN=1 FAILPOINTS=1 unit
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 JW_NO_DLCLOSE=1 JW_SANITIZED=1 \
	    $(MAKE) BUILD=build/asan SAN=1 FAILPOINTS=1 integration

# ThreadSanitizer over the integration suite (not part of `make test`: the
# Debian libraries are not instrumented, and it is slow).
tsan:
	$(MAKE) BUILD=build/tsan SAN=thread FAILPOINTS=1 all
	TSAN_OPTIONS="halt_on_error=1 report_signal_unsafe=0 suppressions=$(CURDIR)/tests/tsan.supp" \
	    $(MAKE) BUILD=build/tsan SAN=thread FAILPOINTS=1 integration

# The unit tests under valgrind memcheck (leaks are errors).
valgrind: all $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; JETWAY_BUILD=$(BUILD) \
	    valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite $$t; done

# Fuzzing: clang builds the core and the targets into build/fuzz (ASan,
# UBSan, libFuzzer); tests/fuzz/run.sh runs each target over its regression
# inputs, then for SECONDS seconds from its seed corpus. Crashes are kept in
# build/fuzz/artifacts/TARGET/.
fuzz-build:
	@scripts/deps fuzz
	$(MAKE) BUILD=build/fuzz CC=clang SAN=fuzz fuzz-bins

fuzz-bins: $(FUZZ_BINS)

fuzz: fuzz-build
	tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	tests/fuzz/run.sh build/fuzz $(FUZZ_SMOKE_SECONDS)

# Static analysis of core/ and plugins/ (their tests excluded): clang-tidy
# with the checks of .clang-tidy (which says what is left out and why), two
# files at a time, then cppcheck (warning and portability classes; cJSON's
# header forced in so its iteration macro is known; varFuncNullUB off: NULL
# is a pointer on glibc, so NULL-terminated variadic lists are fine).
# Both fail on any finding; false positives carry a NOLINT or a
# cppcheck-suppress comment with the reason. About 1.5 min of CPU.
LINT_SRCS := $(wildcard core/*/*.c plugins/*/*.c)
lint:
	@scripts/deps lint
	@mkdir -p $(BUILD)
	@echo "  TIDY    core/ plugins/ ($(words $(LINT_SRCS)) files)"
	$(Q)printf '%s\n' $(LINT_SRCS) | xargs -P2 -n4 sh -c 'clang-tidy --quiet "$$@" -- \
	    -std=c11 $(filter -D% -I% -iquote core,$(CPPFLAGS)) 2>/dev/null' clang-tidy > $(BUILD)/.lint-tidy.txt; \
	    st=$$?; cat $(BUILD)/.lint-tidy.txt; test $$st -eq 0 && ! grep -q 'error:' $(BUILD)/.lint-tidy.txt
	@echo "  CPPCHECK core/ plugins/"
	$(Q)cppcheck -q -j2 --std=c11 --enable=warning,portability --inline-suppr --error-exitcode=1 \
	    --suppress=varFuncNullUB -D_GNU_SOURCE -D__GNUC__ --include=/usr/include/cjson/cJSON.h \
	    -Icore -Icore/include -i plugins/audit/tests -i plugins/order/tests \
	    -i plugins/payment/tests -i plugins/inventory/tests -i plugins/tools/tests \
	    -i plugins/shared/tests core plugins

# The fault soak (scripts/soak): SOAK_SECONDS of kill -9, SIGHUP and Redis
# restarts under load, cores kept in build/soak; not part of `make test`.
SOAK_SECONDS ?= 600
soak: deps all
	@scripts/deps soak
	SOAK_SECONDS=$(SOAK_SECONDS) JETWAY_BUILD=$(BUILD) scripts/soak

# The payment gateway outage drill, with and without the circuit breaker
# (issue 18): prints the outage report side by side.
drill: deps all
	@JETWAY_BUILD=$(BUILD) scripts/drill

demo: deps all
	@JETWAY_BUILD=$(BUILD) scripts/demo

bench: deps
	$(MAKE) BUILD=build/bench all
	@JETWAY_BUILD=build/bench scripts/bench

# install copies what `make` built (it does not rebuild: installing a test
# or sanitizer build must not silently rebuild it with other flags).
install:
	@test -x $(BUILD)/jetway || { echo "make install: run 'make' first ($(BUILD)/jetway missing)"; exit 1; }
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/jetway \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/jetway/plugins
	install -m 0755 $(BUILD)/jetway $(DESTDIR)$(PREFIX)/bin/jetway
	install -m 0644 core/include/jetway/plugin.h core/include/jetway/plugin_util.h \
	    $(DESTDIR)$(PREFIX)/include/jetway/
	install -d $(DESTDIR)$(DATADIR)/examples/shipping $(DESTDIR)$(DATADIR)/schemas
	install -m 0644 $(EXAMPLE_PLUGIN) $(DESTDIR)$(DATADIR)/examples/shipping/
	install -m 0644 $(EVENT_SCHEMAS) $(DESTDIR)$(DATADIR)/schemas/
	install -m 0644 $(PLUGIN_SOS) $(DESTDIR)$(PREFIX)/lib/jetway/plugins/ 2>/dev/null || true
	sed -e 's|@PREFIX@|$(PREFIX)|g' scripts/jetway-plugin.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/jetway-plugin.pc
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/config $(DESTDIR)$(UNITDIR)
	scripts/mkman $(BUILD)/jetway $(BUILD)/jetway.1
	install -m 0644 $(BUILD)/jetway.1 $(DESTDIR)$(MANDIR)/man1/jetway.1
	install -m 0644 $(EXAMPLE_CONFIGS) $(DESTDIR)$(DATADIR)/config/
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@PLUGINDIR@|$(PREFIX)/lib/jetway/plugins|g' \
	    -e 's|@DATADIR@|$(DATADIR)|g' deploy/systemd/jetway@.service.in \
	    > $(DESTDIR)$(UNITDIR)/jetway@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/jetway@.service

# The man page alone, from the built binary's --help (scripts/mkman, help2man).
man:
	@test -x $(BUILD)/jetway || { echo "make man: run 'make' first ($(BUILD)/jetway missing)"; exit 1; }
	scripts/mkman $(BUILD)/jetway $(BUILD)/jetway.1

# Removes exactly the files install put there, then the directories that
# are jetway's own if they are empty (never bin/, lib/, share/man/...).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/jetway $(DESTDIR)$(PREFIX)/include/jetway/plugin.h \
	    $(DESTDIR)$(PREFIX)/include/jetway/plugin_util.h \
	    $(addprefix $(DESTDIR)$(DATADIR)/examples/shipping/,$(notdir $(EXAMPLE_PLUGIN))) \
	    $(addprefix $(DESTDIR)$(DATADIR)/schemas/,$(notdir $(EVENT_SCHEMAS))) \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig/jetway-plugin.pc \
	    $(addprefix $(DESTDIR)$(PREFIX)/lib/jetway/plugins/,$(notdir $(PLUGIN_SOS))) \
	    $(DESTDIR)$(MANDIR)/man1/jetway.1 \
	    $(addprefix $(DESTDIR)$(DATADIR)/config/,$(notdir $(EXAMPLE_CONFIGS))) \
	    $(DESTDIR)$(UNITDIR)/jetway@.service
	-rmdir $(DESTDIR)$(PREFIX)/include/jetway $(DESTDIR)$(PREFIX)/lib/jetway/plugins \
	    $(DESTDIR)$(PREFIX)/lib/jetway $(DESTDIR)$(DATADIR)/config \
	    $(DESTDIR)$(DATADIR)/examples/shipping $(DESTDIR)$(DATADIR)/examples \
	    $(DESTDIR)$(DATADIR)/schemas $(DESTDIR)$(DATADIR) 2>/dev/null

format:
	clang-format -i $$(git ls-files 'core/*.[ch]' 'plugins/*.[ch]' 'tests/*.[ch]' 'examples/*.[ch]')

format-check:
	clang-format --dry-run -Werror $$(git ls-files 'core/*.[ch]' 'plugins/*.[ch]' 'tests/*.[ch]' 'examples/*.[ch]')

clean:
	rm -rf build

-include $(CORE_OBJS:.o=.d)
-include $(BENCH_BINS:=.d)
