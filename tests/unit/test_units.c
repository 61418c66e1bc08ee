/* test_units.c -- numbers, durations, sizes, rates and probabilities: strict parsing (overflow,
 * fractions, rounding) and shortest exact printing */
#include "unit.h"

#include "units.h"

UNIT_ROWS_DEFINE;

#define MAX UINT64_MAX
#define E_INVAL (-EINVAL)
#define E_RANGE (-ERANGE)

struct row {
	const char *in;
	int rc;
	uint64_t v;
};

typedef int (*parse_fn)(const char *, uint64_t *);

static void check(const char *what, parse_fn fn, const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0xdeadbeef;
		int rc = fn(rows[i].in, &v);
		if (rc != rows[i].rc)
			ROW_FAIL("%s('%s'): rc %d want %d\n", what, rows[i].in, rc, rows[i].rc);
		else if (rc == 0 && v != rows[i].v)
			ROW_FAIL("%s('%s'): %llu want %llu\n", what, rows[i].in,
				 (unsigned long long)v, (unsigned long long)rows[i].v);
		else if (rc < 0 && v != 0xdeadbeef)
			ROW_FAIL("%s('%s'): failed but wrote %llu\n", what, rows[i].in,
				 (unsigned long long)v);
	}
}

static int u64_max(const char *s, uint64_t *v)
{
	return chaos_parse_u64(s, MAX, v);
}

static int u64_65535(const char *s, uint64_t *v)
{
	return chaos_parse_u64(s, 65535, v);
}

static void numbers(void **state)
{
	static const struct row any[] = {
		{ "0", 0, 0 },
		{ "1", 0, 1 },
		{ "007", 0, 7 },
		{ "18446744073709551615", 0, MAX },
		{ "018446744073709551615", 0, MAX },
		{ "18446744073709551616", E_RANGE, 0 },
		{ "99999999999999999999", E_RANGE, 0 },
		{ "184467440737095516150", E_RANGE, 0 },
		{ "", E_INVAL, 0 },
		{ "-1", E_INVAL, 0 },
		{ "+1", E_INVAL, 0 },
		{ " 1", E_INVAL, 0 },
		{ "1 ", E_INVAL, 0 },
		{ "1.0", E_INVAL, 0 },
		{ "1e3", E_INVAL, 0 },
		{ "0x10", E_INVAL, 0 },
		{ "12a", E_INVAL, 0 },
	};
	static const struct row port[] = {
		{ "65535", 0, 65535 },
		{ "65536", E_RANGE, 0 },
		{ "0", 0, 0 },
	};
	(void)state;
	ROWS_BEGIN();
	check("u64", u64_max, any, ARRAY_SIZE(any));
	check("u64<=65535", u64_65535, port, ARRAY_SIZE(port));
	uint64_t v;
	if (chaos_parse_u64(NULL, MAX, &v) != E_INVAL)
		ROW_FAIL("u64(NULL) accepted\n");
	ROWS_END();
}

#define MS 1000000ULL
#define S 1000000000ULL

