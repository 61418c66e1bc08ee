/* test_strategy.c -- rollback and hypothesis strategies, dry modes, the gate and deviation
 * rules of CTK §6, by running small process-only experiments through run_experiment and
 * reading their journals back */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../runner/run.h"

static char dir[64], journal[128], flag[128];

static int setup(void **s)
{
	(void)s;
	snprintf(dir, sizeof(dir), "/tmp/chaos-run-test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(journal, sizeof(journal), "%s/journal.json", dir);
	snprintf(flag, sizeof(flag), "%s/flag", dir);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	unlink(journal);
	unlink(flag);
	rmdir(dir);
	return 0;
}

/* The experiment: SSH probe "the flag does not exist" (tolerance 0), a method action that
 * runs METHOD_CMD, a rollback that removes the flag.  %F is the flag path. */
static cJSON *experiment(const char *probe_cmd, const char *method_cmd, const char *extra)
{
	char buf[4096], p[512], m[512];
	snprintf(p, sizeof(p), probe_cmd, flag);
	snprintf(m, sizeof(m), method_cmd, flag);
	snprintf(buf, sizeof(buf),
		 "{\"title\": \"t\", \"description\": \"d\", "
		 "\"steady-state-hypothesis\": {\"title\": \"h\", \"probes\": [{\"type\": \"probe\", "
		 "\"name\": \"no-flag\", \"tolerance\": 0, \"provider\": {\"type\": \"process\", "
		 "\"path\": \"sh\", \"arguments\": [\"-c\", \"%s\"], \"timeout\": 0.5}}]}, "
		 "\"method\": [{\"type\": \"action\", \"name\": \"act\", \"provider\": {\"type\": "
		 "\"process\", \"path\": \"sh\", \"arguments\": [\"-c\", \"%s\"]}}], "
		 "\"rollbacks\": [{\"type\": \"action\", \"name\": \"rb\", \"provider\": {\"type\": "
		 "\"process\", \"path\": \"true\"}}]%s}",
		 p, m, extra ? extra : "");
	cJSON *e = cJSON_Parse(buf);
	assert_non_null(e);
	return e;
}

struct outcome {
	int code;
	cJSON *j;
	const char *status;
	bool deviated;
	bool before, after; /* not null */
	int during, run, rollbacks;
};

static struct outcome run(cJSON *exp, struct run_opts *o)
{
	struct outcome r;
	unlink(journal);
	o->path = "test";
	o->journal_path = journal;
	o->quiet = true;
	if (o->frequency == 0)
		o->frequency = 0.05;
	out_init(true, NULL, 0);
	r.code = run_experiment(exp, o);
	cJSON_Delete(exp);
	FILE *f = fopen(journal, "r");
	assert_non_null(f);
	char *text = calloc(1, 1 << 20);
	size_t n = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	text[n] = '\0';
	r.j = cJSON_Parse(text);
	free(text);
	assert_non_null(r.j);
	r.status = rj_get(r.j, "status")->valuestring;
	r.deviated = cJSON_IsTrue(rj_get(r.j, "deviated"));
	cJSON *ss = rj_get(r.j, "steady_states");
	r.before = !cJSON_IsNull(rj_get(ss, "before"));
	r.after = !cJSON_IsNull(rj_get(ss, "after"));
	r.during = cJSON_GetArraySize(rj_get(ss, "during"));
	r.run = cJSON_GetArraySize(rj_get(r.j, "run"));
	r.rollbacks = cJSON_GetArraySize(rj_get(r.j, "rollbacks"));
	return r;
}

static void done(struct outcome *r)
{
	cJSON_Delete(r->j);
	unlink(flag);
}

#define NO_FLAG "test ! -e %s"
#define SET_FLAG "touch %s"

static void test_rollback_matrix(void **s)
{
	(void)s;
	/* default: played unless failed or interrupted */
	assert_true(run_should_rollback(RB_DEFAULT, "completed", false, 0));
	assert_true(run_should_rollback(RB_DEFAULT, "completed", true, 0));
	assert_true(run_should_rollback(RB_DEFAULT, "aborted", false, 0));
	assert_false(run_should_rollback(RB_DEFAULT, "failed", true, 0));
	assert_false(run_should_rollback(RB_DEFAULT, "interrupted", false, SIGINT));
	assert_true(run_should_rollback(RB_ALWAYS, "failed", false, 0));
	assert_true(run_should_rollback(RB_ALWAYS, "interrupted", false, SIGTERM));
	assert_false(run_should_rollback(RB_ALWAYS, "interrupted", false, SIGUSR2));
	assert_false(run_should_rollback(RB_NEVER, "completed", false, 0));
	assert_true(run_should_rollback(RB_DEVIATED, "completed", true, 0));
	assert_false(run_should_rollback(RB_DEVIATED, "completed", false, 0));
	assert_false(run_should_rollback(RB_UNKNOWN, "completed", false, 0));
}

static void test_default(void **s)
{
	(void)s;
	struct run_opts o = {0};
	struct outcome r = run(experiment(NO_FLAG, "true", NULL), &o);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.status, "completed");
	assert_true(r.before && r.after);
	assert_int_equal(r.during, 0);
	assert_int_equal(r.run, 1);
	assert_int_equal(r.rollbacks, 1);
	/* the CLI wrote "dry": null into the experiment */
	assert_true(cJSON_IsNull(rj_get(rj_get(r.j, "experiment"), "dry")));
	done(&r);
}

