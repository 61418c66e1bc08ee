/* vfork.h -- is this a vfork child, running in its parent's memory until it execs?
 *
 * A vfork child (Python's subprocess, posix_spawn's own clone) shares the parent's memory but
 * has its own copy of the fd table: when it closes, dup2s or close_ranges descriptors before
 * exec, what we know about the parent's fds (fdtable.c, the log's fd) must not change, and
 * what it classifies must not be written where the parent will read it.  fork()'s atfork
 * handler keeps chaos_pid right in a real child; a pid that differs from it is a vfork child.
 * The check is a system call: it is made only where a hook is about to change shared state.
 */
#ifndef CHAOS_PRELOAD_VFORK_H
#define CHAOS_PRELOAD_VFORK_H

#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

extern int chaos_pid; /* init.c: this process's pid, set at start and after fork */

static inline bool chaos_in_vfork_child(void)
{
	return (int)syscall(SYS_getpid) != __atomic_load_n(&chaos_pid, __ATOMIC_RELAXED);
}

#endif
