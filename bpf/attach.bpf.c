// SPDX-License-Identifier: GPL-2.0
/* attach.bpf.c -- the kernel side of chaos-attach: faults on the socket calls and packets of the
 * processes in the cgroups it attaches to
 *
 * Socket-call hooks (connect, UDP sendmsg/recvmsg, getpeername) run as the calling process, so
 * they filter on its thread group when chaos-attach targets PIDs.  They decide once per
 * connection and write the decision into socket storage; the packet hooks (cgroup_skb) and sockops
 * act only on sockets that carry such storage, because in a packet hook the current process is
 * whoever happens to be running.  Packet hooks stay out of every other socket.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "attach.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define SOCK_DGRAM_ 2
#define SOL_SOCKET 1
#define SO_MAX_PACING_RATE 47
#define SOL_TCP 6
#define TCP_USER_TIMEOUT 18
#define TCP_SYN_SENT_ 2
#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* ---- settings, set by chaos-attach before load (rodata) or before attach (bss) ------------- */

const volatile bool filter_tgid = false; /* only the thread groups in `tgids` */
const volatile __u32 self_tgid = 0;      /* chaos-attach: never a target */
const volatile bool dns_enabled = false; /* steer port 53 to the responder */
const volatile __u64 seed = 0;           /* p= decisions, as chaos_trigger() */
const volatile __u64 pidns_dev = 0;      /* chaos-attach's PID namespace, if not the initial */
const volatile __u64 pidns_ino = 0;      /* one: PIDs are as seen there */

__u64 armed_ns = 0;      /* CLOCK_MONOTONIC when the rules arrived */
__u64 lost_events = 0;   /* events the ring buffer had no room for */

extern unsigned int CONFIG_HZ __kconfig __weak;

/* ---- maps (sizes set by chaos-attach before load) ---------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ca_rule);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ca_state);
} rstate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ca_key);
	__type(value, __u32);
} dst_trie SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ca_list_key);
	__type(value, struct ca_list);
} dst_lists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8);
} tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ca_sk);
} sk_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct ca_ns);
} ns_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ca_client_key);
	__type(value, struct ca_client);
} dns_clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* ---- who is a target ------------------------------------------------------------------- */

/* The caller's thread group and thread ids as chaos-attach sees them (its own PID namespace);
 * false if the caller is not visible from there.  In the initial namespace they are the
 * kernel's own, and the helper for other namespaces (Linux 6.10 in these hooks) is never run:
 * the verifier drops what a rodata constant rules out. */
static __always_inline bool ids(__u32 *tgid, __u32 *tid)
{
	struct bpf_pidns_info ns;
	__u64 id;

	if (!pidns_ino) {
		id = bpf_get_current_pid_tgid();
		*tgid = id >> 32;
		*tid = (__u32)id;
		return true;
	}
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return false;
	*tgid = ns.tgid;
	*tid = ns.pid;
	return true;
}

static __always_inline bool is_target(void)
{
	__u32 tgid, tid;

	if (!ids(&tgid, &tid))
		return !filter_tgid; /* outside our PID namespace: never one of our PIDs */
	if (tgid == self_tgid)
		return false;
	if (!filter_tgid)
		return true;
	return bpf_map_lookup_elem(&tgids, &tgid) != NULL;
}

/* ---- triggers, exactly as chaos_trigger() in core/match.c -------------------------------- */

