/*
 * internal.h - state shared by the files of libupdater.
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
	bool secure; /* AT_SECURE: set-uid or set-gid, see libupdater.c */
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

/*
 * The environment variable that hands the library's inotify instance to the
 * next image. Destroying an inotify instance makes the kernel wait for a
 * grace period (6-16 ms were measured inside execve(), most of an update's
 * latency), so the instance is passed on instead of closed, and the new
 * image's updater_watch_fd() adopts it.
 */
#define UPDATER_WATCH_FD_VAR "UPDATER_WATCH_FD"

/*
 * Before an exec: tell the daemon this process stops listening, and return a
 * copy of the inotify instance that survives the exec, numbered ABOVE or
 * higher (-1 when there is none). After a failed exec: listen again and close
 * that copy. Both do nothing without a watch.
 */
int updater_watch_before_exec_(int above);
void updater_watch_after_failed_exec_(int handed);

/*
 * Forget every descriptor given to updater_keep_fd(), so a caller that keeps
 * a changing set (updaterd's subscriber connections) can make the list
 * afresh before each updater_reexec(). Not exported: updaterd links the
 * library's code statically.
 */
void updater_keep_clear_(void);
/*
 * Also send FD, named NAME, to systemd's file descriptor store when the unit
 * has one ($FDSTORE > 0 and $NOTIFY_SOCKET): fdstore.c. Returns 0 when sent
 * or not wanted, else a negative errno (the caller ignores it).
 */
int updater_fdstore_(int fd, const char *name);

/*
 * The pre-flight of updater_reexec() (preflight.c). UPDATER_PREFLIGHT=FD
 * marks the child that runs the new file once: its updater_init() writes
 * "ok" on FD and exits at once (updater_preflight_child_, called first in
 * updater_init). updater_preflight_() runs that child and returns 0 once it
 * said "ok", or -ENOEXEC (it ended before updater_init), -ETIMEDOUT (no
 * answer within UPDATER_PREFLIGHT_TIMEOUT seconds, default 10), or the
 * errno of its failed execve(). UPDATER_NO_PREFLIGHT set: 0 at once.
 */
#define UPDATER_PREFLIGHT_VAR "UPDATER_PREFLIGHT"
#define UPDATER_PREFLIGHT_TIMEOUT_VAR "UPDATER_PREFLIGHT_TIMEOUT"
#define UPDATER_NO_PREFLIGHT_VAR "UPDATER_NO_PREFLIGHT"
#define UPDATER_PREFLIGHT_TIMEOUT_MS 10000
void updater_preflight_child_(void);
int updater_preflight_(const char *path, char *const argv[]);

/* In updater_init(): take an instance handed over by the previous image (or none). */
void updater_watch_adopt_(void);

#endif
