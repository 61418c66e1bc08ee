/* units.c -- strict parsing and printing of numbers, durations, sizes, rates, probabilities */
#include "units.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Parse "123" or "1.25" into a fixed-point value scaled by `scale` (a power of ten or not),
 * rounding to the nearest integer.  *end is set to the first character after the number. */
static int parse_decimal(const char *s, uint64_t scale, uint64_t *out, const char **end)
{
	uint64_t ip = 0;
	const char *p = s;
	bool digits = false;

	while (*p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p - '0');
		if (ip > (UINT64_MAX - d) / 10)
			return -ERANGE;
		ip = ip * 10 + d;
		digits = true;
		p++;
	}
	if (ip != 0 && ip > UINT64_MAX / scale)
		return -ERANGE;
	uint64_t v = ip * scale;

	if (*p == '.') {
		p++;
		/* fraction: accumulate up to 18 digits exactly, then scale */
		uint64_t num = 0, den = 1;
		bool fdigits = false;
		while (*p >= '0' && *p <= '9') {
			if (den < 1000000000000000000ULL) {
				num = num * 10 + (uint64_t)(*p - '0');
				den *= 10;
			}
			fdigits = true;
			p++;
		}
		if (!fdigits)
			return -EINVAL;
		digits = true;
		/* num/den * scale, rounded, without overflow for scale <= 1e18 */
		__uint128_t f = ((__uint128_t)num * scale + den / 2) / den;
		if (f > UINT64_MAX - v)
			return -ERANGE;
		v += (uint64_t)f;
	}
	if (!digits)
		return -EINVAL;
	*out = v;
	*end = p;
	return 0;
}

int chaos_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

struct unit {
	const char *name;
	uint64_t mult;
};

/* Parse NUMBER UNIT where UNIT is one of units (exact, case-sensitive).  An empty unit is
 * accepted only if units has an entry named "". */
static int parse_with_unit(const char *s, const struct unit *units, uint64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	/* find where the number ends to pick the unit first */
	const char *u = s;
	while ((*u >= '0' && *u <= '9') || *u == '.')
		u++;
	for (const struct unit *x = units; x->name; x++) {
		if (strcmp(u, x->name) != 0)
			continue;
		const char *end;
		uint64_t v;
		int r = parse_decimal(s, x->mult, &v, &end);
		if (r < 0)
			return r;
		if (end != u)
			return -EINVAL;
		*out = v;
		return 0;
	}
	return -EINVAL;
}

static const struct unit duration_units[] = {
	{ "ns", 1 },
	{ "us", NSEC_PER_USEC },
	{ "ms", NSEC_PER_MSEC },
	{ "s", NSEC_PER_SEC },
	{ "m", 60 * NSEC_PER_SEC },
	{ "h", 3600 * NSEC_PER_SEC },
	{ NULL, 0 },
};

int chaos_parse_duration(const char *s, uint64_t *ns)
{
	return parse_with_unit(s, duration_units, ns);
}

static const struct unit size_units[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "KB", 1000 },
	{ "kB", 1000 },
	{ "KiB", 1024 },
	{ "MB", 1000 * 1000 },
	{ "MiB", 1024 * 1024 },
	{ "GB", 1000ULL * 1000 * 1000 },
	{ "GiB", 1024ULL * 1024 * 1024 },
	{ NULL, 0 },
};

int chaos_parse_size(const char *s, uint64_t *bytes)
{
	return parse_with_unit(s, size_units, bytes);
}

static const struct unit rate_units[] = {
	{ "B/s", 1 },
	{ "KB/s", 1000 },
	{ "kB/s", 1000 },
	{ "KiB/s", 1024 },
	{ "MB/s", 1000 * 1000 },
	{ "MiB/s", 1024 * 1024 },
	{ "GB/s", 1000ULL * 1000 * 1000 },
	{ "GiB/s", 1024ULL * 1024 * 1024 },
	{ NULL, 0 },
};

