/* existing.h -- sockets a target had before chaos-attach attached
 *
 * The hooks see connections as they are made; one made before the attach is reached through the
 * process's fds: chaos-attach takes a copy of each socket (pidfd_getfd, Linux 5.6), asks the
 * kernel side what the rules say about its peer (the ca_existing program: same rules, triggers
 * and counters as a new connection), and gives it socket storage, pacing and a user timeout as
 * the hooks would have.  Library code: no logging.
 */
#ifndef CHAOS_BPF_EXISTING_H
#define CHAOS_BPF_EXISTING_H

#include <stddef.h>
#include <sys/types.h>

struct ex_stats {
	size_t sockets;  /* inet sockets seen */
	size_t marked;   /* TCP connections a rule now acts on */
	size_t udp;      /* UDP sockets now under the datagram rules */
	size_t skipped;  /* already known to the hooks (made after the attach) */
	size_t failed;   /* could not be reached (the process exited, or closed the fd) */
};

struct ex_ctx {
	int prog_fd;   /* ca_existing */
	int sk_fd;     /* sk_store */
	size_t nseen, capseen;
	unsigned long *seen; /* socket inodes done (a socket shared by processes counts once) */
};

/* Every inet socket of pid.  Returns 0, or a negative errno with a message if the process
 * cannot be reached at all (its sockets are then not covered). */
int ex_scan(struct ex_ctx *c, pid_t pid, struct ex_stats *st, char *err, size_t errlen);

/* Undo, on pid's sockets, what would outlive the detach: the socket options the faults set
 * (SO_MAX_PACING_RATE for bandwidth=, TCP_USER_TIMEOUT for blackhole timeout=), and UDP sockets
 * connected to the DNS responder (connected again to the server they asked for).  Returns how
 * many sockets were given back. */
size_t ex_release(struct ex_ctx *c, pid_t pid);

void ex_free(struct ex_ctx *c);

#endif
