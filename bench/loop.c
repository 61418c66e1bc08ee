/* loop.c -- the load of the send/recv benchmark: a ping-pong in each thread over its own
 * socketpair or loopback TCP connection, timed in blocks from inside the process
 *
 *   loop socketpair|tcp THREADS ITERATIONS
 *
 * Each thread owns a connected pair (a, b) and repeats send(a) recv(b) send(b) recv(a) with 64
 * bytes: four calls that never block.  The driver (bench.py) keeps one such process per
 * configuration and has them take turns: each byte read on stdin runs one block of ITERATIONS,
 * all threads starting together (a barrier), and prints "ns_per_call N" on stdout, N being the
 * wall time until the last thread finished over the calls one thread made.  "ready" is printed
 * once the pairs are connected; EOF on stdin ends the process.
 *
 * An injected EAGAIN (strace --inject, which must fire at some call number) is retried, so every
 * configuration moves the same bytes.  TCP listens on 127.0.0.1 port 0 (an ephemeral port).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define MAX_THREADS 8

static int use_tcp;
static long iters;
static int nthreads;
static pthread_barrier_t barrier;
static volatile int running = 1; /* cleared by thread 0 at EOF, read after a barrier */

static void die(const char *what)
{
	fprintf(stderr, "loop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static long num(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 1 || v > max) {
		fprintf(stderr, "loop: '%s' is not a number from 1 to %ld\n", s, max);
		exit(2);
	}
	return v;
}

static void tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int one = 1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		die("listen");
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	fds[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fds[1] < 0)
		die("accept");
	close(l);
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void xsend(int fd, const char *buf)
{
	ssize_t r;
	while ((r = send(fd, buf, MSG, 0)) != MSG) {
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		die("send");
	}
}

static void xrecv(int fd, char *buf)
{
	size_t got = 0;
	while (got < MSG) {
		ssize_t r = recv(fd, buf + got, MSG - got, 0);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r == 0)
			errno = ECONNRESET;
		die("recv");
	}
}

static void *worker(void *arg)
{
	long id = (long)arg;
	char buf[MSG];
	int fds[2];

	memset(buf, 'x', sizeof(buf));
	if (use_tcp)
		tcp_pair(fds);
	else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		die("socketpair");
	pthread_barrier_wait(&barrier);
	if (id == 0) {
		printf("ready\n");
		fflush(stdout);
	}
	for (;;) {
		if (id == 0) {
			char c;
			ssize_t n;
			while ((n = read(0, &c, 1)) < 0 && errno == EINTR)
				;
			if (n <= 0)
				running = 0;
		}
		pthread_barrier_wait(&barrier);
		if (!running)
			break;
		double t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			xsend(fds[0], buf);
			xrecv(fds[1], buf);
			xsend(fds[1], buf);
			xrecv(fds[0], buf);
		}
		pthread_barrier_wait(&barrier);
		if (id == 0) {
			printf("ns_per_call %.2f\n", (now_ns() - t0) / (double)(iters * 4));
			fflush(stdout);
		}
	}
	close(fds[0]);
	close(fds[1]);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[MAX_THREADS];

	if (argc != 4 || (strcmp(argv[1], "tcp") != 0 && strcmp(argv[1], "socketpair") != 0)) {
		fprintf(stderr, "usage: loop socketpair|tcp THREADS ITERATIONS\n");
		return 2;
	}
	use_tcp = strcmp(argv[1], "tcp") == 0;
	nthreads = (int)num(argv[2], MAX_THREADS);
	iters = num(argv[3], 1L << 30);
	pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
	for (long i = 1; i < nthreads; i++)
		if ((errno = pthread_create(&t[i], NULL, worker, (void *)i)) != 0)
			die("pthread_create");
	worker((void *)0);
	for (long i = 1; i < nthreads; i++)
		pthread_join(t[i], NULL);
	return 0;
}
