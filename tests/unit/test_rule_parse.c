/* test_rule_parse.c -- every action and option, the defaults, the canonical form, round trips
 *
 * dump() prints every field of a parsed rule, so the tables below check what the parser stores,
 * not only what the printer makes of it.
 */
#include "unit.h"

#include <arpa/inet.h>

#include "errnos.h"
#include "rule.h"

UNIT_ROWS_DEFINE;

static void cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/* Every field of a rule, zero fields left out, in a fixed order. */
static void dump(const struct chaos_rule *r, char *buf, size_t len)
{
	static const char *const protos[] = { "any", "tcp", "udp" };
	static const char *const dns[] = { "nxdomain", "servfail", "timeout", "address" };
	const struct chaos_target *t = &r->target;
	char a[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	cat(buf, len, "%s ", protos[t->proto]);
	switch (t->kind) {
	case CHAOS_HOST_ANY:
		cat(buf, len, "*");
		break;
	case CHAOS_HOST_NAME:
		cat(buf, len, "name:%s", t->name);
		break;
	case CHAOS_HOST_ADDR:
		inet_ntop(t->family, t->addr, a, sizeof(a));
		cat(buf, len, "ip%d:%s/%u", t->family == AF_INET ? 4 : 6, a, t->prefix);
		break;
	}
	if (t->port_lo || t->port_hi)
		cat(buf, len, " port:%u-%u", t->port_lo, t->port_hi);
	cat(buf, len, " %s", chaos_action_name(r->action));
	cat(buf, len, " on:");
	if (r->on & CHAOS_ON_CONNECT)
		cat(buf, len, "C");
	if (r->on & CHAOS_ON_SEND)
		cat(buf, len, "S");
	if (r->on & CHAOS_ON_RECV)
		cat(buf, len, "R");
	if (r->on & CHAOS_ON_DNS)
		cat(buf, len, "D");
	if (r->on & CHAOS_ON_CLOSE)
		cat(buf, len, "X");
	if (r->set) {
		static const char *const keys[] = { "on",    "bytes",  "p",	  "count", "skip",
						    "start", "for",    "jitter", "timeout", "flap" };
		cat(buf, len, " set:");
		for (unsigned i = 0; i < ARRAY_SIZE(keys); i++)
			if (r->set & (1u << i))
				cat(buf, len, "%s%s", keys[i], (r->set >> (i + 1)) ? "," : "");
	}
	if (r->p_ppm != 1000000)
		cat(buf, len, " p:%u", r->p_ppm);
	if (r->action == CHAOS_ACT_ERROR)
		cat(buf, len, " err:%s", chaos_errno_name(r->err));
	if (r->bytes)
		cat(buf, len, " bytes:%llu", (unsigned long long)r->bytes);
	if (r->action == CHAOS_ACT_DNS) {
		cat(buf, len, " dns:%s", dns[r->dns]);
		if (r->dns == CHAOS_DNS_ADDRESS) {
			inet_ntop(r->dns_family, r->dns_addr, a, sizeof(a));
			cat(buf, len, ":ip%d:%s", r->dns_family == AF_INET ? 4 : 6, a);
		}
	}
#define NUM(field, name)                                                                          \
	if (r->field)                                                                             \
	cat(buf, len, " " name ":%llu", (unsigned long long)r->field)
	NUM(delay_ns, "delay");
	NUM(jitter_ns, "jitter");
	NUM(timeout_ns, "timeout");
	NUM(rate_bps, "rate");
	NUM(slice, "slice");
	NUM(close_delay_ns, "close");
	NUM(loss_ppm, "loss");
	NUM(count, "count");
	NUM(skip, "skip");
	NUM(start_ns, "start");
	NUM(for_ns, "for");
	NUM(flap_up_ns, "up");
	NUM(flap_down_ns, "down");
#undef NUM
}

struct row {
	const char *in, *want;
};

/* What the parser stores: every action with its defaults, and every option. */
static const struct row fields[] = {
	/* actions and the calls they act on by default */
	{ "redis.local:6379 refuse", "any name:redis.local port:6379-6379 refuse on:C" },
	{ "x error=ECONNRESET", "any name:x error on:C err:ECONNRESET" },
	{ "x error=EWOULDBLOCK", "any name:x error on:C err:EAGAIN" },
	{ "x reset", "any name:x reset on:SR" },
	{ "x dns=nxdomain", "any name:x dns on:D dns:nxdomain" },
	{ "x dns=servfail", "any name:x dns on:D dns:servfail" },
	{ "x dns=timeout", "any name:x dns on:D dns:timeout" },
	{ "x dns=127.0.0.2", "any name:x dns on:D dns:address:ip4:127.0.0.2" },
	{ "x dns=[127.0.0.2]", "any name:x dns on:D dns:address:ip4:127.0.0.2" },
	{ "x dns=::1", "any name:x dns on:D dns:address:ip6:::1" },
	{ "x dns=[fd00::53]", "any name:x dns on:D dns:address:ip6:fd00::53" },
	{ "x dns=::ffff:10.0.0.1", "any name:x dns on:D dns:address:ip6:::ffff:10.0.0.1" },
	{ "x blackhole", "any name:x blackhole on:C" },
	{ "x stall", "any name:x stall on:CSR" },
	{ "x delay=250ms", "any name:x delay on:CR delay:250000000" },
	{ "x bandwidth=64KiB/s", "any name:x bandwidth on:SR rate:65536" },
	{ "x bandwidth=8Mbit/s", "any name:x bandwidth on:SR rate:1000000" },
	{ "x slice=1", "any name:x slice on:SR slice:1" },
	{ "x slice=4KiB", "any name:x slice on:SR slice:4096" },
	{ "x close-delay=1.5s", "any name:x close-delay on:X close:1500000000" },
	{ "x loss=0.1", "any name:x loss on:SR loss:100000" },
	{ "x loss=0", "any name:x loss on:SR" },
	{ "x loss=100%", "any name:x loss on:SR loss:1000000" },

	/* on= */
	{ "x error=ECONNRESET on=connect", "any name:x error on:C set:on err:ECONNRESET" },
	{ "x error=EPIPE on=send", "any name:x error on:S set:on err:EPIPE" },
	{ "x error=ECONNRESET on=recv", "any name:x error on:R set:on err:ECONNRESET" },
	{ "x error=ETIMEDOUT on=io", "any name:x error on:SR set:on err:ETIMEDOUT" },
	{ "x delay=1s on=connect", "any name:x delay on:C set:on delay:1000000000" },
	{ "x delay=1s on=send", "any name:x delay on:S set:on delay:1000000000" },
	{ "x delay=1s on=io", "any name:x delay on:SR set:on delay:1000000000" },

	/* action options */
	{ "x reset bytes=100", "any name:x reset on:SR set:bytes bytes:100" },
	{ "x reset bytes=0", "any name:x reset on:SR set:bytes" },
	{ "x reset bytes=1KiB", "any name:x reset on:SR set:bytes bytes:1024" },
	{ "x delay=100ms jitter=10ms",
	  "any name:x delay on:CR set:jitter delay:100000000 jitter:10000000" },
	{ "x delay=100ms jitter=100ms",
	  "any name:x delay on:CR set:jitter delay:100000000 jitter:100000000" },
	{ "x delay=100ms jitter=0s", "any name:x delay on:CR set:jitter delay:100000000" },
	{ "x blackhole timeout=3s", "any name:x blackhole on:C set:timeout timeout:3000000000" },
	{ "x dns=timeout timeout=2s", "any name:x dns on:D set:timeout dns:timeout timeout:2000000000" },

	/* triggers, on every action */
	{ "x refuse p=0.25", "any name:x refuse on:C set:p p:250000" },
	{ "x refuse p=25%", "any name:x refuse on:C set:p p:250000" },
	{ "x refuse p=0", "any name:x refuse on:C set:p p:0" },
	{ "x refuse p=1", "any name:x refuse on:C set:p" },
	{ "x refuse p=.5", "any name:x refuse on:C set:p p:500000" },
	{ "x refuse p=0.0000005", "any name:x refuse on:C set:p p:1" },
	{ "x refuse p=0.3333333", "any name:x refuse on:C set:p p:333333" },
	{ "x refuse p=0.6666666", "any name:x refuse on:C set:p p:666667" },
	{ "x refuse p=1.0000001", "any name:x refuse on:C set:p" },
	{ "x refuse count=3", "any name:x refuse on:C set:count count:3" },
	{ "x refuse count=4294967295", "any name:x refuse on:C set:count count:4294967295" },
	{ "x refuse skip=0", "any name:x refuse on:C set:skip" },
	{ "x refuse skip=2", "any name:x refuse on:C set:skip skip:2" },
	{ "x refuse start=0s", "any name:x refuse on:C set:start" },
	{ "x refuse start=1m", "any name:x refuse on:C set:start start:60000000000" },
	{ "x refuse for=30s", "any name:x refuse on:C set:for for:30000000000" },
	{ "x refuse flap=5s/2s",
	  "any name:x refuse on:C set:flap up:5000000000 down:2000000000" },
	{ "x reset p=0.5 count=2 skip=1 start=1s for=1h flap=100ms/1ms bytes=10",
	  "any name:x reset on:SR set:bytes,p,count,skip,start,for,flap p:500000 bytes:10 "
	  "count:2 skip:1 start:1000000000 for:3600000000000 up:100000000 down:1000000" },
	{ "  x\trefuse\r\ncount=1  ", "any name:x refuse on:C set:count count:1" },

	/* targets */
	{ "* refuse", "any * refuse on:C" },
	{ "*. refuse", "any * refuse on:C" },
	{ "** refuse", "any * refuse on:C" },
	{ "*:80 refuse", "any * port:80-80 refuse on:C" },
	{ "*:* refuse", "any * refuse on:C" },
	{ "tcp:* refuse", "tcp * refuse on:C" },
	{ "udp:*:53 error=ECONNREFUSED on=send", "udp * port:53-53 error on:S set:on err:ECONNREFUSED" },
	{ "Redis.LOCAL. refuse", "any name:redis.local refuse on:C" },
	{ "*.internal refuse", "any name:*.internal refuse on:C" },
	{ "api-*.svc refuse", "any name:api-*.svc refuse on:C" },
	{ "a**b*** refuse", "any name:a*b* refuse on:C" },
	{ "_srv._tcp.x refuse", "any name:_srv._tcp.x refuse on:C" },
	{ "1.2.3.4a refuse", "any name:1.2.3.4a refuse on:C" },
	{ "localhost:1-65535 refuse", "any name:localhost port:1-65535 refuse on:C" },
	{ "x:80-80 refuse", "any name:x port:80-80 refuse on:C" },
	{ "x:00080 refuse", "any name:x port:80-80 refuse on:C" },
	{ "127.0.0.1 refuse", "any ip4:127.0.0.1/32 refuse on:C" },
	{ "127.0.0.1:6379 refuse", "any ip4:127.0.0.1/32 port:6379-6379 refuse on:C" },
	{ "10.0.0.0/8 refuse", "any ip4:10.0.0.0/8 refuse on:C" },
	{ "10.0.0.0/08 refuse", "any ip4:10.0.0.0/8 refuse on:C" },
	{ "0.0.0.0/0 refuse", "any ip4:0.0.0.0/0 refuse on:C" },
	{ "10.1.2.3/32:5432 refuse", "any ip4:10.1.2.3/32 port:5432-5432 refuse on:C" },
	{ "tcp:10.0.0.0/8:5432 refuse", "tcp ip4:10.0.0.0/8 port:5432-5432 refuse on:C" },
	{ "[::1] refuse", "any ip6:::1/128 refuse on:C" },
	{ "[::1]:8000-8099 refuse", "any ip6:::1/128 port:8000-8099 refuse on:C" },
	{ "[0:0:0:0:0:0:0:1] refuse", "any ip6:::1/128 refuse on:C" },
	{ "[FD00::/8] refuse", "any ip6:fd00::/8 refuse on:C" },
	{ "[::/0] refuse", "any ip6:::/0 refuse on:C" },
	{ "udp:[fd00::/8]:53 refuse", "udp ip6:fd00::/8 port:53-53 refuse on:C" },
	{ "[::ffff:10.1.2.3] refuse", "any ip4:10.1.2.3/32 refuse on:C" },
	{ "[::ffff:10.0.0.0/104]:80 refuse", "any ip4:10.0.0.0/8 port:80-80 refuse on:C" },
	{ "[::ffff:0.0.0.0/96] refuse", "any ip4:0.0.0.0/0 refuse on:C" },
	{ "[::fffe:0:0/95] refuse", "any ip6:::fffe:0:0/95 refuse on:C" },
	{ "[::ffff:0:0/96] refuse", "any ip4:0.0.0.0/0 refuse on:C" },
	{ "[::1.2.3.4] refuse", "any ip6:::1.2.3.4/128 refuse on:C" },
	{ "[fe80::1%eth0] refuse", NULL }, /* scoped addresses are not accepted */
};

static void parse_fields(void **state)
{
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		struct chaos_rule r;
		char err[CHAOS_ERR_MAX], got[512];
		int rc = chaos_rule_parse(fields[i].in, &r, err, sizeof(err));
		if (!fields[i].want) {
			if (rc == 0)
				ROW_FAIL("'%s': accepted, expected an error\n", fields[i].in);
			continue;
		}
		if (rc < 0) {
			ROW_FAIL("'%s': %s\n", fields[i].in, err);
			continue;
		}
		dump(&r, got, sizeof(got));
		if (strcmp(got, fields[i].want) != 0)
			ROW_FAIL("'%s':\n   got %s\n  want %s\n", fields[i].in, got, fields[i].want);
	}
	ROWS_END();
}

