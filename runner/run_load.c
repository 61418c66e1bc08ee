/* run_load.c -- reading experiments and var files: JSON with cJSON, YAML with libyaml
 *
 * YAML is resolved like PyYAML's safe_load (YAML 1.1): plain null/~, true/false/yes/no/on/off,
 * integers (decimal, 0x, 0o, 0b, with _), floats (with a dot or .inf/.nan), everything else a
 * string; quoted scalars are strings; anchors and aliases are copied; !!str/!!int/!!float/!!bool
 * tags are honoured.  Mapping keys must be scalars.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

static char *read_all(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "Path \"%s\" does not exist.", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat sb;
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s: is a directory", path);
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			close(fd);
			snprintf(err, errlen, "%s: out of memory", path);
			return NULL;
		}
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				continue;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

struct keyed {
	cJSON *item;
	size_t pos;
};

static const char *key_of(const cJSON *item)
{
	return item->string ? item->string : "";
}

static int by_key_then_pos(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(key_of(x->item), key_of(y->item));
	return c ? c : x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* json.loads keeps the last value of a repeated key, at the place of the first (a dict); cJSON
 * keeps them all and lookups find the first.  Make the tree what Python would see. */
static int dedupe_keys(cJSON *item)
{
	size_t n = 0;
	for (cJSON *c = item->child; c; c = c->next) {
		if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && dedupe_keys(c) < 0)
			return -1;
		n++;
	}
	if (!cJSON_IsObject(item) || n < 2)
		return 0;
	struct keyed *v = malloc(n * sizeof(*v));
	if (!v)
		return -1;
	size_t i = 0;
	for (cJSON *c = item->child; c; c = c->next, i++)
		v[i] = (struct keyed){ c, i };
	qsort(v, n, sizeof(*v), by_key_then_pos);
	for (i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && !strcmp(key_of(v[i].item), key_of(v[j].item)))
			j++;
		if (j - i > 1) {
			/* v[i] is the first, v[j - 1] the last of the run */
			for (size_t k = i + 1; k + 1 < j; k++)
				cJSON_Delete(cJSON_DetachItemViaPointer(item, v[k].item));
			cJSON *last = cJSON_DetachItemViaPointer(item, v[j - 1].item);
			cJSON_ReplaceItemViaPointer(item, v[i].item, last);
		}
		i = j;
	}
	free(v);
	return 0;
}

/* ---- where a JSON text goes wrong --------------------------------------------------------
 * cJSON says that a text is not JSON but not always where (a ',' before '}' reads as the end of
 * the file): when it refuses a text, this strict reader (RFC 8259) finds the first place that is
 * wrong and says what is wrong there. */

struct jloc {
	const char *s, *p;
	const char *what; /* NULL while the text is fine */
	int depth;
};

static bool jfail(struct jloc *j, const char *at, const char *what)
{
	if (!j->what) {
		j->p = at;
		j->what = what;
	}
	return false;
}

static void jws(struct jloc *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static bool jdigits(struct jloc *j)
{
	if (*j->p < '0' || *j->p > '9')
		return false;
	while (*j->p >= '0' && *j->p <= '9')
		j->p++;
	return true;
}

static bool jstring(struct jloc *j)
{
	const char *start = j->p++;
	for (;;) {
		unsigned char c = (unsigned char)*j->p;
		if (!c)
			return jfail(j, start, "this string is not closed");
		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return jfail(j, j->p, "a control character in a string (write \\n, \\t, ...)");
		if (c == '\\') {
			char e = j->p[1];
			if (e == 'u') {
				for (int i = 2; i < 6; i++)
					if (!strchr("0123456789abcdefABCDEF", j->p[i]) || !j->p[i])
						return jfail(j, j->p, "\\u without 4 hex digits");
				j->p += 6;
				continue;
			}
			if (!e || !strchr("\"\\/bfnrt", e))
				return jfail(j, j->p, "an escape JSON does not have");
			j->p += 2;
			continue;
		}
		j->p++;
	}
}

static bool jvalue(struct jloc *j);

static bool jcontainer(struct jloc *j, char close)
{
	bool obj = close == '}';
	if (++j->depth > 1000)
		return jfail(j, j->p, "nested deeper than 1000 levels");
	j->p++;
	jws(j);
	if (*j->p == close) {
		j->p++;
		j->depth--;
		return true;
	}
	for (;;) {
		jws(j);
		if (obj) {
			if (*j->p != '"')
				return jfail(j, j->p, *j->p == '}' ? "a ',' before '}' (JSON allows none after "
								     "the last member)"
							  : "a name in double quotes expected");
			if (!jstring(j))
				return false;
			jws(j);
			if (*j->p != ':')
				return jfail(j, j->p, "':' expected after the name");
			j->p++;
			jws(j);
		}
		if (!obj && *j->p == ']')
			return jfail(j, j->p, "a ',' before ']' (JSON allows none after the last item)");
		if (!jvalue(j))
			return false;
		jws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p == close) {
			j->p++;
			j->depth--;
			return true;
		}
		return jfail(j, j->p, obj ? "',' or '}' expected" : "',' or ']' expected");
	}
}

