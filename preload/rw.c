/* rw.c -- read(2), readv(2), write(2), writev(2) and __read_chk, on sockets only
 *
 * TLS libraries and runtimes (OpenSSL, Node, Java) move socket data with read and write, so the
 * same faults apply there.  For anything that is not one of our sockets the hook is a few loads
 * and a tail jump to libc (io_skip, internal.h): no rule on I/O, or an fd known to be a file,
 * a pipe or a socket no rule covers.  The rest is in the cold *_slow functions.
 */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "internal.h"

static IO_SLOW ssize_t read_slow(int fd, void *buf, size_t len)
{
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_READ, .fd = fd, .buf = buf, .len = len };
	return io_call(&op);
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	if (io_skip(fd))
		return real_read(fd, buf, len);
	return read_slow(fd, buf, len);
}

static IO_SLOW ssize_t read_chk_slow(int fd, void *buf, size_t len, size_t buflen)
{
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_READ_CHK, .fd = fd, .buf = buf, .len = len, .buflen = buflen };
	return io_call(&op);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (io_skip(fd) || len > buflen)
		return real___read_chk(fd, buf, len, buflen); /* (an overflow aborts there) */
	return read_chk_slow(fd, buf, len, buflen);
}

static IO_SLOW ssize_t readv_slow(int fd, const struct iovec *iov, int cnt)
{
	CHAOS_INIT();
	if (cnt < 0 || cnt > IOV_MAX || !iov)
		return real_readv(fd, iov, cnt);
	struct io_op op = { .fn = IOF_READV, .fd = fd, .buf = (void *)iov, .iovcnt = cnt,
			    .len = iov_total(iov, cnt) };
	return io_call(&op);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	if (io_skip(fd))
		return real_readv(fd, iov, cnt);
	return readv_slow(fd, iov, cnt);
}

static IO_SLOW ssize_t write_slow(int fd, const void *buf, size_t len)
{
	CHAOS_INIT();
	struct io_op op = { .fn = IOF_WRITE, .fd = fd, .buf = (void *)buf, .len = len };
	return io_call(&op);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	if (io_skip(fd))
		return real_write(fd, buf, len);
	return write_slow(fd, buf, len);
}

static IO_SLOW ssize_t writev_slow(int fd, const struct iovec *iov, int cnt)
{
	CHAOS_INIT();
	if (cnt < 0 || cnt > IOV_MAX || !iov)
		return real_writev(fd, iov, cnt);
	struct io_op op = { .fn = IOF_WRITEV, .fd = fd, .buf = (void *)iov, .iovcnt = cnt,
			    .len = iov_total(iov, cnt) };
	return io_call(&op);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (io_skip(fd))
		return real_writev(fd, iov, cnt);
	return writev_slow(fd, iov, cnt);
}
