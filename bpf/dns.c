/* dns.c -- the DNS responder chaos-attach steers port 53 to (see dns.h) */
#include "dns.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rule.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define DNS_MAX 65535
#define PENDING 1024              /* UDP queries forwarded and not answered yet */
#define FORWARD_TIMEOUT_MS 5000   /* a forwarded query is forgotten after this */
#define TCP_IDLE_MS 10000         /* a TCP client that sends nothing for this long is closed */
#define TCP_THREADS_MAX 64

enum { EV_UDP = 1, EV_TCP, EV_FWD };

struct ns_ctx {
	dev_t dev;
	ino_t ino;
	uint64_t cookie;
	int nsfd; /* -1: our own namespace */
	int udp[2], tcp[2], fwd[2];       /* [0] IPv4, [1] IPv6; -1: none */
	uint16_t port;                    /* host order */
	struct sockaddr_storage upstream;      /* resolv.conf's first nameserver */
	socklen_t upstream_len;
};

struct pending {
	bool used;
	uint16_t id, client_id;
	int reply_fd;
	struct sockaddr_storage client, up;
	socklen_t client_len, up_len;
	uint64_t deadline_ms;
};

/* Names the responder answered with a dns=ADDRESS rule: a reverse lookup of the address gets
 * the name back, as from the preload. */
#define REVERSE 64
struct reverse {
	uint32_t rule_id; /* 0: empty */
	int family;
	uint8_t addr[16];
	char name[CHAOS_NAME_MAX + 1];
};

struct dns_server {
	struct dns_config c;
	pthread_mutex_t rev_lock; /* rev is shared with the TCP threads */
	struct reverse rev[REVERSE];
	unsigned rev_next;
	int epfd, self_nsfd;
	struct ns_ctx **ns;
	size_t nns;
	struct pending pend[PENDING];
	uint16_t next_id;
	int threads; /* TCP connections being served (atomic) */
	int stop;    /* atomic: tell TCP threads to finish */
};

/* ---- the wire format -------------------------------------------------------------------------- */

