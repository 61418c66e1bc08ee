# tests/hardening/build.mk -- hardening: the experiment fuzzer, TSan, stress, privileged
# programs, bad input, and nothing left behind after kill -9 (issue 9)
#
#   make fuzz-experiment   libFuzzer on chaos-run's experiment reader and validator for
#                          FUZZ_SECONDS, seeded from tests/fuzz/corpus_experiment and, when it
#                          is there, ../shared/ctk-corpus (read in place, never copied)
#   make check-hardening   the fast part, in make check: corpus replay, TSan, short stress,
#                          fork/exec, fd reuse, setuid/setcap, bad input, kill -9
#   make tsan              the preload library and a threaded client under ThreadSanitizer
#   make stress            the long versions (64 threads x 100,000 calls, 100 kill -9 each)

# ---- the experiment fuzzer ----------------------------------------------------------------------

FUZZ_RUNNER_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(RUNNER_SRCS))
FUZZ_EXP_SEEDS := $(wildcard ../shared/ctk-corpus)

$(FUZZ_DIR)/fuzz_experiment: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_experiment.o $(FUZZ_RUNNER_OBJS) \
		$(FUZZ_CORE_OBJS)
	$(call msg,LD,$@)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -lcjson $(RUNNER_LDLIBS)

.PHONY: fuzz-experiment
fuzz-experiment: $(FUZZ_DIR)/fuzz_experiment
	@mkdir -p $(FUZZ_DIR)/work_experiment
	@echo "  FUZZ    experiment for $(FUZZ_SECONDS)s"
	$(Q)$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=10 -rss_limit_mb=1024 \
		-max_len=16384 -dict=tests/fuzz/experiment.dict -artifact_prefix=$(FUZZ_DIR)/ \
		$(FUZZ_DIR)/work_experiment tests/fuzz/corpus_experiment $(FUZZ_EXP_SEEDS) \
		>$(FUZZ_DIR)/fuzz_experiment.log 2>&1 \
		|| { tail -40 $(FUZZ_DIR)/fuzz_experiment.log; \
		     echo "FAIL fuzz-experiment: see $(FUZZ_DIR)/fuzz_experiment.log"; exit 1; }
	@grep -E 'stat::number_of_executed_units|stat::new_units_added' \
		$(FUZZ_DIR)/fuzz_experiment.log | sed 's/^/          experiment: /'
FUZZERS += fuzz-experiment

# Fold a run's finds into the committed corpus (minimised); the CTK corpus stays where it is.
.PHONY: fuzz-merge-experiment
fuzz-merge-experiment: $(FUZZ_DIR)/fuzz_experiment
	$(Q)$< -merge=1 -max_len=16384 tests/fuzz/corpus_experiment $(FUZZ_DIR)/work_experiment \
		>$(FUZZ_DIR)/merge_experiment.log 2>&1 || { cat $(FUZZ_DIR)/merge_experiment.log; exit 1; }

# make check replays the corpus and the regression inputs (crashes found, fixed in runner/)
# with the build's compiler, and again under SAN=1.
$(O)/tests/fuzz/replay_experiment: $(O)/tests/fuzz/fuzz_experiment.o $(O)/tests/fuzz/run_corpus.o \
		$(RUNNER_LIB) $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS) $(RUNNER_LDLIBS)

.PHONY: check-fuzz-experiment
check-fuzz-experiment: $(O)/tests/fuzz/replay_experiment
	$(Q)$< tests/fuzz/corpus_experiment >$<.log 2>&1 || { cat $<.log; echo "FAIL $<"; exit 1; }
	@printf '  %-7s %s (%s)\n' PASS "$<" "$$(tail -1 $<.log | sed 's/run_corpus: //')"

CHECKS += check-fuzz-experiment
SAN_CHECKS += check-fuzz-experiment

# ---- test programs ---------------------------------------------------------------------------

