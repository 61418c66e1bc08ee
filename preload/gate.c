/* gate.c -- faults in time: the per-fd gate, its delay line and buckets, and the I/O through it
 *
 * See gate.h for the model.  Layout: the gates (a lazily mapped table beside the fd table),
 * the lock, the rules a connection has, the receive side (marks), the send side (bursts),
 * bandwidth, readiness, then the calls: recv, send, connect.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "deps.h"
#include "gate.h"
#include "units.h"

/* ---- the table ------------------------------------------------------------------------------ */

#define GPAGE_BITS 8
#define GPAGE (1u << GPAGE_BITS)
#define GPAGES (1u << 12) /* 2^20 fds, as fdtable.c */

static struct gate *gpages[GPAGES];
int chaos_gated_fds;

static struct gate *gate_slot(int fd, bool alloc)
{
	if (fd < 0 || (unsigned)fd >= GPAGE * GPAGES)
		return NULL;
	unsigned idx = (unsigned)fd >> GPAGE_BITS;
	struct gate *page = __atomic_load_n(&gpages[idx], __ATOMIC_ACQUIRE);
	if (!page) {
		if (!alloc)
			return NULL;
		struct gate *fresh = mmap(NULL, GPAGE * sizeof(struct gate), PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (fresh == MAP_FAILED)
			return NULL;
		struct gate *expected = NULL;
		if (!__atomic_compare_exchange_n(&gpages[idx], &expected, fresh, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			munmap(fresh, GPAGE * sizeof(struct gate));
			fresh = expected;
		}
		page = fresh;
	}
	return &page[(unsigned)fd & (GPAGE - 1)];
}

struct gate *gate_get(int fd)
{
	struct fd_entry *e = fd_lookup(fd);
	if (!e || !(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & FDF_GATED))
		return NULL;
	struct gate *g = gate_slot(fd, false);
	return g && __atomic_load_n(&g->used, __ATOMIC_ACQUIRE) ? g : NULL;
}

static bool lock_word(uint64_t *w);

/* Under the gate's own lock: two threads meeting the same new connection at once (a wait and
 * a send) attach one gate, and the second never wipes the one the first is already using. */
struct gate *gate_attach(int fd, struct fd_entry *e)
{
	struct gate *g = gate_slot(fd, true);
	if (!g || !lock_word(&g->lock))
		return NULL; /* (a signal handler on the thread attaching it: no gate this call) */
	if ((__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & FDF_GATED) &&
	    __atomic_load_n(&g->used, __ATOMIC_ACQUIRE)) {
		gate_unlock(g);
		return g;
	}
	memset((char *)g + offsetof(struct gate, used), 0, sizeof(*g) - offsetof(struct gate, used));
	fd_still_same(fd, e); /* records the socket's inode (gate_valid) */
	__atomic_store_n(&g->used, 1, __ATOMIC_RELEASE);
	uint16_t old = __atomic_fetch_or(&e->flags, FDF_GATED, __ATOMIC_ACQ_REL);
	gate_unlock(g);
	if (!(old & FDF_GATED)) {
		__atomic_add_fetch(&chaos_gated_fds, 1, __ATOMIC_RELAXED);
		io_armed_update();
		epoll_gate_attached(fd);
	}
	return g;
}

void gate_detach(int fd)
{
	struct gate *g = gate_slot(fd, false);
	if (g)
		__atomic_store_n(&g->used, 0, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&chaos_gated_fds, 1, __ATOMIC_RELAXED);
	io_armed_update();
}

/* ---- the lock ------------------------------------------------------------------------------- */

static uint32_t fork_gen;
static __thread uint64_t my_lock_id __attribute__((tls_model("initial-exec")));
static __thread uint32_t my_lock_gen __attribute__((tls_model("initial-exec")));

uint64_t chaos_lock_id(void)
{
	uint32_t gen = __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
	if (!my_lock_id || my_lock_gen != gen) {
		my_lock_id = ((uint64_t)(gen + 1) << 32) | (uint32_t)syscall(SYS_gettid);
		my_lock_gen = gen;
	}
	return my_lock_id;
}

__attribute__((constructor)) static void gate_fork_setup(void);
static void gate_after_fork(void)
{
	/* locks held by the parent's other threads are stale now: their owners are gone */
	__atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED);
}
static void gate_fork_setup(void)
{
	pthread_atfork(NULL, NULL, gate_after_fork);
}

static bool lock_word(uint64_t *w)
{
	uint64_t me = chaos_lock_id();
	for (unsigned spins = 0;; spins++) {
		uint64_t cur = 0;
		if (__atomic_compare_exchange_n(w, &cur, me, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return true;
		if (cur == me)
			return false; /* a signal handler on the thread that holds it */
		if ((cur >> 32) != (me >> 32) &&
		    __atomic_compare_exchange_n(w, &cur, me, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return true; /* held before a fork by a thread that is gone */
		if (spins > 64)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
}

bool gate_lock(struct gate *g)
{
	return lock_word(&g->lock);
}

void gate_unlock(struct gate *g)
{
	__atomic_store_n(&g->lock, 0, __ATOMIC_RELEASE);
}

bool chaos_lock(uint64_t *w)
{
	return lock_word(w);
}

void chaos_unlock(uint64_t *w)
{
	__atomic_store_n(w, 0, __ATOMIC_RELEASE);
}

/* ---- the rules a connection has ------------------------------------------------------------- */

enum { DECIDE_NOT = 0, DECIDE_YES, DECIDE_NO };

static bool covers(const struct prule *p, const struct chaos_dest *d)
{
	if (p->r.target.kind == CHAOS_HOST_NAME && !d->nnames)
		return false;
	return chaos_target_match(&p->r.target, d);
}

/* The first rule of each kind that covers d. */
static void find_rules(const struct ruleset *set, const struct chaos_dest *d, bool stalled,
		       const struct prule **found)
{
	struct chaos_index_iter it;
	size_t i;
	for (int k = 0; k < GK__N; k++)
		found[k] = NULL;
	RULES_FOR_DEST(set, d, &it, i) {
		const struct prule *p = &set->rules[i];
		int k1 = -1, k2 = -1, k3 = -1;
		switch (p->r.action) {
		case CHAOS_ACT_DELAY:
			if (p->r.on & CHAOS_ON_CONNECT)
				k1 = GK_DCONN;
			if (p->r.on & CHAOS_ON_RECV)
				k2 = GK_DRX;
			if (p->r.on & CHAOS_ON_SEND)
				k3 = GK_DTX;
			break;
		case CHAOS_ACT_BANDWIDTH:
			k1 = GK_BW;
			break;
		case CHAOS_ACT_SLICE:
			k1 = GK_SLICE;
			break;
		case CHAOS_ACT_STALL:
			if (!stalled)
				k1 = GK_STALL;
			break;
		default:
			continue;
		}
		int ks[3] = { k1, k2, k3 };
		bool wanted = false;
		for (int j = 0; j < 3; j++)
			wanted |= ks[j] >= 0 && !found[ks[j]];
		if (!wanted || !covers(p, d))
			continue;
		for (int j = 0; j < 3; j++)
			if (ks[j] >= 0 && !found[ks[j]])
				found[ks[j]] = p;
	}
}

static void log_timed(const char *call, struct fd_entry *e, const struct prule *p,
		      const char *result)
{
	const char *names[NAMES_PER_ADDR];
	struct chaos_dest d = e->peer;
	dest_attach_names(&d, names, NAMES_PER_ADDR);
	log_fault(call, &d, NULL, NULL, p, result);
}

/* Ask the triggers of rules this connection has not met yet, when their window is open (a
 * connection made while a rule waits for its start= is decided when it opens). */
static void decide(struct gate *g, uint64_t now)
{
	for (int k = 0; k < GK__N; k++) {
		const struct prule *p = g->rule[k];
		if (!p || g->fired[k] != DECIDE_NOT)
			continue;
		if (!chaos_window_open(&p->r, p->armed_ns, now))
			continue;
		/* one rule acting on several calls is asked once */
		int same = -1;
		for (int j = 0; j < GK__N; j++)
			if (j != k && g->rule[j] && g->rule_id[j] == p->id &&
			    g->fired[j] != DECIDE_NOT)
				same = j;
		if (same >= 0) {
			g->fired[k] = g->fired[same];
			g->serial[k] = g->serial[same];
			continue;
		}
		/* (the injection's own number: two connections decided at once get two) */
		uint64_t serial = 0;
		bool fire = rule_fires_serial(p, now, &serial);
		g->fired[k] = fire ? DECIDE_YES : DECIDE_NO;
		g->serial[k] = serial;
		for (int j = k + 1; j < GK__N; j++)
			if (g->rule[j] && g->rule_id[j] == p->id && g->fired[j] == DECIDE_NOT) {
				g->fired[j] = g->fired[k];
				g->serial[j] = g->serial[k];
			}
	}
}

void gate_rules(int fd, struct fd_entry *e, struct gate *g, const struct ruleset *set,
		uint64_t now)
{
	(void)fd;
	if (g->gen != set->gen) {
		const char *names[NAMES_PER_ADDR];
		const struct prule *found[GK__N];
		struct chaos_dest d = e->peer;
		dest_attach_names(&d, names, NAMES_PER_ADDR);
		find_rules(set, &d, __atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_STALLED,
			   found);
		for (int k = 0; k < GK__N; k++) {
			if (!found[k]) {
				g->rule[k] = NULL;
				g->rule_id[k] = 0;
				g->fired[k] = DECIDE_NOT;
				continue;
			}
			if (found[k]->id != g->rule_id[k]) {
				g->rule_id[k] = found[k]->id;
				g->fired[k] = DECIDE_NOT;
			}
			g->rule[k] = found[k]; /* the same rule in the new snapshot */
		}
		g->gen = set->gen;
	}
	decide(g, now);
}

const struct prule *gate_active(const struct gate *g, enum gate_kind k, uint64_t now)
{
	const struct prule *p = g->rule[k];
	if (!p || g->fired[k] != DECIDE_YES || !chaos_window_open(&p->r, p->armed_ns, now))
		return NULL;
	return p;
}

bool gate_valid(int fd, struct fd_entry *e)
{
	if (!(__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_GATED))
		return true;
	if (fd_still_same(fd, e))
		return true;
	/* closed behind our back (libuv closes with a raw system call) and the number reused:
	 * whatever it is now, it is not the connection the gate was for */
	fd_forget(fd);
	fd_classify(fd, e);
	return false;
}

struct gate *gate_for(int fd, struct fd_entry *e, const struct ruleset *set)
{
	if (!gate_valid(fd, e))
		return gate_for(fd, e, set);
	if (!set->timed || e->kind != FD_INET || e->proto != CHAOS_PROTO_TCP ||
	    !(__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_PEER))
		return gate_get(fd);
	struct gate *g = gate_get(fd);
	if (g)
		return g;
	/* asked already for this generation of the rules, and none covers it (tgen: the I/O
	 * hooks' fast path passes such a socket by) */
	if (__atomic_load_n(&e->tgen, __ATOMIC_RELAXED) == set->gen)
		return NULL;
	const char *names[NAMES_PER_ADDR];
	const struct prule *found[GK__N];
	struct chaos_dest d = e->peer;
	dest_attach_names(&d, names, NAMES_PER_ADDR);
	find_rules(set, &d, __atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_STALLED, found);
	bool any = false;
	for (int k = 0; k < GK__N; k++)
		any |= found[k] != NULL;
	if (!any) {
		__atomic_store_n(&e->tgen, set->gen, __ATOMIC_RELEASE);
		return NULL;
	}
	return gate_attach(fd, e);
}

struct gate *gate_connect(int fd, struct fd_entry *e, const struct ruleset *set, uint64_t now,
			  const struct prule **stall, const struct prule **delay)
{
	/* decided on a gate of our own first: a connection that is only steered to the stall
	 * listener needs none (ten thousand stalled connections cost no gates) */
	struct gate tmp;
	memset(&tmp, 0, sizeof(tmp));
	gate_rules(fd, e, &tmp, set, now);
	*stall = gate_active(&tmp, GK_STALL, now);
	*delay = gate_active(&tmp, GK_DCONN, now);
	if (*stall)
		tmp.rule[GK_STALL] = NULL; /* the kernel stalls a steered connection itself */
	bool other = false;
	for (int k = 0; k < GK__N; k++)
		other |= tmp.rule[k] != NULL;
	if (!other)
		return NULL;
	struct gate *g = gate_attach(fd, e);
	if (!g || !gate_lock(g)) {
		*delay = NULL; /* (an fd beyond the table: nothing to hold it back with) */
		return NULL;
	}
	uint64_t lock = g->lock;
	uint32_t used = g->used;
	*g = tmp;
	g->lock = lock;
	g->used = used;
	gate_unlock(g);
	return g;
}

/* ---- numbers ---------------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The delay of the n-th burst of a connection: DURATION, or uniform in DURATION +- jitter, a
 * function of the seed, the rule, the connection's number for the rule and n (reproducible
 * under --seed). */
static uint64_t burst_delay(const struct gate *g, const struct prule *p, enum gate_kind k,
			    uint64_t n)
{
	uint64_t d = p->r.delay_ns, j = p->r.jitter_ns;
	if (!j)
		return d;
	uint64_t h = mix64(chaos_seed ^ mix64(((uint64_t)p->id << 40) ^ (g->serial[k] << 20) ^
					      (n << 3) ^ (uint64_t)k));
	return d - j + h % (2 * j + 1);
}

static void fmt_ms(uint64_t ns, char *buf, size_t len)
{
	if (ns % NSEC_PER_MSEC == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / NSEC_PER_MSEC));
	else
		snprintf(buf, len, "%.3fms", (double)ns / 1e6);
}

/* ---- bandwidth: a token bucket kept as the time it is even at ------------------------------ */

static uint64_t bucket_span(uint64_t rate)
{
	uint64_t one = NSEC_PER_SEC / rate; /* a byte */
	return one > 10 * NSEC_PER_MSEC ? one : 10 * NSEC_PER_MSEC; /* 10 ms worth, or a byte */
}

static uint64_t bucket_allowed(uint64_t tat, uint64_t rate, uint64_t now)
{
	uint64_t start = tat > now ? tat : now;
	uint64_t top = now + bucket_span(rate);
	if (top <= start)
		return 0;
	return (uint64_t)((unsigned __int128)(top - start) * rate / NSEC_PER_SEC);
}

static void bucket_take(uint64_t *tat, uint64_t rate, uint64_t now, uint64_t n)
{
	uint64_t start = *tat > now ? *tat : now;
	*tat = start + (uint64_t)(((unsigned __int128)n * NSEC_PER_SEC + rate - 1) / rate);
}

/* when `want` bytes will be allowed */
static uint64_t bucket_due(uint64_t tat, uint64_t rate, uint64_t want)
{
	uint64_t span = bucket_span(rate);
	uint64_t max = (uint64_t)((unsigned __int128)span * rate / NSEC_PER_SEC);
	if (want > max)
		want = max ? max : 1;
	uint64_t need = (uint64_t)(((unsigned __int128)want * NSEC_PER_SEC + rate - 1) / rate);
	return tat + need > span ? tat + need - span : 1;
}

/* ---- the receive side --------------------------------------------------------------------- */

static void rx_advance(struct gate *g, uint64_t now)
{
	while (g->mcount) {
		struct gate_mark *m = &g->marks[g->mhead];
		if (m->due > now)
			break;
		if (m->end > g->rx_vis)
			g->rx_vis = m->end;
		if (m->eof)
			g->rx_eof_vis = 1;
		if (m->err)
			g->rx_err = m->err;
		g->mhead = (g->mhead + 1) % GATE_MARKS;
		g->mcount--;
	}
}

/* New bytes, the end of the stream or an error seen in the kernel now (err: one our own wait
 * took from the kernel).  revents: what a wait just reported, or -1 to look.  prompt: the
 * arrival was reported as it happened (a wait that watched for it woke); otherwise what is new
 * came after the last look, and is timed from it. */
static void rx_observe(int fd, struct fd_entry *e, struct gate *g, uint64_t now, int revents,
		       int err, bool prompt)
{
	int saved = errno;
	rx_advance(g, now); /* (marks due by now are not pending any more) */
	if (revents < 0 && !err) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
		revents = real_poll(&p, 1, 0) == 1 ? p.revents : 0;
	}
	if (revents < 0)
		revents = 0;
	uint64_t end = g->rx_seen;
	if (revents & POLLIN) {
		int inq = 0;
		if (ioctl(fd, FIONREAD, &inq) == 0 && inq >= 0 &&
		    g->rx_consumed + (uint64_t)inq > end)
			end = g->rx_consumed + (uint64_t)inq;
		if (end <= g->rx_seen && !(revents & (POLLRDHUP | POLLHUP | POLLERR)) &&
		    !g->rx_eof_seen) {
			/* readable with nothing new: the end of the stream, which the program's
			 * wait may not have asked about (POLLRDHUP) */
			struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
			if (real_poll(&p, 1, 0) == 1)
				revents |= p.revents;
		}
	}
	errno = saved;
	bool eof = err || (revents & (POLLRDHUP | POLLHUP | POLLERR));
	bool fresh_eof = eof && !g->rx_eof_seen;
	if (end <= g->rx_seen && !fresh_eof) {
		g->rx_obs = now;
		return;
	}
	uint64_t arrival = prompt || !g->rx_obs ? now : g->rx_obs;
	const struct prule *p = gate_active(g, GK_DRX, now);
	uint64_t delay = 0;
	if (p) {
		if (!g->mcount) {
			g->rx_delay = burst_delay(g, p, GK_DRX, ++g->rx_bursts);
			if (!g->rx_logged || p->r.jitter_ns) {
				char r[48], ms[32];
				fmt_ms(g->rx_delay, ms, sizeof(ms));
				snprintf(r, sizeof(r), "delayed %s", ms);
				log_timed("recv", e, p, r);
				g->rx_logged = 1;
			}
		}
		delay = g->rx_delay;
	}
	uint64_t due = arrival + delay;
	if (g->mcount) {
		const struct gate_mark *last = &g->marks[(g->mhead + g->mcount - 1) % GATE_MARKS];
		if (due < last->due)
			due = last->due; /* a stream is delivered in order */
	}
	if (!g->mcount && due <= now) {
		g->rx_vis = end;
		if (eof)
			g->rx_eof_vis = 1;
		if (err)
			g->rx_err = err;
	} else if (g->mcount == GATE_MARKS) {
		/* the line is full: these bytes go with the last mark */
		struct gate_mark *last = &g->marks[(g->mhead + g->mcount - 1) % GATE_MARKS];
		last->end = end;
		last->eof |= eof;
		if (err)
			last->err = err;
	} else {
		struct gate_mark *m = &g->marks[(g->mhead + g->mcount) % GATE_MARKS];
		*m = (struct gate_mark){ .end = end, .due = due, .err = err, .eof = eof };
		g->mcount++;
	}
	g->rx_seen = end;
	if (eof)
		g->rx_eof_seen = 1;
	g->rx_obs = now;
}

/* What the program may read now (bytes), *eof: the end of the stream (or an error) is all that
 * is left; *due: when more may become readable. */
static uint64_t rx_readable(struct gate *g, uint64_t now, bool *eof, uint64_t *due)
{
	rx_advance(g, now);
	if (g->rx_vis < g->rx_consumed)
		g->rx_vis = g->rx_consumed; /* read behind our back (another path): catch up */
	if (g->rx_seen < g->rx_vis)
		g->rx_seen = g->rx_vis;
	uint64_t vis = g->rx_vis - g->rx_consumed;
	*eof = g->rx_eof_vis && vis == 0;
	if (g->mcount && (!*due || g->marks[g->mhead].due < *due))
		*due = g->marks[g->mhead].due;
	const struct prule *bw = gate_active(g, GK_BW, now);
	if (bw && vis) {
		uint64_t ok = bucket_allowed(g->rx_tat, bw->r.rate_bps, now);
		if (ok < vis) {
			if (!ok) {
				uint64_t t = bucket_due(g->rx_tat, bw->r.rate_bps, vis);
				if (!*due || t < *due)
					*due = t;
			}
			vis = ok;
		}
	}
	return vis;
}

/* ---- the send side ---------------------------------------------------------------------------- */

/* What the program may send now (SIZE_MAX: no limit); starting: a send is being made (it may
 * open a burst).  *due: when that changes. */
static uint64_t tx_writable(struct fd_entry *e, struct gate *g, uint64_t now, bool starting,
			    uint64_t *due)
{
	const struct prule *p = gate_active(g, GK_DTX, now);
	if (!p) {
		g->tx_due = 0;
	} else if (g->tx_due) {
		if (now < g->tx_due) {
			*due = g->tx_due;
			return 0;
		}
		g->tx_due = 0; /* the burst is let go: what follows it passes */
		g->tx_open = 1;
		g->tx_last = now;
	} else if (starting && (!g->tx_open || now - g->tx_last > p->r.delay_ns)) {
		uint64_t d = burst_delay(g, p, GK_DTX, ++g->tx_bursts);
		char r[48], ms[32];
		fmt_ms(d, ms, sizeof(ms));
		snprintf(r, sizeof(r), "delayed %s", ms);
		log_timed("send", e, p, r);
		g->tx_due = now + d;
		g->tx_open = 0;
		*due = g->tx_due;
		return 0;
	}
	const struct prule *bw = gate_active(g, GK_BW, now);
	if (bw) {
		uint64_t ok = bucket_allowed(g->tx_tat, bw->r.rate_bps, now);
		if (!ok) {
			*due = bucket_due(g->tx_tat, bw->r.rate_bps, 1);
			return 0;
		}
		return ok;
	}
	return SIZE_MAX;
}

static void log_once(struct fd_entry *e, struct gate *g, enum gate_kind k, const char *call,
		     uint64_t now)
{
	const struct prule *p = gate_active(g, k, now);
	uint8_t *flag = k == GK_BW ? &g->bw_logged : k == GK_SLICE ? &g->slice_logged
								  : &g->stall_logged;
	if (!p || *flag)
		return;
	char r[64];
	if (k == GK_BW) {
		char rate[32];
		chaos_format_rate(p->r.rate_bps, rate, sizeof(rate));
		snprintf(r, sizeof(r), "paced to %s", rate);
	} else if (k == GK_SLICE) {
		snprintf(r, sizeof(r), "at most %llu bytes a call", (unsigned long long)p->r.slice);
	} else {
		snprintf(r, sizeof(r), "stalled");
	}
	*flag = 1;
	log_timed(call, e, p, r);
}

/* ---- readiness --------------------------------------------------------------------------------- */

#define RD_BITS (POLLIN | POLLRDNORM | POLLRDBAND | POLLPRI | POLLRDHUP)
#define WR_BITS (POLLOUT | POLLWRNORM | POLLWRBAND)
#define END_BITS (POLLERR | POLLHUP)

static uint64_t look_interval(const struct gate *g)
{
	uint64_t d = g->rx_delay / 32;
	return d < GATE_LOOK_MIN ? GATE_LOOK_MIN : d > GATE_LOOK_MAX ? GATE_LOOK_MAX : d;
}

static void stall_blackhole_deadline(int fd, struct fd_entry *e, struct gate *g, uint64_t now);

unsigned gate_hidden(int fd, struct gate *g, uint64_t now, int revents, uint64_t *due,
		     uint64_t *watch)
{
	struct fd_entry *e = fd_lookup(fd);
	unsigned hide = 0;
	*due = 0;
	*watch = 0;
	if (!e)
		return 0;
	gate_rules(fd, e, g, rules_get(), now);
	if (g->deadline) {
		stall_blackhole_deadline(fd, e, g, now);
		if (g->deadline)
			*due = g->deadline;
	}
	if (g->conn_due) {
		if (now < g->conn_due) {
			*due = g->conn_due;
			return RD_BITS | WR_BITS | END_BITS;
		}
		g->conn_due = 0;
	}
	if (gate_active(g, GK_STALL, now)) {
		log_once(e, g, GK_STALL, "recv", now);
		*due = now + GATE_RECHECK;
		return RD_BITS | END_BITS;
	}
	bool rx = gate_active(g, GK_DRX, now) || gate_active(g, GK_BW, now) || g->mcount ||
		  g->rx_vis < g->rx_seen;
	if (rx) {
		/* a wait that reported the socket readable saw the arrival as it happened */
		rx_observe(fd, e, g, now, revents, 0, revents >= 0 && (revents & POLLIN));
		bool eof;
		uint64_t rdue = 0;
		uint64_t n = rx_readable(g, now, &eof, &rdue);
		/* (when nothing is held back the kernel has nothing to report either, and its
		 * report of the next arrival is how we learn of it) */
		bool held = g->rx_seen > g->rx_vis || (g->rx_eof_seen && !g->rx_eof_vis) ||
			    n < g->rx_vis - g->rx_consumed;
		if (!n && !eof && held)
			hide |= RD_BITS;
		if (!g->rx_eof_vis)
			hide |= POLLRDHUP | (g->rx_eof_seen ? END_BITS : 0);
		if (rdue && (!*due || rdue < *due))
			*due = rdue;
		if (g->mcount)
			*watch = look_interval(g);
	}
	uint64_t wdue = 0;
	if (!tx_writable(e, g, now, false, &wdue)) {
		hide |= WR_BITS;
		if (wdue && (!*due || wdue < *due))
			*due = wdue;
	}
	return hide;
}

bool gate_busy(const struct gate *g)
{
	for (int k = 0; k < GK__N; k++)
		if (g->rule[k])
			return true;
	return g->conn_due || g->deadline || g->mcount || g->tx_due || g->rx_vis < g->rx_seen;
}

/* ---- the calls ------------------------------------------------------------------------------------ */

/* Wait, as a blocking recv does, for anything to arrive: a peek that copies nothing, with the
 * socket's own time-out (the remaining part of it), so signals and time-outs are the kernel's.
 * Returns 1 (something arrived), -EAGAIN, -EINTR, or minus the error the kernel reported. */
static int wait_for_data(int fd, uint64_t timeo, uint64_t deadline, uint64_t now)
{
	struct timeval old, tv;
	socklen_t len = sizeof(old);
	bool set = false;
	int saved = errno;
	if (timeo && deadline != UINT64_MAX) {
		uint64_t left = deadline > now ? deadline - now : 1000;
		if (left < 1000)
			left = 1000;
		if (left != timeo && real_getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &old, &len) == 0) {
			tv.tv_sec = (time_t)(left / NSEC_PER_SEC);
			tv.tv_usec = (suseconds_t)(left % NSEC_PER_SEC / NSEC_PER_USEC);
			if (!tv.tv_sec && !tv.tv_usec)
				tv.tv_usec = 1;
			set = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0;
		}
	}
	ssize_t r = real_recv(fd, NULL, 1, MSG_PEEK | MSG_TRUNC);
	int err = errno;
	if (set)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &old, sizeof(old));
	errno = saved;
	if (r >= 0)
		return 1;
	if (err == EWOULDBLOCK)
		return -EAGAIN;
	return -err;
}

static size_t min_sz(uint64_t a, uint64_t b)
{
	return (size_t)(a < b ? a : b);
}

ssize_t gate_recv(const struct io_op *op, struct io_ctx *c, size_t len)
{
	int fd = op->fd;
	struct gate *g = c->g;
	struct fd_entry *e = c->e;
	bool peek = op->flags & MSG_PEEK, nb = sock_nonblocking(fd, op->flags);
	uint64_t start = chaos_now_ns(), deadline = UINT64_MAX, timeo = 0;
	bool timeo_known = false, arrived = false;

	for (;;) {
		chaos_refresh();
		uint64_t now = chaos_now_ns(), due = 0, avail = 0, slice = SIZE_MAX;
		bool eof = false, wait = false;
		int err = 0;
		if (!gate_lock(g))
			return io_real(op, len, 0);
		gate_rules(fd, e, g, rules_get(), now);
		if (g->conn_due > now) {
			due = g->conn_due;
			wait = true;
		} else if (gate_active(g, GK_STALL, now)) {
			log_once(e, g, GK_STALL, "recv", now);
			due = now + GATE_RECHECK;
			wait = true;
		} else {
			g->conn_due = 0;
			if (gate_active(g, GK_DRX, now) || gate_active(g, GK_BW, now) || g->mcount ||
			    g->rx_vis < g->rx_seen || g->rx_err) {
				rx_observe(fd, e, g, now, -1, 0, arrived);
				arrived = false;
				avail = rx_readable(g, now, &eof, &due);
				if (eof && g->rx_err) {
					err = g->rx_err;
					if (!peek)
						g->rx_err = 0;
				}
			} else {
				avail = SIZE_MAX; /* nothing held back: the kernel's own call */
			}
			const struct prule *s = gate_active(g, GK_SLICE, now);
			if (s) {
				slice = s->r.slice;
				log_once(e, g, GK_SLICE, "recv", now);
			}
			if (gate_active(g, GK_BW, now))
				log_once(e, g, GK_BW, "recv", now);
		}
		gate_unlock(g);
		if (!wait && avail) {
			size_t n = min_sz(min_sz(len, avail), slice);
			ssize_t r = io_real(op, n, 0);
			if (r > 0 && !peek && gate_lock(g)) {
				g->rx_consumed += (uint64_t)r;
				const struct prule *bw = gate_active(g, GK_BW, now);
				if (bw)
					bucket_take(&g->rx_tat, bw->r.rate_bps, now, (uint64_t)r);
				g->tx_open = 0; /* an answer came: the next send starts a new burst */
				gate_unlock(g);
			}
			return r;
		}
		if (!wait && eof) {
			if (err) {
				errno = err;
				return -1;
			}
			return io_real(op, len, 0); /* the kernel tells: 0, or its error */
		}
		if (nb) {
			errno = EAGAIN;
			return -1;
		}
		if (!timeo_known) {
			timeo = sock_timeout_ns(fd, false);
			if (timeo)
				deadline = start + timeo;
			timeo_known = true;
		}
		if (now >= deadline) {
			errno = EAGAIN;
			return -1;
		}
		if (due) {
			/* one sleep to the end (no looking in between: every return to user space
			 * is a moment a signal could come without interrupting anything, which the
			 * kernel's blocking recv never has); what arrives meanwhile is timed from
			 * the last look, and becomes visible with what is due */
			uint64_t until = due < deadline ? due : deadline;
			if (chaos_sleep_until(until, timeo != 0) < 0) {
				errno = EINTR;
				return -1;
			}
			continue;
		}
		int w = wait_for_data(fd, timeo, deadline, now);
		if (w == -EAGAIN || w == -EINTR) {
			errno = -w;
			return -1;
		}
		arrived = w > 0; /* it came just now */
		if (w < 0 && gate_lock(g)) {
			/* our peek took the error from the kernel: it is given when it is due */
			rx_observe(fd, e, g, chaos_now_ns(), 0, -w, true);
			gate_unlock(g);
		}
	}
}

ssize_t gate_send(const struct io_op *op, struct io_ctx *c, size_t len)
{
	int fd = op->fd;
	struct gate *g = c->g;
	struct fd_entry *e = c->e;
	bool nb = sock_nonblocking(fd, op->flags);
	uint64_t start = chaos_now_ns(), deadline = UINT64_MAX, timeo = 0;
	bool timeo_known = false, sliced = false;
	size_t done = 0;

	for (;;) {
		chaos_refresh();
		uint64_t now = chaos_now_ns(), due = 0, allowed = 0, slice = SIZE_MAX;
		if (!gate_lock(g))
			return done ? (ssize_t)done : io_real(op, len, 0);
		gate_rules(fd, e, g, rules_get(), now);
		if (g->conn_due > now) {
			due = g->conn_due;
		} else {
			g->conn_due = 0;
			allowed = tx_writable(e, g, now, true, &due);
			const struct prule *s = gate_active(g, GK_SLICE, now);
			if (s) {
				slice = s->r.slice;
				sliced = true;
				log_once(e, g, GK_SLICE, "send", now);
			}
			if (gate_active(g, GK_BW, now))
				log_once(e, g, GK_BW, "send", now);
		}
		gate_unlock(g);
		if (allowed) {
			size_t n = min_sz(min_sz(len - done, allowed), slice);
			ssize_t r = io_real_at(op, done, n, 0);
			if (r > 0 && gate_lock(g)) {
				const struct prule *bw = gate_active(g, GK_BW, now);
				if (bw)
					bucket_take(&g->tx_tat, bw->r.rate_bps, now, (uint64_t)r);
				g->tx_last = now;
				gate_unlock(g);
			}
			if (r < 0)
				return done ? (ssize_t)done : r;
			done += (size_t)r;
			/* a blocking send moves everything, as the kernel's does (short writes are
			 * slice='s to make) */
			if (nb || sliced || done >= len || (size_t)r < n)
				return (ssize_t)done;
			continue;
		}
		if (nb) {
			if (done)
				return (ssize_t)done;
			errno = EAGAIN;
			return -1;
		}
		if (!timeo_known) {
			timeo = sock_timeout_ns(fd, true);
			if (timeo)
				deadline = start + timeo;
			timeo_known = true;
		}
		if (now >= deadline) {
			if (done)
				return (ssize_t)done;
			errno = EAGAIN;
			return -1;
		}
		uint64_t until = due && due < deadline ? due : deadline;
		if (until == UINT64_MAX)
			until = now + GATE_RECHECK;
		if (chaos_sleep_until(until, timeo != 0) < 0) {
			if (done)
				return (ssize_t)done;
			errno = EINTR;
			return -1;
		}
	}
}

/* ---- connect ----------------------------------------------------------------------------------- */

/* Errnos a real network reports after the handshake started (the others are local, at once). */
static bool arrives_later(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ECONNRESET:
	case ENETUNREACH:
		return true;
	}
	return false;
}

int gate_connect_delay(int fd, struct fd_entry *e, struct gate *g, uint64_t start, int rc, int err)
{
	uint64_t now = chaos_now_ns();
	const struct prule *p = g->rule[GK_DCONN];
	uint64_t d = burst_delay(g, p, GK_DCONN, 0);
	char r[48], ms[32];
	bool nb = sock_nonblocking(fd, 0);

	if (rc < 0 && err != EINPROGRESS && err != EINTR && !arrives_later(err)) {
		errno = err; /* a local failure is not delayed */
		return -1;
	}
	fmt_ms(d, ms, sizeof(ms));
	snprintf(r, sizeof(r), "delayed %s", ms);
	log_timed("connect", e, p, r);
	if (!gate_lock(g)) {
		errno = err;
		return rc;
	}
	g->conn_due = start + d;
	if (rc < 0 && err != EINPROGRESS && err != EINTR)
		g->conn_err = err; /* the kernel gave it to us: we give it when due */
	gate_unlock(g);
	epoll_gate_changed(fd);
	if (nb) {
		errno = EINPROGRESS;
		return -1;
	}
	if (rc < 0 && (err == EINTR || err == EINPROGRESS)) {
		errno = err; /* interrupted or timed out in the kernel: it goes on, held back */
		return -1;
	}
	uint64_t timeo = sock_timeout_ns(fd, true), deadline = timeo ? start + timeo : UINT64_MAX;
	uint64_t until = g->conn_due < deadline ? g->conn_due : deadline;
	if (until > now && chaos_sleep_until(until, timeo != 0) < 0) {
		errno = EINTR;
		return -1;
	}
	if (chaos_now_ns() < g->conn_due) {
		errno = EINPROGRESS; /* SO_SNDTIMEO, as the kernel reports it */
		return -1;
	}
	if (gate_lock(g)) {
		g->conn_due = 0;
		g->conn_err = 0;
		gate_unlock(g);
	}
	if (rc < 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* A connect, SO_ERROR or getpeername on a socket whose connect is held back.  Returns 0 when the
 * gate has nothing to say, else what the call says: EALREADY / ENOTCONN (still connecting), or
 * the error it ended with (once). */
int gate_conn_state(int fd, bool take)
{
	struct gate *g = gate_get(fd);
	if (!g || (!g->conn_due && !g->conn_err))
		return 0;
	if (!gate_lock(g))
		return 0;
	int r = 0;
	uint64_t now = chaos_now_ns();
	if (g->conn_due && now < g->conn_due) {
		r = EALREADY;
	} else {
		g->conn_due = 0;
		r = g->conn_err;
		if (take)
			g->conn_err = 0;
	}
	gate_unlock(g);
	return r;
}

/* blackhole timeout=: when the time is up, end the connect as the kernel does (ETIMEDOUT) */
static void stall_blackhole_deadline(int fd, struct fd_entry *e, struct gate *g, uint64_t now)
{
	if (!g->deadline || now < g->deadline)
		return;
	g->deadline = 0;
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	int saved = errno;
	if (real_connect(fd, &sa, sizeof(sa)) == 0) {
		e->pending_err = ETIMEDOUT;
		fd_set_flag(e, FDF_PENDING);
		__atomic_fetch_or(&e->flags, FDF_ABORTED, __ATOMIC_RELAXED);
	}
	errno = saved;
}

void gate_set_deadline(int fd, struct gate *g, uint64_t deadline)
{
	if (gate_lock(g)) {
		g->deadline = deadline;
		gate_unlock(g);
	}
	epoll_gate_changed(fd);
}
