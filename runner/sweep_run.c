/* sweep_run.c -- instances of the service, probes, one cell, the workers, discovery
 *
 * Each worker (--jobs N: N threads) runs cells one after the other on its own instance of the
 * service: `chaos-exec [-f RULE]... --log FAULTS.log -- COMMAND`, with its own ports (every
 * variable of service.ports gets a free loopback port, ${instance} its number).  A cell:
 *
 *   1. the steady state: every endpoint answers as expected (else the instance is restarted
 *      once; else the cell does not run, and says why);
 *   2. the fault goes on: `chaos-ctl EXEC_PID add --json RULE BASE...` then the old copies of
 *      the service's own rules are removed, so that the fault comes before them (the first rule
 *      that fires decides: "db dns=nxdomain" must win over the service's "db dns=127.0.0.1");
 *   3. after "settle" seconds, every endpoint is probed once;
 *   4. the fault's injected counter is read and the fault comes off;
 *   5. every endpoint is probed until it answers as expected again, for at most "recovery"
 *      seconds; an instance that did not recover (or exited) is replaced for the next cell.
 *
 * The chaos-exec pid stands for the service's whole process tree.  A worker stops its instance
 * before it ends: the instance's PR_SET_PDEATHSIG follows the thread that started it.  Every
 * fault put on is taken off at the end of its cell whatever happens (a signal, the time limit,
 * a failed probe); one that cannot be taken off takes its instance down with it.
 */
#include "sweep.h"

#include "rule.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PORTS 16
#define MAX_RECOVERY_PROBES 400 /* recorded per cell; more are run but not kept */

struct instance {
	int id;                  /* 1, 2, ...: ${instance} */
	int job;
	struct run_service svc;
	bool running, used;
	cJSON *config;           /* configuration + ports + instance */
	cJSON *service;          /* the service object, substituted */
	cJSON *probes;           /* the endpoints' probes, substituted (array) */
	long ports[MAX_PORTS];
	char *faults_log;        /* chaos-exec --log */
	char *out_log;           /* the service's stdout and stderr */
	long faults_off;         /* how far the fault log has been read */
	struct run_base base;    /* the service's own rules (substituted), their ids now */
};

static unsigned sweep_gen; /* the signal count the sweep started with */
static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;
static long *ports_given;
static size_t nports_given;
static int next_instance_id = 1;

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		abort();
	return p;
}

static double now_rel(const struct sweep *sw)
{
	return run_now() - sw->t0;
}

static bool interrupted(void)
{
	return run_signal_count() != sweep_gen;
}

/* Seconds left before the time limit (a large number without one). */
static double left(const struct sweep *sw)
{
	return sw->deadline > 0 ? sw->deadline - run_now() : 1e9;
}

static bool stopping(const struct sweep *sw)
{
	return interrupted() || left(sw) <= 0;
}

const char *sw_result_name(enum sw_result r)
{
	switch (r) {
	case SW_OK: return "ok";
	case SW_SLOW: return "slow";
	case SW_ERROR: return "error";
	case SW_HANG: return "hang";
	case SW_NORECOVER: return "did not recover";
	case SW_NOTRUN: return "not run";
	case SW_NA: return "n/a";
	}
	return "?";
}

/* ---- recording ---------------------------------------------------------------------------- */

