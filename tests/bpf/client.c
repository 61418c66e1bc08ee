/* client.c -- the C client the chaos-attach tests drive (built with gcc -static): one network
 * call per run, the outcome on stdout as "STEP RESULT MS"
 *
 *   client connect HOST PORT [TIMEOUT_MS]      connect          -> connect ok 0 | connect ECONNREFUSED 0
 *   client nbconnect HOST PORT                 non-blocking connect, then poll and SO_ERROR
 *                                                               -> connect EINPROGRESS 0 error ECONNREFUSED 0
 *   client rr HOST PORT [TIMEOUT_MS]           connect, "ping", read the echo
 *                                                               -> rr ok 1 | recv TIMEOUT 500
 *   client udp HOST PORT sendto|connect [N]    N datagrams (default 2), each result
 *   client gai NAME                            getaddrinfo      -> gai 192.0.2.1 3 | gai EAI_NONAME 2
 *   client bulk HOST PORT BYTES [TIMEOUT_MS]   send BYTES to a sink, then wait for its close
 *                                                               -> bulk ok 910 (bytes/s on stderr)
 *   client download HOST PORT BYTES            read BYTES from a source, then close
 *                                                               -> download ok 610
 *   client loop HOST PORT INTERVAL_MS          connect every INTERVAL_MS, forever: a line
 *                                              "EPOCH_MS ok|ERRNO" each time the outcome changes
 *
 * TIMEOUT is a connect timeout through SO_SNDTIMEO (then "TIMEOUT") and a poll timeout on reads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errnos.h"

static struct timespec t0;

static long ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
}

static const char *ename(int e)
{
	static char buf[32];
	const char *n = chaos_errno_name(e);
	if (n)
		return n;
	if (e == EINPROGRESS)
		return "TIMEOUT"; /* a connect that SO_SNDTIMEO cut short */
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

static int num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000000) {
		fprintf(stderr, "client: '%s' is not a number\n", s);
		exit(2);
	}
	return (int)v;
}

/* HOST PORT into an address: IPv4, IPv6, or IPv4-mapped IPv6 as given. */
static socklen_t addr_of(const char *host, const char *port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)num(port));
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)num(port));
		return sizeof(*a6);
	}
	fprintf(stderr, "client: '%s' is not an address\n", host);
	exit(2);
}

static int open_conn(const char *host, const char *port, int timeout_ms, int *err)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(host, port, &ss);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		*err = errno;
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		*err = errno;
		close(fd);
		return -1;
	}
	return fd;
}

/* Read exactly n bytes within timeout_ms: 0, or the errno ("TIMEOUT" is ETIME). */
static int read_n(int fd, char *buf, size_t n, int timeout_ms)
{
	long end = ms() + timeout_ms;
	while (n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = end - ms();
		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return ETIME;
		ssize_t r = recv(fd, buf, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return ECONNRESET;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static int cmd_connect(char **av, int ac, bool rr)
{
	int timeout = ac > 4 ? num(av[4]) : 1000, err = 0;
	int fd = open_conn(av[2], av[3], timeout, &err);
	char buf[5];

	if (fd < 0) {
		printf("connect %s %ld\n", ename(err), ms());
		return 0;
	}
	if (!rr) {
		printf("connect ok %ld\n", ms());
		close(fd);
		return 0;
	}
	if (send(fd, "ping\n", 5, MSG_NOSIGNAL) != 5) {
		printf("send %s %ld\n", ename(errno), ms());
		return 0;
	}
	err = read_n(fd, buf, 5, timeout);
	if (err)
		printf("recv %s %ld\n", err == ETIME ? "TIMEOUT" : ename(err), ms());
	else
		printf("rr ok %ld\n", ms());
	close(fd);
	return 0;
}

static int cmd_nbconnect(char **av)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(av[2], av[3], &ss), elen = sizeof(int);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		printf("connect ok %ld\n", ms());
		return 0;
	}
	printf("connect %s %ld\n", errno == EINPROGRESS ? "EINPROGRESS" : ename(errno), ms());
	if (errno != EINPROGRESS)
		return 0;
	if (poll(&p, 1, 2000) != 1) {
		printf("poll TIMEOUT %ld\n", ms());
		return 0;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	printf("error %s %ld\n", err ? ename(err) : "ok", ms());
	return 0;
}

static int cmd_udp(char **av, int ac)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int n = ac > 5 ? num(av[5]) : 2, fd;
	bool conn = strcmp(av[4], "connect") == 0;

	len = addr_of(av[2], av[3], &ss);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (conn && connect(fd, (struct sockaddr *)&ss, len) < 0) {
		printf("connect %s %ld\n", ename(errno), ms());
		return 0;
	}
	if (conn)
		printf("connect ok %ld\n", ms());
	for (int i = 0; i < n; i++) {
		ssize_t r = conn ? send(fd, "x", 1, 0) : sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len);
		if (n <= 10)
			printf("send %s %ld\n", r < 0 ? ename(errno) : "ok", ms());
		usleep(n <= 10 ? 50000 : 200); /* room for an ICMP error to come back */
	}
	return 0;
}

