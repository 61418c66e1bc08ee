/* getpeername.c -- getpeername(2): a stalled connection shows its real peer; a delayed connect
 * is not connected yet
 *
 * A socket steered to chaos-exec's stall listener (steer.c) is connected to loopback; the
 * program still sees the address it connected to.  While a delayed connect is held back
 * (gate.c), the socket is not connected to the program: ENOTCONN, as in SYN_SENT.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "gate.h"

EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	CHAOS_INIT();
	int r = real_getpeername(fd, sa, len);
	if (r < 0 || chaos_busy || !sa || !len)
		return r;
	if (__atomic_load_n(&chaos_gated_fds, __ATOMIC_RELAXED) && gate_conn_state(fd, false) ==
								      EALREADY) {
		errno = ENOTCONN;
		return -1;
	}
	struct fd_entry *e = fd_lookup(fd);
	if (!e || !(__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_STALLED) ||
	    !fd_still_same(fd, e))
		return r;
	struct sockaddr_storage ss;
	socklen_t n;
	memset(&ss, 0, sizeof(ss));
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(e->peer.port);
		if (e->peer.family == AF_INET) {
			static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
			memcpy(&a->sin6_addr, mapped, 12);
			memcpy((uint8_t *)&a->sin6_addr + 12, e->peer.addr, 4);
		} else {
			memcpy(&a->sin6_addr, e->peer.addr, 16);
		}
		n = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(e->peer.port);
		memcpy(&a->sin_addr, e->peer.addr, 4);
		n = sizeof(*a);
	}
	memcpy(sa, &ss, *len < n ? *len : n);
	*len = n;
	return r;
}
