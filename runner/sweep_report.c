/* sweep_report.c -- the sweep's matrix on the terminal, its JSON report, and --expect
 *
 * The matrix has a row per dependency and fault, a column per endpoint; a value is one of
 *   ok | slow | error CODE | hang | did not recover | not run | n/a
 * where CODE is the HTTP status or exit status the endpoint answered ("error 503", "error exit
 * 1"), or what happened to the request ("error refused", "error reset", "error empty reply",
 * "error exited": the service itself was gone).  The JSON report keeps every probe and event
 * behind those values.
 */
#include "sweep.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void sweep_cell_text(const struct sweep *sw, const struct sw_cell *c, size_t ep, char *buf,
		     size_t len)
{
	(void)sw;
	const struct sw_cell_ep *r = &c->eps[ep];
	if (r->result == SW_ERROR)
		snprintf(buf, len, "error %s", r->code);
	else
		snprintf(buf, len, "%s", sw_result_name(r->result));
}

void sweep_cell_short(const struct sweep *sw, const struct sw_cell *c, size_t ep, char *buf,
		      size_t len)
{
	const struct sw_cell_ep *r = &c->eps[ep];
	switch (r->result) {
	case SW_SLOW: snprintf(buf, len, "slow %.2fs", r->latency); break;
	case SW_HANG:
		snprintf(buf, len, "hang >%gs", r->limit > 0 ? r->limit : sw->set.probe_timeout);
		break;
	case SW_NORECOVER:
		if (r->during == SW_ERROR)
			snprintf(buf, len, "no recovery (%s)", r->code);
		else
			snprintf(buf, len, "no recovery (%s)", sw_result_name(r->during));
		break;
	default: sweep_cell_text(sw, c, ep, buf, len); break;
	}
}

