/*
 * fuzz-config.c - config_load() on arbitrary file contents.
 *
 * config_load() takes a path, so each input is written to a memfd (no file
 * system is touched) and loaded through /proc/self/fd/N. Success and failure
 * both hand back memory that must be freed; LeakSanitizer checks it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static int memfd = -1;
static char memfd_path[64];

static void open_memfd(void)
{
	memfd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("fuzz-config: memfd_create");
		abort();
	}
	(void)snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
}

static void put_input(const uint8_t *data, size_t size)
{
	size_t done = 0;

	if (ftruncate(memfd, 0) < 0)
		abort();
	while (done < size) {
		ssize_t n = pwrite(memfd, data + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *config = NULL;
	char *errors = NULL;
	int r;

	if (memfd < 0)
		open_memfd();
	put_input(data, size);
	r = config_load(memfd_path, &config, &errors);
	if (r == 0) {
		/* A valid configuration may have no target; each it has is found by its name. */
		if (!config || (config->n_targets > 0 && !config->targets))
			abort();
		for (size_t i = 0; i < config->n_targets; i++)
			if (config_find_target(config, config->targets[i].name) != &config->targets[i] ||
			    config->targets[i].path[0] != '/')
				abort();
		config_free(config);
	} else {
		/* Every refusal names at least one problem, as newline-terminated lines. */
		if (!errors || !errors[0] || errors[strlen(errors) - 1] != '\n')
			abort();
	}
	free(errors);
	return 0;
}
