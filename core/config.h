/* config.h -- rule lists from the command line and from JSON config files (programs only)
 *
 * A config file is {"faults": ["RULE", {"target": "T", "action": "A", "KEY": VALUE, ...}]}.
 * The object form is turned into rule text and parsed by the one parser in rule.c, so both
 * forms mean the same.  Errors name where the rule came from:
 *   --fault 'redis:abc refuse': port 'abc' is not a number
 *   faults.json: faults[2] 'redis:abc refuse': port 'abc' is not a number
 */
#ifndef CHAOS_CONFIG_H
#define CHAOS_CONFIG_H

#include <stddef.h>

#include "rule.h"

struct chaos_rule_list {
	size_t n, cap;
	struct chaos_rule *rules;
	char **texts;   /* canonical text of each rule */
	char **origins; /* "--fault 'X'" or "FILE: faults[N]" */
};

/* Parse text and append it; origin names it in errors ("--fault", "-f").  Returns 0 or -1
 * with "--fault 'TEXT': message" in err. */
int chaos_rule_list_add(struct chaos_rule_list *l, const char *text, const char *origin,
			char *err, size_t errlen);

/* Read a config file and append its rules.  Returns 0 or -1 with a message in err. */
int chaos_rule_list_add_file(struct chaos_rule_list *l, const char *path, char *err,
			     size_t errlen);

/* Parse a JSON document already in memory (name is used in messages). */
int chaos_rule_list_add_json(struct chaos_rule_list *l, const char *json, const char *name,
			     char *err, size_t errlen);

/* Rules as one string, canonical texts separated by '\n' (the CHAOS_RULES format).  malloc'd. */
char *chaos_rule_list_join(const struct chaos_rule_list *l);

void chaos_rule_list_free(struct chaos_rule_list *l);

#endif
