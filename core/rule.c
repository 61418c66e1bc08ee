/* rule.c -- parse and print rules: `TARGET ACTION [KEY=VALUE ...]` (see man/chaos-rules.7) */
#include "rule.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errnos.h"
#include "units.h"

#define MAX_TOKENS 24
#define TOKEN_MAX CHAOS_RULE_TEXT_MAX

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A token as messages quote it: at most QUOTE_MAX characters (then "..."), and bytes outside
 * printable ASCII as \xNN, so that every message fits in CHAOS_ERR_MAX and is plain text. */
#define QUOTE_MAX 40
struct quote {
	char s[QUOTE_MAX + 8];
};

static const char *quote(struct quote *q, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t w = (c >= 0x20 && c < 0x7f) ? 1 : 4;
		if (o + w > QUOTE_MAX) {
			memcpy(q->s + o, "...", 4);
			return q->s;
		}
		if (w == 1) {
			q->s[o++] = (char)c;
		} else {
			q->s[o++] = '\\';
			q->s[o++] = 'x';
			q->s[o++] = hex[c >> 4];
			q->s[o++] = hex[c & 15];
		}
	}
	q->s[o] = '\0';
	return q->s;
}

static const char *const action_names[CHAOS_ACT__COUNT] = {
	[CHAOS_ACT_REFUSE] = "refuse",       [CHAOS_ACT_ERROR] = "error",
	[CHAOS_ACT_RESET] = "reset",         [CHAOS_ACT_DNS] = "dns",
	[CHAOS_ACT_BLACKHOLE] = "blackhole", [CHAOS_ACT_STALL] = "stall",
	[CHAOS_ACT_DELAY] = "delay",         [CHAOS_ACT_BANDWIDTH] = "bandwidth",
	[CHAOS_ACT_SLICE] = "slice",         [CHAOS_ACT_CLOSE_DELAY] = "close-delay",
	[CHAOS_ACT_LOSS] = "loss",
};

const char *chaos_action_name(enum chaos_action a)
{
	return (unsigned)a < CHAOS_ACT__COUNT ? action_names[a] : "?";
}

/* ---- target ---------------------------------------------------------------------------- */

/* One end of a port range (or a single port).  what is "port" or "port range 'LO-HI': ". */
static int parse_port_number(const char *s, uint64_t *out, const char *range, char *err,
			     size_t errlen)
{
	struct quote q1, q2;
	int r = chaos_parse_u64(s, 65535, out);

	if (r == -EINVAL && range)
		return fail(err, errlen, "port range '%s': '%s' is not a number", quote(&q1, range),
			    quote(&q2, s));
	if (r == -EINVAL)
		return fail(err, errlen, "port '%s' is not a number", quote(&q1, s));
	if ((r < 0 || *out == 0) && range)
		return fail(err, errlen, "port range '%s': '%s' is out of range (1-65535)",
			    quote(&q1, range), quote(&q2, s));
	if (r < 0 || *out == 0)
		return fail(err, errlen, "port '%s' is out of range (1-65535)", quote(&q1, s));
	return 0;
}

static int parse_port(const char *text, const char *s, struct chaos_target *t, char *err,
		      size_t errlen)
{
	uint64_t lo, hi;
	char buf[TOKEN_MAX];
	const char *dash;
	struct quote q;
	int r;

	if (strcmp(s, "*") == 0) {
		t->port_lo = t->port_hi = 0;
		return 0;
	}
	if (*s == '\0')
		return fail(err, errlen, "target '%s' has no port after ':'", quote(&q, text));
	dash = strchr(s, '-');
	if (!dash) {
		r = parse_port_number(s, &lo, NULL, err, errlen);
		if (r < 0)
			return r;
		t->port_lo = t->port_hi = (uint16_t)lo;
		return 0;
	}
	if (dash == s)
		return fail(err, errlen, "port range '%s' has no first port", quote(&q, s));
	if (dash[1] == '\0')
		return fail(err, errlen, "port range '%s' has no last port", quote(&q, s));
	if ((size_t)(dash - s) >= sizeof(buf))
		return fail(err, errlen, "port range '%s' is too long", quote(&q, s));
	memcpy(buf, s, (size_t)(dash - s));
	buf[dash - s] = '\0';
	r = parse_port_number(buf, &lo, s, err, errlen);
	if (r == 0)
		r = parse_port_number(dash + 1, &hi, s, err, errlen);
	if (r < 0)
		return r;
	if (lo > hi)
		return fail(err, errlen, "port range '%s' is backwards (%llu > %llu)", quote(&q, s),
			    (unsigned long long)lo, (unsigned long long)hi);
	t->port_lo = (uint16_t)lo;
	t->port_hi = (uint16_t)hi;
	return 0;
}

