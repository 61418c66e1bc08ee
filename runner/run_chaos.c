/* run_chaos.c -- our extension: a service under chaos-exec, faults through chaos-ctl, and the
 * promise that every fault the runner put on comes off
 *
 *   "extensions": [{"name": "chaos", "service": {"command": [...] | "sh text",
 *       "env": {...}, "cwd": DIR, "log": FILE, "stop_timeout": 5,
 *       "ready": {"http": URL | "process": {path, arguments}, "timeout": 30}}}]
 *   {"type": "action", "name": N, "provider": {"type": "chaos", "add": [RULE...]}}
 *   {"type": "action", "name": N, "provider": {"type": "chaos", "remove": "all" | [NAME|RULE...]}}
 *   optional "target": PID (another process already under chaos-exec)
 *
 * The service runs as `chaos-exec -- COMMAND` in its own process group; chaos-exec forks the
 * command, whose pid is the one chaos-ctl controls (also given to substitution as
 * ${chaos_service_pid}).  Faults are added with `chaos-ctl PID add --json RULE...` and removed
 * by id with `chaos-ctl PID remove ID...`.  run_chaos_cleanup runs whatever happened (rollback
 * strategy, status, signal, error): it removes every fault still on, then stops the service
 * (SIGTERM to its group, SIGKILL after stop_timeout).  The journal's "chaos" key records each
 * fault with when it was added and when it came off.
 */
#include "run.h"

#include "rule.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CTL_TIMEOUT 10.0 /* seconds for one chaos-ctl call */

struct fault {
	char *rule;
	char *id;       /* as chaos-ctl gave it; NULL if it gave none */
	long target;
	char *added_by;
	struct timespec added, removed;
	bool on;
	char *removed_by;
	char *error;    /* the last removal error */
	pid_t attach;   /* eBPF faults: the chaos-attach that holds them (0: chaos-ctl's) */
};

struct chaos_state {
	pthread_mutex_t lock;
	bool used;
	struct run_service svc;
	struct run_base base; /* the service's own rules */
	/* faults */
	struct fault *faults;
	size_t n;
};

static struct chaos_state *state(struct run_state *st)
{
	if (!st->chaos) {
		st->chaos = calloc(1, sizeof(*st->chaos));
		if (!st->chaos)
			abort();
		pthread_mutex_init(&st->chaos->lock, NULL);
	}
	return st->chaos;
}

static const cJSON *extension(const cJSON *exp)
{
	const cJSON *exts = rj_get(exp, "extensions");
	for (const cJSON *e = cJSON_IsArray(exts) ? exts->child : NULL; e; e = e->next) {
		const cJSON *n = rj_get(e, "name");
		if (cJSON_IsString(n) && !strcmp(n->valuestring, "chaos"))
			return e;
	}
	return NULL;
}

/* ---- validation ------------------------------------------------------------------------- */

static bool positive(const cJSON *x)
{
	return cJSON_IsNumber(x) && x->valuedouble > 0 && x->valuedouble < 86400;
}

int run_chaos_validate_extension(const cJSON *ext, char *err, size_t errlen)
{
	const cJSON *svc = rj_get(ext, "service");
	if (!svc)
		return 0;
	if (!cJSON_IsObject(svc)) {
		snprintf(err, errlen, "extension 'chaos': \"service\" must be an object");
		return -1;
	}
	const cJSON *cmd = rj_get(svc, "command");
	bool ok = (cJSON_IsString(cmd) && *cmd->valuestring) ||
		  (cJSON_IsArray(cmd) && cmd->child);
	for (const cJSON *c = cJSON_IsArray(cmd) ? cmd->child : NULL; c && ok; c = c->next)
		ok = cJSON_IsString(c) || cJSON_IsNumber(c);
	if (!ok) {
		snprintf(err, errlen, "extension 'chaos': service \"command\" must be a non-empty "
				      "list of strings or a shell command string");
		return -1;
	}
	const cJSON *env = rj_get(svc, "env");
	if (env) {
		ok = cJSON_IsObject(env);
		for (const cJSON *e = ok ? env->child : NULL; e && ok; e = e->next)
			ok = cJSON_IsString(e) || cJSON_IsNumber(e);
		if (!ok) {
			snprintf(err, errlen,
				 "extension 'chaos': service \"env\" must map names to strings");
			return -1;
		}
	}
	const cJSON *rules = rj_get(svc, "rules");
	if (rules) {
		if (!cJSON_IsArray(rules)) {
			snprintf(err, errlen, "extension 'chaos': service \"rules\" must be a list of "
					      "rules");
			return -1;
		}
		for (const cJSON *r = rules->child; r; r = r->next) {
			struct chaos_rule rule;
			char msg[CHAOS_ERR_MAX];
			if (!cJSON_IsString(r)) {
				snprintf(err, errlen, "extension 'chaos': service rules must be strings");
				return -1;
			}
			if (strchr(r->valuestring, '$'))
				continue; /* substituted at run time; chaos-exec checks it then */
			if (chaos_rule_parse(r->valuestring, &rule, msg, sizeof(msg)) < 0 ||
			    chaos_rule_supported(&rule, CHAOS_FE_PRELOAD, msg, sizeof(msg)) < 0) {
				snprintf(err, errlen, "extension 'chaos': service rule '%.300s': %s",
					 r->valuestring, msg);
				return -1;
			}
		}
	}
	static const char *const strs[] = {"cwd", "log", NULL};
	for (int i = 0; strs[i]; i++) {
		const cJSON *v = rj_get(svc, strs[i]);
		if (v && !(cJSON_IsString(v) && *v->valuestring)) {
			snprintf(err, errlen, "extension 'chaos': service \"%s\" must be a path",
				 strs[i]);
			return -1;
		}
	}
	const cJSON *st = rj_get(svc, "stop_timeout");
	if (st && !positive(st)) {
		snprintf(err, errlen, "extension 'chaos': service \"stop_timeout\" must be a number "
				      "of seconds");
		return -1;
	}
	const cJSON *ready = rj_get(svc, "ready");
	if (ready) {
		const cJSON *http = rj_get(ready, "http"), *proc = rj_get(ready, "process");
		if (!cJSON_IsObject(ready) || (!http == !proc)) {
			snprintf(err, errlen, "extension 'chaos': service \"ready\" needs exactly one "
					      "of \"http\" (a URL) or \"process\" ({path, "
					      "arguments})");
			return -1;
		}
		if (http && !(cJSON_IsString(http) && (!strncmp(http->valuestring, "http://", 7) ||
						       !strncmp(http->valuestring, "https://", 8)))) {
			snprintf(err, errlen, "extension 'chaos': ready \"http\" must be an http(s) URL");
			return -1;
		}
		if (proc) {
			const cJSON *path = rj_get(proc, "path");
			char *p = cJSON_IsString(path) ? run_which(path->valuestring) : NULL;
			if (!p) {
				snprintf(err, errlen, "extension 'chaos': ready process path '%s' "
						      "cannot be found",
					 cJSON_IsString(path) ? path->valuestring : "");
				return -1;
			}
			free(p);
		}
		const cJSON *t = rj_get(ready, "timeout");
		if (t && !positive(t)) {
			snprintf(err, errlen, "extension 'chaos': ready \"timeout\" must be a number "
					      "of seconds");
			return -1;
		}
	}
	return 0;
}

