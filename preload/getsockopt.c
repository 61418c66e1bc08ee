/* getsockopt.c -- getsockopt(2): SO_ERROR of a connect we failed reports the rule's errno
 *
 * connect.c fails a non-blocking connect by steering it to a port that refuses; the kernel
 * then reports ECONNREFUSED in SO_ERROR, which we turn into the errno the rule asked for.
 */
#include <errno.h>

#include "deps.h"
#include "internal.h"

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	CHAOS_INIT();
	int r = real_getsockopt(fd, level, name, val, len);
	if (r == 0 && level == SOL_SOCKET && name == SO_ERROR && val && len &&
	    *len >= (socklen_t)sizeof(int) && *(int *)val) {
		struct fd_entry *e = fd_lookup(fd);
		if (e && *(int *)val == ECONNREFUSED &&
		    (__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_PENDING)) {
			*(int *)val = e->pending_err;
			fd_clear_flag(e, FDF_PENDING);
		} else if (e && !(__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_STEERED)) {
			/* a real failure of a non-blocking connect (injected ones are counted
			 * when injected) */
			deps_error(deps_by_index(e->dep), *(int *)val);
		}
	}
	return r;
}
