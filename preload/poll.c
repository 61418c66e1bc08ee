/* poll.c -- poll(2), ppoll(2), __poll_chk, __ppoll_chk, select(2), pselect(2): readiness that
 * tells the truth about faults in time
 *
 * A socket with a gate (gate.h) may hold back what the kernel would report: a delayed answer is
 * not readable until it is due, a delayed connect not writable.  The wait runs the real call
 * with those bits taken out of the socket's events (and the socket left out entirely while an
 * end of stream or an error it has must stay hidden, since poll reports those whatever was
 * asked) and with its time-out shortened to the next moment a gate changes; it never returns
 * later than the caller asked, never spins, and reports what the program may see.  select is
 * run as a poll over the same descriptors, with the kernel's own mapping of the bits.
 *
 * Without a gate anywhere in the process the cost is one load and a branch.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>

#include "gate.h"
#include "units.h"

/* The gate of fd if the wait must ask it; attaches one to a socket that timed rules cover
 * since the rules changed (a rule added live). */
static struct gate *wait_gate(int fd, const struct ruleset *set)
{
	struct fd_entry *e = fd_lookup(fd);
	if (!e)
		return NULL;
	if (!gate_valid(fd, e))
		return NULL; /* not the socket it was */
	uint16_t fl = __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
	if (!(fl & FDF_GATED)) {
		if (!set->timed || e->kind != FD_INET || e->proto != CHAOS_PROTO_TCP ||
		    !(fl & FDF_PEER) || __atomic_load_n(&e->tgen, __ATOMIC_RELAXED) == set->gen)
			return NULL;
		if (!gate_for(fd, e, set)) /* (which sets tgen when no timed rule covers it) */
			return NULL;
	}
	return gate_get(fd);
}

static bool armed(void)
{
	return __atomic_load_n(&chaos_waits_armed, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&chaos_ready, __ATOMIC_ACQUIRE) && !chaos_busy;
}

#define SMALL 64
#define QUIET 0x80000000u

/* The wait itself.  timeout: relative ns, UINT64_MAX for none. */
static int gated_poll(struct pollfd *fds, nfds_t n, uint64_t timeout, const sigset_t *sigmask,
		      struct gate **gates)
{
	struct pollfd small[SMALL], *copy = small;
	unsigned hsmall[SMALL], *hide = hsmall;
	uint64_t start = chaos_now_ns();
	uint64_t deadline = timeout == UINT64_MAX ? UINT64_MAX : start + timeout;
	int rc = -1, saved;
	bool first = true;

