/* event.c -- one JSON line per injected fault, the same from the preload and from eBPF */
#include "event.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct out {
	char *buf;
	size_t len, used;
	int overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || o->used + n >= o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->buf + o->used, s, n);
	o->used += n;
	o->buf[o->used] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the bytes there are not one
 * (overlong forms, surrogates and code points beyond U+10FFFF are not). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp, min;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the terminating NUL */
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string: '"' and '\\' escaped, control characters as \u00XX, and bytes that are not
 * UTF-8 (a host name a program made up) as U+FFFD, so every line is valid JSON. */
static void put_str(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (!s) {
		puts_(o, "null");
		return;
	}
	put(o, "\"", 1);
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t n;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(o, e, 2);
			s++;
		} else if (c < 0x20 || c == 0x7f) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			put(o, e, 6);
			s++;
		} else if ((n = utf8_len((const unsigned char *)s)) == 0) {
			puts_(o, "\\ufffd");
			s++;
		} else {
			put(o, s, n);
			s += n;
		}
	}
	put(o, "\"", 1);
}

static void put_field(struct out *o, const char *key, const char *value)
{
	put(o, ",\"", 2);
	puts_(o, key);
	put(o, "\":", 2);
	put_str(o, value);
}

/* UTC calendar date of a day count since 1970-01-01, without gmtime_r: that takes glibc's
 * time-zone lock, and a fork child logging a fault would wait for it forever if another thread
 * of its parent held it at the fork.  (The civil-from-days algorithm, proleptic Gregorian.) */
static void utc_date(int64_t days, int *y, unsigned *m, unsigned *d)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int chaos_event_format(const struct chaos_event *ev, char *buf, size_t len)
{
	struct out o = { buf, len, 0, 0 };
	char tmp[64];
	uint64_t secs = ev->time_ns / 1000000000ULL;
	unsigned sod = (unsigned)(secs % 86400), mon, day;
	int year;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	utc_date((int64_t)(secs / 86400), &year, &mon, &day);
	snprintf(tmp, sizeof(tmp), "{\"time\":\"%04d-%02u-%02uT%02u:%02u:%02u.%06uZ\"", year, mon,
		 day, sod / 3600, sod / 60 % 60, sod % 60,
		 (unsigned)(ev->time_ns % 1000000000ULL / 1000));
	puts_(&o, tmp);
	put_field(&o, "source", ev->source);
	snprintf(tmp, sizeof(tmp), ",\"pid\":%d,\"tid\":%d", ev->pid, ev->tid);
	puts_(&o, tmp);
	put_field(&o, "call", ev->call);
	put_field(&o, "dest", ev->dest);
	put_field(&o, "host", ev->host);
	snprintf(tmp, sizeof(tmp), ",\"rule_id\":%u", (unsigned)ev->rule_id);
	puts_(&o, tmp);
	put_field(&o, "rule", ev->rule);
	put_field(&o, "action", ev->action);
	put_field(&o, "result", ev->result);
	puts_(&o, "}\n");
	return o.overflow ? -ENOSPC : (int)o.used;
}

int chaos_dest_format(const struct chaos_dest *d, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int n;
	if (!inet_ntop(d->family, d->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (d->family == AF_INET6)
		n = snprintf(buf, len, "[%s]:%u", a, (unsigned)d->port);
	else
		n = snprintf(buf, len, "%s:%u", a, (unsigned)d->port);
	return (n < 0 || (size_t)n >= len) ? -ENOSPC : n;
}
