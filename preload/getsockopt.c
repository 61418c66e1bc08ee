/* getsockopt.c -- getsockopt(2): SO_ERROR of a connect we failed, ended or hold back
 *
 * connect.c fails a non-blocking connect by steering it to a port that refuses; the kernel
 * then reports ECONNREFUSED in SO_ERROR, which we turn into the errno the rule asked for.  A
 * blackholed connect we end at its timeout= (gate.c) reports ETIMEDOUT, as the kernel does at
 * the end of its SYN retries.  While a delayed connect is held back, SO_ERROR is 0 (still
 * connecting) and the kernel's answer stays where it is until it is due.
 */
#include <errno.h>

#include "deps.h"
#include "gate.h"
#include "internal.h"

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	CHAOS_INIT();
	if (level == SOL_SOCKET && name == SO_ERROR && val && len &&
	    *len >= (socklen_t)sizeof(int) && !chaos_busy &&
	    __atomic_load_n(&chaos_gated_fds, __ATOMIC_RELAXED)) {
		int held = gate_conn_state(fd, true);
		if (held) {
			*(int *)val = held == EALREADY ? 0 : held;
			*len = sizeof(int);
			return 0;
		}
	}
	int r = real_getsockopt(fd, level, name, val, len);
	if (r == 0 && level == SOL_SOCKET && name == SO_ERROR && val && len &&
	    *len >= (socklen_t)sizeof(int) && *(int *)val) {
		struct fd_entry *e = fd_lookup(fd);
		uint16_t f = e ? __atomic_load_n(&e->flags, __ATOMIC_RELAXED) : 0;
		if (e && (f & FDF_PENDING) &&
		    (*(int *)val == ECONNREFUSED || *(int *)val == ECONNRESET)) {
			*(int *)val = e->pending_err;
			fd_clear_flag(e, FDF_PENDING);
			__atomic_fetch_and(&e->flags, (uint16_t)~FDF_ABORTED, __ATOMIC_RELAXED);
		} else if (e && !(f & FDF_STEERED)) {
			/* a real failure of a non-blocking connect (injected ones are counted
			 * when injected) */
			deps_error(deps_by_index(e->dep), *(int *)val);
		}
	}
	return r;
}
