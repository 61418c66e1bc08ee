/* gate.h -- faults in time: what a socket lets the program see, and when (gate.c)
 *
 * A gate is the per-fd state of the timed faults: delay= (the connect, the responses, the
 * requests), bandwidth=, slice=, a stall that meets a connection already open, and the
 * time-out of a blackholed connect.  The data itself stays in the kernel.  The gate decides how
 * much of what the kernel holds the program may read, whether it may write, and which
 * readiness bits poll, select and epoll may report; a wait sleeps no longer than the next
 * change.  There is no thread: whoever calls in (a read, a write, a wait) looks at the socket.
 *
 * The receive side is a delay line.  When new bytes (or the end of the stream, or an error)
 * are seen in the kernel at time T, a mark records the stream offset they reach and when they
 * become visible: T plus the delay of the burst they belong to (a burst is what arrives while
 * earlier bytes are still held back; each burst draws its own jitter; marks never overtake
 * each other, as a TCP stream does not).  Bytes are seen when the program waits for them (the
 * wait reports them, or, while they are held back, is woken every `slice` of the delay to look:
 * what arrived in between is timed from the look before) or reads.
 *
 * Decisions are per connection, as in the kernel path (chaos-attach): the triggers of a timed
 * rule are asked once, when the connection is made (or when the rule first meets a connection
 * that was open before it), and the connection keeps the fault while the rule's window (start=,
 * for=, flap=) is open.
 *
 * Locking: a gate has a small lock, taken only on the slow path of fds that have a gate (never
 * by a call on an fd without one), never held across a system call that can block.
 */
#ifndef CHAOS_PRELOAD_GATE_H
#define CHAOS_PRELOAD_GATE_H

#include <poll.h>

#include "internal.h"

enum gate_kind {
	GK_DCONN = 0, /* delay=, on the connect */
	GK_DRX,       /* delay=, on what is received */
	GK_DTX,       /* delay=, on what is sent */
	GK_BW,        /* bandwidth= */
	GK_SLICE,     /* slice= */
	GK_STALL,     /* stall, on a connection that was not steered at its connect */
	GK__N
};

struct gate_mark {
	uint64_t end;  /* stream offset the kernel had received */
	uint64_t due;  /* visible from (CLOCK_MONOTONIC) */
	int32_t err;   /* an error our own wait took from the kernel (given when due), or 0 */
	uint8_t eof;   /* the end of the stream (or an error) had arrived too */
	uint8_t pad[3];
};

#define GATE_MARKS 16

struct gate {
	uint64_t lock;             /* gate_lock() */
	uint32_t used;             /* attached to its fd */
	uint32_t gen;              /* the ruleset generation rule[] was computed for */
	const struct prule *rule[GK__N]; /* the rule of each kind covering the peer, or NULL */
	uint32_t rule_id[GK__N];   /* its id (a rule is asked once per connection) */
	uint8_t fired[GK__N];      /* its triggers said yes for this connection */
	uint64_t serial[GK__N];    /* the connection's number for that rule (jitter) */

	/* the connect */
	uint64_t conn_due;         /* the connect completes, to the program, at this time */
	int32_t conn_err;          /* its failure, taken from the kernel before conn_due */
	uint64_t deadline;         /* blackhole timeout=: abort the connect then (0: none) */

	/* receiving */
	uint64_t rx_consumed;      /* bytes the program read */
	uint64_t rx_seen;          /* stream offset seen in the kernel */
	uint64_t rx_vis;           /* stream offset the program may read up to */
	uint64_t rx_obs;           /* when we last looked */
	uint64_t rx_delay;         /* delay of the burst being received */
	uint64_t rx_bursts;
	int32_t rx_err;            /* error taken by our own wait, visible with eof */
	uint8_t rx_eof_seen, rx_eof_vis, rx_logged, rx_pad;
	struct gate_mark marks[GATE_MARKS];
	uint32_t mhead, mcount;

	/* sending (delay on=send): the first send of a burst waits, the rest follow it */
	uint64_t tx_due;           /* sends wait until (0: none) */
	uint64_t tx_last;          /* the last send */
	uint64_t tx_bursts;
	uint8_t tx_open;           /* a burst was let go: the sends that follow pass */
	uint8_t tx_pad[7];

	/* bandwidth=: token buckets as virtual times (the time the bucket is even at) */
	uint64_t rx_tat, tx_tat;
	uint8_t bw_logged, slice_logged, stall_logged, pad2[5];
};

/* The gate attached to fd, or NULL. */
struct gate *gate_get(int fd);
/* Attach a fresh gate to fd (a connection the timed rules cover); NULL if fd is out of range. */
struct gate *gate_attach(int fd, struct fd_entry *e);
/* The fd is closed or reused: its gate goes (fdtable.c). */
void gate_detach(int fd);

