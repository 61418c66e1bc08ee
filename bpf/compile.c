/* compile.c -- rules into the tables the kernel side reads (see attach.h for their shape) */
#include "compile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LISTS (4u << 20) /* (class, port) lists: about 300 MB of kernel memory at most */

/* ---- one rule ------------------------------------------------------------------------------ */

static uint8_t proto_num(enum chaos_proto p)
{
	switch (p) {
	case CHAOS_PROTO_TCP:
		return IPPROTO_TCP;
	case CHAOS_PROTO_UDP:
		return IPPROTO_UDP;
	default:
		return 0;
	}
}

void ca_rule_compile(const struct chaos_rule *r, struct ca_rule *out)
{
	uint8_t tcp = 0, udp = 0;

	memset(out, 0, sizeof(*out));
	out->proto = proto_num(r->target.proto);
	out->port_lo = r->target.port_lo;
	out->port_hi = r->target.port_hi;
	out->p_ppm = r->p_ppm;
	out->count = r->count;
	out->skip = r->skip;
	out->start_ns = r->start_ns;
	out->for_ns = r->for_ns;
	out->flap_up_ns = r->flap_up_ns;
	out->flap_down_ns = r->flap_down_ns;
	if (r->set & CHAOS_SET_COUNT)
		out->flags |= CA_RF_COUNT;
	if (r->set & (CHAOS_SET_START | CHAOS_SET_FOR | CHAOS_SET_FLAP))
		out->flags |= CA_RF_WINDOW;
	if (r->set & CHAOS_SET_FOR)
		out->flags |= CA_RF_FOR;
	if (r->set & CHAOS_SET_FLAP)
		out->flags |= CA_RF_FLAP;

	switch (r->action) {
	case CHAOS_ACT_REFUSE:
		out->action = CA_ACT_REFUSE;
		out->err = ECONNREFUSED;
		tcp = CA_H_CONNECT;
		/* a refused UDP peer shows on the datagrams: sends with an address fail, those
		 * of a connected socket are dropped */
		udp = CA_H_SENDTO | CA_H_OUT_CONN;
		break;
	case CHAOS_ACT_ERROR:
		out->action = CA_ACT_ERROR;
		out->err = r->err;
		if (r->on & CHAOS_ON_CONNECT) {
			tcp |= CA_H_CONNECT;
			udp |= CA_H_CONNECT;
		}
		if (r->on & CHAOS_ON_SEND)
			udp |= CA_H_SENDTO | CA_H_OUT_CONN;
		break;
	case CHAOS_ACT_BLACKHOLE:
		out->action = CA_ACT_BLACKHOLE;
		out->timeout_ns = r->timeout_ns;
		if (r->set & CHAOS_SET_TIMEOUT)
			out->timeout_ms = (uint32_t)((r->timeout_ns + 999999) / 1000000);
		tcp = CA_H_CONNECT | CA_H_EXISTING;
		udp = CA_H_OUT | CA_H_IN;
		break;
	case CHAOS_ACT_STALL:
		out->action = CA_ACT_STALL;
		tcp = CA_H_CONNECT | CA_H_EXISTING;
		break;
	case CHAOS_ACT_DELAY:
		out->action = CA_ACT_DELAY;
		out->delay_ns = r->delay_ns;
		out->jitter_ns = r->jitter_ns;
		tcp = CA_H_CONNECT;
		break;
	case CHAOS_ACT_BANDWIDTH:
		out->action = CA_ACT_BANDWIDTH;
		out->rate = r->rate_bps >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)r->rate_bps;
		tcp = CA_H_CONNECT | CA_H_EXISTING;
		break;
	case CHAOS_ACT_LOSS:
		out->action = CA_ACT_LOSS;
		out->loss_ppm = r->loss_ppm;
		tcp = CA_H_CONNECT | CA_H_EXISTING;
		if (r->on & CHAOS_ON_SEND) {
			tcp |= CA_H_LOSS_OUT;
			udp |= CA_H_OUT;
		}
		if (r->on & CHAOS_ON_RECV) {
			tcp |= CA_H_LOSS_IN;
			udp |= CA_H_IN;
		}
		break;
	default: /* dns= (the responder), and what chaos_bpf_supported refuses */
		out->action = CA_ACT_NONE;
		break;
	}
	if (r->target.proto == CHAOS_PROTO_UDP)
		tcp = 0;
	if (r->target.proto == CHAOS_PROTO_TCP)
		udp = 0;
	out->hooks[CA_P_TCP] = tcp;
	out->hooks[CA_P_UDP] = udp;
}

