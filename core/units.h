/* units.h -- strict parsing and printing of numbers, durations, sizes, rates, probabilities
 *
 * Every parser takes the whole string: trailing garbage, overflow and empty input are errors
 * (never atoi).  They return 0 or -EINVAL / -ERANGE and never touch errno.
 */
#ifndef CHAOS_UNITS_H
#define CHAOS_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

/* Decimal unsigned integer, no sign, no spaces, at most max. */
int chaos_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* "250ms", "1.5s", "2m", "100us", "1h": a number and a unit (ns, us, ms, s, m, h). */
int chaos_parse_duration(const char *s, uint64_t *ns);

/* "100", "64KiB", "1MB": bytes, with an optional unit (B, KB, KiB, MB, MiB, GB, GiB). */
int chaos_parse_size(const char *s, uint64_t *bytes);

/* "64KiB/s", "1MB/s", "8Mbit/s": bytes per second. */
int chaos_parse_rate(const char *s, uint64_t *bps);

/* "0.25", "25%", "1": a probability as parts per million. */
int chaos_parse_prob(const char *s, uint32_t *ppm);

/* Shortest exact printing: 1500000000 -> "1500ms", 2000000000 -> "2s", 90 s -> "90s". */
int chaos_format_duration(uint64_t ns, char *buf, size_t len);
int chaos_format_size(uint64_t bytes, char *buf, size_t len);
int chaos_format_rate(uint64_t bps, char *buf, size_t len);
int chaos_format_prob(uint32_t ppm, char *buf, size_t len);

#endif
