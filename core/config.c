/* config.c -- rule lists from the command line and from JSON config files (programs only) */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push(struct chaos_rule_list *l, const struct chaos_rule *r, const char *origin)
{
	char text[CHAOS_RULE_TEXT_MAX + 1];
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct chaos_rule *rules = realloc(l->rules, cap * sizeof(*rules));
		if (!rules)
			return -1;
		l->rules = rules;
		char **texts = realloc(l->texts, cap * sizeof(*texts));
		if (!texts)
			return -1;
		l->texts = texts;
		char **origins = realloc(l->origins, cap * sizeof(*origins));
		if (!origins)
			return -1;
		l->origins = origins;
		l->cap = cap;
	}
	if (chaos_rule_format(r, text, sizeof(text)) < 0)
		return -1;
	l->texts[l->n] = strdup(text);
	l->origins[l->n] = strdup(origin);
	if (!l->texts[l->n] || !l->origins[l->n]) {
		free(l->texts[l->n]);
		free(l->origins[l->n]);
		return -1;
	}
	l->rules[l->n++] = *r;
	return 0;
}

int chaos_rule_list_add(struct chaos_rule_list *l, const char *text, const char *origin,
			char *err, size_t errlen)
{
	struct chaos_rule r;
	char msg[CHAOS_ERR_MAX], where[CHAOS_RULE_TEXT_MAX + 64];

	snprintf(where, sizeof(where), "%s '%s'", origin, text);
	if (chaos_rule_parse(text, &r, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", where, msg);
		return -1;
	}
	if (push(l, &r, where) < 0) {
		snprintf(err, errlen, "%s: out of memory", where);
		return -1;
	}
	return 0;
}

/* A JSON scalar as an option value; -1 if it is not a string or a number. */
static int json_value(const cJSON *item, char *value, size_t len)
{
	if (cJSON_IsString(item)) {
		if (!*item->valuestring || strpbrk(item->valuestring, " \t\n"))
			return -1;
		snprintf(value, len, "%s", item->valuestring);
		return 0;
	}
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;
		if (d >= 0 && d < 1e15 && d == (double)(long long)d)
			snprintf(value, len, "%lld", (long long)d);
		else
			snprintf(value, len, "%.6g", d);
		return 0;
	}
	return -1;
}

/* Turn {"target": T, "action": A, "KEY": V...} into "T A KEY=V ...".  An action that takes a
 * value may give it as its own key: {"action": "error", "error": "ECONNRESET"}. */
static int object_to_text(const cJSON *o, char *buf, size_t len, char *err, size_t errlen)
{
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(o, "target");
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(o, "action");
	const cJSON *item;
	char value[128], act[192];
	size_t used;
	int n;

	if (!cJSON_IsString(target) || !*target->valuestring) {
		snprintf(err, errlen, "needs \"target\" as a string");
		return -1;
	}
	if (!cJSON_IsString(action) || !*action->valuestring) {
		snprintf(err, errlen, "needs \"action\" as a string");
		return -1;
	}
	snprintf(act, sizeof(act), "%s", action->valuestring);
	item = cJSON_GetObjectItemCaseSensitive(o, action->valuestring);
	if (item && !strchr(action->valuestring, '=')) {
		if (json_value(item, value, sizeof(value)) < 0) {
			snprintf(err, errlen, "\"%s\" must be a string or a number", item->string);
			return -1;
		}
		snprintf(act, sizeof(act), "%s=%s", action->valuestring, value);
	}
	n = snprintf(buf, len, "%s %s", target->valuestring, act);
	if (n < 0 || (size_t)n >= len)
		goto too_long;
	used = (size_t)n;
	cJSON_ArrayForEach(item, o)
	{
		const char *k = item->string;
		if (strcmp(k, "target") == 0 || strcmp(k, "action") == 0 ||
		    strcmp(k, action->valuestring) == 0)
			continue;
		if (!*k || strpbrk(k, " \t\n=")) {
			snprintf(err, errlen, "key \"%s\" is not an option name", k);
			return -1;
		}
		if (json_value(item, value, sizeof(value)) < 0) {
			snprintf(err, errlen, "\"%s\" must be a string or a number", k);
			return -1;
		}
		n = snprintf(buf + used, len - used, " %s=%s", k, value);
		if (n < 0 || (size_t)n >= len - used)
			goto too_long;
		used += (size_t)n;
	}
	return 0;
too_long:
	snprintf(err, errlen, "the rule is longer than %d characters", CHAOS_RULE_TEXT_MAX);
	return -1;
}