static void cell_event(struct sw_cell *c, double t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cell_event(struct sw_cell *c, double t, const char *fmt, ...)
{
	if (!c)
		return;
	char buf[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c->nevents == c->capevents) {
		c->capevents = c->capevents ? 2 * c->capevents : 8;
		c->events = realloc(c->events, c->capevents * sizeof(*c->events));
		if (!c->events)
			abort();
	}
	c->events[c->nevents].t = t;
	c->events[c->nevents++].what = xstrdup(buf);
}

static struct sw_probe *cell_probe(struct sw_cell *c)
{
	if (c->nprobes == c->capprobes) {
		c->capprobes = c->capprobes ? 2 * c->capprobes : 16;
		c->probes = realloc(c->probes, c->capprobes * sizeof(*c->probes));
		if (!c->probes)
			abort();
	}
	struct sw_probe *p = &c->probes[c->nprobes++];
	memset(p, 0, sizeof(*p));
	return p;
}

/* ---- ports, files ------------------------------------------------------------------------- */

/* A loopback TCP port nobody listens on now, never the same twice in this sweep. */
static long free_port(char *err, size_t errlen)
{
	for (int tries = 0; tries < 50; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -1;
		}
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t l = sizeof(a);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
			snprintf(err, errlen, "cannot find a free port: %s", strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		long port = ntohs(a.sin_port);
		pthread_mutex_lock(&port_lock);
		bool seen = false;
		for (size_t i = 0; i < nports_given && !seen; i++)
			seen = ports_given[i] == port;
		if (!seen) {
			long *v = realloc(ports_given, (nports_given + 1) * sizeof(*v));
			if (!v)
				abort();
			ports_given = v;
			ports_given[nports_given++] = port;
		}
		pthread_mutex_unlock(&port_lock);
		if (!seen)
			return port;
	}
	snprintf(err, errlen, "cannot find a free port");
	return -1;
}

static off_t file_size(const char *path)
{
	struct stat st;
	return path && stat(path, &st) == 0 ? st.st_size : 0;
}

/* The last lines (at most max bytes) written to path after offset from. */
static char *file_tail(const char *path, off_t from, size_t max)
{
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return NULL;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t start = size - (off_t)max > from ? size - (off_t)max : from;
	if (start < 0)
		start = 0;
	if (size <= start) {
		close(fd);
		return NULL;
	}
	size_t n = (size_t)(size - start);
	char *buf = malloc(n + 1);
	if (!buf)
		abort();
	ssize_t r = pread(fd, buf, n, start);
	close(fd);
	if (r <= 0) {
		free(buf);
		return NULL;
	}
	buf[r] = '\0';
	char *text = buf;
	if (start > from) {
		/* begin on a whole line */
		char *nl = strchr(buf, '\n');
		if (nl && nl[1])
			text = nl + 1;
	}
	char *out = rj_text_from_bytes(text, strlen(text));
	free(buf);
	return out;
}

/* ---- instances ---------------------------------------------------------------------------- */

static void instance_clear(struct instance *in)
{
	cJSON_Delete(in->config);
	cJSON_Delete(in->service);
	cJSON_Delete(in->probes);
	in->config = in->service = in->probes = NULL;
	run_base_free(&in->base);
}

static void instance_stop(struct sweep *sw, struct instance *in, struct sw_cell *c,
			  const char *why)
{
	if (!in->running)
		return;
	char how[160] = "";
	bool gone = run_service_exited(&in->svc, how, sizeof(how));
	if (!gone)
		run_service_stop(&in->svc, sw->set.stop_timeout);
	cell_event(c, now_rel(sw), "instance %d stopped (%s)", in->id, gone ? how : why);
	in->running = false;
}

static void instance_free(struct instance *in)
{
	instance_clear(in);
	run_service_free(&in->svc);
	free(in->faults_log);
	free(in->out_log);
}

/* Start (or restart) the instance and wait until it is ready. */
static int instance_start(struct sweep *sw, struct instance *in, struct sw_cell *c, char *err,
			  size_t errlen)
{
	char msg[RUN_ERR_MAX / 2];
	instance_stop(sw, in, c, "restart");
	instance_clear(in);
	if (in->id == 0) {
		pthread_mutex_lock(&sw->lock);
		in->id = next_instance_id++;
		pthread_mutex_unlock(&sw->lock);
	}
	in->config = cJSON_Duplicate(sw->config, true);
	for (size_t i = 0; i < sw->nports && i < MAX_PORTS; i++) {
		long p = free_port(err, errlen);
		if (p < 0)
			return -1;
		in->ports[i] = p;
		rj_set(in->config, sw->ports[i], cJSON_CreateNumber((double)p));
	}
	rj_set(in->config, "instance", cJSON_CreateNumber(in->id));
	in->service = run_subst(sw->service, in->config, sw->secrets);
	if (!in->faults_log) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/faults-%d.log", sw->workdir, in->id);
		in->faults_log = xstrdup(path);
		snprintf(path, sizeof(path), "%s/service-%d.log", sw->workdir, in->id);
		in->out_log = xstrdup(path);
	}
	if (!rj_get(in->service, "log"))
		rj_set(in->service, "log", cJSON_CreateString(in->out_log));
	else {
		free(in->out_log);
		in->out_log = xstrdup(rj_get(in->service, "log")->valuestring);
	}
	in->probes = cJSON_CreateArray();
	for (size_t e = 0; e < sw->neps; e++)
		cJSON_AddItemToArray(in->probes,
				     run_subst(sw->eps[e].probe, in->config, sw->secrets));
	run_base_set(&in->base, rj_get(in->service, "rules"));

	/* a fresh fault log for each start: rule ids begin again */
	unlink(in->faults_log);
	in->faults_off = 0;
	char *opts[] = {"--log", in->faults_log, NULL};
	if (run_service_start(&in->svc, in->service, opts, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "the service did not start: %s", msg);
		return -1;
	}
	in->running = true;
	in->used = false;
	double t = now_rel(sw);
	cell_event(c, t, "instance %d started (pid %d)", in->id, (int)in->svc.service_pid);
	const cJSON *ready = rj_get(in->service, "ready");
	if (ready) {
		double cap = left(sw);
		off_t from = file_size(in->out_log);
		if (run_service_wait_ready(&in->svc, ready, sweep_gen, cap < 0 ? 0 : cap, msg,
					   sizeof(msg)) < 0) {
			/* its last words say why, more often than not */
			char *tail = file_tail(in->out_log, from, 400);
			char *last = tail ? tail + strlen(tail) : NULL;
			while (last && last > tail && (last[-1] == '\n' || last[-1] == ' '))
				*--last = '\0';
			char *nl = last ? strrchr(tail, '\n') : NULL;
			const char *word = nl ? nl + 1 : tail;
			snprintf(err, errlen, "instance %d: %s%s%.300s", in->id, msg,
				 word && *word ? "; its output ends: " : "", word ? word : "");
			free(tail);
			instance_stop(sw, in, c, "not ready");
			return -1;
		}
		cell_event(c, now_rel(sw), "instance %d ready", in->id);
	}
	if (run_base_read_ids(in->svc.exec_pid, &in->base, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "instance %d: %s", in->id, msg);
		instance_stop(sw, in, c, "no rules");
		return -1;
	}
	return 0;
}

/* ---- probes ------------------------------------------------------------------------------- */

static const char *curl_word(int code)
{
	switch (code) {
	case 6: return "unresolved";       /* CURLE_COULDNT_RESOLVE_HOST */
	case 7: return "refused";          /* CURLE_COULDNT_CONNECT */
	case 28: return "timeout";         /* CURLE_OPERATION_TIMEDOUT */
	case 35: return "tls failed";      /* CURLE_SSL_CONNECT_ERROR */
	case 52: return "empty reply";     /* CURLE_GOT_NOTHING */
	case 55: return "send failed";     /* CURLE_SEND_ERROR */
	case 56: return "reset";           /* CURLE_RECV_ERROR */
	case 8: return "bad reply";        /* CURLE_WEIRD_SERVER_REPLY */
	case 18: return "cut short";       /* CURLE_PARTIAL_FILE */
	default: return "failed";
	}
}

