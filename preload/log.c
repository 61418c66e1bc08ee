/* log.c -- one JSON line per injected fault (core/event.h), and warnings on stderr
 *
 * The log is opened on the first fault, O_APPEND, and written with one write() a line so lines
 * from many processes and threads never interleave.  If the process closes or replaces our fd
 * (close, dup2, close_range), close.c tells us and we reopen on the next fault.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "event.h"
#include "internal.h"
#include "vfork.h"

static int log_fd = -1;

bool log_fd_is(int fd)
{
	return fd >= 0 && __atomic_load_n(&log_fd, __ATOMIC_RELAXED) == fd;
}

void log_fd_closed(int fd)
{
	if (fd >= 0 && __atomic_load_n(&log_fd, __ATOMIC_RELAXED) == fd)
		__atomic_store_n(&log_fd, -1, __ATOMIC_RELAXED);
}

void log_fd_closed_range(unsigned first, unsigned last)
{
	int fd = __atomic_load_n(&log_fd, __ATOMIC_RELAXED);
	if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last)
		__atomic_store_n(&log_fd, -1, __ATOMIC_RELAXED);
}

static int log_open(void)
{
	int fd = __atomic_load_n(&log_fd, __ATOMIC_RELAXED);
	if (fd >= 0)
		return fd;
	const char *path = secure_getenv("CHAOS_LOG");
	if (!path || !*path)
		return 2;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		chaos_warn("cannot open the log %s: %s: faults go to stderr", path, strerror(errno));
		return 2;
	}
	if (chaos_in_vfork_child())
		return fd; /* the parent cannot use a number only this child has (O_CLOEXEC) */
	int expected = -1;
	if (!__atomic_compare_exchange_n(&log_fd, &expected, fd, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED)) {
		real_close(fd); /* another thread opened it first */
		return expected;
	}
	return fd;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = real_write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void log_fault(const char *call, const struct chaos_dest *d, const char *dest, const char *host,
	       const struct prule *p, const char *result)
{
	char line[2048], dbuf[64];
	const char *names[NAMES_PER_ADDR];
	struct timespec ts;
	int saved = errno;

	chaos_busy++;
	if (!dest && d) {
		chaos_dest_format(d, dbuf, sizeof(dbuf));
		dest = dbuf;
	}
	if (!host && d) {
		/* the name the rule matched, if the call was for it; else the one name we can
		 * tell the call was for */
		const char *label = names_label(d);
		if (p->r.target.kind == CHAOS_HOST_NAME) {
			size_t n = d->nnames ? d->nnames
					     : names_get(d->family, d->addr, names, NAMES_PER_ADDR);
			const char *const *list = d->nnames ? d->names : names;
			for (size_t i = 0; i < n && !host; i++)
				if (chaos_name_match(p->r.target.name, list[i]) &&
				    (!label || strcmp(label, list[i]) == 0))
					host = list[i];
		}
		if (!host)
			host = label;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	struct chaos_event ev = {
		.time_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec,
		.source = "preload",
		.pid = getpid(),
		.tid = (int)syscall(SYS_gettid),
		.call = call,
		.dest = dest,
		.host = host,
		.rule_id = p->id,
		.rule = p->text,
		.action = chaos_action_name(p->r.action),
		.result = result,
	};
	int len = chaos_event_format(&ev, line, sizeof(line));
	if (len > 0)
		write_all(log_open(), line, (size_t)len);
	chaos_busy--;
	errno = saved;
}

void chaos_warn(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int saved = errno;
	int n = snprintf(msg, sizeof(msg), "chaos: ");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = strlen(msg);
	msg[len++] = '\n';
	if (real_write)
		write_all(2, msg, len);
	errno = saved;
}
