/* sweep.h -- chaos-run sweep: every dependency x every fault x every endpoint of a service
 *
 * Modules:
 *   sweep_load    the sweep file (or the "sweep" section of an experiment), command-line
 *                 overrides, validation, the cells
 *   sweep_run     instances of the service, probes, one cell, the workers (--jobs), discovery
 *   sweep_report  the matrix on the terminal, the JSON report, --expect
 *   report_html   the self-contained HTML report (matrix, timelines as SVG)
 *   sweep_main    the command line
 *
 * A cell is one dependency under one fault kind: from the steady state, the fault goes on, every
 * endpoint is probed, the fault comes off, and the endpoints must answer again.  Library-style
 * functions return -1 with a message in a caller buffer; only sweep_run prints progress (through
 * run_output).
 */
#ifndef CHAOS_SWEEP_H
#define CHAOS_SWEEP_H

#include "run.h"

#include <stdio.h>

/* What one endpoint did in one cell, best first (the order the reports sort by). */
enum sw_result {
	SW_OK = 0,
	SW_SLOW,      /* answered as expected, slower than the slow threshold */
	SW_ERROR,     /* answered otherwise (code: "503", "exit 1"), or failed ("refused", "exited") */
	SW_HANG,      /* no answer within the probe time-out */
	SW_NORECOVER, /* did not answer as expected again within the recovery time */
	SW_NOTRUN,    /* the cell could not run (why says so) */
	SW_NA,        /* the fault does not apply to this dependency (an address has no DNS) */
};

const char *sw_result_name(enum sw_result r); /* "ok", "slow", "error", ... "not run", "n/a" */

enum sw_phase { PH_BASELINE = 0, PH_STEADY, PH_FAULT, PH_RECOVERY };

struct sw_endpoint {
	char *name;
	cJSON *probe;     /* a Chaos Toolkit probe {type, name, provider, tolerance?}, unsubstituted */
	cJSON *tolerance; /* what "answers as expected" means (a CTK tolerance) */
	bool http;
	char *desc;       /* "GET http://127.0.0.1:${port}/x", "process ./check.sh" */
};

struct sw_dep {
	char *name;
	char *target;     /* for connection faults: HOST[:PORT], [tcp:|udp:] as given */
	char *dns_target; /* for dns= faults: the host name; NULL for an address */
	char *source;     /* "listed", "discovered", "record FILE" */
};

struct sw_fault {
	char *name;       /* the column's name: "refuse", "2s delay" */
	char *action;     /* the rule after the target: "delay=2s", "blackhole timeout=10s" */
	bool dns;         /* a dns= fault: its target is the host name alone */
	bool available;   /* chaos-exec --check took it */
	char *why;        /* when not available: chaos-exec's words */
};

/* One probe as it ran.  Times are seconds since the sweep started (monotonic). */
struct sw_probe {
	int endpoint;
	enum sw_phase phase;
	double start, end;
	enum sw_result result; /* SW_OK, SW_SLOW, SW_ERROR or SW_HANG */
	char code[64];         /* "200", "503", "exit 1", "refused", "exited", "timeout" */
	char *detail;          /* the provider's message, or why the tolerance was not met */
	unsigned injected;     /* faults of the cell injected while it ran */
	double limit;          /* the time-out it ran with */
};

struct sw_event {
	double t;
	char *what;            /* "service started (pid 42)", "fault on", "service exited: ..." */
};

struct sw_cell_ep {
	enum sw_result result;  /* the matrix value */
	enum sw_result during;  /* what the probe under the fault gave */
	char code[64];
	double latency;         /* of the probe under the fault */
	double limit;           /* its time-out */
	bool recovered;
	double recovery;        /* seconds from the fault coming off to the first good answer */
	unsigned injected;      /* faults injected while the probe under the fault ran */
};

enum sw_cell_state { CELL_PENDING = 0, CELL_RUNNING, CELL_DONE, CELL_NOTRUN, CELL_NA };

struct sw_cell {
	size_t index;
	int dep, fault;
	char *rule;               /* the fault rule, target included */
	enum sw_cell_state state;
	char *why;                /* not run / n/a: why */
	int job, instance;        /* which worker and which instance of the service ran it */
	long pid;                 /* the service's pid */
	double start, fault_on, fault_off, end; /* -1: did not happen */
	long injected;            /* the rule's injected counter when it came off (-1: unknown) */
	double *inject_times;     /* from chaos-exec's log */
	size_t ninject;
	struct sw_cell_ep *eps;
	struct sw_probe *probes;
	size_t nprobes, capprobes;
	struct sw_event *events;
	size_t nevents, capevents;
	char *exited;             /* the service exited during the cell: how */
	char *log_tail;           /* the end of the service's output when it exited or hung */
	bool fault_stuck;         /* the fault could not be removed: the instance was killed */
};

struct sw_settings {
	int jobs;
	double probe_timeout, slow, recovery, settle, max_time, stop_timeout;
	bool restart_every_cell;
};

