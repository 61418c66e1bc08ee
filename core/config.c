/* config.c -- rule lists from the command line and from JSON config files (programs only) */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
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

/* "ORIGIN 'TEXT'" for messages: control characters as \xNN (a terminal must not act on them),
 * and a text too long to be a rule cut to its start. */
static void quote_rule(char *buf, size_t len, const char *origin, const char *text)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(text), o;
	bool cut = n > CHAOS_RULE_TEXT_MAX;

	snprintf(buf, len, "%s '", origin);
	o = strlen(buf);
	for (size_t i = 0; i < (cut ? 60 : n) && o + 8 < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x20 || c == 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	snprintf(buf + o, len - o, "%s'", cut ? "..." : "");
}

int chaos_rule_list_add(struct chaos_rule_list *l, const char *text, const char *origin,
			char *err, size_t errlen)
{
	struct chaos_rule r;
	char msg[CHAOS_ERR_MAX], where[4 * CHAOS_RULE_TEXT_MAX + 600];

	quote_rule(where, sizeof(where), origin, text);
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

/* A word of a rule from a JSON string: not empty, no white space or control characters (a
 * value must not become two options).  Returns 0 or -1 with a message naming the key. */
static int json_word(const char *key, const char *v, char *err, size_t errlen)
{
	if (!*v) {
		snprintf(err, errlen, "\"%s\" is empty", key);
		return -1;
	}
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "\"%s\" must be one word, not '%.40s%s'", key, v,
				 strlen(v) > 40 ? "..." : "");
			for (char *e = err; *e; e++)
				if ((unsigned char)*e < 0x20 || *e == 0x7f)
					*e = '?';
			return -1;
		}
	}
	return 0;
}

/* A JSON scalar as an option value: a string is taken as written, a number is printed in
 * the shortest form that reads back as the same number ("count": 3, "p": 0.25). */
static int json_value(const cJSON *item, char *value, size_t len, char *err, size_t errlen)
{
	const char *key = item->string;

	if (cJSON_IsString(item)) {
		if (json_word(key, item->valuestring, err, errlen) < 0)
			return -1;
		if (strlen(item->valuestring) >= len) {
			snprintf(err, errlen, "\"%s\" is longer than %zu characters", key, len - 1);
			return -1;
		}
		memcpy(value, item->valuestring, strlen(item->valuestring) + 1);
		return 0;
	}
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;
		if (d > -9e18 && d < 9e18 && d == (double)(long long)d) {
			snprintf(value, len, "%lld", (long long)d);
			return 0;
		}
		/* plain decimals ("0.0000001", not "1e-07"), exponents only where they must be */
		for (int prec = 0; prec <= 20 && d > -1e15 && d < 1e15; prec++) {
			snprintf(value, len, "%.*f", prec, d);
			if (strtod(value, NULL) == d)
				return 0;
		}
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(value, len, "%.*g", prec, d);
			if (strtod(value, NULL) == d)
				break;
		}
		return 0;
	}
	snprintf(err, errlen, "\"%s\" must be a string or a number", key);
	return -1;
}

