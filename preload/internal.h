/* internal.h -- what the preload library's files share: real functions, rules, fds, names, log
 *
 * Threading: the hot path takes no lock.  Rules are an immutable snapshot behind an atomic
 * pointer (rules.c); per-fd state is a lock-free two-level table (fdtable.c); host names that
 * resolved to an address live in an insert-only hash (names.c).
 *
 * errno: hooks set errno right before returning -1; helpers return values or -Exxx and never
 * touch the global errno; bookkeeping around a real call saves and restores it.
 */
#ifndef CHAOS_PRELOAD_INTERNAL_H
#define CHAOS_PRELOAD_INTERNAL_H

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "index.h"
#include "rule.h"
#include "shm.h"

struct shm_header;

#define EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- real functions (init.c) ---------------------------------------------------------------- */
#define HOOK(ret, name, params) extern ret(*real_##name) params;
#include "hooks.def"
#undef HOOK

/* Set once every real_* pointer is resolved and the rules are loaded. */
extern int chaos_ready;
void chaos_init(void);

/* Every hook starts here: initialise if nobody has yet, and take a rule change chaos-exec made
 * since the last call (ctl.c). */
#define CHAOS_INIT()                                                                               \
	do {                                                                                       \
		if (unlikely(!__atomic_load_n(&chaos_ready, __ATOMIC_ACQUIRE)))                    \
			chaos_init();                                                              \
		if (unlikely(__atomic_load_n(chaos_ctl_pending, __ATOMIC_RELAXED)))                \
			ctl_refresh();                                                             \
	} while (0)

/* ---- live control (ctl.c) ------------------------------------------------------------------ */

/* The word chaos-exec sets when this process's rules changed (a static zero when there is no
 * chaos-exec to talk to). */
extern uint32_t *chaos_ctl_pending;
/* chaos-exec's shared area, or NULL */
extern struct shm_header *chaos_shm;
void ctl_attach(void);
void ctl_refresh(void);
bool ctl_exec_gone(void);

/* A wait or a held-back call that loops: take a rule change made meanwhile. */
static inline void chaos_refresh(void)
{
	if (unlikely(__atomic_load_n(chaos_ctl_pending, __ATOMIC_RELAXED)))
		ctl_refresh();
}

/* Per-thread guard: while set, hooks pass straight through (our own I/O, logging, DNS). */
extern __thread int chaos_busy __attribute__((tls_model("initial-exec")));

uint64_t chaos_now_ns(void); /* CLOCK_MONOTONIC */

/* ---- rules (rules.c) -------------------------------------------------------------------------- */

/* The call a rule is asked about. */
enum chaos_call {
	CALL_CONNECT = CHAOS_ON_CONNECT,
	CALL_SEND = CHAOS_ON_SEND,
	CALL_RECV = CHAOS_ON_RECV,
	CALL_DNS = CHAOS_ON_DNS,
};

struct prule {
	struct chaos_rule r;
	uint32_t id;
	uint64_t armed_ns; /* CLOCK_MONOTONIC when the rule arrived */
	struct chaos_rule_state *st;
	char text[CHAOS_RULE_TEXT_MAX + 1];
};

struct ruleset {
	uint32_t gen;     /* changes whenever the set does */
	unsigned on_any;  /* union of the calls the rules act on */
	bool io;          /* some rule acts on send or recv (reset, error on=send|recv, udp refuse) */
	bool timed;       /* some rule is a fault in time (delay, bandwidth, slice, stall) */
	bool close_delay; /* some rule is close-delay= */
	struct chaos_index *ix; /* the rules by target (index.h), or NULL: few enough to walk */
	size_t n;
	struct prule rules[];
};

extern uint64_t chaos_seed; /* for p= decisions (CHAOS_SEED) */

/* The current snapshot; never NULL after init. */
extern struct ruleset *chaos_rules;
static inline struct ruleset *rules_get(void)
{
	return __atomic_load_n(&chaos_rules, __ATOMIC_ACQUIRE);
}

/* The rules of set that may cover d, or a lookup of name, in order (index.h): */
#define RULES_FOR_DEST(set, d, it, i)                                                              \
	for (chaos_index_dest((set)->ix, (set)->n, (d), (it)); chaos_index_next((it), &(i));)
#define RULES_FOR_NAME(set, name, it, i)                                                           \
	for (chaos_index_name((set)->ix, (set)->n, (name), (it)); chaos_index_next((it), &(i));)

/* Does rule p fire now (its triggers), with chaos-exec still there to take it off? */
static inline bool rule_fires_serial(const struct prule *p, uint64_t now, uint64_t *serial)
{
	return chaos_trigger_serial(&p->r, p->st, p->id, chaos_seed, p->armed_ns, now, serial) ==
		       CHAOS_FIRE &&
	       !(chaos_shm && ctl_exec_gone());
}

