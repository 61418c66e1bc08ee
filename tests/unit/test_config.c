/* test_config.c -- rule lists from --fault and from JSON config files: both forms, numbers,
 * and every error with its exact message (line and column of bad JSON included) */
#include "unit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

UNIT_ROWS_DEFINE;

static void command_line(void **state)
{
	struct chaos_rule_list l = { 0 };
	char err[512];
	(void)state;

	assert_int_equal(chaos_rule_list_add(&l, "REDIS.local:6379 refuse p=25%", "--fault", err,
					     sizeof(err)),
			 0);
	assert_int_equal(chaos_rule_list_add(&l, "db reset", "-f", err, sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.texts[0], "redis.local:6379 refuse p=0.25");
	assert_string_equal(l.origins[0], "--fault 'REDIS.local:6379 refuse p=25%'");
	assert_string_equal(l.texts[1], "db reset");
	assert_string_equal(l.origins[1], "-f 'db reset'");
	assert_int_equal(l.rules[0].p_ppm, 250000);

	assert_int_equal(chaos_rule_list_add(&l, "redis:abc refuse", "--fault", err, sizeof(err)),
			 -1);
	assert_string_equal(err, "--fault 'redis:abc refuse': port 'abc' is not a number");
	assert_int_equal(l.n, 2);

	/* the rule is quoted as it was written, control characters escaped, a huge one cut */
	assert_int_equal(chaos_rule_list_add(&l, "x\x1b[2Jrefuse", "--fault", err, sizeof(err)),
			 -1);
	assert_string_equal(err, "--fault 'x\\x1b[2Jrefuse': the rule has a control character "
				 "(0x1b)");
	char huge[700];
	memset(huge, 'a', 600);
	huge[600] = '\0';
	assert_int_equal(chaos_rule_list_add(&l, huge, "--fault", err, sizeof(err)), -1);
	assert_string_equal(err, "--fault 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				 "...': the rule is longer than 512 characters");
	assert_int_equal(l.n, 2);

	char *joined = chaos_rule_list_join(&l);
	assert_string_equal(joined, "redis.local:6379 refuse p=0.25\ndb reset\n");
	free(joined);

	/* many rules: the list grows */
	for (int i = 0; i < 100; i++) {
		char text[64];
		snprintf(text, sizeof(text), "h%d:%d refuse", i, i + 1);
		assert_int_equal(chaos_rule_list_add(&l, text, "--fault", err, sizeof(err)), 0);
	}
	assert_int_equal(l.n, 102);
	assert_string_equal(l.texts[101], "h99:100 refuse");
	chaos_rule_list_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.rules);

	joined = chaos_rule_list_join(&l);
	assert_string_equal(joined, "");
	free(joined);
	chaos_rule_list_free(&l);
}

struct ok_row {
	const char *json;
	const char *texts; /* canonical texts joined by '\n' */
};

static const struct ok_row ok_rows[] = {
	{ "{\"faults\": []}", "" },
	{ " \n{ \"faults\" : [ ] }\n\n", "" },
	{ "\xef\xbb\xbf{\"faults\": [\"x refuse\"]}", "x refuse\n" },
	{ "{\"faults\": [\"redis.local:6379 refuse\", \"db:5432 reset bytes=1KiB\"]}",
	  "redis.local:6379 refuse\ndb:5432 reset bytes=1024\n" },
	/* the object form */
	{ "{\"faults\": [{\"target\": \"redis.local:6379\", \"action\": \"refuse\"}]}",
	  "redis.local:6379 refuse\n" },
	{ "{\"faults\": [{\"action\": \"refuse\", \"target\": \"x\", \"count\": 3}]}",
	  "x refuse count=3\n" },
	/* an action's value as its own key, or in the action */
	{ "{\"faults\": [{\"target\": \"db\", \"action\": \"error\", \"error\": \"EPIPE\", "
	  "\"on\": \"send\"}]}",
	  "db error=EPIPE on=send\n" },
	{ "{\"faults\": [{\"target\": \"db\", \"on\": \"send\", \"error\": \"EPIPE\", "
	  "\"action\": \"error\"}]}",
	  "db error=EPIPE on=send\n" },
	{ "{\"faults\": [{\"target\": \"db\", \"action\": \"error=EPIPE\", \"on\": \"send\"}]}",
	  "db error=EPIPE on=send\n" },
	{ "{\"faults\": [{\"target\": \"api\", \"action\": \"delay\", \"delay\": \"250ms\", "
	  "\"jitter\": \"10ms\"}]}",
	  "api delay=250ms jitter=10ms\n" },
	{ "{\"faults\": [{\"target\": \"*.internal\", \"action\": \"dns\", \"dns\": \"nxdomain\"}]}",
	  "*.internal dns=nxdomain\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"dns=timeout\", \"timeout\": \"2s\"}]}",
	  "x dns=timeout timeout=2s\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"slice\", \"slice\": 512}]}",
	  "x slice=512\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"loss\", \"loss\": 0.1}]}",
	  "x loss=0.1\n" },
	/* numbers */
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": 0.25, \"count\": 3, "
	  "\"skip\": 0}]}",
	  "x refuse p=0.25 count=3 skip=0\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": 1, \"count\": 3.0}]}",
	  "x refuse p=1 count=3\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": 0}]}", "x refuse p=0\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": -0.0}]}",
	  "x refuse p=0\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": 1e-1}]}",
	  "x refuse p=0.1\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": 0.30000000000000004}]}",
	  "x refuse p=0.3\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": \"25%\"}]}",
	  "x refuse p=0.25\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"count\": 4294967295}]}",
	  "x refuse count=4294967295\n" },
	{ "{\"faults\": [{\"target\": \"x\", \"action\": \"reset\", \"bytes\": 1048576}]}",
	  "x reset bytes=1048576\n" },
	/* both forms in one list, in order */
	{ "{\n  \"faults\": [\n    \"a refuse\",\n    {\"target\": \"b\", \"action\": \"reset\"},\n"
	  "    \"c:1-2 blackhole timeout=1s\"\n  ]\n}\n",
	  "a refuse\nb reset\nc:1-2 blackhole timeout=1s\n" },
};

