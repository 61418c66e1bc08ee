/* test_trigger.c -- count, skip, p (reproducible, thread-independent, statistically sound),
 * and the start/for/flap windows at their exact boundaries */
#include "unit.h"

#include <math.h>
#include <pthread.h>

#include "rule.h"
#include "units.h"

UNIT_ROWS_DEFINE;

#define SEC NSEC_PER_SEC

static struct chaos_rule rule(const char *text)
{
	struct chaos_rule r;
	char err[CHAOS_ERR_MAX];
	if (chaos_rule_parse(text, &r, err, sizeof(err)) < 0)
		fail_msg("'%s': %s", text, err);
	return r;
}

/* The verdicts of calls 1..n (at time 0) as a string of '1' (fire) and '.' (pass). */
static void verdicts(const char *text, uint64_t seed, int n, char *out)
{
	struct chaos_rule r = rule(text);
	struct chaos_rule_state st = { 0 };
	for (int i = 0; i < n; i++)
		out[i] = chaos_trigger(&r, &st, 1, seed, 0, 0) == CHAOS_FIRE ? '1' : '.';
	out[n] = '\0';
}

static void count_and_skip(void **state)
{
	static const struct {
		const char *rule, *want;
	} rows[] = {
		{ "x refuse", "1111111111" },
		{ "x refuse count=1", "1........." },
		{ "x refuse count=3", "111......." },
		{ "x refuse count=10", "1111111111" },
		{ "x refuse skip=0", "1111111111" },
		{ "x refuse skip=2", "..11111111" },
		{ "x refuse skip=9", ".........1" },
		{ "x refuse skip=10", ".........." },
		{ "x refuse skip=2 count=3", "..111....." },
		{ "x refuse count=3 skip=2", "..111....." },
		{ "x refuse p=0", ".........." },
		{ "x refuse p=1", "1111111111" },
		{ "x refuse p=0 count=5", ".........." },
	};
	char got[16];
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		verdicts(rows[i].rule, 42, 10, got);
		if (strcmp(got, rows[i].want) != 0)
			ROW_FAIL("'%s': got %s want %s\n", rows[i].rule, got, rows[i].want);
	}
	ROWS_END();
}

/* The counters say what happened: matched, eligible (inside the window), injected. */
static void counters(void **state)
{
	struct chaos_rule r = rule("x refuse skip=2 count=3 start=1s");
	struct chaos_rule_state st = { 0 };
	int fired = 0;
	(void)state;
	for (int i = 0; i < 4; i++) /* before the window */
		fired += chaos_trigger(&r, &st, 1, 0, 0, SEC - 1) == CHAOS_FIRE;
	for (int i = 0; i < 10; i++)
		fired += chaos_trigger(&r, &st, 1, 0, 0, SEC) == CHAOS_FIRE;
	assert_int_equal(fired, 3);
	assert_int_equal(st.matched, 14);
	assert_int_equal(st.eligible, 10);
	assert_int_equal(st.injected, 3);
}

/* p= is a pure function of (seed, rule id, n): the same run twice gives the same verdicts,
 * another seed or rule id gives others, and the n-th call's verdict does not depend on how
 * many calls came before in other rules. */
static void p_reproducible(void **state)
{
	char a[1001], b[1001], c[1001];
	(void)state;
	verdicts("x refuse p=0.5", 1, 1000, a);
	verdicts("x refuse p=0.5", 1, 1000, b);
	assert_string_equal(a, b);
	verdicts("x refuse p=0.5", 2, 1000, c);
	assert_string_not_equal(a, c);

	/* the rule id takes part */
	struct chaos_rule r = rule("x refuse p=0.5");
	struct chaos_rule_state s1 = { 0 }, s2 = { 0 };
	int same = 0;
	for (int i = 0; i < 1000; i++)
		same += chaos_trigger(&r, &s1, 1, 7, 0, 0) == chaos_trigger(&r, &s2, 2, 7, 0, 0);
	assert_true(same > 400 && same < 600);

	/* skip and count do not move p's sequence: the n-th eligible call decides the same */
	verdicts("x refuse p=0.5 skip=10", 1, 1000, b);
	for (int i = 10; i < 1000; i++)
		assert_int_equal(a[i], b[i]);
	verdicts("x refuse p=0.5 count=5", 1, 1000, b);
	int seen = 0;
	for (int i = 0; i < 1000; i++) {
		if (b[i] == '1') {
			assert_int_equal(a[i], '1');
			seen++;
		}
	}
	assert_int_equal(seen, 5);

	/* a golden sequence: a change of the generator breaks reproducibility across versions */
	verdicts("x refuse p=0.5", 42, 32, a);
	assert_string_equal(a, "111.........1.11..1..1...11...11");
	verdicts("x refuse p=0.1", 0, 32, a);
	assert_string_equal(a, "1.........11....1...............");
}