void ca_rules_needs(const struct chaos_rule *rules, size_t n, struct ca_needs *needs)
{
	memset(needs, 0, sizeof(*needs));
	for (size_t i = 0; i < n; i++) {
		const struct chaos_rule *r = &rules[i];
		struct ca_rule k;

		if (r->action == CHAOS_ACT_DNS) {
			needs->dns = needs->connect = needs->sendmsg = needs->packets = true;
			continue;
		}
		ca_rule_compile(r, &k);
		if ((k.hooks[CA_P_TCP] | k.hooks[CA_P_UDP]) & CA_H_CONNECT)
			needs->connect = true;
		if (k.hooks[CA_P_UDP] & CA_H_SENDTO)
			needs->sendmsg = true;
		if (k.hooks[CA_P_UDP] & (CA_H_OUT | CA_H_IN | CA_H_OUT_CONN)) {
			/* datagram rules act on sockets the call hooks tagged as a target's */
			needs->packets = needs->connect = needs->sendmsg = true;
		}
		switch (k.action) {
		case CA_ACT_BLACKHOLE:
			needs->packets = true;
			if (k.timeout_ms)
				needs->sockops = true;
			break;
		case CA_ACT_STALL:
		case CA_ACT_LOSS:
			needs->packets = true;
			break;
		case CA_ACT_DELAY:
			needs->packets = needs->sockops = true;
			break;
		case CA_ACT_BANDWIDTH:
			needs->sockops = needs->packets = true; /* paced out, policed in */
			break;
		}
	}
}

/* ---- keys ---------------------------------------------------------------------------------- */

