/* test_man.c -- every example in man/chaos-rules.7 is checked, so the page cannot rot
 *
 * The page marks its examples with roff comments (see the top of the page): rule blocks must
 * parse, canonical pairs must print as shown, error examples must give the documented message,
 * config examples must load (or fail as shown), the errno lists must be the library's table,
 * and the front-end table must agree with chaos_rule_supported().
 *
 * The page is read from $CHAOS_SRCDIR/man/chaos-rules.7 (default: the current directory, the
 * top of the tree, where make runs tests).  With $CHAOS_EXEC set, the error examples are also
 * run through that chaos-exec, which must print the message and exit 2.
 */
#include "unit.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "errnos.h"
#include "rule.h"

UNIT_ROWS_DEFINE;

#define MAX_LINES 4096

static char *page;
static char *lines[MAX_LINES];
static size_t nlines;

static int load_page(void **state)
{
	const char *dir = getenv("CHAOS_SRCDIR");
	char path[4096];
	FILE *f;
	size_t cap = 1 << 16, len = 0, n;
	(void)state;

	snprintf(path, sizeof(path), "%s/man/chaos-rules.7", dir ? dir : ".");
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "test_man: %s: %s\n", path, strerror(errno));
		return -1;
	}
	page = malloc(cap);
	while ((n = fread(page + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2)
			page = realloc(page, cap *= 2);
	}
	fclose(f);
	page[len] = '\0';
	for (char *p = page; *p && nlines < MAX_LINES;) {
		lines[nlines++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return 0;
}

static int free_page(void **state)
{
	(void)state;
	free(page);
	return 0;
}

/* roff to text, for the escapes the page uses in examples; anything else fails the test so that
 * no example is checked in a form other than the one a reader sees. */
static void unroff(const char *in, char *out, size_t len)
{
	static const struct {
		const char *esc, *text;
	} esc[] = {
		{ "\\-", "-" },	   { "\\e", "\\" },    { "\\(dq", "\"" }, { "\\(aq", "'" },
		{ "\\(->", "->" }, { "\\&", "" },      { "\\(ha", "^" },  { "\\ ", " " },
	};
	size_t o = 0;
	while (*in) {
		size_t k;
		if (*in != '\\') {
			if (o + 1 < len)
				out[o++] = *in;
			in++;
			continue;
		}
		for (k = 0; k < ARRAY_SIZE(esc); k++)
			if (strncmp(in, esc[k].esc, strlen(esc[k].esc)) == 0)
				break;
		if (k == ARRAY_SIZE(esc))
			fail_msg("man page: unknown escape in '%s'", in);
		for (const char *t = esc[k].text; *t; t++)
			if (o + 1 < len)
				out[o++] = *t;
		in += strlen(esc[k].esc);
	}
	out[o] = '\0';
}

/* The lines of the first .EX block at or after line i (as text); returns the line after .EE. */
static size_t ex_block(size_t i, char out[][1024], size_t max, size_t *n)
{
	*n = 0;
	while (i < nlines && strcmp(lines[i], ".EX") != 0) {
		if (strncmp(lines[i], ".SH", 3) == 0)
			fail_msg("man page: a marker at line %zu has no .EX block in its section", i);
		i++;
	}
	if (i == nlines)
		fail_msg("man page: no .EX block after a marker");
	for (i++; i < nlines && strcmp(lines[i], ".EE") != 0; i++) {
		if (*n == max)
			fail_msg("man page: .EX block at line %zu is too long", i);
		unroff(lines[i], out[(*n)++], 1024);
	}
	return i + 1;
}

/* Every marker "comment" in the page, calling fn(line index after it). */
static int each_marker(const char *marker, void (*fn)(size_t))
{
	char want[64];
	int found = 0;
	snprintf(want, sizeof(want), ".\\\" %s", marker);
	for (size_t i = 0; i < nlines; i++) {
		if (strcmp(lines[i], want) == 0) {
			fn(i + 1);
			found++;
		}
	}
	return found;
}

static char block[64][1024], block2[64][1024];
static int checked;

static void check_rules(size_t at)
{
	size_t n;
	ex_block(at, block, 64, &n);
	for (size_t k = 0; k < n; k++) {
		char err[CHAOS_ERR_MAX];
		struct chaos_rule r;
		if (!block[k][0])
			continue;
		if (chaos_rule_parse(block[k], &r, err, sizeof(err)) < 0)
			ROW_FAIL("man example '%s': %s\n", block[k], err);
		checked++;
	}
}

static void rules(void **state)
{
	(void)state;
	ROWS_BEGIN();
	checked = 0;
	int blocks = each_marker("rules", check_rules);
	print_message("%d rule examples in %d blocks\n", checked, blocks);
	assert_true(blocks >= 10);
	assert_true(checked >= 30);
	ROWS_END();
}

static void check_canonical(size_t at)
{
	size_t n;
	ex_block(at, block, 64, &n);
	for (size_t k = 0; k < n; k++) {
		char err[CHAOS_ERR_MAX], out[CHAOS_RULE_TEXT_MAX + 1];
		struct chaos_rule r;
		if (k + 1 >= n || strncmp(block[k + 1], "  -> ", 5) != 0) {
			ROW_FAIL("man canonical example '%s' has no '  \\(-> ' line after it\n",
				 block[k]);
			continue;
		}
		if (chaos_rule_parse(block[k], &r, err, sizeof(err)) < 0) {
			ROW_FAIL("man canonical example '%s': %s\n", block[k], err);
		} else {
			chaos_rule_format(&r, out, sizeof(out));
			if (strcmp(out, block[k + 1] + 5) != 0)
				ROW_FAIL("man canonical example '%s':\n  prints '%s'\n  page says "
					 "'%s'\n",
					 block[k], out, block[k + 1] + 5);
		}
		checked++;
		k++;
	}
}

static void canonical(void **state)
{
	(void)state;
	ROWS_BEGIN();
	checked = 0;
	assert_true(each_marker("canonical", check_canonical) >= 1);
	assert_true(checked >= 5);
	ROWS_END();
}

/* Run chaos-exec ARGS... and return its exit status, its standard error in err. */
static int run_chaos_exec(const char *exe, const char *rule, char *err, size_t len)
{
	int pipefd[2];
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 2);
		execl(exe, exe, "--check", "-f", rule, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	size_t used = 0;
	ssize_t r;
	while ((r = read(pipefd[0], err + used, len - 1 - used)) > 0)
		used += (size_t)r;
	err[used] = '\0';
	if (used && err[used - 1] == '\n')
		err[used - 1] = '\0';
	close(pipefd[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void check_errors(size_t at)
{
	static const char prefix[] = "$ chaos-exec --check -f '";
	const char *exe = getenv("CHAOS_EXEC");
	size_t n;
	ex_block(at, block, 64, &n);
	for (size_t k = 0; k < n; k += 2) {
		char rule[512], err[1024], want[1100];
		size_t rl = strlen(block[k]);
		if (strncmp(block[k], prefix, strlen(prefix)) != 0 || block[k][rl - 1] != '\'' ||
		    k + 1 >= n) {
			ROW_FAIL("man error example '%s' is not \"%s...'\" and a message\n", block[k],
				 prefix);
			return;
		}
		snprintf(rule, sizeof(rule), "%.*s", (int)(rl - strlen(prefix) - 1),
			 block[k] + strlen(prefix));
		struct chaos_rule_list l = { 0 };
		if (chaos_rule_list_add(&l, rule, "--fault", err, sizeof(err)) == 0) {
			ROW_FAIL("man error example '%s' is accepted\n", rule);
		} else {
			snprintf(want, sizeof(want), "chaos-exec: %s", err);
			if (strcmp(want, block[k + 1]) != 0)
				ROW_FAIL("man error example '%s':\n  gives     %s\n  page says %s\n",
					 rule, want, block[k + 1]);
		}
		chaos_rule_list_free(&l);
		if (exe && *exe) {
			int rc = run_chaos_exec(exe, rule, err, sizeof(err));
			if (rc != 2 || strcmp(err, block[k + 1]) != 0)
				ROW_FAIL("%s --check -f '%s': exit %d\n  printed   %s\n  page says "
					 "%s\n",
					 exe, rule, rc, err, block[k + 1]);
		}
		checked++;
	}
}

static void errors(void **state)
{
	(void)state;
	ROWS_BEGIN();
	checked = 0;
	assert_true(each_marker("errors", check_errors) >= 1);
	print_message("%d error examples%s\n", checked,
		      getenv("CHAOS_EXEC") ? " (also run through chaos-exec)" : "");
	assert_true(checked >= 10);
	ROWS_END();
}

static void join_block(char b[][1024], size_t n, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t k = 0; k < n; k++) {
		strncat(out, b[k], len - strlen(out) - 2);
		strcat(out, "\n");
	}
}

static void check_config(size_t at)
{
	char json[8192], want[8192], err[1024];
	size_t n, n2;
	struct chaos_rule_list l = { 0 };

	at = ex_block(at, block, 64, &n);
	ex_block(at, block2, 64, &n2);
	join_block(block, n, json, sizeof(json));
	join_block(block2, n2, want, sizeof(want));
	if (chaos_rule_list_add_json(&l, json, "faults.json", err, sizeof(err)) < 0) {
		ROW_FAIL("man config example:\n%s  -> %s\n", json, err);
	} else {
		char *got = chaos_rule_list_join(&l);
		if (strcmp(got, want) != 0)
			ROW_FAIL("man config example:\n%s  -> %s  page says\n%s", json, got, want);
		free(got);
	}
	chaos_rule_list_free(&l);
	checked++;
}

static void check_config_error(size_t at)
{
	char json[8192], want[1100], err[1024];
	size_t n, n2;
	struct chaos_rule_list l = { 0 };

	at = ex_block(at, block, 64, &n);
	ex_block(at, block2, 64, &n2);
	join_block(block, n, json, sizeof(json));
	if (n2 != 1)
		ROW_FAIL("man config error example: the message block is not one line\n");
	if (chaos_rule_list_add_json(&l, json, "faults.json", err, sizeof(err)) == 0) {
		ROW_FAIL("man config error example is accepted:\n%s", json);
	} else {
		snprintf(want, sizeof(want), "chaos-exec: %s", err);
		if (strcmp(want, block2[0]) != 0)
			ROW_FAIL("man config error example:\n%s  gives     %s\n  page says %s\n", json,
				 want, block2[0]);
	}
	chaos_rule_list_free(&l);
	checked++;
}

static void config(void **state)
{
	(void)state;
	ROWS_BEGIN();
	checked = 0;
	assert_true(each_marker("config", check_config) >= 1);
	assert_true(each_marker("config-error", check_config_error) >= 1);
	ROWS_END();
}

static const char *errno_call;
static void check_errnos(size_t at)
{
	static const struct {
		const char *name;
		unsigned on;
	} calls[] = { { "connect", CHAOS_ON_CONNECT },
		      { "send", CHAOS_ON_SEND },
		      { "recv", CHAOS_ON_RECV },
		      { "io", CHAOS_ON_IO } };
	char list[1024];
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		if (strcmp(calls[i].name, errno_call) != 0)
			continue;
		chaos_errno_list(calls[i].on, list, sizeof(list));
		if (at >= nlines || strcmp(lines[at], list) != 0)
			ROW_FAIL("man errnos for %s:\n  page  %s\n  table %s\n", errno_call,
				 at < nlines ? lines[at] : "", list);
		checked++;
		return;
	}
	ROW_FAIL("man errnos: unknown call '%s'\n", errno_call);
}

static void errnos(void **state)
{
	static const char *const calls[] = { "connect", "send", "recv", "io" };
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		char marker[32];
		errno_call = calls[i];
		snprintf(marker, sizeof(marker), "errnos %s", calls[i]);
		checked = 0;
		each_marker(marker, check_errnos);
		if (checked != 1)
			ROW_FAIL("man page: %d errno lists for %s\n", checked, calls[i]);
	}
	ROWS_END();
}

/* The front-end table, one rule a row: "yes" must be carried out, "no" refused; "planned" is
 * refused today and may be carried out tomorrow (then the page should say yes: a note says so).
 * Every action appears in some row. */
static void frontends(void **state)
{
	bool actions[CHAOS_ACT__COUNT] = { false };
	size_t i = 0;
	int rows = 0;
	(void)state;

	while (i < nlines && strcmp(lines[i], ".\\\" frontends") != 0)
		i++;
	assert_true(i < nlines);
	while (i < nlines && strcmp(lines[i], ".TS") != 0)
		i++;
	i += 2; /* .TS and the format line */
	ROWS_BEGIN();
	for (bool header = true; i < nlines && strcmp(lines[i], ".TE") != 0; i++) {
		char row[256], *rule, *fe[2];
		struct chaos_rule r;
		char err[CHAOS_ERR_MAX];
		if (header || strcmp(lines[i], "_") == 0) {
			header = strcmp(lines[i], "_") != 0;
			continue;
		}
		unroff(lines[i], row, sizeof(row));
		rule = strtok(row, "\t");
		fe[0] = strtok(NULL, "\t");
		fe[1] = strtok(NULL, "\t");
		if (!rule || !fe[0] || !fe[1]) {
			ROW_FAIL("man front-end table: bad row '%s'\n", lines[i]);
			continue;
		}
		if (chaos_rule_parse(rule, &r, err, sizeof(err)) < 0) {
			ROW_FAIL("man front-end table: '%s': %s\n", rule, err);
			continue;
		}
		actions[r.action] = true;
		rows++;
		for (int f = 0; f < 2; f++) {
			static const char *const names[] = { "preload", "eBPF" };
			char why[CHAOS_ERR_MAX] = "";
			bool ok = chaos_rule_supported(&r, f ? CHAOS_FE_BPF : CHAOS_FE_PRELOAD, why,
						       sizeof(why)) == 0;
			if (strcmp(fe[f], "yes") == 0 && !ok)
				ROW_FAIL("man/chaos-rules.7 says %s carries out '%s', but it refuses "
					 "it: %s\n",
					 names[f], rule, why);
			else if (strcmp(fe[f], "no") == 0 && ok)
				ROW_FAIL("man/chaos-rules.7 says %s refuses '%s', but it takes it\n",
					 names[f], rule);
			else if (strcmp(fe[f], "planned") == 0 && ok)
				print_message("note: %s now carries out '%s': man/chaos-rules.7 "
					      "should say yes\n",
					      names[f], rule);
			else if (strcmp(fe[f], "yes") && strcmp(fe[f], "no") &&
				 strcmp(fe[f], "planned"))
				ROW_FAIL("man front-end table: '%s' is not yes, no or planned\n",
					 fe[f]);
			if (!ok && !*why)
				ROW_FAIL("%s refuses '%s' without saying why\n", names[f], rule);
		}
	}
	for (int a = 0; a < CHAOS_ACT__COUNT; a++)
		if (!actions[a])
			ROW_FAIL("man front-end table: no row for %s\n",
				 chaos_action_name((enum chaos_action)a));
	ROWS_END();
	assert_true(rows >= CHAOS_ACT__COUNT);
}

/* Every action the parser knows has a paragraph in ACTIONS, and every option in OPTIONS or
 * TRIGGERS. */
static void coverage(void **state)
{
	static const char *const words[] = {
		".B refuse",	     ".BI error= ERRNO", ".BR reset \" [\" bytes=\\fIN\\fR ]",
		".B dns=nxdomain",   ".BR blackhole",	 ".B stall",
		".BI delay= DURATION", ".BI bandwidth= RATE", ".BI slice= BYTES",
		".BI close-delay= DURATION", ".BI loss= P", ".BR on=connect",
		".BI bytes= SIZE",   ".BI jitter= DURATION", ".BI timeout= DURATION",
		".BI start= DURATION", ".BI flap= UP", ".BI skip= N",
		".BI p= P",	     ".BI count= N",
	};
	(void)state;
	ROWS_BEGIN();
	for (size_t w = 0; w < ARRAY_SIZE(words); w++) {
		bool found = false;
		for (size_t i = 0; i < nlines && !found; i++)
			found = strncmp(lines[i], words[w], strlen(words[w])) == 0;
		if (!found)
			ROW_FAIL("man page: no paragraph starts with '%s'\n", words[w]);
	}
	ROWS_END();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rules),  cmocka_unit_test(canonical), cmocka_unit_test(errors),
		cmocka_unit_test(config), cmocka_unit_test(errnos),    cmocka_unit_test(frontends),
		cmocka_unit_test(coverage),
	};
	return cmocka_run_group_tests(tests, load_page, free_page);
}
