# cli/build.mk -- the programs built on the preload library: chaos-exec and chaos-ctl

CLI_COMMON := $(O)/cli/tool.o
CLI_CPPFLAGS := -DCHAOS_PKGLIBDIR='"$(PKGLIBDIR)"'

$(O)/cli/chaos-exec.o: CPPFLAGS_ALL += $(CLI_CPPFLAGS)

CLI_CTL := $(O)/cli/ctl.o $(O)/preload/procstat.o
$(O)/cli/%.o: CPPFLAGS_ALL += -Ipreload

$(O)/chaos-exec: $(O)/cli/chaos-exec.o $(O)/cli/elfcheck.o $(O)/cli/ctl_server.o $(CLI_CTL) \
		$(CLI_COMMON) $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS)

$(O)/chaos-ctl: $(O)/cli/chaos-ctl.o $(CLI_CTL) $(CLI_COMMON) $(CORE_LIBS)
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LDLIBS)

BINS += $(O)/chaos-exec $(O)/chaos-ctl
