/* run_output.c -- what a person sees on stderr while an experiment runs, and the summary
 *
 *   14:02:11.204  == steady state (before the method)
 *   14:02:11.204  >> probe   'api-answers'
 *   14:02:11.231  ok probe   'api-answers'  0.027s  tolerance met
 *   14:02:12.002  !! action  'kill-db'  1.001s  failed: process activity took too long ...
 * Times are local.  Secret values are masked in every line.  Lines are written whole, under a
 * lock, because background activities and the hypothesis loop print from their threads.
 */
#include "run.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static bool quiet;
static char *const *masks;
static size_t nmasks;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

void out_init(bool q, char *const *m, size_t n)
{
	quiet = q;
	masks = m;
	nmasks = n;
}

void out_set_masks(char *const *m, size_t n)
{
	masks = m;
	nmasks = n;
}

static void emit(const char *prefix, bool timed, const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	char *masked = run_mask_text(msg, masks, nmasks);
	char ts[32] = "";
	if (timed) {
		struct timeval tv;
		struct tm tm;
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		snprintf(ts, sizeof(ts), "%02d:%02d:%02d.%03ld  ", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (long)(tv.tv_usec / 1000));
	}
	pthread_mutex_lock(&out_lock);
	fprintf(stderr, "%s%s%s\n", ts, prefix, masked ? masked : msg);
	fflush(stderr);
	pthread_mutex_unlock(&out_lock);
	free(masked);
}

void out_line(const char *fmt, ...)
{
	if (quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	emit("   ", true, fmt, ap);
	va_end(ap);
}

void out_phase(const char *fmt, ...)
{
	if (quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	emit("== ", true, fmt, ap);
	va_end(ap);
}

void out_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("chaos-run: ", false, fmt, ap);
	va_end(ap);
}

void out_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("chaos-run: warning: ", false, fmt, ap);
	va_end(ap);
}

static const char *kind(const struct act_run *r)
{
	const cJSON *t = rj_get(r->activity, "type");
	return cJSON_IsString(t) && !strcmp(t->valuestring, "probe") ? "probe " : "action";
}

static const char *name(const struct act_run *r)
{
	const cJSON *n = rj_get(r->activity, "name");
	if (cJSON_IsString(n))
		return n->valuestring;
	const cJSON *ref = rj_get(r->activity, "ref");
	return cJSON_IsString(ref) ? ref->valuestring : "?";
}

void out_activity_start(const struct act_run *r)
{
	bool bg = cJSON_IsTrue(rj_get(r->activity, "background"));
	out_line(">> %s '%s'%s", kind(r), name(r), bg ? "  (background)" : "");
}

void out_activity_end(const struct act_run *r)
{
	if (quiet)
		return;
	double d = r->end_mono - r->start_mono;
	const char *mark = r->failed ? "!!" : "ok";
	char tail[1200] = "";
	if (r->failed)
		snprintf(tail, sizeof(tail), "  %s: %s",
			 r->fail == RUN_INTERRUPTED ? "interrupted"
			 : r->fail == RUN_ERROR	    ? "error"
						    : "failed",
			 r->exception ? r->exception : "");
	else if (r->tolerance_met == 1)
		snprintf(tail, sizeof(tail), "  tolerance met");
	else if (r->tolerance_met == 0)
		snprintf(tail, sizeof(tail), "  tolerance NOT met (%s)",
			 r->tol_detail ? r->tol_detail : "");
	else if (cJSON_IsArray(rj_get(r->output, "added")))
		snprintf(tail, sizeof(tail), "  %d fault%s on", cJSON_GetArraySize(rj_get(r->output, "added")),
			 cJSON_GetArraySize(rj_get(r->output, "added")) == 1 ? "" : "s");
	else if (cJSON_IsArray(rj_get(r->output, "removed")))
		snprintf(tail, sizeof(tail), "  %d fault%s off",
			 cJSON_GetArraySize(rj_get(r->output, "removed")),
			 cJSON_GetArraySize(rj_get(r->output, "removed")) == 1 ? "" : "s");
	else if (cJSON_IsObject(r->output) && cJSON_IsNumber(rj_get(r->output, "status")))
		snprintf(tail, sizeof(tail), "  status %d",
			 (int)rj_get(r->output, "status")->valuedouble);
	else if (!r->output)
		snprintf(tail, sizeof(tail), "  (dry)");
	out_line("%s %s '%s'  %.3fs%s", mark, kind(r), name(r), d, tail);
}

/* ---- the summary ------------------------------------------------------------------------ */

static void ssh_line(const char *label, const struct ssh_run *s, const char *why_not)
{
	if (!s) {
		fprintf(stderr, "  %-10s not run%s%s%s\n", label, why_not ? " (" : "",
			why_not ? why_not : "", why_not ? ")" : "");
		return;
	}
	size_t met = 0;
	const struct act_run *bad = NULL;
	for (size_t i = 0; i < s->n; i++) {
		if (s->probes[i]->tolerance_met == 1)
			met++;
		else if (!bad)
			bad = s->probes[i];
	}
	if (s->met) {
		fprintf(stderr, "  %-10s met (%zu/%zu probes)\n", label, met, s->n);
		return;
	}
	char detail[1400] = "";
	if (bad && bad->failed)
		snprintf(detail, sizeof(detail), ": probe '%s' %s: %s", name(bad),
			 bad->fail == RUN_ERROR ? "error" : "failed", bad->exception);
	else if (bad)
		snprintf(detail, sizeof(detail), ": probe '%s' %s", name(bad),
			 bad->tol_detail ? bad->tol_detail : "tolerance not met");
	char *m = run_mask_text(detail, masks, nmasks);
	fprintf(stderr, "  %-10s NOT MET%s\n", label, m ? m : detail);
	free(m);
}

