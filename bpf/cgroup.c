/* cgroup.c -- finding, making and emptying cgroup v2 directories for chaos-attach */
#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "units.h"

#define MAX_DEPTH 16

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* Undo the octal escapes of /proc/self/mounts ("\040" is a space). */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int cg_mount(const char *mounts, char *out, size_t len, char *err, size_t errlen)
{
	char line[4096];
	FILE *f = fopen(mounts, "re");

	if (!f)
		return fail(-errno, err, errlen, "cannot read %s: %s", mounts, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *save, *dev = strtok_r(line, " ", &save);
		char *dir = dev ? strtok_r(NULL, " ", &save) : NULL;
		char *type = dir ? strtok_r(NULL, " ", &save) : NULL;
		if (!type || strcmp(type, "cgroup2") != 0)
			continue;
		unescape(dir);
		fclose(f);
		if (strlen(dir) >= len)
			return fail(-ENAMETOOLONG, err, errlen, "cgroup2 mount path is too long");
		snprintf(out, len, "%s", dir);
		return 0;
	}
	fclose(f);
	return fail(-ENOENT, err, errlen,
		    "no cgroup v2 file system is mounted (none in %s): the eBPF hooks attach to "
		    "cgroup v2 directories (mount one: mount -t cgroup2 none /sys/fs/cgroup/unified)",
		    mounts);
}

int cg_check(const char *path, char *err, size_t errlen)
{
	struct statfs sf;
	struct stat st;

	if (stat(path, &st) < 0)
		return fail(-errno, err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(-ENOTDIR, err, errlen, "%s is not a directory", path);
	if (statfs(path, &sf) < 0)
		return fail(-errno, err, errlen, "%s: %s", path, strerror(errno));
	if (sf.f_type != CGROUP2_SUPER_MAGIC)
		return fail(-EINVAL, err, errlen, "%s is not in a cgroup v2 file system", path);
	return 0;
}

int cg_of_pid(const char *mount, pid_t pid, char *out, size_t len, char *err, size_t errlen)
{
	char path[64], line[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return fail(-ESRCH, err, errlen, "no process %d", (int)pid);
		return fail(-errno, err, errlen, "cannot read %s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		fclose(f);
		char *rel = line + 3;
		rel[strcspn(rel, "\n")] = '\0';
		char *del = strstr(rel, " (deleted)");
		if (del)
			*del = '\0';
		if (strcmp(rel, "/") == 0)
			rel = "";
		int n = snprintf(out, len, "%s%s", mount, rel);
		if (n < 0 || (size_t)n >= len)
			return fail(-ENAMETOOLONG, err, errlen, "cgroup path of %d is too long",
				    (int)pid);
		return 0;
	}
	fclose(f);
	return fail(-ENOENT, err, errlen, "process %d is in no cgroup v2 group (%s has no 0:: line)",
		    (int)pid, path);
}

/* ---- containers ------------------------------------------------------------------------------ */

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* The container id a cgroup directory is named after, or NULL: "docker-ID.scope", "ID". */
static const char *dir_id(const char *name, size_t *idlen)
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-", "libpod-",
						"cri-dockerd-", "containerd-" };
	static const char *const not_containers[] = { "libpod-conmon-", "crio-conmon-" };
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(not_containers) / sizeof(not_containers[0]); i++)
		if (strncmp(name, not_containers[i], strlen(not_containers[i])) == 0)
			return NULL;
	if (n > 6 && strcmp(name + n - 6, ".scope") == 0)
		n -= 6;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i]);
		if (n > pl && strncmp(name, prefixes[i], pl) == 0 && is_hex(name + pl, n - pl)) {
			*idlen = n - pl;
			return name + pl;
		}
	}
	/* the cgroupfs drivers: docker/ID, kubepods/.../ID, the full 64-digit id */
	if (n == 64 && is_hex(name, 64)) {
		*idlen = 64;
		return name;
	}
	return NULL;
}

struct found {
	size_t n;
	char paths[4][PATH_MAX];
};

static void search(const char *dir, const char *id, int depth, struct found *f)
{
	DIR *d;
	struct dirent *e;

	if (depth > MAX_DEPTH || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		char sub[PATH_MAX];
		const char *cid;
		size_t idlen;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= (int)sizeof(sub))
			continue;
		cid = dir_id(e->d_name, &idlen);
		if (cid && idlen >= strlen(id) && strncmp(cid, id, strlen(id)) == 0) {
			if (f->n < 4)
				snprintf(f->paths[f->n], PATH_MAX, "%s", sub);
			f->n++;
			continue; /* a container's own sub-groups are part of it */
		}
		search(sub, id, depth + 1, f);
	}
	closedir(d);
}

