/*
 * watch.h - a watch on one executable's path: "look again, the file may
 * have been replaced". Private to the project: libupdater's
 * updater_watch_fd() is one watch on the program's own path, and
 * updater-run (which links the library's code statically) keeps one on
 * PROGRAM's path.
 *
 * A watch is one epoll descriptor for the caller's poll/select loop, fed by
 *  - inotify on every directory whose change can replace the file at the
 *    path: its own, that of every symlink on the path (a flipped `current`
 *    link) and that of the file it resolves to now; re-armed after each
 *    change, so a flipped link moves the watch to its new target;
 *  - a subscription to updaterd's notifications, when a daemon listens: a
 *    connection to its events socket (SOCK_SEQPACKET, one packet each),
 *    taken only when its peer has the daemon's uid.
 * Neither is trusted: what arrives only tells the caller to compare the
 * file now at the path with the one it runs. That comparison is the
 * caller's, because what "replaced" means differs (the running image for
 * the library, the last file started for updater-run).
 *
 * Calling sequence:
 *
 *     watch_open(&w, path, mask, adopted_inotify_or_-1);
 *     poll on watch_fd(&w); when readable: if (watch_drain(&w) != 0) compare
 *     before an exec that keeps the inotify instance: watch_before_exec()
 *     watch_close(&w);
 *
 * Functions return 0 or a negative errno; nothing here prints.
 */
#ifndef UPDATER_LIB_WATCH_H
#define UPDATER_LIB_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>

#define WATCH_DIRS_MAX 32

/*
 * Which directory events mean "look again". A new file reaches a path by
 * rename (IN_MOVED_TO), at the end of a write (IN_CLOSE_WRITE) or by a chmod
 * (IN_ATTRIB); IN_CREATE also sees a symlink made in place (ln -sfn), but
 * fires while a file created in place is still being written.
 */
#define WATCH_MASK_COMPLETE (IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define WATCH_MASK_ANY (WATCH_MASK_COMPLETE | IN_CREATE)

struct watch {
	char *path;   /* absolute; symlinks on it are not resolved */
	uint32_t mask;
	int epfd;     /* -1 when closed */
	int inofd;
	int sockfd;   /* the connection to updaterd's events socket, -1 without a daemon */
	bool heard;   /* it carried a packet: worth making again when the daemon closes it */
	int wds[WATCH_DIRS_MAX];
	size_t n_wds; /* directories watched now; 0: inotify sees nothing */
	/* Optional: called with each packet from the daemon (not NUL-terminated). */
	void (*on_message)(const char *msg, size_t len, void *ctx);
	void *ctx;
};

/* The daemon's control socket: UPDATER_SOCKET (not for set-uid callers) or the default. */
const char *updater_socket_path_(void);

/*
 * A connection to the events socket beside the control socket CONTROL_PATH
 * (non-blocking, close-on-exec), taken only when SO_PEERCRED names root or
 * the owner of CONTROL_PATH's file. Returns the descriptor, -EPERM for
 * another peer, or the errno of socket(2)/connect(2) (-ENOENT,
 * -ECONNREFUSED: no daemon; -EAGAIN: its backlog is full).
 */
int updater_events_connect_(const char *control_path);

/*
 * Watch PATH (copied) with MASK, one of the WATCH_MASK_* above. ADOPTED: an
 * inotify instance a previous image handed over (taken over, closed on
 * failure), or -1 for a new one. Subscribes to the daemon beside
 * updater_socket_path_() when one listens; its absence is not an error.
 * When the daemon closes the connection, watch_drain() reports
 * WATCH_SAW_DAEMON and subscribes again (at once after a connection that
 * carried a packet, else at the next directory change).
 * Returns 0, or a negative errno (epoll or inotify could not be made).
 */
int watch_open(struct watch *w, const char *path, uint32_t mask, int adopted);

/* The descriptor to poll for reading. */
static inline int watch_fd(const struct watch *w)
{
	return w->epfd;
}

/* True when the daemon's subscription is open. */
static inline bool watch_subscribed(const struct watch *w)
{
	return w->sockfd >= 0;
}

/* What watch_drain() saw. */
#define WATCH_SAW_DIRECTORY 1u /* a change in a watched directory */
#define WATCH_SAW_DAEMON 2u    /* a notification from updaterd */

/*
 * Read everything waiting. Returns what arrived (WATCH_SAW_* bits, 0 for
 * nothing): on anything, the caller compares the file at the path.
 */
unsigned watch_drain(struct watch *w);

/*
 * Before an exec (the subscription is close-on-exec): return a copy of the
 * inotify instance numbered ABOVE or higher that survives the exec (-1 when
 * there is none). watch_after_failed_exec() undoes it.
 */
int watch_before_exec(struct watch *w, int above);
void watch_after_failed_exec(struct watch *w, int handed);

void watch_close(struct watch *w);

#endif
