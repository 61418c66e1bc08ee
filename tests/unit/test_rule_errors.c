/* test_rule_errors.c -- every message the rule parser can give: input -> exact message
 *
 * One row per way a rule can be wrong.  Messages name the token and what is wrong with it; the
 * caller adds where the rule came from (--fault 'RULE': ...), see test_config.c.
 */
#include "unit.h"

#include "rule.h"

UNIT_ROWS_DEFINE;

struct row {
	const char *in, *msg;
};

#define ACTIONS                                                                                   \
	"refuse, error=ERRNO, reset, dns=..., blackhole, stall, delay=..., bandwidth=..., "       \
	"slice=..., close-delay=... or loss=..."
#define OPTIONS "on=, bytes=, p=, count=, skip=, start=, for=, jitter=, timeout= or flap="
#define NOT_DURATION "is not a duration (like 250ms, 1.5s, 2m)"
#define NOT_PROB "is not a probability (like 0.25 or 25%)"

static const struct row rows[] = {
	/* the rule as a whole */
	{ "", "the rule is empty" },
	{ " \t\r\n ", "the rule is empty" },
	{ "x refuse\x01", "the rule has a control character (0x01)" },
	{ "x\x1brefuse", "the rule has a control character (0x1b)" },
	{ "x refuse \x7f", "the rule has a control character (0x7f)" },
	{ "x\frefuse", "the rule has a control character (0x0c)" },
	{ "redis:6379\xc2\xa0refuse",
	  "the rule has a non-breaking space (U+00A0) where a space should be" },

	/* a missing or misplaced target */
	{ "refuse", "missing target before 'refuse' (like 'redis.local:6379 refuse')" },
	{ "error=EPIPE", "missing target before 'error=EPIPE' (like 'redis.local:6379 error=EPIPE')" },
	{ "refuse p=0.5", "missing target before 'refuse' (like 'redis.local:6379 refuse')" },
	{ "refuse redis:6379",
	  "the rule starts with the action 'refuse': write the target first (like 'redis:6379 "
	  "refuse')" },
	{ "delay=1s api:80 p=1",
	  "the rule starts with the action 'delay=1s': write the target first (like 'api:80 "
	  "delay=1s')" },
	{ "p=0.5", "missing target and action before 'p=0.5' (like 'redis.local:6379 refuse p=0.5')" },
	{ "p=0.5 x refuse",
	  "missing target and action before 'p=0.5' (like 'redis.local:6379 refuse p=0.5')" },
	{ "foo=bar x", "missing target before 'foo=bar' (like 'redis.local:6379 foo=bar')" },

	/* target: shape */
	{ "tcp: refuse", "target 'tcp:' has no host" },
	{ "udp: refuse", "target 'udp:' has no host" },
	{ ":80 refuse", "target ':80' has no host (write '*:80' for any host)" },
	{ "tcp::80 refuse", "target 'tcp::80' has no host (write '*:80' for any host)" },
	{ "[::1 refuse", "target '[::1': '[' without ']'" },
	{ "[] refuse", "target '[]' has no address between '[' and ']'" },
	{ "[]:80 refuse", "target '[]:80' has no address between '[' and ']'" },
	{ "[1.2.3.4] refuse",
	  "target '[1.2.3.4]': brackets are for IPv6 addresses, '1.2.3.4' is not one" },
	{ "[redis] refuse", "target '[redis]': brackets are for IPv6 addresses, 'redis' is not one" },
	{ "[::1]80 refuse", "target '[::1]80': expected ':PORT' after ']'" },
	{ "[::1]/64 refuse", "target '[::1]/64': expected ':PORT' after ']'" },
	{ "fe80::1 refuse",
	  "target 'fe80::1': write an IPv6 address in brackets, as '[fe80::1]' or '[fe80::1]:PORT'" },
	{ "tcp:fd00::/8 refuse",
	  "target 'tcp:fd00::/8': write an IPv6 address in brackets, as '[fd00::/8]' or "
	  "'[fd00::/8]:PORT'" },
	{ "a:b:c refuse", "target 'a:b:c' has more than one ':'" },
	{ "tcp:udp:x:1 refuse", "target 'tcp:udp:x:1' has more than one ':'" },
	{ "foo/8 refuse",
	  "target 'foo/8': 'foo/8' is not a valid CIDR block (like 10.0.0.0/8)" },
	{ "10.0.0.0/8x refuse",
	  "target '10.0.0.0/8x': '10.0.0.0/8x' is not a valid CIDR block (like 10.0.0.0/8)" },

	/* target: addresses */
	{ "1.2.3.256 refuse", "'1.2.3.256' is not a valid IPv4 address" },
	{ "1.2.3 refuse", "'1.2.3' is not a valid IPv4 address" },
	{ "010.0.0.1 refuse", "'010.0.0.1' is not a valid IPv4 address" },
	{ ". refuse", "'.' is not a valid IPv4 address" },
	{ "1.2.3.4.5:80 refuse", "'1.2.3.4.5' is not a valid IPv4 address" },
	{ "[fe80::zz] refuse", "'fe80::zz' is not a valid IPv6 address" },
	{ "[1:2:3:4:5:6:7:8:9] refuse", "'1:2:3:4:5:6:7:8:9' is not a valid IPv6 address" },
	{ "[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb] refuse",
	  "'1111:2222:3333:4444:5555:6666:7777:8888:...' is not a valid IPv6 address" },
	{ "10.0.0.0/ refuse", "CIDR '10.0.0.0/': prefix '' is not a number" },
	{ "[fd00::/x] refuse", "CIDR 'fd00::/x': prefix 'x' is not a number" },
	{ "10.0.0.0/33 refuse", "CIDR '10.0.0.0/33': prefix '33' is out of range (0-32)" },
	{ "10.0.0.0/99999999999999999999999 refuse",
	  "CIDR '10.0.0.0/99999999999999999999999': prefix '99999999999999999999999' is out of "
	  "range (0-32)" },
	{ "[::/129] refuse", "CIDR '::/129': prefix '129' is out of range (0-128)" },
	{ "10.0.0.1/8 refuse", "CIDR '10.0.0.1/8' has bits set beyond /8 (the block is 10.0.0.0/8)" },
	{ "192.168.1.129/25 refuse",
	  "CIDR '192.168.1.129/25' has bits set beyond /25 (the block is 192.168.1.128/25)" },
	{ "0.0.0.1/0 refuse", "CIDR '0.0.0.1/0' has bits set beyond /0 (the block is 0.0.0.0/0)" },
	{ "[fd00::1/8] refuse", "CIDR 'fd00::1/8' has bits set beyond /8 (the block is fd00::/8)" },
	{ "[2001:db8::1/127] refuse",
	  "CIDR '2001:db8::1/127' has bits set beyond /127 (the block is 2001:db8::/127)" },

	/* target: names */
	{ "a..b refuse", "host name 'a..b' has an empty label" },
	{ ".a refuse", "host name '.a' has an empty label" },
	{ "a.b.. refuse", "host name 'a.b..' has an empty label" },
	{ "a!b refuse", "host name 'a!b' has an invalid character '!'" },
	{ "redis?:6379 refuse", "host name 'redis?' has an invalid character '?'" },
	{ "h\xc3\xa9llo refuse", "host name 'h\\xc3\\xa9llo' has an invalid character '\\xc3'" },
	{ "a]b refuse", "host name 'a]b' has an invalid character ']'" },
	{ "TCP:x refuse", "port 'x' is not a number" },

	/* target: ports */
	{ "x: refuse", "target 'x:' has no port after ':'" },
	{ "[::1]: refuse", "target '[::1]:' has no port after ':'" },
	{ "redis:abc refuse", "port 'abc' is not a number" },
	{ "redis:+80 refuse", "port '+80' is not a number" },
	{ "redis:0 refuse", "port '0' is out of range (1-65535)" },
	{ "redis:65536 refuse", "port '65536' is out of range (1-65535)" },
	{ "redis:99999999999999999999999 refuse",
	  "port '99999999999999999999999' is out of range (1-65535)" },
	{ "redis:-5 refuse", "port range '-5' has no first port" },
	{ "redis:5- refuse", "port range '5-' has no last port" },
	{ "redis:a-5 refuse", "port range 'a-5': 'a' is not a number" },
	{ "redis:5-b refuse", "port range '5-b': 'b' is not a number" },
	{ "redis:1-2-3 refuse", "port range '1-2-3': '2-3' is not a number" },
	{ "redis:0-5 refuse", "port range '0-5': '0' is out of range (1-65535)" },
	{ "redis:5-70000 refuse", "port range '5-70000': '70000' is out of range (1-65535)" },
	{ "redis:9-1 refuse", "port range '9-1' is backwards (9 > 1)" },
	{ "[::1]:80-79 refuse", "port range '80-79' is backwards (80 > 79)" },

	/* the action */
	{ "x", "missing action after target 'x' (expected " ACTIONS ")" },
	{ "x p=0.5", "missing action before option 'p=0.5' (expected " ACTIONS ")" },
	{ "x on=send error=EPIPE", "missing action before option 'on=send' (expected " ACTIONS ")" },
	{ "x refused", "unknown action 'refused' (expected " ACTIONS ")" },
	{ "x error:EPIPE", "unknown action 'error:EPIPE' (expected " ACTIONS ")" },
	{ "x Refuse", "unknown action 'Refuse' (expected " ACTIONS ")" },
	{ "x refuse=1", "action 'refuse' takes no value (got 'refuse=1')" },
	{ "x reset=", "action 'reset' takes no value (got 'reset=')" },
	{ "x blackhole=5s", "action 'blackhole' takes no value (got 'blackhole=5s')" },
	{ "x stall=1", "action 'stall' takes no value (got 'stall=1')" },
	{ "x error", "action 'error' needs a value (error=ERRNO)" },
	{ "x error=", "action 'error' needs a value (error=ERRNO)" },
	{ "x dns", "action 'dns' needs a value (dns=nxdomain|servfail|timeout|ADDRESS)" },
	{ "x delay", "action 'delay' needs a value (delay=DURATION)" },
	{ "x bandwidth=", "action 'bandwidth' needs a value (bandwidth=RATE)" },
	{ "x slice", "action 'slice' needs a value (slice=BYTES)" },
	{ "x close-delay", "action 'close-delay' needs a value (close-delay=DURATION)" },
	{ "x loss", "action 'loss' needs a value (loss=P)" },

	/* action values */
	{ "x error=EFOO", "error='EFOO' is not an errno name (like ECONNRESET)" },
	{ "x error=5", "error='5' is not an errno name (like ECONNRESET)" },
	{ "x error=econnreset", "error='econnreset': errno names are upper case ('ECONNRESET')" },
	{ "x error=Etimedout", "error='Etimedout': errno names are upper case ('ETIMEDOUT')" },
	{ "x error=ENOENT", "error='ENOENT' is not an errno a network call fails with (like ECONNRESET)" },
	{ "x dns=foo", "dns='foo' is not nxdomain, servfail, timeout or an IP address" },
	{ "x dns=NXDOMAIN", "dns='NXDOMAIN' is not nxdomain, servfail, timeout or an IP address" },
	{ "x dns=1.2.3", "dns='1.2.3' is not nxdomain, servfail, timeout or an IP address" },
	{ "x dns=[1.2.3.4", "dns='[1.2.3.4' is not nxdomain, servfail, timeout or an IP address" },
	{ "x dns=[]", "dns='[]' is not nxdomain, servfail, timeout or an IP address" },
	{ "x dns=[::1]:53", "dns='[::1]:53' is not nxdomain, servfail, timeout or an IP address" },
	{ "x dns=1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb",
	  "dns='1111:2222:3333:4444:5555:6666:7777:8888:...' is not nxdomain, servfail, timeout or "
	  "an IP address" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1:2 refuse",
	  "target 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' has more than one ':'" },
	{ "x delay=5", "delay='5' " NOT_DURATION },
	{ "x delay=5sec", "delay='5sec' " NOT_DURATION },
	{ "x delay=-1s", "delay='-1s' " NOT_DURATION },
	{ "x delay=1.s", "delay='1.s' " NOT_DURATION },
	{ "x delay=0ms", "delay='0ms' must be longer than 0" },
	{ "x delay=0.1ns", "delay='0.1ns' must be longer than 0" },
	{ "x delay=5124096h", "delay='5124096h' is out of range (at most 5124095h)" },
	{ "x close-delay=soon", "close-delay='soon' " NOT_DURATION },
	{ "x close-delay=0s", "close-delay='0s' must be longer than 0" },
	{ "x bandwidth=fast", "bandwidth='fast' is not a rate (like 64KiB/s, 1MB/s, 8Mbit/s)" },
	{ "x bandwidth=64KiB", "bandwidth='64KiB' is not a rate (like 64KiB/s, 1MB/s, 8Mbit/s)" },
	{ "x bandwidth=64kib/s", "bandwidth='64kib/s' is not a rate (like 64KiB/s, 1MB/s, 8Mbit/s)" },
	{ "x bandwidth=0B/s", "bandwidth='0B/s' is less than 1 byte per second" },
	{ "x bandwidth=7bit/s", "bandwidth='7bit/s' is less than 1 byte per second" },
	{ "x bandwidth=17179869184GiB/s",
	  "bandwidth='17179869184GiB/s' is out of range (at most 17179869183GiB/s)" },
	{ "x slice=big", "slice='big' is not a size (like 1, 512, 4KiB)" },
	{ "x slice=-1", "slice='-1' is not a size (like 1, 512, 4KiB)" },
	{ "x slice=0", "slice='0' must be at least 1 byte" },
	{ "x slice=0KiB", "slice='0KiB' must be at least 1 byte" },
	{ "x slice=17179869184GiB", "slice='17179869184GiB' is out of range (at most 17179869183GiB)" },
	{ "x loss=often", "loss='often' " NOT_PROB },
	{ "x loss=1.5", "loss='1.5' is out of range (0-1, or 0%-100%)" },
	{ "x loss=101%", "loss='101%' is out of range (0-1, or 0%-100%)" },
	{ "x loss=0.0000001", "loss='0.0000001' is below 0.000001, the finest step" },

	/* options */
	{ "x refuse reset", "'reset': a rule has one action, and this one already has 'refuse'" },
	{ "x refuse error=EPIPE",
	  "'error=EPIPE': a rule has one action, and this one already has 'refuse'" },
	{ "x delay=1s delay=2s", "'delay=2s': a rule has one action, and this one already has 'delay'" },
	{ "x refuse prob=0.5", "unknown option 'prob=0.5' (expected " OPTIONS ")" },
	{ "x refuse P=0.5", "unknown option 'P=0.5' (expected " OPTIONS ")" },
	{ "x refuse 0.5", "unknown option '0.5' (expected " OPTIONS ")" },
	{ "x refuse p", "option 'p' needs a value (p=...)" },
	{ "x refuse count=", "option 'count' needs a value (count=...)" },
	{ "x refuse p=1 p=1", "option 'p=' is given twice" },
	{ "x refuse for=1s count=1 for=2s", "option 'for=' is given twice" },
	{ "x error=ECONNRESET on=write", "on='write' is not connect, send, recv or io" },
	{ "x error=ECONNRESET on=", "option 'on' needs a value (on=...)" },
	{ "x error=ECONNRESET on=connect,send", "on='connect,send' is not connect, send, recv or io" },
	{ "x reset bytes=lots", "bytes='lots' is not a number of bytes (like 100 or 4KiB)" },
	{ "x reset bytes=17179869184GiB",
	  "bytes='17179869184GiB' is out of range (at most 17179869183GiB)" },
	{ "x refuse p=half", "p='half' " NOT_PROB },
	{ "x refuse p=-0.5", "p='-0.5' " NOT_PROB },
	{ "x refuse p=0.5%%", "p='0.5%%' " NOT_PROB },
	{ "x refuse p=1.01", "p='1.01' is out of range (0-1, or 0%-100%)" },
	{ "x refuse p=100.1%", "p='100.1%' is out of range (0-1, or 0%-100%)" },
	{ "x refuse p=99999999999999999999", "p='99999999999999999999' is out of range (0-1, or 0%-100%)" },
	{ "x refuse p=0.0000004", "p='0.0000004' is below 0.000001, the finest step" },
	{ "x refuse p=0.00001%", "p='0.00001%' is below 0.000001, the finest step" },
	{ "x refuse count=many", "count='many' is not a whole number" },
	{ "x refuse count=1.5", "count='1.5' is not a whole number" },
	{ "x refuse count=-1", "count='-1' is not a whole number" },
	{ "x refuse count=0", "count='0' must be at least 1" },
	{ "x refuse count=4294967296", "count='4294967296' is out of range (1-4294967295)" },
	{ "x refuse skip=some", "skip='some' is not a whole number" },
	{ "x refuse skip=4294967296", "skip='4294967296' is out of range (0-4294967295)" },
	{ "x refuse start=later", "start='later' " NOT_DURATION },
	{ "x refuse start=5124096h", "start='5124096h' is out of range (at most 5124095h)" },
	{ "x refuse for=ever", "for='ever' " NOT_DURATION },
	{ "x refuse for=0s", "for='0s' must be longer than 0" },
	{ "x delay=1s jitter=x", "jitter='x' " NOT_DURATION },
	{ "x blackhole timeout=0s", "timeout='0s' must be longer than 0" },
	{ "x blackhole timeout=3", "timeout='3' " NOT_DURATION },
	{ "x refuse flap=5s", "flap='5s' is not UP/DOWN (like flap=5s/2s)" },
	{ "x refuse flap=5s-2s", "flap='5s-2s' is not UP/DOWN (like flap=5s/2s)" },
	{ "x refuse flap=5/2s", "flap='5/2s': UP '5' " NOT_DURATION },
	{ "x refuse flap=5s/2", "flap='5s/2': DOWN '2' " NOT_DURATION },
	{ "x refuse flap=/2s", "flap='/2s': UP '' " NOT_DURATION },
	{ "x refuse flap=5s/", "flap='5s/': DOWN '' " NOT_DURATION },
	{ "x refuse flap=5s/2s/1s", "flap='5s/2s/1s': DOWN '2s/1s' " NOT_DURATION },
	{ "x refuse flap=0s/2s", "flap='0s/2s': UP '0s' must be longer than 0" },
	{ "x refuse flap=5s/0ms", "flap='5s/0ms': DOWN '0ms' must be longer than 0" },
	{ "x refuse flap=5124096h/1s",
	  "flap='5124096h/1s': UP '5124096h' is out of range (at most 5124095h)" },

	/* options that do not apply to the action */
	{ "x refuse on=send", "option 'on=' does not apply to refuse (only error= and delay= take it)" },
	{ "x reset on=recv", "option 'on=' does not apply to reset (only error= and delay= take it)" },
	{ "x stall on=io", "option 'on=' does not apply to stall (only error= and delay= take it)" },
	{ "x refuse bytes=10", "option 'bytes=' does not apply to refuse (only reset takes it)" },
	{ "x error=EPIPE on=send bytes=1",
	  "option 'bytes=' does not apply to error (only reset takes it)" },
	{ "x refuse jitter=1ms", "option 'jitter=' does not apply to refuse (only delay= takes it)" },
	{ "x refuse timeout=1s",
	  "option 'timeout=' does not apply to refuse (only blackhole and dns=timeout take it)" },
	{ "x dns=nxdomain timeout=1s",
	  "option 'timeout=' does not apply to dns=nxdomain (only blackhole and dns=timeout take "
	  "it)" },
	{ "x dns=1.2.3.4 timeout=1s",
	  "option 'timeout=' does not apply to dns=ADDRESS (only blackhole and dns=timeout take "
	  "it)" },
	{ "x dns=servfail on=connect",
	  "option 'on=' does not apply to dns=servfail (only error= and delay= take it)" },
	{ "x bandwidth=1MB/s jitter=1s on=send",
	  "option 'on=' does not apply to bandwidth (only error= and delay= take it)" },

	/* errnos the calls cannot return */
	{ "x error=EPIPE", "error=EPIPE: connect cannot fail with EPIPE (send can)" },
	{ "x error=EMSGSIZE", "error=EMSGSIZE: connect cannot fail with EMSGSIZE (send can)" },
	{ "x error=ENOTCONN", "error=ENOTCONN: connect cannot fail with ENOTCONN (send or recv can)" },
	{ "x error=ECONNABORTED on=send",
	  "error=ECONNABORTED on=send: send cannot fail with ECONNABORTED (connect can)" },
	{ "x error=EPIPE on=recv", "error=EPIPE on=recv: recv cannot fail with EPIPE (send can)" },
	{ "x error=EPIPE on=io", "error=EPIPE on=io: recv cannot fail with EPIPE (send can)" },
	{ "x error=EADDRINUSE on=io",
	  "error=EADDRINUSE on=io: send cannot fail with EADDRINUSE (connect can)" },
	{ "x error=ENOBUFS on=io",
	  "error=ENOBUFS on=io: recv cannot fail with ENOBUFS (connect or send can)" },

	/* dns= rules match names */
	{ "10.0.0.1 dns=nxdomain",
	  "dns=nxdomain matches host names, and the target '10.0.0.1' is an address" },
	{ "[fd00::/8] dns=servfail",
	  "dns=servfail matches host names, and the target '[fd00::/8]' is an address" },
	{ "api:53 dns=1.2.3.4",
	  "dns=ADDRESS matches host names, not ports: drop the ':PORT' from the target" },
	{ "tcp:api dns=nxdomain",
	  "dns=nxdomain matches host names, not protocols: drop the 'tcp:' from the target" },
	{ "udp:api dns=timeout",
	  "dns=timeout matches host names, not protocols: drop the 'udp:' from the target" },

	/* actions that need TCP */
	{ "udp:x reset", "reset needs a TCP connection, and the target is 'udp:'" },
	{ "udp:x stall", "stall needs a TCP connection, and the target is 'udp:'" },
	{ "udp:x bandwidth=1MB/s", "bandwidth needs a TCP connection, and the target is 'udp:'" },
	{ "udp:x slice=1", "slice needs a TCP connection, and the target is 'udp:'" },
	{ "udp:x close-delay=1s", "close-delay needs a TCP connection, and the target is 'udp:'" },

	/* jitter larger than the delay */
	{ "x delay=1s jitter=2s", "jitter=2s is larger than delay=1s" },
	{ "x delay=100ms jitter=100000001ns", "jitter=100000001ns is larger than delay=100ms" },
};

