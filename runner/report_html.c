/* report_html.c -- the sweep's report as one self-contained HTML page
 *
 * Inline CSS, inline SVG, no script, no font, no image and no link to anything: the file can be
 * mailed, attached to a CI run and opened offline.  The page holds:
 *   - the matrix (a row per dependency and fault, a column per endpoint; the steady state on
 *     top), each cell a fixed-size box coloured by its result, details in its tooltip;
 *   - why cells could not run;
 *   - an overview timeline: a lane per job, a bar per cell;
 *   - a timeline per cell: the fault's window, each injection, every probe as a bar coloured by
 *     its result, the instance's starts and stops, and the service's output when it failed.
 * Matrix cells are exactly CELL_W x CELL_H CSS pixels and their colours appear nowhere else at
 * that size: tests/sweep/html_check.py finds them in a screenshot.
 */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CELL_W 150
#define CELL_H 30

/* Text and attribute values, escaped. */
static void esc(struct strbuf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': strbuf_str(b, "&amp;"); break;
		case '<': strbuf_str(b, "&lt;"); break;
		case '>': strbuf_str(b, "&gt;"); break;
		case '"': strbuf_str(b, "&quot;"); break;
		case '\'': strbuf_str(b, "&#39;"); break;
		default: strbuf_add(b, s, 1); break;
		}
	}
}

static const char *cls(enum sw_result r)
{
	switch (r) {
	case SW_OK: return "ok";
	case SW_SLOW: return "slow";
	case SW_ERROR: return "error";
	case SW_HANG: return "hang";
	case SW_NORECOVER: return "norecover";
	case SW_NOTRUN: return "notrun";
	case SW_NA: return "na";
	}
	return "na";
}

/* Fill colours for the SVG (the matrix uses the CSS classes: same hues). */
static const char *fill(enum sw_result r)
{
	switch (r) {
	case SW_OK: return "#43a047";
	case SW_SLOW: return "#fbc02d";
	case SW_ERROR: return "#e53935";
	case SW_HANG: return "#8e24aa";
	case SW_NORECOVER: return "#212121";
	case SW_NOTRUN: return "#9e9e9e";
	case SW_NA: return "#e0e0e0";
	}
	return "#e0e0e0";
}