/* Take the gate's lock; false if this thread holds it already (a signal handler interrupted
 * a hook on this fd): the caller then passes the call through. */
bool gate_lock(struct gate *g);
void gate_unlock(struct gate *g);

/* Is the gated fd still the socket its gate was attached to?  If not (closed and reused
 * behind our back), its entry is forgotten and looked at again; returns false then. */
bool gate_valid(int fd, struct fd_entry *e);

/* Do timed rules cover this connection's peer, from now on?  Attaches a gate if so (connect,
 * the first I/O after a rule arrived).  Returns the gate, or NULL. */
struct gate *gate_for(int fd, struct fd_entry *e, const struct ruleset *set);

/* A connection being made: ask the triggers of the timed rules covering it; *stall (steer it)
 * and *delay (hold its connect back) say which fire now.  Returns the gate attached to fd if
 * one is needed (a stall alone needs none), else NULL. */
struct gate *gate_connect(int fd, struct fd_entry *e, const struct ruleset *set, uint64_t now,
			  const struct prule **stall, const struct prule **delay);

/* Bring rule[] up to date for the set (asking the triggers of rules new to this connection).
 * Call with the lock held. */
void gate_rules(int fd, struct fd_entry *e, struct gate *g, const struct ruleset *set,
		uint64_t now);

/* Is a timed rule of this kind in force on the connection now (fired, window open)? */
const struct prule *gate_active(const struct gate *g, enum gate_kind k, uint64_t now);

/* The readiness bits (POLL*) the program may not see now, looking at the socket
 * (revents: what the kernel just reported for it, or -1 to look).  *due: when that may change
 * next (0: not by itself); *watch: the socket holds bytes back, so a wait should look again
 * within that many ns to time later arrivals.  Call with the lock held. */
unsigned gate_hidden(int fd, struct gate *g, uint64_t now, int revents, uint64_t *due,
		     uint64_t *watch);

/* Is the gate holding anything back, or about to (a wait must ask gate_hidden)? */
bool gate_busy(const struct gate *g);

/* The I/O paths: the whole call on a gated socket (blocking ones wait as the kernel would). */
ssize_t gate_recv(const struct io_op *op, struct io_ctx *c, size_t len);
ssize_t gate_send(const struct io_op *op, struct io_ctx *c, size_t len);

/* connect: a delayed connect (on=connect), blocking or not; returns connect's result */
int gate_connect_delay(int fd, struct fd_entry *e, struct gate *g, uint64_t start, int rc, int err);
/* A connect, SO_ERROR or getpeername on a socket whose connect is held back: 0 when the gate
 * has nothing to say, EALREADY while the connect is held back, or the error it ended with
 * (taken once when take). */
int gate_conn_state(int fd, bool take);
/* blackhole timeout=: the connect ends with ETIMEDOUT at deadline (a wait that sees the time
 * has come aborts it) */
void gate_set_deadline(int fd, struct gate *g, uint64_t deadline);

/* Sleep until `until` (CLOCK_MONOTONIC) as a socket call would wait (sleep.c): timed (the
 * socket has a time-out for this direction) means any signal handler interrupts it (EINTR), as
 * the kernel never restarts such a call; otherwise it is a blocking read of a timerfd, which
 * the kernel restarts after a handler with SA_RESTART and interrupts after one without, exactly
 * as it does a blocking recv.  Returns 0 or -EINTR. */
int chaos_sleep_until(uint64_t until, bool timed);
/* The socket's SO_RCVTIMEO (recv) or SO_SNDTIMEO (send) in ns, 0 for none. */
uint64_t sock_timeout_ns(int fd, bool send);
/* Is the call non-blocking (O_NONBLOCK, or MSG_DONTWAIT in flags)? */
bool sock_nonblocking(int fd, int flags);

/* epoll.c: the gate of fd changed what the program may see: the epoll sets it is in look
 * again (registrations are switched to our tag on attach). */
void epoll_gate_attached(int fd);
/* ... and has something pending no event will announce (a deadline, a delayed connect). */
void epoll_gate_changed(int fd);

/* A lock word identifying this thread in this process (after a fork, locks held by threads of
 * the parent are recognised as stale), and the small locks built on it. */
uint64_t chaos_lock_id(void);
bool chaos_lock(uint64_t *w);
void chaos_unlock(uint64_t *w);

/* The real call at byte offset off of what was asked, with at most n bytes (io.c). */
ssize_t io_real_at(const struct io_op *op, size_t off, size_t n, int extra);

#define GATE_LOOK_MIN 1000000ULL   /* wake at least every 1 ms... */
#define GATE_LOOK_MAX 50000000ULL  /* ...at most every 50 ms while bytes are held back */
#define GATE_RECHECK 1000000000ULL /* a stall, forever: look at the rules again each second */

#endif
