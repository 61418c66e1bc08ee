/* run_vars.c -- configuration, secrets and their --var / --var-file overrides (CTK §2)
 *
 * Overrides replace declarations before they are resolved, so an override may itself be an env
 * definition (lib issue #252).  --var only overrides keys the experiment declares (as CTK: the
 * others are ignored; the runner warns about them).  A secrets override replaces a whole scope.
 */
#include "run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcasecmp(s + n - m, suffix);
}

/* Python's int(str): optional sign, digits with single underscores, surrounding spaces. */
static int parse_pyint(const char *s, double *out)
{
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	char clean[64];
	size_t n = 0;
	const char *p = s;
	if (*p == '+' || *p == '-')
		clean[n++] = *p++;
	if (!(*p >= '0' && *p <= '9'))
		return -1;
	for (; *p && n < sizeof(clean) - 1; p++) {
		if (*p >= '0' && *p <= '9')
			clean[n++] = *p;
		else if (*p == '_' && p[1] >= '0' && p[1] <= '9' && p[-1] != '_')
			continue;
		else
			break;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (*p)
		return -1;
	clean[n] = '\0';
	errno = 0;
	char *end;
	long long v = strtoll(clean, &end, 10);
	if (errno || *end)
		return -1;
	*out = (double)v;
	return 0;
}

static int parse_pyfloat(const char *s, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (end == s || errno == ERANGE)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end)
		return -1;
	*out = d;
	return 0;
}

cJSON *run_convert_type(const char *type, const char *value, char *err, size_t errlen)
{
	double d;
	if (!type || !strcmp(type, "str") || !strcmp(type, "string") || !strcmp(type, "bytes"))
		return cJSON_CreateString(value);
	if (!strcmp(type, "int") || !strcmp(type, "integer")) {
		if (parse_pyint(value, &d) < 0) {
			snprintf(err, errlen, "'%s' is not an int", value);
			return NULL;
		}
		return cJSON_CreateNumber(d);
	}
	if (!strcmp(type, "float") || !strcmp(type, "number")) {
		if (parse_pyfloat(value, &d) < 0) {
			snprintf(err, errlen, "'%s' is not a float", value);
			return NULL;
		}
		return rj_float(d);
	}
	if (!strcmp(type, "bool"))
		return cJSON_CreateBool(strcasecmp(value, "false") && strcmp(value, "0") &&
					strcasecmp(value, "no"));
	if (!strcmp(type, "json")) {
		char msg[256];
		cJSON *j = run_parse_json(value, msg, sizeof(msg));
		if (!j)
			snprintf(err, errlen, "'%s' is not JSON: %s", value, msg);
		return j;
	}
	snprintf(err, errlen, "variable type can only be: bool, str, int, float, bytes or json");
	return NULL;
}

static void vars_init(struct run_vars *v)
{
	if (!v->config)
		v->config = cJSON_CreateObject();
	if (!v->secrets)
		v->secrets = cJSON_CreateObject();
}

int run_vars_add_var(struct run_vars *v, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg) {
		snprintf(err, errlen, "var values must be in the format name[:type]=value");
		return -1;
	}
	char key[256];
	size_t klen = (size_t)(eq - arg);
	if (klen >= sizeof(key)) {
		snprintf(err, errlen, "var name too long");
		return -1;
	}
	memcpy(key, arg, klen);
	key[klen] = '\0';
	const char *type = NULL;
	char *colon = strrchr(key, ':');
	if (colon) {
		*colon = '\0';
		type = colon + 1;
	}
	char msg[RUN_ERR_MAX];
	cJSON *val = run_convert_type(type, eq + 1, msg, sizeof(msg));
	if (!val) {
		snprintf(err, errlen, "var '%s': %s", key, msg);
		return -1;
	}
	vars_init(v);
	rj_set(v->config, key, val);
	return 0;
}

