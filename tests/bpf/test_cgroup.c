/* test_cgroup.c -- unit tests of finding cgroups: the cgroup2 mount, and containers by the names
 * docker, containerd, CRI-O and podman give their cgroups (in a tree of plain directories) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"

#define ID_A "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"
#define ID_B "3f4e5d6c7b8a11111111111111111111111111111111111111111111111111aa"
#define ID_C "c0ffee0000000000000000000000000000000000000000000000000000000001"
#define ID_D "d00d000000000000000000000000000000000000000000000000000000000002"
#define ID_E "e1e1000000000000000000000000000000000000000000000000000000000003"

static char root[64];

static void mkdirs(const char *rel)
{
	char path[PATH_MAX], *p;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/chaos-cgtest.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	mkdirs("system.slice/docker-" ID_A ".scope");
	mkdirs("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
	       "cri-containerd-" ID_B ".scope");
	mkdirs("machine.slice/libpod-conmon-" ID_C ".scope");
	mkdirs("machine.slice/libpod-" ID_C ".scope/container");
	mkdirs("docker/" ID_D);
	mkdirs("kubepods/besteffort/pod2/" ID_E);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void found(const char *id, const char *expect_rel)
{
	char out[PATH_MAX], err[512], expect[PATH_MAX];
	int rc = cg_find_container(root, id, out, sizeof(out), err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: %s", id, err);
	snprintf(expect, sizeof(expect), "%s/%s", root, expect_rel);
	assert_string_equal(out, expect);
}

static void test_containers(void **state)
{
	char out[PATH_MAX], err[512];
	(void)state;

	found(ID_A, "system.slice/docker-" ID_A ".scope");
	found("3f4e5d6c7b8a9", "system.slice/docker-" ID_A ".scope");
	found("3f4e5d6c7b8a1", "kubepods.slice/kubepods-burstable.slice/"
			       "kubepods-burstable-pod1.slice/cri-containerd-" ID_B ".scope");
	/* podman: the container, never its conmon */
	found("c0ffee", "machine.slice/libpod-" ID_C ".scope");
	/* the cgroupfs drivers */
	found("d00d", "docker/" ID_D);
	found("e1e1", "kubepods/besteffort/pod2/" ID_E);

	assert_int_equal(cg_find_container(root, "3f4e5d6c7b8a", out, sizeof(out), err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "is ambiguous: 2 cgroups match"));
	assert_int_equal(cg_find_container(root, "abcdef", out, sizeof(out), err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "no cgroup under"));
	assert_int_equal(cg_find_container(root, "web", out, sizeof(out), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "give the container id"));
	assert_int_equal(cg_find_container(root, "C0FFEE", out, sizeof(out), err, sizeof(err)),
			 -EINVAL);
}

static void test_mount(void **state)
{
	char path[PATH_MAX], out[PATH_MAX], err[512];
	FILE *f;
	(void)state;

	snprintf(path, sizeof(path), "%s/mounts", root);
	f = fopen(path, "w");
	fputs("proc /proc proc rw 0 0\n"
	      "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"
	      "cgroup2 /sys/fs/cgroup/my\\040unified cgroup2 rw 0 0\n",
	      f);
	fclose(f);
	assert_int_equal(cg_mount(path, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/my unified");

	f = fopen(path, "w");
	fputs("proc /proc proc rw 0 0\n", f);
	fclose(f);
	assert_int_equal(cg_mount(path, out, sizeof(out), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no cgroup v2 file system is mounted"));
}

static void test_within(void **state)
{
	(void)state;
	assert_true(cg_is_within("/sys/fs/cgroup/a/b", "/sys/fs/cgroup/a"));
	assert_true(cg_is_within("/sys/fs/cgroup/a", "/sys/fs/cgroup/a/"));
	assert_true(cg_is_within("/sys/fs/cgroup/a", "/sys/fs/cgroup/a"));
	assert_false(cg_is_within("/sys/fs/cgroup/ab", "/sys/fs/cgroup/a"));
	assert_false(cg_is_within("/sys/fs/cgroup", "/sys/fs/cgroup/a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_mount),
		cmocka_unit_test(test_within),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
