/* errnos.c -- errno names, and which errnos each call can really return (errnos.def) */
#include "errnos.h"

#include <errno.h>
#include <string.h>

#include "rule.h"

struct errno_entry {
	const char *name;
	int err;
	unsigned on;
};

#define X(name, c, s, r)                                                                          \
	{ #name, name, (c ? CHAOS_ON_CONNECT : 0) | (s ? CHAOS_ON_SEND : 0) |                     \
			       (r ? CHAOS_ON_RECV : 0) },
static const struct errno_entry table[] = {
#include "errnos.def"
};
#undef X

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

int chaos_errno_parse(const char *name)
{
	for (size_t i = 0; i < TABLE_LEN; i++)
		if (strcmp(table[i].name, name) == 0)
			return table[i].err;
	if (strcmp(name, "EWOULDBLOCK") == 0)
		return EAGAIN;
	return -1;
}

const char *chaos_errno_name(int err)
{
	for (size_t i = 0; i < TABLE_LEN; i++)
		if (table[i].err == err)
			return table[i].name;
	return NULL;
}

bool chaos_errno_valid_for(int err, unsigned on)
{
	on &= CHAOS_ON_CONNECT | CHAOS_ON_SEND | CHAOS_ON_RECV;
	for (size_t i = 0; i < TABLE_LEN; i++)
		if (table[i].err == err)
			return (table[i].on & on) == on;
	return false;
}

int chaos_errno_list(unsigned on, char *buf, size_t len)
{
	size_t used = 0;
	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (size_t i = 0; i < TABLE_LEN; i++) {
		if ((table[i].on & on) != on)
			continue;
		size_t n = strlen(table[i].name) + (used ? 2 : 0);
		if (used + n + 1 > len)
			return -ENOSPC;
		if (used) {
			memcpy(buf + used, ", ", 2);
			used += 2;
		}
		memcpy(buf + used, table[i].name, strlen(table[i].name) + 1);
		used += strlen(table[i].name);
	}
	return (int)used;
}
