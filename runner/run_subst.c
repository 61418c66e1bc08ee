/* run_subst.c -- ${name} substitution, exactly Python's string.Template.safe_substitute
 *
 * The mapping is ChainMap(configuration, *secrets.values()): configuration first, then each
 * secret scope in declaration order.  `$$` is `$`; `$name` and `${name}` are replaced when
 * the name is known and left verbatim otherwise; a lone `$` stays.  Names are
 * [_A-Za-z][_A-Za-z0-9]* (ASCII).  A string that is exactly `${name}` takes the value itself,
 * with its JSON type; elsewhere values are inserted as Python's str() prints them.
 */
#include "run.h"

#include <stdlib.h>
#include <string.h>

static const cJSON *lookup(const char *name, size_t len, const cJSON *config,
			   const cJSON *secrets)
{
	char key[256];
	if (len >= sizeof(key))
		return NULL;
	memcpy(key, name, len);
	key[len] = '\0';
	const cJSON *v = rj_get(config, key);
	if (v)
		return v;
	if (cJSON_IsObject(secrets))
		for (const cJSON *scope = secrets->child; scope; scope = scope->next) {
			v = rj_get(scope, key);
			if (v)
				return v;
		}
	return NULL;
}

static bool id_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool id_char(char c)
{
	return id_start(c) || (c >= '0' && c <= '9');
}

static size_t id_len(const char *p)
{
	if (!id_start(*p))
		return 0;
	size_t n = 1;
	while (id_char(p[n]))
		n++;
	return n;
}

cJSON *run_subst_string(const char *s, const cJSON *config, const cJSON *secrets)
{
	/* the whole string is one ${name}: keep the value's type */
	size_t n = strlen(s);
	if (n > 3 && s[0] == '$' && s[1] == '{' && s[n - 1] == '}' && id_len(s + 2) == n - 3) {
		const cJSON *v = lookup(s + 2, n - 3, config, secrets);
		if (v)
			return cJSON_Duplicate(v, true);
		return cJSON_CreateString(s);
	}

	size_t cap = n + 64, o = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
#define PUT(src, len)                                                                          \
	do {                                                                                   \
		size_t l_ = (len);                                                             \
		if (o + l_ + 1 > cap) {                                                        \
			while (o + l_ + 1 > cap)                                               \
				cap *= 2;                                                      \
			char *nb_ = realloc(out, cap);                                         \
			if (!nb_) {                                                            \
				free(out);                                                     \
				return NULL;                                                   \
			}                                                                      \
			out = nb_;                                                             \
		}                                                                              \
		memcpy(out + o, (src), l_);                                                    \
		o += l_;                                                                       \
	} while (0)

	for (const char *p = s; *p;) {
		if (*p != '$') {
			const char *q = strchr(p, '$');
			size_t l = q ? (size_t)(q - p) : strlen(p);
			PUT(p, l);
			p += l;
			continue;
		}
		/* p is at '$' */
		if (p[1] == '$') {
			PUT("$", 1);
			p += 2;
			continue;
		}
		const char *name = NULL;
		size_t nlen = 0, whole = 0;
		if (p[1] == '{') {
			nlen = id_len(p + 2);
			if (nlen && p[2 + nlen] == '}') {
				name = p + 2;
				whole = nlen + 3;
			}
		} else {
			nlen = id_len(p + 1);
			if (nlen) {
				name = p + 1;
				whole = nlen + 1;
			}
		}
		if (!name) {
			/* invalid placeholder: safe_substitute keeps the '$' */
			PUT("$", 1);
			p++;
			continue;
		}
		const cJSON *v = lookup(name, nlen, config, secrets);
		if (!v) {
			PUT(p, whole);
		} else {
			char *txt = rj_pystr(v);
			if (!txt) {
				free(out);
				return NULL;
			}
			PUT(txt, strlen(txt));
			free(txt);
		}
		p += whole;
	}
#undef PUT
	out[o] = '\0';
	cJSON *r = cJSON_CreateString(out);
	free(out);
	return r;
}

cJSON *run_subst(const cJSON *data, const cJSON *config, const cJSON *secrets)
{
	if (!data)
		return NULL;
	if (cJSON_IsString(data))
		return run_subst_string(data->valuestring, config, secrets);
	if (cJSON_IsArray(data) || cJSON_IsObject(data)) {
		cJSON *out = cJSON_IsArray(data) ? cJSON_CreateArray() : cJSON_CreateObject();
		if (!out)
			return NULL;
		for (const cJSON *c = data->child; c; c = c->next) {
			cJSON *v = run_subst(c, config, secrets);
			if (!v) {
				cJSON_Delete(out);
				return NULL;
			}
			if (cJSON_IsArray(data))
				cJSON_AddItemToArray(out, v);
			else
				cJSON_AddItemToObject(out, c->string, v);
		}
		return out;
	}
	return cJSON_Duplicate(data, true);
}