int run_chaos_validate_provider(const cJSON *exp, const cJSON *prov, const char *name,
				char *err, size_t errlen)
{
	const cJSON *add = rj_get(prov, "add"), *rem = rj_get(prov, "remove");
	const cJSON *att = rj_get(prov, "attach");
	if ((add != NULL) + (rem != NULL) + (att != NULL) != 1) {
		snprintf(err, errlen, "a chaos activity needs exactly one of \"add\", \"attach\" or "
				      "\"remove\", in activity '%s'",
			 name);
		return -1;
	}
	if (att) {
		if (run_attach_validate(prov, name, err, errlen) < 0)
			return -1;
		if (rj_get(prov, "pid") || rj_get(prov, "cgroup") || rj_get(prov, "container"))
			return 0;
	} else if (add) {
		if (!cJSON_IsArray(add) || !add->child) {
			snprintf(err, errlen, "chaos \"add\" must be a non-empty list of rules, in "
					      "activity '%s'",
				 name);
			return -1;
		}
		for (const cJSON *r = add->child; r; r = r->next) {
			if (!cJSON_IsString(r)) {
				snprintf(err, errlen, "chaos rules must be strings, in activity '%s'",
					 name);
				return -1;
			}
			if (strchr(r->valuestring, '$'))
				continue; /* substituted at run time, checked then */
			struct chaos_rule rule;
			char msg[CHAOS_ERR_MAX];
			if (chaos_rule_parse(r->valuestring, &rule, msg, sizeof(msg)) < 0 ||
			    chaos_rule_supported(&rule, CHAOS_FE_PRELOAD, msg, sizeof(msg)) < 0) {
				snprintf(err, errlen, "chaos rule '%.300s': %s, in activity '%s'",
					 r->valuestring, msg, name);
				return -1;
			}
		}
	} else {
		bool ok = (cJSON_IsString(rem) && !strcmp(rem->valuestring, "all")) ||
			  (cJSON_IsArray(rem) && rem->child);
		for (const cJSON *r = cJSON_IsArray(rem) ? rem->child : NULL; r && ok; r = r->next)
			ok = cJSON_IsString(r) && *r->valuestring;
		if (!ok) {
			snprintf(err, errlen, "chaos \"remove\" must be \"all\" or a list of activity "
					      "names or rules, in activity '%s'",
				 name);
			return -1;
		}
	}
	const cJSON *target = rj_get(prov, "target");
	if (target) {
		bool ok = (cJSON_IsNumber(target) && target->valuedouble >= 1 &&
			   target->valuedouble < 4194305) ||
			  (cJSON_IsString(target) && run_is_pattern(target->valuestring));
		if (!ok) {
			snprintf(err, errlen, "chaos \"target\" must be a pid, in activity '%s'", name);
			return -1;
		}
	} else if (!rj_get(extension(exp), "service")) {
		snprintf(err, errlen,
			 "a chaos activity needs a \"target\" pid or a service declared in the "
			 "\"chaos\" extension, in activity '%s'",
			 name);
		return -1;
	}
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* A sibling program: $CHAOS_CTL / $CHAOS_EXEC if set (tests, unusual installs), then the
 * directory of /proc/self/exe, then PATH. */
char *run_sibling(const char *prog)
{
	char self[PATH_MAX], cand[PATH_MAX + 64];
	const char *over = getenv(!strcmp(prog, "chaos-ctl") ? "CHAOS_CTL" : "CHAOS_EXEC");
	if (over && *over)
		return run_which(over);
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(cand, sizeof(cand), "%s/%s", self, prog);
			if (access(cand, X_OK) == 0)
				return strdup(cand);
		}
	}
	return run_which(prog);
}

/* Run argv (no shell) with a deadline, capturing stdout and stderr.  Not interrupted by
 * signals: cleanup must finish.  Returns the exit status, -1 if it could not run or timed out
 * (message in err). */
