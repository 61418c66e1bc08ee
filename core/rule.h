/* rule.h -- the rule language: one parser, printer and matcher for every front end
 *
 * A rule is `TARGET ACTION [KEY=VALUE ...]`, for example
 *
 *     redis.local:6379 refuse
 *     tcp:10.0.0.0/8:5432 error=ETIMEDOUT on=connect p=0.5 count=3
 *     [::1]:8000-8099 reset bytes=100 skip=2
 *     *.internal dns=nxdomain for=30s
 *
 * The preload library, chaos-exec, chaos-ctl, chaos-attach and chaos-run all parse rules here, so
 * a rule means the same thing wherever it is written.  Nothing in this module allocates, logs or
 * touches errno: functions return 0 or a negative errno and write a message into the caller's
 * buffer.  It is safe to call from the preload library before main() runs.
 */
#ifndef CHAOS_RULE_H
#define CHAOS_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAOS_NAME_MAX 254      /* longest DNS name, without the trailing dot */
#define CHAOS_RULE_TEXT_MAX 512 /* longest rule text we accept or print */
#define CHAOS_ERR_MAX 256       /* size of an error message buffer */

enum chaos_proto {
	CHAOS_PROTO_ANY = 0,
	CHAOS_PROTO_TCP,
	CHAOS_PROTO_UDP,
};

enum chaos_host_kind {
	CHAOS_HOST_ANY = 0, /* `*` */
	CHAOS_HOST_NAME,    /* a DNS name, possibly with `*` globs */
	CHAOS_HOST_ADDR,    /* an IPv4 or IPv6 address or CIDR block */
};

struct chaos_target {
	enum chaos_proto proto;
	enum chaos_host_kind kind;
	char name[CHAOS_NAME_MAX + 1]; /* CHAOS_HOST_NAME: lower case, no trailing dot */
	int family;                    /* CHAOS_HOST_ADDR: AF_INET or AF_INET6 */
	uint8_t addr[16];              /* network order; IPv4 uses the first 4 bytes */
	uint8_t prefix;                /* CIDR prefix length: 32/128 for a single address */
	uint16_t port_lo, port_hi;     /* both 0: any port */
};

enum chaos_action {
	CHAOS_ACT_REFUSE = 0, /* connect fails with ECONNREFUSED */
	CHAOS_ACT_ERROR,      /* error=ERRNO on=connect|send|recv|io */
	CHAOS_ACT_RESET,      /* established connection reset, after bytes=N */
	CHAOS_ACT_DNS,        /* dns=nxdomain|servfail|timeout|ADDRESS */
	CHAOS_ACT_BLACKHOLE,  /* connect never answered */
	CHAOS_ACT_STALL,      /* connection opens, the peer never answers */
	CHAOS_ACT_DELAY,      /* delay=DURATION [jitter=DURATION] */
	CHAOS_ACT_BANDWIDTH,  /* bandwidth=RATE */
	CHAOS_ACT_SLICE,      /* slice=BYTES: short reads and writes */
	CHAOS_ACT_CLOSE_DELAY,/* close-delay=DURATION */
	CHAOS_ACT_LOSS,       /* loss=P: packet loss (eBPF only) */
	CHAOS_ACT__COUNT
};

/* The calls a rule acts on (`on=`).  io = send|recv. */
enum {
	CHAOS_ON_CONNECT = 1u << 0,
	CHAOS_ON_SEND = 1u << 1,
	CHAOS_ON_RECV = 1u << 2,
	CHAOS_ON_IO = CHAOS_ON_SEND | CHAOS_ON_RECV,
	CHAOS_ON_DNS = 1u << 3, /* implied by dns= rules, never written */
	CHAOS_ON_CLOSE = 1u << 4, /* implied by close-delay= rules, never written */
};

enum chaos_dns_kind {
	CHAOS_DNS_NXDOMAIN = 0,
	CHAOS_DNS_SERVFAIL,
	CHAOS_DNS_TIMEOUT,
	CHAOS_DNS_ADDRESS,
};

/* Which keys were written, so the canonical form prints exactly what was asked for. */
enum {
	CHAOS_SET_ON = 1u << 0,
	CHAOS_SET_BYTES = 1u << 1,
	CHAOS_SET_P = 1u << 2,
	CHAOS_SET_COUNT = 1u << 3,
	CHAOS_SET_SKIP = 1u << 4,
	CHAOS_SET_START = 1u << 5,
	CHAOS_SET_FOR = 1u << 6,
	CHAOS_SET_JITTER = 1u << 7,
	CHAOS_SET_TIMEOUT = 1u << 8,
	CHAOS_SET_FLAP = 1u << 9,
};

struct chaos_rule {
	struct chaos_target target;
	enum chaos_action action;
	unsigned on;      /* CHAOS_ON_* this rule acts on */
	unsigned set;     /* CHAOS_SET_* keys that were written */