void sweep_classify(const struct sweep *sw, const struct sw_endpoint *ep,
		    const struct run_result *res, double latency, bool exited,
		    struct sw_probe *out)
{
	char msg[RUN_ERR_MAX];
	out->result = SW_ERROR;
	out->code[0] = '\0';
	free(out->detail);
	out->detail = NULL;
	if (res->fail == RUN_OK) {
		const cJSON *st = rj_get(res->output, "status");
		if (cJSON_IsNumber(st))
			snprintf(out->code, sizeof(out->code), ep->http ? "%d" : "exit %d",
				 (int)st->valuedouble);
		cJSON *tol = cJSON_Duplicate(ep->tolerance, true);
		struct run_tol_ctx ctx = {.config = sw->config, .secrets = sw->secrets};
		int met = run_tolerance_check(tol, res->output, &ctx, msg, sizeof(msg));
		cJSON_Delete(tol);
		if (met == 1) {
			out->result = latency > sw->set.slow ? SW_SLOW : SW_OK;
		} else if (met == 0) {
			if (!out->code[0])
				snprintf(out->code, sizeof(out->code), "unexpected");
			char *t = rj_print(ep->tolerance, -1);
			snprintf(msg, sizeof(msg), "answered %s; expected %s", out->code,
				 t ? t : "?");
			free(t);
			out->detail = xstrdup(msg);
		} else {
			snprintf(out->code, sizeof(out->code), "tolerance");
			out->detail = xstrdup(msg);
		}
		return;
	}
	out->detail = xstrdup(res->msg);
	if (res->fail == RUN_INTERRUPTED) {
		snprintf(out->code, sizeof(out->code), "interrupted");
		return;
	}
	if (res->fail == RUN_ERROR) {
		snprintf(out->code, sizeof(out->code), "probe error");
		return;
	}
	if (exited) {
		snprintf(out->code, sizeof(out->code), "exited");
		return;
	}
	if (res->timed_out) {
		out->result = SW_HANG;
		snprintf(out->code, sizeof(out->code), "timeout");
		return;
	}
	snprintf(out->code, sizeof(out->code), "%s", ep->http ? curl_word(res->curl) : "failed");
}

/* Has the instance's service exited?  After a failed probe, wait a little for it: a process
 * that dies mid-request closes the connection a moment before it can be reaped. */
