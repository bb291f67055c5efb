/* unit-files.c - see unit-files.h. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit-files.h"

static char scratch[PATH_MAX];
static char mounted[PATH_MAX]; /* "" when nothing is mounted */

void scratch_make(char *buf, size_t size, const char *name)
{
	(void)umask(022);
	ck_assert_int_lt(snprintf(scratch, sizeof(scratch), "/tmp/%s.XXXXXX", name), (int)sizeof(scratch));
	ck_assert_msg(mkdtemp(scratch) != NULL, "mkdtemp: %s", strerror(errno));
	ck_assert_int_lt(snprintf(buf, size, "%s", scratch), (int)size);
	mounted[0] = '\0';
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *info)
{
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void scratch_remove(void)
{
	if (mounted[0]) {
		char *const argv[] = { "/bin/umount", mounted, NULL };

		(void)run_program(argv);
		mounted[0] = '\0';
	}
	/* The tree may hold read-only directories of a failed test: root gets through anyway. */
	if (scratch[0])
		(void)nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	scratch[0] = '\0';
}

bool scratch_mount_tmpfs(const char *dir)
{
	char *const argv[] = { "/bin/mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs",
		               (char *)dir, NULL };

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: mounting a tmpfs needs root\n");
		return false;
	}
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	if (run_program(argv) != 0) {
		fprintf(stderr, "skipped: cannot mount a tmpfs at '%s'\n", dir);
		return false;
	}
	ck_assert_int_lt(snprintf(mounted, sizeof(mounted), "%s", dir), (int)sizeof(mounted));
	return true;
}

int run_program(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0)
			(void)dup2(null, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_msg(fd >= 0, "cannot create '%s': %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
}

char *read_file(const char *path, size_t *ret_len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "cannot open '%s': %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	(void)close(fd);
	if (ret_len)
		*ret_len = (size_t)st.st_size;
	return buf;
}

struct stat lstat_of(const char *path)
{
	struct stat st;

	ck_assert_msg(lstat(path, &st) == 0, "lstat '%s': %s", path, strerror(errno));
	return st;
}

unsigned dir_entries(const char *dir)
{
	unsigned n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	ck_assert_msg(d != NULL, "opendir '%s': %s", dir, strerror(errno));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	return n;
}
