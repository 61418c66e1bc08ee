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
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl_server.h"
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
		"      --record FILE    write every dependency the command contacted to FILE (JSON)\n"
		"      --max-rules N    rule ids this run may hand out, live changes included\n"
		"                       (default: 4096, or twice the rules given)\n"
		"      --check          check the rules, print them in canonical form, and exit\n"
		"  -v, --verbose        say what is injected where\n"
		"  -h, --help           this help\n"
		"      --version        the version\n"
		"\n"
		"Exit status: COMMAND's, or 128+N if signal N killed it; 2 for a bad option or rule;\n"
		"125 if chaos-exec itself failed; 126 if COMMAND cannot be run or faulted; 127 if\n"
		"COMMAND was not found.  The rule language: chaos-rules(7).\n");
}

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

/* Signals arrive through a signalfd, with the loop that serves chaos-ctl. */
static int block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(set, forwarded[i]);
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return -1;
	return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void restore_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

#if defined(__SANITIZE_ADDRESS__)
/* A sanitizer build (make SAN=1): the library is instrumented too, and the ASan runtime must
 * come first in the child's LD_PRELOAD.  Use the one we run with. */
static const char *asan_runtime(void)
{
	static char path[PATH_MAX];
	char line[PATH_MAX + 128];
	FILE *f = fopen("/proc/self/maps", "re");
	path[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');
		if (p && strstr(p, "/libasan.so")) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(path, sizeof(path), "%s", p);
			break;
		}
	}
	if (f)
		fclose(f);
	return path[0] ? path : NULL;
}
#endif

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

/* The library in the child says it is there on the ready pipe: "ok", or EOF if the program
 * never loaded it (or exec failed, which the child reports itself). */
static void ready_read(int *fd, pid_t pid, const char *cmd)
{
	char buf[8];
	ssize_t n = read(*fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == 0) {
		int status;
		if (waitpid(pid, &status, WNOHANG | WNOWAIT) == 0)
			tool_error("warning: the fault library did not load in %s: no fault will "
				   "be injected into it",
				   cmd);
	}
	close(*fd);
	*fd = -1;
}

/* chaos-exec holds every connection a stall rule steers to it: let it have as many fds as the
 * hard limit allows.  The command gets the limit it would have had. */
static struct rlimit nofile_saved;
static bool nofile_raised;

static void raise_nofile(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur >= r.rlim_max)
		return;
	nofile_saved = r;
	r.rlim_cur = r.rlim_max;
	nofile_raised = setrlimit(RLIMIT_NOFILE, &r) == 0;
}

