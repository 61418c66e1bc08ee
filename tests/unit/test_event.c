/* test_event.c -- the JSON-lines fault log: the exact line, escaping, and buffer limits */
#include "unit.h"

#include <arpa/inet.h>
#include <time.h>

#include "event.h"

UNIT_ROWS_DEFINE;

static struct chaos_event sample(void)
{
	return (struct chaos_event){
		.time_ns = 1795550155123456789ULL,
		.source = "preload",
		.pid = 4242,
		.tid = 4243,
		.call = "connect",
		.dest = "127.0.0.1:6379",
		.host = "redis.local",
		.rule_id = 1,
		.rule = "redis.local:6379 refuse",
		.action = "refuse",
		.result = "ECONNREFUSED",
	};
}

#define SAMPLE_LINE                                                                               \
	"{\"time\":\"2026-11-24T19:55:55.123456Z\",\"source\":\"preload\",\"pid\":4242,"          \
	"\"tid\":4243,\"call\":\"connect\",\"dest\":\"127.0.0.1:6379\",\"host\":\"redis.local\"," \
	"\"rule_id\":1,\"rule\":\"redis.local:6379 refuse\",\"action\":\"refuse\","              \
	"\"result\":\"ECONNREFUSED\"}\n"

static void exact_line(void **state)
{
	struct chaos_event ev = sample();
	char buf[1024];
	(void)state;

	int n = chaos_event_format(&ev, buf, sizeof(buf));
	assert_string_equal(buf, SAMPLE_LINE);
	assert_int_equal(n, (int)strlen(SAMPLE_LINE));

	/* null host, other times (microseconds are cut, not rounded), the largest numbers */
	ev.host = NULL;
	ev.time_ns = 0;
	ev.pid = 1;
	ev.tid = 2147483647;
	ev.rule_id = 4294967295u;
	ev.source = "bpf";
	n = chaos_event_format(&ev, buf, sizeof(buf));
	assert_string_equal(buf, "{\"time\":\"1970-01-01T00:00:00.000000Z\",\"source\":\"bpf\","
				 "\"pid\":1,\"tid\":2147483647,\"call\":\"connect\","
				 "\"dest\":\"127.0.0.1:6379\",\"host\":null,\"rule_id\":4294967295,"
				 "\"rule\":\"redis.local:6379 refuse\",\"action\":\"refuse\","
				 "\"result\":\"ECONNREFUSED\"}\n");
	ev.time_ns = 951782400ULL * 1000000000ULL + 999999999;
	chaos_event_format(&ev, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"time\":\"2000-02-29T00:00:00.999999Z\""));
	ev.time_ns = 4102444799ULL * 1000000000ULL + 1000;
	chaos_event_format(&ev, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"time\":\"2099-12-31T23:59:59.000001Z\""));
}

struct esc_row {
	const char *in, *out;
};