static void durations(void **state)
{
	static const struct row rows[] = {
		{ "0ns", 0, 0 },
		{ "0s", 0, 0 },
		{ "1ns", 0, 1 },
		{ "1us", 0, 1000 },
		{ "1ms", 0, MS },
		{ "1s", 0, S },
		{ "1m", 0, 60 * S },
		{ "1h", 0, 3600 * S },
		{ "250ms", 0, 250 * MS },
		{ "1.5s", 0, 1500 * MS },
		{ ".5s", 0, 500 * MS },
		{ "0.001s", 0, MS },
		{ "1.000000001s", 0, S + 1 },
		{ "2.5m", 0, 150 * S },
		{ "0.5h", 0, 1800 * S },
		{ "1.25us", 0, 1250 },
		/* fractions below a nanosecond round to the nearest */
		{ "0.4ns", 0, 0 },
		{ "0.5ns", 0, 1 },
		{ "1.0000000004s", 0, S },
		{ "1.0000000005s", 0, S + 1 },
		{ "0.9999999999999999999999s", 0, S },
		/* the largest */
		{ "18446744073709551615ns", 0, MAX },
		{ "18446744073709551616ns", E_RANGE, 0 },
		{ "18446744073709551us", 0, 18446744073709551000ULL },
		{ "18446744073709552us", E_RANGE, 0 },
		{ "18446744073.709551615s", 0, MAX },
		{ "18446744073.709551616s", E_RANGE, 0 },
		{ "18446744074s", E_RANGE, 0 },
		{ "5124095h", 0, 5124095ULL * 3600 * S },
		{ "5124096h", E_RANGE, 0 },
		{ "307445734m", 0, 307445734ULL * 60 * S },
		{ "307445735m", E_RANGE, 0 },
		{ "99999999999999999999999h", E_RANGE, 0 },
		/* not durations */
		{ "", E_INVAL, 0 },
		{ "1", E_INVAL, 0 },
		{ "0", E_INVAL, 0 },
		{ "s", E_INVAL, 0 },
		{ ".s", E_INVAL, 0 },
		{ "1.s", E_INVAL, 0 },
		{ "1..5s", E_INVAL, 0 },
		{ "1.2.3s", E_INVAL, 0 },
		{ "1S", E_INVAL, 0 },
		{ "1 s", E_INVAL, 0 },
		{ "1sec", E_INVAL, 0 },
		{ "1d", E_INVAL, 0 },
		{ "1ms ", E_INVAL, 0 },
		{ "-1s", E_INVAL, 0 },
		{ "+1s", E_INVAL, 0 },
		{ "1e3ms", E_INVAL, 0 },
		{ "1h30m", E_INVAL, 0 },
		{ "1µs", E_INVAL, 0 },
	};
	(void)state;
	ROWS_BEGIN();
	check("duration", chaos_parse_duration, rows, ARRAY_SIZE(rows));
	uint64_t v;
	if (chaos_parse_duration(NULL, &v) != E_INVAL)
		ROW_FAIL("duration(NULL) accepted\n");
	ROWS_END();
}

static void sizes(void **state)
{
	static const struct row rows[] = {
		{ "0", 0, 0 },
		{ "1", 0, 1 },
		{ "100B", 0, 100 },
		{ "1KB", 0, 1000 },
		{ "1kB", 0, 1000 },
		{ "1KiB", 0, 1024 },
		{ "1MB", 0, 1000000 },
		{ "1MiB", 0, 1048576 },
		{ "1GB", 0, 1000000000 },
		{ "1GiB", 0, 1073741824 },
		{ "1.5KiB", 0, 1536 },
		{ "0.5", 0, 1 }, /* rounded to the nearest byte */
		{ "1.4", 0, 1 },
		{ "0.1GiB", 0, 107374182 },
		{ "18446744073709551615", 0, MAX },
		{ "18446744073709551616", E_RANGE, 0 },
		{ "17179869183GiB", 0, 17179869183ULL << 30 },
		{ "17179869184GiB", E_RANGE, 0 },
		{ "", E_INVAL, 0 },
		{ "KiB", E_INVAL, 0 },
		{ "1kib", E_INVAL, 0 },
		{ "1K", E_INVAL, 0 },
		{ "1 KiB", E_INVAL, 0 },
		{ "1TiB", E_INVAL, 0 },
		{ "-1", E_INVAL, 0 },
		{ "1b", E_INVAL, 0 },
	};
	(void)state;
	ROWS_BEGIN();
	check("size", chaos_parse_size, rows, ARRAY_SIZE(rows));
	ROWS_END();
}

