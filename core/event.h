/* event.h -- one JSON line per injected fault, the same from the preload and from eBPF
 *
 *   {"time":"2026-11-24T19:55:55.123456Z","source":"preload","pid":4242,"tid":4243,
 *    "call":"connect","dest":"127.0.0.1:6379","host":"redis.local","rule_id":1,
 *    "rule":"redis.local:6379 refuse","action":"refuse","result":"ECONNREFUSED"}
 *
 * "host" is null when no name is known; "result" says what the caller saw (an errno name, an
 * EAI_* code, the address a lookup was answered with, ...).  Fields are always in this order.
 */
#ifndef CHAOS_EVENT_H
#define CHAOS_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "rule.h"

struct chaos_event {
	uint64_t time_ns;   /* CLOCK_REALTIME */
	const char *source; /* "preload" or "bpf" */
	int pid, tid;
	const char *call;   /* "connect", "send", "getaddrinfo", ... */
	const char *dest;   /* "127.0.0.1:6379", "[::1]:80", or the name looked up */
	const char *host;   /* a host name of dest, or NULL */
	uint32_t rule_id;
	const char *rule;   /* canonical rule text */
	const char *action; /* chaos_action_name() */
	const char *result;
};

/* Format ev as one JSON line ending in '\n'.  Returns the length or -ENOSPC. */
int chaos_event_format(const struct chaos_event *ev, char *buf, size_t len);

/* "127.0.0.1:6379" or "[::1]:6379" */
int chaos_dest_format(const struct chaos_dest *d, char *buf, size_t len);

#endif