static __always_inline __u64 splitmix64(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static __always_inline bool window_open(const struct ca_rule *r, __u64 now)
{
	__u64 t;

	if (!(r->flags & CA_RF_WINDOW))
		return true;
	t = now > armed_ns ? now - armed_ns : 0;
	if (t < r->start_ns)
		return false;
	t -= r->start_ns;
	if ((r->flags & CA_RF_FOR) && t >= r->for_ns)
		return false;
	if (r->flags & CA_RF_FLAP) {
		__u64 period = r->flap_up_ns + r->flap_down_ns;
		if (period && t % period < r->flap_up_ns)
			return false;
	}
	return true;
}

/* Does rule id fire now?  Counts as chaos_trigger does; count= hands out tickets.  A global
 * function, so the verifier checks it once rather than once for every call site. */
__noinline int trigger(const struct ca_rule *r, __u32 id)
{
	struct ca_state *st = bpf_map_lookup_elem(&rstate, &id);
	__u64 n;

	if (!st || !r)
		return false;
	__sync_fetch_and_add(&st->matched, 1);
	if (!window_open(r, bpf_ktime_get_ns()))
		return false;
	n = __sync_fetch_and_add(&st->eligible, 1) + 1;
	if (n <= r->skip)
		return false;
	if (r->p_ppm < 1000000) {
		__u64 h = splitmix64(seed ^ splitmix64(((__u64)(id + 1) << 40) ^ n));
		if (h % 1000000 >= r->p_ppm)
			return false;
	}
	if ((r->flags & CA_RF_COUNT) && __sync_fetch_and_add(&st->tickets, 1) >= r->count)
		return false;
	__sync_fetch_and_add(&st->injected, 1);
	return true;
}

/* ---- finding the rule for a destination -------------------------------------------------- */

struct dest {
	__u8 family; /* AF_INET (also for IPv4-mapped) or AF_INET6 */
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u16 port;  /* host order */
	__u32 addr[4];
};

/* The first rule that covers d, acts at `want` (CA_H_*) and fires; its index, or -1.  Global,
 * verified once. */
__noinline int pick(const struct dest *d, __u32 want)
{
	struct ca_key key = {};
	struct ca_list_key lk = {};
	struct ca_list *l;
	__u32 *cls, i;
	int pi;

	if (!d)
		return -1;
	pi = d->proto == IPPROTO_UDP_ ? CA_P_UDP : CA_P_TCP;
	if (d->family == AF_INET) {
		key.prefixlen = 8 + 32;
		key.data[0] = CA_TAG_V4;
		__builtin_memcpy(&key.data[1], &d->addr[0], 4);
	} else {
		key.prefixlen = 8 + 128;
		key.data[0] = CA_TAG_V6;
		__builtin_memcpy(&key.data[1], d->addr, 16);
	}
	cls = bpf_map_lookup_elem(&dst_trie, &key);
	if (!cls)
		return -1;
	lk.cls = *cls;
	lk.port = d->port;
	l = bpf_map_lookup_elem(&dst_lists, &lk);
	if (!l) {
		lk.port = 0;
		l = bpf_map_lookup_elem(&dst_lists, &lk);
		if (!l)
			return -1;
	}
	for (i = 0; i < CA_MAX_CAND; i++) {
		__u32 id;
		struct ca_rule *r;

		if (i >= l->n)
			break;
		id = l->rule[i];
		r = bpf_map_lookup_elem(&rules, &id);
		if (!r)
			continue;
		if (!(r->hooks[pi] & want))
			continue;
		if (r->proto && r->proto != d->proto)
			continue;
		if (r->port_lo && (d->port < r->port_lo || d->port > r->port_hi))
			continue;
		if (trigger(r, id))
			return (int)id;
	}
	return -1;
}

/* ---- events ------------------------------------------------------------------------------ */

static __always_inline void emit(const struct dest *d, __u32 pid, __u32 tid, __u32 rule,
				 __u8 call, __u8 what, __s32 err)
{
	struct ca_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&lost_events, 1);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->netns = 0;
	e->pid = pid;
	e->tid = tid;
	e->rule = rule + 1;
	e->err = err;
	e->port = d->port;
	e->call = call;
	e->what = what;
	e->family = d->family;
	e->proto = d->proto;
	e->pad[0] = e->pad[1] = 0;
	__builtin_memcpy(e->addr, d->addr, 16);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void emit_current(const struct dest *d, __u32 rule, __u8 call, __u8 what,
					 __s32 err)
{
	__u32 tgid = 0, tid = 0;

	ids(&tgid, &tid);
	emit(d, tgid, tid, rule, call, what, err);
}

/* ---- the socket-call hooks ----------------------------------------------------------------- */

/* The destination of a sock_addr call; false if it is not TCP or UDP. */
static __always_inline bool sa_dest(struct bpf_sock_addr *ctx, bool v6, struct dest *d)
{
	if (ctx->type == SOCK_STREAM)
		d->proto = IPPROTO_TCP_;
	else if (ctx->type == SOCK_DGRAM)
		d->proto = IPPROTO_UDP_;
	else
		return false;
	d->port = bpf_ntohs((__u16)ctx->user_port);
	if (!v6) {
		d->family = AF_INET;
		d->addr[0] = ctx->user_ip4;
		d->addr[1] = d->addr[2] = d->addr[3] = 0;
		return true;
	}
	d->addr[0] = ctx->user_ip6[0];
	d->addr[1] = ctx->user_ip6[1];
	d->addr[2] = ctx->user_ip6[2];
	d->addr[3] = ctx->user_ip6[3];
	if (d->addr[0] == 0 && d->addr[1] == 0 && d->addr[2] == bpf_htonl(0xffff)) {
		d->family = AF_INET; /* IPv4-mapped: an IPv4 destination */
		d->addr[0] = d->addr[3];
		d->addr[1] = d->addr[2] = d->addr[3] = 0;
	} else {
		d->family = AF_INET6;
	}
	return true;
}

/* Point the call at the loopback address of its own family, port `port` (network order). */
static __always_inline void steer(struct bpf_sock_addr *ctx, bool v6, const struct dest *d,
				  __u16 port)
{
	if (!v6) {
		ctx->user_ip4 = bpf_htonl(0x7f000001);
	} else if (d->family == AF_INET) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = bpf_htonl(0x7f000001);
	} else {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
	}
	ctx->user_port = port;
}