void sweep_iso(const struct sweep *sw, double t, char *buf, size_t len)
{
	struct timespec ts = sw->t0_rt;
	double whole = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + t;
	ts.tv_sec = (time_t)whole;
	ts.tv_nsec = (long)((whole - (double)ts.tv_sec) * 1e9);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

/* ---- the terminal ------------------------------------------------------------------------- */

static const char *color_of(enum sw_result r)
{
	switch (r) {
	case SW_OK: return "\033[32m";
	case SW_SLOW: return "\033[33m";
	case SW_ERROR: return "\033[31m";
	case SW_HANG: return "\033[35m";
	case SW_NORECOVER: return "\033[1;41;37m";
	default: return "\033[2m";
	}
}

/* Width on a terminal: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static void pad(FILE *f, const char *s, size_t w)
{
	fputs(s, f);
	for (size_t n = width(s); n < w; n++)
		fputc(' ', f);
}

void sweep_print_matrix(const struct sweep *sw, FILE *f)
{
	size_t wd = strlen("steady state"), wf = sw->nbaseline ? strlen("(no fault)") : 5;
	for (size_t d = 0; d < sw->ndeps; d++)
		if (width(sw->deps[d].name) > wd)
			wd = width(sw->deps[d].name);
	for (size_t i = 0; i < sw->nfaults; i++)
		if (width(sw->faults[i].name) > wf)
			wf = width(sw->faults[i].name);
	size_t *we = calloc(sw->neps + 1, sizeof(size_t));
	if (!we)
		abort();
	char t[160];
	for (size_t e = 0; e < sw->neps; e++) {
		we[e] = width(sw->eps[e].name);
		for (size_t i = 0; i < sw->ncells; i++) {
			sweep_cell_short(sw, &sw->cells[i], e, t, sizeof(t));
			if (width(t) > we[e])
				we[e] = width(t);
		}
		if (e < sw->nbaseline) {
			snprintf(t, sizeof(t), "%s %.3fs", sw->baseline[e].code,
				 sw->baseline[e].end - sw->baseline[e].start);
			if (width(t) > we[e])
				we[e] = width(t);
		}
	}
	const char *reset = sw->color ? "\033[0m" : "";
	fprintf(f, "\n");
	pad(f, "dependency", wd + 2);
	pad(f, "fault", wf + 2);
	for (size_t e = 0; e < sw->neps; e++) {
		if (sw->color)
			fputs("\033[1m", f);
		pad(f, sw->eps[e].name, e + 1 < sw->neps ? we[e] + 2 : 0);
		fputs(reset, f);
	}
	fputc('\n', f);
	if (sw->nbaseline) {
		pad(f, "steady state", wd + 2);
		pad(f, "(no fault)", wf + 2);
		for (size_t e = 0; e < sw->neps; e++) {
			snprintf(t, sizeof(t), "%s %.3fs", sw->baseline[e].code,
				 sw->baseline[e].end - sw->baseline[e].start);
			pad(f, t, e + 1 < sw->neps ? we[e] + 2 : 0);
		}
		fputc('\n', f);
	}
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		pad(f, c->fault == 0 ? sw->deps[c->dep].name : "", wd + 2);
		pad(f, sw->faults[c->fault].name, wf + 2);
		for (size_t e = 0; e < sw->neps; e++) {
			sweep_cell_short(sw, c, e, t, sizeof(t));
			if (sw->color)
				fputs(color_of(c->eps[e].result), f);
			fputs(t, f);
			fputs(reset, f);
			if (e + 1 < sw->neps)
				for (size_t n = width(t); n < we[e] + 2; n++)
					fputc(' ', f);
		}
		fputc('\n', f);
	}
	free(we);

	/* why cells did not run, once per reason */
	bool any = false;
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		if ((c->state != CELL_NOTRUN && c->state != CELL_NA) || !c->why)
			continue;
		bool seen = false;
		size_t count = 0;
		for (size_t k = 0; k < sw->ncells; k++) {
			const struct sw_cell *o = &sw->cells[k];
			if (o->state == c->state && o->why && !strcmp(o->why, c->why)) {
				if (k < i)
					seen = true;
				count++;
			}
		}
		if (seen)
			continue;
		if (!any)
			fputc('\n', f);
		any = true;
		if (count > 1)
			fprintf(f, "%s (%zu cells): %s\n", c->state == CELL_NA ? "n/a" : "not run", count,
				c->why);
		else
			fprintf(f, "%s (%s: %s): %s\n", c->state == CELL_NA ? "n/a" : "not run",
				sw->deps[c->dep].name, sw->faults[c->fault].name, c->why);
	}
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		if (c->exited)
			fprintf(f, "%s: %s: the service exited (%s)\n", sw->deps[c->dep].name,
				sw->faults[c->fault].name, c->exited);
		if (c->fault_stuck)
			fprintf(f, "%s: %s: THE FAULT COULD NOT BE REMOVED: its instance was stopped\n",
				sw->deps[c->dep].name, sw->faults[c->fault].name);
	}
}

/* ---- JSON --------------------------------------------------------------------------------- */

static cJSON *num(double v)
{
	return rj_float(round(v * 1e6) / 1e6);
}

static cJSON *time_or_null(double t)
{
	return t >= 0 ? num(t) : cJSON_CreateNull();
}

static const char *phase_name(enum sw_phase p)
{
	switch (p) {
	case PH_BASELINE: return "baseline";
	case PH_STEADY: return "steady";
	case PH_FAULT: return "fault";
	case PH_RECOVERY: return "recovery";
	}
	return "?";
}

static const char *state_name(enum sw_cell_state s)
{
	switch (s) {
	case CELL_DONE: return "ran";
	case CELL_NOTRUN: return "not run";
	case CELL_NA: return "n/a";
	case CELL_RUNNING: return "running";
	default: return "pending";
	}
}

static cJSON *probe_json(const struct sweep *sw, const struct sw_probe *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "endpoint", sw->eps[p->endpoint].name);
	cJSON_AddStringToObject(o, "phase", phase_name(p->phase));
	cJSON_AddItemToObject(o, "start", num(p->start));
	cJSON_AddItemToObject(o, "end", num(p->end));
	cJSON_AddStringToObject(o, "result", sw_result_name(p->result));
	cJSON_AddStringToObject(o, "code", p->code);
	if (p->detail)
		cJSON_AddStringToObject(o, "detail", p->detail);
	else
		cJSON_AddNullToObject(o, "detail");
	cJSON_AddNumberToObject(o, "injected", p->injected);
	cJSON_AddItemToObject(o, "timeout", num(p->limit));
	return o;
}

