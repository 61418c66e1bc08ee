/* shm.h -- the control area chaos-exec shares with every process of the tree it runs
 *
 * One file per chaos-exec, mapped by chaos-exec (the only writer of rules) and by the library
 * in each process.  No thread runs in the service's processes: a process notices a change on
 * its next hooked call (one load of its slot's `pending` word) and swaps in a new snapshot.
 *
 *   header | rule texts (by id) | counters (by id) | dependencies | slots
 *
 * Rule ids are tree-wide: a rule added to several processes has one id, one text and one set
 * of counters (count= and p= under a seed are exact across the tree).  A slot is one process:
 * its pid, its parent, and the ordered list of the rule ids it has.  Everything is fixed-size,
 * sized by chaos-exec when it creates the file (--max-rules).
 */
#ifndef CHAOS_SHM_H
#define CHAOS_SHM_H

#include <stdint.h>

#include "rule.h"

#define CHAOS_SHM_MAGIC 0x33534843u /* "CHS3" */
#define CHAOS_SHM_SLOTS 256u        /* processes in one tree */
#define CHAOS_SHM_DEPS 1024u        /* dependency records */

enum { SLOT_FREE = 0, SLOT_CLAIMED, SLOT_LIVE };

struct shm_header {
	uint32_t magic;
	uint32_t exec_pid;
	uint32_t max_rules;   /* rule ids are 1..max_rules */
	uint32_t max_active;  /* rules one process may have at once */
	uint64_t text_size;   /* bytes in the rule-text arena */
	uint64_t seed;
	uint64_t epoch_ns;    /* CLOCK_MONOTONIC when chaos-exec started */
	uint32_t record;      /* count bytes per dependency (--record) */
	uint32_t next_id;     /* the next rule id chaos-exec hands out */
	uint64_t text_used;   /* bytes of the arena written */
	uint64_t off_rules;   /* struct shm_rule[max_rules + 1] */
	uint64_t off_text;
	uint64_t off_deps;    /* struct shm_dep[CHAOS_SHM_DEPS] */
	uint64_t off_slots;   /* CHAOS_SHM_SLOTS slots of slot_size bytes */
	uint64_t slot_size;
	uint64_t total_size;
	/* The outage endpoints chaos-exec keeps for the library (ports in host order, 0: none).
	 * sink: a listener whose accept queue is full, so the kernel drops every SYN (blackhole);
	 * stall: a listener that accepts and never reads or writes (stall).  hold: an abstract
	 * unix datagram socket to which a process hands a socket (SCM_RIGHTS) with the time to
	 * close it (close-delay), as struct shm_hold. */
	uint16_t sink_port4, sink_port6;
	uint16_t stall_port4, stall_port6;
	/* Slots 0..slots_hwm-1 are every slot ever claimed: a scan stops there (a slot freed
	 * below it stays inside).  Raised with an atomic max by whoever claims a slot, after the
	 * claim and before the slot is LIVE, so a scan that loads it (acquire) and then finds
	 * nothing LIVE above it misses only slots that became LIVE after the load. */
	uint32_t slots_hwm;
	char hold_name[64]; /* abstract address, without the leading NUL; "" when none */
	uint64_t exec_start; /* chaos-exec's start time (see chaos_proc_start): with exec_pid,
			      * tells a live chaos-exec from a reused pid when stale areas are
			      * swept */
	uint64_t exec_pidns; /* the inode of chaos-exec's pid namespace: a process in the same
			      * one can tell from exec_pid and exec_start that chaos-exec is gone */
};

/* What a process sends to the hold socket, with one fd in SCM_RIGHTS. */
struct shm_hold {
	uint64_t close_ns; /* CLOCK_MONOTONIC time to close the fd at */
};

/* A rule id's text and counters.  Written once by chaos-exec before any slot lists the id. */
struct shm_rule {
	uint64_t text_off;  /* into the arena; the text is NUL-terminated */
	uint64_t armed_ns;  /* CLOCK_MONOTONIC when the rule arrived */
	struct chaos_rule_state st;
};

