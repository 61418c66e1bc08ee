/* hammer.c -- many threads on faulted and clean loopback destinations, with exact fault counts
 *
 *   hammer serve                 echo servers on 127.0.0.1 .. 127.0.0.5 (kernel-chosen ports);
 *                                prints the five ports on one line, serves until killed (or
 *                                until its parent, the test, is gone)
 *   hammer rules                 the rules the client expects, as a chaos-exec config file
 *                                ({"faults": [...]}, in rule-id order)
 *   hammer client PORTS THREADS CALLS
 *                                THREADS threads of about CALLS hooked calls each,
 *                                under chaos-exec -c (`hammer rules`) --seed N --log FILE
 *
 * Destinations: .1 clean; .2 refuse count=; .3 refuse p=; .4 error=EPIPE on=send p= count=;
 * .5 reset count=.  Each thread walks a fixed schedule of connections: connect, ROUNDS rounds
 * of send/recv or write/read (64-byte echoes, checked byte for byte), some on a dup, dup2 or
 * F_DUPFD_CLOEXEC copy, closed by close, by dup2 of a marker fd over it (as Java does), or by
 * close_range; then one connection to .1 and one to .4 is written by the thread while another
 * thread reads it.  The number of calls each rule is asked about is fixed by the schedule, so the
 * faults injected are exact: the client replays the rules' triggers (core's chaos_trigger, with
 * CHAOS_SEED) to know how many, and compares with what its threads saw and with the log
 * (CHAOS_LOG): no fault on the clean destination, no echo corrupted.
 *
 * Prints one line: "ok calls=N connects=N faults=N ..." or "FAIL ..." (exit 1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rule.h"
#include "units.h"

#define NDEST 5
#define ROUNDS 4
#define MSG 64

enum { D_CLEAN, D_REFUSE_COUNT, D_REFUSE_P, D_SEND_ERR, D_RESET };

/* Rule i+1 acts on destination 127.0.0.(i+2). */
static const char *const rules[] = {
	"127.0.0.2 refuse count=500",
	"127.0.0.3 refuse p=0.3",
	"127.0.0.4 error=EPIPE on=send p=0.5 count=2000",
	"127.0.0.5 reset count=300",
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

/* The destinations of one thread's connections, in turn (weights 4:1:1:2:2). */
static const int schedule[10] = { D_CLEAN, D_SEND_ERR, D_REFUSE_COUNT, D_CLEAN, D_RESET,
				  D_CLEAN, D_REFUSE_P, D_SEND_ERR, D_CLEAN, D_RESET };

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
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the servers (run without the library) ------------------------------------------------ */

struct conn {
	int fd;
	bool listener;
};

static int serve(void)
{
	pid_t parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		return 1;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	for (int i = 0; i < NDEST; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)i);
		socklen_t len = sizeof(a);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
			die("listen on 127.0.0.%d: %s", i + 1, strerror(errno));
		printf("%s%d", i ? "," : "", ntohs(a.sin_port));
		struct conn *c = malloc(sizeof(*c));
		*c = (struct conn){ fd, true };
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
	printf("\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->listener) {
				int fd;
				while ((fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct conn *k = malloc(sizeof(*k));
					*k = (struct conn){ fd, false };
					struct epoll_event e2 = { .events = EPOLLIN, .data.ptr = k };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e2);
				}
				continue;
			}
			char buf[4096];
			ssize_t r = read(c->fd, buf, sizeof(buf));
			if (r > 0) {
				/* a client sends 64 bytes and waits for them: the socket buffer has
				 * room, a short write would be a bug of the kernel */
				if (write(c->fd, buf, (size_t)r) != r)
					r = 0;
			}
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				close(c->fd); /* also leaves the epoll set */
				free(c);
			}
		}
	}
}

/* ---- the client ----------------------------------------------------------------------------- */

/* ThreadSanitizer does not see that the kernel orders a close() in one thread before another
 * thread gets the same fd number back: the library's per-fd state would look raced between two
 * sockets that never lived at the same time.  Under TSan, every call that starts or ends fd
 * numbers (socket, dup*, fcntl F_DUPFD, close, close_range) holds one lock, which makes that
 * order visible; what TSan still reports is a race within one socket's life, between threads
 * sharing a socket, or on shared state.  (Those calls then never overlap each other: TSan does
 * not look at races between them.) */