/* Are the bits beyond the prefix all zero? */
static bool prefix_clean(const uint8_t *addr, int alen, int prefix)
{
	for (int bit = prefix; bit < alen * 8; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

/* "1.2.3.4", "1.2.3.0/24", "::1", "fd00::/8" into t (no brackets here). */
static int parse_addr(const char *s, struct chaos_target *t, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	int alen;
	struct quote q1, q2;

	if (strlen(s) >= sizeof(buf))
		return fail(err, errlen, "'%s' is not a valid %s address", quote(&q1, s),
			    strchr(s, ':') ? "IPv6" : "IPv4");
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(t->addr, 0, sizeof(t->addr));
	if (inet_pton(AF_INET, buf, t->addr) == 1) {
		t->family = AF_INET;
		alen = 4;
	} else if (inet_pton(AF_INET6, buf, t->addr) == 1) {
		t->family = AF_INET6;
		alen = 16;
	} else {
		return fail(err, errlen, "'%s' is not a valid %s address", quote(&q1, buf),
			    strchr(buf, ':') ? "IPv6" : "IPv4");
	}
	t->prefix = (uint8_t)(alen * 8);
	if (slash) {
		uint64_t p;
		int r = chaos_parse_u64(slash + 1, (uint64_t)alen * 8, &p);
		if (r == -EINVAL)
			return fail(err, errlen, "CIDR '%s': prefix '%s' is not a number",
				    quote(&q1, s), quote(&q2, slash + 1));
		if (r < 0)
			return fail(err, errlen, "CIDR '%s': prefix '%s' is out of range (0-%d)",
				    quote(&q1, s), quote(&q2, slash + 1), alen * 8);
		t->prefix = (uint8_t)p;
		if (!prefix_clean(t->addr, alen, t->prefix)) {
			char a[INET6_ADDRSTRLEN];
			uint8_t net[16];
			for (int i = 0; i < alen; i++) {
				int keep = (int)t->prefix - i * 8;
				net[i] = keep >= 8 ? t->addr[i]
					 : keep <= 0 ? 0
						     : (uint8_t)(t->addr[i] & (0xff << (8 - keep)));
			}
			inet_ntop(t->family, net, a, sizeof(a));
			return fail(err, errlen, "CIDR '%s' has bits set beyond /%u (the block is %s/%u)",
				    quote(&q1, s), (unsigned)t->prefix, a, (unsigned)t->prefix);
		}
	}
	t->kind = CHAOS_HOST_ADDR;
	/* an IPv4-mapped IPv6 address or block is an IPv4 one */
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (t->family == AF_INET6 && t->prefix >= 96 && memcmp(t->addr, mapped, 12) == 0) {
		memmove(t->addr, t->addr + 12, 4);
		memset(t->addr + 4, 0, 12);
		t->family = AF_INET;
		t->prefix = (uint8_t)(t->prefix - 96);
	}
	return 0;
}

static bool all_digits_and_dots(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '.' || *s == '/'))
			return false;
	return true;
}

/* A host name or name glob: letters, digits, '-', '_' and '*', labels of 1-63 characters, at
 * most 253 in all.  Stored lower case, without the trailing dot and with runs of '*' as one;
 * a pattern that is only '*' is the any-host target. */
static int parse_name(const char *s, struct chaos_target *t, char *err, size_t errlen)
{
	size_t n = strlen(s), label = 0, o = 0;
	struct quote q;

	if (n && s[n - 1] == '.')
		n--; /* "redis.local." is "redis.local" */
	if (n == 0)
		return fail(err, errlen, "host '%s' is empty", quote(&q, s));
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return fail(err, errlen, "host name '%s' has an empty label",
					    quote(&q, s));
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '*')) {
			char ch[8];
			struct quote qc;
			ch[0] = c;
			ch[1] = '\0';
			return fail(err, errlen, "host name '%s' has an invalid character '%s'",
				    quote(&q, s), quote(&qc, ch));
		}
		if (++label > 63)
			return fail(err, errlen,
				    "host name '%s' has a label longer than 63 characters",
				    quote(&q, s));
	}
	if (label == 0) /* "a.b.." */
		return fail(err, errlen, "host name '%s' has an empty label", quote(&q, s));
	if (n > CHAOS_NAME_MAX - 1)
		return fail(err, errlen, "host name '%s' is longer than %d characters", quote(&q, s),
			    CHAOS_NAME_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '*' && o && t->name[o - 1] == '*')
			continue;
		t->name[o++] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
	}
	t->name[o] = '\0';
	t->kind = CHAOS_HOST_NAME;
	if (strcmp(t->name, "*") == 0) {
		t->kind = CHAOS_HOST_ANY;
		t->name[0] = '\0';
	}
	return 0;
}

static bool is_ipv6(const char *s)
{
	char buf[INET6_ADDRSTRLEN + 8];
	uint8_t a[16];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, a) == 1;
}

