/* run_process.c -- the process provider: {type: process, path, arguments?, timeout?}
 *
 * A string of arguments runs through /bin/sh -c "PATH ARGUMENTS" (PATH quoted when it needs
 * it); a list is exec'd directly with items str()'d and null or "" items dropped; an object
 * (deprecated) is flattened to k1 v1 k2 v2 first.  The child gets its own process group, so a
 * timeout or a signal kills everything it started (SIGKILL to the group).  stdin, the
 * environment and the working directory are inherited.  Output: {status, stdout, stderr},
 * status negative for a signal; a non-zero exit is not a failure.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct argv {
	char **v;
	size_t n, cap;
};

static int argv_push(struct argv *a, char *s)
{
	if (!s)
		return -1;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			return -1;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

static void argv_free(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

/* str(item) unless null or "" (dropped). */
static int push_item(struct argv *a, const cJSON *item)
{
	if (!item || cJSON_IsNull(item) || (cJSON_IsString(item) && !*item->valuestring))
		return 0;
	return argv_push(a, rj_pystr(item));
}

static char *shell_quote(const char *s)
{
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			    "_-./+,:=@%") == strlen(s))
		return strdup(s);
	size_t n = 2;
	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	char *q = malloc(n + 1), *o = q;
	if (!q)
		return NULL;
	*o++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

