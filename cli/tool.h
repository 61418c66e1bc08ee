/* tool.h -- what the chaos-* programs share: messages, exit codes, finding their siblings */
#ifndef CHAOS_TOOL_H
#define CHAOS_TOOL_H

#include <stddef.h>

#define CHAOS_VERSION "0.1.0"

/* Exit codes of the programs (documented in their man pages). */
enum {
	EXIT_USAGE = 2,       /* bad option or rule */
	EXIT_INTERNAL = 125,  /* the program itself failed */
	EXIT_CANNOT_RUN = 126,/* the command cannot be run, or cannot be faulted */
	EXIT_NOT_FOUND = 127, /* the command was not found */
};

extern const char *tool_name;

/* "NAME: message" on stderr. */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An unknown option or a missing argument, as getopt_long left it. */
void tool_usage_error(const char *arg, int optopt);

/* The directory this program runs from (/proc/self/exe). */
int tool_self_dir(char *out, size_t len);

#endif