static bool instance_exited(struct instance *in, double grace, char *how, size_t len)
{
	double end = run_now() + grace;
	for (;;) {
		if (run_service_exited(&in->svc, how, len))
			return true;
		if (run_now() >= end)
			return false;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* Probe endpoint e once.  cap: at most this many seconds. */
static void probe(struct sweep *sw, struct instance *in, size_t e, enum sw_phase ph, double cap,
		  struct sw_probe *out)
{
	const struct sw_endpoint *ep = &sw->eps[e];
	cJSON *p = cJSON_GetArrayItem(in->probes, (int)e);
	cJSON *prov = cJSON_Duplicate(rj_get(p, "provider"), true);
	double t = sw->set.probe_timeout;
	const cJSON *own = rj_get(prov, "timeout");
	if (cJSON_IsNumber(own) && own->valuedouble > 0 && own->valuedouble < t)
		t = own->valuedouble;
	if (cap < t)
		t = cap;
	if (t < 0.05)
		t = 0.05;
	rj_set(prov, "timeout", rj_float(t));
	out->limit = t;
	struct run_result res;
	out->endpoint = (int)e;
	out->phase = ph;
	out->start = now_rel(sw);
	double t0 = run_now();
	if (ep->http)
		run_http(prov, sweep_gen, &res);
	else
		run_process(prov, sweep_gen, &res);
	double latency = run_now() - t0;
	out->end = now_rel(sw);
	cJSON_Delete(prov);
	char how[160];
	bool exited = false;
	if (res.fail == RUN_FAILED)
		exited = instance_exited(in, 0.3, how, sizeof(how));
	else
		exited = run_service_exited(&in->svc, how, sizeof(how)) && res.fail != RUN_OK;
	sweep_classify(sw, ep, &res, latency, exited, out);
	cJSON_Delete(res.output);
}

static bool answered(const struct sw_probe *p)
{
	return p->result == SW_OK || p->result == SW_SLOW;
}

/* Every endpoint once; true when all answered as expected.  bad: the first that did not. */
static bool probe_all(struct sweep *sw, struct instance *in, struct sw_cell *c, enum sw_phase ph,
		      struct sw_probe *into, int *bad)
{
	bool all = true;
	*bad = -1;
	for (size_t e = 0; e < sw->neps; e++) {
		struct sw_probe tmp = {0};
		struct sw_probe *p = into ? &into[e] : c ? cell_probe(c) : &tmp;
		probe(sw, in, e, ph, left(sw), p);
		if (!answered(p) && all) {
			all = false;
			*bad = (int)e;
		}
		if (p == &tmp)
			free(tmp.detail);
		if (stopping(sw))
			return false;
	}
	return all;
}

/* ---- faults on and off -------------------------------------------------------------------- */

/* Put the cell's rule on, in front of the service's own rules.  Returns its id; -1 it is not
 * on; < -1: it is on (id -ret-2) but behind the service's own rules. */
static long fault_on(struct instance *in, const char *rule, char *err, size_t errlen)
{
	char *rules[] = {(char *)rule};
	long id = -1;
	int rc = run_ctl_add_front(in->svc.exec_pid, rules, 1, &in->base, &id, err, errlen);
	if (rc == 0)
		return id;
	if (rc == -2 && id >= 0)
		return -id - 2;
	return -1;
}

static int remove_id(struct instance *in, long id, char *err, size_t errlen)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%ld", id);
	char *items[] = {buf};
	return run_ctl(in->svc.exec_pid, "remove", items, 1, false, NULL, err, errlen);
}

/* The injected counter of rule id. */
static long injected_count(struct instance *in, long id)
{
	cJSON *ans = NULL;
	char err[RUN_ERR_MAX / 2];
	if (run_ctl(in->svc.exec_pid, "show", NULL, 0, true, &ans, err, sizeof(err)) < 0)
		return -1;
	long n = -1;
	const cJSON *rules = rj_get(ans, "rules");
	for (const cJSON *r = cJSON_IsArray(rules) ? rules->child : NULL; r; r = r->next) {
		const cJSON *i = rj_get(r, "id"), *inj = rj_get(r, "injected");
		if (cJSON_IsNumber(i) && (long)i->valuedouble == id && cJSON_IsNumber(inj))
			n = (long)inj->valuedouble;
	}
	cJSON_Delete(ans);
	return n;
}

/* "2026-11-24T21:35:40.093641Z" -> seconds since the sweep started. */
static bool log_time(const struct sweep *sw, const char *s, double *out)
{
	struct tm tm = {0};
	long usec = 0;
	int n = 0;
	if (sscanf(s, "%d-%d-%dT%d:%d:%d.%ldZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec, &n) < 7)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	*out = (double)(t - sw->t0_rt.tv_sec) + (double)usec / 1e6 -
	       (double)sw->t0_rt.tv_nsec / 1e9;
	return true;
}

/* Read what chaos-exec logged since the last time: the injections of rule id, with their times,
 * given to the probes they happened in. */
static void read_injections(struct sweep *sw, struct instance *in, struct sw_cell *c, long id)
{
	int fd = open(in->faults_log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size <= in->faults_off || size - in->faults_off > (64 << 20)) {
		in->faults_off = size;
		close(fd);
		return;
	}
	size_t n = (size_t)(size - in->faults_off);
	char *buf = malloc(n + 1);
	if (!buf)
		abort();
	ssize_t r = pread(fd, buf, n, in->faults_off);
	close(fd);
	if (r <= 0) {
		free(buf);
		return;
	}
	buf[r] = '\0';
	/* only whole lines: the rest is read next time */
	char *last = strrchr(buf, '\n');
	if (!last) {
		free(buf);
		return;
	}
	in->faults_off += (last - buf) + 1;
	last[1] = '\0';
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		cJSON *j = cJSON_Parse(line);
		const cJSON *rid = rj_get(j, "rule_id"), *time = rj_get(j, "time");
		double t;
		if (cJSON_IsNumber(rid) && (long)rid->valuedouble == id && cJSON_IsString(time) &&
		    log_time(sw, time->valuestring, &t)) {
			double *v = realloc(c->inject_times, (c->ninject + 1) * sizeof(*v));
			if (!v)
				abort();
			c->inject_times = v;
			c->inject_times[c->ninject++] = t;
			/* the probe it happened in; else the nearest within 2 ms (the log's clock
			 * and ours are read a little apart) */
			struct sw_probe *best = NULL;
			double dist = 0.002;
			for (size_t k = 0; k < c->nprobes; k++) {
				struct sw_probe *p = &c->probes[k];
				if (p->phase != PH_FAULT)
					continue;
				double d = t < p->start ? p->start - t : t > p->end ? t - p->end : 0;
				if (d <= dist && (!best || d < dist)) {
					best = p;
					dist = d;
				}
			}
			if (best) {
				best->injected++;
				c->eps[best->endpoint].injected++;
			}
		}
		cJSON_Delete(j);
	}
	free(buf);
}

/* ---- one cell ----------------------------------------------------------------------------- */

static void cell_not_run(struct sweep *sw, struct sw_cell *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cell_not_run(struct sweep *sw, struct sw_cell *c, const char *fmt, ...)
{
	char buf[RUN_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&sw->lock);
	c->state = CELL_NOTRUN;
	free(c->why);
	c->why = xstrdup(buf);
	for (size_t e = 0; e < sw->neps; e++)
		c->eps[e].result = c->eps[e].during = SW_NOTRUN;
	pthread_mutex_unlock(&sw->lock);
}

static const char *stop_reason(const struct sweep *sw, char *buf, size_t len)
{
	if (interrupted()) {
		const char *s = sigabbrev_np(run_signal_first());
		snprintf(buf, len, "interrupted (SIG%s)", s ? s : "?");
	} else {
		snprintf(buf, len, "the time limit (%gs) was reached", sw->set.max_time);
	}
	return buf;
}

/* Steady state before the fault: restart the instance once if it is not met. */
static int steady(struct sweep *sw, struct instance *in, struct sw_cell *c)
{
	char err[RUN_ERR_MAX], why[128];
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!in->running || (attempt == 0 && sw->set.restart_every_cell && in->used) ||
		    attempt == 1) {
			if (instance_start(sw, in, c, err, sizeof(err)) < 0) {
				if (stopping(sw)) {
					cell_not_run(sw, c, "%s", stop_reason(sw, why, sizeof(why)));
					return -1;
				}
				if (attempt == 1) {
					cell_not_run(sw, c, "%s", err);
					return -1;
				}
				continue;
			}
		}
		int bad;
		size_t first = c->nprobes;
		if (probe_all(sw, in, c, PH_STEADY, NULL, &bad))
			return 0;
		if (stopping(sw)) {
			cell_not_run(sw, c, "%s", stop_reason(sw, why, sizeof(why)));
			return -1;
		}
		if (attempt == 1) {
			const struct sw_probe *p = &c->probes[first + (size_t)bad];
			cell_not_run(sw, c, "no steady state before the fault: endpoint '%s' %s %s%s%s",
				     sw->eps[bad].name, sw_result_name(p->result), p->code,
				     p->detail ? ": " : "", p->detail ? p->detail : "");
			return -1;
		}
	}
	return -1;
}

static void run_cell(struct sweep *sw, struct instance *in, struct sw_cell *c)
{
	char err[RUN_ERR_MAX], why[128];
	c->start = now_rel(sw);
	c->job = in->job;
	if (steady(sw, in, c) < 0) {
		c->end = now_rel(sw);
		c->instance = in->id;
		return;
	}
	c->instance = in->id;
	c->pid = in->svc.service_pid;
	in->used = true;
	off_t out_from = file_size(in->out_log);

	/* the fault on */
	long id = fault_on(in, c->rule, err, sizeof(err));
	c->fault_on = now_rel(sw);
	if (id < -1) {
		/* on, but the service's own rules could not be moved behind it */
		long fid = -id - 2;
		char e2[RUN_ERR_MAX / 2];
		if (remove_id(in, fid, e2, sizeof(e2)) < 0)
			instance_stop(sw, in, c, "its fault could not be removed");
		cell_not_run(sw, c, "could not put the fault in front of the service's own rules: %s",
			     err);
		c->end = now_rel(sw);
		instance_stop(sw, in, c, "rules in an unknown order");
		return;
	}
	if (id < 0) {
		cell_not_run(sw, c, "the fault could not be put on: %s", err);
		c->end = now_rel(sw);
		return;
	}
	cell_event(c, c->fault_on, "fault on: %s (rule %ld)", c->rule, id);
	if (sw->set.settle > 0)
		run_sleep((uint64_t)(fmin(sw->set.settle, fmax(left(sw), 0)) * 1e9), sweep_gen);

	/* every endpoint under the fault */
	size_t during[sw->neps];
	bool cut = false;
	for (size_t e = 0; e < sw->neps && !cut; e++) {
		if (stopping(sw)) {
			cut = true;
			break;
		}
		during[e] = c->nprobes;
		struct sw_probe *p = cell_probe(c);
		probe(sw, in, e, PH_FAULT, left(sw), p);
		/* a probe cut short by the time limit or a signal tells nothing */
		if (stopping(sw))
			cut = true;
	}
	c->injected = in->running ? injected_count(in, id) : -1;

	/* the fault off, whatever happened */
	char how[160];
	bool exited = run_service_exited(&in->svc, how, sizeof(how));
	if (!exited) {
		if (remove_id(in, id, err, sizeof(err)) < 0 &&
		    !run_service_exited(&in->svc, how, sizeof(how)) &&
		    remove_id(in, id, err, sizeof(err)) < 0) {
			out_error("%s: COULD NOT REMOVE THE FAULT '%s': %s: stopping instance %d",
				  sw->path, c->rule, err, in->id);
			c->fault_stuck = true;
			instance_stop(sw, in, c, "its fault could not be removed");
		}
	}
	c->fault_off = now_rel(sw);
	cell_event(c, c->fault_off, c->fault_stuck ? "fault stuck: instance stopped" : "fault off");
	if (c->fault_stuck && !cut) {
		cell_not_run(sw, c, "the fault could not be taken off (%s): its instance was stopped, "
				    "so recovery was not checked",
			     err);
		for (size_t e = 0; e < sw->neps; e++) {
			const struct sw_probe *p = &c->probes[during[e]];
			c->eps[e].during = p->result;
			snprintf(c->eps[e].code, sizeof(c->eps[e].code), "%s", p->code);
			c->eps[e].latency = p->end - p->start;
			c->eps[e].limit = p->limit;
		}
		read_injections(sw, in, c, id);
		c->end = now_rel(sw);
		return;
	}
	if (cut) {
		cell_not_run(sw, c, "%s during the cell", stop_reason(sw, why, sizeof(why)));
		read_injections(sw, in, c, id);
		c->end = now_rel(sw);
		return;
	}

	/* recovery: every endpoint must answer as expected again */
	bool recovered[sw->neps];
	size_t pending = sw->neps;
	for (size_t e = 0; e < sw->neps; e++)
		recovered[e] = false;
	double rec_end = run_now() + sw->set.recovery;
	size_t kept = 0;
	for (int round = 0; pending && !c->fault_stuck; round++) {
		for (size_t e = 0; e < sw->neps; e++) {
			if (recovered[e])
				continue;
			double cap = round == 0 ? sw->set.probe_timeout : rec_end - run_now();
			if (cap > left(sw))
				cap = left(sw);
			struct sw_probe tmp = {0};
			struct sw_probe *p = kept < MAX_RECOVERY_PROBES ? cell_probe(c) : &tmp;
			if (p != &tmp)
				kept++;
			probe(sw, in, e, PH_RECOVERY, cap, p);
			if (answered(p)) {
				recovered[e] = true;
				c->eps[e].recovered = true;
				c->eps[e].recovery = p->end - c->fault_off;
				pending--;
			}
			free(tmp.detail);
			if (stopping(sw))
				break;
		}
		if (!pending || stopping(sw) || run_now() >= rec_end ||
		    run_service_exited(&in->svc, how, sizeof(how)))
			break;
		run_sleep((uint64_t)(fmin(0.1, fmax(rec_end - run_now(), 0)) * 1e9), sweep_gen);
	}
	if (pending && stopping(sw)) {
		cell_not_run(sw, c, "%s while waiting for the service to recover",
			     stop_reason(sw, why, sizeof(why)));
		read_injections(sw, in, c, id);
		c->end = now_rel(sw);
		return;
	}

	/* the verdicts */
	for (size_t e = 0; e < sw->neps; e++) {
		const struct sw_probe *p = &c->probes[during[e]];
		struct sw_cell_ep *r = &c->eps[e];
		r->during = p->result;
		snprintf(r->code, sizeof(r->code), "%s", p->code);
		r->latency = p->end - p->start;
		r->limit = p->limit;
		r->result = r->recovered ? p->result : SW_NORECOVER;
	}
	read_injections(sw, in, c, id);
	if (c->injected < 0)
		c->injected = (long)c->ninject; /* the service is gone: what it logged */
	if (run_service_exited(&in->svc, how, sizeof(how))) {
		c->exited = xstrdup(how);
		cell_event(c, now_rel(sw), "service exited: %s", how);
		in->running = false;
	}
	if (c->exited || pending)
		c->log_tail = file_tail(in->out_log, out_from, 3000);
	if (pending && in->running)
		instance_stop(sw, in, c, "did not recover");
	pthread_mutex_lock(&sw->lock);
	c->state = CELL_DONE;
	pthread_mutex_unlock(&sw->lock);
	c->end = now_rel(sw);
}

/* ---- progress ----------------------------------------------------------------------------- */

static size_t runnable(const struct sweep *sw)
{
	size_t n = 0;
	for (size_t i = 0; i < sw->ncells; i++)
		if (sw->cells[i].state == CELL_PENDING || sw->cells[i].state == CELL_RUNNING ||
		    sw->cells[i].state == CELL_DONE ||
		    (sw->cells[i].state == CELL_NOTRUN && sw->cells[i].job >= 0))
			n++;
	return n;
}

static size_t total_runnable;

static void progress_start(struct sweep *sw, const struct sw_cell *c, size_t nth)
{
	pthread_mutex_lock(&sw->lock);
	size_t running = sw->running, done = sw->done;
	pthread_mutex_unlock(&sw->lock);
	size_t waiting = total_runnable - done - running;
	out_line("[%*zu/%zu] %s: %s  ... (%zu running, %zu waiting, %.1fs)",
		 total_runnable >= 100 ? 3 : total_runnable >= 10 ? 2 : 1, nth, total_runnable,
		 sw->deps[c->dep].name, sw->faults[c->fault].name, running, waiting,
		 now_rel(sw));
}

static void progress_end(struct sweep *sw, const struct sw_cell *c, size_t nth)
{
	char line[2048];
	size_t n = 0;
	if (c->state == CELL_NOTRUN) {
		snprintf(line, sizeof(line), "not run: %s", c->why ? c->why : "?");
	} else {
		for (size_t e = 0; e < sw->neps && n < sizeof(line) - 200; e++) {
			char t[96];
			sweep_cell_short(sw, c, e, t, sizeof(t));
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s %s", e ? ", " : "",
					      sw->eps[e].name, t);
		}
		if (c->exited)
			snprintf(line + n, sizeof(line) - n, "; the service exited (%s)", c->exited);
	}
	pthread_mutex_lock(&sw->lock);
	size_t done = sw->done;
	pthread_mutex_unlock(&sw->lock);
	out_line("[%*zu/%zu] %s: %s  %.2fs: %s  (%zu left)",
		 total_runnable >= 100 ? 3 : total_runnable >= 10 ? 2 : 1, nth, total_runnable,
		 sw->deps[c->dep].name, sw->faults[c->fault].name, c->end - c->start, line,
		 total_runnable - done);
}

