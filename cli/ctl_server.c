/* ctl_server.c -- chaos-exec's side of live control: the shared area and the control socket
 *
 * chaos-exec is the only writer of rule lists.  A request from chaos-ctl is one JSON object on
 * one line; the answer is one JSON object.  Only the same uid (or root) is served, as the
 * kernel reports it (SO_PEERCRED).  Requests:
 *   {"op":"list"}                                  the processes of this tree
 *   {"op":"show","pid":P,"all":B}                  P's rules with their counters (all: every
 *                                                  rule ever handed out, too)
 *   {"op":"add","pid":P,"tree":B,"rules":[...]}    all rules are checked first; all or none
 *   {"op":"remove","pid":P,"tree":B,"ids":[...]|"all"}
 *   {"op":"pause"|"resume","pid":P,"tree":B}
 *   {"op":"deps"}                                  the dependencies the tree contacted
 * Errors: {"error":"message","exit":N}.  P may be chaos-exec's own pid: the whole tree.
 */
#include "ctl_server.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "shm.h"
#include "tool.h"

/* A socket handed over for close-delay: closed at close_ns. */
struct held {
	uint64_t close_ns;
	int fd;
};

struct ctl_server {
	struct shm_header *h;
	int listen_fd;
	char sock[512], shm[512];
	char **argv;
	/* the outage endpoints (see shm.h): fds, -1 when absent */
	int sink[2], filler[2]; /* SYN sinks (v4, v6) and the connection that fills each queue */
	int stall[2];           /* stall listeners (v4, v6) */
	int hold;               /* the hold socket */
	int ep;                 /* epoll: stall listeners, stalled connections, the hold socket */
	size_t stalled;         /* connections held by the stall listeners */
	unsigned accept_paused; /* bit i: stall[i] is out of the epoll set (out of fds) */
	struct held *held;      /* sockets to close later, a binary heap on close_ns */
	size_t nheld, capheld;
	/* the slot claimed for the command before it was started (ctl_server_child_slot) */
	struct shm_slot *child_slot;
};

static int outage_start(struct ctl_server *s, char *err, size_t errlen);
static void outage_need(struct ctl_server *s, const struct chaos_rule *r);
static void outage_stop(struct ctl_server *s);

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Store a rule's text under a new id.  Returns the id, or 0 when full. */
static uint32_t rule_store(struct shm_header *h, const char *text, uint64_t armed_ns)
{
	size_t len = strlen(text) + 1;
	if (h->next_id > h->max_rules || h->text_used + len > h->text_size)
		return 0;
	uint32_t id = h->next_id++;
	memcpy(shm_text(h) + h->text_used, text, len);
	struct shm_rule *r = &shm_rules(h)[id];
	r->armed_ns = armed_ns;
	memset(&r->st, 0, sizeof(r->st));
	__atomic_store_n(&r->text_off, h->text_used, __ATOMIC_RELEASE);
	h->text_used += len;
	return id;
}

static void list_begin(struct shm_slot *s)
{
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL); /* odd: being written */
}

static void list_end(struct shm_slot *s)
{
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&s->pending, 1, __ATOMIC_RELEASE);
}

