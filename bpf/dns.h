/* dns.h -- the DNS responder chaos-attach steers port 53 to: faults for dns= rules, and the
 * real answer, from the server the process asked, for every other name
 *
 * One responder per network namespace the targets live in, listening on 127.0.0.1 and ::1 (UDP
 * and TCP) on one port.  A query whose name a dns= rule covers (and whose rule fires) gets
 * NXDOMAIN, SERVFAIL, no answer at all, or the rule's address (an A or AAAA record, TTL 0; a
 * query for the other family gets an empty NOERROR answer).  Every other query is forwarded,
 * byte for byte, to the server the process sent it to (the kernel side records that), or to the
 * first nameserver of the namespace's resolv.conf when it is not known, and the answer relayed
 * back unchanged.  UDP runs in the caller's event loop; each TCP connection gets a thread.
 */
#ifndef CHAOS_BPF_DNS_H
#define CHAOS_BPF_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attach.h"
#include "config.h"

/* One injected DNS fault, for the log. */
struct dns_fault {
	uint32_t rule_id; /* index + 1 */
	int pid, tid;     /* 0 when the kernel did not record the client */
	const char *name;
	const char *result; /* "NXDOMAIN", "SERVFAIL", "no answer", "192.0.2.1", "no AAAA record" */
};

struct dns_config {
	const struct chaos_rule_list *rules; /* dns= rules among them are served */
	struct chaos_rule_state *states;     /* one per rule, shared with nothing else */
	uint64_t seed, armed_ns;
	int clients_fd; /* the dns_clients map; -1: always forward to resolv.conf's server */
	void (*log)(void *arg, const struct dns_fault *f);
	void *arg;
};

struct dns_server;

struct dns_server *dns_new(const struct dns_config *c, char *err, size_t errlen);

/* When the rules arrived (CLOCK_MONOTONIC), for start=, for= and flap=. */
void dns_set_armed(struct dns_server *s, uint64_t armed_ns);

/* Stop; true if nothing runs on (a TCP thread still busy keeps the server, and the rules). */
bool dns_free(struct dns_server *s);

/* An fd to poll for input (an epoll fd); call dns_poll when it is readable. */
int dns_fd(const struct dns_server *s);
void dns_poll(struct dns_server *s);

/* Set up in the network namespace of pid (0: ours), unless done already.  *cookie is the
 * namespace's cookie (SO_NETNS_COOKIE) and *ns what the kernel side needs for it.  Returns 1 if
 * it was new, 0 if known, or a negative errno with a message. */
int dns_add_ns(struct dns_server *s, pid_t pid, uint64_t *cookie, struct ca_ns *ns, char *err,
	       size_t errlen);

/* ---- the wire format (exposed for the unit tests) ------------------------------------------ */

#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3

/* The question of a query: name (lower case, no trailing dot), type, and where the question
 * ends.  Returns 0, or -EINVAL if msg is not a query with exactly one plain question. */
int dns_parse_query(const uint8_t *msg, size_t len, char *name, size_t namelen, uint16_t *qtype,
		    size_t *qend);

/* The reply to a query (its header and question, msg[0..qend)): rcode, and an answer record
 * when addr is given (family AF_INET: an A record; AF_INET6: AAAA).  Returns its length. */
size_t dns_build_reply(const uint8_t *msg, size_t qend, int rcode, int family, const uint8_t *addr,
		       uint8_t *out, size_t outlen);

/* The address a reverse-lookup name stands for: "7.2.0.192.in-addr.arpa", or 32 nibbles and
 * "ip6.arpa".  Returns 0 with *family and addr (16 bytes, IPv4 in the first 4), or -EINVAL. */
int dns_ptr_addr(const char *name, int *family, uint8_t *addr);

/* The reply to a query with one PTR record naming target (TTL 0).  Returns its length, or 0. */
size_t dns_build_ptr(const uint8_t *msg, size_t qend, const char *target, uint8_t *out,
		     size_t outlen);

#endif