static void rates(void **state)
{
	static const struct row rows[] = {
		{ "1B/s", 0, 1 },
		{ "0B/s", 0, 0 },
		{ "64KiB/s", 0, 65536 },
		{ "1KB/s", 0, 1000 },
		{ "1kB/s", 0, 1000 },
		{ "1MB/s", 0, 1000000 },
		{ "1MiB/s", 0, 1048576 },
		{ "1GB/s", 0, 1000000000 },
		{ "1GiB/s", 0, 1073741824 },
		{ "8bit/s", 0, 1 },
		{ "15bit/s", 0, 1 }, /* bits are rounded down to whole bytes */
		{ "16bit/s", 0, 2 },
		{ "7bit/s", 0, 0 },
		{ "1Kbit/s", 0, 125 },
		{ "1kbit/s", 0, 125 },
		{ "8Mbit/s", 0, 1000000 },
		{ "1Gbit/s", 0, 125000000 },
		{ "1.5Mbit/s", 0, 187500 },
		{ "17179869183GiB/s", 0, 17179869183ULL << 30 },
		{ "17179869184GiB/s", E_RANGE, 0 },
		{ "18446744073709551615bit/s", 0, MAX / 8 },
		{ "18446744073709551616bit/s", E_RANGE, 0 },
		{ "", E_INVAL, 0 },
		{ "64KiB", E_INVAL, 0 },
		{ "64", E_INVAL, 0 },
		{ "1mbit/s", E_INVAL, 0 },
		{ "1Mbps", E_INVAL, 0 },
		{ "1 MB/s", E_INVAL, 0 },
		{ "/s", E_INVAL, 0 },
	};
	(void)state;
	ROWS_BEGIN();
	check("rate", chaos_parse_rate, rows, ARRAY_SIZE(rows));
	ROWS_END();
}

static int prob(const char *s, uint64_t *v)
{
	uint32_t ppm = 0xdeadbeef;
	int rc = chaos_parse_prob(s, &ppm);
	*v = rc == 0 ? ppm : 0xdeadbeef;
	return rc;
}

static void probabilities(void **state)
{
	static const struct row rows[] = {
		{ "0", 0, 0 },
		{ "1", 0, 1000000 },
		{ "0.25", 0, 250000 },
		{ ".25", 0, 250000 },
		{ "1.0", 0, 1000000 },
		{ "1.000000", 0, 1000000 },
		{ "1.0000004", 0, 1000000 }, /* rounds to 1 */
		{ "1.0000005", E_RANGE, 0 },
		{ "1.000001", E_RANGE, 0 },
		{ "0.000001", 0, 1 },
		{ "0.0000005", 0, 1 },
		{ "0.0000004", 0, 0 },
		{ "0.3333333333333333333333333", 0, 333333 },
		{ "25%", 0, 250000 },
		{ "0%", 0, 0 },
		{ "100%", 0, 1000000 },
		{ "100.00004%", 0, 1000000 },
		{ "100.0001%", E_RANGE, 0 },
		{ "0.5%", 0, 5000 },
		{ "0.0001%", 0, 1 },
		{ "2", E_RANGE, 0 },
		{ "18446744073709551616", E_RANGE, 0 },
		{ "", E_INVAL, 0 },
		{ "%", E_INVAL, 0 },
		{ ".", E_INVAL, 0 },
		{ "0.", E_INVAL, 0 },
		{ "-0.5", E_INVAL, 0 },
		{ "50%%", E_INVAL, 0 },
		{ "%50", E_INVAL, 0 },
		{ "0.5 ", E_INVAL, 0 },
		{ "1/2", E_INVAL, 0 },
		{ "5e-1", E_INVAL, 0 },
	};
	(void)state;
	ROWS_BEGIN();
	check("prob", prob, rows, ARRAY_SIZE(rows));
	ROWS_END();
}

typedef int (*format_fn)(uint64_t, char *, size_t);

static int fmt_prob(uint64_t v, char *buf, size_t len)
{
	return chaos_format_prob((uint32_t)v, buf, len);
}

struct frow {
	uint64_t v;
	const char *out;
};

/* Printing: the exact text, its length returned, -ENOSPC for every buffer too small, and
 * parsing the text gives the value back. */