struct ctl_server *ctl_server_start(const struct chaos_rule_list *rules, uint64_t seed,
				    uint64_t epoch_ns, uint32_t max_rules, bool record,
				    char **argv, char *err, size_t errlen)
{
	char dir[400];
	struct ctl_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->listen_fd = -1;
	s->argv = argv;
	s->sink[0] = s->sink[1] = s->filler[0] = s->filler[1] = -1;
	s->stall[0] = s->stall[1] = s->hold = s->ep = -1;
	if (ctl_dir(geteuid(), true, dir, sizeof(dir), err, errlen) < 0)
		goto fail;
	/* what chaos-execs killed before they could clean up left here */
	ctl_sweep(dir);
	snprintf(s->sock, sizeof(s->sock), "%s/%d.sock", dir, (int)getpid());
	snprintf(s->shm, sizeof(s->shm), "%s/%d.shm", dir, (int)getpid());

	/* the area: sized for what was asked, with room to grow live */
	uint64_t text = 0;
	for (size_t i = 0; i < rules->n; i++)
		text += strlen(rules->texts[i]) + 1;
	uint32_t active = (uint32_t)rules->n * 2 < 4096 ? 4096 : (uint32_t)rules->n * 2;
	if (max_rules < active)
		max_rules = active;
	uint64_t text_size = text * 2 + (uint64_t)max_rules * 48;
	struct shm_header layout = { 0 };
	shm_layout(&layout, max_rules, active, text_size);

	unlink(s->shm);
	int fd = open(s->shm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", s->shm, strerror(errno));
		goto fail;
	}
	if (ftruncate(fd, (off_t)layout.total_size) < 0) {
		snprintf(err, errlen, "cannot size %s: %s", s->shm, strerror(errno));
		close(fd);
		goto fail;
	}
	void *map = mmap(NULL, layout.total_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %s: %s", s->shm, strerror(errno));
		goto fail;
	}
	s->h = map;
	*s->h = layout;
	s->h->exec_pid = (uint32_t)getpid();
	s->h->exec_start = chaos_proc_start(getpid());
	struct stat ns;
	if (stat("/proc/self/ns/pid", &ns) == 0)
		s->h->exec_pidns = (uint64_t)ns.st_ino;
	s->h->slots_hwm = 1; /* slot 0 */
	s->h->seed = seed;
	s->h->epoch_ns = epoch_ns;
	s->h->record = record;
	s->h->next_id = 1;

	/* slot 0 is chaos-exec's: the rules it was started with, which its child copies */
	struct shm_slot *root = shm_slot(s->h, 0);
	root->pid = (uint32_t)getpid();
	root->ppid = (uint32_t)getppid();
	for (size_t i = 0; i < rules->n; i++) {
		uint32_t id = rule_store(s->h, rules->texts[i], epoch_ns);
		if (!id) {
			snprintf(err, errlen, "no room for %zu rules", rules->n);
			goto fail;
		}
		root->ids[root->nactive++] = id;
	}
	__atomic_store_n(&root->state, SLOT_LIVE, __ATOMIC_RELEASE);
	if (outage_start(s, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < rules->n; i++)
		outage_need(s, &rules->rules[i]);
	__atomic_store_n(&s->h->magic, CHAOS_SHM_MAGIC, __ATOMIC_RELEASE);

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(s->sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", s->sock);
		goto fail;
	}
	strcpy(sa.sun_path, s->sock);
	unlink(s->sock);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old = umask(077);
	int brc = s->listen_fd < 0 ? -1 : bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (brc == 0)
		brc = chmod(s->sock, 0600);
	if (brc < 0 || listen(s->listen_fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", s->sock, strerror(errno));
		goto fail;
	}
	return s;
fail:
	ctl_server_stop(s);
	return NULL;
}

const char *ctl_server_sock(const struct ctl_server *s)
{
	return s->sock;
}

const char *ctl_server_shm(const struct ctl_server *s)
{
	return s->shm;
}

int ctl_server_fd(const struct ctl_server *s)
{
	return s->listen_fd;
}

void ctl_server_stop(struct ctl_server *s)
{
	if (!s)
		return;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->sock);
	}
	if (s->h) {
		outage_stop(s);
		munmap(s->h, s->h->total_size);
		unlink(s->shm);
	}
	free(s);
}

void ctl_server_reap(struct ctl_server *s)
{
	unsigned used = shm_slots_used(s->h);
	for (unsigned i = 1; i < used; i++) {
		struct shm_slot *sl = shm_slot(s->h, i);
		if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) != SLOT_LIVE)
			continue;
		int pid = (int)sl->pid;
		bool alive = kill(pid, 0) == 0 || errno == EPERM;
		if (alive && chaos_proc_start(pid) == sl->start)
			continue;
		/* gone (or its pid is another process now): the slot is free again */
		sl->pid = 0;
		sl->nactive = 0;
		__atomic_store_n(&sl->state, SLOT_FREE, __ATOMIC_RELEASE);
	}
}

/* The command's slot, claimed before it is started: a rule added to it as soon as its pid is
 * known, before the library in it has loaded, is in the list the library takes at its start. */
