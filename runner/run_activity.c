/* run_activity.c -- one activity: dry modes, pauses, substitution, the provider, timings
 *
 * As CTK: the before-pause runs before the start timestamp and the after-pause after the end,
 * so durations exclude pauses; dry activities and --dry=pause skip pauses; a dry activity has
 * output null and succeeds.  Unlike CTK (where a JSON "dry" never matches its enum), an
 * activity's own "dry" key is honoured.  The journal keeps the activity unsubstituted.
 */
#include "run.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct act_run *act_run_new(const cJSON *activity)
{
	struct act_run *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->activity = cJSON_Duplicate(activity, true);
	r->tolerance_met = -1;
	return r;
}

void act_run_free(struct act_run *r)
{
	if (!r)
		return;
	cJSON_Delete(r->activity);
	cJSON_Delete(r->output);
	free(r->exception);
	free(r->tol_detail);
	free(r);
}

void act_fail(struct act_run *r, enum run_fail f, const char *fmt, ...)
{
	char msg[RUN_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->failed = true;
	r->fail = f;
	free(r->exception);
	r->exception = strdup(msg);
	cJSON_Delete(r->output);
	r->output = NULL;
}

void run_iso_time(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&ts->tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts->tv_nsec / 1000);
}

static void stamp(struct timespec *rt, double *mono)
{
	clock_gettime(CLOCK_REALTIME, rt);
	*mono = run_now();
}

/* The pause in seconds (after substitution), or -1 if there is none or it is not a number. */
static double pause_of(struct run_state *st, const cJSON *activity, const char *which, char *err,
		       size_t errlen)
{
	const cJSON *p = rj_get(rj_get(activity, "pauses"), which);
	if (!p || cJSON_IsNull(p))
		return 0;
	cJSON *v = run_subst(p, st->config, st->secrets);
	double d = -1;
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && isfinite(v->valuedouble))
		d = v->valuedouble;
	else if (cJSON_IsString(v)) {
		char *end;
		double x = strtod(v->valuestring, &end);
		if (end != v->valuestring && !*end && x >= 0 && isfinite(x))
			d = x;
	}
	if (d < 0) {
		char *s = rj_pystr(v);
		snprintf(err, errlen, "%s pause '%s' is not a number of seconds", which, s ? s : "?");
		free(s);
	}
	cJSON_Delete(v);
	return d;
}

static bool activity_dry(struct run_state *st, const cJSON *activity, bool *skip_pauses)
{
	enum run_dry d = st->opts->dry;
	const cJSON *own = rj_get(activity, "dry");
	enum run_dry o;
	if (cJSON_IsString(own) && run_dry_parse(own->valuestring, &o) == 0)
		d = o;
	const cJSON *type = rj_get(activity, "type");
	bool probe = cJSON_IsString(type) && !strcmp(type->valuestring, "probe");
	bool dry = d == DRY_ACTIVITIES || (d == DRY_PROBES && probe) || (d == DRY_ACTIONS && !probe);
	*skip_pauses = dry || d == DRY_PAUSE;
	return dry;
}

/* A copy of the provider with CTK's substitutions applied. */
static cJSON *substituted_provider(struct run_state *st, const cJSON *prov)
{
	cJSON *p = cJSON_Duplicate(prov, true);
	const cJSON *t = rj_get(prov, "type");
	const char *type = cJSON_IsString(t) ? t->valuestring : "";
	static const char *const http_keys[] = {"url", "headers", "timeout", "arguments", NULL};
	static const char *const chaos_keys[] = {"add", "remove", "target", NULL};
	const char *const *keys = NULL;
	if (!strcmp(type, "http"))
		keys = http_keys;
	else if (!strcmp(type, "chaos"))
		keys = chaos_keys;
	else if (!strcmp(type, "process")) {
		/* lib: process arguments only when there is configuration or secrets (the
		 * chaos_service_pid we add does not count: it must not change what $$ means) */
		bool config = false;
		for (const cJSON *c = st->config ? st->config->child : NULL; c && !config;
		     c = c->next)
			config = strcmp(c->string, "chaos_service_pid") != 0;
		if (!config && !rj_truthy(st->secrets))
			return p;
		static const char *const process_keys[] = {"arguments", NULL};
		keys = process_keys;
	}
	for (; keys && *keys; keys++) {
		const cJSON *v = rj_get(prov, *keys);
		if (v)
			rj_set(p, *keys, run_subst(v, st->config, st->secrets));
	}
	return p;
}

