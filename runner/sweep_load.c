/* sweep_load.c -- the sweep file (or the "sweep" section of an experiment), command-line
 * overrides, validation, and the cells
 *
 *   {"title": T, "configuration": {...}, "secrets": {...},
 *    "service": {"command": ..., "env": {...}, "rules": [...], "cwd": D, "log": F,
 *                "ports": ["port"], "ready": {...}, "stop_timeout": S},
 *    "endpoints": [URL | {"name", "url", "method", "headers", "arguments", "tolerance"}
 *                      | {"name", "provider": {http or process}, "tolerance"}],
 *    "dependencies": [TARGET | {"name", "target"}] | "discover"
 *                    | {"discover": true, "exclude": [...]} | {"record": FILE, "exclude": [...]},
 *    "faults": [ACTION | {"name", "fault": ACTION}],
 *    "settings": {"jobs", "probe_timeout", "slow", "recovery", "settle", "max_time",
 *                 "restart": "on-failure" | "every-cell"}}
 *
 * In an experiment, the service is the chaos extension's and the same keys but service go in
 * its "sweep" object; the endpoints default to the steady-state hypothesis's probes.
 */
#include "sweep.h"

#include "rule.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const sw_default_faults[] = {"refuse", "blackhole timeout=10s", "delay=2s",
					 "dns=nxdomain", NULL};

static const char *const file_keys[] = {"title", "description", "configuration", "secrets",
					"service", "endpoints", "dependencies", "faults",
					"settings", NULL};
static const char *const section_keys[] = {"endpoints", "dependencies", "faults", "settings",
					   NULL};
static const char *const settings_keys[] = {"jobs", "probe_timeout", "slow", "recovery",
					    "settle", "max_time", "restart", NULL};

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		abort();
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

static bool in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