struct shm_slot *ctl_server_child_slot(struct ctl_server *s)
{
	struct shm_slot *root = shm_slot(s->h, 0);
	struct shm_slot *sl = shm_slot_claim(s->h);
	if (!sl)
		return NULL;
	/* nobody else writes lists, and nobody reads a slot that is not LIVE */
	memcpy(sl->ids, root->ids, (size_t)root->nactive * sizeof(uint32_t));
	sl->nactive = root->nactive;
	sl->paused = root->paused;
	sl->applied = 0;
	sl->seq = 0;
	sl->pid = 0;
	sl->ppid = (uint32_t)getpid();
	sl->start = 0;
	__atomic_store_n(&sl->pending, 1, __ATOMIC_RELAXED);
	s->child_slot = sl;
	return sl;
}

/* The command's slot made its own: by the command after the fork and before its exec (so that
 * the library in it finds it), and by chaos-exec after the fork (so that it is ours before any
 * request is served, even if the command has not run yet).  Both write the same values; the
 * first makes the slot LIVE. */
static void child_fill(struct shm_slot *sl, int pid)
{
	__atomic_store_n(&sl->pid, (uint32_t)pid, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->start, chaos_proc_start(pid), __ATOMIC_RELAXED);
	__atomic_store_n(&sl->state, SLOT_LIVE, __ATOMIC_RELEASE);
}

/* In the command, after fork and before exec (one thread: plain calls are safe here). */
void ctl_server_child_ready(struct shm_slot *sl)
{
	child_fill(sl, getpid());
}

void ctl_server_child(struct ctl_server *s, int pid)
{
	struct shm_slot *sl = s->child_slot;
	s->child_slot = NULL;
	if (!sl)
		return;
	if (pid <= 0)
		__atomic_store_n(&sl->state, SLOT_FREE, __ATOMIC_RELEASE); /* fork failed */
	else if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) != SLOT_LIVE)
		child_fill(sl, pid);
}

/* ---- outage endpoints -------------------------------------------------------------------------
 *
 * Two outages the kernel gives for free, which the library steers sockets to (preload/steer.c):
 * a listener whose accept queue is full drops every SYN, as a black hole does; a listener that
 * accepts and never reads or writes is a peer that stalls.  chaos-exec holds the stalled
 * connections as plain fds in one epoll set, watching only for their peer to close, so ten
 * thousand stalled connections are ten thousand fds here and no thread anywhere.  The hold
 * socket takes sockets a process closes under close-delay, and closes them when it is time.
 */

#define EP_STALL4 1ULL
#define EP_STALL6 2ULL
#define EP_HOLD 3ULL
#define EP_CONN (1ULL << 32) /* | fd: a stalled connection */

static int loopback_listener(int family, int backlog, struct sockaddr_storage *ss, socklen_t *len)
{
	int one = 1, fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)ss, *len) < 0 || listen(fd, backlog) < 0 ||
	    getsockname(fd, (struct sockaddr *)ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* A listener with backlog 0 and one connection queued that is never accepted: its queue is
 * full, and the kernel drops every further SYN (tcp_abort_on_overflow=0).  Returns the port, or
 * 0 (no such endpoint for this family). */
static uint16_t make_sink(struct ctl_server *s, int i, int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	s->sink[i] = loopback_listener(family, 0, &ss, &len);
	if (s->sink[i] < 0)
		return 0;
	s->filler[i] = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->filler[i] >= 0 &&
	    (connect(s->filler[i], (struct sockaddr *)&ss, len) == 0 || errno == EINPROGRESS)) {
		struct pollfd p = { .fd = s->filler[i], .events = POLLOUT };
		int err = 0;
		socklen_t el = sizeof(err);
		if (poll(&p, 1, 2000) == 1 &&
		    getsockopt(s->filler[i], SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
			return port_of(&ss);
	}
	if (s->filler[i] >= 0)
		close(s->filler[i]);
	close(s->sink[i]);
	s->sink[i] = s->filler[i] = -1;
	return 0;
}

static uint16_t make_stall(struct ctl_server *s, int i, int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	s->stall[i] = loopback_listener(family, 65535, &ss, &len);
	if (s->stall[i] < 0)
		return 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i ? EP_STALL6 : EP_STALL4 };
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->stall[i], &ev) < 0) {
		close(s->stall[i]);
		s->stall[i] = -1;
		return 0;
	}
	return port_of(&ss);
}