static int parse_target(const char *text, struct chaos_target *t, char *err, size_t errlen)
{
	char host[TOKEN_MAX];
	const char *s = text, *port = NULL;
	struct quote q1, q2, q3;
	int r;

	memset(t, 0, sizeof(*t));
	if (strncmp(s, "tcp:", 4) == 0) {
		t->proto = CHAOS_PROTO_TCP;
		s += 4;
	} else if (strncmp(s, "udp:", 4) == 0) {
		t->proto = CHAOS_PROTO_UDP;
		s += 4;
	}
	if (*s == '\0')
		return fail(err, errlen, "target '%s' has no host", quote(&q1, text));

	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return fail(err, errlen, "target '%s': '[' without ']'", quote(&q1, text));
		size_t n = (size_t)(close - s - 1);
		if (n >= sizeof(host))
			return fail(err, errlen, "target '%s' is too long", quote(&q1, text));
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (n == 0)
			return fail(err, errlen, "target '%s' has no address between '[' and ']'",
				    quote(&q1, text));
		if (!strchr(host, ':'))
			return fail(err, errlen,
				    "target '%s': brackets are for IPv6 addresses, '%s' is not one",
				    quote(&q1, text), quote(&q2, host));
		r = parse_addr(host, t, err, errlen);
		if (r < 0)
			return r;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return fail(err, errlen, "target '%s': expected ':PORT' after ']'",
				    quote(&q1, text));
	} else {
		const char *colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			if (is_ipv6(s))
				return fail(err, errlen,
					    "target '%s': write an IPv6 address in brackets, as "
					    "'[%s]' or '[%s]:PORT'",
					    quote(&q1, text), quote(&q2, s), quote(&q3, s));
			return fail(err, errlen, "target '%s' has more than one ':'",
				    quote(&q1, text));
		}
		size_t n = colon ? (size_t)(colon - s) : strlen(s);
		if (n >= sizeof(host))
			return fail(err, errlen, "target '%s' is too long", quote(&q1, text));
		memcpy(host, s, n);
		host[n] = '\0';
		if (colon)
			port = colon + 1;
		if (n == 0) {
			return fail(err, errlen, "target '%s' has no host (write '*%s' for any host)",
				    quote(&q1, text), quote(&q2, s));
		} else if (strcmp(host, "*") == 0) {
			t->kind = CHAOS_HOST_ANY;
		} else if (all_digits_and_dots(host)) {
			r = parse_addr(host, t, err, errlen);
			if (r < 0)
				return r;
		} else if (strchr(host, '/')) {
			return fail(err, errlen,
				    "target '%s': '%s' is not a valid CIDR block (like 10.0.0.0/8)",
				    quote(&q1, text), quote(&q2, host));
		} else {
			r = parse_name(host, t, err, errlen);
			if (r < 0)
				return r;
		}
	}
	if (port)
		return parse_port(text, port, t, err, errlen);
	return 0;
}

/* ---- action and options ------------------------------------------------------------------ */

/* Split "key=value" into key and value (value may be NULL). */
static void split_kv(char *tok, char **key, char **value)
{
	char *eq = strchr(tok, '=');
	*key = tok;
	*value = NULL;
	if (eq) {
		*eq = '\0';
		*value = eq + 1;
	}
}

static int parse_dns(const char *v, struct chaos_rule *r, char *err, size_t errlen)
{
	struct quote q;

	if (strcmp(v, "nxdomain") == 0) {
		r->dns = CHAOS_DNS_NXDOMAIN;
		return 0;
	}
	if (strcmp(v, "servfail") == 0) {
		r->dns = CHAOS_DNS_SERVFAIL;
		return 0;
	}
	if (strcmp(v, "timeout") == 0) {
		r->dns = CHAOS_DNS_TIMEOUT;
		return 0;
	}
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '[' && v[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, v + 1, n - 2);
		buf[n - 2] = '\0';
	} else if (n < sizeof(buf)) {
		memcpy(buf, v, n + 1);
	} else {
		buf[0] = '\0';
	}
	memset(r->dns_addr, 0, sizeof(r->dns_addr));
	if (inet_pton(AF_INET, buf, r->dns_addr) == 1)
		r->dns_family = AF_INET;
	else if (inet_pton(AF_INET6, buf, r->dns_addr) == 1)
		r->dns_family = AF_INET6;
	else
		return fail(err, errlen,
			    "dns='%s' is not nxdomain, servfail, timeout or an IP address",
			    quote(&q, v));
	r->dns = CHAOS_DNS_ADDRESS;
	return 0;
}

static int parse_on(const char *v, unsigned *on, char *err, size_t errlen)
{
	struct quote q;

	if (strcmp(v, "connect") == 0)
		*on = CHAOS_ON_CONNECT;
	else if (strcmp(v, "send") == 0)
		*on = CHAOS_ON_SEND;
	else if (strcmp(v, "recv") == 0)
		*on = CHAOS_ON_RECV;
	else if (strcmp(v, "io") == 0)
		*on = CHAOS_ON_IO;
	else
		return fail(err, errlen, "on='%s' is not connect, send, recv or io", quote(&q, v));
	return 0;
}

static const char *on_name(unsigned on)
{
	switch (on) {
	case CHAOS_ON_CONNECT:
		return "connect";
	case CHAOS_ON_SEND:
		return "send";
	case CHAOS_ON_RECV:
		return "recv";
	case CHAOS_ON_IO:
		return "io";
	case CHAOS_ON_CONNECT | CHAOS_ON_RECV:
		return "connect+recv";
	}
	return "?";
}

/* key='v' is not WHAT / is out of range (RANGE) */
static int bad_value(char *err, size_t errlen, const char *key, const char *v, int r,
		     const char *what, const char *range)
{
	struct quote q;
	if (r == -ERANGE)
		return fail(err, errlen, "%s='%s' is out of range (%s)", key, quote(&q, v), range);
	return fail(err, errlen, "%s='%s' is not %s", key, quote(&q, v), what);
}

/* The largest duration, in the largest unit that fits: what "out of range" messages quote. */
#define DURATION_RANGE "at most 5124095h"

static int parse_duration_opt(const char *key, const char *v, uint64_t *out, bool nonzero,
			      char *err, size_t errlen)
{
	struct quote q;
	int r = chaos_parse_duration(v, out);
	if (r < 0)
		return bad_value(err, errlen, key, v, r, "a duration (like 250ms, 1.5s, 2m)",
				 DURATION_RANGE);
	if (nonzero && *out == 0)
		return fail(err, errlen, "%s='%s' must be longer than 0", key, quote(&q, v));
	return 0;
}

/* p= and loss=: a probability; one that is not 0 must not round down to 0. */
static int parse_prob_opt(const char *key, const char *v, uint32_t *ppm, char *err,
			  size_t errlen)
{
	struct quote q;
	int rc = chaos_parse_prob(v, ppm);
	if (rc < 0)
		return bad_value(err, errlen, key, v, rc,
				 "a probability (like 0.25 or 25%)", "0-1, or 0%-100%");
	if (*ppm == 0 && strpbrk(v, "123456789"))
		return fail(err, errlen, "%s='%s' is below 0.000001, the finest step", key,
			    quote(&q, v));
	return 0;
}

