# core/build.mk -- the rule engine every front end links: libchaos-core.a (no dependencies)
# and libchaos-config.a (JSON config files, with cJSON; programs only)

CORE_SRCS := core/rule.c core/match.c core/index.c core/units.c core/errnos.c core/event.c \
	core/support_preload.c core/support_bpf.c
CORE_OBJS := $(CORE_SRCS:%.c=$(O)/%.o)
CONFIG_OBJS := $(O)/core/config.o

$(O)/libchaos-core.a: $(CORE_OBJS)
	$(call msg,AR,$@)$(AR) rcs $@ $^

$(O)/libchaos-config.a: $(CONFIG_OBJS)
	$(call msg,AR,$@)$(AR) rcs $@ $^

CORE_LIBS := $(O)/libchaos-config.a $(O)/libchaos-core.a
CORE_LDLIBS := -lcjson