static void json_ok(void **state)
{
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(ok_rows); i++) {
		struct chaos_rule_list l = { 0 };
		char err[512];
		if (chaos_rule_list_add_json(&l, ok_rows[i].json, "faults.json", err, sizeof(err)) <
		    0) {
			ROW_FAIL("%s\n  -> %s\n", ok_rows[i].json, err);
			chaos_rule_list_free(&l);
			continue;
		}
		char *joined = chaos_rule_list_join(&l);
		if (strcmp(joined, ok_rows[i].texts) != 0)
			ROW_FAIL("%s\n   got '%s'\n  want '%s'\n", ok_rows[i].json, joined,
				 ok_rows[i].texts);
		free(joined);
		chaos_rule_list_free(&l);
	}
	ROWS_END();

	/* origins name the file and the index */
	struct chaos_rule_list l = { 0 };
	char err[512];
	assert_int_equal(chaos_rule_list_add_json(&l,
						  "{\"faults\": [\"a refuse\", {\"target\": \"b\", "
						  "\"action\": \"reset\", \"count\": 2}]}",
						  "f.json", err, sizeof(err)),
			 0);
	assert_string_equal(l.origins[0], "f.json: faults[0] 'a refuse'");
	assert_string_equal(l.origins[1], "f.json: faults[1] 'b reset count=2'");
	chaos_rule_list_free(&l);
}

struct err_row {
	const char *json, *msg;
};

#define F "faults.json: "
#define OBJ(rest) "{\"faults\": [" rest "]}"

