/* getaddrinfo(3): fail lookups of named dependencies, or answer them with a local fake
 *
 * NXDOMAIN is EAI_NONAME and SERVFAIL is EAI_AGAIN, as glibc reports them; a time-out hangs as
 * long as the resolver would, then fails with EAI_AGAIN (resolv.c); dns=ADDRESS answers
 * with that address through the real getaddrinfo (AI_NUMERICHOST), so hints, ports and
 * freeaddrinfo all behave as for any answer.  Every name resolved here is recorded, so a rule
 * naming a host covers every address the host resolved to.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deps.h"
#include "dns.h"

void dns_rule_address(const struct prule *p, char *buf, size_t len)
{
	if (!inet_ntop(p->r.dns_family, p->r.dns_addr, buf, (socklen_t)len) && len)
		buf[0] = '\0';
}

void dns_log(const char *call, const char *name, const struct prule *p, const char *result)
{
	log_fault(call, NULL, name, name, p, result);
}

EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	CHAOS_INIT();
	if (chaos_busy || !dns_name_faultable(node) || (hints && (hints->ai_flags & AI_NUMERICHOST))) {
		int rc = real_getaddrinfo(node, service, hints, res);
		if (rc == 0 && !chaos_busy && node && *res && (*res)->ai_addr) {
			/* a literal address: remember it, so the connect that follows is not
			 * labelled with a name that happens to resolve there too */
			const struct sockaddr *sa = (*res)->ai_addr;
			if (sa->sa_family == AF_INET)
				names_literal_lookup(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr);
			else if (sa->sa_family == AF_INET6)
				names_literal_lookup(AF_INET6,
						     &((const struct sockaddr_in6 *)sa)->sin6_addr);
		}
		return rc;
	}

	const struct prule *p = rules_fire_dns(rules_get(), node);
	if (!p) {
		int rc = real_getaddrinfo(node, service, hints, res);
		int saved = errno;
		if (rc == 0)
			names_add_addrinfo(node, *res);
		deps_lookup(node, rc == EAI_SYSTEM ? 0 : rc);
		errno = saved;
		return rc;
	}
	switch (p->r.dns) {
	case CHAOS_DNS_NXDOMAIN:
		dns_log("getaddrinfo", node, p, "EAI_NONAME");
		deps_lookup(node, EAI_NONAME);
		return EAI_NONAME;
	case CHAOS_DNS_SERVFAIL:
		dns_log("getaddrinfo", node, p, "EAI_AGAIN");
		deps_lookup(node, EAI_AGAIN);
		return EAI_AGAIN;
	case CHAOS_DNS_TIMEOUT: {
		char r[64];
		dns_hang_result(dns_hang(p), "EAI_AGAIN", r, sizeof(r));
		dns_log("getaddrinfo", node, p, r);
		deps_lookup(node, EAI_AGAIN);
		return EAI_AGAIN;
	}
	case CHAOS_DNS_ADDRESS:
		break;
	}

	char addr[INET6_ADDRSTRLEN];
	struct addrinfo h = { .ai_flags = AI_V4MAPPED | AI_ADDRCONFIG }; /* glibc's default */
	dns_rule_address(p, addr, sizeof(addr));
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	h.ai_flags &= ~AI_ADDRCONFIG; /* the fake is on loopback, which ADDRCONFIG ignores */
	chaos_busy++;
	int rc = real_getaddrinfo(addr, service, &h, res);
	chaos_busy--;
	if (rc == EAI_ADDRFAMILY || rc == EAI_FAMILY)
		rc = EAI_NONAME; /* asked for the other family: the name has no such record */
	if (rc == 0) {
		if ((h.ai_flags & AI_CANONNAME) && *res && (*res)->ai_canonname) {
			char *canon = strdup(node);
			if (canon) {
				free((*res)->ai_canonname);
				(*res)->ai_canonname = canon;
			}
		}
		names_add_addrinfo(node, *res);
	}
	deps_lookup(node, rc);
	dns_log("getaddrinfo", node, p, rc == 0 ? addr : gai_strerror(rc));
	return rc;
}
