/* fdreuse.c -- faults follow sockets, never the numbers: a service closes its sockets by dup2
 * (as Java does), close_range, closefrom, or a raw close system call (as libuv does), then the
 * numbers come back as files, accepted sockets and sockets to other destinations
 *
 *   fdreuse PORTS      under chaos-exec with rule 1 '127.0.0.2 error=ECONNRESET on=io' and
 *                      rule 2 '127.0.0.3 error=EPIPE on=send count=1'; PORTS from hammer serve
 *
 * Prints one line per case, "ok CASE" or "FAIL CASE: ...", and exits 1 if any failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static uint16_t ports[5];
static int failures;
static char why[512];
static char dir[4096];

enum { CLEAN = 0, FAULTED = 1, COUNTED = 2 };

static bool failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool failf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return false;
}

static int sock_to(int dest)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ports[dest]) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)dest);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The socket fd is to a faulted destination: write and read fail with ECONNRESET. */
static bool is_faulted(int fd)
{
	char c;
	errno = 0;
	if (write(fd, "x", 1) != -1 || errno != ECONNRESET)
		return failf("write on fd %d (to .2): %s, not ECONNRESET", fd,
			     errno ? strerror(errno) : "written");
	errno = 0;
	if (read(fd, &c, 1) != -1 || errno != ECONNRESET)
		return failf("read on fd %d (to .2): %s, not ECONNRESET", fd,
			     errno ? strerror(errno) : "read");
	return true;
}

/* The socket fd is to the clean .1: an echo goes through, by write/read and send/recv. */
static bool is_clean_socket(int fd)
{
	char buf[6];
	if (write(fd, "hello", 5) != 5 || recv(fd, buf, 5, MSG_WAITALL) != 5 || memcmp(buf, "hello", 5))
		return failf("echo by write/recv on fd %d (to .1): %s", fd, strerror(errno));
	if (send(fd, "again", 5, MSG_NOSIGNAL) != 5 || read(fd, buf, 5) != 5 || memcmp(buf, "again", 5))
		return failf("echo by send/read on fd %d (to .1): %s", fd, strerror(errno));
	return true;
}

/* The file fd takes writes and gives them back (write, writev, read, readv). */
static bool is_clean_file(int fd)
{
	char buf[16] = { 0 };
	struct iovec v[2] = { { "ab", 2 }, { "cd", 2 } };
	if (write(fd, "file", 4) != 4 || writev(fd, v, 2) != 4)
		return failf("write on file fd %d: %s", fd, strerror(errno));
	if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, 4) != 4)
		return failf("read on file fd %d: %s", fd, strerror(errno));
	struct iovec r = { buf + 4, 4 };
	if (readv(fd, &r, 1) != 4 || memcmp(buf, "fileabcd", 8))
		return failf("file fd %d gave back '%.8s'", fd, buf);
	return true;
}