/* Written -> canonical.  The canonical form is lower case, has no defaults it was not given,
 * prints options in a fixed order and numbers in their shortest exact unit. */
static const struct row canon[] = {
	{ "redis.local:6379 refuse", "redis.local:6379 refuse" },
	{ "  REDIS.Local.:06379   refuse  ", "redis.local:6379 refuse" },
	{ "x:* refuse", "x refuse" },
	{ "x:80-80 refuse", "x:80 refuse" },
	{ "x:1-65535 refuse", "x:1-65535 refuse" },
	{ "*. refuse", "* refuse" },
	{ "a**.b refuse", "a*.b refuse" },
	{ "tcp:*:443 refuse", "tcp:*:443 refuse" },
	{ "[0:0:0:0:0:0:0:1]:80 refuse", "[::1]:80 refuse" },
	{ "[FD00:0::/8] refuse", "[fd00::/8] refuse" },
	{ "[::ffff:10.0.0.0/104]:1-2 refuse", "10.0.0.0/8:1-2 refuse" },
	{ "[::ffff:127.0.0.1] refuse", "127.0.0.1 refuse" },
	{ "10.0.0.0/32 refuse", "10.0.0.0 refuse" },
	{ "[::1/128] refuse", "[::1] refuse" },
	{ "10.0.0.0/008 refuse", "10.0.0.0/8 refuse" },
	{ "x error=EWOULDBLOCK on=io", "x error=EAGAIN on=io" },
	{ "x error=ECONNRESET on=connect", "x error=ECONNRESET on=connect" },
	{ "x error=ECONNRESET", "x error=ECONNRESET" },
	{ "x dns=[10.0.0.1]", "x dns=10.0.0.1" },
	{ "x dns=0:0::1", "x dns=[::1]" },
	{ "x dns=timeout timeout=1500ms", "x dns=timeout timeout=1500ms" },
	{ "x delay=1.5s", "x delay=1500ms" },
	{ "x delay=.1s", "x delay=100ms" },
	{ "x delay=60s", "x delay=1m" },
	{ "x delay=90s", "x delay=90s" },
	{ "x delay=0.5h", "x delay=30m" },
	{ "x delay=3600000ms", "x delay=1h" },
	{ "x delay=1000ns", "x delay=1us" },
	{ "x delay=1.0000001s", "x delay=1000000100ns" },
	{ "x delay=18446744073709551615ns", "x delay=18446744073709551615ns" },
	{ "x delay=5124095h", "x delay=5124095h" },
	{ "x delay=10ms on=send jitter=1ms", "x delay=10ms on=send jitter=1ms" },
	{ "x delay=10ms jitter=1ms on=send", "x delay=10ms on=send jitter=1ms" },
	{ "x bandwidth=1024B/s", "x bandwidth=1KiB/s" },
	{ "x bandwidth=8Mbit/s", "x bandwidth=1MB/s" },
	{ "x bandwidth=1Gbit/s", "x bandwidth=125MB/s" },
	{ "x bandwidth=12bit/s", "x bandwidth=1B/s" },
	{ "x bandwidth=1000kB/s", "x bandwidth=1MB/s" },
	{ "x bandwidth=64kbit/s", "x bandwidth=8KB/s" },
	{ "x bandwidth=1.5KiB/s", "x bandwidth=1536B/s" },
	{ "x bandwidth=2000KB/s", "x bandwidth=2MB/s" },
	{ "x bandwidth=1GB/s", "x bandwidth=1000MB/s" },
	{ "x bandwidth=1GiB/s", "x bandwidth=1GiB/s" },
	{ "x slice=1024", "x slice=1KiB" },
	{ "x slice=1000", "x slice=1000" },
	{ "x slice=1KB", "x slice=1000" },
	{ "x slice=2MiB", "x slice=2MiB" },
	{ "x slice=1.5", "x slice=2" },
	{ "x close-delay=2000ms", "x close-delay=2s" },
	{ "x loss=10%", "x loss=0.1" },
	{ "x loss=1", "x loss=1" },
	{ "x loss=0.000001", "x loss=0.000001" },
	{ "x reset bytes=1KiB", "x reset bytes=1024" },
	{ "x refuse p=25%", "x refuse p=0.25" },
	{ "x refuse p=1.0", "x refuse p=1" },
	{ "x refuse p=100%", "x refuse p=1" },
	{ "x refuse p=0.0", "x refuse p=0" },
	{ "x refuse p=0.123456", "x refuse p=0.123456" },
	{ "x refuse p=0.1234565", "x refuse p=0.123457" },
	{ "x refuse for=30s count=1 skip=2 p=0.5 start=1s flap=5s/2s",
	  "x refuse p=0.5 count=1 skip=2 start=1s for=30s flap=5s/2s" },
	{ "x refuse count=007", "x refuse count=7" },
	{ "x refuse skip=0", "x refuse skip=0" },
	{ "x refuse start=0ms", "x refuse start=0s" },
	{ "x delay=1s jitter=0ms", "x delay=1s jitter=0s" },
	{ "x reset bytes=0", "x reset bytes=0" },
	/* hosts named like the protocols keep their dot when a port follows (fuzzing found it) */
	{ "tcp.:8 refuse", "tcp.:8 refuse" },
	{ "UDP.:53-54 refuse", "udp.:53-54 refuse" },
	{ "tcp:tcp.:8 refuse", "tcp:tcp:8 refuse" },
	{ "udp:tcp:8 refuse", "udp:tcp:8 refuse" },
	{ "tcp. refuse", "tcp refuse" },
	{ "tcpx:8 refuse", "tcpx:8 refuse" },
};

