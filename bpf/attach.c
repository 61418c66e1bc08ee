/* attach.c -- chaos-attach: chaos rules on running processes, cgroups, containers and commands,
 * through eBPF (this is the loader; the kernel side is attach.bpf.c)
 *
 * main() goes: arguments, rules (refused ones stop us before anything is attached), targets,
 * libbpf_set_print, signals, open, rodata, load, maps, attach, poll, and one cleanup path.
 * Links are held by this process and never pinned: whatever ends it, SIGKILL included, the kernel
 * detaches every program.  A cgroup it makes for a command is removed by it on exit, or by a
 * small watchdog process it forks first if it is killed.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/capability.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf/attach.skel.h"
#include "../cli/tool.h"
#include "attach.h"
#include "cgroup.h"
#include "compile.h"
#include "config.h"
#include "dns.h"
#include "errnos.h"
#include "event.h"
#include "existing.h"
#include "rule.h"
#include "units.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

enum { EXIT_ATTACH = 1 }; /* could not attach (privileges, kernel, target) */

#define MAX_RULES 1000000
#define DEFAULT_REFRESH_NS (30 * NSEC_PER_SEC)

struct app {
	/* what was asked */
	struct chaos_rule_list rules;
	pid_t *pids;
	size_t npids;
	const char *cgroup_arg, *container_arg;
	char **cmd;
	uint64_t for_ns, refresh_ns, seed;
	bool check;
	int verbose;
	const char *log_path;

	/* where */
	char mount[PATH_MAX];
	char **cgs; /* where the programs attach: no one inside another */
	size_t ncgs;
	char made[PATH_MAX], home[PATH_MAX]; /* the cgroup made for COMMAND, and ours */
	int wd_fd;                           /* the watchdog's pipe */

	/* the kernel side */
	struct attach_bpf *skel;
	struct bpf_link **links;
	size_t nlinks;
	struct ring_buffer *rb;
	struct ca_needs needs;
	struct ca_resolved *res;
	struct ca_tables tab;
	uint32_t gen;
	uint64_t armed_ns;
	bool attached;

	/* user space */
	struct dns_server *dns;
	struct chaos_rule_state *dns_states;
	uint64_t *no_ns; /* namespaces we could not serve: warn once */
	size_t nno_ns;
	int log_fd;
	uint64_t lost_logged;
	pid_t child;
	int child_status;
	bool child_done;
	int *pidfds;
	size_t alive;
};

/* ---- messages ---------------------------------------------------------------------------------- */

static int verbosity;
static char libbpf_tail[4096]; /* the end of libbpf's output, for errors */

static int on_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n, have;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (verbosity >= 2 || (verbosity >= 1 && level <= LIBBPF_INFO))
		fputs(line, stderr);
	n = strlen(line);
	have = strlen(libbpf_tail);
	if (n >= sizeof(libbpf_tail))
		return 0;
	if (have + n >= sizeof(libbpf_tail)) {
		memmove(libbpf_tail, libbpf_tail + have + n + 1 - sizeof(libbpf_tail),
			sizeof(libbpf_tail) - n - 1);
		have = sizeof(libbpf_tail) - n - 1;
	}
	memcpy(libbpf_tail + have, line, n + 1);
	return 0;
}

/* What libbpf said about a failed load, reduced to the line that matters. */
static const char *load_hint(void)
{
	static char hint[256];
	const char *keys[] = { "unknown func", "cannot use helper", "invalid func",
			       "not supported", "kernel BTF is missing", "failed to find kernel BTF" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *p = strstr(libbpf_tail, keys[i]);
		if (!p)
			continue;
		while (p > libbpf_tail && p[-1] != '\n')
			p--;
		snprintf(hint, sizeof(hint), "%.*s", (int)strcspn(p, "\n"), p);
		return hint;
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: chaos-attach (--pid PID... | --cgroup PATH | --container ID) [OPTION]...\n"
		"       chaos-attach [OPTION]... -- COMMAND [ARG]...\n"
		"Inject the faults of chaos rules into running processes, a cgroup, a container or\n"
		"a command, through eBPF: static and Go binaries included.\n"
		"\n"
		"  -f, --fault RULE       a rule (repeatable), as in chaos-rules(7)\n"
		"  -c, --config FILE      rules from a JSON config file (repeatable)\n"
		"  -p, --pid PID...       running processes (PID,PID or PID PID; repeatable)\n"
		"      --cgroup PATH      every process in a cgroup v2 directory\n"
		"      --container ID     every process of a docker, containerd, CRI-O or podman\n"
		"                         container (its id, or a unique prefix)\n"
		"      --for DURATION     detach after DURATION (like 30s, 5m)\n"
		"      --log FILE|-       append one JSON line per injected fault to FILE (- for\n"
		"                         standard output; the default is standard error)\n"
		"      --seed N           seed for p= decisions, to make a run reproducible\n"
		"      --refresh DURATION re-resolve host names this often (default 30s)\n"
		"      --check            check the rules and show how they would run; attach nothing\n"
		"  -v, --verbose          say what is attached where (twice: libbpf's debug output)\n"
		"  -h, --help             this help\n"
		"      --version          the version\n"
		"\n"
		"Exit status: 0 detached (Ctrl-C, SIGTERM, --for, or every target exited); 1 could not\n"
		"attach; 2 bad option or rule.  With COMMAND: its status, or 125 (could not attach),\n"
		"126 (cannot run it), 127 (not found).  See chaos-attach(1).\n");
}

/* ---- arguments --------------------------------------------------------------------------------- */

enum { OPT_CGROUP = 256, OPT_CONTAINER, OPT_FOR, OPT_LOG, OPT_SEED, OPT_REFRESH, OPT_CHECK,
       OPT_VERSION };

static int add_pids(struct app *a, const char *arg)
{
	char buf[4096], *save, *tok;

	if (strlen(arg) >= sizeof(buf)) {
		tool_error("--pid '%.40s...' is too long", arg);
		return -1;
	}
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (chaos_parse_u64(tok, INT32_MAX, &v) < 0 || v == 0) {
			tool_error("--pid '%s' is not a process id", tok);
			return -1;
		}
		pid_t *n = realloc(a->pids, (a->npids + 1) * sizeof(*n));
		if (!n) {
			tool_error("out of memory");
			return -1;
		}
		a->pids = n;
		a->pids[a->npids++] = (pid_t)v;
	}
	return 0;
}