static void make_hold(struct ctl_server *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t rnd = 0;
	int one = 1;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = mono_ns() ^ ((uint64_t)getpid() << 40);
	snprintf(s->h->hold_name, sizeof(s->h->hold_name), "chaos-hold-%d-%016llx", (int)getpid(),
		 (unsigned long long)rnd);
	/* an abstract address: nothing to clean up if chaos-exec is killed; who may hand us
	 * sockets is checked on every message (SCM_CREDENTIALS) */
	memcpy(sa.sun_path + 1, s->h->hold_name, strlen(s->h->hold_name));
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				    strlen(s->h->hold_name));
	s->hold = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EP_HOLD };
	if (s->hold < 0 || setsockopt(s->hold, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    bind(s->hold, (struct sockaddr *)&sa, len) < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->hold, &ev) < 0) {
		if (s->hold >= 0)
			close(s->hold);
		s->hold = -1;
		s->h->hold_name[0] = '\0';
	}
}

static int outage_start(struct ctl_server *s, char *err, size_t errlen)
{
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		return -1;
	}
	make_hold(s);
	return 0;
}

/* The endpoints a rule steers to, made the first time a rule needs them (at start, or when one
 * is added live), before any process can have the rule: a chaos-exec without blackhole or
 * stall rules opens no TCP socket (its start-up is a fork, an exec and a map). */
static void outage_need(struct ctl_server *s, const struct chaos_rule *r)
{
	if (r->action == CHAOS_ACT_BLACKHOLE && s->sink[0] < 0 && s->sink[1] < 0) {
		s->h->sink_port4 = make_sink(s, 0, AF_INET);
		s->h->sink_port6 = make_sink(s, 1, AF_INET6);
	} else if (r->action == CHAOS_ACT_STALL && s->stall[0] < 0 && s->stall[1] < 0) {
		s->h->stall_port4 = make_stall(s, 0, AF_INET);
		s->h->stall_port6 = make_stall(s, 1, AF_INET6);
	}
}

int ctl_server_outage_fd(const struct ctl_server *s)
{
	return s->ep;
}

/* the heap of held sockets, ordered on close_ns */
static void held_swap(struct held *a, struct held *b)
{
	struct held t = *a;
	*a = *b;
	*b = t;
}

static void held_push(struct ctl_server *s, uint64_t close_ns, int fd)
{
	if (s->nheld == s->capheld) {
		size_t cap = s->capheld ? s->capheld * 2 : 64;
		struct held *n = realloc(s->held, cap * sizeof(*n));
		if (!n) {
			close(fd); /* out of memory: the peer sees the FIN now */
			return;
		}
		s->held = n;
		s->capheld = cap;
	}
	size_t i = s->nheld++;
	s->held[i] = (struct held){ close_ns, fd };
	while (i > 0 && s->held[(i - 1) / 2].close_ns > s->held[i].close_ns) {
		held_swap(&s->held[(i - 1) / 2], &s->held[i]);
		i = (i - 1) / 2;
	}
}

static void held_pop(struct ctl_server *s)
{
	s->held[0] = s->held[--s->nheld];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->nheld && s->held[l].close_ns < s->held[m].close_ns)
			m = l;
		if (r < s->nheld && s->held[r].close_ns < s->held[m].close_ns)
			m = r;
		if (m == i)
			break;
		held_swap(&s->held[i], &s->held[m]);
		i = m;
	}
}

uint64_t ctl_server_next_close_ns(const struct ctl_server *s)
{
	return s->nheld ? s->held[0].close_ns : 0;
}

void ctl_server_close_due(struct ctl_server *s)
{
	uint64_t now = mono_ns();
	while (s->nheld && s->held[0].close_ns <= now) {
		close(s->held[0].fd);
		held_pop(s);
	}
}

static void hold_receive(struct ctl_server *s)
{
	for (;;) {
		struct shm_hold msg;
		union {
			char buf[CMSG_SPACE(sizeof(int) * 8) + CMSG_SPACE(sizeof(struct ucred))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(s->hold, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0)
			return;
		int fds[8], nfds = 0;
		bool allowed = false;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			if (c->cmsg_type == SCM_RIGHTS) {
				size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t j = 0; j < k && nfds < 8; j++)
					memcpy(&fds[nfds++], CMSG_DATA(c) + j * sizeof(int), sizeof(int));
			} else if (c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cr;
				memcpy(&cr, CMSG_DATA(c), sizeof(cr));
				/* the kernel vouches for these: only our own user (or root) */
				allowed = cr.uid == geteuid() || cr.uid == 0;
			}
		}
		if (allowed && nfds == 1 && n == (ssize_t)sizeof(msg) &&
		    !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			held_push(s, msg.close_ns, fds[0]);
			continue;
		}
		for (int j = 0; j < nfds; j++)
			close(fds[j]);
	}
}

