/* match.c -- does a rule cover this call, and does it fire now? */
#include "rule.h"

#include <arpa/inet.h>
#include <string.h>

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Glob with `*` matching any run of characters (dots too), case-insensitive. */
static bool glob(const char *p, const char *pend, const char *s, const char *send)
{
	const char *star = NULL, *resume = NULL;

	while (s < send) {
		if (p < pend && *p == '*') {
			star = p++;
			resume = s;
		} else if (p < pend && lower(*p) == lower(*s)) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (p < pend && *p == '*')
		p++;
	return p == pend;
}

bool chaos_name_match(const char *pattern, const char *name)
{
	size_t plen = strlen(pattern), nlen = strlen(name);
	if (nlen && name[nlen - 1] == '.')
		nlen--;
	if (plen && pattern[plen - 1] == '.')
		plen--;
	if (nlen == 0)
		return false;
	return glob(pattern, pattern + plen, name, name + nlen);
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

bool chaos_target_match(const struct chaos_target *t, const struct chaos_dest *d)
{
	if (t->proto != CHAOS_PROTO_ANY && t->proto != d->proto)
		return false;
	if (t->port_lo && (d->port < t->port_lo || d->port > t->port_hi))
		return false;
	switch (t->kind) {
	case CHAOS_HOST_ANY:
		return true;
	case CHAOS_HOST_ADDR:
		return t->family == d->family && prefix_match(t->addr, d->addr, t->prefix);
	case CHAOS_HOST_NAME:
		for (size_t i = 0; i < d->nnames; i++)
			if (d->names[i] && chaos_name_match(t->name, d->names[i]))
				return true;
		return false;
	}
	return false;
}

bool chaos_target_match_name(const struct chaos_target *t, const char *name)
{
	if (t->kind == CHAOS_HOST_ANY)
		return true;
	if (t->kind != CHAOS_HOST_NAME || !name)
		return false;
	return chaos_name_match(t->name, name);
}

bool chaos_window_open(const struct chaos_rule *r, uint64_t armed_ns, uint64_t now_ns)
{
	if (!(r->set & (CHAOS_SET_START | CHAOS_SET_FOR | CHAOS_SET_FLAP)))
		return true;
	uint64_t t = now_ns > armed_ns ? now_ns - armed_ns : 0;
	if (t < r->start_ns)
		return false;
	t -= r->start_ns;
	if ((r->set & CHAOS_SET_FOR) && t >= r->for_ns)
		return false;
	if (r->set & CHAOS_SET_FLAP) {
		/* off for UP, then on for DOWN, and again; a period beyond 2^64 ns never wraps */
		uint64_t period, phase = t;
		if (!__builtin_add_overflow(r->flap_up_ns, r->flap_down_ns, &period) && period)
			phase = t % period;
		return phase >= r->flap_up_ns;
	}
	return true;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

enum chaos_verdict chaos_trigger(const struct chaos_rule *r, struct chaos_rule_state *st,
				 uint32_t rule_id, uint64_t seed, uint64_t armed_ns, uint64_t now_ns)
{
	return chaos_trigger_serial(r, st, rule_id, seed, armed_ns, now_ns, NULL);
}

enum chaos_verdict chaos_trigger_serial(const struct chaos_rule *r, struct chaos_rule_state *st,
					uint32_t rule_id, uint64_t seed, uint64_t armed_ns,
					uint64_t now_ns, uint64_t *serial)
{
	__atomic_add_fetch(&st->matched, 1, __ATOMIC_RELAXED);
	if (!chaos_window_open(r, armed_ns, now_ns))
		return CHAOS_PASS;
	uint64_t n = __atomic_add_fetch(&st->eligible, 1, __ATOMIC_RELAXED);
	if (n <= r->skip)
		return CHAOS_PASS;
	if (r->p_ppm < 1000000) {
		uint64_t h = splitmix64(seed ^ splitmix64(((uint64_t)rule_id << 40) ^ n));
		if (h % 1000000 >= r->p_ppm)
			return CHAOS_PASS;
	}
	uint64_t cur = __atomic_load_n(&st->injected, __ATOMIC_RELAXED);
	do {
		if ((r->set & CHAOS_SET_COUNT) && cur >= r->count)
			return CHAOS_PASS;
	} while (!__atomic_compare_exchange_n(&st->injected, &cur, cur + 1, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	if (serial)
		*serial = cur + 1;
	return CHAOS_FIRE;
}
