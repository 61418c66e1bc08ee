/* sweep_main.c -- `chaos-run sweep`: which endpoints break when each dependency fails
 *
 *   chaos-run sweep [OPTIONS] [SWEEP.json | EXPERIMENT.json]
 *
 * Exit codes: 0 every cell ran (and matched --expect); 1 the sweep could not run, was
 * interrupted, or a fault could not be removed; 2 usage; 3 some cells could not run (a fault
 * kind chaos-exec refuses, the time limit, a service that would not start); 4 the matrix differs
 * from --expect.  See chaos-run(1), SWEEP.
 */
#include "sweep.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EX_DONE = 0, EX_FAIL = 1, EX_USAGE = 2, EX_NOTRUN = 3, EX_DIFF = 4 };

static const char usage_text[] =
	"usage: chaos-run sweep [OPTIONS] [SWEEP | EXPERIMENT]\n"
	"\n"
	"Put each fault on each dependency of a service, one at a time, probe every endpoint,\n"
	"take the fault off and check the service recovers; report the matrix (terminal, JSON,\n"
	"HTML).  SWEEP is a sweep file, or an experiment whose chaos extension has a service\n"
	"(and optionally a \"sweep\" section); options can replace or stand for its parts.\n"
	"\n"
	"what to sweep:\n"
	"  --service 'CMD'          the service's command (sh -c); ${port} is its port\n"
	"  --ready URL              ready when URL answers below 500\n"
	"  --rule RULE              a rule the service always runs with (repeatable)\n"
	"  --endpoint URL           an endpoint to probe (repeatable)\n"
	"  --dependency TARGET      HOST[:PORT] to fail (repeatable; 'discover': find them)\n"
	"  --fault ACTION           a fault kind (repeatable; default: refuse, blackhole\n"
	"                           timeout=10s, delay=2s, dns=nxdomain)\n"
	"  --var KEY[:TYPE]=VALUE   override a configuration key; --var-file PATH\n"
	"how:\n"
	"  --jobs N                 cells in parallel, each on its own instance (default 1)\n"
	"  --probe-timeout S        no answer within S seconds is a hang (default 5)\n"
	"  --slow S                 an answer after S seconds is slow (default 1)\n"
	"  --recovery S             time to answer again after the fault (default 10)\n"
	"  --settle S               wait after the fault goes on (default 0)\n"
	"  --max-time S             stop starting cells after S seconds\n"
	"  --restart on-failure|every-cell   a fresh instance when needed, or for each cell\n"
	"output:\n"
	"  --json PATH              the JSON report (default sweep.json; '' for none)\n"
	"  --html PATH              the HTML report (default sweep.html; '' for none)\n"
	"  --expect REPORT          compare the matrix with an earlier JSON report\n"
	"  --list                   show the cells (discovering if needed), run nothing\n"
	"  --keep                   keep the working directory (service and fault logs)\n"
	"  --quiet                  no progress lines\n"
	"  --color auto|always|never\n"
	"\n"
	"Exit status: 0 every cell ran; 1 the sweep could not run or was interrupted;\n"
	"2 usage; 3 some cells could not run; 4 the matrix differs from --expect.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "chaos-run sweep: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'chaos-run sweep --help' for help.\n");
	va_end(ap);
	return EX_USAGE;
}

enum {
	O_SERVICE = 256, O_READY, O_RULE, O_ENDPOINT, O_DEP, O_FAULT, O_VAR, O_VAR_FILE, O_JOBS,
	O_PROBE_TIMEOUT, O_SLOW, O_RECOVERY, O_SETTLE, O_MAX_TIME, O_RESTART, O_JSON, O_HTML,
	O_EXPECT, O_LIST, O_KEEP, O_QUIET, O_COLOR, O_HELP,
};