static int ctl_exec(char *const argv[], char **out, char **errout, char *err, size_t errlen)
{
	int po[2], pe[2];
	*out = *errout = NULL;
	if (pipe2(po, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	sigset_t def, none;
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	/* its own group: a Ctrl-C at the terminal does not kill the cleanup */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
					     POSIX_SPAWN_SETPGROUP);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(pe[1]);
	if (rc != 0) {
		close(po[0]);
		close(pe[0]);
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	char *bufs[2] = {NULL, NULL};
	size_t lens[2] = {0, 0};
	int fds[2] = {po[0], pe[0]};
	double deadline = run_now() + CTL_TIMEOUT;
	bool timed_out = false;
	while (fds[0] >= 0 || fds[1] >= 0) {
		double left = deadline - run_now();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN},
				      {.fd = fds[1], .events = POLLIN}};
		if (poll(p, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0 || !p[i].revents)
				continue;
			char tmp[4096];
			ssize_t r = read(fds[i], tmp, sizeof(tmp));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				close(fds[i]);
				fds[i] = -1;
				continue;
			}
			char *nb = realloc(bufs[i], lens[i] + (size_t)r + 1);
			if (!nb)
				continue;
			bufs[i] = nb;
			memcpy(bufs[i] + lens[i], tmp, (size_t)r);
			lens[i] += (size_t)r;
			bufs[i][lens[i]] = '\0';
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (timed_out)
		kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*out = bufs[0] ? bufs[0] : strdup("");
	*errout = bufs[1] ? bufs[1] : strdup("");
	if (timed_out) {
		snprintf(err, errlen, "%s did not answer within %gs", argv[0], CTL_TIMEOUT);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/* The ids in chaos-ctl's answer to add: {"added": [{"id": N, "rule": "..."}, ...], ...}
 * (man/chaos-ctl.1). */
static void collect_ids(const cJSON *j, cJSON *ids)
{
	const cJSON *added = rj_get(j, "added");
	for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
		const cJSON *id = rj_get(a, "id");
		if (cJSON_IsNumber(id) || cJSON_IsString(id))
			cJSON_AddItemToArray(ids, cJSON_Duplicate(id, true));
	}
}

static char *id_text(const cJSON *id)
{
	return rj_pystr(id);
}

/* ---- the service -------------------------------------------------------------------------- */

static pid_t child_of(pid_t parent)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", parent, parent);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long pid = strtol(buf, &end, 10);
	return end != buf && pid > 0 ? (pid_t)pid : 0;
}

bool run_service_exited(struct run_service *cs, char *how, size_t len)
{
	int status;
	if (!cs->exec_pid) {
		snprintf(how, len, "%s", cs->exit_desc ? cs->exit_desc : "not running");
		return true;
	}
	pid_t r = waitpid(cs->exec_pid, &status, WNOHANG);
	if (r != cs->exec_pid)
		return false;
	if (WIFEXITED(status) && WEXITSTATUS(status) > 128 &&
	    sigabbrev_np(WEXITSTATUS(status) - 128))
		/* chaos-exec passes a signal on as 128+N */
		snprintf(how, len, "exit status %d (SIG%s)", WEXITSTATUS(status),
			 sigabbrev_np(WEXITSTATUS(status) - 128));
	else if (WIFEXITED(status))
		snprintf(how, len, "exit status %d", WEXITSTATUS(status));
	else
		snprintf(how, len, "killed by SIG%s", sigabbrev_np(WTERMSIG(status)) ?
			 sigabbrev_np(WTERMSIG(status)) : "?");
	free(cs->exit_desc);
	cs->exit_desc = strdup(how);
	clock_gettime(CLOCK_REALTIME, &cs->stopped);
	cs->have_stopped = true;
	cs->exec_pid = 0;
	return true;
}

static size_t discard(char *p, size_t s, size_t n, void *a)
{
	(void)p;
	(void)a;
	return s * n;
}

static bool http_ready(const char *url)
{
	CURL *c = curl_easy_init();
	if (!c)
		return false;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return rc == CURLE_OK && status > 0 && status < 500;
}

int run_service_wait_ready(struct run_service *cs, const cJSON *ready, unsigned gen,
			   double max_wait, char *err, size_t errlen)
{
	const cJSON *t = rj_get(ready, "timeout");
	double timeout = cJSON_IsNumber(t) ? t->valuedouble : 30;
	if (max_wait >= 0 && max_wait < timeout)
		timeout = max_wait;
	double deadline = run_now() + timeout;
	const cJSON *url = rj_get(ready, "http");
	cJSON *proc = NULL;
	if (rj_get(ready, "process")) {
		proc = cJSON_Duplicate(rj_get(ready, "process"), true);
		rj_set(proc, "type", cJSON_CreateString("process"));
		if (!rj_get(proc, "timeout"))
			rj_set(proc, "timeout", cJSON_CreateNumber(timeout));
	}
	int rc = -1;
	for (;;) {
		char how[128];
		if (run_service_exited(cs, how, sizeof(how))) {
			snprintf(err, errlen, "the service exited (%s) before it was ready", how);
			break;
		}
		if (run_signal_count() != gen) {
			snprintf(err, errlen, "interrupted while waiting for the service");
			break;
		}
		bool ok = false;
		if (cJSON_IsString(url))
			ok = http_ready(url->valuestring);
		else if (proc) {
			struct run_result res;
			run_process(proc, gen, &res);
			ok = res.fail == RUN_OK &&
			     cJSON_IsNumber(rj_get(res.output, "status")) &&
			     rj_get(res.output, "status")->valuedouble == 0;
			cJSON_Delete(res.output);
		}
		if (ok) {
			rc = 0;
			break;
		}
		if (run_now() >= deadline) {
			snprintf(err, errlen, "the service was not ready after %gs (%s %s)", timeout,
				 cJSON_IsString(url) ? "http" : "process",
				 cJSON_IsString(url) ? url->valuestring : "check");
			break;
		}
		run_sleep(100 * 1000000ULL, gen);
	}
	cJSON_Delete(proc);
	if (rc == 0) {
		clock_gettime(CLOCK_REALTIME, &cs->ready);
		cs->have_ready = true;
	}
	return rc;
}

/* fork + exec chaos-exec for the service: its own process group, stdin /dev/null, and
 * PR_SET_PDEATHSIG so that it gets SIGTERM (which chaos-exec passes on to the service) even if
 * chaos-run itself is killed with SIGKILL and cannot clean up.  Only async-signal-safe calls
 * between fork and exec.  Returns 0 or an errno. */
static int spawn_service(const char *exe, char *const argv[], char *const envp[],
			 const char *cwd, const char *log, pid_t *out)
{
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0)
		return errno;
	int logfd = -1;
	if (log) {
		logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (logfd < 0) {
			int e = errno;
			close(ep[0]);
			close(ep[1]);
			return e;
		}
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		int e = 0;
		static const int sigs[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE};
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		if (setpgid(0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
			e = errno;
		if (!e && getppid() != parent)
			_exit(127); /* chaos-run is already gone */
		int null = open("/dev/null", O_RDONLY);
		if (!e && (null < 0 || dup2(null, 0) < 0))
			e = errno;
		if (!e && logfd >= 0 && (dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0))
			e = errno;
		if (!e && cwd && chdir(cwd) < 0)
			e = errno;
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (!e) {
			execve(exe, argv, envp);
			e = errno;
		}
		ssize_t w = write(ep[1], &e, sizeof(e));
		(void)w;
		_exit(127);
	}
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(ep[1]);
	if (logfd >= 0)
		close(logfd);
	if (pid < 0) {
		close(ep[0]);
		return fork_errno;
	}
	/* the exec either happened (EOF: close-on-exec) or sent its errno */
	int e = 0;
	ssize_t r;
	while ((r = read(ep[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (r == (ssize_t)sizeof(e) && e) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return e;
	}
	*out = pid;
	return 0;
}

int run_service_start(struct run_service *cs, const cJSON *svc, char *const *exec_opts,
		      char *err, size_t errlen)
{
	char *exec = run_sibling("chaos-exec");
	if (!exec) {
		snprintf(err, errlen, "chaos-exec not found next to chaos-run or in PATH");
		return -1;
	}
	const cJSON *cmd = rj_get(svc, "command");
	const cJSON *base = rj_get(svc, "rules");
	cJSON_Delete(cs->command);
	cs->command = cJSON_Duplicate(cmd, true);
	free(cs->exit_desc);
	cs->exit_desc = NULL;
	cs->have_ready = cs->have_stopped = false;
	cs->service_pid = 0;
	/* argv: chaos-exec [-f RULE]... [OPTS]... -- COMMAND... (a string runs through sh -c) */
	size_t n = cJSON_IsArray(cmd) ? (size_t)cJSON_GetArraySize(cmd) : 3;
	size_t nb = cJSON_IsArray(base) ? (size_t)cJSON_GetArraySize(base) : 0;
	size_t no = 0;
	while (exec_opts && exec_opts[no])
		no++;
	char **argv = calloc(n + 2 * nb + no + 3, sizeof(*argv));
	if (!argv)
		abort();
	size_t k = 0;
	argv[k++] = exec;
	for (const cJSON *r = cJSON_IsArray(base) ? base->child : NULL; r; r = r->next) {
		/* the service's own rules (local fakes for its dependencies' names, ...): part of
		 * how it runs, not faults this run puts on and takes off */
		argv[k++] = strdup("-f");
		argv[k++] = strdup(cJSON_IsString(r) ? r->valuestring : "");
	}
	for (size_t i = 0; i < no; i++)
		argv[k++] = strdup(exec_opts[i]);
	argv[k++] = strdup("--");
	if (cJSON_IsString(cmd)) {
		argv[k++] = strdup("/bin/sh");
		argv[k++] = strdup("-c");
		argv[k++] = strdup(cmd->valuestring);
	} else {
		for (const cJSON *c = cJSON_IsArray(cmd) ? cmd->child : NULL; c; c = c->next)
			argv[k++] = rj_pystr(c);
	}
	argv[k] = NULL;

	/* environment: ours plus the service's */
	const cJSON *env = rj_get(svc, "env");
	size_t ne = 0;
	while (environ[ne])
		ne++;
	char **envp = calloc(ne + (size_t)cJSON_GetArraySize(env) + 1, sizeof(*envp));
	if (!envp)
		abort();
	size_t m = 0;
	for (size_t i = 0; i < ne; i++) {
		/* chaos-run's own overrides of its sibling programs mean nothing to the service, and
		 * CHAOS_CTL in chaos-exec's environment is where chaos-ctl looks for its socket */
		if (!strncmp(environ[i], "CHAOS_CTL=", 10) || !strncmp(environ[i], "CHAOS_EXEC=", 11))
			continue;
		bool overridden = false;
		for (const cJSON *e = cJSON_IsObject(env) ? env->child : NULL; e; e = e->next) {
			size_t l = strlen(e->string);
			if (!strncmp(environ[i], e->string, l) && environ[i][l] == '=')
				overridden = true;
		}
		if (!overridden)
			envp[m++] = strdup(environ[i]);
	}
	for (const cJSON *e = cJSON_IsObject(env) ? env->child : NULL; e; e = e->next) {
		char *v = rj_pystr(e);
		size_t l = strlen(e->string) + strlen(v ? v : "") + 2;
		envp[m] = malloc(l);
		if (!envp[m])
			abort();
		snprintf(envp[m++], l, "%s=%s", e->string, v ? v : "");
		free(v);
	}
	envp[m] = NULL;

	const cJSON *cwd = rj_get(svc, "cwd");
	const cJSON *log = rj_get(svc, "log");
	pid_t pid = 0;
	int rc = spawn_service(exec, argv, envp, cJSON_IsString(cwd) ? cwd->valuestring : NULL,
			       cJSON_IsString(log) ? log->valuestring : NULL, &pid);
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
	for (size_t i = 0; envp[i]; i++)
		free(envp[i]);
	free(envp);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start chaos-exec: %s", strerror(rc));
		return -1;
	}
	cs->exec_pid = pid;
	clock_gettime(CLOCK_REALTIME, &cs->started);
	unsigned gen = run_signal_count();
	/* the command chaos-exec forks */
	double deadline = run_now() + 5;
	char how[128];
	while (!(cs->service_pid = child_of(pid))) {
		if (run_service_exited(cs, how, sizeof(how))) {
			snprintf(err, errlen, "the service exited at once (%s)", how);
			return -1;
		}
		if (run_now() > deadline || run_signal_count() != gen) {
			snprintf(err, errlen, "chaos-exec started no service");
			return -1;
		}
		run_sleep(5 * 1000000ULL, gen);
	}
	return 0;
}

/* The service object with ${} substituted where the extension substitutes: command, env,
 * rules, cwd, log and ready.http. */
static cJSON *subst_service(const cJSON *svc, const cJSON *config, const cJSON *secrets)
{
	cJSON *s = cJSON_Duplicate(svc, true);
	static const char *const keys[] = {"command", "env", "rules", "cwd", "log", NULL};
	for (int i = 0; keys[i]; i++)
		if (rj_get(s, keys[i]))
			rj_set(s, keys[i], run_subst(rj_get(s, keys[i]), config, secrets));
	cJSON *ready = rj_get(s, "ready");
	if (cJSON_IsObject(ready) && rj_get(ready, "http"))
		rj_set(ready, "http", run_subst(rj_get(ready, "http"), config, secrets));
	return s;
}

int run_chaos_start(struct run_state *st, char *err, size_t errlen)
{
	const cJSON *ext = extension(st->exp);
	const cJSON *svc0 = rj_get(ext, "service");
	if (ext)
		state(st)->used = true;
	if (!cJSON_IsObject(svc0))
		return 0;
	struct chaos_state *cs = st->chaos;
	cJSON *svc = subst_service(svc0, st->config, st->secrets);
	char msg[RUN_ERR_MAX / 2];
	if (run_service_start(&cs->svc, svc, NULL, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "extension 'chaos': %s", msg);
		cJSON_Delete(svc);
		return -1;
	}
	unsigned gen = run_signal_count();
	out_line("service started under chaos-exec: pid %d", (int)cs->svc.service_pid);
	if (!rj_get(st->config, "chaos_service_pid"))
		cJSON_AddNumberToObject(st->config, "chaos_service_pid", cs->svc.service_pid);
	const cJSON *ready = rj_get(svc, "ready");
	if (ready) {
		if (run_service_wait_ready(&cs->svc, ready, gen, -1, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "extension 'chaos': %s", msg);
			cJSON_Delete(svc);
			return -1;
		}
		out_line("service ready");
	}
	run_base_set(&cs->base, rj_get(svc, "rules"));
	if (run_base_read_ids(cs->svc.service_pid, &cs->base, msg, sizeof(msg)) < 0) {
		/* faults then go after them (chaos-ctl's order) */
		out_warn("extension 'chaos': the service's rules: %s", msg);
		run_base_free(&cs->base);
	}
	cJSON_Delete(svc);
	clock_gettime(CLOCK_REALTIME, &cs->svc.ready);
	cs->svc.have_ready = true;
	return 0;
}

/* ---- adding and removing faults ----------------------------------------------------------- */

static long target_of(struct run_state *st, const cJSON *prov, char *err, size_t errlen)
{
	const cJSON *t = rj_get(prov, "target");
	if (t) {
		if (cJSON_IsNumber(t) && t->valuedouble >= 1)
			return (long)t->valuedouble;
		char *end;
		long v = cJSON_IsString(t) ? strtol(t->valuestring, &end, 10) : 0;
		if (cJSON_IsString(t) && end != t->valuestring && !*end && v > 0)
			return v;
		char *s = rj_pystr(t);
		snprintf(err, errlen, "chaos target '%s' is not a pid", s ? s : "?");
		free(s);
		return -1;
	}
	if (st->chaos && st->chaos->svc.service_pid)
		return st->chaos->svc.service_pid;
	snprintf(err, errlen, "no target: the service is not running");
	return -1;
}

int run_ctl(long pid, const char *verb, char *const *items, size_t n, bool json,
	    cJSON **answer, char *err, size_t errlen)
{
	char *exe = run_sibling("chaos-ctl");
	if (!exe) {
		snprintf(err, errlen, "chaos-ctl not found next to chaos-run or in PATH");
		return -1;
	}
	char pidbuf[32];
	snprintf(pidbuf, sizeof(pidbuf), "%ld", pid);
	char **argv = calloc(n + 6, sizeof(*argv));
	size_t k = 0;
	argv[k++] = exe;
	argv[k++] = pidbuf;
	argv[k++] = (char *)verb;
	if (json)
		argv[k++] = "--json";
	for (size_t i = 0; i < n; i++)
		argv[k++] = items[i];
	argv[k] = NULL;
	char *out, *eout;
	char msg[RUN_ERR_MAX / 2];
	int rc = ctl_exec(argv, &out, &eout, msg, sizeof(msg));
	free(argv);
	free(exe);
	if (rc < 0) {
		snprintf(err, errlen, "%s", msg);
	} else if (rc != 0) {
		trim(eout);
		snprintf(err, errlen, "chaos-ctl %ld %s failed (exit %d%s): %.400s", pid, verb, rc,
			 rc == 2 ? ", bad rule" : "", *eout ? eout : out);
		rc = -1;
	} else if (answer) {
		*answer = cJSON_Parse(out);
		if (!*answer && json) {
			snprintf(err, errlen, "chaos-ctl %ld %s: the answer is not JSON: %.200s", pid,
				 verb, out);
			rc = -1;
		}
	}
	free(out);
	free(eout);
	return rc;
}

int run_base_read_ids(long pid, struct run_base *base, char *err, size_t errlen)
{
	if (!base->n)
		return 0;
	cJSON *ans = NULL;
	if (run_ctl(pid, "show", NULL, 0, true, &ans, err, errlen) < 0)
		return -1;
	/* the service's rules are the first ones it has: in order, with their text */
	const cJSON *rules = rj_get(ans, "rules");
	size_t k = 0;
	for (const cJSON *r = cJSON_IsArray(rules) ? rules->child : NULL; r && k < base->n;
	     r = r->next) {
		const cJSON *id = rj_get(r, "id");
		if (cJSON_IsNumber(id))
			base->ids[k++] = (long)id->valuedouble;
	}
	cJSON_Delete(ans);
	if (k != base->n) {
		snprintf(err, errlen, "chaos-ctl %ld show lists %zu of the service's %zu rules", pid,
			 k, base->n);
		return -1;
	}
	return 0;
}

int run_ctl_add_front(long pid, char *const *rules, size_t n, struct run_base *base, long *ids,
		      char *err, size_t errlen)
{
	size_t nb = base ? base->n : 0;
	char **items = calloc(n + nb + 1, sizeof(char *));
	if (!items)
		abort();
	for (size_t i = 0; i < n; i++)
		items[i] = rules[i];
	for (size_t i = 0; i < nb; i++)
		items[n + i] = base->rules[i];
	cJSON *ans = NULL;
	int rc = run_ctl(pid, "add", items, n + nb, true, &ans, err, errlen);
	free(items);
	if (rc < 0)
		return -1;
	const cJSON *added = rj_get(ans, "added");
	long *got = calloc(n + nb + 1, sizeof(long));
	if (!got)
		abort();
	size_t k = 0;
	for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a && k < n + nb;
	     a = a->next) {
		const cJSON *id = rj_get(a, "id");
		if (cJSON_IsNumber(id))
			got[k++] = (long)id->valuedouble;
	}
	cJSON_Delete(ans);
	if (k != n + nb) {
		snprintf(err, errlen, "chaos-ctl %ld add gave %zu ids for %zu rules", pid, k, n + nb);
		free(got);
		return -2;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = got[i];
	if (nb) {
		/* the old copies of the service's rules go: the new rules are now in front */
		char **old = calloc(nb + 1, sizeof(char *));
		if (!old)
			abort();
		for (size_t i = 0; i < nb; i++) {
			old[i] = malloc(24);
			if (!old[i])
				abort();
			snprintf(old[i], 24, "%ld", base->ids[i]);
		}
		rc = run_ctl(pid, "remove", old, nb, false, NULL, err, errlen);
		for (size_t i = 0; i < nb; i++)
			free(old[i]);
		free(old);
		if (rc < 0) {
			/* two copies now: the old ones still in front */
			free(got);
			return -2;
		}
		for (size_t i = 0; i < nb; i++)
			base->ids[i] = got[n + i];
	}
	free(got);
	return 0;
}

void run_base_free(struct run_base *base)
{
	for (size_t i = 0; i < base->n; i++)
		free(base->rules[i]);
	free(base->rules);
	free(base->ids);
	memset(base, 0, sizeof(*base));
}

int run_base_set(struct run_base *base, const cJSON *rules)
{
	run_base_free(base);
	base->n = cJSON_IsArray(rules) ? (size_t)cJSON_GetArraySize(rules) : 0;
	base->rules = calloc(base->n + 1, sizeof(char *));
	base->ids = calloc(base->n + 1, sizeof(long));
	if (!base->rules || !base->ids)
		abort();
	size_t k = 0;
	for (const cJSON *r = base->n ? rules->child : NULL; r; r = r->next)
		base->rules[k++] = rj_pystr(r);
	return 0;
}

static void add_faults(struct run_state *st, const char *name, long pid, bool front,
		       const cJSON *add, struct run_result *res)
{
	struct chaos_state *cs = state(st);
	size_t n = (size_t)cJSON_GetArraySize(add);
	char **rules = calloc(n + 1, sizeof(*rules));
	size_t k = 0;
	for (const cJSON *r = add->child; r; r = r->next) {
		struct chaos_rule rule;
		char msg[CHAOS_ERR_MAX];
		if (!cJSON_IsString(r) || chaos_rule_parse(r->valuestring, &rule, msg, sizeof(msg)) < 0) {
			res->fail = RUN_ERROR;
			snprintf(res->msg, sizeof(res->msg), "chaos rule '%.300s': %s",
				 cJSON_IsString(r) ? r->valuestring : "?",
				 cJSON_IsString(r) ? msg : "not a string");
			goto out;
		}
		rules[k++] = r->valuestring;
	}
	cJSON *answer = NULL;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (front && cs->base.n) {
		/* in front of the service's own rules (the first rule that fires decides: a
		 * "db dns=nxdomain" fault must come before the service's "db dns=127.0.0.1") */
		long ids[k + 1];
		for (size_t i = 0; i <= k; i++)
			ids[i] = -1;
		int rc = run_ctl_add_front(pid, rules, k, &cs->base, ids, res->msg,
					   sizeof(res->msg));
		if (rc == 0 || rc == -2) {
			answer = cJSON_CreateObject();
			cJSON *list = cJSON_AddArrayToObject(answer, "added");
			for (size_t i = 0; i < k && ids[i] >= 0; i++) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddNumberToObject(o, "id", (double)ids[i]);
				cJSON_AddItemToArray(list, o);
			}
		}
		if (rc == -2) {
			/* on, but maybe behind the service's rules, or without known ids: cleanup
			 * takes them off with the others */
			out_warn("chaos-ctl %ld: %s", pid, res->msg);
			res->msg[0] = '\0';
		}
		if (rc == -1) {
			res->fail = RUN_FAILED;
			pthread_mutex_lock(&cs->lock);
			cs->used = true;
			pthread_mutex_unlock(&cs->lock);
			goto out;
		}
	} else if (run_ctl(pid, "add", rules, k, true, &answer, res->msg, sizeof(res->msg)) < 0) {
		res->fail = RUN_FAILED;
		/* chaos-ctl may have added some before failing: cleanup removes them all */
		pthread_mutex_lock(&cs->lock);
		cs->used = true;
		pthread_mutex_unlock(&cs->lock);
		goto out;
	}
	cJSON *ids = cJSON_CreateArray();
	collect_ids(answer, ids);
	cJSON *out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "target", (double)pid);
	cJSON *added = cJSON_AddArrayToObject(out, "added");
	pthread_mutex_lock(&cs->lock);
	cs->used = true;
	const cJSON *id = ids->child;
	for (size_t i = 0; i < k; i++, id = id ? id->next : NULL) {
		struct fault *f = realloc(cs->faults, (cs->n + 1) * sizeof(*f));
		if (!f)
			abort();
		cs->faults = f;
		f = &cs->faults[cs->n++];
		memset(f, 0, sizeof(*f));
		f->rule = strdup(rules[i]);
		f->id = id ? id_text(id) : NULL;
		f->target = pid;
		f->added_by = strdup(name);
		f->added = now;
		f->on = true;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "id", id ? cJSON_Duplicate(id, true) : cJSON_CreateNull());
		cJSON_AddStringToObject(o, "rule", rules[i]);
		cJSON_AddItemToArray(added, o);
	}
	pthread_mutex_unlock(&cs->lock);
	if (cJSON_GetArraySize(ids) != (int)k)
		out_warn("chaos-ctl %ld add: %d ids for %zu rules; faults without an id are removed "
			 "with 'remove all' at the end",
			 pid, cJSON_GetArraySize(ids), k);
	cJSON_Delete(ids);
	cJSON_Delete(answer);
	res->output = out;
out:
	free(rules);
}

/* The faults of an "attach" activity: one chaos-attach holding them all. */
static void attach_faults(struct run_state *st, const char *name, const cJSON *prov,
			  struct run_result *res)
{
	struct chaos_state *cs = state(st);
	cJSON *att = run_subst(rj_get(prov, "attach"), st->config, st->secrets);
	size_t n = (size_t)cJSON_GetArraySize(att), k = 0;
	char **rules = calloc(n + 1, sizeof(*rules));
	for (const cJSON *r = att->child; r; r = r->next)
		if (cJSON_IsString(r))
			rules[k++] = r->valuestring;
	/* fault lines go where the service's go (its log), or to our standard error */
	char logpath[PATH_MAX];
	cJSON *log = rj_get(rj_get(extension(st->exp), "service"), "log")
			     ? run_subst(rj_get(rj_get(extension(st->exp), "service"), "log"),
					 st->config, st->secrets)
			     : NULL;
	if (cJSON_IsString(log))
		snprintf(logpath, sizeof(logpath), "%s", log->valuestring);
	else
		snprintf(logpath, sizeof(logpath), "/proc/%d/fd/2", (int)getpid());
	cJSON_Delete(log);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	pid_t ap = run_attach_start(prov, rules, k, cs->svc.service_pid, logpath, res->msg,
				    sizeof(res->msg));
	if (ap < 0) {
		res->fail = RUN_FAILED;
		goto out;
	}
	cJSON *out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "chaos_attach_pid", ap);
	cJSON *added = cJSON_AddArrayToObject(out, "attached");
	pthread_mutex_lock(&cs->lock);
	cs->used = true;
	for (size_t i = 0; i < k; i++) {
		struct fault *f = realloc(cs->faults, (cs->n + 1) * sizeof(*f));
		if (!f)
			abort();
		cs->faults = f;
		f = &cs->faults[cs->n++];
		memset(f, 0, sizeof(*f));
		f->rule = strdup(rules[i]);
		f->target = cs->svc.service_pid;
		f->attach = ap;
		f->added_by = strdup(name);
		f->added = now;
		f->on = true;
		cJSON_AddItemToArray(added, cJSON_CreateString(rules[i]));
	}
	pthread_mutex_unlock(&cs->lock);
	res->output = out;
out:
	free(rules);
	cJSON_Delete(att);
}