static bool jvalue(struct jloc *j)
{
	static const char *const words[] = { "true", "false", "null" };
	char c = *j->p;
	if (c == '{' || c == '[')
		return jcontainer(j, c == '{' ? '}' : ']');
	if (c == '"')
		return jstring(j);
	for (int i = 0; i < 3; i++)
		if (!strncmp(j->p, words[i], strlen(words[i]))) {
			j->p += strlen(words[i]);
			return true;
		}
	if (c == '-' || (c >= '0' && c <= '9')) {
		const char *start = j->p;
		if (*j->p == '-')
			j->p++;
		if (*j->p == '0')
			j->p++;
		else if (!jdigits(j))
			return jfail(j, start, "a number expected");
		if (*j->p == '.') {
			j->p++;
			if (!jdigits(j))
				return jfail(j, j->p, "digits expected after the '.' of a number");
		}
		if (*j->p == 'e' || *j->p == 'E') {
			j->p++;
			if (*j->p == '+' || *j->p == '-')
				j->p++;
			if (!jdigits(j))
				return jfail(j, j->p, "digits expected in the exponent of a number");
		}
		return true;
	}
	return jfail(j, j->p, "a value expected (an object, a list, a string, a number, true, false or null)");
}

/* The first error of text: its offset and what was expected there; false if none is found. */
static bool json_locate(const char *text, size_t *off, const char **what)
{
	struct jloc j = { .s = text, .p = text };
	jws(&j);
	if (jvalue(&j)) {
		jws(&j);
		if (*j.p)
			jfail(&j, j.p, "more text after the value");
	}
	if (!j.what)
		return false;
	*off = (size_t)(j.p - text);
	*what = j.what;
	return true;
}

