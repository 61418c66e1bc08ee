/* dns.h -- what the getaddrinfo, gethostbyname and getnameinfo hooks share */
#ifndef CHAOS_PRELOAD_DNS_H
#define CHAOS_PRELOAD_DNS_H

#include "internal.h"

/* The answer address of a dns=ADDRESS rule as text. */
void dns_rule_address(const struct prule *p, char *buf, size_t len);

/* Log a lookup we failed or answered: call, the name, the result. */
void dns_log(const char *call, const char *name, const struct prule *p, const char *result);

#endif
