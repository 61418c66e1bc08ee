/* rules.c -- the rule snapshot the hooks read without a lock, and which rule fires for a call
 *
 * The snapshot is immutable once published; a new one replaces it with one atomic store, so a
 * call sees the old set or the new one, never half of each.  Old snapshots are not freed: a
 * thread may still be reading one, and they are small.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "deps.h"
#include "shm.h"

static struct ruleset empty_set = { .gen = 1 };
struct ruleset *chaos_rules = &empty_set;
int chaos_io_armed;
int chaos_waits_armed;

uint64_t chaos_seed;

unsigned rule_calls(const struct chaos_rule *r, enum chaos_proto proto)
{
	/* a refused UDP "connection" shows on its datagrams, as an ICMP port unreachable does */
	if (r->action == CHAOS_ACT_REFUSE && proto == CHAOS_PROTO_UDP)
		return CHAOS_ON_SEND | CHAOS_ON_RECV;
	return r->on;
}

void io_armed_update(void)
{
	const struct ruleset *set = rules_get();
	int gated = __atomic_load_n(&chaos_gated_fds, __ATOMIC_RELAXED) > 0;
	int armed = set->io || __atomic_load_n(&chaos_special_fds, __ATOMIC_RELAXED) > 0 ||
		    gated || deps_recording();
	__atomic_store_n(&chaos_io_armed, armed, __ATOMIC_RELAXED);
	__atomic_store_n(&chaos_waits_armed, set->timed || gated, __ATOMIC_RELAXED);
}

#define RULES_INDEX_MIN 32

static const struct chaos_target *prule_target(const void *rules, size_t i)
{
	return &((const struct prule *)rules)[i].r.target;
}

static void publish(struct ruleset *set)
{
	set->on_any = 0;
	set->io = false;
	set->timed = false;
	set->close_delay = false;
	for (size_t i = 0; i < set->n; i++) {
		const struct chaos_rule *r = &set->rules[i].r;
		set->on_any |= r->on;
		switch (r->action) {
		case CHAOS_ACT_DELAY:
		case CHAOS_ACT_BANDWIDTH:
		case CHAOS_ACT_SLICE:
		case CHAOS_ACT_STALL:
			set->timed = true;
			break;
		case CHAOS_ACT_CLOSE_DELAY:
			set->close_delay = true;
			break;
		default:
			break;
		}
		if (rule_calls(r, CHAOS_PROTO_TCP) & CHAOS_ON_IO ||
		    rule_calls(r, CHAOS_PROTO_UDP) & CHAOS_ON_IO)
			set->io = true;
	}
	/* a few rules are walked faster than looked up */
	if (set->n >= RULES_INDEX_MIN) {
		set->ix = chaos_index_new(set->n, prule_target, set->rules);
		if (!set->ix)
			chaos_warn("out of memory indexing %zu rules: every call walks them all",
				   set->n);
	}
	__atomic_store_n(&chaos_rules, set, __ATOMIC_RELEASE);
	io_armed_update();
}

bool rule_needs_exec(const struct chaos_rule *r, char *err, size_t errlen)
{
	const char *what = NULL;
	switch (r->action) {
	case CHAOS_ACT_BLACKHOLE:
		what = "blackhole steers the connect to a listener chaos-exec keeps, whose full "
		       "queue drops SYNs";
		break;
	case CHAOS_ACT_STALL:
		what = "stall steers the connect to a listener chaos-exec keeps, which accepts and "
		       "never answers";
		break;
	case CHAOS_ACT_CLOSE_DELAY:
		what = "close-delay hands the socket to chaos-exec, which closes it later";
		break;
	default:
		return false;
	}
	snprintf(err, errlen, "%s: it needs chaos-exec (the library was loaded without it)", what);
	return true;
}

static struct ruleset *set_alloc(size_t n)
{
	size_t size = sizeof(struct ruleset) + n * sizeof(struct prule);
	struct ruleset *set = calloc(1, size);
	return set;
}

void rules_load_env(const char *text, uint64_t seed, uint64_t epoch_ns);
void rules_set_seed(uint64_t seed);

void rules_set_seed(uint64_t seed)
{
	chaos_seed = seed;
}

