/* dns.h -- what the getaddrinfo, gethostbyname and getnameinfo hooks share */
#ifndef CHAOS_PRELOAD_DNS_H
#define CHAOS_PRELOAD_DNS_H

#include "internal.h"

/* The answer address of a dns=ADDRESS rule as text. */
void dns_rule_address(const struct prule *p, char *buf, size_t len);

/* Log a lookup we failed or answered: call, the name, the result. */
void dns_log(const char *call, const char *name, const struct prule *p, const char *result);

/* dns=timeout (resolv.c): how long glibc's resolver takes to give up on servers that never
 * answer; wait that long (or the rule's timeout=) and return how long it was; the log's
 * result ("EAI_AGAIN after 10s"). */
uint64_t dns_timeout_ns(void);
uint64_t dns_hang(const struct prule *p);
void dns_hang_result(uint64_t t, const char *code, char *buf, size_t len);

#endif