/* A round step for an axis over span seconds: about six ticks. */
static double nice_step(double span)
{
	double raw = span / 6, p = pow(10, floor(log10(raw > 0 ? raw : 1e-3)));
	double m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static const char css[] =
	"body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:16px 24px;"
	"color:#1b1b1b;background:#fff}"
	"h1{font-size:20px;margin:0 0 2px}h2{font-size:16px;margin:26px 0 8px}"
	"h3{font-size:14px;margin:18px 0 4px}"
	".meta{color:#555;margin:0 0 14px}.meta b{color:#1b1b1b}"
	"code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}"
	"table.m{border-collapse:separate;border-spacing:2px;margin:0}"
	"table.m th{font-weight:600;text-align:left;padding:2px 6px;white-space:nowrap;"
	"vertical-align:bottom}"
	"table.m td.l{padding:0 8px 0 2px;white-space:nowrap}"
	"table.m td.c{box-sizing:border-box;width:" "150" "px;min-width:150px;max-width:150px;"
	"height:" "30" "px;padding:0 6px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;"
	"font-size:12px;border:0}"
	"table.m tr.gap td{height:6px;padding:0}"
	".ok{background:#2e7d32;color:#fff}.slow{background:#f9a825;color:#1b1b1b}"
	".error{background:#c62828;color:#fff}.hang{background:#6a1b9a;color:#fff}"
	".norecover{background:#111111;color:#ff8a80;font-weight:700}"
	".notrun{background:#9e9e9e;color:#1b1b1b}"
	".na{background:#e8e8e8;color:#666}.base{background:#c8e6c9;color:#1b1b1b}"
	".legend span{display:inline-block;padding:1px 8px;margin:0 6px 4px 0;font-size:12px}"
	"ul.why{margin:6px 0;padding-left:20px}"
	".cell{border-top:1px solid #ddd;padding-top:4px}"
	".sum{color:#333;margin:2px 0 6px}"
	"pre.out{background:#f6f6f6;border:1px solid #ddd;padding:6px 8px;max-height:240px;"
	"overflow:auto;white-space:pre-wrap}"
	"svg text{font:11px -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;fill:#333}"
	"svg .lab{font-size:11px}";

static void result_title(const struct sweep *sw, const struct sw_cell *c, size_t e,
			 struct strbuf *b)
{
	const struct sw_cell_ep *r = &c->eps[e];
	char t[160];
	sweep_cell_text(sw, c, e, t, sizeof(t));
	esc(b, sw->eps[e].name);
	strbuf_str(b, ": ");
	esc(b, sw->deps[c->dep].name);
	strbuf_str(b, " under ");
	esc(b, sw->faults[c->fault].name);
	strbuf_str(b, ": ");
	esc(b, t);
	if (c->state == CELL_DONE) {
		strbuf_printf(b, "&#10;under the fault: %s", sw_result_name(r->during));
		if (r->code[0]) {
			strbuf_str(b, " (");
			esc(b, r->code);
			strbuf_str(b, ")");
		}
		strbuf_printf(b, " in %.3fs&#10;faults injected during the probe: %u", r->latency, r->injected);
		if (r->recovered)
			strbuf_printf(b, "&#10;answered again %.3fs after the fault came off", r->recovery);
		else
			strbuf_printf(b, "&#10;did not answer as expected again within %gs", sw->set.recovery);
	} else if (c->why) {
		strbuf_str(b, "&#10;");
		esc(b, c->why);
	}
}

static void matrix(const struct sweep *sw, struct strbuf *b)
{
	strbuf_str(b, "<table class=\"m\" id=\"matrix\">\n<tr><th>dependency</th><th>fault</th>");
	for (size_t e = 0; e < sw->neps; e++) {
		strbuf_str(b, "<th title=\"");
		esc(b, sw->eps[e].desc);
		strbuf_str(b, "\">");
		esc(b, sw->eps[e].name);
		strbuf_str(b, "</th>");
	}
	strbuf_str(b, "</tr>\n");
	if (sw->nbaseline) {
		strbuf_str(b, "<tr><td class=\"l\">steady state</td><td class=\"l\">(no fault)</td>");
		for (size_t e = 0; e < sw->neps; e++) {
			const struct sw_probe *p = &sw->baseline[e];
			strbuf_str(b, "<td class=\"c base\" title=\"before any fault: ");
			esc(b, p->code);
			strbuf_printf(b, " in %.3fs\">", p->end - p->start);
			esc(b, p->code);
			strbuf_printf(b, " &middot; %.0f ms</td>", (p->end - p->start) * 1000);
		}
		strbuf_str(b, "</tr>\n");
	}
	char t[160];
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		if (c->fault == 0 && i > 0)
			strbuf_printf(b, "<tr class=\"gap\"><td colspan=\"%zu\"></td></tr>\n", sw->neps + 2);
		strbuf_str(b, "<tr><td class=\"l\">");
		if (c->fault == 0) {
			strbuf_str(b, "<b title=\"");
			esc(b, sw->deps[c->dep].target);
			strbuf_str(b, "\">");
			esc(b, sw->deps[c->dep].name);
			strbuf_str(b, "</b>");
		}
		strbuf_str(b, "</td><td class=\"l\"><a href=\"#cell");
		strbuf_printf(b, "%zu\" title=\"", i);
		esc(b, c->rule);
		strbuf_str(b, "\">");
		esc(b, sw->faults[c->fault].name);
		strbuf_str(b, "</a></td>");
		for (size_t e = 0; e < sw->neps; e++) {
			strbuf_printf(b, "<td class=\"c %s\" title=\"", cls(c->eps[e].result));
			result_title(sw, c, e, b);
			strbuf_str(b, "\">");
			sweep_cell_short(sw, c, e, t, sizeof(t));
			esc(b, t);
			strbuf_str(b, "</td>");
		}
		strbuf_str(b, "</tr>\n");
	}
	strbuf_str(b, "</table>\n");
	strbuf_str(b, "<p class=\"legend\"><span class=\"ok\">ok</span><span class=\"slow\">slow "
		 "(answered, slower than ");
	strbuf_printf(b, "%gs)</span><span class=\"error\">error: another status, or no answer</span>"
	      "<span class=\"hang\">hang: no answer within the probe time-out (%gs)</span><span class=\"norecover\">did "
	      "not recover within %gs</span><span class=\"notrun\">not run</span><span "
	      "class=\"na\">n/a</span></p>\n",
	   sw->set.slow, sw->set.probe_timeout, sw->set.recovery);
}

static void reasons(const struct sweep *sw, struct strbuf *b)
{
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
				seen |= k < i;
				count++;
			}
		}
		if (seen)
			continue;
		if (!any)
			strbuf_str(b, "<h2>Cells that did not run</h2>\n<ul class=\"why\">\n");
		any = true;
		strbuf_printf(b, "<li><b>%s</b> (%zu cell%s): ", c->state == CELL_NA ? "n/a" : "not run", count,
		   count == 1 ? "" : "s");
		esc(b, c->why);
		strbuf_str(b, "</li>\n");
	}
	if (any)
		strbuf_str(b, "</ul>\n");
}

