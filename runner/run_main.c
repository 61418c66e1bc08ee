/* run_main.c -- chaos-run: the Chaos Toolkit compatible command line
 *
 *   chaos-run [GLOBAL OPTIONS] [run] [OPTIONS] EXPERIMENT
 *   chaos-run [GLOBAL OPTIONS] validate [--no-verify-tls] EXPERIMENT
 *
 * Exit codes (as `chaos`): 0 the experiment completed and did not deviate (or is valid);
 * 1 it did not, or the experiment could not be loaded or is invalid; 2 usage errors.
 */
#include "run.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
	"usage: chaos-run [GLOBAL OPTIONS] [run] [OPTIONS] EXPERIMENT\n"
	"       chaos-run [GLOBAL OPTIONS] validate [--no-verify-tls] EXPERIMENT\n"
	"       chaos-run sweep [OPTIONS] [SWEEP]   (see chaos-run sweep --help)\n"
	"\n"
	"Run a Chaos Toolkit experiment (JSON or YAML, a file or an http(s) URL).\n"
	"\n"
	"run options:\n"
	"  --journal-path PATH           where to write the journal (default ./journal.json)\n"
	"  --dry[=probes|actions|activities|pause]\n"
	"                                do not run those activities (bare --dry: activities)\n"
	"  --no-validation               do not validate the experiment first\n"
	"  --no-verify-tls               do not check TLS when loading EXPERIMENT from https\n"
	"  --rollback-strategy default|always|never|deviated\n"
	"  --hypothesis-strategy default|before-method-only|after-method-only|\n"
	"                        during-method-only|continuously\n"
	"  --hypothesis-frequency SECONDS  pace of the hypothesis loop (default 1.0)\n"
	"  --fail-fast                   stop the method when the loop sees a deviation\n"
	"  --var KEY[:TYPE]=VALUE        override a configuration key (TYPE: str, int,\n"
	"                                float, bytes, bool, json); repeatable\n"
	"  --var-file PATH               .json/.yaml configuration and secrets, or .env;\n"
	"                                repeatable\n"
	"  --control-file PATH           accepted; Python controls are not supported\n"
	"  --quiet                       no progress lines and no summary\n"
	"\n"
	"global options (accepted for compatibility with `chaos`): --verbose,\n"
	"  --no-version-check, --change-dir DIR, --no-log-file, --log-file PATH,\n"
	"  --log-file-level LEVEL, --log-format FORMAT, --settings PATH\n"
	"\n"
	"Exit status: 0 completed and not deviated; 1 failed, deviated, aborted,\n"
	"interrupted, invalid or unreadable; 2 usage error.  See chaos-run(1).\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "chaos-run: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'chaos-run --help' for help.\n");
	va_end(ap);
	return EXIT_USAGE;
}

struct fetch {
	char *p;
	size_t n;
	char ctype[128];
};

static size_t fetch_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;
	char *p = realloc(f->p, f->n + n + 1);
	if (!p)
		return 0;
	f->p = p;
	memcpy(f->p + f->n, ptr, n);
	f->n += n;
	f->p[f->n] = '\0';
	return n;
}

/* Load an experiment from http(s), JSON or YAML by Content-Type, then by extension. */
static cJSON *load_url(const char *url, bool verify, char *err, size_t errlen)
{
	struct fetch f = {0};
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "%s: curl_easy_init failed", url);
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	struct curl_slist *h = NULL;
	const char *token = getenv("CHAOSTOOLKIT_LOADER_AUTH_BEARER_TOKEN");
	if (token) {
		char line[4096];
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, line);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	char *ct = NULL;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	bool yaml = (ct && strstr(ct, "yaml")) ||
		    (!(ct && strstr(ct, "json")) &&
		     (strstr(url, ".yaml") || strstr(url, ".yml")));
	cJSON *doc = NULL;
	char msg[RUN_ERR_MAX / 2];
	if (rc != CURLE_OK)
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(rc));
	else if (status != 200)
		snprintf(err, errlen, "%s: HTTP status %ld", url, status);
	else {
		doc = yaml ? run_parse_yaml(f.p ? f.p : "", f.n, msg, sizeof(msg))
			   : run_parse_json(f.p ? f.p : "", msg, sizeof(msg));
		if (!doc)
			snprintf(err, errlen, "%s: %s", url, msg);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(f.p);
	return doc;
}

static cJSON *load(const char *src, bool verify, char *err, size_t errlen)
{
	if (!strncasecmp(src, "http://", 7) || !strncasecmp(src, "https://", 8))
		return load_url(src, verify, err, errlen);
	return run_load_file(src, err, errlen);
}

/* A journal that cannot be written is refused before the experiment runs (and puts faults on),
 * not found out at the end: its directory must exist and be writable, and it must not be a
 * directory itself. */
static bool journal_unwritable(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;
	if (!*path) {
		snprintf(err, errlen, "an empty path");
		return true;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "'%s' is a directory", path);
		return true;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	const char *dir = dirname(buf);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) < 0) {
		int e = errno;
		if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
			e = ENOTDIR;
		snprintf(err, errlen, "cannot write in '%s': %s", dir, strerror(e));
		return true;
	}
	return false;
}

