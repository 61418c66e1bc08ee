# cli/build.mk -- the programs built on the preload library: chaos-exec (and chaos-ctl)

CLI_COMMON := $(O)/cli/tool.o
CLI_CPPFLAGS := -DCHAOS_PKGLIBDIR='"$(PKGLIBDIR)"'

$(O)/cli/chaos-exec.o: CPPFLAGS_ALL += $(CLI_CPPFLAGS)

$(O)/chaos-exec: $(O)/cli/chaos-exec.o $(O)/cli/elfcheck.o $(CLI_COMMON) $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS)

BINS += $(O)/chaos-exec
