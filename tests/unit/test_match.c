/* test_match.c -- name globs and target matching: case, trailing dots, CIDR edges, ports, proto */
#include "unit.h"

#include <arpa/inet.h>

#include "rule.h"

UNIT_ROWS_DEFINE;

struct glob_row {
	const char *pattern, *name;
	bool match;
};

static const struct glob_row globs[] = {
	{ "redis.local", "redis.local", true },
	{ "redis.local", "REDIS.Local", true },
	{ "REDIS.LOCAL", "redis.local", true }, /* patterns from callers may be upper case too */
	{ "redis.local", "redis.local.", true },
	{ "redis.local.", "redis.local", true },
	{ "redis.local.", "redis.local.", true },
	{ "redis.local", "redis.local..", false },
	{ "redis.local", "redis.locall", false },
	{ "redis.local", "redis.loca", false },
	{ "redis.local", "xredis.local", false },
	{ "redis.local", "", false },
	{ "redis.local", ".", false },
	{ "*", "anything.at.all", true },
	{ "*", "x", true },
	{ "*", "", false },
	{ "*", ".", false },
	{ "*.internal", "db.internal", true },
	{ "*.internal", "a.b.c.internal", true }, /* '*' crosses dots */
	{ "*.internal", "DB.INTERNAL.", true },
	{ "*.internal", "internal", false },
	{ "*.internal", ".internal", true },
	{ "*.internal", "db.internal.evil", false },
	{ "*.internal", "dbinternal", false },
	{ "api-*", "api-1", true },
	{ "api-*", "api-", true },
	{ "api-*", "api", false },
	{ "api-*.svc", "api-blue.svc", true },
	{ "api-*.svc", "api-blue.green.svc", true },
	{ "api-*.svc", "api.svc", false },
	{ "*-*", "a-b", true },
	{ "*-*", "-", true },
	{ "*-*", "ab", false },
	{ "a*b*c", "abc", true },
	{ "a*b*c", "aXbYc", true },
	{ "a*b*c", "abcbc", true },
	{ "a*b*c", "abcb", false },
	{ "a*a*a", "aaa", true },
	{ "a*a*a", "aa", false },
	{ "*aab", "aaaab", true }, /* backtracking */
	{ "*ab*ab", "abxabab", true },
	{ "*ab*ab", "abxaba", false },
	{ "**", "x", true },
	{ "x**", "x", true },
	{ "*.", "x", true },
	{ "", "", false },
	{ "", "x", false },
};

static void name_globs(void **state)
{
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(globs); i++) {
		bool got = chaos_name_match(globs[i].pattern, globs[i].name);
		if (got != globs[i].match)
			ROW_FAIL("pattern '%s' name '%s': got %d want %d\n", globs[i].pattern,
				 globs[i].name, got, globs[i].match);
	}
	ROWS_END();
}

/* A destination written as "tcp 10.0.0.1 6379 name1,name2" (names optional). */
struct dest_buf {
	struct chaos_dest d;
	char names_buf[256];
	const char *names[8];
};

static void make_dest(struct dest_buf *b, const char *spec)
{
	char proto[8], addr[64], names[200] = "";
	unsigned port;

	memset(b, 0, sizeof(*b));
	int n = sscanf(spec, "%7s %63s %u %199s", proto, addr, &port, names);
	assert_true(n >= 3);
	b->d.proto = strcmp(proto, "udp") == 0 ? CHAOS_PROTO_UDP : CHAOS_PROTO_TCP;
	if (inet_pton(AF_INET, addr, b->d.addr) == 1) {
		b->d.family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, b->d.addr), 1);
		b->d.family = AF_INET6;
	}
	b->d.port = (uint16_t)port;
	if (n == 4) {
		snprintf(b->names_buf, sizeof(b->names_buf), "%s", names);
		for (char *s = strtok(b->names_buf, ","); s && b->d.nnames < 8; s = strtok(NULL, ","))
			b->names[b->d.nnames++] = s;
		b->d.names = b->names;
	}
}

struct target_row {
	const char *rule; /* "TARGET" (the action is added) */
	const char *dest;
	bool match;
};