int dns_parse_query(const uint8_t *msg, size_t len, char *name, size_t namelen, uint16_t *qtype,
		    size_t *qend)
{
	size_t off = 12, used = 0;

	if (len < 12 || namelen < 1)
		return -EINVAL;
	if ((msg[2] & 0x80) || ((msg[2] >> 3) & 0x0f) != 0) /* a response, or not QUERY */
		return -EINVAL;
	if (msg[4] != 0 || msg[5] != 1) /* exactly one question */
		return -EINVAL;
	for (;;) {
		if (off >= len)
			return -EINVAL;
		uint8_t l = msg[off++];
		if (l == 0)
			break;
		if (l > 63 || off + l > len) /* compression has no place in a question */
			return -EINVAL;
		if (used + l + 2 > namelen || used + l + 1 > CHAOS_NAME_MAX)
			return -EINVAL;
		if (used)
			name[used++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			char ch = (char)msg[off + i];
			if (ch == '\0' || ch == '.')
				return -EINVAL;
			name[used++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
		}
		off += l;
	}
	name[used] = '\0';
	if (off + 4 > len)
		return -EINVAL;
	*qtype = (uint16_t)(msg[off] << 8 | msg[off + 1]);
	*qend = off + 4;
	return 0;
}

size_t dns_build_reply(const uint8_t *msg, size_t qend, int rcode, int family, const uint8_t *addr,
		       uint8_t *out, size_t outlen)
{
	size_t alen = family == AF_INET ? 4 : 16, n = qend;

	if (qend < 12 || outlen < qend + (addr ? 12 + alen : 0))
		return 0;
	memcpy(out, msg, qend);
	out[2] = (uint8_t)(0x80 | (msg[2] & 0x79)); /* QR, opcode and RD kept; AA, TC off */
	out[3] = (uint8_t)(0x80 | (rcode & 0x0f)); /* RA */
	out[4] = 0;
	out[5] = 1;
	out[6] = 0;
	out[7] = addr ? 1 : 0;
	memset(out + 8, 0, 4); /* no authority, no additional records */
	if (addr) {
		uint8_t *a = out + n;
		a[0] = 0xc0; /* the name: a pointer to the question's */
		a[1] = 12;
		a[2] = 0;
		a[3] = family == AF_INET ? 1 : 28;
		a[4] = 0;
		a[5] = 1;                            /* IN */
		a[6] = a[7] = a[8] = a[9] = 0;       /* TTL 0: nobody caches a fault */
		a[10] = 0;
		a[11] = (uint8_t)alen;
		memcpy(a + 12, addr, alen);
		n += 12 + alen;
	}
	return n;
}

int dns_ptr_addr(const char *name, int *family, uint8_t *addr)
{
	static const char v4[] = ".in-addr.arpa", v6[] = ".ip6.arpa";
	size_t n = strlen(name);

	memset(addr, 0, 16);
	if (n > sizeof(v4) - 1 && strcmp(name + n - (sizeof(v4) - 1), v4) == 0) {
		/* d.c.b.a.in-addr.arpa */
		const char *p = name;
		for (int i = 3; i >= 0; i--) {
			unsigned v = 0, digits = 0;
			while (*p >= '0' && *p <= '9' && digits < 4) {
				v = v * 10 + (unsigned)(*p++ - '0');
				digits++;
			}
			if (!digits || v > 255 || *p != '.' || (digits > 1 && p[-(int)digits] == '0'))
				return -EINVAL;
			p++;
			addr[i] = (uint8_t)v;
		}
		if (strcmp(p - 1, v4) != 0)
			return -EINVAL;
		*family = AF_INET;
		return 0;
	}
	if (n == 63 + sizeof(v6) - 1 && strcmp(name + 63, v6) == 0) {
		/* 32 nibbles, the last first, dot-separated */
		for (int i = 0; i < 32; i++) {
			char c = name[2 * i];
			int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (v < 0 || (i < 31 && name[2 * i + 1] != '.'))
				return -EINVAL;
			int nib = 31 - i;
			addr[nib / 2] |= (uint8_t)(nib % 2 ? v : v << 4);
		}
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

size_t dns_build_ptr(const uint8_t *msg, size_t qend, const char *target, uint8_t *out,
		     size_t outlen)
{
	size_t tl = strlen(target), n;

	if (tl == 0 || tl > CHAOS_NAME_MAX - 1 || outlen < qend + 12 + tl + 2)
		return 0;
	n = dns_build_reply(msg, qend, DNS_RCODE_NOERROR, 0, NULL, out, outlen);
	if (!n)
		return 0;
	out[7] = 1; /* one answer */
	uint8_t *a = out + n;
	a[0] = 0xc0;
	a[1] = 12;
	a[2] = 0;
	a[3] = 12; /* PTR */
	a[4] = 0;
	a[5] = 1;
	a[6] = a[7] = a[8] = a[9] = 0; /* TTL 0 */
	a[10] = (uint8_t)((tl + 2) >> 8);
	a[11] = (uint8_t)(tl + 2);
	uint8_t *w = a + 12;
	for (const char *p = target; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63)
			return 0;
		*w++ = (uint8_t)l;
		memcpy(w, p, l);
		w += l;
		p += l + (dot ? 1 : 0);
	}
	*w++ = 0;
	return (size_t)(w - out);
}

/* ---- deciding ---------------------------------------------------------------------------------- */

static uint64_t now_ms(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct client {
	bool known;
	struct ca_client c;
};

static void client_lookup(const struct dns_server *s, uint64_t cookie, uint16_t sport_be,
			  uint8_t proto, struct client *out)
{
	struct ca_client_key k = { .netns = cookie, .sport = sport_be, .proto = proto };

	out->known = s->c.clients_fd >= 0 && bpf_map_lookup_elem(s->c.clients_fd, &k, &out->c) == 0;
}

enum verdict { FORWARD, REPLY, SILENCE };

static void remember_name(struct dns_server *s, uint32_t rule_id, int family, const uint8_t *addr,
			  const char *name)
{
	struct reverse *e;

	pthread_mutex_lock(&s->rev_lock);
	e = &s->rev[s->rev_next++ % REVERSE];
	for (int i = 0; i < REVERSE; i++) /* the same address again: its entry */
		if (s->rev[i].rule_id && s->rev[i].family == family &&
		    memcmp(s->rev[i].addr, addr, family == AF_INET ? 4 : 16) == 0)
			e = &s->rev[i];
	e->rule_id = rule_id;
	e->family = family;
	memset(e->addr, 0, sizeof(e->addr));
	memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
	size_t nl = strnlen(name, sizeof(e->name) - 1);
	memcpy(e->name, name, nl);
	e->name[nl] = '\0';
	pthread_mutex_unlock(&s->rev_lock);
}

/* What to do with a query: a fault (reply built into out, or silence), or forward it. */
static enum verdict decide(struct dns_server *s, const uint8_t *q, size_t len,
			   const struct client *cl, uint8_t *out, size_t *outlen)
{
	char name[CHAOS_NAME_MAX + 2], result[INET6_ADDRSTRLEN + 16];
	uint16_t qtype;
	size_t qend;
	const struct chaos_rule_list *l = s->c.rules;
	uint64_t now = 0;

	if (dns_parse_query(q, len, name, sizeof(name), &qtype, &qend) < 0)
		return FORWARD;
	if (qtype == 12) {
		/* a reverse lookup of an address we answered a name with */
		struct reverse hit = { 0 };
		int fam;
		uint8_t addr[16];
		if (dns_ptr_addr(name, &fam, addr) == 0) {
			pthread_mutex_lock(&s->rev_lock);
			for (int i = 0; i < REVERSE; i++)
				if (s->rev[i].rule_id && s->rev[i].family == fam &&
				    memcmp(s->rev[i].addr, addr, 16) == 0)
					hit = s->rev[i];
			pthread_mutex_unlock(&s->rev_lock);
		}
		if (hit.rule_id && (*outlen = dns_build_ptr(q, qend, hit.name, out, DNS_MAX))) {
			if (s->c.log) {
				struct dns_fault f = { .rule_id = hit.rule_id,
						       .pid = cl->known ? (int)cl->c.pid : 0,
						       .tid = cl->known ? (int)cl->c.tid : 0,
						       .name = name,
						       .result = hit.name };
				s->c.log(s->c.arg, &f);
			}
			return REPLY;
		}
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct chaos_rule *r = &l->rules[i];
		enum verdict v = REPLY;

		if (r->action != CHAOS_ACT_DNS || !chaos_target_match_name(&r->target, name))
			continue;
		if (!now)
			now = now_ns();
		if (chaos_trigger(r, &s->c.states[i], (uint32_t)i + 1, s->c.seed, s->c.armed_ns,
				  now) != CHAOS_FIRE)
			continue;
		switch (r->dns) {
		case CHAOS_DNS_NXDOMAIN:
			*outlen = dns_build_reply(q, qend, DNS_RCODE_NXDOMAIN, 0, NULL, out, DNS_MAX);
			snprintf(result, sizeof(result), "NXDOMAIN");
			break;
		case CHAOS_DNS_SERVFAIL:
			*outlen = dns_build_reply(q, qend, DNS_RCODE_SERVFAIL, 0, NULL, out, DNS_MAX);
			snprintf(result, sizeof(result), "SERVFAIL");
			break;
		case CHAOS_DNS_TIMEOUT:
			v = SILENCE;
			snprintf(result, sizeof(result), "no answer");
			break;
		case CHAOS_DNS_ADDRESS:
			if ((qtype == 1 && r->dns_family == AF_INET) ||
			    (qtype == 28 && r->dns_family == AF_INET6)) {
				*outlen = dns_build_reply(q, qend, DNS_RCODE_NOERROR, r->dns_family,
							  r->dns_addr, out, DNS_MAX);
				inet_ntop(r->dns_family, r->dns_addr, result, sizeof(result));
				remember_name(s, (uint32_t)i + 1, r->dns_family, r->dns_addr, name);
			} else {
				*outlen = dns_build_reply(q, qend, DNS_RCODE_NOERROR, 0, NULL, out,
							  DNS_MAX);
				if (qtype == 1 || qtype == 28)
					snprintf(result, sizeof(result), "no %s record",
						 qtype == 1 ? "A" : "AAAA");
				else
					snprintf(result, sizeof(result), "no type %u record",
						 (unsigned)qtype);
			}
			break;
		}
		if (v == REPLY && *outlen == 0)
			v = SILENCE; /* cannot happen: the reply is shorter than DNS_MAX */
		if (s->c.log) {
			struct dns_fault f = { .rule_id = (uint32_t)i + 1,
					       .pid = cl->known ? (int)cl->c.pid : 0,
					       .tid = cl->known ? (int)cl->c.tid : 0,
					       .name = name,
					       .result = result };
			s->c.log(s->c.arg, &f);
		}
		return v;
	}
	return FORWARD;
}

/* Where a query goes when no rule fires: the server the process asked, else resolv.conf's. */
static void upstream_of(const struct ns_ctx *n, const struct client *cl,
			struct sockaddr_storage *up, socklen_t *uplen)
{
	memset(up, 0, sizeof(*up));
	if (cl->known && cl->c.family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)up;
		a->sin_family = AF_INET;
		a->sin_port = cl->c.orig_port;
		memcpy(&a->sin_addr, cl->c.orig_addr, 4);
		*uplen = sizeof(*a);
	} else if (cl->known && cl->c.family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)up;
		a->sin6_family = AF_INET6;
		a->sin6_port = cl->c.orig_port;
		memcpy(&a->sin6_addr, cl->c.orig_addr, 16);
		*uplen = sizeof(*a);
	} else {
		*up = n->upstream;
		*uplen = n->upstream_len;
	}
}

/* ---- sockets in a namespace ------------------------------------------------------------------- */

/* socket() in n's network namespace. */
static int ns_socket(struct dns_server *s, const struct ns_ctx *n, int domain, int type)
{
	int fd, e;

	if (n->nsfd >= 0 && setns(n->nsfd, CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	e = errno;
	if (n->nsfd >= 0 && setns(s->self_nsfd, CLONE_NEWNET) < 0)
		abort(); /* we would go on in the wrong namespace */
	return fd < 0 ? -e : fd;
}

static void loopback(int family, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	}
}

static int bound(struct dns_server *s, const struct ns_ctx *n, int family, int type,
		 uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd = ns_socket(s, n, family, type);

	if (fd < 0)
		return fd;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	loopback(family, port, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int watch(struct dns_server *s, int fd, int type, size_t nsi, int fam)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = (uint64_t)type << 48 | (uint64_t)fam << 32 | nsi };
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The listeners: UDP and TCP on one port, 127.0.0.1 and (if it can) ::1. */
static int listen_ns(struct dns_server *s, struct ns_ctx *n, char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 32; attempt++) {
		int u4 = bound(s, n, AF_INET, SOCK_DGRAM, 0);
		if (u4 < 0) {
			snprintf(err, errlen, "cannot bind the DNS responder to 127.0.0.1: %s",
				 strerror(-u4));
			return u4;
		}
		uint16_t port = port_of(u4);
		int t4 = bound(s, n, AF_INET, SOCK_STREAM, port);
		if (t4 < 0) {
			close(u4);
			continue; /* TCP has that port in use: another one */
		}
		n->udp[0] = u4;
		n->tcp[0] = t4;
		n->port = port;
		int u6 = bound(s, n, AF_INET6, SOCK_DGRAM, port);
		int t6 = u6 >= 0 ? bound(s, n, AF_INET6, SOCK_STREAM, port) : -1;
		if (u6 >= 0 && t6 >= 0) {
			n->udp[1] = u6;
			n->tcp[1] = t6;
		} else if (u6 >= 0) {
			close(u6);
		}
		return 0;
	}
	snprintf(err, errlen, "cannot find a port for the DNS responder on 127.0.0.1");
	return -EADDRINUSE;
}

/* resolv.conf's first nameserver, as glibc reads it (default 127.0.0.1). */
static void read_resolv(pid_t pid, struct ns_ctx *n)
{
	char path[64], line[512];
	FILE *f;

	loopback(AF_INET, 53, &n->upstream, &n->upstream_len);
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/root/etc/resolv.conf", (int)pid);
	else
		snprintf(path, sizeof(path), "/etc/resolv.conf");
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char addr[64];
		if (sscanf(line, " nameserver %63s", addr) != 1)
			continue;
		char *pct = strchr(addr, '%');
		if (pct)
			*pct = '\0';
		struct sockaddr_in *a4 = (struct sockaddr_in *)&n->upstream;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&n->upstream;
		memset(&n->upstream, 0, sizeof(n->upstream));
		if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons(53);
			n->upstream_len = sizeof(*a4);
			break;
		}
		if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons(53);
			n->upstream_len = sizeof(*a6);
			break;
		}
		loopback(AF_INET, 53, &n->upstream, &n->upstream_len);
	}
	fclose(f);
}

