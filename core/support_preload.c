/* support_preload.c -- which rules the preload library (chaos-exec, chaos-ctl) can carry out
 *
 * Everything but loss= (packets are the kernel's).  Faults in time act on TCP connections
 * (preload/gate.c, preload/steer.c): a 'udp:' target is refused for them rather than ignored.
 */
#include <errno.h>
#include <stdio.h>

#include "rule.h"

int chaos_preload_supported(const struct chaos_rule *r, char *err, size_t errlen)
{
	char act[32];

	switch (r->action) {
	case CHAOS_ACT_REFUSE:
	case CHAOS_ACT_ERROR:
	case CHAOS_ACT_RESET:
	case CHAOS_ACT_STALL:
	case CHAOS_ACT_BANDWIDTH:
	case CHAOS_ACT_SLICE:
	case CHAOS_ACT_CLOSE_DELAY:
	case CHAOS_ACT_DNS:
		return 0;
	case CHAOS_ACT_BLACKHOLE:
	case CHAOS_ACT_DELAY:
		if (r->target.proto == CHAOS_PROTO_UDP) {
			chaos_rule_describe_action(r, act, sizeof(act));
			snprintf(err, errlen,
				 "%s acts on TCP connections in the preload library, and the target "
				 "is 'udp:'%s",
				 act,
				 r->action == CHAOS_ACT_BLACKHOLE
					 ? " (chaos-attach drops UDP datagrams both ways)"
					 : "");
			return -ENOTSUP;
		}
		return 0;
	case CHAOS_ACT_LOSS:
		snprintf(err, errlen,
			 "loss= drops packets, which only the kernel can do: use chaos-attach");
		return -ENOTSUP;
	case CHAOS_ACT__COUNT:
		break;
	}
	chaos_rule_describe_action(r, act, sizeof(act));
	snprintf(err, errlen, "%s is not supported by the preload library", act);
	return -ENOTSUP;
}