static const char *const action_keys[] = { "refuse", "reset",	  "blackhole", "stall",
					   "error",  "dns",	  "delay",     "bandwidth",
					   "slice",  "close-delay", "loss" };
static const char *const option_keys[] = { "on",  "bytes", "p",	     "count",	"skip",
					   "start", "for",  "jitter", "timeout", "flap" };

/* Is the part of tok before any '=' one of keys? */
static bool key_in(const char *tok, const char *const *keys, size_t nkeys)
{
	size_t n = strcspn(tok, "=");
	for (size_t k = 0; k < nkeys; k++)
		if (strlen(keys[k]) == n && strncmp(tok, keys[k], n) == 0)
			return true;
	return false;
}

static bool is_action_key(const char *tok)
{
	return key_in(tok, action_keys, sizeof(action_keys) / sizeof(action_keys[0]));
}

static bool is_option_key(const char *tok)
{
	return key_in(tok, option_keys, sizeof(option_keys) / sizeof(option_keys[0]));
}

#define ACTION_LIST                                                                               \
	"refuse, error=ERRNO, reset, dns=..., blackhole, stall, delay=..., bandwidth=..., "       \
	"slice=..., close-delay=... or loss=..."

/* Parse the action token.  Returns 0 or -EINVAL. */
static int parse_action(char *tok, struct chaos_rule *r, char *err, size_t errlen)
{
	char *key, *v;
	int rc;
	char orig[TOKEN_MAX];
	struct quote q;

	snprintf(orig, sizeof(orig), "%s", tok);
	split_kv(tok, &key, &v);

	static const struct {
		const char *name;
		enum chaos_action act;
		bool takes_value;
		const char *what;
	} acts[] = {
		{ "refuse", CHAOS_ACT_REFUSE, false, NULL },
		{ "reset", CHAOS_ACT_RESET, false, NULL },
		{ "blackhole", CHAOS_ACT_BLACKHOLE, false, NULL },
		{ "stall", CHAOS_ACT_STALL, false, NULL },
		{ "error", CHAOS_ACT_ERROR, true, "ERRNO" },
		{ "dns", CHAOS_ACT_DNS, true, "nxdomain|servfail|timeout|ADDRESS" },
		{ "delay", CHAOS_ACT_DELAY, true, "DURATION" },
		{ "bandwidth", CHAOS_ACT_BANDWIDTH, true, "RATE" },
		{ "slice", CHAOS_ACT_SLICE, true, "BYTES" },
		{ "close-delay", CHAOS_ACT_CLOSE_DELAY, true, "DURATION" },
		{ "loss", CHAOS_ACT_LOSS, true, "P" },
	};
	size_t i;
	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (strcmp(key, acts[i].name) == 0)
			break;
	if (i == sizeof(acts) / sizeof(acts[0])) {
		for (size_t k = 0; k < sizeof(option_keys) / sizeof(option_keys[0]); k++)
			if (strcmp(key, option_keys[k]) == 0)
				return fail(err, errlen,
					    "missing action before option '%s' (expected " ACTION_LIST
					    ")",
					    quote(&q, orig));
		return fail(err, errlen, "unknown action '%s' (expected " ACTION_LIST ")",
			    quote(&q, orig));
	}
	r->action = acts[i].act;
	if (!acts[i].takes_value) {
		if (v)
			return fail(err, errlen, "action '%s' takes no value (got '%s')", key,
				    quote(&q, orig));
		return 0;
	}
	if (!v || !*v)
		return fail(err, errlen, "action '%s' needs a value (%s=%s)", key, key,
			    acts[i].what);

	switch (r->action) {
	case CHAOS_ACT_ERROR:
		r->err = chaos_errno_parse(v);
		if (r->err < 0) {
			char up[32];
			size_t n = strlen(v);
			if (n < sizeof(up)) {
				for (size_t k = 0; k <= n; k++)
					up[k] = (char)((v[k] >= 'a' && v[k] <= 'z') ? v[k] - 32
										    : v[k]);
				if (chaos_errno_parse(up) >= 0)
					return fail(err, errlen,
						    "error='%s': errno names are upper case ('%s')",
						    quote(&q, v), up);
			}
			/* a real errno, just not one of a network call's */
			for (int e = 1; e < 4096; e++) {
				const char *name = strerrorname_np(e);
				if (name && strcmp(name, v) == 0)
					return fail(err, errlen,
						    "error='%s' is not an errno a network call fails "
						    "with (like ECONNRESET)",
						    quote(&q, v));
			}
			return fail(err, errlen, "error='%s' is not an errno name (like ECONNRESET)",
				    quote(&q, v));
		}
		return 0;
	case CHAOS_ACT_DNS:
		return parse_dns(v, r, err, errlen);
	case CHAOS_ACT_DELAY:
		return parse_duration_opt("delay", v, &r->delay_ns, true, err, errlen);
	case CHAOS_ACT_CLOSE_DELAY:
		return parse_duration_opt("close-delay", v, &r->close_delay_ns, true, err, errlen);
	case CHAOS_ACT_BANDWIDTH:
		rc = chaos_parse_rate(v, &r->rate_bps);
		if (rc < 0)
			return bad_value(err, errlen, "bandwidth", v, rc,
					 "a rate (like 64KiB/s, 1MB/s, 8Mbit/s)",
					 "at most 17179869183GiB/s");
		if (r->rate_bps == 0)
			return fail(err, errlen, "bandwidth='%s' is less than 1 byte per second",
				    quote(&q, v));
		return 0;
	case CHAOS_ACT_SLICE:
		rc = chaos_parse_size(v, &r->slice);
		if (rc < 0)
			return bad_value(err, errlen, "slice", v, rc, "a size (like 1, 512, 4KiB)",
					 "at most 17179869183GiB");
		if (r->slice == 0)
			return fail(err, errlen, "slice='%s' must be at least 1 byte", quote(&q, v));
		return 0;
	case CHAOS_ACT_LOSS:
		return parse_prob_opt("loss", v, &r->loss_ppm, err, errlen);
	default:
		return 0;
	}
}