static int add_env_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		char *p = line;
		p[strcspn(p, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		if (!strncmp(p, "export ", 7))
			p += 7;
		char *eq = strchr(p, '=');
		if (!eq || eq == p) {
			snprintf(err, errlen, "%s: line %d: expected KEY=VALUE", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *val = eq + 1;
		size_t vl = strlen(val);
		if (vl >= 2 && ((val[0] == '"' && val[vl - 1] == '"') ||
				(val[0] == '\'' && val[vl - 1] == '\''))) {
			val[vl - 1] = '\0';
			val++;
		}
		char *k = p + strlen(p);
		while (k > p && (k[-1] == ' ' || k[-1] == '\t'))
			*--k = '\0';
		setenv(p, val, 1);
	}
	free(line);
	fclose(f);
	return rc;
}

int run_vars_add_file(struct run_vars *v, const char *path, char *err, size_t errlen)
{
	if (ends_with(path, ".env"))
		return add_env_file(path, err, errlen);
	if (!ends_with(path, ".json") && !ends_with(path, ".yaml") && !ends_with(path, ".yml")) {
		snprintf(err, errlen, "%s: var files must be .json, .yaml, .yml or .env", path);
		return -1;
	}
	cJSON *doc = run_load_file(path, err, errlen);
	if (!doc)
		return -1;
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "%s: a var file is an object with configuration and secrets",
			 path);
		cJSON_Delete(doc);
		return -1;
	}
	vars_init(v);
	cJSON *conf = rj_get(doc, "configuration"), *sec = rj_get(doc, "secrets");
	if ((conf && !cJSON_IsObject(conf) && !cJSON_IsNull(conf)) ||
	    (sec && !cJSON_IsObject(sec) && !cJSON_IsNull(sec))) {
		snprintf(err, errlen, "%s: configuration and secrets must be objects", path);
		cJSON_Delete(doc);
		return -1;
	}
	if (cJSON_IsObject(conf))
		for (cJSON *c = conf->child; c; c = c->next)
			rj_set(v->config, c->string, cJSON_Duplicate(c, true));
	if (cJSON_IsObject(sec))
		for (cJSON *c = sec->child; c; c = c->next)
			rj_set(v->secrets, c->string, cJSON_Duplicate(c, true));
	cJSON_Delete(doc);
	return 0;
}

/* {"type":"env","key":K,"default"?,"env_var_type"?} */
static cJSON *env_value(const char *what, const char *name, const cJSON *def, char *err,
			size_t errlen)
{
	const cJSON *key = rj_get(def, "key");
	if (!cJSON_IsString(key)) {
		snprintf(err, errlen, "%s '%s': an env entry needs a \"key\" string", what, name);
		return NULL;
	}
	const char *val = getenv(key->valuestring);
	const cJSON *dflt = rj_get(def, "default");
	const cJSON *type = rj_get(def, "env_var_type");
	if (type && !cJSON_IsString(type)) {
		snprintf(err, errlen, "variable type can only be: bool, str, int, float, bytes or json");
		return NULL;
	}
	if (!val && !dflt) {
		if (!strcmp(what, "configuration"))
			snprintf(err, errlen,
				 "Configuration makes reference to an environment key that does not "
				 "exist: %s",
				 key->valuestring);
		else
			snprintf(err, errlen,
				 "Secrets make reference to an environment key that does not exist: %s",
				 key->valuestring);
		return NULL;
	}
	if (!val) {
		if (!type || cJSON_IsNull(dflt))
			return cJSON_Duplicate(dflt, true);
		if (!cJSON_IsString(dflt)) {
			/* a typed default that is already a number or a boolean */
			char *t = rj_pystr(dflt);
			char msg[RUN_ERR_MAX];
			cJSON *r = run_convert_type(type->valuestring, t, msg, sizeof(msg));
			free(t);
			if (!r)
				snprintf(err, errlen, "%s '%s': default: %s", what, name, msg);
			return r;
		}
		val = dflt->valuestring;
	}
	char msg[RUN_ERR_MAX];
	cJSON *r = run_convert_type(type ? type->valuestring : NULL, val, msg, sizeof(msg));
	if (!r) {
		if (!strncmp(msg, "variable type", 13))
			snprintf(err, errlen, "%s", msg);
		else
			snprintf(err, errlen, "%s '%s': environment variable %s: %s", what, name,
				 key->valuestring, msg);
	}
	return r;
}

