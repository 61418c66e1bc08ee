/* epoll.c -- epoll_ctl(2), epoll_wait(2), epoll_pwait(2), epoll_pwait2(2): readiness that tells
 * the truth about faults in time, edge-triggered and one-shot registrations included
 *
 * The kernel keeps the semantics (level or edge, EPOLLONESHOT); we only decide when it may
 * report a gated socket.  Registrations of outgoing TCP sockets are tracked per epoll fd (an
 * epset); once a socket has a gate (gate.h), its registration carries our tag as data, so an
 * event for it is recognised, judged by its gate and handed to the program with the program's
 * own data.  An event that must be held back is dropped, and:
 *   - a level-triggered registration is masked (EPOLL_CTL_MOD without the held bits; as an
 *     edge-triggered one while an error or hang-up is held, which epoll reports whatever was
 *     asked) so the kernel does not report it again and again;
 *   - an edge-triggered one needs nothing (the kernel reports the next arrival by itself, and
 *     we time it), and a one-shot one was disarmed by the kernel as it reported;
 * and when it is due, the registration is modified back to what the program asked for, which
 * makes the kernel look at the socket again and report it if it is ready, as it would have.
 * The wait never sleeps past the next moment a held registration of its set changes, nor past
 * the caller's time-out.
 *
 * Tracking costs (a lock, a lookup) on every epoll_ctl, so there is none while no fault in time
 * can apply (chaos_waits_armed == 0: no timed rule, no gate): epoll_ctl is then the real call.
 * Once waits are armed, tracking is on for good (ep_on), and an epset is filled in from the
 * kernel's own list of the epoll fd's registrations (/proc/self/fdinfo/EPFD: tfd, events, data,
 * ino) the first time a hook meets the set (a wait, an epoll_ctl), under its lock; from then on
 * every epoll_ctl on it goes through the set.  So registrations made before a timed rule was
 * added live (chaos-ctl add) are known when it arrives, and the kernel's list also says what
 * this process never saw (made before we loaded, by a fork parent sharing the epoll, removed
 * by a close).  The races:
 *   - an untracked epoll_ctl still under way when tracking goes on: each is counted in flight
 *     (bypassing[], per thread shard) around the real call, and reads ep_on after counting
 *     itself; a set is filled in only after ep_on is set and every count has been seen at 0
 *     (Dekker: either the call sees ep_on and is tracked, or the filling waits for it to end);
 *   - a signal handler on a thread counted in flight: it never waits on itself (in_bypass), the
 *     set stays unfilled and its hooks pass through until the next meeting;
 *   - a hook that cannot take the set's lock (a handler interrupting the thread that holds it)
 *     makes the real call and marks the set stale: the next holder of the lock fills it in again
 *     (keeping what it knew of registrations that carry our tag: only we wrote those);
 *   - a registration listed for an fd number that now names another file (closed, or reused
 *     while the old file lives on in a dup) is left out: its ino is not the fd's;
 *   - a one-shot registration the kernel disarmed is listed without events: known as fired,
 *     and left untagged until the program arms it again (a modification would re-arm it);
 *   - a registration carrying a tag we do not know the program's data for (a set of another
 *     process, across exec) is left out;
 *   - a wait that did not go by the gates (it began before they were armed, or its set had no
 *     tag yet) may take an event of a registration another thread tagged meanwhile: every wait
 *     looks for our tag in what it got (once a tag was ever made) and judges it as a gated wait
 *     does, so the program never sees our tag.
 * When the timed rules go away again, tracking stays on: tags live only on gated sockets, and
 * the sets stay exact, so a timed rule added later finds them right (the cost is back to the
 * per-call bookkeeping, in processes that had faults in time only).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gate.h"
#include "units.h"

struct epreg {
	int fd;               /* -1: empty slot */
	uint32_t app_events;  /* what the program asked for */
	uint64_t app_data;
	uint32_t kern_events; /* what the kernel has now (tagged registrations) */
	uint8_t tagged;       /* the kernel has our tag as the data */
	uint8_t fired;        /* EPOLLONESHOT: delivered, disarmed until the program re-arms */
	uint8_t held;         /* its gate has something pending: look at it on each wait */
	uint8_t dropped;      /* an event of it was held back: modify it back when due */
};

struct epset {
	uint64_t lock;
	int epfd;             /* -1 once closed; atomic (read without the lock) */
	uint32_t cap, count;  /* open addressing on fd; cap is a power of two */
	uint32_t ntagged, nheld; /* ntagged: read without the lock (gated_wait); atomic */
	uint32_t gen;         /* ruleset generation looked at for rules added live; atomic */
	int synced;           /* regs is the kernel's list (filled in, tracked since); atomic */
	int stale;            /* a call went by without the lock: fill in again; atomic */
	struct epreg *regs;
	struct epset *next;
};

/* ntagged changes under the lock; gated_wait reads it without */
static inline void ntagged_add(struct epset *s, uint32_t d)
{
	__atomic_store_n(&s->ntagged, s->ntagged + d, __ATOMIC_RELAXED);
}

