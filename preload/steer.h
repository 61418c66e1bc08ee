/* steer.h -- blackhole and stall: connect to one of chaos-exec's listeners instead (steer.c) */
#ifndef CHAOS_PRELOAD_STEER_H
#define CHAOS_PRELOAD_STEER_H

#include "internal.h"

/* Returned when the socket could not be steered (no endpoint for its family): the caller
 * connects for real, and a warning says the fault was not injected. */
#define STEER_NOT (-2)

/* blackhole: the connect goes to a listener whose queue is full; it is never answered.
 * Returns connect's result (errno set), or STEER_NOT. */
int steer_blackhole(int fd, const struct sockaddr *addr, const struct chaos_dest *d,
		    const struct prule *p, struct fd_entry *e);

/* stall: the connect goes to a listener that accepts and never reads or writes. */
int steer_stall(int fd, const struct sockaddr *addr, const struct chaos_dest *d,
		const struct prule *p, struct fd_entry *e);

#endif
