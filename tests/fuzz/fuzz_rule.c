/* fuzz_rule.c -- libFuzzer target: the rule parser, the canonical printer and the matcher
 *
 * Any input either fails with a message, or parses into a rule whose canonical form parses back
 * into the same rule and prints the same text again (parse(format(parse(x))) == parse(x)).
 * Matching, triggers and the front-end checks must not crash on any rule the parser accepts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *text, const char *detail)
{
	fprintf(stderr, "fuzz_rule: %s\n  input: '%s'\n  %s\n", what, text, detail);
	abort();
}

static void check_message(const char *text, const char *err)
{
	size_t n = strnlen(err, CHAOS_ERR_MAX);
	if (n == 0)
		die("error without a message", text, "");
	if (n >= CHAOS_ERR_MAX - 1)
		die("error message fills the buffer (truncated?)", text, err);
	for (const char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20)
			die("error message has a control character", text, err);
}

static void exercise(const struct chaos_rule *r)
{
	static const char *const names[] = { "redis.local", "a.b.internal.", "x", "" };
	struct chaos_dest d = { .proto = CHAOS_PROTO_TCP, .family = AF_INET, .port = 6379,
				.names = names, .nnames = 4 };
	struct chaos_rule_state st = { 0 };
	char err[CHAOS_ERR_MAX], buf[64];

	memcpy(d.addr, r->target.addr, sizeof(d.addr));
	d.family = r->target.family ? r->target.family : AF_INET;
	(void)chaos_target_match(&r->target, &d);
	d.proto = CHAOS_PROTO_UDP;
	d.port = r->target.port_hi;
	(void)chaos_target_match(&r->target, &d);
	for (size_t i = 0; i < 4; i++)
		(void)chaos_target_match_name(&r->target, names[i]);
	static const uint64_t times[] = { 0, 1, 999999999, 1000000000, UINT64_MAX / 2, UINT64_MAX };
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		(void)chaos_window_open(r, 0, times[i]);
		(void)chaos_window_open(r, times[i], 0);
		(void)chaos_trigger(r, &st, 7, 42, 0, times[i]);
	}
	if (chaos_rule_supported(r, CHAOS_FE_PRELOAD, err, sizeof(err)) < 0 && !*err)
		die("preload refuses a rule without a message", "", "");
	if (chaos_rule_supported(r, CHAOS_FE_BPF, err, sizeof(err)) < 0 && !*err)
		die("bpf refuses a rule without a message", "", "");
	chaos_rule_describe_action(r, buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[CHAOS_RULE_TEXT_MAX * 2 + 1], out[CHAOS_RULE_TEXT_MAX + 1],
		out2[CHAOS_RULE_TEXT_MAX + 1], target[CHAOS_RULE_TEXT_MAX + 1];
	char err[CHAOS_ERR_MAX];
	struct chaos_rule r, r2;
	int n, n2;

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';

	memset(err, 0, sizeof(err));
	if (chaos_rule_parse(text, &r, err, sizeof(err)) < 0) {
		check_message(text, err);
		return 0;
	}
	n = chaos_rule_format(&r, out, sizeof(out));
	if (n < 0)
		die("an accepted rule does not print in CHAOS_RULE_TEXT_MAX", text, "");
	if ((size_t)n != strlen(out))
		die("format returned the wrong length", text, out);
	if (chaos_rule_parse(out, &r2, err, sizeof(err)) < 0)
		die("the canonical form does not parse", text, err);
	if (memcmp(&r, &r2, sizeof(r)) != 0)
		die("the canonical form parses into another rule", text, out);
	n2 = chaos_rule_format(&r2, out2, sizeof(out2));
	if (n2 != n || strcmp(out, out2) != 0)
		die("the canonical form is not stable", text, out2);
	if (chaos_target_format(&r.target, target, sizeof(target)) < 0 ||
	    strncmp(out, target, strlen(target)) != 0 || out[strlen(target)] != ' ')
		die("the target does not print as the start of the rule", text, target);
	/* a buffer one byte short must be refused, not overrun */
	if (chaos_rule_format(&r, out2, (size_t)n) != -ENOSPC)
		die("format into a short buffer did not fail with -ENOSPC", text, out);
	exercise(&r);
	return 0;
}
