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
