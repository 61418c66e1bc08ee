/* run.h -- chaos-run internals: the pieces of the Chaos Toolkit compatible experiment runner
 *
 * Modules (each run_*.c has its purpose line):
 *   run_json      Python-compatible JSON printing, str(), ==, float repr
 *   run_load      reading experiments and var files (JSON with cJSON, YAML with libyaml)
 *   run_subst     ${name} substitution, exactly string.Template.safe_substitute
 *   run_vars      configuration, secrets, --var / --var-file
 *   run_validate  CTK's validation, in its order, with its messages
 *   run_regex     regex tolerances (PCRE2, in UTF + UCP mode, close to Python's re)
 *   run_jsonpath  the JSON path subset of jsonpath tolerances
 *   run_tolerance tolerance checks (bool, int, string, list, regex, range, jsonpath, probe)
 *   run_process   the process provider
 *   run_http      the http provider (libcurl)
 *   run_signal    SIGINT/SIGTERM/SIGUSR1/SIGUSR2 and the stop descriptor every wait polls
 *   run_activity  one activity: pauses, dry modes, substitution, provider, timings
 *   run_engine    the run algorithm: hypothesis strategies, method, background, rollbacks
 *   run_journal   the journal: CTK's shape and key order, secrets masked, written atomically
 *   run_output    the lines printed while running and the end summary
 *   run_chaos     our extension: a service under chaos-exec and faults through chaos-ctl
 *   run_main      the command line
 *
 * Library-style modules never print: they return -1 and write a message into a caller buffer.
 */
#ifndef CHAOS_RUN_H
#define CHAOS_RUN_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define RUN_VERSION "0.1.0"
#define RUN_CTK_VERSION "1.45.0"
#define RUN_ERR_MAX 1024

/* ---- run_buf.c ---------------------------------------------------------------------------- */

/* A growing NUL-terminated text; zero-initialise it.  Out of memory marks it (oom) and later
 * appends do nothing: strbuf_take returns NULL then. */
