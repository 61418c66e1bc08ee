# tests/build.mk -- cmocka unit tests of the rule engine (tests/unit/), the libFuzzer targets
# (tests/fuzz/) and the integration suites (tests/integration/).
#
#   make check-unit       every tests/unit/test_*.c, plus a replay of the fuzz corpora (also SAN=1)
#   make fuzz             each fuzz target for FUZZ_SECONDS (60) with clang's libFuzzer
#   make fuzz-merge       fold what a fuzz run found back into tests/fuzz/corpus_*/ (minimised)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/unit/%)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS) -lcmocka -lpthread -lm

# ---- fuzzing ----------------------------------------------------------------------------------

FUZZ_TARGETS := rule config
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Icore -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN)
FUZZ_CORE_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(CORE_SRCS) core/config.c)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call msg,FUZZCC,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_CORE_OBJS)
	$(call msg,LD,$@)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -lcjson

# make fuzz: new inputs go to $(FUZZ_DIR)/work_*, crashes to $(FUZZ_DIR)/crash-*; the committed
# corpus in tests/fuzz/corpus_*/ is read, never written (see fuzz-merge).
FUZZ_RUNS := $(FUZZ_TARGETS:%=fuzz-%)
.PHONY: $(FUZZ_RUNS) fuzz-merge check-fuzz-corpus
$(FUZZ_RUNS): fuzz-%: $(FUZZ_DIR)/fuzz_%
	@mkdir -p $(FUZZ_DIR)/work_$*
	@echo "  FUZZ    $* for $(FUZZ_SECONDS)s"
	$(Q)$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=10 -rss_limit_mb=1024 \
		-dict=tests/fuzz/$*.dict -artifact_prefix=$(FUZZ_DIR)/ \
		$(FUZZ_DIR)/work_$* tests/fuzz/corpus_$* >$(FUZZ_DIR)/fuzz_$*.log 2>&1 \
		|| { tail -40 $(FUZZ_DIR)/fuzz_$*.log; echo "FAIL fuzz-$*: see $(FUZZ_DIR)/fuzz_$*.log"; exit 1; }
	@grep -E 'stat::number_of_executed_units|stat::new_units_added' $(FUZZ_DIR)/fuzz_$*.log \
		| sed 's/^/          $*: /'
FUZZERS += $(FUZZ_RUNS)

fuzz-merge: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	$(Q)for t in $(FUZZ_TARGETS); do \
		$(FUZZ_DIR)/fuzz_$$t -merge=1 tests/fuzz/corpus_$$t $(FUZZ_DIR)/work_$$t \
		>$(FUZZ_DIR)/merge_$$t.log 2>&1 || { cat $(FUZZ_DIR)/merge_$$t.log; exit 1; }; done

# The same targets linked with a plain main() replay every corpus and regression input in
# make check (with the build's own compiler and sanitizers).
FUZZ_REPLAYS := $(FUZZ_TARGETS:%=$(O)/tests/fuzz/replay_%)
$(O)/tests/fuzz/replay_%: $(O)/tests/fuzz/fuzz_%.o $(O)/tests/fuzz/run_corpus.o $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS)

check-fuzz-corpus: $(FUZZ_REPLAYS)
	$(Q)for t in $(FUZZ_TARGETS); do \
		$(O)/tests/fuzz/replay_$$t tests/fuzz/corpus_$$t >$(O)/tests/fuzz/replay_$$t.log 2>&1 \
		|| { cat $(O)/tests/fuzz/replay_$$t.log; echo "FAIL replay_$$t"; exit 1; }; \
		printf '  %-7s %s (%s)\n' PASS "$(O)/tests/fuzz/replay_$$t" \
			"$$(tail -1 $(O)/tests/fuzz/replay_$$t.log | sed 's/run_corpus: //')"; done

# ---- unit tests ---------------------------------------------------------------------------------

.PHONY: check-unit
check-unit: $(UNIT_BINS) check-fuzz-corpus
	$(Q)for t in $(UNIT_BINS); do $$t >$$t.log 2>&1 || { cat $$t.log; echo "FAIL $$t"; exit 1; }; \
		printf '  %-7s %s\n' PASS "$$t"; done

# The error examples of man/chaos-rules.7 once more, through the real chaos-exec.
.PHONY: check-man-rules
check-man-rules: $(O)/tests/unit/test_man $(O)/chaos-exec
	$(Q)CHAOS_EXEC=$(O)/chaos-exec $< >$<.exec.log 2>&1 || { cat $<.exec.log; echo "FAIL $< with chaos-exec"; exit 1; }
	@printf '  %-7s %s\n' PASS "$< (with $(O)/chaos-exec)"

CHECKS += check-unit check-man-rules
SAN_CHECKS += check-unit

-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)
