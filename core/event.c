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

static void put_str(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (!s) {
		puts_(o, "null");
		return;
	}
	put(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(o, e, 2);
		} else if (c < 0x20) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			put(o, e, 6);
		} else {
			put(o, (const char *)&c, 1);
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