static void ns_free(struct ns_ctx *n)
{
	for (int i = 0; i < 2; i++) {
		closefd(&n->udp[i]);
		closefd(&n->tcp[i]);
		closefd(&n->fwd[i]);
	}
	closefd(&n->nsfd);
	free(n);
}

int dns_add_ns(struct dns_server *s, pid_t pid, uint64_t *cookie, struct ca_ns *out, char *err,
	       size_t errlen)
{
	char path[64];
	struct stat st, self;
	struct ns_ctx *n, **grown;
	int rc, fd;
	socklen_t len = sizeof(*cookie);

	snprintf(path, sizeof(path), pid ? "/proc/%d/ns/net" : "/proc/self/ns/net", (int)pid);
	if (stat(path, &st) < 0 || fstat(s->self_nsfd, &self) < 0) {
		snprintf(err, errlen, "cannot find the network namespace of %s: %s",
			 pid ? path : "chaos-attach", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < s->nns; i++) {
		if (s->ns[i]->dev == st.st_dev && s->ns[i]->ino == st.st_ino) {
			*cookie = s->ns[i]->cookie;
			return 0;
		}
	}
	n = calloc(1, sizeof(*n));
	grown = realloc(s->ns, (s->nns + 1) * sizeof(*grown));
	if (!n || !grown) {
		free(n);
		if (grown)
			s->ns = grown;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->ns = grown;
	n->dev = st.st_dev;
	n->ino = st.st_ino;
	n->nsfd = -1;
	for (int i = 0; i < 2; i++)
		n->udp[i] = n->tcp[i] = n->fwd[i] = -1;
	if (st.st_dev != self.st_dev || st.st_ino != self.st_ino) {
		n->nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (n->nsfd < 0) {
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
			rc = -errno;
			goto fail;
		}
	}
	read_resolv(pid, n);
	rc = listen_ns(s, n, err, errlen);
	if (rc < 0)
		goto fail;
	fd = n->udp[0];
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &n->cookie, &len) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot read the network namespace cookie (SO_NETNS_COOKIE, "
			 "Linux 5.14): %s", strerror(-rc));
		goto fail;
	}
	for (int fam = 0; fam < 2; fam++) {
		if (n->udp[fam] >= 0 && (watch(s, n->udp[fam], EV_UDP, s->nns, fam) < 0 ||
					 listen(n->tcp[fam], 64) < 0 ||
					 watch(s, n->tcp[fam], EV_TCP, s->nns, fam) < 0)) {
			rc = -errno;
			snprintf(err, errlen, "cannot listen for DNS queries: %s", strerror(errno));
			goto fail;
		}
	}
	memset(out, 0, sizeof(*out));
	out->dns_port = htons(n->port);
	out->dns4 = n->udp[0] >= 0;
	out->dns6 = n->udp[1] >= 0;
	*cookie = n->cookie;
	s->ns[s->nns++] = n;
	return 1;
fail:
	ns_free(n);
	return rc;
}

