# jetway -- build, test and bench.
#
#   make                 build $(BUILD)/jetway and $(BUILD)/plugins/*.so
#   make test            install missing packages, build, run unit and
#                        integration tests, then the same under ASan+UBSan
#   make unit            unit tests only (no servers)
#   make integration     integration tests only (builds with FAILPOINTS=1)
#   make test-asan       the test suite built with -fsanitize=address,undefined
#   make tsan            the integration suite under ThreadSanitizer
#   make valgrind        the unit tests under valgrind memcheck
#   make demo            the order-processing pipeline end to end
#   make bench           throughput/latency against a raw cnats baseline
#   make install         binary, plugin header and pkg-config file (PREFIX, DESTDIR)
#   make check-layers    core/'s include rule (scripts/check-layers) and its self-test
#   make format / format-check
#
# BUILD selects the output directory, so several variants (and several
# developers' trees) can be built side by side: make BUILD=build/asan SAN=1.

BUILD   ?= build
PREFIX  ?= /usr/local
SAN     ?=
WERROR  ?= 1
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)

# libcurl is for its headers only: core/curl_dyn.c dlopen()s it when OTLP
# export is configured, so a process without tracing never maps it.
PKGS    := libuv libnats yaml-0.1 libcjson hiredis
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
CORE_OBJS  := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_OBJS   := $(filter-out $(BUILD)/obj/core/cmd/main.o,$(CORE_OBJS))

# plugins/shared holds header-only helpers of several plugins, and
# plugins/tools the order example's own programs; neither is a plugin.
PLUGIN_DIRS := $(filter-out plugins/shared plugins/tools,$(patsubst %/,%,$(wildcard plugins/*/)))
PLUGIN_SOS  := $(PLUGIN_DIRS:plugins/%=$(BUILD)/plugins/%.so)

# The order example's tools: its load generator and its audit chain verifier
# (they know the example's subjects, Redis keys and record format, so they
# are not commands of the generic host).
EXAMPLE_BINS := $(BUILD)/bin/jetway-orders-load $(BUILD)/bin/jetway-audit-verify

TPLUGIN_SRCS := $(wildcard tests/plugins/*.c)
TPLUGIN_SOS  := $(TPLUGIN_SRCS:tests/plugins/%.c=$(BUILD)/tests/plugins/%.so)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: FORCE all plugins check-layers test unit integration test-asan asan tsan valgrind demo bench install clean \
        format format-check deps check-deps soak

all: $(BUILD)/jetway $(PLUGIN_SOS) $(EXAMPLE_BINS) $(TPLUGIN_SOS) $(BENCH_BINS) $(TOOL_BINS)

plugins: $(PLUGIN_SOS)

$(BUILD)/jetway: $(CORE_OBJS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/jetway-orders-load: plugins/tools/orders_load.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)

$(BUILD)/bin/jetway-audit-verify: plugins/tools/audit_verify.c plugins/tools/audit_chain.c \
    plugins/tools/audit_chain.h plugins/audit/audit_format.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# A plugin is every .c of plugins/NAME/, linked into one .so with cJSON and
# the extra libraries listed in plugins/NAME/LIBS, if any (e.g. -lcrypto).
.SECONDEXPANSION:
$(BUILD)/plugins/%.so: $$(wildcard plugins/%/*.c) $$(wildcard plugins/%/*.h) $$(wildcard plugins/shared/*.h) $$(wildcard plugins/%/LIBS) core/include/jetway/plugin.h $(FLAGS_STAMP)
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

# The audit unit test checks the example's chain verifier too.
$(BUILD)/tests/unit/test_audit: tests/unit/test_audit.c plugins/tools/audit_chain.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) -iquote plugins/tools $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Test tools (talk to real servers) may use any core module.
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# Rewritten only when the flags differ, so its mtime marks the last change.
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ 2>/dev/null || echo '$(FLAGS_NOW)' > $@

FORCE:

deps:
	@scripts/deps

unit: $(UNIT_BINS) $(TPLUGIN_SOS) $(PLUGIN_SOS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; JETWAY_BUILD=$(BUILD) timeout 300 $$t; done

# The fault tests crash jetway at fail points, so the suite always runs
# against a FAILPOINTS=1 build (the points stay inert unless JW_FAILPOINT
# names one); `make integration` after a plain `make` rebuilds for that.
integration:
	$(MAKE) FAILPOINTS=1 all
	@JETWAY_BUILD=$(BUILD) tests/integration/run.sh

# The layer rule of core/ (see scripts/check-layers), then its self-test:
# violations injected into a copy of the tree must each be caught.
check-layers:
	@scripts/check-layers .
	@bash tests/layers/t_check_layers.sh

# `make test` is the README's test command and what CI runs.
test: deps
	$(MAKE) check-layers
	$(MAKE) FAILPOINTS=1 all $(UNIT_BINS)
	$(MAKE) FAILPOINTS=1 unit
	$(MAKE) FAILPOINTS=1 integration
	$(MAKE) test-asan
	@cat $(BUILD)/integration.count build/asan/integration.count | \
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
	install -m 0644 core/include/jetway/plugin.h $(DESTDIR)$(PREFIX)/include/jetway/plugin.h
	install -m 0644 $(PLUGIN_SOS) $(DESTDIR)$(PREFIX)/lib/jetway/plugins/ 2>/dev/null || true
	sed -e 's|@PREFIX@|$(PREFIX)|g' scripts/jetway-plugin.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/jetway-plugin.pc

format:
	clang-format -i $$(git ls-files 'core/*.[ch]' 'plugins/*.[ch]' 'tests/*.[ch]')

format-check:
	clang-format --dry-run -Werror $$(git ls-files 'core/*.[ch]' 'plugins/*.[ch]' 'tests/*.[ch]')

clean:
	rm -rf build

-include $(CORE_OBJS:.o=.d)
-include $(BENCH_BINS:=.d)
