# bpf/build.mk -- chaos-attach: the eBPF programs (bpf/attach.bpf.c) and their loader
#
# Chain, all in $(O)/bpf: vmlinux.h (bpftool, from the running kernel's BTF) -> attach.bpf.o
# (clang -target bpf) -> attach.skel.h (bpftool gen skeleton) -> the loader's objects.
# vmlinux.h is generated once per build tree; `make bpf-vmlinux` regenerates it (after a kernel
# upgrade, or with VMLINUX_BTF=/path/to/other/vmlinux).

BPF_CLANG ?= clang
BPFTOOL ?= bpftool
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/')
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror \
	-I$(O)/bpf -Ibpf

ATTACH_SRCS := $(filter-out %.bpf.c,$(wildcard bpf/*.c))
ATTACH_OBJS := $(ATTACH_SRCS:%.c=$(O)/%.o)

$(O)/bpf/vmlinux.h:
	@mkdir -p $(@D)
	@test -r $(VMLINUX_BTF) || { echo "bpf/build.mk: $(VMLINUX_BTF) is missing: the kernel" \
		"has no BTF (CONFIG_DEBUG_INFO_BTF); set VMLINUX_BTF to a vmlinux with BTF" >&2; exit 1; }
	$(call msg,GEN,$@)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

.PHONY: bpf-vmlinux
bpf-vmlinux:
	$(Q)rm -f $(O)/bpf/vmlinux.h
	$(Q)$(MAKE) --no-print-directory $(O)/bpf/vmlinux.h

$(O)/bpf/%.bpf.o: bpf/%.bpf.c bpf/%.h $(O)/bpf/vmlinux.h
	@mkdir -p $(@D)
	$(call msg,BPF,$@)$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/bpf/%.skel.h: $(O)/bpf/%.bpf.o
	$(call msg,GENSKEL,$@)$(BPFTOOL) gen skeleton $< name $(subst .,_,$*)_bpf > $@

$(ATTACH_OBJS): $(O)/bpf/attach.skel.h

$(O)/chaos-attach: $(ATTACH_OBJS) $(O)/cli/tool.o $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS) -lbpf -lpthread

BINS += $(O)/chaos-attach

# ---- tests (tests/bpf/) ------------------------------------------------------------------------
# The static C client is built without sanitizers (they cannot link statically); the Go client
# offline, with its caches in the build tree.

BPF_TEST := $(O)/tests/bpf
BPF_UNIT := $(BPF_TEST)/test_compile $(BPF_TEST)/test_dns $(BPF_TEST)/test_cgroup
BPF_TEST_BINS := $(BPF_TEST)/client $(BPF_TEST)/goclient $(BPF_TEST)/peer $(BPF_UNIT)
GO ?= go

$(BPF_TEST)/client: tests/bpf/client.c core/errnos.c core/errnos.h core/errnos.def
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(CC) -static -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Icore \
		-o $@ tests/bpf/client.c core/errnos.c 2>$@.err; rc=$$?; \
		grep -v -e 'statically linked applications requires at runtime' \
			-e ': in function' $@.err >&2; \
		rm -f $@.err; exit $$rc

$(BPF_TEST)/goclient: tests/bpf/goclient/main.go tests/bpf/goclient/go.mod
	@mkdir -p $(@D)
	$(call msg,GO,$@)cd tests/bpf/goclient && GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on \
		CGO_ENABLED=0 GOCACHE=$(abspath $(BPF_TEST))/gocache \
		GOPATH=$(abspath $(BPF_TEST))/gopath $(GO) build -o $(abspath $@) .

$(BPF_TEST)/peer: $(O)/tests/bpf/peer.o
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^

$(BPF_TEST)/bench: $(O)/tests/bpf/bench.o
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^

$(BPF_TEST)/test_compile: $(O)/tests/bpf/test_compile.o $(O)/bpf/compile.o $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS) -lcmocka

$(BPF_TEST)/test_dns: $(O)/tests/bpf/test_dns.o $(O)/bpf/dns.o $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS) -lcmocka -lbpf -lpthread

$(BPF_TEST)/test_cgroup: $(O)/tests/bpf/test_cgroup.o $(O)/bpf/cgroup.o $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS) -lcmocka

$(O)/tests/bpf/%.o: CPPFLAGS_ALL += -Ibpf

.PHONY: check-bpf check-bpf-unit bench-bpf
check-bpf-unit: $(BPF_UNIT)
	$(Q)for t in $(BPF_UNIT); do $$t >$$t.log 2>&1 || { cat $$t.log; echo "FAIL $$t"; exit 1; }; \
		printf '  %-7s %s\n' PASS "$$t"; done

check-bpf: check-bpf-unit $(O)/chaos-attach $(BPF_TEST_BINS)
	$(Q)O=$(O) tests/bpf/run.sh

bench-bpf: $(O)/chaos-attach $(BPF_TEST)/peer $(BPF_TEST)/bench
	$(Q)O=$(O) tests/bpf/bench.sh

CHECKS += check-bpf
SAN_CHECKS += check-bpf-unit
BENCHES += bench-bpf
