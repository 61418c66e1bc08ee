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
	struct io_ctx c;
	if (io_fast())
		return real_read(fd, buf, len);
	CHAOS_INIT();
	if (io_before(fd, CALL_RECV, "read", NULL, 0, &len, &c) == IO_FAIL)
		return io_fail(&c, 0);
	return io_after(CALL_RECV, 0, real_read(fd, buf, len), &c);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	struct io_ctx c;
	if (io_fast())
		return real___read_chk(fd, buf, len, buflen);
	CHAOS_INIT();
	if (io_before(fd, CALL_RECV, "read", NULL, 0, &len, &c) == IO_FAIL)
		return io_fail(&c, 0);
	return io_after(CALL_RECV, 0, real___read_chk(fd, buf, len, buflen), &c);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct io_ctx c;
	if (io_fast())
		return real_readv(fd, iov, cnt);
	CHAOS_INIT();
	if (cnt < 0 || cnt > IOV_MAX || !iov)
		return real_readv(fd, iov, cnt);
	size_t total = iov_total(iov, cnt), len = total;
	if (io_before(fd, CALL_RECV, "readv", NULL, 0, &len, &c) == IO_FAIL)
		return io_fail(&c, 0);
	if (len == total)
		return io_after(CALL_RECV, 0, real_readv(fd, iov, cnt), &c);
	return io_after(CALL_RECV, 0, clamped_rwv(fd, iov, cnt, len, false), &c);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct io_ctx c;
	if (io_fast())
		return real_write(fd, buf, len);
	CHAOS_INIT();
	if (io_before(fd, CALL_SEND, "write", NULL, 0, &len, &c) == IO_FAIL)
		return io_fail(&c, 0);
	return io_after(CALL_SEND, 0, real_write(fd, buf, len), &c);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct io_ctx c;
	if (io_fast())
		return real_writev(fd, iov, cnt);
	CHAOS_INIT();
	if (cnt < 0 || cnt > IOV_MAX || !iov)
		return real_writev(fd, iov, cnt);
	size_t total = iov_total(iov, cnt), len = total;
	if (io_before(fd, CALL_SEND, "writev", NULL, 0, &len, &c) == IO_FAIL)
		return io_fail(&c, 0);
	if (len == total)
		return io_after(CALL_SEND, 0, real_writev(fd, iov, cnt), &c);
	return io_after(CALL_SEND, 0, clamped_rwv(fd, iov, cnt, len, true), &c);
}
