/* run_jsonpath.c -- the JSON path subset of jsonpath tolerances (jsonpath2's grammar)
 *
 *   $                     the root (required first, as jsonpath2 requires)
 *   .name  ["name"]       a member ('name' quotes work too)
 *   .*  [*]               every member or element
 *   ..name  ..*  ..[n]    recursive descent
 *   [n]  [-1]  [a,b,c]    elements by index (negative from the end), unions
 *   [start:end:step]      slices, each part optional
 *   [?(expr)]             filter: @.a.b, literals ("s", 'x', numbers, true, false, null),
 *                         = (or ==) != < <= > >=, and, or, not, parentheses; a bare @.x tests
 *                         that the member exists
 * Matches come out in document order.  Anything else is "JSON path P is invalid".
 */
#include "run.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp {
	const char *s, *p;
	char *err;
	size_t errlen;
	bool fail;
};

static void jp_err(struct jp *j, const char *what)
{
	if (!j->fail)
		snprintf(j->err, j->errlen, "%s at offset %zu", what, (size_t)(j->p - j->s));
	j->fail = true;
}

static void skip_ws(struct jp *j)
{
	while (*j->p == ' ' || *j->p == '\t')
		j->p++;
}

static void add(cJSON *out, const cJSON *v)
{
	cJSON_AddItemReferenceToArray(out, (cJSON *)v);
}

/* ---- filter expressions, evaluated against one candidate (@) ---------------------------- */

enum { V_NONE, V_JSON, V_NUM, V_STR, V_BOOL, V_NULL };

struct val {
	int kind;
	const cJSON *json;
	double num;
	char str[256];
	bool b;
};

static bool parse_name(struct jp *j, char *buf, size_t len)
{
	size_t n = 0;
	if (!(isalpha((unsigned char)*j->p) || *j->p == '_'))
		return false;
	while (isalnum((unsigned char)*j->p) || *j->p == '_' || *j->p == '-') {
		if (n + 1 < len)
			buf[n++] = *j->p;
		j->p++;
	}
	buf[n] = '\0';
	return true;
}

static bool parse_quoted(struct jp *j, char *buf, size_t len)
{
	char q = *j->p;
	if (q != '"' && q != '\'')
		return false;
	j->p++;
	size_t n = 0;
	while (*j->p && *j->p != q) {
		if (*j->p == '\\' && j->p[1])
			j->p++;
		if (n + 1 < len)
			buf[n++] = *j->p;
		j->p++;
	}
	if (*j->p != q) {
		jp_err(j, "unterminated string");
		return false;
	}
	j->p++;
	buf[n] = '\0';
	return true;
}

static bool eval_or(struct jp *j, const cJSON *cur, bool *res);

/* @.a.b["c"][0] relative to cur */
static void parse_operand(struct jp *j, const cJSON *cur, struct val *v)
{
	skip_ws(j);
	memset(v, 0, sizeof(*v));
	if (*j->p == '@') {
		j->p++;
		const cJSON *x = cur;
		for (;;) {
			char name[256];
			if (*j->p == '.' && j->p[1] != '.') {
				j->p++;
				if (!parse_name(j, name, sizeof(name))) {
					jp_err(j, "expected a member name");
					return;
				}
				x = rj_get(x, name);
			} else if (*j->p == '[') {
				j->p++;
				skip_ws(j);
				if (*j->p == '"' || *j->p == '\'') {
					if (!parse_quoted(j, name, sizeof(name)))
						return;
					x = rj_get(x, name);
				} else {
					char *end;
					long idx = strtol(j->p, &end, 10);
					if (end == j->p) {
						jp_err(j, "expected an index");
						return;
					}
					j->p = end;
					int n = cJSON_IsArray(x) ? cJSON_GetArraySize(x) : 0;
					if (idx < 0)
						idx += n;
					x = cJSON_IsArray(x) && idx >= 0 && idx < n
						? cJSON_GetArrayItem(x, (int)idx) : NULL;
				}
				skip_ws(j);
				if (*j->p != ']') {
					jp_err(j, "expected ]");
					return;
				}
				j->p++;
			} else
				break;
		}
		v->kind = x ? V_JSON : V_NONE;
		v->json = x;
		return;
	}
	if (*j->p == '"' || *j->p == '\'') {
		if (parse_quoted(j, v->str, sizeof(v->str)))
			v->kind = V_STR;
		return;
	}
	if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "false", 5)) {
		v->kind = V_BOOL;
		v->b = j->p[0] == 't';
		j->p += v->b ? 4 : 5;
		return;
	}
	if (!strncmp(j->p, "null", 4)) {
		v->kind = V_NULL;
		j->p += 4;
		return;
	}
	char *end;
	errno = 0;
	double d = strtod(j->p, &end);
	if (end == j->p || errno) {
		jp_err(j, "expected a value");
		return;
	}
	j->p = end;
	v->kind = V_NUM;
	v->num = d;
}