struct shm_slot {
	uint32_t state;    /* SLOT_* */
	uint32_t pid;
	uint32_t ppid;
	uint32_t pending;  /* 1: the rule list changed since the process last looked */
	uint64_t start;    /* the process's start time (/proc/PID/stat field 22): a reused pid
			    * is another process */
	uint32_t seq;      /* seqlock: odd while chaos-exec writes the list */
	uint32_t paused;
	uint32_t nactive;
	uint32_t applied;  /* how many times the process took a new list (for tests and show) */
	uint32_t ids[];    /* [max_active], in rule order */
};

struct shm_dep {
	uint32_t state;        /* SLOT_* as for slots: claimed with a CAS, then live */
	uint8_t proto;         /* enum chaos_proto, or 0 for a lookup-only record */
	uint8_t naddrs;
	uint16_t port;
	char host[CHAOS_NAME_MAX + 1];
	struct {
		uint8_t family;
		uint8_t addr[16];
	} addrs[8];
	uint64_t lookups, connections, bytes_out, bytes_in;
	uint64_t first_ns, last_ns; /* CLOCK_REALTIME */
	struct {
		int32_t code;       /* errno, or an EAI_* code + 10000 */
		uint32_t pad;
		uint64_t count;
	} errors[6];
};

static inline struct shm_rule *shm_rules(struct shm_header *h)
{
	return (struct shm_rule *)((char *)h + h->off_rules);
}

static inline char *shm_text(struct shm_header *h)
{
	return (char *)h + h->off_text;
}

static inline struct shm_dep *shm_deps(struct shm_header *h)
{
	return (struct shm_dep *)((char *)h + h->off_deps);
}

static inline struct shm_slot *shm_slot(struct shm_header *h, unsigned i)
{
	return (struct shm_slot *)((char *)h + h->off_slots + (uint64_t)i * h->slot_size);
}

/* The layout for these capacities; fills every size and offset of h. */
static inline void shm_layout(struct shm_header *h, uint32_t max_rules, uint32_t max_active,
			      uint64_t text_size)
{
	uint64_t off = (sizeof(*h) + 63) & ~63ULL;
	h->max_rules = max_rules;
	h->max_active = max_active;
	h->text_size = text_size;
	h->off_rules = off;
	off += ((uint64_t)max_rules + 1) * sizeof(struct shm_rule);
	off = (off + 63) & ~63ULL;
	h->off_text = off;
	off += text_size;
	off = (off + 63) & ~63ULL;
	h->off_deps = off;
	off += (uint64_t)CHAOS_SHM_DEPS * sizeof(struct shm_dep);
	off = (off + 4095) & ~4095ULL;
	h->off_slots = off;
	h->slot_size = (sizeof(struct shm_slot) + (uint64_t)max_active * 4 + 63) & ~63ULL;
	off += (uint64_t)CHAOS_SHM_SLOTS * h->slot_size;
	h->total_size = (off + 4095) & ~4095ULL;
}

/* How many slots a scan must look at (slots_hwm, at least slot 0, at most all). */
static inline unsigned shm_slots_used(struct shm_header *h)
{
	uint32_t n = __atomic_load_n(&h->slots_hwm, __ATOMIC_ACQUIRE);
	return n < 1 ? 1 : n > CHAOS_SHM_SLOTS ? CHAOS_SHM_SLOTS : n;
}

/* Claim a free slot (from 1; slot 0 is chaos-exec's) with a compare-and-swap and raise the
 * high-water mark over it.  The slot is SLOT_CLAIMED: the caller fills it and makes it LIVE.
 * Free slots are reused lowest first, so the mark stays at the most processes the tree ever
 * had at once.  NULL when all are taken. */
static inline struct shm_slot *shm_slot_claim(struct shm_header *h)
{
	for (unsigned i = 1; i < CHAOS_SHM_SLOTS; i++) {
		struct shm_slot *s = shm_slot(h, i);
		uint32_t expected = SLOT_FREE;
		if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) != SLOT_FREE ||
		    !__atomic_compare_exchange_n(&s->state, &expected, SLOT_CLAIMED, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		uint32_t cur = __atomic_load_n(&h->slots_hwm, __ATOMIC_RELAXED);
		while (cur < i + 1 &&
		       !__atomic_compare_exchange_n(&h->slots_hwm, &cur, i + 1, true,
						    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			;
		return s;
	}
	return NULL;
}

/* Read a process's start time (field 22 of /proc/PID/stat); 0 if it cannot be read.  Uses
 * only open/read/close, so it is safe in a fork child. */
uint64_t chaos_proc_start(int pid);

#endif
