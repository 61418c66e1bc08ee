/* run_engine.c -- the run algorithm of chaoslib's Runner._run (CTK §6)
 *
 * Strategies (CLI > experiment runtime > default), dynamic configuration, the steady-state
 * hypothesis before (as a gate), during (a loop thread) and after the method, background
 * activities (a thread each), interruptions, rollbacks, then our own cleanup (faults off,
 * service stopped) whatever happened, the journal and the exit code.
 */
#include "run.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dry_names[] = {NULL, "probes", "actions", "activities", "pause"};
static const char *const rb_names[] = {"default", "always", "never", "deviated", NULL};
static const char *const hy_names[] = {"default", "before-method-only", "after-method-only",
				       "during-method-only", "continuously", "skip"};

const char *run_dry_name(enum run_dry d)
{
	return dry_names[d];
}

int run_dry_parse(const char *s, enum run_dry *d)
{
	for (int i = 1; i <= DRY_PAUSE; i++)
		if (!strcmp(s, dry_names[i])) {
			*d = (enum run_dry)i;
			return 0;
		}
	return -1;
}

const char *run_rollback_name(enum run_rollback r)
{
	return r == RB_UNKNOWN ? "unknown" : rb_names[r];
}

int run_rollback_parse(const char *s, enum run_rollback *r)
{
	for (int i = 0; i < RB_UNKNOWN; i++)
		if (!strcmp(s, rb_names[i])) {
			*r = (enum run_rollback)i;
			return 0;
		}
	return -1;
}

const char *run_hypo_name(enum run_hypo h)
{
	return hy_names[h];
}

int run_hypo_parse(const char *s, enum run_hypo *h)
{
	if (!strcmp(s, "continously")) { /* CTK's deprecated spelling */
		*h = HY_CONTINUOUS;
		return 0;
	}
	for (int i = 0; i <= HY_SKIP; i++)
		if (!strcmp(s, hy_names[i])) {
			*h = (enum run_hypo)i;
			return 0;
		}
	return -1;
}

bool run_should_rollback(enum run_rollback rb, const char *status, bool deviated, int sig)
{
	if (sig == SIGUSR2)
		return false;
	switch (rb) {
	case RB_ALWAYS: return true;
	case RB_NEVER: return false;
	case RB_DEVIATED: return deviated;
	case RB_DEFAULT:
		return !status || (strcmp(status, "failed") && strcmp(status, "interrupted"));
	default: return false;
	}
}

void run_list_push(struct run_state *st, struct run_list *l, struct act_run *r)
{
	pthread_mutex_lock(&st->lock);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct act_run **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&st->lock);
			abort(); /* cannot record the run: nothing sensible to do */
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = r;
	pthread_mutex_unlock(&st->lock);
}

static void set_status(struct run_state *st, const char *status)
{
	pthread_mutex_lock(&st->lock);
	st->status = status;
	pthread_mutex_unlock(&st->lock);
}

static const char *get_status(struct run_state *st)
{
	pthread_mutex_lock(&st->lock);
	const char *s = st->status;
	pthread_mutex_unlock(&st->lock);
	return s;
}