/* ---- workers ------------------------------------------------------------------------------ */

struct worker {
	struct sweep *sw;
	struct instance *in;
	int job;
	pthread_t thread;
};

static size_t started_count;

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sweep *sw = w->sw;
	for (;;) {
		pthread_mutex_lock(&sw->lock);
		struct sw_cell *c = NULL;
		while (sw->next < sw->ncells) {
			struct sw_cell *x = &sw->cells[sw->next++];
			if (x->state == CELL_PENDING) {
				c = x;
				break;
			}
		}
		size_t nth = 0;
		if (c) {
			c->state = CELL_RUNNING;
			c->job = w->job;
			sw->running++;
			nth = ++started_count;
		}
		pthread_mutex_unlock(&sw->lock);
		if (!c)
			break;
		if (stopping(sw)) {
			char why[128];
			cell_not_run(sw, c, "%s before the cell started",
				     stop_reason(sw, why, sizeof(why)));
		} else {
			progress_start(sw, c, nth);
			run_cell(sw, w->in, c);
		}
		pthread_mutex_lock(&sw->lock);
		sw->running--;
		sw->done++;
		pthread_mutex_unlock(&sw->lock);
		if (c->start >= 0)
			progress_end(sw, c, nth);
	}
	instance_stop(sw, w->in, NULL, "end of the sweep");
	return NULL;
}

