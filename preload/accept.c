/* accept.c -- accept(2), accept4(2): connections coming in are not dependencies
 *
 * A rule names something the service connects to; the connections its own clients open to it
 * are left alone even when they come from an address a rule covers.
 */
#include "internal.h"

static int accepted(int fd)
{
	if (fd >= 0) {
		struct fd_entry *e = fd_get(fd);
		if (e) {
			fd_forget(fd);
			__atomic_store_n(&e->kind, FD_PASS, __ATOMIC_RELEASE);
		}
	}
	return fd;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	CHAOS_INIT();
	return accepted(real_accept(fd, addr, len));
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	CHAOS_INIT();
	return accepted(real_accept4(fd, addr, len, flags));
}
