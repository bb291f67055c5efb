/*
 * notify.h - telling others what the daemon did.
 *
 * Three audiences:
 *   - systemd, by the sd_notify(3) protocol: READY=1, STATUS=, WATCHDOG=1,
 *     RELOADING=1, STOPPING=1. Without NOTIFY_SOCKET these cost nothing.
 *   - subscribers on the control socket (SPEC section 4): clients that
 *     subscribed get one datagram per event (the notifications of
 *     updater-protocol.h), sent with MSG_DONTWAIT so a client that does not read never slows the daemon; a
 *     subscriber whose socket is gone is dropped.
 *   - processes still running a replaced file, which get the target's
 *     configured signal (SPEC section 8, step 8).
 *
 * Nothing here logs; functions return negative errno values.
 */
#ifndef UPDATER_NOTIFY_H
#define UPDATER_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#define NOTIFY_SUBSCRIBERS_MAX 1024
#define NOTIFY_SUBSCRIBERS_PER_UID 64

/* sd_notify(3) messages; errors are ignored on purpose (systemd may not be there). */
void notify_ready(void);
void notify_reloading(void); /* RELOADING=1 with MONOTONIC_USEC */
void notify_stopping(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notify_watchdog(void);

/* Half of WATCHDOG_USEC in ms when the watchdog is on for this process, else 0. */
int64_t notify_watchdog_interval_ms(void);

struct subscriber {
	struct sockaddr_un addr;
	socklen_t addrlen;
	uid_t uid;
};

struct subscribers {
	struct subscriber *v;
	size_t n;
	size_t cap;
};

/*
 * Add the sender at ADDR (as received by recvmsg) owned by UID. Returns 0
 * (also when it was already subscribed), -EDESTADDRREQ when the sender has no
 * address, -EUSERS past NOTIFY_SUBSCRIBERS_MAX, -EDQUOT past
 * NOTIFY_SUBSCRIBERS_PER_UID, or -ENOMEM.
 */
int subscribers_add(struct subscribers *s, const struct sockaddr_un *addr, socklen_t addrlen, uid_t uid);
/* Returns 0, or -ENOENT when ADDR was not subscribed. */
int subscribers_remove(struct subscribers *s, const struct sockaddr_un *addr, socklen_t addrlen);
void subscribers_free(struct subscribers *s);

/*
 * Send MSG to every subscriber through FD (the control socket). A
 * subscriber whose socket is gone (ECONNREFUSED, ENOENT) is dropped; one that
 * is merely full (EAGAIN) misses this message. Returns how many got it.
 */
size_t subscribers_send(struct subscribers *s, int fd, const char *msg);

/*
 * Send SIG to every process whose /proc/PID/exe is the file DEV:INO, except
 * EXCEPT (the daemon itself). Stores how many were signalled in *ret_count.
 * Returns 0, or a negative errno when /proc cannot be read.
 */
int notify_signal_image(dev_t dev, ino_t ino, int sig, pid_t except, size_t *ret_count);

#endif
