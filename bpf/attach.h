/* attach.h -- types shared by the eBPF programs (attach.bpf.c) and chaos-attach, their loader
 *
 * How a destination finds its rules, whatever their number (100,000 load in well under a second):
 *
 *   ca_key (family tag + address)  --dst_trie (LPM)-->  class  --dst_lists {class, port}-->  list
 *
 * Every distinct address block the rules name (host-name rules contribute the addresses the name
 * resolved to; `*` is the empty prefix) is a class.  Its lists hold, in rule order, every rule
 * whose block contains the class's block, so the longest-prefix match alone finds all the rules
 * that cover an address.  Per class there is one list for each port some rule names exactly, and
 * one under port 0 for the rest (rules on any port or on a port range).  The kernel tries at most
 * CA_MAX_CAND rules for one call; chaos-attach refuses rule sets that need more.
 */
#ifndef CHAOS_BPF_ATTACH_H
#define CHAOS_BPF_ATTACH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>

#endif

#define CA_MAX_CAND 16 /* rules tried for one destination and port, in order */

/* ca_key.data[0]: which family the address is; the prefix length counts these 8 bits. */
#define CA_TAG_V4 4
#define CA_TAG_V6 6

struct ca_key {
	__u32 prefixlen; /* bits of data that must match: 0 (any), 8 + address bits */
	__u8 data[20];   /* tag, then the address (IPv4 in data[1..4]); the rest is 0 */
};

struct ca_list_key {
	__u32 cls;  /* class from dst_trie */
	__u32 port; /* host order; 0: rules on any port or a range */
};

struct ca_list {
	__u32 n;
	__u32 rule[CA_MAX_CAND]; /* indexes into the rules map, in rule order */
};

/* Actions as the kernel carries them out (dns= rules never reach the kernel). */
enum ca_action {
	CA_ACT_NONE = 0,
	CA_ACT_REFUSE,
	CA_ACT_ERROR,
	CA_ACT_BLACKHOLE,
	CA_ACT_STALL,
	CA_ACT_DELAY,
	CA_ACT_BANDWIDTH,
	CA_ACT_LOSS,
};

/* Where a rule acts, for each protocol (ca_rule.hooks[CA_P_TCP], [CA_P_UDP]). */
enum {
	CA_H_CONNECT = 1u << 0,   /* connect(): fail it, or mark the connection / socket */
	CA_H_SENDTO = 1u << 1,    /* UDP send with an address: fail it with err */
	CA_H_OUT_CONN = 1u << 2,  /* datagram out of a connected UDP socket: drop (EPERM) */
	CA_H_OUT = 1u << 3,       /* datagram out: drop (loss, blackhole) */
	CA_H_IN = 1u << 4,        /* datagram in: drop (loss, blackhole) */
	CA_H_LOSS_OUT = 1u << 5,  /* TCP loss: drop packets out */
	CA_H_LOSS_IN = 1u << 6,   /* TCP loss: drop packets in */
	CA_H_EXISTING = 1u << 7,  /* TCP connection open before the attach: mark it */
};
#define CA_P_TCP 0
#define CA_P_UDP 1

/* ca_rule.flags */
enum {
	CA_RF_COUNT = 1u << 0,  /* count= was given */
	CA_RF_WINDOW = 1u << 1, /* start=, for= or flap= was given */
	CA_RF_FOR = 1u << 2,
	CA_RF_FLAP = 1u << 3,
};

struct ca_rule {
	__u8 action;           /* CA_ACT_* */
	__u8 proto;            /* 0 (any), IPPROTO_TCP or IPPROTO_UDP */
	__u8 hooks[2];         /* CA_H_* for TCP and for UDP sockets */
	__u16 port_lo, port_hi;/* host order, inclusive; both 0: any port */
	__u16 flags;           /* CA_RF_* */
	__u16 pad;
	__s32 err;             /* refuse (ECONNREFUSED), error= */
	__u32 p_ppm;           /* p=, parts per million */
	__u32 loss_ppm;        /* loss= */
	__u32 rate;            /* bandwidth=, bytes per second */
	__u32 timeout_ms;      /* blackhole timeout= (TCP_USER_TIMEOUT) */
	__u64 delay_ns, jitter_ns, timeout_ns;
	__u64 count, skip;     /* triggers, as in struct chaos_rule */
	__u64 start_ns, for_ns, flap_up_ns, flap_down_ns;
};