static void check_rows(const struct row *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct chaos_rule r;
		char err[CHAOS_ERR_MAX];
		memset(err, 0, sizeof(err));
		int rc = chaos_rule_parse(t[i].in, &r, err, sizeof(err));
		if (rc != -EINVAL)
			ROW_FAIL("'%s': accepted (rc %d), expected \"%s\"\n", t[i].in, rc, t[i].msg);
		else if (strcmp(err, t[i].msg) != 0)
			ROW_FAIL("'%s':\n   got \"%s\"\n  want \"%s\"\n", t[i].in, err, t[i].msg);
	}
}

static void every_message(void **state)
{
	(void)state;
	ROWS_BEGIN();
	check_rows(rows, ARRAY_SIZE(rows));
	ROWS_END();
}

/* Rows that need long or many words, built at run time. */
static void long_inputs(void **state)
{
	char text[2048], want[512], label64[65], name[300];
	struct chaos_rule r;
	char err[CHAOS_ERR_MAX];
	(void)state;

	memset(text, 'a', 513);
	text[513] = '\0';
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "the rule is longer than 512 characters");

	/* 512 characters is allowed as far as the length goes */
	memset(text, ' ', 512);
	memcpy(text, "x refuse", 8);
	text[512] = '\0';
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), 0);

	strcpy(text, "x refuse");
	for (int i = 0; i < 22; i++)
		strcat(text, " p=1");
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "option 'p=' is given twice"); /* 24 words: counted, then parsed */
	strcat(text, " p=1");
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "the rule has more than 24 words");

	/* a label of 63 is fine, 64 is not */
	memset(label64, 'l', 64);
	label64[64] = '\0';
	snprintf(text, sizeof(text), "%.63s.example refuse", label64);
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), 0);
	snprintf(text, sizeof(text), "%s.example refuse", label64);
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "host name 'llllllllllllllllllllllllllllllllllllllll...' has a "
				 "label longer than 63 characters");

	/* a name of 253 is fine (254 with the trailing dot), 254 is not */
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 4; i++)
		strcat(name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."); /* 63 */
	name[253] = '\0'; /* 252 + one more 'a' */
	memcpy(name + 252, "b", 2);
	assert_int_equal(strlen(name), 253);
	snprintf(text, sizeof(text), "%s refuse", name);
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), 0);
	assert_string_equal(r.target.name, name);
	snprintf(text, sizeof(text), "%s. refuse", name);
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), 0);
	snprintf(text, sizeof(text), "%sc refuse", name);
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "host name '%.40s...' is longer than 253 characters", name);
	assert_string_equal(err, want);

	/* long tokens are cut in messages, so every message fits */
	memset(text, 0, sizeof(text));
	strcpy(text, "x ");
	memset(text + 2, 'z', 300);
	assert_int_equal(chaos_rule_parse(text, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown action 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz...' "
				 "(expected " ACTIONS ")");
}

