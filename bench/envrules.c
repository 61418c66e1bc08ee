/* envrules.c -- libbench-envrules.so: puts a rule file into CHAOS_RULES before the preload
 * library starts, so that rule sets too large for execve (one environment string is limited to
 * 128 KiB) still reach the library through its own loading code (rules_load_env)
 *
 * rulescale links this library; the dynamic loader runs its constructor before the constructor
 * of the LD_PRELOAD library (neither depends on the other, and the one loaded later starts
 * first).  BENCH_RULES_FILE names the file (one rule per line); bench_envrules_t0_ns is
 * CLOCK_MONOTONIC just after CHAOS_RULES was set, for rulescale to time the library's start.
 *
 * The file is read with raw system calls: read() and close() are the library's hooks, and the
 * first hook called starts the library (before CHAOS_RULES is set).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_envrules_t0_ns;
size_t bench_envrules_bytes;

static void fail(const char *path, const char *what)
{
	fprintf(stderr, "libbench-envrules: %s: %s: %s\n", path, what, strerror(errno));
	_exit(1);
}

__attribute__((constructor)) static void envrules(void)
{
	const char *path = getenv("BENCH_RULES_FILE");
	struct stat st;
	struct timespec t;

	if (path && *path) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			fail(path, "open");
		char *text = malloc((size_t)st.st_size + 1);
		if (!text)
			fail(path, "malloc");
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t n = syscall(SYS_read, fd, text + got, (size_t)st.st_size - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				fail(path, "read");
			got += (size_t)n;
		}
		syscall(SYS_close, fd);
		while (got > 0 && text[got - 1] == '\n')
			got--;
		text[got] = '\0';
		if (setenv("CHAOS_RULES", text, 1) < 0)
			fail(path, "setenv");
		bench_envrules_bytes = got;
		free(text);
	}
	clock_gettime(CLOCK_MONOTONIC, &t);
	bench_envrules_t0_ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
