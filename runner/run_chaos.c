/* run_chaos.c -- our extension: a service under chaos-exec and faults through chaos-ctl */
#include "run.h"

#include <stdio.h>
#include <string.h>

int run_chaos_validate_extension(const cJSON *ext, char *err, size_t errlen)
{
	(void)ext;
	(void)err;
	(void)errlen;
	return 0;
}

int run_chaos_validate_provider(const cJSON *provider, const char *name, char *err,
				size_t errlen)
{
	(void)provider;
	snprintf(err, errlen, "provider type 'chaos' is not implemented yet (activity '%s')", name);
	return -1;
}

int run_chaos_start(struct run_state *st, char *err, size_t errlen)
{
	(void)st;
	(void)err;
	(void)errlen;
	return 0;
}

void run_chaos_provider(struct run_state *st, const cJSON *activity, const cJSON *provider,
			struct run_result *res)
{
	(void)st;
	(void)activity;
	(void)provider;
	res->fail = RUN_ERROR;
	snprintf(res->msg, sizeof(res->msg), "not implemented");
}

void run_chaos_cleanup(struct run_state *st)
{
	(void)st;
}

cJSON *run_chaos_journal(struct run_state *st)
{
	(void)st;
	return NULL;
}

void run_chaos_counts(struct run_state *st, size_t *added, size_t *removed, size_t *left)
{
	(void)st;
	*added = *removed = *left = 0;
}

void run_chaos_free(struct run_state *st)
{
	(void)st;
}