static uint64_t mono_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(int argc, char **argv)
{
	struct chaos_rule_list rules = { 0 };
	char err[1024], lib[PATH_MAX + 128], cmd[PATH_MAX], logpath[PATH_MAX + 16], buf[64];
	const char *log = NULL, *record = NULL;
	uint64_t max_rules = 0;
	struct ctl_server *ctl = NULL;
	bool check = false, verbose = false, have_seed = false;
	uint64_t seed = 0;
	int rc = EXIT_USAGE;

	tool_name = "chaos-exec";
	enum { OPT_LOG = 256, OPT_SEED, OPT_CHECK, OPT_VERSION, OPT_RECORD, OPT_MAX_RULES };
	static const struct option opts[] = {
		{ "fault", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "max-rules", required_argument, NULL, OPT_MAX_RULES },
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
		case OPT_RECORD:
			record = optarg;
			break;
		case OPT_MAX_RULES:
			if (chaos_parse_u64(optarg, 1u << 24, &max_rules) < 0 || max_rules == 0) {
				tool_error("--max-rules '%s' is not a number from 1 to %u", optarg,
					   1u << 24);
				goto out;
			}
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

	if (record) {
		/* fail now, not after the run, if the record cannot be written */
		int fd = open(record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			tool_error("--record %s: %s", record, strerror(errno));
			rc = EXIT_USAGE;
			goto out;
		}
		close(fd);
	}
	if (!have_seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t epoch = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;

	raise_nofile();
	/* the control channel: the rules live in the shared area, where chaos-ctl changes them */
	ctl = ctl_server_start(&rules, seed, epoch, (uint32_t)max_rules, record != NULL,
			       argv + optind, err, sizeof(err));
	if (!ctl) {
		tool_error("live control: %s", err);
		goto out;
	}

	/* the environment the library reads (see preload/init.c) */
	char *joined = chaos_rule_list_join(&rules);
	const char *old = getenv("LD_PRELOAD");
	char *preload = NULL;
	const char *first = "";
#if defined(__SANITIZE_ADDRESS__)
	first = asan_runtime();
	if (!first)
		first = "";
#endif
	if (!joined || asprintf(&preload, "%s%s%s%s%s", first, *first ? ":" : "",
				old && *old ? old : "", old && *old ? ":" : "", lib) < 0) {
		tool_error("out of memory");
		free(joined);
		goto out;
	}
	int env_rc = set_env("LD_PRELOAD", preload) | set_env("CHAOS_LOG", logpath) |
		     set_env("CHAOS_SHM", ctl_server_shm(ctl)) |
		     set_env("CHAOS_CTL", ctl_server_sock(ctl));
	/* the rules in the environment too, for a process that cannot map the area; a large set
	 * lives only in the area (one environment string is limited to 128 KiB) */
	if (strlen(joined) < 64 * 1024)
		env_rc |= set_env("CHAOS_RULES", joined);
	else
		unsetenv("CHAOS_RULES");
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)seed);
	env_rc |= set_env("CHAOS_SEED", buf);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)epoch);
	env_rc |= set_env("CHAOS_EPOCH_NS", buf);
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	env_rc |= set_env("CHAOS_EXEC_PID", buf);
	free(preload);
	free(joined);
	if (env_rc)
		goto out;
	if (verbose)
		tool_error("%zu rule%s, seed %llu, library %s, control %s", rules.n,
			   rules.n == 1 ? "" : "s", (unsigned long long)seed, lib,
			   ctl_server_sock(ctl));

	int ready[2];
	if (pipe2(ready, 0) < 0) {
		tool_error("pipe: %s", strerror(errno));
		goto out;
	}
	fcntl(ready[0], F_SETFD, FD_CLOEXEC);
	snprintf(buf, sizeof(buf), "%d", ready[1]);
	if (set_env("CHAOS_READY_FD", buf) < 0)
		goto out;

	sigset_t sigs;
	int sfd = block_signals(&sigs);
	if (sfd < 0) {
		tool_error("signalfd: %s", strerror(errno));
		goto out;
	}
	/* the command's slot in the shared area, claimed now so that its pid is one of ours
	 * (chaos-ctl can change its rules) from the moment the fork makes it */
	struct shm_slot *slot = ctl_server_child_slot(ctl);
	pid_t self = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid != 0)
		ctl_server_child(ctl, pid);
	if (pid < 0) {
		tool_error("fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* the command dies with chaos-exec, even by SIGKILL: nothing else could take its
		 * faults off.  If chaos-exec is already gone, the signal was never sent. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != self)
			_exit(EXIT_INTERNAL);
		if (slot)
			ctl_server_child_ready(slot);
		close(ready[0]);
		restore_signals();
		if (nofile_raised)
			setrlimit(RLIMIT_NOFILE, &nofile_saved);
		execv(cmd, argv + optind);
		int e = errno;
		tool_error("%s: %s", argv[optind], strerror(e));
		_exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
	}
	close(ready[1]);
	int ready_fd = ready[0];
	struct timespec started;
	clock_gettime(CLOCK_MONOTONIC, &started);

	/* serve chaos-ctl, pass signals on, and wait for the command */
	int status = 0;
	bool done = false;
	while (!done) {
		struct pollfd pfd[4] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = ctl_server_fd(ctl), .events = POLLIN },
			{ .fd = ctl_server_outage_fd(ctl), .events = POLLIN },
			{ .fd = ready_fd, .events = POLLIN },
		};
		uint64_t timeout_ns = 1000000000ULL;
		if (ready_fd >= 0) {
			long left = READY_TIMEOUT_MS - ms_since(&started);
			if (left <= 0) {
				tool_error("warning: the fault library did not report from %s within "
					   "%d s: faults may not be injected",
					   argv[optind], READY_TIMEOUT_MS / 1000);
				close(ready_fd);
				ready_fd = -1;
				continue;
			}
			timeout_ns = (uint64_t)left * 1000000ULL;
		}
		/* sockets handed over for close-delay are closed on time */
		uint64_t next = ctl_server_next_close_ns(ctl);
		if (next) {
			uint64_t t = mono_now_ns();
			if (next <= t) {
				ctl_server_close_due(ctl);
				continue;
			}
			if (next - t < timeout_ns)
				timeout_ns = next - t;
		}
		struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000ULL),
				       .tv_nsec = (long)(timeout_ns % 1000000000ULL) };
		int n = ppoll(pfd, ready_fd >= 0 ? 4 : 3, &ts, NULL);
		if (n < 0 && errno != EINTR) {
			tool_error("poll: %s", strerror(errno));
			break;
		}
		if (n <= 0) {
			ctl_server_close_due(ctl);
			ctl_server_reap(ctl);
			continue;
		}
		if (pfd[2].revents & POLLIN)
			ctl_server_outage_handle(ctl);
		if (ready_fd >= 0 && (pfd[3].revents & (POLLIN | POLLHUP)))
			ready_read(&ready_fd, pid, argv[optind]);
		if (pfd[1].revents & POLLIN)
			ctl_server_handle(ctl);
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				/* signals from a process are passed on; the terminal's reached the
				 * whole foreground group already */
				if (si.ssi_code <= 0)
					kill(pid, (int)si.ssi_signo);
			}
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				done = true;
		}
	}
	if (ready_fd >= 0)
		close(ready_fd);
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	if (record && ctl_server_write_record(ctl, record, err, sizeof(err)) < 0) {
		tool_error("--record: %s", err);
		if (rc == 0)
			rc = EXIT_INTERNAL;
	}
out:
	ctl_server_stop(ctl);
	chaos_rule_list_free(&rules);
	return rc;
}
