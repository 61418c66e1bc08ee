/* run_json.c -- JSON the way Chaos Toolkit's Python writes and compares it
 *
 * The journal is json.dump(indent=2, ensure_ascii=False): ", " / ": " separators, floats in
 * repr() form, non-ASCII kept.  Tolerances compare with Python's ==, and substitution
 * stringifies with str().  cJSON does not tell 1 from 1.0, so numbers we create as floats carry
 * the private RJ_FLOAT bit; a parsed number prints as an integer when it is integral.
 */
#include "run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *rj_float(double d)
{
	cJSON *n = cJSON_CreateNumber(d);
	if (n)
		n->type |= RJ_FLOAT;
	return n;
}

cJSON *rj_get(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

void rj_set(cJSON *obj, const char *key, cJSON *value)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, key))
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
	else
		cJSON_AddItemToObject(obj, key, value);
}

bool rj_is_int(const cJSON *n)
{
	if (!cJSON_IsNumber(n) || (n->type & RJ_FLOAT))
		return false;
	double d = n->valuedouble;
	return isfinite(d) && d == floor(d) && fabs(d) < 9.3e18;
}

void rj_fmt_double(double d, char *buf, size_t len)
{
	if (isnan(d)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, len, d > 0 ? "Infinity" : "-Infinity");
		return;
	}
	if (d == 0) {
		snprintf(buf, len, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	/* shortest %.*e that reads back exactly, then Python's repr layout */
	char e[64];
	int prec;
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, d);
		if (strtod(e, NULL) == d)
			break;
	}
	char digits[32];
	size_t nd = 0;
	const char *p = e;
	bool neg = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	digits[nd] = '\0';
	int exp = (int)strtol(p + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';

	char out[64];
	size_t o = 0;
	if (neg)
		out[o++] = '-';
	if (exp >= -4 && exp < 16) { /* Python: fixed notation in [1e-4, 1e16) */
		if (exp < 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (int i = -1; i > exp; i--)
				out[o++] = '0';
			for (size_t i = 0; i < nd; i++)
				out[o++] = digits[i];
		} else {
			for (int i = 0; i <= exp; i++)
				out[o++] = (size_t)i < nd ? digits[i] : '0';
			out[o++] = '.';
			if ((size_t)exp + 1 < nd)
				for (size_t i = (size_t)exp + 1; i < nd; i++)
					out[o++] = digits[i];
			else
				out[o++] = '0';
		}
		out[o] = '\0';
		snprintf(buf, len, "%s", out);
		return;
	}
	o = neg ? 1 : 0;
	out[o++] = digits[0];
	if (nd > 1) {
		out[o++] = '.';
		for (size_t i = 1; i < nd; i++)
			out[o++] = digits[i];
	}
	out[o] = '\0';
	snprintf(buf, len, "%se%c%02d", out, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

static void num_text(const cJSON *n, char *buf, size_t len)
{
	if (rj_is_int(n))
		snprintf(buf, len, "%lld", (long long)n->valuedouble);
	else
		rj_fmt_double(n->valuedouble, buf, len);
}

static void json_string(struct strbuf *b, const char *s)
{
	strbuf_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		switch (*p) {
		case '"': strbuf_add(b, "\\\"", 2); break;
		case '\\': strbuf_add(b, "\\\\", 2); break;
		case '\n': strbuf_add(b, "\\n", 2); break;
		case '\r': strbuf_add(b, "\\r", 2); break;
		case '\t': strbuf_add(b, "\\t", 2); break;
		case '\b': strbuf_add(b, "\\b", 2); break;
		case '\f': strbuf_add(b, "\\f", 2); break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				strbuf_add(b, esc, 6);
			} else {
				strbuf_add(b, (const char *)p, 1);
			}
		}
	}
	strbuf_add(b, "\"", 1);
}

static void indent_to(struct strbuf *b, int indent, int level)
{
	strbuf_add(b, "\n", 1);
	for (int i = 0; i < indent * level; i++)
		strbuf_add(b, " ", 1);
}

static void json_value(struct strbuf *b, const cJSON *it, int indent, int level)
{
	char num[64];
	switch (it->type & 0xff) {
	case cJSON_NULL: strbuf_str(b, "null"); return;
	case cJSON_True: strbuf_str(b, "true"); return;
	case cJSON_False: strbuf_str(b, "false"); return;
	case cJSON_Number:
		num_text(it, num, sizeof(num));
		strbuf_str(b, num);
		return;
	case cJSON_String: json_string(b, it->valuestring ? it->valuestring : ""); return;
	case cJSON_Raw: strbuf_str(b, it->valuestring ? it->valuestring : "null"); return;
	case cJSON_Array:
	case cJSON_Object: {
		bool obj = cJSON_IsObject(it);
		const cJSON *c = it->child;
		strbuf_add(b, obj ? "{" : "[", 1);
		if (!c) {
			strbuf_add(b, obj ? "}" : "]", 1);
			return;
		}
		for (; c; c = c->next) {
			if (indent >= 0)
				indent_to(b, indent, level + 1);
			if (obj) {
				json_string(b, c->string ? c->string : "");
				strbuf_add(b, ": ", 2);
			}
			json_value(b, c, indent, level + 1);
			if (c->next)
				strbuf_add(b, indent >= 0 ? "," : ", ", indent >= 0 ? 1 : 2);
		}
		if (indent >= 0)
			indent_to(b, indent, level);
		strbuf_add(b, obj ? "}" : "]", 1);
		return;
	}
	default: strbuf_str(b, "null");
	}
}

