/* run_validate.c -- ensure_experiment_is_valid: CTK's checks in CTK's order, with its messages
 *
 * First error wins.  Where CTK would import Python, we refuse: a python provider is an error
 * naming the activity; a python control is a warning (CTK only warns when the module is
 * missing).  Two checks are ours, both for experiments CTK would crash on at run time: a regex
 * or range tolerance without a target on a process or http probe, and a rollback ref that
 * names no activity.  The "chaos" extension and "chaos" providers are checked here too.
 */
#include "run.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vctx {
	const cJSON *exp;
	const struct run_vars *vars;
	char python[256]; /* the first activity with a python provider */
	run_warn_fn warn;
	void *warn_arg;
	char *err;
	size_t errlen;
};

static int fail(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct vctx *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->err, v->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void warn(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct vctx *v, const char *fmt, ...)
{
	char msg[RUN_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (v->warn)
		v->warn(v->warn_arg, msg);
}

bool run_is_pattern(const char *s)
{
	size_t n = strlen(s);
	return n > 3 && s[0] == '$' && s[1] == '{' && s[n - 1] == '}' &&
	       strcspn(s + 2, "}") == n - 3;
}

/* An executable regular file? */
static bool executable(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && access(p, X_OK) == 0;
}

char *run_which(const char *path)
{
	char buf[PATH_MAX];
	if (path[0] == '~' && (path[1] == '/' || !path[1])) {
		const char *home = getenv("HOME");
		snprintf(buf, sizeof(buf), "%.2048s%.2000s", home ? home : "", path + 1);
		path = buf;
	}
	if (strchr(path, '/'))
		return executable(path) ? strdup(path) : NULL;
	const char *env = getenv("PATH");
	if (!env)
		env = "/usr/local/bin:/usr/bin:/bin";
	while (*env) {
		size_t n = strcspn(env, ":");
		char cand[PATH_MAX + 256];
		if (n == 0)
			snprintf(cand, sizeof(cand), "%s", path);
		else
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)(n > 2000 ? 2000 : n), env,
				 path);
		if (executable(cand))
			return strdup(cand);
		env += n;
		if (*env == ':')
			env++;
	}
	return NULL;
}

static const cJSON *find_named(const cJSON *list, const char *name)
{
	if (!cJSON_IsArray(list))
		return NULL;
	for (const cJSON *a = list->child; a; a = a->next) {
		const cJSON *n = rj_get(a, "name");
		if (cJSON_IsString(n) && !strcmp(n->valuestring, name) && !rj_get(a, "ref"))
			return a;
	}
	return NULL;
}

const cJSON *run_lookup_ref(const cJSON *exp, const char *name)
{
	const cJSON *ssh = rj_get(exp, "steady-state-hypothesis");
	const cJSON *a = find_named(rj_get(ssh, "probes"), name);
	if (a)
		return a;
	return find_named(rj_get(exp, "method"), name);
}

static int validate_activity(struct vctx *v, const cJSON *a);

static bool is_number(const cJSON *x)
{
	return cJSON_IsNumber(x) || cJSON_IsBool(x);
}

static int validate_process(struct vctx *v, const cJSON *prov, const char *name)
{
	const cJSON *path = rj_get(prov, "path");
	if (!rj_truthy(path))
		return fail(v, "a process activity must have a path");
	if (!cJSON_IsString(path))
		return fail(v, "path must be a string, in activity '%s'", name);
	char *p = run_which(path->valuestring);
	if (!p)
		return fail(v, "path '%s' cannot be found, in activity '%s'", path->valuestring,
			    name);
	int ok = access(p, X_OK);
	free(p);
	if (ok != 0)
		return fail(v, "no access permission to '%s', in activity '%s'", path->valuestring,
			    name);
	const cJSON *args = rj_get(prov, "arguments");
	if (cJSON_IsObject(args))
		warn(v, "activity '%s': Process arguments should now be a list to keep the ordering "
			"of the arguments; a mapping still works but is deprecated",
		     name);
	else if (args && !cJSON_IsArray(args) && !cJSON_IsString(args) && !cJSON_IsNull(args))
		return fail(v, "process arguments must be a string or a list, in activity '%s'",
			    name);
	const cJSON *t = rj_get(prov, "timeout");
	if (t && !cJSON_IsNull(t) && !is_number(t))
		return fail(v, "process timeout must be a number, in activity '%s'", name);
	return 0;
}