/* 8 threads share one rule: whatever the interleaving, the calls that fire are the ones a
 * single thread would have fired (the same count), and count= is never exceeded. */
struct worker {
	const struct chaos_rule *r;
	struct chaos_rule_state *st;
	uint64_t seed;
	int calls, fired;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->calls; i++)
		w->fired += chaos_trigger(w->r, w->st, 3, w->seed, 0, 0) == CHAOS_FIRE;
	return NULL;
}

static int run_threads(const char *text, uint64_t seed, int nthreads, int calls)
{
	struct chaos_rule r = rule(text);
	struct chaos_rule_state st = { 0 };
	struct worker w[8];
	pthread_t t[8];
	int fired = 0;

	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ &r, &st, seed, calls, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		fired += w[i].fired;
	}
	assert_int_equal(st.matched, (uint64_t)nthreads * (uint64_t)calls);
	assert_int_equal(st.eligible, (uint64_t)nthreads * (uint64_t)calls);
	assert_int_equal(st.injected, (uint64_t)fired);
	return fired;
}

static void p_threads(void **state)
{
	(void)state;
	static const char *const rules[] = {
		"x refuse p=0.25",
		"x refuse p=0.5 skip=1000",
		"x refuse p=0.001",
		"x refuse p=0.25 count=5000",
		"x refuse count=12345",
	};
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		for (uint64_t seed = 1; seed <= 3; seed++) {
			int one = run_threads(rules[i], seed, 1, 8 * 20000);
			for (int rep = 0; rep < 3; rep++) {
				int eight = run_threads(rules[i], seed, 8, 20000);
				if (eight != one)
					fail_msg("'%s' seed %llu: 1 thread fired %d, 8 threads %d",
						 rules[i], (unsigned long long)seed, one, eight);
			}
		}
	}
	assert_int_equal(run_threads("x refuse p=0.25 count=5000", 9, 8, 20000), 5000);
	assert_int_equal(run_threads("x refuse count=12345", 9, 8, 20000), 12345);
}

/* p= fires with the asked probability: within 5 standard deviations over 200,000 calls, for
 * several p and seeds, and consecutive calls are independent (pairs fire at p*p). */
static void p_statistics(void **state)
{
	static const char *const ps[] = { "0.000001", "0.001", "0.01", "0.1", "0.25",
					   "0.5",      "0.9",   "0.999", "0.999999" };
	const int n = 200000;
	char text[64];
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(ps); i++) {
		double p = strtod(ps[i], NULL);
		for (uint64_t seed = 0; seed < 3; seed++) {
			snprintf(text, sizeof(text), "x refuse p=%s", ps[i]);
			struct chaos_rule r = rule(text);
			struct chaos_rule_state st = { 0 };
			int fired = 0, pairs = 0, prev = 0;
			for (int k = 0; k < n; k++) {
				int f = chaos_trigger(&r, &st, (uint32_t)i, seed * 7919, 0, 0) ==
					CHAOS_FIRE;
				fired += f;
				pairs += f && prev;
				prev = f;
			}
			double mean = n * p, sd = sqrt(n * p * (1 - p));
			double pmean = (n - 1) * p * p, psd = sqrt((n - 1) * p * p * (1 - p * p));
			if (fabs(fired - mean) > 5 * sd + 1)
				ROW_FAIL("p=%s seed %llu: %d fired, expected %.0f +- %.0f\n", ps[i],
					 (unsigned long long)seed, fired, mean, 5 * sd);
			if (fabs(pairs - pmean) > 5 * psd + 1)
				ROW_FAIL("p=%s seed %llu: %d pairs, expected %.0f +- %.0f\n", ps[i],
					 (unsigned long long)seed, pairs, pmean, 5 * psd);
		}
	}
	ROWS_END();
}

/* Windows, at the exact nanosecond each one opens and closes.  t is time since the rule
 * arrived (armed at 1000 s to check that the offset is taken). */
