/* gethostbyname.c -- gethostbyname(3), gethostbyname2, and their _r forms
 *
 * NXDOMAIN sets h_errno HOST_NOT_FOUND, SERVFAIL TRY_AGAIN, a time-out TRY_AGAIN after the
 * resolver's time-out (resolv.c); dns=ADDRESS answers through the
 * real function with the address as the name, so the result's storage is glibc's own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "deps.h"
#include "dns.h"

static void record(const char *name, const struct hostent *h)
{
	int saved = errno;
	if (h && (h->h_addrtype == AF_INET || h->h_addrtype == AF_INET6))
		for (char **a = h->h_addr_list; a && *a; a++)
			names_add(h->h_addrtype, *a, name);
	errno = saved;
}

/* a lookup for discovery, its h_errno as the matching EAI_* code */
static void lookup_done(const char *name, int herr)
{
	int saved = errno;
	if (dns_name_faultable(name))
		deps_lookup(name, herr == 0 ? 0
				  : herr == HOST_NOT_FOUND ? EAI_NONAME
				  : herr == TRY_AGAIN	  ? EAI_AGAIN
				  : herr == NO_DATA	  ? EAI_NODATA
							  : EAI_FAIL);
	errno = saved;
}

/* The rule that fires for this lookup, or NULL; *fake is set for dns=ADDRESS rules. */
static const struct prule *lookup_rule(const char *name, int af, char *fake, size_t len,
				       int *herr)
{
	if (chaos_busy || !dns_name_faultable(name))
		return NULL;
	const struct prule *p = rules_fire_dns(rules_get(), name);
	if (!p)
		return NULL;
	fake[0] = '\0';
	switch (p->r.dns) {
	case CHAOS_DNS_NXDOMAIN:
		*herr = HOST_NOT_FOUND;
		break;
	case CHAOS_DNS_SERVFAIL:
	case CHAOS_DNS_TIMEOUT:
		*herr = TRY_AGAIN;
		break;
	case CHAOS_DNS_ADDRESS:
		if (p->r.dns_family != af) {
			*herr = NO_DATA; /* the name has no record of this family */
		} else {
			*herr = 0;
			dns_rule_address(p, fake, len);
		}
		break;
	}
	return p;
}

static const char *herr_name(int herr)
{
	switch (herr) {
	case HOST_NOT_FOUND:
		return "HOST_NOT_FOUND";
	case TRY_AGAIN:
		return "TRY_AGAIN";
	case NO_DATA:
		return "NO_DATA";
	}
	return "NO_RECOVERY";
}

/* A failed lookup: dns=timeout hangs first, as the resolver would. */
static void log_failure(const char *call, const char *name, const struct prule *p)
{
	int herr = p->r.dns == CHAOS_DNS_NXDOMAIN ? HOST_NOT_FOUND
		   : p->r.dns == CHAOS_DNS_ADDRESS ? NO_DATA
						   : TRY_AGAIN;
	if (p->r.dns == CHAOS_DNS_TIMEOUT) {
		char r[64];
		dns_hang_result(dns_hang(p), "TRY_AGAIN", r, sizeof(r));
		dns_log(call, name, p, r);
		return;
	}
	dns_log(call, name, p, herr_name(herr));
}

static struct hostent *by_name(const char *call, const char *name, int af)
{
	char fake[INET6_ADDRSTRLEN];
	int herr;
	const struct prule *p = lookup_rule(name, af, fake, sizeof(fake), &herr);
	struct hostent *h;

	if (!p) {
		h = af == AF_INET && !strcmp(call, "gethostbyname") ? real_gethostbyname(name)
								     : real_gethostbyname2(name, af);
		record(name, h);
		lookup_done(name, h ? 0 : h_errno);
		return h;
	}
	if (herr) {
		log_failure(call, name, p);
		lookup_done(name, herr);
		h_errno = herr;
		return NULL;
	}
	chaos_busy++;
	h = real_gethostbyname2(fake, af);
	chaos_busy--;
	record(name, h);
	lookup_done(name, h ? 0 : h_errno);
	dns_log(call, name, p, fake);
	return h;
}

EXPORT struct hostent *gethostbyname(const char *name)
{
	CHAOS_INIT();
	return by_name("gethostbyname", name, AF_INET);
}

EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	CHAOS_INIT();
	return by_name("gethostbyname2", name, af);
}

static int by_name_r(const char *call, const char *name, int af, struct hostent *ret, char *buf,
		     size_t buflen, struct hostent **result, int *h_errnop)
{
	char fake[INET6_ADDRSTRLEN];
	int herr, rc;
	const struct prule *p = lookup_rule(name, af, fake, sizeof(fake), &herr);

	if (!p) {
		rc = real_gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
		if (rc == 0 && *result)
			record(name, *result);
		if (rc != ERANGE)
			lookup_done(name, *result ? 0 : *h_errnop);
		return rc;
	}
	if (herr) {
		log_failure(call, name, p);
		lookup_done(name, herr);
		*result = NULL;
		*h_errnop = herr;
		/* as glibc: 0 for "no such host", EAGAIN for a temporary failure */
		return herr == TRY_AGAIN ? EAGAIN : 0;
	}
	chaos_busy++;
	rc = real_gethostbyname2_r(fake, af, ret, buf, buflen, result, h_errnop);
	chaos_busy--;
	if (rc == 0 && *result)
		record(name, *result);
	lookup_done(name, *result ? 0 : *h_errnop);
	dns_log(call, name, p, fake);
	return rc;
}

EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
			   struct hostent **result, int *h_errnop)
{
	CHAOS_INIT();
	if (chaos_busy)
		return real_gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
	return by_name_r("gethostbyname_r", name, AF_INET, ret, buf, buflen, result, h_errnop);
}

EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
			    size_t buflen, struct hostent **result, int *h_errnop)
{
	CHAOS_INIT();
	return by_name_r("gethostbyname2_r", name, af, ret, buf, buflen, result, h_errnop);
}