static void list_line(const char *label, const struct run_list *l, const char *none)
{
	size_t ok = 0, failed = 0;
	const struct act_run *first_bad = NULL;
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i]->started)
			continue;
		if (l->v[i]->failed) {
			failed++;
			if (!first_bad)
				first_bad = l->v[i];
		} else
			ok++;
	}
	if (!ok && !failed) {
		fprintf(stderr, "  %-10s %s\n", label, none);
		return;
	}
	char detail[1400] = "";
	if (first_bad) {
		snprintf(detail, sizeof(detail), " -- '%s': %s", name(first_bad),
			 first_bad->exception ? first_bad->exception : "failed");
	}
	char *m = run_mask_text(detail, masks, nmasks);
	fprintf(stderr, "  %-10s %zu succeeded, %zu failed%s\n", label, ok, failed,
		m ? m : detail);
	free(m);
}

void out_summary(struct run_state *st, int exit_code)
{
	if (quiet)
		return;
	pthread_mutex_lock(&out_lock);
	const cJSON *title = rj_get(st->exp, "title");
	char *t = run_mask_text(cJSON_IsString(title) ? title->valuestring : "?", masks, nmasks);
	fprintf(stderr, "\n%s: %s\n",
		!strcmp(st->status, "completed") && !st->deviated ? "PASSED" : st->deviated
			? "DEVIATED" : !strcmp(st->status, "interrupted") ? "INTERRUPTED"
			: !strcmp(st->status, "aborted") ? "ABORTED" : !strcmp(st->status, "failed")
			? "FAILED" : "COMPLETED",
		t ? t : (cJSON_IsString(title) ? title->valuestring : "?"));
	free(t);
	fprintf(stderr, "  %-10s %s%s%s%s, exit %d\n", "status", st->status,
		st->signal ? " (SIG" : "", st->signal ? sigabbrev_np(st->signal) : "",
		st->signal ? ")" : "", exit_code);
	if (st->deviated)
		fprintf(stderr, "  %-10s yes: the steady state was not met after the method\n",
			"deviated");
	if (st->abort_reason) {
		char *m = run_mask_text(st->abort_reason, masks, nmasks);
		fprintf(stderr, "  %-10s %s\n", "error", m ? m : st->abort_reason);
		free(m);
	}
	const cJSON *probes = rj_get(rj_get(st->exp, "steady-state-hypothesis"), "probes");
	bool with_ssh = cJSON_IsArray(probes) && probes->child;
	const char *why = !with_ssh ? "no steady-state hypothesis" : NULL;
	ssh_line("before", st->before, why ? why : st->hypo == HY_AFTER || st->hypo == HY_DURING ||
			st->hypo == HY_SKIP ? "strategy" : NULL);
	if (st->nduring) {
		size_t met = 0;
		for (size_t i = 0; i < st->nduring; i++)
			met += st->during[i]->met;
		fprintf(stderr, "  %-10s %zu/%zu checks met\n", "during", met, st->nduring);
	}
	bool gate_missed = st->before && !st->before->met;
	if (gate_missed && !st->run.n)
		fprintf(stderr, "  %-10s skipped: the steady state was not met before it\n",
			"method");
	else
		list_line("method", &st->run, "no activity");
	ssh_line("after", st->after, why ? why : gate_missed ? "the method was skipped"
			: st->hypo == HY_BEFORE || st->hypo == HY_DURING || st->hypo == HY_SKIP
			? "strategy" : strcmp(st->status, "completed") && strcmp(st->status, "failed")
			? st->status : NULL);
	const cJSON *rb = rj_get(st->exp, "rollbacks");
	if (!cJSON_IsArray(rb) || !rb->child)
		fprintf(stderr, "  %-10s none declared\n", "rollbacks");
	else if (!st->rollbacks_played)
		fprintf(stderr, "  %-10s NOT played (strategy %s, status %s)\n", "rollbacks",
			run_rollback_name(st->rollback), st->status);
	else
		list_line("rollbacks", &st->rollbacks, "none");
	size_t added, removed, left;
	run_chaos_counts(st, &added, &removed, &left);
	if (added)
		fprintf(stderr, "  %-10s %zu added, %zu removed%s\n", "faults", added, removed,
			left ? ", SOME LEFT ON (see the journal)" : ", none left on");
	if (st->opts->journal_path)
		fprintf(stderr, "  %-10s %s\n", "journal", st->opts->journal_path);
	fprintf(stderr, "  %-10s %.3fs\n", "duration", st->end_mono - st->start_mono);
	fflush(stderr);
	pthread_mutex_unlock(&out_lock);
}
