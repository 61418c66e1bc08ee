# tests/integration/build.mk -- integration tests: real clients and servers on loopback,
# run under chaos-exec.  check-integration runs every tests/integration/test_*.sh.

NETPROBE := $(O)/tests/integration/netprobe
NETPROBE_FORT := $(O)/tests/integration/netprobe-fortify
INTEGRATION_TESTS := $(sort $(wildcard tests/integration/test_*.sh))

$(NETPROBE): tests/integration/netprobe.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -U_FORTIFY_SOURCE -O2 -o $@ $< $(LDFLAGS_ALL)

$(NETPROBE_FORT): tests/integration/netprobe.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -O2 -D_FORTIFY_SOURCE=2 -o $@ $< $(LDFLAGS_ALL)

TIMEPROBE := $(O)/tests/integration/timeprobe
TIMEPROBE_FORT := $(O)/tests/integration/timeprobe-fortify

$(TIMEPROBE): tests/integration/timeprobe.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -U_FORTIFY_SOURCE -O2 -o $@ $< $(LDFLAGS_ALL) -lpthread

$(TIMEPROBE_FORT): tests/integration/timeprobe.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -O2 -D_FORTIFY_SOURCE=2 -o $@ $< $(LDFLAGS_ALL) -lpthread

CTLSTRESS := $(O)/tests/integration/ctlstress

$(CTLSTRESS): tests/integration/ctlstress.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(LDFLAGS_ALL) -lpthread

INTEGRATION_DEPS := $(NETPROBE) $(NETPROBE_FORT) $(TIMEPROBE) $(TIMEPROBE_FORT) $(CTLSTRESS) \
	$(O)/chaos-exec $(O)/chaos-ctl $(O)/libchaos-preload.so

.PHONY: check-integration
check-integration: $(INTEGRATION_DEPS)
	$(Q)for t in $(INTEGRATION_TESTS); do BUILD=$(O) sh $$t || exit 1; done

CHECKS += check-integration

# Under SAN=1: the same tests with the ASan+UBSan builds of chaos-exec, the library and
# netprobe.  chaos-exec puts the ASan runtime first in its command's LD_PRELOAD (the library is
# instrumented); leak checks stay with the unit tests (the library keeps its tables for the
# process's life).  Tests that run curl under chaos-exec stay out: curl (and pgrep) deadlock at
# start-up in glibc's locale lock with a preloaded ASan runtime, with or without us.
SAN_INTEGRATION_TESTS := $(addprefix tests/integration/test_,connect.sh io.sh dns.sh triggers.sh ctl.sh record.sh \
	chaos_exec.sh multiaddr.sh man_examples.sh timed.sh exec_lifecycle.sh epoll_live.sh)

.PHONY: check-integration-san
check-integration-san: $(INTEGRATION_DEPS)
	$(Q)asan=$$(realpath $$($(CC) -print-file-name=libasan.so)) && \
	for t in $(SAN_INTEGRATION_TESTS); do \
		BUILD=$(O) SAN_PRELOAD=$$asan \
		ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 sh $$t || exit 1; done

SAN_CHECKS += check-integration-san
