/* io.c -- the part of send/recv/read/write that decides: pass, fail, reset, or go through a gate
 *
 * Every send- and recv-like hook calls io_call() once the fast path (io_fast) says some rule or
 * some fd needs a look: io_before() decides (errors and resets, first), the gate (gate.c) holds
 * the call back if faults in time cover the connection, the real call moves at most the bytes
 * allowed, and io_after() counts and fixes up.  A reset is a real one: the socket is
 * disconnected with connect(AF_UNSPEC), which sends the peer an RST and leaves ECONNRESET
 * pending on the socket, so the real call that follows reports it, and poll/epoll see the error
 * as they would after a reset from the network.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "deps.h"
#include "errnos.h"
#include "gate.h"
#include "internal.h"
#include "vfork.h"

size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t total = 0;
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	return total;
}

static bool abort_connection(int fd)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	int saved = errno;
	int rc = real_connect(fd, &sa, sizeof(sa));
	errno = saved;
	return rc == 0;
}

/* Is there an io rule for this fd's peer?  Cached per ruleset generation. */
static bool fd_covered(int fd, struct fd_entry *e, const struct ruleset *set)
{
	if (!(__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_PEER)) {
		/* classified while its connect was still in flight: try again */
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int saved = errno;
		int rc = getpeername(fd, (struct sockaddr *)&ss, &len);
		errno = saved;
		if (rc < 0 ||
		    !dest_from_sockaddr((struct sockaddr *)&ss, len, (enum chaos_proto)e->proto,
					&e->peer))
			return false;
		__atomic_fetch_or(&e->flags, FDF_PEER, __ATOMIC_RELAXED);
		__atomic_store_n(&e->gen, 0, __ATOMIC_RELAXED);
	}
	uint32_t gen = __atomic_load_n(&e->gen, __ATOMIC_RELAXED);
	if (gen != set->gen) {
		const char *names[NAMES_PER_ADDR];
		struct chaos_dest d = e->peer;
		dest_attach_names(&d, names, NAMES_PER_ADDR);
		if (rules_cover_io(set, &d))
			__atomic_fetch_or(&e->flags, FDF_MATCH, __ATOMIC_RELAXED);
		else
			__atomic_fetch_and(&e->flags, (uint16_t)~FDF_MATCH, __ATOMIC_RELAXED);
		/* (after FDF_MATCH: a reader that sees this generation sees the flag for it) */
		__atomic_store_n(&e->gen, set->gen, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_MATCH;
}

static enum io_verdict io_decide(int fd, enum chaos_call call, const char *fn,
				 const struct sockaddr *to, socklen_t tolen, size_t *len,
				 struct io_ctx *c)
{
	const char *names[NAMES_PER_ADDR];
	struct chaos_dest d;
	uint64_t now = 0;

	c->e = NULL;
	c->dep = NULL;
	c->g = NULL;
	c->err = 0;
	if (chaos_busy)
		return IO_PASS;
	const struct ruleset *set = rules_get();
	struct fd_entry *e = fd_lookup(fd);
	if (!e || __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE) == FD_UNKNOWN) {
		if (!set->io && !deps_recording())
			return IO_PASS;
		if (chaos_in_vfork_child())
			return IO_PASS; /* the parent's table is not ours to fill (vfork.h) */
		e = fd_get(fd);
		if (!e)
			return IO_PASS;
		fd_classify(fd, e);
	}
	if (e->kind != FD_INET)
		return IO_PASS;
	c->e = e;
	if (unlikely(deps_recording())) {
		if (to && e->proto == CHAOS_PROTO_UDP) {
			struct chaos_dest u;
			if (dest_from_sockaddr(to, tolen, CHAOS_PROTO_UDP, &u)) {
				c->dep = deps_for_dest(&u);
				names_consume(&u);
				/* answers read later are counted for where we last sent */
				e->dep = deps_index(c->dep);
			}
		} else {
			if (!e->dep && (__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_PEER))
				e->dep = deps_index(deps_for_dest(&e->peer));
			c->dep = deps_by_index(e->dep);
		}
	}
	uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
	if (flags & (FDF_RESET | FDF_PENDING)) {
		if (fd_still_same(fd, e))
			return IO_PASS; /* io_after fixes up what the kernel says */
		/* closed behind our back (a raw close syscall) and the number reused */
		fd_forget(fd);
		fd_classify(fd, e);
		if (e->kind != FD_INET) {
			c->e = NULL;
			return IO_PASS;
		}
	}
	if (!set->io)
		return IO_PASS;

	if (to && e->proto == CHAOS_PROTO_UDP) {
		if (!dest_from_sockaddr(to, tolen, CHAOS_PROTO_UDP, &d))
			return IO_PASS;
	} else {
		if (!fd_covered(fd, e, set))
			return IO_PASS;
		d = e->peer;
	}
	dest_attach_names(&d, names, NAMES_PER_ADDR);

	struct chaos_index_iter it;
	size_t i;
	bool checked = false;
	RULES_FOR_DEST(set, &d, &it, i) {
		const struct prule *p = &set->rules[i];
		if (p->r.action != CHAOS_ACT_REFUSE && p->r.action != CHAOS_ACT_ERROR &&
		    p->r.action != CHAOS_ACT_RESET)
			continue; /* faults in time are the gate's (gate.c) */
		if (!(rule_calls(&p->r, d.proto) & call) || !chaos_target_match(&p->r.target, &d))
			continue;
		if (p->r.action == CHAOS_ACT_RESET && e->bytes < p->r.bytes) {
			/* bytes=N: let the first N bytes through, then reset */
			uint64_t room = p->r.bytes - e->bytes;
			if (*len > room)
				*len = (size_t)room;
			continue;
		}
		/* before a trigger can spend anything (count=, skip=, p=): is the fd still this
		 * peer's socket, or was it closed behind our back (a raw close syscall, as libuv
		 * makes) and its number reused?  A system call, made once, and not for a rule
		 * whose count is used up (it only counts the match) */
		if (!checked && !((p->r.set & CHAOS_SET_COUNT) &&
				  __atomic_load_n(&p->st->injected, __ATOMIC_RELAXED) >= p->r.count)) {
			if (!fd_still_same(fd, e)) {
				fd_forget(fd);
				fd_classify(fd, e);
				c->e = NULL;
				return IO_PASS;
			}
			checked = true;
		}
		if (!now)
			now = chaos_now_ns();
		if (!rule_fires(p, now))
			continue;
		switch (p->r.action) {
		case CHAOS_ACT_RESET:
			log_fault(fn, &d, NULL, NULL, p, "ECONNRESET");
			if (!c->dep) /* (while recording, io_after counts what the call returns) */
				deps_error(deps_by_index(e->dep), ECONNRESET);
			if (abort_connection(fd)) {
				fd_set_flag(e, FDF_RESET);
				return IO_PASS; /* the real call now reports ECONNRESET */
			}
			c->err = ECONNRESET;
			return IO_FAIL;
		case CHAOS_ACT_REFUSE:
			c->err = ECONNREFUSED;
			break;
		default:
			c->err = p->r.err;
			break;
		}
		log_fault(fn, &d, NULL, NULL, p, chaos_errno_name(c->err));
		deps_error(c->dep ? c->dep : deps_by_index(e->dep), c->err);
		return IO_FAIL;
	}
	return IO_PASS;
}

enum io_verdict io_before(int fd, enum chaos_call call, const char *fn, const struct sockaddr *to,
			  socklen_t tolen, size_t *len, struct io_ctx *c)
{
	enum io_verdict v = io_decide(fd, call, fn, to, tolen, len, c);
	struct fd_entry *e = c->e;
	if (v != IO_PASS || !e || chaos_busy || e->proto != CHAOS_PROTO_TCP)
		return v;
	const struct ruleset *set = rules_get();
	if (!set->timed && !(__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FDF_GATED))
		return v;
	struct gate *g = gate_for(fd, e, set);
	if (!g)
		return v;
	if (g->gen != set->gen && gate_lock(g)) {
		gate_rules(fd, e, g, set, chaos_now_ns());
		gate_unlock(g);
	}
	if (gate_busy(g))
		c->g = g;
	return v;
}

ssize_t io_after(enum chaos_call call, int flags, ssize_t ret, struct io_ctx *c)
{
	struct fd_entry *e = c->e;
	if (!e)
		return ret;
	uint16_t f = __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
	if (ret > 0 && (f & FDF_MATCH) && !(flags & MSG_PEEK))
		__atomic_add_fetch(&e->bytes, (uint64_t)ret, __ATOMIC_RELAXED);
	if (c->dep) {
		int saved = errno;
		if (ret > 0 && !(flags & MSG_PEEK))
			deps_bytes(c->dep, call == CALL_SEND, (uint64_t)ret);
		else if (ret < 0 && saved != EAGAIN && saved != EINTR)
			deps_error(c->dep, saved);
		errno = saved;
	}
	if (ret < 0) {
		if ((f & FDF_PENDING) && errno == ECONNREFUSED) {
			errno = e->pending_err;
			fd_clear_flag(e, FDF_PENDING);
		} else if ((f & FDF_RESET) && call == CALL_RECV && errno == ENOTCONN) {
			/* after a real reset, reads see the end of the stream */
			return 0;
		}
	}
	return ret;
}

ssize_t io_fail(const struct io_ctx *c, int flags)
{
	if (c->err == EPIPE && !(flags & MSG_NOSIGNAL)) {
		/* the kernel sends SIGPIPE with EPIPE, to the calling thread */
		syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGPIPE);
	}
	errno = c->err;
	return -1;
}