static const struct target_row targets[] = {
	/* any */
	{ "*", "tcp 10.0.0.1 80", true },
	{ "*", "udp ::1 53", true },
	{ "*:80", "tcp 10.0.0.1 80", true },
	{ "*:80", "tcp 10.0.0.1 81", false },

	/* protocol */
	{ "tcp:*", "tcp 10.0.0.1 80", true },
	{ "tcp:*", "udp 10.0.0.1 80", false },
	{ "udp:*", "udp 10.0.0.1 80", true },
	{ "udp:*", "tcp 10.0.0.1 80", false },
	{ "udp:*:53", "udp 10.0.0.1 53", true },
	{ "udp:*:53", "tcp 10.0.0.1 53", false },

	/* ports and ranges, edges included */
	{ "*:8000-8099", "tcp 10.0.0.1 7999", false },
	{ "*:8000-8099", "tcp 10.0.0.1 8000", true },
	{ "*:8000-8099", "tcp 10.0.0.1 8050", true },
	{ "*:8000-8099", "tcp 10.0.0.1 8099", true },
	{ "*:8000-8099", "tcp 10.0.0.1 8100", false },
	{ "*:1-65535", "tcp 10.0.0.1 1", true },
	{ "*:1-65535", "tcp 10.0.0.1 65535", true },
	{ "*:65535", "tcp 10.0.0.1 65535", true },
	{ "*:65535", "tcp 10.0.0.1 65534", false },
	{ "*:1", "tcp 10.0.0.1 1", true },
	{ "*:1", "tcp 10.0.0.1 0", false },

	/* IPv4 and CIDR edges */
	{ "10.0.0.1", "tcp 10.0.0.1 80", true },
	{ "10.0.0.1", "tcp 10.0.0.2 80", false },
	{ "10.0.0.1:80", "tcp 10.0.0.1 443", false },
	{ "10.0.0.0/8", "tcp 10.0.0.0 1", true },
	{ "10.0.0.0/8", "tcp 10.255.255.255 1", true },
	{ "10.0.0.0/8", "tcp 11.0.0.0 1", false },
	{ "10.0.0.0/8", "tcp 9.255.255.255 1", false },
	{ "192.168.1.128/25", "tcp 192.168.1.127 1", false },
	{ "192.168.1.128/25", "tcp 192.168.1.128 1", true },
	{ "192.168.1.128/25", "tcp 192.168.1.255 1", true },
	{ "192.168.1.128/25", "tcp 192.168.2.128 1", false },
	{ "10.1.2.2/31", "tcp 10.1.2.2 1", true },
	{ "10.1.2.2/31", "tcp 10.1.2.3 1", true },
	{ "10.1.2.2/31", "tcp 10.1.2.4 1", false },
	{ "128.0.0.0/1", "tcp 128.0.0.0 1", true },
	{ "128.0.0.0/1", "tcp 255.255.255.255 1", true },
	{ "128.0.0.0/1", "tcp 127.255.255.255 1", false },
	{ "0.0.0.0/0", "tcp 1.2.3.4 1", true },
	{ "0.0.0.0/0", "tcp ::1 1", false }, /* families never mix */
	{ "127.0.0.0/8:6379", "tcp 127.0.0.5 6379", true },
	{ "127.0.0.0/8:6379", "tcp 127.0.0.5 6380", false },

	/* IPv6 and CIDR edges */
	{ "[::1]", "tcp ::1 80", true },
	{ "[::1]", "tcp ::2 80", false },
	{ "[::1]", "tcp 127.0.0.1 80", false },
	{ "[::1]:8080", "tcp ::1 8080", true },
	{ "[fd00::/8]", "tcp fd00:: 1", true },
	{ "[fd00::/8]", "tcp fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 1", true },
	{ "[fd00::/8]", "tcp fe00:: 1", false },
	{ "[fd00::/8]", "tcp fc00:: 1", false },
	{ "[2001:db8::/127]", "tcp 2001:db8::1 1", true },
	{ "[2001:db8::/127]", "tcp 2001:db8::2 1", false },
	{ "[2001:db8::/33]", "tcp 2001:db8:7fff:: 1", true },
	{ "[2001:db8::/33]", "tcp 2001:db8:8000:: 1", false },
	{ "[::/0]", "tcp 2001:db8::1 1", true },
	{ "[::/0]", "tcp 10.0.0.1 1", false },

	/* IPv4-mapped: the rule is an IPv4 one, and callers give mapped destinations as IPv4 */
	{ "[::ffff:10.0.0.1]", "tcp 10.0.0.1 80", true },
	{ "[::ffff:10.0.0.0/104]", "tcp 10.9.9.9 80", true },
	{ "[::ffff:10.0.0.0/104]", "tcp 11.0.0.0 80", false },
	{ "10.0.0.1", "tcp ::ffff:10.0.0.1 80", false }, /* not converted here: callers do that */

	/* names: any of the names the address resolved from */
	{ "redis.local", "tcp 10.0.0.1 6379 redis.local", true },
	{ "redis.local", "tcp 10.0.0.1 6379 other,REDIS.LOCAL.", true },
	{ "redis.local", "tcp 10.0.0.1 6379 other", false },
	{ "redis.local", "tcp 10.0.0.1 6379", false },
	{ "redis.local:6379", "tcp 10.0.0.1 6380 redis.local", false },
	{ "tcp:redis.local:6379", "udp 10.0.0.1 6379 redis.local", false },
	{ "*.internal:5432", "tcp fd00::1 5432 db.internal", true },
	{ "*.internal", "tcp fd00::1 5432 internal", false },
};

