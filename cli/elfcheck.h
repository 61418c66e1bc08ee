/* elfcheck.h -- can LD_PRELOAD reach this program? */
#ifndef CHAOS_ELFCHECK_H
#define CHAOS_ELFCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* 0 if the loader will load our library into path (or we cannot tell); -1 with the reason in
 * why if it will not: setuid/setgid, file capabilities, static, Go, 32-bit.  Scripts are judged
 * by their interpreter.  depth: 0 (for #! chains). */
int elf_check_preloadable(const char *path, char *why, size_t len, int depth);

#endif
