/* existing.c -- sockets a target had before chaos-attach attached (see existing.h) */
#include "existing.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attach.h"
#include "units.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static bool seen(struct ex_ctx *c, unsigned long ino)
{
	for (size_t i = 0; i < c->nseen; i++)
		if (c->seen[i] == ino)
			return true;
	if (c->nseen == c->capseen) {
		size_t cap = c->capseen ? c->capseen * 2 : 64;
		unsigned long *n = realloc(c->seen, cap * sizeof(*n));
		if (!n)
			return false;
		c->seen = n;
		c->capseen = cap;
	}
	c->seen[c->nseen++] = ino;
	return false;
}

/* The TCP connection in fd: ask ca_existing, and apply what it decided. */
static void tcp_conn(struct ex_ctx *c, int fd, pid_t pid, struct ex_stats *st)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct ca_existing_args a;
	struct ca_sk cur;
	uint8_t pkt[sizeof(a) + 64];

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || ti.tcpi_state != TCP_ESTABLISHED)
		return;
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return;
	if (bpf_map_lookup_elem(c->sk_fd, &fd, &cur) == 0) {
		st->skipped++; /* connected after the attach: the hooks decided */
		return;
	}
	memset(&a, 0, sizeof(a));
	a.pid = (uint32_t)pid;
	if (peer.ss_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)&peer;
		a.family = AF_INET;
		a.port = ntohs(p->sin_port);
		memcpy(a.addr, &p->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *p = (const void *)&peer;
		a.port = ntohs(p->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&p->sin6_addr)) {
			a.family = AF_INET;
			memcpy(a.addr, &p->sin6_addr.s6_addr[12], 4);
		} else {
			a.family = AF_INET6;
			memcpy(a.addr, &p->sin6_addr, 16);
		}
	}
	/* XDP test runs want at least an Ethernet header's worth of "packet" */
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, &a, sizeof(a));
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .data_out = pkt, .data_size_out = sizeof(pkt), .repeat = 1);
	if (bpf_prog_test_run_opts(c->prog_fd, &opts) < 0) {
		st->failed++;
		return;
	}
	memcpy(&a, pkt, sizeof(a));
	if (!a.rule)
		return;
	/* BPF_NOEXIST: if the process connected it again meanwhile, the hooks decided */
	if (bpf_map_update_elem(c->sk_fd, &fd, &a.sk, BPF_NOEXIST) < 0) {
		st->skipped++;
		return;
	}
	if (a.sk.rate) {
		unsigned v = a.sk.rate;
		setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &v, sizeof(v));
	}
	if (a.sk.user_timeout_ms) {
		unsigned v = a.sk.user_timeout_ms;
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
	}
	st->marked++;
}

static void udp_sock(struct ex_ctx *c, int fd, pid_t pid, struct ex_stats *st)
{
	struct ca_sk s;

	memset(&s, 0, sizeof(s));
	s.flags = CA_SK_TARGET;
	s.pid = s.tid = (uint32_t)pid;
	if (bpf_map_update_elem(c->sk_fd, &fd, &s, BPF_NOEXIST) < 0) {
		st->skipped++;
		return;
	}
	st->udp++;
}

/* Call fn with a copy of each inet socket of pid (each socket once).  Returns 0, or a negative
 * errno with a message if the process cannot be reached. */