static const struct esc_row escapes[] = {
	{ "plain", "\"plain\"" },
	{ "", "\"\"" },
	{ "a\"b", "\"a\\\"b\"" },
	{ "a\\b", "\"a\\\\b\"" },
	{ "a\nb\tc\rd", "\"a\\u000ab\\u0009c\\u000dd\"" },
	{ "\x01\x1f", "\"\\u0001\\u001f\"" },
	{ "\x7f", "\"\\u007f\"" },
	{ "/", "\"/\"" },
	/* UTF-8 passes as it is */
	{ "h\xc3\xa9llo", "\"h\xc3\xa9llo\"" },
	{ "\xe2\x82\xac", "\"\xe2\x82\xac\"" },
	{ "\xf0\x9f\x92\xa5", "\"\xf0\x9f\x92\xa5\"" },
	{ "\xef\xbf\xbf", "\"\xef\xbf\xbf\"" },
	/* bytes that are not UTF-8 become U+FFFD, one for each byte */
	{ "\xff", "\"\\ufffd\"" },
	{ "a\xc3", "\"a\\ufffd\"" },          /* cut short by the end */
	{ "\xc3(", "\"\\ufffd(\"" },          /* a continuation byte missing */
	{ "\x80x", "\"\\ufffdx\"" },          /* a lone continuation byte */
	{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" }, /* overlong '/' */
	{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	     /* a UTF-16 surrogate */
	{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* beyond U+10FFFF */
	{ "\xf8\x88\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"" },
};

static void escaping(void **state)
{
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(escapes); i++) {
		/* every string field is escaped the same way: check them all */
		for (int field = 0; field < 7; field++) {
			struct chaos_event ev = sample();
			const char **f[] = { &ev.source, &ev.call, &ev.dest, &ev.host,
					     &ev.rule,	 &ev.action, &ev.result };
			static const char *const keys[] = { "source", "call", "dest", "host",
							    "rule",   "action", "result" };
			char buf[1024], want[256];
			*f[field] = escapes[i].in;
			if (chaos_event_format(&ev, buf, sizeof(buf)) < 0) {
				ROW_FAIL("'%s': did not format\n", escapes[i].in);
				continue;
			}
			snprintf(want, sizeof(want), "\"%s\":%s", keys[field], escapes[i].out);
			if (!strstr(buf, want))
				ROW_FAIL("%s='%s':\n  %s\n  has no %s\n", keys[field], escapes[i].in,
					 buf, want);
			for (const char *p = buf; *p; p++)
				if ((unsigned char)*p < 0x20 && !(*p == '\n' && p[1] == '\0'))
					ROW_FAIL("'%s': a raw control character in the line\n",
						 escapes[i].in);
		}
	}
	ROWS_END();
}

/* Every buffer too small is refused with -ENOSPC, stays terminated and is never overrun. */
static void buffer_limits(void **state)
{
	struct chaos_event ev = sample();
	char buf[1024];
	(void)state;
	int n = chaos_event_format(&ev, buf, sizeof(buf));
	for (int len = 0; len <= n; len++) {
		memset(buf, 'X', sizeof(buf));
		assert_int_equal(chaos_event_format(&ev, buf, (size_t)len), -ENOSPC);
		if (len)
			assert_true(strlen(buf) < (size_t)len);
		assert_int_equal(buf[len], 'X');
	}
	assert_int_equal(chaos_event_format(&ev, buf, (size_t)n + 1), n);
}

static void destinations(void **state)
{
	static const struct {
		int family;
		const char *addr;
		uint16_t port;
		const char *out;
	} rows[] = {
		{ AF_INET, "127.0.0.1", 6379, "127.0.0.1:6379" },
		{ AF_INET, "255.255.255.255", 65535, "255.255.255.255:65535" },
		{ AF_INET, "0.0.0.0", 0, "0.0.0.0:0" },
		{ AF_INET6, "::1", 80, "[::1]:80" },
		{ AF_INET6, "fd00::1:2", 443, "[fd00::1:2]:443" },
		{ AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535,
		  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct chaos_dest d = { .proto = CHAOS_PROTO_TCP, .family = rows[i].family,
					.port = rows[i].port };
		char buf[64];
		assert_int_equal(inet_pton(rows[i].family, rows[i].addr, d.addr), 1);
		int n = chaos_dest_format(&d, buf, sizeof(buf));
		assert_string_equal(buf, rows[i].out);
		assert_int_equal(n, (int)strlen(rows[i].out));
		for (int len = 0; len <= n; len++)
			assert_int_equal(chaos_dest_format(&d, buf, (size_t)len), -ENOSPC);
	}
	/* an unknown family prints as '?', never garbage */
	struct chaos_dest d = { .family = AF_UNIX, .port = 1 };
	char buf[64];
	assert_int_equal(chaos_dest_format(&d, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "?:1");
}

/* The time field is computed without gmtime_r (its lock can deadlock a fork child): it must
 * agree with gmtime_r for every day from 1970 to 2200, and at the edges of a day. */
static void time_matches_gmtime(void **state)
{
	(void)state;
	char line[512], want[64];
	for (int64_t day = 0; day < 84000; day += 1) {
		for (int k = 0; k < 2; k++) {
			time_t t = (time_t)(day * 86400 + (k ? 86399 : 0));
			struct tm tm;
			struct chaos_event ev = { .time_ns = (uint64_t)t * 1000000000ULL + 123456789,
						  .source = "preload", .call = "connect" };
			gmtime_r(&t, &tm);
			snprintf(want, sizeof(want), "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.123456Z\"",
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
				 tm.tm_sec);
			assert_true(chaos_event_format(&ev, line, sizeof(line)) > 0);
			if (strncmp(line, want, strlen(want)) != 0)
				fail_msg("day %lld: got %.40s, want %s", (long long)day, line, want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_line),
		cmocka_unit_test(escaping),
		cmocka_unit_test(buffer_limits),
		cmocka_unit_test(destinations),
		cmocka_unit_test(time_matches_gmtime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