static int validate_http(struct vctx *v, const cJSON *prov, const char *name)
{
	const cJSON *url = rj_get(prov, "url");
	if (!rj_truthy(url))
		return fail(v, "a HTTP activity must have a URL");
	if (!cJSON_IsString(url))
		return fail(v, "a HTTP activity URL must be a string, in activity '%s'", name);
	const cJSON *h = rj_get(prov, "headers");
	if (rj_truthy(h) && !cJSON_IsObject(h))
		return fail(v, "a HTTP activities expect headers as a mapping");
	const cJSON *t = rj_get(prov, "timeout");
	if (t && !cJSON_IsNull(t) && !is_number(t) && !cJSON_IsString(t)) {
		if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) != 2 || !is_number(t->child) ||
		    !is_number(t->child->next))
			return fail(v, "http timeout must be a number or [connect, read], in "
				       "activity '%s'",
				    name);
	}
	const cJSON *r = rj_get(prov, "max_retries");
	if (r && !cJSON_IsNull(r) && !rj_is_int(r))
		return fail(v, "http max_retries must be an integer, in activity '%s'", name);
	return 0;
}

static int validate_activity(struct vctx *v, const cJSON *a)
{
	if (!rj_truthy(a))
		return fail(v, "empty activity is no activity");
	if (!cJSON_IsObject(a))
		return fail(v, "an activity must be an object, not a %s", rj_type(a));
	const cJSON *ref = rj_get(a, "ref");
	if (ref && !cJSON_IsNull(ref)) {
		if (!cJSON_IsString(ref) || !*ref->valuestring)
			return fail(v, "reference to activity must be non-empty strings");
		return 0;
	}
	const cJSON *type = rj_get(a, "type");
	if (!rj_truthy(type))
		return fail(v, "an activity must have a type");
	if (!cJSON_IsString(type) ||
	    (strcmp(type->valuestring, "probe") && strcmp(type->valuestring, "action"))) {
		char *t = rj_pystr(type);
		fail(v, "'%s' is not a supported activity type", t ? t : "?");
		free(t);
		return -1;
	}
	const cJSON *namej = rj_get(a, "name");
	if (!rj_truthy(namej))
		return fail(v, "an activity must have a name");
	char *namebuf = rj_pystr(namej);
	const char *name = namebuf ? namebuf : "?";
	int rc = -1;
	const cJSON *prov = rj_get(a, "provider");
	if (!rj_truthy(prov)) {
		fail(v, "an activity requires a provider");
		goto out;
	}
	if (!cJSON_IsObject(prov)) {
		fail(v, "a provider must be an object, in activity '%s'", name);
		goto out;
	}
	const cJSON *pt = rj_get(prov, "type");
	if (!rj_truthy(pt)) {
		fail(v, "a provider must have a type");
		goto out;
	}
	const char *ptype = cJSON_IsString(pt) ? pt->valuestring : "";
	if (strcmp(ptype, "python") && strcmp(ptype, "process") && strcmp(ptype, "http") &&
	    strcmp(ptype, "chaos")) {
		char *t = rj_pystr(pt);
		fail(v, "unknown provider type '%s'", t ? t : "?");
		free(t);
		goto out;
	}
	const cJSON *timeout = rj_get(a, "timeout");
	if (timeout && !cJSON_IsNull(timeout) && !is_number(timeout)) {
		fail(v, "activity timeout must be a number");
		goto out;
	}
	const cJSON *pauses = rj_get(a, "pauses");
	if (pauses && !cJSON_IsNull(pauses)) {
		static const char *const which[] = {"before", "after"};
		for (int i = 0; i < 2; i++) {
			const cJSON *p = rj_get(pauses, which[i]);
			if (p && !cJSON_IsNull(p) && !is_number(p) &&
			    !(cJSON_IsString(p) && run_is_pattern(p->valuestring))) {
				fail(v, "activity %s pause must be a number or a pattern to a variable "
					"from the configuration or secrets",
				     which[i]);
				goto out;
			}
		}
	}
	const cJSON *bg = rj_get(a, "background");
	if (bg && !cJSON_IsBool(bg)) {
		fail(v, "activity background must be a boolean");
		goto out;
	}
	const cJSON *dry = rj_get(a, "dry");
	enum run_dry d;
	if (dry && !cJSON_IsNull(dry) && (!cJSON_IsString(dry) || run_dry_parse(dry->valuestring, &d) < 0))
		warn(v, "activity '%s': \"dry\" must be one of probes, actions, activities, pause; "
			"ignored",
		     name);
	if (!strcmp(ptype, "python")) {
		/* CTK's own checks first; the refusal comes once the rest is valid */
		if (!rj_truthy(rj_get(prov, "module"))) {
			fail(v, "a Python activity must have a module path");
			goto out;
		}
		if (!rj_truthy(rj_get(prov, "func"))) {
			fail(v, "a Python activity must have a function name");
			goto out;
		}
		if (!v->python[0])
			snprintf(v->python, sizeof(v->python), "%s", name);
		rc = 0;
	} else if (!strcmp(ptype, "process"))
		rc = validate_process(v, prov, name);
	else if (!strcmp(ptype, "http"))
		rc = validate_http(v, prov, name);
	else
		rc = run_chaos_validate_provider(v->exp, prov, name, v->err, v->errlen);
	if (rc == 0) {
		const cJSON *ctl = rj_get(a, "controls");
		if (cJSON_IsArray(ctl) && ctl->child)
			warn(v, "activity '%s': controls are Python only; chaos-run ignores them",
			     name);
	}
out:
	free(namebuf);
	return rc;
}

