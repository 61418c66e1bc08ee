/* ctl.c -- live control: where the channels live, and what chaos-exec and chaos-ctl say */
#include "ctl.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "errnos.h"
#include "shm.h"
#include "units.h"

static int check_dir(const char *path, uid_t uid, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 077)) {
		snprintf(err, errlen,
			 "%s is not a private directory of user %u (a directory, owned by it, mode "
			 "0700): refusing to use it",
			 path, (unsigned)uid);
		return -1;
	}
	return 0;
}

int ctl_dir(uid_t uid, bool create, char *out, size_t len, char *err, size_t errlen)
{
	const char *xdg = uid == getuid() ? getenv("XDG_RUNTIME_DIR") : NULL;
	struct stat st;

	if (xdg && *xdg == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid)
		snprintf(out, len, "%s/chaos", xdg);
	else if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(out, len, "/dev/shm/chaos-%u", (unsigned)uid);
	else
		snprintf(out, len, "/tmp/chaos-%u", (unsigned)uid);
	if (create && mkdir(out, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", out, strerror(errno));
		return -1;
	}
	return check_dir(out, uid, err, errlen);
}

void ctl_each_dir(ctl_dir_fn fn, void *arg)
{
	char dir[512], err[256];
	if (geteuid() != 0) {
		if (ctl_dir(getuid(), false, dir, sizeof(dir), err, sizeof(err)) == 0)
			fn(dir, arg);
		return;
	}
	/* root sees every user's channels */
	static const char *const roots[] = { "/dev/shm", "/tmp" };
	for (size_t r = 0; r < sizeof(roots) / sizeof(roots[0]); r++) {
		DIR *d = opendir(roots[r]);
		struct dirent *e;
		if (!d)
			continue;
		while ((e = readdir(d)))
			if (strncmp(e->d_name, "chaos-", 6) == 0) {
				snprintf(dir, sizeof(dir), "%s/%s", roots[r], e->d_name);
				fn(dir, arg);
			}
		closedir(d);
	}
	DIR *d = opendir("/run/user");
	struct dirent *e;
	if (d) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.') {
				snprintf(dir, sizeof(dir), "/run/user/%s/chaos", e->d_name);
				struct stat st;
				if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
					fn(dir, arg);
			}
		closedir(d);
	}
}

/* Does a unix socket at path accept connections?  (A socket whose listener is gone refuses.) */
static bool answers(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return true; /* cannot tell: keep it */
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	return rc == 0 || (e != ECONNREFUSED && e != ENOENT);
}

bool ctl_stale(const char *dir, int pid)
{
	char path[600];
	struct shm_header h;
	bool have = false;

	snprintf(path, sizeof(path), "%s/%d.shm", dir, pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd >= 0) {
		have = pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
		       __atomic_load_n(&h.magic, __ATOMIC_RELAXED) == CHAOS_SHM_MAGIC &&
		       h.exec_pid == (uint32_t)pid;
		close(fd);
	}
	if (kill(pid, 0) == 0 || errno == EPERM) {
		/* the pid lives: is it still the chaos-exec that made the area?  (No area of this
		 * version, or not filled yet: a chaos-exec starting, or another version; keep.) */
		return have && h.exec_start && chaos_proc_start(pid) != h.exec_start;
	}
	/* gone from here; a chaos-exec in another pid namespace sharing the directory would
	 * still answer on its socket */
	snprintf(path, sizeof(path), "%s/%d.sock", dir, pid);
	return !answers(path);
}

void ctl_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[600];
	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *dot = strrchr(e->d_name, '.');
		char num[16];
		uint64_t pid;
		if (!dot || (strcmp(dot, ".sock") != 0 && strcmp(dot, ".shm") != 0) ||
		    (size_t)(dot - e->d_name) >= sizeof(num))
			continue;
		memcpy(num, e->d_name, (size_t)(dot - e->d_name));
		num[dot - e->d_name] = '\0';
		if (chaos_parse_u64(num, INT32_MAX, &pid) < 0 || pid == 0 ||
		    (pid_t)pid == getpid())
			continue;
		/* a .sock and a .shm each come here: the second finds nothing to do */
		if (!ctl_stale(dir, (int)pid))
			continue;
		snprintf(path, sizeof(path), "%s/%d.sock", dir, (int)pid);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%d.shm", dir, (int)pid);
		unlink(path);
	}
	closedir(d);
}

static void iso_time(uint64_t ns, char *buf, size_t len)
{
	time_t s = (time_t)(ns / 1000000000ULL);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ns % 1000000000ULL / 1000));
}

static const char *eai_name(int code)
{
	switch (code) {
	case -2:
		return "EAI_NONAME";
	case -3:
		return "EAI_AGAIN";
	case -4:
		return "EAI_FAIL";
	case -5:
		return "EAI_NODATA";
	case -9:
		return "EAI_ADDRFAMILY";
	}
	return "EAI_other";
}