static const struct err_row err_rows[] = {
	/* not JSON: the line and column where it went wrong */
	{ "", F "empty file, expected {\"faults\": [...]}" },
	{ " \n\t\r\n", F "empty file, expected {\"faults\": [...]}" },
	{ "{\n  \"faults\": [\n    \"x refuse\",\n  ]\n}", F "line 4, column 3: not valid JSON" },
	{ "{\n \"faults\": [\n  \"x refuse\" \"y refuse\"\n ]\n}",
	  F "line 3, column 14: not valid JSON" },
	{ "{\n \"faults\": [\n  {\"target\": x}\n ]\n}", F "line 3, column 14: not valid JSON" },
	{ "{\"faults\": []} x", F "line 1, column 16: not valid JSON" },
	{ "{\"faults\": []}}", F "line 1, column 15: not valid JSON" },
	{ "{\"faults\": [\"x refuse\"", F "line 1, column 23: not valid JSON (it ends too early)" },
	{ "{\"faults\": [\"x refuse\"]", F "line 1, column 24: not valid JSON (it ends too early)" },
	{ "{'faults': []}", F "line 1, column 3: not valid JSON" },
	{ "faults: []", F "line 1, column 1: not valid JSON" },

	/* the document */
	{ "[]", F "expected an object {\"faults\": [...]}" },
	{ "\"x refuse\"", F "expected an object {\"faults\": [...]}" },
	{ "{}", F "no \"faults\" list" },
	{ "{\"fault\": []}", F "unknown key \"fault\" (expected \"faults\")" },
	{ "{\"faults\": [], \"seed\": 1}", F "unknown key \"seed\" (expected \"faults\")" },
	{ "{\"faults\": [], \"faults\": []}", F "\"faults\" is given twice" },
	{ "{\"faults\": \"x refuse\"}", F "\"faults\" must be a list" },
	{ "{\"faults\": {\"target\": \"x\"}}", F "\"faults\" must be a list" },
	{ "{\"faults\": null}", F "\"faults\" must be a list" },

	/* each rule */
	{ OBJ("1"), F "faults[0]: a rule must be a string or an object" },
	{ OBJ("\"a refuse\", null"), F "faults[1]: a rule must be a string or an object" },
	{ OBJ("\"a refuse\", [\"b refuse\"]"), F "faults[1]: a rule must be a string or an object" },
	{ OBJ("\"a refuse\", \"redis:abc refuse\""),
	  F "faults[1] 'redis:abc refuse': port 'abc' is not a number" },
	{ OBJ("\"\""), F "faults[0] '': the rule is empty" },

	/* the object form */
	{ OBJ("{}"), F "faults[0]: no \"target\" (like \"target\": \"redis.local:6379\")" },
	{ OBJ("{\"action\": \"refuse\"}"),
	  F "faults[0]: no \"target\" (like \"target\": \"redis.local:6379\")" },
	{ OBJ("{\"target\": \"x\"}"), F "faults[0]: no \"action\" (like \"action\": \"refuse\")" },
	{ OBJ("{\"target\": 5, \"action\": \"refuse\"}"), F "faults[0]: \"target\" must be a string" },
	{ OBJ("{\"target\": \"x\", \"action\": [\"refuse\"]}"),
	  F "faults[0]: \"action\" must be a string" },
	{ OBJ("{\"target\": \"\", \"action\": \"refuse\"}"), F "faults[0]: \"target\" is empty" },
	{ OBJ("{\"target\": \"x\", \"action\": \"\"}"), F "faults[0]: \"action\" is empty" },
	{ OBJ("{\"target\": \"redis:6379 refuse\", \"action\": \"reset\"}"),
	  F "faults[0]: \"target\" must be one word, not 'redis:6379 refuse'" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse count=1\"}"),
	  F "faults[0]: \"action\" must be one word, not 'refuse count=1'" },
	{ OBJ("{\"target\": \"x\\ty\", \"action\": \"refuse\"}"),
	  F "faults[0]: \"target\" must be one word, not 'x?y'" },
	{ OBJ("{\"target\": \"x\", \"target\": \"y\", \"action\": \"refuse\"}"),
	  F "faults[0]: \"target\" is given twice" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"action\": \"reset\"}"),
	  F "faults[0]: \"action\" is given twice" },
	{ OBJ("{\"target\": \"x\", \"action\": \"error\", \"error\": \"EPIPE\", \"error\": "
	      "\"ECONNRESET\"}"),
	  F "faults[0]: \"error\" is given twice" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"count\": true}"),
	  F "faults[0]: \"count\" must be a string or a number" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"count\": null}"),
	  F "faults[0]: \"count\" must be a string or a number" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"p\": [0.5]}"),
	  F "faults[0]: \"p\" must be a string or a number" },
	{ OBJ("{\"target\": \"x\", \"action\": \"error\", \"error\": {}}"),
	  F "faults[0]: \"error\" must be a string or a number" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"p\": \"\"}"),
	  F "faults[0]: \"p\" is empty" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"p\": \"0.5 count=1\"}"),
	  F "faults[0]: \"p\" must be one word, not '0.5 count=1'" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"p\": \"1\\rcount=5\"}"),
	  F "faults[0]: \"p\" must be one word, not '1?count=5'" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"p=1\": 1}"),
	  F "faults[0]: key \"p=1\" is not an option name" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"a b\": 1}"),
	  F "faults[0]: key \"a b\" is not an option name" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"\": 1}"),
	  F "faults[0]: key \"\" is not an option name" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"a\\tb\": 1}"),
	  F "faults[0]: key \"a?b\" is not an option name" },
	/* what the parser says about the rule the object makes */
	{ OBJ("{\"target\": \"x\", \"action\": \"error\"}"),
	  F "faults[0] 'x error': action 'error' needs a value (error=ERRNO)" },
	{ OBJ("{\"target\": \"x\", \"action\": \"error\", \"error\": \"EPIPE\"}"),
	  F "faults[0] 'x error=EPIPE': error=EPIPE: connect cannot fail with EPIPE (send can)" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"refuse\": 1}"),
	  F "faults[0] 'x refuse=1': action 'refuse' takes no value (got 'refuse=1')" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"prob\": 0.5}"),
	  F "faults[0] 'x refuse prob=0.5': unknown option 'prob=0.5' (expected on=, bytes=, p=, "
	    "count=, skip=, start=, for=, jitter=, timeout= or flap=)" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"p\": 1e-7}"),
	  F "faults[0] 'x refuse p=0.0000001': p='0.0000001' is below 0.000001, the finest step" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"count\": -1}"),
	  F "faults[0] 'x refuse count=-1': count='-1' is not a whole number" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"count\": 2.5}"),
	  F "faults[0] 'x refuse count=2.5': count='2.5' is not a whole number" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"count\": 1e300}"),
	  F "faults[0] 'x refuse count=1e+300': count='1e+300' is not a whole number" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"count\": 4294967296}"),
	  F "faults[0] 'x refuse count=4294967296': count='4294967296' is out of range "
	    "(1-4294967295)" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\", \"for\": 30}"),
	  F "faults[0] 'x refuse for=30': for='30' is not a duration (like 250ms, 1.5s, 2m)" },
	{ OBJ("{\"target\": \"x\", \"action\": \"refuse\"}, {\"target\": \"y\", \"action\": "
	      "\"reset\", \"on\": \"send\"}"),
	  F "faults[1] 'y reset on=send': option 'on=' does not apply to reset (only error= and "
	    "delay= take it)" },
};

