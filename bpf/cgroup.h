/* cgroup.h -- finding, making and emptying cgroup v2 directories for chaos-attach
 *
 * Library code: returns 0 or a negative errno, with a message in the caller's buffer.
 */
#ifndef CHAOS_BPF_CGROUP_H
#define CHAOS_BPF_CGROUP_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

/* Where cgroup v2 is mounted, from mounts (normally /proc/self/mounts). */
int cg_mount(const char *mounts, char *out, size_t len, char *err, size_t errlen);

/* The cgroup v2 directory of a process (from /proc/PID/cgroup). */
int cg_of_pid(const char *mount, pid_t pid, char *out, size_t len, char *err, size_t errlen);

/* Is path a directory of the cgroup v2 mount?  (statfs: CGROUP2_SUPER_MAGIC) */
int cg_check(const char *path, char *err, size_t errlen);

/* The cgroup of a container: searches the tree under mount for a directory named after the id
 * as docker, containerd, CRI-O, Kubernetes or podman name them (docker-ID.scope, docker/ID,
 * cri-containerd-ID.scope, crio-ID.scope, libpod-ID.scope, kubepods.../ID, ...).  id may be a
 * unique prefix of the full id (at least 4 characters).  Fails with -ENOENT or -EEXIST
 * (ambiguous: the candidates are named). */
int cg_find_container(const char *mount, const char *id, char *out, size_t len, char *err,
		      size_t errlen);

/* The processes in a cgroup and its descendants.  *pids is malloc'd. */
int cg_procs(const char *path, pid_t **pids, size_t *n, char *err, size_t errlen);

/* Move a process into a cgroup (write to cgroup.procs; 0 is the caller). */
int cg_move(const char *path, pid_t pid, char *err, size_t errlen);

/* Make a fresh cgroup dir under parent named NAME-PID[-N]. */
int cg_create(const char *parent, const char *name, char *out, size_t len, char *err,
	      size_t errlen);

/* Move every process of path (and its descendants) to dest, then remove path and its
 * descendants.  Retries while processes are still arriving (a fork racing the move). */
int cg_remove(const char *path, const char *dest, char *err, size_t errlen);

/* Is `inner` the same as or below `outer`? */
int cg_is_within(const char *inner, const char *outer);

#endif
