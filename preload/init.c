/* init.c -- find the real functions, load the rules chaos-exec passed in the environment
 *
 * Environment (set by chaos-exec; see man/chaos-exec.1):
 *   CHAOS_RULES     rules in canonical form, one per line
 *   CHAOS_SEED      seed for p= decisions
 *   CHAOS_EPOCH_NS  CLOCK_MONOTONIC time the rules arrived (start= and for= count from it)
 *   CHAOS_LOG       where fault lines go (a path); stderr when unset
 *   CHAOS_READY_FD  a pipe to chaos-exec: we write "ok" once loaded, so it knows we are there
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "internal.h"
#include "units.h"
#include "vfork.h"

#define HOOK(ret, name, params) ret(*real_##name) params;
#include "hooks.def"
#undef HOOK

int chaos_ready;
int chaos_pid;
__thread int chaos_busy __attribute__((tls_model("initial-exec")));

static pthread_once_t once = PTHREAD_ONCE_INIT;

uint64_t chaos_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void die(const char *msg, const char *name)
{
	/* no stdio: we may be anywhere, even before libc is fully up */
	static const char pre[] = "chaos: fatal: ";
	if (write(2, pre, sizeof(pre) - 1) < 0 || write(2, msg, strlen(msg)) < 0 ||
	    write(2, name, strlen(name)) < 0 || write(2, "\n", 1) < 0) {
		/* nothing more we can do */
	}
	abort();
}

static void *load_sym(const char *name, void *self)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p)
		die("cannot find the real ", name);
	if (p == self)
		die("dlsym returned our own hook for ", name);
	return p;
}

/* rules.c */
void rules_load_env(const char *text, uint64_t seed, uint64_t epoch_ns);
void rules_set_seed(uint64_t seed);

static uint64_t env_u64(const char *name, uint64_t fallback, bool *ok)
{
	const char *s = secure_getenv(name);
	uint64_t v;
	*ok = true;
	if (!s || !*s)
		return fallback;
	if (chaos_parse_u64(s, UINT64_MAX, &v) < 0) {
		*ok = false;
		return fallback;
	}
	return v;
}

static void tell_chaos_exec(void)
{
	const char *s = secure_getenv("CHAOS_READY_FD");
	uint64_t fd;
	if (!s)
		return;
	if (chaos_parse_u64(s, 1 << 20, &fd) == 0) {
		/* the pipe is only for the process chaos-exec started, not for its children */
		if (real_write((int)fd, "ok\n", 3) < 0) {
			/* chaos-exec is gone or the fd is not the pipe: it will say so itself */
		}
		real_close((int)fd);
	}
	unsetenv("CHAOS_READY_FD");
}

static void pid_after_fork(void)
{
	__atomic_store_n(&chaos_pid, (int)syscall(SYS_getpid), __ATOMIC_RELAXED);
}

static void do_init(void)
{
	bool ok;
	uint64_t seed;

#define HOOK(ret, name, params) real_##name = (ret(*) params)load_sym(#name, (void *)name);
#include "hooks.def"
#undef HOOK

	chaos_busy++;
	pid_after_fork();
	pthread_atfork(NULL, NULL, pid_after_fork);
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = chaos_now_ns() ^ ((uint64_t)getpid() << 32);
	seed = env_u64("CHAOS_SEED", seed, &ok);
	if (!ok)
		chaos_warn("CHAOS_SEED='%s' is not a number: using a random seed",
			   secure_getenv("CHAOS_SEED"));
	uint64_t epoch = env_u64("CHAOS_EPOCH_NS", chaos_now_ns(), &ok);
	if (!ok)
		chaos_warn("CHAOS_EPOCH_NS is not a number: windows start now");
	if (secure_getenv("CHAOS_SHM")) {
		/* under chaos-exec: the rules live in its control area, and can change */
		rules_set_seed(seed);
		ctl_attach();
	}
	if (!chaos_shm)
		rules_load_env(secure_getenv("CHAOS_RULES"), seed, epoch);
	tell_chaos_exec();
	chaos_busy--;
	__atomic_store_n(&chaos_ready, 1, __ATOMIC_RELEASE);
}

void chaos_init(void)
{
	pthread_once(&once, do_init);
}

__attribute__((constructor)) static void chaos_constructor(void)
{
	chaos_init();
}