static void canonical_form(void **state)
{
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(canon); i++) {
		struct chaos_rule r;
		char err[CHAOS_ERR_MAX], out[CHAOS_RULE_TEXT_MAX + 1];
		if (chaos_rule_parse(canon[i].in, &r, err, sizeof(err)) < 0) {
			ROW_FAIL("'%s': %s\n", canon[i].in, err);
			continue;
		}
		int n = chaos_rule_format(&r, out, sizeof(out));
		if (n < 0 || (size_t)n != strlen(out) || strcmp(out, canon[i].want) != 0)
			ROW_FAIL("'%s':\n   got '%s' (%d)\n  want '%s'\n", canon[i].in, out, n,
				 canon[i].want);
	}
	ROWS_END();
}

/* parse(format(parse(x))) == parse(x), and format is stable, for one rule. */
static bool round_trip(const char *text)
{
	struct chaos_rule r, r2;
	char err[CHAOS_ERR_MAX], out[CHAOS_RULE_TEXT_MAX + 1], out2[CHAOS_RULE_TEXT_MAX + 1];

	if (chaos_rule_parse(text, &r, err, sizeof(err)) < 0)
		return true; /* only accepted rules take part */
	if (chaos_rule_format(&r, out, sizeof(out)) < 0) {
		ROW_FAIL("'%s': does not print\n", text);
		return false;
	}
	if (chaos_rule_parse(out, &r2, err, sizeof(err)) < 0) {
		ROW_FAIL("'%s' -> '%s': %s\n", text, out, err);
		return false;
	}
	if (memcmp(&r, &r2, sizeof(r)) != 0) {
		char a[512], b[512];
		dump(&r, a, sizeof(a));
		dump(&r2, b, sizeof(b));
		ROW_FAIL("'%s' -> '%s':\n  %s\n  %s\n", text, out, a, b);
		return false;
	}
	if (chaos_rule_format(&r2, out2, sizeof(out2)) < 0 || strcmp(out, out2) != 0) {
		ROW_FAIL("'%s': '%s' then '%s'\n", text, out, out2);
		return false;
	}
	return true;
}

