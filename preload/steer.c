/* steer.c -- blackhole and stall: connect to one of chaos-exec's listeners instead
 *
 * Two outages the kernel gives for free (see ../shared/platform.md): a listener whose accept
 * queue is full drops every SYN, so a connect to it is never answered, exactly as over a
 * network that drops SYNs (blocking connects, SO_SNDTIMEO, signals, poll, epoll, select,
 * SO_ERROR, the kernel's own ETIMEDOUT after its SYN retries); a listener that accepts and never
 * reads or writes is a peer that stalls (the connection opens, nothing ever comes back, writes
 * are taken until the buffers are full).  chaos-exec keeps both on loopback (cli/ctl_server.c)
 * and publishes their ports in the shared area; the library connects the socket there instead.
 * getpeername (getpeername.c) still shows the real peer of a stalled connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "deps.h"
#include "event.h"
#include "gate.h"
#include "shm.h"
#include "steer.h"
#include "units.h"

/* Where a socket of this family reaches the endpoint for d: 127.0.0.1, [::1], or for an IPv6
 * socket talking to an IPv4 peer, ::ffff:127.0.0.1. */
static bool endpoint(int family, const struct chaos_dest *d, uint16_t port4, uint16_t port6,
		     struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		if (!port4)
			return false;
		a->sin_family = AF_INET;
		a->sin_port = htons(port4);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
		return true;
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
	a->sin6_family = AF_INET6;
	*len = sizeof(*a);
	if (d->family == AF_INET6 && port6) {
		a->sin6_port = htons(port6);
		a->sin6_addr = in6addr_loopback;
		return true;
	}
	if (!port4)
		return false;
	a->sin6_port = htons(port4);
	static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 };
	memcpy(&a->sin6_addr, mapped, 16);
	return true;
}

static void not_steered(const char *what, const struct chaos_dest *d)
{
	static int warned;
	char buf[64];
	if (__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		return;
	chaos_dest_format(d, buf, sizeof(buf));
	chaos_warn("%s cannot be injected for %s: chaos-exec has no listener for this address "
		   "family (is loopback up, and IPv6 on?); the connection goes through",
		   what, buf);
}

int steer_blackhole(int fd, const struct sockaddr *addr, const struct chaos_dest *d,
		    const struct prule *p, struct fd_entry *e)
{
	struct shm_header *h = chaos_shm;
	struct sockaddr_storage ss;
	socklen_t len;
	char result[64];
	if (!h || d->proto != CHAOS_PROTO_TCP ||
	    !endpoint(addr->sa_family, d, h->sink_port4, h->sink_port6, &ss, &len)) {
		if (h)
			not_steered("blackhole", d);
		return STEER_NOT;
	}
	uint64_t start = chaos_now_ns();
	uint64_t timeout = (p->r.set & CHAOS_SET_TIMEOUT) ? p->r.timeout_ns : 0;
	if (timeout) {
		char dur[32];
		chaos_format_duration(timeout, dur, sizeof(dur));
		snprintf(result, sizeof(result), "ETIMEDOUT after %s", dur);
		/* the kernel's own end of the handshake, for a program that never waits through
		 * us: it fires at the first SYN retransmission after the time-out */
		uint64_t ms = (timeout + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
		int uto = ms > INT_MAX ? INT_MAX : (int)ms;
		int saved = errno;
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
		errno = saved;
	} else {
		snprintf(result, sizeof(result), "no answer");
	}
	log_fault("connect", d, NULL, NULL, p, result);
	deps_error(deps_by_index(e ? e->dep : 0), ETIMEDOUT);
	if (e) {
		fd_still_same(fd, e); /* records the socket's inode */
		__atomic_fetch_or(&e->flags, FDF_STEERED, __ATOMIC_RELAXED);
	}
	bool nb = sock_nonblocking(fd, 0);
	if (!timeout || nb) {
		int rc = real_connect(fd, (struct sockaddr *)&ss, len);
		int saved = errno;
		if (timeout && e && rc < 0 && saved == EINPROGRESS) {
			/* the waits (poll, select, epoll) end it on time */
			struct gate *g = gate_attach(fd, e);
			if (g)
				gate_set_deadline(fd, g, start + timeout);
		}
		errno = saved;
		return rc;
	}
	/* A blocking connect with timeout=.  The sink never answers, so all a connect would do is
	 * wait: start it without blocking, then wait as the kernel's connect would (SO_SNDTIMEO,
	 * signals and SA_RESTART: sleep.c), and end it with ETIMEDOUT when the time is up. */
	int fl = real_fcntl(fd, F_GETFL);
	real_fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	int rc = real_connect(fd, (struct sockaddr *)&ss, len);
	int err = errno;
	real_fcntl(fd, F_SETFL, fl);
	if (rc == 0 || err != EINPROGRESS) {
		errno = err;
		return rc;
	}
	uint64_t timeo = sock_timeout_ns(fd, true);
	uint64_t until = start + timeout;
	if (timeo && start + timeo < until)
		until = start + timeo;
	int slept = chaos_sleep_until(until, timeo != 0);
	if (slept < 0 || chaos_now_ns() < start + timeout) {
		/* interrupted, or the socket's own time-out came first: the connect goes on, and
		 * ends on time for whoever waits for it */
		err = slept < 0 ? EINTR : EINPROGRESS;
		if (e) {
			struct gate *g = gate_attach(fd, e);
			if (g)
				gate_set_deadline(fd, g, start + timeout);
		}
		errno = err;
		return -1;
	}
	struct sockaddr un = { .sa_family = AF_UNSPEC };
	real_connect(fd, &un, sizeof(un));
	if (e)
		__atomic_fetch_and(&e->flags, (uint16_t)~FDF_STEERED, __ATOMIC_RELAXED);
	errno = ETIMEDOUT;
	return -1;
}

int steer_stall(int fd, const struct sockaddr *addr, const struct chaos_dest *d,
		const struct prule *p, struct fd_entry *e)
{
	struct shm_header *h = chaos_shm;
	struct sockaddr_storage ss;
	socklen_t len;
	if (!h || !endpoint(addr->sa_family, d, h->stall_port4, h->stall_port6, &ss, &len)) {
		if (h)
			not_steered("stall", d);
		return STEER_NOT;
	}
	log_fault("connect", d, NULL, NULL, p, "stalled");
	if (e) {
		fd_still_same(fd, e);
		__atomic_fetch_or(&e->flags, FDF_STALLED, __ATOMIC_RELAXED);
	}
	return real_connect(fd, (struct sockaddr *)&ss, len);
}