static bool process_gone(long pid)
{
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Remove the faults selected (indexes into cs->faults), grouped by target.  by: who asked. */
static int remove_faults(struct run_state *st, size_t *idx, size_t n, const char *by,
			 cJSON *removed, char *err, size_t errlen)
{
	struct chaos_state *cs = st->chaos;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct fault *f = &cs->faults[idx[i]];
		if (!f->on)
			continue;
		if (f->attach) {
			/* eBPF faults come off together, when their chaos-attach stops */
			char msg[RUN_ERR_MAX / 2] = "";
			pid_t ap = f->attach;
			run_attach_stop(ap, msg, sizeof(msg));
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			pthread_mutex_lock(&cs->lock);
			for (size_t j = 0; j < cs->n; j++) {
				struct fault *g = &cs->faults[j];
				if (!g->on || g->attach != ap)
					continue;
				g->on = false;
				g->removed = now;
				free(g->removed_by);
				g->removed_by = strdup(by);
				free(g->error);
				g->error = msg[0] ? strdup(msg) : NULL;
				if (removed) {
					cJSON *o = cJSON_CreateObject();
					cJSON_AddStringToObject(o, "via", "chaos-attach");
					cJSON_AddStringToObject(o, "rule", g->rule);
					cJSON_AddItemToArray(removed, o);
				}
			}
			pthread_mutex_unlock(&cs->lock);
			continue;
		}
		/* all the faults of this target in one call */
		char **ids = calloc(n + 1, sizeof(*ids));
		size_t *which = calloc(n + 1, sizeof(*which));
		size_t k = 0;
		bool without_id = false;
		for (size_t j = i; j < n; j++) {
			struct fault *g = &cs->faults[idx[j]];
			if (g->on && !g->attach && g->target == f->target) {
				if (g->id)
					ids[k] = g->id;
				else
					without_id = true;
				which[k++] = idx[j];
			}
		}
		char msg[RUN_ERR_MAX / 2] = "";
		int r;
		if (process_gone(f->target)) {
			r = 0;
			snprintf(msg, sizeof(msg), "process %ld is gone", f->target);
		} else if (without_id) {
			char *all[] = {"all"};
			r = run_ctl(f->target, "remove", all, 1, false, NULL, msg, sizeof(msg));
		} else {
			r = run_ctl(f->target, "remove", ids, k, false, NULL, msg, sizeof(msg));
		}
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		pthread_mutex_lock(&cs->lock);
		for (size_t j = 0; j < k; j++) {
			struct fault *g = &cs->faults[which[j]];
			free(g->error);
			g->error = NULL;
			if (r == 0) {
				g->on = false;
				g->removed = now;
				free(g->removed_by);
				g->removed_by = strdup(by);
				if (msg[0])
					g->error = strdup(msg); /* a note: nothing left to remove */
				if (removed) {
					cJSON *o = cJSON_CreateObject();
					cJSON_AddStringToObject(o, "id", g->id ? g->id : "?");
					cJSON_AddStringToObject(o, "rule", g->rule);
					cJSON_AddItemToArray(removed, o);
				}
			} else {
				g->error = strdup(msg);
			}
		}
		pthread_mutex_unlock(&cs->lock);
		if (r != 0) {
			snprintf(err, errlen, "%s", msg);
			rc = -1;
		}
		free(ids);
		free(which);
	}
	return rc;
}

