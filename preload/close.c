/* close.c -- close(2), close_range(2), closefrom(3): forget what we knew about closed fds */
#include <linux/close_range.h>
#include <unistd.h>

#include "internal.h"

EXPORT int close(int fd)
{
	CHAOS_INIT();
	fd_forget(fd);
	log_fd_closed(fd);
	return real_close(fd);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	CHAOS_INIT();
	int r = real_close_range(first, last, flags);
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC)) {
		fd_forget_range(first, last);
		log_fd_closed_range(first, last);
	}
	return r;
}

EXPORT void closefrom(int lowfd)
{
	CHAOS_INIT();
	real_closefrom(lowfd);
	if (lowfd < 0)
		lowfd = 0;
	fd_forget_range((unsigned)lowfd, ~0u);
	log_fd_closed_range((unsigned)lowfd, ~0u);
}