void ca_key_make(struct ca_key *k, int family, const uint8_t *addr, unsigned prefix)
{
	unsigned alen = family == AF_INET ? 4 : 16;

	memset(k, 0, sizeof(*k));
	if (family != AF_INET && family != AF_INET6)
		return; /* prefix 0: every address of every family */
	if (prefix > alen * 8)
		prefix = alen * 8;
	k->data[0] = family == AF_INET ? CA_TAG_V4 : CA_TAG_V6;
	memcpy(&k->data[1], addr, alen);
	for (unsigned bit = prefix; bit < alen * 8; bit++)
		k->data[1 + bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	k->prefixlen = 8 + prefix;
}

void ca_key_format(const struct ca_key *k, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int family = k->data[0] == CA_TAG_V4 ? AF_INET : AF_INET6;
	unsigned full = family == AF_INET ? 32 : 128;

	if (k->prefixlen == 0) {
		snprintf(buf, len, "*");
		return;
	}
	inet_ntop(family, &k->data[1], a, sizeof(a));
	if (k->prefixlen - 8 == full)
		snprintf(buf, len, family == AF_INET6 ? "[%s]" : "%s", a);
	else
		snprintf(buf, len, family == AF_INET6 ? "[%s/%u]" : "%s/%u", a, k->prefixlen - 8);
}

/* A key cut to its first len bits (len counts the tag byte). */
static void key_truncate(const struct ca_key *in, unsigned len, struct ca_key *out)
{
	memset(out, 0, sizeof(*out));
	out->prefixlen = len;
	for (unsigned bit = 0; bit < len; bit++)
		if (in->data[bit / 8] & (0x80 >> (bit % 8)))
			out->data[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

static int key_cmp(const struct ca_key *a, const struct ca_key *b)
{
	if (a->prefixlen != b->prefixlen)
		return a->prefixlen < b->prefixlen ? -1 : 1;
	return memcmp(a->data, b->data, sizeof(a->data));
}

/* ---- the tables ------------------------------------------------------------------------------ */

struct item {
	struct ca_key key;
	uint32_t rule;
};

static int item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c = key_cmp(&a->key, &b->key);
	if (c)
		return c;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

static int u32_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	return a < b ? -1 : a > b;
}

/* Distinct prefixes, found by key (open addressing). */
struct pset {
	size_t cap;
	uint32_t *slot; /* prefix index + 1; 0: empty */
	const struct item *items;
	const size_t *first; /* items[first[p]] is prefix p's first item */
};

static uint64_t key_hash(const struct ca_key *k)
{
	uint64_t h = 1469598103934665603ULL ^ k->prefixlen;
	for (size_t i = 0; i < sizeof(k->data); i++)
		h = (h ^ k->data[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static long pset_find(const struct pset *s, const struct ca_key *k)
{
	for (size_t i = key_hash(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		uint32_t v = s->slot[i];
		if (!v)
			return -1;
		if (key_cmp(&s->items[s->first[v - 1]].key, k) == 0)
			return (long)v - 1;
	}
}

static void pset_add(struct pset *s, const struct ca_key *k, uint32_t p)
{
	size_t i = key_hash(k) & (s->cap - 1);
	while (s->slot[i])
		i = (i + 1) & (s->cap - 1);
	s->slot[i] = p + 1;
}

struct build {
	struct ca_tables *t;
	size_t cap_lists;
	char *err;
	size_t errlen;
};

static int add_list(struct build *b, uint32_t cls, uint32_t port, const uint32_t *ids, size_t n,
		    const struct ca_key *where)
{
	char a[INET6_ADDRSTRLEN + 8], which[64];
	struct ca_tables *t = b->t;

	if (n > CA_MAX_CAND) {
		size_t used = 0;
		which[0] = '\0';
		for (size_t i = 0; i < n && i < 4; i++)
			used += (size_t)snprintf(which + used, sizeof(which) - used, "%s%u",
						 i ? ", " : "", ids[i] + 1);
		ca_key_format(where, a, sizeof(a));
		if (port)
			snprintf(b->err, b->errlen,
				 "%zu rules (#%s, ...) apply to %s port %u: chaos-attach tries at "
				 "most %d for one destination",
				 n, which, a, port, CA_MAX_CAND);
		else
			snprintf(b->err, b->errlen,
				 "%zu rules (#%s, ...) on any port or a port range apply to %s: "
				 "chaos-attach tries at most %d for one destination",
				 n, which, a, CA_MAX_CAND);
		return -E2BIG;
	}
	if (t->nlists == b->cap_lists) {
		if (b->cap_lists >= MAX_LISTS) {
			snprintf(b->err, b->errlen,
				 "the rules make more than %u (address, port) combinations",
				 MAX_LISTS);
			return -E2BIG;
		}
		size_t cap = b->cap_lists ? b->cap_lists * 2 : 1024;
		struct ca_list_key *k = realloc(t->list_keys, cap * sizeof(*k));
		if (!k)
			goto nomem;
		t->list_keys = k;
		struct ca_list *l = realloc(t->lists, cap * sizeof(*l));
		if (!l)
			goto nomem;
		t->lists = l;
		b->cap_lists = cap;
	}
	t->list_keys[t->nlists] = (struct ca_list_key){ .cls = cls, .port = port };
	memset(&t->lists[t->nlists], 0, sizeof(t->lists[0]));
	t->lists[t->nlists].n = (uint32_t)n;
	memcpy(t->lists[t->nlists].rule, ids, n * sizeof(ids[0]));
	t->nlists++;
	return 0;
nomem:
	snprintf(b->err, b->errlen, "out of memory");
	return -ENOMEM;
}

static bool exact_port(const struct chaos_rule *r)
{
	return r->target.port_lo && r->target.port_lo == r->target.port_hi;
}

/* The lists of one class: set[] holds its rules in order. */
static int class_lists(struct build *b, const struct chaos_rule *rules, uint32_t cls,
		       const uint32_t *set, size_t n, const struct ca_key *where, uint32_t *ports,
		       uint32_t *tmp)
{
	size_t np = 0, m = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct chaos_rule *r = &rules[set[i]];
		if (exact_port(r))
			ports[np++] = r->target.port_lo;
		else
			tmp[m++] = set[i];
	}
	if (m) {
		rc = add_list(b, cls, 0, tmp, m, where);
		if (rc < 0)
			return rc;
	}
	qsort(ports, np, sizeof(ports[0]), u32_cmp);
	for (size_t pi = 0; pi < np; pi++) {
		if (pi && ports[pi] == ports[pi - 1])
			continue;
		m = 0;
		for (size_t i = 0; i < n; i++) {
			const struct chaos_target *t = &rules[set[i]].target;
			if (!t->port_lo || (ports[pi] >= t->port_lo && ports[pi] <= t->port_hi))
				tmp[m++] = set[i];
		}
		rc = add_list(b, cls, ports[pi], tmp, m, where);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ca_tables_build(const struct chaos_rule *rules, const struct ca_resolved *res, size_t n,
		    uint32_t cls_base, struct ca_tables *out, char *err, size_t errlen)
{
	struct item *items = NULL;
	size_t nitems = 0, cap = 0, np = 0, *first = NULL;
	struct pset ps = { 0 };
	uint32_t *set = NULL, *ports = NULL, *tmp = NULL;
	size_t set_cap = 0;
	bool used[161] = { false };
	struct build b = { .t = out, .err = err, .errlen = errlen };
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const struct chaos_rule *r = &rules[i];
		size_t k = r->target.kind == CHAOS_HOST_NAME ? (res ? res[i].n : 0) : 1;

		if (r->action == CHAOS_ACT_DNS)
			continue;
		if (nitems + k > cap) {
			size_t nc = cap ? cap * 2 : 256;
			while (nc < nitems + k)
				nc *= 2;
			struct item *ni = realloc(items, nc * sizeof(*ni));
			if (!ni)
				goto nomem;
			items = ni;
			cap = nc;
		}
		for (size_t j = 0; j < k; j++) {
			struct item *it = &items[nitems++];
			it->rule = (uint32_t)i;
			switch (r->target.kind) {
			case CHAOS_HOST_ANY:
				ca_key_make(&it->key, AF_UNSPEC, NULL, 0);
				break;
			case CHAOS_HOST_ADDR:
				ca_key_make(&it->key, r->target.family, r->target.addr,
					    r->target.prefix);
				break;
			case CHAOS_HOST_NAME:
				ca_key_make(&it->key, res[i].addrs[j].family, res[i].addrs[j].addr,
					    res[i].addrs[j].family == AF_INET ? 32 : 128);
				break;
			}
		}
	}
	if (!nitems)
		goto done;
	qsort(items, nitems, sizeof(*items), item_cmp);

	/* distinct prefixes, and where each one's rules start */
	first = malloc((nitems + 1) * sizeof(*first));
	if (!first)
		goto nomem;
	for (size_t i = 0; i < nitems; i++)
		if (i == 0 || key_cmp(&items[i].key, &items[i - 1].key))
			first[np++] = i;
	first[np] = nitems;
	for (ps.cap = 16; ps.cap < np * 2; ps.cap *= 2)
		;
	ps.slot = calloc(ps.cap, sizeof(*ps.slot));
	ps.items = items;
	ps.first = first;
	out->keys = malloc(np * sizeof(*out->keys));
	out->cls = malloc(np * sizeof(*out->cls));
	ports = malloc((nitems + 1) * sizeof(*ports));
	tmp = malloc((nitems + 1) * sizeof(*tmp));
	if (!ps.slot || !out->keys || !out->cls || !ports || !tmp)
		goto nomem;
	for (size_t p = 0; p < np; p++) {
		pset_add(&ps, &items[first[p]].key, (uint32_t)p);
		used[items[first[p]].key.prefixlen] = true;
	}

	for (size_t p = 0; p < np; p++) {
		const struct ca_key *key = &items[first[p]].key;
		size_t m = 0;

		/* every rule whose block holds this one: its own, and its ancestors' */
		for (unsigned len = 0; len <= key->prefixlen; len++) {
			struct ca_key cut;
			long q;
			if (!used[len])
				continue;
			key_truncate(key, len, &cut);
			q = pset_find(&ps, &cut);
			if (q < 0)
				continue;
			size_t from = first[q], to = first[q + 1];
			if (m + (to - from) > set_cap) {
				size_t nc = set_cap ? set_cap * 2 : 64;
				while (nc < m + (to - from))
					nc *= 2;
				uint32_t *ns = realloc(set, nc * sizeof(*ns));
				if (!ns)
					goto nomem;
				set = ns;
				set_cap = nc;
			}
			for (size_t i = from; i < to; i++)
				set[m++] = items[i].rule;
		}
		qsort(set, m, sizeof(set[0]), u32_cmp);
		size_t u = 0;
		for (size_t i = 0; i < m; i++)
			if (i == 0 || set[i] != set[u - 1])
				set[u++] = set[i];
		out->keys[p] = *key;
		out->cls[p] = cls_base + (uint32_t)p;
		if (u > nitems) /* cannot happen: a rule is in the set once */
			u = nitems;
		rc = class_lists(&b, rules, cls_base + (uint32_t)p, set, u, key, ports, tmp);
		if (rc < 0)
			goto fail;
	}
	out->nkeys = np;
done:
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	ca_tables_free(out);
out:
	free(items);
	free(first);
	free(ps.slot);
	free(set);
	free(ports);
	free(tmp);
	return rc;
}

void ca_tables_free(struct ca_tables *t)
{
	free(t->keys);
	free(t->cls);
	free(t->list_keys);
	free(t->lists);
	memset(t, 0, sizeof(*t));
}
