/* forks.c -- children under faults: fork, vfork, posix_spawn, system, popen, exec; fork while
 * other threads are inside the library; vfork children that dup2 and close_range
 *
 * Run under chaos-exec with '127.0.0.2 refuse' (rule 1) and '127.0.0.4 error=ECONNRESET
 * on=send' (rule 2); PORTS are hammer serve's five ports.  Each mode prints "ok ..." or
 * "FAIL ..." and exits 0 or 1.
 *
 *   forks probe PORTS              this process keeps the rules: .1 connects, .2 is refused,
 *                                  a send to .4 fails with ECONNRESET
 *   forks children PORTS           probe in a child made by fork, fork+exec, vfork+exec,
 *                                  posix_spawn, system(3), popen(3), and after exec in place
 *   forks atfork PORTS N           N forks while four threads are inside hooked calls (faulted
 *                                  connects logging, getaddrinfo, dup2, close): each child
 *                                  probes (only calls a child of a threaded process may make:
 *                                  socket, connect, send, close) and exits; one that has not
 *                                  after 5 s is stuck on a lock some thread held at the fork
 *   forks vfork-dup2 PORTS         a vfork child dup2s a faulted socket over the number of a
 *                                  clean one, then exits: the parent's clean socket must stay
 *                                  clean (the library's tables are in the memory vfork shares)
 *   forks idle MARKER SECONDS      a service: a refused connect to 127.0.0.2:9 every 10 ms, for
 *                                  SECONDS (0: until killed); MARKER names it in ps
 *   forks vfork-close-range PORTS N
 *                                  N vfork children close_range(3, ~0) and exit (as Python's
 *                                  subprocess does) while the parent injects faults: the
 *                                  parent must not leak a descriptor per child
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

extern char **environ;

static uint16_t ports[5];
static const char *self, *ports_arg;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("FAIL ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	_exit(1);
}

static void parse_ports(const char *arg)
{
	const char *p = arg;
	for (int i = 0; i < 5; i++) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || !v || v > 65535 || (i < 4 && *end != ','))
			die("bad PORTS '%s'", arg);
		ports[i] = (uint16_t)v;
		p = end + 1;
	}
	ports_arg = arg;
}

/* connect to 127.0.0.(dest+1): returns the socket, or -errno */
static int connect_to(int dest)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ports[dest]) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)dest);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* What every child checks: 0, or a message. */
static const char *probe(void)
{
	static char why[200];
	int fd = connect_to(0);
	if (fd < 0) {
		snprintf(why, sizeof(why), "connect to the clean .1: %s", strerror(-fd));
		return why;
	}
	close(fd);
	fd = connect_to(1);
	if (fd != -ECONNREFUSED) {
		snprintf(why, sizeof(why), "connect to .2: %s, not ECONNREFUSED: the rules are gone",
			 fd >= 0 ? "connected" : strerror(-fd));
		if (fd >= 0)
			close(fd);
		return why;
	}
	fd = connect_to(3);
	if (fd < 0) {
		snprintf(why, sizeof(why), "connect to .4: %s", strerror(-fd));
		return why;
	}
	ssize_t w = send(fd, "x", 1, MSG_NOSIGNAL);
	int e = errno;
	close(fd);
	if (w != -1 || e != ECONNRESET) {
		snprintf(why, sizeof(why), "send to .4: %s, not ECONNRESET",
			 w >= 0 ? "sent" : strerror(e));
		return why;
	}
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait for pid up to ms; -1 if it is still running then (killed, reaped). */
static int wait_for(pid_t pid, int ms, int *status)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -2;
		if (now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		poll(NULL, 0, 5);
	}
}

/* ---- busy threads ---------------------------------------------------------------------------- */

static volatile int stop_threads;

static void *busy(void *arg)
{
	long k = (long)arg;
	while (!__atomic_load_n(&stop_threads, __ATOMIC_RELAXED)) {
		int fd = connect_to(1); /* refused: logs a fault line */
		if (fd >= 0)
			close(fd);
		if (k % 2 && !(k++ % 16)) {
			struct addrinfo *ai;
			if (getaddrinfo("localhost", "80", NULL, &ai) == 0)
				freeaddrinfo(ai);
		} else {
			fd = connect_to(0);
			if (fd >= 0) {
				int d = dup(fd);
				if (d >= 0)
					dup2(fd, d);
				close(d);
				close(fd);
			}
		}
	}
	return NULL;
}

static pthread_t busy_th[4];

static void start_busy(void)
{
	for (long i = 0; i < 4; i++)
		pthread_create(&busy_th[i], NULL, busy, (void *)i);
}

