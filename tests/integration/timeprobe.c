/* timeprobe.c -- wait for a connection or an answer the way real clients do, and say when
 *
 * The faults-in-time tests run it under chaos-exec (and against real slow, stalled and
 * black-holed peers) and compare the one line it prints: what the call returned and how many
 * milliseconds it took.  Built plain and with _FORTIFY_SOURCE=2 (poll goes through __poll_chk).
 *
 *   timeprobe connect HOST PORT VIA [SNDTIMEO_MS]
 *       VIA: block | poll | ppoll | select | pselect | epoll | epoll-et | epoll-oneshot
 *       prints "connected MS" or "ERRNO MS" (a wait that ends without an event: "timeout MS")
 *   timeprobe rtt HOST PORT VIA [RCVTIMEO_MS|WAIT_MS]
 *       connect (blocking), send "ping\n", wait for the answer with VIA (the waits above, or
 *       block: a blocking recv with SO_RCVTIMEO), read it; prints "ok BYTES MS" or "ERRNO MS"
 *       or "timeout MS" (WAIT_MS bounds a poll/epoll/select wait, default 5000)
 *   timeprobe signal HOST PORT restart|norestart AT_MS [RCVTIMEO_MS]
 *       a blocking recv of the answer, with SIGALRM (handler with or without SA_RESTART) at
 *       AT_MS; prints "ok BYTES MS", "EINTR MS" or "EAGAIN MS", and "handler" if it ran
 *   timeprobe stream HOST PORT BYTES VIA
 *       send "get BYTES\n" and read until BYTES came (VIA: block | epoll); prints "ok BYTES MS"
 *   timeprobe threads HOST PORT N
 *       N threads, each with its own connection, a blocking round trip each, plus one thread
 *       in epoll; prints "ok N MAX_MS" when all answered
 *   timeprobe send HOST PORT BYTES VIA
 *       send BYTES (VIA: block | poll | epoll) and wait for the server's "ok"; "ok BYTES MS"
 *   timeprobe hold HOST PORT N
 *       N connections, one byte sent on each, and none may answer within 300 ms: prints
 *       "stalled N" and holds them until stdin ends
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct timespec t0;

static long ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
}

static const char *ename(int e)
{
	static const struct {
		int e;
		const char *n;
	} t[] = {
		{ ECONNREFUSED, "ECONNREFUSED" }, { ECONNRESET, "ECONNRESET" },
		{ ETIMEDOUT, "ETIMEDOUT" },	  { EINPROGRESS, "EINPROGRESS" },
		{ EAGAIN, "EAGAIN" },		  { EINTR, "EINTR" },
		{ EALREADY, "EALREADY" },	  { ENOTCONN, "ENOTCONN" },
		{ EPIPE, "EPIPE" },		  { EHOSTUNREACH, "EHOSTUNREACH" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	static char buf[32];
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

static int num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 0 || v > 100000000) {
		fprintf(stderr, "timeprobe: '%s' is not a number\n", s);
		exit(2);
	}
	return (int)v;
}

static struct sockaddr_storage peer;
static socklen_t peerlen;

static void resolve(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		printf("%s\n", gai_strerror(rc));
		exit(0);
	}
	memcpy(&peer, ai->ai_addr, ai->ai_addrlen);
	peerlen = ai->ai_addrlen;
	freeaddrinfo(ai);
}

static void set_timeo(int fd, int opt, int msec)
{
	struct timeval tv = { msec / 1000, (msec % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* a count the compiler cannot see, so the fortified build calls __poll_chk / __ppoll_chk */
static volatile nfds_t one = 1;

