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

INTEGRATION_DEPS := $(NETPROBE) $(NETPROBE_FORT) $(O)/chaos-exec $(O)/libchaos-preload.so

.PHONY: check-integration
check-integration: $(INTEGRATION_DEPS)
	$(Q)for t in $(INTEGRATION_TESTS); do BUILD=$(O) sh $$t || exit 1; done

CHECKS += check-integration