static int validate_tolerance(struct vctx *v, const cJSON *probe)
{
	const cJSON *tol = rj_get(probe, "tolerance");
	if (run_tolerance_validate(tol, v->err, v->errlen) < 0)
		return -1;
	if (!cJSON_IsObject(tol))
		return 0;
	const cJSON *type = rj_get(tol, "type");
	const char *t = cJSON_IsString(type) ? type->valuestring : "";
	if (!strcmp(t, "probe"))
		return validate_activity(v, tol);
	/* ours: CTK crashes on these at run time (TypeError), so say it now */
	if (!strcmp(t, "regex") || !strcmp(t, "range")) {
		const cJSON *target = rj_get(tol, "target");
		const cJSON *pt = rj_get(rj_get(probe, "provider"), "type");
		if ((!target || cJSON_IsNull(target)) && cJSON_IsString(pt) &&
		    (!strcmp(pt->valuestring, "process") || !strcmp(pt->valuestring, "http"))) {
			const cJSON *n = rj_get(probe, "name");
			return fail(v,
				    "hypothesis %s probe tolerance needs a `target` (%s) because "
				    "the output of the %s probe '%s' is an object",
				    t,
				    !strcmp(pt->valuestring, "http") ? "status, headers or body"
								     : "status, stdout or stderr",
				    pt->valuestring, cJSON_IsString(n) ? n->valuestring : "?");
		}
	}
	return 0;
}

static int validate_hypothesis(struct vctx *v)
{
	const cJSON *h = rj_get(v->exp, "steady-state-hypothesis");
	if (!h || cJSON_IsNull(h))
		return 0;
	if (!cJSON_IsObject(h) || !rj_truthy(rj_get(h, "title")))
		return fail(v, "hypothesis requires a title");
	const cJSON *probes = rj_get(h, "probes");
	if (!rj_truthy(probes))
		return 0;
	if (!cJSON_IsArray(probes))
		return fail(v, "hypothesis probes must be a list");
	for (const cJSON *p = probes->child; p; p = p->next) {
		if (validate_activity(v, p) < 0)
			return -1;
		if (!rj_get(p, "tolerance"))
			return fail(v, "hypothesis probe must have a tolerance entry");
		if (validate_tolerance(v, p) < 0)
			return -1;
	}
	const cJSON *ctl = rj_get(h, "controls");
	if (cJSON_IsArray(ctl) && ctl->child)
		warn(v, "steady-state-hypothesis: controls are Python only; chaos-run ignores them");
	return 0;
}

