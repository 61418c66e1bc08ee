# preload/build.mk -- libchaos-preload.so, the LD_PRELOAD library chaos-exec injects

PRELOAD_SRCS := $(wildcard preload/*.c)
PRELOAD_OBJS := $(PRELOAD_SRCS:%.c=$(O)/%.o)

$(PRELOAD_OBJS): CFLAGS_ALL += -fvisibility=hidden

$(O)/libchaos-preload.so: $(PRELOAD_OBJS) $(O)/libchaos-core.a preload/symbols.map
	$(call msg,LD,$@)$(CC) $(LDFLAGS_ALL) -shared -Wl,--version-script=preload/symbols.map \
		-Wl,-z,now -Wl,-z,relro -o $@ $(PRELOAD_OBJS) $(O)/libchaos-core.a -ldl -lpthread

PKGLIBS += $(O)/libchaos-preload.so
