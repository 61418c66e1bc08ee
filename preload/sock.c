/* sock.c -- sockets as the rules see them: destination, protocol, outgoing or not */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "units.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool dest_from_sockaddr(const struct sockaddr *sa, socklen_t len, enum chaos_proto proto,
			struct chaos_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->proto = proto;
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return false;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		d->family = AF_INET;
		memcpy(d->addr, &in->sin_addr, 4);
		d->port = ntohs(in->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (memcmp(&in6->sin6_addr, v4mapped, 12) == 0) {
			d->family = AF_INET;
			memcpy(d->addr, (const uint8_t *)&in6->sin6_addr + 12, 4);
		} else {
			d->family = AF_INET6;
			memcpy(d->addr, &in6->sin6_addr, 16);
		}
		d->port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

static int sockopt_int(int fd, int level, int opt, int *out)
{
	socklen_t len = sizeof(*out);
	return real_getsockopt(fd, level, opt, out, &len);
}

enum chaos_proto sock_proto(int fd)
{
	int type, proto, saved = errno;
	enum chaos_proto r = CHAOS_PROTO_ANY;
	if (sockopt_int(fd, SOL_SOCKET, SO_TYPE, &type) == 0 &&
	    sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL, &proto) == 0) {
		if (type == SOCK_STREAM && (proto == IPPROTO_TCP || proto == 262 /* MPTCP */))
			r = CHAOS_PROTO_TCP;
		else if (type == SOCK_DGRAM && (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE))
			r = CHAOS_PROTO_UDP;
	}
	errno = saved;
	return r;
}

/* The kernel's ephemeral port range: a connected socket whose local port is in it was most
 * likely connected by us (outgoing); one outside it was accepted (incoming). */
static void ephemeral_range(unsigned *lo, unsigned *hi)
{
	static unsigned cached_lo, cached_hi;
	if (!__atomic_load_n(&cached_hi, __ATOMIC_RELAXED)) {
		unsigned l = 32768, h = 60999;
		char buf[64];
		int fd = open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = real_read(fd, buf, sizeof(buf) - 1);
			if (n > 0) {
				buf[n] = '\0';
				if (sscanf(buf, "%u %u", &l, &h) != 2 || l > h)
					l = 32768, h = 60999;
			}
			real_close(fd);
		}
		__atomic_store_n(&cached_lo, l, __ATOMIC_RELAXED);
		__atomic_store_n(&cached_hi, h, __ATOMIC_RELAXED);
	}
	*lo = __atomic_load_n(&cached_lo, __ATOMIC_RELAXED);
	*hi = __atomic_load_n(&cached_hi, __ATOMIC_RELAXED);
}

void fd_classify(int fd, struct fd_entry *e)
{
	int saved = errno, domain, listening = 0;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	enum fd_kind kind = FD_PASS;

	if (sockopt_int(fd, SOL_SOCKET, SO_DOMAIN, &domain) < 0 ||
	    (domain != AF_INET && domain != AF_INET6))
		goto done;
	e->proto = (uint8_t)sock_proto(fd);
	if (e->proto == CHAOS_PROTO_ANY)
		goto done;
	if (e->proto == CHAOS_PROTO_TCP &&
	    (sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening) < 0 || listening))
		goto done;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    dest_from_sockaddr((struct sockaddr *)&ss, len, e->proto, &e->peer)) {
		/* connected before we knew of it (inherited across exec): outgoing only if the
		 * local port is an ephemeral one */
		struct chaos_dest local;
		len = sizeof(ss);
		unsigned lo, hi;
		ephemeral_range(&lo, &hi);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    dest_from_sockaddr((struct sockaddr *)&ss, len, e->proto, &local) &&
		    (local.port < lo || local.port > hi))
			goto done;
		__atomic_fetch_or(&e->flags, FDF_PEER, __ATOMIC_RELAXED);
	}
	kind = FD_INET;
done:
	__atomic_store_n(&e->gen, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->kind, (uint8_t)kind, __ATOMIC_RELEASE);
	errno = saved;
}

bool fd_still_same(int fd, struct fd_entry *e)
{
	struct stat st;
	int saved = errno;
	bool same = true;
	uint64_t ino = __atomic_load_n(&e->ino, __ATOMIC_RELAXED);
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		same = false;
	} else if (ino == 0) {
		__atomic_store_n(&e->ino, (uint64_t)st.st_ino, __ATOMIC_RELAXED);
	} else {
		same = ino == (uint64_t)st.st_ino;
	}
	errno = saved;
	return same;
}
