/* ctl.h -- live control: where the channels live, and what chaos-exec and chaos-ctl say
 *
 * Each chaos-exec owns a control socket and a shared area, both in a directory only its user
 * can enter:  $XDG_RUNTIME_DIR/chaos, else /dev/shm/chaos-UID, else /tmp/chaos-UID.
 *   PID.sock   the control socket (requests from chaos-ctl, one JSON object a line)
 *   PID.shm    the shared area the library in each process maps (preload/shm.h)
 * The service's processes find them in CHAOS_CTL and CHAOS_SHM; chaos-ctl finds them for a
 * pid in /proc/PID/environ.
 */
#ifndef CHAOS_CTL_H
#define CHAOS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cJSON;
struct shm_header;

/* The control directory of uid; created (0700) if create.  Returns 0, or -1 with a message. */
int ctl_dir(uid_t uid, bool create, char *out, size_t len, char *err, size_t errlen);

/* Every directory that may hold channels this user may see (root: every user's). */
typedef void (*ctl_dir_fn)(const char *dir, void *arg);
void ctl_each_dir(ctl_dir_fn fn, void *arg);

/* Is the chaos-exec of DIR/PID.sock and DIR/PID.shm gone (killed before it could remove them)?
 * Its pid is gone and nobody answers on its socket, or its pid is another process now (start
 * time).  A live pid without a readable area is a chaos-exec still starting: not stale. */
bool ctl_stale(const char *dir, int pid);

/* Remove what chaos-execs gone without cleaning up left in DIR (PID.sock, PID.shm). */
void ctl_sweep(const char *dir);

/* The dependency records of an area as JSON (for --record and `chaos-ctl deps`). */
struct cJSON *ctl_deps_json(struct shm_header *h);

/* Send one request to a control socket and read the answer.  Returns the parsed answer, or
 * NULL with a message; *refused is set when nobody listens there (a stale channel). */
struct cJSON *ctl_request(const char *sock, struct cJSON *req, char *err, size_t errlen,
			  bool *refused);

#endif