static bool is_type(const cJSON *v, const char *type)
{
	const cJSON *t = rj_get(v, "type");
	return cJSON_IsString(t) && !strcmp(t->valuestring, type);
}

cJSON *run_load_configuration(const cJSON *decl, const struct run_vars *vars, char *err,
			      size_t errlen)
{
	cJSON *conf = cJSON_CreateObject();
	if (!decl || cJSON_IsNull(decl))
		return conf;
	if (!cJSON_IsObject(decl)) {
		snprintf(err, errlen, "configuration must be an object");
		cJSON_Delete(conf);
		return NULL;
	}
	for (const cJSON *c = decl->child; c; c = c->next) {
		const cJSON *v = c;
		const cJSON *ov = vars ? rj_get(vars->config, c->string) : NULL;
		if (ov)
			v = ov;
		cJSON *val;
		if (cJSON_IsObject(v) && is_type(v, "env"))
			val = env_value("configuration", c->string, v, err, errlen);
		else
			val = cJSON_Duplicate(v, true);
		if (!val) {
			cJSON_Delete(conf);
			return NULL;
		}
		cJSON_AddItemToObject(conf, c->string, val);
	}
	return conf;
}

static cJSON *load_secret_scope(const char *scope, const cJSON *keys, char *err, size_t errlen)
{
	cJSON *out = cJSON_CreateObject();
	for (const cJSON *k = keys->child; k; k = k->next) {
		cJSON *val;
		if (!cJSON_IsObject(k)) {
			val = cJSON_Duplicate(k, true);
		} else if (is_type(k, "env")) {
			const cJSON *key = rj_get(k, "key");
			const char *e = cJSON_IsString(key) ? getenv(key->valuestring) : NULL;
			if (!cJSON_IsString(key)) {
				snprintf(err, errlen, "secret '%s.%s': an env entry needs a \"key\"",
					 scope, k->string);
				val = NULL;
			} else if (!e) {
				snprintf(err, errlen,
					 "Secrets make reference to an environment key that does not "
					 "exist: %s",
					 key->valuestring);
				val = NULL;
			} else {
				val = cJSON_CreateString(e);
			}
		} else if (is_type(k, "vault")) {
			snprintf(err, errlen,
				 "secret '%s.%s': vault secrets are not supported by chaos-run "
				 "(use an env secret)",
				 scope, k->string);
			val = NULL;
		} else {
			val = load_secret_scope(scope, k, err, errlen);
		}
		if (!val) {
			cJSON_Delete(out);
			return NULL;
		}
		cJSON_AddItemToObject(out, k->string, val);
	}
	return out;
}

cJSON *run_load_secrets(const cJSON *decl, const struct run_vars *vars, char *err, size_t errlen)
{
	cJSON *out = cJSON_CreateObject();
	if (decl && !cJSON_IsNull(decl) && !cJSON_IsObject(decl)) {
		snprintf(err, errlen, "secrets must be an object");
		cJSON_Delete(out);
		return NULL;
	}
	cJSON *merged = decl && cJSON_IsObject(decl) ? cJSON_Duplicate(decl, true)
						      : cJSON_CreateObject();
	if (vars && cJSON_IsObject(vars->secrets))
		for (cJSON *s = vars->secrets->child; s; s = s->next)
			rj_set(merged, s->string, cJSON_Duplicate(s, true));
	for (const cJSON *scope = merged->child; scope; scope = scope->next) {
		if (!cJSON_IsObject(scope)) {
			snprintf(err, errlen, "secrets scope '%s' must be an object", scope->string);
			goto fail;
		}
		cJSON *s = load_secret_scope(scope->string, scope, err, errlen);
		if (!s)
			goto fail;
		cJSON_AddItemToObject(out, scope->string, s);
	}
	cJSON_Delete(merged);
	return out;
fail:
	cJSON_Delete(merged);
	cJSON_Delete(out);
	return NULL;
}