/* Append " TEXT" to buf; -1 if the rule would be too long. */
static int append(char *buf, size_t len, size_t *used, const char *a, const char *b,
		  const char *c)
{
	int n = snprintf(buf + *used, len - *used, "%s%s%s", a, b, c);
	if (n < 0 || (size_t)n >= len - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

/* Turn {"target": T, "action": A, "KEY": V...} into "T A KEY=V ...".  An action that takes a
 * value may give it as its own key: {"action": "error", "error": "ECONNRESET"}. */
static int object_to_text(const cJSON *o, char *buf, size_t len, char *err, size_t errlen)
{
	const cJSON *target = NULL, *action = NULL, *item;
	const char *act;
	char value[CHAOS_RULE_TEXT_MAX + 1];
	size_t used = 0;

	cJSON_ArrayForEach(item, o)
	{
		const cJSON **slot = strcmp(item->string, "target") == 0   ? &target
				     : strcmp(item->string, "action") == 0 ? &action
									   : NULL;
		if (!slot)
			continue;
		if (*slot) {
			snprintf(err, errlen, "\"%s\" is given twice", item->string);
			return -1;
		}
		if (!cJSON_IsString(item)) {
			snprintf(err, errlen, "\"%s\" must be a string", item->string);
			return -1;
		}
		if (json_word(item->string, item->valuestring, err, errlen) < 0)
			return -1;
		*slot = item;
	}
	if (!target) {
		snprintf(err, errlen, "no \"target\" (like \"target\": \"redis.local:6379\")");
		return -1;
	}
	if (!action) {
		snprintf(err, errlen, "no \"action\" (like \"action\": \"refuse\")");
		return -1;
	}
	act = action->valuestring;
	if (append(buf, len, &used, target->valuestring, " ", act) < 0)
		goto too_long;
	/* the action's value under its own name: "error": "EPIPE" */
	const cJSON *aval = NULL;
	cJSON_ArrayForEach(item, o)
	{
		if (strchr(act, '=') || strcmp(item->string, act) != 0)
			continue;
		if (aval) {
			snprintf(err, errlen, "\"%.40s\" is given twice", act);
			return -1;
		}
		aval = item;
	}
	if (aval) {
		if (json_value(aval, value, sizeof(value), err, errlen) < 0)
			return -1;
		if (append(buf, len, &used, "=", value, "") < 0)
			goto too_long;
	}
	cJSON_ArrayForEach(item, o)
	{
		const char *k = item->string;
		if (strcmp(k, "target") == 0 || strcmp(k, "action") == 0 ||
		    (!strchr(act, '=') && strcmp(k, act) == 0))
			continue;
		if (!*k || strpbrk(k, "=") || json_word(k, k, err, errlen) < 0) {
			snprintf(err, errlen, "key \"%.40s\" is not an option name", k);
			for (char *e = err; *e; e++)
				if ((unsigned char)*e < 0x20 || *e == 0x7f)
					*e = '?';
			return -1;
		}
		if (json_value(item, value, sizeof(value), err, errlen) < 0)
			return -1;
		if (append(buf, len, &used, " ", k, "=") < 0 ||
		    append(buf, len, &used, value, "", "") < 0)
			goto too_long;
	}
	return 0;
too_long:
	snprintf(err, errlen, "the rule is longer than %d characters", CHAOS_RULE_TEXT_MAX);
	return -1;
}

/* Drop the rules after the first n (a document that failed adds none). */
static void truncate_list(struct chaos_rule_list *l, size_t n)
{
	while (l->n > n) {
		l->n--;
		free(l->texts[l->n]);
		free(l->origins[l->n]);
	}
}

int chaos_rule_list_add_json(struct chaos_rule_list *l, const char *json, const char *name,
			     char *err, size_t errlen)
{
	const char *end = NULL, *p;
	cJSON *doc;
	int rc = -1, line = 1, col = 1;
	size_t n0 = l->n;
	char origin[512], msg[CHAOS_ERR_MAX], text[CHAOS_RULE_TEXT_MAX + 1];

	for (p = json; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
		;
	if (!*p) {
		snprintf(err, errlen, "%s: empty file, expected {\"faults\": [...]}", name);
		return -1;
	}
	doc = cJSON_ParseWithOpts(json, &end, 1);
	if (!doc) {
		/* cJSON points at the byte where it gave up (or just after it) */
		const char *at = end ? end : cJSON_GetErrorPtr();
		if (!at)
			at = json;
		for (p = json; p < at && *p; p++) {
			if (*p == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		snprintf(err, errlen, "%s: line %d, column %d: not valid JSON%s", name, line, col,
			 *p ? "" : " (it ends too early)");
		return -1;
	}
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "%s: expected an object {\"faults\": [...]}", name);
		goto out;
	}
	const cJSON *item;
	const cJSON *key;
	cJSON_ArrayForEach(key, doc)
	{
		if (strcmp(key->string, "faults") != 0) {
			snprintf(err, errlen, "%s: unknown key \"%.40s\" (expected \"faults\")", name,
				 key->string);
			goto out;
		}
	}
	const cJSON *faults = cJSON_GetObjectItemCaseSensitive(doc, "faults");
	if (!faults) {
		snprintf(err, errlen, "%s: no \"faults\" list", name);
		goto out;
	}
	if (faults != doc->child || faults->next) {
		snprintf(err, errlen, "%s: \"faults\" is given twice", name);
		goto out;
	}
	if (!cJSON_IsArray(faults)) {
		snprintf(err, errlen, "%s: \"faults\" must be a list", name);
		goto out;
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
	if (rc < 0)
		truncate_list(l, n0);
	cJSON_Delete(doc);
	return rc;
}

#define CONFIG_MAX (64u << 20) /* a config file is rules, not data */

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
		if (len > CONFIG_MAX) {
			snprintf(err, errlen, "%s: larger than 64 MiB", path);
			free(data);
			fclose(f);
			return -1;
		}
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
