/* test_tolerance.c -- every tolerance type against CTK's within_tolerance (lib tests and §4) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../runner/run.h"

static int check_cfg(const char *tol, const char *value, const char *config, char *err)
{
	cJSON *t = cJSON_Parse(tol), *v = cJSON_Parse(value);
	cJSON *c = config ? cJSON_Parse(config) : cJSON_CreateObject();
	cJSON *s = cJSON_CreateObject();
	assert_non_null(t);
	assert_non_null(v);
	struct run_tol_ctx ctx = {.config = c, .secrets = s};
	int r = run_tolerance_check(t, v, &ctx, err, RUN_ERR_MAX);
	cJSON_Delete(t);
	cJSON_Delete(v);
	cJSON_Delete(c);
	cJSON_Delete(s);
	return r;
}

static int check(const char *tol, const char *value)
{
	char err[RUN_ERR_MAX];
	return check_cfg(tol, value, NULL, err);
}

#define PROC(status, out) "{\"status\": " #status ", \"stdout\": \"" out "\", \"stderr\": \"\"}"
#define HTTP(status, body) "{\"status\": " #status ", \"headers\": {}, \"body\": " body "}"

static void test_bool(void **s)
{
	(void)s;
	assert_int_equal(check("true", "true"), 1);
	assert_int_equal(check("false", "false"), 1);
	assert_int_equal(check("true", "false"), 0);
	assert_int_equal(check("true", "1"), 1); /* Python: True == 1 */
	/* never matches a process or http output: it is an object */
	assert_int_equal(check("true", PROC(0, "x")), 0);
	assert_int_equal(check("false", HTTP(200, "\"\"")), 0);
}

static void test_int(void **s)
{
	(void)s;
	assert_int_equal(check("6", "6"), 1);
	assert_int_equal(check("6", "7"), 0);
	assert_int_equal(check("6", "6.0"), 1);
	assert_int_equal(check("0", PROC(0, "hello")), 1);
	assert_int_equal(check("1", PROC(0, "hello")), 0);
	assert_int_equal(check("200", HTTP(200, "\"ok\"")), 1);
	assert_int_equal(check("200", HTTP(503, "\"ok\"")), 0);
	/* an object without status compares whole */
	assert_int_equal(check("6", "{\"a\": 6}"), 0);
}

static void test_string(void **s)
{
	(void)s;
	char err[RUN_ERR_MAX];
	assert_int_equal(check("\"hello\"", "\"hello\""), 1);
	assert_int_equal(check("\"hello\"", "\"world\""), 0);
	assert_int_equal(check("\"hello\"", PROC(0, "hello")), 0);
	/* substituted: "${expected}" takes the configured value and its type */
	assert_int_equal(check_cfg("\"${expected}\"", "42", "{\"expected\": 42}", err), 1);
	assert_int_equal(check_cfg("\"${expected}\"", PROC(3, ""), "{\"expected\": 3}", err), 1);
	assert_int_equal(check_cfg("\"${who}-x\"", "\"bob-x\"", "{\"who\": \"bob\"}", err), 1);
}

static void test_list(void **s)
{
	(void)s;
	char err[RUN_ERR_MAX];
	/* status: membership, even with two items */
	assert_int_equal(check("[200, 301, 302]", HTTP(301, "\"\"")), 1);
	assert_int_equal(check("[200, 299]", HTTP(250, "\"\"")), 0);
	assert_int_equal(check("[200, 299]", HTTP(299, "\"\"")), 1);
	assert_int_equal(check("[0, 2]", PROC(2, "")), 1);
	/* two items on a plain value: an inclusive range */
	assert_int_equal(check("[4, 9]", "4"), 1);
	assert_int_equal(check("[4, 9]", "9"), 1);
	assert_int_equal(check("[4, 9]", "7.5"), 1);
	assert_int_equal(check("[4, 9]", "10"), 0);
	assert_int_equal(check("[\"a\", \"c\"]", "\"b\""), 1);
	/* otherwise membership */
	assert_int_equal(check("[1, 2, 3]", "2"), 1);
	assert_int_equal(check("[1, 2, 3]", "5"), 0);
	assert_int_equal(check("[\"x\"]", "\"x\""), 1);
	/* a range that Python cannot compare is an error, not a crash */
	assert_int_equal(check_cfg("[4, 9]", "\"b\"", NULL, err), -1);
	assert_non_null(strstr(err, "cannot compare"));
}