static const struct option options[] = {
	{"service", required_argument, NULL, O_SERVICE},
	{"ready", required_argument, NULL, O_READY},
	{"rule", required_argument, NULL, O_RULE},
	{"endpoint", required_argument, NULL, O_ENDPOINT},
	{"dependency", required_argument, NULL, O_DEP},
	{"fault", required_argument, NULL, O_FAULT},
	{"var", required_argument, NULL, O_VAR},
	{"var-file", required_argument, NULL, O_VAR_FILE},
	{"jobs", required_argument, NULL, O_JOBS},
	{"probe-timeout", required_argument, NULL, O_PROBE_TIMEOUT},
	{"slow", required_argument, NULL, O_SLOW},
	{"recovery", required_argument, NULL, O_RECOVERY},
	{"settle", required_argument, NULL, O_SETTLE},
	{"max-time", required_argument, NULL, O_MAX_TIME},
	{"restart", required_argument, NULL, O_RESTART},
	{"json", required_argument, NULL, O_JSON},
	{"html", required_argument, NULL, O_HTML},
	{"expect", required_argument, NULL, O_EXPECT},
	{"list", no_argument, NULL, O_LIST},
	{"keep", no_argument, NULL, O_KEEP},
	{"quiet", no_argument, NULL, O_QUIET},
	{"color", required_argument, NULL, O_COLOR},
	{"help", no_argument, NULL, O_HELP},
	{NULL, 0, NULL, 0},
};

/* Strict seconds: a number, no sign, no unit (or an "s"), within (lo, 7 days]. */
static int seconds(const char *opt, const char *s, bool zero_ok, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end != s && *end == 's')
		end++;
	if (end == s || *end || errno || !(zero_ok ? v >= 0 : v > 0) || v > 7 * 86400 ||
	    *s == '-' || *s == '+' || *s == ' ')
		return usage_error("invalid value for '%s': '%s' is not a number of seconds%s", opt,
				   s, zero_ok ? "" : " above 0");
	*out = v;
	return 0;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[4400];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void print_list(const struct sweep *sw)
{
	printf("dependencies:\n");
	for (size_t d = 0; d < sw->ndeps; d++)
		printf("  %-24s %s (%s)\n", sw->deps[d].name, sw->deps[d].target,
		       sw->deps[d].source ? sw->deps[d].source : "");
	printf("faults:\n");
	for (size_t f = 0; f < sw->nfaults; f++)
		printf("  %-24s %s%s%s\n", sw->faults[f].name, sw->faults[f].action,
		       sw->faults[f].available ? "" : "  NOT AVAILABLE: ",
		       sw->faults[f].available ? "" : sw->faults[f].why);
	printf("endpoints:\n");
	for (size_t e = 0; e < sw->neps; e++)
		printf("  %-24s %s\n", sw->eps[e].name, sw->eps[e].desc);
	printf("cells:\n");
	for (size_t i = 0; i < sw->ncells; i++) {
		const struct sw_cell *c = &sw->cells[i];
		printf("  %-40s %s%s\n", c->rule,
		       c->state == CELL_PENDING ? "will run"
		       : c->state == CELL_NA	? "n/a: "
						: "cannot run: ",
		       c->state == CELL_PENDING ? "" : c->why ? c->why : "");
	}
}