static void target_matching(void **state)
{
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		char text[128], err[CHAOS_ERR_MAX];
		struct chaos_rule r;
		struct dest_buf b;
		snprintf(text, sizeof(text), "%s refuse", targets[i].rule);
		if (chaos_rule_parse(text, &r, err, sizeof(err)) < 0) {
			ROW_FAIL("'%s': %s\n", text, err);
			continue;
		}
		make_dest(&b, targets[i].dest);
		bool got = chaos_target_match(&r.target, &b.d);
		if (got != targets[i].match)
			ROW_FAIL("'%s' vs '%s': got %d want %d\n", targets[i].rule, targets[i].dest,
				 got, targets[i].match);
	}
	ROWS_END();
}

/* A NULL entry in the names of a destination is skipped, not followed. */
static void null_names(void **state)
{
	struct chaos_rule r;
	const char *names[] = { NULL, "redis.local" };
	struct chaos_dest d = { .proto = CHAOS_PROTO_TCP, .family = AF_INET, .port = 1,
				.names = names, .nnames = 2 };
	(void)state;
	assert_int_equal(chaos_rule_parse("redis.local refuse", &r, NULL, 0), 0);
	assert_true(chaos_target_match(&r.target, &d));
	d.nnames = 1;
	assert_false(chaos_target_match(&r.target, &d));
}

/* dns= rules: the name looked up */
static void name_lookups(void **state)
{
	static const struct {
		const char *rule, *name;
		bool match;
	} rows[] = {
		{ "redis.local dns=nxdomain", "redis.local", true },
		{ "redis.local dns=nxdomain", "Redis.Local.", true },
		{ "redis.local dns=nxdomain", "redis", false },
		{ "*.internal dns=servfail", "a.internal", true },
		{ "*.internal dns=servfail", "internal", false },
		{ "* dns=nxdomain", "anything", true },
		{ "* dns=nxdomain", NULL, true },
		{ "redis.local dns=nxdomain", NULL, false },
		{ "redis.local dns=nxdomain", "", false },
		{ "10.0.0.1 refuse", "10.0.0.1", false }, /* addresses never match a lookup */
	};
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct chaos_rule r;
		assert_int_equal(chaos_rule_parse(rows[i].rule, &r, NULL, 0), 0);
		bool got = chaos_target_match_name(&r.target, rows[i].name);
		if (got != rows[i].match)
			ROW_FAIL("'%s' lookup '%s': got %d\n", rows[i].rule,
				 rows[i].name ? rows[i].name : "(null)", got);
	}
	ROWS_END();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(name_globs),
		cmocka_unit_test(target_matching),
		cmocka_unit_test(null_names),
		cmocka_unit_test(name_lookups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