static int check_keys(const cJSON *obj, const char *const *known, const char *where, char *err,
		      size_t errlen)
{
	for (const cJSON *c = obj->child; c; c = c->next) {
		if (in_list(c->string, known))
			continue;
		char list[512] = "";
		for (size_t i = 0; known[i]; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", known[i]);
		snprintf(err, errlen, "%s: unknown key \"%s\" (known: %s)", where, c->string, list);
		return -1;
	}
	return 0;
}

static bool is_identifier(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

/* The path (and query) of a URL, for a column name: "http://h:1/a?b" -> "/a?b". */
static char *url_name(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	return xstrdup(p && *p ? p : url);
}

static int load_endpoint(struct sweep *sw, const cJSON *item, size_t i, struct sw_endpoint *ep,
			 char *err, size_t errlen)
{
	char where[64];
	snprintf(where, sizeof(where), "endpoint %zu", i + 1);
	cJSON *probe = cJSON_CreateObject();
	cJSON *prov = NULL;
	const cJSON *name = NULL, *tol = NULL;
	if (cJSON_IsString(item)) {
		prov = cJSON_CreateObject();
		cJSON_AddStringToObject(prov, "type", "http");
		cJSON_AddStringToObject(prov, "url", item->valuestring);
	} else if (cJSON_IsObject(item)) {
		name = rj_get(item, "name");
		tol = rj_get(item, "tolerance");
		const cJSON *url = rj_get(item, "url"), *p = rj_get(item, "provider");
		if (!url == !p) {
			snprintf(err, errlen, "%s: needs exactly one of \"url\" or \"provider\"", where);
			goto fail;
		}
		if (url) {
			static const char *const ok[] = {"name", "url", "method", "headers",
							 "arguments", "timeout", "tolerance",
							 "verify_tls", NULL};
			if (check_keys(item, ok, where, err, errlen) < 0)
				goto fail;
			prov = cJSON_CreateObject();
			cJSON_AddStringToObject(prov, "type", "http");
			for (const cJSON *c = item->child; c; c = c->next)
				if (strcmp(c->string, "name") && strcmp(c->string, "tolerance"))
					cJSON_AddItemToObject(prov, c->string,
							      cJSON_Duplicate(c, true));
		} else {
			if (!cJSON_IsObject(p)) {
				snprintf(err, errlen, "%s: \"provider\" must be an object", where);
				goto fail;
			}
			prov = cJSON_Duplicate(p, true);
		}
	} else {
		snprintf(err, errlen, "%s: must be a URL or an object", where);
		goto fail;
	}
	const cJSON *type = rj_get(prov, "type");
	const char *t = cJSON_IsString(type) ? type->valuestring : "";
	ep->http = !strcmp(t, "http");
	if (ep->http) {
		const cJSON *url = rj_get(prov, "url");
		if (!cJSON_IsString(url) || (strncmp(url->valuestring, "http://", 7) &&
					     strncmp(url->valuestring, "https://", 8) &&
					     strncmp(url->valuestring, "${", 2))) {
			snprintf(err, errlen, "%s: \"url\" must be an http(s) URL", where);
			goto fail;
		}
		const cJSON *m = rj_get(prov, "method");
		char desc[1200];
		snprintf(desc, sizeof(desc), "%s %.1000s", cJSON_IsString(m) ? m->valuestring : "GET",
			 url->valuestring);
		ep->desc = xstrdup(desc);
		ep->name = cJSON_IsString(name) ? xstrdup(name->valuestring)
						 : url_name(url->valuestring);
	} else if (!strcmp(t, "process")) {
		const cJSON *path = rj_get(prov, "path");
		if (!cJSON_IsString(path) || !*path->valuestring) {
			snprintf(err, errlen, "%s: a process provider needs a \"path\"", where);
			goto fail;
		}
		char *found = run_which(path->valuestring);
		if (!found) {
			snprintf(err, errlen, "%s: path '%s' cannot be found", where,
				 path->valuestring);
			goto fail;
		}
		free(found);
		char desc[1200];
		char *args = rj_get(prov, "arguments") ? rj_pystr(rj_get(prov, "arguments")) : NULL;
		snprintf(desc, sizeof(desc), "process %.500s%s%.600s", path->valuestring,
			 args ? " " : "", args ? args : "");
		free(args);
		ep->desc = xstrdup(desc);
		ep->name = cJSON_IsString(name) ? xstrdup(name->valuestring)
						 : xstrdup(path->valuestring);
	} else {
		snprintf(err, errlen, "%s: provider type '%s' cannot probe an endpoint (http or "
				      "process)",
			 where, t);
		goto fail;
	}
	if (!*ep->name) {
		snprintf(err, errlen, "%s: \"name\" must not be empty", where);
		goto fail;
	}
	if (tol) {
		char msg[RUN_ERR_MAX / 2];
		if (run_tolerance_validate(tol, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "endpoint '%s': %s", ep->name, msg);
			goto fail;
		}
		ep->tolerance = cJSON_Duplicate(tol, true);
	} else if (ep->http) {
		/* answered with a success or a redirect */
		ep->tolerance = cJSON_Parse("{\"type\": \"range\", \"range\": [200, 399], "
					    "\"target\": \"status\"}");
	} else {
		ep->tolerance = cJSON_CreateNumber(0);
	}
	cJSON_AddStringToObject(probe, "type", "probe");
	cJSON_AddStringToObject(probe, "name", ep->name);
	cJSON_AddItemToObject(probe, "provider", prov);
	ep->probe = probe;
	(void)sw;
	return 0;
fail:
	cJSON_Delete(prov);
	cJSON_Delete(probe);
	return -1;
}

/* ---- dependencies ------------------------------------------------------------------------- */

int sweep_dep_parse(const cJSON *item, struct sw_dep *d, char *err, size_t errlen)
{
	const cJSON *target = item, *name = NULL;
	if (cJSON_IsObject(item)) {
		static const char *const ok[] = {"name", "target", NULL};
		if (check_keys(item, ok, "dependency", err, errlen) < 0)
			return -1;
		target = rj_get(item, "target");
		name = rj_get(item, "name");
		if (name && !(cJSON_IsString(name) && *name->valuestring)) {
			snprintf(err, errlen, "dependency: \"name\" must be a non-empty string");
			return -1;
		}
	}
	if (!cJSON_IsString(target) || !*target->valuestring) {
		snprintf(err, errlen, "a dependency is \"HOST[:PORT]\" or {\"name\": N, \"target\": "
				      "\"HOST[:PORT]\"}");
		return -1;
	}
	char text[CHAOS_RULE_TEXT_MAX + 16], msg[CHAOS_ERR_MAX];
	snprintf(text, sizeof(text), "%s refuse", target->valuestring);
	struct chaos_rule r;
	if (strlen(target->valuestring) > CHAOS_RULE_TEXT_MAX - 16 ||
	    chaos_rule_parse(text, &r, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "dependency '%.300s': %s", target->valuestring,
			 strlen(target->valuestring) > CHAOS_RULE_TEXT_MAX - 16 ? "too long" : msg);
		return -1;
	}
	d->target = xstrdup(target->valuestring);
	d->name = xstrdup(cJSON_IsString(name) ? name->valuestring : target->valuestring);
	d->dns_target = r.target.kind == CHAOS_HOST_NAME ? xstrdup(r.target.name) : NULL;
	return 0;
}

static void dep_free(struct sw_dep *d)
{
	free(d->name);
	free(d->target);
	free(d->dns_target);
	free(d->source);
}

/* Is target ("[udp:]HOST[:PORT]") excluded: by itself, without its protocol, or by its host? */
static bool excluded(const struct sweep *sw, const char *target, const char *host)
{
	const char *bare = !strncmp(target, "udp:", 4) || !strncmp(target, "tcp:", 4) ? target + 4
										       : target;
	for (const cJSON *e = cJSON_IsArray(sw->exclude) ? sw->exclude->child : NULL; e;
	     e = e->next)
		if (cJSON_IsString(e) && (!strcasecmp(e->valuestring, target) ||
					  !strcasecmp(e->valuestring, bare) ||
					  (host && !strcasecmp(e->valuestring, host))))
			return true;
	return false;
}

static bool have_target(const struct sweep *sw, const char *target)
{
	for (size_t i = 0; i < sw->ndeps; i++)
		if (!strcasecmp(sw->deps[i].target, target))
			return true;
	return false;
}

static int add_dep(struct sweep *sw, const char *target, const char *source, char *err,
		   size_t errlen)
{
	if (have_target(sw, target))
		return 0;
	cJSON *t = cJSON_CreateString(target);
	struct sw_dep d = {0};
	int rc = sweep_dep_parse(t, &d, err, errlen);
	cJSON_Delete(t);
	if (rc < 0)
		return -1;
	d.source = xstrdup(source);
	struct sw_dep *v = realloc(sw->deps, (sw->ndeps + 1) * sizeof(*v));
	if (!v)
		abort();
	sw->deps = v;
	sw->deps[sw->ndeps++] = d;
	return 0;
}

static bool is_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

int sweep_deps_from_record(struct sweep *sw, const cJSON *rec, const char *source,
			   const long *own_ports, size_t nown, char *err, size_t errlen)
{
	const cJSON *deps = rj_get(rec, "dependencies");
	if (!cJSON_IsArray(deps)) {
		snprintf(err, errlen, "%s: no \"dependencies\" list (is it a chaos-exec --record "
				      "file?)",
			 source);
		return -1;
	}
	for (const cJSON *d = deps->child; d; d = d->next) {
		const cJSON *host = rj_get(d, "host"), *port = rj_get(d, "port");
		const cJSON *proto = rj_get(d, "protocol"), *addrs = rj_get(d, "addresses");
		const cJSON *addr = cJSON_IsArray(addrs) ? addrs->child : NULL;
		const char *h = cJSON_IsString(host) && *host->valuestring ? host->valuestring
									  : NULL;
		if (!h && !cJSON_IsString(addr))
			continue;
		bool own = false;
		for (const cJSON *a = addr; a && cJSON_IsNumber(port); a = a->next)
			for (size_t i = 0; i < nown; i++)
				if (cJSON_IsString(a) && is_loopback(a->valuestring) &&
				    (long)port->valuedouble == own_ports[i])
					own = true;
		if (own)
			continue; /* the service talking to itself */
		char hostpart[300], target[400];
		if (h)
			snprintf(hostpart, sizeof(hostpart), "%s", h);
		else if (strchr(addr->valuestring, ':'))
			snprintf(hostpart, sizeof(hostpart), "[%s]", addr->valuestring);
		else
			snprintf(hostpart, sizeof(hostpart), "%s", addr->valuestring);
		bool udp = cJSON_IsString(proto) && !strcmp(proto->valuestring, "udp");
		if (cJSON_IsNumber(port) && port->valuedouble > 0)
			snprintf(target, sizeof(target), "%s%s:%d", udp ? "udp:" : "", hostpart,
				 (int)port->valuedouble);
		else
			snprintf(target, sizeof(target), "%s%s", udp ? "udp:" : "", hostpart);
		if (excluded(sw, target, hostpart))
			continue;
		if (add_dep(sw, target, source, err, errlen) < 0)
			return -1;
	}
	/* names looked up and never connected to (the lookup failed, or the service gave up):
	 * dependencies too, by name */
	const cJSON *lookups = rj_get(rec, "lookups");
	for (const cJSON *l = cJSON_IsArray(lookups) ? lookups->child : NULL; l; l = l->next) {
		const cJSON *host = rj_get(l, "host");
		if (!cJSON_IsString(host) || !*host->valuestring)
			continue;
		bool known = false;
		for (size_t i = 0; i < sw->ndeps && !known; i++)
			known = sw->deps[i].dns_target &&
				!strcasecmp(sw->deps[i].dns_target, host->valuestring);
		if (known || excluded(sw, host->valuestring, host->valuestring) ||
		    !strcasecmp(host->valuestring, "localhost"))
			continue;
		if (add_dep(sw, host->valuestring, source, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* ---- faults ------------------------------------------------------------------------------- */

static int load_fault(const cJSON *item, struct sw_fault *f, char *err, size_t errlen)
{
	const cJSON *action = item, *name = NULL;
	if (cJSON_IsObject(item)) {
		static const char *const ok[] = {"name", "fault", NULL};
		if (check_keys(item, ok, "fault", err, errlen) < 0)
			return -1;
		action = rj_get(item, "fault");
		name = rj_get(item, "name");
		if (name && !(cJSON_IsString(name) && *name->valuestring)) {
			snprintf(err, errlen, "fault: \"name\" must be a non-empty string");
			return -1;
		}
	}
	if (!cJSON_IsString(action) || !*action->valuestring) {
		snprintf(err, errlen, "a fault is an action with its options (\"refuse\", "
				      "\"delay=2s\") or {\"name\": N, \"fault\": ACTION}");
		return -1;
	}
	const char *a = action->valuestring;
	while (*a == ' ')
		a++;
	f->dns = !strncmp(a, "dns=", 4);
	/* a target in the fault would be a mistake: "db:5432 refuse" */
	const char *space = strchr(a, ' ');
	char first[64];
	snprintf(first, sizeof(first), "%.*s", (int)(space ? (size_t)(space - a) : strlen(a)), a);
	if (!strchr(first, '=') && strpbrk(first, ":.*[/")) {
		snprintf(err, errlen, "fault '%.300s': write the action only (the sweep puts each "
				      "dependency in front of it)",
			 a);
		return -1;
	}
	/* the target decides nothing here: check the action and its options on a stand-in */
	char text[CHAOS_RULE_TEXT_MAX + 32], msg[CHAOS_ERR_MAX];
	snprintf(text, sizeof(text), "%s %s", f->dns ? "sweep.invalid" : "sweep.invalid:1", a);
	struct chaos_rule r;
	if (strlen(a) > CHAOS_RULE_TEXT_MAX - 32 || chaos_rule_parse(text, &r, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "fault '%.300s': %s", a,
			 strlen(a) > CHAOS_RULE_TEXT_MAX - 32 ? "too long" : msg);
		return -1;
	}
	f->action = xstrdup(a);
	f->name = xstrdup(cJSON_IsString(name) ? name->valuestring : a);
	f->available = true;
	return 0;
}

/* ---- settings ----------------------------------------------------------------------------- */

static int num_setting(const cJSON *s, const char *key, double lo, double hi, bool lo_open,
		       double *out, char *err, size_t errlen)
{
	const cJSON *v = rj_get(s, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || !(lo_open ? v->valuedouble > lo : v->valuedouble >= lo) ||
	    v->valuedouble > hi) {
		snprintf(err, errlen, "settings: \"%s\" must be a number of seconds %s %g and at "
				      "most %g",
			 key, lo_open ? "above" : "from", lo, hi);
		return -1;
	}
	*out = v->valuedouble;
	return 0;
}

static int load_settings(struct sweep *sw, const cJSON *s, const struct sw_cli *cli, char *err,
			 size_t errlen)
{
	struct sw_settings *st = &sw->set;
	st->jobs = 1;
	st->probe_timeout = 5;
	st->slow = 1;
	st->recovery = 10;
	st->settle = 0;
	st->max_time = 0;
	if (s) {
		if (!cJSON_IsObject(s)) {
			snprintf(err, errlen, "\"settings\" must be an object");
			return -1;
		}
		if (check_keys(s, settings_keys, "settings", err, errlen) < 0)
			return -1;
		const cJSON *j = rj_get(s, "jobs");
		if (j) {
			if (!rj_is_int(j) || j->valuedouble < 1 || j->valuedouble > 64) {
				snprintf(err, errlen, "settings: \"jobs\" must be a whole number from 1 "
						      "to 64");
				return -1;
			}
			st->jobs = (int)j->valuedouble;
		}
		if (num_setting(s, "probe_timeout", 0, 3600, true, &st->probe_timeout, err,
				errlen) < 0 ||
		    num_setting(s, "slow", 0, 3600, true, &st->slow, err, errlen) < 0 ||
		    num_setting(s, "recovery", 0, 3600, false, &st->recovery, err, errlen) < 0 ||
		    num_setting(s, "settle", 0, 3600, false, &st->settle, err, errlen) < 0 ||
		    num_setting(s, "max_time", 0, 7 * 86400, true, &st->max_time, err, errlen) < 0)
			return -1;
		const cJSON *r = rj_get(s, "restart");
		if (r) {
			if (!cJSON_IsString(r) || (strcmp(r->valuestring, "on-failure") &&
						   strcmp(r->valuestring, "every-cell"))) {
				snprintf(err, errlen, "settings: \"restart\" must be \"on-failure\" or "
						      "\"every-cell\"");
				return -1;
			}
			st->restart_every_cell = !strcmp(r->valuestring, "every-cell");
		}
	}
	if (cli) {
		if (cli->jobs > 0)
			st->jobs = cli->jobs;
		if (cli->probe_timeout > 0)
			st->probe_timeout = cli->probe_timeout;
		if (cli->slow > 0)
			st->slow = cli->slow;
		if (cli->recovery >= 0)
			st->recovery = cli->recovery;
		if (cli->settle >= 0)
			st->settle = cli->settle;
		if (cli->max_time > 0)
			st->max_time = cli->max_time;
		if (cli->restart >= 0)
			st->restart_every_cell = cli->restart == 1;
	}
	if (st->slow >= st->probe_timeout) {
		snprintf(err, errlen, "the slow threshold (%gs) must be shorter than the probe "
				      "time-out (%gs)",
			 st->slow, st->probe_timeout);
		return -1;
	}
	const cJSON *stop = rj_get(sw->service, "stop_timeout");
	st->stop_timeout = cJSON_IsNumber(stop) ? stop->valuedouble : 5;
	return 0;
}

/* Does any string in the tree hold "$NAME" or "${NAME}"? */
static bool uses_var(const cJSON *j, const char *name)
{
	if (cJSON_IsString(j)) {
		size_t n = strlen(name);
		for (const char *p = strchr(j->valuestring, '$'); p; p = strchr(p + 1, '$')) {
			const char *q = p[1] == '{' ? p + 2 : p + 1;
			if (!strncmp(q, name, n) &&
			    (p[1] == '{' ? q[n] == '}' : !(isalnum((unsigned char)q[n]) || q[n] == '_')))
				return true;
		}
		return false;
	}
	for (const cJSON *c = j ? j->child : NULL; c; c = c->next)
		if (uses_var(c, name))
			return true;
	return false;
}

/* ---- the whole ---------------------------------------------------------------------------- */

static bool is_experiment(const cJSON *doc)
{
	return rj_get(doc, "method") || rj_get(doc, "steady-state-hypothesis") ||
	       (rj_get(doc, "extensions") && !rj_get(doc, "service"));
}

static const cJSON *chaos_ext(const cJSON *doc)
{
	const cJSON *exts = rj_get(doc, "extensions");
	for (const cJSON *e = cJSON_IsArray(exts) ? exts->child : NULL; e; e = e->next) {
		const cJSON *n = rj_get(e, "name");
		if (cJSON_IsString(n) && !strcmp(n->valuestring, "chaos"))
			return e;
	}
	return NULL;
}

int sweep_load(struct sweep *sw, cJSON *doc, const char *path, const struct sw_cli *cli,
	       char *err, size_t errlen)
{
	char msg[RUN_ERR_MAX];
	sw->path = path ? path : "command line";
	pthread_mutex_init(&sw->lock, NULL);
	sw->doc = doc ? doc : cJSON_CreateObject();
	if (!cJSON_IsObject(sw->doc)) {
		snprintf(err, errlen, "a sweep must be a JSON object");
		return -1;
	}
	const cJSON *section, *svc, *ssh = NULL;
	bool experiment = is_experiment(sw->doc);
	if (experiment) {
		const cJSON *ext = chaos_ext(sw->doc);
		svc = rj_get(ext, "service");
		section = rj_get(ext, "sweep");
		if (section && !cJSON_IsObject(section)) {
			snprintf(err, errlen, "extension 'chaos': \"sweep\" must be an object");
			return -1;
		}
		if (section && check_keys(section, section_keys, "extension 'chaos': sweep", err,
					  errlen) < 0)
			return -1;
		ssh = rj_get(rj_get(sw->doc, "steady-state-hypothesis"), "probes");
	} else {
		if (check_keys(sw->doc, file_keys, "sweep", err, errlen) < 0)
			return -1;
		svc = rj_get(sw->doc, "service");
		section = sw->doc;
	}
	const cJSON *title = rj_get(sw->doc, "title");
	sw->title = xstrdup(cJSON_IsString(title) ? title->valuestring : "");

	/* the service, with the command-line pieces */
	cJSON *s = cJSON_IsObject(svc) ? cJSON_Duplicate(svc, true) : cJSON_CreateObject();
	if (svc && !cJSON_IsObject(svc)) {
		cJSON_Delete(s);
		snprintf(err, errlen, "\"service\" must be an object");
		return -1;
	}
	if (cli && cli->service)
		rj_set(s, "command", cJSON_CreateString(cli->service));
	if (cli && cli->ready) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "http", cli->ready);
		const cJSON *old = rj_get(rj_get(s, "ready"), "timeout");
		if (old)
			cJSON_AddItemToObject(r, "timeout", cJSON_Duplicate(old, true));
		rj_set(s, "ready", r);
	}
	if (cli && cli->nrules) {
		cJSON *rules = rj_get(s, "rules");
		if (!cJSON_IsArray(rules)) {
			rules = cJSON_CreateArray();
			rj_set(s, "rules", rules);
		}
		for (size_t i = 0; i < cli->nrules; i++)
			cJSON_AddItemToArray(rules, cJSON_CreateString(cli->rules[i]));
	}
	sw->service = s;
	if (!rj_get(s, "command")) {
		snprintf(err, errlen, "no service: give its command (\"service\": {\"command\": "
				      "...} or --service)");
		return -1;
	}
	cJSON *wrap = cJSON_CreateObject();
	cJSON_AddItemReferenceToObject(wrap, "service", s);
	int rc = run_chaos_validate_extension(wrap, msg, sizeof(msg));
	cJSON_Delete(wrap);
	if (rc < 0) {
		/* "extension 'chaos': service ..." reads oddly for a sweep file */
		const char *m = strncmp(msg, "extension 'chaos': ", 19) || experiment ? msg
										     : msg + 19;
		snprintf(err, errlen, "%s", m);
		return -1;
	}
	const cJSON *ports = rj_get(s, "ports");
	if (ports) {
		bool ok = cJSON_IsArray(ports);
		for (const cJSON *p = ok ? ports->child : NULL; p && ok; p = p->next)
			ok = cJSON_IsString(p) && is_identifier(p->valuestring) &&
			     strcmp(p->valuestring, "instance");
		if (!ok) {
			snprintf(err, errlen, "service \"ports\" must be a list of variable names "
					      "(like \"port\")");
			return -1;
		}
		sw->nports = (size_t)cJSON_GetArraySize(ports);
		sw->ports = xcalloc(sw->nports, sizeof(char *));
		size_t i = 0;
		for (const cJSON *p = ports->child; p; p = p->next)
			sw->ports[i++] = xstrdup(p->valuestring);
	} else {
		sw->nports = 1;
		sw->ports = xcalloc(1, sizeof(char *));
		sw->ports[0] = xstrdup("port");
	}

	/* configuration and secrets, as an experiment's */
	const struct run_vars *vars = cli ? &cli->vars : NULL;
	sw->config = run_load_configuration(rj_get(sw->doc, "configuration"), vars, msg,
					    sizeof(msg));
	if (!sw->config) {
		snprintf(err, errlen, "%s", msg);
		return -1;
	}
	sw->secrets = run_load_secrets(rj_get(sw->doc, "secrets"), vars, msg, sizeof(msg));
	if (!sw->secrets) {
		snprintf(err, errlen, "%s", msg);
		return -1;
	}

	/* endpoints */
	const cJSON *eps = rj_get(section, "endpoints");
	cJSON *cli_eps = NULL;
	if (cli && cli->nendpoints) {
		cli_eps = cJSON_CreateArray();
		for (size_t i = 0; i < cli->nendpoints; i++)
			cJSON_AddItemToArray(cli_eps, cJSON_CreateString(cli->endpoints[i]));
		eps = cli_eps;
	}
	if (!eps && experiment)
		eps = ssh;
	if (!cJSON_IsArray(eps) || !eps->child) {
		cJSON_Delete(cli_eps);
		snprintf(err, errlen, "no endpoints: list what to probe (\"endpoints\": [URL, ...] "
				      "or --endpoint URL)%s",
			 experiment ? ", or give the experiment steady-state probes" : "");
		return -1;
	}
	sw->neps = (size_t)cJSON_GetArraySize(eps);
	sw->eps = xcalloc(sw->neps, sizeof(*sw->eps));
	size_t i = 0;
	for (const cJSON *e = eps->child; e; e = e->next, i++) {
		if (load_endpoint(sw, e, i, &sw->eps[i], err, errlen) < 0) {
			cJSON_Delete(cli_eps);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(sw->eps[k].name, sw->eps[i].name)) {
				snprintf(err, errlen, "two endpoints are named '%s': give them "
						      "different \"name\"s",
					 sw->eps[i].name);
				cJSON_Delete(cli_eps);
				return -1;
			}
	}
	cJSON_Delete(cli_eps);

	/* dependencies */
	const cJSON *deps = rj_get(section, "dependencies");
	cJSON *cli_deps = NULL;
	if (cli && cli->ndeps) {
		bool discover = cli->ndeps == 1 && !strcmp(cli->deps[0], "discover");
		if (discover) {
			cli_deps = cJSON_CreateString("discover");
		} else {
			cli_deps = cJSON_CreateArray();
			for (size_t k = 0; k < cli->ndeps; k++)
				cJSON_AddItemToArray(cli_deps, cJSON_CreateString(cli->deps[k]));
		}
		deps = cli_deps;
	}
	sw->deps_mode = DEPS_DISCOVER;
	if (!deps || (cJSON_IsString(deps) && !strcmp(deps->valuestring, "discover"))) {
		/* discover */
	} else if (cJSON_IsArray(deps)) {
		if (!deps->child) {
			cJSON_Delete(cli_deps);
			snprintf(err, errlen, "\"dependencies\" is empty: list some, or leave it out "
					      "to discover them");
			return -1;
		}
		sw->deps_mode = DEPS_LISTED;
		cJSON *sub = run_subst(deps, sw->config, sw->secrets);
		for (const cJSON *d = sub->child; d; d = d->next) {
			struct sw_dep dep = {0};
			if (sweep_dep_parse(d, &dep, err, errlen) < 0) {
				cJSON_Delete(sub);
				cJSON_Delete(cli_deps);
				return -1;
			}
			if (have_target(sw, dep.target)) {
				snprintf(err, errlen, "dependency '%s' is listed twice", dep.target);
				dep_free(&dep);
				cJSON_Delete(sub);
				cJSON_Delete(cli_deps);
				return -1;
			}
			dep.source = xstrdup("listed");
			struct sw_dep *v = realloc(sw->deps, (sw->ndeps + 1) * sizeof(*v));
			if (!v)
				abort();
			sw->deps = v;
			sw->deps[sw->ndeps++] = dep;
		}
		cJSON_Delete(sub);
	} else if (cJSON_IsObject(deps)) {
		static const char *const ok[] = {"discover", "record", "exclude", NULL};
		if (check_keys(deps, ok, "dependencies", err, errlen) < 0) {
			cJSON_Delete(cli_deps);
			return -1;
		}
		const cJSON *rec = rj_get(deps, "record"), *disc = rj_get(deps, "discover");
		const cJSON *ex = rj_get(deps, "exclude");
		if ((rec && disc) || (!rec && !cJSON_IsTrue(disc)) ||
		    (rec && !(cJSON_IsString(rec) && *rec->valuestring))) {
			cJSON_Delete(cli_deps);
			snprintf(err, errlen, "dependencies: give either \"discover\": true or "
					      "\"record\": FILE (written by chaos-exec --record)");
			return -1;
		}
		if (ex && !cJSON_IsArray(ex)) {
			cJSON_Delete(cli_deps);
			snprintf(err, errlen, "dependencies: \"exclude\" must be a list of targets");
			return -1;
		}
		if (ex)
			sw->exclude = run_subst(ex, sw->config, sw->secrets);
		if (rec) {
			sw->deps_mode = DEPS_RECORD;
			sw->record_path = xstrdup(rec->valuestring);
		}
	} else {
		cJSON_Delete(cli_deps);
		snprintf(err, errlen, "\"dependencies\" must be a list, \"discover\", or {\"record\": "
				      "FILE}");
		return -1;
	}
	cJSON_Delete(cli_deps);

	/* faults */
	const cJSON *faults = rj_get(section, "faults");
	cJSON *fl = NULL;
	if (cli && cli->nfaults) {
		fl = cJSON_CreateArray();
		for (size_t k = 0; k < cli->nfaults; k++)
			cJSON_AddItemToArray(fl, cJSON_CreateString(cli->faults[k]));
	} else if (faults) {
		if (!cJSON_IsArray(faults) || !faults->child) {
			snprintf(err, errlen, "\"faults\" must be a non-empty list (leave it out for "
					      "the defaults)");
			return -1;
		}
		fl = cJSON_Duplicate(faults, true);
	} else {
		fl = cJSON_CreateArray();
		for (size_t k = 0; sw_default_faults[k]; k++)
			cJSON_AddItemToArray(fl, cJSON_CreateString(sw_default_faults[k]));
	}
	sw->nfaults = (size_t)cJSON_GetArraySize(fl);
	sw->faults = xcalloc(sw->nfaults, sizeof(*sw->faults));
	i = 0;
	for (const cJSON *f = fl->child; f; f = f->next, i++) {
		if (load_fault(f, &sw->faults[i], err, errlen) < 0) {
			cJSON_Delete(fl);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(sw->faults[k].name, sw->faults[i].name)) {
				snprintf(err, errlen, "fault '%s' is listed twice",
					 sw->faults[i].name);
				cJSON_Delete(fl);
				return -1;
			}
	}
	cJSON_Delete(fl);

	if (load_settings(sw, rj_get(section, "settings"), cli, err, errlen) < 0)
		return -1;
	if (sw->set.jobs > 1) {
		bool used = false;
		for (size_t k = 0; k < sw->nports && !used; k++)
			used = uses_var(sw->service, sw->ports[k]);
		if (!used) {
			snprintf(err, errlen, "--jobs %d runs %d instances of the service at once, but "
					      "its command and environment use no port variable "
					      "(${%s}): they would collide; use --jobs 1, or give the "
					      "service its port from ${%s}",
				 sw->set.jobs, sw->set.jobs, sw->nports ? sw->ports[0] : "port",
				 sw->nports ? sw->ports[0] : "port");
			return -1;
		}
	}
	return 0;
}

int sweep_make_cells(struct sweep *sw, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	sw->ncells = sw->ndeps * sw->nfaults;
	sw->cells = xcalloc(sw->ncells, sizeof(*sw->cells));
	size_t k = 0;
	for (size_t d = 0; d < sw->ndeps; d++)
		for (size_t f = 0; f < sw->nfaults; f++, k++) {
			struct sw_cell *c = &sw->cells[k];
			const struct sw_dep *dep = &sw->deps[d];
			const struct sw_fault *fault = &sw->faults[f];
			c->index = k;
			c->dep = (int)d;
			c->fault = (int)f;
			c->start = c->fault_on = c->fault_off = c->end = -1;
			c->injected = -1;
			c->job = c->instance = -1;
			c->eps = xcalloc(sw->neps, sizeof(*c->eps));
			char rule[2 * CHAOS_RULE_TEXT_MAX];
			if (fault->dns && !dep->dns_target) {
				c->state = CELL_NA;
				snprintf(rule, sizeof(rule), "%s", dep->target);
				char why[600];
				snprintf(why, sizeof(why), "%s is an address: no name is looked up",
					 dep->target);
				c->why = xstrdup(why);
			} else {
				snprintf(rule, sizeof(rule), "%s %s",
					 fault->dns ? dep->dns_target : dep->target, fault->action);
				struct chaos_rule r;
				char msg[CHAOS_ERR_MAX];
				if (chaos_rule_parse(rule, &r, msg, sizeof(msg)) < 0) {
					c->state = CELL_NA;
					c->why = xstrdup(msg);
				}
			}
			c->rule = xstrdup(rule);
			for (size_t e = 0; e < sw->neps; e++)
				c->eps[e].result = c->eps[e].during = SW_NA;
		}
	return 0;
}

static void probe_free(struct sw_probe *p)
{
	free(p->detail);
}

void sweep_free(struct sweep *sw)
{
	for (size_t i = 0; i < sw->neps; i++) {
		free(sw->eps[i].name);
		free(sw->eps[i].desc);
		cJSON_Delete(sw->eps[i].probe);
		cJSON_Delete(sw->eps[i].tolerance);
	}
	free(sw->eps);
	for (size_t i = 0; i < sw->ndeps; i++)
		dep_free(&sw->deps[i]);
	free(sw->deps);
	for (size_t i = 0; i < sw->nfaults; i++) {
		free(sw->faults[i].name);
		free(sw->faults[i].action);
		free(sw->faults[i].why);
	}
	free(sw->faults);
	for (size_t i = 0; i < sw->ncells; i++) {
		struct sw_cell *c = &sw->cells[i];
		free(c->rule);
		free(c->why);
		free(c->eps);
		for (size_t k = 0; k < c->nprobes; k++)
			probe_free(&c->probes[k]);
		free(c->probes);
		for (size_t k = 0; k < c->nevents; k++)
			free(c->events[k].what);
		free(c->events);
		free(c->inject_times);
		free(c->exited);
		free(c->log_tail);
	}
	free(sw->cells);
	for (size_t i = 0; i < sw->nbaseline; i++)
		probe_free(&sw->baseline[i]);
	free(sw->baseline);
	for (size_t i = 0; i < sw->nports; i++)
		free(sw->ports[i]);
	free(sw->ports);
	free(sw->title);
	free(sw->record_path);
	free(sw->abort_reason);
	free(sw->workdir);
	cJSON_Delete(sw->exclude);
	cJSON_Delete(sw->service);
	cJSON_Delete(sw->config);
	cJSON_Delete(sw->secrets);
	cJSON_Delete(sw->doc);
	pthread_mutex_destroy(&sw->lock);
}
