/* hookcost.c -- what a hook adds to one call, measured inside one process: the hooked function
 * (as the program calls it) against libc's own, in alternating blocks
 *
 *   hookcost pipe|file|getaddrinfo BLOCKS CALLS
 *
 * Under LD_PRELOAD the program's read() is the preload's hook; libc's read() is found with
 * dlopen("libc.so.6", RTLD_NOLOAD).  Both are called through function pointers, block after
 * block (CALLS calls each, the order swapped every other pair), so drift and noise from other
 * processes hit both alike.  Prints one line per pair of blocks:
 *   "hooked_ns X libc_ns Y"   (per call)
 * In a process without the preload both pointers are libc's, which shows the method's own bias.
 *
 * pipe: write 1 byte, read it back (two calls).  file: lseek, write 64 bytes, lseek, read them
 * (the lseeks are not hooked: same in both).  getaddrinfo: resolve "localhost" (/etc/hosts).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef ssize_t (*rw_fn)(int, void *, size_t);
typedef ssize_t (*wr_fn)(int, const void *, size_t);
typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

struct fns {
	rw_fn rd;
	wr_fn wr;
	gai_fn gai;
};

static int rfd = -1, wfd = -1;

static void die(const char *what)
{
	fprintf(stderr, "hookcost: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static long num(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 1 || v > max) {
		fprintf(stderr, "hookcost: '%s' is not a number from 1 to %ld\n", s, max);
		exit(2);
	}
	return v;
}

static const char *mode;

/* One block: ns per call */
static double block(const struct fns *f, long calls)
{
	char buf[64] = { 0 };
	double t0 = now_ns();
	if (strcmp(mode, "pipe") == 0) {
		for (long i = 0; i < calls / 2; i++) {
			if (f->wr(wfd, buf, 1) != 1 || f->rd(rfd, buf, 1) != 1)
				die("pipe");
		}
	} else if (strcmp(mode, "file") == 0) {
		for (long i = 0; i < calls / 2; i++) {
			lseek(rfd, 0, SEEK_SET);
			if (f->wr(rfd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				die("write");
			lseek(rfd, 0, SEEK_SET);
			if (f->rd(rfd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				die("read");
		}
	} else {
		struct addrinfo h = { .ai_socktype = SOCK_STREAM }, *res;
		for (long i = 0; i < calls; i++) {
			int rc = f->gai("localhost", "80", &h, &res);
			if (rc) {
				fprintf(stderr, "hookcost: getaddrinfo localhost: %s\n", gai_strerror(rc));
				exit(1);
			}
			freeaddrinfo(res);
		}
	}
	double per = (now_ns() - t0) / (double)(strcmp(mode, "getaddrinfo") == 0 ? calls : calls / 2 * 2);
	return per;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: hookcost pipe|file|getaddrinfo BLOCKS CALLS\n");
		return 2;
	}
	mode = argv[1];
	long blocks = num(argv[2], 100000), calls = num(argv[3], 1L << 30);
	if (strcmp(mode, "pipe") == 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			die("pipe");
		rfd = p[0], wfd = p[1];
	} else if (strcmp(mode, "file") == 0) {
		char path[] = "/tmp/chaos-bench-XXXXXX";
		rfd = mkostemp(path, O_CLOEXEC);
		if (rfd < 0)
			die("mkstemp");
		unlink(path);
	} else if (strcmp(mode, "getaddrinfo") != 0) {
		fprintf(stderr, "hookcost: unknown mode '%s'\n", mode);
		return 2;
	}

	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!libc) {
		fprintf(stderr, "hookcost: libc.so.6: %s\n", dlerror());
		return 1;
	}
	struct fns hooked = { read, write, getaddrinfo };
	struct fns plain = { (rw_fn)dlsym(libc, "read"), (wr_fn)dlsym(libc, "write"),
			     (gai_fn)dlsym(libc, "getaddrinfo") };
	if (!plain.rd || !plain.wr || !plain.gai) {
		fprintf(stderr, "hookcost: libc symbols: %s\n", dlerror());
		return 1;
	}
	/* volatile: keep the calls indirect in both cases */
	struct fns *volatile h = &hooked, *volatile p = &plain;

	block(h, calls); /* warm up both */
	block(p, calls);
	for (long b = 0; b < blocks; b++) {
		double x, y;
		if (b & 1) {
			y = block(p, calls);
			x = block(h, calls);
		} else {
			x = block(h, calls);
			y = block(p, calls);
		}
		printf("hooked_ns %.3f libc_ns %.3f\n", x, y);
	}
	return 0;
}
