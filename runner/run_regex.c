/* run_regex.c -- regex tolerances with PCRE2, as close to Python's re.search as it gets
 *
 * Patterns are compiled with PCRE2_UTF | PCRE2_UCP (\d, \w, \s and \b are Unicode-aware, like
 * Python 3 str patterns) and PCRE2_MATCH_INVALID_UTF.  Python's (?P<name>...), (?P=name),
 * lookarounds, lazy quantifiers and inline flags all work.  Known differences: Python's \Z is
 * PCRE2's \z, and Python rejects some escapes PCRE2 accepts.
 */
#include "run.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

static pcre2_code *compile(const char *pattern, char *err, size_t errlen)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
				       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &off,
				       NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "%s at position %zu", (const char *)msg, (size_t)off);
	}
	return re;
}

int run_regex_check(const char *pattern, char *err, size_t errlen)
{
	pcre2_code *re = compile(pattern, err, errlen);
	if (!re)
		return -1;
	pcre2_code_free(re);
	return 0;
}

int run_regex_search(const char *pattern, const char *subject, size_t len, char *err,
		     size_t errlen)
{
	pcre2_code *re = compile(pattern, err, errlen);
	if (!re)
		return -1;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md) {
		pcre2_code_free(re);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = pcre2_match(re, (PCRE2_SPTR)subject, len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	PCRE2_UCHAR msg[256];
	pcre2_get_error_message(rc, msg, sizeof(msg));
	snprintf(err, errlen, "regex match failed: %s", (const char *)msg);
	return -1;
}