#if defined(__SANITIZE_THREAD__)
#define HAMMER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HAMMER_TSAN 1
#endif
#endif
#ifdef HAMMER_TSAN
static pthread_mutex_t fdop_mutex = PTHREAD_MUTEX_INITIALIZER;
#define FDOP(expr)                                                                                 \
	({                                                                                         \
		pthread_mutex_lock(&fdop_mutex);                                                   \
		__typeof__(expr) fdop_r = (expr);                                                  \
		int fdop_e = errno;                                                                \
		pthread_mutex_unlock(&fdop_mutex);                                                 \
		errno = fdop_e;                                                                    \
		fdop_r;                                                                            \
	})
#else
#define FDOP(expr) (expr)
#endif

static uint16_t ports[NDEST];
static long calls_per_thread;

struct tstats {
	uint64_t calls, connects, conn_ok;
	uint64_t refused[NDEST];      /* connect: ECONNREFUSED */
	uint64_t send_epipe[NDEST];   /* send/write: EPIPE */
	uint64_t resets[NDEST];       /* connections that saw ECONNRESET */
	uint64_t sends[NDEST];        /* send-side calls made on connected sockets */
	uint64_t unexpected;          /* any other error, a short or wrong echo */
	char first_unexpected[200];
	int marker;                   /* a socketpair end dup2'ed over sockets to close them */
};

static void unexpected(struct tstats *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void unexpected(struct tstats *s, const char *fmt, ...)
{
	if (!s->unexpected++) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->first_unexpected, sizeof(s->first_unexpected), fmt, ap);
		va_end(ap);
	}
}

/* Close a connected socket: with an RST (no TIME_WAIT to run out of ports), one of three ways. */
static void close_socket(struct tstats *s, int fd, unsigned how)
{
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	s->calls++;
	switch (how % 3) {
	case 0:
		if (FDOP(close(fd)) < 0)
			unexpected(s, "close: %s", strerror(errno));
		break;
	case 1: /* Java: dup2 a marker over the socket, close the marker copy later */
		if (FDOP(dup2(s->marker, fd)) < 0)
			unexpected(s, "dup2 marker: %s", strerror(errno));
		s->calls++;
		FDOP(close(fd));
		break;
	case 2:
		if (FDOP(close_range((unsigned)fd, (unsigned)fd, 0)) < 0)
			unexpected(s, "close_range: %s", strerror(errno));
		break;
	}
}

/* Fill/recv exactly len bytes, by recv or read.  Returns 0, or the errno (ECONNRESET, ...);
 * -1 for an early end of stream. */
static int recv_all(struct tstats *s, int fd, char *buf, size_t len, bool use_read)
{
	size_t got = 0;
	while (got < len) {
		s->calls++;
		ssize_t r = use_read ? read(fd, buf + got, len - got)
				     : recv(fd, buf + got, len - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void one_connection(struct tstats *s, int tid, long iter, int dest)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ports[dest]) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)dest);
	int fd = FDOP(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (fd < 0) {
		unexpected(s, "socket: %s", strerror(errno));
		return;
	}
	s->connects++;
	s->calls++;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (errno == ECONNREFUSED)
			s->refused[dest]++;
		else
			unexpected(s, "connect to 127.0.0.%d: %s", dest + 1, strerror(errno));
		s->calls++;
		FDOP(close(fd));
		return;
	}
	s->conn_ok++;
	/* every fourth connection is used through a copy of the socket */
	int use = fd;
	unsigned variant = (unsigned)(iter / 10 + tid) % 4;
	if (variant == 1)
		use = FDOP(dup(fd));
	else if (variant == 2)
		use = FDOP(fcntl(fd, F_DUPFD_CLOEXEC, 100 + tid));
	else if (variant == 3) /* above what F_DUPFD reaches */
		use = FDOP(dup2(fd, 900 + tid)) < 0 ? -1 : 900 + tid;
	if (variant) {
		s->calls++;
		if (use < 0) {
			unexpected(s, "dup variant %u: %s", variant, strerror(errno));
			use = fd;
		} else {
			s->calls++;
			FDOP(close(fd)); /* the copy carries the connection on */
		}
	}
	bool reset = false;
	for (int r = 0; r < ROUNDS && !reset; r++) {
		char out[MSG], in[MSG];
		memset(out, '.', sizeof(out));
		int k = snprintf(out, sizeof(out), "t%d i%ld r%d ", tid, iter, r);
		out[k < MSG ? k : MSG - 1] = '.';
		bool rw = r % 2;
		s->calls++;
		s->sends[dest]++;
		ssize_t w = rw ? write(use, out, MSG) : send(use, out, MSG, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EPIPE && dest == D_SEND_ERR)
				s->send_epipe[dest]++;
			else if (errno == ECONNRESET && dest == D_RESET) {
				s->resets[dest]++;
				reset = true;
			} else
				unexpected(s, "%s to 127.0.0.%d: %s", rw ? "write" : "send", dest + 1,
					   strerror(errno));
			continue;
		}
		if (w != MSG) {
			unexpected(s, "short send %zd", w);
			break;
		}
		int e = recv_all(s, use, in, MSG, rw);
		if (e == ECONNRESET && dest == D_RESET) {
			s->resets[dest]++;
			reset = true;
		} else if (e) {
			unexpected(s, "%s from 127.0.0.%d: %s", rw ? "read" : "recv", dest + 1,
				   e < 0 ? "end of stream" : strerror(e));
			break;
		} else if (memcmp(in, out, MSG) != 0) {
			unexpected(s, "echo from 127.0.0.%d differs", dest + 1);
			break;
		}
	}
	close_socket(s, use, (unsigned)(iter + tid));
}