static __always_inline struct ca_sk *sk_get(struct bpf_sock *sk, bool create)
{
	return bpf_sk_storage_get(&sk_store, sk, 0, create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
}

static __always_inline void remember(struct ca_sk *s, const struct dest *d, __u64 netns)
{
	__u32 tgid = 0, tid = 0;

	ids(&tgid, &tid);
	s->pid = tgid;
	s->tid = tid;
	s->family = d->family;
	s->orig_port = bpf_htons(d->port);
	s->netns = netns;
	__builtin_memcpy(s->orig_addr, d->addr, 16);
}

static __always_inline void no_ns_event(__u64 netns, const struct dest *d)
{
	struct ca_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u32 tgid = 0, tid = 0;

	if (!e) {
		__sync_fetch_and_add(&lost_events, 1);
		return;
	}
	ids(&tgid, &tid);
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->netns = netns;
	e->pid = tgid;
	e->tid = tid;
	e->call = CA_CALL_NO_NS;
	e->family = d->family;
	e->proto = d->proto;
	e->port = d->port;
	__builtin_memcpy(e->addr, d->addr, 16);
	bpf_ringbuf_submit(e, 0);
}

/* Port 53 goes to the responder of the caller's network namespace. */
static __always_inline void steer_dns(struct bpf_sock_addr *ctx, bool v6, const struct dest *d)
{
	__u64 netns = bpf_get_netns_cookie(ctx);
	struct ca_ns *ns = bpf_map_lookup_elem(&ns_map, &netns);
	struct ca_sk *s;

	if (!ns || !ns->dns_port) {
		no_ns_event(netns, d);
		return;
	}
	if (d->family == AF_INET ? !ns->dns4 : !ns->dns6)
		return;
	s = sk_get(ctx->sk, true);
	if (!s)
		return;
	remember(s, d, netns);
	s->flags = (s->flags & ~CA_SK_DNS_SEEN) | CA_SK_TARGET | CA_SK_STEERED | CA_SK_DNS;
	steer(ctx, v6, d, ns->dns_port);
}

/* What a bandwidth-limited connection may receive at once: a tenth of a second's worth, and at
 * least two of loopback's 64 KB segments (a smaller bucket would never pass one). */
static __always_inline __u32 burst(__u32 rate)
{
	__u32 b = rate / 10;
	return b > 2 * 65536 ? b : 2 * 65536;
}

/* Policing what a bandwidth-limited connection receives: a token bucket refilled at its rate.
 * A packet beyond it is dropped, and the peer's TCP slows down as for any loss. */
static __always_inline bool within_rate(struct ca_sk *s, __u32 bytes)
{
	__u64 now = bpf_ktime_get_ns(), elapsed = now - s->tokens_ns, tokens;

	if (elapsed > 10 * NSEC_PER_SEC)
		elapsed = 10 * NSEC_PER_SEC;
	tokens = s->tokens + elapsed * s->rate / NSEC_PER_SEC;
	if (tokens > burst(s->rate))
		tokens = burst(s->rate);
	s->tokens_ns = now;
	if (tokens < bytes) {
		s->tokens = (__u32)tokens;
		return false;
	}
	s->tokens = (__u32)(tokens - bytes);
	return true;
}

/* A connection-level fault fired for the connection in s: write what the packet hooks and
 * sockops must do, and log it. */
static __always_inline void mark(struct ca_sk *s, const struct dest *d, int id,
				 const struct ca_rule *r, __u8 call)
{
	__u64 delay;

	s->rule = id + 1;
	s->action = r->action;
	switch (r->action) {
	case CA_ACT_BLACKHOLE:
		if (r->timeout_ms) {
			s->user_timeout_ms = r->timeout_ms;
			if (r->timeout_ns < NSEC_PER_SEC && CONFIG_HZ)
				s->rto_jiffies = (r->timeout_ns * CONFIG_HZ + NSEC_PER_SEC - 1) /
						 NSEC_PER_SEC;
		}
		emit(d, s->pid, s->tid, id, call, CA_EV_NO_ANSWER, r->timeout_ms);
		break;
	case CA_ACT_STALL:
		emit(d, s->pid, s->tid, id, call, CA_EV_STALLED, 0);
		break;
	case CA_ACT_DELAY:
		delay = r->delay_ns;
		if (r->jitter_ns) {
			__u64 span = 2 * r->jitter_ns + 1;
			__u64 rnd = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32();
			delay = delay - r->jitter_ns + rnd % span;
		}
		/* the first SYN is dropped and retransmitted after this timeout */
		if (CONFIG_HZ)
			s->rto_jiffies = (delay * CONFIG_HZ + NSEC_PER_SEC - 1) / NSEC_PER_SEC;
		if (!s->rto_jiffies)
			s->rto_jiffies = 1;
		emit(d, s->pid, s->tid, id, call, CA_EV_DELAYED,
		     CONFIG_HZ ? (__s32)((__u64)s->rto_jiffies * 1000 / CONFIG_HZ) : 0);
		break;
	case CA_ACT_BANDWIDTH:
		s->rate = r->rate;
		s->tokens = burst(r->rate);
		s->tokens_ns = bpf_ktime_get_ns();
		emit(d, s->pid, s->tid, id, call, CA_EV_PACED, (__s32)r->rate);
		break;
	case CA_ACT_LOSS:
		s->loss_ppm = r->loss_ppm;
		emit(d, s->pid, s->tid, id, call, CA_EV_LOSSY, (__s32)r->loss_ppm);
		break;
	}
}

static __always_inline int on_connect(struct bpf_sock_addr *ctx, bool v6)
{
	struct dest d;
	struct ca_sk *s;
	struct ca_rule *r;
	int id;

	if (!is_target() || !sa_dest(ctx, v6, &d))
		return 1;
	id = pick(&d, CA_H_CONNECT);
	/* storage only where something will read it: a connection a rule covers, a datagram
	 * socket (datagram rules judge each packet), a DNS query; creating it for every connect
	 * costs more than the rest of the program (make bench) */
	s = sk_get(ctx->sk, id >= 0 || ctx->type == SOCK_DGRAM_ || (dns_enabled && d.port == 53));
	if (s) {
		/* a new connection on this socket: forget what an earlier one had */
		s->rule = 0;
		s->action = CA_ACT_NONE;
		s->flags = CA_SK_TARGET;
		s->rto_jiffies = 0;
		s->user_timeout_ms = 0;
		s->rate = 0;
		s->loss_ppm = 0;
		remember(s, &d, 0);
	}
	if (id < 0) {
		if (dns_enabled && d.port == 53)
			steer_dns(ctx, v6, &d);
		return 1;
	}
	r = bpf_map_lookup_elem(&rules, &id);
	if (!r)
		return 1;
	switch (r->action) {
	case CA_ACT_REFUSE:
	case CA_ACT_ERROR:
		if (r->action == CA_ACT_REFUSE) {
			/* (TCP only: a UDP refusal shows on the datagrams, CA_H_OUT_CONN.)
			 * A real refusal: loopback port 0, where nothing can listen, answers the
			 * SYN with a reset, so a non-blocking connect sees EINPROGRESS and then
			 * ECONNREFUSED through poll and SO_ERROR, as over a network */
			if (s) {
				s->rule = id + 1;
				s->flags |= CA_SK_STEERED;
			}
			steer(ctx, v6, &d, 0);
			emit_current(&d, id, CA_CALL_CONNECT, CA_EV_ERRNO, r->err);
			return 1;
		}
		bpf_set_retval(-r->err);
		emit_current(&d, id, CA_CALL_CONNECT, CA_EV_ERRNO, r->err);
		return 0;
	default:
		break;
	}
	if (s)
		mark(s, &d, id, r, CA_CALL_CONNECT);
	return 1;
}

SEC("cgroup/connect4")
int ca_connect4(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, false);
}