/* Wait for fd to be ready for `ev` (POLLIN or POLLOUT) with VIA; returns 1, 0 (time-out) or -1. */
static int wait_ready(int fd, short ev, const char *via, int wait_ms)
{
	if (!strcmp(via, "poll")) {
		struct pollfd p[2] = { { .fd = fd, .events = ev } };
		return poll(p, one, wait_ms);
	}
	if (!strcmp(via, "ppoll")) {
		struct pollfd p[2] = { { .fd = fd, .events = ev } };
		struct timespec ts = { wait_ms / 1000, (wait_ms % 1000) * 1000000L };
		return ppoll(p, one, &ts, NULL);
	}
	if (!strcmp(via, "select") || !strcmp(via, "pselect")) {
		fd_set s;
		FD_ZERO(&s);
		FD_SET(fd, &s);
		if (!strcmp(via, "select")) {
			struct timeval tv = { wait_ms / 1000, (wait_ms % 1000) * 1000 };
			return select(fd + 1, ev == POLLIN ? &s : NULL, ev == POLLOUT ? &s : NULL, NULL,
				      &tv);
		}
		struct timespec ts = { wait_ms / 1000, (wait_ms % 1000) * 1000000L };
		return pselect(fd + 1, ev == POLLIN ? &s : NULL, ev == POLLOUT ? &s : NULL, NULL, &ts,
			       NULL);
	}
	if (!strncmp(via, "epoll", 5)) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event e = { .events = (ev == POLLIN ? EPOLLIN : EPOLLOUT), .data.u64 = 42 };
		if (!strcmp(via, "epoll-et"))
			e.events |= EPOLLET;
		if (!strcmp(via, "epoll-oneshot"))
			e.events |= EPOLLONESHOT;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
		struct epoll_event out[4];
		int n = epoll_wait(ep, out, 4, wait_ms);
		if (n == 1 && out[0].data.u64 != 42) {
			printf("bad epoll data %llx\n", (unsigned long long)out[0].data.u64);
			exit(1);
		}
		close(ep);
		return n;
	}
	fprintf(stderr, "timeprobe: unknown wait '%s'\n", via);
	exit(2);
}

