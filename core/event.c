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

int chaos_event_format(const struct chaos_event *ev, char *buf, size_t len)
{
	struct out o = { buf, len, 0, 0 };
	char tmp[64];
	struct tm tm;
	time_t secs = (time_t)(ev->time_ns / 1000000000ULL);

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	gmtime_r(&secs, &tm);
	snprintf(tmp, sizeof(tmp), "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06uZ\"",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
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
