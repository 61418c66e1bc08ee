/* chaos-ctl.c -- change the faults of a service running under chaos-exec, without a restart
 *
 *   chaos-ctl list
 *   chaos-ctl PID show | add [--tree] RULE... | remove [--tree] ID...|all | pause | resume | deps
 *
 * Talks to the chaos-exec that runs PID, through its control socket (found in PID's
 * environment).  See man/chaos-ctl.1.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "tool.h"
#include "units.h"

static bool opt_json;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: chaos-ctl [--json] list\n"
		"       chaos-ctl [--json] PID show [--all]\n"
		"       chaos-ctl [--json] PID add [--tree] RULE...\n"
		"       chaos-ctl [--json] PID remove [--tree] ID...|all\n"
		"       chaos-ctl [--json] PID pause|resume [--tree]\n"
		"       chaos-ctl [--json] PID deps\n"
		"Change the faults of a service running under chaos-exec, while it runs.\n"
		"\n"
		"  --json       answer in JSON (for scripts)\n"
		"  --tree       PID and every process it started\n"
		"  --all        show: also the rules taken off, with their counters\n"
		"  --socket S   talk to the control socket S instead of finding PID's\n"
		"\n"
		"Exit status: 0 done; 1 it could not be done (no such process, not under chaos-exec,\n"
		"not yours); 2 a bad command or rule.  The rule language: chaos-rules(7).\n");
}

/* PID's control socket: CHAOS_CTL in its environment, or PID is a chaos-exec itself. */
struct find_exec {
	int pid;
	char path[600];
};

static void find_in_dir(const char *dir, void *arg)
{
	struct find_exec *f = arg;
	char p[600];
	snprintf(p, sizeof(p), "%s/%d.sock", dir, f->pid);
	if (!f->path[0] && access(p, F_OK) == 0)
		snprintf(f->path, sizeof(f->path), "%s", p);
}

/* Field 4 of /proc/PID/stat, or 0. */
static int parent_of(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
	int ppid = 0;
	char state;
	if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
		return 0;
	return ppid;
}

static int socket_of(int pid, char *out, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			tool_error("no process %d", pid);
		else
			tool_error("cannot read %s: %s (is it your process?)", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, used = 0;
	char *env = malloc(cap + 1);
	ssize_t n;
	while (env && (n = read(fd, env + used, cap - used)) > 0) {
		used += (size_t)n;
		if (used == cap) {
			char *ne = realloc(env, cap * 2 + 1);
			if (!ne)
				break;
			env = ne;
			cap *= 2;
		}
	}
	close(fd);
	if (!env) {
		tool_error("out of memory");
		return -1;
	}
	env[used] = '\0';
	for (char *p = env; p < env + used; p += strlen(p) + 1)
		if (strncmp(p, "CHAOS_CTL=", 10) == 0) {
			snprintf(out, len, "%s", p + 10);
			free(env);
			return 0;
		}
	free(env);
	struct find_exec f = { .pid = pid };
	ctl_each_dir(find_in_dir, &f);
	/* chaos-exec's command between its fork and its exec still has chaos-exec's first
	 * environment: its parent's socket is its own (chaos-exec then checks the pid is one
	 * of its processes) */
	int ppid = parent_of(pid);
	if (!f.path[0] && ppid > 1) {
		f.pid = ppid;
		ctl_each_dir(find_in_dir, &f);
	}
	if (f.path[0]) {
		snprintf(out, len, "%s", f.path);
		return 0;
	}
	tool_error("process %d is not running under chaos-exec (no CHAOS_CTL in its "
		   "environment)",
		   pid);
	return -1;
}

static void print_json(const cJSON *j)
{
	char *t = cJSON_Print(j);
	if (t) {
		printf("%s\n", t);
		free(t);
	}
}

/* ---- list ---------------------------------------------------------------------------------- */

struct list_ctx {
	cJSON *all;
	int failures;
};

static void list_dir(const char *dir, void *arg)
{
	struct list_ctx *c = arg;
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	/* what chaos-execs killed before they could clean up left here */
	ctl_sweep(dir);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".sock") != 0)
			continue;
		char sock[600], err[512];
		bool refused;
		snprintf(sock, sizeof(sock), "%s/%s", dir, e->d_name);
		cJSON *req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "op", "list");
		cJSON *ans = ctl_request(sock, req, err, sizeof(err), &refused);
		cJSON_Delete(req);
		if (!ans) {
			/* refused: gone since the sweep, or starting (bound, not listening yet) */
			if (!refused)
				c->failures++;
			continue;
		}
		const cJSON *procs = cJSON_GetObjectItemCaseSensitive(ans, "processes");
		const cJSON *ep = cJSON_GetObjectItemCaseSensitive(ans, "exec_pid");
		const cJSON *p;
		cJSON_ArrayForEach(p, procs)
		{
			cJSON *copy = cJSON_Duplicate(p, true);
			cJSON_AddNumberToObject(copy, "exec_pid", cJSON_IsNumber(ep) ? ep->valuedouble : 0);
			cJSON_AddItemToArray(c->all, copy);
		}
		cJSON_Delete(ans);
	}
	closedir(d);
}