/* bit rates are converted to bytes: 8 bits a byte */
static const struct unit bitrate_units[] = {
	{ "bit/s", 1 },
	{ "Kbit/s", 1000 },
	{ "kbit/s", 1000 },
	{ "Mbit/s", 1000 * 1000 },
	{ "Gbit/s", 1000ULL * 1000 * 1000 },
	{ NULL, 0 },
};

int chaos_parse_rate(const char *s, uint64_t *bps)
{
	uint64_t v;
	int r = parse_with_unit(s, rate_units, &v);
	if (r == 0) {
		*bps = v;
		return 0;
	}
	if (r == -ERANGE)
		return r;
	r = parse_with_unit(s, bitrate_units, &v);
	if (r < 0)
		return r;
	*bps = v / 8;
	return 0;
}

int chaos_parse_prob(const char *s, uint32_t *ppm)
{
	uint64_t v;
	const char *end;
	if (!s || !*s)
		return -EINVAL;
	size_t n = strlen(s);
	if (s[n - 1] == '%') {
		int r = parse_decimal(s, 10000, &v, &end);
		if (r < 0)
			return r;
		if (end != s + n - 1)
			return -EINVAL;
	} else {
		int r = parse_decimal(s, 1000000, &v, &end);
		if (r < 0)
			return r;
		if (*end)
			return -EINVAL;
	}
	if (v > 1000000)
		return -ERANGE;
	*ppm = (uint32_t)v;
	return 0;
}

static int put(char *buf, size_t len, int n)
{
	(void)buf;
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int chaos_format_duration(uint64_t ns, char *buf, size_t len)
{
	static const struct unit u[] = {
		{ "h", 3600 * NSEC_PER_SEC }, { "m", 60 * NSEC_PER_SEC }, { "s", NSEC_PER_SEC },
		{ "ms", NSEC_PER_MSEC },      { "us", NSEC_PER_USEC },   { "ns", 1 },
	};
	if (ns == 0)
		return put(buf, len, snprintf(buf, len, "0s"));
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (ns % u[i].mult == 0)
			return put(buf, len,
				   snprintf(buf, len, "%llu%s", (unsigned long long)(ns / u[i].mult),
					    u[i].name));
	return -EINVAL; /* not reached: every value is a multiple of 1 ns */
}

int chaos_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const struct unit u[] = { { "GiB", 1024ULL * 1024 * 1024 },
					 { "MiB", 1024 * 1024 },
					 { "KiB", 1024 } };
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (bytes && bytes % u[i].mult == 0)
			return put(buf, len,
				   snprintf(buf, len, "%llu%s",
					    (unsigned long long)(bytes / u[i].mult), u[i].name));
	return put(buf, len, snprintf(buf, len, "%llu", (unsigned long long)bytes));
}

int chaos_format_rate(uint64_t bps, char *buf, size_t len)
{
	static const struct unit u[] = { { "GiB/s", 1024ULL * 1024 * 1024 },
					 { "MiB/s", 1024 * 1024 },
					 { "KiB/s", 1024 },
					 { "MB/s", 1000 * 1000 },
					 { "KB/s", 1000 } };
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (bps && bps % u[i].mult == 0)
			return put(buf, len,
				   snprintf(buf, len, "%llu%s", (unsigned long long)(bps / u[i].mult),
					    u[i].name));
	return put(buf, len, snprintf(buf, len, "%lluB/s", (unsigned long long)bps));
}

int chaos_format_prob(uint32_t ppm, char *buf, size_t len)
{
	/* print as a decimal fraction without trailing zeros: 250000 -> 0.25 */
	char frac[8];
	if (ppm >= 1000000)
		return put(buf, len, snprintf(buf, len, "1"));
	snprintf(frac, sizeof(frac), "%06u", ppm);
	for (int i = 5; i > 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	if (ppm == 0)
		return put(buf, len, snprintf(buf, len, "0"));
	return put(buf, len, snprintf(buf, len, "0.%s", frac));
}
