/* dup.c -- dup(2), dup2(2), dup3(2), fcntl(F_DUPFD*): a duplicate is the same connection
 *
 * Java closes sockets by dup2-ing another fd over them; the fd it lands on must forget the
 * socket it was.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "internal.h"
#include "vfork.h"

EXPORT int dup(int oldfd)
{
	CHAOS_INIT();
	int r = real_dup(oldfd);
	if (r >= 0 && !chaos_in_vfork_child())
		fd_copy(oldfd, r);
	return r;
}

void close_before_replace(int newfd); /* close.c */

EXPORT int dup2(int oldfd, int newfd)
{
	CHAOS_INIT();
	if (chaos_in_vfork_child())
		return real_dup2(oldfd, newfd);
	if (oldfd != newfd)
		close_before_replace(newfd);
	int r = real_dup2(oldfd, newfd);
	if (r >= 0 && oldfd != newfd) {
		log_fd_closed(newfd);
		fd_copy(oldfd, newfd);
	}
	return r;
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	CHAOS_INIT();
	if (chaos_in_vfork_child())
		return real_dup3(oldfd, newfd, flags);
	if (oldfd != newfd)
		close_before_replace(newfd);
	int r = real_dup3(oldfd, newfd, flags);
	if (r >= 0) {
		log_fd_closed(newfd);
		fd_copy(oldfd, newfd);
	}
	return r;
}

/* fcntl's third argument is an int or a pointer; on our ABIs passing it on as a pointer-sized
 * value is what glibc itself does. */
static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	int r = real(fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && !chaos_in_vfork_child())
		fd_copy(fd, r);
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	CHAOS_INIT();
	return fcntl_common(real_fcntl, fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	CHAOS_INIT();
	return fcntl_common(real_fcntl64, fd, cmd, arg);
}
