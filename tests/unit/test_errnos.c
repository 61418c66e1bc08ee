/* test_errnos.c -- errno names and which calls can return each one (core/errnos.def) */
#include "unit.h"

#include "errnos.h"
#include "rule.h"

UNIT_ROWS_DEFINE;

struct entry {
	const char *name;
	int err;
	bool connect, send, recv;
};

#define X(name, c, s, r) { #name, name, c, s, r },
static const struct entry table[] = {
#include "errnos.def"
};
#undef X

static void every_entry(void **state)
{
	(void)state;
	ROWS_BEGIN();
	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		const struct entry *e = &table[i];
		if (chaos_errno_parse(e->name) != e->err)
			ROW_FAIL("%s does not parse\n", e->name);
		if (!chaos_errno_name(e->err) || strcmp(chaos_errno_name(e->err), e->name) != 0)
			ROW_FAIL("%d is not named %s\n", e->err, e->name);
		if (chaos_errno_valid_for(e->err, CHAOS_ON_CONNECT) != e->connect ||
		    chaos_errno_valid_for(e->err, CHAOS_ON_SEND) != e->send ||
		    chaos_errno_valid_for(e->err, CHAOS_ON_RECV) != e->recv)
			ROW_FAIL("%s: valid_for disagrees with errnos.def\n", e->name);
		if (chaos_errno_valid_for(e->err, CHAOS_ON_IO) != (e->send && e->recv))
			ROW_FAIL("%s: on=io is not send and recv\n", e->name);
		if (!e->connect && !e->send && !e->recv)
			ROW_FAIL("%s: no call can return it, so no rule can use it\n", e->name);
		for (size_t k = 0; k < i; k++)
			if (table[k].err == e->err || strcmp(table[k].name, e->name) == 0)
				ROW_FAIL("%s is in the table twice\n", e->name);
		/* every entry can be used in a rule, with the right on= */
		char text[64];
		const char *on = e->connect ? "connect" : e->send ? "send" : "recv";
		snprintf(text, sizeof(text), "x error=%s on=%s", e->name, on);
		if (chaos_rule_parse(text, &(struct chaos_rule){ 0 }, NULL, 0) != 0)
			ROW_FAIL("'%s' is refused\n", text);
	}
	ROWS_END();
}

static void names(void **state)
{
	(void)state;
	assert_int_equal(chaos_errno_parse("EWOULDBLOCK"), EAGAIN);
	assert_string_equal(chaos_errno_name(EWOULDBLOCK), "EAGAIN");
	assert_int_equal(chaos_errno_parse("econnreset"), -1);
	assert_int_equal(chaos_errno_parse("ECONNRESET "), -1);
	assert_int_equal(chaos_errno_parse(""), -1);
	assert_int_equal(chaos_errno_parse("ENOENT"), -1);
	assert_int_equal(chaos_errno_parse("104"), -1);
	assert_null(chaos_errno_name(0));
	assert_null(chaos_errno_name(ENOENT));
	assert_null(chaos_errno_name(-1));
	assert_false(chaos_errno_valid_for(ENOENT, CHAOS_ON_CONNECT));
	assert_false(chaos_errno_valid_for(0, CHAOS_ON_CONNECT));
	/* the calls each errno is for, spot checks against the man pages */
	assert_true(chaos_errno_valid_for(ECONNREFUSED, CHAOS_ON_CONNECT));
	assert_true(chaos_errno_valid_for(ETIMEDOUT, CHAOS_ON_CONNECT | CHAOS_ON_IO));
	assert_true(chaos_errno_valid_for(EPIPE, CHAOS_ON_SEND));
	assert_false(chaos_errno_valid_for(EPIPE, CHAOS_ON_RECV));
	assert_false(chaos_errno_valid_for(EPIPE, CHAOS_ON_CONNECT));
	assert_true(chaos_errno_valid_for(EMSGSIZE, CHAOS_ON_SEND));
	assert_false(chaos_errno_valid_for(EINPROGRESS, CHAOS_ON_CONNECT));
	assert_true(chaos_errno_valid_for(EPERM, CHAOS_ON_SEND)); /* netfilter drops a UDP send */
	/* the dns and close bits are not calls errnos apply to */
	assert_true(chaos_errno_valid_for(EPIPE, CHAOS_ON_SEND | CHAOS_ON_DNS | CHAOS_ON_CLOSE));
}

static void lists(void **state)
{
	char buf[512], want[512];
	(void)state;

	/* the list for each call is the table's order, ", " between */
	static const unsigned ons[] = { CHAOS_ON_CONNECT, CHAOS_ON_SEND, CHAOS_ON_RECV, CHAOS_ON_IO,
					CHAOS_ON_CONNECT | CHAOS_ON_IO };
	for (size_t o = 0; o < ARRAY_SIZE(ons); o++) {
		want[0] = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
			unsigned on = (table[i].connect ? CHAOS_ON_CONNECT : 0) |
				      (table[i].send ? CHAOS_ON_SEND : 0) |
				      (table[i].recv ? CHAOS_ON_RECV : 0);
			if ((on & ons[o]) != ons[o])
				continue;
			if (want[0])
				strcat(want, ", ");
			strcat(want, table[i].name);
		}
		int n = chaos_errno_list(ons[o], buf, sizeof(buf));
		assert_int_equal(n, (int)strlen(want));
		assert_string_equal(buf, want);
		/* every buffer too small fails cleanly */
		for (int k = 0; k <= n; k++) {
			char small[512];
			memset(small, 'X', sizeof(small));
			assert_int_equal(chaos_errno_list(ons[o], small, (size_t)k), -ENOSPC);
			if (k)
				assert_true(strlen(small) < (size_t)k);
		}
	}
	int n = chaos_errno_list(CHAOS_ON_SEND, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_non_null(strstr(buf, "EPIPE"));
	n = chaos_errno_list(CHAOS_ON_CONNECT | CHAOS_ON_IO, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "EAGAIN, EBADF, ECONNREFUSED, ECONNRESET, EFAULT, EHOSTDOWN, "
				 "EHOSTUNREACH, EINTR, EINVAL, ENETDOWN, ENETUNREACH, ENOTSOCK, "
				 "ETIMEDOUT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_entry),
		cmocka_unit_test(names),
		cmocka_unit_test(lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
