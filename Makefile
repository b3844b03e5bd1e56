# icemesh — one plain GNU Makefile.
#
#   make            every program, test and tool, into $(BUILD)/
#   make deps       install the Debian packages needed to build, test and run the lab
#   make check      deps, unit tests, the same under ASan+UBSan, short fuzz runs, lab tests
#   make fuzz       the libFuzzer harnesses (clang), into $(BUILD)/fuzz/
#   make unit       build and run the unit tests only (MOD=ice to limit to one module)
#
# Layout conventions the rules below rely on (so that adding a file needs no
# Makefile edit):
#   <module>/*.c                 -> $(BUILD)/lib/lib<module>.a  (main.c excluded)
#   <module>/main.c              -> the module's program (see PROG_<module>)
#   <module>/tools/<name>.c      -> $(BUILD)/<name>, linked like the module's program
#   tests/unit/<module>/test_*.c -> $(BUILD)/tests/test_*, linked with the module
#                                   and every other .c in that folder (fakes, helpers)
#   tests/fuzz/<module>/fuzz_*.c -> $(BUILD)/fuzz/fuzz_*, corpus in tests/fuzz/corpus/<name>/
#   tests/lab/test_*.sh          -> run by `make check` as root, after the unit stages

BUILD    ?= build
SANITIZE ?= 0
FUZZ     ?= 0
V        ?= 0
MOD      ?=
FUZZ_SECONDS ?= 20
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)

# Libraries every module may use; --as-needed keeps each binary's NEEDED list honest.
PKGS      := libuv libsodium libmnl jansson libcurl libcrypto zlib sqlite3 libmicrohttpd
TEST_PKGS := cmocka

# Module graph: a module links against itself, then these, in this order.
MODULES                 := daemon cli coordinator coordinator-client ice wireguard tun common
DEPS_common             :=
DEPS_ice                := common
DEPS_wireguard          := common
DEPS_tun                := common
DEPS_coordinator-client := common
DEPS_coordinator        := common
DEPS_cli                := common
DEPS_daemon             := coordinator-client ice wireguard tun common

PROG_daemon      := icemeshd
PROG_cli         := icemesh
PROG_coordinator := icemesh-coord

# Debian packages for building, testing and the lab.
DEB_PKGS := build-essential pkg-config clang llvm libclang-rt-14-dev \
	libuv1-dev libsodium-dev libmnl-dev libjansson-dev libcurl4-openssl-dev \
	libssl-dev zlib1g-dev libsqlite3-dev libmicrohttpd-dev libcmocka-dev \
	iproute2 nftables coturn iperf3 wireguard-go wireguard-tools \
	procps psmisc curl ca-certificates python3 iputils-ping python3-aioice \
	lintian debootstrap systemd-container bash-completion man-db

ifeq ($(FUZZ),1)
CC := clang
endif

# pkg-config is asked once, and only when a recipe needs it, so that
# `make deps` works before the -dev packages are there.
PKG_CFLAGS  = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS    = $(eval PKG_LIBS := $(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)
TEST_CFLAGS = $(eval TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS)))$(TEST_CFLAGS)
TEST_LIBS   = $(eval TEST_LIBS := $(shell pkg-config --libs $(TEST_PKGS)))$(TEST_LIBS)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wvla -Wundef -Wcast-align -Wwrite-strings \
	-Wno-unused-parameter -Wno-missing-field-initializers

OPT := -O2 -D_FORTIFY_SOURCE=2
ifeq ($(SANITIZE),1)
OPT := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=address,undefined
endif
ifeq ($(FUZZ),1)
OPT := -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -DICEMESH_FUZZ
SAN_LDFLAGS := -fsanitize=fuzzer,address,undefined
endif

CPPFLAGS += -I. -D_GNU_SOURCE -MMD -MP
CFLAGS   += -std=gnu11 -g $(OPT) $(WARN) -fstack-protector-strong -fPIE
LDFLAGS  += -pie -Wl,--as-needed -Wl,-z,relro,-z,now $(SAN_LDFLAGS)

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

# ---------------------------------------------------------------- sources
mod_srcs  = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
mod_lib   = $(if $(call mod_srcs,$(1)),$(BUILD)/lib/lib$(1).a)
# The archives a module links with, in link order (itself first).
link_libs = $(foreach m,$(1) $(DEPS_$(1)),$(call mod_lib,$(m)))