/* ---- UDP --------------------------------------------------------------------------------------- */

static uint16_t sa_port_be(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
					: ((const struct sockaddr_in6 *)ss)->sin6_port;
}

static bool sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static void forward_udp(struct dns_server *s, size_t nsi, int reply_fd,
			const struct sockaddr_storage *from, socklen_t fromlen, uint8_t *q,
			size_t len, const struct client *cl)
{
	struct ns_ctx *n = s->ns[nsi];
	struct sockaddr_storage up;
	socklen_t uplen;
	int fam;

	if (len < 12)
		return;
	upstream_of(n, cl, &up, &uplen);
	fam = up.ss_family == AF_INET ? 0 : 1;
	if (n->fwd[fam] < 0) {
		int fd = ns_socket(s, n, up.ss_family, SOCK_DGRAM);
		if (fd < 0)
			return;
		if (watch(s, fd, EV_FWD, nsi, fam) < 0) {
			close(fd);
			return;
		}
		n->fwd[fam] = fd;
	}
	uint16_t id = s->next_id++;
	struct pending *p = &s->pend[id % PENDING];
	p->used = true;
	p->id = id;
	p->client_id = (uint16_t)(q[0] << 8 | q[1]);
	p->reply_fd = reply_fd;
	p->client = *from;
	p->client_len = fromlen;
	p->up = up;
	p->up_len = uplen;
	p->deadline_ms = now_ms(CLOCK_MONOTONIC) + FORWARD_TIMEOUT_MS;
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	if (sendto(n->fwd[fam], q, len, 0, (struct sockaddr *)&up, uplen) < 0)
		p->used = false; /* the client will retry, as after a lost datagram */
}