static void pause_line(const char *which, double secs, const cJSON *activity)
{
	const cJSON *n = rj_get(activity, "name");
	out_line("pause %gs %s '%s'", secs, which, cJSON_IsString(n) ? n->valuestring : "?");
}

void run_activity(struct run_state *st, const cJSON *activity, unsigned gen, struct act_run *r)
{
	char err[RUN_ERR_MAX];
	bool skip_pauses;
	bool dry = activity_dry(st, activity, &skip_pauses);
	double before = 0, after = 0;
	if (!skip_pauses) {
		before = pause_of(st, activity, "before", err, sizeof(err));
		if (before >= 0)
			after = pause_of(st, activity, "after", err, sizeof(err));
		if (before < 0 || after < 0) {
			stamp(&r->start_rt, &r->start_mono);
			r->started = true;
			out_activity_start(r);
			act_fail(r, RUN_ERROR, "%s", err);
			stamp(&r->end_rt, &r->end_mono);
			r->done = true;
			return;
		}
	}
	if (before > 0) {
		pause_line("before", before, activity);
		if (run_sleep((uint64_t)(before * 1e9), gen)) {
			stamp(&r->start_rt, &r->start_mono);
			r->started = true;
			const char *sig = sigabbrev_np(run_signal_first());
			act_fail(r, RUN_INTERRUPTED, "interrupted by SIG%s during the pause before",
				 sig ? sig : "?");
			stamp(&r->end_rt, &r->end_mono);
			r->done = true;
			return;
		}
	}
	stamp(&r->start_rt, &r->start_mono);
	r->started = true;
	out_activity_start(r);
	if (!dry) {
		const cJSON *prov = rj_get(activity, "provider");
		const cJSON *t = rj_get(prov, "type");
		const char *type = cJSON_IsString(t) ? t->valuestring : "";
		struct run_result res;
		memset(&res, 0, sizeof(res));
		if (!cJSON_IsObject(prov)) {
			res.fail = RUN_ERROR;
			snprintf(res.msg, sizeof(res.msg), "an activity requires a provider");
		} else {
			cJSON *p = substituted_provider(st, prov);
			if (!strcmp(type, "process"))
				run_process(p, gen, &res);
			else if (!strcmp(type, "http"))
				run_http(p, gen, &res);
			else if (!strcmp(type, "chaos"))
				run_chaos_provider(st, activity, p, &res);
			else {
				res.fail = RUN_ERROR;
				snprintf(res.msg, sizeof(res.msg), "provider type '%s' is not supported",
					 type);
			}
			cJSON_Delete(p);
		}
		if (res.fail != RUN_OK) {
			act_fail(r, res.fail, "%s", res.msg);
		} else {
			r->output = res.output;
		}
	}
	stamp(&r->end_rt, &r->end_mono);
	r->done = true;
	r->pause_after = after;
}

void run_activity_finish(const cJSON *activity, unsigned gen, struct act_run *r)
{
	out_activity_end(r);
	/* as CTK: the after-pause also follows a failed activity, not an interrupted one */
	if (r->pause_after > 0 && (!r->failed || r->fail == RUN_FAILED)) {
		pause_line("after", r->pause_after, activity);
		run_sleep((uint64_t)(r->pause_after * 1e9), gen);
	}
}