cJSON *sweep_json(const struct sweep *sw)
{
	char buf[64];
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "runner", "chaos-run " RUN_VERSION);
	cJSON_AddStringToObject(j, "title", sw->title ? sw->title : "");
	cJSON_AddStringToObject(j, "source", sw->path ? sw->path : "");
	cJSON_AddStringToObject(j, "status", sw->status ? sw->status : "aborted");
	if (sw->abort_reason)
		cJSON_AddStringToObject(j, "reason", sw->abort_reason);
	else
		cJSON_AddNullToObject(j, "reason");
	sweep_iso(sw, 0, buf, sizeof(buf));
	cJSON_AddStringToObject(j, "started", buf);
	sweep_iso(sw, sw->duration, buf, sizeof(buf));
	cJSON_AddStringToObject(j, "ended", buf);
	cJSON_AddItemToObject(j, "duration", num(sw->duration));

	cJSON *s = cJSON_AddObjectToObject(j, "settings");
	cJSON_AddNumberToObject(s, "jobs", sw->set.jobs);
	cJSON_AddItemToObject(s, "probe_timeout", num(sw->set.probe_timeout));
	cJSON_AddItemToObject(s, "slow", num(sw->set.slow));
	cJSON_AddItemToObject(s, "recovery", num(sw->set.recovery));
	cJSON_AddItemToObject(s, "settle", num(sw->set.settle));
	if (sw->set.max_time > 0)
		cJSON_AddItemToObject(s, "max_time", num(sw->set.max_time));
	else
		cJSON_AddNullToObject(s, "max_time");
	cJSON_AddStringToObject(s, "restart", sw->set.restart_every_cell ? "every-cell"
									   : "on-failure");

	cJSON *svc = cJSON_AddObjectToObject(j, "service");
	cJSON_AddItemToObject(svc, "command", cJSON_Duplicate(rj_get(sw->service, "command"), true));
	const cJSON *rules = rj_get(sw->service, "rules");
	cJSON_AddItemToObject(svc, "rules", rules ? cJSON_Duplicate(rules, true)
						  : cJSON_CreateArray());

	cJSON *eps = cJSON_AddArrayToObject(j, "endpoints");
	for (size_t e = 0; e < sw->neps; e++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", sw->eps[e].name);
		cJSON_AddStringToObject(o, "probe", sw->eps[e].desc);
		cJSON_AddItemToObject(o, "tolerance", cJSON_Duplicate(sw->eps[e].tolerance, true));
		cJSON_AddItemToArray(eps, o);
	}
	cJSON *deps = cJSON_AddArrayToObject(j, "dependencies");
	for (size_t d = 0; d < sw->ndeps; d++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", sw->deps[d].name);
		cJSON_AddStringToObject(o, "target", sw->deps[d].target);
		if (sw->deps[d].dns_target)
			cJSON_AddStringToObject(o, "host", sw->deps[d].dns_target);
		else
			cJSON_AddNullToObject(o, "host");
		cJSON_AddStringToObject(o, "source", sw->deps[d].source ? sw->deps[d].source : "");
		cJSON_AddItemToArray(deps, o);
	}
	cJSON *faults = cJSON_AddArrayToObject(j, "faults");
	for (size_t i = 0; i < sw->nfaults; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", sw->faults[i].name);
		cJSON_AddStringToObject(o, "fault", sw->faults[i].action);
		cJSON_AddBoolToObject(o, "available", sw->faults[i].available);
		if (sw->faults[i].why)
			cJSON_AddStringToObject(o, "why", sw->faults[i].why);
		else
			cJSON_AddNullToObject(o, "why");
		cJSON_AddItemToArray(faults, o);
	}
	cJSON *base = cJSON_AddArrayToObject(j, "baseline");
	for (size_t e = 0; e < sw->nbaseline; e++) {
		const struct sw_probe *p = &sw->baseline[e];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "endpoint", sw->eps[e].name);
		cJSON_AddStringToObject(o, "result", sw_result_name(p->result));
		cJSON_AddStringToObject(o, "code", p->code);
		cJSON_AddItemToObject(o, "latency", num(p->end - p->start));
		cJSON_AddItemToArray(base, o);
	}

	/* the matrix, compact */
	cJSON *m = cJSON_AddArrayToObject(j, "matrix");
	size_t counts[SW_NA + 1] = {0}, ran = 0, notrun = 0, na = 0;
	char t[160];
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		cJSON *row = cJSON_CreateObject();
		cJSON_AddStringToObject(row, "dependency", sw->deps[c->dep].name);
		cJSON_AddStringToObject(row, "fault", sw->faults[c->fault].name);
		cJSON *v = cJSON_AddObjectToObject(row, "endpoints");
		for (size_t e = 0; e < sw->neps; e++) {
			sweep_cell_text(sw, c, e, t, sizeof(t));
			cJSON_AddStringToObject(v, sw->eps[e].name, t);
			counts[c->eps[e].result]++;
		}
		cJSON_AddItemToArray(m, row);
		ran += c->state == CELL_DONE;
		notrun += c->state == CELL_NOTRUN || c->state == CELL_PENDING ||
			  c->state == CELL_RUNNING;
		na += c->state == CELL_NA;
	}
	cJSON *sum = cJSON_AddObjectToObject(j, "summary");
	cJSON_AddNumberToObject(sum, "cells", (double)sw->ncells);
	cJSON_AddNumberToObject(sum, "ran", (double)ran);
	cJSON_AddNumberToObject(sum, "not_run", (double)notrun);
	cJSON_AddNumberToObject(sum, "not_applicable", (double)na);
	cJSON *res = cJSON_AddObjectToObject(sum, "results");
	for (int r = SW_OK; r <= SW_NA; r++)
		cJSON_AddNumberToObject(res, sw_result_name((enum sw_result)r), (double)counts[r]);

	/* the cells, in full */
	cJSON *cells = cJSON_AddArrayToObject(j, "cells");
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "dependency", sw->deps[c->dep].name);
		cJSON_AddStringToObject(o, "fault", sw->faults[c->fault].name);
		cJSON_AddStringToObject(o, "rule", c->rule);
		cJSON_AddStringToObject(o, "state", state_name(c->state));
		if (c->why)
			cJSON_AddStringToObject(o, "why", c->why);
		else
			cJSON_AddNullToObject(o, "why");
		if (c->job > 0)
			cJSON_AddNumberToObject(o, "job", c->job);
		else
			cJSON_AddNullToObject(o, "job");
		if (c->instance > 0)
			cJSON_AddNumberToObject(o, "instance", c->instance);
		else
			cJSON_AddNullToObject(o, "instance");
		if (c->pid > 0)
			cJSON_AddNumberToObject(o, "pid", (double)c->pid);
		else
			cJSON_AddNullToObject(o, "pid");
		cJSON_AddItemToObject(o, "start", time_or_null(c->start));
		cJSON_AddItemToObject(o, "fault_on", time_or_null(c->fault_on));
		cJSON_AddItemToObject(o, "fault_off", time_or_null(c->fault_off));
		cJSON_AddItemToObject(o, "end", time_or_null(c->end));
		if (c->injected >= 0)
			cJSON_AddNumberToObject(o, "injected", (double)c->injected);
		else
			cJSON_AddNullToObject(o, "injected");
		cJSON *inj = cJSON_AddArrayToObject(o, "injections");
		for (size_t k = 0; k < c->ninject; k++)
			cJSON_AddItemToArray(inj, num(c->inject_times[k]));
		if (c->exited)
			cJSON_AddStringToObject(o, "exited", c->exited);
		else
			cJSON_AddNullToObject(o, "exited");
		cJSON_AddBoolToObject(o, "fault_stuck", c->fault_stuck);
		cJSON *ce = cJSON_AddArrayToObject(o, "endpoints");
		for (size_t e = 0; e < sw->neps; e++) {
			const struct sw_cell_ep *r = &c->eps[e];
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "endpoint", sw->eps[e].name);
			sweep_cell_text(sw, c, e, t, sizeof(t));
			cJSON_AddStringToObject(x, "result", t);
			cJSON_AddStringToObject(x, "during", sw_result_name(r->during));
			cJSON_AddStringToObject(x, "code", r->code);
			if (c->state == CELL_DONE) {
				cJSON_AddItemToObject(x, "latency", num(r->latency));
				cJSON_AddItemToObject(x, "timeout", num(r->limit));
				cJSON_AddBoolToObject(x, "recovered", r->recovered);
				cJSON_AddItemToObject(x, "recovery", r->recovered ? num(r->recovery)
										 : cJSON_CreateNull());
				cJSON_AddNumberToObject(x, "injected", r->injected);
			}
			cJSON_AddItemToArray(ce, x);
		}
		cJSON *ps = cJSON_AddArrayToObject(o, "probes");
		for (size_t k = 0; k < c->nprobes; k++)
			cJSON_AddItemToArray(ps, probe_json(sw, &c->probes[k]));
		cJSON *ev = cJSON_AddArrayToObject(o, "events");
		for (size_t k = 0; k < c->nevents; k++) {
			cJSON *x = cJSON_CreateObject();
			cJSON_AddItemToObject(x, "t", num(c->events[k].t));
			cJSON_AddStringToObject(x, "what", c->events[k].what);
			cJSON_AddItemToArray(ev, x);
		}
		if (c->log_tail)
			cJSON_AddStringToObject(o, "service_output", c->log_tail);
		cJSON_AddItemToArray(cells, o);
	}
	return j;
}