static void on_udp(struct dns_server *s, size_t nsi, int fam)
{
	static uint8_t q[DNS_MAX], out[DNS_MAX];
	struct ns_ctx *n = s->ns[nsi];
	int fd = n->udp[fam];

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		struct client cl;
		size_t outlen = 0;
		ssize_t len = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from,
				       &fromlen);
		if (len < 0)
			return;
		client_lookup(s, n->cookie, sa_port_be(&from), IPPROTO_UDP, &cl);
		switch (decide(s, q, (size_t)len, &cl, out, &outlen)) {
		case REPLY:
			sendto(fd, out, outlen, 0, (struct sockaddr *)&from, fromlen);
			break;
		case SILENCE:
			break;
		case FORWARD:
			forward_udp(s, nsi, fd, &from, fromlen, q, (size_t)len, &cl);
			break;
		}
	}
}

static void on_fwd(struct dns_server *s, size_t nsi, int fam)
{
	static uint8_t a[DNS_MAX];
	int fd = s->ns[nsi]->fwd[fam];
	uint64_t now = now_ms(CLOCK_MONOTONIC);

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t len = recvfrom(fd, a, sizeof(a), MSG_DONTWAIT, (struct sockaddr *)&from,
				       &fromlen);
		if (len < 0)
			return;
		if (len < 12)
			continue;
		uint16_t id = (uint16_t)(a[0] << 8 | a[1]);
		struct pending *p = &s->pend[id % PENDING];
		if (!p->used || p->id != id || !sa_equal(&p->up, &from) || now > p->deadline_ms)
			continue; /* late, or not an answer to us */
		a[0] = (uint8_t)(p->client_id >> 8);
		a[1] = (uint8_t)p->client_id;
		sendto(p->reply_fd, a, (size_t)len, 0, (struct sockaddr *)&p->client, p->client_len);
		p->used = false;
	}
}