cJSON *run_parse_json(const char *text, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithOpts(text, &end, true);
	if (root && dedupe_keys(root) < 0) {
		cJSON_Delete(root);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (root)
		return root;
	size_t off;
	const char *what = NULL;
	if (json_locate(text, &off, &what))
		end = text + off;
	if (!end)
		end = text;
	int line = 1, col = 1;
	for (const char *p = text; p < end && *p; p++) {
		if (*p == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	if (!*end)
		snprintf(err, errlen, "invalid JSON: unexpected end of file at line %d", line);
	else if (what)
		snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", line, col, what);
	else
		snprintf(err, errlen, "invalid JSON at line %d, column %d", line, col);
	return NULL;
}

/* ---- YAML ------------------------------------------------------------------------------- */

struct anchor {
	char *name;
	cJSON *value;
};

/* Limits a hostile or broken file meets before the stack or the memory gives out: nesting as
 * deep as cJSON allows JSON, and values in all (aliases copy what they name, so a few lines of
 * "billion laughs" would otherwise expand to billions). */
#define YAML_DEPTH_MAX 1000
#define YAML_NODES_MAX 200000

struct yparser {
	yaml_parser_t p;
	struct anchor *anchors;
	size_t nanchors;
	size_t depth, nodes;
	char *err;
	size_t errlen;
};

static void yerr(struct yparser *y, const yaml_mark_t *m, const char *msg)
{
	snprintf(y->err, y->errlen, "line %zu, column %zu: %s", m->line + 1, m->column + 1, msg);
}

static bool all_match(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

/* PyYAML's int resolver, on a copy without underscores. */
static bool yaml_int(const char *s, double *out)
{
	char clean[128];
	size_t n = 0;
	for (const char *p = s; *p && n < sizeof(clean) - 1; p++)
		if (*p != '_')
			clean[n++] = *p;
	clean[n] = '\0';
	if (strlen(s) >= sizeof(clean) - 1 || !n || strchr(s, '_') == s)
		return false;
	const char *p = clean;
	int sign = 1;
	if (*p == '+' || *p == '-') {
		if (*p == '-')
			sign = -1;
		p++;
	}
	int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		if (!all_match(p, "0123456789abcdefABCDEF"))
			return false;
	} else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
		base = 2;
		p += 2;
		if (!all_match(p, "01"))
			return false;
	} else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
		base = 8;
		p += 2;
		if (!all_match(p, "01234567"))
			return false;
	} else if (p[0] == '0' && p[1]) {
		base = 8; /* YAML 1.1: 0755 */
		if (!all_match(p, "01234567"))
			return false;
	} else if (!all_match(p, "0123456789")) {
		return false;
	}
	errno = 0;
	unsigned long long v = strtoull(p, NULL, base);
	if (errno)
		return false;
	*out = sign * (double)v;
	return true;
}

/* PyYAML's float resolver: [-+]?(digits.digits*|.digits)([eE][-+]digits)?, .inf, .nan */
static bool yaml_float(const char *s, double *out)
{
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!strcasecmp(p, ".inf")) {
		*out = *s == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (!strcasecmp(s, ".nan")) {
		*out = NAN;
		return true;
	}
	if (!strchr(s, '.'))
		return false;
	char clean[128];
	size_t n = 0;
	for (const char *q = s; *q && n < sizeof(clean) - 1; q++)
		if (*q != '_')
			clean[n++] = *q;
	clean[n] = '\0';
	/* digits, one dot, optional exponent with a sign */
	const char *q = clean;
	if (*q == '+' || *q == '-')
		q++;
	size_t d1 = strspn(q, "0123456789");
	q += d1;
	if (*q != '.')
		return false;
	q++;
	size_t d2 = strspn(q, "0123456789");
	q += d2;
	if (!d1 && !d2)
		return false;
	if (*q == 'e' || *q == 'E') {
		q++;
		if (*q != '+' && *q != '-')
			return false;
		q++;
		if (!strspn(q, "0123456789"))
			return false;
		q += strspn(q, "0123456789");
	}
	if (*q)
		return false;
	*out = strtod(clean, NULL);
	return true;
}

static cJSON *yaml_scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	double d;
	if (tag && !strcmp(tag, YAML_STR_TAG))
		return cJSON_CreateString(v);
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (tag && !strcmp(tag, YAML_INT_TAG) && yaml_int(v, &d))
		return cJSON_CreateNumber(d);
	if (tag && !strcmp(tag, YAML_FLOAT_TAG) && (yaml_float(v, &d) || yaml_int(v, &d)))
		return rj_float(d);
	if (tag && !strcmp(tag, YAML_NULL_TAG))
		return cJSON_CreateNull();
	if (!plain && !(tag && !strcmp(tag, YAML_BOOL_TAG)))
		return cJSON_CreateString(v);
	if (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	    !strcmp(v, "NULL"))
		return cJSON_CreateNull();
	static const char *const yes[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On",
					  "ON", NULL};
	static const char *const no[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off",
					 "OFF", NULL};
	for (int i = 0; yes[i]; i++)
		if (!strcmp(v, yes[i]))
			return cJSON_CreateTrue();
	for (int i = 0; no[i]; i++)
		if (!strcmp(v, no[i]))
			return cJSON_CreateFalse();
	if (yaml_int(v, &d))
		return cJSON_CreateNumber(d);
	if (yaml_float(v, &d))
		return rj_float(d);
	return cJSON_CreateString(v);
}

/* Values in j (stops counting past limit). */
static size_t count_nodes(const cJSON *j, size_t limit)
{
	size_t n = 1;
	for (const cJSON *c = j->child; c && n <= limit; c = c->next)
		n += count_nodes(c, limit - n);
	return n;
}

/* Account for n more values; false (with the message) past the limit. */
static bool take_nodes(struct yparser *y, const yaml_mark_t *m, size_t n)
{
	y->nodes += n;
	if (y->nodes <= YAML_NODES_MAX)
		return true;
	char msg[128];
	snprintf(msg, sizeof(msg), "the document expands to more than %d values (aliases)",
		 YAML_NODES_MAX);
	yerr(y, m, msg);
	return false;
}

