/* netprobe.c -- make one hooked call the way a real client does, print what it saw
 *
 * The integration tests run it under chaos-exec and compare its one-line answer with what the
 * rule should produce: "ok ..." or the errno / EAI_* / h_errno name.  Built twice: plain, and
 * with _FORTIFY_SOURCE=2 so recv/read go through __recv_chk/__read_chk.
 *
 *   netprobe connect HOST PORT [block|nonblock|poll|epoll|select]
 *   netprobe io HOST PORT VIA N      send "hello\n"-style payload of N bytes with VIA
 *                                    (send|write|sendto|sendmsg|writev), read the echo back
 *                                    with the matching call; prints "ok SENT RECEIVED"
 *   netprobe connects HOST PORT N    N sequential connects; prints "ok OK FAILED" + a
 *                                    line of per-call results ("+" ok, "x" failed)
 *   netprobe gai NAME                getaddrinfo; prints the addresses
 *   netprobe ghbn NAME | ghbn_r NAME | ghbn2 NAME
 *   netprobe gni ADDR                getnameinfo with NI_NAMEREQD
 *   netprobe dup2 HOST PORT          dup2 /dev/null over a connected socket, then write to it
 *   netprobe udp HOST PORT           sendto a datagram; prints ok or the errno
 *   netprobe serve HOST PORT         a service: for each line on stdin, connect and print
 *                                    "ok" or the errno (for live-control tests)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *ename(int e)
{
	static const struct {
		int e;
		const char *n;
	} t[] = {
		{ ECONNREFUSED, "ECONNREFUSED" }, { ECONNRESET, "ECONNRESET" },
		{ ETIMEDOUT, "ETIMEDOUT" },	  { EHOSTUNREACH, "EHOSTUNREACH" },
		{ ENETUNREACH, "ENETUNREACH" },	  { EACCES, "EACCES" },
		{ EPERM, "EPERM" },		  { EPIPE, "EPIPE" },
		{ EAGAIN, "EAGAIN" },		  { EINPROGRESS, "EINPROGRESS" },
		{ ENOTCONN, "ENOTCONN" },	  { EADDRNOTAVAIL, "EADDRNOTAVAIL" },
		{ ENOBUFS, "ENOBUFS" },		  { EINTR, "EINTR" },
		{ EBADF, "EBADF" },		  { ENOTSOCK, "ENOTSOCK" },
		{ EMSGSIZE, "EMSGSIZE" },	  { ENETDOWN, "ENETDOWN" },
		{ EHOSTDOWN, "EHOSTDOWN" },	  { ECONNABORTED, "ECONNABORTED" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	static char buf[32];
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

static const char *gainame(int rc)
{
	switch (rc) {
	case EAI_NONAME:
		return "EAI_NONAME";
	case EAI_AGAIN:
		return "EAI_AGAIN";
	case EAI_FAIL:
		return "EAI_FAIL";
	case EAI_NODATA:
		return "EAI_NODATA";
	case EAI_ADDRFAMILY:
		return "EAI_ADDRFAMILY";
	case EAI_SYSTEM:
		return "EAI_SYSTEM";
	}
	return "EAI_other";
}

static int resolve(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len,
		   int socktype)
{
	struct addrinfo hints = { .ai_socktype = socktype, .ai_flags = AI_NUMERICSERV }, *ai;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		printf("%s\n", gainame(rc));
		exit(0);
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return ss->ss_family;
}

/* Connect as a blocking client, or non-blocking and wait with poll/epoll/select + SO_ERROR. */
static int do_connect(const char *host, const char *port, const char *mode)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fam = resolve(host, port, &ss, &len, SOCK_STREAM);
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool nb = strcmp(mode, "block") != 0;
	if (nb)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	int rc = connect(fd, (struct sockaddr *)&ss, len);
	if (rc == 0)
		return fd;
	if (!nb || errno != EINPROGRESS) {
		errno = errno ? errno : EIO;
		return -1;
	}
	if (strcmp(mode, "nonblock") == 0) {
		/* what many clients do: connect again to learn the outcome */
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		poll(&p, 1, 5000);
		if (connect(fd, (struct sockaddr *)&ss, len) == 0 || errno == EISCONN)
			return fd;
		return -1;
	}
	if (strcmp(mode, "poll") == 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 5000) != 1) {
			errno = ETIMEDOUT;
			return -1;
		}
	} else if (strcmp(mode, "epoll") == 0) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd }, out;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		int n = epoll_wait(ep, &out, 1, 5000);
		close(ep);
		if (n != 1) {
			errno = ETIMEDOUT;
			return -1;
		}
	} else {
		fd_set w;
		FD_ZERO(&w);
		FD_SET(fd, &w);
		struct timeval tv = { 5, 0 };
		if (select(fd + 1, NULL, &w, NULL, &tv) != 1) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	int err = 0;
	socklen_t el = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		errno = err;
		return -1;
	}
	return fd;
}