static void check_format(const char *what, format_fn fmt, parse_fn parse, const struct frow *rows,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char buf[64];
		int len = fmt(rows[i].v, buf, sizeof(buf));
		if (len != (int)strlen(rows[i].out) || strcmp(buf, rows[i].out) != 0) {
			ROW_FAIL("%s(%llu): '%s' (%d) want '%s'\n", what,
				 (unsigned long long)rows[i].v, buf, len, rows[i].out);
			continue;
		}
		for (int k = 0; k <= len; k++)
			if (fmt(rows[i].v, buf, (size_t)k) != -ENOSPC)
				ROW_FAIL("%s(%llu) into %d bytes did not fail\n", what,
					 (unsigned long long)rows[i].v, k);
		uint64_t back;
		fmt(rows[i].v, buf, sizeof(buf));
		if (parse && (parse(buf, &back) != 0 || back != rows[i].v))
			ROW_FAIL("%s: '%s' does not read back as %llu\n", what, buf,
				 (unsigned long long)rows[i].v);
	}
}

static void printing(void **state)
{
	static const struct frow dur[] = {
		{ 0, "0s" },
		{ 1, "1ns" },
		{ 999, "999ns" },
		{ 1000, "1us" },
		{ 1500, "1500ns" },
		{ MS, "1ms" },
		{ 1500 * MS, "1500ms" },
		{ 2 * S, "2s" },
		{ 90 * S, "90s" },
		{ 120 * S, "2m" },
		{ 5400 * S, "90m" },
		{ 7200 * S, "2h" },
		{ S + 1, "1000000001ns" },
		{ MAX, "18446744073709551615ns" },
		{ 5124095ULL * 3600 * S, "5124095h" },
	};
	static const struct frow size[] = {
		{ 0, "0" },	       { 1, "1" },	    { 1000, "1000" },
		{ 1024, "1KiB" },      { 1536, "1536" },    { 1048576, "1MiB" },
		{ 3ULL << 30, "3GiB" }, { 1ULL << 40, "1024GiB" }, { MAX, "18446744073709551615" },
	};
	static const struct frow rate[] = {
		{ 0, "0B/s" },		{ 1, "1B/s" },		{ 1000, "1KB/s" },
		{ 1024, "1KiB/s" },	{ 125000, "125KB/s" },	{ 1000000, "1MB/s" },
		{ 1048576, "1MiB/s" }, { 1ULL << 30, "1GiB/s" }, { 1000000000, "1000MB/s" },
		{ 1536, "1536B/s" },	{ 2048000, "2000KiB/s" }, { MAX, "18446744073709551615B/s" },
	};
	static const struct frow probs[] = {
		{ 0, "0" },	       { 1, "0.000001" }, { 10, "0.00001" }, { 250000, "0.25" },
		{ 333333, "0.333333" }, { 500000, "0.5" }, { 999999, "0.999999" }, { 1000000, "1" },
	};
	(void)state;
	ROWS_BEGIN();
	check_format("format_duration", chaos_format_duration, chaos_parse_duration, dur,
		     ARRAY_SIZE(dur));
	check_format("format_size", chaos_format_size, chaos_parse_size, size, ARRAY_SIZE(size));
	check_format("format_rate", chaos_format_rate, chaos_parse_rate, rate, ARRAY_SIZE(rate));
	check_format("format_prob", fmt_prob, prob, probs, ARRAY_SIZE(probs));
	/* more than 1 prints as 1 (the parser never makes it) */
	char buf[16];
	assert_int_equal(chaos_format_prob(2000000, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "1");
	ROWS_END();
}

/* Every duration printed reads back as itself: a sweep over magnitudes and odd values. */
static void duration_round_trip(void **state)
{
	(void)state;
	for (uint64_t base = 1; base && base < MAX / 7; base *= 7) {
		for (uint64_t k = 0; k < 4; k++) {
			uint64_t v = base + k * 1000, back;
			char buf[32];
			assert_true(chaos_format_duration(v, buf, sizeof(buf)) > 0);
			assert_int_equal(chaos_parse_duration(buf, &back), 0);
			assert_int_equal(back, v);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers),	 cmocka_unit_test(durations),
		cmocka_unit_test(sizes),	 cmocka_unit_test(rates),
		cmocka_unit_test(probabilities), cmocka_unit_test(printing),
		cmocka_unit_test(duration_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