/* Normalise a value to (kind, number or string) for comparisons. */
static int norm(const struct val *v, double *num, const char **str, bool *b)
{
	if (v->kind == V_JSON) {
		const cJSON *x = v->json;
		if (cJSON_IsNumber(x)) {
			*num = x->valuedouble;
			return V_NUM;
		}
		if (cJSON_IsString(x)) {
			*str = x->valuestring;
			return V_STR;
		}
		if (cJSON_IsBool(x)) {
			*b = cJSON_IsTrue(x);
			return V_BOOL;
		}
		if (cJSON_IsNull(x))
			return V_NULL;
		return V_JSON;
	}
	*num = v->num;
	*str = v->str;
	*b = v->b;
	return v->kind;
}

static bool compare(const struct val *a, const char *op, const struct val *b)
{
	double na = 0, nb = 0;
	const char *sa = NULL, *sb = NULL;
	bool ba = false, bb = false;
	int ka = norm(a, &na, &sa, &ba), kb = norm(b, &nb, &sb, &bb);
	if (ka == V_NONE || kb == V_NONE)
		return !strcmp(op, "!=") && ka != kb;
	int cmp;
	if (ka == V_JSON || kb == V_JSON) {
		if (ka == V_JSON && kb == V_JSON && (!strcmp(op, "=") || !strcmp(op, "!=")))
			return rj_equal(a->json, b->json) == !strcmp(op, "=");
		return !strcmp(op, "!=");
	}
	if (ka != kb)
		return !strcmp(op, "!=");
	if (ka == V_NUM)
		cmp = na < nb ? -1 : na > nb ? 1 : 0;
	else if (ka == V_STR)
		cmp = strcmp(sa, sb);
	else if (ka == V_BOOL)
		cmp = (int)ba - (int)bb;
	else
		cmp = 0;
	if (!strcmp(op, "="))
		return cmp == 0;
	if (!strcmp(op, "!="))
		return cmp != 0;
	if (!strcmp(op, "<"))
		return cmp < 0;
	if (!strcmp(op, "<="))
		return cmp <= 0;
	if (!strcmp(op, ">"))
		return cmp > 0;
	return cmp >= 0;
}

static bool eval_atom(struct jp *j, const cJSON *cur, bool *res)
{
	skip_ws(j);
	if (!strncmp(j->p, "not", 3) && !isalnum((unsigned char)j->p[3])) {
		j->p += 3;
		bool r;
		if (!eval_atom(j, cur, &r))
			return false;
		*res = !r;
		return true;
	}
	if (*j->p == '(') {
		j->p++;
		if (!eval_or(j, cur, res))
			return false;
		skip_ws(j);
		if (*j->p != ')') {
			jp_err(j, "expected )");
			return false;
		}
		j->p++;
		return true;
	}
	struct val a, b;
	parse_operand(j, cur, &a);
	if (j->fail)
		return false;
	skip_ws(j);
	const char *ops[] = {"==", "!=", "<=", ">=", "=", "<", ">"};
	const char *op = NULL;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(j->p, ops[i], strlen(ops[i]))) {
			op = ops[i];
			break;
		}
	if (!op) {
		if (a.kind != V_JSON && a.kind != V_NONE) {
			jp_err(j, "expected a comparison");
			return false;
		}
		*res = a.kind == V_JSON;
		return true;
	}
	j->p += strlen(op);
	parse_operand(j, cur, &b);
	if (j->fail)
		return false;
	*res = compare(&a, !strcmp(op, "==") ? "=" : op, &b);
	return true;
}