struct sweep {
	const char *path;         /* for messages */
	char *title;
	cJSON *doc;               /* the file as loaded */
	cJSON *service;           /* the service object, unsubstituted */
	cJSON *config, *secrets;  /* resolved configuration (without the per-instance values) */
	char **ports;             /* variables that get a free port per instance */
	size_t nports;
	struct sw_endpoint *eps;
	size_t neps;
	struct sw_dep *deps;
	size_t ndeps;
	enum { DEPS_LISTED, DEPS_DISCOVER, DEPS_RECORD } deps_mode;
	char *record_path;
	cJSON *exclude;           /* targets not to sweep (discovery) */
	struct sw_fault *faults;
	size_t nfaults;
	struct sw_cell *cells;
	size_t ncells;
	struct sw_settings set;

	/* the run */
	double t0;                /* run_now() at the start */
	struct timespec t0_rt;
	double deadline;          /* run_now() + max_time, or 0 */
	struct sw_probe *baseline;
	size_t nbaseline;
	long baseline_pid;
	const char *status;       /* "completed", "interrupted", "time limit", "aborted" */
	char *abort_reason;
	char *workdir;
	bool keep_workdir;
	bool color;
	pthread_mutex_t lock;
	size_t next, done, running;
	double duration;
	int signal;
};

/* ---- sweep_load.c --------------------------------------------------------------------------- */

/* Command-line pieces that build or override the sweep. */
struct sw_cli {
	const char *service;      /* --service 'shell command' */
	const char *ready;        /* --ready URL */
	const char **endpoints;   /* --endpoint URL... */
	size_t nendpoints;
	const char **deps;        /* --dependency TARGET... ("discover") */
	size_t ndeps;
	const char **faults;      /* --fault ACTION... */
	size_t nfaults;
	const char **rules;       /* --rule RULE... (the service's own rules) */
	size_t nrules;
	int jobs;                 /* 0: not given */
	double probe_timeout, slow, recovery, settle, max_time; /* < 0: not given */
	int restart;              /* -1 not given, 0 on-failure, 1 every-cell */
	struct run_vars vars;
};

/* The default fault kinds: refuse, blackhole with a time-out, a 2 s delay, dns=nxdomain. */
extern const char *const sw_default_faults[];

/* Build the sweep from a loaded document (a sweep file, or an experiment with a "sweep"
 * section in its chaos extension; NULL: from the command line alone) and the overrides.
 * Validates everything; the dependencies are not known yet in discover and record modes. */
int sweep_load(struct sweep *sw, cJSON *doc, const char *path, const struct sw_cli *cli,
	       char *err, size_t errlen);
/* Parse a dependency given as "HOST[:PORT]" or {name, target}. */
int sweep_dep_parse(const cJSON *item, struct sw_dep *d, char *err, size_t errlen);
/* Dependencies from a `chaos-exec --record` file or a `chaos-ctl deps` answer, minus the
 * excluded targets and the instance's own loopback ports. */
int sweep_deps_from_record(struct sweep *sw, const cJSON *rec, const char *source,
			   const long *own_ports, size_t nown, char *err, size_t errlen);
/* The cells (dependency x fault), with n/a where the fault cannot apply. */
int sweep_make_cells(struct sweep *sw, char *err, size_t errlen);
void sweep_free(struct sweep *sw);

/* ---- sweep_run.c ------------------------------------------------------------------------------ */

/* Ask chaos-exec --check which fault kinds it takes (sets available / why). */
int sweep_check_faults(struct sweep *sw, char *err, size_t errlen);
/* Everything: discovery, the baseline, the cells on the workers.  Returns 0, or -1 when the
 * sweep could not run at all (message in err; status "aborted"). */
int sweep_run(struct sweep *sw, bool list_only, char *err, size_t errlen);
/* Classify one probe's outcome (exported for the unit tests).  exited: the service had exited. */
void sweep_classify(const struct sweep *sw, const struct sw_endpoint *ep, const struct run_result *res,
		    double latency, bool exited, struct sw_probe *out);
/* A rough upper bound of the sweep's duration, in seconds. */
double sweep_bound(const struct sweep *sw);

/* ---- sweep_report.c --------------------------------------------------------------------------- */

/* The matrix value of an endpoint in a cell: "ok", "slow", "error 503", "hang",
 * "did not recover", "not run", "n/a". */
void sweep_cell_text(const struct sweep *sw, const struct sw_cell *c, size_t ep, char *buf,
		     size_t len);
/* The short form the terminal shows ("503", "exited", "slow 1.2s", "no recovery"). */
void sweep_cell_short(const struct sweep *sw, const struct sw_cell *c, size_t ep, char *buf,
		      size_t len);
void sweep_print_matrix(const struct sweep *sw, FILE *f);
cJSON *sweep_json(const struct sweep *sw);
/* Compare with the "matrix" of an earlier report: number of differences, each described in
 * *diffs (one line each, malloc'd).  -1 if the file cannot be read. */
int sweep_expect(const struct sweep *sw, const char *path, char **diffs, char *err,
		 size_t errlen);
/* ISO-8601 UTC for a time in seconds since the sweep started. */
void sweep_iso(const struct sweep *sw, double t, char *buf, size_t len);

/* ---- report_html.c ---------------------------------------------------------------------------- */

/* The report as one HTML document (inline CSS, SVG, no script, nothing from the network). */
char *sweep_html(const struct sweep *sw);
/* Write a file atomically (temp file, fsync, rename). */
int sweep_write_file(const char *path, const char *text, char *err, size_t errlen);

#endif
