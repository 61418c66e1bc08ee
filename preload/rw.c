/* rw.c -- read(2), readv(2), write(2), writev(2) and __read_chk, on sockets only
 *
 * TLS libraries and runtimes (OpenSSL, Node, Java) move socket data with read and write, so the
 * same faults apply there.  For anything that is not one of our sockets the cost is one load
 * and a branch (io_fast), or a table lookup while rules act on I/O.
 */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "internal.h"

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	if (io_fast())
		return real_read(fd, buf, len);
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_READ, .fd = fd, .buf = buf, .len = len };
	return io_call(&op);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (io_fast() || len > buflen)
		return real___read_chk(fd, buf, len, buflen); /* (an overflow aborts there) */
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_READ_CHK, .fd = fd, .buf = buf, .len = len, .buflen = buflen };
	return io_call(&op);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	if (io_fast())
		return real_readv(fd, iov, cnt);
	CHAOS_INIT();
	if (cnt < 0 || cnt > IOV_MAX || !iov)
		return real_readv(fd, iov, cnt);
	struct io_op op = { .fn = IOF_READV, .fd = fd, .buf = (void *)iov, .iovcnt = cnt,
			    .len = iov_total(iov, cnt) };
	return io_call(&op);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	if (io_fast())
		return real_write(fd, buf, len);
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_WRITE, .fd = fd, .buf = (void *)buf, .len = len };
	return io_call(&op);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (io_fast())
		return real_writev(fd, iov, cnt);
	CHAOS_INIT();
	if (cnt < 0 || cnt > IOV_MAX || !iov)
		return real_writev(fd, iov, cnt);
	struct io_op op = { .fn = IOF_WRITEV, .fd = fd, .buf = (void *)iov, .iovcnt = cnt,
			    .len = iov_total(iov, cnt) };
	return io_call(&op);
}