static void set_abort(struct run_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_abort(struct run_state *st, const char *fmt, ...)
{
	char msg[RUN_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&st->lock);
	st->status = "aborted";
	if (!st->abort_reason)
		st->abort_reason = strdup(msg);
	pthread_mutex_unlock(&st->lock);
}

/* An activity or a {"ref": name} resolved; NULL if the ref names nothing. */
static const cJSON *resolve(struct run_state *st, const cJSON *a)
{
	const cJSON *ref = rj_get(a, "ref");
	if (!ref || cJSON_IsNull(ref))
		return a;
	if (!cJSON_IsString(ref))
		return NULL;
	return run_lookup_ref(st->exp, ref->valuestring);
}

static const char *name_of(const cJSON *a)
{
	const cJSON *n = rj_get(a, "name");
	if (cJSON_IsString(n))
		return n->valuestring;
	const cJSON *ref = rj_get(a, "ref");
	return cJSON_IsString(ref) ? ref->valuestring : "?";
}

/* ---- tolerance probes --------------------------------------------------------------------- */

struct probe_arg {
	struct run_state *st;
	unsigned gen;
};

static int tolerance_probe(void *arg, cJSON *probe, char *err, size_t errlen)
{
	struct probe_arg *pa = arg;
	struct act_run *r = act_run_new(probe);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	run_activity(pa->st, probe, pa->gen, r);
	run_activity_finish(probe, pa->gen, r);
	int met;
	if (r->failed && r->fail == RUN_ERROR) {
		snprintf(err, errlen, "probe tolerance '%s': %s", name_of(probe), r->exception);
		met = -1;
	} else
		met = !r->failed && rj_truthy(r->output);
	act_run_free(r);
	return met;
}

/* ---- the steady-state hypothesis ------------------------------------------------------------ */

void ssh_run_free(struct ssh_run *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		act_run_free(s->probes[i]);
	free(s->probes);
	free(s);
}

static void ssh_push(struct ssh_run *s, struct act_run *r)
{
	struct act_run **v = realloc(s->probes, (s->n + 1) * sizeof(*v));
	if (!v)
		abort();
	s->probes = v;
	s->probes[s->n++] = r;
}

/* Describe what the probe gave, for a tolerance that was not met. */
static char *tol_detail(const cJSON *tol, const cJSON *out)
{
	char *t = rj_print(tol, -1);
	const cJSON *shown = out;
	if (cJSON_IsObject(out) && rj_get(out, "status") && !cJSON_IsObject(tol))
		shown = rj_get(out, "status");
	const cJSON *target = rj_get(tol, "target");
	if (cJSON_IsObject(tol) && cJSON_IsString(target) && rj_get(out, target->valuestring))
		shown = rj_get(out, target->valuestring);
	char *o = rj_print(shown, -1);
	char buf[512];
	snprintf(buf, sizeof(buf), "tolerance %.200s, got %.200s%s", t ? t : "?", o ? o : "?",
		 o && strlen(o) > 200 ? "..." : "");
	free(t);
	free(o);
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return strdup(buf);
}

struct ssh_run *run_hypothesis(struct run_state *st, unsigned gen, bool *errored, char *err,
			       size_t errlen)
{
	struct ssh_run *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	*errored = false;
	err[0] = '\0';
	const cJSON *probes = rj_get(rj_get(st->exp, "steady-state-hypothesis"), "probes");
	bool met = true;
	struct probe_arg pa = {.st = st, .gen = gen};
	struct run_tol_ctx ctx = {.config = st->config, .secrets = st->secrets,
				  .run_probe = tolerance_probe, .arg = &pa};
	for (cJSON *p = cJSON_IsArray(probes) ? probes->child : NULL; p; p = p->next) {
		const cJSON *probe = resolve(st, p);
		struct act_run *r = act_run_new(probe ? probe : p);
		ssh_push(s, r);
		if (!probe) {
			clock_gettime(CLOCK_REALTIME, &r->start_rt);
			r->start_mono = run_now();
			r->started = true;
			r->end_rt = r->start_rt;
			r->end_mono = r->start_mono;
			r->done = true;
			act_fail(r, RUN_ERROR,
				 "referenced activity '%s' could not be found in the experiment",
				 name_of(p));
			r->tolerance_met = 0;
			snprintf(err, errlen, "%s", r->exception);
			met = false;
			break;
		}
		run_activity(st, probe, gen, r);
		enum run_dry d = st->opts->dry;
		const cJSON *own = rj_get(probe, "dry");
		enum run_dry o;
		if (cJSON_IsString(own) && run_dry_parse(own->valuestring, &o) == 0)
			d = o;
		if (r->failed) {
			r->tolerance_met = 0;
			met = false;
			if (r->fail == RUN_ERROR)
				snprintf(err, errlen, "probe '%s': %s", name_of(probe), r->exception);
			else
				*errored = true;
		} else if (d == DRY_PROBES || d == DRY_ACTIVITIES) {
			r->tolerance_met = 1;
		} else {
			char msg[RUN_ERR_MAX];
			cJSON *tol = rj_get(probe, "tolerance");
			int m = run_tolerance_check(tol, r->output, &ctx, msg, sizeof(msg));
			if (m < 0) {
				/* CTK crashes here; we say why and abort the experiment */
				cJSON *keep = r->output;
				r->output = NULL;
				act_fail(r, RUN_ERROR, "tolerance error: %s", msg);
				r->output = keep;
				r->tolerance_met = 0;
				snprintf(err, errlen, "probe '%s': tolerance error: %s", name_of(probe),
					 msg);
				met = false;
			} else {
				r->tolerance_met = m;
				if (!m) {
					r->tol_detail = tol_detail(tol, r->output);
					met = false;
				}
			}
		}
		run_activity_finish(probe, gen, r);
		if (!met || run_signal_count() != gen)
			break;
	}
	if (run_signal_count() != gen)
		met = false;
	s->met = met;
	return s;
}

/* ---- the hypothesis loop during the method -------------------------------------------------- */

struct loop {
	struct run_state *st;
	unsigned gen;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool failed_fast;
};

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	struct run_state *st = l->st;
	for (;;) {
		pthread_mutex_lock(&l->mu);
		bool stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		if (stop || run_signal_count() != l->gen)
			break;
		out_phase("steady state (during the method)");
		bool errored;
		char err[RUN_ERR_MAX];
		struct ssh_run *s = run_hypothesis(st, l->gen, &errored, err, sizeof(err));
		pthread_mutex_lock(&st->lock);
		struct ssh_run **v = realloc(st->during, (st->nduring + 1) * sizeof(*v));
		if (!v)
			abort();
		st->during = v;
		st->during[st->nduring++] = s;
		pthread_mutex_unlock(&st->lock);
		if (err[0]) {
			set_abort(st, "%s", err);
			break;
		}
		if (!s->met && st->opts->fail_fast && run_signal_count() == l->gen) {
			out_line("steady state deviated during the method: --fail-fast stops the "
				 "method");
			set_status(st, "failed");
			l->failed_fast = true;
			break;
		}
		/* wait --hypothesis-frequency seconds, or until stopped */
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		double f = st->opts->frequency;
		until.tv_sec += (time_t)f;
		until.tv_nsec += (long)((f - (double)(time_t)f) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&l->mu);
		while (!l->stop && run_signal_count() == l->gen) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > until.tv_sec ||
			    (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
				break;
			/* wake at least every 50 ms to notice signals */
			struct timespec step = now;
			step.tv_nsec += 50000000L;
			if (step.tv_nsec >= 1000000000L) {
				step.tv_sec++;
				step.tv_nsec -= 1000000000L;
			}
			if (step.tv_sec > until.tv_sec ||
			    (step.tv_sec == until.tv_sec && step.tv_nsec > until.tv_nsec))
				step = until;
			pthread_cond_timedwait(&l->cv, &l->mu, &step);
		}
		pthread_mutex_unlock(&l->mu);
	}
	return NULL;
}

