/* unit.h -- what every cmocka unit test of the rule engine includes, and table helpers
 *
 * Table-driven tests check every row and print each mismatch (CHECK_* below count them), then
 * fail once at the end, so one run shows every broken row, not just the first.
 */
#ifndef CHAOS_TEST_UNIT_H
#define CHAOS_TEST_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Rows that failed in the current test; EXPECT_ROWS_OK() fails the test if any did. */
extern int unit_bad_rows;

#define ROW_FAIL(...)                                                                             \
	do {                                                                                      \
		print_error(__VA_ARGS__);                                                         \
		unit_bad_rows++;                                                                  \
	} while (0)

#define ROWS_BEGIN() (unit_bad_rows = 0)
#define ROWS_END()                                                                                \
	do {                                                                                      \
		if (unit_bad_rows)                                                                \
			fail_msg("%d row(s) failed (see above)", unit_bad_rows);                  \
	} while (0)

#define UNIT_ROWS_DEFINE int unit_bad_rows

#endif
