/* rulescale.c -- what a large rule set costs: loading it and looking a call up in it
 *
 *   rulescale core FILE      parse FILE's rules with the rule engine (core/) as the preload
 *                            library does, index them, then time the lookups a connect and a
 *                            DNS lookup make, walking every rule and through the index
 *   rulescale probe PAIRS    inside a process running the preload library: how long the library
 *                            took to start, its memory, and what its connect and getaddrinfo
 *                            cost over libc's own (PAIRS alternating calls of each)
 *
 * probe is linked with libbench-envrules.so, which hands the library the rules in
 * $BENCH_RULES_FILE before it starts (see envrules.c).  Output: "key value" lines.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "index.h"
#include "rule.h"

extern uint64_t bench_envrules_t0_ns;
extern size_t bench_envrules_bytes;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "rulescale: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static const struct chaos_target *rule_target(const void *rules, size_t i)
{
	return &((const struct chaos_rule *)rules)[i].target;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* ---- core: the rule engine alone ------------------------------------------------------------ */

static int core(const char *path)
{
	char line[CHAOS_RULE_TEXT_MAX + 2], err[CHAOS_ERR_MAX], text[CHAOS_RULE_TEXT_MAX + 1];
	size_t cap = 1024, n = 0, bad = 0;
	struct chaos_rule *rules = malloc(cap * sizeof(*rules));
	FILE *f = fopen(path, "re");
	if (!f || !rules)
		die(path);

	uint64_t t0 = now_ns();
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		if (n == cap) {
			cap *= 2;
			rules = realloc(rules, cap * sizeof(*rules));
			if (!rules)
				die("realloc");
		}
		/* what rules_load_env does for each rule */
		if (chaos_rule_parse(line, &rules[n], err, sizeof(err)) < 0 ||
		    chaos_rule_supported(&rules[n], CHAOS_FE_PRELOAD, err, sizeof(err)) < 0) {
			bad++;
			continue;
		}
		chaos_rule_format(&rules[n], text, sizeof(text));
		n++;
	}
	uint64_t t1 = now_ns();
	fclose(f);
	if (bad) {
		fprintf(stderr, "rulescale: %s: %zu rules refused\n", path, bad);
		return 1;
	}

	/* the index the library builds over the rules (core/index.h) */
	uint64_t t2 = now_ns();
	struct chaos_index *ix = chaos_index_new(n, rule_target, rules);
	uint64_t t3 = now_ns();
	if (!ix)
		die("chaos_index_new");

	/* a connect to a destination no rule covers: the walk looks at every rule, the index
	 * at the rules it yields (rules_fire) */
	struct chaos_dest d = { .proto = CHAOS_PROTO_TCP, .family = AF_INET, .port = 40000 };
	inet_pton(AF_INET, "127.0.0.1", d.addr);
	enum { LOOKUPS = 21 };
	uint64_t conn[LOOKUPS], dns[LOOKUPS], iconn[LOOKUPS], idns[LOOKUPS];
	size_t hits = 0, ihits = 0;
	for (int k = 0; k < LOOKUPS; k++) {
		uint64_t a = now_ns();
		for (size_t i = 0; i < n; i++) {
			const struct chaos_rule *r = &rules[i];
			if (!(r->on & CHAOS_ON_CONNECT))
				continue;
			if (r->target.kind == CHAOS_HOST_NAME && d.nnames == 0)
				continue;
			hits += chaos_target_match(&r->target, &d);
		}
		uint64_t b = now_ns();
		for (int pass = 0; pass < 2; pass++) /* rules_fire_dns: failures, then answers */
			for (size_t i = 0; i < n; i++) {
				const struct chaos_rule *r = &rules[i];
				if (r->action != CHAOS_ACT_DNS ||
				    (r->dns == CHAOS_DNS_ADDRESS) != (pass == 1))
					continue;
				hits += chaos_target_match_name(&r->target, "api.example.com");
			}
		uint64_t c = now_ns();
		struct chaos_index_iter it;
		size_t i;
		for (chaos_index_dest(ix, n, &d, &it); chaos_index_next(&it, &i);) {
			const struct chaos_rule *r = &rules[i];
			if (!(r->on & CHAOS_ON_CONNECT))
				continue;
			if (r->target.kind == CHAOS_HOST_NAME && d.nnames == 0)
				continue;
			ihits += chaos_target_match(&r->target, &d);
		}
		uint64_t e = now_ns();
		for (int pass = 0; pass < 2; pass++)
			for (chaos_index_name(ix, n, "api.example.com", &it); chaos_index_next(&it, &i);) {
				const struct chaos_rule *r = &rules[i];
				if (r->action != CHAOS_ACT_DNS ||
				    (r->dns == CHAOS_DNS_ADDRESS) != (pass == 1))
					continue;
				ihits += chaos_target_match_name(&r->target, "api.example.com");
			}
		uint64_t g = now_ns();
		conn[k] = b - a;
		dns[k] = c - b;
		iconn[k] = e - c;
		idns[k] = g - e;
	}
	if (hits != ihits) {
		fprintf(stderr, "rulescale: the index found %zu matches, the walk %zu\n", ihits, hits);
		return 1;
	}
	printf("rules %zu\n", n);
	printf("parse_ms %.3f\n", (double)(t1 - t0) / 1e6);
	printf("parse_ns_per_rule %.1f\n", (double)(t1 - t0) / (double)n);
	printf("rule_struct_bytes %zu\n", sizeof(struct chaos_rule));
	printf("index_ms %.3f\n", (double)(t3 - t2) / 1e6);
	printf("connect_lookup_us %.3f\n", (double)median(conn, LOOKUPS) / 1e3);
	printf("dns_lookup_us %.3f\n", (double)median(dns, LOOKUPS) / 1e3);
	printf("connect_index_us %.3f\n", (double)median(iconn, LOOKUPS) / 1e3);
	printf("dns_index_us %.3f\n", (double)median(idns, LOOKUPS) / 1e3);
	chaos_index_free(ix);
	printf("matches %zu\n", hits);
	free(rules);
	return 0;
}

