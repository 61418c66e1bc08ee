/* close.c -- close(2), close_range(2), closefrom(3): forget what we knew about closed fds, and
 * close-delay=: a slow close
 *
 * close-delay=DURATION: the peer sees the end of the connection (the FIN) DURATION after the
 * program closes it.  A blocking socket's close takes that long, as a close that lingers does;
 * a signal handler ends the wait early and close returns 0, as the kernel's does.  A
 * non-blocking socket's close returns at once (the fd number is free again) and a duplicate of
 * the socket, handed to chaos-exec (its hold socket, SCM_RIGHTS), is closed by it when the time
 * is up: no thread here, and nothing left behind if the process exits first.  dup2/dup3 over
 * such a socket (Java's way of closing) hand it over the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gate.h"
#include "shm.h"
#include "units.h"
#include "vfork.h"

/* The close-delay rule that fires for this fd's close, or NULL. */
static const struct prule *slow_rule(int fd, struct fd_entry **ep)
{
	const struct ruleset *set = rules_get();
	if (!set->close_delay || chaos_busy)
		return NULL;
	struct fd_entry *e = fd_lookup(fd);
	if (!e || e->kind != FD_INET || e->proto != CHAOS_PROTO_TCP ||
	    !(__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_PEER) || !fd_still_same(fd, e))
		return NULL;
	const char *names[NAMES_PER_ADDR];
	struct chaos_dest d = e->peer;
	dest_attach_names(&d, names, NAMES_PER_ADDR);
	uint64_t now = 0;
	struct chaos_index_iter it;
	size_t i;
	RULES_FOR_DEST(set, &d, &it, i) {
		const struct prule *p = &set->rules[i];
		if (p->r.action != CHAOS_ACT_CLOSE_DELAY)
			continue;
		if (p->r.target.kind == CHAOS_HOST_NAME && !d.nnames)
			continue;
		if (!chaos_target_match(&p->r.target, &d))
			continue;
		if (!now)
			now = chaos_now_ns();
		if (rule_fires(p, now)) {
			*ep = e;
			return p;
		}
	}
	return NULL;
}

/* Hand a duplicate of fd to chaos-exec, to be closed at close_ns.  Returns 0 or -1. */
static int hand_over(int fd, uint64_t close_ns)
{
	struct shm_header *h = chaos_shm;
	if (!h || !h->hold_name[0])
		return -1;
	int saved = errno, rc = -1;
	int dupfd = real_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (dupfd >= 0 && s >= 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		size_t n = strnlen(h->hold_name, sizeof(h->hold_name));
		memcpy(sa.sun_path + 1, h->hold_name, n);
		struct shm_hold msg = { .close_ns = close_ns };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
		struct msghdr mh = { .msg_name = &sa,
				     .msg_namelen = (socklen_t)(offsetof(struct sockaddr_un,
									 sun_path) + 1 + n),
				     .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &dupfd, sizeof(int));
		if (real_sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(msg))
			rc = 0;
	}
	if (s >= 0)
		real_close(s);
	if (dupfd >= 0)
		real_close(dupfd);
	errno = saved;
	return rc;
}

/* Returns close's result. */
static int slow_close(int fd, struct fd_entry *e, const struct prule *p, bool closing)
{
	const char *names[NAMES_PER_ADDR];
	struct chaos_dest d = e->peer;
	char result[64], dur[32];
	uint64_t until = chaos_now_ns() + p->r.close_delay_ns;
	dest_attach_names(&d, names, NAMES_PER_ADDR);
	chaos_format_duration(p->r.close_delay_ns, dur, sizeof(dur));
	if (closing && !sock_nonblocking(fd, 0)) {
		snprintf(result, sizeof(result), "closed after %s", dur);
		log_fault("close", &d, NULL, NULL, p, result);
		/* the call takes DURATION, and the peer sees the FIN at its end (a signal handler
		 * ends the wait early, as it would a close that lingers) */
		struct timespec ts = { (time_t)(until / NSEC_PER_SEC), (long)(until % NSEC_PER_SEC) };
		int saved = errno;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		errno = saved;
		fd_forget(fd);
		log_fd_closed(fd);
		return real_close(fd);
	}
	if (hand_over(fd, until) == 0) {
		snprintf(result, sizeof(result), "FIN after %s", dur);
		log_fault(closing ? "close" : "dup2", &d, NULL, NULL, p, result);
	} else {
		static int warned;
		if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
			chaos_warn("close-delay: chaos-exec's hold socket cannot be reached: "
				   "connections are closed at once");
	}
	if (!closing)
		return 0;
	fd_forget(fd);
	log_fd_closed(fd);
	return real_close(fd);
}

/* Does closing or replacing fd change what this process knows?  In a vfork child it must not
 * (vfork.h): the answer is false there. */
static bool ours_to_forget(int fd)
{
	struct fd_entry *e = fd_lookup(fd);
	/* (a file or a pipe forgotten costs the parent a second look at it, nothing more: only
	 * our sockets, epoll sets and the log are worth a system call here) */
	bool known = (e && (__atomic_load_n(&e->kind, __ATOMIC_RELAXED) == FD_INET ||
			    __atomic_load_n(&e->ep, __ATOMIC_RELAXED))) ||
		     log_fd_is(fd);
	return !known || !chaos_in_vfork_child();
}

/* dup.c: newfd is about to be replaced; a close-delay socket there is handed over first. */
void close_before_replace(int newfd);
void close_before_replace(int newfd)
{
	struct fd_entry *e = NULL;
	if (!ours_to_forget(newfd))
		return;
	const struct prule *p = slow_rule(newfd, &e);
	if (p)
		slow_close(newfd, e, p, false);
}

EXPORT int close(int fd)
{
	CHAOS_INIT();
	if (!ours_to_forget(fd))
		return real_close(fd);
	struct fd_entry *e = NULL;
	const struct prule *p = slow_rule(fd, &e);
	if (p)
		return slow_close(fd, e, p, true);
	fd_forget(fd);
	log_fd_closed(fd);
	return real_close(fd);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	CHAOS_INIT();
	int r = real_close_range(first, last, flags);
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC) && !chaos_in_vfork_child()) {
		fd_forget_range(first, last);
		log_fd_closed_range(first, last);
	}
	return r;
}

EXPORT void closefrom(int lowfd)
{
	CHAOS_INIT();
	real_closefrom(lowfd);
	if (chaos_in_vfork_child())
		return;
	if (lowfd < 0)
		lowfd = 0;
	fd_forget_range((unsigned)lowfd, ~0u);
	log_fd_closed_range((unsigned)lowfd, ~0u);
}