static int parse_args(struct app *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fault", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "container", required_argument, NULL, OPT_CONTAINER },
		{ "for", required_argument, NULL, OPT_FOR },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "refresh", required_argument, NULL, OPT_REFRESH },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	char err[CHAOS_ERR_MAX + CHAOS_RULE_TEXT_MAX + 64];
	bool have_seed = false;
	int opt;

	a->refresh_ns = DEFAULT_REFRESH_NS;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+f:c:p:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (chaos_rule_list_add(&a->rules, optarg, "--fault", err, sizeof(err)) < 0) {
				tool_error("%s", err);
				return -1;
			}
			break;
		case 'c':
			if (chaos_rule_list_add_file(&a->rules, optarg, err, sizeof(err)) < 0) {
				tool_error("%s", err);
				return -1;
			}
			break;
		case 'p':
			if (add_pids(a, optarg) < 0)
				return -1;
			/* --pid 1 2 3: the numbers that follow are PIDs too */
			while (optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
				if (add_pids(a, argv[optind++]) < 0)
					return -1;
			break;
		case OPT_CGROUP:
			a->cgroup_arg = optarg;
			break;
		case OPT_CONTAINER:
			a->container_arg = optarg;
			break;
		case OPT_FOR:
			if (chaos_parse_duration(optarg, &a->for_ns) < 0 || a->for_ns == 0) {
				tool_error("--for '%s' is not a duration (like 30s, 5m, 1h)", optarg);
				return -1;
			}
			break;
		case OPT_REFRESH:
			if (chaos_parse_duration(optarg, &a->refresh_ns) < 0 ||
			    a->refresh_ns < NSEC_PER_SEC) {
				tool_error("--refresh '%s' is not a duration of 1s or more", optarg);
				return -1;
			}
			break;
		case OPT_LOG:
			a->log_path = optarg;
			break;
		case OPT_SEED:
			if (chaos_parse_u64(optarg, UINT64_MAX, &a->seed) < 0) {
				tool_error("--seed '%s' is not a number", optarg);
				return -1;
			}
			have_seed = true;
			break;
		case OPT_CHECK:
			a->check = true;
			break;
		case 'v':
			a->verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("chaos-attach %s\n", CHAOS_VERSION);
			exit(0);
		default:
			tool_usage_error(argv[optind - 1], optopt);
			return -1;
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0) {
			tool_error("unexpected argument '%s' (a command goes after '--')",
				   argv[optind]);
			return -1;
		}
		a->cmd = argv + optind;
	} else if (optind > 0 && strcmp(argv[optind - 1], "--") == 0) {
		tool_error("no command after '--'");
		return -1;
	}
	int modes = (a->npids > 0) + (a->cgroup_arg != NULL) + (a->container_arg != NULL) +
		    (a->cmd != NULL);
	if (modes == 0 && !a->check) {
		tool_error("say what to attach to: --pid PID, --cgroup PATH, --container ID, or "
			   "-- COMMAND (see chaos-attach --help)");
		return -1;
	}
	if (modes > 1) {
		tool_error("--pid, --cgroup, --container and a COMMAND exclude each other");
		return -1;
	}
	if (a->rules.n == 0) {
		tool_error("no rules: give at least one with -f RULE or -c FILE");
		return -1;
	}
	if (a->rules.n > MAX_RULES) {
		tool_error("%zu rules: chaos-attach takes at most %d", a->rules.n, MAX_RULES);
		return -1;
	}
	if (!have_seed && getrandom(&a->seed, sizeof(a->seed), 0) != sizeof(a->seed))
		a->seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	return 0;
}

/* Every rule this path cannot carry out, named; false if there was any. */
static bool rules_supported(const struct app *a)
{
	char err[CHAOS_ERR_MAX];
	bool ok = true;

	for (size_t i = 0; i < a->rules.n; i++) {
		if (chaos_rule_supported(&a->rules.rules[i], CHAOS_FE_BPF, err, sizeof(err)) < 0) {
			tool_error("%s: %s", a->rules.origins[i], err);
			ok = false;
		}
	}
	return ok;
}

/* ---- host names -------------------------------------------------------------------------------- */

