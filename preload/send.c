/* send.c -- send(2), sendto(2), sendmsg(2), sendmmsg(2): errors and resets on the way out
 *
 * Each hook is the fast check (io_way, internal.h) and a tail jump to libc; the rest is in the
 * cold *_slow functions.  A call naming a destination of its own (a UDP datagram) takes the
 * fast path only when no rule acts on I/O: its destination is looked up per call.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "internal.h"

static IO_SLOW ssize_t send_slow(int fd, const void *buf, size_t len, int flags)
{
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_SEND, .fd = fd, .buf = (void *)buf, .len = len,
			    .flags = flags };
	return io_call(&op);
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (io_skip(fd))
		return real_send(fd, buf, len, flags);
	return send_slow(fd, buf, len, flags);
}

static IO_SLOW ssize_t sendto_slow(int fd, const void *buf, size_t len, int flags,
				   const struct sockaddr *to, socklen_t tolen)
{
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_SENDTO, .fd = fd, .buf = (void *)buf, .len = len,
			    .flags = flags, .to = to, .tolen = tolen };
	return io_call(&op);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
		      socklen_t tolen)
{
	enum io_way w = io_way(fd);
	if (likely(w == IO_DIRECT || (w == IO_DIRECT_NO_DEST && !to)))
		return real_sendto(fd, buf, len, flags, to, tolen);
	return sendto_slow(fd, buf, len, flags, to, tolen);
}

static IO_SLOW ssize_t sendmsg_slow(int fd, const struct msghdr *msg, int flags)
{
	CHAOS_INIT();
	if (!msg || msg->msg_iovlen > IOV_MAX)
		return real_sendmsg(fd, msg, flags);
	struct io_op op = { .fn = IOF_SENDMSG, .fd = fd, .buf = (void *)msg, .flags = flags,
			    .len = iov_total(msg->msg_iov, (int)msg->msg_iovlen),
			    .to = msg->msg_name, .tolen = msg->msg_namelen };
	return io_call(&op);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	/* (msg is looked at only where the slow path would: on one of our sockets) */
	enum io_way w = io_way(fd);
	if (likely(w == IO_DIRECT || (w == IO_DIRECT_NO_DEST && msg && !msg->msg_name)))
		return real_sendmsg(fd, msg, flags);
	return sendmsg_slow(fd, msg, flags);
}

static IO_SLOW int sendmmsg_slow(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	struct io_ctx c;
	size_t len = SIZE_MAX; /* a batch passes or fails whole */
	CHAOS_INIT();
	const struct sockaddr *to = vlen && vec ? vec[0].msg_hdr.msg_name : NULL;
	socklen_t tolen = vlen && vec ? vec[0].msg_hdr.msg_namelen : 0;
	if (io_before(fd, CALL_SEND, "sendmmsg", to, tolen, &len, &c) == IO_FAIL)
		return (int)io_fail(&c, flags);
	int r = real_sendmmsg(fd, vec, vlen, flags);
	ssize_t bytes = 0;
	for (int i = 0; i < r; i++)
		bytes += vec[i].msg_len;
	if (r < 0)
		return (int)io_after(CALL_SEND, flags, r, &c);
	io_after(CALL_SEND, flags, bytes, &c);
	return r;
}

EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	/* (a batch is looked up by its first datagram's destination, as in the slow path) */
	enum io_way w = io_way(fd);
	if (likely(w == IO_DIRECT ||
		   (w == IO_DIRECT_NO_DEST && vlen && vec && !vec[0].msg_hdr.msg_name)))
		return real_sendmmsg(fd, vec, vlen, flags);
	return sendmmsg_slow(fd, vec, vlen, flags);
}
