/* recv.c -- recv(2), recvfrom(2), recvmsg(2), recvmmsg(2) and the fortified __recv*_chk
 *
 * Each hook is the fast check (io_skip, internal.h) and a tail jump to libc; the rest is in
 * the cold *_slow functions.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "internal.h"

static IO_SLOW ssize_t recv_slow(int fd, void *buf, size_t len, int flags)
{
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_RECV, .fd = fd, .buf = buf, .len = len, .flags = flags };
	return io_call(&op);
}

EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	if (io_skip(fd))
		return real_recv(fd, buf, len, flags);
	return recv_slow(fd, buf, len, flags);
}

static IO_SLOW ssize_t recv_chk_slow(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_RECV_CHK, .fd = fd, .buf = buf, .len = len, .buflen = buflen,
			    .flags = flags };
	return io_call(&op);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (io_skip(fd) || len > buflen)
		return real___recv_chk(fd, buf, len, buflen, flags); /* (an overflow aborts there) */
	return recv_chk_slow(fd, buf, len, buflen, flags);
}

static IO_SLOW ssize_t recvfrom_slow(int fd, void *buf, size_t len, int flags,
				     struct sockaddr *from, socklen_t *fromlen)
{
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_RECVFROM, .fd = fd, .buf = buf, .len = len, .flags = flags,
			    .from = from, .fromlen = fromlen };
	return io_call(&op);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			socklen_t *fromlen)
{
	if (io_skip(fd))
		return real_recvfrom(fd, buf, len, flags, from, fromlen);
	return recvfrom_slow(fd, buf, len, flags, from, fromlen);
}

static IO_SLOW ssize_t recvfrom_chk_slow(int fd, void *buf, size_t len, size_t buflen, int flags,
					 struct sockaddr *from, socklen_t *fromlen)
{
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_RECVFROM_CHK, .fd = fd, .buf = buf, .len = len,
			    .buflen = buflen, .flags = flags, .from = from, .fromlen = fromlen };
	return io_call(&op);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
			      struct sockaddr *from, socklen_t *fromlen)
{
	if (io_skip(fd) || len > buflen)
		return real___recvfrom_chk(fd, buf, len, buflen, flags, from, fromlen);
	return recvfrom_chk_slow(fd, buf, len, buflen, flags, from, fromlen);
}

static IO_SLOW ssize_t recvmsg_slow(int fd, struct msghdr *msg, int flags)
{
	CHAOS_INIT();
	if (!msg || msg->msg_iovlen > IOV_MAX)
		return real_recvmsg(fd, msg, flags);
	struct io_op op = { .fn = IOF_RECVMSG, .fd = fd, .buf = msg, .flags = flags,
			    .len = iov_total(msg->msg_iov, (int)msg->msg_iovlen) };
	return io_call(&op);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (io_skip(fd))
		return real_recvmsg(fd, msg, flags);
	return recvmsg_slow(fd, msg, flags);
}

static IO_SLOW int recvmmsg_slow(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
				 struct timespec *timeout)
{
	struct io_ctx c;
	size_t len = SIZE_MAX; /* a batch passes or fails whole */
	CHAOS_INIT();
	if (io_before(fd, CALL_RECV, "recvmmsg", NULL, 0, &len, &c) == IO_FAIL)
		return (int)io_fail(&c, flags);
	int r = real_recvmmsg(fd, vec, vlen, flags, timeout);
	if (r < 0)
		return (int)io_after(CALL_RECV, flags, r, &c);
	ssize_t bytes = 0;
	for (int i = 0; i < r; i++)
		bytes += vec[i].msg_len;
	io_after(CALL_RECV, flags, bytes, &c);
	return r;
}

EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
		    struct timespec *timeout)
{
	if (io_skip(fd))
		return real_recvmmsg(fd, vec, vlen, flags, timeout);
	return recvmmsg_slow(fd, vec, vlen, flags, timeout);
}