/* One socket, two threads: this one sends DUPLEX_MSGS messages while a reader takes the echoes
 * to the end of the stream (many services read and write a connection from two threads). */
#define DUPLEX_MSGS 50

struct reader {
	int fd;
	uint64_t bytes, calls;
	int err;
};

static void *read_to_end(void *arg)
{
	struct reader *r = arg;
	char buf[4096];
	for (;;) {
		r->calls++;
		ssize_t n = r->calls % 2 ? recv(r->fd, buf, sizeof(buf), 0) : read(r->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r->err = n < 0 ? errno : 0;
			return NULL;
		}
		r->bytes += (uint64_t)n;
	}
}

static void duplex(struct tstats *s, int tid, int dest)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ports[dest]) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)dest);
	int fd = FDOP(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	s->calls++;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		unexpected(s, "duplex connect to 127.0.0.%d: %s", dest + 1, strerror(errno));
		if (fd >= 0)
			FDOP(close(fd));
		return;
	}
	struct reader r = { .fd = fd };
	pthread_t th;
	if (pthread_create(&th, NULL, read_to_end, &r) != 0) {
		unexpected(s, "pthread_create");
		FDOP(close(fd));
		return;
	}
	uint64_t sent = 0;
	for (int i = 0; i < DUPLEX_MSGS; i++) {
		char out[MSG];
		memset(out, 'a' + tid % 26, sizeof(out));
		s->calls++;
		s->sends[dest]++;
		ssize_t w = i % 2 ? write(fd, out, MSG) : send(fd, out, MSG, MSG_NOSIGNAL);
		if (w == MSG)
			sent += MSG;
		else if (w < 0 && errno == EPIPE && dest == D_SEND_ERR)
			s->send_epipe[dest]++;
		else
			unexpected(s, "duplex send to 127.0.0.%d: %zd %s", dest + 1, w,
				   w < 0 ? strerror(errno) : "short");
	}
	shutdown(fd, SHUT_WR); /* the server closes once it has echoed everything */
	pthread_join(th, NULL);
	s->calls += r.calls;
	if (r.err || r.bytes != sent)
		unexpected(s, "duplex on 127.0.0.%d: %llu bytes echoed of %llu sent (%s)", dest + 1,
			   (unsigned long long)r.bytes, (unsigned long long)sent,
			   r.err ? strerror(r.err) : "end of stream");
	close_socket(s, fd, (unsigned)tid);
}

/* Connections per thread: enough for CALLS calls on the clean path. */
static long iterations(void)
{
	long per = 2 + 2 * ROUNDS; /* connect, ROUNDS x (send, recv), close */
	long n = (calls_per_thread + per - 1) / per;
	return n < 10 ? 10 : n;
}

struct targ {
	int tid;
	struct tstats *s;
};

