/* test_compile.c -- unit tests of the rule compiler: what each rule becomes for the kernel, and
 * the trie and lists that find every rule covering a destination */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "compile.h"

static struct chaos_rule rule(const char *text)
{
	struct chaos_rule r;
	char err[CHAOS_ERR_MAX];
	if (chaos_rule_parse(text, &r, err, sizeof(err)) != 0)
		fail_msg("%s: %s", text, err);
	return r;
}

static void test_hooks(void **state)
{
	struct ca_rule k;
	struct chaos_rule r;
	(void)state;

	r = rule("10.0.0.1:80 refuse");
	ca_rule_compile(&r, &k);
	assert_int_equal(k.action, CA_ACT_REFUSE);
	assert_int_equal(k.err, ECONNREFUSED);
	assert_int_equal(k.hooks[CA_P_TCP], CA_H_CONNECT);
	assert_int_equal(k.hooks[CA_P_UDP], CA_H_SENDTO | CA_H_OUT_CONN);
	assert_int_equal(k.port_lo, 80);
	assert_int_equal(k.port_hi, 80);
	assert_int_equal(k.p_ppm, 1000000);

	r = rule("tcp:10.0.0.1 refuse");
	ca_rule_compile(&r, &k);
	assert_int_equal(k.proto, IPPROTO_TCP);
	assert_int_equal(k.hooks[CA_P_UDP], 0);

	r = rule("udp:10.0.0.1:53 error=EHOSTUNREACH on=send");
	ca_rule_compile(&r, &k);
	assert_int_equal(k.err, EHOSTUNREACH);
	assert_int_equal(k.hooks[CA_P_TCP], 0);
	assert_int_equal(k.hooks[CA_P_UDP], CA_H_SENDTO | CA_H_OUT_CONN);

	r = rule("10.0.0.1 error=ETIMEDOUT");
	ca_rule_compile(&r, &k);
	assert_int_equal(k.hooks[CA_P_TCP], CA_H_CONNECT);
	assert_int_equal(k.hooks[CA_P_UDP], CA_H_CONNECT);

	r = rule("10.0.0.1 loss=25%");
	ca_rule_compile(&r, &k);
	assert_int_equal(k.loss_ppm, 250000);
	assert_int_equal(k.hooks[CA_P_TCP],
			 CA_H_CONNECT | CA_H_EXISTING | CA_H_LOSS_OUT | CA_H_LOSS_IN);
	assert_int_equal(k.hooks[CA_P_UDP], CA_H_OUT | CA_H_IN);

	r = rule("10.0.0.1 blackhole timeout=1500ms");
	ca_rule_compile(&r, &k);
	assert_int_equal(k.timeout_ms, 1500);
	assert_int_equal(k.hooks[CA_P_UDP], CA_H_OUT | CA_H_IN);

	r = rule("10.0.0.1 blackhole timeout=1500500us");
	ca_rule_compile(&r, &k);
	assert_int_equal(k.timeout_ms, 1501); /* rounded up: never sooner than asked */

	r = rule("10.0.0.1 bandwidth=1MB/s count=3 skip=2 start=1s for=2s");
	ca_rule_compile(&r, &k);
	assert_int_equal(k.rate, 1000000);
	assert_int_equal(k.count, 3);
	assert_int_equal(k.skip, 2);
	assert_int_equal(k.flags, CA_RF_COUNT | CA_RF_WINDOW | CA_RF_FOR);
	assert_int_equal(k.hooks[CA_P_UDP], 0);

	r = rule("*.example dns=nxdomain");
	ca_rule_compile(&r, &k);
	assert_int_equal(k.action, CA_ACT_NONE);
	assert_int_equal(k.hooks[CA_P_TCP] | k.hooks[CA_P_UDP], 0);
}

