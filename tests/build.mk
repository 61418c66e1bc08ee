# tests/build.mk -- cmocka unit tests of the rule engine (tests/unit/) and the integration
# suites (tests/integration/).  check-unit also runs under SAN=1.

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/unit/%)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS) -lcmocka

.PHONY: check-unit
check-unit: $(UNIT_BINS)
	$(Q)for t in $(UNIT_BINS); do $$t >$$t.log 2>&1 || { cat $$t.log; echo "FAIL $$t"; exit 1; }; \
		printf '  %-7s %s\n' PASS "$$t"; done

CHECKS += check-unit
SAN_CHECKS += check-unit