LIBS_ALL  := $(foreach m,$(MODULES),$(call mod_lib,$(m)))
PROGS     := $(foreach m,$(MODULES),$(if $(wildcard $(m)/main.c),$(BUILD)/$(PROG_$(m))))
TOOLS     := $(foreach m,$(MODULES),$(patsubst $(m)/tools/%.c,$(BUILD)/%,$(wildcard $(m)/tools/*.c)))
TEST_MODS := $(if $(MOD),$(MOD),$(MODULES))
TESTS     := $(foreach m,$(TEST_MODS),$(patsubst tests/unit/$(m)/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/$(m)/test_*.c)))
FUZZERS   := $(foreach m,$(MODULES),$(patsubst tests/fuzz/$(m)/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/$(m)/fuzz_*.c)))

.PHONY: all deps check unit unit-run fuzz fuzz-bins fuzz-run lab clean format
.DEFAULT_GOAL := all
# Objects made on the way to a test or harness are kept, not rebuilt next time.
.SECONDARY:

all: $(PROGS) $(TOOLS) $(TESTS)

$(BUILD)/obj/%.o: %.c
	$(call say,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) -c $< -o $@

define tool_rule
$(BUILD)/$(basename $(notdir $(2))): $(BUILD)/obj/$(2:.c=.o) $(call link_libs,$(1))
	$$(call say,LD,$$@)
	$(Q)$$(CC) $$(CFLAGS) $$^ $$(LDFLAGS) $$(PKG_LIBS) -o $$@
endef

define module_rules
$(BUILD)/lib/lib$(1).a: $(patsubst %.c,$(BUILD)/obj/%.o,$(call mod_srcs,$(1)))
	$$(call say,AR,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)rm -f $$@ && ar rcs $$@ $$^

ifneq ($(wildcard $(1)/main.c),)
$(BUILD)/$(PROG_$(1)): $(BUILD)/obj/$(1)/main.o $(call link_libs,$(1))
	$$(call say,LD,$$@)
	$(Q)$$(CC) $$(CFLAGS) $$^ $$(LDFLAGS) $$(PKG_LIBS) -o $$@
endif

$(foreach t,$(wildcard $(1)/tools/*.c),$(eval $(call tool_rule,$(1),$(t))))

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/$(1)/test_%.o \
		$(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out tests/unit/$(1)/test_%.c,$(wildcard tests/unit/$(1)/*.c))) \
		$(call link_libs,$(1))
	$$(call say,LD,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$$(CC) $$(CFLAGS) $$^ $$(LDFLAGS) $$(TEST_LIBS) $$(PKG_LIBS) -o $$@

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/$(1)/fuzz_%.o $(call link_libs,$(1))
	$$(call say,LD,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$$(CC) $$(CFLAGS) $$^ $$(LDFLAGS) $$(PKG_LIBS) -o $$@
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

# ---------------------------------------------------------------- deps
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all $(words $(DEB_PKGS)) packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "deps: missing packages:" $$missing; \
		echo "deps: run 'make deps' as root (or apt-get install them)"; exit 1; fi; \
	echo "deps: installing" $$missing; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $$missing

# ---------------------------------------------------------------- tests
# Each stage prints a line 'stage: N passed, N failed' and records it; `check`
# runs every stage even after a failure, then the summary fails the command.
unit: $(PROGS) $(TOOLS) $(TESTS)
	$(Q)tests/run unit $(BUILD)/tests $(TESTS)

fuzz:
	$(Q)$(MAKE) --no-print-directory FUZZ=1 BUILD=$(BUILD)/fuzzbuild fuzz-bins

fuzz-bins: $(FUZZERS)

fuzz-run: fuzz
	$(Q)tests/run fuzz $(BUILD)/fuzzbuild/fuzz $(FUZZ_SECONDS)

lab: all
	$(Q)tests/run lab $(BUILD)

.PHONY: demo
demo: deps
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) all
	$(Q)BUILD=$(abspath $(BUILD)) tests/lab/demo.sh

check: deps
	$(Q)rm -f $(BUILD)/results
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) all
	$(Q)RESULTS=$(abspath $(BUILD))/results $(MAKE) --no-print-directory unit || true
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) SANITIZE=1 BUILD=$(BUILD)/asan all
	$(Q)RESULTS=$(abspath $(BUILD))/results STAGE=asan $(MAKE) --no-print-directory SANITIZE=1 BUILD=$(BUILD)/asan unit || true
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) fuzz
	$(Q)RESULTS=$(abspath $(BUILD))/results tests/run fuzz $(BUILD)/fuzzbuild/fuzz $(FUZZ_SECONDS) || true
	$(Q)RESULTS=$(abspath $(BUILD))/results tests/run lab $(BUILD) || true
	$(Q)tests/run summary $(BUILD)/results

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

# make install / uninstall / deb live with the files they install.
-include packaging/packaging.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