/* ---- one call, whatever the hook ---------------------------------------------------------- */

/* iov shifted by off bytes and cut to n (into out, room for cnt) */
static int iov_window(const struct iovec *iov, int cnt, size_t off, size_t n, struct iovec *out)
{
	int k = 0;
	for (int i = 0; i < cnt && n > 0; i++) {
		size_t l = iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		out[k].iov_base = (char *)iov[i].iov_base + off;
		out[k].iov_len = l - off < n ? l - off : n;
		n -= out[k].iov_len;
		off = 0;
		k++;
	}
	return k;
}

__attribute__((noinline)) static ssize_t real_vec(const struct io_op *op, size_t off, size_t n,
						   int fl)
{
	struct iovec v[IOV_MAX];
	if (op->fn == IOF_READV || op->fn == IOF_WRITEV) {
		int k = iov_window(op->buf, op->iovcnt, off, n, v);
		return op->fn == IOF_READV ? real_readv(op->fd, v, k) : real_writev(op->fd, v, k);
	}
	struct msghdr *msg = op->buf, m = *msg;
	m.msg_iov = v;
	m.msg_iovlen = (size_t)iov_window(msg->msg_iov, (int)msg->msg_iovlen, off, n, v);
	if (op->fn == IOF_SENDMSG)
		return real_sendmsg(op->fd, &m, fl);
	ssize_t r = real_recvmsg(op->fd, &m, fl);
	msg->msg_namelen = m.msg_namelen;
	msg->msg_controllen = m.msg_controllen;
	msg->msg_flags = m.msg_flags;
	return r;
}

