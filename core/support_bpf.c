/* support_bpf.c -- which rules the eBPF path (chaos-attach) can carry out */
#include <errno.h>
#include <stdio.h>

#include "rule.h"

int chaos_bpf_supported(const struct chaos_rule *r, char *err, size_t errlen)
{
	char act[32];

	chaos_rule_describe_action(r, act, sizeof(act));
	snprintf(err, errlen, "%s is not supported by chaos-attach yet", act);
	return -ENOTSUP;
}
