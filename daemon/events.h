/*
 * events.h - the events socket (SPEC section 4): subscriber connections.
 *
 * An AF_UNIX SOCK_SEQPACKET socket, "events.sock" beside the control
 * socket, mode 0666. A connection is a subscription: every notification
 * reaches it as one packet (events_send) until either side closes it. Who
 * connected is taken from SO_PEERCRED.  Each connection's send buffer is
 * small (64 KiB), so 1024 subscribers that never read pin little memory. At most EVENTS_MAX connections,
 * EVENTS_PER_UID per uid; a connection past a limit gets one "error REASON"
 * packet and is closed. A subscriber whose socket buffer is full when a
 * notification goes out is disconnected (it missed events: it reconnects
 * and reads status).
 *
 * select() cannot wait on a descriptor at or above FD_SETSIZE, and a
 * daemon with 1024 subscribers would otherwise push its own sockets, pipes
 * and timers up there. So connections are never in the select set, and are
 * kept at or above EVENTS_FD_FLOOR (1024, after events_raise_nofile() made
 * room): every descriptor the daemon opens later (script pipes, a new reply
 * socket) gets a number below 1024. A closed connection is found when a
 * send fails (EPIPE), or by events_reap() (poll(), which has no FD_SETSIZE
 * limit) when a limit is reached or a caller asks.
 *
 * Calling sequence, from the daemon's loop:
 *
 *     events_open(&ev, path, activated_fd, ...)    or events_adopt() per kept connection
 *     select on events_listen_fd(&ev); when readable: events_accept(&ev, ...)
 *     events_send(&ev, "updated hello 1.2")        one packet to each subscriber
 *     events_close(&ev, keep_path)
 *
 * A connection may hold an inhibitor (SPEC 16): it sends "inhibit TARGET
 * [WHY]" ("*": every target), the owner's on_inhibit() grants or refuses it
 * ("ok" or "error REASON" back), and the inhibitor lasts until the
 * connection closes, however its holder ended: on_release() is called then.
 * So that a holder that dies is seen at once, and its packets are answered
 * without delay, every connection is in an epoll set whose one descriptor
 * (events_watch_fd, below 1024) is in the loop's select(): when it is
 * readable, events_reap() reads what came and closes what is gone.
 *
 * Nothing here logs; functions return negative errno values.
 */
#ifndef UPDATER_EVENTS_H
#define UPDATER_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "updater-protocol.h"

#define EVENTS_MAX UPDATER_PROTO_EVENTS_MAX
#define EVENTS_PER_UID UPDATER_PROTO_EVENTS_PER_UID
/* Connections live at or above this descriptor, out of select()'s range. */
#define EVENTS_FD_FLOOR 1024
/* Descriptors the daemon needs besides its connections (loop, pipes, files, slack). */
#define EVENTS_FD_RESERVE 128
/* Connections accepted per events_accept() call, so a flood cannot starve the loop. */
#define EVENTS_ACCEPT_BUDGET 64

#define EVENTS_WHY_MAX 200

struct events_conn {
	int fd;
	uid_t uid; /* SO_PEERCRED */
	pid_t pid;
	/* An inhibitor held by this connection (SPEC 16). */
	bool inhibits;
	char target[UPDATER_PROTO_TARGET_MAX + 1]; /* "": every target */
	char why[EVENTS_WHY_MAX + 1];
	int64_t since_ms; /* Unix ms it was granted */
};

/*
 * Decide an inhibitor a connection asks for: TARGET "" is every target.
 * Returns 0 to grant it, or a negative errno with the reason in ERR.
 */
typedef int (*events_inhibit_fn)(void *ctx, const struct events_conn *c, const char *target, char *err,
                                 size_t err_size);
/* An inhibitor ended: its connection is closing. */
typedef void (*events_release_fn)(void *ctx, const struct events_conn *c);