/* ---- background activities ------------------------------------------------------------------ */

struct bg {
	struct run_state *st;
	const cJSON *activity;
	struct act_run *r;
	unsigned gen;
	pthread_t thread;
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;
	run_activity(b->st, b->activity, b->gen, b->r);
	run_activity_finish(b->activity, b->gen, b->r);
	if (b->r->failed && b->r->fail == RUN_ERROR)
		set_abort(b->st, "activity '%s': %s", name_of(b->activity), b->r->exception);
	return NULL;
}

static bool stopping(struct run_state *st, unsigned gen)
{
	const char *s = get_status(st);
	if (s && (!strcmp(s, "aborted") || !strcmp(s, "failed") || !strcmp(s, "interrupted")))
		return true;
	return run_signal_count() != gen;
}

static void run_method(struct run_state *st, unsigned gen)
{
	const cJSON *method = rj_get(st->exp, "method");
	if (method && !cJSON_IsArray(method) && !cJSON_IsNull(method)) {
		set_abort(st, "the method must be a list of activities");
		return;
	}
	struct bg **bgs = NULL; /* each its own allocation: the threads hold the pointer */
	size_t nbg = 0;
	out_phase("method");
	for (cJSON *a = method ? method->child : NULL; a; a = a->next) {
		if (stopping(st, gen))
			break;
		const cJSON *act = resolve(st, a);
		struct act_run *r = act_run_new(act ? act : a);
		run_list_push(st, &st->run, r);
		if (!act || !cJSON_IsObject(act)) {
			clock_gettime(CLOCK_REALTIME, &r->start_rt);
			r->start_mono = run_now();
			r->end_rt = r->start_rt;
			r->end_mono = r->start_mono;
			r->started = r->done = true;
			act_fail(r, RUN_ERROR,
				 act ? "an activity must be an object"
				     : "referenced activity could not be found in the experiment");
			set_abort(st, "method activity '%s': %s", name_of(a), r->exception);
			break;
		}
		if (cJSON_IsTrue(rj_get(act, "background"))) {
			struct bg **nb = realloc(bgs, (nbg + 1) * sizeof(*nb));
			struct bg *b = malloc(sizeof(*b));
			if (!nb || !b)
				abort();
			bgs = nb;
			*b = (struct bg){.st = st, .activity = act, .r = r, .gen = gen};
			int e = pthread_create(&b->thread, NULL, bg_main, b);
			if (e != 0) {
				free(b);
				act_fail(r, RUN_ERROR, "cannot start a thread: %s", strerror(e));
				set_abort(st, "activity '%s': %s", name_of(act), r->exception);
				break;
			}
			bgs[nbg++] = b;
			continue;
		}
		run_activity(st, act, gen, r);
		run_activity_finish(act, gen, r);
		if (r->failed && r->fail == RUN_ERROR) {
			set_abort(st, "activity '%s': %s", name_of(act), r->exception);
			break;
		}
	}
	/* background activities are awaited (a signal has already stopped them) */
	for (size_t i = 0; i < nbg; i++) {
		pthread_join(bgs[i]->thread, NULL);
		free(bgs[i]);
	}
	free(bgs);
}

