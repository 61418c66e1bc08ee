/* chaos-exec.c -- run a command with faults injected into its dependencies (LD_PRELOAD)
 *
 *   chaos-exec -f 'redis.local:6379 refuse' -- ./service
 *
 * Validates every rule before anything starts, finds libchaos-preload.so, appends it to
 * LD_PRELOAD, runs the command and exits with its status.  See man/chaos-exec.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "elfcheck.h"
#include "rule.h"
#include "tool.h"
#include "units.h"

#ifndef CHAOS_PKGLIBDIR
#define CHAOS_PKGLIBDIR "/usr/local/lib/chaos"
#endif
#define LIBNAME "libchaos-preload.so"
#define READY_TIMEOUT_MS 5000

static volatile sig_atomic_t child_pid;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: chaos-exec [OPTIONS] [--] COMMAND [ARG]...\n"
		"Run COMMAND with faults injected into the dependencies it talks to.\n"
		"\n"
		"  -f, --fault RULE     a fault rule, e.g. 'redis.local:6379 refuse' (repeatable)\n"
		"  -c, --config FILE    rules from a JSON file {\"faults\": [...]} (repeatable)\n"
		"      --log FILE|-     append a JSON line per injected fault to FILE (- is stdout;\n"
		"                       default: stderr)\n"
		"      --seed N         seed for p= decisions, to make a run reproducible\n"
		"      --check          check the rules, print them in canonical form, and exit\n"
		"  -v, --verbose        say what is injected where\n"
		"  -h, --help           this help\n"
		"      --version        the version\n"
		"\n"
		"Exit status: COMMAND's, or 128+N if signal N killed it; 2 for a bad option or rule;\n"
		"125 if chaos-exec itself failed; 126 if COMMAND cannot be run or faulted; 127 if\n"
		"COMMAND was not found.  The rule language: chaos-rules(7).\n");
}

/* Forward signals a process sent us; the terminal's already reached the whole group. */
static void forward(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (child_pid > 0 && si->si_code <= 0)
		kill(child_pid, sig);
}

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void install_forwarding(void)
{
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaction(forwarded[i], &sa, NULL);
}

static void restore_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaction(forwarded[i], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Where is libchaos-preload.so?  $CHAOS_PRELOAD, next to us (build tree), ../lib/chaos from us
 * (installed), then the directory it was installed to. */
static int find_library(char *out, size_t len)
{
	char self[PATH_MAX], cand[PATH_MAX + 64];
	const char *env = getenv("CHAOS_PRELOAD");

	if (env && *env) {
		if (env[0] != '/' || access(env, R_OK) != 0) {
			tool_error("CHAOS_PRELOAD=%s: %s", env,
				   env[0] != '/' ? "must be an absolute path" : strerror(errno));
			return -1;
		}
		snprintf(out, len, "%s", env);
		return 0;
	}
	if (tool_self_dir(self, sizeof(self)) == 0) {
		snprintf(cand, sizeof(cand), "%s/%s", self, LIBNAME);
		if (access(cand, R_OK) == 0) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
		snprintf(cand, sizeof(cand), "%s/../lib/chaos/%s", self, LIBNAME);
		char *real = realpath(cand, NULL);
		if (real) {
			snprintf(out, len, "%s", real);
			free(real);
			return 0;
		}
	}
	snprintf(cand, sizeof(cand), "%s/%s", CHAOS_PKGLIBDIR, LIBNAME);
	if (access(cand, R_OK) == 0) {
		snprintf(out, len, "%s", cand);
		return 0;
	}
	tool_error("cannot find %s (looked next to chaos-exec, in ../lib/chaos, and in %s); "
		   "set CHAOS_PRELOAD to its path",
		   LIBNAME, CHAOS_PKGLIBDIR);
	return -1;
}

/* Resolve COMMAND as execvp would.  Returns 0, or the exit status to give (126, 127). */
static int resolve_command(const char *cmd, char *out, size_t len)
{
	struct stat st;
	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		if (stat(out, &st) < 0) {
			tool_error("%s: %s", cmd, strerror(errno));
			return errno == ENOENT || errno == ENOTDIR ? 127 : 126;
		}
		if (S_ISDIR(st.st_mode) || access(out, X_OK) != 0) {
			tool_error("%s: %s", cmd, S_ISDIR(st.st_mode) ? "is a directory"
								       : "permission denied");
			return 126;
		}
		return 0;
	}
	const char *path = getenv("PATH");
	bool denied = false;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		snprintf(out, len, "%.*s%s%s", (int)n, p, n ? "/" : "", cmd);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return 0;
			denied = true;
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	if (denied) {
		tool_error("%s: permission denied", cmd);
		return 126;
	}
	tool_error("%s: command not found", cmd);
	return 127;
}

static int set_env(const char *name, const char *value)
{
	if (setenv(name, value, 1) < 0) {
		tool_error("cannot set %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

static int prepare_log(const char *log, char *out, size_t len)
{
	if (!log) {
		snprintf(out, len, "/proc/%d/fd/2", (int)getpid());
		return 0;
	}
	if (strcmp(log, "-") == 0) {
		snprintf(out, len, "/proc/%d/fd/1", (int)getpid());
		return 0;
	}
	int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		tool_error("--log %s: %s", log, strerror(errno));
		return -1;
	}
	close(fd);
	char *abs = realpath(log, NULL);
	if (!abs) {
		tool_error("--log %s: %s", log, strerror(errno));
		return -1;
	}
	snprintf(out, len, "%s", abs);
	free(abs);
	return 0;
}

/* Wait for the library in the child to say it is there. */
static void await_library(int fd, const char *cmd)
{
	char buf[8];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= READY_TIMEOUT_MS) {
			tool_error("warning: the fault library did not report from %s within %d s: "
				   "faults may not be injected",
				   cmd, READY_TIMEOUT_MS / 1000);
			return;
		}
		int r = poll(&pfd, 1, (int)(READY_TIMEOUT_MS - spent));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			return; /* "ok" */
		/* EOF: exec failed (the child reports it), or the program did not load us */
		int status;
		if (waitpid(child_pid, &status, WNOHANG | WNOWAIT) == 0)
			tool_error("warning: the fault library did not load in %s: no fault will "
				   "be injected into it",
				   cmd);
		return;
	}
}