static const char *eai_name(int rc)
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
	case EAI_SYSTEM:
		return "EAI_SYSTEM";
	}
	return "EAI_OTHER";
}

static int cmd_gai(char **av)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int rc = getaddrinfo(av[2], "80", &hints, &res);
	char a[INET6_ADDRSTRLEN];

	if (rc) {
		printf("gai %s %ld\n", eai_name(rc), ms());
		return 0;
	}
	printf("gai");
	for (ai = res; ai; ai = ai->ai_next) {
		const void *p = ai->ai_family == AF_INET
					? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
					: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		printf(" %s", inet_ntop(ai->ai_family, p, a, sizeof(a)));
	}
	printf(" %ld\n", ms());
	freeaddrinfo(res);
	return 0;
}

static int cmd_bulk(char **av, int ac)
{
	int timeout = ac > 5 ? num(av[5]) : 10000, err = 0;
	long total = num(av[4]), sent = 0;
	int fd = open_conn(av[2], av[3], timeout, &err);
	static char buf[16384];

	if (fd < 0) {
		printf("connect %s %ld\n", ename(err), ms());
		return 0;
	}
	long start = ms();
	while (sent < total) {
		size_t chunk = total - sent < (long)sizeof(buf) ? (size_t)(total - sent) : sizeof(buf);
		ssize_t w = send(fd, buf, chunk, MSG_NOSIGNAL);
		if (w < 0) {
			printf("send %s %ld\n", ename(errno), ms());
			return 0;
		}
		sent += w;
	}
	shutdown(fd, SHUT_WR);
	/* the sink closes once it has everything: then the bytes have really gone */
	err = read_n(fd, buf, 1, timeout);
	long el = ms() - start;
	fprintf(stderr, "bulk: %ld bytes in %ld ms: %.0f bytes/s\n", total, el,
		el ? total * 1000.0 / el : 0.0);
	printf("bulk %s %ld\n", err == ECONNRESET ? "ok" : err == ETIME ? "TIMEOUT" : ename(err),
	       el);
	return 0;
}

static int cmd_download(char **av)
{
	long total = num(av[4]), got = 0;
	int err = 0, fd = open_conn(av[2], av[3], 2000, &err);
	static char buf[65536];

	if (fd < 0) {
		printf("connect %s %ld\n", ename(err), ms());
		return 0;
	}
	long start = ms();
	while (got < total) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0) {
			printf("recv %s %ld\n", r ? ename(errno) : "EOF", ms());
			return 0;
		}
		got += r;
	}
	long el = ms() - start;
	fprintf(stderr, "download: %ld bytes in %ld ms: %.0f bytes/s\n", got, el,
		el ? got * 1000.0 / el : 0.0);
	printf("download ok %ld\n", el);
	close(fd);
	return 0;
}

__attribute__((noreturn)) static void cmd_loop(char **av)
{
	int interval = num(av[4]);
	char last[32] = "";

	for (;;) {
		int err = 0, fd = open_conn(av[2], av[3], 1000, &err);
		const char *now = fd >= 0 ? "ok" : ename(err);
		if (fd >= 0)
			close(fd);
		if (strcmp(now, last) != 0) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			printf("%lld %s\n", (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000, now);
			snprintf(last, sizeof(last), "%s", now);
		}
		usleep((useconds_t)interval * 1000);
	}
}

int main(int ac, char **av)
{
	clock_gettime(CLOCK_MONOTONIC, &t0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ac >= 4 && strcmp(av[1], "connect") == 0)
		return cmd_connect(av, ac, false);
	if (ac >= 4 && strcmp(av[1], "nbconnect") == 0)
		return cmd_nbconnect(av);
	if (ac >= 4 && strcmp(av[1], "rr") == 0)
		return cmd_connect(av, ac, true);
	if (ac >= 5 && strcmp(av[1], "udp") == 0)
		return cmd_udp(av, ac);
	if (ac >= 3 && strcmp(av[1], "gai") == 0)
		return cmd_gai(av);
	if (ac >= 5 && strcmp(av[1], "bulk") == 0)
		return cmd_bulk(av, ac);
	if (ac >= 5 && strcmp(av[1], "download") == 0)
		return cmd_download(av);
	if (ac >= 5 && strcmp(av[1], "loop") == 0)
		cmd_loop(av);
	fprintf(stderr, "usage: client connect|rr|udp|gai|bulk|loop ... (see client.c)\n");
	return 2;
}
