/* ctl.c -- live control, the process's side: its slot in chaos-exec's shared area
 *
 * At start the library maps the area (CHAOS_SHM) and takes a slot for its pid, copying the
 * rule list of its parent's slot (a child gets the rules its parent had); the command
 * chaos-exec started finds the slot chaos-exec claimed for it before its exec, with whatever
 * chaos-ctl put there since.  chaos-exec changes a
 * slot's list under a seqlock and sets `pending`; the next hooked call in the process sees it
 * (ctl_refresh) and publishes a new snapshot built from the list.  Rules already parsed are
 * reused by id, so a change costs the rules that changed.  fork() gives the child a slot of its
 * own; exec keeps the slot (same pid, same start time).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "shm.h"

struct shm_header *chaos_shm;
static struct shm_slot *my_slot;
static uint32_t no_pending;
uint32_t *chaos_ctl_pending = &no_pending;
static int apply_lock; /* taken with a compare-and-swap, never waited for */
static int exec_gone;  /* chaos-exec was seen gone: the rules are off for good */
static uint64_t exec_checked_ns;
static uint64_t my_pidns; /* this process's pid namespace (inode), 0: unknown */

/* Copy a slot's list under its seqlock.  chaos-exec writes a list in microseconds; if the seq
 * stays odd that long it died mid-write, and nothing will change it any more: take it as is. */
static void seq_read_list(struct shm_slot *s, uint32_t *ids, uint32_t *n, uint32_t *paused)
{
	for (unsigned tries = 0;; tries++) {
		uint32_t a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if ((a & 1) && tries < 100000) {
			sched_yield();
			continue;
		}
		uint32_t cnt = __atomic_load_n(&s->nactive, __ATOMIC_RELAXED);
		if (cnt > chaos_shm->max_active)
			cnt = chaos_shm->max_active;
		memcpy(ids, s->ids, (size_t)cnt * sizeof(uint32_t));
		*paused = __atomic_load_n(&s->paused, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == a || tries >= 100000) {
			*n = cnt;
			return;
		}
	}
}

/* Take a slot for this process: the one fork() made for it or chaos-exec claimed for it before
 * the exec (found by pid and start time), or a free one filled from its parent's (or, for a
 * process whose parent has no slot, from chaos-exec's own slot 0).  Scans stop at the
 * high-water mark of claimed slots: a small tree touches a few of the area's pages, not all of
 * CHAOS_SHM_SLOTS slots. */
static struct shm_slot *slot_take(int pid, int ppid, uint64_t start, struct shm_slot *parent)
{
	struct shm_header *h = chaos_shm;
	unsigned used = shm_slots_used(h);
	for (unsigned i = 0; i < used; i++) {
		struct shm_slot *s = shm_slot(h, i);
		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SLOT_LIVE &&
		    s->pid == (uint32_t)pid && s->start == start)
			return s;
		if (!parent && s->pid == (uint32_t)ppid &&
		    __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SLOT_LIVE)
			parent = s;
	}
	if (!parent)
		parent = shm_slot(h, 0); /* chaos-exec's: the rules it was started with */
	struct shm_slot *s = shm_slot_claim(h);
	if (!s)
		return NULL;
	uint32_t n, paused;
	seq_read_list(parent, s->ids, &n, &paused);
	s->nactive = n;
	s->paused = paused;
	s->pid = (uint32_t)pid;
	s->ppid = (uint32_t)ppid;
	s->start = start;
	s->applied = 0;
	s->seq = 0;
	__atomic_store_n(&s->pending, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&s->state, SLOT_LIVE, __ATOMIC_RELEASE);
	return s;
}

/* rules.c: build and publish a snapshot from a list of rule ids */
void rules_publish_ids(const uint32_t *ids, uint32_t n, bool paused);

