/* getnameinfo(3): reverse lookups agree with the forward faults
 *
 * An address recorded for a name whose lookups fail fails to resolve back (when NI_NAMEREQD
 * asks for a name; else the numeric form comes back, as glibc does); the address of a
 * dns=ADDRESS fake resolves back to the name it stands for.
 */
#include <arpa/inet.h>
#include <string.h>

#include "dns.h"
#include "event.h"

EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
		       char *serv, socklen_t servlen, int flags)
{
	const char *names[NAMES_PER_ADDR];
	struct chaos_dest d;

	CHAOS_INIT();
	const struct ruleset *set = rules_get();
	if (chaos_busy || !host || !hostlen || (flags & NI_NUMERICHOST) ||
	    !(set->on_any & CHAOS_ON_DNS) || !dest_from_sockaddr(sa, salen, CHAOS_PROTO_ANY, &d))
		return real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);

	size_t n = names_get(d.family, d.addr, names, NAMES_PER_ADDR);
	/* a fake answers for its address even where this process never looked the name up:
	 * add the exact names of dns=ADDRESS rules for this address */
	for (size_t i = 0; i < set->n && n < NAMES_PER_ADDR; i++) {
		const struct chaos_rule *r = &set->rules[i].r;
		if (r->action == CHAOS_ACT_DNS && r->dns == CHAOS_DNS_ADDRESS &&
		    r->target.kind == CHAOS_HOST_NAME && !strchr(r->target.name, '*') &&
		    r->dns_family == d.family &&
		    !memcmp(r->dns_addr, d.addr, d.family == AF_INET ? 4 : 16))
			names[n++] = r->target.name;
	}
	for (size_t i = 0; i < n; i++) {
		const struct prule *p = rules_fire_dns(set, names[i]);
		char addr[INET6_ADDRSTRLEN];
		if (!p)
			continue;
		chaos_dest_format(&d, addr, sizeof(addr));
		if (p->r.dns == CHAOS_DNS_ADDRESS) {
			if (p->r.dns_family != d.family || memcmp(p->r.dns_addr, d.addr,
								  d.family == AF_INET ? 4 : 16))
				continue;
			int rc = real_getnameinfo(sa, salen, host, hostlen, serv, servlen,
						  (flags & ~NI_NAMEREQD) | NI_NUMERICHOST);
			if (rc != 0)
				return rc;
			if (strlen(names[i]) + 1 > hostlen)
				return EAI_OVERFLOW;
			strcpy(host, names[i]);
			log_fault("getnameinfo", &d, NULL, names[i], p, names[i]);
			return 0;
		}
		if (flags & NI_NAMEREQD) {
			int rc = p->r.dns == CHAOS_DNS_NXDOMAIN ? EAI_NONAME : EAI_AGAIN;
			log_fault("getnameinfo", &d, NULL, names[i], p,
				  rc == EAI_NONAME ? "EAI_NONAME" : "EAI_AGAIN");
			return rc;
		}
		log_fault("getnameinfo", &d, NULL, names[i], p, "numeric");
		return real_getnameinfo(sa, salen, host, hostlen, serv, servlen,
					(flags & ~NI_NAMEREQD) | NI_NUMERICHOST);
	}
	return real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}