/* Every target with every action and a set of option combinations: thousands of rules. */
static void round_trip_table(void **state)
{
	static const char *const targets[] = {
		"*", "*:80", "tcp:*", "udp:*:53", "redis.local", "REDIS.local.:6379",
		"*.internal:1-1024", "tcp:api-*.svc:443", "udp:dns.example:53", "10.0.0.1",
		"10.0.0.0/8:5432", "tcp:192.168.1.128/25:1-65535", "0.0.0.0/0", "[::1]",
		"[::1]:8080", "[fd00::/8]:1-2", "tcp.:80", "udp.", "tcp:udp.:1", "udp:[2001:db8::/32]:53", "[::ffff:10.0.0.0/104]",
		"[::ffff:1.2.3.4]:80", "[::/0]", "x.y.z.", "_a-b_.c",
	};
	static const char *const actions[] = {
		"refuse", "reset", "blackhole", "stall", "error=ECONNREFUSED", "error=ETIMEDOUT",
		"error=EPIPE", "error=ECONNRESET", "error=EWOULDBLOCK", "error=EMSGSIZE",
		"dns=nxdomain", "dns=servfail", "dns=timeout", "dns=127.0.0.1", "dns=[::1]",
		"delay=1.5s", "delay=250ms", "delay=1h", "bandwidth=64KiB/s", "bandwidth=8Mbit/s",
		"bandwidth=12345B/s", "slice=1", "slice=4KiB", "close-delay=2s", "loss=0.1",
		"loss=5%",
	};
	static const char *const options[] = {
		"",
		"p=0.5",
		"p=1%",
		"count=3",
		"skip=2",
		"start=1s",
		"for=30s",
		"flap=5s/2s",
		"on=connect",
		"on=send",
		"on=recv",
		"on=io",
		"bytes=100",
		"bytes=1MiB",
		"jitter=10ms",
		"jitter=1.5s",
		"timeout=3s",
		"p=0.25 count=1 skip=1 start=1ms for=1m flap=1s/1s",
		"flap=1s/1s for=1m start=1ms skip=1 count=1 p=0.25",
		"on=io p=0.3333333",
		"on=send timeout=1.5s",
		"bytes=0 count=4294967295 skip=4294967295",
		"start=5124095h for=18446744073709551615ns",
	};
	char text[CHAOS_RULE_TEXT_MAX + 1];
	size_t tried = 0, accepted = 0;
	(void)state;

	ROWS_BEGIN();
	for (size_t t = 0; t < ARRAY_SIZE(targets); t++)
		for (size_t a = 0; a < ARRAY_SIZE(actions); a++)
			for (size_t o = 0; o < ARRAY_SIZE(options); o++) {
				struct chaos_rule r;
				snprintf(text, sizeof(text), "%s %s %s", targets[t], actions[a],
					 options[o]);
				tried++;
				if (chaos_rule_parse(text, &r, NULL, 0) == 0)
					accepted++;
				round_trip(text);
			}
	ROWS_END();
	print_message("round trip: %zu rules, %zu accepted\n", tried, accepted);
	assert_true(accepted > 3000);
}

