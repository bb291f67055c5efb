/*
 * control.h - the control socket (SPEC section 4): open it, receive
 * datagrams with the sender's credentials, classify them, format replies.
 *
 * The socket is AF_UNIX SOCK_DGRAM on a filesystem path, non-blocking,
 * close-on-exec, with SO_PASSCRED on so every datagram carries the sender's
 * uid as the kernel saw it. Who sent a request is never read from its bytes.
 *
 * The daemon's loop, each time the socket is readable:
 *
 *     n = control_receive(cs.fd, msgs, N);       up to N datagrams, no blocking
 *     for each: skip from_self ones, control_parse(), act, set msgs[i].reply
 *     control_send_replies(&cs, msgs, n);        MSG_DONTWAIT, to abstract senders
 *
 * until control_receive() returns 0 (EAGAIN).
 *
 * Replies never leave through the control socket: a client that leaves its
 * replies unread pins the send buffer of the socket that sent them. They go
 * through a reply socket of their own (unbound until the kernel autobinds
 * it, its reading side shut), which is replaced as soon as the kernel
 * reports its buffer full; the old one's memory goes back when those clients
 * read or close. A reply goes only to a sender with an abstract address: a
 * path-bound sender's path may be a symlink to any socket, the control
 * socket itself or one in a directory the sender could not reach. The words of the protocol are
 * in updater-protocol.h; the status reply's JSON is rendered by status.h.
 * Nothing here logs.
 */
#ifndef UPDATER_CONTROL_H
#define UPDATER_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "config.h"
#include "updater-protocol.h"
#include "schedule.h"

#define CONTROL_REQUEST_MAX UPDATER_PROTO_REQUEST_MAX
#define CONTROL_REPLY_INLINE 96 /* replies up to this size need no allocation */

struct control_socket {
	int fd;         /* -1 when closed */
	int reply_fd;   /* the reply socket, -1 when closed */
	int reply_sndbuf; /* its SO_SNDBUF */
	uint64_t replaced; /* reply sockets replaced because theirs was full */
	bool activated; /* from LISTEN_FDS: not ours to unlink */
	char *path;     /* the path we bound, NULL when activated */
	dev_t dev;      /* the socket file we created, so we only unlink our own */
	ino_t ino;
};

/*
 * Take the socket handed over (PASSED: the descriptors of socket activation,
 * or of our previous image after a self-update; the first AF_UNIX datagram
 * socket among them is taken, the others are closed) or, without one, bind
 * PATH: its parent directory is created (0755) when missing, a stale socket
 * there is replaced, and the socket file gets mode 0666. A path where
 * another process still answers is not taken (-EADDRINUSE); neither is
 * anything that is not a socket (-EEXIST). The socket's directory must be
 * owned by the daemon's uid and not writable by group or others
 * (unix_check_dir), before it is bound and once the socket is there, whether
 * bound or activated: else -EPERM (the daemon then exits 78). Makes the reply
 * socket. Returns 0 or a negative errno with a sentence in ERR.
 */
int control_open(const char *path, const int *passed, size_t n_passed, struct control_socket *ret,
                 char *err, size_t err_size);

/* A new reply socket in place of the old. 0 or a negative errno (the old one stays). */
int control_replace_reply_socket(struct control_socket *cs);

/* Close the sockets; unlink the path when we created it and it is still ours. KEEP_PATH: leave it (re-exec). */
void control_close(struct control_socket *cs, bool keep_path);

/*
 * Empty the descriptors handed over without serving them: datagrams are read
 * and dropped, pending connections accepted and closed (at most
 * CONTROL_DRAIN_MAX of each per descriptor). For a daemon that cannot start
 * (a broken configuration) under socket activation: a request left in its
 * socket would start it again at once, in a loop, until systemd gives up on
 * the socket itself (trigger-limit-hit) and refuses everyone.
 */
#define CONTROL_DRAIN_MAX 65536
void control_drain(const int *passed, size_t n_passed);

struct control_msg {
	uint8_t buf[CONTROL_REQUEST_MAX + 1];
	size_t len;      /* bytes in buf */
	bool truncated;  /* the datagram was longer than CONTROL_REQUEST_MAX */
	bool has_creds;
	uid_t uid;       /* from SCM_CREDENTIALS; (uid_t)-1 without */
	pid_t pid;
	bool from_self;  /* its credentials name this process: dropped, never answered */
	struct sockaddr_un addr;
	socklen_t addrlen; /* <= sizeof(sa_family_t): the sender has no address */
	/* The reply: set by the caller, sent by control_send_replies(). */
	const char *reply; /* NULL: none */
	size_t reply_len;
	char *reply_alloc; /* freed by control_send_replies() */
	char reply_buf[CONTROL_REPLY_INLINE];
	/* internal to control.c */
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} cmsg;
};

/*
 * Receive up to N datagrams without blocking. Returns how many (0 when none
 * is waiting), or a negative errno. Each message's reply fields are reset.
 */
int control_receive(int fd, struct control_msg *msgs, size_t n);

/* True when the sender can get a reply: its socket has an abstract address. */
bool control_msg_has_address(const struct control_msg *m);

/* Set a message's reply (copied; longer text is allocated). 0 or -ENOMEM. */
int control_set_reply(struct control_msg *m, const char *text, size_t len);
/* printf-style, for short replies; the text is made ASCII-printable. */
void control_set_replyf(struct control_msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Send each message's reply to its sender through CS's reply socket, with
 * MSG_DONTWAIT (a full or gone client loses its reply, nothing else; a full
 * reply socket is replaced and the reply tried again), then free the
 * replies. Returns how many were sent.
 */
size_t control_send_replies(struct control_socket *cs, struct control_msg *msgs, size_t n);

enum control_command {
	CONTROL_CHECK,
	CONTROL_STATUS,
	CONTROL_SUBSCRIBE,
	CONTROL_UNSUBSCRIBE,
	CONTROL_ROLLBACK,
	CONTROL_HOLD,
	CONTROL_UNHOLD,
	CONTROL_METRICS,
	CONTROL_SEED,
};

/* The longest VERSION a seed request may name. */
#define CONTROL_VERSION_MAX 128

struct control_request {
	enum control_command command;
	char target[CONFIG_NAME_MAX + 1]; /* CONTROL_ROLLBACK, CONTROL_HOLD, CONTROL_UNHOLD, CONTROL_SEED */
	char version[CONTROL_VERSION_MAX + 1]; /* CONTROL_SEED: characters of a Debian version */
};

/*
 * Classify one datagram: exactly one byte (any value) is a check request;
 * otherwise one of the request words of updater-protocol.h (rollback with
 * a valid target name, seed with a target name and a version). One trailing newline is tolerated, so
 * `echo status | socat ...` works. Returns 0 and fills *ret, or -EINVAL with
 * the reason for the "error REASON" reply in ERR (empty, too long, not
 * ASCII, unknown request, bad target name). Permissions are the caller's.
 */
int control_parse(const uint8_t *buf, size_t len, bool truncated, struct control_request *ret,
                  char *err, size_t err_size);

/* "queued", "running" or "deferred N" (N whole seconds, rounded up, >= 1). */
void control_format_check(enum schedule_answer answer, int64_t wait_ms, char *buf, size_t size);

/* Copy TEXT into BUF keeping only printable ASCII (others become '?'). */
void control_sanitize(const char *text, char *buf, size_t size);

#endif