/* ---- dynamic configuration -------------------------------------------------------------------- */

static void dynamic_configuration(struct run_state *st, unsigned gen)
{
	const cJSON *decl = rj_get(st->exp, "configuration");
	if (!cJSON_IsObject(decl))
		return;
	for (const cJSON *c = decl->child; c; c = c->next) {
		const cJSON *cur = rj_get(st->config, c->string);
		const cJSON *t = rj_get(cur, "type");
		if (!cJSON_IsString(t) || strcmp(t->valuestring, "probe"))
			continue;
		cJSON *probe = cJSON_Duplicate(cur, true);
		rj_set(probe, "type", cJSON_CreateString("probe"));
		if (!rj_get(probe, "name"))
			rj_set(probe, "name", cJSON_CreateString(c->string));
		struct act_run *r = act_run_new(probe);
		run_activity(st, probe, gen, r);
		run_activity_finish(probe, gen, r);
		const cJSON *pt = rj_get(rj_get(probe, "provider"), "type");
		cJSON *value = NULL;
		if (!r->failed && cJSON_IsString(pt) && !strcmp(pt->valuestring, "process")) {
			const cJSON *status = rj_get(r->output, "status");
			const cJSON *so = rj_get(r->output, "stdout");
			if (cJSON_IsNumber(status) && status->valuedouble == 0 && cJSON_IsString(so)) {
				const char *b = so->valuestring;
				while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
					b++;
				size_t n = strlen(b);
				while (n && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\n' ||
					     b[n - 1] == '\r'))
					n--;
				char *v = strndup(b, n);
				value = cJSON_CreateString(v ? v : "");
				free(v);
			}
		} else if (!r->failed) {
			value = cJSON_Duplicate(rj_get(r->output, "body"), true);
		}
		if (value) {
			rj_set(st->config, c->string, value);
		} else {
			out_warn("configuration '%s': the dynamic configuration probe %s; the key is "
				 "left out",
				 c->string, r->failed ? r->exception : "exited with a non-zero status");
			cJSON_DeleteItemFromObjectCaseSensitive(st->config, c->string);
		}
		act_run_free(r);
		cJSON_Delete(probe);
	}
}

/* ---- the run ------------------------------------------------------------------------------- */