static int parse_option(char *tok, struct chaos_rule *r, char *err, size_t errlen)
{
	char *key, *v;
	int rc;
	unsigned bit;
	char orig[TOKEN_MAX];
	struct quote q, q2;

	snprintf(orig, sizeof(orig), "%s", tok);
	split_kv(tok, &key, &v);

	static const unsigned bits[] = { CHAOS_SET_ON,	  CHAOS_SET_BYTES,  CHAOS_SET_P,
					 CHAOS_SET_COUNT, CHAOS_SET_SKIP,   CHAOS_SET_START,
					 CHAOS_SET_FOR,	  CHAOS_SET_JITTER, CHAOS_SET_TIMEOUT,
					 CHAOS_SET_FLAP };
	size_t i;
	for (i = 0; i < sizeof(option_keys) / sizeof(option_keys[0]); i++)
		if (strcmp(key, option_keys[i]) == 0)
			break;
	if (i == sizeof(option_keys) / sizeof(option_keys[0])) {
		if (is_action_key(key))
			return fail(err, errlen,
				    "'%s': a rule has one action, and this one already has '%s'",
				    quote(&q, orig), chaos_action_name(r->action));
		return fail(err, errlen,
			    "unknown option '%s' (expected on=, bytes=, p=, count=, skip=, start=, "
			    "for=, jitter=, timeout= or flap=)",
			    quote(&q, orig));
	}
	bit = bits[i];
	if (!v || !*v)
		return fail(err, errlen, "option '%s' needs a value (%s=...)", key, key);
	if (r->set & bit)
		return fail(err, errlen, "option '%s=' is given twice", key);
	r->set |= bit;

	switch (bit) {
	case CHAOS_SET_ON:
		return parse_on(v, &r->on, err, errlen);
	case CHAOS_SET_BYTES:
		rc = chaos_parse_size(v, &r->bytes);
		if (rc < 0)
			return bad_value(err, errlen, "bytes", v, rc,
					 "a number of bytes (like 100 or 4KiB)",
					 "at most 17179869183GiB");
		return 0;
	case CHAOS_SET_P:
		return parse_prob_opt("p", v, &r->p_ppm, err, errlen);
	case CHAOS_SET_COUNT:
		rc = chaos_parse_u64(v, UINT32_MAX, &r->count);
		if (rc < 0)
			return bad_value(err, errlen, "count", v, rc, "a whole number",
					 "1-4294967295");
		if (r->count == 0)
			return fail(err, errlen, "count='%s' must be at least 1", quote(&q, v));
		return 0;
	case CHAOS_SET_SKIP:
		rc = chaos_parse_u64(v, UINT32_MAX, &r->skip);
		if (rc < 0)
			return bad_value(err, errlen, "skip", v, rc, "a whole number",
					 "0-4294967295");
		return 0;
	case CHAOS_SET_START:
		return parse_duration_opt("start", v, &r->start_ns, false, err, errlen);
	case CHAOS_SET_FOR:
		return parse_duration_opt("for", v, &r->for_ns, true, err, errlen);
	case CHAOS_SET_JITTER:
		return parse_duration_opt("jitter", v, &r->jitter_ns, false, err, errlen);
	case CHAOS_SET_TIMEOUT:
		return parse_duration_opt("timeout", v, &r->timeout_ns, true, err, errlen);
	case CHAOS_SET_FLAP: {
		char *slash = strchr(v, '/');
		if (!slash)
			return fail(err, errlen, "flap='%s' is not UP/DOWN (like flap=5s/2s)",
				    quote(&q, v));
		*slash = '\0';
		const char *half[2] = { v, slash + 1 };
		uint64_t *dst[2] = { &r->flap_up_ns, &r->flap_down_ns };
		for (int k = 0; k < 2; k++) {
			rc = chaos_parse_duration(half[k], dst[k]);
			if (rc == 0 && *dst[k] == 0)
				rc = -EDOM;
			if (rc < 0) {
				quote(&q2, half[k]);
				*slash = '/';
				return fail(err, errlen, "flap='%s': %s '%s' %s", quote(&q, v),
					    k ? "DOWN" : "UP", q2.s,
					    rc == -EDOM     ? "must be longer than 0"
					    : rc == -ERANGE ? "is out of range (" DURATION_RANGE ")"
							    : "is not a duration (like 250ms, 1.5s, 2m)");
			}
		}
		*slash = '/';
		return 0;
	}
	}
	return 0;
}

