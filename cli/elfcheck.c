/* elfcheck.c -- can LD_PRELOAD reach this program?  (static, Go, setuid, file capabilities)
 *
 * The dynamic loader drops LD_PRELOAD without a word for setuid and setcap programs, a static
 * binary has no loader at all, and Go makes its system calls itself.  A fault injector that
 * let any of them run would inject nothing and say nothing, so chaos-exec refuses them.
 */
#include "elfcheck.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int fail(char *why, size_t len, const char *fmt, const char *path)
{
	snprintf(why, len, fmt, path);
	return -1;
}

static bool read_at(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off) == (ssize_t)len;
}

/* Does the ELF file have a section of this name?  (Go marks its binaries with .go.buildinfo
 * and .note.go.buildid.) */
static bool has_section(int fd, const Elf64_Ehdr *eh, const char *const *names)
{
	Elf64_Shdr strtab;
	if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum > 4096 ||
	    eh->e_shstrndx >= eh->e_shnum)
		return false;
	if (!read_at(fd, &strtab, sizeof(strtab),
		     (off_t)(eh->e_shoff + (Elf64_Off)eh->e_shstrndx * sizeof(Elf64_Shdr))))
		return false;
	if (strtab.sh_size == 0 || strtab.sh_size > (1 << 20))
		return false;
	char *str = malloc(strtab.sh_size + 1);
	if (!str)
		return false;
	bool found = false;
	if (read_at(fd, str, strtab.sh_size, (off_t)strtab.sh_offset)) {
		str[strtab.sh_size] = '\0';
		for (unsigned i = 0; i < eh->e_shnum && !found; i++) {
			Elf64_Shdr sh;
			if (!read_at(fd, &sh, sizeof(sh),
				     (off_t)(eh->e_shoff + (Elf64_Off)i * sizeof(sh))))
				break;
			if (sh.sh_name >= strtab.sh_size)
				continue;
			for (const char *const *n = names; *n; n++)
				if (strcmp(str + sh.sh_name, *n) == 0)
					found = true;
		}
	}
	free(str);
	return found;
}

static int check_elf(int fd, const char *path, char *why, size_t len)
{
	Elf64_Ehdr eh;
	if (!read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return 0; /* not ELF: the kernel decides (binfmt_misc, ...) */
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return fail(why, len,
			    "%s is a 32-bit program: the 64-bit fault library cannot be loaded "
			    "into it, so no fault would be injected",
			    path);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 1024)
		return 0;
	bool interp = false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (!read_at(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof(ph))))
			return 0;
		if (ph.p_type == PT_INTERP)
			interp = true;
	}
	static const char *const go[] = { ".go.buildinfo", ".note.go.buildid", NULL };
	if (has_section(fd, &eh, go))
		return fail(why, len,
			    "%s is a Go program: Go makes its network calls without libc, so "
			    "LD_PRELOAD cannot fault them (use chaos-attach, which works in the "
			    "kernel)",
			    path);
	if (!interp)
		return fail(why, len,
			    "%s is statically linked: LD_PRELOAD cannot reach it, so no fault "
			    "would be injected (use chaos-attach, which works in the kernel)",
			    path);
	return 0;
}

int elf_check_preloadable(const char *path, char *why, size_t len, int depth)
{
	struct stat st;
	/* the mode and the capabilities need no read permission: an execute-only setuid
	 * program is still one */
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0; /* execve will report it */
	if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
	    ((st.st_mode & S_ISGID) && st.st_gid != getegid()))
		return fail(why, len,
			    "%s is setuid or setgid: the loader ignores LD_PRELOAD for it, so no "
			    "fault would be injected",
			    path);
	if (getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0)
		return fail(why, len,
			    "%s has file capabilities (setcap): the loader ignores LD_PRELOAD for "
			    "it, so no fault would be injected",
			    path);
	/* an unreadable program cannot be looked into (static? Go?): the library's report that it
	 * loaded, which chaos-exec waits for, tells then */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char head[256];
	ssize_t n = pread(fd, head, sizeof(head) - 1, 0);
	if (n > 2 && head[0] == '#' && head[1] == '!' && depth < 4) {
		/* a script: what matters is its interpreter */
		head[n] = '\0';
		char *p = head + 2, *end;
		while (*p == ' ' || *p == '\t')
			p++;
		end = p;
		while (*end && *end != ' ' && *end != '\t' && *end != '\n')
			end++;
		*end = '\0';
		close(fd);
		return *p ? elf_check_preloadable(p, why, len, depth + 1) : 0;
	}
	int r = check_elf(fd, path, why, len);
	close(fd);
	return r;
}