static void oom(struct yparser *y, const yaml_mark_t *m)
{
	yerr(y, m, "out of memory");
}

/* Keep a copy of an anchored value for its aliases (the copy counts toward the limit). */
static bool remember(struct yparser *y, const yaml_mark_t *m, const yaml_char_t *anchor,
		     const cJSON *value)
{
	if (!anchor)
		return true;
	if (!take_nodes(y, m, count_nodes(value, YAML_NODES_MAX + 1)))
		return false;
	struct anchor *a = realloc(y->anchors, (y->nanchors + 1) * sizeof(*a));
	if (!a) {
		oom(y, m);
		return false;
	}
	y->anchors = a;
	a[y->nanchors].name = strdup((const char *)anchor);
	a[y->nanchors].value = cJSON_Duplicate(value, true);
	if (!a[y->nanchors].name || !a[y->nanchors].value) {
		free(a[y->nanchors].name);
		cJSON_Delete(a[y->nanchors].value);
		oom(y, m);
		return false;
	}
	y->nanchors++;
	return true;
}

static cJSON *parse_node(struct yparser *y, yaml_event_t *ev);
static cJSON *parse_seq(struct yparser *y, const yaml_event_t *ev);
static cJSON *parse_map(struct yparser *y, const yaml_event_t *ev);

static bool next_event(struct yparser *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->p, ev)) {
		yerr(y, &y->p.problem_mark, y->p.problem ? y->p.problem : "invalid YAML");
		return false;
	}
	return true;
}

static cJSON *parse_node(struct yparser *y, yaml_event_t *ev)
{
	cJSON *node = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (!take_nodes(y, &ev->start_mark, 1))
			return NULL;
		node = yaml_scalar(ev);
		if (!node)
			oom(y, &ev->start_mark);
		else if (!remember(y, &ev->start_mark, ev->data.scalar.anchor, node)) {
			cJSON_Delete(node);
			node = NULL;
		}
		return node;
	case YAML_ALIAS_EVENT:
		for (size_t i = y->nanchors; i-- > 0;)
			if (!strcmp(y->anchors[i].name, (const char *)ev->data.alias.anchor)) {
				const cJSON *v = y->anchors[i].value;
				if (!take_nodes(y, &ev->start_mark, count_nodes(v, YAML_NODES_MAX + 1)))
					return NULL;
				node = cJSON_Duplicate(v, true);
				if (!node)
					oom(y, &ev->start_mark);
				return node;
			}
		yerr(y, &ev->start_mark, "unknown alias");
		return NULL;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (y->depth >= YAML_DEPTH_MAX) {
			char msg[64];
			snprintf(msg, sizeof(msg), "nested deeper than %d levels", YAML_DEPTH_MAX);
			yerr(y, &ev->start_mark, msg);
			return NULL;
		}
		if (!take_nodes(y, &ev->start_mark, 1))
			return NULL;
		y->depth++;
		node = ev->type == YAML_SEQUENCE_START_EVENT ? parse_seq(y, ev) : parse_map(y, ev);
		y->depth--;
		return node;
	default:
		yerr(y, &ev->start_mark, "unexpected YAML event");
		return NULL;
	}
}

static cJSON *parse_seq(struct yparser *y, const yaml_event_t *ev)
{
	cJSON *node = cJSON_CreateArray();
	if (!node) {
		oom(y, &ev->start_mark);
		return NULL;
	}
	for (;;) {
		yaml_event_t e;
		if (!next_event(y, &e))
			goto fail;
		if (e.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&e);
			break;
		}
		cJSON *item = parse_node(y, &e);
		yaml_event_delete(&e);
		if (!item)
			goto fail;
		cJSON_AddItemToArray(node, item);
	}
	if (remember(y, &ev->start_mark, ev->data.sequence_start.anchor, node))
		return node;
fail:
	cJSON_Delete(node);
	return NULL;
}

static bool is_merge(const cJSON *val)
{
	if (cJSON_IsObject(val))
		return true;
	if (!cJSON_IsArray(val))
		return false;
	for (const cJSON *m = val->child; m; m = m->next)
		if (!cJSON_IsObject(m))
			return false;
	return true;
}

