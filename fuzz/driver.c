/*
 * driver.c - replay inputs through a fuzz target without libFuzzer.
 *
 * Every argument is a file, or a directory whose regular files are run in
 * name order (not recursively). A target that finds a bug aborts, so the exit
 * status of this program is the verdict: 0 when every input ran.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Inputs larger than this are refused rather than replayed; libFuzzer's default -max_len is far below it. */
#define DRIVER_INPUT_MAX (4 * 1024 * 1024)

static int run_file(const char *path)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, r = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "driver: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_size > DRIVER_INPUT_MAX) {
		fprintf(stderr, "driver: '%s': cannot stat or too large\n", path);
		goto out;
	}
	/* An exact-size allocation lets AddressSanitizer see a read past the input. */
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (!buf) {
		fprintf(stderr, "driver: '%s': out of memory\n", path);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "driver: cannot read '%s': %s\n", path, n < 0 ? strerror(errno) : "short file");
			goto out;
		}
		len += (size_t)n;
	}
	(void)LLVMFuzzerTestOneInput(buf, len);
	r = 0;
out:
	free(buf);
	(void)close(fd);
	return r;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Returns how many inputs ran, or -1. */
static long run_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	long count = 0;
	int n;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "driver: '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) < 0 ? -1 : 1;
	n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "driver: cannot list '%s': %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char *file = NULL;

		if (count >= 0 && names[i]->d_name[0] != '.') {
			if (asprintf(&file, "%s/%s", path, names[i]->d_name) < 0) {
				file = NULL; /* undefined after a failure */
				count = -1;
			}
			else if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
				count = run_file(file) < 0 ? -1 : count + 1;
			free(file);
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	long total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIRECTORY...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		long n = run_path(argv[i]);

		if (n < 0)
			return 1;
		total += n;
	}
	printf("%s: %ld inputs ran\n", argv[0], total);
	return 0;
}