/* The worst result of a cell, for the overview. */
static enum sw_result worst(const struct sweep *sw, const struct sw_cell *c)
{
	enum sw_result w = SW_OK;
	for (size_t e = 0; e < sw->neps; e++)
		if (c->eps[e].result > w)
			w = c->eps[e].result;
	return w;
}

static void overview(const struct sweep *sw, struct strbuf *b)
{
	double span = sw->duration > 0.1 ? sw->duration : 0.1;
	int jobs = sw->set.jobs, lane = 22, left = 70, width = 900;
	int h = 24 + jobs * lane + 18;
	strbuf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	      "role=\"img\" aria-label=\"timeline of the sweep\">\n",
	   left + width + 20, h);
	/* axis */
	double step = nice_step(span);
	for (double t = 0; t <= span + 1e-9; t += step) {
		double x = left + t / span * width;
		strbuf_printf(b, "<line x1=\"%.1f\" y1=\"18\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>"
		      "<text x=\"%.1f\" y=\"12\" text-anchor=\"middle\">%gs</text>\n",
		   x, x, h - 14, x, round(t * 1000) / 1000);
	}
	for (int j = 0; j < jobs; j++)
		strbuf_printf(b, "<text x=\"4\" y=\"%d\">job %d</text>\n", 24 + j * lane + 14, j + 1);
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		if (c->start < 0 || c->end < 0 || c->job < 1)
			continue;
		double x = left + c->start / span * width;
		double w = (c->end - c->start) / span * width;
		if (w < 2)
			w = 2;
		int y = 24 + (c->job - 1) * lane;
		strbuf_printf(b, "<a href=\"#cell%zu\"><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
		      "fill=\"%s\" stroke=\"#fff\"><title>",
		   i, x, y + 2, w, lane - 4, fill(c->state == CELL_DONE ? worst(sw, c) : SW_NOTRUN));
		esc(b, sw->deps[c->dep].name);
		strbuf_str(b, ": ");
		esc(b, sw->faults[c->fault].name);
		strbuf_printf(b, " (%.2fs, instance %d)</title></rect></a>\n", c->end - c->start, c->instance);
	}
	strbuf_str(b, "</svg>\n");
}

static void cell_timeline(const struct sweep *sw, const struct sw_cell *c, struct strbuf *b)
{
	double t0 = c->start, t1 = c->end;
	if (t0 < 0 || t1 < t0)
		return;
	double span = t1 - t0 > 0.05 ? t1 - t0 : 0.05;
	int left = 160, width = 760, lane = 18, top = 20;
	int lanes = (int)sw->neps + 1; /* the fault lane, then a lane per endpoint */
	int h = top + lanes * lane + 22;
	strbuf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" "
	      "aria-label=\"timeline\">\n",
	   left + width + 30, h);