/* ---- TCP: one thread per connection, blocking with timeouts ----------------------------------- */

struct tcp_job {
	struct dns_server *s;
	int fd, nsfd;
	uint64_t cookie;
	struct sockaddr_storage fallback;
	socklen_t fallback_len;
};

/* All of len bytes, within timeout_ms, unless chaos-attach is stopping. */
static bool io_full(const int *stop, int fd, void *buf, size_t len, bool writing, int timeout_ms)
{
	uint8_t *p = buf;
	int waited = 0;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = writing ? POLLOUT : POLLIN };
		int r = poll(&pfd, 1, 100);
		if (__atomic_load_n(stop, __ATOMIC_RELAXED) || r < 0)
			return false;
		if (r == 0) {
			waited += 100;
			if (waited >= timeout_ms)
				return false;
			continue;
		}
		ssize_t n = writing ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool read_msg(const int *stop, int fd, uint8_t *buf, size_t *len, int timeout_ms)
{
	uint8_t l[2];
	if (!io_full(stop, fd, l, 2, false, timeout_ms))
		return false;
	*len = (size_t)(l[0] << 8 | l[1]);
	return *len >= 12 && io_full(stop, fd, buf, *len, false, timeout_ms);
}

static bool write_msg(const int *stop, int fd, const uint8_t *buf, size_t len, int timeout_ms)
{
	uint8_t l[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	return io_full(stop, fd, l, 2, true, timeout_ms) &&
	       io_full(stop, fd, (void *)buf, len, true, timeout_ms);
}

/* The query over TCP to the server; its answer in a, or false. */
static bool forward_tcp(const int *stop, const struct sockaddr_storage *up, socklen_t uplen,
			const uint8_t *q, size_t len, uint8_t *a, size_t *alen)
{
	int fd = socket(up->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool ok = false;

	if (fd < 0)
		return false;
	if (connect(fd, (const struct sockaddr *)up, uplen) < 0 && errno != EINPROGRESS)
		goto out;
	ok = write_msg(stop, fd, q, len, 3000) && read_msg(stop, fd, a, alen, FORWARD_TIMEOUT_MS);
out:
	close(fd);
	return ok;
}

static void *tcp_thread(void *arg)
{
	struct tcp_job *j = arg;
	struct dns_server *s = j->s;
	uint8_t *q = malloc(DNS_MAX), *out = malloc(DNS_MAX);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct client cl = { 0 };

	if (!q || !out)
		goto done;
	/* sockets this thread makes (forwarding) belong in the client's namespace */
	if (j->nsfd >= 0 && setns(j->nsfd, CLONE_NEWNET) < 0)
		goto done;
	if (getpeername(j->fd, (struct sockaddr *)&peer, &plen) == 0)
		client_lookup(s, j->cookie, sa_port_be(&peer), IPPROTO_TCP, &cl);
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		size_t len, outlen = 0;
		if (!read_msg(&s->stop, j->fd, q, &len, TCP_IDLE_MS))
			break;
		switch (decide(s, q, len, &cl, out, &outlen)) {
		case REPLY:
			if (!write_msg(&s->stop, j->fd, out, outlen, 3000))
				goto done;
			break;
		case SILENCE:
			break;
		case FORWARD: {
			struct sockaddr_storage up;
			socklen_t uplen;
			struct ns_ctx tmp = { .upstream = j->fallback, .upstream_len = j->fallback_len };
			upstream_of(&tmp, &cl, &up, &uplen);
			if (!forward_tcp(&s->stop, &up, uplen, q, len, out, &outlen) ||
			    !write_msg(&s->stop, j->fd, out, outlen, 3000))
				goto done;
			break;
		}
		}
	}
done:
	close(j->fd);
	if (j->nsfd >= 0)
		close(j->nsfd);
	free(q);
	free(out);
	free(j);
	__atomic_sub_fetch(&s->threads, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void on_tcp(struct dns_server *s, size_t nsi, int fam)
{
	struct ns_ctx *n = s->ns[nsi];
	int fd = accept4(n->tcp[fam], NULL, NULL, SOCK_CLOEXEC);
	pthread_t t;
	pthread_attr_t attr;
	struct tcp_job *j;

	if (fd < 0)
		return;
	if (__atomic_load_n(&s->threads, __ATOMIC_ACQUIRE) >= TCP_THREADS_MAX ||
	    !(j = calloc(1, sizeof(*j)))) {
		close(fd); /* the client falls back, as when a server is busy */
		return;
	}
	j->s = s;
	j->fd = fd;
	j->cookie = n->cookie;
	j->fallback = n->upstream;
	j->fallback_len = n->upstream_len;
	j->nsfd = n->nsfd >= 0 ? fcntl(n->nsfd, F_DUPFD_CLOEXEC, 0) : -1;
	__atomic_add_fetch(&s->threads, 1, __ATOMIC_ACQ_REL);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, tcp_thread, j) != 0) {
		__atomic_sub_fetch(&s->threads, 1, __ATOMIC_RELEASE);
		close(fd);
		if (j->nsfd >= 0)
			close(j->nsfd);
		free(j);
	}
	pthread_attr_destroy(&attr);
}

/* ---- the server ---------------------------------------------------------------------------------- */

struct dns_server *dns_new(const struct dns_config *c, char *err, size_t errlen)
{
	struct dns_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->c = *c;
	pthread_mutex_init(&s->rev_lock, NULL);
	s->self_nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->self_nsfd < 0 || s->epfd < 0) {
		snprintf(err, errlen, "cannot set up the DNS responder: %s", strerror(errno));
		dns_free(s);
		return NULL;
	}
	if (getrandom(&s->next_id, sizeof(s->next_id), 0) < 0)
		s->next_id = (uint16_t)getpid();
	return s;
}