/* Which options an action accepts beyond the triggers (p, count, skip, start, for, flap). */
static unsigned action_options(const struct chaos_rule *r)
{
	switch (r->action) {
	case CHAOS_ACT_ERROR:
		return CHAOS_SET_ON;
	case CHAOS_ACT_RESET:
		return CHAOS_SET_BYTES;
	case CHAOS_ACT_DELAY:
		return CHAOS_SET_ON | CHAOS_SET_JITTER;
	case CHAOS_ACT_BLACKHOLE:
		return CHAOS_SET_TIMEOUT;
	case CHAOS_ACT_DNS:
		return r->dns == CHAOS_DNS_TIMEOUT ? CHAOS_SET_TIMEOUT : 0;
	default:
		return 0;
	}
}

/* The option's name and which actions take it, for "does not apply" messages. */
static const char *option_name(unsigned bit, const char **takers)
{
	switch (bit) {
	case CHAOS_SET_ON:
		*takers = "error= and delay=";
		return "on";
	case CHAOS_SET_BYTES:
		*takers = "reset";
		return "bytes";
	case CHAOS_SET_JITTER:
		*takers = "delay=";
		return "jitter";
	case CHAOS_SET_TIMEOUT:
		*takers = "blackhole and dns=timeout";
		return "timeout";
	}
	*takers = "?";
	return "?";
}

static void action_display(const struct chaos_rule *r, char *buf, size_t len)
{
	if (r->action == CHAOS_ACT_DNS) {
		static const char *const k[] = { "nxdomain", "servfail", "timeout", "ADDRESS" };
		snprintf(buf, len, "dns=%s", (unsigned)r->dns < 4 ? k[r->dns] : "?");
	} else {
		snprintf(buf, len, "%s", chaos_action_name(r->action));
	}
}

/* error=ERRNO where a call in r->on cannot return it: name that call, and the calls that can. */
static int bad_errno(const struct chaos_rule *r, char *err, size_t errlen)
{
	static const struct {
		unsigned on;
		const char *name;
	} calls[] = { { CHAOS_ON_CONNECT, "connect" },
		      { CHAOS_ON_SEND, "send" },
		      { CHAOS_ON_RECV, "recv" } };
	const char *name = chaos_errno_name(r->err), *cannot = "?";
	char can[64] = "";
	char on[32] = "";

	for (size_t i = 0; i < 3; i++) {
		if ((r->on & calls[i].on) && !chaos_errno_valid_for(r->err, calls[i].on)) {
			cannot = calls[i].name;
			break;
		}
	}
	for (size_t i = 0; i < 3; i++) {
		if (!chaos_errno_valid_for(r->err, calls[i].on))
			continue;
		size_t n = strlen(can);
		snprintf(can + n, sizeof(can) - n, "%s%s", n ? " or " : "", calls[i].name);
	}
	if (r->set & CHAOS_SET_ON)
		snprintf(on, sizeof(on), " on=%s", on_name(r->on));
	return fail(err, errlen, "error=%s%s: %s cannot fail with %s (%s can)", name, on, cannot,
		    name, can);
}

static int check_rule(struct chaos_rule *r, char *err, size_t errlen)
{
	char act[32], a[INET6_ADDRSTRLEN + 16];
	unsigned extra = r->set & (CHAOS_SET_ON | CHAOS_SET_BYTES | CHAOS_SET_JITTER |
				   CHAOS_SET_TIMEOUT);
	unsigned bad = extra & ~action_options(r);
	const char *takers;

	action_display(r, act, sizeof(act));
	if (bad) {
		unsigned bit = bad & -bad;
		const char *name = option_name(bit, &takers);
		return fail(err, errlen, "option '%s=' does not apply to %s (only %s take%s it)",
			    name, act, takers, strstr(takers, " and ") ? "" : "s");
	}

	/* default calls each action acts on */
	if (!(r->set & CHAOS_SET_ON)) {
		switch (r->action) {
		case CHAOS_ACT_REFUSE:
		case CHAOS_ACT_ERROR:
		case CHAOS_ACT_BLACKHOLE:
			r->on = CHAOS_ON_CONNECT;
			break;
		case CHAOS_ACT_DELAY:
			r->on = CHAOS_ON_CONNECT | CHAOS_ON_RECV; /* the connect and every response */
			break;
		case CHAOS_ACT_DNS:
			r->on = CHAOS_ON_DNS;
			break;
		case CHAOS_ACT_CLOSE_DELAY:
			r->on = CHAOS_ON_CLOSE;
			break;
		case CHAOS_ACT_STALL:
			r->on = CHAOS_ON_CONNECT | CHAOS_ON_IO;
			break;
		default:
			r->on = CHAOS_ON_IO;
			break;
		}
	}
	if (!(r->set & CHAOS_SET_P))
		r->p_ppm = 1000000;

	if (r->action == CHAOS_ACT_ERROR && !chaos_errno_valid_for(r->err, r->on))
		return bad_errno(r, err, errlen);
	if (r->action == CHAOS_ACT_DNS) {
		if (r->target.kind == CHAOS_HOST_ADDR) {
			chaos_target_format(&r->target, a, sizeof(a));
			return fail(err, errlen,
				    "%s matches host names, and the target '%s' is an address", act,
				    a);
		}
		if (r->target.port_lo)
			return fail(err, errlen,
				    "%s matches host names, not ports: drop the ':PORT' from the "
				    "target",
				    act);
		if (r->target.proto != CHAOS_PROTO_ANY)
			return fail(err, errlen,
				    "%s matches host names, not protocols: drop the '%s' from the "
				    "target",
				    act, r->target.proto == CHAOS_PROTO_TCP ? "tcp:" : "udp:");
	}
	if ((r->action == CHAOS_ACT_RESET || r->action == CHAOS_ACT_STALL ||
	     r->action == CHAOS_ACT_BANDWIDTH || r->action == CHAOS_ACT_SLICE ||
	     r->action == CHAOS_ACT_CLOSE_DELAY) &&
	    r->target.proto == CHAOS_PROTO_UDP)
		return fail(err, errlen, "%s needs a TCP connection, and the target is 'udp:'",
			    act);
	if ((r->set & CHAOS_SET_JITTER) && r->jitter_ns > r->delay_ns) {
		char j[32], d[32];
		chaos_format_duration(r->jitter_ns, j, sizeof(j));
		chaos_format_duration(r->delay_ns, d, sizeof(d));
		return fail(err, errlen, "jitter=%s is larger than delay=%s", j, d);
	}
	return 0;
}