SEC("cgroup/connect6")
int ca_connect6(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, true);
}

/* UDP sends that carry an address (sendto, sendmsg with msg_name). */
static __always_inline int on_sendmsg(struct bpf_sock_addr *ctx, bool v6)
{
	struct dest d;
	struct ca_sk *s;
	struct ca_rule *r;
	int id;

	if (!is_target() || !sa_dest(ctx, v6, &d))
		return 1;
	s = sk_get(ctx->sk, true);
	if (s && !(s->flags & CA_SK_TARGET)) {
		s->flags |= CA_SK_TARGET;
		remember(s, &d, 0);
	}
	id = pick(&d, CA_H_SENDTO);
	if (id >= 0) {
		r = bpf_map_lookup_elem(&rules, &id);
		if (r) {
			bpf_set_retval(-r->err);
			emit_current(&d, id, CA_CALL_SEND, CA_EV_ERRNO, r->err);
			return 0;
		}
	}
	if (dns_enabled && d.port == 53)
		steer_dns(ctx, v6, &d);
	return 1;
}

SEC("cgroup/sendmsg4")
int ca_sendmsg4(struct bpf_sock_addr *ctx)
{
	return on_sendmsg(ctx, false);
}

SEC("cgroup/sendmsg6")
int ca_sendmsg6(struct bpf_sock_addr *ctx)
{
	return on_sendmsg(ctx, true);
}