int dns_fd(const struct dns_server *s)
{
	return s->epfd;
}

void dns_poll(struct dns_server *s)
{
	struct epoll_event ev[16];
	int n = epoll_wait(s->epfd, ev, 16, 0);

	for (int i = 0; i < n; i++) {
		int type = (int)(ev[i].data.u64 >> 48), fam = (int)(ev[i].data.u64 >> 32) & 1;
		size_t nsi = (size_t)(ev[i].data.u64 & 0xffffffff);
		if (nsi >= s->nns)
			continue;
		if (type == EV_UDP)
			on_udp(s, nsi, fam);
		else if (type == EV_TCP)
			on_tcp(s, nsi, fam);
		else if (type == EV_FWD)
			on_fwd(s, nsi, fam);
	}
}

void dns_set_armed(struct dns_server *s, uint64_t armed_ns)
{
	s->c.armed_ns = armed_ns;
}

bool dns_free(struct dns_server *s)
{
	if (!s)
		return true;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	for (size_t i = 0; i < s->nns; i++)
		ns_free(s->ns[i]);
	free(s->ns);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->self_nsfd >= 0)
		close(s->self_nsfd);
	/* TCP threads hold s: they notice stop within 100 ms */
	for (int i = 0; i < 100 && __atomic_load_n(&s->threads, __ATOMIC_ACQUIRE); i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (__atomic_load_n(&s->threads, __ATOMIC_ACQUIRE))
		return false;
	free(s);
	return true;
}