int sweep_main(int argc, char **argv)
{
	struct sw_cli cli = {.probe_timeout = -1, .slow = -1, .recovery = -1, .settle = -1,
			     .max_time = -1, .restart = -1};
	const char *json_path = "sweep.json", *html_path = "sweep.html", *expect = NULL;
	bool list = false, keep = false, quiet = false;
	int color = -1;
	char err[RUN_ERR_MAX];
	const char *lists[6][argc > 0 ? argc : 1];
	size_t nl[6] = {0};
	const char *var_files[argc > 0 ? argc : 1], *vars[argc > 0 ? argc : 1];
	size_t nvar_files = 0, nvars = 0;

	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case O_SERVICE: cli.service = optarg; break;
		case O_READY:
			if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8))
				return usage_error("--ready: '%s' is not an http(s) URL", optarg);
			cli.ready = optarg;
			break;
		case O_RULE: lists[0][nl[0]++] = optarg; break;
		case O_ENDPOINT: lists[1][nl[1]++] = optarg; break;
		case O_DEP: lists[2][nl[2]++] = optarg; break;
		case O_FAULT: lists[3][nl[3]++] = optarg; break;
		case O_VAR: vars[nvars++] = optarg; break;
		case O_VAR_FILE:
			if (access(optarg, R_OK) != 0)
				return usage_error("invalid value for '--var-file': path '%s' does "
						   "not exist",
						   optarg);
			var_files[nvar_files++] = optarg;
			break;
		case O_JOBS: {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end || errno || v < 1 || v > 64 || *optarg == '+')
				return usage_error("invalid value for '--jobs': '%s' is not a whole "
						   "number from 1 to 64",
						   optarg);
			cli.jobs = (int)v;
			break;
		}
		case O_PROBE_TIMEOUT:
			if (seconds("--probe-timeout", optarg, false, &cli.probe_timeout))
				return EX_USAGE;
			break;
		case O_SLOW:
			if (seconds("--slow", optarg, false, &cli.slow))
				return EX_USAGE;
			break;
		case O_RECOVERY:
			if (seconds("--recovery", optarg, true, &cli.recovery))
				return EX_USAGE;
			break;
		case O_SETTLE:
			if (seconds("--settle", optarg, true, &cli.settle))
				return EX_USAGE;
			break;
		case O_MAX_TIME:
			if (seconds("--max-time", optarg, false, &cli.max_time))
				return EX_USAGE;
			break;
		case O_RESTART:
			if (!strcmp(optarg, "on-failure"))
				cli.restart = 0;
			else if (!strcmp(optarg, "every-cell"))
				cli.restart = 1;
			else
				return usage_error("invalid value for '--restart': '%s' is not one of "
						   "'on-failure', 'every-cell'",
						   optarg);
			break;
		case O_JSON: json_path = optarg; break;
		case O_HTML: html_path = optarg; break;
		case O_EXPECT:
			if (access(optarg, R_OK) != 0)
				return usage_error("--expect: cannot read '%s'", optarg);
			expect = optarg;
			break;
		case O_LIST: list = true; break;
		case O_KEEP: keep = true; break;
		case O_QUIET: quiet = true; break;
		case O_COLOR:
			if (!strcmp(optarg, "always"))
				color = 1;
			else if (!strcmp(optarg, "never"))
				color = 0;
			else if (!strcmp(optarg, "auto"))
				color = -1;
			else
				return usage_error("invalid value for '--color': '%s' is not one of "
						   "'auto', 'always', 'never'",
						   optarg);
			break;
		case O_HELP: fputs(usage_text, stdout); return EX_DONE;
		default:
			if (optopt)
				return usage_error("option requires an argument or takes none: '%s'",
						   argv[optind - 1]);
			return usage_error("no such option: %s", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return usage_error("got unexpected extra argument (%s)", argv[optind + 1]);
	const char *source = optind < argc ? argv[optind] : NULL;
	if (!source && !cli.service)
		return usage_error("give a sweep file, or at least --service and --endpoint");
	cli.rules = lists[0];
	cli.nrules = nl[0];
	cli.endpoints = lists[1];
	cli.nendpoints = nl[1];
	cli.deps = lists[2];
	cli.ndeps = nl[2];
	cli.faults = lists[3];
	cli.nfaults = nl[3];

	out_init(quiet, NULL, 0);
	int code = EX_FAIL;
	for (size_t i = 0; i < nvar_files; i++)
		if (run_vars_add_file(&cli.vars, var_files[i], err, sizeof(err)) < 0) {
			out_error("%s", err);
			goto early;
		}
	for (size_t i = 0; i < nvars; i++)
		if (run_vars_add_var(&cli.vars, vars[i], err, sizeof(err)) < 0) {
			code = usage_error("invalid value for '--var': %s", err);
			goto early;
		}
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
		out_error("curl_global_init failed");
		goto early;
	}
	if (run_signal_init(err, sizeof(err)) < 0) {
		out_error("%s", err);
		goto early_curl;
	}
	cJSON *doc = NULL;
	if (source) {
		doc = run_load_file(source, err, sizeof(err));
		if (!doc) {
			out_error("%s", err);
			goto early_curl;
		}
	}
	struct sweep sw = {0};
	if (sweep_load(&sw, doc, source, &cli, err, sizeof(err)) < 0) {
		out_error("%s: %s", sw.path, err);
		sweep_free(&sw);
		goto early_curl;
	}
	sw.color = color == 1 || (color == -1 && isatty(1) && !getenv("NO_COLOR"));
	const cJSON *log = rj_get(sw.service, "log");
	if (sw.set.jobs > 1 && cJSON_IsString(log) && !strstr(log->valuestring, "instance"))
		out_warn("%s: service \"log\" is the same file for every instance: put ${instance} "
			 "in it to tell them apart",
			 sw.path);
	if (!quiet)
		fprintf(stderr, "chaos-run sweep: %s%s%s\n", sw.path, *sw.title ? ": " : "",
			sw.title);

	int rc = sweep_run(&sw, list, err, sizeof(err));
	if (rc < 0)
		out_error("%s: %s", sw.path, err);
	if (list && rc == 0) {
		print_list(&sw);
		code = EX_DONE;
		goto done;
	}
	if (rc == 0)
		sweep_print_matrix(&sw, stdout);
	fflush(stdout);

	/* the reports, whatever happened */
	if (json_path && *json_path) {
		cJSON *j = sweep_json(&sw);
		char *text = rj_print(j, 2);
		cJSON_Delete(j);
		size_t n = strlen(text);
		char *t2 = realloc(text, n + 2);
		if (t2) {
			text = t2;
			text[n] = '\n';
			text[n + 1] = '\0';
		}
		if (sweep_write_file(json_path, text, err, sizeof(err)) < 0) {
			out_error("%s", err);
			rc = -1;
		}
		free(text);
	}
	if (html_path && *html_path) {
		char *html = sweep_html(&sw);
		if (!html) {
			out_error("%s: out of memory writing the report", html_path);
			rc = -1;
		} else if (sweep_write_file(html_path, html, err, sizeof(err)) < 0) {
			out_error("%s", err);
			rc = -1;
		}
		free(html);
	}

	size_t ran = 0, notrun = 0, na = 0;
	bool stuck = false;
	for (size_t i = 0; i < sw.ncells; i++) {
		ran += sw.cells[i].state == CELL_DONE;
		na += sw.cells[i].state == CELL_NA;
		notrun += sw.cells[i].state == CELL_NOTRUN || sw.cells[i].state == CELL_PENDING;
		stuck |= sw.cells[i].fault_stuck;
	}
	printf("\n%zu cell%s ran, %zu could not run, %zu n/a; %s in %.1fs with %d job%s", ran,
	       ran == 1 ? "" : "s", notrun, na, sw.status, sw.duration, sw.set.jobs,
	       sw.set.jobs == 1 ? "" : "s");
	if ((json_path && *json_path) || (html_path && *html_path))
		printf("; report: %s%s%s", json_path && *json_path ? json_path : "",
		       json_path && *json_path && html_path && *html_path ? ", " : "",
		       html_path && *html_path ? html_path : "");
	printf("\n");
	fflush(stdout);

	int ndiff = 0;
	if (expect && rc == 0) {
		char *diffs = NULL;
		ndiff = sweep_expect(&sw, expect, &diffs, err, sizeof(err));
		if (ndiff < 0) {
			out_error("%s", err);
			rc = -1;
		} else if (ndiff > 0) {
			fprintf(stderr, "chaos-run sweep: the matrix differs from %s in %d place%s:\n%s",
				expect, ndiff, ndiff == 1 ? "" : "s", diffs);
		} else if (!quiet) {
			fprintf(stderr, "chaos-run sweep: the matrix is as %s expects\n", expect);
		}
		free(diffs);
	}
	if (rc < 0 || stuck || (strcmp(sw.status, "completed") && strcmp(sw.status, "time limit")))
		code = EX_FAIL;
	else if (ndiff > 0)
		code = EX_DIFF;
	else if (notrun)
		code = EX_NOTRUN;
	else
		code = EX_DONE;
done:
	if (sw.workdir) {
		if (keep)
			fprintf(stderr, "chaos-run sweep: logs kept in %s\n", sw.workdir);
		else
			remove_tree(sw.workdir);
	}
	sweep_free(&sw);
early_curl:
	curl_global_cleanup();
early:
	cJSON_Delete(cli.vars.config);
	cJSON_Delete(cli.vars.secrets);
	return code;
}
