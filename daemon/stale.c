/* stale.c - see stale.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stale.h"
#include "swap.h"

#define DELETED_SUFFIX " (deleted)"

static bool same(const struct stat *st, dev_t dev, ino_t ino)
{
	return st->st_dev == dev && st->st_ino == ino;
}

static void read_comm(int procfd, long pid, char comm[17])
{
	char path[64];
	ssize_t n;
	int fd;

	comm[0] = '\0';
	(void)snprintf(path, sizeof(path), "%ld/comm", pid);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, 16);
	(void)close(fd);
	if (n <= 0)
		n = 0;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

static int cmp_pid(const void *a, const void *b)
{
	const struct stale_proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

int stale_scan(const char *path, const struct stale_image *known, size_t n_known, pid_t except,
               struct stale_proc ret[STALE_MAX])
{
	struct stat cur, prev, st;
	bool have_cur, have_prev = false;
	char *prev_path = swap_prev_path(path);
	size_t plen = strlen(path);
	struct dirent *e;
	int procfd, count = 0;
	DIR *d;

	have_cur = stat(path, &cur) == 0;
	if (prev_path && lstat(prev_path, &prev) == 0 && S_ISREG(prev.st_mode))
		have_prev = true;
	free(prev_path);
	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return -errno;
	d = fdopendir(procfd);
	if (!d) {
		int r = -errno;

		(void)close(procfd);
		return r;
	}
	while ((e = readdir(d))) {
		char exe[64], link[PATH_MAX + sizeof(DELETED_SUFFIX)];
		bool stale = false;
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		ssize_t n;

		if (*end || pid <= 0 || (pid_t)pid == except)
			continue;
		(void)snprintf(exe, sizeof(exe), "%ld/exe", pid);
		/* stat() follows the magic link to the image, deleted or not. */
		if (fstatat(procfd, exe, &st, 0) < 0)
			continue;
		if (have_cur && same(&st, cur.st_dev, cur.st_ino))
			continue;
		if (have_prev && same(&st, prev.st_dev, prev.st_ino))
			stale = true;
		for (size_t i = 0; !stale && i < n_known; i++)
			stale = same(&st, known[i].dev, known[i].ino);
		if (!stale) {
			n = readlinkat(procfd, exe, link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = '\0';
				stale = (size_t)n == plen + strlen(DELETED_SUFFIX) && memcmp(link, path, plen) == 0 &&
				        strcmp(link + plen, DELETED_SUFFIX) == 0;
			}
		}
		if (!stale)
			continue;
		if (count < STALE_MAX) {
			ret[count].pid = (pid_t)pid;
			read_comm(procfd, pid, ret[count].comm);
		}
		count++;
	}
	(void)closedir(d);
	qsort(ret, count < STALE_MAX ? (size_t)count : STALE_MAX, sizeof(ret[0]), cmp_pid);
	return count;
}
