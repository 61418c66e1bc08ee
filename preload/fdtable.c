/* fdtable.c -- what we know about each file descriptor, without a lock
 *
 * Two levels: 1024 pages of 1024 entries, a page allocated (mmap) the first time an fd in its
 * range is tracked, installed with compare-and-swap, never freed.  An fd nobody told us about
 * reads as FD_UNKNOWN.  close/dup/dup2/dup3/fcntl/close_range keep it right (close.c, dup.c).
 */
#include <string.h>
#include <sys/mman.h>

#include "gate.h"
#include "internal.h"

#define PAGE_BITS FD_PAGE_BITS
#define PAGE_ENTRIES FD_PAGE_ENTRIES
#define PAGES FD_PAGES
#define FD_LIMIT (PAGE_ENTRIES * PAGES)

/* (not static: the hooks' fast path looks in without a call, internal.h) */
struct fd_entry *chaos_fd_pages[PAGES];
#define pages chaos_fd_pages

void epoll_fd_closed(struct epset *s); /* epoll.c */
int chaos_special_fds;

struct fd_entry *fd_lookup(int fd)
{
	if (unlikely(fd < 0 || (unsigned)fd >= FD_LIMIT))
		return NULL;
	struct fd_entry *page = __atomic_load_n(&pages[(unsigned)fd >> PAGE_BITS], __ATOMIC_ACQUIRE);
	if (!page)
		return NULL;
	return &page[(unsigned)fd & (PAGE_ENTRIES - 1)];
}

struct fd_entry *fd_get(int fd)
{
	static int warned;
	struct fd_entry *e = fd_lookup(fd);
	if (e)
		return e;
	if (fd < 0)
		return NULL;
	if ((unsigned)fd >= FD_LIMIT) {
		if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
			chaos_warn("fd %d is beyond the %u fds we track: faults on sockets numbered "
				   "that high are not injected",
				   fd, FD_LIMIT);
		return NULL;
	}
	unsigned idx = (unsigned)fd >> PAGE_BITS;
	struct fd_entry *fresh = mmap(NULL, PAGE_ENTRIES * sizeof(struct fd_entry),
				      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fresh == MAP_FAILED)
		return NULL;
	struct fd_entry *expected = NULL;
	if (!__atomic_compare_exchange_n(&pages[idx], &expected, fresh, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		munmap(fresh, PAGE_ENTRIES * sizeof(struct fd_entry));
		fresh = expected;
	}
	return &fresh[(unsigned)fd & (PAGE_ENTRIES - 1)];
}

static void entry_clear(int fd, struct fd_entry *e)
{
	uint16_t flags = __atomic_exchange_n(&e->flags, 0, __ATOMIC_RELAXED);
	if (flags & (FDF_RESET | FDF_PENDING)) {
		__atomic_sub_fetch(&chaos_special_fds, 1, __ATOMIC_RELAXED);
		io_armed_update();
	}
	if (flags & FDF_GATED)
		gate_detach(fd);
	struct epset *ep = __atomic_exchange_n(&e->ep, NULL, __ATOMIC_ACQ_REL);
	if (ep)
		epoll_fd_closed(ep);
	/* (another thread may be looking at an fd that just got this number: the kernel orders
	 * the close before it, which no sanitizer sees, so these stores are atomic too) */
	__atomic_store_n(&e->tgen, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->kind, FD_UNKNOWN, __ATOMIC_RELEASE);
	__atomic_store_n(&e->gen, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->ino, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->bytes, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->pending_err, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->dep, 0, __ATOMIC_RELAXED);
}

void fd_forget(int fd)
{
	struct fd_entry *e = fd_lookup(fd);
	if (e && (__atomic_load_n(&e->kind, __ATOMIC_ACQUIRE) != FD_UNKNOWN ||
		  __atomic_load_n(&e->flags, __ATOMIC_RELAXED) ||
		  __atomic_load_n(&e->ep, __ATOMIC_RELAXED)))
		entry_clear(fd, e);
}

void fd_forget_range(unsigned first, unsigned last)
{
	if (first >= FD_LIMIT)
		return;
	if (last >= FD_LIMIT)
		last = FD_LIMIT - 1;
	for (unsigned fd = first; fd <= last; fd++) {
		if (!__atomic_load_n(&pages[fd >> PAGE_BITS], __ATOMIC_ACQUIRE)) {
			fd |= PAGE_ENTRIES - 1; /* skip the whole empty page */
			continue;
		}
		fd_forget((int)fd);
	}
}

void fd_set_flag(struct fd_entry *e, uint16_t flag)
{
	uint16_t old = __atomic_fetch_or(&e->flags, flag, __ATOMIC_RELAXED);
	bool was = old & (FDF_RESET | FDF_PENDING);
	bool now = (old | flag) & (FDF_RESET | FDF_PENDING);
	if (!was && now) {
		__atomic_add_fetch(&chaos_special_fds, 1, __ATOMIC_RELAXED);
		io_armed_update();
	}
}

void fd_clear_flag(struct fd_entry *e, uint16_t flag)
{
	uint16_t old = __atomic_fetch_and(&e->flags, (uint16_t)~flag, __ATOMIC_RELAXED);
	bool was = old & (FDF_RESET | FDF_PENDING);
	bool now = (old & ~flag) & (FDF_RESET | FDF_PENDING);
	if (was && !now) {
		__atomic_sub_fetch(&chaos_special_fds, 1, __ATOMIC_RELAXED);
		io_armed_update();
	}
}

void fd_copy(int oldfd, int newfd)
{
	struct fd_entry *src = fd_lookup(oldfd);
	fd_forget(newfd);
	if (!src || src->kind == FD_UNKNOWN)
		return;
	struct fd_entry *dst = fd_get(newfd);
	if (!dst)
		return;
	dst->proto = src->proto;
	dst->peer = src->peer;
	dst->ino = src->ino;
	dst->bytes = src->bytes;
	dst->pending_err = src->pending_err;
	dst->dep = src->dep;
	__atomic_store_n(&dst->gen, 0, __ATOMIC_RELAXED);
	/* a duplicate gets a gate of its own if it needs one (gate.c) */
	uint16_t flags = __atomic_load_n(&src->flags, __ATOMIC_RELAXED) & ~(FDF_MATCH | FDF_GATED);
	if (flags & (FDF_RESET | FDF_PENDING))
		fd_set_flag(dst, flags);
	else
		__atomic_store_n(&dst->flags, flags, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->kind, src->kind, __ATOMIC_RELEASE);
}
