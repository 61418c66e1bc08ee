# bench/build.mk -- make bench: overhead, precision and scale of chaos side by side with plain
# runs, libfiu (fiu-run -x) and strace --inject; results in $(O)/bench/results.json and
# bench/RESULTS.md.  Not part of make check.
#
#   make bench                    everything, the eBPF bench (bench-bpf) first
#   make bench-chaos BENCH_BPF=   without running the eBPF bench again (its last
#                                 $(O)/bench/bpf.json is quoted if there is one)
#   make bench-chaos BENCH_ARGS=--quick     a short run (fewer rounds), for trying things out
#   make bench-chaos BENCH_ARGS='--only loops,startup'   some sections only
#   make bench-chaos BENCH_ARGS='--preload /path/libchaos-preload.so'   another build of the
#                                 library as an extra configuration (to prove a fix)

BENCH_DIR := $(O)/bench
BENCH_PROGS := $(BENCH_DIR)/loop $(BENCH_DIR)/hookcost $(BENCH_DIR)/spawn \
	$(BENCH_DIR)/rulescale $(BENCH_DIR)/delay $(BENCH_DIR)/libbench-envrules.so
BENCH_ARGS ?=
BENCH_BPF ?= bench-bpf

$(BENCH_DIR)/loop: $(O)/bench/loop.o
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ -lpthread

$(BENCH_DIR)/hookcost: $(O)/bench/hookcost.o
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ -ldl

$(BENCH_DIR)/spawn: $(O)/bench/spawn.o
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^

$(BENCH_DIR)/delay: $(O)/bench/delay.o
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ -lpthread

$(BENCH_DIR)/libbench-envrules.so: $(O)/bench/envrules.o
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -shared -o $@ $^

# linked with the helper library by name, found next to it at run time ($ORIGIN)
$(BENCH_DIR)/rulescale: $(O)/bench/rulescale.o $(BENCH_DIR)/libbench-envrules.so \
		$(O)/libchaos-core.a
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $(O)/bench/rulescale.o \
		-L$(BENCH_DIR) -lbench-envrules -Wl,-rpath,'$$ORIGIN' -Wl,--no-as-needed \
		$(O)/libchaos-core.a -ldl

.PHONY: bench-chaos
bench-chaos: all $(BENCH_PROGS) $(BENCH_BPF)
	$(Q)python3 bench/bench.py --build $(O) $(BENCH_ARGS)

BENCHES += bench-chaos
