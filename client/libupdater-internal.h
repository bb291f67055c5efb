/*
 * libupdater-internal.h - state shared by the files of libupdater.
 *
 * The library keeps one process-wide state: a process runs one executable.
 * Nothing here is exported (libupdater.sym exports only updater_*).
 */
#ifndef UPDATER_LIBUPDATER_INTERNAL_H
#define UPDATER_LIBUPDATER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct named_fd {
	int fd;
	char *name;
};

struct updater_state {
	bool initialized;
	char *path; /* absolute; symlinks are not resolved, so a flip is seen */
	dev_t dev;  /* of the running image */
	ino_t ino;
	char **argv; /* a copy, NULL-terminated */

	struct named_fd *kept; /* in the order they were first kept */
	size_t n_kept;
	struct named_fd *inherited;
	size_t n_inherited;
};

extern struct updater_state updater_state_;

/* The daemon's socket: UPDATER_SOCKET (not for set-uid callers) or the default. */
const char *updater_socket_path_(void);

/*
 * Tell the daemon this process stops listening before an exec, and that it
 * listens again when the exec failed. Both do nothing without a subscription.
 */
void updater_watch_before_exec_(void);
void updater_watch_after_failed_exec_(void);

#endif