static int cmd_list(void)
{
	struct list_ctx c = { .all = cJSON_CreateArray() };
	ctl_each_dir(list_dir, &c);
	if (opt_json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "processes", c.all);
		print_json(o);
		cJSON_Delete(o);
	} else {
		printf("%-8s %-8s %-8s %-6s %-7s %s\n", "PID", "PPID", "EXEC", "RULES", "STATE",
		       "COMMAND");
		cJSON *p;
		cJSON_ArrayForEach(p, c.all)
		{
			printf("%-8d %-8d %-8d %-6d %-7s %s\n",
			       (int)cJSON_GetObjectItemCaseSensitive(p, "pid")->valuedouble,
			       (int)cJSON_GetObjectItemCaseSensitive(p, "ppid")->valuedouble,
			       (int)cJSON_GetObjectItemCaseSensitive(p, "exec_pid")->valuedouble,
			       (int)cJSON_GetObjectItemCaseSensitive(p, "rules")->valuedouble,
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "paused")) ? "paused"
											   : "active",
			       cJSON_GetObjectItemCaseSensitive(p, "command")->valuestring);
		}
		cJSON_Delete(c.all);
	}
	return c.failures ? 1 : 0;
}

/* ---- one process ------------------------------------------------------------------------------ */

static void print_human(const char *op, const cJSON *ans)
{
	const cJSON *pids = cJSON_GetObjectItemCaseSensitive(ans, "pids");
	char plist[256] = "";
	const cJSON *p;
	size_t used = 0;
	cJSON_ArrayForEach(p, pids)
	{
		int n = snprintf(plist + used, sizeof(plist) - used, "%s%d", used ? ", " : "",
				 (int)p->valuedouble);
		if (n < 0 || (size_t)n >= sizeof(plist) - used)
			break;
		used += (size_t)n;
	}
	if (strcmp(op, "show") == 0) {
		printf("pid %d%s%s\n", (int)cJSON_GetObjectItemCaseSensitive(ans, "pid")->valuedouble,
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "paused")) ? " (paused)"
										     : "",
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "up_to_date"))
			       ? ""
			       : " (a change waits for its next call)");
		printf("%-6s %-10s %-10s %s\n", "ID", "MATCHED", "INJECTED", "RULE");
		const cJSON *r;
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(ans, "rules"))
		printf("%-6d %-10.0f %-10.0f %s\n",
		       (int)cJSON_GetObjectItemCaseSensitive(r, "id")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(r, "matched")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(r, "injected")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(r, "rule")->valuestring);
		const cJSON *ever = cJSON_GetObjectItemCaseSensitive(ans, "all_rules");
		if (ever) {
			printf("every rule handed out (on this process or not):\n");
			cJSON_ArrayForEach(r, ever)
			printf("%-6d %-10.0f %-10.0f %s\n",
			       (int)cJSON_GetObjectItemCaseSensitive(r, "id")->valuedouble,
			       cJSON_GetObjectItemCaseSensitive(r, "matched")->valuedouble,
			       cJSON_GetObjectItemCaseSensitive(r, "injected")->valuedouble,
			       cJSON_GetObjectItemCaseSensitive(r, "rule")->valuestring);
		}
	} else if (strcmp(op, "add") == 0) {
		const cJSON *r;
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(ans, "added"))
		printf("added rule %d: %s\n",
		       (int)cJSON_GetObjectItemCaseSensitive(r, "id")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(r, "rule")->valuestring);
		printf("on pid %s\n", plist);
	} else if (strcmp(op, "remove") == 0) {
		const cJSON *r;
		int n = 0;
		printf("removed rule%s", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
						  ans, "removed")) == 1
						  ? ""
						  : "s");
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(ans, "removed"))
		printf("%s %d", n++ ? "," : "", (int)r->valuedouble);
		if (!n)
			printf(" (none were on)");
		printf("\non pid %s\n", plist);
	} else if (strcmp(op, "pause") == 0 || strcmp(op, "resume") == 0) {
		printf("%s pid %s\n", op[0] == 'p' ? "paused" : "resumed", plist);
	} else if (strcmp(op, "deps") == 0) {
		printf("%-30s %-5s %-6s %-24s %-6s %-10s %-10s %s\n", "HOST", "PROTO", "PORT",
		       "ADDRESSES", "CONNS", "SENT", "RECEIVED", "ERRORS");
		const cJSON *d;
		cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(ans, "dependencies"))
		{
			char addrs[256] = "", errs[256] = "", sent[24] = "-", recv[24] = "-";
			const cJSON *a;
			size_t u = 0;
			cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(d, "addresses"))
			{
				int n = snprintf(addrs + u, sizeof(addrs) - u, "%s%s", u ? "," : "",
						 a->valuestring);
				if (n < 0 || (size_t)n >= sizeof(addrs) - u)
					break;
				u += (size_t)n;
			}
			u = 0;
			cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(d, "errors"))
			{
				int n = snprintf(errs + u, sizeof(errs) - u, "%s%s=%.0f",
						 u ? "," : "", a->string, a->valuedouble);
				if (n < 0 || (size_t)n >= sizeof(errs) - u)
					break;
				u += (size_t)n;
			}
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "bytes_sent");
			const cJSON *rv = cJSON_GetObjectItemCaseSensitive(d, "bytes_received");
			if (cJSON_IsNumber(s))
				snprintf(sent, sizeof(sent), "%.0f", s->valuedouble);
			if (cJSON_IsNumber(rv))
				snprintf(recv, sizeof(recv), "%.0f", rv->valuedouble);
			printf("%-30s %-5s %-6.0f %-24s %-6.0f %-10s %-10s %s\n",
			       cJSON_GetObjectItemCaseSensitive(d, "host")->valuestring,
			       cJSON_GetObjectItemCaseSensitive(d, "protocol")->valuestring,
			       cJSON_GetObjectItemCaseSensitive(d, "port")->valuedouble, addrs,
			       cJSON_GetObjectItemCaseSensitive(d, "connections")->valuedouble, sent,
			       recv, errs);
		}
		const cJSON *l;
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(ans, "lookups"))
		{
			char errs[256] = "";
			size_t u = 0;
			const cJSON *a;
			cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(l, "errors"))
			{
				int n = snprintf(errs + u, sizeof(errs) - u, "%s%s=%.0f",
						 u ? "," : "", a->string, a->valuedouble);
				if (n < 0 || (size_t)n >= sizeof(errs) - u)
					break;
				u += (size_t)n;
			}
			printf("%-30s %-5s %-6s %-24s %-6.0f %-10s %-10s %s\n",
			       cJSON_GetObjectItemCaseSensitive(l, "host")->valuestring, "dns", "-",
			       "(lookups)", cJSON_GetObjectItemCaseSensitive(l, "lookups")->valuedouble,
			       "-", "-", errs);
		}
	}
}