static void test_deviated(void **s)
{
	(void)s;
	struct run_opts o = {0};
	struct outcome r = run(experiment(NO_FLAG, SET_FLAG, NULL), &o);
	assert_int_equal(r.code, 1);
	assert_string_equal(r.status, "completed");
	assert_true(r.deviated);
	assert_int_equal(r.rollbacks, 1); /* deviated by tolerance: played under default */
	done(&r);
	o.rollback_set = true;
	o.rollback = RB_NEVER;
	r = run(experiment(NO_FLAG, SET_FLAG, NULL), &o);
	assert_int_equal(r.rollbacks, 0);
	done(&r);
}

static void test_after_raises(void **s)
{
	(void)s;
	/* the probe times out once the flag is there: failed + deviated, no rollbacks */
	struct run_opts o = {0};
	struct outcome r = run(experiment("test -e %s && sleep 5; true", SET_FLAG, NULL), &o);
	assert_int_equal(r.code, 1);
	assert_string_equal(r.status, "failed");
	assert_true(r.deviated);
	assert_int_equal(r.rollbacks, 0);
	done(&r);
	o.rollback_set = true;
	o.rollback = RB_ALWAYS;
	r = run(experiment("test -e %s && sleep 5; true", SET_FLAG, NULL), &o);
	assert_string_equal(r.status, "failed");
	assert_int_equal(r.rollbacks, 1);
	done(&r);
}

static void test_gate(void **s)
{
	(void)s;
	/* missed by tolerance: completed, method skipped, rollbacks played, exit 0 */
	struct run_opts o = {0};
	struct outcome r = run(experiment("exit 1", "true", NULL), &o);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.status, "completed");
	assert_false(r.deviated);
	assert_true(r.before);
	assert_false(r.after);
	assert_int_equal(r.run, 0);
	assert_int_equal(r.rollbacks, 1);
	done(&r);
	/* a gate probe that raises: failed, no rollbacks */
	r = run(experiment("sleep 5", "true", NULL), &o);
	assert_int_equal(r.code, 1);
	assert_string_equal(r.status, "failed");
	assert_int_equal(r.run, 0);
	assert_int_equal(r.rollbacks, 0);
	done(&r);
	/* --rollback-strategy deviated: none after a gate miss */
	o.rollback_set = true;
	o.rollback = RB_DEVIATED;
	r = run(experiment("exit 1", "true", NULL), &o);
	assert_int_equal(r.rollbacks, 0);
	done(&r);
}