static inline bool rule_fires(const struct prule *p, uint64_t now)
{
	return rule_fires_serial(p, now, NULL);
}

/* Calls `call` would be matched on for this rule and destination protocol. */
unsigned rule_calls(const struct chaos_rule *r, enum chaos_proto proto);

/* The first rule deciding how (call, dest) fails (refuse, error=, reset, blackhole) that fires
 * now, or NULL.  Counts matches.  Faults in time are the gate's (gate.h). */
const struct prule *rules_fire(const struct ruleset *set, enum chaos_call call,
			       const struct chaos_dest *d);

/* Does any rule acting on send/recv cover dest? (no counting) */
bool rules_cover_io(const struct ruleset *set, const struct chaos_dest *d);

/* The first dns rule covering name that fires now, or NULL. */
const struct prule *rules_fire_dns(const struct ruleset *set, const char *name);

/* Does the preload act on DNS for this name at all (numeric hosts never)? */
bool dns_name_faultable(const char *name);

/* io is armed when some rule acts on send/recv or some fd carries injected state: the read and
 * write hooks look at nothing else when it is 0. */
extern int chaos_io_armed;
void io_armed_update(void);

/* The waits (poll, select, epoll) look at nothing else when this is 0: no timed rule, no gate. */
extern int chaos_waits_armed;

/* Rules that need chaos-exec's endpoints (blackhole, stall, close-delay): refused, with a
 * message, when the library runs without chaos-exec (rules.c). */
bool rule_needs_exec(const struct chaos_rule *r, char *err, size_t errlen);

/* ---- the log (log.c) -------------------------------------------------------------------------- */

/* One JSON line for an injected fault.  dest may be NULL (then d is formatted). */
void log_fault(const char *call, const struct chaos_dest *d, const char *dest, const char *host,
	       const struct prule *p, const char *result);

/* A message on stderr, prefixed "chaos: " (rules we cannot parse, processes we cannot serve). */
void chaos_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Forget the log fd if fd is it (the process closed or replaced it). */
void log_fd_closed(int fd);
void log_fd_closed_range(unsigned first, unsigned last);
bool log_fd_is(int fd); /* is fd the log's? */

/* ---- host names (names.c) ---------------------------------------------------------------------- */

#define NAMES_PER_ADDR 8

void names_add(int family, const void *addr, const char *name);
/* Names that resolved to addr; returns how many (at most max). */
size_t names_get(int family, const void *addr, const char **out, size_t max);
/* Record every address of an addrinfo list under name. */
void names_add_addrinfo(const char *name, const struct addrinfo *ai);
/* A lookup of a numeric host: the connect that follows names no host (names.c). */
void names_literal_lookup(int family, const void *addr);
/* Was dest given as a literal address in this thread's last lookup? */
bool names_is_literal(const struct chaos_dest *d);
/* The one name to show for dest (log, discovery), or NULL: the name this thread just looked
 * up if it resolved there, else the only name that did; never a guess between several. */
const char *names_label(const struct chaos_dest *d);
/* A connection to dest is under way: the lookup that led to it has been used, and says
 * nothing about the next contact with that address. */
void names_consume(const struct chaos_dest *d);
/* Fill d->names / d->nnames from the table (storage provided by the caller). */
void dest_attach_names(struct chaos_dest *d, const char **store, size_t max);

/* ---- fds (fdtable.c) ------------------------------------------------------------------------------ */

enum fd_kind {
	FD_UNKNOWN = 0, /* never looked at, or closed since */
	FD_PASS,        /* not ours to fault: a file, a pipe, AF_UNIX, an accepted socket */
	FD_INET,        /* an outgoing TCP or UDP socket */
};

enum {
	FDF_MATCH = 1u << 0,   /* an io rule covers the peer (valid for gen) */
	FDF_RESET = 1u << 1,   /* we reset this connection */
	FDF_PENDING = 1u << 2, /* an injected connect errno waits in SO_ERROR */
	FDF_PEER = 1u << 3,    /* peer is known */
	FDF_STEERED = 1u << 4, /* an injected connect failure is in flight on this socket */
	FDF_GATED = 1u << 5,   /* a gate (gate.h) is attached: timed faults apply */
	FDF_STALLED = 1u << 6, /* connected to chaos-exec's stall listener, for the peer in
				* `peer` (getpeername shows the peer) */
	FDF_ABORTED = 1u << 7, /* we ended its connect (blackhole timeout=): connect again
				* reports pending_err once */
};