static int build_argv(const cJSON *prov, const char *path, struct argv *a, char *err,
		      size_t errlen)
{
	const cJSON *args = rj_get(prov, "arguments");
	if (cJSON_IsString(args)) {
		char *q = shell_quote(path);
		if (!q)
			goto oom;
		size_t n = strlen(q) + strlen(args->valuestring) + 2;
		char *cmd = malloc(n);
		if (!cmd) {
			free(q);
			goto oom;
		}
		snprintf(cmd, n, "%s %s", q, args->valuestring);
		free(q);
		if (argv_push(a, strdup("/bin/sh")) < 0 || argv_push(a, strdup("-c")) < 0 ||
		    argv_push(a, cmd) < 0)
			goto oom;
		return 0;
	}
	if (argv_push(a, strdup(path)) < 0)
		goto oom;
	if (cJSON_IsArray(args)) {
		for (const cJSON *c = args->child; c; c = c->next)
			if (push_item(a, c) < 0)
				goto oom;
	} else if (cJSON_IsObject(args)) {
		for (const cJSON *c = args->child; c; c = c->next) {
			if (*c->string && argv_push(a, strdup(c->string)) < 0)
				goto oom;
			if (push_item(a, c) < 0)
				goto oom;
		}
	} else if (args && !cJSON_IsNull(args)) {
		snprintf(err, errlen, "process arguments must be a string, a list or an object");
		return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

struct sink {
	char *p;
	size_t n, cap;
};

static int sink_read(int fd, struct sink *s)
{
	if (s->n + 65536 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 65536 * 2;
		char *p = realloc(s->p, cap);
		if (!p)
			return -1;
		s->p = p;
		s->cap = cap;
	}
	ssize_t r = read(fd, s->p + s->n, s->cap - s->n);
	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -1;
	if (r == 0)
		return 0;
	s->n += (size_t)r;
	return 1;
}

void run_process(const cJSON *prov, unsigned gen, struct run_result *res)
{
	memset(res, 0, sizeof(*res));
	const cJSON *pathj = rj_get(prov, "path");
	if (!cJSON_IsString(pathj) || !*pathj->valuestring) {
		res->fail = RUN_ERROR;
		snprintf(res->msg, sizeof(res->msg), "a process activity must have a path");
		return;
	}
	char *path = run_which(pathj->valuestring);
	if (!path) {
		res->fail = RUN_FAILED;
		snprintf(res->msg, sizeof(res->msg), "path '%s' cannot be found",
			 pathj->valuestring);
		return;
	}
	double timeout = -1;
	const cJSON *t = rj_get(prov, "timeout");
	if (cJSON_IsNumber(t))
		timeout = t->valuedouble;
	else if (t && !cJSON_IsNull(t)) {
		res->fail = RUN_ERROR;
		snprintf(res->msg, sizeof(res->msg), "process timeout must be a number");
		free(path);
		return;
	}

	struct argv a = {0};
	if (build_argv(prov, path, &a, res->msg, sizeof(res->msg)) < 0) {
		res->fail = RUN_ERROR;
		argv_free(&a);
		free(path);
		return;
	}
	const char *exe = cJSON_IsString(rj_get(prov, "arguments")) ? "/bin/sh" : path;

	int out[2] = {-1, -1}, errp[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	double started = run_now();
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	pid_t pid = -1;
	int rc;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		rc = errno;
		goto spawn_failed;
	}
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	sigset_t def, none;
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGUSR1);
	sigaddset(&def, SIGUSR2);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
					       POSIX_SPAWN_SETSIGMASK);
	/* the time-out counts from the spawn: a process that ended while chaos-run was not
	 * scheduled, past its time, is not taken as having made it */
	started = run_now();
	rc = posix_spawn(&pid, exe, &fa, &attr, a.v, environ);
	if (rc == 0)
		run_reaper_watch(pid); /* its group goes if chaos-run is killed */
spawn_failed:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (out[1] >= 0)
		close(out[1]);
	if (errp[1] >= 0)
		close(errp[1]);
	if (rc != 0) {
		if (out[0] >= 0)
			close(out[0]);
		if (errp[0] >= 0)
			close(errp[0]);
		res->fail = RUN_FAILED;
		snprintf(res->msg, sizeof(res->msg), "cannot run '%s': %s", pathj->valuestring,
			 strerror(rc));
		argv_free(&a);
		free(path);
		return;
	}

	struct sink so = {0}, se = {0};
	int fds[2] = {out[0], errp[0]};
	double deadline = timeout >= 0 ? started + timeout : -1;
	bool killed = false, interrupted = false, oom = false;
	while (fds[0] >= 0 || fds[1] >= 0) {
		if (run_signal_count() != gen) {
			interrupted = true;
			break;
		}
		int ms = -1;
		if (deadline >= 0) {
			double left = deadline - run_now();
			if (left <= 0) {
				killed = true;
				break;
			}
			ms = (int)ceil(left * 1000.0);
		}
		struct pollfd p[3];
		for (int i = 0; i < 2; i++) {
			p[i].fd = fds[i];
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		run_poll_stop(&p[2], &ms);
		int n = poll(p, 3, ms);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int r = sink_read(fds[i], i == 0 ? &so : &se);
			if (r < 0)
				oom = true;
			if (r <= 0) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
	}
	if (killed || interrupted || oom)
		kill(-pid, SIGKILL);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (killed || interrupted)
		kill(-pid, SIGKILL); /* whatever is left of the group */
	run_reaper_forget(pid);

	if (killed) {
		res->fail = RUN_FAILED;
		res->timed_out = true;
		snprintf(res->msg, sizeof(res->msg), "process activity took too long to complete");
	} else if (interrupted) {
		res->fail = RUN_INTERRUPTED;
		const char *sig = sigabbrev_np(run_signal_first());
		snprintf(res->msg, sizeof(res->msg), "interrupted by SIG%s while running '%s'",
			 sig ? sig : "?", pathj->valuestring);
	} else if (oom) {
		res->fail = RUN_ERROR;
		snprintf(res->msg, sizeof(res->msg), "out of memory reading the process output");
	} else {
		int code = WIFEXITED(status) ? WEXITSTATUS(status)
		    : WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
		char *o = rj_text_from_bytes(so.p ? so.p : "", so.n);
		char *e = rj_text_from_bytes(se.p ? se.p : "", se.n);
		res->output = cJSON_CreateObject();
		cJSON_AddNumberToObject(res->output, "status", code);
		cJSON_AddStringToObject(res->output, "stdout", o ? o : "");
		cJSON_AddStringToObject(res->output, "stderr", e ? e : "");
		free(o);
		free(e);
	}
	free(so.p);
	free(se.p);
	argv_free(&a);
	free(path);
}