/* Move the keys of from that node does not have yet into node. */
static void merge_into(cJSON *node, cJSON *from)
{
	cJSON *c;
	while ((c = from->child)) {
		cJSON_DetachItemViaPointer(from, c);
		if (cJSON_GetObjectItemCaseSensitive(node, c->string))
			cJSON_Delete(c);
		else
			cJSON_AddItemToArray(node, c); /* keeps c's key */
	}
}

static cJSON *parse_map(struct yparser *y, const yaml_event_t *ev)
{
	cJSON *node = cJSON_CreateObject();
	if (!node) {
		oom(y, &ev->start_mark);
		return NULL;
	}
	for (;;) {
		yaml_event_t k, v;
		if (!next_event(y, &k))
			goto fail;
		if (k.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&k);
			break;
		}
		if (k.type != YAML_SCALAR_EVENT) {
			yerr(y, &k.start_mark, "mapping keys must be scalars");
			yaml_event_delete(&k);
			goto fail;
		}
		char *key = strdup((const char *)k.data.scalar.value);
		if (!key)
			oom(y, &k.start_mark);
		yaml_event_delete(&k);
		if (!key)
			goto fail;
		if (!next_event(y, &v)) {
			free(key);
			goto fail;
		}
		cJSON *val = parse_node(y, &v);
		yaml_event_delete(&v);
		if (!val) {
			free(key);
			goto fail;
		}
		if (!strcmp(key, "<<") && is_merge(val)) {
			/* merge key: a mapping or a list of them; keys this mapping sets win, then
			 * the earlier mappings of the list (PyYAML's flatten_mapping) */
			if (cJSON_IsObject(val))
				merge_into(node, val);
			else
				for (cJSON *m = val->child; m; m = m->next)
					merge_into(node, m);
			cJSON_Delete(val);
		} else {
			rj_set(node, key, val);
		}
		free(key);
	}
	if (remember(y, &ev->start_mark, ev->data.mapping_start.anchor, node))
		return node;
fail:
	cJSON_Delete(node);
	return NULL;
}

cJSON *run_parse_yaml(const char *text, size_t len, char *err, size_t errlen)
{
	struct yparser y = {.err = err, .errlen = errlen};
	cJSON *root = NULL;
	yaml_event_t ev;
	if (!yaml_parser_initialize(&y.p)) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
	bool in_doc = false;
	for (;;) {
		if (!next_event(&y, &ev))
			goto fail;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_DOCUMENT_START_EVENT) {
			if (root) {
				yerr(&y, &ev.start_mark,
				     "expected a single document in the stream");
				yaml_event_delete(&ev);
				goto fail;
			}
			in_doc = true;
		} else if (t == YAML_DOCUMENT_END_EVENT) {
			in_doc = false;
		} else if (in_doc && t != YAML_STREAM_START_EVENT) {
			root = parse_node(&y, &ev);
			if (!root) {
				yaml_event_delete(&ev);
				goto fail;
			}
		}
		yaml_event_delete(&ev);
	}
	if (!root)
		root = cJSON_CreateNull();
	goto out;
fail:
	cJSON_Delete(root);
	root = NULL;
out:
	for (size_t i = 0; i < y.nanchors; i++) {
		free(y.anchors[i].name);
		cJSON_Delete(y.anchors[i].value);
	}
	free(y.anchors);
	yaml_parser_delete(&y.p);
	return root;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcasecmp(s + n - m, suffix);
}

cJSON *run_load_file(const char *path, char *err, size_t errlen)
{
	bool yaml = ends_with(path, ".yaml") || ends_with(path, ".yml");
	if (!yaml && !ends_with(path, ".json")) {
		if (access(path, F_OK) != 0) {
			snprintf(err, errlen, "Path \"%s\" does not exist.", path);
			return NULL;
		}
		snprintf(err, errlen,
			 "%s: only files with json, yaml or yml extensions are supported", path);
		return NULL;
	}
	size_t len;
	char *text = read_all(path, &len, err, errlen);
	if (!text)
		return NULL;
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(text);
		return NULL;
	}
	char msg[RUN_ERR_MAX];
	cJSON *doc = yaml ? run_parse_yaml(text, len, msg, sizeof(msg))
			  : run_parse_json(text, msg, sizeof(msg));
	free(text);
	if (!doc) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return NULL;
	}
	return doc;
}
