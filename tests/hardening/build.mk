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
