#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "rule.h"
static void smoke(void **s) { (void)s; struct chaos_rule r; char e[256]; assert_int_equal(chaos_rule_parse("redis.local:6379 refuse", &r, e, sizeof e), 0); }
int main(void) { const struct CMUnitTest t[] = { cmocka_unit_test(smoke) }; return cmocka_run_group_tests(t, NULL, NULL); }