static void stop_busy(void)
{
	__atomic_store_n(&stop_threads, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(busy_th[i], NULL);
}

/* ---- modes ----------------------------------------------------------------------------------- */

static int child_status(const char *how, pid_t pid)
{
	int st;
	int r = wait_for(pid, 10000, &st);
	if (r == -1)
		die("%s: the child did not finish in 10 s", how);
	if (r < 0)
		die("%s: waitpid: %s", how, strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("%s: the child's probe failed (status %#x)", how, st);
	return 0;
}

static int children(void)
{
	char *argv[] = { (char *)self, "probe", (char *)ports_arg, NULL };
	const char *why;
	pid_t pid;

	/* fork: the child goes on in this image */
	pid = fork();
	if (pid == 0) {
		why = probe();
		if (why)
			fprintf(stderr, "fork child: %s\n", why);
		_exit(why ? 1 : 0);
	}
	child_status("fork", pid);
	/* fork + exec */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv(self, argv);
		_exit(127);
	}
	child_status("fork+exec", pid);
	/* vfork + exec */
	pid = vfork();
	if (pid == 0) {
		execv(self, argv);
		_exit(127);
	}
	child_status("vfork+exec", pid);
	/* posix_spawn, with a file action (glibc's own dup2 and close in the child) */
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawn(&pid, self, &fa, NULL, argv, environ) != 0)
		die("posix_spawn: %s", strerror(errno));
	posix_spawn_file_actions_destroy(&fa);
	child_status("posix_spawn", pid);
	/* system(3): /bin/sh, then our probe */
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "'%s' probe %s >/dev/null", self, ports_arg);
	int st = system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("system: the probe failed (status %#x)", st);
	/* popen(3) */
	FILE *p = popen(cmd, "r");
	if (!p)
		die("popen: %s", strerror(errno));
	st = pclose(p);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("popen: the probe failed (status %#x)", st);
	/* this process itself, after exec in place */
	if ((why = probe()))
		die("the parent: %s", why);
	fflush(stdout);
	execv(self, argv);
	die("exec in place: %s", strerror(errno));
}

static int atfork(long n)
{
	start_busy();
	uint64_t t0 = now_ms();
	int slowest = 0;
	for (long i = 0; i < n; i++) {
		uint64_t t = now_ms();
		pid_t pid = fork();
		if (pid == 0) {
			/* faulted and clean calls, a fault logged (no getaddrinfo: glibc's own
			 * locks make it unsafe in the child of a threaded process) */
			const char *why = probe();
			_exit(why ? 1 : 0);
		}
		if (pid < 0)
			die("fork: %s", strerror(errno));
		int st;
		int r = wait_for(pid, 5000, &st);
		if (r == -1)
			die("fork %ld: the child was still running after 5 s: stuck on a lock held "
			    "across fork", i);
		if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("fork %ld: the child failed (status %#x)", i, st);
		int ms = (int)(now_ms() - t);
		if (ms > slowest)
			slowest = ms;
	}
	stop_busy();
	printf("ok %ld forks under 4 busy threads in %llu ms, slowest child %d ms\n", n,
	       (unsigned long long)(now_ms() - t0), slowest);
	return 0;
}

static int vfork_dup2(void)
{
	/* the faulted socket first, while no fault has fired on it yet */
	int bad = connect_to(3);
	int good = connect_to(0);
	if (bad < 0 || good < 0)
		die("connect: %s", strerror(bad < 0 ? -bad : -good));
	pid_t pid = vfork();
	if (pid == 0) {
		/* the child's own descriptor table: the parent's good stays what it was */
		dup2(bad, good);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	ssize_t w = send(good, "hello", 5, MSG_NOSIGNAL);
	if (w != 5)
		die("send on the clean socket after a vfork child's dup2: %s (a fault of .4 landed "
		    "on the connection to .1)",
		    w < 0 ? strerror(errno) : "short");
	char buf[5];
	if (recv(good, buf, 5, MSG_WAITALL) != 5 || memcmp(buf, "hello", 5) != 0)
		die("recv on the clean socket: %s", strerror(errno));
	printf("ok the clean socket stayed clean\n");
	return 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n - 1; /* the directory's own */
}

static int vfork_close_range(long n)
{
	int fd = connect_to(1); /* a fault: the library opens its log */
	if (fd >= 0)
		die("connect to .2 was not refused");
	int before = count_fds();
	for (long i = 0; i < n; i++) {
		pid_t pid = vfork();
		if (pid == 0) {
			close_range(3, ~0u, 0);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		fd = connect_to(1); /* another fault, another log line */
		if (fd >= 0)
			die("connect to .2 was not refused after vfork %ld", i);
	}
	int after = count_fds();
	if (after != before)
		die("%d descriptors open before %ld vfork children, %d after", before, n, after);
	printf("ok %d descriptors before and after %ld vfork children\n", before, n);
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	long n = 0;
	self = argv[0];
	if (argc >= 3 && strcmp(argv[1], "idle"))
		parse_ports(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "idle")) {
		n = strtol(argv[3], &end, 10);
		if (*end || n <= 0)
			die("bad N '%s'", argv[3]);
	}
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "idle")) {
		double secs = strtod(argv[3], &end);
		uint64_t until = now_ms() + (uint64_t)(secs * 1000);
		ports[1] = 9;
		while (secs <= 0 || now_ms() < until) {
			int fd = connect_to(1);
			if (fd >= 0)
				close(fd);
			poll(NULL, 0, 10);
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "probe")) {
		const char *why = probe();
		if (why)
			die("%s", why);
		printf("ok probe\n");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "children"))
		return children();
	if (argc == 4 && !strcmp(argv[1], "atfork"))
		return atfork(n);
	if (argc == 3 && !strcmp(argv[1], "vfork-dup2"))
		return vfork_dup2();
	if (argc == 4 && !strcmp(argv[1], "vfork-close-range"))
		return vfork_close_range(n);
	fprintf(stderr, "usage: forks probe|children|vfork-dup2 PORTS | atfork|vfork-close-range PORTS N\n");
	return 2;
}
