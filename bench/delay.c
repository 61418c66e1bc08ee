/* delay.c -- the peer and the client of the delay-precision and stalled-connection benchmarks
 *
 *   delay serve [silent|bulk]    a loopback server: prints its port, answers every byte with a
 *                                byte (silent: accepts and never answers; bulk: reads one line,
 *                                "get N" sends N bytes, "put N" reads N bytes and answers one
 *                                byte); runs until stdin ends
 *   delay rtt PORT N THREADS     THREADS connections to 127.0.0.1:PORT, N one-byte round trips
 *                                each, one after another; prints "rtt_ns X" per round trip
 *   delay bw PORT BYTES get|put  one connection to a bulk server: BYTES downloaded (get) or
 *                                uploaded (put: until the server has them all); prints "bw_ns X",
 *                                the time from the request to the last byte
 *   delay stall PORT N           prints "rss_before_kb R" and "begin", waits for a byte on stdin,
 *                                then makes N connections to 127.0.0.1:PORT, one byte sent on
 *                                each; checks that no answer arrives within 200 ms, prints
 *                                "stalled K", "rss_kb R" and "ready", and holds them until stdin
 *                                ends
 *
 * rtt, bw and stall run under chaos-exec with a delay=, bandwidth= or stall rule for PORT;
 * bench.py compares them with the same runs made without the rule.  The file limit is raised
 * to what N needs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "delay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long num(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 1 || v > max) {
		fprintf(stderr, "delay: '%s' is not a number from 1 to %ld\n", s, max);
		exit(2);
	}
	return v;
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Raise the soft file limit to want, or to the hard limit if that is lower; fail only if the
 * result is below need. */
static void raise_nofile(rlim_t want, rlim_t need)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		die("getrlimit");
	if (r.rlim_cur >= want)
		return;
	r.rlim_cur = want < r.rlim_max ? want : r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r) < 0)
		die("setrlimit RLIMIT_NOFILE");
	if (r.rlim_cur < need) {
		fprintf(stderr, "delay: %lu files needed, the hard limit is %lu\n", (unsigned long)need,
			(unsigned long)r.rlim_max);
		exit(1);
	}
}

/* smaps_rollup walks the page tables: exact, where status's VmRSS is kept per CPU */
static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- serve ------------------------------------------------------------------------------------ */

static int silent, bulk;

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* bulk: one request line, then the transfer it asks for */
static void bulk_conn(int fd)
{
	static char big[65536];
	char line[64];
	size_t got = 0;
	while (got < sizeof(line) - 1) {
		ssize_t n = read(fd, line + got, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (line[got++] == '\n')
			break;
	}
	line[got] = 0;
	char what[8];
	unsigned long long left;
	if (sscanf(line, "%7s %llu", what, &left) != 2)
		return;
	if (strcmp(what, "get") == 0) {
		while (left) {
			size_t k = left < sizeof(big) ? (size_t)left : sizeof(big);
			if (write_all(fd, big, k) < 0)
				return;
			left -= k;
		}
	} else if (strcmp(what, "put") == 0) {
		while (left) {
			ssize_t n = read(fd, big, left < sizeof(big) ? (size_t)left : sizeof(big));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return;
			left -= (unsigned long long)n;
		}
		write_all(fd, "k", 1);
	}
}

static void *conn_thread(void *arg)
{
	int fd = (int)(long)arg;
	char c[256];
	if (bulk) {
		bulk_conn(fd);
		for (;;) { /* until the client closes */
			ssize_t n = read(fd, c, sizeof(c));
			if (n == 0 || (n < 0 && errno != EINTR))
				break;
		}
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, c, sizeof(c));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!silent && write(fd, c, (size_t)n) != n)
			break;
	}
	close(fd);
	return NULL;
}

static void *accept_thread(void *arg)
{
	int l = (int)(long)arg, one = 1;
	for (;;) {
		int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			die("accept");
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (silent)
			continue; /* held open, never read or answered */
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 64 * 1024);
		if (pthread_create(&t, &at, conn_thread, (void *)(long)fd) != 0)
			close(fd);
		pthread_attr_destroy(&at);
	}
	return NULL;
}

static int serve(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	pthread_t t;
	char c;

	raise_nofile(1 << 20, 1024);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		die("listen");
	printf("port %d\n", ntohs(a.sin_port));
	fflush(stdout);
	if (pthread_create(&t, NULL, accept_thread, (void *)(long)l) != 0)
		die("pthread_create");
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
	return 0;
}

/* ---- rtt ---------------------------------------------------------------------------------------- */