/* Replies from the responder appear to come from the server the process asked. */
static __always_inline int restore_peer(struct bpf_sock_addr *ctx, bool v6, bool only_dns)
{
	struct ca_sk *s = sk_get(ctx->sk, false);
	__u64 netns;
	struct ca_ns *ns;

	if (!s || !(s->flags & CA_SK_STEERED))
		return 1;
	if (only_dns) {
		/* an unconnected socket may hear from others too: only the responder's */
		netns = bpf_get_netns_cookie(ctx);
		ns = bpf_map_lookup_elem(&ns_map, &netns);
		if (!ns || !(s->flags & CA_SK_DNS) || ctx->user_port != ns->dns_port)
			return 1;
		if (!v6 && ctx->user_ip4 != bpf_htonl(0x7f000001))
			return 1;
	}
	if (!v6) {
		ctx->user_ip4 = *(__u32 *)&s->orig_addr[0];
	} else if (s->family == AF_INET) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = *(__u32 *)&s->orig_addr[0];
	} else {
		ctx->user_ip6[0] = *(__u32 *)&s->orig_addr[0];
		ctx->user_ip6[1] = *(__u32 *)&s->orig_addr[4];
		ctx->user_ip6[2] = *(__u32 *)&s->orig_addr[8];
		ctx->user_ip6[3] = *(__u32 *)&s->orig_addr[12];
	}
	ctx->user_port = s->orig_port;
	return 1;
}