static void json_errors(void **state)
{
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(err_rows); i++) {
		struct chaos_rule_list l = { 0 };
		char err[1024];
		/* a rule already in the list stays, alone, whatever the document did */
		assert_int_equal(chaos_rule_list_add(&l, "keep refuse", "-f", err, sizeof(err)), 0);
		memset(err, 0, sizeof(err));
		int rc = chaos_rule_list_add_json(&l, err_rows[i].json, "faults.json", err,
						  sizeof(err));
		if (rc != -1)
			ROW_FAIL("%s\n  accepted\n", err_rows[i].json);
		else if (strcmp(err, err_rows[i].msg) != 0)
			ROW_FAIL("%s\n   got %s\n  want %s\n", err_rows[i].json, err,
				 err_rows[i].msg);
		if (l.n != 1 || strcmp(l.texts[0], "keep refuse") != 0)
			ROW_FAIL("%s\n  left %zu rules\n", err_rows[i].json, l.n);
		chaos_rule_list_free(&l);
	}
	ROWS_END();
}

/* A rule that has become too long in the object form is refused, never cut. */
static void long_values(void **state)
{
	char json[4096], value[700], err[1024];
	struct chaos_rule_list l = { 0 };
	(void)state;

	/* "p": "0.25000...0x": cutting it would make a valid value out of an invalid one */
	memset(value, '0', sizeof(value));
	memcpy(value, "0.25", 4);
	value[600] = 'x';
	value[601] = '\0';
	snprintf(json, sizeof(json),
		 "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": \"%s\"}]}", value);
	assert_int_equal(chaos_rule_list_add_json(&l, json, "f.json", err, sizeof(err)), -1);
	assert_string_equal(err, "f.json: faults[0]: \"p\" is longer than 512 characters");

	/* 512 characters in all is fine, 513 is not */
	value[512 - strlen("x refuse p=")] = '\0';
	snprintf(json, sizeof(json),
		 "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": \"%s\"}]}", value);
	assert_int_equal(chaos_rule_list_add_json(&l, json, "f.json", err, sizeof(err)), 0);
	assert_string_equal(l.texts[0], "x refuse p=0.25");
	chaos_rule_list_free(&l);
	strcat(value, "0");
	snprintf(json, sizeof(json),
		 "{\"faults\": [{\"target\": \"x\", \"action\": \"refuse\", \"p\": \"%s\"}]}", value);
	assert_int_equal(chaos_rule_list_add_json(&l, json, "f.json", err, sizeof(err)), -1);
	assert_string_equal(err, "f.json: faults[0]: the rule is longer than 512 characters");

	/* too long already with the target and the action, or with the action's value */
	memset(value, 'a', 400);
	value[400] = '\0';
	snprintf(json, sizeof(json),
		 "{\"faults\": [{\"target\": \"%s\", \"action\": \"%s\"}]}", value,
		 value + 250);
	assert_int_equal(chaos_rule_list_add_json(&l, json, "f.json", err, sizeof(err)), -1);
	assert_string_equal(err, "f.json: faults[0]: the rule is longer than 512 characters");
	snprintf(json, sizeof(json),
		 "{\"faults\": [{\"target\": \"%s\", \"action\": \"error\", \"error\": \"%s\"}]}",
		 value, value + 250);
	assert_int_equal(chaos_rule_list_add_json(&l, json, "f.json", err, sizeof(err)), -1);
	assert_string_equal(err, "f.json: faults[0]: the rule is longer than 512 characters");

	/* a long string rule */
	memset(value, 'a', 600);
	value[600] = '\0';
	snprintf(json, sizeof(json), "{\"faults\": [\"%s refuse\"]}", value);
	assert_int_equal(chaos_rule_list_add_json(&l, json, "f.json", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": the rule is longer than 512 characters"));
	assert_int_equal(l.n, 0);
	chaos_rule_list_free(&l);
}

