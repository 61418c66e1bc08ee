/* run_tolerance.c -- hypothesis tolerances: CTK's validation (§5.7) and within_tolerance (§4)
 *
 * The "dict output" rules are kept: an int or a list compares with the output's status when the
 * output is an object with a status; a bool or a string never equals an object.  Where CTK
 * crashes (a regex or range without target on an object output, a target the output lacks, a
 * regex on a number), this returns -1 with a message instead.
 */
#include "run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int run_tolerance_validate(const cJSON *tol, char *err, size_t errlen)
{
	char msg[RUN_ERR_MAX];
	bool ok_type = cJSON_IsBool(tol) || rj_is_int(tol) || cJSON_IsString(tol) ||
		       cJSON_IsArray(tol) || cJSON_IsObject(tol);
	if (!ok_type) {
		snprintf(err, errlen,
			 "hypothesis probe tolerance must either be an integer, a string, a boolean "
			 "or a pair of values for boundaries. It can also be a dictionary which is a "
			 "probe activity definition that takes an argument called `value` with the "
			 "value of the probe itself to be validated");
		return -1;
	}
	if (!cJSON_IsObject(tol))
		return 0;
	const cJSON *type = rj_get(tol, "type");
	const char *t = cJSON_IsString(type) ? type->valuestring : NULL;
	if (t && !strcmp(t, "probe"))
		return 0; /* the caller validates it as an activity */
	if (t && !strcmp(t, "regex")) {
		const cJSON *pat = rj_get(tol, "pattern");
		if (!pat) {
			snprintf(err, errlen,
				 "hypothesis regex probe tolerance must have a `pattern` key");
			return -1;
		}
		if (!cJSON_IsString(pat)) {
			char *s = cJSON_IsNull(pat) ? strdup("None") : rj_pystr(pat);
			snprintf(err, errlen, "hypothesis probe tolerance pattern %s has an invalid type",
				 s ? s : "?");
			free(s);
			return -1;
		}
		if (run_regex_check(pat->valuestring, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "hypothesis probe tolerance pattern %s seems invalid: %s",
				 pat->valuestring, msg);
			return -1;
		}
		return 0;
	}
	if (t && !strcmp(t, "jsonpath")) {
		const cJSON *path = rj_get(tol, "path");
		if (!path) {
			snprintf(err, errlen,
				 "hypothesis jsonpath probe tolerance must have a `path` key");
			return -1;
		}
		if (!cJSON_IsString(path) || !*path->valuestring) {
			snprintf(err, errlen, "hypothesis probe tolerance JSON path cannot be empty");
			return -1;
		}
		if (!strstr(path->valuestring, "${") &&
		    run_jsonpath_check(path->valuestring, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "hypothesis probe tolerance JSON path %s is invalid: %s",
				 path->valuestring, msg);
			return -1;
		}
		const cJSON *count = rj_get(tol, "count");
		if (count && !rj_is_int(count)) {
			snprintf(err, errlen, "hypothesis jsonpath probe tolerance count must be an "
					      "integer");
			return -1;
		}
		return 0;
	}
	if (t && !strcmp(t, "range")) {
		const cJSON *range = rj_get(tol, "range");
		if (!range) {
			snprintf(err, errlen,
				 "hypothesis range probe tolerance must have a `range` key");
			return -1;
		}
		if (!cJSON_IsArray(range)) {
			snprintf(err, errlen, "hypothesis range must be a sequence");
			return -1;
		}
		if (cJSON_GetArraySize(range) != 2) {
			snprintf(err, errlen, "hypothesis range sequence must be made of two values");
			return -1;
		}
		if (!cJSON_IsNumber(range->child) && !cJSON_IsBool(range->child)) {
			snprintf(err, errlen, "hypothesis range lower boundary must be a number");
			return -1;
		}
		if (!cJSON_IsNumber(range->child->next) && !cJSON_IsBool(range->child->next)) {
			snprintf(err, errlen, "hypothesis range upper boundary must be a number");
			return -1;
		}
		return 0;
	}
	char *s = t ? strdup(t) : type ? rj_pystr(type) : strdup("None");
	snprintf(err, errlen, "hypothesis probe tolerance type '%s' is unsupported", s ? s : "?");
	free(s);
	return -1;
}

static bool has_status(const cJSON *v)
{
	return cJSON_IsObject(v) && rj_get(v, "status");
}

/* Python's a <= b for JSON values: numbers (and booleans) or strings; -2 if not comparable. */
static int py_cmp(const cJSON *a, const cJSON *b)
{
	bool na = cJSON_IsNumber(a) || cJSON_IsBool(a), nb = cJSON_IsNumber(b) || cJSON_IsBool(b);
	if (na && nb) {
		double x = cJSON_IsBool(a) ? cJSON_IsTrue(a) : a->valuedouble;
		double y = cJSON_IsBool(b) ? cJSON_IsTrue(b) : b->valuedouble;
		return x < y ? -1 : x > y ? 1 : 0;
	}
	if (cJSON_IsString(a) && cJSON_IsString(b)) {
		int c = strcmp(a->valuestring, b->valuestring);
		return c < 0 ? -1 : c > 0 ? 1 : 0;
	}
	return -2;
}