SEC("cgroup/recvmsg4")
int ca_recvmsg4(struct bpf_sock_addr *ctx)
{
	return restore_peer(ctx, false, true);
}

SEC("cgroup/recvmsg6")
int ca_recvmsg6(struct bpf_sock_addr *ctx)
{
	return restore_peer(ctx, true, true);
}

SEC("cgroup/getpeername4")
int ca_getpeername4(struct bpf_sock_addr *ctx)
{
	return restore_peer(ctx, false, false);
}

SEC("cgroup/getpeername6")
int ca_getpeername6(struct bpf_sock_addr *ctx)
{
	return restore_peer(ctx, true, false);
}

/* ---- sockops: timers and pacing of marked connections ------------------------------------ */

SEC("sockops")
int ca_sockops(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct ca_sk *s;
	int v;

	if (!sk)
		return 1;
	if (skops->op != BPF_SOCK_OPS_TIMEOUT_INIT && skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB &&
	    skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	s = sk_get(sk, false);
	if (!s || !s->action)
		return 1;
	if (skops->op == BPF_SOCK_OPS_TIMEOUT_INIT) {
		if (s->rto_jiffies)
			skops->reply = s->rto_jiffies;
		return 1;
	}
	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		/* a blackholed connect got through (its window ended): the time-out was for the
		 * handshake, not for the life of the connection */
		if (s->user_timeout_ms) {
			v = 0;
			bpf_setsockopt(skops, SOL_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
			s->user_timeout_ms = 0;
		}
		return 1;
	}
	if (s->user_timeout_ms) {
		v = (int)s->user_timeout_ms;
		bpf_setsockopt(skops, SOL_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
	}
	if (s->rate) {
		v = (int)s->rate;
		bpf_setsockopt(skops, SOL_SOCKET, SO_MAX_PACING_RATE, &v, sizeof(v));
	}
	return 1;
}

/* ---- connections that existed before the attach ------------------------------------------ */

/* chaos-attach runs this for each TCP connection a target already had, so the same rules,
 * triggers and counters decide for it as for a new one.  It is an XDP program only to be run
 * with BPF_PROG_TEST_RUN, the arguments and results in the "packet": a syscall program would be
 * the natural type, but sleepable programs cannot read an LPM trie.  It is never attached. */
SEC("xdp")
int ca_existing(struct xdp_md *ctx)
{
	struct ca_existing_args *a = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct dest d;
	struct ca_sk s = {};
	struct ca_rule *r;
	int id;

	if ((void *)(a + 1) > end)
		return XDP_ABORTED;
	d.family = a->family;
	d.proto = IPPROTO_TCP_;
	d.port = a->port;
	__builtin_memcpy(d.addr, a->addr, 16);
	a->rule = 0;
	id = pick(&d, CA_H_EXISTING);
	if (id < 0)
		return XDP_PASS;
	r = bpf_map_lookup_elem(&rules, &id);
	if (!r)
		return XDP_PASS;
	s.flags = CA_SK_TARGET;
	s.pid = a->pid;
	s.tid = a->pid;
	s.family = d.family;
	s.orig_port = bpf_htons(d.port);
	__builtin_memcpy(s.orig_addr, d.addr, 16);
	mark(&s, &d, id, r, CA_CALL_ATTACH);
	a->rule = id + 1;
	__builtin_memcpy(&a->sk, &s, sizeof(s));
	return XDP_PASS;
}

/* ---- packets ------------------------------------------------------------------------------ */

struct pkt {
	__u8 family, proto;
	__u16 sport, dport; /* host order */
	__u32 payload;      /* bytes after the transport header */
	__u32 saddr[4], daddr[4];
};

static __always_inline bool parse(struct __sk_buff *skb, struct pkt *p)
{
	__u8 vihl;
	__u32 l4, len = skb->len;

	if (bpf_skb_load_bytes(skb, 0, &vihl, 1))
		return false;
	__builtin_memset(p->saddr, 0, sizeof(p->saddr));
	__builtin_memset(p->daddr, 0, sizeof(p->daddr));
	if (vihl >> 4 == 4) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return false;
		if (ip.frag_off & bpf_htons(0x1fff))
			return false; /* a later fragment: no transport header */
		p->family = AF_INET;
		p->proto = ip.protocol;
		p->saddr[0] = ip.saddr;
		p->daddr[0] = ip.daddr;
		l4 = (__u32)ip.ihl * 4;
	} else if (vihl >> 4 == 6) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return false;
		p->family = AF_INET6;
		p->proto = ip6.nexthdr;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
		l4 = sizeof(ip6);
	} else {
		return false;
	}
	if (p->proto == IPPROTO_TCP_) {
		struct tcphdr th;
		if (bpf_skb_load_bytes(skb, l4, &th, sizeof(th)))
			return false;
		p->sport = bpf_ntohs(th.source);
		p->dport = bpf_ntohs(th.dest);
		l4 += (__u32)th.doff * 4;
	} else if (p->proto == IPPROTO_UDP_) {
		struct udphdr uh;
		if (bpf_skb_load_bytes(skb, l4, &uh, sizeof(uh)))
			return false;
		p->sport = bpf_ntohs(uh.source);
		p->dport = bpf_ntohs(uh.dest);
		l4 += sizeof(uh);
	} else {
		return false;
	}
	p->payload = len > l4 ? len - l4 : 0;
	return true;
}

