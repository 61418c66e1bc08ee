/* run_journal.c -- the journal: CTK's shape and key order, secrets masked, written atomically
 *
 *   chaoslib-version, platform, node, experiment, start, status, deviated, steady_states
 *   {before, after, during}, run, rollbacks, end, duration, then ours: chaos (only when the
 *   experiment uses the chaos extension).
 * A run entry is activity, output, start, status, [exception], end, duration, and in a
 * hypothesis tolerance_met.  Every secret value is replaced by "***", also inside longer
 * strings.  The file is written to a temporary file in the same directory, synced, then
 * renamed over the target, so a reader never sees half a journal.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static void add_time(cJSON *o, const char *key, const struct timespec *ts)
{
	char buf[64];
	run_iso_time(ts, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

static void mask_secret_values(cJSON *v);

static cJSON *run_entry(const struct act_run *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "activity", cJSON_Duplicate(r->activity, true));
	cJSON_AddItemToObject(o, "output",
			      r->output ? cJSON_Duplicate(r->output, true) : cJSON_CreateNull());
	add_time(o, "start", &r->start_rt);
	cJSON_AddStringToObject(o, "status", r->failed ? "failed" : "succeeded");
	if (r->exception) {
		char line[RUN_ERR_MAX + 64];
		const char *cls = r->fail == RUN_FAILED ? "chaoslib.exceptions.ActivityFailed"
				  : r->fail == RUN_INTERRUPTED
					  ? "chaoslib.exceptions.InterruptExecution"
					  : "chaos-run error";
		snprintf(line, sizeof(line), "%s: %s\n", cls, r->exception);
		cJSON *ex = cJSON_CreateArray();
		cJSON_AddItemToArray(ex, cJSON_CreateString(line));
		cJSON_AddItemToObject(o, "exception", ex);
	}
	add_time(o, "end", &r->end_rt);
	cJSON_AddItemToObject(o, "duration", rj_float(r->end_mono - r->start_mono));
	if (r->tolerance_met >= 0)
		cJSON_AddBoolToObject(o, "tolerance_met", r->tolerance_met);
	return o;
}

static cJSON *ssh_entry(const struct ssh_run *s)
{
	if (!s)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "steady_state_met", s->met);
	cJSON *probes = cJSON_AddArrayToObject(o, "probes");
	for (size_t i = 0; i < s->n; i++)
		cJSON_AddItemToArray(probes, run_entry(s->probes[i]));
	return o;
}

/* platform.platform(): Linux-6.1.0-18-amd64-x86_64-with-glibc2.36 */
static void platform(char *buf, size_t len)
{
	struct utsname u;
	if (uname(&u) < 0) {
		snprintf(buf, len, "Linux");
		return;
	}
	snprintf(buf, len, "%s-%s-%s-with-glibc%s", u.sysname, u.release, u.machine,
		 gnu_get_libc_version());
}

cJSON *run_journal_build(struct run_state *st)
{
	char buf[512];
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "chaoslib-version",
				"chaos-run " RUN_VERSION " (chaoslib " RUN_CTK_VERSION
				" compatible)");
	platform(buf, sizeof(buf));
	cJSON_AddStringToObject(j, "platform", buf);
	if (gethostname(buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "localhost");
	buf[sizeof(buf) - 1] = '\0';
	cJSON_AddStringToObject(j, "node", buf);
	cJSON *exp = cJSON_Duplicate(st->exp, true);
	cJSON *secrets = rj_get(exp, "secrets");
	if (cJSON_IsObject(secrets))
		for (cJSON *scope = secrets->child; scope; scope = scope->next)
			mask_secret_values(scope);
	cJSON_AddItemToObject(j, "experiment", exp);
	add_time(j, "start", &st->start_rt);
	cJSON_AddStringToObject(j, "status", st->status ? st->status : "completed");
	cJSON_AddBoolToObject(j, "deviated", st->deviated);
	cJSON *ss = cJSON_AddObjectToObject(j, "steady_states");
	cJSON_AddItemToObject(ss, "before", ssh_entry(st->before));
	cJSON_AddItemToObject(ss, "after", ssh_entry(st->after));
	cJSON *during = cJSON_AddArrayToObject(ss, "during");
	for (size_t i = 0; i < st->nduring; i++)
		cJSON_AddItemToArray(during, ssh_entry(st->during[i]));
	cJSON *run = cJSON_AddArrayToObject(j, "run");
	for (size_t i = 0; i < st->run.n; i++)
		if (st->run.v[i]->started)
			cJSON_AddItemToArray(run, run_entry(st->run.v[i]));
	cJSON *rb = cJSON_AddArrayToObject(j, "rollbacks");
	for (size_t i = 0; i < st->rollbacks.n; i++)
		if (st->rollbacks.v[i]->started)
			cJSON_AddItemToArray(rb, run_entry(st->rollbacks.v[i]));
	add_time(j, "end", &st->end_rt);
	cJSON_AddItemToObject(j, "duration", rj_float(st->end_mono - st->start_mono));
	cJSON *chaos = run_chaos_journal(st);
	if (chaos)
		cJSON_AddItemToObject(j, "chaos", chaos);
	run_mask_tree(j, st->masks, st->nmasks);
	return j;
}

/* ---- masking ------------------------------------------------------------------------------- */

