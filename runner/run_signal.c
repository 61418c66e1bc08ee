/* run_signal.c -- SIGINT, SIGTERM, SIGUSR1, SIGUSR2 and the stop descriptor
 *
 * The handler only counts the signal, remembers the first one (and whether SIGUSR2 came) and
 * writes to an eventfd.  Every wait of the runner (child processes, HTTP transfers, pauses,
 * the hypothesis loop) polls that eventfd, so a signal stops whatever runs at once.  An
 * activity started at signal count G is interrupted once the count exceeds G; phases that run
 * after an interrupt (rollbacks, cleanup) take the current count as their own G.
 */
#include "run.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int stop_fd = -1;
static volatile sig_atomic_t first_sig;
static volatile sig_atomic_t got_usr2;
static atomic_uint sig_count;

static void on_signal(int sig)
{
	int saved = errno;
	if (!first_sig)
		first_sig = sig;
	if (sig == SIGUSR2)
		got_usr2 = 1;
	atomic_fetch_add(&sig_count, 1);
	uint64_t one = 1;
	if (stop_fd >= 0 && write(stop_fd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero: readable anyway */
	}
	errno = saved;
}

int run_signal_init(char *err, size_t errlen)
{
	if (stop_fd < 0) {
		stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (stop_fd < 0) {
			snprintf(err, errlen, "eventfd: %s", strerror(errno));
			return -1;
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	int sigs[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0) {
			snprintf(err, errlen, "sigaction: %s", strerror(errno));
			return -1;
		}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int run_signal_first(void)
{
	return first_sig;
}

bool run_signal_usr2(void)
{
	return got_usr2;
}

unsigned run_signal_count(void)
{
	return atomic_load(&sig_count);
}

int run_signal_fd(void)
{
	return stop_fd;
}

void run_signal_raise(int sig)
{
	on_signal(sig);
}

/* The eventfd stays readable after the first signal (nobody drains it: several threads wait on
 * it).  Waits that start after a signal therefore poll it no more and wake every 50 ms to
 * compare the count instead; run_poll_stop says which to do. */
int run_poll_stop(struct pollfd *pfd, int *timeout_ms)
{
	if (run_signal_count() == 0 && stop_fd >= 0) {
		pfd->fd = stop_fd;
		pfd->events = POLLIN;
		pfd->revents = 0;
		return 1;
	}
	if (*timeout_ms < 0 || *timeout_ms > 50)
		*timeout_ms = 50;
	pfd->fd = -1;
	pfd->events = 0;
	pfd->revents = 0;
	return 1;
}

bool run_sleep(uint64_t ns, unsigned gen)
{
	double end = run_now() + (double)ns / 1e9;
	for (;;) {
		if (run_signal_count() != gen)
			return true;
		double left = end - run_now();
		if (left <= 0)
			return false;
		struct pollfd pfd;
		int ms = (int)(left * 1000.0 + 0.999);
		run_poll_stop(&pfd, &ms);
		poll(&pfd, 1, ms);
	}
}

double run_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
