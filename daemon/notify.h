/*
 * notify.h - telling others what the daemon did.
 *
 * Three audiences:
 *   - systemd, by the sd_notify(3) protocol: READY=1, STATUS=, WATCHDOG=1,
 *     RELOADING=1, STOPPING=1. Without NOTIFY_SOCKET these cost nothing.
 *   - subscribers, through their connections to the events socket
 *     (events.h; the words are in updater-protocol.h);
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

/* sd_notify(3) messages; errors are ignored on purpose (systemd may not be there). */
void notify_ready(void);
void notify_reloading(void); /* RELOADING=1 with MONOTONIC_USEC */
void notify_stopping(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notify_watchdog(void);

/* Half of WATCHDOG_USEC in ms when the watchdog is on for this process, else 0. */
int64_t notify_watchdog_interval_ms(void);

/*
 * Send SIG to every process whose /proc/PID/exe is the file DEV:INO, except
 * EXCEPT (the daemon itself). Stores how many were signalled in *ret_count.
 * Returns 0, or a negative errno when /proc cannot be read.
 */
int notify_signal_image(dev_t dev, ino_t ino, int sig, pid_t except, size_t *ret_count);

#endif
