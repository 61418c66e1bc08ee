# man/build.mk -- hand-written man pages, one per command plus the rule language
MANS += $(wildcard man/*.1 man/*.7)