static __always_inline bool chance(__u32 ppm)
{
	return bpf_get_prandom_u32() % 1000000 < ppm;
}

/* A datagram of a target's UDP socket: the rules on its peer decide. */
static __always_inline int udp_packet(struct __sk_buff *skb, struct bpf_sock *sk, struct ca_sk *s,
				      struct pkt *p, bool out)
{
	struct dest d;
	struct ca_rule *r;
	__u32 want;
	int id;

	d.family = p->family;
	d.proto = IPPROTO_UDP_;
	if (out) {
		d.port = p->dport;
		__builtin_memcpy(d.addr, p->daddr, 16);
		want = CA_H_OUT;
		/* sends with an address met the sendmsg hook; connected ones did not */
		if (sk->dst_port)
			want |= CA_H_OUT_CONN;
	} else {
		d.port = p->sport;
		__builtin_memcpy(d.addr, p->saddr, 16);
		want = CA_H_IN;
	}
	if (d.family == AF_INET6 && d.addr[0] == 0 && d.addr[1] == 0 &&
	    d.addr[2] == bpf_htonl(0xffff)) {
		d.family = AF_INET;
		d.addr[0] = d.addr[3];
		d.addr[3] = d.addr[2] = 0;
	}
	id = pick(&d, want);
	if (id < 0)
		return 1;
	r = bpf_map_lookup_elem(&rules, &id);
	if (!r)
		return 1;
	if (r->action == CA_ACT_LOSS && !chance(r->loss_ppm))
		return 1;
	if (r->action == CA_ACT_LOSS || r->action == CA_ACT_BLACKHOLE) {
		/* lost on the way: out, "drop, congestion" (2) makes the kernel count it and
		 * send() succeed, as a datagram lost in the network would */
		emit(&d, s->pid, s->tid, id, out ? CA_CALL_SEND : CA_CALL_RECV, CA_EV_DROPPED, 0);
		return out ? 2 : 0;
	}
	/* refuse, error on=send on a connected socket: a plain drop, which send() sees as EPERM
	 * (the one errno a packet hook can give) */
	emit(&d, s->pid, s->tid, id, CA_CALL_SEND, CA_EV_DROPPED, 1);
	return 0;
}