static int do_connect(const char *via, int sndtimeo)
{
	int fd = socket(peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sndtimeo)
		set_timeo(fd, SO_SNDTIMEO, sndtimeo);
	if (!strcmp(via, "block")) {
		if (connect(fd, (struct sockaddr *)&peer, peerlen) < 0) {
			printf("%s %ld\n", ename(errno), ms());
			exit(0);
		}
		return fd;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&peer, peerlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		printf("%s %ld\n", ename(errno), ms());
		exit(0);
	}
	int r = wait_ready(fd, POLLOUT, via, sndtimeo ? sndtimeo : 5000);
	if (r == 0) {
		printf("timeout %ld\n", ms());
		exit(0);
	}
	int err = 0;
	socklen_t el = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		printf("%s %ld\n", ename(err), ms());
		exit(0);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static volatile sig_atomic_t handled;
static void on_alarm(int sig)
{
	(void)sig;
	handled = 1;
}

static void *rtt_thread(void *arg)
{
	long *out = arg;
	int fd = do_connect("block", 0);
	char buf[64];
	long s = ms();
	if (send(fd, "ping\n", 5, 0) != 5 || recv(fd, buf, sizeof(buf), 0) <= 0) {
		*out = -1;
		return NULL;
	}
	*out = ms() - s;
	close(fd);
	return NULL;
}

static void *epoll_thread(void *arg)
{
	long *out = arg;
	int fd = do_connect("block", 0);
	char buf[64];
	long s = ms();
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ssize_t sent = send(fd, "ping\n", 5, 0);
	if (sent < 0 && errno == EAGAIN && wait_ready(fd, POLLOUT, "epoll", 5000) == 1)
		sent = send(fd, "ping\n", 5, 0); /* (a request held back: delay on=send) */
	int w = sent == 5 ? wait_ready(fd, POLLIN, "epoll", 5000) : -2;
	ssize_t n = w == 1 ? recv(fd, buf, sizeof(buf), 0) : -2;
	if (n <= 0) {
		fprintf(stderr, "epoll thread: send %zd, wait %d, recv %zd: %s\n", sent, w, n,
			strerror(errno));
		*out = -1;
		return NULL;
	}
	*out = ms() - s;
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	clock_gettime(CLOCK_MONOTONIC, &t0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 5) {
		fprintf(stderr, "usage: see timeprobe.c\n");
		return 2;
	}
	const char *cmd = argv[1];
	resolve(argv[2], argv[3]);
	if (!strcmp(cmd, "connect")) {
		int fd = do_connect(argv[4], argc > 5 ? num(argv[5]) : 0);
		(void)fd;
		printf("connected %ld\n", ms());
		return 0;
	}
	if (!strcmp(cmd, "rtt")) {
		const char *via = argv[4];
		int arg = argc > 5 ? num(argv[5]) : 0;
		int fd = do_connect("block", 0);
		char buf[4096];
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (send(fd, "ping\n", 5, 0) != 5) {
			printf("send %s %ld\n", ename(errno), ms());
			return 0;
		}
		if (!strcmp(via, "block")) {
			if (arg)
				set_timeo(fd, SO_RCVTIMEO, arg);
		} else {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			char c;
			ssize_t early = recv(fd, &c, 1, MSG_PEEK);
			if (early >= 0 || errno != EAGAIN) {
				printf("early %zd %s %ld\n", early, early < 0 ? ename(errno) : "", ms());
				return 0;
			}
			int r = wait_ready(fd, POLLIN, via, arg ? arg : 5000);
			if (r <= 0) {
				printf("%s %ld\n", r ? ename(errno) : "timeout", ms());
				return 0;
			}
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			printf("%s %ld\n", ename(errno), ms());
		else
			printf("ok %zd %ld\n", n, ms());
		return 0;
	}
	if (!strcmp(cmd, "signal") && argc >= 6) {
		struct sigaction sa = { .sa_handler = on_alarm };
		sa.sa_flags = !strcmp(argv[4], "restart") ? SA_RESTART : 0;
		sigaction(SIGALRM, &sa, NULL);
		int fd = do_connect("block", 0);
		if (argc > 6)
			set_timeo(fd, SO_RCVTIMEO, num(argv[6]));
		char buf[64];
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int at = num(argv[5]);
		struct itimerval it = { .it_value = { at / 1000, (at % 1000) * 1000 } };
		setitimer(ITIMER_REAL, &it, NULL);
		send(fd, "ping\n", 5, 0);
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		int e = errno;
		long t = ms();
		if (n < 0)
			printf("%s %ld%s\n", ename(e), t, handled ? " handler" : "");
		else
			printf("ok %zd %ld%s\n", n, t, handled ? " handler" : "");
		return 0;
	}
	if (!strcmp(cmd, "stream") && argc >= 6) {
		long want = num(argv[4]), got = 0;
		int fd = do_connect("block", 0);
		char req[64], buf[65536];
		clock_gettime(CLOCK_MONOTONIC, &t0);
		snprintf(req, sizeof(req), "get %ld\n", want);
		send(fd, req, strlen(req), 0);
		bool ep = !strcmp(argv[5], "epoll");
		if (ep)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		while (got < want) {
			if (ep && wait_ready(fd, POLLIN, "epoll", 10000) != 1) {
				printf("timeout %ld\n", ms());
				return 0;
			}
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n <= 0) {
				printf("%s after %ld %ld\n", n ? ename(errno) : "EOF", got, ms());
				return 0;
			}
			got += n;
		}
		printf("ok %ld %ld\n", got, ms());
		return 0;
	}
	if (!strcmp(cmd, "send") && argc >= 6) {
		long want = num(argv[4]), sent = 0;
		int fd = do_connect("block", 0);
		const char *via = argv[5];
		static char buf[1 << 16];
		memset(buf, 'x', sizeof(buf));
		char hdr[64];
		snprintf(hdr, sizeof(hdr), "put %ld\n", want);
		send(fd, hdr, strlen(hdr), 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (strcmp(via, "block"))
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		while (sent < want) {
			size_t n = want - sent < (long)sizeof(buf) ? (size_t)(want - sent) : sizeof(buf);
			ssize_t r = send(fd, buf, n, 0);
			if (r < 0 && errno == EAGAIN) {
				if (wait_ready(fd, POLLOUT, via, 10000) != 1) {
					printf("timeout %ld\n", ms());
					return 0;
				}
				continue;
			}
			if (r < 0) {
				printf("%s %ld\n", ename(errno), ms());
				return 0;
			}
			sent += r;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		char ok[8];
		ssize_t n = recv(fd, ok, sizeof(ok), 0);
		printf("%s %ld %ld\n", n > 0 ? "ok" : "noack", sent, ms());
		return 0;
	}
	if (!strcmp(cmd, "threads")) {
		int n = num(argv[4]);
		pthread_t t[65];
		long res[65];
		if (n < 1 || n > 64)
			return 2;
		for (int i = 0; i < n; i++)
			pthread_create(&t[i], NULL, rtt_thread, &res[i]);
		pthread_create(&t[n], NULL, epoll_thread, &res[n]);
		long max = 0;
		for (int i = 0; i <= n; i++) {
			pthread_join(t[i], NULL);
			if (res[i] < 0) {
				printf("thread %d failed\n", i);
				return 0;
			}
			if (res[i] > max)
				max = res[i];
		}
		printf("ok %d %ld\n", n, max);
		return 0;
	}
	if (!strcmp(cmd, "hold")) {
		int n = num(argv[4]);
		struct rlimit r;
		getrlimit(RLIMIT_NOFILE, &r);
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
		struct pollfd *p = calloc((size_t)n, sizeof(*p));
		for (int i = 0; i < n; i++) {
			int fd = do_connect("block", 0);
			send(fd, "x", 1, 0);
			p[i] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
		int ready = poll(p, (nfds_t)n, 300);
		printf("stalled %d\n", n - ready);
		char c;
		while (read(0, &c, 1) > 0)
			;
		return 0;
	}
	fprintf(stderr, "timeprobe: unknown command '%s'\n", cmd);
	return 2;
}