static ssize_t send_via(int fd, const char *via, const char *buf, size_t n)
{
	if (strcmp(via, "send") == 0)
		return send(fd, buf, n, MSG_NOSIGNAL);
	if (strcmp(via, "write") == 0)
		return write(fd, buf, n);
	if (strcmp(via, "sendto") == 0)
		return sendto(fd, buf, n, MSG_NOSIGNAL, NULL, 0);
	struct iovec iov[2] = { { (void *)buf, n / 2 }, { (void *)(buf + n / 2), n - n / 2 } };
	if (strcmp(via, "writev") == 0)
		return writev(fd, iov, 2);
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static inline __attribute__((always_inline)) ssize_t recv_via(int fd, const char *via, char *buf, size_t n)
{
	if (strcmp(via, "send") == 0)
		return recv(fd, buf, n, 0);
	if (strcmp(via, "write") == 0)
		return read(fd, buf, n);
	if (strcmp(via, "sendto") == 0)
		return recvfrom(fd, buf, n, 0, NULL, NULL);
	struct iovec iov[2] = { { buf, n / 2 }, { buf + n / 2, n - n / 2 } };
	if (strcmp(via, "writev") == 0)
		return readv(fd, iov, 2);
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	return recvmsg(fd, &m, 0);
}

static int do_io(const char *host, const char *port, const char *via, size_t n)
{
	int fd = do_connect(host, port, "block");
	if (fd < 0) {
		printf("connect %s\n", ename(errno));
		return 0;
	}
	char *out = malloc(n), *in = malloc(n);
	for (size_t i = 0; i < n; i++)
		out[i] = (char)('a' + i % 26);
	size_t sent = 0, got = 0;
	while (sent < n) {
		ssize_t r = send_via(fd, via, out + sent, n - sent);
		if (r < 0) {
			printf("send %s after %zu\n", ename(errno), sent);
			return 0;
		}
		sent += (size_t)r;
	}
	while (got < n) {
		char tmp[4096];
		/* a length the compiler cannot bound, so _FORTIFY_SOURCE checks it at run time
		 * through __recv_chk / __read_chk */
		volatile size_t want = sizeof(tmp) < n - got ? sizeof(tmp) : n - got;
		ssize_t r = recv_via(fd, via, tmp, want);
		if (r < 0) {
			printf("recv %s after %zu\n", ename(errno), got);
			return 0;
		}
		if (r == 0) {
			printf("recv EOF after %zu\n", got);
			return 0;
		}
		memcpy(in + got, tmp, (size_t)r);
		got += (size_t)r;
	}
	printf("ok %zu %zu %s\n", sent, got, memcmp(in, out, n) == 0 ? "same" : "DIFFERENT");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: see the top of netprobe.c\n");
		return 2;
	}
	const char *op = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!getenv("NETPROBE_SIGPIPE"))
		signal(SIGPIPE, SIG_IGN);
	if (strcmp(op, "connect") == 0 && argc >= 4) {
		int fd = do_connect(argv[2], argv[3], argc > 4 ? argv[4] : "block");
		printf("%s\n", fd >= 0 ? "ok" : ename(errno));
		return 0;
	}
	if (strcmp(op, "io") == 0 && argc == 6)
		return do_io(argv[2], argv[3], argv[4], (size_t)strtoul(argv[5], NULL, 10));
	if (strcmp(op, "connects") == 0 && argc == 5) {
		int n = atoi(argv[4]), ok = 0;
		char *trace = calloc((size_t)n + 1, 1);
		for (int i = 0; i < n; i++) {
			int fd = do_connect(argv[2], argv[3], "block");
			trace[i] = fd >= 0 ? '+' : 'x';
			ok += fd >= 0;
			if (fd >= 0)
				close(fd);
		}
		printf("ok %d %d\n%s\n", ok, n - ok, trace);
		return 0;
	}
	if (strcmp(op, "gai") == 0) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
		int rc = getaddrinfo(argv[2], NULL, &hints, &ai);
		if (rc) {
			printf("%s\n", gainame(rc));
			return 0;
		}
		printf("ok");
		for (struct addrinfo *a = ai; a; a = a->ai_next) {
			char h[INET6_ADDRSTRLEN];
			getnameinfo(a->ai_addr, a->ai_addrlen, h, sizeof(h), NULL, 0, NI_NUMERICHOST);
			printf(" %s", h);
		}
		printf("\n");
		freeaddrinfo(ai);
		return 0;
	}
	if (strcmp(op, "ghbn") == 0 || strcmp(op, "ghbn2") == 0) {
		struct hostent *h = strcmp(op, "ghbn") == 0 ? gethostbyname(argv[2])
							    : gethostbyname2(argv[2], AF_INET);
		if (!h) {
			printf("%s\n", h_errno == HOST_NOT_FOUND ? "HOST_NOT_FOUND"
				       : h_errno == TRY_AGAIN	 ? "TRY_AGAIN"
				       : h_errno == NO_DATA	 ? "NO_DATA"
								 : "NO_RECOVERY");
			return 0;
		}
		char a[INET6_ADDRSTRLEN];
		inet_ntop(h->h_addrtype, h->h_addr_list[0], a, sizeof(a));
		printf("ok %s\n", a);
		return 0;
	}
	if (strcmp(op, "ghbn_r") == 0) {
		struct hostent he, *res;
		char buf[4096];
		int herr = 0;
		int rc = gethostbyname_r(argv[2], &he, buf, sizeof(buf), &res, &herr);
		if (!res) {
			printf("%s rc=%d\n", herr == HOST_NOT_FOUND ? "HOST_NOT_FOUND"
					      : herr == TRY_AGAIN    ? "TRY_AGAIN"
								     : "other",
			       rc);
			return 0;
		}
		char a[INET6_ADDRSTRLEN];
		inet_ntop(res->h_addrtype, res->h_addr_list[0], a, sizeof(a));
		printf("ok %s\n", a);
		return 0;
	}
	if (strcmp(op, "gni") == 0) {
		struct sockaddr_in in = { .sin_family = AF_INET };
		inet_pton(AF_INET, argv[2], &in.sin_addr);
		char h[NI_MAXHOST];
		int rc = getnameinfo((struct sockaddr *)&in, sizeof(in), h, sizeof(h), NULL, 0,
				     NI_NAMEREQD);
		if (rc)
			printf("%s\n", gainame(rc));
		else
			printf("ok %s\n", h);
		return 0;
	}
	if (strcmp(op, "dup2") == 0 && argc == 4) {
		/* Java's way of closing a socket: dup2 another fd over it */
		int fd = do_connect(argv[2], argv[3], "block");
		if (fd < 0) {
			printf("connect %s\n", ename(errno));
			return 0;
		}
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(devnull, fd);
		ssize_t r = write(fd, "x", 1);
		printf("%s\n", r == 1 ? "ok" : ename(errno));
		return 0;
	}
	if (strcmp(op, "udp") == 0 && argc == 4) {
		struct sockaddr_storage ss;
		socklen_t len;
		int fam = resolve(argv[2], argv[3], &ss, &len, SOCK_DGRAM);
		int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ssize_t r = sendto(fd, "ping", 4, 0, (struct sockaddr *)&ss, len);
		printf("%s\n", r == 4 ? "ok" : ename(errno));
		return 0;
	}
	if (strcmp(op, "serve") == 0 && argc == 4) {
		char line[256];
		while (fgets(line, sizeof(line), stdin)) {
			int fd = do_connect(argv[2], argv[3], "block");
			printf("%s\n", fd >= 0 ? "ok" : ename(errno));
			if (fd >= 0)
				close(fd);
		}
		return 0;
	}
	fprintf(stderr, "netprobe: unknown operation '%s'\n", op);
	return 2;
}