static bool eval_and(struct jp *j, const cJSON *cur, bool *res)
{
	if (!eval_atom(j, cur, res))
		return false;
	for (;;) {
		skip_ws(j);
		if (strncmp(j->p, "and", 3) || isalnum((unsigned char)j->p[3]))
			return true;
		j->p += 3;
		bool r;
		if (!eval_atom(j, cur, &r))
			return false;
		*res = *res && r;
	}
}

static bool eval_or(struct jp *j, const cJSON *cur, bool *res)
{
	if (!eval_and(j, cur, res))
		return false;
	for (;;) {
		skip_ws(j);
		if (strncmp(j->p, "or", 2) || isalnum((unsigned char)j->p[2]))
			return true;
		j->p += 2;
		bool r;
		if (!eval_and(j, cur, &r))
			return false;
		*res = *res || r;
	}
}

/* ---- path steps ------------------------------------------------------------------------- */

/* Apply one bracket selector ("[...]" without the brackets, at j->p) to node, into out. */
static void apply_bracket(struct jp *j, const cJSON *node, cJSON *out, const char *start)
{
	j->p = start;
	skip_ws(j);
	if (*j->p == '*') {
		j->p++;
		if (cJSON_IsArray(node) || cJSON_IsObject(node))
			for (const cJSON *c = node->child; c; c = c->next)
				add(out, c);
		return;
	}
	if (*j->p == '?') {
		j->p++;
		skip_ws(j);
		if (*j->p != '(') {
			jp_err(j, "expected ( after ?");
			return;
		}
		j->p++;
		const char *expr = j->p;
		bool any = false;
		if (cJSON_IsArray(node) || cJSON_IsObject(node)) {
			for (const cJSON *c = node->child; c; c = c->next) {
				bool r;
				j->p = expr;
				if (!eval_or(j, c, &r))
					return;
				if (r)
					add(out, c);
				any = true;
			}
		}
		if (!any) {
			/* still parse it, for the syntax check */
			bool r;
			cJSON *empty = cJSON_CreateObject();
			j->p = expr;
			eval_or(j, empty, &r);
			cJSON_Delete(empty);
			if (j->fail)
				return;
		}
		skip_ws(j);
		if (*j->p != ')') {
			jp_err(j, "expected )");
			return;
		}
		j->p++;
		return;
	}
	/* a union of names, indices or one slice */
	for (;;) {
		skip_ws(j);
		char name[256];
		if (*j->p == '"' || *j->p == '\'') {
			if (!parse_quoted(j, name, sizeof(name)))
				return;
			const cJSON *v = rj_get(node, name);
			if (v)
				add(out, v);
		} else {
			long parts[3] = {0, 0, 1};
			bool have[3] = {false, false, false};
			int np = 0;
			for (;;) {
				skip_ws(j);
				char *end;
				long x = strtol(j->p, &end, 10);
				if (end != j->p) {
					parts[np] = x;
					have[np] = true;
					j->p = end;
				}
				skip_ws(j);
				if (*j->p == ':' && np < 2) {
					j->p++;
					np++;
					continue;
				}
				break;
			}
			int n = cJSON_IsArray(node) ? cJSON_GetArraySize(node) : 0;
			if (np == 0) {
				if (!have[0]) {
					jp_err(j, "expected an index, a name, * or ?()");
					return;
				}
				long idx = parts[0] < 0 ? parts[0] + n : parts[0];
				if (cJSON_IsArray(node) && idx >= 0 && idx < n)
					add(out, cJSON_GetArrayItem(node, (int)idx));
			} else if (cJSON_IsArray(node)) {
				long step = have[2] ? parts[2] : 1;
				if (step == 0) {
					jp_err(j, "slice step cannot be zero");
					return;
				}
				long lo, hi;
				if (step > 0) {
					lo = have[0] ? (parts[0] < 0 ? parts[0] + n : parts[0]) : 0;
					hi = have[1] ? (parts[1] < 0 ? parts[1] + n : parts[1]) : n;
					if (lo < 0)
						lo = 0;
					if (hi > n)
						hi = n;
					for (long i = lo; i < hi; i += step)
						add(out, cJSON_GetArrayItem(node, (int)i));
				} else {
					lo = have[0] ? (parts[0] < 0 ? parts[0] + n : parts[0]) : n - 1;
					hi = have[1] ? (parts[1] < 0 ? parts[1] + n : parts[1]) : -1;
					if (lo > n - 1)
						lo = n - 1;
					for (long i = lo; i > hi && i >= 0; i += step)
						add(out, cJSON_GetArrayItem(node, (int)i));
				}
			}
		}
		skip_ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		return;
	}
}