static struct sockaddr_in peer;
static long rounds;
static double *samples;

static int dial(void)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&peer, sizeof(peer)) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void *rtt_thread(void *arg)
{
	long id = (long)arg;
	int fd = dial();
	char c = 'x';
	for (long i = 0; i < rounds; i++) {
		double t0 = now_ns();
		if (send(fd, &c, 1, 0) != 1)
			die("send");
		ssize_t n;
		while ((n = recv(fd, &c, 1, 0)) < 0 && errno == EINTR)
			;
		if (n != 1) {
			if (n == 0)
				errno = ECONNRESET;
			die("recv");
		}
		samples[id * rounds + i] = now_ns() - t0;
	}
	close(fd);
	return NULL;
}

static int rtt(long threads)
{
	pthread_t t[64];
	samples = calloc((size_t)(threads * rounds), sizeof(double));
	if (!samples)
		die("calloc");
	for (long i = 0; i < threads; i++)
		if ((errno = pthread_create(&t[i], NULL, rtt_thread, (void *)i)) != 0)
			die("pthread_create");
	for (long i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	for (long i = 0; i < threads * rounds; i++)
		printf("rtt_ns %.0f\n", samples[i]);
	return 0;
}

/* ---- bw ------------------------------------------------------------------------------------------ */

static int bw(long bytes, bool put)
{
	static char big[65536];
	char req[64];
	int fd = dial();
	int n = snprintf(req, sizeof(req), "%s %ld\n", put ? "put" : "get", bytes);
	double t0 = now_ns();
	if (write_all(fd, req, (size_t)n) < 0)
		die("send");
	long left = bytes;
	if (put) {
		while (left) {
			size_t k = left < (long)sizeof(big) ? (size_t)left : sizeof(big);
			if (write_all(fd, big, k) < 0)
				die("send");
			left -= (long)k;
		}
		left = 1;
	}
	while (left) {
		ssize_t r = read(fd, big, left < (long)sizeof(big) ? (size_t)left : sizeof(big));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			die("recv");
		}
		left -= r;
	}
	printf("bw_ns %.0f\n", now_ns() - t0);
	close(fd);
	return 0;
}

/* ---- stall -------------------------------------------------------------------------------------- */

static int stall(long n)
{
	char c = 'x';
	raise_nofile((rlim_t)n + 64, (rlim_t)n + 64);
	printf("rss_before_kb %ld\nbegin\n", rss_kb());
	fflush(stdout);
	while (read(0, &c, 1) < 0 && errno == EINTR)
		;
	c = 'x';
	int *fds = calloc((size_t)n, sizeof(int));
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	if (!fds || !p)
		die("calloc");
	for (long i = 0; i < n; i++) {
		fds[i] = dial();
		if (send(fds[i], &c, 1, MSG_NOSIGNAL) != 1)
			die("send");
		p[i].fd = fds[i];
		p[i].events = POLLIN;
	}
	int ready = poll(p, (nfds_t)n, 200);
	if (ready < 0)
		die("poll");
	printf("connections %ld\n", n);
	printf("stalled %ld\n", n - ready);
	printf("rss_kb %ld\n", rss_kb());
	printf("ready\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0 &&
	    (argc == 2 || (argc == 3 && (strcmp(argv[2], "silent") == 0 ||
					 strcmp(argv[2], "bulk") == 0)))) {
		silent = argc == 3 && strcmp(argv[2], "silent") == 0;
		bulk = argc == 3 && strcmp(argv[2], "bulk") == 0;
		return serve();
	}
	if (argc >= 3 && (strcmp(argv[1], "rtt") == 0 || strcmp(argv[1], "stall") == 0 ||
			  strcmp(argv[1], "bw") == 0)) {
		peer.sin_family = AF_INET;
		peer.sin_port = htons((uint16_t)num(argv[2], 65535));
		peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (strcmp(argv[1], "rtt") == 0 && argc == 5) {
			rounds = num(argv[3], 1000000);
			return rtt(num(argv[4], 64));
		}
		if (strcmp(argv[1], "stall") == 0 && argc == 4)
			return stall(num(argv[3], 1000000));
		if (strcmp(argv[1], "bw") == 0 && argc == 5 &&
		    (strcmp(argv[4], "get") == 0 || strcmp(argv[4], "put") == 0))
			return bw(num(argv[3], 1L << 40), strcmp(argv[4], "put") == 0);
	}
	fprintf(stderr, "usage: delay serve [silent|bulk] | delay rtt PORT N THREADS | "
			"delay bw PORT BYTES get|put | delay stall PORT N\n");
	return 2;
}
