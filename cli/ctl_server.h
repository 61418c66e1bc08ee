/* ctl_server.h -- chaos-exec's side of live control (ctl_server.c) */
#ifndef CHAOS_CTL_SERVER_H
#define CHAOS_CTL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chaos_rule_list;
struct ctl_server;
struct shm_slot;

/* Create the shared area (with rules in chaos-exec's own slot) and the control socket. */
struct ctl_server *ctl_server_start(const struct chaos_rule_list *rules, uint64_t seed,
				    uint64_t epoch_ns, uint32_t max_rules, bool record,
				    char **argv, char *err, size_t errlen);
const char *ctl_server_sock(const struct ctl_server *s);
const char *ctl_server_shm(const struct ctl_server *s);
int ctl_server_fd(const struct ctl_server *s);
/* Accept one connection and answer its request. */
void ctl_server_handle(struct ctl_server *s);
/* The command's slot, so that it is ours from its first instant: claim it (with chaos-exec's
 * rules) before the fork (NULL: the tree is full); in the child, ctl_server_child_ready makes it
 * the child's before exec; in chaos-exec, ctl_server_child says which pid the command has (<= 0:
 * the fork failed), and makes it the child's too if the child has not run yet. */
struct shm_slot *ctl_server_child_slot(struct ctl_server *s);
void ctl_server_child_ready(struct shm_slot *slot);
void ctl_server_child(struct ctl_server *s, int pid);
/* Free the slots of processes that are gone. */
void ctl_server_reap(struct ctl_server *s);
/* Write the dependency records as JSON to path (atomically). */
int ctl_server_write_record(struct ctl_server *s, const char *path, char *err, size_t errlen);
/* The outage endpoints (SYN sink, stall listener, hold socket; see shm.h) are served through
 * one epoll fd: poll it for POLLIN and call ctl_server_outage_handle.  Sockets handed over for
 * close-delay are closed by ctl_server_close_due at ctl_server_next_close_ns (CLOCK_MONOTONIC,
 * 0: none). */
int ctl_server_outage_fd(const struct ctl_server *s);
void ctl_server_outage_handle(struct ctl_server *s);
uint64_t ctl_server_next_close_ns(const struct ctl_server *s);
void ctl_server_close_due(struct ctl_server *s);
/* Close and remove the socket and the area. */
void ctl_server_stop(struct ctl_server *s);

#endif