/* A file that takes the lowest free number, which must be want. */
static int file_at(int want)
{
	char path[4200];
	static int n;
	snprintf(path, sizeof(path), "%s/file.%d", dir, n++);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd != want) {
		failf("setup: the file got fd %d, not %d", fd, want);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A socket to dest that must get number want. */
static int sock_at(int dest, int want)
{
	int fd = sock_to(dest);
	if (fd != want) {
		failf("setup: the socket to .%d got fd %d, not %d", dest + 1, fd, want);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A faulted socket's number, after ender() closed it, is a file, a clean socket, then a
 * faulted socket again. */
static bool reuse_one(void (*ender)(int fd))
{
	int s = sock_to(FAULTED);
	if (s < 0)
		return failf("connect to .2: %s", strerror(errno));
	if (!is_faulted(s))
		return false;
	ender(s);
	int f = file_at(s);
	if (f < 0 || !is_clean_file(f))
		return false;
	close(f);
	int c = sock_at(CLEAN, s);
	if (c < 0 || !is_clean_socket(c))
		return false;
	close(c);
	int b = sock_at(FAULTED, s);
	if (b < 0 || !is_faulted(b))
		return false;
	close(b);
	return true;
}

static int marker = -1;

static void end_by_dup2(int fd)
{
	dup2(marker, fd); /* Java: the number now points at a dead socketpair end */
	close(fd);
}

static void end_by_close_range(int fd)
{
	close_range((unsigned)fd, (unsigned)fd, 0);
}

static void end_by_raw_close(int fd)
{
	syscall(SYS_close, fd);
}

/* Three faulted sockets in a row, closed together by ender(first), come back as files, then
 * clean sockets, then faulted sockets. */
static bool reuse_range(void (*ender)(int first))
{
	int s[3];
	for (int i = 0; i < 3; i++) {
		s[i] = sock_to(FAULTED);
		if (s[i] < 0 || (i && s[i] != s[0] + i))
			return failf("setup: sockets %d %d %d are not in a row", s[0], i > 0 ? s[1] : -1,
				     s[i]);
		if (!is_faulted(s[i]))
			return false;
	}
	ender(s[0]);
	int f[3];
	for (int i = 0; i < 3; i++)
		if ((f[i] = file_at(s[0] + i)) < 0 || !is_clean_file(f[i]))
			return false;
	ender(s[0]);
	for (int i = 0; i < 3; i++)
		if ((f[i] = sock_at(CLEAN, s[0] + i)) < 0 || !is_clean_socket(f[i]))
			return false;
	ender(s[0]);
	/* all three first: a fault may reopen the log (closefrom closed it) at a free number */
	for (int i = 0; i < 3; i++)
		if ((f[i] = sock_at(FAULTED, s[0] + i)) < 0)
			return false;
	for (int i = 0; i < 3; i++)
		if (!is_faulted(f[i]))
			return false;
	ender(s[0]);
	return true;
}

static void range_close_range(int first)
{
	close_range((unsigned)first, (unsigned)first + 2, 0);
}

static void range_closefrom(int first)
{
	closefrom(first);
}

static bool cloexec_keeps(void)
{
	int s = sock_to(FAULTED);
	if (s < 0)
		return failf("connect to .2: %s", strerror(errno));
	if (close_range((unsigned)s, (unsigned)s, CLOSE_RANGE_CLOEXEC) < 0)
		return failf("close_range CLOEXEC: %s", strerror(errno));
	bool ok = is_faulted(s);
	close(s);
	return ok;
}

/* An accepted socket whose peer is a faulted address (127.0.0.2), on the number of a faulted
 * outgoing socket closed behind the library's back, is incoming: never faulted. */
static bool accepted_reuse(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET }, from = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
	socklen_t len = sizeof(a);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 8) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		return failf("listen on 127.0.0.1: %s", strerror(errno));
	int s = sock_to(FAULTED);
	if (s < 0 || !is_faulted(s))
		return s < 0 ? failf("connect to .2: %s", strerror(errno)) : false;
	end_by_raw_close(s);
	/* a client from 127.0.0.2, kept away from the low numbers, so the accepted socket gets s */
	int cl = socket(AF_INET, SOCK_STREAM, 0);
	int moved = fcntl(cl, F_DUPFD, 100);
	close(cl);
	if (moved < 0 || bind(moved, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    connect(moved, (struct sockaddr *)&a, sizeof(a)) < 0)
		return failf("connect from 127.0.0.2 to the listener: %s", strerror(errno));
	int in = accept(l, NULL, NULL);
	if (in != s)
		return failf("setup: the accepted socket got fd %d, not %d", in, s);
	char buf[5];
	bool ok = true;
	if (write(in, "hello", 5) != 5)
		ok = failf("write on the accepted fd %d (peer 127.0.0.2): %s", in, strerror(errno));
	else if (read(moved, buf, 5) != 5)
		ok = failf("read on the client: %s", strerror(errno));
	else if (send(moved, "hello", 5, 0) != 5 || read(in, buf, 5) != 5)
		ok = failf("read on the accepted fd %d (peer 127.0.0.2): %s", in, strerror(errno));
	close(in);
	close(moved);
	close(l);
	return ok;
}

/* A socket closed behind the library's back before any fault fired on it: its number comes back
 * as a file, which takes writes; the rule's count=1 is still there for the next socket. */
static bool count_not_spent_on_file(void)
{
	int s = sock_to(COUNTED);
	if (s < 0)
		return failf("connect to .3: %s", strerror(errno));
	end_by_raw_close(s);
	int f = file_at(s);
	if (f < 0 || !is_clean_file(f))
		return false;
	close(f);
	int c = sock_to(COUNTED);
	if (c < 0)
		return failf("connect to .3: %s", strerror(errno));
	errno = 0;
	ssize_t w = send(c, "x", 1, MSG_NOSIGNAL);
	int e = errno;
	close(c);
	if (w != -1 || e != EPIPE)
		return failf("the first send to .3 %s, not EPIPE: 'count=1' was spent on the file's "
			     "writes", w >= 0 ? "went through" : strerror(e));
	return true;
}

static void run(const char *name, bool (*fn)(void))
{
	why[0] = '\0';
	if (fn()) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: %s\n", name, why);
		failures++;
	}
	fflush(stdout);
}

static bool c_dup2(void) { return reuse_one(end_by_dup2); }
static bool c_close_range(void) { return reuse_one(end_by_close_range); }
static bool c_raw(void) { return reuse_one(end_by_raw_close); }
static bool c_range(void) { return reuse_range(range_close_range); }
static bool c_closefrom(void) { return reuse_range(range_closefrom); }

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fdreuse PORTS\n");
		return 2;
	}
	const char *p = argv[1];
	for (int i = 0; i < 5; i++) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || !v || v > 65535 || (i < 4 && *end != ',')) {
			fprintf(stderr, "fdreuse: bad PORTS '%s'\n", argv[1]);
			return 2;
		}
		ports[i] = (uint16_t)v;
		p = end + 1;
	}
	snprintf(dir, sizeof(dir), "%s/fdreuse.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 2;
	close(sv[1]);
	/* the marker and the log out of the way: high numbers, so the cases own the low ones */
	marker = fcntl(sv[0], F_DUPFD, 500);
	close(sv[0]);
	/* the first fault opens the log at the lowest free number: keep the low ones busy then */
	int busy[20];
	for (int i = 0; i < 20; i++)
		busy[i] = open("/dev/null", O_RDONLY);
	int s = sock_to(FAULTED);
	if (s < 0 || write(s, "x", 1) != -1) {
		fprintf(stderr, "fdreuse: .2 is not faulted: run under chaos-exec with the rules\n");
		return 2;
	}
	close(s);
	for (int i = 0; i < 20; i++)
		close(busy[i]);
	run("dup2-over-socket", c_dup2);
	run("close_range-one", c_close_range);
	run("raw-close-syscall", c_raw);
	run("close_range-many", c_range);
	run("close_range-cloexec-keeps-faults", cloexec_keeps);
	run("accepted-on-reused-number", accepted_reuse);
	run("count-not-spent-on-a-file", count_not_spent_on_file);
	run("closefrom", c_closefrom); /* last: it closes the log too */
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fdreuse: could not remove %s\n", dir);
	return failures ? 1 : 0;
}