static void stall_accept(struct ctl_server *s, int i)
{
	for (;;) {
		int fd = accept4(s->stall[i], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
				/* out of fds: stop accepting until a stalled connection goes (the
				 * ones waiting in the queue are established, and stalled too) */
				epoll_ctl(s->ep, EPOLL_CTL_DEL, s->stall[i], NULL);
				s->accept_paused |= 1u << i;
			}
			return;
		}
		/* only the peer going matters: never EPOLLIN, so data it sends wakes nobody */
		struct epoll_event ev = { .events = EPOLLRDHUP, .data.u64 = EP_CONN | (uint32_t)fd };
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		s->stalled++;
	}
}

void ctl_server_outage_handle(struct ctl_server *s)
{
	struct epoll_event evs[256];
	int n = epoll_wait(s->ep, evs, 256, 0);
	for (int i = 0; i < n; i++) {
		uint64_t d = evs[i].data.u64;
		if (d == EP_STALL4 || d == EP_STALL6) {
			stall_accept(s, d == EP_STALL6);
		} else if (d == EP_HOLD) {
			hold_receive(s);
		} else if (d & EP_CONN) {
			/* the client closed (or reset) its end: let the connection go */
			close((int)(uint32_t)d);
			s->stalled--;
			for (int k = 0; k < 2; k++)
				if (s->accept_paused & (1u << k)) {
					struct epoll_event ev = { .events = EPOLLIN,
								  .data.u64 = k ? EP_STALL6
										: EP_STALL4 };
					if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->stall[k], &ev) == 0)
						s->accept_paused &= ~(1u << k);
				}
		}
	}
	ctl_server_close_due(s);
}

static void outage_stop(struct ctl_server *s)
{
	for (int i = 0; i < 2; i++) {
		if (s->sink[i] >= 0)
			close(s->sink[i]);
		if (s->filler[i] >= 0)
			close(s->filler[i]);
		if (s->stall[i] >= 0)
			close(s->stall[i]);
	}
	if (s->hold >= 0)
		close(s->hold);
	while (s->nheld) {
		close(s->held[0].fd);
		held_pop(s);
	}
	free(s->held);
	if (s->ep >= 0)
		close(s->ep); /* the stalled connections go with the process */
}

/* ---- requests -------------------------------------------------------------------------------- */

struct answer {
	cJSON *json;
	char err[1024];
	int exit_code;
};

static cJSON *fail_json(const char *msg, int code)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", msg);
	cJSON_AddNumberToObject(o, "exit", code);
	return o;
}

static void command_of(int pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
	for (ssize_t i = 0; i < n - 1; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
}

/* The slots a request names: P itself, and with tree its descendants.  chaos-exec's own pid
 * is the whole tree (its slot too, so processes started later get the change). */
static size_t targets(struct ctl_server *s, int pid, bool tree, struct shm_slot **out)
{
	size_t n = 0;
	bool all = pid == (int)s->h->exec_pid;
	struct shm_slot *first = NULL;
	unsigned used = shm_slots_used(s->h);
	for (unsigned i = 0; i < used; i++) {
		struct shm_slot *sl = shm_slot(s->h, i);
		if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) == SLOT_LIVE &&
		    (int)sl->pid == pid)
			first = sl;
	}
	if (!first)
		return 0;
	out[n++] = first;
	if (!all && !tree)
		return n;
	/* add children of anything already in the set, until nothing new */
	for (bool grew = true; grew;) {
		grew = false;
		for (unsigned i = 0; i < used; i++) {
			struct shm_slot *sl = shm_slot(s->h, i);
			if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) != SLOT_LIVE)
				continue;
			bool in = false, child = false;
			for (size_t k = 0; k < n; k++) {
				in |= out[k] == sl;
				child |= out[k]->pid == sl->ppid;
			}
			if (!in && child) {
				out[n++] = sl;
				grew = true;
			}
		}
	}
	return n;
}

