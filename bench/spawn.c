/* spawn.c -- start-up time of commands, measured side by side: run each in turn, N times over,
 * and print how long each run took (spawn to exit, waited for)
 *
 *   spawn N [NAME=VALUE]... CMD [ARG]... [::: [NAME=VALUE]... CMD [ARG]...]...
 *
 * NAME=VALUE words before a command are added to its environment (as env(1) would, without the
 * extra exec).
 * Round i runs every command once, starting with command i mod K, so none always goes first.
 * Prints "K NS" per run (K: the command's index from 0).  stdout and stderr of the commands go
 * to /dev/null; a command that fails stops the benchmark (exit 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 8
#define MAX_ENV 4096

extern char **environ;

struct cmd {
	char **argv;
	char **envp;
};

/* environ plus the NAME=VALUE words at the front of argv (which it skips) */
static int make_cmd(char **argv, struct cmd *c)
{
	size_t n = 0, extra = 0;
	while (argv[extra] && strchr(argv[extra], '=') && argv[extra][0] != '=')
		extra++;
	if (!argv[extra])
		return -1;
	while (environ[n])
		n++;
	if (n + extra + 1 > MAX_ENV)
		return -1;
	c->envp = calloc(n + extra + 1, sizeof(char *));
	if (!c->envp)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < extra; i++)
		c->envp[k++] = argv[i];
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(environ[i], "=");
		bool shadowed = false;
		for (size_t j = 0; j < extra; j++)
			if (strncmp(argv[j], environ[i], len + 1) == 0)
				shadowed = true;
		if (!shadowed)
			c->envp[k++] = environ[i];
	}
	c->argv = argv + extra;
	return 0;
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	char **starts[MAX_CMDS];
	struct cmd cmds[MAX_CMDS];
	int k = 0;
	char *end;

	if (argc < 3) {
		fprintf(stderr, "usage: spawn N [NAME=VALUE]... CMD [ARG]... [::: ...]...\n");
		return 2;
	}
	errno = 0;
	long n = strtol(argv[1], &end, 10);
	if (!*argv[1] || *end || errno || n < 1 || n > 1000000) {
		fprintf(stderr, "spawn: '%s' is not a number from 1 to 1000000\n", argv[1]);
		return 2;
	}
	starts[k++] = &argv[2];
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], ":::") != 0)
			continue;
		argv[i] = NULL;
		if (k == MAX_CMDS || i + 1 >= argc) {
			fprintf(stderr, "spawn: at most %d commands, none empty\n", MAX_CMDS);
			return 2;
		}
		starts[k++] = &argv[i + 1];
	}
	for (int j = 0; j < k; j++) {
		if (make_cmd(starts[j], &cmds[j]) < 0) {
			fprintf(stderr, "spawn: command %d: no command after NAME=VALUE\n", j);
			return 2;
		}
	}

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (long r = 0; r < n; r++) {
		for (int j = 0; j < k; j++) {
			int c = (int)((r + j) % k);
			pid_t pid;
			int status;
			double t0 = now_ns();
			int rc = posix_spawn(&pid, cmds[c].argv[0], &fa, NULL, cmds[c].argv,
					     cmds[c].envp);
			if (rc) {
				fprintf(stderr, "spawn: %s: %s\n", cmds[c].argv[0], strerror(rc));
				return 1;
			}
			while (waitpid(pid, &status, 0) < 0) {
				if (errno != EINTR) {
					perror("spawn: waitpid");
					return 1;
				}
			}
			double t = now_ns() - t0;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				fprintf(stderr, "spawn: %s failed (status 0x%x)\n", cmds[c].argv[0],
					status);
				return 1;
			}
			printf("%d %.0f\n", c, t);
		}
	}
	return 0;
}