char *rj_print(const cJSON *item, int indent)
{
	struct strbuf b = {0};
	json_value(&b, item, indent, 0);
	return strbuf_take(&b);
}

/* Python repr() of a str: single quotes unless the text has ' and no ". */
static void py_repr_str(struct strbuf *b, const char *s)
{
	char q = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';
	strbuf_add(b, &q, 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '\\')
			strbuf_add(b, "\\\\", 2);
		else if (*p == (unsigned char)q) {
			strbuf_add(b, "\\", 1);
			strbuf_add(b, (const char *)p, 1);
		} else if (*p == '\n')
			strbuf_add(b, "\\n", 2);
		else if (*p == '\r')
			strbuf_add(b, "\\r", 2);
		else if (*p == '\t')
			strbuf_add(b, "\\t", 2);
		else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			strbuf_add(b, esc, 4);
		} else
			strbuf_add(b, (const char *)p, 1);
	}
	strbuf_add(b, &q, 1);
}

static void py_value(struct strbuf *b, const cJSON *it, bool top)
{
	char num[64];
	switch (it->type & 0xff) {
	case cJSON_NULL: strbuf_str(b, "None"); return;
	case cJSON_True: strbuf_str(b, "True"); return;
	case cJSON_False: strbuf_str(b, "False"); return;
	case cJSON_Number:
		if (!rj_is_int(it) && isinf(it->valuedouble))
			strbuf_str(b, it->valuedouble > 0 ? "inf" : "-inf");
		else if (!rj_is_int(it) && isnan(it->valuedouble))
			strbuf_str(b, "nan");
		else {
			num_text(it, num, sizeof(num));
			strbuf_str(b, num);
		}
		return;
	case cJSON_String:
		if (top)
			strbuf_str(b, it->valuestring);
		else
			py_repr_str(b, it->valuestring);
		return;
	case cJSON_Array:
	case cJSON_Object: {
		bool obj = cJSON_IsObject(it);
		strbuf_add(b, obj ? "{" : "[", 1);
		for (const cJSON *c = it->child; c; c = c->next) {
			if (obj) {
				py_repr_str(b, c->string ? c->string : "");
				strbuf_add(b, ": ", 2);
			}
			py_value(b, c, false);
			if (c->next)
				strbuf_add(b, ", ", 2);
		}
		strbuf_add(b, obj ? "}" : "]", 1);
		return;
	}
	default: strbuf_str(b, "None");
	}
}

char *rj_pystr(const cJSON *item)
{
	struct strbuf b = {0};
	py_value(&b, item, true);
	return strbuf_take(&b);
}

static bool is_numeric(const cJSON *x)
{
	return cJSON_IsNumber(x) || cJSON_IsBool(x);
}

static double numeric(const cJSON *x)
{
	if (cJSON_IsBool(x))
		return cJSON_IsTrue(x) ? 1 : 0;
	return x->valuedouble;
}

bool rj_equal(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return a == b;
	if (is_numeric(a) && is_numeric(b))
		return numeric(a) == numeric(b);
	if ((a->type & 0xff) != (b->type & 0xff))
		return false;
	switch (a->type & 0xff) {
	case cJSON_NULL: return true;
	case cJSON_String: return strcmp(a->valuestring, b->valuestring) == 0;
	case cJSON_Array: {
		const cJSON *x = a->child, *y = b->child;
		for (; x && y; x = x->next, y = y->next)
			if (!rj_equal(x, y))
				return false;
		return !x && !y;
	}
	case cJSON_Object: {
		if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
			return false;
		for (const cJSON *x = a->child; x; x = x->next) {
			const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (!y || !rj_equal(x, y))
				return false;
		}
		return true;
	}
	}
	return false;
}

const char *rj_type(const cJSON *it)
{
	if (!it)
		return "missing";
	switch (it->type & 0xff) {
	case cJSON_NULL: return "null";
	case cJSON_True:
	case cJSON_False: return "boolean";
	case cJSON_Number: return "number";
	case cJSON_String: return "string";
	case cJSON_Array: return "list";
	case cJSON_Object: return "object";
	}
	return "value";
}

bool rj_truthy(const cJSON *it)
{
	if (!it)
		return false;
	switch (it->type & 0xff) {
	case cJSON_NULL:
	case cJSON_False: return false;
	case cJSON_True: return true;
	case cJSON_Number: return it->valuedouble != 0;
	case cJSON_String: return it->valuestring && *it->valuestring;
	case cJSON_Array:
	case cJSON_Object: return it->child != NULL;
	}
	return false;
}

/* Length of a valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return p[0] ? 1 : 0;
	size_t len;
	unsigned cp;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Output bytes as text: valid UTF-8 is kept; otherwise the whole text is read as Latin-1
 * (what charset detection picks for most 8-bit output).  NUL bytes become U+FFFD. */
char *rj_text_from_bytes(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	bool utf8 = true;
	for (size_t i = 0; i < len;) {
		if (p[i] == 0) {
			i++;
			continue;
		}
		size_t l = utf8_len(p + i, len - i);
		if (!l) {
			utf8 = false;
			break;
		}
		i += l;
	}
	char *out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (c == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
		} else if (c < 0x80 || utf8) {
			out[o++] = (char)c;
		} else {
			out[o++] = (char)(0xc0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[o] = '\0';
	return out;
}
