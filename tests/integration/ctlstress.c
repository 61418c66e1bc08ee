/* ctlstress.c -- 8 threads connect to 127.0.0.1:PORT and count what they saw, while a test
 * changes the rules live (test_ctl.sh).  On SIGUSR1 the threads stop and it prints
 * "ok N refused M other K"; then it waits for SIGTERM, so the test can read chaos-exec's
 * counters before the run ends. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static int port;
static unsigned long oks, refused, others;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void *worker(void *arg)
{
	(void)arg;
	char buf[16];
	while (!stop) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			/* a little I/O on every connection: the send and recv hooks run too */
			if (send(fd, "ping", 4, MSG_NOSIGNAL) == 4 && recv(fd, buf, 4, MSG_WAITALL) == 4)
				__atomic_add_fetch(&oks, 1, __ATOMIC_RELAXED);
			else
				__atomic_add_fetch(&others, 1, __ATOMIC_RELAXED);
		} else if (errno == ECONNREFUSED) {
			__atomic_add_fetch(&refused, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&others, 1, __ATOMIC_RELAXED);
		}
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[8];
	if (argc != 2)
		return 2;
	port = atoi(argv[1]);
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &old);
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	printf("ok %lu refused %lu other %lu\n", oks, refused, others);
	fflush(stdout);
	int sig;
	sigwait(&term, &sig);
	return 0;
}