static void pick_strategies(struct run_state *st)
{
	const struct run_opts *o = st->opts;
	st->rollback = RB_DEFAULT;
	st->hypo = HY_DEFAULT;
	const cJSON *rt = rj_get(st->exp, "runtime");
	if (cJSON_IsObject(rt)) {
		const cJSON *s = rj_get(rj_get(rt, "rollbacks"), "strategy");
		if (cJSON_IsString(s) && run_rollback_parse(s->valuestring, &st->rollback) < 0)
			st->rollback = RB_UNKNOWN;
		s = rj_get(rj_get(rt, "hypothesis"), "strategy");
		if (cJSON_IsString(s))
			run_hypo_parse(s->valuestring, &st->hypo);
	}
	if (o->rollback_set)
		st->rollback = o->rollback;
	if (o->hypo_set)
		st->hypo = o->hypo;
}

static void interrupted(struct run_state *st)
{
	pthread_mutex_lock(&st->lock);
	st->status = "interrupted";
	st->signal = run_signal_first();
	pthread_mutex_unlock(&st->lock);
}

int run_experiment(cJSON *exp, const struct run_opts *opts)
{
	struct run_state st_, *st = &st_;
	memset(st, 0, sizeof(*st));
	st->opts = opts;
	st->exp = exp;
	pthread_mutex_init(&st->lock, NULL);
	char err[RUN_ERR_MAX];
	unsigned gen = run_signal_count();

	pick_strategies(st);
	rj_set(exp, "dry", opts->dry ? cJSON_CreateString(run_dry_name(opts->dry))
				     : cJSON_CreateNull());
	st->config = run_load_configuration(rj_get(exp, "configuration"), &opts->vars, err,
					    sizeof(err));
	if (st->config)
		st->secrets = run_load_secrets(rj_get(exp, "secrets"), &opts->vars, err,
					       sizeof(err));
	if (!st->config || !st->secrets) {
		out_error("%s: %s", opts->path, err);
		cJSON_Delete(st->config);
		return 1;
	}
	run_collect_masks(st);
	out_set_masks(st->masks, st->nmasks);

	clock_gettime(CLOCK_REALTIME, &st->start_rt);
	st->start_mono = run_now();
	const cJSON *title = rj_get(exp, "title");
	if (title)
		rj_set(exp, "title", run_subst(title, st->config, st->secrets));
	title = rj_get(exp, "title");
	out_phase("experiment '%s'", cJSON_IsString(title) ? title->valuestring : "?");
	out_line("strategies: hypothesis %s, rollbacks %s%s%s", run_hypo_name(st->hypo),
		 run_rollback_name(st->rollback), opts->dry ? ", dry " : "",
		 opts->dry ? run_dry_name(opts->dry) : "");

	dynamic_configuration(st, gen);

	const cJSON *probes = rj_get(rj_get(exp, "steady-state-hypothesis"), "probes");
	bool with_ssh = st->hypo != HY_SKIP && cJSON_IsArray(probes) && probes->child;
	bool gate_ok = true;

	if (run_chaos_start(st, err, sizeof(err)) < 0) {
		set_abort(st, "%s", err);
		out_error("%s: %s", opts->path, err);
		gate_ok = false;
	}

	if (gate_ok && with_ssh &&
	    (st->hypo == HY_DEFAULT || st->hypo == HY_BEFORE || st->hypo == HY_CONTINUOUS)) {
		out_phase("steady state (before the method)");
		bool errored;
		st->before = run_hypothesis(st, gen, &errored, err, sizeof(err));
		if (err[0]) {
			set_abort(st, "%s", err);
			gate_ok = false;
		} else if (run_signal_count() != gen) {
			gate_ok = false;
		} else if (!st->before->met) {
			set_status(st, errored ? "failed" : "completed");
			out_line("steady state not met before the method: the method is skipped");
			gate_ok = false;
		}
	}
	if (gate_ok && run_signal_count() == gen) {
		struct loop l = {.st = st, .gen = gen};
		bool looping = with_ssh && (st->hypo == HY_DURING || st->hypo == HY_CONTINUOUS);
		pthread_mutex_init(&l.mu, NULL);
		pthread_cond_init(&l.cv, NULL);
		if (looping && pthread_create(&l.thread, NULL, loop_main, &l) != 0) {
			set_abort(st, "cannot start the hypothesis loop: %s", strerror(errno));
			looping = false;
		}
		if (!stopping(st, gen))
			run_method(st, gen);
		if (looping) {
			pthread_mutex_lock(&l.mu);
			l.stop = true;
			pthread_cond_signal(&l.cv);
			pthread_mutex_unlock(&l.mu);
			pthread_join(l.thread, NULL);
		}
		pthread_mutex_destroy(&l.mu);
		pthread_cond_destroy(&l.cv);
		const char *s = get_status(st);
		bool stopped = run_signal_count() != gen || (s && !strcmp(s, "aborted"));
		if (!stopped && with_ssh &&
		    (st->hypo == HY_DEFAULT || st->hypo == HY_AFTER || st->hypo == HY_CONTINUOUS)) {
			out_phase("steady state (after the method)");
			bool errored;
			st->after = run_hypothesis(st, gen, &errored, err, sizeof(err));
			if (err[0])
				set_abort(st, "%s", err);
			else if (run_signal_count() == gen && !st->after->met) {
				pthread_mutex_lock(&st->lock);
				st->deviated = true;
				st->status = errored ? "failed" : "completed";
				pthread_mutex_unlock(&st->lock);
			}
		}
	}
	if (run_signal_count() != gen)
		interrupted(st);

	/* rollbacks: their own generation, so an earlier signal does not stop them */
	unsigned rgen = run_signal_count();
	const cJSON *rollbacks = rj_get(exp, "rollbacks");
	bool has_rb = cJSON_IsArray(rollbacks) && rollbacks->child;
	if (has_rb && run_should_rollback(st->rollback, get_status(st), st->deviated,
					  run_signal_usr2() ? SIGUSR2 : st->signal)) {
		st->rollbacks_played = true;
		out_phase("rollbacks");
		for (cJSON *a = rollbacks->child; a; a = a->next) {
			if (run_signal_count() != rgen)
				break;
			const cJSON *act = resolve(st, a);
			struct act_run *r = act_run_new(act ? act : a);
			run_list_push(st, &st->rollbacks, r);
			if (!act) {
				clock_gettime(CLOCK_REALTIME, &r->start_rt);
				r->start_mono = run_now();
				r->end_rt = r->start_rt;
				r->end_mono = r->start_mono;
				r->started = r->done = true;
				act_fail(r, RUN_ERROR,
					 "referenced activity '%s' could not be found in the "
					 "experiment",
					 name_of(a));
				out_activity_end(r);
				continue;
			}
			run_activity(st, act, rgen, r);
			run_activity_finish(act, rgen, r);
		}
		if (run_signal_count() != rgen && !get_status(st))
			interrupted(st);
	} else if (has_rb) {
		out_line("rollbacks not played (strategy %s, status %s%s)",
			 run_rollback_name(st->rollback),
			 get_status(st) ? get_status(st) : "completed",
			 run_signal_usr2() ? ", SIGUSR2" : "");
	}

	/* ours: whatever happened, every fault comes off and the service stops */
	run_chaos_cleanup(st);

	if (!st->status)
		st->status = "completed";
	clock_gettime(CLOCK_REALTIME, &st->end_rt);
	st->end_mono = run_now();

	int code = (!strcmp(st->status, "completed") && !st->deviated) ? 0 : 1;
	if (opts->journal_path) {
		cJSON *j = run_journal_build(st);
		if (!j || run_journal_write(opts->journal_path, j, err, sizeof(err)) < 0) {
			out_error("%s: cannot write the journal: %s", opts->journal_path,
				  j ? err : "out of memory");
			code = 1;
		}
		cJSON_Delete(j);
	}
	out_summary(st, code);

	/* free */
	ssh_run_free(st->before);
	ssh_run_free(st->after);
	for (size_t i = 0; i < st->nduring; i++)
		ssh_run_free(st->during[i]);
	free(st->during);
	for (size_t i = 0; i < st->run.n; i++)
		act_run_free(st->run.v[i]);
	free(st->run.v);
	for (size_t i = 0; i < st->rollbacks.n; i++)
		act_run_free(st->rollbacks.v[i]);
	free(st->rollbacks.v);
	for (size_t i = 0; i < st->nmasks; i++)
		free(st->masks[i]);
	free(st->masks);
	free(st->abort_reason);
	run_chaos_free(st);
	cJSON_Delete(st->config);
	cJSON_Delete(st->secrets);
	pthread_mutex_destroy(&st->lock);
	return code;
}
