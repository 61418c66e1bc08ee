/* compile.h -- rules into the tables the kernel side reads (see attach.h for their shape)
 *
 * Pure computation: no kernel, no logging.  Functions return 0 or a negative errno with a
 * message in the caller's buffer.
 */
#ifndef CHAOS_BPF_COMPILE_H
#define CHAOS_BPF_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "attach.h"
#include "rule.h"

/* An address a host-name rule resolved to. */
struct ca_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

/* The addresses each rule's host name resolved to (only CHAOS_HOST_NAME rules have any). */
struct ca_resolved {
	size_t n;
	struct ca_addr *addrs;
};

struct ca_tables {
	size_t nkeys; /* dst_trie */
	struct ca_key *keys;
	uint32_t *cls;
	size_t nlists; /* dst_lists */
	struct ca_list_key *list_keys;
	struct ca_list *lists;
};

/* The kernel's view of one rule.  dns= rules have action CA_ACT_NONE: the responder serves them. */
void ca_rule_compile(const struct chaos_rule *r, struct ca_rule *out);

/* Does any rule need this kernel machinery? */
struct ca_needs {
	bool connect, sendmsg, packets, sockops, dns;
};
void ca_rules_needs(const struct chaos_rule *rules, size_t n, struct ca_needs *needs);

/* Build the trie and lists for rules[0..n) (res[i] for host-name rules), with class numbers
 * starting at cls_base.  texts name the rules in errors.  Returns 0, -E2BIG with a message
 * when one destination needs more than CA_MAX_CAND rules, or -ENOMEM. */
int ca_tables_build(const struct chaos_rule *rules, const struct ca_resolved *res, size_t n,
		    uint32_t cls_base, struct ca_tables *out, char *err, size_t errlen);

void ca_tables_free(struct ca_tables *t);

/* The trie key for an address block (prefix in address bits; family AF_UNSPEC: everything). */
void ca_key_make(struct ca_key *k, int family, const uint8_t *addr, unsigned prefix);

/* "10.0.0.0/8", "[fd00::]/8", "*" for messages. */
void ca_key_format(const struct ca_key *k, char *buf, size_t len);

#endif