/* Tell the responder who sends from this port, and where the query was going. */
static __always_inline void dns_client(struct ca_sk *s, struct bpf_sock *sk, __u8 proto)
{
	struct ca_client_key k = { .netns = s->netns, .sport = bpf_htons((__u16)sk->src_port),
				   .proto = proto };
	struct ca_client c = { .pid = s->pid, .tid = s->tid, .family = s->family,
			       .orig_port = s->orig_port };

	__builtin_memcpy(c.orig_addr, s->orig_addr, 16);
	bpf_map_update_elem(&dns_clients, &k, &c, BPF_ANY);
	s->flags |= CA_SK_DNS_SEEN;
}

static __always_inline int on_packet(struct __sk_buff *skb, bool out)
{
	struct bpf_sock *sk = skb->sk;
	struct ca_sk *s;
	struct ca_rule *r;
	struct pkt p;
	struct dest d;
	__u32 rid;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	s = sk_get(sk, false);
	if (!s || !(s->flags & CA_SK_TARGET))
		return 1;
	if ((s->flags & CA_SK_DNS) && out && !(s->flags & CA_SK_DNS_SEEN))
		dns_client(s, sk, (__u8)sk->protocol);
	if (sk->protocol == IPPROTO_UDP_) {
		/* a socket we pointed elsewhere (DNS, a refused peer) sends where we sent it */
		if (s->flags & CA_SK_STEERED)
			return 1;
		if (!parse(skb, &p) || p.proto != IPPROTO_UDP_)
			return 1;
		return udp_packet(skb, sk, s, &p, out);
	}
	if (sk->protocol != IPPROTO_TCP_)
		return 1;
	if (s->action == CA_ACT_NONE || !s->rule)
		return 1;
	rid = s->rule - 1;
	r = bpf_map_lookup_elem(&rules, &rid);
	if (!r)
		return 1;
	/* the outage ends with the rule's window (for=, flap=): what it held back flows again */
	if (s->action != CA_ACT_DELAY && !window_open(r, bpf_ktime_get_ns()))
		return 1;
	switch (s->action) {
	case CA_ACT_BLACKHOLE:
		return 0;
	case CA_ACT_STALL:
		/* data either way is dropped; the handshake, ACKs and FINs pass */
		if (!parse(skb, &p))
			return 1;
		return p.payload ? 0 : 1;
	case CA_ACT_BANDWIDTH:
		/* sending is paced (sockops); receiving is policed here */
		if (out || !s->rate || !parse(skb, &p) || !p.payload)
			return 1;
		return within_rate(s, p.payload) ? 1 : 0;
	case CA_ACT_DELAY:
		if (out && sk->state == TCP_SYN_SENT_ && !(s->flags & CA_SK_SYN_DROPPED)) {
			s->flags |= CA_SK_SYN_DROPPED;
			return 0;
		}
		return 1;
	case CA_ACT_LOSS:
		if (!(r->hooks[CA_P_TCP] & (out ? CA_H_LOSS_OUT : CA_H_LOSS_IN)))
			return 1;
		if (!chance(s->loss_ppm))
			return 1;
		d.family = s->family;
		d.proto = IPPROTO_TCP_;
		d.port = bpf_ntohs(s->orig_port);
		__builtin_memcpy(d.addr, s->orig_addr, 16);
		emit(&d, s->pid, s->tid, rid, out ? CA_CALL_SEND : CA_CALL_RECV, CA_EV_DROPPED, 0);
		return 0;
	}
	return 1;
}

SEC("cgroup_skb/egress")
int ca_egress(struct __sk_buff *skb)
{
	return on_packet(skb, true);
}

SEC("cgroup_skb/ingress")
int ca_ingress(struct __sk_buff *skb)
{
	return on_packet(skb, false);
}

char LICENSE[] SEC("license") = "GPL";
