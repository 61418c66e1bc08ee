/* index.c -- which rules may cover a destination, without looking at every rule
 *
 * Each indexed target becomes a key (a tag byte, then the masked address with its prefix
 * length, the exact name, or the suffix of a `*.SUFFIX` name); the keys are sorted by hash,
 * then bytes, then rule number, so the rules of one key are a run of ascending numbers found
 * with a binary search.  A query opens one cursor per key that has rules (one per prefix
 * length in use for the address, one per name and per suffix of each name) and one on the
 * list of targets that are not indexed, and merges them.
 */
#include "index.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { K_ADDR4 = 1, K_ADDR6, K_NAME, K_SUFFIX };

#define KEY_MAX (2 + CHAOS_NAME_MAX + 1)

struct ix_ent {
	uint64_t h;
	uint32_t off, len; /* the key's bytes in blob */
	uint32_t rule;
};

struct chaos_index {
	size_t n;
	size_t nent;
	struct ix_ent *ent; /* sorted by (h, len, bytes, rule) */
	uint32_t *rules;    /* rules[k] = ent[k].rule: the runs the cursors walk */
	char *blob;
	uint32_t *general; /* not indexed, ascending */
	size_t ngeneral;
	uint8_t pfx4[33], pfx6[129]; /* prefix lengths in use, per family */
	unsigned npfx4, npfx6;
};

static uint64_t hash(const char *k, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)k[i]) * 1099511628211ULL;
	return h;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The key of an address under a prefix length; returns its length. */
static size_t addr_key(int family, const uint8_t *addr, unsigned prefix, char *k)
{
	size_t alen = family == AF_INET ? 4 : 16;
	k[0] = family == AF_INET ? K_ADDR4 : K_ADDR6;
	k[1] = (char)prefix;
	for (size_t i = 0; i < alen; i++) {
		unsigned bits = prefix > i * 8 ? prefix - (unsigned)i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		k[2 + i] = (char)(addr[i] & mask);
	}
	return 2 + alen;
}

/* The key of a name (lower case, no trailing dot); 0 if it is too long to be one. */
static size_t name_key(int tag, const char *name, size_t len, char *k)
{
	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > CHAOS_NAME_MAX)
		return 0;
	k[0] = (char)tag;
	for (size_t i = 0; i < len; i++)
		k[1 + i] = lower(name[i]);
	return 1 + len;
}

/* The key a target is indexed under; 0: not indexed (on the general list). */
static size_t target_key(const struct chaos_target *t, char *k)
{
	switch (t->kind) {
	case CHAOS_HOST_ADDR:
		if ((t->family != AF_INET && t->family != AF_INET6) ||
		    t->prefix > (t->family == AF_INET ? 32 : 128))
			return 0;
		return addr_key(t->family, t->addr, t->prefix, k);
	case CHAOS_HOST_NAME: {
		const char *star = strchr(t->name, '*');
		if (!star)
			return name_key(K_NAME, t->name, strlen(t->name), k);
		/* `*.SUFFIX`: the star takes any run (dots too), so a name is covered exactly when
		 * it has a dot followed by SUFFIX at its end */
		if (star == t->name && t->name[1] == '.' && t->name[2] && !strchr(t->name + 2, '*'))
			return name_key(K_SUFFIX, t->name + 2, strlen(t->name + 2), k);
		return 0;
	}
	default:
		return 0;
	}
}

static int ent_cmp(const void *a, const void *b, void *blob)
{
	const struct ix_ent *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int c = memcmp((char *)blob + x->off, (char *)blob + y->off, x->len);
	if (c)
		return c;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

void chaos_index_free(struct chaos_index *ix)
{
	if (!ix)
		return;
	free(ix->ent);
	free(ix->rules);
	free(ix->blob);
	free(ix->general);
	free(ix);
}

struct chaos_index *chaos_index_new(size_t n,
				    const struct chaos_target *(*target)(const void *ctx, size_t i),
				    const void *ctx)
{
	struct chaos_index *ix = calloc(1, sizeof(*ix));
	if (!ix || n > UINT32_MAX)
		goto fail;
	ix->n = n;
	ix->ent = malloc((n ? n : 1) * sizeof(*ix->ent));
	ix->general = malloc((n ? n : 1) * sizeof(*ix->general));
	ix->blob = malloc((n ? n : 1) * KEY_MAX);
	if (!ix->ent || !ix->general || !ix->blob)
		goto fail;
	bool used4[33] = { false }, used6[129] = { false };
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		const struct chaos_target *t = target(ctx, i);
		size_t len = target_key(t, ix->blob + off);
		if (!len) {
			ix->general[ix->ngeneral++] = (uint32_t)i;
			continue;
		}
		if (t->kind == CHAOS_HOST_ADDR)
			(t->family == AF_INET ? used4 : used6)[t->prefix] = true;
		ix->ent[ix->nent++] = (struct ix_ent){ .h = hash(ix->blob + off, len),
						       .off = (uint32_t)off,
						       .len = (uint32_t)len,
						       .rule = (uint32_t)i };
		off += len;
	}
	char *blob = realloc(ix->blob, off ? off : 1); /* (only what the keys took) */
	if (blob)
		ix->blob = blob;
	/* longest prefixes first: the likeliest to say something about one address */
	for (int p = 32; p >= 0; p--)
		if (used4[p])
			ix->pfx4[ix->npfx4++] = (uint8_t)p;
	for (int p = 128; p >= 0; p--)
		if (used6[p])
			ix->pfx6[ix->npfx6++] = (uint8_t)p;
	qsort_r(ix->ent, ix->nent, sizeof(*ix->ent), ent_cmp, ix->blob);
	ix->rules = malloc((ix->nent ? ix->nent : 1) * sizeof(*ix->rules));
	if (!ix->rules)
		goto fail;
	for (size_t k = 0; k < ix->nent; k++)
		ix->rules[k] = ix->ent[k].rule;
	return ix;
fail:
	chaos_index_free(ix);
	return NULL;
}

