/* run_reaper.c -- what chaos-run starts goes when chaos-run goes, even by SIGKILL
 *
 * A process activity runs in a process group of its own; if chaos-run is killed while it runs,
 * nothing of chaos-run is left to end it (PR_SET_PDEATHSIG would reach only the group's first
 * process, not what it started).  So the first activity starts a small reaper: it is told the
 * groups as they start and end, over a pipe, and when the pipe reads end-of-file (chaos-run is
 * gone, however) it kills the groups still running.  It ignores the signals a terminal sends;
 * chaos-run ends its own activities on those.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int reaper_fd = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void reaper_main(int fd)
{
	pid_t groups[4096];
	size_t n = 0;
	int32_t msg;
	prctl(PR_SET_NAME, "chaos-run-reap");
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_IGN);
	for (;;) {
		ssize_t r = read(fd, &msg, sizeof(msg));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(msg))
			break; /* chaos-run is gone */
		if (msg > 0 && n < sizeof(groups) / sizeof(groups[0])) {
			groups[n++] = msg;
		} else if (msg < 0) {
			for (size_t i = 0; i < n; i++)
				if (groups[i] == -msg) {
					groups[i] = groups[--n];
					break;
				}
		}
	}
	for (size_t i = 0; i < n; i++)
		kill(-groups[i], SIGKILL);
	_exit(0);
}

static int start(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* nothing of chaos-run's but the pipe: no journal, no sockets */
		if (p[0] != 3) {
			dup2(p[0], 3);
			p[0] = 3;
		}
		syscall(SYS_close_range, 4, ~0U, 0);
		close(0);
		close(1);
		setpgid(0, 0);
		reaper_main(p[0]);
	}
	close(p[0]);
	reaper_fd = p[1];
	return 0;
}

static void send_msg(int32_t msg)
{
	pthread_mutex_lock(&lock);
	if (reaper_fd < 0 && msg > 0 && start() < 0) {
		pthread_mutex_unlock(&lock);
		return;
	}
	if (reaper_fd >= 0 && write(reaper_fd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg)) {
		/* the reaper is gone: nothing to tell */
	}
	pthread_mutex_unlock(&lock);
}

void run_reaper_watch(pid_t group)
{
	if (group > 0)
		send_msg((int32_t)group);
}

void run_reaper_forget(pid_t group)
{
	if (group > 0)
		send_msg(-(int32_t)group);
}