static void test_regex(void **s)
{
	(void)s;
	char err[RUN_ERR_MAX];
	assert_int_equal(check("{\"type\": \"regex\", \"pattern\": \"Python [0-9]\\\\.[0-9]+\", "
			       "\"target\": \"stdout\"}",
			       PROC(0, "Python 3.11.7")),
			 1);
	assert_int_equal(check("{\"type\": \"regex\", \"pattern\": \"^[0-9]{2}$\", "
			       "\"target\": \"body\"}",
			       HTTP(200, "\"87\"")),
			 1);
	assert_int_equal(check("{\"type\": \"regex\", \"pattern\": \"[0-9]{2}\", "
			       "\"target\": \"body\"}",
			       HTTP(200, "\"you are number 8\"")),
			 0);
	/* Python-only syntax: \d, lazy quantifiers, named groups, lookahead */
	assert_int_equal(check("{\"type\": \"regex\", \"pattern\": \"(?P<n>\\\\d+?)x(?=y)\", "
			       "\"target\": \"stdout\"}",
			       PROC(0, "12xy")),
			 1);
	/* search, not match */
	assert_int_equal(check("{\"type\": \"regex\", \"pattern\": \"world\", \"target\": "
			       "\"stdout\"}",
			       PROC(0, "hello world")),
			 1);
	/* the pattern is substituted */
	assert_int_equal(check_cfg("{\"type\": \"regex\", \"pattern\": \"v${major}\\\\.\", "
				   "\"target\": \"stdout\"}",
				   PROC(0, "v3.2"), "{\"major\": 3}", err),
			 1);
	/* a plain string output needs no target */
	assert_int_equal(check("{\"type\": \"regex\", \"pattern\": \"^ab\"}", "\"abc\""), 1);
	/* CTK crashes on these; we report */
	assert_int_equal(check_cfg("{\"type\": \"regex\", \"pattern\": \"x\"}", PROC(0, "x"), NULL,
				   err),
			 -1);
	assert_non_null(strstr(err, "no \"target\""));
	assert_int_equal(check_cfg("{\"type\": \"regex\", \"pattern\": \"x\", \"target\": "
				   "\"nope\"}",
				   PROC(0, "x"), NULL, err),
			 -1);
	assert_non_null(strstr(err, "'nope' is not in the probe output"));
	assert_int_equal(check_cfg("{\"type\": \"regex\", \"pattern\": \"2\", \"target\": "
				   "\"status\"}",
				   HTTP(200, "\"\""), NULL, err),
			 -1);
}

static void test_range(void **s)
{
	(void)s;
	char err[RUN_ERR_MAX];
	assert_int_equal(check("{\"type\": \"range\", \"range\": [200, 299], \"target\": "
			       "\"status\"}",
			       HTTP(204, "\"\"")),
			 1);
	assert_int_equal(check("{\"type\": \"range\", \"range\": [200, 299], \"target\": "
			       "\"status\"}",
			       HTTP(500, "\"\"")),
			 0);
	/* a numeric string, with spaces and a newline, as process stdout */
	assert_int_equal(check("{\"type\": \"range\", \"range\": [1, 6.5], \"target\": "
			       "\"stdout\"}",
			       PROC(0, " 6.5\\n")),
			 1);
	assert_int_equal(check("{\"type\": \"range\", \"range\": [1, 6], \"target\": "
			       "\"stdout\"}",
			       PROC(0, "7\\n")),
			 0);
	/* not a number: not met (CTK logs and returns False) */
	assert_int_equal(check("{\"type\": \"range\", \"range\": [1, 6], \"target\": "
			       "\"stdout\"}",
			       PROC(0, "abc")),
			 0);
	assert_int_equal(check("{\"type\": \"range\", \"range\": [1, 6]}", "3"), 1);
	assert_int_equal(check_cfg("{\"type\": \"range\", \"range\": [1, 6]}", PROC(0, "3"), NULL,
				   err),
			 -1);
}

static void test_jsonpath(void **s)
{
	(void)s;
	const char *body = HTTP(200, "{\"foo\": [{\"baz\": \"hello\", \"n\": 1}, {\"baz\": "
				     "\"world\", \"n\": 2}]}");
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": \"$.foo[*].baz\", \"target\": "
			       "\"body\"}",
			       body),
			 1);
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": \"$.foo[*].baz\", \"target\": "
			       "\"body\", \"count\": 2}",
			       body),
			 1);
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": \"$.foo[*].baz\", \"target\": "
			       "\"body\", \"count\": 3}",
			       body),
			 0);
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": "
			       "\"$.foo[?(@.baz=\\\"hello\\\")].n\", \"target\": \"body\", "
			       "\"expect\": 1}",
			       body),
			 1);
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": \"$.foo[*].n\", \"target\": "
			       "\"body\", \"expect\": [1, 2]}",
			       body),
			 1);
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": \"$.missing\", \"target\": "
			       "\"body\", \"expect\": []}",
			       body),
			 1);
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": \"$.missing\", \"target\": "
			       "\"body\"}",
			       body),
			 0);
	/* a text body holding JSON is parsed first; filters with and/not */
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": "
			       "\"$.a[?(@.x > 1 and not (@.x = 3))].x\", \"target\": \"stdout\", "
			       "\"expect\": 2}",
			       PROC(0, "{\\\"a\\\": [{\\\"x\\\": 1}, {\\\"x\\\": 2}, {\\\"x\\\": 3}]}")),
			 1);
	/* recursive descent and slices */
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": \"$..baz\", \"target\": "
			       "\"body\", \"count\": 2}",
			       body),
			 1);
	assert_int_equal(check("{\"type\": \"jsonpath\", \"path\": \"$.foo[-1:].n\", \"target\": "
			       "\"body\", \"expect\": 2}",
			       body),
			 1);
}