static void add_mask(struct run_state *st, const char *s)
{
	if (!s || !*s)
		return;
	for (size_t i = 0; i < st->nmasks; i++)
		if (!strcmp(st->masks[i], s))
			return;
	char **v = realloc(st->masks, (st->nmasks + 1) * sizeof(*v));
	if (!v)
		return;
	st->masks = v;
	st->masks[st->nmasks] = strdup(s);
	if (st->masks[st->nmasks])
		st->nmasks++;
}

static void collect(struct run_state *st, const cJSON *v)
{
	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		for (const cJSON *c = v->child; c; c = c->next)
			collect(st, c);
		return;
	}
	if (cJSON_IsString(v)) {
		add_mask(st, v->valuestring);
		return;
	}
	if (cJSON_IsNumber(v)) {
		char *s = rj_pystr(v);
		add_mask(st, s);
		free(s);
	}
}

static int longest_first(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
	return la < lb ? 1 : la > lb ? -1 : 0;
}

void run_collect_masks(struct run_state *st)
{
	collect(st, st->secrets);
	if (st->nmasks)
		qsort(st->masks, st->nmasks, sizeof(*st->masks), longest_first);
}

char *run_mask_text(const char *s, char *const *masks, size_t n)
{
	if (!n || !s)
		return NULL;
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = strstr(s, masks[i]) != NULL;
	if (!any)
		return NULL;
	size_t cap = strlen(s) + 1, o = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	for (const char *p = s; *p;) {
		size_t hit = 0;
		for (size_t i = 0; i < n; i++) {
			size_t l = strlen(masks[i]);
			if (!strncmp(p, masks[i], l)) {
				hit = l;
				break; /* longest first */
			}
		}
		const char *src = hit ? "***" : p;
		size_t l = hit ? 3 : 1;
		if (o + l + 1 > cap) {
			cap = (cap + l) * 2;
			char *nb = realloc(out, cap);
			if (!nb) {
				free(out);
				return NULL;
			}
			out = nb;
		}
		memcpy(out + o, src, l);
		o += l;
		p += hit ? hit : 1;
	}
	out[o] = '\0';
	return out;
}

void run_mask_tree(cJSON *item, char *const *masks, size_t n)
{
	if (!item || !n)
		return;
	for (cJSON *c = item->child; c; c = c->next) {
		if (cJSON_IsString(c)) {
			char *m = run_mask_text(c->valuestring, masks, n);
			if (m) {
				cJSON_SetValuestring(c, m);
				free(m);
			}
		} else {
			run_mask_tree(c, masks, n);
		}
	}
}

/* The experiment's own secrets section: every inline value becomes "***" (numbers too); env
 * definitions stay, they name a variable, not a value. */
static void mask_secret_values(cJSON *v)
{
	for (cJSON *c = v ? v->child : NULL; c; c = c->next) {
		if (cJSON_IsObject(c)) {
			const cJSON *t = rj_get(c, "type");
			if (!(cJSON_IsString(t) && (!strcmp(t->valuestring, "env") ||
						    !strcmp(t->valuestring, "vault"))))
				mask_secret_values(c);
		} else if (!cJSON_IsNull(c)) {
			cJSON *star = cJSON_CreateString("***");
			if (c->string)
				star->string = strdup(c->string);
			cJSON_ReplaceItemViaPointer(v, c, star);
			c = star;
		}
	}
}

/* ---- writing ------------------------------------------------------------------------------- */

static int write_all_fd(int fd, const char *text, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

/* Write, sync and name an unnamed file (O_TMPFILE): killed before this ends, chaos-run leaves no
 * file at all.  The name is a temporary one for the rename that follows: linkat cannot replace
 * an existing journal.  Returns 0, -1 with errno, or 1 if unnamed files are not available
 * here. */
static int write_unnamed(const char *dir, const char *text, size_t len, const char *tmp)
{
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? 1 : -1;
	int rc = write_all_fd(fd, text, len);
	if (rc == 0 && fchmod(fd, 0644) < 0)
		rc = -1;
	if (rc == 0 && fsync(fd) < 0)
		rc = -1;
	if (rc == 0 && linkat(fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH) < 0) {
		/* without CAP_DAC_READ_SEARCH: through /proc */
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0)
			rc = errno == ENOENT ? 1 : -1; /* no /proc: the named way */
	}
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int run_journal_write(const char *path, const cJSON *journal, char *err, size_t errlen)
{
	char *text = rj_print(journal, 2);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char dirbuf[PATH_MAX], tmp[PATH_MAX];
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	char *dir = dirname(dirbuf);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t len = strlen(text);
	int rc;

	/* an unnamed file first: a name appears only once the journal is whole and synced, for
	 * the instant before the rename */
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, base, (int)getpid());
	unlink(tmp);
	rc = write_unnamed(dir, text, len, tmp);
	if (rc == 1) {
		snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base);
		int fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "cannot create a temporary file in %s: %s", dir,
				 strerror(errno));
			free(text);
			return -1;
		}
		rc = write_all_fd(fd, text, len);
		if (rc == 0 && fchmod(fd, 0644) < 0)
			rc = -1;
		if (rc == 0 && fsync(fd) < 0)
			rc = -1;
		if (close(fd) < 0)
			rc = -1;
	} else if (rc < 0) {
		snprintf(err, errlen, "cannot write in %s: %s", dir, strerror(errno));
		unlink(tmp);
		free(text);
		return -1;
	}
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	if (rc < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		unlink(tmp);
	}
	free(text);
	return rc;
}