struct fd_entry {
	uint32_t gen;   /* ruleset gen FDF_MATCH was computed for */
	uint8_t kind;   /* enum fd_kind */
	uint8_t proto;  /* enum chaos_proto */
	uint16_t flags; /* FDF_* */
	int32_t pending_err;
	uint32_t dep;   /* its discovery record (deps.c), 1-based; 0: none */
	uint64_t ino;   /* socket inode, to notice an fd reused behind our back */
	uint64_t bytes; /* payload moved both ways while a rule covered it */
	struct chaos_dest peer; /* names not stored: looked up when needed */
	struct epset *ep; /* an epoll fd: the registrations we track in it (epoll.c) */
	uint32_t tgen;    /* ruleset gen for which gate_for found no timed rule covering it */
};

struct epset;

struct fd_entry *fd_lookup(int fd); /* NULL if never tracked */
struct fd_entry *fd_get(int fd);    /* allocates; NULL if fd is out of range */
void fd_forget(int fd);
void fd_copy(int oldfd, int newfd); /* dup: newfd now refers to what oldfd does */
void fd_forget_range(unsigned first, unsigned last);
/* fds carrying FDF_RESET or FDF_PENDING */
extern int chaos_special_fds;
/* fds with a gate attached (FDF_GATED) */
extern int chaos_gated_fds;
void fd_set_flag(struct fd_entry *e, uint16_t flag);
void fd_clear_flag(struct fd_entry *e, uint16_t flag);

/* ---- sockets (sock.c) ------------------------------------------------------------------------------ */

/* sockaddr -> dest (IPv4-mapped IPv6 becomes IPv4).  Returns false for other families. */
bool dest_from_sockaddr(const struct sockaddr *sa, socklen_t len, enum chaos_proto proto,
			struct chaos_dest *d);
/* TCP, UDP, or ANY when the socket is something else (raw, sctp, unix, not a socket). */
enum chaos_proto sock_proto(int fd);
/* Look at an fd nobody told us about and fill in its entry. */
void fd_classify(int fd, struct fd_entry *e);
/* Is e still the socket we recorded? (false if the fd was reused behind our back) */
bool fd_still_same(int fd, struct fd_entry *e);

/* ---- the I/O path (io.c) ---------------------------------------------------------------------------- */

enum io_verdict {
	IO_PASS = 0, /* make the real call (perhaps with fewer bytes) */
	IO_FAIL,     /* return -1 with *err */
};

struct gate;

struct io_ctx {
	struct fd_entry *e; /* NULL when the fd is not ours */
	struct shm_dep *dep; /* where bytes and errors are recorded, or NULL */
	struct gate *g;      /* timed faults apply to this call (gate.h), or NULL */
	int err;
};

/* One send- or recv-like call, as the hooks received it: io_call() runs the whole slow path
 * (io_before, the gate, the real call with at most some bytes, io_after). */
enum io_fn {
	IOF_RECV,
	IOF_RECV_CHK,
	IOF_RECVFROM,
	IOF_RECVFROM_CHK,
	IOF_RECVMSG,
	IOF_READ,
	IOF_READ_CHK,
	IOF_READV,
	IOF_SEND,
	IOF_SENDTO,
	IOF_SENDMSG,
	IOF_WRITE,
	IOF_WRITEV,
};

struct io_op {
	enum io_fn fn;
	int fd;
	int flags;                  /* MSG_* (0 for read/write) */
	void *buf;                  /* the buffer, the iovec array, or the msghdr */
	size_t len;                 /* bytes asked for in all */
	size_t buflen;              /* __*_chk: the buffer's size */
	int iovcnt;
	struct sockaddr *from;      /* recvfrom */
	socklen_t *fromlen;
	const struct sockaddr *to;  /* sendto, sendmsg */
	socklen_t tolen;
};

/* The real call with at most n bytes (n >= op->len: as asked), MSG_* extra added where the
 * call takes flags. */
ssize_t io_real(const struct io_op *op, size_t n, int extra);
ssize_t io_call(const struct io_op *op);

/* Before a send/recv-like call on fd.  to: an explicit destination (sendto), or NULL.
 * *len may be lowered (reset bytes=N lets N bytes through first). */
enum io_verdict io_before(int fd, enum chaos_call call, const char *fn, const struct sockaddr *to,
			  socklen_t tolen, size_t *len, struct io_ctx *c);
/* After the real call: count bytes, fix up errors of connections we reset or refused.
 * Returns the value the hook should return (errno may be changed). */
ssize_t io_after(enum chaos_call call, int flags, ssize_t ret, struct io_ctx *c);
/* Return -1 with the injected errno (and SIGPIPE for EPIPE, as the kernel does). */
ssize_t io_fail(const struct io_ctx *c, int flags);

size_t iov_total(const struct iovec *iov, int cnt);

/* glibc's fortified variants, which we interpose too */
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *from, socklen_t *fromlen);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *sigmask,
		size_t fdslen);

