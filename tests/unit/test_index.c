/* test_index.c -- the rule index gives every rule that covers a destination, once, in order
 *
 * Random rule sets over a small world of addresses, prefixes, ports and names (so that rules
 * overlap a lot) are queried with random destinations and lookups; the rules the index yields
 * that really cover the destination must be exactly those a walk over every rule finds, in
 * the same order, and what it yields must be strictly ascending.
 */
#include "unit.h"

#include <arpa/inet.h>

#include "index.h"
#include "rule.h"

UNIT_ROWS_DEFINE;

static uint64_t rng = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const hosts[] = {
	"10.0.0.1", "10.0.0.2", "10.0.1.7", "10.1.0.1", "127.0.0.1", "192.168.1.1",
	"[::1]", "[fd00::1]", "[fd00::2:1]", "[fd00:1::1]",
};
static const char *const nets[] = {
	"10.0.0.0/8", "10.0.0.0/24", "10.0.0.0/16", "10.0.0.0/31", "0.0.0.0/0", "10.0.0.1/32",
	"192.168.0.0/16", "[fd00::/8]", "[fd00::/64]", "[::/0]", "[fd00::1/128]", "[fd00::/16]",
};
static const char *const names[] = {
	"db.internal", "cache.internal", "a.b.internal", "api.example", "API.example",
	"x.api.example", "redis", "internal", "db.internal.evil",
};
static const char *const patterns[] = {
	"db.internal", "cache.internal", "*.internal", "*.b.internal", "*.example", "api.example",
	"redis", "*", "api*", "*internal", "db.*", "*.*.internal", "*.internal.",
};
static const char *const ports[] = { "", ":5432", ":1-1000", ":80", ":6379" };

static const struct chaos_target *rule_target(const void *ctx, size_t i)
{
	return &((const struct chaos_rule *)ctx)[i].target;
}

static void random_rule(struct chaos_rule *r)
{
	char text[256];
	const char *proto = rnd(4) == 0 ? "tcp:" : rnd(4) == 0 ? "udp:" : "";
	const char *port = ports[rnd(ARRAY_SIZE(ports))];
	switch (rnd(3)) {
	case 0:
		snprintf(text, sizeof(text), "%s%s%s refuse", proto, hosts[rnd(ARRAY_SIZE(hosts))],
			 port);
		break;
	case 1:
		snprintf(text, sizeof(text), "%s%s%s refuse", proto, nets[rnd(ARRAY_SIZE(nets))],
			 port);
		break;
	default:
		snprintf(text, sizeof(text), "%s%s%s refuse", proto,
			 patterns[rnd(ARRAY_SIZE(patterns))], port);
		break;
	}
	char err[256];
	if (chaos_rule_parse(text, r, err, sizeof(err)) < 0)
		fail_msg("rule '%s': %s", text, err);
}

static void random_dest(struct chaos_dest *d, const char **store)
{
	static const char *const addrs4[] = { "10.0.0.1", "10.0.0.0", "10.0.1.7", "10.9.9.9",
					      "192.168.1.1", "127.0.0.1", "8.8.8.8" };
	static const char *const addrs6[] = { "::1", "fd00::1", "fd00::2:1", "fd00:1::1", "fe80::1" };
	memset(d, 0, sizeof(*d));
	d->proto = rnd(2) ? CHAOS_PROTO_TCP : CHAOS_PROTO_UDP;
	d->port = (uint16_t)(rnd(3) == 0 ? 5432 : rnd(2) ? 80 : 6379);
	if (rnd(2)) {
		d->family = AF_INET;
		inet_pton(AF_INET, addrs4[rnd(ARRAY_SIZE(addrs4))], d->addr);
	} else {
		d->family = AF_INET6;
		inet_pton(AF_INET6, addrs6[rnd(ARRAY_SIZE(addrs6))], d->addr);
	}
	d->nnames = rnd(4);
	for (size_t i = 0; i < d->nnames; i++)
		store[i] = rnd(8) ? names[rnd(ARRAY_SIZE(names))] : NULL;
	d->names = store;
}

/* Compare the index's answer with the walk's, for one query. */
static void compare(const struct chaos_rule *rules, size_t n, const struct chaos_index *ix,
		    const struct chaos_dest *d, const char *name, bool by_name)
{
	struct chaos_index_iter it;
	size_t want[512], nwant = 0, got[512], ngot = 0, i, prev = 0;
	bool first = true;
	for (i = 0; i < n; i++)
		if (by_name ? chaos_target_match_name(&rules[i].target, name)
			    : chaos_target_match(&rules[i].target, d))
			want[nwant++] = i;
	if (by_name)
		chaos_index_name(ix, n, name, &it);
	else
		chaos_index_dest(ix, n, d, &it);
	while (chaos_index_next(&it, &i)) {
		if (!first && i <= prev) {
			ROW_FAIL("rule %zu yielded after rule %zu\n", i, prev);
			return;
		}
		first = false;
		prev = i;
		if (i >= n) {
			ROW_FAIL("rule %zu of %zu yielded\n", i, n);
			return;
		}
		if (by_name ? chaos_target_match_name(&rules[i].target, name)
			    : chaos_target_match(&rules[i].target, d))
			got[ngot++] = i;
	}
	if (ngot != nwant || memcmp(got, want, ngot * sizeof(size_t)) != 0) {
		char text[CHAOS_RULE_TEXT_MAX + 1];
		size_t missing = SIZE_MAX;
		for (size_t k = 0; k < nwant && missing == SIZE_MAX; k++)
			if (k >= ngot || got[k] != want[k])
				missing = want[k];
		if (missing != SIZE_MAX) {
			chaos_rule_format(&rules[missing], text, sizeof(text));
			ROW_FAIL("query %s: rule %zu '%s' covers it and was not yielded (%zu of %zu)\n",
				 by_name ? (name ? name : "(null)") : "dest", missing, text, ngot,
				 nwant);
		} else {
			ROW_FAIL("query: %zu rules yielded that cover it, %zu do\n", ngot, nwant);
		}
	}
}

