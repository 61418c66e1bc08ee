/* sleep.c -- waiting as the socket call being faulted would: time-outs, signals, SA_RESTART
 *
 * When a blocking call waits for something the kernel does not know about (a delayed answer, a
 * delayed connect, a bucket refilling), the wait must end as the kernel's would:
 *   - the socket's time-out (SO_RCVTIMEO for receiving, SO_SNDTIMEO for sending and connect)
 *     ends it, and the call fails with EAGAIN (connect: EINPROGRESS);
 *   - a signal handler interrupts it with EINTR, unless the handler has SA_RESTART and the
 *     socket has no time-out: then the kernel restarts the call.
 * The kernel decides restarts itself, and we let it: without a time-out the wait is a blocking
 * read(2) of a timerfd, which is restarted after a handler with SA_RESTART and fails with
 * EINTR after one without, exactly like a blocking recv(2) (we never need to know which
 * signal came or how its handler was installed).  With a time-out it is clock_nanosleep(2),
 * which no handler restarts, as the kernel never restarts a socket call with a time-out.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "gate.h"
#include "units.h"

static int sleep_until(uint64_t until, bool timed);

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / NSEC_PER_SEC),
				  .tv_nsec = (long)(ns % NSEC_PER_SEC) };
}

int chaos_sleep_until(uint64_t until, bool timed)
{
	int saved = errno, rc = 0;
	if (until <= chaos_now_ns())
		return 0;
	/* a long sleep ends in two steps: a CPU woken a millisecond before the end wakes on time
	 * for it, where one that idled all along may be slow out of its deeper sleep */
	uint64_t now = chaos_now_ns();
	if (until - now > 4 * NSEC_PER_MSEC)
		rc = sleep_until(until - NSEC_PER_MSEC, timed);
	if (!rc)
		rc = sleep_until(until, timed);
	errno = saved;
	return rc;
}

static int sleep_until(uint64_t until, bool timed)
{
	int saved = errno, rc = 0;
	struct timespec t = ts_of(until);
	if (timed) {
		int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		rc = r == EINTR ? -EINTR : 0;
		errno = saved;
		return rc;
	}
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (tfd < 0) {
		/* no timerfd (fd limit): sleep the plain way, restarting ourselves */
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
			;
		errno = saved;
		return 0;
	}
	struct itimerspec it = { .it_value = t };
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &it, NULL) == 0) {
		uint64_t ticks;
		/* a raw read: the program's own read hook must not see our timer */
		if (syscall(SYS_read, tfd, &ticks, sizeof(ticks)) < 0 && errno == EINTR)
			rc = -EINTR;
	}
	syscall(SYS_close, tfd);
	errno = saved;
	return rc;
}

uint64_t sock_timeout_ns(int fd, bool send)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);
	int saved = errno;
	int r = real_getsockopt(fd, SOL_SOCKET, send ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, &len);
	errno = saved;
	if (r < 0 || tv.tv_sec < 0 || tv.tv_usec < 0)
		return 0;
	return (uint64_t)tv.tv_sec * NSEC_PER_SEC + (uint64_t)tv.tv_usec * NSEC_PER_USEC;
}

bool sock_nonblocking(int fd, int flags)
{
	if (flags & MSG_DONTWAIT)
		return true;
	int saved = errno;
	int fl = real_fcntl(fd, F_GETFL);
	errno = saved;
	return fl >= 0 && (fl & O_NONBLOCK);
}