int main(int argc, char **argv)
{
	bool tree = false, all = false;
	const char *sock_opt = NULL;
	char *words[argc + 1];
	int nw = 0;

	tool_name = "chaos-ctl";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			opt_json = true;
		else if (strcmp(argv[i], "--tree") == 0)
			tree = true;
		else if (strcmp(argv[i], "--all") == 0)
			all = true;
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock_opt = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("chaos-ctl %s\n", CHAOS_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			while (++i < argc)
				words[nw++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			tool_error("option '%s' is not known (see chaos-ctl --help)", argv[i]);
			return EXIT_USAGE;
		} else {
			words[nw++] = argv[i];
		}
	}
	if (nw == 0) {
		tool_error("no command given (chaos-ctl list, or chaos-ctl PID show|add|remove|"
			   "pause|resume|deps)");
		return EXIT_USAGE;
	}
	if (strcmp(words[0], "list") == 0) {
		if (nw > 1) {
			tool_error("list takes no arguments");
			return EXIT_USAGE;
		}
		return cmd_list();
	}
	uint64_t pid;
	if (chaos_parse_u64(words[0], 0x7fffffff, &pid) < 0 || pid == 0) {
		tool_error("'%s' is neither 'list' nor a process id", words[0]);
		return EXIT_USAGE;
	}
	if (nw < 2) {
		tool_error("what should be done to process %llu? (show, add, remove, pause, "
			   "resume, deps)",
			   (unsigned long long)pid);
		return EXIT_USAGE;
	}
	const char *op = words[1];
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", op);
	cJSON_AddNumberToObject(req, "pid", (double)pid);
	cJSON_AddBoolToObject(req, "tree", tree);
	cJSON_AddBoolToObject(req, "all", all);
	if (strcmp(op, "add") == 0) {
		if (nw < 3) {
			tool_error("add needs at least one rule");
			cJSON_Delete(req);
			return EXIT_USAGE;
		}
		cJSON *rules = cJSON_AddArrayToObject(req, "rules");
		for (int i = 2; i < nw; i++)
			cJSON_AddItemToArray(rules, cJSON_CreateString(words[i]));
	} else if (strcmp(op, "remove") == 0) {
		if (nw < 3) {
			tool_error("remove needs rule ids (see chaos-ctl %llu show) or 'all'",
				   (unsigned long long)pid);
			cJSON_Delete(req);
			return EXIT_USAGE;
		}
		if (nw == 3 && strcmp(words[2], "all") == 0) {
			cJSON_AddStringToObject(req, "ids", "all");
		} else {
			cJSON *ids = cJSON_AddArrayToObject(req, "ids");
			for (int i = 2; i < nw; i++) {
				uint64_t id;
				if (chaos_parse_u64(words[i], UINT32_MAX, &id) < 0 || id == 0) {
					tool_error("'%s' is not a rule id (see chaos-ctl %llu show)",
						   words[i], (unsigned long long)pid);
					cJSON_Delete(req);
					return EXIT_USAGE;
				}
				cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)id));
			}
		}
	} else if (strcmp(op, "show") != 0 && strcmp(op, "pause") != 0 &&
		   strcmp(op, "resume") != 0 && strcmp(op, "deps") != 0) {
		tool_error("'%s' is not a command (show, add, remove, pause, resume, deps)", op);
		cJSON_Delete(req);
		return EXIT_USAGE;
	} else if (nw > 2) {
		tool_error("%s takes no arguments", op);
		cJSON_Delete(req);
		return EXIT_USAGE;
	}

	char sock[600], err[1024];
	if (sock_opt)
		snprintf(sock, sizeof(sock), "%s", sock_opt);
	else if (socket_of((int)pid, sock, sizeof(sock)) < 0) {
		cJSON_Delete(req);
		return 1;
	}
	bool refused;
	cJSON *ans = ctl_request(sock, req, err, sizeof(err), &refused);
	cJSON_Delete(req);
	if (!ans) {
		if (refused)
			tool_error("the chaos-exec running process %llu is gone (%s)",
				   (unsigned long long)pid, err);
		else
			tool_error("%s", err);
		return 1;
	}
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(ans, "error");
	int rc = 0;
	if (cJSON_IsString(e)) {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(ans, "exit");
		rc = cJSON_IsNumber(x) ? (int)x->valuedouble : 1;
		if (opt_json)
			print_json(ans);
		tool_error("%s", e->valuestring);
	} else if (opt_json) {
		print_json(ans);
	} else {
		print_human(op, ans);
	}
	cJSON_Delete(ans);
	return rc;
}
