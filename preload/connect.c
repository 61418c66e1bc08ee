/* connect.c -- connect(2): refuse, fail, blackhole, stall or delay connections to dependencies
 *
 * A blocking connect fails at once with the errno.  A non-blocking one behaves as over a real
 * network: connect returns EINPROGRESS and the failure arrives later, through poll/epoll and
 * SO_ERROR.  We get that for free from the kernel by connecting the socket to port 0 on
 * loopback, which nothing can listen on: the kernel answers with a real reset, readiness tells
 * the truth, and getsockopt.c turns the ECONNREFUSED into the errno the rule asked for.
 * blackhole and stall are steered to chaos-exec's listeners in the same way (steer.c); a
 * delayed connect goes to the real peer at once and is held back from the program (gate.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>

#include "deps.h"
#include "errnos.h"
#include "gate.h"
#include "internal.h"
#include "steer.h"

/* Errnos a real network reports after the handshake started (the others are local, at once). */
static bool arrives_later(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ECONNRESET:
		return true;
	}
	return false;
}

static bool nonblocking(int fd)
{
	int saved = errno;
	int fl = real_fcntl(fd, F_GETFL);
	errno = saved;
	return fl >= 0 && (fl & O_NONBLOCK);
}

/* Connect fd to loopback port 0 (refused by the kernel itself).  Returns 0 if the refusal is now
 * in flight (EINPROGRESS), -1 if the socket could not be steered. */
static int steer_to_refusal(int fd, int sock_family)
{
	int saved = errno, rc = -1;
	if (sock_family == AF_INET6) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = 0 };
		a.sin6_addr = in6addr_loopback;
		if (real_connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EINPROGRESS)
			rc = 0;
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (real_connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EINPROGRESS)
			rc = 0;
	}
	errno = saved;
	return rc;
}

/* The rule fired on connect: fail the call as the network would.  Returns connect's result. */
static int inject(int fd, const struct sockaddr *addr, const struct chaos_dest *d,
		  const struct prule *p, struct fd_entry *e)
{
	int err = p->r.action == CHAOS_ACT_REFUSE ? ECONNREFUSED : p->r.err;
	const char *name = chaos_errno_name(err);

	deps_error(deps_by_index(e ? e->dep : 0), err);
	if (d->proto == CHAOS_PROTO_TCP && arrives_later(err) && nonblocking(fd) &&
	    steer_to_refusal(fd, addr->sa_family) == 0) {
		if (e) {
			fd_still_same(fd, e); /* records the socket's inode */
			__atomic_fetch_or(&e->flags, FDF_STEERED, __ATOMIC_RELAXED);
			if (err != ECONNREFUSED) {
				e->pending_err = err;
				fd_set_flag(e, FDF_PENDING);
			}
		}
		log_fault("connect", d, NULL, NULL, p, name);
		errno = EINPROGRESS;
		return -1;
	}
	log_fault("connect", d, NULL, NULL, p, name);
	errno = err;
	return -1;
}

/* Is this connect for the peer whose failure we staged?  (libuv closes with a raw syscall, so a
 * socket we steered may be gone and its number reused without our close hook seeing it.) */
