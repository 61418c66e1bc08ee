/* names.c -- which host names resolved to which address in this process
 *
 * A host-name rule covers every address its name resolved to here (curl and node race several
 * addresses of one name), so getaddrinfo and friends record (address, name) pairs.  The table
 * is an insert-only open-addressing hash: readers never lock, writers claim a slot with one
 * compare-and-swap.  Names live for the life of the process.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define SLOTS 16384 /* power of two */
#define MAX_PROBE 128

enum { SLOT_EMPTY = 0, SLOT_BUSY, SLOT_READY };

struct slot {
	uint32_t state;
	int family;
	uint8_t addr[16];
	const char *name;
};

static struct slot *table;
static int full_warned;

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static uint32_t hash(int family, const uint8_t *addr)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;
	for (size_t i = 0; i < addr_len(family); i++)
		h = (h ^ addr[i]) * 16777619u;
	return h;
}

static struct slot *get_table(void)
{
	struct slot *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
	if (t)
		return t;
	struct slot *fresh = calloc(SLOTS, sizeof(*fresh));
	if (!fresh)
		return NULL;
	struct slot *expected = NULL;
	if (!__atomic_compare_exchange_n(&table, &expected, fresh, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		free(fresh);
		return expected;
	}
	return fresh;
}

static bool same(const struct slot *s, int family, const uint8_t *addr)
{
	return s->family == family && memcmp(s->addr, addr, addr_len(family)) == 0;
}

void names_add(int family, const void *addr, const char *name)
{
	struct slot *t = get_table();
	uint8_t key[16] = { 0 };
	char lower[CHAOS_NAME_MAX + 2];
	size_t n;

	if (!t || !name || (family != AF_INET && family != AF_INET6))
		return;
	n = strlen(name);
	if (n == 0 || n > CHAOS_NAME_MAX)
		return;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	if (n > 1 && lower[n - 1] == '.')
		lower[n - 1] = '\0';
	memcpy(key, addr, addr_len(family));
	/* IPv4-mapped IPv6 is IPv4 */
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (family == AF_INET6 && memcmp(key, mapped, 12) == 0) {
		memmove(key, key + 12, 4);
		memset(key + 4, 0, 12);
		family = AF_INET;
	}

	uint32_t h = hash(family, key);
	for (uint32_t i = 0; i < MAX_PROBE; i++) {
		struct slot *s = &t[(h + i) & (SLOTS - 1)];
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (st == SLOT_EMPTY) {
			uint32_t expected = SLOT_EMPTY;
			if (__atomic_compare_exchange_n(&s->state, &expected, SLOT_BUSY, false,
							__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
				char *copy = strdup(lower);
				s->family = family;
				memcpy(s->addr, key, 16);
				s->name = copy ? copy : "";
				__atomic_store_n(&s->state, SLOT_READY, __ATOMIC_RELEASE);
				return;
			}
			st = expected;
		}
		/* a slot another thread is filling in is passed over, never waited for: after a
		 * fork that thread does not exist.  At worst a pair is recorded twice. */
		if (st == SLOT_READY && same(s, family, key) && strcmp(s->name, lower) == 0)
			return;
	}
	if (!__atomic_exchange_n(&full_warned, 1, __ATOMIC_RELAXED))
		chaos_warn("the host-name table is full: rules naming hosts resolved from now on "
			   "may not match their addresses");
}

size_t names_get(int family, const void *addr, const char **out, size_t max)
{
	const struct slot *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
	uint8_t key[16] = { 0 };
	size_t found = 0;

	if (!t || (family != AF_INET && family != AF_INET6))
		return 0;
	memcpy(key, addr, addr_len(family));
	uint32_t h = hash(family, key);
	for (uint32_t i = 0; i < MAX_PROBE && found < max; i++) {
		const struct slot *s = &t[(h + i) & (SLOTS - 1)];
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (st == SLOT_EMPTY)
			break;
		if (st == SLOT_READY && same(s, family, key))
			out[found++] = s->name;
	}
	return found;
}

/* The last lookup this thread made.  Several names may resolve to one address (every name
 * sent to 127.0.0.1, say); the one this thread just looked up is the one it is connecting to,
 * so it comes first where a single name is shown (the log's host, discovery records). */
static __thread const char *last_name __attribute__((tls_model("initial-exec")));
static __thread uint8_t last_addrs[8][17] __attribute__((tls_model("initial-exec")));
static __thread unsigned last_n __attribute__((tls_model("initial-exec")));
/* ... or a literal address it was given (a numeric host: no name meant) */
static __thread uint8_t last_literal[17] __attribute__((tls_model("initial-exec")));

void names_literal_lookup(int family, const void *addr)
{
	last_name = NULL;
	last_n = 0;
	last_literal[0] = (uint8_t)family;
	memcpy(&last_literal[1], addr, family == AF_INET ? 4 : 16);
}

bool names_is_literal(const struct chaos_dest *d)
{
	return last_literal[0] == d->family &&
	       memcmp(&last_literal[1], d->addr, d->family == AF_INET ? 4 : 16) == 0;
}

static void remember(const char *interned, int family, const void *addr, bool first)
{
	if (first) {
		last_name = interned;
		last_n = 0;
		last_literal[0] = 0;
	}
	if (last_n < 8) {
		last_addrs[last_n][0] = (uint8_t)family;
		memcpy(&last_addrs[last_n][1], addr, family == AF_INET ? 4 : 16);
		last_n++;
	}
}

static const char *interned_name(int family, const void *addr, const char *name)
{
	const char *found[NAMES_PER_ADDR];
	size_t n = names_get(family, addr, found, NAMES_PER_ADDR);
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(found[i], name) == 0)
			return found[i];
	return NULL;
}

void names_add_addrinfo(const char *name, const struct addrinfo *ai)
{
	bool first = true;
	for (const struct addrinfo *a = ai; a; a = a->ai_next) {
		const void *addr = NULL;
		if (a->ai_family == AF_INET && a->ai_addrlen >= sizeof(struct sockaddr_in))
			addr = &((const struct sockaddr_in *)a->ai_addr)->sin_addr;
		else if (a->ai_family == AF_INET6 && a->ai_addrlen >= sizeof(struct sockaddr_in6))
			addr = &((const struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
		if (!addr)
			continue;
		names_add(a->ai_family, addr, name);
		const char *in = interned_name(a->ai_family, addr, name);
		if (in) {
			remember(in, a->ai_family, addr, first);
			first = false;
		}
	}
}

void names_consume(const struct chaos_dest *d)
{
	for (unsigned i = 0; i < last_n; i++)
		if (last_addrs[i][0] == d->family &&
		    !memcmp(&last_addrs[i][1], d->addr, d->family == AF_INET ? 4 : 16)) {
			last_name = NULL;
			last_n = 0;
			return;
		}
}

const char *names_label(const struct chaos_dest *d)
{
	const char *found[2];
	if (names_is_literal(d))
		return NULL;
	if (last_name)
		for (unsigned i = 0; i < last_n; i++)
			if (last_addrs[i][0] == d->family &&
			    !memcmp(&last_addrs[i][1], d->addr, d->family == AF_INET ? 4 : 16))
				return last_name;
	/* one name for the address: that is it; several, and no lookup to tell which: none */
	return names_get(d->family, d->addr, found, 2) == 1 ? found[0] : NULL;
}

void dest_attach_names(struct chaos_dest *d, const char **store, size_t max)
{
	d->nnames = names_get(d->family, d->addr, store, max);
	d->names = store;
	if (d->nnames < 2 || !last_name)
		return;
	for (unsigned i = 0; i < last_n; i++) {
		if (last_addrs[i][0] != d->family ||
		    memcmp(&last_addrs[i][1], d->addr, d->family == AF_INET ? 4 : 16) != 0)
			continue;
		for (size_t k = 1; k < d->nnames; k++)
			if (store[k] == last_name) {
				store[k] = store[0];
				store[0] = last_name;
			}
		return;
	}
}