/* ---- --expect ----------------------------------------------------------------------------- */

static void add_diff(char **diffs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_diff(char **diffs, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t old = *diffs ? strlen(*diffs) : 0;
	char *p = realloc(*diffs, old + strlen(line) + 2);
	if (!p)
		abort();
	memcpy(p + old, line, strlen(line));
	p[old + strlen(line)] = '\n';
	p[old + strlen(line) + 1] = '\0';
	*diffs = p;
}

int sweep_expect(const struct sweep *sw, const char *path, char **diffs, char *err,
		 size_t errlen)
{
	char msg[RUN_ERR_MAX];
	cJSON *doc = run_load_file(path, msg, sizeof(msg));
	if (!doc) {
		snprintf(err, errlen, "--expect %s", msg);
		return -1;
	}
	const cJSON *m = rj_get(doc, "matrix");
	if (!cJSON_IsArray(m)) {
		snprintf(err, errlen, "--expect %s: no \"matrix\" (is it a sweep report?)", path);
		cJSON_Delete(doc);
		return -1;
	}
	*diffs = NULL;
	int n = 0;
	char t[160];
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		const char *dn = sw->deps[c->dep].name, *fn = sw->faults[c->fault].name;
		const cJSON *row = NULL;
		for (const cJSON *r = m->child; r && !row; r = r->next) {
			const cJSON *d = rj_get(r, "dependency"), *f = rj_get(r, "fault");
			if (cJSON_IsString(d) && cJSON_IsString(f) && !strcmp(d->valuestring, dn) &&
			    !strcmp(f->valuestring, fn))
				row = r;
		}
		if (!row) {
			add_diff(diffs, "%s: %s: not in %s", dn, fn, path);
			n++;
			continue;
		}
		const cJSON *v = rj_get(row, "endpoints");
		for (size_t e = 0; e < sw->neps; e++) {
			sweep_cell_text(sw, c, e, t, sizeof(t));
			const cJSON *want = rj_get(v, sw->eps[e].name);
			if (!cJSON_IsString(want)) {
				add_diff(diffs, "%s: %s: %s: not in %s", dn, fn, sw->eps[e].name, path);
				n++;
			} else if (strcmp(want->valuestring, t)) {
				add_diff(diffs, "%s: %s: %s: expected '%s', got '%s'", dn, fn,
					 sw->eps[e].name, want->valuestring, t);
				n++;
			}
		}
	}
	for (const cJSON *r = m->child; r; r = r->next) {
		const cJSON *d = rj_get(r, "dependency"), *f = rj_get(r, "fault");
		bool found = false;
		for (size_t i = 0; i < sw->ncells && !found; i++)
			found = cJSON_IsString(d) && cJSON_IsString(f) &&
				!strcmp(d->valuestring, sw->deps[sw->cells[i].dep].name) &&
				!strcmp(f->valuestring, sw->faults[sw->cells[i].fault].name);
		if (!found) {
			add_diff(diffs, "%s: %s: expected, but not swept",
				 cJSON_IsString(d) ? d->valuestring : "?",
				 cJSON_IsString(f) ? f->valuestring : "?");
			n++;
		}
	}
	cJSON_Delete(doc);
	return n;
}