struct warn_ctx {
	const char *path;
};

static void on_warn(void *arg, const char *msg)
{
	struct warn_ctx *w = arg;
	out_warn("%s: %s", w->path, msg);
}

enum {
	OPT_JOURNAL = 256,
	OPT_DRY,
	OPT_NO_VALIDATION,
	OPT_NO_VERIFY_TLS,
	OPT_ROLLBACK,
	OPT_VAR,
	OPT_VAR_FILE,
	OPT_CONTROL_FILE,
	OPT_HYPO,
	OPT_FREQ,
	OPT_FAIL_FAST,
	OPT_QUIET,
	OPT_HELP,
	OPT_VERSION,
	OPT_VERBOSE,
	OPT_NO_VERSION_CHECK,
	OPT_CHANGE_DIR,
	OPT_NO_LOG_FILE,
	OPT_LOG_FILE,
	OPT_LOG_FILE_LEVEL,
	OPT_LOG_FORMAT,
	OPT_SETTINGS,
};

static const struct option options[] = {
	{"journal-path", required_argument, NULL, OPT_JOURNAL},
	{"dry", optional_argument, NULL, OPT_DRY},
	{"no-validation", no_argument, NULL, OPT_NO_VALIDATION},
	{"no-verify-tls", no_argument, NULL, OPT_NO_VERIFY_TLS},
	{"rollback-strategy", required_argument, NULL, OPT_ROLLBACK},
	{"var", required_argument, NULL, OPT_VAR},
	{"var-file", required_argument, NULL, OPT_VAR_FILE},
	{"control-file", required_argument, NULL, OPT_CONTROL_FILE},
	{"hypothesis-strategy", required_argument, NULL, OPT_HYPO},
	{"hypothesis-frequency", required_argument, NULL, OPT_FREQ},
	{"fail-fast", no_argument, NULL, OPT_FAIL_FAST},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"no-version-check", no_argument, NULL, OPT_NO_VERSION_CHECK},
	{"change-dir", required_argument, NULL, OPT_CHANGE_DIR},
	{"no-log-file", no_argument, NULL, OPT_NO_LOG_FILE},
	{"log-file", required_argument, NULL, OPT_LOG_FILE},
	{"log-file-level", required_argument, NULL, OPT_LOG_FILE_LEVEL},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	{"settings", required_argument, NULL, OPT_SETTINGS},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	struct run_opts o = {.journal_path = "./journal.json", .frequency = 1.0};
	bool validate_only = false, no_validation = false, verify_tls = true;
	const char *source = NULL;
	char err[RUN_ERR_MAX];
	/* option values point into argv: no allocation, nothing to free on early exits */
	char *var_files[argc > 0 ? argc : 1], *vars[argc > 0 ? argc : 1];
	size_t nvar_files = 0, nvars = 0;

	/* the subcommand may come after global options: find it and drop it */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if (a[0] == '-') {
			/* global options taking a separate value */
			static const char *const with_value[] = {
				"--change-dir",	   "--log-file",	   "--log-file-level",
				"--log-format",	   "--settings",	   "--journal-path",
				"--rollback-strategy", "--var",		   "--var-file",
				"--control-file", "--hypothesis-strategy", "--hypothesis-frequency",
				NULL};
			for (int k = 0; with_value[k]; k++)
				if (!strcmp(a, with_value[k]))
					i++;
			continue;
		}
		if (!strcmp(a, "sweep"))
			return sweep_main(argc - i, argv + i);
		if (!strcmp(a, "run") || !strcmp(a, "validate")) {
			validate_only = !strcmp(a, "validate");
			memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof(*argv));
			argc--;
		}
		break;
	}

	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_JOURNAL: o.journal_path = optarg; break;
		case OPT_DRY: {
			const char *v = optarg;
			if (!v && optind < argc && run_dry_parse(argv[optind], &o.dry) == 0) {
				optind++;
				break;
			}
			if (!v)
				v = "activities";
			if (run_dry_parse(v, &o.dry) < 0)
				return usage_error("invalid value for '--dry': '%s' is not one of "
						   "'probes', 'actions', 'activities', 'pause'",
						   v);
			break;
		}
		case OPT_NO_VALIDATION: no_validation = true; break;
		case OPT_NO_VERIFY_TLS: verify_tls = false; break;
		case OPT_ROLLBACK:
			if (run_rollback_parse(optarg, &o.rollback) < 0)
				return usage_error("invalid value for '--rollback-strategy': '%s' is "
						   "not one of 'default', 'always', 'never', "
						   "'deviated'",
						   optarg);
			o.rollback_set = true;
			break;
		case OPT_HYPO:
			if (run_hypo_parse(optarg, &o.hypo) < 0 || o.hypo == HY_SKIP)
				return usage_error(
					"invalid value for '--hypothesis-strategy': '%s' is not one "
					"of 'default', 'before-method-only', 'after-method-only', "
					"'during-method-only', 'continuously', 'continously'",
					optarg);
			o.hypo_set = true;
			break;
		case OPT_FREQ: {
			char *end;
			errno = 0;
			double f = strtod(optarg, &end);
			if (end == optarg || *end || errno || !(f >= 0) || f > 86400)
				return usage_error("invalid value for '--hypothesis-frequency': '%s' "
						   "is not a number of seconds",
						   optarg);
			o.frequency = f;
			break;
		}
		case OPT_FAIL_FAST: o.fail_fast = true; break;
		case OPT_VAR:
			vars[nvars++] = optarg;
			break;
		case OPT_VAR_FILE:
			if (access(optarg, R_OK) != 0)
				return usage_error("invalid value for '--var-file': path '%s' does "
						   "not exist",
						   optarg);
			var_files[nvar_files++] = optarg;
			break;
		case OPT_CONTROL_FILE:
			out_warn("--control-file %s: Python controls are not supported; ignored",
				 optarg);
			break;
		case OPT_QUIET: o.quiet = true; break;
		case OPT_HELP: fputs(usage_text, stdout); return EXIT_OK;
		case OPT_VERSION:
			printf("chaos-run %s (Chaos Toolkit experiments, chaoslib %s compatible)\n",
			       RUN_VERSION, RUN_CTK_VERSION);
			return EXIT_OK;
		case OPT_CHANGE_DIR:
			if (chdir(optarg) < 0) {
				out_error("--change-dir %s: %s", optarg, strerror(errno));
				return EXIT_FAIL;
			}
			break;
		case OPT_VERBOSE:
		case OPT_NO_VERSION_CHECK:
		case OPT_NO_LOG_FILE:
		case OPT_LOG_FILE:
		case OPT_LOG_FILE_LEVEL:
		case OPT_LOG_FORMAT:
		case OPT_SETTINGS: break;
		case '?':
		default:
			if (optopt)
				return usage_error("option requires an argument or takes none: '%s'",
						   argv[optind - 1]);
			return usage_error("no such option: %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("missing argument 'EXPERIMENT'");
	if (argc - optind > 1)
		return usage_error("got unexpected extra argument (%s)", argv[optind + 1]);
	source = argv[optind];
	o.path = source;
	if (validate_only && (o.rollback_set || o.hypo_set || o.dry || nvars || nvar_files))
		return usage_error("validate takes only --no-verify-tls and EXPERIMENT");
	if (!validate_only && journal_unwritable(o.journal_path, err, sizeof(err)))
		return usage_error("invalid value for '--journal-path': %s", err);

	out_init(o.quiet, NULL, 0);
	int rc = EXIT_OK;
	for (size_t i = 0; i < nvar_files && rc == EXIT_OK; i++)
		if (run_vars_add_file(&o.vars, var_files[i], err, sizeof(err)) < 0) {
			out_error("%s", err);
			rc = EXIT_FAIL;
		}
	for (size_t i = 0; i < nvars && rc == EXIT_OK; i++)
		if (run_vars_add_var(&o.vars, vars[i], err, sizeof(err)) < 0)
			rc = usage_error("invalid value for '--var': %s", err);
	if (rc != EXIT_OK) {
		cJSON_Delete(o.vars.config);
		cJSON_Delete(o.vars.secrets);
		return rc;
	}

	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
		out_error("curl_global_init failed");
		return EXIT_FAIL;
	}
	cJSON *exp = load(source, verify_tls, err, sizeof(err));
	if (!exp) {
		out_error("%s", err);
		cJSON_Delete(o.vars.config);
		cJSON_Delete(o.vars.secrets);
		return EXIT_FAIL;
	}
	struct warn_ctx wc = {.path = source};
	if (cJSON_IsObject(exp) && cJSON_IsObject(o.vars.config)) {
		const cJSON *decl = rj_get(exp, "configuration");
		for (const cJSON *v = o.vars.config->child; v; v = v->next)
			if (!rj_get(decl, v->string))
				out_warn("%s: --var %s: the experiment declares no configuration key "
					 "'%s'; ignored (as Chaos Toolkit does)",
					 source, v->string, v->string);
	}
	int code;
	if (!no_validation || validate_only) {
		if (run_validate(exp, &o.vars, on_warn, &wc, err, sizeof(err)) < 0) {
			out_error("%s: %s", source, err);
			code = EXIT_FAIL;
			goto out;
		}
		if (validate_only) {
			printf("%s: experiment syntax and semantic look valid\n", source);
			code = EXIT_OK;
			goto out;
		}
	}
	if (!cJSON_IsObject(exp)) {
		out_error("%s: an experiment must be an object", source);
		code = EXIT_FAIL;
		goto out;
	}
	if (run_signal_init(err, sizeof(err)) < 0) {
		out_error("%s", err);
		code = EXIT_FAIL;
		goto out;
	}
	code = run_experiment(exp, &o);
out:
	cJSON_Delete(exp);
	cJSON_Delete(o.vars.config);
	cJSON_Delete(o.vars.secrets);
	curl_global_cleanup();
	return code;
}