int chaos_rule_list_add_json(struct chaos_rule_list *l, const char *json, const char *name,
			     char *err, size_t errlen)
{
	cJSON *doc = cJSON_Parse(json);
	int rc = -1;
	char origin[512], msg[CHAOS_ERR_MAX], text[CHAOS_RULE_TEXT_MAX + 1];

	if (!doc) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;
		if (at)
			for (const char *p = json; p < at && *p; p++)
				line += *p == '\n';
		snprintf(err, errlen, "%s: line %d: not valid JSON", name, line);
		return -1;
	}
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "%s: expected an object {\"faults\": [...]}", name);
		goto out;
	}
	const cJSON *faults = cJSON_GetObjectItemCaseSensitive(doc, "faults");
	if (!faults) {
		snprintf(err, errlen, "%s: no \"faults\" list", name);
		goto out;
	}
	if (!cJSON_IsArray(faults)) {
		snprintf(err, errlen, "%s: \"faults\" must be a list", name);
		goto out;
	}
	const cJSON *item;
	const cJSON *key;
	cJSON_ArrayForEach(key, doc)
	{
		if (strcmp(key->string, "faults") != 0) {
			snprintf(err, errlen, "%s: unknown key \"%s\" (expected \"faults\")", name,
				 key->string);
			goto out;
		}
	}
	int i = 0;
	cJSON_ArrayForEach(item, faults)
	{
		snprintf(origin, sizeof(origin), "%s: faults[%d]", name, i);
		if (cJSON_IsString(item)) {
			if (chaos_rule_list_add(l, item->valuestring, origin, err, errlen) < 0)
				goto out;
		} else if (cJSON_IsObject(item)) {
			if (object_to_text(item, text, sizeof(text), msg, sizeof(msg)) < 0) {
				snprintf(err, errlen, "%s: %s", origin, msg);
				goto out;
			}
			if (chaos_rule_list_add(l, text, origin, err, errlen) < 0)
				goto out;
		} else {
			snprintf(err, errlen, "%s: a rule must be a string or an object", origin);
			goto out;
		}
		i++;
	}
	rc = 0;
out:
	cJSON_Delete(doc);
	return rc;
}

int chaos_rule_list_add_file(struct chaos_rule_list *l, const char *path, char *err,
			     size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *data = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - len < 4096) {
			if (cap > 64 << 20) {
				snprintf(err, errlen, "%s: larger than 64 MiB", path);
				free(data);
				fclose(f);
				return -1;
			}
			cap = cap ? cap * 2 : 8192;
			char *d = realloc(data, cap);
			if (!d) {
				snprintf(err, errlen, "%s: out of memory", path);
				free(data);
				fclose(f);
				return -1;
			}
			data = d;
		}
		size_t n = fread(data + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	data[len] = '\0';
	if (strlen(data) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(data);
		return -1;
	}
	rc = chaos_rule_list_add_json(l, data, path, err, errlen);
	free(data);
	return rc;
}

char *chaos_rule_list_join(const struct chaos_rule_list *l)
{
	size_t len = 1;
	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->texts[i]) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->texts[i]);
		memcpy(p, l->texts[i], n);
		p += n;
		*p++ = '\n';
	}
	*p = '\0';
	return s;
}

void chaos_rule_list_free(struct chaos_rule_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->texts[i]);
		free(l->origins[i]);
	}
	free(l->rules);
	free(l->texts);
	free(l->origins);
	memset(l, 0, sizeof(*l));
}