void rules_load_env(const char *text, uint64_t seed, uint64_t epoch_ns)
{
	char line[CHAOS_RULE_TEXT_MAX + 2], err[CHAOS_ERR_MAX];
	size_t n = 0, bad = 0;
	struct ruleset *set;

	chaos_seed = seed;
	if (!text || !*text)
		return;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	n++;
	set = set_alloc(n);
	struct chaos_rule_state *states = calloc(n, sizeof(*states));
	if (!set || !states) {
		chaos_warn("out of memory loading %zu rules: NO FAULTS WILL BE INJECTED", n);
		free(set);
		free(states);
		return;
	}
	set->gen = 2;
	size_t i = 0, lineno = 0;
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		lineno++;
		if (len > CHAOS_RULE_TEXT_MAX) {
			chaos_warn("CHAOS_RULES line %zu is too long: rule ignored", lineno);
			bad++;
		} else if (len > 0) {
			memcpy(line, p, len);
			line[len] = '\0';
			struct prule *pr = &set->rules[i];
			if (chaos_rule_parse(line, &pr->r, err, sizeof(err)) < 0) {
				chaos_warn("rule '%s': %s: rule ignored", line, err);
				bad++;
			} else if (chaos_rule_supported(&pr->r, CHAOS_FE_PRELOAD, err, sizeof(err)) <
				   0) {
				chaos_warn("rule '%s': %s: rule ignored", line, err);
				bad++;
			} else if (rule_needs_exec(&pr->r, err, sizeof(err))) {
				/* (rules_load_env runs only when there is no chaos-exec area) */
				chaos_warn("rule '%s': %s: rule ignored", line, err);
				bad++;
			} else {
				chaos_rule_format(&pr->r, pr->text, sizeof(pr->text));
				pr->id = (uint32_t)(i + 1);
				pr->armed_ns = epoch_ns;
				pr->st = &states[i];
				i++;
			}
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	set->n = i;
	if (bad)
		chaos_warn("%zu of the rules given could not be used (see above); %zu are active",
			   bad, i);
	publish(set);
}

/* Build a snapshot from a slot's list of rule ids (ctl.c) and publish it.  Rules the current
 * snapshot already has are copied, not parsed again; ids keep their order. */
void rules_publish_ids(const uint32_t *ids, uint32_t n, bool paused);

void rules_publish_ids(const uint32_t *ids, uint32_t n, bool paused)
{
	struct shm_header *h = chaos_shm;
	const struct ruleset *old = rules_get();
	char err[CHAOS_ERR_MAX];

	if (paused)
		n = 0;
	struct ruleset *set = set_alloc(n);
	if (!set) {
		chaos_warn("out of memory taking a rule change: the old rules stay");
		return;
	}
	set->gen = old->gen + 1;
	size_t k = 0, j = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		if (id == 0 || id > h->max_rules)
			continue;
		struct prule *pr = &set->rules[k];
		/* the same relative order in both lists: one walk finds the old copies */
		size_t probe = j;
		while (probe < old->n && old->rules[probe].id != id)
			probe++;
		if (probe < old->n) {
			*pr = old->rules[probe];
			j = probe + 1;
			k++;
			continue;
		}
		struct shm_rule *sr = &shm_rules(h)[id];
		uint64_t off = __atomic_load_n(&sr->text_off, __ATOMIC_ACQUIRE);
		if (off >= h->text_size)
			continue;
		const char *text = shm_text(h) + off;
		if (chaos_rule_parse(text, &pr->r, err, sizeof(err)) < 0 ||
		    chaos_rule_supported(&pr->r, CHAOS_FE_PRELOAD, err, sizeof(err)) < 0) {
			chaos_warn("rule %u '%s': %s: rule ignored", id, text, err);
			continue;
		}
		chaos_rule_format(&pr->r, pr->text, sizeof(pr->text));
		pr->id = id;
		pr->armed_ns = sr->armed_ns;
		pr->st = &sr->st;
		k++;
	}
	set->n = k;
	publish(set);
}

static bool names_for(const struct chaos_dest *d)
{
	return d->nnames > 0;
}

const struct prule *rules_fire(const struct ruleset *set, enum chaos_call call,
			       const struct chaos_dest *d)
{
	uint64_t now = 0;
	struct chaos_index_iter it;
	size_t i;
	RULES_FOR_DEST(set, d, &it, i) {
		const struct prule *p = &set->rules[i];
		if (p->r.action != CHAOS_ACT_REFUSE && p->r.action != CHAOS_ACT_ERROR &&
		    p->r.action != CHAOS_ACT_RESET && p->r.action != CHAOS_ACT_BLACKHOLE)
			continue; /* faults in time add to the call, they do not decide it (gate.c) */
		if (p->r.action == CHAOS_ACT_BLACKHOLE && d->proto != CHAOS_PROTO_TCP)
			continue; /* a TCP handshake is what goes unanswered */
		if (!(rule_calls(&p->r, d->proto) & call))
			continue;
		if (p->r.target.kind == CHAOS_HOST_NAME && !names_for(d))
			continue;
		if (!chaos_target_match(&p->r.target, d))
			continue;
		if (!now)
			now = chaos_now_ns();
		if (rule_fires(p, now))
			return p;
	}
	return NULL;
}

bool rules_cover_io(const struct ruleset *set, const struct chaos_dest *d)
{
	struct chaos_index_iter it;
	size_t i;
	RULES_FOR_DEST(set, d, &it, i) {
		const struct prule *p = &set->rules[i];
		if (!(rule_calls(&p->r, d->proto) & CHAOS_ON_IO))
			continue;
		if (chaos_target_match(&p->r.target, d))
			return true;
	}
	return false;
}

/* A DNS outage does not take localhost away: `*` leaves it alone (a rule naming it does not). */
static bool is_localhost(const char *name)
{
	size_t n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	if (n == 9 && strncasecmp(name, "localhost", 9) == 0)
		return true;
	return n > 10 && strncasecmp(name + n - 10, ".localhost", 10) == 0;
}

/* Failures (nxdomain, servfail, timeout) are looked at before answers (dns=ADDRESS): a name
 * usually sent to a local fake can still be made to fail by a rule added after the mapping. */
const struct prule *rules_fire_dns(const struct ruleset *set, const char *name)
{
	uint64_t now = 0;
	if (!(set->on_any & CHAOS_ON_DNS))
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		struct chaos_index_iter it;
		size_t i;
		RULES_FOR_NAME(set, name, &it, i) {
			const struct prule *p = &set->rules[i];
			if (p->r.action != CHAOS_ACT_DNS ||
			    (p->r.dns == CHAOS_DNS_ADDRESS) != (pass == 1))
				continue;
			if (p->r.target.kind == CHAOS_HOST_ANY && is_localhost(name))
				continue;
			if (!chaos_target_match_name(&p->r.target, name))
				continue;
			if (!now)
				now = chaos_now_ns();
			if (rule_fires(p, now))
				return p;
		}
	}
	return NULL;
}

bool dns_name_faultable(const char *name)
{
	unsigned char buf[16];
	if (!name || !*name)
		return false;
	/* numeric hosts never reach a resolver */
	struct in_addr a4;
	if (inet_aton(name, &a4) || inet_pton(AF_INET6, name, buf) == 1)
		return false;
	return true;
}