static int validate_controls(struct vctx *v)
{
	const cJSON *controls = rj_get(v->exp, "controls");
	if (!rj_truthy(controls))
		return 0;
	if (!cJSON_IsArray(controls))
		return fail(v, "controls must be a list");
	for (const cJSON *c = controls->child; c; c = c->next) {
		const cJSON *ref = rj_get(c, "ref");
		if (ref) {
			bool found = false;
			for (const cJSON *d = controls->child; d; d = d->next)
				if (!rj_get(d, "ref") && rj_equal(rj_get(d, "name"), ref))
					found = true;
			if (!found)
				return fail(v, "Control reference '{}' declaration cannot be found");
		}
		const cJSON *name = rj_get(c, "name");
		if (!name)
			return fail(v, "A control must have a `name` property");
		char *n = rj_pystr(name);
		int rc = 0;
		const cJSON *prov = rj_get(c, "provider");
		const cJSON *scope = rj_get(c, "scope");
		if (!prov)
			rc = fail(v, "Control '%s' must have a `provider` property", n);
		else if (rj_truthy(scope) &&
			 (!cJSON_IsString(scope) || (strcmp(scope->valuestring, "before") &&
						     strcmp(scope->valuestring, "after"))))
			rc = fail(v, "Control '%s' scope property must be 'before' or 'after' only", n);
		else {
			const cJSON *pt = rj_get(prov, "type");
			if (cJSON_IsString(pt) && !strcmp(pt->valuestring, "python")) {
				const cJSON *mod = rj_get(prov, "module");
				if (!rj_truthy(mod))
					rc = fail(v, "Control '%s' must have a module path", n);
				else
					warn(v, "control '%s' (python module '%s') is not supported by "
						"chaos-run and is ignored",
					     n, cJSON_IsString(mod) ? mod->valuestring : "?");
			} else if (!ref) {
				warn(v, "control '%s' is not a python control; ignored", n);
			}
		}
		free(n);
		if (rc)
			return rc;
	}
	return 0;
}

static int validate_dynamic_config(struct vctx *v)
{
	const cJSON *conf = rj_get(v->exp, "configuration");
	if (!cJSON_IsObject(conf))
		return 0;
	for (const cJSON *decl = conf->child; decl; decl = decl->next) {
		/* a --var-file value replaces the declaration (lib issue #252) */
		const cJSON *c = v->vars ? rj_get(v->vars->config, decl->string) : NULL;
		if (!c)
			c = decl;
		const cJSON *t = rj_get(c, "type");
		if (!cJSON_IsString(t) || strcmp(t->valuestring, "probe"))
			continue;
		const cJSON *pt = rj_get(rj_get(c, "provider"), "type");
		if (!cJSON_IsString(pt) ||
		    (strcmp(pt->valuestring, "process") && strcmp(pt->valuestring, "http")))
			return fail(v, "configuration '%s': dynamic configuration probes must use a "
				       "process or http provider (provider type '%s' is not "
				       "supported)",
				    decl->string, cJSON_IsString(pt) ? pt->valuestring : "?");
	}
	return 0;
}