/* ---- the fast path (rw.c, recv.c, send.c) ------------------------------------------------------
 *
 * An exported send/recv/read/write hook is a check inlined here and a tail jump to the real
 * function; everything else is in a cold function of its own, so the fast path builds no stack
 * frame.  The check passes a call when io_call() would make exactly the real call and do
 * nothing else:
 *   - io is not armed (no rule acts on I/O, nothing injected, no gate, no recording), or
 *   - the fd is known not to be ours (FD_PASS: a file, a pipe, AF_UNIX, an accepted socket), or
 *   - it is one of our sockets with nothing on it: no reset or pending connect errno injected,
 *     no gate attached, no fault in time covering it (none in the rules, or gate_for found
 *     none for this generation: tgen), no recording, and no rule acting on I/O covers its
 *     peer (FDF_MATCH cleared by fd_covered for the current ruleset generation).
 *     A call that names a destination (sendto, sendmsg with msg_name) is looked up per
 *     datagram, so it passes here only when no rule acts on I/O at all.
 * Never before the library is ready (the real_* pointers), and never with a rule change
 * pending: the slow path takes it (CHAOS_INIT).  FD_UNKNOWN goes to the slow path, which
 * classifies the fd. */

/* The fd table (fdtable.c), looked into here without a call. */
#define FD_PAGE_BITS 10
#define FD_PAGE_ENTRIES (1u << FD_PAGE_BITS)
#define FD_PAGES 1024u
extern struct fd_entry *chaos_fd_pages[FD_PAGES];

/* What the fast path checks before anything else: ready, nothing armed, nothing pending. */
static inline bool io_fast(void)
{
	return likely(__atomic_load_n(&chaos_ready, __ATOMIC_ACQUIRE)) &&
	       !(__atomic_load_n(&chaos_io_armed, __ATOMIC_RELAXED) |
		 __atomic_load_n(chaos_ctl_pending, __ATOMIC_RELAXED));
}

/* deps_recording() (deps.c) without the call */
static inline __attribute__((always_inline)) bool io_recording(void)
{
	return chaos_shm && __atomic_load_n(&chaos_shm->record, __ATOMIC_RELAXED);
}

/* What the fast path may do with a call */
enum io_way {
	IO_SLOW_PATH = 0, /* io_call() must see it */
	IO_DIRECT,        /* the real call, whatever it is */
	IO_DIRECT_NO_DEST, /* the real call, unless it names a destination of its own (sendto,
			    * sendmsg with msg_name: looked up per datagram) */
};

/* While io is armed: would io_call() on fd do nothing but the real call? */
static inline __attribute__((always_inline)) enum io_way io_fd_way(int fd)
{
	if (unlikely((unsigned)fd >= FD_PAGES * FD_PAGE_ENTRIES))
		return IO_SLOW_PATH;
	const struct fd_entry *page =
		__atomic_load_n(&chaos_fd_pages[(unsigned)fd >> FD_PAGE_BITS], __ATOMIC_ACQUIRE);
	if (unlikely(!page))
		return IO_SLOW_PATH;
	const struct fd_entry *e = &page[(unsigned)fd & (FD_PAGE_ENTRIES - 1)];
	uint8_t kind = __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE);
	if (likely(kind == FD_PASS))
		return IO_DIRECT;
	/* the generation first: FDF_MATCH is stored before it (fd_covered), so the flags read
	 * after it are at least as new as the generation says */
	uint32_t fgen = __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE);
	uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
	/* (FDF_MATCH, even from an older generation: io_after counts the bytes) */
	if (kind != FD_INET || (flags & (FDF_RESET | FDF_PENDING | FDF_GATED | FDF_MATCH)))
		return IO_SLOW_PATH;
	const struct ruleset *set = rules_get();
	/* (with faults in time about: only a socket none of them covers, gate_for found) */
	if ((set->timed && __atomic_load_n(&e->tgen, __ATOMIC_ACQUIRE) != set->gen) ||
	    io_recording())
		return IO_SLOW_PATH;
	if (!set->io)
		return IO_DIRECT;
	if ((flags & FDF_PEER) && fgen == set->gen)
		return IO_DIRECT_NO_DEST;
	return IO_SLOW_PATH;
}

/* The whole check. */
static inline __attribute__((always_inline)) enum io_way io_way(int fd)
{
	if (unlikely(!__atomic_load_n(&chaos_ready, __ATOMIC_ACQUIRE)) ||
	    unlikely(__atomic_load_n(chaos_ctl_pending, __ATOMIC_RELAXED)))
		return IO_SLOW_PATH;
	if (likely(!__atomic_load_n(&chaos_io_armed, __ATOMIC_RELAXED)))
		return IO_DIRECT;
	return io_fd_way(fd);
}

/* For a call without a destination of its own: make the real call at once? */
static inline __attribute__((always_inline)) bool io_skip(int fd)
{
	return likely(io_way(fd) != IO_SLOW_PATH);
}

/* The cold rest of a hook */
#define IO_SLOW __attribute__((noinline, cold))

#endif
