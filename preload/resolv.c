/* resolv.c -- dns=timeout: how long glibc's resolver takes to give up, and waiting that long
 *
 * A lookup whose name servers never answer fails with EAI_AGAIN (TRY_AGAIN) once the resolver
 * has tried each server `attempts` times.  glibc (res_send.c, send_dg) waits `timeout` seconds
 * for the first server of each round and timeout * 2^i / N for the i-th of N others (at least
 * a second), so one round takes timeout + sum over i>0 of max(1, (timeout << i) / N), and the
 * lookup attempts times that.  timeout and attempts come from the `options` line of
 * /etc/resolv.conf and then RES_OPTIONS (glibc's defaults: timeout:5 attempts:2, at most 30
 * and 5); the servers from its `nameserver` lines (at most 3; none means one, on loopback).
 * A search list does not multiply it: glibc stops searching at the first time-out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "units.h"

#define RES_DFL_TIMEOUT 5
#define RES_MAX_TIMEOUT 30
#define RES_DFL_ATTEMPTS 2
#define RES_MAX_ATTEMPTS 5
#define RES_MAX_NS 3

static void options(const char *p, long *timeout, long *attempts)
{
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		long *dst = NULL;
		if (strncmp(p, "timeout:", 8) == 0) {
			dst = timeout;
			p += 8;
		} else if (strncmp(p, "attempts:", 9) == 0) {
			dst = attempts;
			p += 9;
		}
		if (dst && *p >= '0' && *p <= '9') {
			long v = 0;
			while (*p >= '0' && *p <= '9' && v < 1000)
				v = v * 10 + (*p++ - '0');
			*dst = v;
		}
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (*p == '\n')
			return;
	}
}

uint64_t dns_timeout_ns(void)
{
	long timeout = RES_DFL_TIMEOUT, attempts = RES_DFL_ATTEMPTS, ns = 0;
	char buf[8192];
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
		syscall(SYS_close, fd);
		buf[n > 0 ? n : 0] = '\0';
		for (char *line = buf; line && *line;) {
			if (strncmp(line, "nameserver", 10) == 0 && (line[10] == ' ' || line[10] == '\t'))
				ns++;
			else if (strncmp(line, "options", 7) == 0 && (line[7] == ' ' || line[7] == '\t'))
				options(line + 7, &timeout, &attempts);
			line = strchr(line, '\n');
			if (line)
				line++;
		}
	}
	const char *env = secure_getenv("RES_OPTIONS");
	if (env)
		options(env, &timeout, &attempts);
	if (timeout < 1)
		timeout = 1;
	if (timeout > RES_MAX_TIMEOUT)
		timeout = RES_MAX_TIMEOUT;
	if (attempts < 1)
		attempts = 1;
	if (attempts > RES_MAX_ATTEMPTS)
		attempts = RES_MAX_ATTEMPTS;
	if (ns < 1)
		ns = 1;
	if (ns > RES_MAX_NS)
		ns = RES_MAX_NS;
	long round = 0;
	for (long i = 0; i < ns; i++) {
		long s = timeout << i;
		if (i > 0)
			s /= ns;
		round += s > 0 ? s : 1;
	}
	return (uint64_t)(round * attempts) * NSEC_PER_SEC;
}

uint64_t dns_hang(const struct prule *p)
{
	uint64_t t = (p->r.set & CHAOS_SET_TIMEOUT) ? p->r.timeout_ns : dns_timeout_ns();
	uint64_t until = chaos_now_ns() + t;
	struct timespec ts = { (time_t)(until / NSEC_PER_SEC), (long)(until % NSEC_PER_SEC) };
	int saved = errno;
	/* the resolver goes on after a signal (it polls again for what is left): so do we */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	errno = saved;
	return t;
}

void dns_hang_result(uint64_t t, const char *code, char *buf, size_t len)
{
	char d[32];
	chaos_format_duration(t, d, sizeof(d));
	snprintf(buf, len, "%s after %s", code, d);
}