void run_chaos_provider(struct run_state *st, const cJSON *activity, const cJSON *prov,
			struct run_result *res)
{
	memset(res, 0, sizeof(*res));
	const cJSON *n = rj_get(activity, "name");
	const char *name = cJSON_IsString(n) ? n->valuestring : "?";
	struct chaos_state *cs = state(st);
	const cJSON *add = rj_get(prov, "add");
	if (rj_get(prov, "attach")) {
		attach_faults(st, name, prov, res);
		return;
	}
	if (add) {
		long pid = target_of(st, prov, res->msg, sizeof(res->msg));
		if (pid < 0) {
			res->fail = RUN_FAILED;
			return;
		}
		add_faults(st, name, pid, !rj_get(prov, "target"), add, res);
		return;
	}
	const cJSON *rem = rj_get(prov, "remove");
	bool all = cJSON_IsString(rem) && !strcmp(rem->valuestring, "all");
	long only = -1;
	if (rj_get(prov, "target")) {
		only = target_of(st, prov, res->msg, sizeof(res->msg));
		if (only < 0) {
			res->fail = RUN_FAILED;
			return;
		}
	}
	pthread_mutex_lock(&cs->lock);
	size_t *idx = calloc(cs->n + 1, sizeof(*idx));
	size_t k = 0;
	for (size_t i = 0; i < cs->n; i++) {
		struct fault *f = &cs->faults[i];
		if (!f->on || (only >= 0 && f->target != only))
			continue;
		bool pick = all;
		for (const cJSON *r = cJSON_IsArray(rem) ? rem->child : NULL; r && !pick; r = r->next)
			pick = cJSON_IsString(r) && (!strcmp(r->valuestring, f->added_by) ||
						      !strcmp(r->valuestring, f->rule));
		if (pick)
			idx[k++] = i;
	}
	pthread_mutex_unlock(&cs->lock);
	/* a name or rule that matches nothing on is a mistake worth failing for, unless it
	 * names an activity of the experiment that has put nothing on (yet, or any more): a
	 * rollback after a run that stopped early */
	for (const cJSON *r = cJSON_IsArray(rem) ? rem->child : NULL; r; r = r->next) {
		bool found = run_lookup_ref(st->exp, r->valuestring) != NULL;
		pthread_mutex_lock(&cs->lock);
		for (size_t i = 0; i < cs->n && !found; i++)
			found = !strcmp(r->valuestring, cs->faults[i].added_by) ||
				!strcmp(r->valuestring, cs->faults[i].rule);
		pthread_mutex_unlock(&cs->lock);
		if (!found) {
			res->fail = RUN_FAILED;
			snprintf(res->msg, sizeof(res->msg),
				 "no activity named '%.300s' and no fault with that rule: nothing "
				 "to remove",
				 r->valuestring);
			free(idx);
			return;
		}
	}
	char by[300];
	snprintf(by, sizeof(by), "activity '%.280s'", name);
	cJSON *out = cJSON_CreateObject();
	cJSON *removed = cJSON_AddArrayToObject(out, "removed");
	if (remove_faults(st, idx, k, by, removed, res->msg, sizeof(res->msg)) < 0) {
		res->fail = RUN_FAILED;
		cJSON_Delete(out);
	} else {
		res->output = out;
	}
	free(idx);
}