/* The canonical form fits CHAOS_RULE_TEXT_MAX even for the longest rule the parser takes. */
static void longest_rule(void **state)
{
	char name[254], text[1024], out[CHAOS_RULE_TEXT_MAX + 1];
	struct chaos_rule r;
	char err[CHAOS_ERR_MAX];
	(void)state;

	memset(name, 'a', 253);
	for (int i = 63; i < 253; i += 64)
		name[i] = '.';
	name[253] = '\0';
	snprintf(text, sizeof(text),
		 "tcp:%s:65534-65535 delay=18446744073709551615ns on=connect "
		 "jitter=18446744073709551615ns p=0.999999 count=4294967295 skip=4294967295 "
		 "start=18446744073709551615ns for=18446744073709551615ns "
		 "flap=18446744073709551615ns/18446744073709551615ns",
		 name);
	assert_true(strlen(text) <= CHAOS_RULE_TEXT_MAX);
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), 0);
	int n = chaos_rule_format(&r, out, sizeof(out));
	assert_int_equal(n, (int)strlen(text));
	assert_string_equal(out, text);
	assert_true(round_trip(text));

	/* every shorter buffer is refused, never overrun */
	for (size_t len = 0; len <= (size_t)n; len++) {
		char small[CHAOS_RULE_TEXT_MAX + 8];
		memset(small, 'X', sizeof(small));
		assert_int_equal(chaos_rule_format(&r, small, len), -ENOSPC);
		assert_int_equal(small[len], 'X');
	}
	char t[300];
	n = chaos_target_format(&r.target, t, sizeof(t));
	assert_int_equal(n, 4 + 253 + 12);
	for (size_t len = 0; len <= (size_t)n; len++)
		assert_int_equal(chaos_target_format(&r.target, t, len), -ENOSPC);
}

