/* tool.c -- what the chaos-* programs share: messages, exit codes, finding their siblings */
#include "tool.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *tool_name = "chaos";

void tool_error(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "%s: ", tool_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tool_usage_error(const char *arg, int optopt)
{
	if (optopt && optopt < 256)
		tool_error("option '-%c' %s (see %s --help)", optopt,
			   arg && strchr(arg, optopt) && arg[1] == optopt && !arg[2]
				   ? "needs a value"
				   : "is not known",
			   tool_name);
	else if (arg && strchr(arg, '='))
		tool_error("option '%s' is not known or takes no value (see %s --help)", arg,
			   tool_name);
	else
		tool_error("option '%s' is not known or needs a value (see %s --help)",
			   arg ? arg : "?", tool_name);
}

int tool_self_dir(char *out, size_t len)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	snprintf(out, len, "%s", buf[0] ? buf : "/");
	return 0;
}