/* ---- fault kinds -------------------------------------------------------------------------- */

/* chaos-exec --check -f RULE...: 0 taken, 1 refused (why: its message), -1 could not ask. */
static int exec_check(char **rules, size_t n, char *why, size_t len)
{
	char *exe = run_sibling("chaos-exec");
	if (!exe) {
		snprintf(why, len, "chaos-exec not found next to chaos-run or in PATH");
		return -1;
	}
	char **argv = calloc(2 * n + 3, sizeof(char *));
	if (!argv)
		abort();
	size_t k = 0;
	argv[k++] = exe;
	argv[k++] = "--check";
	for (size_t i = 0; i < n; i++) {
		argv[k++] = "-f";
		argv[k++] = rules[i];
	}
	int pe[2];
	if (pipe2(pe, O_CLOEXEC) < 0) {
		free(argv);
		free(exe);
		snprintf(why, len, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(pe[1], 2);
		execv(exe, argv);
		_exit(127);
	}
	close(pe[1]);
	free(argv);
	char buf[2048];
	size_t got = 0;
	ssize_t r;
	while (got < sizeof(buf) - 1 &&
	       ((r = read(pe[0], buf + got, sizeof(buf) - 1 - got)) > 0 || (r < 0 && errno == EINTR)))
		if (r > 0)
			got += (size_t)r;
	buf[got] = '\0';
	close(pe[0]);
	int status = 0;
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		snprintf(why, len, "cannot run %s --check", exe);
		free(exe);
		return -1;
	}
	free(exe);
	if (WEXITSTATUS(status) == 0)
		return 0;
	/* "chaos-exec: --fault 'RULE': what": keep what */
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	const char *what = strstr(buf, "': ");
	snprintf(why, len, "%.500s", what ? what + 3 : buf);
	return 1;
}

