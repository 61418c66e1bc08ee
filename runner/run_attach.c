/* run_attach.c -- eBPF faults from an experiment: chaos-attach on the service or a cgroup
 *
 *   {"type": "chaos", "attach": ["db.local:5432 stall"]}                  the service's tree
 *   {"type": "chaos", "attach": [...], "pid": 4242 | "cgroup": PATH | "container": ID}
 *
 * Each such activity runs one chaos-attach, which holds the faults while it lives: removing
 * them is stopping it (SIGTERM, then SIGKILL), and the kernel drops its links whatever happens
 * to it.  It dies with chaos-run (PR_SET_PDEATHSIG), so a chaos-run killed with SIGKILL leaves
 * no fault behind either.  We know it is attached when it says so on its standard error, which
 * goes to a file of ours (a pipe could fill up, or kill it with SIGPIPE once we stop reading).
 */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rule.h"

#define ATTACH_TIMEOUT 20.0 /* seconds for chaos-attach to load and attach */
#define STOP_GRACE 5.0

int run_attach_validate(const cJSON *prov, const char *name, char *err, size_t errlen)
{
	const cJSON *att = rj_get(prov, "attach");
	if (!cJSON_IsArray(att) || !att->child) {
		snprintf(err, errlen, "chaos \"attach\" must be a non-empty list of rules, in activity "
				      "'%s'",
			 name);
		return -1;
	}
	for (const cJSON *r = att->child; r; r = r->next) {
		struct chaos_rule rule;
		char msg[CHAOS_ERR_MAX];
		if (!cJSON_IsString(r)) {
			snprintf(err, errlen, "chaos rules must be strings, in activity '%s'", name);
			return -1;
		}
		if (strchr(r->valuestring, '$'))
			continue; /* substituted at run time; chaos-attach checks it then */
		if (chaos_rule_parse(r->valuestring, &rule, msg, sizeof(msg)) < 0 ||
		    chaos_rule_supported(&rule, CHAOS_FE_BPF, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "chaos rule '%.300s': %s, in activity '%s'",
				 r->valuestring, msg, name);
			return -1;
		}
	}
	int where = 0;
	static const char *const keys[] = { "pid", "cgroup", "container" };
	for (size_t i = 0; i < 3; i++)
		where += rj_get(prov, keys[i]) != NULL;
	if (where > 1) {
		snprintf(err, errlen, "chaos \"attach\" takes one of \"pid\", \"cgroup\" or "
				      "\"container\", in activity '%s'",
			 name);
		return -1;
	}
	return 0;
}

/* pid and every process below it (from /proc/PID/task/TID/children), into argv as --pid. */
static void add_tree(pid_t pid, char ***argv, size_t *n, size_t *cap, int depth)
{
	char path[320], buf[4096];
	if (*n + 2 >= *cap) {
		*cap = *cap * 2 + 8;
		*argv = realloc(*argv, *cap * sizeof(**argv));
	}
	(*argv)[(*n)++] = strdup("--pid");
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	(*argv)[(*n)++] = strdup(buf);
	if (depth > 32)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", (int)pid, e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n"))
			add_tree((pid_t)atoi(tok), argv, n, cap, depth + 1);
	}
	if (d)
		closedir(d);
}

pid_t run_attach_start(const cJSON *prov, char *const *rules, size_t nrules, pid_t service,
		       const char *logpath, char *err, size_t errlen)
{
	char *exe = run_sibling("chaos-attach");
	if (!exe) {
		snprintf(err, errlen, "chaos-attach not found next to chaos-run or in PATH");
		return -1;
	}
	size_t cap = 16 + 2 * nrules, n = 0;
	char **argv = calloc(cap, sizeof(*argv));
	argv[n++] = exe;
	const cJSON *p = rj_get(prov, "pid"), *cg = rj_get(prov, "cgroup"),
		    *ct = rj_get(prov, "container");
	char *s = NULL;
	if (p) {
		s = rj_pystr(p);
		argv[n++] = strdup("--pid");
		argv[n++] = s;
	} else if (cg || ct) {
		argv[n++] = strdup(cg ? "--cgroup" : "--container");
		argv[n++] = rj_pystr(cg ? cg : ct);
	} else if (service > 0) {
		add_tree(service, &argv, &n, &cap, 0);
	} else {
		snprintf(err, errlen, "no target: the service is not running");
		for (size_t i = 0; i < n; i++)
			free(argv[i]);
		free(argv);
		return -1;
	}
	if (n + 4 + 2 * nrules >= cap) {
		cap = n + 4 + 2 * nrules + 1;
		argv = realloc(argv, cap * sizeof(*argv));
	}
	for (size_t i = 0; i < nrules; i++) {
		argv[n++] = strdup("-f");
		argv[n++] = strdup(rules[i]);
	}
	argv[n++] = strdup("--log");
	argv[n++] = strdup(logpath);
	argv[n] = NULL;

	char msgs[] = "/tmp/chaos-run-attach.XXXXXX";
	int mfd = mkstemp(msgs);
	pid_t pid = -1;
	if (mfd < 0) {
		snprintf(err, errlen, "cannot make a temporary file: %s", strerror(errno));
		goto out;
	}
	unlink(msgs); /* only the two of us see it */
	pid_t parent = getpid();
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* detach (SIGTERM) when chaos-run goes, even by SIGKILL */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0); /* a Ctrl-C for chaos-run is chaos-run's to pass on */
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(nul, 0);
		dup2(mfd, 2);
		execv(argv[0], argv);
		dprintf(2, "chaos-run: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	/* attached when it says "attached ... rules to ...": its stderr, a line at a time */
	double deadline = run_now() + ATTACH_TIMEOUT;
	char buf[4096];
	for (;;) {
		ssize_t len = pread(mfd, buf, sizeof(buf) - 1, 0);
		buf[len > 0 ? len : 0] = '\0';
		if (strstr(buf, "chaos-attach: attached "))
			break;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			/* it refused or failed: its last line says why */
			char *last = buf, *nl;
			while ((nl = strchr(last, '\n')) && nl[1])
				last = nl + 1;
			last[strcspn(last, "\n")] = '\0';
			snprintf(err, errlen, "chaos-attach failed: %s",
				 *last ? last : "no message");
			pid = -1;
			break;
		}
		if (run_now() >= deadline) {
			snprintf(err, errlen, "chaos-attach did not attach within %gs", ATTACH_TIMEOUT);
			run_attach_stop(pid, NULL, 0);
			pid = -1;
			break;
		}
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
out:
	if (mfd >= 0)
		close(mfd);
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
	return pid;
}

int run_attach_stop(pid_t pid, char *err, size_t errlen)
{
	int status;
	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	double deadline = run_now() + STOP_GRACE;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno == ECHILD))
			return 0;
		if (run_now() >= deadline) {
			/* the kernel drops its links when it dies, however it dies */
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			if (err)
				snprintf(err, errlen, "chaos-attach %d did not stop within %gs of "
						      "SIGTERM: killed",
					 (int)pid, STOP_GRACE);
			return 0;
		}
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
}