static void test_validate(void **s)
{
	(void)s;
	char err[RUN_ERR_MAX];
	struct {
		const char *tol, *msg;
	} cases[] = {
		{"0.5", "must either be an integer"},
		{"null", "must either be an integer"},
		{"{\"type\": \"boom\"}", "type 'boom' is unsupported"},
		{"{\"type\": \"regex\"}", "must have a `pattern` key"},
		{"{\"type\": \"regex\", \"pattern\": null}", "pattern None has an invalid type"},
		{"{\"type\": \"regex\", \"pattern\": \"[0-9\"}", "pattern [0-9 seems invalid"},
		{"{\"type\": \"range\"}", "must have a `range` key"},
		{"{\"type\": \"range\", \"range\": 3}", "range must be a sequence"},
		{"{\"type\": \"range\", \"range\": [1]}", "made of two values"},
		{"{\"type\": \"range\", \"range\": [\"a\", 6]}", "lower boundary must be a number"},
		{"{\"type\": \"range\", \"range\": [6, \"b\"]}", "upper boundary must be a number"},
		{"{\"type\": \"jsonpath\"}", "must have a `path` key"},
		{"{\"type\": \"jsonpath\", \"path\": \"\"}", "JSON path cannot be empty"},
		{"{\"type\": \"jsonpath\", \"path\": \"foo\"}", "JSON path foo is invalid"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *t = cJSON_Parse(cases[i].tol);
		assert_int_equal(run_tolerance_validate(t, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].msg))
			fail_msg("%s: got '%s', want '%s'", cases[i].tol, err, cases[i].msg);
		cJSON_Delete(t);
	}
	const char *ok[] = {"0", "true", "\"x\"", "[1, 2]", "{\"type\": \"probe\"}",
			    "{\"type\": \"regex\", \"pattern\": \"a+\"}",
			    "{\"type\": \"range\", \"range\": [1, 2.5]}",
			    "{\"type\": \"jsonpath\", \"path\": \"$.a[*]\"}"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cJSON *t = cJSON_Parse(ok[i]);
		if (run_tolerance_validate(t, err, sizeof(err)) != 0)
			fail_msg("%s: %s", ok[i], err);
		cJSON_Delete(t);
	}
}

static int fake_probe(void *arg, cJSON *probe, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	/* the output was injected as arguments.value */
	const cJSON *v = rj_get(rj_get(rj_get(probe, "provider"), "arguments"), "value");
	*(int *)arg = cJSON_IsObject(v) && rj_get(v, "status") ? 1 : 0;
	return 1;
}

static void test_probe(void **s)
{
	(void)s;
	char err[RUN_ERR_MAX];
	int seen = 0;
	cJSON *t = cJSON_Parse("{\"type\": \"probe\", \"name\": \"p\", \"provider\": {\"type\": "
			       "\"process\", \"path\": \"true\", \"arguments\": {}}}");
	cJSON *v = cJSON_Parse(PROC(0, "x"));
	struct run_tol_ctx ctx = {.run_probe = fake_probe, .arg = &seen};
	assert_int_equal(run_tolerance_check(t, v, &ctx, err, sizeof(err)), 1);
	assert_int_equal(seen, 1);
	cJSON_Delete(t);
	/* without arguments as an object: an error, not a crash */
	t = cJSON_Parse("{\"type\": \"probe\", \"name\": \"p\", \"provider\": {\"type\": "
			"\"process\", \"path\": \"true\"}}");
	assert_int_equal(run_tolerance_check(t, v, &ctx, err, sizeof(err)), -1);
	cJSON_Delete(t);
	cJSON_Delete(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bool),  cmocka_unit_test(test_int),
		cmocka_unit_test(test_string), cmocka_unit_test(test_list),
		cmocka_unit_test(test_regex), cmocka_unit_test(test_range),
		cmocka_unit_test(test_jsonpath), cmocka_unit_test(test_validate),
		cmocka_unit_test(test_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