static int addr_cmp(const void *pa, const void *pb)
{
	const struct ca_addr *x = pa, *y = pb;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

/* The addresses name resolves to now (sorted, no duplicates). */
static int resolve(const char *name, struct ca_resolved *out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	size_t n = 0;
	int rc = getaddrinfo(name, NULL, &hints, &res);

	memset(out, 0, sizeof(*out));
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", name,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -ENOENT;
	}
	for (ai = res; ai; ai = ai->ai_next)
		n++;
	out->addrs = calloc(n ? n : 1, sizeof(*out->addrs));
	if (!out->addrs) {
		freeaddrinfo(res);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct ca_addr *x = &out->addrs[out->n];
		if (ai->ai_family == AF_INET) {
			x->family = AF_INET;
			memcpy(x->addr, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			const struct in6_addr *a6 = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			if (IN6_IS_ADDR_V4MAPPED(a6)) {
				x->family = AF_INET;
				memcpy(x->addr, &a6->s6_addr[12], 4);
			} else {
				x->family = AF_INET6;
				memcpy(x->addr, a6, 16);
			}
		} else {
			continue;
		}
		out->n++;
	}
	freeaddrinfo(res);
	qsort(out->addrs, out->n, sizeof(*out->addrs), addr_cmp);
	size_t u = 0;
	for (size_t i = 0; i < out->n; i++)
		if (i == 0 || addr_cmp(&out->addrs[i], &out->addrs[u - 1]) != 0)
			out->addrs[u++] = out->addrs[i];
	out->n = u;
	return 0;
}

static bool resolved_equal(const struct ca_resolved *x, const struct ca_resolved *y)
{
	return x->n == y->n && memcmp(x->addrs, y->addrs, x->n * sizeof(x->addrs[0])) == 0;
}

static int resolve_all(struct app *a)
{
	char err[CHAOS_ERR_MAX];

	a->res = calloc(a->rules.n, sizeof(*a->res));
	if (!a->res) {
		tool_error("out of memory");
		return -1;
	}
	for (size_t i = 0; i < a->rules.n; i++) {
		const struct chaos_rule *r = &a->rules.rules[i];
		if (r->target.kind != CHAOS_HOST_NAME || r->action == CHAOS_ACT_DNS)
			continue;
		if (resolve(r->target.name, &a->res[i], err, sizeof(err)) < 0) {
			tool_error("%s: %s", a->rules.origins[i], err);
			return -1;
		}
	}
	return 0;
}

/* ---- targets ----------------------------------------------------------------------------------- */

static int add_cgroup(struct app *a, const char *path)
{
	/* a program attached to a cgroup runs for its descendants too: attach only at the top */
	for (size_t i = 0; i < a->ncgs; i++) {
		if (cg_is_within(path, a->cgs[i]))
			return 0;
		if (cg_is_within(a->cgs[i], path)) {
			free(a->cgs[i]);
			a->cgs[i] = a->cgs[--a->ncgs];
			i--;
		}
	}
	char **n = realloc(a->cgs, (a->ncgs + 1) * sizeof(*n));
	if (!n || !(n[a->ncgs] = strdup(path))) {
		if (n)
			a->cgs = n;
		tool_error("out of memory");
		return -1;
	}
	a->cgs = n;
	a->ncgs++;
	return 0;
}

static int find_targets(struct app *a)
{
	char err[PATH_MAX + 256], path[PATH_MAX];

	if (cg_mount("/proc/self/mounts", a->mount, sizeof(a->mount), err, sizeof(err)) < 0) {
		tool_error("%s", err);
		return -1;
	}
	if (a->npids) {
		a->pidfds = calloc(a->npids, sizeof(*a->pidfds));
		if (!a->pidfds) {
			tool_error("out of memory");
			return -1;
		}
		for (size_t i = 0; i < a->npids; i++) {
			a->pidfds[i] = (int)syscall(SYS_pidfd_open, a->pids[i], 0);
			if (a->pidfds[i] < 0) {
				tool_error("--pid %d: %s", (int)a->pids[i],
					   errno == ESRCH ? "no such process" : strerror(errno));
				return -1;
			}
			if (a->pids[i] == getpid()) {
				tool_error("--pid %d is chaos-attach itself", (int)a->pids[i]);
				return -1;
			}
			if (cg_of_pid(a->mount, a->pids[i], path, sizeof(path), err, sizeof(err)) < 0) {
				tool_error("--pid %d: %s", (int)a->pids[i], err);
				return -1;
			}
			if (add_cgroup(a, path) < 0)
				return -1;
		}
		a->alive = a->npids;
		return 0;
	}
	if (a->cgroup_arg || a->container_arg) {
		if (a->cgroup_arg) {
			if (!realpath(a->cgroup_arg, path)) {
				tool_error("--cgroup %s: %s", a->cgroup_arg, strerror(errno));
				return -1;
			}
		} else if (cg_find_container(a->mount, a->container_arg, path, sizeof(path), err,
					     sizeof(err)) < 0) {
			tool_error("--container %s", err);
			return -1;
		}
		if (cg_check(path, err, sizeof(err)) < 0) {
			tool_error("%s %s", a->cgroup_arg ? "--cgroup" : "--container", err);
			return -1;
		}
		char root[PATH_MAX];
		if (realpath(a->mount, root) && strcmp(root, path) == 0) {
			tool_error("%s %s is the root cgroup, which holds every process on the "
				   "machine: give a cgroup of the processes to fault, or use --pid",
				   a->cgroup_arg ? "--cgroup" : "--container", path);
			return -1;
		}
		return add_cgroup(a, path);
	}
	return 0;
}

/* The watchdog: a process with none of our fds that removes the command's cgroup if we die
 * without doing it (SIGKILL).  Forked before anything eBPF exists, so it holds no link. */
static int watchdog_start(struct app *a)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		tool_error("pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		tool_error("fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		char buf[2 * PATH_MAX + 16], err[PATH_MAX + 64];
		size_t used = 0;
		ssize_t n;
		int keep = p[0];

		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		prctl(PR_SET_NAME, "chaos-attach-wd");
		if (keep > 3)
			close_range(3, (unsigned)keep - 1, 0);
		close_range((unsigned)keep + 1, ~0U, 0);
		while (used < sizeof(buf) - 1 &&
		       ((n = read(keep, buf + used, sizeof(buf) - 1 - used)) > 0 ||
			(n < 0 && errno == EINTR)))
			if (n > 0)
				used += (size_t)n;
		buf[used] = '\0';
		/* "CGROUP\nHOME\n", then "done\n" once chaos-attach has cleaned up itself */
		char *nl1 = strchr(buf, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
		if (!nl2 || strstr(nl2 + 1, "done\n"))
			_exit(0);
		*nl1 = *nl2 = '\0';
		if (cg_remove(buf, nl1 + 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "chaos-attach: %s\n", err);
			_exit(1);
		}
		_exit(0);
	}
	close(p[0]);
	a->wd_fd = p[1];
	return 0;
}

static int make_command_cgroup(struct app *a)
{
	char err[PATH_MAX + 256], line[2 * PATH_MAX + 4];

	if (cg_of_pid(a->mount, getpid(), a->home, sizeof(a->home), err, sizeof(err)) < 0) {
		tool_error("%s", err);
		return -1;
	}
	if (watchdog_start(a) < 0)
		return -1;
	if (cg_create(a->home, "chaos-attach", a->made, sizeof(a->made), err, sizeof(err)) < 0) {
		tool_error("%s", err);
		a->made[0] = '\0';
		return -1;
	}
	int n = snprintf(line, sizeof(line), "%s\n%s\n", a->made, a->home);
	if (write(a->wd_fd, line, (size_t)n) != n)
		tool_error("warning: the watchdog did not get the cgroup's name: if chaos-attach is "
			   "killed, remove %s yourself", a->made);
	return add_cgroup(a, a->made);
}

/* ---- capabilities ------------------------------------------------------------------------------ */

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

static int check_privileges(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	char missing[128] = "";

	if (syscall(SYS_capget, &h, d) < 0)
		return 0; /* the loads will say */
	if (!has_cap(d, 39 /* CAP_BPF */) && !has_cap(d, CAP_SYS_ADMIN))
		strcat(missing, "CAP_BPF");
	if (!has_cap(d, CAP_NET_ADMIN))
		strcat(missing, missing[0] ? ", CAP_NET_ADMIN" : "CAP_NET_ADMIN");
	if (!missing[0])
		return 0;
	tool_error("needs CAP_BPF and CAP_NET_ADMIN to load eBPF programs and attach them to "
		   "cgroups (missing: %s): run it as root",
		   missing);
	return -1;
}

/* ---- the log ---------------------------------------------------------------------------------- */

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void write_line(struct app *a, const struct chaos_event *ev)
{
	char line[2048];
	int n = chaos_event_format(ev, line, sizeof(line));

	if (n < 0 || a->log_fd < 0)
		return;
	for (const char *p = line; n > 0;) {
		ssize_t w = write(a->log_fd, p, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (int)w;
	}
}

static const char *host_of(const struct app *a, uint32_t rule)
{
	const struct chaos_rule *r;
	if (!rule || rule > a->rules.n)
		return NULL;
	r = &a->rules.rules[rule - 1];
	return r->target.kind == CHAOS_HOST_NAME ? r->target.name : NULL;
}

static void on_dns_fault(void *arg, const struct dns_fault *f)
{
	struct app *a = arg;
	struct chaos_event ev = {
		.time_ns = clock_ns(CLOCK_REALTIME),
		.source = "bpf",
		.pid = f->pid,
		.tid = f->tid,
		.call = "dns",
		.dest = f->name,
		.host = f->name,
		.rule_id = f->rule_id,
		.rule = a->rules.texts[f->rule_id - 1],
		.action = "dns",
		.result = f->result,
	};
	write_line(a, &ev);
}

static void serve_netns(struct app *a, pid_t pid, uint64_t cookie_hint);

static int on_event(void *ctx, void *data, size_t size)
{
	struct app *a = ctx;
	const struct ca_event *e = data;
	char dest[INET6_ADDRSTRLEN + 16], result[96], tmp[48];
	struct chaos_dest d = { 0 };
	uint64_t offset = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	static const char *const calls[] = { [CA_CALL_CONNECT] = "connect", [CA_CALL_SEND] = "send",
					     [CA_CALL_RECV] = "recv", [CA_CALL_ATTACH] = "attach" };

	if (size < sizeof(*e))
		return 0;
	if (e->call == CA_CALL_NO_NS) {
		serve_netns(a, (pid_t)e->pid, e->netns);
		return 0;
	}
	if (!e->rule || e->rule > a->rules.n || e->call >= sizeof(calls) / sizeof(calls[0]) ||
	    !calls[e->call])
		return 0;
	d.family = e->family;
	d.port = e->port;
	memcpy(d.addr, e->addr, 16);
	chaos_dest_format(&d, dest, sizeof(dest));
	switch (e->what) {
	case CA_EV_ERRNO:
		if (chaos_errno_name(e->err))
			snprintf(result, sizeof(result), "%s", chaos_errno_name(e->err));
		else
			snprintf(result, sizeof(result), "errno %d", e->err);
		break;
	case CA_EV_DROPPED:
		snprintf(result, sizeof(result), e->err ? "EPERM" : "dropped");
		break;
	case CA_EV_NO_ANSWER:
		if (e->err) {
			chaos_format_duration((uint64_t)e->err * NSEC_PER_MSEC, tmp, sizeof(tmp));
			snprintf(result, sizeof(result), "ETIMEDOUT after %s", tmp);
		} else {
			snprintf(result, sizeof(result), "no answer");
		}
		break;
	case CA_EV_STALLED:
		snprintf(result, sizeof(result), "stalled");
		break;
	case CA_EV_DELAYED:
		chaos_format_duration((uint64_t)e->err * NSEC_PER_MSEC, tmp, sizeof(tmp));
		snprintf(result, sizeof(result), "delayed %s", tmp);
		break;
	case CA_EV_PACED:
		chaos_format_rate((uint32_t)e->err, tmp, sizeof(tmp));
		snprintf(result, sizeof(result), "paced to %s", tmp);
		break;
	case CA_EV_LOSSY: {
		uint32_t ppm = (uint32_t)e->err;
		if (ppm % 10000 == 0)
			snprintf(result, sizeof(result), "losing %u%% of packets", ppm / 10000);
		else
			snprintf(result, sizeof(result), "losing %u.%04u%% of packets", ppm / 10000,
				 ppm % 10000);
		break;
	}
	default:
		return 0;
	}
	struct chaos_event ev = {
		.time_ns = e->ts_ns + offset,
		.source = "bpf",
		.pid = (int)e->pid,
		.tid = (int)e->tid,
		.call = calls[e->call],
		.dest = dest,
		.host = host_of(a, e->rule),
		.rule_id = e->rule,
		.rule = a->rules.texts[e->rule - 1],
		.action = chaos_action_name(a->rules.rules[e->rule - 1].action),
		.result = result,
	};
	write_line(a, &ev);
	return 0;
}

static int open_log(struct app *a)
{
	if (!a->log_path)
		a->log_fd = fcntl(2, F_DUPFD_CLOEXEC, 3); /* as chaos-exec: standard error */
	else if (strcmp(a->log_path, "-") == 0)
		a->log_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
	else
		a->log_fd = open(a->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (a->log_fd < 0) {
		tool_error("--log %s: %s", a->log_path ? a->log_path : "(standard error)",
			   strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- maps ------------------------------------------------------------------------------------- */

/* n entries into a map, in batches where the kernel takes them (arrays, hashes), else one by
 * one (the LPM trie). */
static int map_fill(int fd, const void *keys, size_t ksize, const void *values, size_t vsize,
		    size_t n)
{
	const char *k = keys, *v = values;
	size_t done = 0;

	while (done < n) {
		__u32 count = (__u32)(n - done > 65536 ? 65536 : n - done);
		LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
		if (bpf_map_update_batch(fd, k + done * ksize, v + done * vsize, &count, &opts) < 0)
			break;
		done += count;
	}
	for (; done < n; done++)
		if (bpf_map_update_elem(fd, k + done * ksize, v + done * vsize, BPF_ANY) < 0)
			return -errno;
	return 0;
}

static int write_lists(struct app *a, const struct ca_tables *t)
{
	return map_fill(bpf_map__fd(a->skel->maps.dst_lists), t->list_keys, sizeof(t->list_keys[0]),
			t->lists, sizeof(t->lists[0]), t->nlists);
}

static int write_keys(struct app *a, const struct ca_tables *t)
{
	return map_fill(bpf_map__fd(a->skel->maps.dst_trie), t->keys, sizeof(t->keys[0]), t->cls,
			sizeof(t->cls[0]), t->nkeys);
}

static int write_rules(struct app *a)
{
	struct ca_rule *k = calloc(a->rules.n, sizeof(*k));
	uint32_t *keys = calloc(a->rules.n, sizeof(*keys));
	int rc = -ENOMEM;

	if (k && keys) {
		for (size_t i = 0; i < a->rules.n; i++) {
			keys[i] = (uint32_t)i;
			ca_rule_compile(&a->rules.rules[i], &k[i]);
		}
		rc = map_fill(bpf_map__fd(a->skel->maps.rules), keys, sizeof(keys[0]), k,
			      sizeof(k[0]), a->rules.n);
	}
	free(k);
	free(keys);
	return rc;
}

static int key_cmp_sort(const void *x, const void *y)
{
	const struct ca_key *p = x, *q = y;
	if (p->prefixlen != q->prefixlen)
		return p->prefixlen < q->prefixlen ? -1 : 1;
	return memcmp(p->data, q->data, sizeof(p->data));
}

/* Host names again: if an address changed, the new tables go in beside the old (their classes
 * are numbered apart), the trie is pointed at them, and the old go. */
static void refresh_names(struct app *a)
{
	char err[CHAOS_ERR_MAX + 64];
	struct ca_resolved *fresh = calloc(a->rules.n, sizeof(*fresh));
	struct ca_tables t;
	bool changed = false;

	if (!fresh)
		return;
	for (size_t i = 0; i < a->rules.n; i++) {
		const struct chaos_rule *r = &a->rules.rules[i];
		if (r->target.kind != CHAOS_HOST_NAME || r->action == CHAOS_ACT_DNS)
			continue;
		if (resolve(r->target.name, &fresh[i], err, sizeof(err)) < 0) {
			tool_error("warning: %s: %s: keeping its addresses", a->rules.origins[i], err);
			free(fresh[i].addrs);
			fresh[i].n = a->res[i].n;
			fresh[i].addrs = malloc((a->res[i].n ? a->res[i].n : 1) * sizeof(struct ca_addr));
			if (fresh[i].addrs)
				memcpy(fresh[i].addrs, a->res[i].addrs, a->res[i].n * sizeof(struct ca_addr));
			else
				fresh[i].n = 0;
			continue;
		}
		if (!resolved_equal(&fresh[i], &a->res[i]))
			changed = true;
	}
	if (!changed)
		goto drop;
	uint32_t base = (a->gen + 1) & 1 ? 0x80000000u : 0;
	if (ca_tables_build(a->rules.rules, fresh, a->rules.n, base, &t, err, sizeof(err)) < 0) {
		tool_error("warning: host names resolved to new addresses, but %s: keeping the old",
			   err);
		goto drop;
	}
	int rc = write_lists(a, &t);
	if (rc == 0)
		rc = write_keys(a, &t);
	if (rc < 0) {
		tool_error("warning: cannot load the new addresses of host names (%s): keeping the "
			   "old", strerror(-rc));
		/* the new lists may be half in: remove them; keys written point at them, so put
		 * the old ones back */
		write_keys(a, &a->tab);
		for (size_t i = 0; i < t.nlists; i++)
			bpf_map_delete_elem(bpf_map__fd(a->skel->maps.dst_lists), &t.list_keys[i]);
		ca_tables_free(&t);
		goto drop;
	}
	/* keys the new tables no longer have, then the old lists */
	struct ca_key *sorted = malloc((t.nkeys ? t.nkeys : 1) * sizeof(*sorted));
	if (sorted) {
		memcpy(sorted, t.keys, t.nkeys * sizeof(*sorted));
		qsort(sorted, t.nkeys, sizeof(*sorted), key_cmp_sort);
		for (size_t i = 0; i < a->tab.nkeys; i++)
			if (!bsearch(&a->tab.keys[i], sorted, t.nkeys, sizeof(*sorted), key_cmp_sort))
				bpf_map_delete_elem(bpf_map__fd(a->skel->maps.dst_trie),
						    &a->tab.keys[i]);
		free(sorted);
	}
	/* (without memory for the sort, stale addresses stay until the next change) */
	for (size_t i = 0; i < a->tab.nlists; i++)
		bpf_map_delete_elem(bpf_map__fd(a->skel->maps.dst_lists), &a->tab.list_keys[i]);
	ca_tables_free(&a->tab);
	a->tab = t;
	a->gen++;
	for (size_t i = 0; i < a->rules.n; i++) {
		free(a->res[i].addrs);
		a->res[i] = fresh[i];
	}
	free(fresh);
	if (a->verbose)
		tool_error("host names resolved to new addresses: %zu address blocks now", t.nkeys);
	return;
drop:
	for (size_t i = 0; i < a->rules.n; i++)
		free(fresh[i].addrs);
	free(fresh);
}

/* ---- network namespaces ----------------------------------------------------------------------- */

static void serve_netns(struct app *a, pid_t pid, uint64_t cookie_hint)
{
	char err[256];
	struct ca_ns ns;
	uint64_t cookie;
	int rc;

	if (!a->dns)
		return;
	for (size_t i = 0; i < a->nno_ns; i++)
		if (a->no_ns[i] == cookie_hint)
			return;
	rc = dns_add_ns(a->dns, pid, &cookie, &ns, err, sizeof(err));
	if (rc == 1)
		rc = bpf_map_update_elem(bpf_map__fd(a->skel->maps.ns_map), &cookie, &ns, BPF_ANY);
	if (rc < 0 || (cookie_hint && rc == 0 && cookie != cookie_hint)) {
		uint64_t *n = realloc(a->no_ns, (a->nno_ns + 1) * sizeof(*n));
		if (n) {
			a->no_ns = n;
			a->no_ns[a->nno_ns++] = cookie_hint;
		}
		tool_error("warning: process %d is in a network namespace chaos-attach cannot serve "
			   "(%s): its DNS queries go to the real server, unfaulted",
			   (int)pid, rc < 0 ? err : "it changed");
		return;
	}
	if (cookie_hint && a->verbose)
		tool_error("DNS responder now in the network namespace of process %d (its first "
			   "query went to the real server)",
			   (int)pid);
}

/* ---- attaching ------------------------------------------------------------------------------- */

struct hook {
	const char *name;
	struct bpf_program *prog;
	bool want;
};

static int attach_all(struct app *a)
{
	struct attach_bpf *s = a->skel;
	struct hook hooks[] = {
		{ "cgroup/connect4", s->progs.ca_connect4, a->needs.connect },
		{ "cgroup/connect6", s->progs.ca_connect6, a->needs.connect },
		{ "cgroup/sendmsg4", s->progs.ca_sendmsg4, a->needs.sendmsg },
		{ "cgroup/sendmsg6", s->progs.ca_sendmsg6, a->needs.sendmsg },
		{ "cgroup/recvmsg4", s->progs.ca_recvmsg4, a->needs.dns },
		{ "cgroup/recvmsg6", s->progs.ca_recvmsg6, a->needs.dns },
		{ "cgroup/getpeername4", s->progs.ca_getpeername4, a->needs.dns },
		{ "cgroup/getpeername6", s->progs.ca_getpeername6, a->needs.dns },
		{ "sockops", s->progs.ca_sockops, a->needs.sockops },
		{ "cgroup_skb/egress", s->progs.ca_egress, a->needs.packets },
		{ "cgroup_skb/ingress", s->progs.ca_ingress, a->needs.packets },
	};
	size_t nh = sizeof(hooks) / sizeof(hooks[0]);

	a->links = calloc(a->ncgs * nh, sizeof(*a->links));
	if (!a->links) {
		tool_error("out of memory");
		return -1;
	}
	for (size_t c = 0; c < a->ncgs; c++) {
		int fd = open(a->cgs[c], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			tool_error("cannot open the cgroup %s: %s", a->cgs[c], strerror(errno));
			return -1;
		}
		for (size_t h = 0; h < nh; h++) {
			if (!hooks[h].want)
				continue;
			struct bpf_link *l = bpf_program__attach_cgroup(hooks[h].prog, fd);
			if (!l) {
				int e = errno;
				tool_error("cannot attach %s to %s: %s%s", hooks[h].name, a->cgs[c],
					   strerror(e),
					   e == EPERM ? " (needs CAP_NET_ADMIN)"
					   : e == EINVAL || e == EOPNOTSUPP
						   ? " (this kernel lacks the hook)"
						   : "");
				close(fd);
				return -1;
			}
			a->links[a->nlinks++] = l;
			if (a->verbose) {
				struct bpf_link_info li = { 0 };
				struct bpf_prog_info pi = { 0 };
				__u32 len = sizeof(li), plen = sizeof(pi);
				bpf_obj_get_info_by_fd(bpf_link__fd(l), &li, &len);
				bpf_obj_get_info_by_fd(bpf_program__fd(hooks[h].prog), &pi, &plen);
				tool_error("attached %s to %s (prog id %u, link id %u)", hooks[h].name,
					   a->cgs[c], pi.id, li.id);
			}
		}
		close(fd);
	}
	a->attached = true;
	return 0;
}

static void detach_all(struct app *a)
{
	for (size_t i = 0; i < a->nlinks; i++)
		bpf_link__destroy(a->links[i]);
	a->nlinks = 0;
	a->attached = false;
}

/* ---- sockets from before the attach ------------------------------------------------------------- */

static void scan_existing(struct app *a)
{
	struct ex_ctx c = { .prog_fd = bpf_program__fd(a->skel->progs.ca_existing),
			    .sk_fd = bpf_map__fd(a->skel->maps.sk_store) };
	struct ex_stats st = { 0 };
	char err[256];
	pid_t *pids = NULL;
	size_t n = 0;

	if (a->npids) {
		pids = a->pids;
		n = a->npids;
	} else if (cg_procs(a->cgs[0], &pids, &n, err, sizeof(err)) < 0) {
		tool_error("warning: %s: connections made before the attach are not covered", err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (pids[i] == getpid())
			continue;
		if (ex_scan(&c, pids[i], &st, err, sizeof(err)) < 0 && kill(pids[i], 0) == 0)
			tool_error("warning: %s: its connections made before the attach are not "
				   "covered",
				   err);
		if (a->needs.dns)
			serve_netns(a, pids[i], 0);
	}
	if (a->verbose || st.failed)
		tool_error("%s%zu sockets from before the attach: %zu connections now faulted, %zu "
			   "UDP sockets under the datagram rules%s",
			   st.failed ? "warning: " : "", st.sockets, st.marked, st.udp,
			   st.failed ? ", some could not be reached" : "");
	if (pids != a->pids)
		free(pids);
	ex_free(&c);
}

/* After the detach: the socket options the faults set on the targets' connections (pacing, a
 * user time-out), and UDP sockets connected to the DNS responder, would outlive it; give them
 * back.  (After a kill -9 nobody can: see chaos-attach(1).) */
static void release_sockets(struct app *a)
{
	struct ex_ctx c = { .sk_fd = bpf_map__fd(a->skel->maps.sk_store) };
	char err[256];
	pid_t *pids = a->pids;
	size_t n = a->npids, released = 0;

	if (!a->needs.sockops && !a->needs.dns)
		return;
	if (!a->npids && (!a->ncgs || cg_procs(a->made[0] ? a->made : a->cgs[0], &pids, &n, err,
						 sizeof(err)) < 0))
		return;
	for (size_t i = 0; i < n; i++)
		if (pids[i] != getpid())
			released += ex_release(&c, pids[i]);
	if (a->verbose && released)
		tool_error("%zu sockets given back their pacing, time-out or DNS server", released);
	if (pids != a->pids)
		free(pids);
	ex_free(&c);
}

/* ---- the command ------------------------------------------------------------------------------ */

static int start_command(struct app *a, const sigset_t *old)
{
	int p[2], e = 0;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0) {
		tool_error("pipe: %s", strerror(errno));
		return -1;
	}
	a->child = fork();
	if (a->child < 0) {
		tool_error("fork: %s", strerror(errno));
		return -1;
	}
	if (a->child == 0) {
		char err[PATH_MAX + 64];
		close(p[0]);
		sigprocmask(SIG_SETMASK, old, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (cg_move(a->made, 0, err, sizeof(err)) < 0) {
			e = -1; /* "could not move" */
			if (write(p[1], &e, sizeof(e)) < 0)
				_exit(EXIT_INTERNAL);
			_exit(EXIT_INTERNAL);
		}
		execvp(a->cmd[0], a->cmd);
		e = errno;
		if (write(p[1], &e, sizeof(e)) < 0)
			_exit(EXIT_CANNOT_RUN);
		_exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
	}
	close(p[1]);
	while ((n = read(p[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(p[0]);
	if (n == sizeof(e)) {
		int status;
		waitpid(a->child, &status, 0);
		a->child_done = true;
		a->child_status = status;
		if (e == -1)
			tool_error("cannot move the command into %s", a->made);
		else
			tool_error("cannot run '%s': %s", a->cmd[0], strerror(e));
		return -1;
	}
	return 0;
}

/* ---- the loop --------------------------------------------------------------------------------- */

enum { EV_SIGNAL = 1, EV_TIMER, EV_FOR, EV_RING, EV_DNS, EV_PIDFD };

static int watch_fd(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Runs until a signal, --for, the command or every target ends.  Returns why. */
static const char *run(struct app *a, int sfd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int ffd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec tick = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct itimerspec end = { .it_value = { (time_t)(a->for_ns / NSEC_PER_SEC),
						(long)(a->for_ns % NSEC_PER_SEC) } };
	uint64_t start = clock_ns(CLOCK_MONOTONIC), next_refresh = start + a->refresh_ns;
	bool names = false;
	const char *why = NULL;

	for (size_t i = 0; i < a->rules.n; i++)
		if (a->rules.rules[i].target.kind == CHAOS_HOST_NAME &&
		    a->rules.rules[i].action != CHAOS_ACT_DNS)
			names = true;
	if (ep < 0 || tfd < 0 || ffd < 0 || timerfd_settime(tfd, 0, &tick, NULL) < 0 ||
	    (a->for_ns && (timerfd_settime(ffd, 0, &end, NULL) < 0 || watch_fd(ep, ffd, EV_FOR) < 0)) ||
	    watch_fd(ep, sfd, EV_SIGNAL) < 0 || watch_fd(ep, tfd, EV_TIMER) < 0 ||
	    watch_fd(ep, ring_buffer__epoll_fd(a->rb), EV_RING) < 0 ||
	    (a->dns && watch_fd(ep, dns_fd(a->dns), EV_DNS) < 0)) {
		tool_error("cannot set up the event loop: %s", strerror(errno));
		why = "error";
		goto out;
	}
	for (size_t i = 0; i < a->npids; i++)
		if (watch_fd(ep, a->pidfds[i], (uint64_t)EV_PIDFD << 32 | i) < 0) {
			tool_error("cannot watch process %d: %s", (int)a->pids[i], strerror(errno));
			why = "error";
			goto out;
		}
	while (!why) {
		struct epoll_event ev[16];
		int n = epoll_wait(ep, ev, 16, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tool_error("epoll_wait: %s", strerror(errno));
			why = "error";
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)(ev[i].data.u64 >> 32 ? ev[i].data.u64 >> 32
								       : ev[i].data.u64);
			if (tag == EV_RING) {
				ring_buffer__consume(a->rb);
			} else if (tag == EV_DNS) {
				dns_poll(a->dns);
			} else if (tag == EV_PIDFD) {
				size_t k = (size_t)(ev[i].data.u64 & 0xffffffff);
				epoll_ctl(ep, EPOLL_CTL_DEL, a->pidfds[k], NULL);
				if (--a->alive == 0)
					why = a->npids > 1 ? "every target process exited"
							   : "the target process exited";
			} else if (tag == EV_SIGNAL) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD) {
						int status;
						if (a->child > 0 && !a->child_done &&
						    waitpid(a->child, &status, WNOHANG) == a->child) {
							a->child_done = true;
							a->child_status = status;
							why = "the command ended";
						}
						continue;
					}
					if (a->cmd && !a->child_done) {
						/* from the terminal, it reached the command too */
						if (si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE)
							kill(a->child, (int)si.ssi_signo);
						continue;
					}
					if (a->cmd)
						continue; /* USR1, USR2 after the command ended */
					why = strsignal((int)si.ssi_signo);
				}
			} else if (tag == EV_FOR) {
				uint64_t ticks;
				if (read(ffd, &ticks, sizeof(ticks)) < 0 || !a->attached)
					continue;
				if (!a->cmd) {
					why = "--for ended";
					break;
				}
				/* the command runs on, without faults */
				ring_buffer__consume(a->rb);
				detach_all(a);
				release_sockets(a);
				if (a->verbose)
					tool_error("--for ended: faults removed, the command runs on");
			} else if (tag == EV_TIMER) {
				uint64_t ticks, now = clock_ns(CLOCK_MONOTONIC);
				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				if (names && a->attached && now >= next_refresh) {
					refresh_names(a);
					next_refresh = now + a->refresh_ns;
				}
				for (size_t k = 0; k < a->ncgs && !a->cmd; k++)
					if (access(a->cgs[k], F_OK) < 0)
						why = "the cgroup is gone";
				uint64_t lost = a->skel->bss->lost_events;
				if (lost > a->lost_logged) {
					tool_error("warning: %llu fault events were lost (the ring buffer "
						   "was full): the log misses them",
						   (unsigned long long)(lost - a->lost_logged));
					a->lost_logged = lost;
				}
			}
		}
	}
out:
	if (ep >= 0)
		close(ep);
	if (tfd >= 0)
		close(tfd);
	if (ffd >= 0)
		close(ffd);
	return why;
}

/* ---- main -------------------------------------------------------------------------------------- */

static uint64_t injected(struct app *a)
{
	uint64_t total = 0;
	int fd = a->skel ? bpf_map__fd(a->skel->maps.rstate) : -1;

	for (size_t i = 0; i < a->rules.n; i++) {
		struct ca_state st;
		uint32_t k = (uint32_t)i;
		if (a->rules.rules[i].action == CHAOS_ACT_DNS)
			total += a->dns_states ? a->dns_states[i].injected : 0;
		else if (fd >= 0 && bpf_map_lookup_elem(fd, &k, &st) == 0)
			total += st.injected;
	}
	return total;
}

static void describe_target(const struct app *a, char *buf, size_t len)
{
	size_t used = 0;

	if (a->npids) {
		used += (size_t)snprintf(buf, len, "pid%s", a->npids > 1 ? "s" : "");
		for (size_t i = 0; i < a->npids && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : " ",
						 (int)a->pids[i]);
	} else if (a->ncgs) {
		snprintf(buf, len, "cgroup %s", a->cgs[0]);
	} else {
		snprintf(buf, len, "nothing");
	}
}

static void print_check(const struct app *a)
{
	for (size_t i = 0; i < a->rules.n; i++) {
		const struct chaos_rule *r = &a->rules.rules[i];
		const char *how;
		struct ca_rule k;

		ca_rule_compile(r, &k);
		if (r->action == CHAOS_ACT_DNS)
			how = "DNS responder (port 53 steered to it)";
		else if (k.hooks[CA_P_TCP] && k.hooks[CA_P_UDP])
			how = "TCP and UDP";
		else if (k.hooks[CA_P_TCP])
			how = "TCP";
		else
			how = "UDP";
		printf("%u\t%s\t# %s\n", (unsigned)i + 1, a->rules.texts[i], how);
	}
}

int main(int argc, char **argv)
{
	struct app a = { .log_fd = -1, .wd_fd = -1, .child = -1 };
	char err[CHAOS_ERR_MAX + 128], what[256];
	sigset_t mask, old;
	int sfd = -1, rc = EXIT_USAGE, fail = EXIT_ATTACH;
	const char *why = NULL;

	uint64_t started = clock_ns(CLOCK_MONOTONIC);

	tool_name = "chaos-attach";
	signal(SIGPIPE, SIG_IGN);

	/* arguments, and every rule this path cannot carry out, before anything is attached */
	if (parse_args(&a, argc, argv) < 0 || !rules_supported(&a))
		goto cleanup;
	verbosity = a.verbose;
	if (a.cmd)
		fail = EXIT_INTERNAL;
	ca_rules_needs(a.rules.rules, a.rules.n, &a.needs);
	if (a.check) {
		print_check(&a);
		rc = 0;
		goto cleanup;
	}
	rc = fail;
	if (check_privileges() < 0 || resolve_all(&a) < 0)
		goto cleanup;
	if (ca_tables_build(a.rules.rules, a.res, a.rules.n, 0, &a.tab, err, sizeof(err)) < 0) {
		tool_error("%s", err);
		rc = EXIT_USAGE;
		goto cleanup;
	}
	if (open_log(&a) < 0 || find_targets(&a) < 0)
		goto cleanup;
	if (a.cmd && make_command_cgroup(&a) < 0)
		goto cleanup;

	libbpf_set_print(on_libbpf);

	/* signals: all through a signalfd, so the loop sees them in order */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGCHLD);
	if (a.cmd) {
		/* passed on to the command, as chaos-exec does */
		sigaddset(&mask, SIGUSR1);
		sigaddset(&mask, SIGUSR2);
	}
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0 ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		tool_error("cannot take signals: %s", strerror(errno));
		goto cleanup;
	}

	/* open, set rodata and map sizes, load */
	a.skel = attach_bpf__open();
	if (!a.skel) {
		tool_error("cannot open the eBPF object: %s", strerror(errno));
		goto cleanup;
	}
	{
		struct stat pidns;
		size_t nr = a.rules.n ? a.rules.n : 1, slack = 1024;
		for (size_t i = 0; i < a.rules.n; i++)
			if (a.rules.rules[i].target.kind == CHAOS_HOST_NAME)
				slack += 64;
		if (stat("/proc/self/ns/pid", &pidns) < 0) {
			tool_error("cannot find our PID namespace: %s", strerror(errno));
			goto cleanup;
		}
		a.skel->rodata->filter_tgid = a.npids > 0;
		a.skel->rodata->self_tgid = (uint32_t)getpid();
		a.skel->rodata->dns_enabled = a.needs.dns;
		a.skel->rodata->seed = a.seed;
		if (pidns.st_ino != 0xEFFFFFFCU) { /* PROC_PID_INIT_INO: the initial namespace */
			a.skel->rodata->pidns_dev = pidns.st_dev;
			a.skel->rodata->pidns_ino = pidns.st_ino;
		}
		bpf_map__set_max_entries(a.skel->maps.rules, (uint32_t)nr);
		bpf_map__set_max_entries(a.skel->maps.rstate, (uint32_t)nr);
		bpf_map__set_max_entries(a.skel->maps.dst_trie, (uint32_t)(2 * a.tab.nkeys + slack));
		bpf_map__set_max_entries(a.skel->maps.dst_lists,
					 (uint32_t)(2 * a.tab.nlists + slack));
		bpf_map__set_max_entries(a.skel->maps.tgids, (uint32_t)(a.npids ? a.npids : 1));
		bpf_program__set_autoload(a.skel->progs.ca_existing, !a.cmd);
	}
	int err_load = attach_bpf__load(a.skel);
	if (err_load) {
		const char *hint = load_hint();
		tool_error("cannot load the eBPF programs: %s%s%s%s", strerror(-err_load),
			   err_load == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN, and no "
						"lockdown forbidding BPF)"
					      : "",
			   hint ? ": " : " (-vv shows libbpf's log)", hint ? hint : "");
		goto cleanup;
	}
	if ((a.needs.sockops) && !a.skel->kconfig->CONFIG_HZ) {
		tool_error("the kernel's HZ is unknown (no /proc/config.gz, no "
			   "/boot/config-$(uname -r)): delay= and blackhole timeout= need it");
		goto cleanup;
	}

	/* the maps: rules, tables, targets, responders */
	{
		uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
		int e = write_rules(&a);
		if (!e)
			e = write_lists(&a, &a.tab);
		if (!e)
			e = write_keys(&a, &a.tab);
		for (size_t i = 0; !e && i < a.npids; i++) {
			uint32_t k = (uint32_t)a.pids[i];
			uint8_t v = 1;
			if (bpf_map_update_elem(bpf_map__fd(a.skel->maps.tgids), &k, &v, BPF_ANY) < 0)
				e = -errno;
		}
		if (e) {
			tool_error("cannot fill the eBPF maps: %s", strerror(-e));
			goto cleanup;
		}
		if (a.verbose)
			tool_error("%zu rules in the maps: %zu address blocks, %zu lists, in %llu ms "
				   "(%llu ms since start)",
				   a.rules.n, a.tab.nkeys, a.tab.nlists,
				   (unsigned long long)((clock_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_MSEC),
				   (unsigned long long)((clock_ns(CLOCK_MONOTONIC) - started) /
							NSEC_PER_MSEC));
	}
	if (a.needs.dns) {
		a.dns_states = calloc(a.rules.n, sizeof(*a.dns_states));
		struct dns_config dc = {
			.rules = &a.rules,
			.states = a.dns_states,
			.seed = a.seed,
			.clients_fd = bpf_map__fd(a.skel->maps.dns_clients),
			.log = on_dns_fault,
			.arg = &a,
		};
		uint64_t cookie;
		struct ca_ns ns;
		if (!a.dns_states || !(a.dns = dns_new(&dc, err, sizeof(err)))) {
			tool_error("%s", a.dns_states ? err : "out of memory");
			goto cleanup;
		}
		/* ours (the command's), and the targets' are added as they are met */
		if (dns_add_ns(a.dns, 0, &cookie, &ns, err, sizeof(err)) < 0 ||
		    bpf_map_update_elem(bpf_map__fd(a.skel->maps.ns_map), &cookie, &ns, BPF_ANY) <
			    0) {
			tool_error("%s", err);
			goto cleanup;
		}
		for (size_t i = 0; i < a.npids; i++)
			serve_netns(&a, a.pids[i], 0);
	}
	a.rb = ring_buffer__new(bpf_map__fd(a.skel->maps.events), on_event, &a, NULL);
	if (!a.rb) {
		tool_error("cannot read the eBPF ring buffer: %s", strerror(errno));
		goto cleanup;
	}

	/* attach: the rules arrive now */
	a.armed_ns = clock_ns(CLOCK_MONOTONIC);
	a.skel->bss->armed_ns = a.armed_ns;
	if (a.dns)
		dns_set_armed(a.dns, a.armed_ns); /* its triggers count from the same moment */
	if (attach_all(&a) < 0)
		goto cleanup;
	describe_target(&a, what, sizeof(what));
	if (a.cmd) {
		if (a.verbose)
			tool_error("%zu rule%s attached to %s; running %s", a.rules.n,
				   a.rules.n == 1 ? "" : "s", what, a.cmd[0]);
		if (start_command(&a, &old) < 0) {
			rc = a.child_done && WIFEXITED(a.child_status) ? WEXITSTATUS(a.child_status)
								       : EXIT_INTERNAL;
			goto cleanup;
		}
	} else {
		scan_existing(&a);
		tool_error("attached %zu rule%s to %s%s; Ctrl-C detaches", a.rules.n,
			   a.rules.n == 1 ? "" : "s", what,
			   a.npids ? "" : " and the processes in it");
	}

	why = run(&a, sfd);
	rc = why && strcmp(why, "error") == 0 ? fail : 0;

cleanup:
	/* detach first, then read what the programs said before they went */
	if (a.rb)
		ring_buffer__consume(a.rb);
	if (a.attached) {
		detach_all(&a);
		release_sockets(&a);
	}
	if (a.rb) {
		ring_buffer__consume(a.rb);
		ring_buffer__free(a.rb);
	}
	if (why && !a.cmd)
		tool_error("detached (%s): %llu fault%s injected", why,
			   (unsigned long long)injected(&a), injected(&a) == 1 ? "" : "s");
	else if (why && a.verbose)
		tool_error("detached (%s): %llu fault%s injected", why,
			   (unsigned long long)injected(&a), injected(&a) == 1 ? "" : "s");
	if (a.made[0]) {
		if (cg_remove(a.made, a.home, err, sizeof(err)) < 0)
			tool_error("%s", err);
		else if (a.wd_fd >= 0 && write(a.wd_fd, "done\n", 5) != 5)
			tool_error("warning: the watchdog did not hear that the cgroup is gone");
	}
	if (a.wd_fd >= 0)
		close(a.wd_fd);
	/* a TCP DNS thread that has not finished still reads the rules: leave them to it */
	bool dns_quiet = dns_free(a.dns);
	attach_bpf__destroy(a.skel);
	if (a.log_fd >= 0)
		close(a.log_fd);
	for (size_t i = 0; i < a.npids && a.pidfds; i++)
		if (a.pidfds[i] > 0)
			close(a.pidfds[i]);
	free(a.pidfds);
	free(a.pids);
	for (size_t i = 0; i < a.ncgs; i++)
		free(a.cgs[i]);
	free(a.cgs);
	free(a.links);
	if (a.res)
		for (size_t i = 0; i < a.rules.n; i++)
			free(a.res[i].addrs);
	free(a.res);
	free(a.no_ns);
	ca_tables_free(&a.tab);
	if (dns_quiet) {
		free(a.dns_states);
		chaos_rule_list_free(&a.rules);
	}
	if (sfd >= 0)
		close(sfd);
	if (a.cmd && a.child_done && rc == 0) {
		if (WIFEXITED(a.child_status))
			return WEXITSTATUS(a.child_status);
		if (WIFSIGNALED(a.child_status)) {
			int sig = WTERMSIG(a.child_status);
			/* die the same way, so a shell reports it as it would the command */
			signal(sig, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			sigset_t one;
			sigemptyset(&one);
			sigaddset(&one, sig);
			sigprocmask(SIG_UNBLOCK, &one, NULL);
			prctl(PR_SET_DUMPABLE, 0); /* no core file of ours for the command's */
			raise(sig);
			return 128 + sig;
		}
	}
	return rc;
}