int run_validate(const cJSON *exp, const struct run_vars *vars, run_warn_fn warnfn,
		 void *warn_arg, char *err, size_t errlen)
{
	struct vctx v = {.exp = exp, .vars = vars, .warn = warnfn, .warn_arg = warn_arg, .err = err,
			 .errlen = errlen};
	if (!rj_truthy(exp))
		return fail(&v, "an empty experiment is not an experiment");
	if (!cJSON_IsObject(exp))
		return fail(&v, "an experiment must be an object, not a %s", rj_type(exp));
	if (!rj_truthy(rj_get(exp, "title")))
		return fail(&v, "experiment requires a title");
	if (!rj_truthy(rj_get(exp, "description")))
		return fail(&v, "experiment requires a description");
	const cJSON *tags = rj_get(exp, "tags");
	if (rj_truthy(tags)) {
		if (!cJSON_IsArray(tags))
			return fail(&v, "experiment tags must be a list");
		for (const cJSON *t = tags->child; t; t = t->next)
			if (!cJSON_IsString(t) || !*t->valuestring)
				return fail(&v, "experiment tags must be a non-empty string");
	}
	const cJSON *exts = rj_get(exp, "extensions");
	if (rj_truthy(exts)) {
		if (!cJSON_IsArray(exts))
			return fail(&v, "extensions must be a list");
		for (const cJSON *e = exts->child; e; e = e->next) {
			const cJSON *n = rj_get(e, "name");
			const char *s = cJSON_IsString(n) ? n->valuestring : "";
			while (*s == ' ' || *s == '\t' || *s == '\n')
				s++;
			if (!*s)
				return fail(&v, "All extensions require a non-empty name");
		}
		for (const cJSON *e = exts->child; e; e = e->next) {
			const cJSON *n = rj_get(e, "name");
			if (!strcmp(n->valuestring, "chaos") &&
			    run_chaos_validate_extension(e, err, errlen) < 0)
				return -1;
		}
	}
	cJSON *conf = run_load_configuration(rj_get(exp, "configuration"), vars, err, errlen);
	if (!conf)
		return -1;
	cJSON *sec = run_load_secrets(rj_get(exp, "secrets"), vars, err, errlen);
	cJSON_Delete(conf);
	if (!sec)
		return -1;
	cJSON_Delete(sec);
	if (validate_hypothesis(&v) < 0)
		return -1;
	const cJSON *method = rj_get(exp, "method");
	if (!method || cJSON_IsNull(method))
		return fail(&v, "an experiment requires a method, which can be empty for only "
				"checking steady state hypothesis ");
	if (!cJSON_IsArray(method))
		return fail(&v, "the method must be a list of activities");
	for (const cJSON *a = method->child; a; a = a->next) {
		if (validate_activity(&v, a) < 0)
			return -1;
		const cJSON *ref = rj_get(a, "ref");
		if (cJSON_IsString(ref) && !run_lookup_ref(exp, ref->valuestring))
			return fail(&v, "referenced activity '%s' could not be found in the experiment",
				    ref->valuestring);
	}
	const cJSON *rollbacks = rj_get(exp, "rollbacks");
	if (rollbacks && !cJSON_IsNull(rollbacks)) {
		if (!cJSON_IsArray(rollbacks))
			return fail(&v, "rollbacks must be a list of activities");
		for (const cJSON *a = rollbacks->child; a; a = a->next) {
			if (validate_activity(&v, a) < 0)
				return -1;
			const cJSON *ref = rj_get(a, "ref");
			/* ours: CTK crashes at rollback time on these */
			if (cJSON_IsString(ref) && !run_lookup_ref(exp, ref->valuestring))
				return fail(&v, "referenced activity '%s' could not be found in the "
						"experiment (in rollbacks)",
					    ref->valuestring);
		}
	}
	const cJSON *rt = rj_get(exp, "runtime");
	if (cJSON_IsObject(rt)) {
		enum run_rollback rb;
		enum run_hypo hy;
		const cJSON *s = rj_get(rj_get(rt, "rollbacks"), "strategy");
		if (cJSON_IsString(s) && run_rollback_parse(s->valuestring, &rb) < 0)
			warn(&v, "runtime.rollbacks.strategy '%s' is unknown: rollbacks will never "
				 "be played (as Chaos Toolkit does)",
			     s->valuestring);
		s = rj_get(rj_get(rt, "hypothesis"), "strategy");
		if (cJSON_IsString(s) && run_hypo_parse(s->valuestring, &hy) < 0)
			return fail(&v, "runtime.hypothesis.strategy '%s' is not one of default, "
					"before-method-only, after-method-only, during-method-only, "
					"continuously, skip",
				    s->valuestring);
	}
	if (validate_controls(&v) < 0)
		return -1;
	if (validate_dynamic_config(&v) < 0)
		return -1;
	if (v.python[0])
		return fail(&v, "provider type 'python' is not supported (activity '%s')", v.python);
	return 0;
}