int sweep_check_faults(struct sweep *sw, char *err, size_t errlen)
{
	for (size_t i = 0; i < sw->nfaults; i++) {
		struct sw_fault *f = &sw->faults[i];
		char rule[CHAOS_RULE_TEXT_MAX + 32], why[512];
		snprintf(rule, sizeof(rule), "%s %s", f->dns ? "sweep.invalid" : "sweep.invalid:1",
			 f->action);
		char *rules[] = {rule};
		int rc = exec_check(rules, 1, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		f->available = rc == 0;
		free(f->why);
		f->why = rc ? xstrdup(why) : NULL;
	}
	return 0;
}

/* Cells of unavailable kinds do not run; the rules of the others are checked once more with
 * their real targets (one call; rule by rule only if that one refuses). */
static int mark_cells(struct sweep *sw, char *err, size_t errlen)
{
	char **rules = calloc(sw->ncells + 1, sizeof(char *));
	size_t n = 0;
	if (!rules)
		abort();
	for (size_t i = 0; i < sw->ncells; i++) {
		struct sw_cell *c = &sw->cells[i];
		const struct sw_fault *f = &sw->faults[c->fault];
		if (c->state != CELL_PENDING)
			continue;
		if (!f->available) {
			char why[700];
			snprintf(why, sizeof(why), "fault kind '%s' not available: %s", f->action,
				 f->why ? f->why : "refused by chaos-exec");
			c->state = CELL_NOTRUN;
			c->why = xstrdup(why);
			for (size_t e = 0; e < sw->neps; e++)
				c->eps[e].result = c->eps[e].during = SW_NOTRUN;
			continue;
		}
		rules[n++] = c->rule;
	}
	char why[512];
	int rc = n ? exec_check(rules, n, why, sizeof(why)) : 0;
	if (rc < 0) {
		snprintf(err, errlen, "%s", why);
		free(rules);
		return -1;
	}
	if (rc == 1) {
		for (size_t i = 0; i < sw->ncells; i++) {
			struct sw_cell *c = &sw->cells[i];
			if (c->state != CELL_PENDING)
				continue;
			char *one[] = {c->rule};
			if (exec_check(one, 1, why, sizeof(why)) == 1) {
				c->state = CELL_NA;
				c->why = xstrdup(why);
			}
		}
	}
	free(rules);
	return 0;
}

/* ---- the whole sweep ---------------------------------------------------------------------- */

double sweep_bound(const struct sweep *sw)
{
	const cJSON *t = rj_get(rj_get(sw->service, "ready"), "timeout");
	double ready = cJSON_IsNumber(t) ? t->valuedouble : 30;
	double e = (double)sw->neps, pt = sw->set.probe_timeout;
	/* worst case: a restart and two steady states, every probe hanging, the recovery used up,
	 * a stop that needs SIGKILL, four chaos-ctl calls */
	double cell = 2 * (ready + e * pt) + sw->set.settle + e * pt + sw->set.recovery + pt +
		      sw->set.stop_timeout + 4 * 0.2;
	size_t n = 0;
	for (size_t i = 0; i < sw->ncells; i++)
		if (sw->cells[i].state == CELL_PENDING)
			n++;
	int jobs = sw->set.jobs < 1 ? 1 : sw->set.jobs;
	double total = ready + e * pt + cell * (double)((n + (size_t)jobs - 1) / (size_t)jobs);
	if (sw->set.max_time > 0 && sw->set.max_time + cell < total)
		total = sw->set.max_time + pt + sw->set.stop_timeout + 1;
	return total;
}

static char *make_workdir(char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/chaos-sweep.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(path)) {
		snprintf(err, errlen, "cannot make a working directory %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	return xstrdup(path);
}

/* Discovery or the record file; then the cells. */
static int find_deps(struct sweep *sw, struct instance *first, char *err, size_t errlen)
{
	char msg[RUN_ERR_MAX];
	if (sw->deps_mode == DEPS_RECORD) {
		cJSON *rec = run_load_file(sw->record_path, msg, sizeof(msg));
		if (!rec) {
			snprintf(err, errlen, "dependencies: %s", msg);
			return -1;
		}
		char src[4200];
		snprintf(src, sizeof(src), "record %s", sw->record_path);
		int rc = sweep_deps_from_record(sw, rec, src, first->ports, sw->nports, err, errlen);
		cJSON_Delete(rec);
		if (rc < 0)
			return -1;
	} else if (sw->deps_mode == DEPS_DISCOVER) {
		cJSON *ans = NULL;
		if (run_ctl(first->svc.exec_pid, "deps", NULL, 0, true, &ans, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "discovery: %s", msg);
			return -1;
		}
		int rc = sweep_deps_from_record(sw, ans, "discovered", first->ports, sw->nports, err,
						errlen);
		cJSON_Delete(ans);
		if (rc < 0)
			return -1;
	}
	if (!sw->ndeps) {
		snprintf(err, errlen, "discovery found no dependency: the service contacted nothing "
				      "while its endpoints were probed; list them in "
				      "\"dependencies\"");
		return -1;
	}
	return 0;
}

int sweep_run(struct sweep *sw, bool list_only, char *err, size_t errlen)
{
	char msg[RUN_ERR_MAX];
	sweep_gen = run_signal_count();
	sw->t0 = run_now();
	clock_gettime(CLOCK_REALTIME, &sw->t0_rt);
	sw->deadline = sw->set.max_time > 0 ? sw->t0 + sw->set.max_time : 0;
	sw->status = "aborted";
	if (sweep_check_faults(sw, err, errlen) < 0)
		return -1;
	sw->workdir = make_workdir(err, errlen);
	if (!sw->workdir)
		return -1;

	int jobs = sw->set.jobs;
	struct instance *ins = calloc((size_t)jobs, sizeof(*ins));
	struct worker *ws = calloc((size_t)jobs, sizeof(*ws));
	if (!ins || !ws)
		abort();
	for (int j = 0; j < jobs; j++)
		ins[j].job = j + 1;
	int rc = -1;

	/* the first instance: the baseline (the steady state before any fault), discovery */
	bool need_instance = !list_only || sw->deps_mode == DEPS_DISCOVER;
	if (need_instance) {
		out_line("starting the service (instance 1) for the steady state%s",
			 sw->deps_mode == DEPS_DISCOVER ? " and discovery" : "");
		if (instance_start(sw, &ins[0], NULL, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s", msg);
			goto out;
		}
		sw->baseline = calloc(sw->neps, sizeof(*sw->baseline));
		if (!sw->baseline)
			abort();
		sw->nbaseline = sw->neps;
		sw->baseline_pid = ins[0].svc.service_pid;
		int bad;
		if (!probe_all(sw, &ins[0], NULL, PH_BASELINE, sw->baseline, &bad)) {
			if (interrupted()) {
				snprintf(err, errlen, "interrupted");
				sw->status = "interrupted";
			} else if (bad >= 0) {
				const struct sw_probe *p = &sw->baseline[bad];
				snprintf(err, errlen, "the steady state is not met before any fault: "
						      "endpoint '%s' %s %s%s%s",
					 sw->eps[bad].name, sw_result_name(p->result), p->code,
					 p->detail ? ": " : "", p->detail ? p->detail : "");
			} else {
				snprintf(err, errlen, "the time limit was reached during the steady "
						      "state");
				sw->status = "time limit";
			}
			goto out;
		}
		for (size_t e = 0; e < sw->neps; e++)
			out_line("steady state: %s %s in %.3fs", sw->eps[e].name,
				 sw->baseline[e].code, sw->baseline[e].end - sw->baseline[e].start);
	}
	if (sw->deps_mode != DEPS_LISTED && find_deps(sw, &ins[0], err, errlen) < 0)
		goto out;
	if (sweep_make_cells(sw, err, errlen) < 0 || mark_cells(sw, err, errlen) < 0)
		goto out;
	total_runnable = 0;
	for (size_t i = 0; i < sw->ncells; i++)
		if (sw->cells[i].state == CELL_PENDING)
			total_runnable++;
	if (list_only) {
		rc = 0;
		sw->status = "listed";
		goto out;
	}
	(void)runnable;
	{
		size_t na = 0, nr = 0;
		for (size_t i = 0; i < sw->ncells; i++) {
			na += sw->cells[i].state == CELL_NA;
			nr += sw->cells[i].state == CELL_NOTRUN;
		}
		double bound = sweep_bound(sw);
		char b[32];
		if (bound < 120)
			snprintf(b, sizeof(b), "%.0fs", bound);
		else
			snprintf(b, sizeof(b), "%.0fm%02.0fs", floor(bound / 60), fmod(bound, 60));
		out_line("%zu dependenc%s x %zu fault%s = %zu cells (%zu to run, %zu n/a, %zu cannot "
			 "run), %zu endpoint%s, %d job%s; %s at worst%s",
			 sw->ndeps, sw->ndeps == 1 ? "y" : "ies", sw->nfaults,
			 sw->nfaults == 1 ? "" : "s", sw->ncells, total_runnable, na, nr, sw->neps,
			 sw->neps == 1 ? "" : "s", jobs, jobs == 1 ? "" : "s", b,
			 sw->set.max_time > 0 ? " (--max-time)" : " (every probe hanging)");
		for (size_t f = 0; f < sw->nfaults; f++)
			if (!sw->faults[f].available)
				out_warn("fault '%s' cannot run: %s", sw->faults[f].action,
					 sw->faults[f].why ? sw->faults[f].why : "refused");
	}
	started_count = 0;
	int started = 0;
	for (int j = 0; j < jobs; j++) {
		ws[j].sw = sw;
		ws[j].in = &ins[j];
		ws[j].job = j + 1;
		if (j == 0 || (size_t)j < total_runnable) {
			if (pthread_create(&ws[j].thread, NULL, worker_main, &ws[j]) != 0) {
				out_warn("cannot start job %d: %s", j + 1, strerror(errno));
				break;
			}
			started++;
		}
	}
	for (int j = 0; j < started; j++)
		pthread_join(ws[j].thread, NULL);
	rc = 0;
	if (interrupted()) {
		sw->status = "interrupted";
		sw->signal = run_signal_first();
	} else if (sw->deadline > 0 && left(sw) <= 0) {
		sw->status = "time limit";
	} else {
		sw->status = "completed";
	}
out:
	for (int j = 0; j < jobs; j++) {
		/* the first instance if nothing ran; the others stopped with their workers */
		instance_stop(sw, &ins[j], NULL, "end of the sweep");
		instance_free(&ins[j]);
	}
	free(ins);
	free(ws);
	sw->duration = now_rel(sw);
	if (rc < 0 && !sw->abort_reason)
		sw->abort_reason = xstrdup(err);
	return rc;
}
