/* test_dns.c -- unit tests of the DNS responder's wire format: questions read, replies built */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dns.h"

/* A query as glibc sends it: id 0x1234, RD, one question. */
static size_t query(uint8_t *q, const char *name, uint16_t type)
{
	size_t n = 12;
	memset(q, 0, 12);
	q[0] = 0x12;
	q[1] = 0x34;
	q[2] = 0x01; /* RD */
	q[5] = 1;
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	q[n++] = (uint8_t)(type >> 8);
	q[n++] = (uint8_t)type;
	q[n++] = 0;
	q[n++] = 1; /* IN */
	return n;
}

static void test_parse(void **state)
{
	uint8_t q[512];
	char name[256];
	uint16_t type;
	size_t qend, n;
	(void)state;

	n = query(q, "Chaos-Test.INVALID", 28);
	assert_int_equal(dns_parse_query(q, n, name, sizeof(name), &type, &qend), 0);
	assert_string_equal(name, "chaos-test.invalid"); /* 0x20 mixed case is matched as lower */
	assert_int_equal(type, 28);
	assert_int_equal(qend, n);

	/* the root: an empty name */
	n = query(q, "", 1);
	assert_int_equal(dns_parse_query(q, n, name, sizeof(name), &type, &qend), 0);
	assert_string_equal(name, "");

	n = query(q, "a.example", 1);
	q[2] |= 0x80; /* a response, not a query */
	assert_int_equal(dns_parse_query(q, n, name, sizeof(name), &type, &qend), -EINVAL);
	q[2] = 0x01 | (5 << 3); /* UPDATE */
	assert_int_equal(dns_parse_query(q, n, name, sizeof(name), &type, &qend), -EINVAL);
	q[2] = 0x01;
	q[5] = 2; /* two questions */
	assert_int_equal(dns_parse_query(q, n, name, sizeof(name), &type, &qend), -EINVAL);
	q[5] = 1;
	assert_int_equal(dns_parse_query(q, n - 1, name, sizeof(name), &type, &qend), -EINVAL);
	q[12] = 0xc0; /* a compression pointer */
	assert_int_equal(dns_parse_query(q, n, name, sizeof(name), &type, &qend), -EINVAL);
	assert_int_equal(dns_parse_query(q, 11, name, sizeof(name), &type, &qend), -EINVAL);
	n = query(q, "a\x2e" "b", 1); /* fine: the dot separates labels */
	assert_int_equal(dns_parse_query(q, n, name, sizeof(name), &type, &qend), 0);
	assert_int_equal(dns_parse_query(q, n, name, 3, &type, &qend), -EINVAL); /* no room */
}

static void test_reply(void **state)
{
	uint8_t q[512], r[512], a4[4], a6[16];
	char name[256];
	uint16_t type;
	size_t qend, n, len;
	(void)state;

	n = query(q, "db.example", 1);
	assert_int_equal(dns_parse_query(q, n, name, sizeof(name), &type, &qend), 0);

	len = dns_build_reply(q, qend, DNS_RCODE_NXDOMAIN, 0, NULL, r, sizeof(r));
	assert_int_equal(len, qend);
	assert_int_equal(r[0], 0x12);
	assert_int_equal(r[1], 0x34);
	assert_int_equal(r[2], 0x81); /* QR, RD */
	assert_int_equal(r[3], 0x83); /* RA, NXDOMAIN */
	assert_int_equal(r[5], 1);
	assert_int_equal(r[7] | r[9] | r[11], 0);
	assert_memory_equal(r + 12, q + 12, qend - 12);

	len = dns_build_reply(q, qend, DNS_RCODE_SERVFAIL, 0, NULL, r, sizeof(r));
	assert_int_equal(r[3] & 0x0f, 2);

	inet_pton(AF_INET, "192.0.2.7", a4);
	len = dns_build_reply(q, qend, DNS_RCODE_NOERROR, AF_INET, a4, r, sizeof(r));
	assert_int_equal(len, qend + 16);
	assert_int_equal(r[3], 0x80);
	assert_int_equal(r[7], 1); /* one answer */
	static const uint8_t rr4[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 7 };
	assert_memory_equal(r + qend, rr4, sizeof(rr4));

	inet_pton(AF_INET6, "2001:db8::7", a6);
	len = dns_build_reply(q, qend, DNS_RCODE_NOERROR, AF_INET6, a6, r, sizeof(r));
	assert_int_equal(len, qend + 28);
	assert_int_equal(r[qend + 3], 28);
	assert_int_equal(r[qend + 11], 16);
	assert_memory_equal(r + qend + 12, a6, 16);

	assert_int_equal(dns_build_reply(q, qend, 0, AF_INET6, a6, r, qend + 27), 0); /* no room */
}

static void test_ptr(void **state)
{
	uint8_t a[16], want[16], q[512], r[512];
	char name[256];
	uint16_t type;
	size_t qend, n, len;
	int fam;
	(void)state;

	assert_int_equal(dns_ptr_addr("7.2.0.192.in-addr.arpa", &fam, a), 0);
	assert_int_equal(fam, AF_INET);
	inet_pton(AF_INET, "192.0.2.7", want);
	assert_memory_equal(a, want, 4);
	assert_int_equal(dns_ptr_addr("7.2.0.256.in-addr.arpa", &fam, a), -EINVAL);
	assert_int_equal(dns_ptr_addr("7.2.0.in-addr.arpa", &fam, a), -EINVAL);
	assert_int_equal(dns_ptr_addr("07.2.0.192.in-addr.arpa", &fam, a), -EINVAL);
	assert_int_equal(dns_ptr_addr("x.2.0.192.in-addr.arpa", &fam, a), -EINVAL);
	assert_int_equal(dns_ptr_addr("7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
				      "ip6.arpa", &fam, a), 0);
	assert_int_equal(fam, AF_INET6);
	inet_pton(AF_INET6, "2001:db8::7", want);
	assert_memory_equal(a, want, 16);
	assert_int_equal(dns_ptr_addr("7.0.0.ip6.arpa", &fam, a), -EINVAL);
	assert_int_equal(dns_ptr_addr("example.com", &fam, a), -EINVAL);

	n = query(q, "7.2.0.192.in-addr.arpa", 12);
	assert_int_equal(dns_parse_query(q, n, name, sizeof(name), &type, &qend), 0);
	len = dns_build_ptr(q, qend, "db.example", r, sizeof(r));
	assert_int_equal(len, qend + 12 + 12);
	assert_int_equal(r[7], 1);
	static const uint8_t rr[] = { 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 0, 0, 12,
				      2, 'd', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
	assert_memory_equal(r + qend, rr, sizeof(rr));
	assert_int_equal(dns_build_ptr(q, qend, "a..b", r, sizeof(r)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_ptr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