#define X(t) (left + ((t) - t0) / span * width)
	double step = nice_step(span);
	for (double t = 0; t <= span + 1e-9; t += step) {
		double x = left + t / span * width;
		strbuf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>"
		      "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%gs</text>\n",
		   x, top - 4, x, h - 16, x, h - 4, round(t * 1000) / 1000);
	}
	/* the fault's window and its injections */
	strbuf_printf(b, "<text class=\"lab\" x=\"4\" y=\"%d\">fault (%zu injected)</text>\n", top + 13,
	   c->ninject);
	if (c->fault_on >= 0) {
		double off = c->fault_off >= 0 ? c->fault_off : t1;
		strbuf_printf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#ffcdd2\">"
		      "<title>fault on from %.3fs to %.3fs: ",
		   X(c->fault_on), top, fmax(X(off) - X(c->fault_on), 1), lanes * lane,
		   c->fault_on - t0, off - t0);
		esc(b, c->rule);
		strbuf_str(b, "</title></rect>\n");
	}
	for (size_t k = 0; k < c->ninject; k++)
		strbuf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#b71c1c\" "
		      "stroke-width=\"1.5\"><title>injected at %.3fs</title></line>\n",
		   X(c->inject_times[k]), top + 2, X(c->inject_times[k]), top + lane - 2,
		   c->inject_times[k] - t0);
	for (size_t e = 0; e < sw->neps; e++) {
		int y = top + (int)(e + 1) * lane;
		strbuf_str(b, "<text class=\"lab\" x=\"4\" y=\"");
		strbuf_printf(b, "%d\">", y + 13);
		char name[40];
		snprintf(name, sizeof(name), "%.24s%s", sw->eps[e].name,
			 strlen(sw->eps[e].name) > 24 ? "..." : "");
		esc(b, name);
		strbuf_str(b, "</text>\n");
	}
	for (size_t k = 0; k < c->nprobes; k++) {
		const struct sw_probe *p = &c->probes[k];
		int y = top + (p->endpoint + 1) * lane;
		double x = X(p->start), w = X(p->end) - x;
		if (w < 2)
			w = 2;
		strbuf_printf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"%s><title>",
		   x, y + 3, w, lane - 6, fill(p->result),
		   p->phase == PH_FAULT ? " stroke=\"#000\" stroke-width=\"1\"" : "");
		strbuf_printf(b, "%s probe at %.3fs: %s ", p->phase == PH_FAULT ? "under the fault:"
					      : p->phase == PH_STEADY ? "steady state:"
								      : "recovery:",
		   p->start - t0, sw_result_name(p->result));
		esc(b, p->code);
		strbuf_printf(b, " in %.3fs", p->end - p->start);
		if (p->detail) {
			strbuf_str(b, " (");
			esc(b, p->detail);
			strbuf_str(b, ")");
		}
		if (p->injected)
			strbuf_printf(b, ", %u injected", p->injected);
		strbuf_str(b, "</title></rect>\n");
	}
	for (size_t k = 0; k < c->nevents; k++) {
		const struct sw_event *ev = &c->events[k];
		if (!strncmp(ev->what, "fault o", 7))
			continue; /* drawn as the window */
		double x = X(ev->t);
		strbuf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#1565c0\" "
		      "stroke-dasharray=\"3,2\"><title>",
		   x, top - 6, x, top + lanes * lane);
		strbuf_printf(b, "%.3fs: ", ev->t - t0);
		esc(b, ev->what);
		strbuf_str(b, "</title></line>\n");
	}
#undef X
	strbuf_str(b, "</svg>\n");
}

static void cells(const struct sweep *sw, struct strbuf *b)
{
	strbuf_str(b, "<h2>Each cell</h2>\n<p class=\"meta\">Bars are probes (outlined: under the fault), "
		 "the pink band is the fault's time on, red ticks are injections, dashed lines "
		 "the instance starting or stopping.  Hover for details.</p>\n");
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		strbuf_printf(b, "<div class=\"cell\" id=\"cell%zu\"><h3>", i);
		esc(b, sw->deps[c->dep].name);
		strbuf_str(b, ": ");
		esc(b, sw->faults[c->fault].name);
		strbuf_str(b, " &mdash; <code>");
		esc(b, c->rule);
		strbuf_str(b, "</code></h3>\n<p class=\"sum\">");
		if (c->state == CELL_DONE) {
			strbuf_printf(b, "instance %d (pid %ld, job %d), %.2fs; the fault fired %ld time%s", c->instance,
			   c->pid, c->job, c->end - c->start, c->injected < 0 ? 0 : c->injected,
			   c->injected == 1 ? "" : "s");
			if (c->exited) {
				strbuf_str(b, "; <b>the service exited</b> (");
				esc(b, c->exited);
				strbuf_str(b, ")");
			}
		} else {
			strbuf_str(b, c->state == CELL_NA ? "n/a: " : "<b>not run</b>: ");
			esc(b, c->why ? c->why : "");
		}
		strbuf_str(b, "</p>\n");
		cell_timeline(sw, c, b);
		if (c->log_tail && *c->log_tail) {
			strbuf_str(b, "<p class=\"sum\">The service's output during the cell "
				 "(end):</p><pre class=\"out\">");
			esc(b, c->log_tail);
			strbuf_str(b, "</pre>\n");
		}
		strbuf_str(b, "</div>\n");
	}
}

