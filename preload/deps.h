/* deps.h -- discovery: the dependencies the service tree contacts (deps.c) */
#ifndef CHAOS_PRELOAD_DEPS_H
#define CHAOS_PRELOAD_DEPS_H

#include "internal.h"

struct shm_dep;

/* EAI_* codes are negative; a record stores them as DEPS_EAI_BASE - code (errnos as they are). */
#define DEPS_EAI_BASE 10000

/* A connect to dest (counted); its record, or NULL when nothing is recorded. */
struct shm_dep *deps_connect(const struct chaos_dest *dest);
/* The record of dest without counting a connection (sendto on an unconnected socket). */
struct shm_dep *deps_for_dest(const struct chaos_dest *dest);
/* A name lookup, and its EAI_* result (0 when it resolved). */
void deps_lookup(const char *name, int eai);
/* An error the service saw on this dependency: an errno. */
void deps_error(struct shm_dep *d, int code);
/* Bytes moved (only while chaos-exec records). */
void deps_bytes(struct shm_dep *d, bool out, uint64_t n);
bool deps_recording(void);
/* fd entries keep a record as a 1-based index (0: none) */
struct shm_dep *deps_by_index(uint32_t idx);
uint32_t deps_index(const struct shm_dep *d);

#endif