	/* action parameters */
	int err;                       /* error=: the errno */
	uint64_t bytes;                /* reset: bytes let through first */
	enum chaos_dns_kind dns;       /* dns= */
	int dns_family;                /* dns=ADDRESS: AF_INET or AF_INET6 */
	uint8_t dns_addr[16];
	uint64_t delay_ns, jitter_ns;  /* delay=, jitter= */
	uint64_t timeout_ns;           /* timeout= (blackhole, dns=timeout) */
	uint64_t rate_bps;             /* bandwidth=, bytes per second */
	uint64_t slice;                /* slice= */
	uint64_t close_delay_ns;       /* close-delay= */
	uint32_t loss_ppm;             /* loss=, parts per million */

	/* triggers */
	uint32_t p_ppm;                /* probability, parts per million (1000000 = always) */
	uint64_t count;                /* fire at most this many times (CHAOS_SET_COUNT) */
	uint64_t skip;                 /* let the first N matching calls pass */
	uint64_t start_ns, for_ns;     /* window from when the rule arrives */
	uint64_t flap_up_ns, flap_down_ns;
};

/* Parse one rule.  Returns 0, or -EINVAL with a message such as
 * "port 'abc' is not a number" in err (the caller names the rule). */
int chaos_rule_parse(const char *text, struct chaos_rule *out, char *err, size_t errlen);

/* Print a rule in canonical form (what --check shows, what the log quotes).  Parsing the
 * canonical form gives the same rule back.  Returns the length, or -ENOSPC. */
int chaos_rule_format(const struct chaos_rule *r, char *buf, size_t len);

/* Print just the target in canonical form. */
int chaos_target_format(const struct chaos_target *t, char *buf, size_t len);

const char *chaos_action_name(enum chaos_action a);

/* ---- matching ---------------------------------------------------------------------------- */

/* A destination as a call sees it.  names are the host names that resolved to addr in this
 * process (any of them matching a name rule is a match). */
struct chaos_dest {
	enum chaos_proto proto; /* CHAOS_PROTO_TCP or CHAOS_PROTO_UDP */
	int family;             /* AF_INET or AF_INET6; IPv4-mapped IPv6 is given as AF_INET */
	uint8_t addr[16];
	uint16_t port;          /* host order */
	const char *const *names;
	size_t nnames;
};

/* Case-insensitive DNS name match with `*` globs; a trailing dot on name is ignored. */
bool chaos_name_match(const char *pattern, const char *name);

/* Does the target cover this destination (protocol, address or name, port)? */
bool chaos_target_match(const struct chaos_target *t, const struct chaos_dest *d);

/* Does a dns= rule cover a lookup of this name? */
bool chaos_target_match_name(const struct chaos_target *t, const char *name);

/* ---- triggers ---------------------------------------------------------------------------- */

/* Per-rule counters, shared by every thread.  Zero-initialise. */
struct chaos_rule_state {
	uint64_t matched;  /* calls that matched the target and the call kind */
	uint64_t eligible; /* of those, calls inside the time window */
	uint64_t injected; /* faults injected */
};

enum chaos_verdict {
	CHAOS_PASS = 0, /* let the call through */
	CHAOS_FIRE,     /* inject the fault */
};

/* Decide whether a matching call fires the rule, updating the counters atomically.
 * now_ns and armed_ns are CLOCK_MONOTONIC; seed makes p= reproducible: the n-th eligible call
 * of a rule fires or not as a pure function of (seed, rule_id, n), whatever the threads do. */
enum chaos_verdict chaos_trigger(const struct chaos_rule *r, struct chaos_rule_state *st,
				 uint32_t rule_id, uint64_t seed, uint64_t armed_ns, uint64_t now_ns);
/* The same, and when it fires, *serial = which injection of the rule this is (1, 2, ...), each
 * number given to one call only, whatever the threads do. */
enum chaos_verdict chaos_trigger_serial(const struct chaos_rule *r, struct chaos_rule_state *st,
					uint32_t rule_id, uint64_t seed, uint64_t armed_ns,
					uint64_t now_ns, uint64_t *serial);

/* Is the rule's time window (start=, for=, flap=) open at now_ns? */
bool chaos_window_open(const struct chaos_rule *r, uint64_t armed_ns, uint64_t now_ns);

/* ---- front ends --------------------------------------------------------------------------- */

enum chaos_frontend {
	CHAOS_FE_PRELOAD = 0, /* libchaos-preload.so via chaos-exec */
	CHAOS_FE_BPF,         /* chaos-attach */
};

/* Can this front end carry out the rule?  Returns 0, or -ENOTSUP with a message naming what
 * is missing.  A rule a front end cannot carry out is refused, never silently ignored. */
int chaos_rule_supported(const struct chaos_rule *r, enum chaos_frontend fe, char *err,
			 size_t errlen);

/* The per-front-end checks behind chaos_rule_supported (core/support_*.c). */
int chaos_preload_supported(const struct chaos_rule *r, char *err, size_t errlen);
int chaos_bpf_supported(const struct chaos_rule *r, char *err, size_t errlen);

/* "refuse", "error", "dns=nxdomain", "dns=ADDRESS", ...: the action as messages name it. */
void chaos_rule_describe_action(const struct chaos_rule *r, char *buf, size_t len);

#endif