int cg_find_container(const char *mount, const char *id, char *out, size_t len, char *err,
		      size_t errlen)
{
	struct found *f;
	size_t n = strlen(id);
	int rc;

	if (n < 4 || n > 64 || !is_hex(id, n))
		return fail(-EINVAL, err, errlen,
			    "container '%s': give the container id (64 hex digits, or a unique "
			    "prefix of at least 4: docker ps, crictl ps, podman ps show it)",
			    id);
	f = calloc(1, sizeof(*f));
	if (!f)
		return fail(-ENOMEM, err, errlen, "out of memory");
	search(mount, id, 0, f);
	if (f->n == 0) {
		rc = fail(-ENOENT, err, errlen,
			  "no cgroup under %s is named after container '%s' (looked for "
			  "docker-ID.scope, docker/ID, cri-containerd-ID.scope, crio-ID.scope, "
			  "libpod-ID.scope and kubepods/.../ID)",
			  mount, id);
	} else if (f->n > 1) {
		rc = fail(-EEXIST, err, errlen, "container '%s' is ambiguous: %zu cgroups match (%s, %s%s)",
			  id, f->n, f->paths[0], f->paths[1], f->n > 2 ? ", ..." : "");
	} else if (strlen(f->paths[0]) >= len) {
		rc = fail(-ENAMETOOLONG, err, errlen, "cgroup path is too long");
	} else {
		snprintf(out, len, "%s", f->paths[0]);
		rc = 0;
	}
	free(f);
	return rc;
}

/* ---- processes ------------------------------------------------------------------------------- */

static int procs_add(const char *dir, int depth, pid_t **pids, size_t *n, size_t *cap)
{
	char path[PATH_MAX], line[32];
	FILE *f;
	DIR *d;
	struct dirent *e;

	if (depth > MAX_DEPTH)
		return 0;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t v;
		line[strcspn(line, "\n")] = '\0';
		if (chaos_parse_u64(line, INT32_MAX, &v) < 0 || v == 0)
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			pid_t *np = realloc(*pids, nc * sizeof(*np));
			if (!np) {
				fclose(f);
				return -ENOMEM;
			}
			*pids = np;
			*cap = nc;
		}
		(*pids)[(*n)++] = (pid_t)v;
	}
	fclose(f);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		int rc = procs_add(path, depth + 1, pids, n, cap);
		if (rc < 0) {
			closedir(d);
			return rc;
		}
	}
	closedir(d);
	return 0;
}

int cg_procs(const char *path, pid_t **pids, size_t *n, char *err, size_t errlen)
{
	size_t cap = 0;
	int rc;

	*pids = NULL;
	*n = 0;
	rc = procs_add(path, 0, pids, n, &cap);
	if (rc < 0) {
		free(*pids);
		*pids = NULL;
		*n = 0;
		return fail(rc, err, errlen, "cannot list the processes of %s: %s", path,
			    strerror(-rc));
	}
	return 0;
}

int cg_move(const char *path, pid_t pid, char *err, size_t errlen)
{
	char file[PATH_MAX], buf[32];
	int fd, len;

	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, err, errlen, "cannot open %s: %s", file, strerror(errno));
	len = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	if (write(fd, buf, (size_t)len) != len) {
		int e = errno;
		close(fd);
		return fail(-e, err, errlen, "cannot move process %d into %s: %s", (int)pid, path,
			    strerror(e));
	}
	close(fd);
	return 0;
}

int cg_create(const char *parent, const char *name, char *out, size_t len, char *err,
	      size_t errlen)
{
	for (int i = 0; i < 100; i++) {
		int n = i ? snprintf(out, len, "%s/%s-%d-%d", parent, name, (int)getpid(), i)
			  : snprintf(out, len, "%s/%s-%d", parent, name, (int)getpid());
		if (n < 0 || (size_t)n >= len)
			return fail(-ENAMETOOLONG, err, errlen, "cgroup path is too long");
		if (mkdir(out, 0755) == 0)
			return 0;
		if (errno != EEXIST)
			return fail(-errno, err, errlen, "cannot make the cgroup %s: %s", out,
				    strerror(errno));
	}
	return fail(-EEXIST, err, errlen, "cannot make a cgroup under %s: all names are taken",
		    parent);
}

/* Remove dir and its sub-groups, deepest first; -EBUSY while some still hold processes. */
static int remove_tree(const char *dir, int depth)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return -ELOOP;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char sub[PATH_MAX];
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= (int)sizeof(sub))
			continue;
		int r = remove_tree(sub, depth + 1);
		if (r < 0 && !rc)
			rc = r;
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

int cg_remove(const char *path, const char *dest, char *err, size_t errlen)
{
	int rc = 0;

	for (int attempt = 0; attempt < 100; attempt++) {
		pid_t *pids;
		size_t n;
		char e2[256];

		if (cg_procs(path, &pids, &n, e2, sizeof(e2)) < 0)
			n = 0, pids = NULL;
		for (size_t i = 0; i < n; i++)
			cg_move(dest, pids[i], e2, sizeof(e2)); /* it may have exited */
		free(pids);
		rc = remove_tree(path, 0);
		if (rc == 0)
			return 0;
		if (rc != -EBUSY)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return fail(rc, err, errlen, "cannot remove the cgroup %s: %s", path, strerror(-rc));
}

int cg_is_within(const char *inner, const char *outer)
{
	size_t n = strlen(outer);
	while (n > 1 && outer[n - 1] == '/')
		n--;
	return strncmp(inner, outer, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}