static cJSON *pid_list(struct shm_slot **t, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(t[i]->pid));
	return a;
}

static cJSON *op_list(struct ctl_server *s)
{
	char cmd[512];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "exec_pid", s->h->exec_pid);
	cJSON *procs = cJSON_AddArrayToObject(o, "processes");
	unsigned used = shm_slots_used(s->h);
	for (unsigned i = 1; i < used; i++) {
		struct shm_slot *sl = shm_slot(s->h, i);
		if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) != SLOT_LIVE)
			continue;
		cJSON *p = cJSON_CreateObject();
		cJSON_AddNumberToObject(p, "pid", sl->pid);
		cJSON_AddNumberToObject(p, "ppid", sl->ppid);
		command_of((int)sl->pid, cmd, sizeof(cmd));
		cJSON_AddStringToObject(p, "command", cmd);
		cJSON_AddNumberToObject(p, "rules", sl->nactive);
		cJSON_AddBoolToObject(p, "paused", sl->paused);
		cJSON_AddItemToArray(procs, p);
	}
	return o;
}

static cJSON *rule_json(struct ctl_server *s, uint32_t id)
{
	struct shm_rule *r = &shm_rules(s->h)[id];
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "id", id);
	cJSON_AddStringToObject(j, "rule", shm_text(s->h) + r->text_off);
	cJSON_AddNumberToObject(j, "matched",
				(double)__atomic_load_n(&r->st.matched, __ATOMIC_RELAXED));
	cJSON_AddNumberToObject(j, "injected",
				(double)__atomic_load_n(&r->st.injected, __ATOMIC_RELAXED));
	return j;
}

static cJSON *op_show(struct ctl_server *s, int pid, bool all)
{
	struct shm_slot *t[CHAOS_SHM_SLOTS];
	if (!targets(s, pid, false, t))
		return NULL;
	struct shm_slot *sl = t[0];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "pid", sl->pid);
	cJSON_AddBoolToObject(o, "paused", sl->paused);
	/* chaos-exec's own slot is a template, nobody takes it */
	cJSON_AddBoolToObject(o, "up_to_date",
			      sl == shm_slot(s->h, 0) ||
				      !__atomic_load_n(&sl->pending, __ATOMIC_ACQUIRE));
	cJSON *rules = cJSON_AddArrayToObject(o, "rules");
	for (uint32_t i = 0; i < sl->nactive; i++)
		cJSON_AddItemToArray(rules, rule_json(s, sl->ids[i]));
	if (all) {
		/* every rule this chaos-exec handed out, on this process or not any more */
		cJSON *ever = cJSON_AddArrayToObject(o, "all_rules");
		for (uint32_t id = 1; id < s->h->next_id; id++)
			cJSON_AddItemToArray(ever, rule_json(s, id));
	}
	return o;
}