static void apply(void)
{
	struct shm_slot *s = my_slot;
	if (!s)
		return;
	int expected = 0;
	if (!__atomic_compare_exchange_n(&apply_lock, &expected, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return; /* another thread is applying the change */
	chaos_busy++;
	while (__atomic_exchange_n(&s->pending, 0, __ATOMIC_ACQ_REL) &&
	       !__atomic_load_n(&exec_gone, __ATOMIC_ACQUIRE)) {
		uint32_t *ids = malloc((size_t)chaos_shm->max_active * sizeof(uint32_t));
		uint32_t n, paused;
		if (!ids) {
			chaos_warn("out of memory taking a rule change: the old rules stay");
			break;
		}
		seq_read_list(s, ids, &n, &paused);
		rules_publish_ids(ids, n, paused);
		free(ids);
		/* chaos-exec seen gone by another thread while this list was read: its empty set
		 * must be the last word, not this one */
		if (__atomic_load_n(&exec_gone, __ATOMIC_ACQUIRE))
			rules_publish_ids(NULL, 0, true);
		__atomic_add_fetch(&s->applied, 1, __ATOMIC_RELEASE);
	}
	chaos_busy--;
	__atomic_store_n(&apply_lock, 0, __ATOMIC_RELEASE);
}

void ctl_refresh(void)
{
	if (!chaos_busy)
		apply();
}

static uint64_t pidns_now(void)
{
	struct stat st;
	return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* A fault is about to be injected: is the chaos-exec that put it on still there?  When it was
 * killed (kill -9 takes its command with it, not the command's own children), the faults of
 * the processes left are taken off, loudly, rather than left on with nobody to remove them.
 * Only a process in chaos-exec's pid namespace can tell.  Each time: is its pid still there
 * (kill 0, a fraction of a microsecond); once a second, is it still the same process (its
 * start time, from /proc: microseconds), for a pid reused since. */
bool ctl_exec_gone(void)
{
	const struct shm_header *h = chaos_shm;
	if (!h)
		return false;
	if (__atomic_load_n(&exec_gone, __ATOMIC_ACQUIRE))
		return true;
	if (!h->exec_start || !h->exec_pidns || h->exec_pidns != my_pidns)
		return false;
	int saved = errno;
	bool gone = syscall(SYS_kill, (pid_t)h->exec_pid, 0) < 0 && errno == ESRCH;
	errno = saved;
	if (!gone) {
		uint64_t now = chaos_now_ns();
		uint64_t last = __atomic_load_n(&exec_checked_ns, __ATOMIC_RELAXED);
		if (last && now - last < 1000000000ULL)
			return false;
		__atomic_store_n(&exec_checked_ns, now, __ATOMIC_RELAXED);
		if (chaos_proc_start((int)h->exec_pid) == h->exec_start)
			return false;
	}
	if (__atomic_exchange_n(&exec_gone, 1, __ATOMIC_ACQ_REL))
		return true;
	chaos_busy++;
	rules_publish_ids(NULL, 0, true);
	chaos_busy--;
	chaos_warn("chaos-exec (pid %u) is gone: the faults it put on process %d are off", h->exec_pid,
		   (int)syscall(SYS_getpid));
	return true;
}

static void after_fork_child(void)
{
	/* a new process: its own slot, a copy of its parent's rules */
	__atomic_store_n(&apply_lock, 0, __ATOMIC_RELAXED);
	if (!chaos_shm)
		return;
	my_pidns = pidns_now(); /* (a parent that unshared its pid namespace forks into another) */
	if (!my_slot)
		return;
	int pid = (int)syscall(SYS_getpid);
	struct shm_slot *s = slot_take(pid, (int)my_slot->pid, chaos_proc_start(pid), my_slot);
	my_slot = s;
	chaos_ctl_pending = s ? &s->pending : &no_pending;
	if (!s)
		chaos_warn("no free control slot for process %d: it keeps its parent's rules and "
			   "cannot be changed live",
			   pid);
}

void ctl_attach(void)
{
	const char *path = secure_getenv("CHAOS_SHM");
	struct stat st;

	if (!path || !*path)
		return;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		chaos_warn("cannot open chaos-exec's control area %s: %s: the rules given at "
			   "start apply, and cannot be changed live",
			   path, strerror(errno));
		return;
	}
	void *map = MAP_FAILED;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(struct shm_header))
		map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	syscall(SYS_close, fd);
	if (map == MAP_FAILED) {
		chaos_warn("cannot map chaos-exec's control area %s: the rules given at start "
			   "apply, and cannot be changed live",
			   path);
		return;
	}
	struct shm_header *h = map;
	if (h->magic != CHAOS_SHM_MAGIC || h->total_size != (uint64_t)st.st_size) {
		chaos_warn("%s is not a control area of this version of chaos-exec", path);
		munmap(map, (size_t)st.st_size);
		return;
	}
	chaos_shm = h;
	my_pidns = pidns_now();
	int pid = (int)syscall(SYS_getpid);
	my_slot = slot_take(pid, (int)syscall(SYS_getppid), chaos_proc_start(pid), NULL);
	if (!my_slot) {
		chaos_warn("no free control slot for process %d (%u processes): it gets the rules "
			   "chaos-exec started with, and cannot be changed live",
			   pid, CHAOS_SHM_SLOTS);
		my_slot = NULL;
		struct shm_slot *root = shm_slot(h, 0);
		uint32_t *ids = malloc((size_t)h->max_active * sizeof(uint32_t)), n, paused;
		if (ids) {
			seq_read_list(root, ids, &n, &paused);
			rules_publish_ids(ids, n, paused);
			free(ids);
		}
		return;
	}
	chaos_ctl_pending = &my_slot->pending;
	pthread_atfork(NULL, NULL, after_fork_child);
	/* after an exec the slot is the one this pid had before, already taken by the old image:
	 * this image starts with nothing, so it takes the list whatever pending says */
	__atomic_store_n(&my_slot->pending, 1, __ATOMIC_RELEASE);
	apply();
}
