/* bench.c -- the load of the chaos-attach benchmark: connect rate and request/response rate to a
 * peer on loopback (tests/bpf/peer.c), measured from inside the process under test
 *
 *   bench HOST PORT CONNECTS ROUNDTRIPS
 *
 * prints "connects_per_s X rr_per_s Y": CONNECTS connect+close in a row, then ROUNDTRIPS
 * 64-byte request/response exchanges on one connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 1) {
		fprintf(stderr, "bench: '%s' is not a positive number\n", s);
		exit(2);
	}
	return v;
}

int main(int ac, char **av)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char buf[64];
	int one = 1;

	if (ac != 5 || inet_pton(AF_INET, av[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: bench IPV4 PORT CONNECTS ROUNDTRIPS\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)num(av[2]));
	long nc = num(av[3]), nr = num(av[4]);

	double t0 = now();
	for (long i = 0; i < nc; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			fprintf(stderr, "bench: connect: %s\n", strerror(errno));
			return 1;
		}
		/* an RST close: no TIME_WAIT piling up over the runs */
		struct linger l = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(fd);
	}
	double t1 = now();

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "bench: connect: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(buf, 'x', sizeof(buf));
	double t2 = now();
	for (long i = 0; i < nr; i++) {
		size_t got = 0;
		if (send(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
			fprintf(stderr, "bench: send: %s\n", strerror(errno));
			return 1;
		}
		while (got < sizeof(buf)) {
			ssize_t r = recv(fd, buf + got, sizeof(buf) - got, 0);
			if (r <= 0) {
				fprintf(stderr, "bench: recv: %s\n", r ? strerror(errno) : "closed");
				return 1;
			}
			got += (size_t)r;
		}
	}
	double t3 = now();
	close(fd);
	printf("connects_per_s %.1f rr_per_s %.1f\n", (double)nc / (t1 - t0), (double)nr / (t3 - t2));
	return 0;
}