int chaos_rule_parse(const char *text, struct chaos_rule *out, char *err, size_t errlen)
{
	char buf[CHAOS_RULE_TEXT_MAX + 1];
	char *tokens[MAX_TOKENS];
	int n = 0, rc;
	size_t len;
	struct quote q, q2, q3;

	memset(out, 0, sizeof(*out));
	if (!text)
		return fail(err, errlen, "the rule is empty");
	len = strlen(text);
	if (len > CHAOS_RULE_TEXT_MAX)
		return fail(err, errlen, "the rule is longer than %d characters",
			    CHAOS_RULE_TEXT_MAX);
	for (const char *p = text; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != ' ' && *p != '\t' && *p != '\n' &&
		     *p != '\r') ||
		    *p == 0x7f)
			return fail(err, errlen, "the rule has a control character (0x%02x)",
				    (unsigned char)*p);
	if (strstr(text, "\xc2\xa0")) /* pasted from a web page or a word processor */
		return fail(err, errlen,
			    "the rule has a non-breaking space (U+00A0) where a space should be");
	memcpy(buf, text, len + 1);
	for (char *p = buf; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			*p++ = '\0';
		if (!*p)
			break;
		if (n == MAX_TOKENS)
			return fail(err, errlen, "the rule has more than %d words", MAX_TOKENS);
		tokens[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
	}
	if (n == 0)
		return fail(err, errlen, "the rule is empty");
	if (is_action_key(tokens[0])) {
		/* "refuse", "error=EPIPE redis:80", "refuse p=0.5": the target is missing or second;
		 * "reset refuse" is a host named reset */
		bool second_is_option = n >= 2 && strchr(tokens[1], '=') && !is_action_key(tokens[1]);
		if (n >= 2 && !strchr(tokens[1], '=') && !is_action_key(tokens[1]))
			return fail(err, errlen,
				    "the rule starts with the action '%s': write the target first "
				    "(like '%s %s')",
				    quote(&q, tokens[0]), quote(&q2, tokens[1]), quote(&q3, tokens[0]));
		if (n == 1 || second_is_option || strchr(tokens[0], '='))
			return fail(err, errlen,
				    "missing target before '%s' (like 'redis.local:6379 %s')",
				    quote(&q, tokens[0]), quote(&q2, tokens[0]));
	} else if (strchr(tokens[0], '=') && !strchr(tokens[0], '[')) {
		if (is_option_key(tokens[0]))
			return fail(err, errlen,
				    "missing target and action before '%s' (like "
				    "'redis.local:6379 refuse %s')",
				    quote(&q, tokens[0]), quote(&q2, tokens[0]));
		return fail(err, errlen, "missing target before '%s' (like 'redis.local:6379 %s')",
			    quote(&q, tokens[0]), quote(&q2, tokens[0]));
	}
	rc = parse_target(tokens[0], &out->target, err, errlen);
	if (rc < 0)
		return rc;
	if (n < 2)
		return fail(err, errlen, "missing action after target '%s' (expected " ACTION_LIST
			    ")",
			    quote(&q, tokens[0]));
	rc = parse_action(tokens[1], out, err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 2; i < n; i++) {
		rc = parse_option(tokens[i], out, err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = check_rule(out, err, errlen);
	if (rc < 0)
		return rc;
	/* what we accept, we can print: the canonical form must fit where rules are kept */
	if (chaos_rule_format(out, buf, sizeof(buf)) < 0)
		return fail(err, errlen, "the rule is longer than %d characters in canonical form",
			    CHAOS_RULE_TEXT_MAX);
	return 0;
}

/* ---- printing ---------------------------------------------------------------------------- */

struct sbuf {
	char *buf;
	size_t len, used;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	if (sb->overflow)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(sb->buf + sb->used, sb->len - sb->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sb->len - sb->used) {
		sb->overflow = true;
		return;
	}
	sb->used += (size_t)n;
}

static void sb_target(struct sbuf *sb, const struct chaos_target *t)
{
	char a[INET6_ADDRSTRLEN];

	if (t->proto == CHAOS_PROTO_TCP)
		sb_printf(sb, "tcp:");
	else if (t->proto == CHAOS_PROTO_UDP)
		sb_printf(sb, "udp:");
	switch (t->kind) {
	case CHAOS_HOST_ANY:
		sb_printf(sb, "*");
		break;
	case CHAOS_HOST_NAME:
		sb_printf(sb, "%s", t->name);
		/* a host named tcp or udp, with a port: "tcp.:80", not the protocol "tcp:80" */
		if (t->proto == CHAOS_PROTO_ANY && t->port_lo &&
		    (strcmp(t->name, "tcp") == 0 || strcmp(t->name, "udp") == 0))
			sb_printf(sb, ".");
		break;
	case CHAOS_HOST_ADDR:
		if (!inet_ntop(t->family, t->addr, a, sizeof(a)))
			strcpy(a, "?");
		if (t->family == AF_INET6)
			sb_printf(sb, "[%s", a);
		else
			sb_printf(sb, "%s", a);
		if (t->prefix != (t->family == AF_INET ? 32 : 128))
			sb_printf(sb, "/%u", (unsigned)t->prefix);
		if (t->family == AF_INET6)
			sb_printf(sb, "]");
		break;
	}
	if (t->port_lo == t->port_hi && t->port_lo)
		sb_printf(sb, ":%u", (unsigned)t->port_lo);
	else if (t->port_lo || t->port_hi)
		sb_printf(sb, ":%u-%u", (unsigned)t->port_lo, (unsigned)t->port_hi);
}

int chaos_target_format(const struct chaos_target *t, char *buf, size_t len)
{
	struct sbuf sb = { buf, len, 0, false };
	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	sb_target(&sb, t);
	return sb.overflow ? -ENOSPC : (int)sb.used;
}

static void sb_duration(struct sbuf *sb, const char *key, uint64_t ns)
{
	char d[32];
	chaos_format_duration(ns, d, sizeof(d));
	sb_printf(sb, "%s%s", key, d);
}

int chaos_rule_format(const struct chaos_rule *r, char *buf, size_t len)
{
	struct sbuf sb = { buf, len, 0, false };
	char tmp[64], a[INET6_ADDRSTRLEN];

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	sb_target(&sb, &r->target);
	sb_printf(&sb, " ");
	switch (r->action) {
	case CHAOS_ACT_ERROR:
		sb_printf(&sb, "error=%s",
			  chaos_errno_name(r->err) ? chaos_errno_name(r->err) : "?");
		break;
	case CHAOS_ACT_DNS:
		switch (r->dns) {
		case CHAOS_DNS_NXDOMAIN:
			sb_printf(&sb, "dns=nxdomain");
			break;
		case CHAOS_DNS_SERVFAIL:
			sb_printf(&sb, "dns=servfail");
			break;
		case CHAOS_DNS_TIMEOUT:
			sb_printf(&sb, "dns=timeout");
			break;
		case CHAOS_DNS_ADDRESS:
			if (!inet_ntop(r->dns_family, r->dns_addr, a, sizeof(a)))
				strcpy(a, "?");
			sb_printf(&sb, r->dns_family == AF_INET6 ? "dns=[%s]" : "dns=%s", a);
			break;
		}
		break;
	case CHAOS_ACT_DELAY:
		sb_duration(&sb, "delay=", r->delay_ns);
		break;
	case CHAOS_ACT_CLOSE_DELAY:
		sb_duration(&sb, "close-delay=", r->close_delay_ns);
		break;
	case CHAOS_ACT_BANDWIDTH:
		chaos_format_rate(r->rate_bps, tmp, sizeof(tmp));
		sb_printf(&sb, "bandwidth=%s", tmp);
		break;
	case CHAOS_ACT_SLICE:
		chaos_format_size(r->slice, tmp, sizeof(tmp));
		sb_printf(&sb, "slice=%s", tmp);
		break;
	case CHAOS_ACT_LOSS:
		chaos_format_prob(r->loss_ppm, tmp, sizeof(tmp));
		sb_printf(&sb, "loss=%s", tmp);
		break;
	default:
		sb_printf(&sb, "%s", chaos_action_name(r->action));
		break;
	}
	if (r->set & CHAOS_SET_ON)
		sb_printf(&sb, " on=%s", on_name(r->on));
	if (r->set & CHAOS_SET_BYTES)
		sb_printf(&sb, " bytes=%llu", (unsigned long long)r->bytes);
	if (r->set & CHAOS_SET_JITTER)
		sb_duration(&sb, " jitter=", r->jitter_ns);
	if (r->set & CHAOS_SET_TIMEOUT)
		sb_duration(&sb, " timeout=", r->timeout_ns);
	if (r->set & CHAOS_SET_P) {
		chaos_format_prob(r->p_ppm, tmp, sizeof(tmp));
		sb_printf(&sb, " p=%s", tmp);
	}
	if (r->set & CHAOS_SET_COUNT)
		sb_printf(&sb, " count=%llu", (unsigned long long)r->count);
	if (r->set & CHAOS_SET_SKIP)
		sb_printf(&sb, " skip=%llu", (unsigned long long)r->skip);
	if (r->set & CHAOS_SET_START)
		sb_duration(&sb, " start=", r->start_ns);
	if (r->set & CHAOS_SET_FOR)
		sb_duration(&sb, " for=", r->for_ns);
	if (r->set & CHAOS_SET_FLAP) {
		sb_duration(&sb, " flap=", r->flap_up_ns);
		sb_duration(&sb, "/", r->flap_down_ns);
	}
	return sb.overflow ? -ENOSPC : (int)sb.used;
}

/* ---- front ends ---------------------------------------------------------------------------- */

void chaos_rule_describe_action(const struct chaos_rule *r, char *buf, size_t len)
{
	action_display(r, buf, len);
}

int chaos_rule_supported(const struct chaos_rule *r, enum chaos_frontend fe, char *err,
			 size_t errlen)
{
	switch (fe) {
	case CHAOS_FE_PRELOAD:
		return chaos_preload_supported(r, err, errlen);
	case CHAOS_FE_BPF:
		return chaos_bpf_supported(r, err, errlen);
	}
	snprintf(err, errlen, "unknown front end");
	return -ENOTSUP;
}