static cJSON *op_add(struct ctl_server *s, int pid, bool tree, const cJSON *list)
{
	struct chaos_rule_list rl = { 0 };
	struct shm_slot *t[CHAOS_SHM_SLOTS];
	char err[1024];
	cJSON *ans = NULL;

	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
		return fail_json("add needs at least one rule", EXIT_USAGE);
	const cJSON *item;
	cJSON_ArrayForEach(item, list)
	{
		if (!cJSON_IsString(item)) {
			ans = fail_json("rules must be strings", EXIT_USAGE);
			goto out;
		}
		if (chaos_rule_list_add(&rl, item->valuestring, "rule", err, sizeof(err)) < 0) {
			ans = fail_json(err, EXIT_USAGE);
			goto out;
		}
		char why[CHAOS_ERR_MAX];
		if (chaos_rule_supported(&rl.rules[rl.n - 1], CHAOS_FE_PRELOAD, why, sizeof(why)) <
		    0) {
			snprintf(err, sizeof(err), "rule '%s': %s", item->valuestring, why);
			ans = fail_json(err, EXIT_USAGE);
			goto out;
		}
	}
	size_t nt = targets(s, pid, tree, t);
	if (!nt) {
		snprintf(err, sizeof(err), "process %d is not one of this chaos-exec's", pid);
		ans = fail_json(err, 1);
		goto out;
	}
	for (size_t k = 0; k < nt; k++)
		if (t[k]->nactive + rl.n > s->h->max_active) {
			snprintf(err, sizeof(err),
				 "process %u would have more than %u rules (chaos-exec --max-rules)",
				 t[k]->pid, s->h->max_active);
			ans = fail_json(err, 1);
			goto out;
		}
	uint64_t text = 0;
	for (size_t i = 0; i < rl.n; i++)
		text += strlen(rl.texts[i]) + 1;
	if (s->h->next_id + rl.n - 1 > s->h->max_rules ||
	    s->h->text_used + text > s->h->text_size) {
		snprintf(err, sizeof(err),
			 "this chaos-exec has handed out all of its %u rule ids "
			 "(start it with a larger --max-rules)",
			 s->h->max_rules);
		ans = fail_json(err, 1);
		goto out;
	}
	ans = cJSON_CreateObject();
	cJSON_AddNumberToObject(ans, "pid", pid);
	cJSON *added = cJSON_AddArrayToObject(ans, "added");
	uint32_t *ids = calloc(rl.n, sizeof(*ids));
	uint64_t now = mono_ns();
	if (!ids) {
		cJSON_Delete(ans);
		ans = fail_json("out of memory", 1);
		goto out;
	}
	for (size_t i = 0; i < rl.n; i++) {
		outage_need(s, &rl.rules[i]);
		ids[i] = rule_store(s->h, rl.texts[i], now);
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "id", ids[i]);
		cJSON_AddStringToObject(j, "rule", rl.texts[i]);
		cJSON_AddItemToArray(added, j);
	}
	for (size_t k = 0; k < nt; k++) {
		list_begin(t[k]);
		for (size_t i = 0; i < rl.n; i++)
			t[k]->ids[t[k]->nactive + i] = ids[i];
		__atomic_store_n(&t[k]->nactive, t[k]->nactive + (uint32_t)rl.n, __ATOMIC_RELEASE);
		list_end(t[k]);
	}
	free(ids);
	cJSON_AddItemToObject(ans, "pids", pid_list(t, nt));
out:
	chaos_rule_list_free(&rl);
	return ans;
}

static cJSON *op_remove(struct ctl_server *s, int pid, bool tree, const cJSON *ids)
{
	struct shm_slot *t[CHAOS_SHM_SLOTS];
	char err[256];
	size_t nt = targets(s, pid, tree, t);
	if (!nt) {
		snprintf(err, sizeof(err), "process %d is not one of this chaos-exec's", pid);
		return fail_json(err, 1);
	}
	bool all = cJSON_IsString(ids) && strcmp(ids->valuestring, "all") == 0;
	if (!all && (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0))
		return fail_json("remove needs rule ids or \"all\"", EXIT_USAGE);
	/* every id named must be on the process named: all or nothing */
	const cJSON *it;
	if (!all)
		cJSON_ArrayForEach(it, ids)
		{
			bool found = false;
			if (!cJSON_IsNumber(it) || it->valuedouble < 1) {
				return fail_json("rule ids are numbers from 1", EXIT_USAGE);
			}
			for (uint32_t i = 0; i < t[0]->nactive; i++)
				found |= t[0]->ids[i] == (uint32_t)it->valuedouble;
			if (!found) {
				snprintf(err, sizeof(err), "process %d has no rule %u", pid,
					 (unsigned)it->valuedouble);
				return fail_json(err, 1);
			}
		}
	cJSON *ans = cJSON_CreateObject();
	cJSON_AddNumberToObject(ans, "pid", pid);
	cJSON *removed = cJSON_AddArrayToObject(ans, "removed");
	for (uint32_t i = 0; i < t[0]->nactive; i++) {
		bool gone = all;
		if (!all)
			cJSON_ArrayForEach(it, ids) gone |= t[0]->ids[i] == (uint32_t)it->valuedouble;
		if (gone)
			cJSON_AddItemToArray(removed, cJSON_CreateNumber(t[0]->ids[i]));
	}
	for (size_t k = 0; k < nt; k++) {
		struct shm_slot *sl = t[k];
		list_begin(sl);
		uint32_t w = 0;
		for (uint32_t i = 0; i < sl->nactive; i++) {
			bool gone = all;
			const cJSON *r;
			cJSON_ArrayForEach(r, removed) gone |= sl->ids[i] == (uint32_t)r->valuedouble;
			if (!gone)
				sl->ids[w++] = sl->ids[i];
		}
		__atomic_store_n(&sl->nactive, w, __ATOMIC_RELEASE);
		list_end(sl);
	}
	cJSON_AddItemToObject(ans, "pids", pid_list(t, nt));
	return ans;
}

