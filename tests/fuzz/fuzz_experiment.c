/* fuzz_experiment.c -- libFuzzer target: chaos-run's experiment loading and validation
 *
 * Every input is read twice, as chaos-run reads a .json and a .yaml experiment (run_parse_json,
 * run_parse_yaml); its first line is also a --var override (run_vars_add_var).  Each document
 * goes through what chaos-run does before it runs anything: run_validate (CTK's checks,
 * tolerances, regexes, JSON paths, the chaos extension and its rules), then the configuration
 * and secrets, the substitution of the whole experiment, the masking of secrets and the
 * journal's printing.
 *
 * Properties: nothing crashes or leaks; a refusal always comes with a message; a document the
 * JSON reader accepted prints (as the journal does) into JSON that reads back equal; validation
 * gives the same answer twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runner/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_experiment: %s\n  %.2000s\n", what, detail ? detail : "(null)");
	abort();
}

struct warns {
	unsigned n;
};

static void on_warn(void *arg, const char *msg)
{
	struct warns *w = arg;
	if (!msg || !*msg)
		die("a warning without a message", "");
	w->n++;
}

/* A refusal's message: not empty, and a terminated string inside the buffer. */
static void check_err(const char *err, size_t len, const char *what)
{
	if (!memchr(err, '\0', len))
		die(what, "message not terminated");
	if (!*err)
		die(what, "refused without a message");
}

static void one_document(cJSON *exp, bool from_json, const struct run_vars *vars)
{
	char err[RUN_ERR_MAX], err2[RUN_ERR_MAX];
	struct warns w = { 0 };

	memset(err, 0x5a, sizeof(err));
	int rc = run_validate(exp, vars, on_warn, &w, err, sizeof(err));
	if (rc < 0)
		check_err(err, sizeof(err), "run_validate");
	else if (rc != 0)
		die("run_validate returned something else than 0 or -1", "");
	int rc2 = run_validate(exp, vars, NULL, NULL, err2, sizeof(err2));
	if (rc2 != rc)
		die("run_validate gave two answers for one document", rc < 0 ? err : err2);
	if (rc < 0 && strcmp(err, err2) != 0)
		die("run_validate gave two messages for one document", err2);

	/* what the run does with any experiment it starts (even with --no-validation) */
	cJSON *conf = run_load_configuration(rj_get(exp, "configuration"), vars, err, sizeof(err));
	cJSON *sec = conf ? run_load_secrets(rj_get(exp, "secrets"), vars, err, sizeof(err)) : NULL;
	if (!conf || !sec) {
		check_err(err, sizeof(err), "configuration or secrets");
	} else {
		cJSON *subst = run_subst(exp, conf, sec);
		if (!subst)
			die("run_subst returned NULL", "");
		/* the secret values the journal and the output hide */
		struct run_state st = { .exp = exp, .config = conf, .secrets = sec };
		run_collect_masks(&st);
		run_mask_tree(subst, st.masks, st.nmasks);
		char *text = rj_print(subst, 2);
		if (!text)
			die("rj_print returned NULL", "");
		free(text);
		for (size_t i = 0; i < st.nmasks; i++)
			free(st.masks[i]);
		free(st.masks);
		cJSON_Delete(subst);
	}
	cJSON_Delete(conf);
	cJSON_Delete(sec);

	/* the journal's printing: what the JSON reader accepted reads back equal */
	char *text = rj_print(exp, 2), *line = rj_print(exp, -1);
	if (!text || !line)
		die("rj_print returned NULL", "");
	if (from_json && !strstr(text, "NaN") && !strstr(text, "Infinity")) {
		char msg[256];
		cJSON *back = run_parse_json(text, msg, sizeof(msg));
		if (!back)
			die("the printed experiment does not read back", text);
		if (!rj_equal(exp, back))
			die("the printed experiment reads back different", text);
		cJSON_Delete(back);
	}
	free(text);
	free(line);
	char *s = rj_pystr(exp);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[RUN_ERR_MAX];

	if (size > 1 << 17)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	/* run_load_file refuses a NUL byte before parsing; the parsers see text without one */
	size_t len = strlen(text);

	/* the first line is also a --var KEY[:TYPE]=VALUE, which overrides configuration */
	struct run_vars vars = { 0 };
	const char *nl = memchr(text, '\n', len);
	size_t l1 = nl ? (size_t)(nl - text) : len;
	if (l1 < 512) {
		char var[512];
		memcpy(var, text, l1);
		var[l1] = '\0';
		memset(err, 0x5a, sizeof(err));
		if (run_vars_add_var(&vars, var, err, sizeof(err)) < 0)
			check_err(err, sizeof(err), "run_vars_add_var");
	}

	memset(err, 0x5a, sizeof(err));
	cJSON *doc = run_parse_json(text, err, sizeof(err));
	if (!doc)
		check_err(err, sizeof(err), "run_parse_json");
	else {
		one_document(doc, true, &vars);
		cJSON_Delete(doc);
	}

	memset(err, 0x5a, sizeof(err));
	doc = run_parse_yaml(text, len, err, sizeof(err));
	if (!doc)
		check_err(err, sizeof(err), "run_parse_yaml");
	else {
		one_document(doc, false, &vars);
		cJSON_Delete(doc);
	}
	cJSON_Delete(vars.config);
	cJSON_Delete(vars.secrets);
	free(text);
	return 0;
}