/* ---- probe: the preload library with its rules -------------------------------------------- */

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static uint64_t time_connect(connect_fn fn, int l, const struct sockaddr_in *a)
{
	struct linger lin = { 1, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	uint64_t t0 = now_ns();
	if (fn(fd, (const struct sockaddr *)a, sizeof(*a)) < 0)
		die("connect");
	uint64_t t = now_ns() - t0;
	int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		die("accept");
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)); /* no TIME_WAIT */
	close(fd);
	close(c);
	return t;
}

static uint64_t time_gai(gai_fn fn)
{
	struct addrinfo h = { .ai_socktype = SOCK_STREAM }, *res;
	uint64_t t0 = now_ns();
	int rc = fn("localhost", "80", &h, &res);
	uint64_t t = now_ns() - t0;
	if (rc) {
		fprintf(stderr, "rulescale: getaddrinfo localhost: %s\n", gai_strerror(rc));
		exit(1);
	}
	freeaddrinfo(res);
	return t;
}

static int probe(long pairs)
{
	uint64_t start = now_ns();
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	printf("init_ms %.3f\n", (double)(start - bench_envrules_t0_ns) / 1e6);
	printf("rules_bytes %zu\n", bench_envrules_bytes);
	printf("rss_kb %ld\n", rss_kb());

	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!libc) {
		fprintf(stderr, "rulescale: libc.so.6: %s\n", dlerror());
		return 1;
	}
	connect_fn hooked_connect = connect, libc_connect = (connect_fn)dlsym(libc, "connect");
	gai_fn hooked_gai = getaddrinfo, libc_gai = (gai_fn)dlsym(libc, "getaddrinfo");
	if (!libc_connect || !libc_gai) {
		fprintf(stderr, "rulescale: libc symbols: %s\n", dlerror());
		return 1;
	}

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listen");

	uint64_t *hc = calloc((size_t)pairs, sizeof(uint64_t)), *lc = calloc((size_t)pairs, sizeof(uint64_t));
	uint64_t *hg = calloc((size_t)pairs, sizeof(uint64_t)), *lg = calloc((size_t)pairs, sizeof(uint64_t));
	if (!hc || !lc || !hg || !lg)
		die("calloc");
	time_connect(hooked_connect, l, &a); /* warm up (the first call classifies, resolves) */
	time_gai(hooked_gai);
	for (long i = 0; i < pairs; i++) {
		if (i & 1) {
			lc[i] = time_connect(libc_connect, l, &a);
			hc[i] = time_connect(hooked_connect, l, &a);
			lg[i] = time_gai(libc_gai);
			hg[i] = time_gai(hooked_gai);
		} else {
			hc[i] = time_connect(hooked_connect, l, &a);
			lc[i] = time_connect(libc_connect, l, &a);
			hg[i] = time_gai(hooked_gai);
			lg[i] = time_gai(libc_gai);
		}
	}
	printf("connect_hooked_us %.3f\n", (double)median(hc, (size_t)pairs) / 1e3);
	printf("connect_libc_us %.3f\n", (double)median(lc, (size_t)pairs) / 1e3);
	printf("gai_hooked_us %.3f\n", (double)median(hg, (size_t)pairs) / 1e3);
	printf("gai_libc_us %.3f\n", (double)median(lg, (size_t)pairs) / 1e3);
	close(l);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "core") == 0)
		return core(argv[2]);
	if (argc == 3 && strcmp(argv[1], "probe") == 0) {
		char *end;
		errno = 0;
		long pairs = strtol(argv[2], &end, 10);
		if (!*argv[2] || *end || errno || pairs < 1 || pairs > 1000000) {
			fprintf(stderr, "rulescale: '%s' is not a number from 1 to 1000000\n",
				argv[2]);
			return 2;
		}
		return probe(pairs);
	}
	fprintf(stderr, "usage: rulescale core FILE | rulescale probe PAIRS\n");
	return 2;
}