static cJSON *op_pause(struct ctl_server *s, int pid, bool tree, bool pause)
{
	struct shm_slot *t[CHAOS_SHM_SLOTS];
	char err[256];
	size_t nt = targets(s, pid, tree, t);
	if (!nt) {
		snprintf(err, sizeof(err), "process %d is not one of this chaos-exec's", pid);
		return fail_json(err, 1);
	}
	for (size_t k = 0; k < nt; k++) {
		list_begin(t[k]);
		t[k]->paused = pause;
		list_end(t[k]);
	}
	cJSON *ans = cJSON_CreateObject();
	cJSON_AddNumberToObject(ans, "pid", pid);
	cJSON_AddBoolToObject(ans, "paused", pause);
	cJSON_AddItemToObject(ans, "pids", pid_list(t, nt));
	return ans;
}

static cJSON *dispatch(struct ctl_server *s, const cJSON *req)
{
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");
	const cJSON *pidj = cJSON_GetObjectItemCaseSensitive(req, "pid");
	bool tree = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "tree"));
	int pid = cJSON_IsNumber(pidj) ? (int)pidj->valuedouble : 0;
	char err[128];

	if (!cJSON_IsString(op))
		return fail_json("a request needs \"op\"", EXIT_USAGE);
	ctl_server_reap(s);
	if (strcmp(op->valuestring, "list") == 0)
		return op_list(s);
	if (strcmp(op->valuestring, "deps") == 0)
		return ctl_deps_json(s->h);
	if (pid <= 0)
		return fail_json("a request needs \"pid\"", EXIT_USAGE);
	cJSON *ans = NULL;
	if (strcmp(op->valuestring, "show") == 0)
		ans = op_show(s, pid, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "all")));
	else if (strcmp(op->valuestring, "add") == 0)
		return op_add(s, pid, tree, cJSON_GetObjectItemCaseSensitive(req, "rules"));
	else if (strcmp(op->valuestring, "remove") == 0)
		return op_remove(s, pid, tree, cJSON_GetObjectItemCaseSensitive(req, "ids"));
	else if (strcmp(op->valuestring, "pause") == 0 || strcmp(op->valuestring, "resume") == 0)
		return op_pause(s, pid, tree, op->valuestring[0] == 'p');
	else
		return fail_json("unknown op", EXIT_USAGE);
	if (!ans) {
		snprintf(err, sizeof(err), "process %d is not one of this chaos-exec's", pid);
		return fail_json(err, 1);
	}
	return ans;
}

void ctl_server_handle(struct ctl_server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	cJSON *ans = NULL;
	/* the kernel says who is calling: only our own user and root may change our faults */
	bool allowed = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 &&
		       (cred.uid == geteuid() || cred.uid == 0);
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	size_t cap = 1 << 16, used = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (used + 1 == cap) {
			if (cap >= (64u << 20))
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (memchr(buf + used - (size_t)n, '\n', (size_t)n))
			break;
	}
	if (!allowed) {
		ans = fail_json("permission denied: this service is controlled by another user", 1);
		free(buf);
	} else if (buf) {
		buf[used] = '\0';
		cJSON *req = cJSON_Parse(buf);
		ans = req ? dispatch(s, req) : fail_json("the request is not JSON", EXIT_USAGE);
		cJSON_Delete(req);
		free(buf);
	} else {
		ans = fail_json("out of memory", 1);
	}
	char *text = cJSON_PrintUnformatted(ans);
	cJSON_Delete(ans);
	if (text) {
		size_t len = strlen(text), off = 0;
		while (off < len) {
			ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		free(text);
	}
	close(fd);
}

int ctl_server_write_record(struct ctl_server *s, const char *path, char *err, size_t errlen)
{
	char tmp[4200];
	cJSON *j = ctl_deps_json(s->h);
	char *text = cJSON_Print(j);
	cJSON_Delete(j);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "we");
	if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (f)
			fclose(f);
		unlink(tmp);
		free(text);
		return -1;
	}
	free(text);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