static int each_socket(struct ex_ctx *c, pid_t pid, struct ex_stats *st,
		       void (*fn)(struct ex_ctx *c, int fd, int domain, int type, pid_t pid,
				  struct ex_stats *st),
		       char *err, size_t errlen)
{
	char path[64], link[64];
	DIR *d;
	struct dirent *e;
	int pidfd;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		snprintf(err, errlen, "cannot reach process %d (pidfd_open): %s", (int)pid,
			 strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d) {
		int e2 = errno;
		close(pidfd);
		snprintf(err, errlen, "cannot list the fds of process %d: %s", (int)pid,
			 strerror(e2));
		return -e2;
	}
	while ((e = readdir(d))) {
		char fdpath[sizeof(path) + 256 + 2];
		uint64_t tfd, ino;
		ssize_t n;
		int fd, domain, type;
		socklen_t len = sizeof(int);

		if (chaos_parse_u64(e->d_name, INT32_MAX, &tfd) < 0)
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
			continue;
		link[n - 1] = '\0';
		if (chaos_parse_u64(link + 8, UINT64_MAX, &ino) < 0 || seen(c, (unsigned long)ino))
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)tfd, 0);
		if (fd < 0) {
			if (errno != EBADF && st)
				st->failed++; /* EBADF: closed meanwhile */
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
		    (domain == AF_INET || domain == AF_INET6) &&
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
			fn(c, fd, domain, type, pid, st);
		close(fd);
	}
	closedir(d);
	close(pidfd);
	return 0;
}

static void scan_one(struct ex_ctx *c, int fd, int domain, int type, pid_t pid,
		     struct ex_stats *st)
{
	(void)domain;
	st->sockets++;
	if (type == SOCK_STREAM)
		tcp_conn(c, fd, pid, st);
	else if (type == SOCK_DGRAM)
		udp_sock(c, fd, pid, st);
}

int ex_scan(struct ex_ctx *c, pid_t pid, struct ex_stats *st, char *err, size_t errlen)
{
	return each_socket(c, pid, st, scan_one, err, errlen);
}

/* A connected UDP socket we pointed at the DNS responder: back to the server it asked for. */
static bool unsteer(int fd, int domain, const struct ca_sk *s)
{
	struct sockaddr_storage peer, orig;
	socklen_t plen = sizeof(peer), olen;

	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return false; /* not connected: its next sendto goes where it says */
	memset(&orig, 0, sizeof(orig));
	if (domain == AF_INET && s->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&orig;
		a->sin_family = AF_INET;
		a->sin_port = s->orig_port;
		memcpy(&a->sin_addr, s->orig_addr, 4);
		olen = sizeof(*a);
	} else if (domain == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&orig;
		a->sin6_family = AF_INET6;
		a->sin6_port = s->orig_port;
		if (s->family == AF_INET) {
			a->sin6_addr.s6_addr[10] = a->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&a->sin6_addr.s6_addr[12], s->orig_addr, 4);
		} else {
			memcpy(&a->sin6_addr, s->orig_addr, 16);
		}
		olen = sizeof(*a);
	} else {
		return false;
	}
	/* dissolve first: connected to loopback, the socket's source address is loopback too */
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	connect(fd, &unspec, sizeof(unspec));
	return connect(fd, (struct sockaddr *)&orig, olen) == 0;
}

static void release_one(struct ex_ctx *c, int fd, int domain, int type, pid_t pid,
			struct ex_stats *st)
{
	struct ca_sk s;
	unsigned v;
	(void)pid;

	if (bpf_map_lookup_elem(c->sk_fd, &fd, &s) < 0)
		return;
	if (type == SOCK_DGRAM) {
		if ((s.flags & CA_SK_DNS) && unsteer(fd, domain, &s))
			st->marked++;
		return;
	}
	if (type != SOCK_STREAM)
		return;
	if (s.rate) {
		v = ~0U; /* no limit, the default */
		setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &v, sizeof(v));
	}
	if (s.user_timeout_ms) {
		v = 0;
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
	}
	if (s.rate || s.user_timeout_ms)
		st->marked++;
}

size_t ex_release(struct ex_ctx *c, pid_t pid)
{
	struct ex_stats st = { 0 };
	char err[128];

	each_socket(c, pid, &st, release_one, err, sizeof(err));
	return st.marked;
}

void ex_free(struct ex_ctx *c)
{
	free(c->seen);
	c->seen = NULL;
	c->nseen = c->capseen = 0;
}