/* Every message is plain text, shorter than CHAOS_ERR_MAX, and a short buffer is never
 * overrun (messages are cut, the parse still fails). */
static void message_buffers(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct chaos_rule r;
		char err[CHAOS_ERR_MAX + 8];
		memset(err, 'X', sizeof(err));
		chaos_rule_parse(rows[i].in, &r, err, CHAOS_ERR_MAX);
		assert_true(strlen(err) < CHAOS_ERR_MAX - 1);
		assert_int_equal(err[CHAOS_ERR_MAX], 'X');
		for (const char *p = err; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);

		memset(err, 'X', sizeof(err));
		assert_int_equal(chaos_rule_parse(rows[i].in, &r, err, 8), -EINVAL);
		assert_int_equal(strlen(err), 7);
		assert_int_equal(err[8], 'X');
		assert_int_equal(chaos_rule_parse(rows[i].in, &r, NULL, 0), -EINVAL);
	}
	struct chaos_rule r;
	assert_int_equal(chaos_rule_parse(NULL, &r, NULL, 0), -EINVAL);
	char err[CHAOS_ERR_MAX];
	assert_int_equal(chaos_rule_parse(NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "the rule is empty");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_message),
		cmocka_unit_test(long_inputs),
		cmocka_unit_test(message_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