	if (n > SMALL) {
		copy = malloc(n * sizeof(*copy));
		hide = malloc(n * sizeof(*hide));
		if (!copy || !hide) {
			free(copy);
			free(hide);
			struct timespec ts = { (time_t)(timeout / NSEC_PER_SEC),
					       (long)(timeout % NSEC_PER_SEC) };
			return real_ppoll(fds, n, timeout == UINT64_MAX ? NULL : &ts, sigmask);
		}
	}
	memset(hide, 0, n * sizeof(*hide));
	for (;;) {
		chaos_refresh();
		uint64_t now = chaos_now_ns(), next = deadline;
		for (nfds_t i = 0; i < n; i++) {
			copy[i] = fds[i];
			copy[i].revents = 0;
			struct gate *g = gates[i];
			if (!g || fds[i].fd < 0 || !gate_lock(g)) {
				hide[i] = 0;
				continue;
			}
			uint64_t due, watch;
			unsigned h = gate_hidden(fds[i].fd, g, now, -1, &due, &watch);
			gate_unlock(g);
			/* a socket that woke the last wait with nothing but what it must hide (poll
			 * reports an error or a hang-up whatever was asked) sits the waits out until
			 * that changes; so does one whose connect is held back */
			bool quiet = !first && (hide[i] & QUIET) && (hide[i] & ~QUIET) == h;
			hide[i] = h | (quiet ? QUIET : 0);
			copy[i].events = (short)(fds[i].events & ~h);
			if (quiet || (h & POLLOUT && h & POLLERR))
				copy[i].fd = -1;
			if (due && due < next)
				next = due;
			if (watch && now + watch < next)
				next = now + watch;
		}
		first = false;
		uint64_t t = next > now ? next - now : 0;
		struct timespec ts = { (time_t)(t / NSEC_PER_SEC), (long)(t % NSEC_PER_SEC) };
		int r = real_ppoll(copy, n, next == UINT64_MAX ? NULL : &ts, sigmask);
		if (r < 0) {
			saved = errno;
			goto out;
		}
		now = chaos_now_ns();
		int count = 0;
		bool again = false;
		for (nfds_t i = 0; i < n; i++) {
			short rev = copy[i].revents;
			struct gate *g = gates[i];
			if (g && fds[i].fd >= 0 && gate_lock(g)) {
				uint64_t due, watch;
				int seen = copy[i].fd < 0 || (hide[i] & POLLIN) ? -1 : rev;
				unsigned h = gate_hidden(fds[i].fd, g, now, seen, &due, &watch);
				gate_unlock(g);
				if (rev && !(rev & ~h))
					hide[i] |= QUIET;
				if (hide[i] & ~QUIET & ~h)
					again = true; /* something came due: look at it for real */
				rev = (short)(rev & ~h);
			}
			fds[i].revents = rev;
			count += rev != 0;
		}
		if (count || (!again && now >= deadline)) {
			rc = count;
			saved = errno;
			goto out;
		}
	}
out:
	if (copy != small)
		free(copy);
	if (hide != hsmall)
		free(hide);
	errno = saved;
	return rc;
}

/* Run poll through the gates, or straight to the kernel when none of fds has one. */
static int do_poll(struct pollfd *fds, nfds_t n, uint64_t timeout, const sigset_t *sigmask,
		   bool *handled)
{
	struct gate *small[SMALL], **gates = small;
	const struct ruleset *set = rules_get();
	bool any = false;
	*handled = false;
	if (!fds || n == 0)
		return 0;
	if (n > SMALL) {
		gates = malloc(n * sizeof(*gates));
		if (!gates)
			return 0;
	}
	for (nfds_t i = 0; i < n; i++) {
		gates[i] = fds[i].fd >= 0 ? wait_gate(fds[i].fd, set) : NULL;
		any |= gates[i] != NULL;
	}
	int rc = 0;
	if (any) {
		*handled = true;
		rc = gated_poll(fds, n, timeout, sigmask, gates);
	}
	if (gates != small) {
		int saved = errno;
		free(gates);
		errno = saved;
	}
	return rc;
}

static uint64_t ms_ns(int ms)
{
	return ms < 0 ? UINT64_MAX : (uint64_t)ms * NSEC_PER_MSEC;
}

static uint64_t ts_ns(const struct timespec *ts)
{
	if (!ts)
		return UINT64_MAX;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0)
		return 0;
	return (uint64_t)ts->tv_sec * NSEC_PER_SEC + (uint64_t)ts->tv_nsec;
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (likely(!armed()))
		return real_poll(fds, n, timeout);
	CHAOS_INIT();
	bool handled;
	int rc = do_poll(fds, n, ms_ns(timeout), NULL, &handled);
	return handled ? rc : real_poll(fds, n, timeout);
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (likely(!armed()) || fdslen / sizeof(*fds) < n)
		return real___poll_chk(fds, n, timeout, fdslen); /* (an overflow aborts there) */
	CHAOS_INIT();
	bool handled;
	int rc = do_poll(fds, n, ms_ns(timeout), NULL, &handled);
	return handled ? rc : real___poll_chk(fds, n, timeout, fdslen);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *sigmask)
{
	if (likely(!armed()))
		return real_ppoll(fds, n, ts, sigmask);
	CHAOS_INIT();
	bool handled;
	int rc = do_poll(fds, n, ts_ns(ts), sigmask, &handled);
	return handled ? rc : real_ppoll(fds, n, ts, sigmask);
}

EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		       const sigset_t *sigmask, size_t fdslen)
{
	if (likely(!armed()) || fdslen / sizeof(*fds) < n)
		return real___ppoll_chk(fds, n, ts, sigmask, fdslen);
	CHAOS_INIT();
	bool handled;
	int rc = do_poll(fds, n, ts_ns(ts), sigmask, &handled);
	return handled ? rc : real___ppoll_chk(fds, n, ts, sigmask, fdslen);
}

/* ---- select: a poll over the same fds ---------------------------------------------------------- */

#define SEL_IN (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SEL_OUT (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define SEL_EX (POLLPRI)

/* Returns -2 when no fd in the sets has a gate (the caller runs the real call). */
static int do_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, uint64_t timeout,
		     const sigset_t *sigmask)
{
	const struct ruleset *set = rules_get();
	struct pollfd p[FD_SETSIZE];
	struct gate *gates[FD_SETSIZE];
	nfds_t n = 0;
	bool any = false;
	if (nfds < 0 || nfds > FD_SETSIZE)
		return -2;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;
		if (rd && FD_ISSET(fd, rd))
			ev |= POLLIN;
		if (wr && FD_ISSET(fd, wr))
			ev |= POLLOUT;
		if (ex && FD_ISSET(fd, ex))
			ev |= POLLPRI;
		if (!ev)
			continue;
		p[n] = (struct pollfd){ .fd = fd, .events = ev };
		gates[n] = wait_gate(fd, set);
		any |= gates[n] != NULL;
		n++;
	}
	if (!any)
		return -2;
	int rc = gated_poll(p, n, timeout, sigmask, gates);
	if (rc < 0)
		return -1;
	for (nfds_t i = 0; i < n; i++)
		if (p[i].revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
	int count = 0;
	for (nfds_t i = 0; i < n; i++) {
		int fd = p[i].fd;
		short r = p[i].revents;
		if (rd && FD_ISSET(fd, rd)) {
			if (r & SEL_IN)
				count++;
			else
				FD_CLR(fd, rd);
		}
		if (wr && FD_ISSET(fd, wr)) {
			if (r & SEL_OUT)
				count++;
			else
				FD_CLR(fd, wr);
		}
		if (ex && FD_ISSET(fd, ex)) {
			if (r & SEL_EX)
				count++;
			else
				FD_CLR(fd, ex);
		}
	}
	return count;
}

EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	if (likely(!armed()))
		return real_select(nfds, rd, wr, ex, tv);
	CHAOS_INIT();
	uint64_t timeout = UINT64_MAX;
	if (tv) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
			return real_select(nfds, rd, wr, ex, tv); /* EINVAL, from the kernel */
		timeout = (uint64_t)tv->tv_sec * NSEC_PER_SEC + (uint64_t)tv->tv_usec * NSEC_PER_USEC;
	}
	uint64_t start = chaos_now_ns();
	int rc = do_select(nfds, rd, wr, ex, timeout, NULL);
	if (rc == -2)
		return real_select(nfds, rd, wr, ex, tv);
	if (tv) {
		/* Linux's select leaves the time not slept in the timeval */
		uint64_t spent = chaos_now_ns() - start, left = spent < timeout ? timeout - spent : 0;
		tv->tv_sec = (time_t)(left / NSEC_PER_SEC);
		tv->tv_usec = (suseconds_t)(left % NSEC_PER_SEC / NSEC_PER_USEC);
	}
	return rc;
}

EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts,
		   const sigset_t *sigmask)
{
	if (likely(!armed()))
		return real_pselect(nfds, rd, wr, ex, ts, sigmask);
	CHAOS_INIT();
	if (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L))
		return real_pselect(nfds, rd, wr, ex, ts, sigmask);
	int rc = do_select(nfds, rd, wr, ex, ts_ns(ts), sigmask);
	if (rc == -2)
		return real_pselect(nfds, rd, wr, ex, ts, sigmask);
	return rc;
}
