/* ctor.c -- a library whose constructor makes a hooked call before main, and maybe before the
 * fault library's own constructor has run (test_chaos_exec.sh).  It connects to
 * 127.0.0.1:$CTOR_PORT and prints what it saw. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((constructor)) static void early(void)
{
	const char *p = getenv("CTOR_PORT");
	if (!p)
		return;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(p)) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	printf("ctor %s\n", rc == 0 ? "ok" : errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
	fflush(stdout);
	close(fd);
}