static void test_hypothesis_strategies(void **s)
{
	(void)s;
	struct {
		enum run_hypo h;
		bool before, after, during;
	} cases[] = {
		{HY_DEFAULT, true, true, false},   {HY_BEFORE, true, false, false},
		{HY_AFTER, false, true, false},	   {HY_DURING, false, false, true},
		{HY_CONTINUOUS, true, true, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run_opts o = {.hypo_set = true, .hypo = cases[i].h};
		struct outcome r = run(experiment(NO_FLAG, "sleep 0.2", NULL), &o);
		if (r.before != cases[i].before || r.after != cases[i].after ||
		    (r.during > 0) != cases[i].during)
			fail_msg("%s: before %d after %d during %d", run_hypo_name(cases[i].h),
				 r.before, r.after, r.during);
		assert_int_equal(r.code, 0);
		done(&r);
	}
	/* skip, from the experiment's runtime; the runtime also sets rollbacks */
	struct run_opts o = {0};
	struct outcome r = run(experiment(NO_FLAG, "true",
					  ", \"runtime\": {\"hypothesis\": {\"strategy\": \"skip\"}, "
					  "\"rollbacks\": {\"strategy\": \"never\"}}"),
			       &o);
	assert_false(r.before || r.after || r.during);
	assert_int_equal(r.rollbacks, 0);
	done(&r);
	/* the CLI flag wins over the runtime */
	o.rollback_set = true;
	o.rollback = RB_ALWAYS;
	r = run(experiment(NO_FLAG, "true",
			   ", \"runtime\": {\"rollbacks\": {\"strategy\": \"never\"}}"),
		&o);
	assert_int_equal(r.rollbacks, 1);
	done(&r);
}

static void test_during(void **s)
{
	(void)s;
	/* without fail-fast a deviating loop still ends completed, exit 0 */
	struct run_opts o = {.hypo_set = true, .hypo = HY_DURING};
	struct outcome r = run(experiment(NO_FLAG, "touch %s; sleep 0.3", NULL), &o);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.status, "completed");
	assert_false(r.deviated);
	assert_true(r.during >= 2);
	done(&r);
	/* with fail-fast: failed, exit 1 */
	o.fail_fast = true;
	r = run(experiment(NO_FLAG, "touch %s; sleep 0.3", NULL), &o);
	assert_int_equal(r.code, 1);
	assert_string_equal(r.status, "failed");
	done(&r);
	/* continuously + fail-fast: the after-SSH deviates, status back to completed */
	o.hypo = HY_CONTINUOUS;
	r = run(experiment(NO_FLAG, "touch %s; sleep 0.3", NULL), &o);
	assert_string_equal(r.status, "completed");
	assert_true(r.deviated);
	assert_int_equal(r.code, 1);
	done(&r);
}

static void test_dry(void **s)
{
	(void)s;
	struct run_opts o = {.dry = DRY_PROBES};
	/* the probe would fail its tolerance; dry, it is not run and counts as met */
	struct outcome r = run(experiment("exit 1", "true", NULL), &o);
	assert_int_equal(r.code, 0);
	cJSON *p = rj_get(rj_get(rj_get(r.j, "steady_states"), "before"), "probes")->child;
	assert_true(cJSON_IsNull(rj_get(p, "output")));
	assert_true(cJSON_IsTrue(rj_get(p, "tolerance_met")));
	assert_true(cJSON_IsObject(rj_get(rj_get(r.j, "run")->child, "output")));
	assert_string_equal(rj_get(rj_get(r.j, "experiment"), "dry")->valuestring, "probes");
	done(&r);
	o.dry = DRY_ACTIONS;
	r = run(experiment(NO_FLAG, SET_FLAG, NULL), &o);
	assert_int_equal(r.code, 0); /* the action did not run: no deviation */
	assert_true(cJSON_IsNull(rj_get(rj_get(r.j, "run")->child, "output")));
	done(&r);
	o.dry = DRY_ACTIVITIES;
	r = run(experiment("exit 1", SET_FLAG, NULL), &o);
	assert_int_equal(r.code, 0);
	assert_int_equal(access(flag, F_OK), -1);
	done(&r);
}

static void test_background(void **s)
{
	(void)s;
	/* two background actions overlap: the whole method takes ~0.3 s, not 0.6 s */
	cJSON *e = experiment(NO_FLAG, "true", NULL);
	cJSON *m = rj_get(e, "method");
	cJSON_DeleteItemFromArray(m, 0);
	for (int i = 0; i < 2; i++) {
		cJSON *a = cJSON_Parse("{\"type\": \"action\", \"name\": \"bg\", \"background\": "
				       "true, \"provider\": {\"type\": \"process\", \"path\": "
				       "\"sleep\", \"arguments\": [\"0.3\"]}}");
		cJSON_AddItemToArray(m, a);
	}
	struct run_opts o = {0};
	double t0 = run_now();
	struct outcome r = run(e, &o);
	double took = run_now() - t0;
	assert_int_equal(r.code, 0);
	assert_int_equal(r.run, 2);
	assert_true(took < 0.55);
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollback_matrix),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_deviated),
		cmocka_unit_test(test_after_raises),
		cmocka_unit_test(test_gate),
		cmocka_unit_test(test_hypothesis_strategies),
		cmocka_unit_test(test_during),
		cmocka_unit_test(test_dry),
		cmocka_unit_test(test_background),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