/* ---- the end ------------------------------------------------------------------------------- */

void run_service_stop(struct run_service *cs, double grace)
{
	if (!cs->exec_pid)
		return;
	pid_t group = cs->exec_pid;
	kill(-group, SIGTERM);
	double deadline = run_now() + grace;
	char how[128];
	while (!run_service_exited(cs, how, sizeof(how))) {
		if (run_now() >= deadline) {
			out_warn("the service did not stop within %gs of SIGTERM: SIGKILL", grace);
			kill(-cs->exec_pid, SIGKILL);
			int status;
			while (waitpid(cs->exec_pid, &status, 0) < 0 && errno == EINTR)
				;
			free(cs->exit_desc);
			cs->exit_desc = strdup("killed by SIGKILL after the stop timeout");
			clock_gettime(CLOCK_REALTIME, &cs->stopped);
			cs->have_stopped = true;
			cs->exec_pid = 0;
			break;
		}
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	/* anything left in the service's process group */
	kill(-group, SIGKILL);
}

void run_service_free(struct run_service *cs)
{
	cJSON_Delete(cs->command);
	free(cs->exit_desc);
	memset(cs, 0, sizeof(*cs));
}

void run_chaos_cleanup(struct run_state *st)
{
	struct chaos_state *cs = st->chaos;
	if (!cs)
		return;
	pid_t group = cs->svc.exec_pid;
	size_t *idx = calloc(cs->n + 1, sizeof(*idx));
	size_t k = 0;
	for (size_t i = 0; i < cs->n; i++)
		if (cs->faults[i].on)
			idx[k++] = i;
	if (k) {
		out_phase("cleanup: removing %zu fault%s still on", k, k == 1 ? "" : "s");
		char err[RUN_ERR_MAX];
		if (remove_faults(st, idx, k, "cleanup", NULL, err, sizeof(err)) < 0) {
			/* once more, then say so loudly */
			if (remove_faults(st, idx, k, "cleanup", NULL, err, sizeof(err)) < 0)
				out_error("COULD NOT REMOVE A FAULT: %s", err);
		}
	}
	free(idx);
	const cJSON *svc = rj_get(extension(st->exp), "service");
	if (group) {
		const cJSON *t = rj_get(svc, "stop_timeout");
		out_phase("cleanup: stopping the service (pid %d)", (int)cs->svc.service_pid);
		run_service_stop(&cs->svc, cJSON_IsNumber(t) ? t->valuedouble : 5);
	}
}

static void add_ts(cJSON *o, const char *key, const struct timespec *ts, bool have)
{
	char buf[64];
	if (!have) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	run_iso_time(ts, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

cJSON *run_chaos_journal(struct run_state *st)
{
	struct chaos_state *cs = st->chaos;
	if (!cs || !cs->used)
		return NULL;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "runner", "chaos-run " RUN_VERSION);
	if (cs->svc.command) {
		const struct run_service *v = &cs->svc;
		cJSON *s = cJSON_AddObjectToObject(j, "service");
		cJSON_AddItemToObject(s, "command", cJSON_Duplicate(v->command, true));
		cJSON_AddNumberToObject(s, "pid", v->service_pid);
		add_ts(s, "started", &v->started, v->started.tv_sec != 0);
		add_ts(s, "ready", &v->ready, v->have_ready);
		add_ts(s, "stopped", &v->stopped, v->have_stopped);
		if (v->exit_desc)
			cJSON_AddStringToObject(s, "exit", v->exit_desc);
		else
			cJSON_AddNullToObject(s, "exit");
	}
	cJSON *faults = cJSON_AddArrayToObject(j, "faults");
	for (size_t i = 0; i < cs->n; i++) {
		struct fault *f = &cs->faults[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "rule", f->rule);
		cJSON_AddNumberToObject(o, "target", (double)f->target);
		cJSON_AddStringToObject(o, "via", f->attach ? "chaos-attach" : "chaos-ctl");
		if (f->attach)
			cJSON_AddNumberToObject(o, "chaos_attach_pid", f->attach);
		if (f->id)
			cJSON_AddStringToObject(o, "id", f->id);
		else
			cJSON_AddNullToObject(o, "id");
		cJSON_AddStringToObject(o, "added_by", f->added_by);
		add_ts(o, "added", &f->added, true);
		add_ts(o, "removed", &f->removed, !f->on);
		if (f->removed_by)
			cJSON_AddStringToObject(o, "removed_by", f->removed_by);
		else
			cJSON_AddNullToObject(o, "removed_by");
		if (f->error)
			cJSON_AddStringToObject(o, f->on ? "error" : "note", f->error);
		cJSON_AddItemToArray(faults, o);
	}
	return j;
}

void run_chaos_counts(struct run_state *st, size_t *added, size_t *removed, size_t *left)
{
	*added = *removed = *left = 0;
	struct chaos_state *cs = st->chaos;
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++) {
		(*added)++;
		if (cs->faults[i].on)
			(*left)++;
		else
			(*removed)++;
	}
}

void run_chaos_free(struct run_state *st)
{
	struct chaos_state *cs = st->chaos;
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->faults[i].rule);
		free(cs->faults[i].id);
		free(cs->faults[i].added_by);
		free(cs->faults[i].removed_by);
		free(cs->faults[i].error);
	}
	free(cs->faults);
	run_service_free(&cs->svc);
	run_base_free(&cs->base);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
	st->chaos = NULL;
}