static void random_sets(void **state)
{
	(void)state;
	ROWS_BEGIN();
	for (int round = 0; round < 200 && !unit_bad_rows; round++) {
		size_t n = 1 + rnd(round < 100 ? 40 : 400);
		struct chaos_rule *rules = calloc(n, sizeof(*rules));
		assert_non_null(rules);
		for (size_t i = 0; i < n; i++)
			random_rule(&rules[i]);
		struct chaos_index *ix = chaos_index_new(n, rule_target, rules);
		assert_non_null(ix);
		for (int q = 0; q < 200; q++) {
			const char *store[4];
			struct chaos_dest d;
			random_dest(&d, store);
			compare(rules, n, ix, &d, NULL, false);
			compare(rules, n, NULL, &d, NULL, false); /* the walk, without an index */
			const char *name = rnd(10) ? names[rnd(ARRAY_SIZE(names))] : NULL;
			compare(rules, n, ix, NULL, name, true);
		}
		chaos_index_free(ix);
		free(rules);
	}
	ROWS_END();
}

/* A query with more keys than cursors walks every rule: still right. */
static void wide_query(void **state)
{
	(void)state;
	ROWS_BEGIN();
	size_t n = 0;
	struct chaos_rule rules[200];
	char text[128], err[256];
	for (int p = 0; p <= 32 && n < 200; p++) {
		/* 10.0.0.1 under every prefix length: the network each one names */
		uint32_t net = p ? 0x0a000001u & ~((1ull << (32 - p)) - 1) : 0;
		snprintf(text, sizeof(text), "%u.%u.%u.%u/%d refuse", net >> 24, net >> 16 & 255,
			 net >> 8 & 255, net & 255, p);
		assert_int_equal(chaos_rule_parse(text, &rules[n++], err, sizeof(err)), 0);
	}
	assert_int_equal(chaos_rule_parse("a.b.c.d.e.f.g.h.internal refuse", &rules[n++], err,
					  sizeof(err)), 0);
	struct chaos_index *ix = chaos_index_new(n, rule_target, rules);
	assert_non_null(ix);
	struct chaos_dest d = { .proto = CHAOS_PROTO_TCP, .family = AF_INET, .port = 80 };
	inet_pton(AF_INET, "10.0.0.1", d.addr);
	compare(rules, n, ix, &d, NULL, false);
	struct chaos_index_iter it;
	size_t i, count = 0;
	chaos_index_dest(ix, n, &d, &it);
	while (chaos_index_next(&it, &i))
		count++;
	assert_int_equal(count, n); /* 33 keys: more than the cursors, so every rule */
	chaos_index_free(ix);
	ROWS_END();
}

/* The point of it: one address among 100,000 rules yields only its own rules. */
static void narrow(void **state)
{
	(void)state;
	size_t n = 100000;
	struct chaos_rule *rules = calloc(n, sizeof(*rules));
	assert_non_null(rules);
	char text[128], err[256];
	for (size_t i = 0; i < n; i++) {
		switch (i % 4) {
		case 0:
			snprintf(text, sizeof(text), "10.%zu.%zu.%zu:5432 refuse", i >> 16 & 255,
				 i >> 8 & 255, i & 255);
			break;
		case 1:
			snprintf(text, sizeof(text), "10.%zu.%zu.0/24 refuse", i >> 8 & 255, i & 255);
			break;
		case 2:
			snprintf(text, sizeof(text), "svc%zu.internal refuse", i);
			break;
		default:
			snprintf(text, sizeof(text), "*.zone%zu.internal refuse", i);
			break;
		}
		assert_int_equal(chaos_rule_parse(text, &rules[i], err, sizeof(err)), 0);
	}
	struct chaos_index *ix = chaos_index_new(n, rule_target, rules);
	assert_non_null(ix);
	const char *nm[] = { "svc2.internal", "a.zone3.internal" };
	struct chaos_dest d = { .proto = CHAOS_PROTO_TCP, .family = AF_INET, .port = 5432,
				.names = nm, .nnames = 2 };
	/* 10.0.1.4: rule 260 (the address), rules 1 and 65537 (10.0.1.0/24); rule 2 (svc2) and
	 * rule 3 (*.zone3.internal) by name */
	inet_pton(AF_INET, "10.0.1.4", d.addr);
	struct chaos_index_iter it;
	size_t i, got[8], ngot = 0;
	const size_t want[] = { 1, 2, 3, 260, 65537 };
	chaos_index_dest(ix, n, &d, &it);
	while (chaos_index_next(&it, &i) && ngot < 8)
		got[ngot++] = i;
	assert_int_equal(ngot, ARRAY_SIZE(want));
	for (size_t k = 0; k < ngot; k++)
		assert_int_equal(got[k], want[k]);
	chaos_index_free(ix);
	free(rules);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_sets),
		cmocka_unit_test(wide_query),
		cmocka_unit_test(narrow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
