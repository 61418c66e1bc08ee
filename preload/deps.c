/* deps.c -- discovery: every dependency the service tree contacts, in chaos-exec's area
 *
 * A dependency is (host name or address, protocol, port), with the addresses it was reached
 * at, connections, bytes each way (while chaos-exec records: --record), first and last seen,
 * and the errors the service saw.  Name lookups are records of their own (protocol 0).
 * Records are claimed with a compare-and-swap and updated with atomic adds: no lock.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "deps.h"
#include "shm.h"

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint32_t hash_key(const char *host, uint8_t proto, uint16_t port)
{
	uint32_t h = 2166136261u ^ proto ^ ((uint32_t)port << 8);
	for (const char *p = host; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

/* The record for (host, proto, port), created if need be; NULL if the table is full. */
static struct shm_dep *dep_get(const char *host, uint8_t proto, uint16_t port)
{
	struct shm_header *h = chaos_shm;
	static int warned;
	if (!h)
		return NULL;
	struct shm_dep *deps = shm_deps(h);
	uint32_t start = hash_key(host, proto, port);
	for (uint32_t i = 0; i < CHAOS_SHM_DEPS; i++) {
		struct shm_dep *d = &deps[(start + i) % CHAOS_SHM_DEPS];
		uint32_t st = __atomic_load_n(&d->state, __ATOMIC_ACQUIRE);
		if (st == SLOT_FREE) {
			uint32_t expected = SLOT_FREE;
			if (__atomic_compare_exchange_n(&d->state, &expected, SLOT_CLAIMED, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				snprintf(d->host, sizeof(d->host), "%s", host);
				d->proto = proto;
				d->port = port;
				d->first_ns = d->last_ns = realtime_ns();
				__atomic_store_n(&d->state, SLOT_LIVE, __ATOMIC_RELEASE);
				return d;
			}
			st = expected;
		}
		/* a record being filled in is passed over (after a fork its writer is gone) */
		if (st == SLOT_LIVE && d->proto == proto && d->port == port &&
		    strcmp(d->host, host) == 0)
			return d;
	}
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		chaos_warn("the dependency table is full (%u records): later ones are not recorded",
			   CHAOS_SHM_DEPS);
	return NULL;
}

static void touch(struct shm_dep *d)
{
	__atomic_store_n(&d->last_ns, realtime_ns(), __ATOMIC_RELAXED);
}

static void add_addr(struct shm_dep *d, const struct chaos_dest *dest)
{
	uint8_t n = __atomic_load_n(&d->naddrs, __ATOMIC_ACQUIRE);
	size_t alen = dest->family == AF_INET ? 4 : 16;
	for (uint8_t i = 0; i < n && i < 8; i++) {
		/* a slot is claimed (naddrs) before it is filled in: its family, stored last,
		 * says when the address may be read.  Wait the few instructions another thread
		 * takes to fill it; one that never does (its writer forked away) is passed over. */
		uint8_t fam = __atomic_load_n(&d->addrs[i].family, __ATOMIC_ACQUIRE);
		for (int spin = 0; !fam && spin < 1000; spin++)
			fam = __atomic_load_n(&d->addrs[i].family, __ATOMIC_ACQUIRE);
		if (fam == dest->family && !memcmp(d->addrs[i].addr, dest->addr, alen))
			return;
	}
	while (n < 8) {
		if (__atomic_compare_exchange_n(&d->naddrs, &n, (uint8_t)(n + 1), false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			memcpy(d->addrs[n].addr, dest->addr, 16);
			__atomic_store_n(&d->addrs[n].family, (uint8_t)dest->family, __ATOMIC_RELEASE);
			return;
		}
	}
}

void deps_error(struct shm_dep *d, int code)
{
	if (!d || !code)
		return;
	for (int i = 0; i < 6; i++) {
		int32_t c = __atomic_load_n(&d->errors[i].code, __ATOMIC_ACQUIRE);
		if (c == 0) {
			int32_t expected = 0;
			if (__atomic_compare_exchange_n(&d->errors[i].code, &expected, code, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				c = code;
			else
				c = expected;
		}
		if (c == code) {
			__atomic_add_fetch(&d->errors[i].count, 1, __ATOMIC_RELAXED);
			return;
		}
	}
}

struct shm_dep *deps_for_dest(const struct chaos_dest *dest)
{
	if (!chaos_shm)
		return NULL;
	char host[CHAOS_NAME_MAX + 1];
	const char *label = names_label(dest);
	if (label)
		snprintf(host, sizeof(host), "%s", label);
	else if (!inet_ntop(dest->family, dest->addr, host, sizeof(host)))
		host[0] = '\0';
	struct shm_dep *d = dep_get(host, (uint8_t)dest->proto, dest->port);
	if (d)
		add_addr(d, dest);
	return d;
}

struct shm_dep *deps_connect(const struct chaos_dest *dest)
{
	struct shm_dep *d = deps_for_dest(dest);
	if (d) {
		__atomic_add_fetch(&d->connections, 1, __ATOMIC_RELAXED);
		touch(d);
	}
	return d;
}

void deps_lookup(const char *name, int eai)
{
	if (!chaos_shm || !name)
		return;
	struct shm_dep *d = dep_get(name, 0, 0);
	if (!d)
		return;
	__atomic_add_fetch(&d->lookups, 1, __ATOMIC_RELAXED);
	touch(d);
	if (eai)
		deps_error(d, DEPS_EAI_BASE - eai);
}

void deps_bytes(struct shm_dep *d, bool out, uint64_t n)
{
	if (!d || !n)
		return;
	__atomic_add_fetch(out ? &d->bytes_out : &d->bytes_in, n, __ATOMIC_RELAXED);
	touch(d);
}

bool deps_recording(void)
{
	return chaos_shm && __atomic_load_n(&chaos_shm->record, __ATOMIC_RELAXED);
}

struct shm_dep *deps_by_index(uint32_t idx)
{
	if (!chaos_shm || idx == 0 || idx > CHAOS_SHM_DEPS)
		return NULL;
	return &shm_deps(chaos_shm)[idx - 1];
}

uint32_t deps_index(const struct shm_dep *d)
{
	if (!d || !chaos_shm)
		return 0;
	return (uint32_t)(d - shm_deps(chaos_shm)) + 1;
}
