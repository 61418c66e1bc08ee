/* send.c -- send(2), sendto(2), sendmsg(2), sendmmsg(2): errors and resets on the way out */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "internal.h"

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct io_ctx c;
	if (io_fast())
		return real_send(fd, buf, len, flags);
	CHAOS_INIT();
	if (io_before(fd, CALL_SEND, "send", NULL, 0, &len, &c) == IO_FAIL)
		return io_fail(&c, flags);
	return io_after(CALL_SEND, flags, real_send(fd, buf, len, flags), &c);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
		      socklen_t tolen)
{
	struct io_ctx c;
	if (io_fast())
		return real_sendto(fd, buf, len, flags, to, tolen);
	CHAOS_INIT();
	if (io_before(fd, CALL_SEND, "sendto", to, tolen, &len, &c) == IO_FAIL)
		return io_fail(&c, flags);
	return io_after(CALL_SEND, flags, real_sendto(fd, buf, len, flags, to, tolen), &c);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct io_ctx c;
	if (io_fast())
		return real_sendmsg(fd, msg, flags);
	CHAOS_INIT();
	if (!msg || msg->msg_iovlen > IOV_MAX)
		return real_sendmsg(fd, msg, flags);
	size_t total = iov_total(msg->msg_iov, (int)msg->msg_iovlen), len = total;
	if (io_before(fd, CALL_SEND, "sendmsg", msg->msg_name, msg->msg_namelen, &len, &c) ==
	    IO_FAIL)
		return io_fail(&c, flags);
	if (len == total)
		return io_after(CALL_SEND, flags, real_sendmsg(fd, msg, flags), &c);
	return io_after(CALL_SEND, flags, clamped_msg(fd, (struct msghdr *)msg, flags, len, true),
			&c);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	struct io_ctx c;
	size_t len = SIZE_MAX; /* a batch passes or fails whole */
	if (io_fast())
		return real_sendmmsg(fd, vec, vlen, flags);
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
