# Makefile -- build, test and install chaos: `make`, `make check`, `make demo`, `make install`
#
# Everything is built into $(O) (build/ by default); `make SAN=1` builds into build/san with
# AddressSanitizer and UndefinedBehaviorSanitizer.  Each part of the tree has a build.mk that
# adds its outputs to BINS, PKGLIBS, MANS and its test targets to CHECKS.  V=1 shows commands.

.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
PKGLIBDIR ?= $(LIBDIR)/chaos
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
CFLAGS ?= -O2 -g
SAN ?=
ifneq ($(SAN),)
O ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
O ?= build
SANFLAGS :=
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers
CPPFLAGS_ALL := -D_GNU_SOURCE -Icore -I$(O) $(CPPFLAGS)
CFLAGS_ALL := -std=gnu11 $(WARNINGS) -fPIC $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-7s %s\n' '$(1)' '$(2)';
endif

BINS :=
PKGLIBS :=
MANS :=
CHECKS :=
SAN_CHECKS :=
BENCHES :=
FUZZERS :=
UNIT_TESTS :=
CLEAN :=

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

include core/build.mk
include preload/build.mk
include cli/build.mk
-include runner/build.mk
-include bpf/build.mk
-include bench/build.mk
include tests/build.mk
include tests/integration/build.mk
-include tests/fidelity/build.mk
-include tests/hardening/build.mk
include man/build.mk

CHECKS += check-install

.PHONY: all check check-fast check-san san-checks deps demo install uninstall clean format bench fuzz

all: $(BINS) $(PKGLIBS)

deps:
	$(Q)scripts/deps.sh

# make check: every test, then the unit and C integration tests again under ASan+UBSan.
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory check-fast
	$(Q)$(MAKE) --no-print-directory check-san
	@echo "make check: all tests passed"

check-fast: all $(CHECKS)

check-san:
	$(Q)$(MAKE) --no-print-directory SAN=1 san-checks

demo: deps all
	$(Q)scripts/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(PKGLIBS) $(DESTDIR)$(PKGLIBDIR)/
	for m in $(MANS); do \
		s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS)))
	rm -f $(addprefix $(DESTDIR)$(PKGLIBDIR)/,$(notdir $(PKGLIBS)))
	-rmdir $(DESTDIR)$(PKGLIBDIR) 2>/dev/null
	for m in $(MANS); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done

# check-install: install into a scratch DESTDIR, run the installed chaos-exec, uninstall, and
# make sure nothing is left behind
check-install: all
	$(Q)d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	$(MAKE) --no-print-directory -s install DESTDIR=$$d PREFIX=/usr >/dev/null && \
	test -x $$d/usr/bin/chaos-exec && test -f $$d/usr/lib/chaos/libchaos-preload.so && \
	test -f $$d/usr/share/man/man1/chaos-exec.1 && \
	out=$$($$d/usr/bin/chaos-exec -- sh -c 'echo "$$LD_PRELOAD"') && \
	test "$$out" = "$$d/usr/lib/chaos/libchaos-preload.so" && \
	$(MAKE) --no-print-directory -s uninstall DESTDIR=$$d PREFIX=/usr && \
	left=$$(find $$d -type f) && test -z "$$left" || { echo "check-install failed: $$left"; exit 1; }
	@printf '  %-7s %s\n' PASS check-install

clean:
	rm -rf build $(CLEAN)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

-include $(shell find $(O) -name '*.d' 2>/dev/null)

san-checks: $(SAN_CHECKS)

# make bench: every benchmark, results in $(O)/bench/ (see BENCHES in each build.mk)
bench: all $(BENCHES)

# make fuzz: every libFuzzer target for a bounded time (see FUZZERS in each build.mk)
fuzz: $(FUZZERS)
.SECONDARY:
