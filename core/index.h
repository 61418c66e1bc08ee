/* index.h -- which rules may cover a destination, without looking at every rule
 *
 * With thousands of rules, asking each one whether it covers a connect or a lookup costs more
 * than the call.  An index over the rules' targets gives, for a destination (an address and
 * the names it resolved from) or a name, the rules that may cover it: every rule whose target
 * covers it, each once, in the rules' order (the first rule that fires wins, so the order is
 * part of the answer), and perhaps a few that do not (ports and protocols are not indexed:
 * the caller still asks chaos_target_match).
 *
 * Indexed: single addresses and CIDR blocks (by family, prefix length and the masked
 * address), exact names, and `*.SUFFIX` names (by suffix).  Other targets (`*`, other globs)
 * are on a list every query walks.  An index is read-only once built: any number of threads
 * may query it.
 */
#ifndef CHAOS_INDEX_H
#define CHAOS_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rule.h"

struct chaos_index;

/* Build an index over n targets, target(ctx, i) giving the i-th.  NULL if out of memory. */
struct chaos_index *chaos_index_new(size_t n, const struct chaos_target *(*target)(const void *ctx,
										   size_t i),
				    const void *ctx);
void chaos_index_free(struct chaos_index *ix);

#define CHAOS_INDEX_CURSORS 24

/* A query in progress (on the caller's stack). */
struct chaos_index_iter {
	const struct chaos_index *ix;
	size_t n;       /* rules: the walk when there is no index (or the query is too wide) */
	size_t next;    /* the walk's next rule */
	bool walk;      /* every rule, in order */
	unsigned nc;    /* cursors, each a run of ascending rule numbers */
	struct {
		const uint32_t *p, *end;
	} c[CHAOS_INDEX_CURSORS];
};

/* The rules that may cover d (its address and names).  ix NULL: all n rules, in order. */
void chaos_index_dest(const struct chaos_index *ix, size_t n, const struct chaos_dest *d,
		      struct chaos_index_iter *it);
/* The rules that may cover a lookup of name (dns= rules).  ix NULL: all n rules, in order. */
void chaos_index_name(const struct chaos_index *ix, size_t n, const char *name,
		      struct chaos_index_iter *it);
/* The next rule number, ascending; false when there are no more. */
bool chaos_index_next(struct chaos_index_iter *it, size_t *i);

#endif