static void *run_thread(void *arg)
{
	struct targ *t = arg;
	int sv[2];
	if (FDOP(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) < 0) {
		unexpected(t->s, "socketpair: %s", strerror(errno));
		return NULL;
	}
	t->s->marker = sv[0];
	long n = iterations();
	for (long i = 0; i < n; i++)
		one_connection(t->s, t->tid, i, schedule[(i + t->tid) % 10]);
	duplex(t->s, t->tid, D_CLEAN);
	duplex(t->s, t->tid, D_SEND_ERR);
	FDOP(close(sv[0]));
	FDOP(close(sv[1]));
	return NULL;
}

/* How many times each rule fires when asked `asked` times (the triggers are a pure function of
 * the seed, the rule id and the order of asking). */
static uint64_t expected_fires(unsigned rule_index, uint64_t seed, uint64_t asked)
{
	struct chaos_rule r;
	struct chaos_rule_state st = { 0 };
	char err[256];
	uint64_t fires = 0;
	if (chaos_rule_parse(rules[rule_index], &r, err, sizeof(err)) < 0)
		die("rule '%s': %s", rules[rule_index], err);
	for (uint64_t k = 0; k < asked; k++)
		fires += chaos_trigger(&r, &st, rule_index + 1, seed, 0, 0) == CHAOS_FIRE;
	return fires;
}

/* Lines of the fault log naming rule id (0: all lines). */
static uint64_t log_lines(const char *path, unsigned id)
{
	FILE *f = fopen(path, "re");
	char line[4096], key[32];
	uint64_t n = 0;
	if (!f)
		return 0;
	snprintf(key, sizeof(key), "\"rule_id\":%u,", id);
	while (fgets(line, sizeof(line), f))
		n += !id || strstr(line, key) != NULL;
	fclose(f);
	return n;
}