static void test_needs(void **state)
{
	struct chaos_rule r[3];
	struct ca_needs n;
	(void)state;

	r[0] = rule("10.0.0.1:80 refuse");
	ca_rules_needs(r, 1, &n);
	assert_true(n.connect && n.sendmsg && n.packets);
	assert_false(n.sockops || n.dns);

	r[0] = rule("tcp:10.0.0.1:80 refuse");
	ca_rules_needs(r, 1, &n);
	assert_true(n.connect);
	assert_false(n.sendmsg || n.packets || n.sockops || n.dns);

	r[0] = rule("tcp:10.0.0.1:80 delay=1s on=connect");
	r[1] = rule("tcp:10.0.0.1:81 bandwidth=1MB/s");
	r[2] = rule("a.example dns=timeout");
	ca_rules_needs(r, 3, &n);
	assert_true(n.connect && n.sockops && n.packets && n.dns && n.sendmsg);
}

static void test_keys(void **state)
{
	struct ca_key k;
	uint8_t a[16];
	char buf[64];
	(void)state;

	inet_pton(AF_INET, "10.1.2.3", a);
	ca_key_make(&k, AF_INET, a, 8);
	assert_int_equal(k.prefixlen, 16);
	assert_int_equal(k.data[0], CA_TAG_V4);
	assert_int_equal(k.data[1], 10);
	assert_int_equal(k.data[2] | k.data[3] | k.data[4], 0); /* host bits cleared */
	ca_key_format(&k, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0/8");

	inet_pton(AF_INET6, "fd00::1", a);
	ca_key_make(&k, AF_INET6, a, 128);
	assert_int_equal(k.prefixlen, 136);
	assert_int_equal(k.data[0], CA_TAG_V6);
	ca_key_format(&k, buf, sizeof(buf));
	assert_string_equal(buf, "[fd00::1]");

	ca_key_make(&k, AF_UNSPEC, NULL, 0);
	assert_int_equal(k.prefixlen, 0);
	ca_key_format(&k, buf, sizeof(buf));
	assert_string_equal(buf, "*");
}

static const struct ca_list *list_of(const struct ca_tables *t, const char *block, uint32_t port)
{
	char buf[64];
	for (size_t i = 0; i < t->nkeys; i++) {
		ca_key_format(&t->keys[i], buf, sizeof(buf));
		if (strcmp(buf, block) != 0)
			continue;
		for (size_t j = 0; j < t->nlists; j++)
			if (t->list_keys[j].cls == t->cls[i] && t->list_keys[j].port == port)
				return &t->lists[j];
		return NULL;
	}
	fail_msg("no block %s", block);
	return NULL;
}

static void assert_list(const struct ca_list *l, size_t n, ...)
{
	va_list ap;
	assert_non_null(l);
	assert_int_equal(l->n, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(l->rule[i], va_arg(ap, unsigned));
	va_end(ap);
}

/* Every rule covering an address is in the list of its longest block, in rule order. */
static void test_tables(void **state)
{
	struct chaos_rule r[6];
	struct ca_tables t;
	char err[256];
	(void)state;

	r[0] = rule("10.0.0.0/8:80 refuse");
	r[1] = rule("10.1.2.3:80 stall");
	r[2] = rule("* delay=100ms on=connect");
	r[3] = rule("10.1.2.3 blackhole");
	r[4] = rule("[::/0]:443 refuse");
	r[5] = rule("x.example dns=nxdomain"); /* not for the kernel */
	assert_int_equal(ca_tables_build(r, NULL, 6, 100, &t, err, sizeof(err)), 0);
	assert_int_equal(t.nkeys, 4); /* *, 10/8, 10.1.2.3, ::/0 */
	for (size_t i = 0; i < t.nkeys; i++)
		assert_true(t.cls[i] >= 100 && t.cls[i] < 104);

	assert_list(list_of(&t, "10.1.2.3", 80), 4, 0, 1, 2, 3);
	assert_list(list_of(&t, "10.1.2.3", 0), 2, 2, 3);
	assert_list(list_of(&t, "10.0.0.0/8", 80), 2, 0, 2);
	assert_list(list_of(&t, "10.0.0.0/8", 0), 1, 2);
	assert_list(list_of(&t, "*", 0), 1, 2);
	/* an IPv6 block holds no IPv4 address: ::/0 is not an ancestor of 10.0.0.0/8 */
	assert_list(list_of(&t, "[::/0]", 443), 2, 2, 4);
	ca_tables_free(&t);
}

static void test_ranges(void **state)
{
	struct chaos_rule r[3];
	struct ca_tables t;
	char err[256];
	(void)state;

	r[0] = rule("127.0.0.1:8000-8099 refuse");
	r[1] = rule("127.0.0.1:8050 stall");
	r[2] = rule("127.0.0.1:9000 stall");
	assert_int_equal(ca_tables_build(r, NULL, 3, 0, &t, err, sizeof(err)), 0);
	assert_list(list_of(&t, "127.0.0.1", 8050), 2, 0, 1);
	assert_list(list_of(&t, "127.0.0.1", 9000), 1, 2);
	assert_list(list_of(&t, "127.0.0.1", 0), 1, 0); /* the range, checked by the kernel */
	ca_tables_free(&t);
}

static void test_names(void **state)
{
	struct chaos_rule r[2];
	struct ca_resolved res[2] = { { 0 } };
	struct ca_addr addrs[2];
	struct ca_tables t;
	char err[256];
	(void)state;

	r[0] = rule("db.example:5432 refuse");
	r[1] = rule("127.0.0.0/8 stall");
	addrs[0].family = AF_INET;
	inet_pton(AF_INET, "127.0.0.5", addrs[0].addr);
	addrs[1].family = AF_INET6;
	inet_pton(AF_INET6, "::1", addrs[1].addr);
	res[0].n = 2;
	res[0].addrs = addrs;
	assert_int_equal(ca_tables_build(r, res, 2, 0, &t, err, sizeof(err)), 0);
	assert_list(list_of(&t, "127.0.0.5", 5432), 2, 0, 1);
	assert_list(list_of(&t, "[::1]", 5432), 1, 0);

	/* a name that resolved to nothing covers nothing */
	res[0].n = 0;
	ca_tables_free(&t);
	assert_int_equal(ca_tables_build(r, res, 2, 0, &t, err, sizeof(err)), 0);
	assert_int_equal(t.nkeys, 1);
	ca_tables_free(&t);
}

static void test_too_many(void **state)
{
	struct chaos_rule r[CA_MAX_CAND + 1];
	struct ca_tables t;
	char err[256];
	(void)state;

	for (int i = 0; i < CA_MAX_CAND + 1; i++)
		r[i] = rule("127.0.0.1:80 refuse p=0.5");
	assert_int_equal(ca_tables_build(r, NULL, CA_MAX_CAND, 0, &t, err, sizeof(err)), 0);
	ca_tables_free(&t);
	assert_int_equal(ca_tables_build(r, NULL, CA_MAX_CAND + 1, 0, &t, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "17 rules (#1, 2, 3, 4, ...) apply to 127.0.0.1 port 80: "
				 "chaos-attach tries at most 16 for one destination");
	assert_int_equal(t.nkeys, 0);
}

static void test_hundred_thousand(void **state)
{
	size_t n = 100000;
	struct chaos_rule *r = calloc(n, sizeof(*r));
	struct ca_tables t;
	char err[256], text[64];
	struct timespec a, b;
	(void)state;

	assert_non_null(r);
	for (size_t i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "10.%zu.%zu.%zu:%zu refuse", (i >> 16) & 255,
			 (i >> 8) & 255, i & 255, 1000 + i % 5000);
		r[i] = rule(text);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(ca_tables_build(r, NULL, n, 0, &t, err, sizeof(err)), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(t.nkeys, n);
	assert_int_equal(t.nlists, n);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	print_message("100000 rules compiled in %.3f s\n", s);
	assert_true(s < 2.0);
	ca_tables_free(&t);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hooks),	     cmocka_unit_test(test_needs),
		cmocka_unit_test(test_keys),	     cmocka_unit_test(test_tables),
		cmocka_unit_test(test_ranges),	     cmocka_unit_test(test_names),
		cmocka_unit_test(test_too_many),     cmocka_unit_test(test_hundred_thousand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