int main(int argc, char **argv)
{
	struct chaos_rule_list rules = { 0 };
	char err[1024], lib[PATH_MAX + 128], cmd[PATH_MAX], logpath[PATH_MAX + 16], buf[64];
	const char *log = NULL;
	bool check = false, verbose = false, have_seed = false;
	uint64_t seed = 0;
	int rc = EXIT_USAGE;

	tool_name = "chaos-exec";
	enum { OPT_LOG = 256, OPT_SEED, OPT_CHECK, OPT_VERSION };
	static const struct option opts[] = {
		{ "fault", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+f:c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (chaos_rule_list_add(&rules, optarg, "--fault", err, sizeof(err)) < 0) {
				tool_error("%s", err);
				goto out;
			}
			break;
		case 'c':
			if (chaos_rule_list_add_file(&rules, optarg, err, sizeof(err)) < 0) {
				tool_error("%s", err);
				goto out;
			}
			break;
		case OPT_LOG:
			log = optarg;
			break;
		case OPT_SEED:
			if (chaos_parse_u64(optarg, UINT64_MAX, &seed) < 0) {
				tool_error("--seed '%s' is not a number", optarg);
				goto out;
			}
			have_seed = true;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		case OPT_VERSION:
			printf("chaos-exec %s\n", CHAOS_VERSION);
			rc = 0;
			goto out;
		default:
			tool_usage_error(argv[optind - 1], optopt);
			goto out;
		}
	}
	for (size_t i = 0; i < rules.n; i++) {
		char why[CHAOS_ERR_MAX];
		if (chaos_rule_supported(&rules.rules[i], CHAOS_FE_PRELOAD, why, sizeof(why)) < 0) {
			tool_error("%s: %s", rules.origins[i], why);
			goto out;
		}
	}
	if (check) {
		for (size_t i = 0; i < rules.n; i++)
			printf("%s\n", rules.texts[i]);
		rc = 0;
		goto out;
	}
	if (optind >= argc) {
		tool_error("no command given (chaos-exec [OPTIONS] -- COMMAND [ARG]...)");
		goto out;
	}
	if (prepare_log(log, logpath, sizeof(logpath)) < 0)
		goto out;
	rc = EXIT_INTERNAL;
	if (find_library(lib, sizeof(lib)) < 0)
		goto out;
	if (strpbrk(lib, " :")) {
		tool_error("%s: the library's path contains a space or ':', which LD_PRELOAD "
			   "cannot carry",
			   lib);
		goto out;
	}
	int r = resolve_command(argv[optind], cmd, sizeof(cmd));
	if (r) {
		rc = r;
		goto out;
	}
	if (elf_check_preloadable(cmd, err, sizeof(err), 0) < 0) {
		tool_error("%s", err);
		rc = EXIT_CANNOT_RUN;
		goto out;
	}

	/* the environment the library reads (see preload/init.c) */
	char *joined = chaos_rule_list_join(&rules);
	const char *old = getenv("LD_PRELOAD");
	char *preload = NULL;
	if (!joined || asprintf(&preload, "%s%s%s", old && *old ? old : "", old && *old ? ":" : "",
				lib) < 0) {
		tool_error("out of memory");
		free(joined);
		goto out;
	}
	if (!have_seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int env_rc = set_env("LD_PRELOAD", preload) | set_env("CHAOS_RULES", joined) |
		     set_env("CHAOS_LOG", logpath);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)seed);
	env_rc |= set_env("CHAOS_SEED", buf);
	snprintf(buf, sizeof(buf), "%llu",
		 (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec);
	env_rc |= set_env("CHAOS_EPOCH_NS", buf);
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	env_rc |= set_env("CHAOS_EXEC_PID", buf);
	free(preload);
	free(joined);
	if (env_rc)
		goto out;
	if (verbose)
		tool_error("%zu rule%s, seed %llu, library %s", rules.n, rules.n == 1 ? "" : "s",
			   (unsigned long long)seed, lib);

	int ready[2];
	if (pipe2(ready, 0) < 0) {
		tool_error("pipe: %s", strerror(errno));
		goto out;
	}
	fcntl(ready[0], F_SETFD, FD_CLOEXEC);
	snprintf(buf, sizeof(buf), "%d", ready[1]);
	if (set_env("CHAOS_READY_FD", buf) < 0)
		goto out;

	install_forwarding();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		tool_error("fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(ready[0]);
		restore_signals();
		execv(cmd, argv + optind);
		int e = errno;
		tool_error("%s: %s", argv[optind], strerror(e));
		_exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
	}
	child_pid = pid;
	close(ready[1]);
	await_library(ready[0], argv[optind]);
	close(ready[0]);

	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			tool_error("waitpid: %s", strerror(errno));
			goto out;
		}
	}
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
out:
	chaos_rule_list_free(&rules);
	return rc;
}