static struct epset *all_sets;
static uint64_t all_lock;
static uint64_t tag_base;

/* Our tag: high bit set (no pointer or fd has it), 31 random bits, the fd. */
static uint64_t tag_of(int fd)
{
	uint64_t base = __atomic_load_n(&tag_base, __ATOMIC_RELAXED);
	if (!base) {
		uint32_t r = 0;
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r = (uint32_t)chaos_now_ns();
		base = (0x80000000ULL | (r & 0x7fffffffu)) << 32;
		uint64_t expected = 0;
		if (!__atomic_compare_exchange_n(&tag_base, &expected, base, false,
						 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			base = expected;
	}
	return base | (uint32_t)fd;
}

static bool is_tag(uint64_t data)
{
	uint64_t base = __atomic_load_n(&tag_base, __ATOMIC_RELAXED);
	return base && (data & 0xffffffff00000000ULL) == base;
}

/* ---- the registrations of one epoll fd ------------------------------------------------------- */

static struct epreg *reg_find(struct epset *s, int fd)
{
	if (!s->cap)
		return NULL;
	for (uint32_t i = 0; i < s->cap; i++) {
		struct epreg *r = &s->regs[((uint32_t)fd * 2654435761u + i) & (s->cap - 1)];
		if (r->fd == fd)
			return r;
		if (r->fd == -1)
			return NULL;
	}
	return NULL;
}

static void reg_clear(struct epset *s, struct epreg *r)
{
	if (r->tagged)
		ntagged_add(s, (uint32_t)-1);
	if (r->held)
		s->nheld--;
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* Remove r, keeping the probe chains of the others whole. */
static void reg_remove(struct epset *s, struct epreg *r)
{
	reg_clear(s, r);
	s->count--;
	uint32_t i = (uint32_t)(r - s->regs);
	for (uint32_t j = (i + 1) & (s->cap - 1); s->regs[j].fd != -1; j = (j + 1) & (s->cap - 1)) {
		struct epreg moved = s->regs[j];
		s->regs[j].fd = -1;
		struct epreg *to = NULL;
		for (uint32_t k = 0; k < s->cap; k++) {
			struct epreg *c = &s->regs[((uint32_t)moved.fd * 2654435761u + k) &
						   (s->cap - 1)];
			if (c->fd == -1) {
				to = c;
				break;
			}
		}
		*to = moved;
	}
}

static struct epreg *reg_insert(struct epset *s, int fd)
{
	struct epreg *r = reg_find(s, fd);
	if (r)
		return r;
	if ((s->count + 1) * 2 > s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 16;
		struct epreg *fresh = malloc(cap * sizeof(*fresh));
		if (!fresh)
			return NULL;
		for (uint32_t i = 0; i < cap; i++)
			fresh[i].fd = -1;
		struct epreg *old = s->regs;
		uint32_t oldcap = s->cap;
		s->regs = fresh;
		s->cap = cap;
		for (uint32_t i = 0; i < oldcap; i++) {
			if (old[i].fd == -1)
				continue;
			for (uint32_t k = 0; k < cap; k++) {
				struct epreg *c =
					&fresh[((uint32_t)old[i].fd * 2654435761u + k) & (cap - 1)];
				if (c->fd == -1) {
					*c = old[i];
					break;
				}
			}
		}
		free(old);
	}
	for (uint32_t k = 0; k < s->cap; k++) {
		r = &s->regs[((uint32_t)fd * 2654435761u + k) & (s->cap - 1)];
		if (r->fd == -1) {
			memset(r, 0, sizeof(*r));
			r->fd = fd;
			s->count++;
			return r;
		}
	}
	return NULL;
}

static struct epset *epset_of(int epfd, bool create)
{
	struct fd_entry *e = create ? fd_get(epfd) : fd_lookup(epfd);
	if (!e)
		return NULL;
	struct epset *s = __atomic_load_n(&e->ep, __ATOMIC_ACQUIRE);
	if (s || !create)
		return s && __atomic_load_n(&s->epfd, __ATOMIC_ACQUIRE) == epfd ? s : NULL;
	/* a set closed before is reused; else a new one joins the list for good */
	chaos_lock(&all_lock);
	for (s = all_sets; s; s = s->next)
		if (__atomic_load_n(&s->epfd, __ATOMIC_RELAXED) == -1)
			break;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			chaos_unlock(&all_lock);
			return NULL;
		}
		s->next = all_sets;
		__atomic_store_n(&all_sets, s, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&s->gen, rules_get()->gen, __ATOMIC_RELAXED);
	__atomic_store_n(&s->epfd, epfd, __ATOMIC_RELEASE);
	chaos_unlock(&all_lock);
	struct epset *expected = NULL;
	if (!__atomic_compare_exchange_n(&e->ep, &expected, s, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&s->epfd, -1, __ATOMIC_RELEASE); /* (back to the list) */
		return expected;
	}
	return s;
}

/* The epoll fd is closed (fdtable.c): its set is free for the next one. */
void epoll_fd_closed(struct epset *s);
void epoll_fd_closed(struct epset *s)
{
	if (!chaos_lock(&s->lock))
		return;
	for (uint32_t i = 0; i < s->cap; i++)
		s->regs[i].fd = -1;
	s->count = s->nheld = 0;
	__atomic_store_n(&s->ntagged, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->synced, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->stale, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->epfd, -1, __ATOMIC_RELEASE);
	chaos_unlock(&s->lock);
}

static int kernel_mod(struct epset *s, struct epreg *r, uint32_t events, bool tagged)
{
	struct epoll_event ev = { .events = events };
	ev.data.u64 = tagged ? tag_of(r->fd) : r->app_data;
	int saved = errno;
	int epfd = __atomic_load_n(&s->epfd, __ATOMIC_RELAXED);
	int rc = real_epoll_ctl(epfd, EPOLL_CTL_MOD, r->fd, &ev);
	errno = saved;
	if (rc == 0) {
		r->kern_events = events;
		if (tagged && !r->tagged)
			ntagged_add(s, 1);
		else if (!tagged && r->tagged)
			ntagged_add(s, (uint32_t)-1);
		r->tagged = tagged;
	}
	return rc;
}

/* Is fd an outgoing TCP socket, whose registrations we track? */
static bool trackable(int fd)
{
	struct fd_entry *e = fd_lookup(fd);
	if (!e || __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE) == FD_UNKNOWN) {
		e = fd_get(fd);
		if (!e)
			return false;
		fd_classify(fd, e);
	}
	gate_valid(fd, e);
	return e->kind == FD_INET && e->proto == CHAOS_PROTO_TCP;
}

/* ---- tracking on, and a set filled in from the kernel's list ------------------------------- */

static int ep_on;      /* tracking is on (for good) */
static int ep_drained; /* ...and no untracked epoll_ctl can be under way any more */

#define SHARDS 64
/* untracked epoll_ctl calls under way, by thread shard (a cache line each) */
static struct {
	int n;
	char pad[60];
} bypassing[SHARDS] __attribute__((aligned(64)));
/* this thread is in an untracked epoll_ctl (a signal handler must not wait for it) */
static __thread int in_bypass __attribute__((tls_model("initial-exec")));

static inline unsigned my_shard(void)
{
	return (unsigned)(((uint64_t)(uintptr_t)&in_bypass * 0x9E3779B97F4A7C15ULL) >> 58);
}

static void tracking_on(void)
{
	if (!__atomic_load_n(&ep_on, __ATOMIC_RELAXED))
		__atomic_store_n(&ep_on, 1, __ATOMIC_SEQ_CST);
}

/* The real epoll_ctl, untracked; -2 (nothing done) if tracking went on meanwhile. */
static int bypass_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int *n = &bypassing[my_shard()].n;
	in_bypass++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
	int rc = -2;
	if (likely(!__atomic_load_n(&ep_on, __ATOMIC_SEQ_CST)))
		rc = real_epoll_ctl(epfd, op, fd, ev);
	__atomic_sub_fetch(n, 1, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	in_bypass--;
	return rc;
}

/* Tracking is on: wait until no untracked epoll_ctl is under way (they are one system call
 * each; a thread stopped inside one holds us up to ~100 ms, then the caller tries again later). */
static bool drained(void)
{
	if (__atomic_load_n(&ep_drained, __ATOMIC_ACQUIRE))
		return true;
	if (in_bypass)
		return false; /* a signal handler on a thread inside one: never wait for ourselves */
	uint64_t until = 0;
	for (unsigned i = 0; i < SHARDS; i++) {
		while (__atomic_load_n(&bypassing[i].n, __ATOMIC_SEQ_CST) > 0) {
			uint64_t now = chaos_now_ns();
			if (!until)
				until = now + 100 * NSEC_PER_MSEC;
			else if (now > until)
				return false;
			sched_yield();
		}
	}
	__atomic_store_n(&ep_drained, 1, __ATOMIC_RELEASE);
	return true;
}

/* After fork: only this thread is left; the counts of the others are gone with them. */
__attribute__((constructor)) static void epoll_fork_setup(void);
static void epoll_after_fork(void)
{
	for (unsigned i = 0; i < SHARDS; i++)
		__atomic_store_n(&bypassing[i].n, 0, __ATOMIC_RELAXED);
	if (in_bypass) /* (a fork from a handler that interrupted one) */
		__atomic_store_n(&bypassing[my_shard()].n, in_bypass, __ATOMIC_RELAXED);
}
static void epoll_fork_setup(void)
{
	pthread_atfork(NULL, NULL, epoll_after_fork);
}

struct kreg {
	int fd;
	uint32_t events;
	uint64_t data, ino;
};

static bool hex_field(const char *line, const char *key, uint64_t *v)
{
	const char *p = strstr(line, key);
	if (!p)
		return false;
	p += strlen(key);
	while (*p == ' ' || *p == '\t')
		p++;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(p, &end, 16);
	if (end == p || errno || (*end && *end != ' ' && *end != '\t' && *end != '\n'))
		return false;
	*v = x;
	return true;
}

/* The kernel's list of epfd's registrations (malloc'd, *n of them): 0, -ENOENT (no /proc, or
 * not one we can read), or another -errno (try again later). */
static int kernel_list(int epfd, struct kreg **out, size_t *n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == EACCES || errno == EPERM ? -ENOENT : -errno;
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	int err = buf ? 0 : -ENOMEM;
	while (!err) {
		if (len + 4096 + 1 > cap) {
			char *more = realloc(buf, cap * 2);
			if (!more) {
				err = -ENOMEM;
				break;
			}
			buf = more;
			cap *= 2;
		}
		ssize_t r = real_read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	real_close(fd);
	struct kreg *list = NULL;
	size_t count = 0, lcap = 0;
	if (!err) {
		buf[len] = '\0';
		for (char *line = buf; !err && line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			if (!strncmp(line, "tfd:", 4)) {
				uint64_t events, data, ino;
				char *end;
				errno = 0;
				long tfd = strtol(line + 4, &end, 10);
				if (end == line + 4 || errno || tfd < 0 || tfd > 0x7fffffff ||
				    !hex_field(line, "events:", &events) || events > 0xffffffffu ||
				    !hex_field(line, "data:", &data) || !hex_field(line, " ino:", &ino)) {
					err = -ENOENT; /* a format we do not know: trust none of it */
					break;
				}
				if (count == lcap) {
					lcap = lcap ? lcap * 2 : 64;
					struct kreg *more = realloc(list, lcap * sizeof(*list));
					if (!more) {
						err = -ENOMEM;
						break;
					}
					list = more;
				}
				list[count++] = (struct kreg){ (int)tfd, (uint32_t)events, data, ino };
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	free(buf);
	if (err) {
		free(list);
		return err;
	}
	*out = list;
	*n = count;
	return 0;
}

#define EP_PRIVATE (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)

/* Fill s in from the kernel's list.  Lock held. */
static bool fill_in(struct epset *s)
{
	static int warned;
	if (!drained())
		return false;
	int saved = errno;
	struct kreg *list = NULL;
	size_t n = 0;
	int rc = kernel_list(__atomic_load_n(&s->epfd, __ATOMIC_RELAXED), &list, &n);
	if (rc < 0 && rc != -ENOENT) {
		errno = saved;
		return false;
	}
	if (rc < 0) {
		/* (no /proc: what we know, tracked from now on; registrations made before are
		 * unknown, and so never tagged, as if their sockets had no gate) */
		if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
			chaos_warn("cannot read /proc/self/fdinfo/%d: sockets registered in an epoll "
				   "set before a fault in time was added are not held back in it",
				   __atomic_load_n(&s->epfd, __ATOMIC_RELAXED));
		__atomic_store_n(&s->gen, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->synced, 1, __ATOMIC_RELEASE);
		errno = saved;
		return true;
	}
	/* what we knew stays for registrations carrying our tag (only we put it there) */
	struct epset old = { .cap = s->cap, .regs = s->regs };
	s->regs = NULL;
	s->cap = s->count = s->nheld = 0;
	__atomic_store_n(&s->ntagged, 0, __ATOMIC_RELAXED);
	for (size_t i = 0; i < n; i++) {
		struct kreg *k = &list[i];
		struct stat st;
		if (k->events & EPOLLEXCLUSIVE)
			continue; /* (never modified, never tracked) */
		if (fstat(k->fd, &st) < 0 || !S_ISSOCK(st.st_mode) || (uint64_t)st.st_ino != k->ino)
			continue; /* the number names another file now */
		struct fd_entry *e = fd_lookup(k->fd);
		if (e && __atomic_load_n(&e->ep, __ATOMIC_ACQUIRE))
			continue; /* an epoll fd */
		if (is_tag(k->data)) {
			struct epreg *o = reg_find(&old, k->fd);
			if (!o || !o->tagged || (uint32_t)k->data != (uint32_t)k->fd)
				continue; /* a tag whose program data we do not know */
			struct epreg *r = reg_insert(s, k->fd);
			if (!r)
				continue;
			*r = *o;
			r->kern_events = k->events;
			ntagged_add(s, 1);
			if (r->held)
				s->nheld++;
			continue;
		}
		if (!trackable(k->fd))
			continue;
		struct epreg *r = reg_insert(s, k->fd);
		if (!r)
			continue;
		r->app_events = r->kern_events = k->events;
		r->app_data = k->data;
		/* a one-shot registration the kernel disarmed as it reported */
		r->fired = (k->events & EPOLLONESHOT) && !(k->events & ~EP_PRIVATE);
		if (!r->fired && gate_get(k->fd)) {
			if (kernel_mod(s, r, r->app_events, true) < 0) {
				reg_remove(s, r);
				continue;
			}
			r->held = 1; /* whatever its gate has pending is looked at by the waits */
			s->nheld++;
		}
	}
	free(old.regs);
	free(list);
	__atomic_store_n(&s->gen, 0, __ATOMIC_RELAXED); /* rules added live: the next wait looks */
	__atomic_store_n(&s->synced, 1, __ATOMIC_RELEASE);
	errno = saved;
	return true;
}

/* May the set's registrations be used (filling it in if need be)?  Lock held. */
static bool usable(struct epset *s)
{
	if (unlikely(__atomic_load_n(&s->stale, __ATOMIC_ACQUIRE))) {
		__atomic_store_n(&s->stale, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->synced, 0, __ATOMIC_RELAXED);
	}
	return __atomic_load_n(&s->synced, __ATOMIC_RELAXED) || fill_in(s);
}

/* A call on the set went by without its lock. */
static void mark_stale(struct epset *s)
{
	__atomic_store_n(&s->stale, 1, __ATOMIC_RELEASE);
}

/* The gate of fd has something pending that no event will announce (a deadline): its
 * registrations are looked at on each wait. */
void epoll_gate_changed(int fd)
{
	for (struct epset *s = __atomic_load_n(&all_sets, __ATOMIC_ACQUIRE); s; s = s->next) {
		if (__atomic_load_n(&s->epfd, __ATOMIC_ACQUIRE) < 0)
			continue;
		if (!chaos_lock(&s->lock)) {
			mark_stale(s); /* (filling in again marks every tagged one held) */
			continue;
		}
		/* (a set not filled in yet is, and then holds what is tagged) */
		struct epreg *r = __atomic_load_n(&s->epfd, __ATOMIC_RELAXED) >= 0 &&
					  __atomic_load_n(&s->synced, __ATOMIC_RELAXED) &&
						  !__atomic_load_n(&s->stale, __ATOMIC_RELAXED)
					  ? reg_find(s, fd)
					  : NULL;
		if (r && r->tagged && !r->held) {
			r->held = 1;
			s->nheld++;
		}
		chaos_unlock(&s->lock);
	}
}

void epoll_gate_attached(int fd)
{
	for (struct epset *s = __atomic_load_n(&all_sets, __ATOMIC_ACQUIRE); s; s = s->next) {
		if (__atomic_load_n(&s->epfd, __ATOMIC_ACQUIRE) < 0)
			continue;
		if (!chaos_lock(&s->lock)) {
			mark_stale(s); /* (filling in again tags the gated ones) */
			continue;
		}
		/* a set not filled in yet gets the tag when it is; a one-shot registration that
		 * fired gets it when the program arms it again (a modification would re-arm it) */
		struct epreg *r = __atomic_load_n(&s->epfd, __ATOMIC_RELAXED) >= 0 &&
					  __atomic_load_n(&s->synced, __ATOMIC_RELAXED) &&
						  !__atomic_load_n(&s->stale, __ATOMIC_RELAXED)
					  ? reg_find(s, fd)
					  : NULL;
		if (r && !r->tagged && !r->fired && kernel_mod(s, r, r->app_events, true) < 0)
			reg_remove(s, r); /* not registered there any more */
		chaos_unlock(&s->lock);
	}
}

/* ---- epoll_ctl ------------------------------------------------------------------------------ */

static int IO_SLOW slow_ctl(int epfd, int op, int fd, struct epoll_event *ev);

/* (the check of CHAOS_INIT inlined, its calls in the slow path: no stack frame to build) */
EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (likely(__atomic_load_n(&chaos_ready, __ATOMIC_ACQUIRE)) &&
	    likely(!__atomic_load_n(chaos_ctl_pending, __ATOMIC_RELAXED)) &&
	    likely(!__atomic_load_n(&ep_on, __ATOMIC_RELAXED)) &&
	    likely(!__atomic_load_n(&chaos_waits_armed, __ATOMIC_RELAXED))) {
		/* bypass_ctl(), written out so that nothing but the count is live across the call */
		int *n = &bypassing[my_shard()].n;
		in_bypass++;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		__atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
		if (likely(!__atomic_load_n(&ep_on, __ATOMIC_SEQ_CST))) {
			int rc = real_epoll_ctl(epfd, op, fd, ev);
			__atomic_sub_fetch(n, 1, __ATOMIC_RELEASE);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
			in_bypass--;
			return rc;
		}
		__atomic_sub_fetch(n, 1, __ATOMIC_RELEASE);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		in_bypass--;
	}
	return slow_ctl(epfd, op, fd, ev);
}

/* epoll_ctl before init, with a rule change pending, or while tracking is (or goes) on */
static int slow_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	CHAOS_INIT();
	if (unlikely(chaos_busy))
		return real_epoll_ctl(epfd, op, fd, ev);
	if (!__atomic_load_n(&ep_on, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(&chaos_waits_armed, __ATOMIC_RELAXED)) {
		int rc = bypass_ctl(epfd, op, fd, ev);
		if (rc != -2)
			return rc;
	}
	tracking_on();
	bool track = (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && ev &&
		     !(ev->events & EPOLLEXCLUSIVE) && trackable(fd);
	struct epset *s = epset_of(epfd, true);
	if (!s)
		return real_epoll_ctl(epfd, op, fd, ev);
	if (!chaos_lock(&s->lock)) {
		int rc = real_epoll_ctl(epfd, op, fd, ev);
		mark_stale(s);
		return rc;
	}
	if (!usable(s)) {
		/* (the kernel's list, read when the set is filled in, will have it) */
		int rc = real_epoll_ctl(epfd, op, fd, ev);
		int saved = errno;
		chaos_unlock(&s->lock);
		errno = saved;
		return rc;
	}
	if (!track) {
		/* DEL, or an fd number used before for a socket we tracked */
		struct epreg *r = op == EPOLL_CTL_DEL || op == EPOLL_CTL_ADD ? reg_find(s, fd) : NULL;
		if (r)
			reg_remove(s, r);
		int rc = real_epoll_ctl(epfd, op, fd, ev);
		int saved = errno;
		chaos_unlock(&s->lock);
		errno = saved;
		return rc;
	}
	struct epreg *r = reg_find(s, fd);
	bool fresh = !r;
	if (!r)
		r = reg_insert(s, fd);
	if (!r) {
		int rc = real_epoll_ctl(epfd, op, fd, ev);
		int saved = errno;
		mark_stale(s); /* (out of memory: try the kernel's list next time) */
		chaos_unlock(&s->lock);
		errno = saved;
		return rc;
	}
	bool tagged = gate_get(fd) != NULL;
	struct epoll_event kev = *ev;
	if (tagged)
		kev.data.u64 = tag_of(fd);
	int rc = real_epoll_ctl(epfd, op, fd, &kev);
	int saved = errno;
	if (rc == 0 || (op == EPOLL_CTL_ADD && saved == EEXIST && fresh)) {
		/* (EEXIST on a registration we did not know: made before we tracked) */
		if (rc < 0) {
			reg_remove(s, r);
		} else {
			if (r->held) {
				r->held = 0;
				s->nheld--;
			}
			if (r->tagged != tagged)
				ntagged_add(s, tagged ? 1 : (uint32_t)-1);
			r->tagged = tagged;
			r->app_events = ev->events;
			r->app_data = ev->data.u64;
			r->kern_events = ev->events;
			r->fired = 0;
			r->dropped = 0;
			if (tagged) {
				/* whatever its gate has pending is looked at by the waits */
				r->held = 1;
				s->nheld++;
			}
		}
	} else if (fresh) {
		reg_remove(s, r);
	}
	chaos_unlock(&s->lock);
	errno = saved;
	return rc;
}

/* ---- the wait ------------------------------------------------------------------------------- */

#define HELD_END (EPOLLERR | EPOLLHUP)

/* What the kernel should have for a registration whose bits `hide` are held back. */
static uint32_t masked(const struct epreg *r, unsigned hide)
{
	uint32_t ev = r->app_events & ~hide;
	if (hide & HELD_END)
		ev |= EPOLLET; /* errors and hang-ups are reported whatever was asked: once, then */
	return ev;
}

/* Look at the held registrations of the set: let go of what is due, keep masking the rest.
 * Returns the next time to look (UINT64_MAX: none).  Lock held. */
static uint64_t look_held(struct epset *s, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	if (!s->nheld)
		return next;
	for (uint32_t i = 0; i < s->cap; i++) {
		struct epreg *r = &s->regs[i];
		if (r->fd < 0 || !r->held)
			continue;
		struct gate *g = gate_get(r->fd);
		unsigned h = 0;
		uint64_t due = 0, watch = 0;
		if (g && gate_lock(g)) {
			h = gate_hidden(r->fd, g, now, -1, &due, &watch);
			gate_unlock(g);
		}
		if (!(h & (r->app_events | HELD_END))) {
			/* nothing held back now: as the program asked, and the kernel looks at the
			 * socket again (and reports it if it is ready, edge-triggered or not) */
			if (r->dropped && !r->fired && kernel_mod(s, r, r->app_events, g != NULL) < 0) {
				reg_remove(s, r); /* not registered there any more */
				i = (uint32_t)-1; /* (entries moved: start over) */
				continue;
			}
			r->dropped = 0;
			if (!due) {
				r->held = 0;
				s->nheld--;
				continue;
			}
		}
		bool lt = !(r->app_events & (EPOLLET | EPOLLONESHOT));
		if (r->dropped && lt && !r->fired && masked(r, h) != r->kern_events)
			kernel_mod(s, r, masked(r, h), true);
		if (due && due < next)
			next = due;
		if (watch && now + watch < next)
			next = now + watch;
	}
	return next;
}

/* The events the kernel reported, judged: held ones dropped (and their registrations held),
 * the rest handed over with the program's data.  Returns how many are left in out. */
static int judge(struct epset *s, struct epoll_event *out, int n, uint64_t now)
{
	int k = 0;
	bool locked = chaos_lock(&s->lock);
	if (!locked || !usable(s)) {
		/* (what carries our tag cannot be translated: dropped; a level-triggered one is
		 * reported again, the wait after next) */
		for (int i = 0; i < n; i++)
			if (!is_tag(out[i].data.u64))
				out[k++] = out[i];
		if (locked)
			chaos_unlock(&s->lock);
		else
			mark_stale(s);
		return k;
	}
	for (int i = 0; i < n; i++) {
		if (!is_tag(out[i].data.u64)) {
			out[k++] = out[i];
			continue;
		}
		int fd = (int)(uint32_t)out[i].data.u64;
		struct epreg *r = reg_find(s, fd);
		if (!r)
			continue; /* a registration of a socket that is gone */
		struct gate *g = gate_get(fd);
		unsigned h = 0;
		uint64_t due, watch;
		if (g && gate_lock(g)) {
			h = gate_hidden(fd, g, now, (int)(out[i].events & 0xffff), &due, &watch);
			gate_unlock(g);
		}
		uint32_t vis = out[i].events & ~h;
		if (vis) {
			out[k].events = vis;
			out[k].data.u64 = r->app_data;
			k++;
			if (r->app_events & EPOLLONESHOT)
				r->fired = 1;
		}
		if (out[i].events & h) {
			r->dropped = 1;
			if (!r->held) {
				r->held = 1;
				s->nheld++;
			}
			/* (a modification makes the kernel look again, and report what it still
			 * has: only when the mask changes) */
			bool lt = !(r->app_events & (EPOLLET | EPOLLONESHOT));
			if (lt && !r->fired && masked(r, h) != r->kern_events)
				kernel_mod(s, r, masked(r, h), true);
		}
	}
	chaos_unlock(&s->lock);
	return k;
}

/* Rules added live: sockets in the set they cover get gates (and so our tag). */
static void rescan(struct epset *s, const struct ruleset *set)
{
	int fds[256];
	uint32_t n = 0;
	if (!chaos_lock(&s->lock))
		return;
	if (!usable(s)) {
		chaos_unlock(&s->lock);
		return;
	}
	__atomic_store_n(&s->gen, set->gen, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < s->cap && n < 256; i++)
		if (s->regs[i].fd >= 0 && !s->regs[i].tagged)
			fds[n++] = s->regs[i].fd;
	chaos_unlock(&s->lock);
	for (uint32_t i = 0; i < n; i++) {
		struct fd_entry *e = fd_lookup(fds[i]);
		if (e)
			gate_for(fds[i], e, set);
	}
}

static int kernel_wait(int epfd, struct epoll_event *out, int max, uint64_t t,
		       const sigset_t *sigmask)
{
	static int no_pwait2;
	if (!__atomic_load_n(&no_pwait2, __ATOMIC_RELAXED)) {
		struct timespec ts = { (time_t)(t / NSEC_PER_SEC), (long)(t % NSEC_PER_SEC) };
		long r = syscall(SYS_epoll_pwait2, epfd, out, max, t == UINT64_MAX ? NULL : &ts,
				 sigmask, sigmask ? _NSIG / 8 : 0);
		if (r >= 0 || errno != ENOSYS)
			return (int)r;
		__atomic_store_n(&no_pwait2, 1, __ATOMIC_RELAXED);
	}
	int ms = t == UINT64_MAX ? -1 : t / NSEC_PER_MSEC > 0x7fffffff ? 0x7fffffff
				      : (int)((t + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
	return real_epoll_pwait(epfd, out, max, ms, sigmask);
}

/* The wait through the gates; -2: nothing of ours in this set (run the real call). */
static int gated_wait(int epfd, struct epoll_event *out, int max, uint64_t timeout,
		      const sigset_t *sigmask)
{
	if (max <= 0 || !out)
		return -2;
	tracking_on();
	struct epset *s = epset_of(epfd, true);
	if (!s)
		return -2;
	if (unlikely(!__atomic_load_n(&s->synced, __ATOMIC_ACQUIRE) ||
		     __atomic_load_n(&s->stale, __ATOMIC_ACQUIRE))) {
		/* met for the first time since waits were armed: filled in from the kernel */
		if (!chaos_lock(&s->lock))
			return -2;
		bool ok = usable(s);
		chaos_unlock(&s->lock);
		if (!ok)
			return -2;
	}
	const struct ruleset *set = rules_get();
	if (set->timed && __atomic_load_n(&s->gen, __ATOMIC_RELAXED) != set->gen)
		rescan(s, set);
	if (!__atomic_load_n(&s->ntagged, __ATOMIC_RELAXED))
		return -2;
	uint64_t start = chaos_now_ns();
	uint64_t deadline = timeout == UINT64_MAX ? UINT64_MAX : start + timeout;
	for (;;) {
		chaos_refresh();
		uint64_t now = chaos_now_ns(), next = deadline;
		if (chaos_lock(&s->lock)) {
			uint64_t t = usable(s) ? look_held(s, now) : UINT64_MAX;
			chaos_unlock(&s->lock);
			if (t < next)
				next = t;
		}
		int n = kernel_wait(epfd, out, max, next > now ? next - now : 0, sigmask);
		if (n < 0)
			return -1;
		now = chaos_now_ns();
		int k = n ? judge(s, out, n, now) : 0;
		if (k || now >= deadline)
			return k;
	}
}

static bool armed(void)
{
	return __atomic_load_n(&chaos_waits_armed, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&chaos_ready, __ATOMIC_ACQUIRE) && !chaos_busy;
}

/* Does an event the kernel reported carry our tag? */
static inline bool has_tag(const struct epoll_event *out, int n)
{
	if (likely(!__atomic_load_n(&tag_base, __ATOMIC_RELAXED)))
		return false;
	for (int i = 0; i < n; i++)
		if (is_tag(out[i].data.u64))
			return true;
	return false;
}

/* A wait that did not go by the gates (it began before they were armed, or while its set had
 * no tag) took events carrying our tag: registrations another thread tagged meanwhile.  Judged
 * as the gated wait does; returns how many are left. */
static int IO_SLOW untag(int epfd, struct epoll_event *out, int n)
{
	CHAOS_INIT();
	struct epset *s = epset_of(epfd, true);
	if (s)
		return judge(s, out, n, chaos_now_ns());
	int k = 0;
	for (int i = 0; i < n; i++)
		if (!is_tag(out[i].data.u64))
			out[k++] = out[i];
	return k;
}

/* The wait while waits are armed, or on after untag() held everything back.  timeout: ns,
 * UINT64_MAX for none. */
static int IO_SLOW slow_wait(int epfd, struct epoll_event *out, int max, uint64_t timeout,
			     const sigset_t *sigmask)
{
	CHAOS_INIT();
	uint64_t deadline = timeout == UINT64_MAX ? UINT64_MAX : chaos_now_ns() + timeout;
	for (;;) {
		uint64_t now = chaos_now_ns();
		uint64_t left = deadline == UINT64_MAX ? UINT64_MAX : deadline > now ? deadline - now : 0;
		int r = armed() ? gated_wait(epfd, out, max, left, sigmask) : -2;
		if (r != -2)
			return r;
		r = kernel_wait(epfd, out, max, left, sigmask);
		if (r <= 0 || !has_tag(out, r))
			return r;
		r = untag(epfd, out, r);
		if (r || chaos_now_ns() >= deadline)
			return r;
	}
}

/* (a wait that untag() left with nothing waits on through the gates; its time-out starts
 * again: it began before the fault arrived) */
EXPORT int epoll_wait(int epfd, struct epoll_event *out, int max, int timeout)
{
	uint64_t t = timeout < 0 ? UINT64_MAX : (uint64_t)timeout * NSEC_PER_MSEC;
	if (likely(!armed())) {
		int n = real_epoll_wait(epfd, out, max, timeout);
		if (likely(n <= 0) || likely(!has_tag(out, n)) || (n = untag(epfd, out, n)) ||
		    !timeout)
			return n;
	}
	return slow_wait(epfd, out, max, t, NULL);
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *out, int max, int timeout,
		       const sigset_t *sigmask)
{
	uint64_t t = timeout < 0 ? UINT64_MAX : (uint64_t)timeout * NSEC_PER_MSEC;
	if (likely(!armed())) {
		int n = real_epoll_pwait(epfd, out, max, timeout, sigmask);
		if (likely(n <= 0) || likely(!has_tag(out, n)) || (n = untag(epfd, out, n)) ||
		    !timeout)
			return n;
	}
	return slow_wait(epfd, out, max, t, sigmask);
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *out, int max, const struct timespec *ts,
			const sigset_t *sigmask)
{
	if (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= (long)NSEC_PER_SEC))
		return (int)syscall(SYS_epoll_pwait2, epfd, out, max, ts, sigmask,
				    sigmask ? _NSIG / 8 : 0);
	uint64_t t = !ts || (uint64_t)ts->tv_sec >= UINT64_MAX / NSEC_PER_SEC - 1
			     ? UINT64_MAX
			     : (uint64_t)ts->tv_sec * NSEC_PER_SEC + (uint64_t)ts->tv_nsec;
	if (likely(!armed())) {
		int n = (int)syscall(SYS_epoll_pwait2, epfd, out, max, ts, sigmask,
				     sigmask ? _NSIG / 8 : 0);
		if (likely(n <= 0) || likely(!has_tag(out, n)) || (n = untag(epfd, out, n)) || !t)
			return n;
	}
	return slow_wait(epfd, out, max, t, sigmask);
}