HARD_PROGS := hammer forks fdreuse
HARD_BINS := $(HARD_PROGS:%=$(O)/tests/hardening/%)

$(HARD_BINS): $(O)/tests/hardening/%: $(O)/tests/hardening/%.o $(O)/libchaos-core.a
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ -lpthread

HARD_DEPS := $(HARD_BINS) $(O)/chaos-exec $(O)/libchaos-preload.so $(NETPROBE)

# ---- ThreadSanitizer -----------------------------------------------------------------------------
# The library and the threaded client built with clang -fsanitize=thread: the runtime is linked
# into the client, which exports it to the preloaded library.  (gcc's shared libtsan works too
# when it comes first in LD_PRELOAD, but its in-process symbolizer calls close() through our
# hook while it reports, and deadlocks; here reports are symbolized afterwards.)

TSAN_CC ?= clang
TSAN_DIR := $(O)/tsan
TSAN_CFLAGS := -std=gnu11 $(WARNINGS) -fPIC -fsanitize=thread -O1 -g -fno-omit-frame-pointer
TSAN_PRELOAD_OBJS := $(PRELOAD_SRCS:%.c=$(TSAN_DIR)/%.o)
TSAN_CORE_OBJS := $(CORE_SRCS:%.c=$(TSAN_DIR)/%.o)

$(TSAN_DIR)/%.o: %.c
	@mkdir -p $(@D)
	$(call msg,TSANCC,$@)$(TSAN_CC) $(CPPFLAGS_ALL) $(TSAN_CFLAGS) -MMD -MP -c $< -o $@

$(TSAN_PRELOAD_OBJS): TSAN_CFLAGS += -fvisibility=hidden

$(TSAN_DIR)/libchaos-preload.so: $(TSAN_PRELOAD_OBJS) $(TSAN_CORE_OBJS) preload/symbols.map
	$(call msg,LD,$@)$(TSAN_CC) -fsanitize=thread -shared \
		-Wl,--version-script=preload/symbols.map -o $@ $(TSAN_PRELOAD_OBJS) $(TSAN_CORE_OBJS) \
		-ldl -lpthread

$(TSAN_DIR)/hammer: $(TSAN_DIR)/tests/hardening/hammer.o $(TSAN_CORE_OBJS)
	$(call msg,LD,$@)$(TSAN_CC) -fsanitize=thread -o $@ $^ -lpthread

.PHONY: tsan
tsan: $(TSAN_DIR)/libchaos-preload.so $(TSAN_DIR)/hammer $(O)/tests/hardening/hammer $(O)/chaos-exec
	$(Q)BUILD=$(O) TSAN_LIB=$(abspath $(TSAN_DIR)/libchaos-preload.so) \
		TSAN_HAMMER=$(abspath $(TSAN_DIR)/hammer) sh tests/hardening/test_tsan.sh

-include $(shell find $(TSAN_DIR) -name '*.d' 2>/dev/null)

# ---- the suites ---------------------------------------------------------------------------------

# Fast versions in make check; HARDENING_STRICT=1 makes the known bugs (known-bugs) fail.
HARD_TESTS := threads forks fdreuse privileged bad_input kill9
.PHONY: check-hardening stress
check-hardening: $(HARD_DEPS)
	$(Q)for t in $(HARD_TESTS); do BUILD=$(O) sh tests/hardening/test_$$t.sh || exit 1; done

CHECKS += check-hardening tsan

# make stress: 64 threads x 100,000 calls, 2000 forks under busy threads, 100 kill -9 each
stress: $(HARD_DEPS)
	$(Q)BUILD=$(O) HAMMER_CALLS=100000 sh tests/hardening/test_threads.sh
	$(Q)BUILD=$(O) ATFORKS=2000 sh tests/hardening/test_forks.sh
	$(Q)BUILD=$(O) KILL9_ROUNDS=100 sh tests/hardening/test_kill9.sh