static bool same_peer(const struct fd_entry *e, const struct sockaddr *addr, socklen_t len)
{
	struct chaos_dest d;
	return dest_from_sockaddr(addr, len, (enum chaos_proto)e->proto, &d) &&
	       d.family == e->peer.family && d.port == e->peer.port &&
	       memcmp(d.addr, e->peer.addr, 16) == 0;
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	const char *names[NAMES_PER_ADDR];
	struct chaos_dest d;

	CHAOS_INIT();
	if (chaos_busy || !addr || len < (socklen_t)sizeof(sa_family_t) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) {
		if (addr && len >= (socklen_t)sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC)
			fd_forget(fd); /* dissolves the association */
		return real_connect(fd, addr, len);
	}

	const struct ruleset *set = rules_get();
	if (!set->n && !chaos_shm) {
		/* nothing to inject or record: looked at again if rules arrive later */
		fd_forget(fd);
		return real_connect(fd, addr, len);
	}
	struct fd_entry *e = fd_get(fd);
	uint16_t fl = e ? __atomic_load_n(&e->flags, __ATOMIC_RELAXED) : 0;
	bool again = e && (fl & (FDF_STEERED | FDF_STALLED | FDF_GATED | FDF_ABORTED)) &&
		     same_peer(e, addr, len) && fd_still_same(fd, e);
	if (again && (fl & FDF_ABORTED)) {
		/* we ended this connect (blackhole timeout=): it failed as the kernel's would,
		 * and a further connect is a new one */
		int err = e->pending_err ? e->pending_err : ETIMEDOUT;
		__atomic_fetch_and(&e->flags, (uint16_t)~(FDF_ABORTED | FDF_STEERED),
				   __ATOMIC_RELAXED);
		fd_clear_flag(e, FDF_PENDING);
		errno = err;
		return -1;
	}
	if (again) {
		int held = gate_conn_state(fd, true);
		if (held) {
			/* a delayed connect: still under way to the program, or its failure */
			errno = held;
			return -1;
		}
		if (!(fl & FDF_STEERED))
			return real_connect(fd, addr, len); /* the kernel knows: EISCONN, ... */
	}
	if (again && (fl & FDF_STEERED)) {
		/* connect again on a socket whose injected failure is in flight: the kernel tells
		 * how it ended (EALREADY, ECONNREFUSED), as it would for the real peer */
		int rc = real_connect(fd, addr, len);
		if (rc < 0 && errno != EALREADY && errno != EINPROGRESS) {
			/* the attempt is over (ECONNREFUSED, or ECONNABORTED once SO_ERROR was
			 * read); a further connect is a new one and meets the rules again */
			__atomic_fetch_and(&e->flags, (uint16_t)~FDF_STEERED, __ATOMIC_RELAXED);
			if (errno == ECONNREFUSED &&
			    (__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_PENDING))
				errno = e->pending_err;
			if (__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_PENDING) {
				int err = errno;
				fd_clear_flag(e, FDF_PENDING);
				errno = err;
			}
		}
		return rc;
	}
	enum chaos_proto proto = sock_proto(fd);
	if (!dest_from_sockaddr(addr, len, proto, &d) || proto == CHAOS_PROTO_ANY) {
		if (e)
			fd_forget(fd);
		return real_connect(fd, addr, len);
	}
	/* a fresh connection: forget what an earlier socket with this number had */
	dest_attach_names(&d, names, NAMES_PER_ADDR);
	struct shm_dep *dep = deps_connect(&d);
	if (e) {
		fd_forget(fd);
		e->proto = (uint8_t)proto;
		e->peer = d;
		e->peer.names = NULL;
		e->peer.nnames = 0;
		e->dep = deps_index(dep);
		__atomic_fetch_or(&e->flags, FDF_PEER, __ATOMIC_RELAXED);
		__atomic_store_n(&e->kind, FD_INET, __ATOMIC_RELEASE);
	}
	if (set->on_any & CHAOS_ON_CONNECT) {
		const struct prule *p = rules_fire(set, CALL_CONNECT, &d);
		if (p && p->r.action == CHAOS_ACT_BLACKHOLE) {
			int rc = steer_blackhole(fd, addr, &d, p, e);
			if (rc != STEER_NOT)
				return rc;
		} else if (p) {
			return inject(fd, addr, &d, p, e);
		}
	}
	/* faults in time: a stall (steered), a delayed connect (held back) */
	const struct prule *stall = NULL, *delay = NULL;
	uint64_t start = chaos_now_ns();
	struct gate *g = e && proto == CHAOS_PROTO_TCP && set->timed
				 ? gate_connect(fd, e, set, start, &stall, &delay)
				 : NULL;
	int rc = STEER_NOT;
	if (stall)
		rc = steer_stall(fd, addr, &d, stall, e);
	if (rc == STEER_NOT)
		rc = real_connect(fd, addr, len);
	int saved = errno;
	if (rc == 0 || saved == EINPROGRESS)
		names_consume(&d);
	else if (dep && saved != EINTR)
		deps_error(dep, saved);
	if (delay)
		return gate_connect_delay(fd, e, g, start, rc, rc < 0 ? saved : 0);
	errno = saved;
	return rc;
}