static void descend(const cJSON *node, cJSON *all)
{
	add(all, node);
	if (cJSON_IsArray(node) || cJSON_IsObject(node))
		for (const cJSON *c = node->child; c; c = c->next)
			descend(c, all);
}

/* Evaluate the steps after `$`.  cur is an array of references. */
static cJSON *eval_steps(struct jp *j, cJSON *cur)
{
	while (*j->p && !j->fail) {
		bool recursive = false;
		if (j->p[0] == '.' && j->p[1] == '.') {
			recursive = true;
			j->p += 2;
			cJSON *all = cJSON_CreateArray();
			for (cJSON *c = cur->child; c; c = c->next)
				descend(c, all);
			cJSON_Delete(cur);
			cur = all;
			if (*j->p == '[')
				continue; /* ..[sel] applies the bracket to every node */
		} else if (*j->p == '.') {
			j->p++;
		} else if (*j->p != '[') {
			jp_err(j, "unexpected character");
			break;
		}
		cJSON *next = cJSON_CreateArray();
		if (*j->p == '[') {
			j->p++;
			const char *start = j->p;
			const char *after = NULL;
			if (!cur->child) {
				cJSON *empty = cJSON_CreateNull();
				apply_bracket(j, empty, next, start);
				cJSON_Delete(empty);
				after = j->p;
			}
			for (cJSON *c = cur->child; c && !j->fail; c = c->next) {
				apply_bracket(j, c, next, start);
				after = j->p;
			}
			if (!j->fail) {
				j->p = after;
				skip_ws(j);
				if (*j->p != ']')
					jp_err(j, "expected ]");
				else
					j->p++;
			}
		} else if (*j->p == '*') {
			j->p++;
			for (cJSON *c = cur->child; c; c = c->next)
				if (!recursive && (cJSON_IsArray(c) || cJSON_IsObject(c)))
					for (const cJSON *m = c->child; m; m = m->next)
						add(next, m);
				else if (recursive && (cJSON_IsArray(c) || cJSON_IsObject(c)))
					for (const cJSON *m = c->child; m; m = m->next)
						add(next, m);
		} else {
			char name[256];
			if (!parse_name(j, name, sizeof(name))) {
				jp_err(j, "expected a member name");
				cJSON_Delete(next);
				break;
			}
			for (cJSON *c = cur->child; c; c = c->next) {
				const cJSON *v = rj_get(c, name);
				if (v)
					add(next, v);
			}
		}
		cJSON_Delete(cur);
		cur = next;
	}
	return cur;
}

static cJSON *eval(const char *path, const cJSON *doc, char *err, size_t errlen)
{
	struct jp j = {.s = path, .p = path, .err = err, .errlen = errlen};
	skip_ws(&j);
	if (*j.p != '$') {
		jp_err(&j, "a JSON path starts with $");
		return NULL;
	}
	j.p++;
	cJSON *cur = cJSON_CreateArray();
	cJSON *null = NULL;
	if (!doc)
		doc = null = cJSON_CreateNull();
	add(cur, doc);
	cur = eval_steps(&j, cur);
	cJSON *res = NULL;
	if (!j.fail) {
		res = cJSON_CreateArray();
		for (cJSON *c = cur->child; c; c = c->next) {
			/* c is a reference (cJSON_AddItemReferenceToArray): duplicate the value */
			cJSON *copy = cJSON_Duplicate(c, true);
			if (copy)
				copy->string = NULL;
			cJSON_AddItemToArray(res, copy);
		}
	}
	cJSON_Delete(cur);
	cJSON_Delete(null);
	return res;
}

int run_jsonpath_check(const char *path, char *err, size_t errlen)
{
	cJSON *empty = cJSON_CreateObject();
	cJSON *r = eval(path, empty, err, errlen);
	cJSON_Delete(empty);
	if (!r)
		return -1;
	cJSON_Delete(r);
	return 0;
}

cJSON *run_jsonpath_eval(const char *path, const cJSON *doc, char *err, size_t errlen)
{
	return eval(path, doc, err, errlen);
}