/* value[target] if a target is given.  NULL with a message when CTK would crash. */
static const cJSON *targeted(const cJSON *tol, const char *kind, const cJSON *value, char *err,
			     size_t errlen)
{
	const cJSON *target = rj_get(tol, "target");
	if (!target || cJSON_IsNull(target) || (cJSON_IsString(target) && !*target->valuestring)) {
		if (cJSON_IsObject(value) || cJSON_IsArray(value)) {
			char keys[256] = "";
			size_t o = 0;
			if (cJSON_IsObject(value))
				for (const cJSON *c = value->child; c && o < sizeof(keys) - 40;
				     c = c->next)
					o += (size_t)snprintf(keys + o, sizeof(keys) - o, "%s%s",
							      o ? ", " : "", c->string);
			snprintf(err, errlen,
				 "%s tolerance has no \"target\" but the probe output is an %s%s%s%s",
				 kind, rj_type(value), *keys ? " (" : "", keys, *keys ? "): add \"target\"" : "");
			return NULL;
		}
		return value;
	}
	if (!cJSON_IsString(target)) {
		snprintf(err, errlen, "%s tolerance target must be a string", kind);
		return NULL;
	}
	if (!cJSON_IsObject(value)) {
		snprintf(err, errlen, "%s tolerance target '%s': the probe output is a %s, not an object",
			 kind, target->valuestring, rj_type(value));
		return NULL;
	}
	const cJSON *v = rj_get(value, target->valuestring);
	if (!v) {
		snprintf(err, errlen, "%s tolerance target '%s' is not in the probe output", kind,
			 target->valuestring);
		return NULL;
	}
	return v;
}

/* Decimal(v): a number, or a string holding one (spaces allowed).  false if not numeric. */
static bool decimal(const cJSON *v, double *out)
{
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return true;
	}
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v);
		return true;
	}
	if (!cJSON_IsString(v))
		return false;
	const char *s = v->valuestring;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (end == s || errno == ERANGE || isnan(d))
		return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return false;
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (*end)
		return false;
	*out = d;
	return true;
}

static int check_regex(const cJSON *tol, const cJSON *value, const struct run_tol_ctx *ctx,
		       char *err, size_t errlen)
{
	const cJSON *v = targeted(tol, "regex", value, err, errlen);
	if (!v)
		return -1;
	if (!cJSON_IsString(v)) {
		snprintf(err, errlen, "regex tolerance: the value to search is a %s, not a string",
			 rj_type(v));
		return -1;
	}
	const cJSON *pat = rj_get(tol, "pattern");
	if (!cJSON_IsString(pat)) {
		snprintf(err, errlen, "regex tolerance: pattern must be a string");
		return -1;
	}
	cJSON *sp = run_subst(pat, ctx->config, ctx->secrets);
	if (!cJSON_IsString(sp)) {
		snprintf(err, errlen, "regex tolerance: the substituted pattern is a %s, not a string",
			 rj_type(sp));
		cJSON_Delete(sp);
		return -1;
	}
	char msg[RUN_ERR_MAX];
	int r = run_regex_search(sp->valuestring, v->valuestring, strlen(v->valuestring), msg,
				 sizeof(msg));
	if (r < 0)
		snprintf(err, errlen, "regex tolerance pattern %s: %s", sp->valuestring, msg);
	cJSON_Delete(sp);
	return r;
}

static int check_range(const cJSON *tol, const cJSON *value, char *err, size_t errlen)
{
	const cJSON *v = targeted(tol, "range", value, err, errlen);
	if (!v)
		return -1;
	const cJSON *range = rj_get(tol, "range");
	double lo, hi, x;
	if (!cJSON_IsArray(range) || cJSON_GetArraySize(range) != 2 ||
	    !decimal(range->child, &lo) || !decimal(range->child->next, &hi)) {
		snprintf(err, errlen, "range tolerance: range must be two numbers");
		return -1;
	}
	if (!decimal(v, &x))
		return 0; /* CTK: a value that is not a number is not in range */
	return lo <= x && x <= hi;
}