static int client(int argc, char **argv)
{
	uint64_t v, seed;
	if (argc != 5)
		die("usage: hammer client PORTS THREADS CALLS");
	char *p = argv[2];
	for (int i = 0; i < NDEST; i++) {
		char *end;
		unsigned long port = strtoul(p, &end, 10);
		if (end == p || port == 0 || port > 65535 || (i < NDEST - 1 && *end != ','))
			die("bad PORTS '%s'", argv[2]);
		ports[i] = (uint16_t)port;
		p = end + 1;
	}
	if (chaos_parse_u64(argv[3], 99, &v) < 0 || v == 0)
		die("bad THREADS '%s'", argv[3]);
	int nthreads = (int)v;
	if (chaos_parse_u64(argv[4], 100000000, &v) < 0 || v == 0)
		die("bad CALLS '%s'", argv[4]);
	calls_per_thread = (long)v;
	const char *s_seed = getenv("CHAOS_SEED"), *logpath = getenv("CHAOS_LOG");
	if (!s_seed || chaos_parse_u64(s_seed, UINT64_MAX, &seed) < 0)
		die("CHAOS_SEED is not set: run under chaos-exec --seed N");
	if (!logpath)
		die("CHAOS_LOG is not set: run under chaos-exec --log FILE");

	signal(SIGPIPE, SIG_IGN);
#ifdef HAMMER_TSAN
	/* TSan starts llvm-symbolizer with our environment: it must not load the library, which
	 * needs the runtime linked into this program */
	unsetenv("LD_PRELOAD");
#endif
	struct tstats *st = calloc((size_t)nthreads, sizeof(*st));
	struct targ *ta = calloc((size_t)nthreads, sizeof(*ta));
	pthread_t *th = calloc((size_t)nthreads, sizeof(*th));
	uint64_t t0 = now_ns();
	for (int i = 0; i < nthreads; i++) {
		ta[i] = (struct targ){ i, &st[i] };
		if (pthread_create(&th[i], NULL, run_thread, &ta[i]) != 0)
			die("pthread_create: %s", strerror(errno));
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	double secs = (double)(now_ns() - t0) / 1e9;

	struct tstats sum = { 0 };
	const char *why = NULL;
	for (int i = 0; i < nthreads; i++) {
		sum.calls += st[i].calls;
		sum.connects += st[i].connects;
		sum.conn_ok += st[i].conn_ok;
		for (int d = 0; d < NDEST; d++) {
			sum.refused[d] += st[i].refused[d];
			sum.send_epipe[d] += st[i].send_epipe[d];
			sum.resets[d] += st[i].resets[d];
			sum.sends[d] += st[i].sends[d];
		}
		if (st[i].unexpected && !why)
			why = st[i].first_unexpected;
		sum.unexpected += st[i].unexpected;
	}
	if (sum.unexpected)
		die("%llu unexpected results, the first: %s", (unsigned long long)sum.unexpected, why);

	/* what the schedule asks of each rule */
	uint64_t conns[NDEST] = { 0 };
	long n = iterations();
	for (int t = 0; t < nthreads; t++)
		for (long i = 0; i < n; i++)
			conns[schedule[(i + t) % 10]]++;
	uint64_t want_refuse_count = expected_fires(0, seed, conns[D_REFUSE_COUNT]);
	uint64_t want_refuse_p = expected_fires(1, seed, conns[D_REFUSE_P]);
	/* every send-side call on a .4 connection is asked (ROUNDS per connection, and the duplex
	 * connection's) */
	uint64_t sends4 = conns[D_SEND_ERR] * ROUNDS + (uint64_t)nthreads * DUPLEX_MSGS;
	if (sum.sends[D_SEND_ERR] != sends4)
		die("%llu send-side calls to 127.0.0.4, the schedule makes %llu",
		    (unsigned long long)sum.sends[D_SEND_ERR], (unsigned long long)sends4);
	uint64_t want_epipe = expected_fires(2, seed, sum.sends[D_SEND_ERR]);
	/* reset count=300 with no p=: exactly 300 as long as the rule is asked that often */
	uint64_t want_resets = expected_fires(3, seed, conns[D_RESET] * ROUNDS);

	struct {
		const char *what;
		uint64_t want, got;
	} checks[] = {
		{ "refused by 'refuse count=500' (.2)", want_refuse_count, sum.refused[D_REFUSE_COUNT] },
		{ "refused by 'refuse p=0.3' (.3)", want_refuse_p, sum.refused[D_REFUSE_P] },
		{ "EPIPE by 'error=EPIPE on=send p=0.5 count=2000' (.4)", want_epipe,
		  sum.send_epipe[D_SEND_ERR] },
		{ "connections reset by 'reset count=300' (.5)", want_resets, sum.resets[D_RESET] },
		{ "faults on the clean destination (.1)", 0,
		  sum.refused[D_CLEAN] + sum.send_epipe[D_CLEAN] + sum.resets[D_CLEAN] },
		{ "log lines of rule 1", want_refuse_count, log_lines(logpath, 1) },
		{ "log lines of rule 2", want_refuse_p, log_lines(logpath, 2) },
		{ "log lines of rule 3", want_epipe, log_lines(logpath, 3) },
		{ "log lines of rule 4", want_resets, log_lines(logpath, 4) },
		{ "log lines", want_refuse_count + want_refuse_p + want_epipe + want_resets,
		  log_lines(logpath, 0) },
	};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if (checks[i].want != checks[i].got)
			die("%s: expected %llu, got %llu", checks[i].what,
			    (unsigned long long)checks[i].want, (unsigned long long)checks[i].got);
	uint64_t faults = want_refuse_count + want_refuse_p + want_epipe + want_resets;
	printf("ok threads=%d calls=%llu connects=%llu faults=%llu (refuse count %llu, refuse p "
	       "%llu, epipe %llu, reset %llu) %.2fs %.0f calls/s\n",
	       nthreads, (unsigned long long)sum.calls, (unsigned long long)sum.connects,
	       (unsigned long long)faults, (unsigned long long)want_refuse_count,
	       (unsigned long long)want_refuse_p, (unsigned long long)want_epipe,
	       (unsigned long long)want_resets, secs, (double)sum.calls / secs);
	free(st);
	free(ta);
	free(th);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return serve();
	if (argc >= 2 && !strcmp(argv[1], "rules")) {
		printf("{\"faults\": [");
		for (size_t i = 0; i < NRULES; i++)
			printf("%s\"%s\"", i ? ", " : "", rules[i]);
		printf("]}\n");
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "client"))
		return client(argc, argv);
	fprintf(stderr, "usage: hammer serve | rules | client PORTS THREADS CALLS\n");
	return 2;
}