/* Per-rule counters, as struct chaos_rule_state, plus the count= tickets handed out. */
struct ca_state {
	__u64 matched, eligible, tickets, injected;
};

/* ca_sk.flags */
enum {
	CA_SK_TARGET = 1u << 0,      /* a target process connected or sent on it */
	CA_SK_SYN_DROPPED = 1u << 1, /* delay: the first SYN is gone */
	CA_SK_STEERED = 1u << 2,     /* destination rewritten (DNS, or a refused TCP peer) */
	CA_SK_DNS = 1u << 3,         /* steered to the DNS responder */
	CA_SK_DNS_SEEN = 1u << 4,    /* its client port is in dns_clients */
};

/* Socket storage: what happens to a connection, decided at connect (or at attach). */
struct ca_sk {
	__u32 rule;         /* index of the rule acting on the connection + 1; 0: none */
	__u8 action;        /* CA_ACT_* for the connection's packets */
	__u8 flags;         /* CA_SK_* */
	__u8 family;        /* AF_INET or AF_INET6 of orig_addr (IPv4-mapped as AF_INET) */
	__u8 pad;
	__u32 pid, tid;     /* who connected: packet hooks cannot tell reliably */
	__u32 loss_ppm;
	__u32 rto_jiffies;  /* reply to BPF_SOCK_OPS_TIMEOUT_INIT; 0: leave it */
	__u32 user_timeout_ms;
	__u32 rate;
	__u16 orig_port;    /* network order: the destination as the process asked for it */
	__u16 pad2;
	__u32 tokens;       /* bandwidth: bytes the connection may still receive now */
	__u64 netns;        /* netns cookie, for the DNS responder to find the client */
	__u8 orig_addr[16];
	__u64 tokens_ns;    /* when tokens was last topped up (CLOCK_MONOTONIC) */
};

/* One per network namespace the targets live in: where to steer. */
struct ca_ns {
	__u16 dns_port;  /* network order; 0: no responder there */
	__u8 dns4, dns6; /* responder listens on 127.0.0.1 / ::1 */
};

/* Who sent a query the responder received, and where it was going. */
struct ca_client_key {
	__u64 netns;
	__u16 sport; /* network order */
	__u8 proto;  /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pad1;   /* 0 */
	__u32 pad;
};

struct ca_client {
	__u32 pid, tid;
	__u8 family; /* of orig_addr */
	__u8 pad;
	__u16 orig_port; /* network order */
	__u8 orig_addr[16];
};

/* Calls and happenings in the event log. */
enum ca_call {
	CA_CALL_CONNECT = 1,
	CA_CALL_SEND,    /* a UDP send, or a packet dropped on its way out */
	CA_CALL_RECV,    /* a packet dropped on its way in */
	CA_CALL_NO_NS,   /* port 53 traffic from a network namespace without a responder */
	CA_CALL_ATTACH,  /* a connection open before the attach */
};

enum ca_what {
	CA_EV_ERRNO = 1,   /* the call failed with err */
	CA_EV_DROPPED,     /* a packet was dropped (loss, blackhole, UDP error on connected) */
	CA_EV_NO_ANSWER,   /* blackhole: the SYN goes nowhere */
	CA_EV_STALLED,     /* stall */
	CA_EV_DELAYED,     /* delay: err holds the delay in milliseconds */
	CA_EV_PACED,       /* bandwidth */
	CA_EV_LOSSY,       /* loss: the connection's packets are dropped at random */
};

struct ca_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u64 netns; /* CA_CALL_NO_NS */
	__u32 pid, tid;
	__u32 rule; /* index + 1 */
	__s32 err;
	__u16 port; /* host order */
	__u8 call;  /* CA_CALL_* */
	__u8 what;  /* CA_EV_* */
	__u8 family;
	__u8 proto;
	__u8 pad[2];
	__u8 addr[16];
};

/* In and out of the ca_existing program. */
struct ca_existing_args {
	__u8 family; /* AF_INET or AF_INET6 of the peer (IPv4-mapped as AF_INET) */
	__u8 pad;
	__u16 port;  /* host order */
	__u32 pid;
	__u8 addr[16];
	__u32 rule;  /* out: the rule that fired + 1, or 0 */
	__u32 pad2;
	struct ca_sk sk; /* out: the socket storage to give the connection */
};

#endif
