/* test_subst.c -- ${} substitution (string.Template.safe_substitute), Python str/repr/== and
 * the journal's JSON printing, configuration and var conversions */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../runner/run.h"

static cJSON *config, *secrets;

static int setup(void **s)
{
	(void)s;
	config = cJSON_Parse("{\"name\": \"world\", \"port\": 8080, \"ratio\": 0.5, \"on\": true, "
			     "\"nothing\": null, \"list\": [1, \"a\"], \"obj\": {\"k\": \"v\"}, "
			     "\"shadow\": \"from-config\"}");
	secrets = cJSON_Parse("{\"scope1\": {\"token\": \"s3cr3t\", \"shadow\": \"from-secret\"}, "
			      "\"scope2\": {\"other\": \"two\", \"token\": \"ignored\"}}");
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	cJSON_Delete(config);
	cJSON_Delete(secrets);
	return 0;
}

static void expect_str(const char *in, const char *out)
{
	cJSON *r = run_subst_string(in, config, secrets);
	assert_non_null(r);
	if (!cJSON_IsString(r) || strcmp(r->valuestring, out))
		fail_msg("'%s' -> '%s', want '%s'", in, cJSON_IsString(r) ? r->valuestring : "?",
			 out);
	cJSON_Delete(r);
}

static void test_template(void **s)
{
	(void)s;
	expect_str("hello ${name}", "hello world");
	expect_str("hello $name!", "hello world!");
	expect_str("$name$name", "worldworld");
	expect_str("${name}s", "worlds");
	expect_str("$names", "$names"); /* unknown: left verbatim */
	expect_str("${unknown} and $unknown", "${unknown} and $unknown");
	expect_str("cost: $$5 and $$name", "cost: $5 and $name");
	expect_str("lone $ sign, $1, ${", "lone $ sign, $1, ${");
	expect_str("${na-me} $na-me $name-x", "${na-me} $na-me world-x");
	expect_str("${ name}", "${ name}");
	expect_str("port=${port} ratio=$ratio on=$on none=$nothing", "port=8080 ratio=0.5 on=True "
								       "none=None");
	expect_str("l=$list o=$obj", "l=[1, 'a'] o={'k': 'v'}");
	/* configuration first, then secret scopes in order */
	expect_str("$shadow $token $other", "from-config s3cr3t two");
	expect_str("", "");
	expect_str("no dollars", "no dollars");
}

static void test_typed(void **s)
{
	(void)s;
	cJSON *r = run_subst_string("${port}", config, secrets);
	assert_true(cJSON_IsNumber(r));
	assert_int_equal(r->valueint, 8080);
	cJSON_Delete(r);
	r = run_subst_string("${obj}", config, secrets);
	assert_true(cJSON_IsObject(r));
	cJSON_Delete(r);
	r = run_subst_string("${nothing}", config, secrets);
	assert_true(cJSON_IsNull(r));
	cJSON_Delete(r);
	/* only the exact ${name} form keeps the type */
	r = run_subst_string("$port", config, secrets);
	assert_true(cJSON_IsString(r));
	cJSON_Delete(r);
	r = run_subst_string(" ${port}", config, secrets);
	assert_string_equal(r->valuestring, " 8080");
	cJSON_Delete(r);
}

static void test_recursive(void **s)
{
	(void)s;
	cJSON *in = cJSON_Parse("{\"a\": [\"${name}\", 1, {\"b\": \"x${port}\"}], \"c\": true}");
	cJSON *out = run_subst(in, config, secrets);
	char *txt = rj_print(out, -1);
	assert_string_equal(txt, "{\"a\": [\"world\", 1, {\"b\": \"x8080\"}], \"c\": true}");
	free(txt);
	cJSON_Delete(in);
	cJSON_Delete(out);
}