static void action_names(void **state)
{
	(void)state;
	static const char *const want[CHAOS_ACT__COUNT] = {
		"refuse", "error", "reset", "dns", "blackhole", "stall",
		"delay",  "bandwidth", "slice", "close-delay", "loss",
	};
	for (int a = 0; a < CHAOS_ACT__COUNT; a++)
		assert_string_equal(chaos_action_name((enum chaos_action)a), want[a]);
	assert_string_equal(chaos_action_name(CHAOS_ACT__COUNT), "?");
	assert_string_equal(chaos_action_name((enum chaos_action)-1), "?");

	static const struct row describe[] = {
		{ "x refuse", "refuse" },		{ "x error=EPIPE on=send", "error" },
		{ "x dns=nxdomain", "dns=nxdomain" },	{ "x dns=servfail", "dns=servfail" },
		{ "x dns=timeout", "dns=timeout" },	{ "x dns=1.2.3.4", "dns=ADDRESS" },
		{ "x close-delay=1s", "close-delay" }, { "x loss=1", "loss" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(describe); i++) {
		struct chaos_rule r;
		char buf[32];
		assert_int_equal(chaos_rule_parse(describe[i].in, &r, NULL, 0), 0);
		chaos_rule_describe_action(&r, buf, sizeof(buf));
		assert_string_equal(buf, describe[i].want);
	}
}

/* Rules built by hand (not by the parser) print without reading past tables. */
static void hand_made_rules(void **state)
{
	struct chaos_rule r;
	char buf[CHAOS_RULE_TEXT_MAX + 1];
	(void)state;

	assert_int_equal(chaos_rule_parse("x error=EPIPE on=send", &r, NULL, 0), 0);
	r.err = 0;
	assert_true(chaos_rule_format(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "x error=? on=send");
	assert_int_equal(chaos_rule_parse("x dns=1.2.3.4", &r, NULL, 0), 0);
	r.dns_family = 0;
	assert_true(chaos_rule_format(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "x dns=?");
	r.dns = (enum chaos_dns_kind)7;
	chaos_rule_describe_action(&r, buf, sizeof(buf));
	assert_string_equal(buf, "dns=?");
	assert_int_equal(chaos_rule_parse("10.0.0.1 refuse", &r, NULL, 0), 0);
	r.target.family = 0;
	assert_true(chaos_rule_format(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "?/32 refuse"); /* family unknown: no garbage */
}

/* A failed parse leaves no half-filled rule behind: the output is zeroed first. */
static void failed_parse_clears(void **state)
{
	struct chaos_rule r;
	(void)state;
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(chaos_rule_parse("x:0 refuse", &r, NULL, 0), -EINVAL);
	assert_int_equal(r.action, CHAOS_ACT_REFUSE);
	assert_int_equal(r.set, 0);
	assert_int_equal(r.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_fields),	    cmocka_unit_test(canonical_form),
		cmocka_unit_test(round_trip_table), cmocka_unit_test(longest_rule),
		cmocka_unit_test(action_names),	    cmocka_unit_test(failed_parse_clears),
		cmocka_unit_test(hand_made_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
