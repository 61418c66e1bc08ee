/* errnos.h -- errno names, and which errnos each call can really return (errnos.def) */
#ifndef CHAOS_ERRNOS_H
#define CHAOS_ERRNOS_H

#include <stdbool.h>
#include <stddef.h>

/* "ECONNREFUSED" -> ECONNREFUSED (upper case only); -1 if unknown. */
int chaos_errno_parse(const char *name);

/* ECONNREFUSED -> "ECONNREFUSED"; NULL if the table does not know it. */
const char *chaos_errno_name(int err);

/* Can every call in `on` (CHAOS_ON_CONNECT|SEND|RECV) return err? */
bool chaos_errno_valid_for(int err, unsigned on);

/* The errnos every call in `on` can return, comma-separated, for error messages. */
int chaos_errno_list(unsigned on, char *buf, size_t len);

#endif