static void windows(void **state)
{
	static const struct {
		const char *rule;
		uint64_t t;
		bool open;
	} rows[] = {
		{ "x refuse", 0, true },
		{ "x refuse", UINT64_MAX / 2, true },
		{ "x refuse start=1s", 0, false },
		{ "x refuse start=1s", SEC - 1, false },
		{ "x refuse start=1s", SEC, true },
		{ "x refuse start=1s", 100 * SEC, true },
		{ "x refuse start=0s", 0, true },
		{ "x refuse for=2s", 0, true },
		{ "x refuse for=2s", 2 * SEC - 1, true },
		{ "x refuse for=2s", 2 * SEC, false },
		{ "x refuse start=1s for=2s", SEC - 1, false },
		{ "x refuse start=1s for=2s", SEC, true },
		{ "x refuse start=1s for=2s", 3 * SEC - 1, true },
		{ "x refuse start=1s for=2s", 3 * SEC, false },
		{ "x refuse for=1ns", 0, true },
		{ "x refuse for=1ns", 1, false },
		/* flap=UP/DOWN: healthy for UP, faulty for DOWN, again and again */
		{ "x refuse flap=5s/2s", 0, false },
		{ "x refuse flap=5s/2s", 5 * SEC - 1, false },
		{ "x refuse flap=5s/2s", 5 * SEC, true },
		{ "x refuse flap=5s/2s", 7 * SEC - 1, true },
		{ "x refuse flap=5s/2s", 7 * SEC, false },
		{ "x refuse flap=5s/2s", 12 * SEC - 1, false },
		{ "x refuse flap=5s/2s", 12 * SEC, true },
		{ "x refuse flap=5s/2s", 700 * SEC + 5 * SEC, true },
		{ "x refuse flap=1ns/1ns", 0, false },
		{ "x refuse flap=1ns/1ns", 1, true },
		{ "x refuse flap=1ns/1ns", 2, false },
		/* flap counts from start=, and for= ends it */
		{ "x refuse start=10s flap=5s/2s", 10 * SEC + 5 * SEC - 1, false },
		{ "x refuse start=10s flap=5s/2s", 10 * SEC + 5 * SEC, true },
		{ "x refuse start=10s flap=5s/2s for=6s", 10 * SEC + 5 * SEC, true },
		{ "x refuse start=10s flap=5s/2s for=6s", 10 * SEC + 6 * SEC - 1, true },
		{ "x refuse start=10s flap=5s/2s for=6s", 10 * SEC + 6 * SEC, false },
		/* periods longer than 2^64 ns never wrap (and never divide by zero) */
		{ "x refuse flap=9223372036854775808ns/9223372036854775808ns", 0, false },
		{ "x refuse flap=9223372036854775808ns/9223372036854775808ns",
		  9223372036854775807ULL, false },
		{ "x refuse flap=9223372036854775808ns/9223372036854775808ns",
		  9223372036854775808ULL, true },
		{ "x refuse flap=18446744073709551615ns/1ns", UINT64_MAX - 1, false },
	};
	const uint64_t armed = 1000 * SEC;
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct chaos_rule r = rule(rows[i].rule);
		uint64_t a = rows[i].t > UINT64_MAX - armed ? 0 : armed;
		bool got = chaos_window_open(&r, a, a + rows[i].t);
		if (got != rows[i].open)
			ROW_FAIL("'%s' at +%lluns: got %d want %d\n", rows[i].rule,
				 (unsigned long long)rows[i].t, got, rows[i].open);
		/* the trigger agrees with the window */
		struct chaos_rule_state st = { 0 };
		bool fired = chaos_trigger(&r, &st, 1, 0, a, a + rows[i].t) == CHAOS_FIRE;
		if (fired != rows[i].open)
			ROW_FAIL("'%s' at +%lluns: trigger %d\n", rows[i].rule,
				 (unsigned long long)rows[i].t, fired);
	}
	ROWS_END();

	/* a clock that reads before the arrival counts as the arrival */
	struct chaos_rule r = rule("x refuse for=1s");
	assert_true(chaos_window_open(&r, armed, armed - 1));
	r = rule("x refuse start=1s");
	assert_false(chaos_window_open(&r, armed, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(count_and_skip), cmocka_unit_test(counters),
		cmocka_unit_test(p_reproducible), cmocka_unit_test(p_threads),
		cmocka_unit_test(p_statistics),	  cmocka_unit_test(windows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
