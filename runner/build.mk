# runner/build.mk -- chaos-run, the Chaos Toolkit compatible experiment runner, and its tests:
# cmocka unit tests (tests/runner/test_*.c, also under SAN=1), integration and conformance
# scripts (tests/runner/*.sh, *.py).

RUNNER_SRCS := $(filter-out runner/run_main.c,$(wildcard runner/run_*.c)) \
	$(wildcard runner/sweep_*.c) runner/report_html.c
RUNNER_OBJS := $(RUNNER_SRCS:%.c=$(O)/%.o)
RUNNER_LIB := $(O)/runner/librunner.a
RUNNER_LDLIBS := -lcurl -lyaml -lpcre2-8 -lpthread -lm

$(RUNNER_LIB): $(RUNNER_OBJS)
	$(call msg,AR,$@)$(AR) rcs $@ $^

$(O)/chaos-run: $(O)/runner/run_main.o $(RUNNER_LIB) $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS) $(RUNNER_LDLIBS)

BINS += $(O)/chaos-run

RUNNER_TEST_SRCS := $(wildcard tests/runner/test_*.c)
RUNNER_TESTS := $(RUNNER_TEST_SRCS:tests/runner/%.c=$(O)/tests/runner/%)

$(O)/tests/runner/%: $(O)/tests/runner/%.o $(RUNNER_LIB) $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS) $(RUNNER_LDLIBS) -lcmocka

.PHONY: check-runner check-runner-unit
check-runner-unit: $(RUNNER_TESTS)
	$(Q)for t in $(RUNNER_TESTS); do $$t >$$t.log 2>&1 || { cat $$t.log; echo "FAIL $$t"; exit 1; }; \
		printf '  %-7s %s\n' PASS "$$t"; done

# the extension tests start services under chaos-exec (and use chaos-ctl once it exists)
check-runner: check-runner-unit $(O)/chaos-run $(O)/chaos-exec $(O)/libchaos-preload.so
	$(Q)O=$(O) tests/runner/run-all.sh

CHECKS += check-runner
SAN_CHECKS += check-runner-unit

# chaos-run sweep against real services (tests/sweep/): the shop's known matrix on two jobs,
# discovery, the other verdicts, limits and signals, and the HTML report in headless Chromium
.PHONY: check-sweep
check-sweep: $(O)/chaos-run $(O)/chaos-exec $(O)/chaos-ctl $(O)/libchaos-preload.so
	$(Q)O=$(O) python3 tests/sweep/test_sweep.py > $(O)/tests-sweep.log 2>&1 \
		|| { cat $(O)/tests-sweep.log; echo "FAIL check-sweep"; exit 1; }
	@sed -n 's/^sweep: /  PASS    check-sweep: /p' $(O)/tests-sweep.log

CHECKS += check-sweep

# under SAN=1: the same tests with the ASan+UBSan chaos-run (chaos-exec, chaos-ctl and the
# library from the plain build, which `make check` has built first), without the browser
.PHONY: check-sweep-san
check-sweep-san: $(O)/chaos-run
	$(Q)CHAOS_RUN=$(O)/chaos-run CHAOS_EXEC=$(CURDIR)/build/chaos-exec \
		CHAOS_CTL=$(CURDIR)/build/chaos-ctl O=build SWEEP_NO_BROWSER=1 \
		ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		python3 tests/sweep/test_sweep.py > $(O)/tests-sweep-san.log 2>&1 \
		|| { cat $(O)/tests-sweep-san.log; echo "FAIL check-sweep-san"; exit 1; }
	@sed -n 's/^sweep: /  PASS    check-sweep-san: /p' $(O)/tests-sweep-san.log

SAN_CHECKS += check-sweep-san