/* Config files on disk. */
static char dir[64];

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void files(void **state)
{
	struct chaos_rule_list l = { 0 };
	char path[128], err[1024], want[512];
	(void)state;

	snprintf(dir, sizeof(dir), "/tmp/chaos-test-config.XXXXXX");
	assert_non_null(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/faults.json", dir);
	const char *json = "{\"faults\": [\"redis.local:6379 refuse\"]}\n";
	write_file(path, json, strlen(json));
	assert_int_equal(chaos_rule_list_add_file(&l, path, err, sizeof(err)), 0);
	assert_int_equal(l.n, 1);
	snprintf(want, sizeof(want), "%s: faults[0] 'redis.local:6379 refuse'", path);
	assert_string_equal(l.origins[0], want);

	/* bad JSON in a file: the file's path and the line */
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	json = "{\n  \"faults\": [\n    \"x refuse\"\n    \"y refuse\"\n  ]\n}\n";
	write_file(path, json, strlen(json));
	assert_int_equal(chaos_rule_list_add_file(&l, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: line 4, column 5: not valid JSON", path);
	assert_string_equal(err, want);

	/* a file bigger than the first read buffer (8 KiB) */
	snprintf(path, sizeof(path), "%s/big.json", dir);
	{
		size_t cap = 200000, used = 0;
		char *big = malloc(cap);
		used += (size_t)snprintf(big, cap, "{\"faults\": [");
		for (int i = 0; i < 5000; i++)
			used += (size_t)snprintf(big + used, cap - used, "%s\"h%d:%d refuse\"",
						 i ? ", " : "", i, i % 65535 + 1);
		used += (size_t)snprintf(big + used, cap - used, "]}");
		write_file(path, big, used);
		free(big);
	}
	assert_int_equal(chaos_rule_list_add_file(&l, path, err, sizeof(err)), 0);
	assert_int_equal(l.n, 5001);
	assert_string_equal(l.texts[5000], "h4999:5000 refuse");

	snprintf(path, sizeof(path), "%s/missing.json", dir);
	assert_int_equal(chaos_rule_list_add_file(&l, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);

	assert_int_equal(chaos_rule_list_add_file(&l, dir, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: Is a directory", dir);
	assert_string_equal(err, want);

	snprintf(path, sizeof(path), "%s/nul.json", dir);
	write_file(path, "{\"faults\": []}\0x", 16);
	assert_int_equal(chaos_rule_list_add_file(&l, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: contains a NUL byte", path);
	assert_string_equal(err, want);

	snprintf(path, sizeof(path), "%s/empty.json", dir);
	write_file(path, "", 0);
	assert_int_equal(chaos_rule_list_add_file(&l, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: empty file, expected {\"faults\": [...]}", path);
	assert_string_equal(err, want);

	/* more than 64 MiB is refused (a sparse file: nothing is written) */
	snprintf(path, sizeof(path), "%s/huge.json", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (65 << 20) + 1), 0);
	close(fd);
	assert_int_equal(chaos_rule_list_add_file(&l, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: larger than 64 MiB", path);
	assert_string_equal(err, want);

	if (geteuid() != 0) { /* root reads anything */
		snprintf(path, sizeof(path), "%s/secret.json", dir);
		write_file(path, "{}", 2);
		chmod(path, 0);
		assert_int_equal(chaos_rule_list_add_file(&l, path, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s: Permission denied", path);
		assert_string_equal(err, want);
	}

	assert_int_equal(l.n, 5001);
	chaos_rule_list_free(&l);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(command_line), cmocka_unit_test(json_ok),
		cmocka_unit_test(json_errors),	cmocka_unit_test(long_values),
		cmocka_unit_test(files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
