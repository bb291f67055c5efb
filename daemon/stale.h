/*
 * stale.h - the processes still running a replaced image of a target's
 * path (SPEC section 15: an update is done when no process runs the old
 * file).
 *
 * A process is stale for PATH when the image it runs (/proc/PID/exe:
 * device and inode) is not the file now at PATH, and it is one PATH used to
 * be: the kernel names its executable "PATH (deleted)", or it is the file
 * kept as .NAME.updater-prev beside PATH, or one of the images the caller
 * saw replaced (a swap result's device and inode). The scan reads /proc
 * once; the daemon runs it after a swap and on a status request, never
 * while idle. Processes the daemon may not inspect (other users', when it
 * is not root) are not seen. Nothing here logs.
 */
#ifndef UPDATER_STALE_H
#define UPDATER_STALE_H

#include <stddef.h>
#include <sys/types.h>

#define STALE_MAX 64 /* processes listed per target; the rest are counted only */

struct stale_proc {
	pid_t pid;
	char comm[17]; /* /proc/PID/comm, at most 16 bytes */
};

struct stale_image {
	dev_t dev;
	ino_t ino;
};

/*
 * Fill RET (room for STALE_MAX) with the stale processes of PATH, given
 * the KNOWN replaced images (may be NULL), leaving out EXCEPT (the daemon).
 * Returns how many processes are stale (may exceed STALE_MAX; only the first
 * STALE_MAX are in RET, lowest PIDs first), or a negative errno when /proc
 * cannot be read.
 */
int stale_scan(const char *path, const struct stale_image *known, size_t n_known, pid_t except,
               struct stale_proc ret[STALE_MAX]);

#endif
