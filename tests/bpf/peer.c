/* peer.c -- the servers the chaos-attach tests and benchmarks talk to, on 127.0.0.1 and ::1
 *
 *   peer PORT      TCP echo on PORT, TCP sink on PORT+1 (reads to EOF, then closes), TCP
 *                  source on PORT+2 (sends until the client closes), UDP echo on PORT; prints
 *                  "ready" once listening; SIGUSR1 prints "udp N", the datagrams received since
 *                  the last SIGUSR1.
 *
 * One thread, epoll, non-blocking: it keeps up with the benchmarks' connect loops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ECHO_LISTEN = 1, SINK_LISTEN, SOURCE_LISTEN, UDP, ECHO_CONN, SINK_CONN, SOURCE_CONN, SIG };

static int ep;

static void add(int fd, int kind)
{
	struct epoll_event ev = { .events = kind == SOURCE_CONN ? EPOLLOUT : EPOLLIN,
				  .data.u64 = (uint64_t)kind << 32 | (uint32_t)fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror("peer: epoll_ctl");
		exit(1);
	}
}

static int listener(int family, int type, int port)
{
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_storage ss = { 0 };
	socklen_t len;

	if (fd < 0) {
		perror("peer: socket");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		fprintf(stderr, "peer: bind port %d: %s\n", port, strerror(errno));
		exit(1);
	}
	if (type == SOCK_STREAM && listen(fd, 4096) < 0) {
		perror("peer: listen");
		exit(1);
	}
	return fd;
}

int main(int ac, char **av)
{
	char *end;
	long port = ac == 2 ? strtol(av[1], &end, 10) : 0;
	static char buf[65536];
	unsigned long udp = 0;
	sigset_t mask;

	if (ac != 2 || *end || port < 1 || port > 65533) {
		fprintf(stderr, "usage: peer PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	add(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK), SIG);
	for (int f = 0; f < 2; f++) {
		int fam = f ? AF_INET6 : AF_INET;
		add(listener(fam, SOCK_STREAM, (int)port), ECHO_LISTEN);
		add(listener(fam, SOCK_STREAM, (int)port + 1), SINK_LISTEN);
		add(listener(fam, SOCK_STREAM, (int)port + 2), SOURCE_LISTEN);
		add(listener(fam, SOCK_DGRAM, (int)port), UDP);
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, -1);
		for (int i = 0; i < n; i++) {
			int kind = (int)(ev[i].data.u64 >> 32), fd = (int)(uint32_t)ev[i].data.u64;
			ssize_t r;
			switch (kind) {
			case ECHO_LISTEN:
			case SINK_LISTEN:
			case SOURCE_LISTEN:
				for (int c; (c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
					add(c, kind == ECHO_LISTEN   ? ECHO_CONN
						: kind == SINK_LISTEN ? SINK_CONN
								      : SOURCE_CONN);
				break;
			case SOURCE_CONN:
				while ((r = send(fd, buf, sizeof(buf), MSG_NOSIGNAL)) > 0)
					;
				if (r < 0 && errno != EAGAIN) {
					epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
					close(fd);
				}
				break;
			case ECHO_CONN:
			case SINK_CONN:
				while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
					if (kind == ECHO_CONN && send(fd, buf, (size_t)r, MSG_NOSIGNAL) < 0)
						break;
				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
					close(fd);
				}
				break;
			case UDP: {
				struct sockaddr_storage from;
				socklen_t fl = sizeof(from);
				while ((r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
						     &fl)) >= 0) {
					udp++;
					sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
					fl = sizeof(from);
				}
				break;
			}
			case SIG: {
				struct signalfd_siginfo si;
				while (read(fd, &si, sizeof(si)) == sizeof(si)) {
					printf("udp %lu\n", udp);
					fflush(stdout);
					udp = 0;
				}
				break;
			}
			}
		}
	}
}