static int dep_cmp(const void *a, const void *b)
{
	const struct shm_dep *x = *(const struct shm_dep *const *)a;
	const struct shm_dep *y = *(const struct shm_dep *const *)b;
	int c = strcmp(x->host, y->host);
	if (c)
		return c;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	return x->port - y->port;
}

cJSON *ctl_deps_json(struct shm_header *h)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *deps = cJSON_AddArrayToObject(root, "dependencies");
	cJSON *lookups = cJSON_AddArrayToObject(root, "lookups");
	bool bytes = __atomic_load_n(&h->record, __ATOMIC_RELAXED);
	struct shm_dep *all = shm_deps(h), *list[CHAOS_SHM_DEPS];
	size_t n = 0;
	char t[64], a[INET6_ADDRSTRLEN];

	for (unsigned i = 0; i < CHAOS_SHM_DEPS; i++)
		if (__atomic_load_n(&all[i].state, __ATOMIC_ACQUIRE) == SLOT_LIVE)
			list[n++] = &all[i];
	qsort(list, n, sizeof(list[0]), dep_cmp);
	for (size_t i = 0; i < n; i++) {
		struct shm_dep *d = list[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "host", d->host);
		if (d->proto) {
			cJSON_AddStringToObject(o, "protocol",
						d->proto == CHAOS_PROTO_UDP ? "udp" : "tcp");
			cJSON_AddNumberToObject(o, "port", d->port);
			cJSON *addrs = cJSON_AddArrayToObject(o, "addresses");
			uint8_t na = __atomic_load_n(&d->naddrs, __ATOMIC_ACQUIRE);
			for (uint8_t k = 0; k < na && k < 8; k++) {
				uint8_t fam = __atomic_load_n(&d->addrs[k].family, __ATOMIC_ACQUIRE);
				if (fam && inet_ntop(fam, d->addrs[k].addr, a, sizeof(a)))
					cJSON_AddItemToArray(addrs, cJSON_CreateString(a));
			}
			cJSON_AddNumberToObject(o, "connections", (double)d->connections);
			if (bytes) {
				cJSON_AddNumberToObject(o, "bytes_sent", (double)d->bytes_out);
				cJSON_AddNumberToObject(o, "bytes_received", (double)d->bytes_in);
			} else {
				cJSON_AddNullToObject(o, "bytes_sent");
				cJSON_AddNullToObject(o, "bytes_received");
			}
		} else {
			cJSON_AddNumberToObject(o, "lookups", (double)d->lookups);
		}
		iso_time(d->first_ns, t, sizeof(t));
		cJSON_AddStringToObject(o, "first_seen", t);
		iso_time(d->last_ns, t, sizeof(t));
		cJSON_AddStringToObject(o, "last_seen", t);
		cJSON *errs = cJSON_AddObjectToObject(o, "errors");
		for (int k = 0; k < 6; k++) {
			int32_t code = __atomic_load_n(&d->errors[k].code, __ATOMIC_ACQUIRE);
			if (!code)
				continue;
			const char *name = code >= 10000 ? eai_name(10000 - code)
							 : chaos_errno_name(code);
			char num[32];
			if (!name) {
				snprintf(num, sizeof(num), "errno %d", code);
				name = num;
			}
			cJSON_AddNumberToObject(errs, name, (double)d->errors[k].count);
		}
		cJSON_AddItemToArray(d->proto ? deps : lookups, o);
	}
	return root;
}

cJSON *ctl_request(const char *sock, cJSON *req, char *err, size_t errlen, bool *refused)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	*refused = false;
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", sock);
		return NULL;
	}
	strcpy(sa.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*refused = errno == ECONNREFUSED || errno == ENOENT;
		snprintf(err, errlen, "%s: %s", sock, strerror(errno));
		close(fd);
		return NULL;
	}
	char *text = cJSON_PrintUnformatted(req);
	size_t len = strlen(text);
	text[len] = '\n'; /* cJSON's buffer holds the NUL we overwrite; send len + 1 */
	ssize_t w = send(fd, text, len + 1, MSG_NOSIGNAL);
	free(text);
	if (w != (ssize_t)(len + 1)) {
		snprintf(err, errlen, "%s: cannot send the request", sock);
		close(fd);
		return NULL;
	}
	size_t cap = 65536, used = 0;
	char *buf = malloc(cap);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (!buf || poll(&p, 1, 10000) <= 0) {
			snprintf(err, errlen, "%s: no answer within 10 s", sock);
			free(buf);
			close(fd);
			return NULL;
		}
		if (used + 1 >= cap) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				buf = NULL;
				continue;
			}
			buf = nb;
		}
		ssize_t n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	cJSON *ans = cJSON_Parse(buf);
	free(buf);
	if (!ans)
		snprintf(err, errlen, "%s: the answer is not JSON", sock);
	return ans;
}