struct events {
	int fd;         /* the listening socket, -1 when closed */
	bool activated; /* from socket activation or the previous image: not ours to unlink */
	char *path;     /* the path we bound (or were told we own), NULL: none */
	dev_t dev;      /* the socket file we made, so only our own is unlinked */
	ino_t ino;
	struct events_conn *v;
	size_t n, cap;
	bool fd_floor;  /* connections can be moved to EVENTS_FD_FLOOR and above */
	uint64_t refused, dropped; /* counters: over a limit; full or gone at a send */
	int epfd;       /* every connection, for EPOLLIN | EPOLLRDHUP; -1 none */
	events_inhibit_fn on_inhibit; /* NULL: inhibitors are refused */
	events_release_fn on_release;
	void *ctx;
};

/*
 * Raise RLIMIT_NOFILE's soft limit so that EVENTS_MAX connections fit above
 * EVENTS_FD_FLOOR, as far as the hard limit allows. Returns 0 when they fit
 * (EV->fd_floor set), -EMFILE when the hard limit is too low: connections
 * then stay below 1024 and are refused beyond 1024 - EVENTS_FD_RESERVE.
 */
int events_raise_nofile(struct events *ev);

/*
 * Take ACTIVATED (a listening SOCK_SEQPACKET socket from socket activation
 * or the previous image; -1: none) or bind PATH: a stale socket there is
 * replaced, a live one or anything else refused, the file gets mode 0666.
 * Returns 0, or a negative errno with a sentence in ERR.
 */
int events_open(struct events *ev, const char *path, int activated, char *err, size_t err_size);

/* The listening socket, for select(); -1 when closed. */
static inline int events_listen_fd(const struct events *ev)
{
	return ev->fd;
}

/* Readable when a connection sent something or hung up (then: events_reap); -1 none. */
static inline int events_watch_fd(const struct events *ev)
{
	return ev->epfd;
}

/* Drain the watch descriptor's readiness (after select() said so); events_reap() does the work. */
void events_watch_clear(struct events *ev);

/*
 * The inhibitors held on TARGET (or on every target): how many; the oldest's
 * Unix ms in *RET_SINCE_MS and its reason (NULL: none given) in *RET_WHY.
 */
size_t events_inhibitors(const struct events *ev, const char *target, int64_t *ret_since_ms,
                         const char **ret_why);

/*
 * Accept what is waiting (at most EVENTS_ACCEPT_BUDGET), without blocking.
 * Returns how many connections were added, or a negative errno from
 * accept4() other than EAGAIN.
 */
int events_accept(struct events *ev);

/*
 * Add an open connection handed over by the previous image (checked: a
 * connected AF_UNIX SOCK_SEQPACKET socket; anything else is closed and
 * -ENOTSOCK returned). Its uid is read again with SO_PEERCRED.
 */
int events_adopt(struct events *ev, int fd);

/*
 * Send MSG (LEN bytes) as one packet to every connection, MSG_DONTWAIT. A
 * connection that is gone (EPIPE, ECONNRESET) or full (EAGAIN) is closed.
 * Returns how many got it.
 */
size_t events_send(struct events *ev, const char *msg, size_t len);

/* Close every connection whose peer has gone (poll(), no send). Returns how many. */
size_t events_reap(struct events *ev);

/*
 * A packet a subscriber sent on its connection: "inhibit TARGET [WHY]"
 * (TARGET a target name or "*" for every target; WHY printable text).
 */
enum events_request_kind {
	EVENTS_REQ_INHIBIT,
};

struct events_request {
	enum events_request_kind kind;
	char target[UPDATER_PROTO_TARGET_MAX + 1]; /* "": every target */
	char why[EVENTS_WHY_MAX + 1];
};

/*
 * Classify LEN bytes (TRUNCATED: the packet was longer than the buffer):
 * at most UPDATER_PROTO_REQUEST_MAX bytes of printable ASCII, one trailing
 * newline tolerated. Returns 0 and fills *RET, or -EINVAL with the reason in
 * ERR (too long, empty, not printable ASCII, unknown request).
 */
int events_parse(const uint8_t *buf, size_t len, bool truncated, struct events_request *ret, char *err,
                 size_t err_size);

/* Connections of UID. */
size_t events_count_uid(const struct events *ev, uid_t uid);

/*
 * Close the listening socket and every connection; unlink the path when we
 * made it and it is still ours, unless KEEP_PATH (re-exec).
 */
void events_close(struct events *ev, bool keep_path);

#endif
