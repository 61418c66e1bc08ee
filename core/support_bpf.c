/* support_bpf.c -- which rules the eBPF path (chaos-attach) can carry out
 *
 * What the kernel hooks chaos-attach uses can do (see man/chaos-attach.1 and bpf/attach.bpf.c):
 * fail connect() and UDP sends with a chosen errno, mark a connection at connect time so its
 * packets are dropped (blackhole, stall, loss), its first SYN retransmitted late (delay) or its
 * sending paced and its receiving policed (bandwidth), and steer port 53 to a DNS responder.  What they cannot do: fail a
 * TCP send or any receive with a chosen errno, reset an established connection, or cut reads and
 * writes inside the process.  Those rules are refused here, with what is missing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rule.h"

#define MS 1000000ULL

int chaos_bpf_supported(const struct chaos_rule *r, char *err, size_t errlen)
{
	const struct chaos_target *t = &r->target;

	if (r->action != CHAOS_ACT_DNS && t->kind == CHAOS_HOST_NAME && strchr(t->name, '*')) {
		snprintf(err, errlen,
			 "host '%s' is a pattern: chaos-attach resolves host names when it attaches, "
			 "and a pattern cannot be resolved (name each host, or give an address or "
			 "CIDR block)",
			 t->name);
		return -ENOTSUP;
	}
	switch (r->action) {
	case CHAOS_ACT_REFUSE:
	case CHAOS_ACT_STALL:
	case CHAOS_ACT_LOSS:
		return 0;
	case CHAOS_ACT_ERROR:
		if (r->on & CHAOS_ON_RECV) {
			snprintf(err, errlen,
				 "error= on=%s: no kernel hook chaos-attach can use fails a receive "
				 "with a chosen errno (on=connect and, for 'udp:' targets, on=send "
				 "work; chaos-exec fails receives)",
				 r->on & CHAOS_ON_SEND ? "io" : "recv");
			return -ENOTSUP;
		}
		if ((r->on & CHAOS_ON_SEND) && t->proto != CHAOS_PROTO_UDP) {
			snprintf(err, errlen,
				 "error= on=send fails only UDP sends here: write the target as "
				 "'udp:...' (no kernel hook chaos-attach can use fails a TCP send "
				 "with a chosen errno; chaos-exec does)");
			return -ENOTSUP;
		}
		return 0;
	case CHAOS_ACT_RESET:
		snprintf(err, errlen,
			 "reset: no kernel hook chaos-attach can use resets an established "
			 "connection (chaos-exec does)");
		return -ENOTSUP;
	case CHAOS_ACT_DNS:
		if (r->dns == CHAOS_DNS_TIMEOUT && (r->set & CHAOS_SET_TIMEOUT)) {
			snprintf(err, errlen,
				 "dns=timeout timeout=: the responder just never answers, so the "
				 "resolver's own timeout applies (resolv.conf 'options timeout:N "
				 "attempts:N', RES_OPTIONS); drop timeout=");
			return -ENOTSUP;
		}
		return 0;
	case CHAOS_ACT_BLACKHOLE:
		if ((r->set & CHAOS_SET_TIMEOUT) && t->proto == CHAOS_PROTO_UDP) {
			snprintf(err, errlen,
				 "blackhole timeout=: the timeout ends a TCP connect, and the target "
				 "is 'udp:'");
			return -ENOTSUP;
		}
		if ((r->set & CHAOS_SET_TIMEOUT) && r->timeout_ns > (uint64_t)INT32_MAX * MS) {
			snprintf(err, errlen, "blackhole timeout= is longer than %d ms (TCP_USER_TIMEOUT)",
				 INT32_MAX);
			return -ENOTSUP;
		}
		return 0;
	case CHAOS_ACT_DELAY:
		if (t->proto == CHAOS_PROTO_UDP) {
			snprintf(err, errlen,
				 "delay= delays the TCP handshake here, and the target is 'udp:'");
			return -ENOTSUP;
		}
		if (r->on & (CHAOS_ON_SEND | CHAOS_ON_RECV)) {
			snprintf(err, errlen,
				 "delay= on=%s: chaos-attach delays only the TCP handshake (write "
				 "on=connect); no kernel hook it can use holds back responses",
				 r->set & CHAOS_SET_ON ? (r->on & CHAOS_ON_SEND ? "send/io" : "recv")
						       : "connect+recv (the default)");
			return -ENOTSUP;
		}
		if (r->delay_ns + r->jitter_ns > 120000 * MS) {
			snprintf(err, errlen,
				 "delay= (with jitter=) is longer than 120s, the kernel's longest SYN "
				 "retransmission timeout");
			return -ENOTSUP;
		}
		return 0;
	case CHAOS_ACT_BANDWIDTH:
		if (r->rate_bps >= UINT32_MAX) {
			snprintf(err, errlen,
				 "bandwidth= is 4GB/s or more, beyond what SO_MAX_PACING_RATE takes");
			return -ENOTSUP;
		}
		return 0;
	case CHAOS_ACT_SLICE:
		snprintf(err, errlen,
			 "slice=: short reads and writes happen inside the process, which no kernel "
			 "hook chaos-attach can use reaches");
		return -ENOTSUP;
	case CHAOS_ACT_CLOSE_DELAY:
		snprintf(err, errlen,
			 "close-delay=: a delayed close happens inside the process, which no kernel "
			 "hook chaos-attach can use reaches");
		return -ENOTSUP;
	case CHAOS_ACT__COUNT:
		break;
	}
	snprintf(err, errlen, "unknown action");
	return -ENOTSUP;
}