static int check_jsonpath(const cJSON *tol, const cJSON *value, const struct run_tol_ctx *ctx,
			  char *err, size_t errlen)
{
	const cJSON *target = rj_get(tol, "target");
	const cJSON *v = value;
	if (target && !cJSON_IsNull(target)) {
		v = targeted(tol, "jsonpath", value, err, errlen);
		if (!v)
			return -1;
	}
	cJSON *parsed = NULL;
	if (cJSON_IsString(v)) {
		parsed = cJSON_Parse(v->valuestring);
		if (parsed)
			v = parsed;
	}
	cJSON *path = run_subst(rj_get(tol, "path"), ctx->config, ctx->secrets);
	if (!cJSON_IsString(path)) {
		snprintf(err, errlen, "jsonpath tolerance: path must be a string");
		cJSON_Delete(path);
		cJSON_Delete(parsed);
		return -1;
	}
	char msg[RUN_ERR_MAX];
	cJSON *matches = run_jsonpath_eval(path->valuestring, v, msg, sizeof(msg));
	if (!matches) {
		snprintf(err, errlen, "JSON path %s is invalid: %s", path->valuestring, msg);
		cJSON_Delete(path);
		cJSON_Delete(parsed);
		return -1;
	}
	int n = cJSON_GetArraySize(matches);
	int met = n > 0;
	const cJSON *count = rj_get(tol, "count");
	if (count)
		met = rj_is_int(count) && n == (int)count->valuedouble;
	const cJSON *expect_raw = rj_get(tol, "expect");
	if (expect_raw) {
		cJSON *expect = run_subst(expect_raw, ctx->config, ctx->secrets);
		bool eq;
		if (cJSON_IsArray(expect)) {
			eq = rj_equal(matches, expect);
		} else {
			cJSON *one = cJSON_CreateArray();
			cJSON_AddItemToArray(one, cJSON_Duplicate(expect, true));
			eq = rj_equal(matches, one);
			cJSON_Delete(one);
		}
		met = (count ? met : 1) && eq;
		cJSON_Delete(expect);
	}
	cJSON_Delete(matches);
	cJSON_Delete(path);
	cJSON_Delete(parsed);
	return met;
}

int run_tolerance_check(cJSON *tol, const cJSON *value, const struct run_tol_ctx *ctx, char *err,
			size_t errlen)
{
	if (cJSON_IsBool(tol))
		return rj_equal(value, tol); /* Python: True == 1, never an object */
	if (cJSON_IsNumber(tol)) {
		if (has_status(value))
			return rj_equal(rj_get(value, "status"), tol);
		return rj_equal(value, tol);
	}
	if (cJSON_IsString(tol)) {
		cJSON *t = run_subst(tol, ctx->config, ctx->secrets);
		int r;
		/* after substitution the tolerance may be of another type: dispatch again */
		if (t && !cJSON_IsString(t))
			r = run_tolerance_check(t, value, ctx, err, errlen);
		else
			r = t && rj_equal(value, t);
		cJSON_Delete(t);
		return r;
	}
	if (cJSON_IsArray(tol)) {
		if (has_status(value)) {
			const cJSON *st = rj_get(value, "status");
			for (const cJSON *c = tol->child; c; c = c->next)
				if (rj_equal(st, c))
					return 1;
			return 0;
		}
		if (cJSON_GetArraySize(tol) == 2) {
			int a = py_cmp(tol->child, value), b = py_cmp(value, tol->child->next);
			if (a == -2 || b == -2) {
				snprintf(err, errlen,
					 "list tolerance [lower, upper]: cannot compare a %s with a %s",
					 rj_type(value), rj_type(tol->child));
				return -1;
			}
			return a <= 0 && b <= 0;
		}
		for (const cJSON *c = tol->child; c; c = c->next)
			if (rj_equal(value, c))
				return 1;
		return 0;
	}
	if (cJSON_IsObject(tol)) {
		const cJSON *type = rj_get(tol, "type");
		const char *t = cJSON_IsString(type) ? type->valuestring : "";
		if (!strcmp(t, "regex"))
			return check_regex(tol, value, ctx, err, errlen);
		if (!strcmp(t, "range"))
			return check_range(tol, value, err, errlen);
		if (!strcmp(t, "jsonpath"))
			return check_jsonpath(tol, value, ctx, err, errlen);
		if (!strcmp(t, "probe")) {
			cJSON *prov = rj_get(tol, "provider");
			cJSON *args = rj_get(prov, "arguments");
			if (!cJSON_IsObject(args)) {
				snprintf(err, errlen,
					 "probe tolerance '%s': its provider needs \"arguments\" as an "
					 "object (the output is passed as arguments.value)",
					 cJSON_IsString(rj_get(tol, "name"))
						 ? rj_get(tol, "name")->valuestring : "?");
				return -1;
			}
			rj_set(args, "value", cJSON_Duplicate(value, true));
			if (!ctx->run_probe) {
				snprintf(err, errlen, "probe tolerances cannot run here");
				return -1;
			}
			return ctx->run_probe(ctx->arg, tol, err, errlen);
		}
		snprintf(err, errlen, "hypothesis probe tolerance type '%s' is unsupported", t);
		return -1;
	}
	snprintf(err, errlen, "unsupported tolerance (a %s)", rj_type(tol));
	return -1;
}