static void test_float_repr(void **s)
{
	(void)s;
	struct {
		double d;
		const char *s;
	} cases[] = {{1.0, "1.0"},	 {0.1, "0.1"},	    {1e-05, "1e-05"}, {0.0001, "0.0001"},
		     {1e16, "1e+16"},	 {1e15, "1000000000000000.0"}, {2.5, "2.5"},
		     {-0.5, "-0.5"},	 {1234567.0, "1234567.0"},     {0.007, "0.007"},
		     {123.456, "123.456"}, {1.5e300, "1.5e+300"}, {1.0 / 3, "0.3333333333333333"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		rj_fmt_double(cases[i].d, buf, sizeof(buf));
		if (strcmp(buf, cases[i].s))
			fail_msg("%.17g -> %s, want %s", cases[i].d, buf, cases[i].s);
	}
}

static void test_print(void **s)
{
	(void)s;
	cJSON *o = cJSON_Parse("{\"a\": [], \"b\": {}, \"c\": [1, \"x\\n\\u00e9\\u0001\"], "
			       "\"d\": 2.5}");
	cJSON_AddItemToObject(o, "e", rj_float(3));
	char *txt = rj_print(o, 2);
	assert_string_equal(txt, "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    "
				 "\"x\\n\xc3\xa9\\u0001\"\n  ],\n  \"d\": 2.5,\n  \"e\": 3.0\n}");
	free(txt);
	cJSON_Delete(o);
}

static void test_equal(void **s)
{
	(void)s;
	struct {
		const char *a, *b;
		bool eq;
	} cases[] = {{"1", "1.0", true},	   {"true", "1", true},
		     {"false", "0", true},	   {"\"1\"", "1", false},
		     {"{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"a\": 1}", true},
		     {"[1, 2]", "[2, 1]", false}, {"null", "null", true},
		     {"{\"a\": 1}", "{\"a\": 1, \"b\": 1}", false}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *a = cJSON_Parse(cases[i].a), *b = cJSON_Parse(cases[i].b);
		if (rj_equal(a, b) != cases[i].eq)
			fail_msg("%s == %s should be %d", cases[i].a, cases[i].b, cases[i].eq);
		cJSON_Delete(a);
		cJSON_Delete(b);
	}
}

static void test_convert(void **s)
{
	(void)s;
	char err[RUN_ERR_MAX];
	cJSON *v = run_convert_type("int", "42", err, sizeof(err));
	assert_true(rj_is_int(v));
	cJSON_Delete(v);
	assert_null(run_convert_type("int", "4x", err, sizeof(err)));
	v = run_convert_type("float", "0.25", err, sizeof(err));
	assert_true(cJSON_IsNumber(v) && v->valuedouble == 0.25);
	cJSON_Delete(v);
	const char *falsy[] = {"false", "FALSE", "0", "no", "No"};
	for (size_t i = 0; i < 5; i++) {
		v = run_convert_type("bool", falsy[i], err, sizeof(err));
		assert_true(cJSON_IsFalse(v));
		cJSON_Delete(v);
	}
	v = run_convert_type("bool", "yes", err, sizeof(err));
	assert_true(cJSON_IsTrue(v));
	cJSON_Delete(v);
	v = run_convert_type("json", "{\"a\": [1]}", err, sizeof(err));
	assert_true(cJSON_IsObject(v));
	cJSON_Delete(v);
	assert_null(run_convert_type("uuid", "x", err, sizeof(err)));
	assert_string_equal(err, "variable type can only be: bool, str, int, float, bytes or json");
}

static void test_configuration(void **s)
{
	(void)s;
	char err[RUN_ERR_MAX];
	setenv("CHAOS_TEST_PORT", "9000", 1);
	unsetenv("CHAOS_TEST_MISSING");
	cJSON *decl = cJSON_Parse(
		"{\"port\": {\"type\": \"env\", \"key\": \"CHAOS_TEST_PORT\", \"env_var_type\": "
		"\"int\"}, \"dflt\": {\"type\": \"env\", \"key\": \"CHAOS_TEST_MISSING\", "
		"\"default\": \"7\", \"env_var_type\": \"int\"}, \"plain\": \"x\", \"over\": 1}");
	struct run_vars vars = {0};
	assert_int_equal(run_vars_add_var(&vars, "over:int=5", err, sizeof(err)), 0);
	assert_int_equal(run_vars_add_var(&vars, "undeclared=1", err, sizeof(err)), 0);
	assert_int_equal(run_vars_add_var(&vars, "bad", err, sizeof(err)), -1);
	cJSON *conf = run_load_configuration(decl, &vars, err, sizeof(err));
	assert_non_null(conf);
	char *txt = rj_print(conf, -1);
	assert_string_equal(txt, "{\"port\": 9000, \"dflt\": 7, \"plain\": \"x\", \"over\": 5}");
	free(txt);
	cJSON_Delete(conf);
	cJSON_Delete(decl);
	decl = cJSON_Parse("{\"k\": {\"type\": \"env\", \"key\": \"CHAOS_TEST_MISSING\"}}");
	assert_null(run_load_configuration(decl, NULL, err, sizeof(err)));
	assert_string_equal(err, "Configuration makes reference to an environment key that does "
				 "not exist: CHAOS_TEST_MISSING");
	cJSON_Delete(decl);
	decl = cJSON_Parse("{\"s\": {\"k\": {\"type\": \"env\", \"key\": \"CHAOS_TEST_PORT\"}, "
			   "\"n\": {\"inner\": \"v\"}}}");
	cJSON *sec = run_load_secrets(decl, NULL, err, sizeof(err));
	txt = rj_print(sec, -1);
	assert_string_equal(txt, "{\"s\": {\"k\": \"9000\", \"n\": {\"inner\": \"v\"}}}");
	free(txt);
	cJSON_Delete(sec);
	cJSON_Delete(decl);
	decl = cJSON_Parse("{\"s\": {\"k\": {\"type\": \"vault\", \"path\": \"p\"}}}");
	assert_null(run_load_secrets(decl, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "vault secrets are not supported"));
	cJSON_Delete(decl);
	cJSON_Delete(vars.config);
	cJSON_Delete(vars.secrets);
}

static void test_mask(void **s)
{
	(void)s;
	char *masks[] = {"s3cr3t-long", "s3cr3t"};
	char *m = run_mask_text("a s3cr3t-long b s3cr3t c", masks, 2);
	assert_string_equal(m, "a *** b *** c");
	free(m);
	assert_null(run_mask_text("nothing here", masks, 2));
	cJSON *j = cJSON_Parse("{\"a\": [\"Bearer s3cr3t\"], \"b\": {\"c\": \"s3cr3t\"}}");
	run_mask_tree(j, masks, 2);
	char *txt = rj_print(j, -1);
	assert_string_equal(txt, "{\"a\": [\"Bearer ***\"], \"b\": {\"c\": \"***\"}}");
	free(txt);
	cJSON_Delete(j);
}

static void test_yaml(void **s)
{
	(void)s;
	char err[RUN_ERR_MAX];
	const char *y = "title: t\nn: 3\nf: 1.5\nb: yes\nz: ~\ns: '3'\nlist: [a, 1]\n"
			"base: &b {x: 1}\nref: *b\nhex: 0x10\ne: 1e3\n";
	cJSON *d = run_parse_yaml(y, strlen(y), err, sizeof(err));
	assert_non_null(d);
	char *txt = rj_print(d, -1);
	assert_string_equal(txt, "{\"title\": \"t\", \"n\": 3, \"f\": 1.5, \"b\": true, \"z\": null, "
				 "\"s\": \"3\", \"list\": [\"a\", 1], \"base\": {\"x\": 1}, "
				 "\"ref\": {\"x\": 1}, \"hex\": 16, \"e\": \"1e3\"}");
	free(txt);
	cJSON_Delete(d);
	assert_null(run_parse_yaml("a: [1\n", 6, err, sizeof(err)));
	assert_non_null(strstr(err, "line "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template),     cmocka_unit_test(test_typed),
		cmocka_unit_test(test_recursive),    cmocka_unit_test(test_float_repr),
		cmocka_unit_test(test_print),	     cmocka_unit_test(test_equal),
		cmocka_unit_test(test_convert),	     cmocka_unit_test(test_configuration),
		cmocka_unit_test(test_mask),	     cmocka_unit_test(test_yaml),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