char *sweep_html(const struct sweep *sw)
{
	struct strbuf b = {0};
	char t0[64], t1[64];
	sweep_iso(sw, 0, t0, sizeof(t0));
	sweep_iso(sw, sw->duration, t1, sizeof(t1));
	strbuf_str(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		  "<meta name=\"viewport\" content=\"width=device-width\">\n<title>chaos-run sweep: ");
	esc(&b, sw->title && *sw->title ? sw->title : sw->path);
	strbuf_str(&b, "</title>\n<style>");
	strbuf_str(&b, css);
	strbuf_str(&b, "</style></head><body>\n<h1>");
	esc(&b, sw->title && *sw->title ? sw->title : "chaos-run sweep");
	strbuf_str(&b, "</h1>\n<p class=\"meta\">");
	size_t ran = 0, notrun = 0, na = 0;
	for (size_t i = 0; i < sw->ncells; i++) {
		ran += sw->cells[i].state == CELL_DONE;
		na += sw->cells[i].state == CELL_NA;
		notrun += sw->cells[i].state != CELL_DONE && sw->cells[i].state != CELL_NA;
	}
	strbuf_printf(&b, "<b>%zu</b> dependenc%s &times; <b>%zu</b> fault%s &times; <b>%zu</b> endpoint%s: "
	       "%zu cells ran, %zu did not run, %zu n/a &middot; <b>",
	   sw->ndeps, sw->ndeps == 1 ? "y" : "ies", sw->nfaults, sw->nfaults == 1 ? "" : "s",
	   sw->neps, sw->neps == 1 ? "" : "s", ran, notrun, na);
	esc(&b, sw->status ? sw->status : "aborted");
	strbuf_printf(&b, "</b> in %.1fs with %d job%s &middot; %s &middot; ", sw->duration, sw->set.jobs,
	   sw->set.jobs == 1 ? "" : "s", t0);
	esc(&b, sw->path);
	strbuf_str(&b, "</p>\n");
	if (sw->abort_reason) {
		strbuf_str(&b, "<p><b>The sweep stopped:</b> ");
		esc(&b, sw->abort_reason);
		strbuf_str(&b, "</p>\n");
	}
	matrix(sw, &b);
	reasons(sw, &b);
	strbuf_str(&b, "<h2>Timeline</h2>\n");
	overview(sw, &b);

	strbuf_str(&b, "<h2>What was swept</h2>\n<p class=\"meta\">Service: <code>");
	const cJSON *cmd = rj_get(sw->service, "command");
	if (cJSON_IsArray(cmd)) {
		for (const cJSON *a = cmd->child; a; a = a->next) {
			char *s = rj_pystr(a);
			esc(&b, s);
			free(s);
			if (a->next)
				strbuf_str(&b, " ");
		}
	} else {
		char *s = rj_pystr(cmd);
		esc(&b, s);
		free(s);
	}
	strbuf_printf(&b, "</code><br>Probe time-out %gs, slow above %gs, recovery within %gs, settle %gs, "
	       "restart %s.</p>\n<ul class=\"why\">\n",
	   sw->set.probe_timeout, sw->set.slow, sw->set.recovery, sw->set.settle,
	   sw->set.restart_every_cell ? "every cell" : "on failure");
	for (size_t e = 0; e < sw->neps; e++) {
		strbuf_str(&b, "<li>endpoint <b>");
		esc(&b, sw->eps[e].name);
		strbuf_str(&b, "</b>: <code>");
		esc(&b, sw->eps[e].desc);
		strbuf_str(&b, "</code></li>\n");
	}
	for (size_t d = 0; d < sw->ndeps; d++) {
		strbuf_str(&b, "<li>dependency <b>");
		esc(&b, sw->deps[d].name);
		strbuf_str(&b, "</b>: <code>");
		esc(&b, sw->deps[d].target);
		strbuf_str(&b, "</code> (");
		esc(&b, sw->deps[d].source);
		strbuf_str(&b, ")</li>\n");
	}
	for (size_t f = 0; f < sw->nfaults; f++) {
		strbuf_str(&b, "<li>fault <b>");
		esc(&b, sw->faults[f].name);
		strbuf_str(&b, "</b>: <code>");
		esc(&b, sw->faults[f].action);
		strbuf_str(&b, "</code>");
		if (!sw->faults[f].available) {
			strbuf_str(&b, " &mdash; <b>not available</b>: ");
			esc(&b, sw->faults[f].why);
		}
		strbuf_str(&b, "</li>\n");
	}
	strbuf_str(&b, "</ul>\n");
	cells(sw, &b);
	strbuf_printf(&b, "<p class=\"meta\">chaos-run %s &middot; %s to %s</p>\n</body></html>\n",
	   RUN_VERSION, t0, t1);
	return strbuf_take(&b);
}

int sweep_write_file(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[4200];
	const char *slash = strrchr(path, '/');
	if (slash)
		snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp.XXXXXX", (int)(slash - path), path,
			 slash + 1);
	else
		snprintf(tmp, sizeof(tmp), ".%s.tmp.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	size_t n = strlen(text), off = 0;
	while (off < n) {
		ssize_t w = write(fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