/* ---- queries ----------------------------------------------------------------------------- */

static void iter_init(const struct chaos_index *ix, size_t n, struct chaos_index_iter *it)
{
	it->ix = ix;
	it->n = ix ? ix->n : n;
	it->next = 0;
	it->walk = !ix;
	it->nc = 0;
	if (ix && ix->ngeneral) {
		it->c[0].p = ix->general;
		it->c[0].end = ix->general + ix->ngeneral;
		it->nc = 1;
	}
}

/* Open a cursor on the rules indexed under key, if there are any. */
static void lookup(struct chaos_index_iter *it, const char *key, size_t len)
{
	const struct chaos_index *ix = it->ix;
	if (it->walk)
		return;
	uint64_t h = hash(key, len);
	size_t lo = 0, hi = ix->nent;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->ent[mid].h < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ix->nent && ix->ent[lo].h == h; lo++) {
		const struct ix_ent *e = &ix->ent[lo];
		if (e->len != len || memcmp(ix->blob + e->off, key, len) != 0)
			continue;
		size_t end = lo + 1;
		while (end < ix->nent && ix->ent[end].h == h && ix->ent[end].len == len &&
		       memcmp(ix->blob + ix->ent[end].off, key, len) == 0)
			end++;
		if (it->nc == CHAOS_INDEX_CURSORS) {
			it->walk = true; /* a query this wide: walk every rule instead */
			return;
		}
		it->c[it->nc].p = ix->rules + lo;
		it->c[it->nc].end = ix->rules + end;
		it->nc++;
		return;
	}
}

static void lookup_name(struct chaos_index_iter *it, const char *name)
{
	char k[KEY_MAX];
	size_t len = strlen(name);
	size_t kl = name_key(K_NAME, name, len, k);
	if (!kl) {
		it->walk = true; /* (not a name any rule can name: the walk says so) */
		return;
	}
	lookup(it, k, kl);
	/* every suffix after a dot, for the `*.SUFFIX` rules */
	for (size_t i = 1; i < kl; i++) {
		if (k[i] != '.')
			continue;
		if (i + 1 < kl) {
			char save = k[i];
			k[i] = K_SUFFIX;
			lookup(it, k + i, kl - i);
			k[i] = save;
		}
	}
}

void chaos_index_dest(const struct chaos_index *ix, size_t n, const struct chaos_dest *d,
		      struct chaos_index_iter *it)
{
	iter_init(ix, n, it);
	if (!ix)
		return;
	char k[KEY_MAX];
	if (d->family == AF_INET)
		for (unsigned i = 0; i < ix->npfx4; i++)
			lookup(it, k, addr_key(AF_INET, d->addr, ix->pfx4[i], k));
	else if (d->family == AF_INET6)
		for (unsigned i = 0; i < ix->npfx6; i++)
			lookup(it, k, addr_key(AF_INET6, d->addr, ix->pfx6[i], k));
	for (size_t i = 0; i < d->nnames; i++)
		if (d->names[i])
			lookup_name(it, d->names[i]);
}

void chaos_index_name(const struct chaos_index *ix, size_t n, const char *name,
		      struct chaos_index_iter *it)
{
	iter_init(ix, n, it);
	if (ix && name)
		lookup_name(it, name);
}

bool chaos_index_next(struct chaos_index_iter *it, size_t *i)
{
	if (it->walk) {
		if (it->next >= it->n)
			return false;
		*i = it->next++;
		return true;
	}
	uint32_t min = UINT32_MAX;
	bool any = false;
	for (unsigned c = 0; c < it->nc; c++)
		if (it->c[c].p < it->c[c].end && (!any || *it->c[c].p < min)) {
			min = *it->c[c].p;
			any = true;
		}
	if (!any)
		return false;
	/* the same rule under two keys of one query (a name given twice) comes once */
	for (unsigned c = 0; c < it->nc; c++)
		if (it->c[c].p < it->c[c].end && *it->c[c].p == min)
			it->c[c].p++;
	*i = min;
	return true;
}
