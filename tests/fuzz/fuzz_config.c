/* fuzz_config.c -- libFuzzer target: JSON config documents ({"faults": [...]})
 *
 * Any document is either refused with a message, or gives rules whose canonical texts parse
 * back into the same rules.  A refused document leaves the list as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_config: %s\n  %s\n", what, detail);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chaos_rule_list l = { 0 };
	char err[1024];
	char *json;

	if (size > 1 << 16)
		return 0;
	json = malloc(size + 1);
	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';

	/* one rule from the command line first: a refused document must leave it alone */
	if (chaos_rule_list_add(&l, "seed.local:1 refuse", "--fault", err, sizeof(err)) < 0)
		die("the seed rule was refused", err);
	memset(err, 0, sizeof(err));
	if (chaos_rule_list_add_json(&l, json, "fuzz.json", err, sizeof(err)) < 0) {
		if (!*err)
			die("error without a message", json);
		if (strncmp(err, "fuzz.json: ", 11) != 0)
			die("error does not name the file", err);
		if (l.n != 1)
			die("a refused document left rules behind", err);
	}
	for (size_t i = 0; i < l.n; i++) {
		struct chaos_rule r;
		char out[CHAOS_RULE_TEXT_MAX + 1];
		if (chaos_rule_parse(l.texts[i], &r, err, sizeof(err)) < 0)
			die("a stored canonical text does not parse", l.texts[i]);
		if (memcmp(&r, &l.rules[i], sizeof(r)) != 0)
			die("a stored canonical text parses into another rule", l.texts[i]);
		if (chaos_rule_format(&r, out, sizeof(out)) < 0 || strcmp(out, l.texts[i]) != 0)
			die("a stored text is not canonical", l.texts[i]);
	}
	free(chaos_rule_list_join(&l));
	chaos_rule_list_free(&l);
	free(json);
	return 0;
}
