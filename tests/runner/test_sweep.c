/* test_sweep.c -- chaos-run sweep without services: the file and its checks, dependencies from
 * records, the cells, how a probe's outcome is classified, the matrix texts, --expect, and the
 * HTML report's escaping and self-containedness */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../runner/sweep.h"

static const char *minimal =
	"{\"service\": {\"command\": [\"app\", \"--port\", \"${port}\"]},"
	" \"endpoints\": [\"http://127.0.0.1:${port}/orders?x=1\"],"
	" \"dependencies\": [\"db.local:5432\", {\"name\": \"cache\", \"target\": \"10.0.0.7:6379\"}]}";

/* Load text into sw; 0 or -1 with the message in err. */
static int load(struct sweep *sw, const char *text, const struct sw_cli *cli, char *err,
		size_t len)
{
	memset(sw, 0, sizeof(*sw));
	cJSON *doc = cJSON_Parse(text);
	if (!doc)
		fail_msg("bad test JSON: %s", text);
	return sweep_load(sw, doc, "t.json", cli, err, len);
}

static void test_defaults(void **s)
{
	(void)s;
	struct sweep sw;
	char err[RUN_ERR_MAX] = "";
	if (load(&sw, minimal, NULL, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(sw.neps, 1);
	assert_string_equal(sw.eps[0].name, "/orders?x=1");
	assert_true(sw.eps[0].http);
	assert_string_equal(sw.eps[0].desc, "GET http://127.0.0.1:${port}/orders?x=1");
	char *tol = rj_print(sw.eps[0].tolerance, -1);
	assert_string_equal(tol, "{\"type\": \"range\", \"range\": [200, 399], \"target\": \"status\"}");
	free(tol);
	assert_int_equal(sw.ndeps, 2);
	assert_string_equal(sw.deps[0].name, "db.local:5432");
	assert_string_equal(sw.deps[0].dns_target, "db.local");
	assert_string_equal(sw.deps[1].name, "cache");
	assert_null(sw.deps[1].dns_target);
	assert_int_equal(sw.deps_mode, DEPS_LISTED);
	/* the default fault kinds */
	assert_int_equal(sw.nfaults, 4);
	assert_string_equal(sw.faults[0].action, "refuse");
	assert_string_equal(sw.faults[1].action, "blackhole timeout=10s");
	assert_string_equal(sw.faults[2].action, "delay=2s");
	assert_string_equal(sw.faults[3].action, "dns=nxdomain");
	assert_true(sw.faults[3].dns);
	assert_false(sw.faults[0].dns);
	assert_int_equal(sw.set.jobs, 1);
	assert_true(sw.set.probe_timeout == 5 && sw.set.slow == 1 && sw.set.recovery == 10);
	assert_int_equal(sw.nports, 1);
	assert_string_equal(sw.ports[0], "port");
	/* the cells: dns=nxdomain cannot apply to an address */
	assert_int_equal(sweep_make_cells(&sw, err, sizeof(err)), 0);
	assert_int_equal(sw.ncells, 8);
	assert_string_equal(sw.cells[0].rule, "db.local:5432 refuse");
	assert_string_equal(sw.cells[3].rule, "db.local dns=nxdomain");
	assert_int_equal(sw.cells[3].state, CELL_PENDING);
	assert_string_equal(sw.cells[5].rule, "10.0.0.7:6379 blackhole timeout=10s");
	assert_int_equal(sw.cells[7].state, CELL_NA);
	assert_string_equal(sw.cells[7].why, "10.0.0.7:6379 is an address: no name is looked up");
	assert_int_equal(sw.cells[7].eps[0].result, SW_NA);
	sweep_free(&sw);
}

static void test_cli_overrides(void **s)
{
	(void)s;
	const char *eps[] = {"http://127.0.0.1:${port}/a", "http://127.0.0.1:${port}/b"};
	const char *deps[] = {"discover"};
	const char *faults[] = {"reset", "error=ETIMEDOUT"};
	const char *rules[] = {"db.local dns=127.0.0.1"};
	struct sw_cli cli = {.service = "app --port ${port}", .ready = "http://127.0.0.1:${port}/",
			     .endpoints = eps, .nendpoints = 2, .deps = deps, .ndeps = 1,
			     .faults = faults, .nfaults = 2, .rules = rules, .nrules = 1,
			     .jobs = 3, .probe_timeout = 2, .slow = 0.5, .recovery = 0, .settle = -1,
			     .max_time = 60, .restart = 1};
	struct sweep sw;
	char err[RUN_ERR_MAX] = "";
	if (load(&sw, minimal, &cli, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_string_equal(rj_get(sw.service, "command")->valuestring, "app --port ${port}");
	assert_string_equal(rj_get(rj_get(sw.service, "ready"), "http")->valuestring,
			    "http://127.0.0.1:${port}/");
	assert_string_equal(cJSON_GetArrayItem(rj_get(sw.service, "rules"), 0)->valuestring,
			    "db.local dns=127.0.0.1");
	assert_int_equal(sw.neps, 2);
	assert_string_equal(sw.eps[1].name, "/b");
	assert_int_equal(sw.deps_mode, DEPS_DISCOVER);
	assert_int_equal(sw.ndeps, 0);
	assert_int_equal(sw.nfaults, 2);
	assert_string_equal(sw.faults[1].name, "error=ETIMEDOUT");
	assert_int_equal(sw.set.jobs, 3);
	assert_true(sw.set.probe_timeout == 2 && sw.set.slow == 0.5 && sw.set.recovery == 0 &&
		    sw.set.max_time == 60 && sw.set.restart_every_cell);
	sweep_free(&sw);
}

static void expect_error(const char *text, const char *msg)
{
	struct sweep sw;
	char err[RUN_ERR_MAX] = "";
	int rc = load(&sw, text, NULL, err, sizeof(err));
	sweep_free(&sw);
	if (rc == 0)
		fail_msg("accepted: %s", text);
	if (!strstr(err, msg))
		fail_msg("%s\n  said: %s\n  want: %s", text, err, msg);
}

#define SVC "\"service\": {\"command\": \"app ${port}\"}"
#define EP "\"endpoints\": [\"http://127.0.0.1:${port}/\"]"

static void test_errors(void **s)
{
	(void)s;
	expect_error("[]", "a sweep must be a JSON object");
	expect_error("{" EP "}", "no service: give its command");
	expect_error("{" SVC "}", "no endpoints");
	expect_error("{" SVC ", \"endpoints\": []}", "no endpoints");
	expect_error("{" SVC ", " EP ", \"endpoint\": 1}",
		     "sweep: unknown key \"endpoint\" (known: title, description, configuration");
	expect_error("{\"service\": {\"command\": []}, " EP "}",
		     "service \"command\" must be a non-empty list");
	expect_error("{\"service\": {\"command\": \"a\", \"ports\": [\"1x\"]}, " EP "}",
		     "service \"ports\" must be a list of variable names");
	expect_error("{" SVC ", \"endpoints\": [{\"name\": \"a\", \"url\": \"ftp://x\"}]}",
		     "endpoint 1: \"url\" must be an http(s) URL");
	expect_error("{" SVC ", \"endpoints\": [{\"url\": \"http://x/\", \"provider\": {}}]}",
		     "endpoint 1: needs exactly one of \"url\" or \"provider\"");
	expect_error("{" SVC ", \"endpoints\": [{\"provider\": {\"type\": \"python\"}}]}",
		     "provider type 'python' cannot probe an endpoint");
	expect_error("{" SVC ", \"endpoints\": [{\"provider\": {\"type\": \"process\", \"path\": "
		     "\"no-such-program-here\"}}]}",
		     "endpoint 1: path 'no-such-program-here' cannot be found");
	expect_error("{" SVC ", \"endpoints\": [\"http://h/a\", \"http://g/a\"]}",
		     "two endpoints are named '/a'");
	expect_error("{" SVC ", \"endpoints\": [{\"url\": \"http://h/a\", \"tolerance\": "
		     "{\"type\": \"regex\"}}]}",
		     "endpoint '/a': ");
	expect_error("{" SVC ", " EP ", \"dependencies\": []}", "\"dependencies\" is empty");
	expect_error("{" SVC ", " EP ", \"dependencies\": [\"db:abc\"]}",
		     "dependency 'db:abc': port 'abc' is not a number");
	expect_error("{" SVC ", " EP ", \"dependencies\": [\"db:1\", \"db:1\"]}",
		     "dependency 'db:1' is listed twice");
	expect_error("{" SVC ", " EP ", \"dependencies\": {\"record\": \"f\", \"discover\": true}}",
		     "give either \"discover\": true or \"record\": FILE");
	expect_error("{" SVC ", " EP ", \"dependencies\": 7}", "\"dependencies\" must be a list");
	expect_error("{" SVC ", " EP ", \"faults\": []}", "\"faults\" must be a non-empty list");
	expect_error("{" SVC ", " EP ", \"faults\": [\"frob\"]}", "fault 'frob': unknown action");
	expect_error("{" SVC ", " EP ", \"faults\": [\"db:1 refuse\"]}",
		     "fault 'db:1 refuse': write the action only");
	expect_error("{" SVC ", " EP ", \"faults\": [\"error=EFOO\"]}", "fault 'error=EFOO'");
	expect_error("{" SVC ", " EP ", \"faults\": [\"refuse\", {\"name\": \"refuse\", \"fault\": "
		     "\"reset\"}]}",
		     "fault 'refuse' is listed twice");
	expect_error("{" SVC ", " EP ", \"settings\": {\"jobs\": 65}}",
		     "\"jobs\" must be a whole number from 1 to 64");
	expect_error("{" SVC ", " EP ", \"settings\": {\"jobs\": 1.5}}", "\"jobs\" must be");
	expect_error("{" SVC ", " EP ", \"settings\": {\"probe_timeout\": 0}}",
		     "\"probe_timeout\" must be a number of seconds above 0");
	expect_error("{" SVC ", " EP ", \"settings\": {\"recovery\": -1}}",
		     "\"recovery\" must be a number of seconds from 0");
	expect_error("{" SVC ", " EP ", \"settings\": {\"restart\": \"never\"}}",
		     "\"restart\" must be \"on-failure\" or \"every-cell\"");
	expect_error("{" SVC ", " EP ", \"settings\": {\"slow\": 5}}",
		     "the slow threshold (5s) must be shorter than the probe time-out (5s)");
	expect_error("{" SVC ", " EP ", \"settings\": {\"jbos\": 5}}", "settings: unknown key");
	expect_error("{\"service\": {\"command\": \"app\"}, " EP ", \"settings\": {\"jobs\": 2}}",
		     "use no port variable (${port})");
	expect_error("{\"service\": {\"command\": \"app $port\", \"ports\": []}, " EP
		     ", \"settings\": {\"jobs\": 2}}",
		     "use no port variable");
	/* an experiment: the service is the extension's */
	expect_error("{\"method\": [], \"extensions\": [{\"name\": \"chaos\"}]}", "no service");
	expect_error("{\"method\": [], \"extensions\": [{\"name\": \"chaos\", \"service\": "
		     "{\"command\": \"a\"}}]}",
		     "or give the experiment steady-state probes");
	expect_error("{\"method\": [], \"extensions\": [{\"name\": \"chaos\", \"service\": "
		     "{\"command\": \"a\"}, \"sweep\": {\"service\": 1}}]}",
		     "extension 'chaos': sweep: unknown key \"service\"");
}

static void test_experiment(void **s)
{
	(void)s;
	struct sweep sw;
	char err[RUN_ERR_MAX] = "";
	const char *exp =
		"{\"title\": \"T\", \"method\": [], \"extensions\": [{\"name\": \"chaos\", "
		"\"service\": {\"command\": \"a\", \"rules\": [\"db dns=127.0.0.1\"]}, "
		"\"sweep\": {\"faults\": [{\"name\": \"gone\", \"fault\": \"dns=nxdomain\"}]}}], "
		"\"steady-state-hypothesis\": {\"title\": \"h\", \"probes\": [{\"type\": \"probe\", "
		"\"name\": \"orders\", \"tolerance\": 200, \"provider\": {\"type\": \"http\", "
		"\"url\": \"http://127.0.0.1:${port}/orders\"}}]}}";
	if (load(&sw, exp, NULL, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_string_equal(sw.title, "T");
	assert_int_equal(sw.neps, 1);
	assert_string_equal(sw.eps[0].name, "orders");
	assert_true(cJSON_IsNumber(sw.eps[0].tolerance) && sw.eps[0].tolerance->valueint == 200);
	assert_int_equal(sw.deps_mode, DEPS_DISCOVER);
	assert_int_equal(sw.nfaults, 1);
	assert_string_equal(sw.faults[0].name, "gone");
	assert_string_equal(sw.faults[0].action, "dns=nxdomain");
	sweep_free(&sw);
}

static void test_record(void **s)
{
	(void)s;
	struct sweep sw;
	char err[RUN_ERR_MAX] = "";
	const char *text = "{" SVC ", " EP ", \"dependencies\": {\"discover\": true, \"exclude\": "
			   "[\"metrics.local\", \"10.0.0.9:53\"]}}";
	if (load(&sw, text, NULL, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	cJSON *rec = cJSON_Parse(
		"{\"dependencies\": ["
		" {\"host\": \"db.local\", \"protocol\": \"tcp\", \"port\": 5432, \"addresses\": "
		"[\"127.0.0.1\"]},"
		" {\"host\": \"db.local\", \"protocol\": \"tcp\", \"port\": 5432, \"addresses\": "
		"[\"::1\"]},"
		" {\"host\": null, \"protocol\": \"tcp\", \"port\": 8080, \"addresses\": "
		"[\"127.0.0.1\"]},"
		" {\"host\": null, \"protocol\": \"udp\", \"port\": 53, \"addresses\": [\"10.0.0.9\"]},"
		" {\"host\": null, \"protocol\": \"tcp\", \"port\": 9000, \"addresses\": [\"fd00::1\"]},"
		" {\"host\": \"metrics.local\", \"protocol\": \"udp\", \"port\": 8125, "
		"\"addresses\": [\"10.1.1.1\"]},"
		" {\"host\": null, \"protocol\": \"udp\", \"port\": 514, \"addresses\": "
		"[\"10.0.0.2\"]}],"
		" \"lookups\": [{\"host\": \"db.local\"}, {\"host\": \"gone.local\"}, "
		"{\"host\": \"localhost\"}]}");
	long own[] = {8080};
	assert_int_equal(sweep_deps_from_record(&sw, rec, "discovered", own, 1, err, sizeof(err)),
			 0);
	cJSON_Delete(rec);
	/* the service's own port, the excluded ones and localhost are left out; duplicates once */
	const char *want[] = {"db.local:5432", "[fd00::1]:9000", "udp:10.0.0.2:514", "gone.local"};
	assert_int_equal(sw.ndeps, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(sw.deps[i].target, want[i]);
		assert_string_equal(sw.deps[i].source, "discovered");
	}
	assert_string_equal(sw.deps[3].dns_target, "gone.local");
	assert_null(sw.deps[1].dns_target);
	cJSON *bad = cJSON_Parse("{\"deps\": []}");
	assert_int_equal(sweep_deps_from_record(&sw, bad, "x.json", own, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "x.json: no \"dependencies\" list (is it a chaos-exec --record "
				 "file?)");
	cJSON_Delete(bad);
	sweep_free(&sw);
}

static void classify(struct sweep *sw, struct sw_endpoint *ep, const char *out, enum run_fail f,
		     bool timed_out, int curl, double latency, bool exited, enum sw_result want,
		     const char *code)
{
	struct run_result res = {.fail = f, .timed_out = timed_out, .curl = curl};
	res.output = out ? cJSON_Parse(out) : NULL;
	snprintf(res.msg, sizeof(res.msg), "the message");
	struct sw_probe p = {0};
	sweep_classify(sw, ep, &res, latency, exited, &p);
	cJSON_Delete(res.output);
	if (p.result != want || strcmp(p.code, code))
		fail_msg("%s: got %s '%s', want %s '%s'", out ? out : "(failed)",
			 sw_result_name(p.result), p.code, sw_result_name(want), code);
	free(p.detail);
}

static void test_classify(void **s)
{
	(void)s;
	struct sweep sw;
	char err[RUN_ERR_MAX] = "";
	if (load(&sw, minimal, NULL, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	struct sw_endpoint *ep = &sw.eps[0];
	classify(&sw, ep, "{\"status\": 200}", RUN_OK, false, 0, 0.01, false, SW_OK, "200");
	classify(&sw, ep, "{\"status\": 302}", RUN_OK, false, 0, 0.01, false, SW_OK, "302");
	classify(&sw, ep, "{\"status\": 200}", RUN_OK, false, 0, 1.5, false, SW_SLOW, "200");
	classify(&sw, ep, "{\"status\": 503}", RUN_OK, false, 0, 0.01, false, SW_ERROR, "503");
	classify(&sw, ep, "{\"status\": 503}", RUN_OK, false, 0, 3, false, SW_ERROR, "503");
	classify(&sw, ep, NULL, RUN_FAILED, true, 28, 5, false, SW_HANG, "timeout");
	classify(&sw, ep, NULL, RUN_FAILED, false, 7, 0.01, false, SW_ERROR, "refused");
	classify(&sw, ep, NULL, RUN_FAILED, false, 52, 0.01, false, SW_ERROR, "empty reply");
	classify(&sw, ep, NULL, RUN_FAILED, false, 56, 0.01, false, SW_ERROR, "reset");
	classify(&sw, ep, NULL, RUN_FAILED, false, 52, 0.01, true, SW_ERROR, "exited");
	classify(&sw, ep, NULL, RUN_FAILED, true, 28, 5, true, SW_ERROR, "exited");
	classify(&sw, ep, NULL, RUN_INTERRUPTED, false, 0, 0.01, false, SW_ERROR, "interrupted");
	/* a process endpoint: its exit status */
	ep->http = false;
	cJSON_Delete(ep->tolerance);
	ep->tolerance = cJSON_CreateNumber(0);
	classify(&sw, ep, "{\"status\": 0}", RUN_OK, false, 0, 0.01, false, SW_OK, "exit 0");
	classify(&sw, ep, "{\"status\": 22}", RUN_OK, false, 0, 0.01, false, SW_ERROR, "exit 22");
	classify(&sw, ep, NULL, RUN_FAILED, true, 0, 5, false, SW_HANG, "timeout");
	classify(&sw, ep, NULL, RUN_FAILED, false, 0, 0.01, false, SW_ERROR, "failed");
	sweep_free(&sw);
}

/* A swept sweep, made by hand: 2 deps x 2 faults x 2 endpoints. */
static void fake_sweep(struct sweep *sw)
{
	char err[RUN_ERR_MAX] = "";
	const char *text = "{\"title\": \"<T&>\", " SVC ", \"endpoints\": [{\"name\": \"<script>\", "
			   "\"url\": \"http://h/a\"}, \"http://h/b\"], \"dependencies\": "
			   "[\"db:1\", \"10.0.0.1:2\"], \"faults\": [\"refuse\", \"dns=nxdomain\"]}";
	if (load(sw, text, NULL, err, sizeof(err)) < 0 || sweep_make_cells(sw, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	sw->status = "completed";
	sw->duration = 1.5;
	enum sw_result r[4][2] = {{SW_OK, SW_ERROR}, {SW_SLOW, SW_HANG}, {SW_NORECOVER, SW_OK},
				  {SW_NA, SW_NA}};
	for (size_t i = 0; i < 3; i++) {
		struct sw_cell *c = &sw->cells[i];
		c->state = CELL_DONE;
		c->start = 0.1 * (double)i;
		c->fault_on = c->start + 0.01;
		c->fault_off = c->start + 0.05;
		c->end = c->start + 0.09;
		c->job = 1;
		c->instance = 1;
		c->pid = 42;
		for (size_t e = 0; e < 2; e++) {
			c->eps[e].result = c->eps[e].during = r[i][e];
			c->eps[e].recovered = r[i][e] != SW_NORECOVER;
			snprintf(c->eps[e].code, sizeof(c->eps[e].code), "%s",
				 r[i][e] == SW_ERROR ? "503" : "200");
			c->eps[e].latency = 1.25;
		}
	}
	sw->cells[2].eps[0].during = SW_ERROR;
	snprintf(sw->cells[2].eps[0].code, sizeof(sw->cells[2].eps[0].code), "exited");
	sw->cells[2].exited = strdup("exit status 3");
	sw->cells[2].log_tail = strdup("FATAL <db> & gone\n");
}

static void test_texts_and_expect(void **s)
{
	(void)s;
	struct sweep sw;
	fake_sweep(&sw);
	char t[160];
	struct {
		size_t cell, ep;
		const char *text, *shrt;
	} cases[] = {
		{0, 0, "ok", "ok"},
		{0, 1, "error 503", "error 503"},
		{1, 0, "slow", "slow 1.25s"},
		{1, 1, "hang", "hang >5s"},
		{2, 0, "did not recover", "no recovery (exited)"},
		{3, 0, "n/a", "n/a"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sweep_cell_text(&sw, &sw.cells[cases[i].cell], cases[i].ep, t, sizeof(t));
		assert_string_equal(t, cases[i].text);
		sweep_cell_short(&sw, &sw.cells[cases[i].cell], cases[i].ep, t, sizeof(t));
		assert_string_equal(t, cases[i].shrt);
	}
	/* the JSON matrix, and --expect against it */
	cJSON *j = sweep_json(&sw);
	const cJSON *m = rj_get(j, "matrix");
	assert_int_equal(cJSON_GetArraySize(m), 4);
	char *row = rj_print(cJSON_GetArrayItem(m, 1), -1);
	assert_string_equal(row, "{\"dependency\": \"db:1\", \"fault\": \"dns=nxdomain\", "
				 "\"endpoints\": {\"<script>\": \"slow\", \"/b\": \"hang\"}}");
	free(row);
	assert_int_equal(rj_get(rj_get(rj_get(j, "summary"), "results"), "n/a")->valueint, 2);
	char path[] = "/tmp/test_sweep.XXXXXX.json";
	int fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	char *text = rj_print(j, 1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(text);
	char err[RUN_ERR_MAX], *diffs = NULL;
	assert_int_equal(sweep_expect(&sw, path, &diffs, err, sizeof(err)), 0);
	assert_null(diffs);
	sw.cells[0].eps[0].result = SW_ERROR;
	snprintf(sw.cells[0].eps[0].code, sizeof(sw.cells[0].eps[0].code), "502");
	assert_int_equal(sweep_expect(&sw, path, &diffs, err, sizeof(err)), 1);
	assert_string_equal(diffs, "db:1: refuse: <script>: expected 'ok', got 'error 502'\n");
	free(diffs);
	unlink(path);
	cJSON_Delete(j);
	sweep_free(&sw);
}

static void test_html(void **s)
{
	(void)s;
	struct sweep sw;
	fake_sweep(&sw);
	char *h = sweep_html(&sw);
	assert_non_null(h);
	/* self-contained: nothing to fetch, no script */
	assert_null(strstr(h, "<script"));
	assert_null(strstr(h, "<link"));
	assert_null(strstr(h, "src="));
	assert_null(strstr(h, "url("));
	assert_null(strstr(h, "@import"));
	assert_non_null(strstr(h, "<style>"));
	/* names are escaped */
	assert_non_null(strstr(h, "<h1>&lt;T&amp;&gt;</h1>"));
	assert_non_null(strstr(h, "&lt;script&gt;"));
	assert_non_null(strstr(h, "FATAL &lt;db&gt; &amp; gone"));
	/* the matrix: a cell per endpoint per row, classes by result */
	assert_non_null(strstr(h, "<table class=\"m\" id=\"matrix\">"));
	size_t cells = 0;
	for (const char *p = h; (p = strstr(p, "<td class=\"c ")); p++)
		cells++;
	assert_int_equal(cells, 8);
	assert_non_null(strstr(h, "<td class=\"c norecover\""));
	assert_non_null(strstr(h, "<td class=\"c na\""));
	/* the timelines */
	size_t svgs = 0;
	for (const char *p = h; (p = strstr(p, "<svg ")); p++)
		svgs++;
	assert_int_equal(svgs, 1 + 3); /* the overview, and a timeline per cell that ran */
	free(h);
	sweep_free(&sw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_cli_overrides),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_experiment),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_texts_and_expect),
		cmocka_unit_test(test_html),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