struct strbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_str(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text (the caller frees it; "" if nothing was added), or NULL if memory ran out; the
 * buffer is empty again. */
char *strbuf_take(struct strbuf *b);

/* ---- run_json.c -------------------------------------------------------------------------- */

/* A private cJSON type bit: this number is a float and prints as one (1.0, not 1). */
#define RJ_FLOAT (1 << 14)

cJSON *rj_float(double d);
/* Python repr() of a float: shortest round-trip digits, "1.0", "1e-05", "inf". */
void rj_fmt_double(double d, char *buf, size_t len);
/* Is this number an integer for Python (parsed without fraction and not marked float)? */
bool rj_is_int(const cJSON *n);
/* json.dumps(item, indent=indent, ensure_ascii=False); indent < 0: one line, ", " and ": ". */
char *rj_print(const cJSON *item, int indent);
/* Python str(value): strings as is, True/False/None, repr for containers. */
char *rj_pystr(const cJSON *item);
/* Python ==: 1 == 1.0 == True, dicts regardless of key order. */
bool rj_equal(const cJSON *a, const cJSON *b);
/* Name of the JSON type for messages: "string", "number", "object", ... */
const char *rj_type(const cJSON *item);
/* Python truthiness: None, False, 0, "", [], {} are false. */
bool rj_truthy(const cJSON *item);
/* Object member lookup, case-sensitive, NULL if item is not an object. */
cJSON *rj_get(const cJSON *obj, const char *key);
/* Replace or append key in obj (takes value). */
void rj_set(cJSON *obj, const char *key, cJSON *value);
/* A copy of item where strings no longer hold raw bytes that are invalid UTF-8. */
char *rj_text_from_bytes(const char *buf, size_t len);

/* ---- run_load.c -------------------------------------------------------------------------- */

/* Read a .json, .yaml or .yml file.  On error: NULL, err = "FILE: line L, column C: ...". */
cJSON *run_load_file(const char *path, char *err, size_t errlen);
/* Parse YAML text into cJSON with PyYAML safe_load's resolution of plain scalars. */
cJSON *run_parse_yaml(const char *text, size_t len, char *err, size_t errlen);
/* Parse JSON text (cJSON) with a located error. */
cJSON *run_parse_json(const char *text, char *err, size_t errlen);

/* ---- run_subst.c ------------------------------------------------------------------------- */

/* string.Template(s).safe_substitute(ChainMap(config, *secrets.values())).  Returns a new
 * cJSON: a string that is exactly ${name} keeps the value's type. */
cJSON *run_subst_string(const char *s, const cJSON *config, const cJSON *secrets);
/* Substitute through lists and objects; returns a new tree (NULL only on out of memory). */
cJSON *run_subst(const cJSON *data, const cJSON *config, const cJSON *secrets);

/* ---- run_vars.c -------------------------------------------------------------------------- */

struct run_vars {
	cJSON *config;  /* overrides of configuration keys (object) */
	cJSON *secrets; /* overrides of whole secret scopes (object) */
};

/* Convert a text value to an env_var_type / --var type.  Returns NULL and a message on error. */
cJSON *run_convert_type(const char *type, const char *value, char *err, size_t errlen);
/* Parse one --var KEY[:TYPE]=VALUE into vars->config. */
int run_vars_add_var(struct run_vars *v, const char *arg, char *err, size_t errlen);
/* Read a --var-file (.json/.yaml/.yml with configuration/secrets, or .env into environ). */
int run_vars_add_file(struct run_vars *v, const char *path, char *err, size_t errlen);
/* Resolve the experiment's configuration (static part) with the overrides. */
cJSON *run_load_configuration(const cJSON *decl, const struct run_vars *v, char *err,
			      size_t errlen);
cJSON *run_load_secrets(const cJSON *decl, const struct run_vars *v, char *err, size_t errlen);

/* ---- run_validate.c ---------------------------------------------------------------------- */

typedef void (*run_warn_fn)(void *arg, const char *msg);

/* ensure_experiment_is_valid: 0 or -1 with CTK's message in err.  vars as for the run. */
int run_validate(const cJSON *exp, const struct run_vars *vars, run_warn_fn warn, void *warn_arg,
		 char *err, size_t errlen);
/* The activity a ref names (SSH probes win over method activities), or NULL. */
const cJSON *run_lookup_ref(const cJSON *exp, const char *name);
/* Resolve `~` and PATH like shutil.which(os.path.expanduser(p)).  malloc'd or NULL. */
char *run_which(const char *path);
/* Is s exactly "${identifier}"?  Pauses accept those. */
bool run_is_pattern(const char *s);

/* ---- run_regex.c ------------------------------------------------------------------------- */

/* 0 if pattern compiles, else -1 with PCRE2's message ("missing terminating ] ..."). */
int run_regex_check(const char *pattern, char *err, size_t errlen);
/* re.search: 1 found, 0 not found, -1 error. */
int run_regex_search(const char *pattern, const char *subject, size_t len, char *err,
		     size_t errlen);

/* ---- run_jsonpath.c ---------------------------------------------------------------------- */

/* Check the syntax of a JSON path.  0 or -1 with a message. */
int run_jsonpath_check(const char *path, char *err, size_t errlen);
/* Evaluate: returns an array of copies of the matched values, or NULL with a message. */
cJSON *run_jsonpath_eval(const char *path, const cJSON *doc, char *err, size_t errlen);

/* ---- run_signal.c ------------------------------------------------------------------------ */

/* Install the handlers and create the stop descriptor (an eventfd, readable once stopped). */
int run_signal_init(char *err, size_t errlen);
/* The first signal received (0: none). */
int run_signal_first(void);
/* Was SIGUSR2 received at any point? */
bool run_signal_usr2(void);
/* How many signals so far: an activity is interrupted if the count grew since it started. */
unsigned run_signal_count(void);
/* Descriptor that becomes readable at each signal; poll it with the count you started with. */
int run_signal_fd(void);
/* Sleep up to ns, waking early if a signal arrives after gen.  Returns true if interrupted. */
bool run_sleep(uint64_t ns, unsigned gen);
/* Fill pfd with the stop descriptor (or a disabled slot, capping *timeout_ms at 50 ms, once
 * a signal has already been seen).  Returns 1, the number of slots used. */
struct pollfd;
int run_poll_stop(struct pollfd *pfd, int *timeout_ms);
/* Raise a stop of the running activities from inside (tests, fail-fast). */
void run_signal_raise(int sig);

/* ---- providers --------------------------------------------------------------------------- */

enum run_fail {
	RUN_OK = 0,
	RUN_FAILED,      /* ActivityFailed: timeout, connection error, spawn failure */
	RUN_INTERRUPTED, /* a signal stopped it */
	RUN_ERROR,       /* not the activity's fault: malformed activity, internal error */
};

struct run_result {
	enum run_fail fail;
	cJSON *output; /* provider output, NULL when failed */
	char msg[RUN_ERR_MAX];
	bool timed_out; /* failed because its time-out ran out */
	int curl;       /* http: the CURLcode of a failed transfer (0 otherwise) */
};

/* Run a process provider (already substituted).  gen: the signal count it started with. */
void run_process(const cJSON *provider, unsigned gen, struct run_result *res);
void run_http(const cJSON *provider, unsigned gen, struct run_result *res);
/* Monotonic seconds. */
double run_now(void);

/* ---- run_tolerance.c --------------------------------------------------------------------- */

/* Runs a tolerance of type probe: returns 1 met, 0 not met, -1 error. */
typedef int (*run_probe_fn)(void *arg, cJSON *probe, char *err, size_t errlen);

struct run_tol_ctx {
	const cJSON *config, *secrets;
	run_probe_fn run_probe;
	void *arg;
};

/* Is the tolerance valid (CTK's checks, §5.7)?  0 or -1 with the message. */
int run_tolerance_validate(const cJSON *tol, char *err, size_t errlen);
/* within_tolerance: 1 met, 0 not met, -1 an error CTK would crash on (message in err).
 * A tolerance of type probe is modified as CTK does (arguments.value = the output). */
int run_tolerance_check(cJSON *tol, const cJSON *value, const struct run_tol_ctx *ctx, char *err,
			size_t errlen);

/* ---- the run ----------------------------------------------------------------------------- */

enum run_dry { DRY_NONE = 0, DRY_PROBES, DRY_ACTIONS, DRY_ACTIVITIES, DRY_PAUSE };

enum run_rollback { RB_DEFAULT = 0, RB_ALWAYS, RB_NEVER, RB_DEVIATED, RB_UNKNOWN };

enum run_hypo {
	HY_DEFAULT = 0,
	HY_BEFORE,     /* before-method-only */
	HY_AFTER,      /* after-method-only */
	HY_DURING,     /* during-method-only */
	HY_CONTINUOUS, /* continuously */
	HY_SKIP,
};

const char *run_dry_name(enum run_dry d);
int run_dry_parse(const char *s, enum run_dry *d);
const char *run_rollback_name(enum run_rollback r);
int run_rollback_parse(const char *s, enum run_rollback *r);
const char *run_hypo_name(enum run_hypo h);
int run_hypo_parse(const char *s, enum run_hypo *h);

struct run_opts {
	const char *path;         /* experiment file, for messages */
	const char *journal_path; /* NULL: no journal */
	enum run_dry dry;
	bool rollback_set, hypo_set;
	enum run_rollback rollback;
	enum run_hypo hypo;
	double frequency;
	bool fail_fast;
	bool quiet;               /* no progress lines (tests) */
	struct run_vars vars;
};

/* One activity as it ran: what the journal's run entries hold. */
struct act_run {
	cJSON *activity;           /* copy of the resolved activity */
	cJSON *output;             /* NULL: null */
	struct timespec start_rt, end_rt;
	double start_mono, end_mono;
	bool started, done;
	bool failed;
	enum run_fail fail;
	char *exception;           /* the message, NULL if none */
	int tolerance_met;         /* -1: not a hypothesis probe */
	char *tol_detail;          /* why a tolerance was not met, for the summary */
	double pause_after;        /* seconds, run by run_activity_finish */
};

struct ssh_run {
	bool met;
	struct act_run **probes;
	size_t n;
};

struct run_list {
	struct act_run **v;
	size_t n, cap;
};

struct chaos_state; /* run_chaos.c */

struct run_state {
	const struct run_opts *opts;
	cJSON *exp;
	cJSON *config, *secrets;
	enum run_rollback rollback;
	enum run_hypo hypo;

	pthread_mutex_t lock; /* status, run lists, during */
	const char *status;   /* NULL until set */
	bool deviated;
	char *abort_reason;
	struct timespec start_rt, end_rt;
	double start_mono, end_mono;
	struct ssh_run *before, *after;
	struct ssh_run **during;
	size_t nduring;
	struct run_list run, rollbacks;
	int signal;           /* the signal that interrupted the run */
	bool rollbacks_played;

	char **masks;         /* secret values to hide, longest first */
	size_t nmasks;

	struct chaos_state *chaos;
};

/* ---- run_activity.c ---------------------------------------------------------------------- */

/* Execute one activity into r (which the caller has placed in a list): before-pause, start
 * line, provider, timings.  gen: the signal count the phase started with. */
void run_activity(struct run_state *st, const cJSON *activity, unsigned gen, struct act_run *r);
/* Print the end line, then the after-pause (the caller checks tolerances in between). */
void run_activity_finish(const cJSON *activity, unsigned gen, struct act_run *r);
struct act_run *act_run_new(const cJSON *activity);
void act_run_free(struct act_run *r);
void act_fail(struct act_run *r, enum run_fail f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* UTC ISO-8601 with microseconds and +00:00. */
void run_iso_time(const struct timespec *ts, char *buf, size_t len);

/* ---- run_engine.c ------------------------------------------------------------------------ */

/* Everything after validation: strategies, configuration, the run, the journal.  Returns the
 * exit code (0 completed and not deviated, 1 otherwise). */
int run_experiment(cJSON *exp, const struct run_opts *opts);
/* The SSH as one pass (exported for the unit tests). */
struct ssh_run *run_hypothesis(struct run_state *st, unsigned gen, bool *errored,
			       char *err, size_t errlen);
void ssh_run_free(struct ssh_run *s);
/* The strategy decisions of §6, exported for the unit tests. */
bool run_should_rollback(enum run_rollback rb, const char *status, bool deviated, int sig);
void run_list_push(struct run_state *st, struct run_list *l, struct act_run *r);

/* ---- run_journal.c ----------------------------------------------------------------------- */

cJSON *run_journal_build(struct run_state *st);
/* Replace every secret value with "***" in strings (also inside longer strings). */
void run_mask_tree(cJSON *item, char *const *masks, size_t n);
char *run_mask_text(const char *s, char *const *masks, size_t n);
/* Collect the secret values to mask (strings and the str() of scalars), longest first. */
void run_collect_masks(struct run_state *st);
/* Write atomically: PATH.tmp.XXXXXX in the same directory, fsync, rename. */
int run_journal_write(const char *path, const cJSON *journal, char *err, size_t errlen);

/* ---- run_output.c ------------------------------------------------------------------------ */

void out_init(bool quiet, char *const *masks, size_t nmasks);
void out_set_masks(char *const *masks, size_t nmasks);
void out_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void out_phase(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void out_activity_start(const struct act_run *r);
void out_activity_end(const struct act_run *r);
void out_summary(struct run_state *st, int exit_code);
/* Error and warning lines: "chaos-run: FILE: msg" (always printed). */
void out_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void out_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- run_chaos.c ------------------------------------------------------------------------- */

/* Validation of the "chaos" extension and of "chaos" providers (run_validate calls these). */
int run_chaos_validate_extension(const cJSON *ext, char *err, size_t errlen);
int run_chaos_validate_provider(const cJSON *exp, const cJSON *provider, const char *name,
				char *err, size_t errlen);
/* Start the declared service (if any) and wait until it is ready. */
int run_chaos_start(struct run_state *st, char *err, size_t errlen);
/* Run a chaos provider activity (add/remove faults). */
void run_chaos_provider(struct run_state *st, const cJSON *activity, const cJSON *provider,
			struct run_result *res);
/* Remove every fault still on, stop the service: always called, whatever happened. */
void run_chaos_cleanup(struct run_state *st);
/* The journal's "chaos" object, or NULL when the experiment does not use the extension. */
cJSON *run_chaos_journal(struct run_state *st);
/* For the summary: faults added and removed, and leftovers. */
void run_chaos_counts(struct run_state *st, size_t *added, size_t *removed, size_t *left);
void run_chaos_free(struct run_state *st);

/* The pieces of the extension the sweep (sweep_*.c) shares: a service under chaos-exec, and
 * chaos-ctl calls. */
struct run_service {
	cJSON *command;            /* as started */
	pid_t exec_pid;            /* chaos-exec, leader of the service's process group; 0: gone */
	pid_t service_pid;         /* the command chaos-exec runs */
	struct timespec started, ready, stopped;
	bool have_ready, have_stopped;
	char *exit_desc;           /* how it ended: "exit status 3", "killed by SIGKILL" */
};

/* eBPF faults (run_attach.c): check an "attach" provider; start chaos-attach with these rules
 * on the provider's pid/cgroup/container or the service's process tree, and return its pid
 * once it has attached (-1 with a message); stop it (the faults come off). */
int run_attach_validate(const cJSON *prov, const char *name, char *err, size_t errlen);
pid_t run_attach_start(const cJSON *prov, char *const *rules, size_t nrules, pid_t service,
		       const char *logpath, char *err, size_t errlen);
int run_attach_stop(pid_t pid, char *err, size_t errlen);

/* Process groups chaos-run started, killed by a reaper process if chaos-run dies
 * (run_reaper.c). */
void run_reaper_watch(pid_t group);
void run_reaper_forget(pid_t group);

/* A sibling program: $CHAOS_CTL / $CHAOS_EXEC, next to /proc/self/exe, then PATH. */
char *run_sibling(const char *prog);
/* chaos-ctl PID VERB [--json] ITEMS...: 0, or -1 with the message (its stderr) in err.  With
 * answer, the parsed JSON answer (json) or NULL. */
int run_ctl(long pid, const char *verb, char *const *items, size_t n, bool json,
	    cJSON **answer, char *err, size_t errlen);
/* Start `chaos-exec [-f RULE]... [EXEC_OPTS]... -- COMMAND` for the service object svc
 * ({command, env, rules, cwd, log}, already substituted): its own process group, stdin from
 * /dev/null, SIGTERM when chaos-run dies.  Waits until chaos-exec has forked the command. */
int run_service_start(struct run_service *s, const cJSON *svc, char *const *exec_opts,
		      char *err, size_t errlen);
/* Wait for the ready check ({http: URL} or {process: {path, arguments}}, timeout); at most
 * max_wait seconds when max_wait >= 0. */
int run_service_wait_ready(struct run_service *s, const cJSON *ready, unsigned gen,
			   double max_wait, char *err, size_t errlen);
/* Has chaos-exec exited (how: "exit status 3 ...")?  Reaps it. */
bool run_service_exited(struct run_service *s, char *how, size_t len);
/* SIGTERM to the group, SIGKILL after grace seconds, then SIGKILL to what is left of it. */
void run_service_stop(struct run_service *s, double grace);
void run_service_free(struct run_service *s);

/* The rules a service always runs with, and their ids now.  Faults go in front of them: the
 * first rule that fires decides, and "db dns=nxdomain" must win over "db dns=127.0.0.1". */
struct run_base {
	char **rules;
	long *ids;
	size_t n;
};
int run_base_set(struct run_base *base, const cJSON *rules);
/* Read their ids from `chaos-ctl PID show` (they are its first rules). */
int run_base_read_ids(long pid, struct run_base *base, char *err, size_t errlen);
void run_base_free(struct run_base *base);
/* `chaos-ctl PID add RULES BASE...`, then remove the old BASE ids: the rules end up in front.
 * ids: the rules' ids.  0; -1 nothing added; -2 added but the base rules could not be moved
 * behind them (err says why). */
int run_ctl_add_front(long pid, char *const *rules, size_t n, struct run_base *base, long *ids,
		      char *err, size_t errlen);

/* ---- sweep_main.c: `chaos-run sweep ...` (argv[0] is "sweep") ----------------------------- */
int sweep_main(int argc, char **argv);

#endif