ssize_t io_real_at(const struct io_op *op, size_t off, size_t n, int extra)
{
	size_t left = op->len > off ? op->len - off : 0;
	if (n > left)
		n = left;
	bool whole = off == 0 && n == op->len;
	int fl = op->flags | extra, fd = op->fd;
	char *b = (char *)op->buf + off;
	switch (op->fn) {
	case IOF_RECV:
		return real_recv(fd, b, n, fl);
	case IOF_RECV_CHK:
		return real___recv_chk(fd, b, n, op->buflen - off, fl);
	case IOF_RECVFROM:
		return real_recvfrom(fd, b, n, fl, op->from, op->fromlen);
	case IOF_RECVFROM_CHK:
		return real___recvfrom_chk(fd, b, n, op->buflen - off, fl, op->from, op->fromlen);
	case IOF_READ:
		return real_read(fd, b, n);
	case IOF_READ_CHK:
		return real___read_chk(fd, b, n, op->buflen - off);
	case IOF_SEND:
		return real_send(fd, b, n, fl);
	case IOF_SENDTO:
		return real_sendto(fd, b, n, fl, op->to, op->tolen);
	case IOF_WRITE:
		return real_write(fd, b, n);
	case IOF_READV:
		return whole ? real_readv(fd, op->buf, op->iovcnt) : real_vec(op, off, n, fl);
	case IOF_WRITEV:
		return whole ? real_writev(fd, op->buf, op->iovcnt) : real_vec(op, off, n, fl);
	case IOF_RECVMSG:
		return whole ? real_recvmsg(fd, op->buf, fl) : real_vec(op, off, n, fl);
	case IOF_SENDMSG:
		return whole ? real_sendmsg(fd, op->buf, fl) : real_vec(op, off, n, fl);
	}
	errno = EINVAL;
	return -1;
}

ssize_t io_real(const struct io_op *op, size_t n, int extra)
{
	return io_real_at(op, 0, n, extra);
}

static const char *const io_names[] = {
	[IOF_RECV] = "recv",	       [IOF_RECV_CHK] = "recv",	  [IOF_RECVFROM] = "recvfrom",
	[IOF_RECVFROM_CHK] = "recvfrom", [IOF_RECVMSG] = "recvmsg", [IOF_READ] = "read",
	[IOF_READ_CHK] = "read",       [IOF_READV] = "readv",	  [IOF_SEND] = "send",
	[IOF_SENDTO] = "sendto",       [IOF_SENDMSG] = "sendmsg", [IOF_WRITE] = "write",
	[IOF_WRITEV] = "writev",
};

ssize_t io_call(const struct io_op *op)
{
	bool out = op->fn >= IOF_SEND;
	enum chaos_call call = out ? CALL_SEND : CALL_RECV;
	struct io_ctx c;
	size_t len = op->len;
	if (io_before(op->fd, call, io_names[op->fn], out ? op->to : NULL, out ? op->tolen : 0,
		      &len, &c) == IO_FAIL)
		return io_fail(&c, op->flags);
	ssize_t r;
	if (c.g)
		r = out ? gate_send(op, &c, len) : gate_recv(op, &c, len);
	else
		r = io_real(op, len, 0);
	return io_after(call, op->flags, r, &c);
}
