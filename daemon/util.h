/*
 * util.h - small helpers shared by the daemon's modules.
 */
#ifndef UPDATER_UTIL_H
#define UPDATER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* CLOCK_BOOTTIME in milliseconds: time spent suspended counts. */
int64_t now_boottime_ms(void);

/* LEN bytes -> 2*LEN lowercase hex digits and a NUL. */
void hex_encode(const uint8_t *in, size_t len, char *out);

/*
 * A new AF_UNIX socket of TYPE (SOCK_DGRAM or SOCK_SEQPACKET; non-blocking,
 * close-on-exec) bound at the absolute PATH with mode 0666. The parent
 * directory is created (0755) when missing. A stale socket at PATH (nobody
 * accepts or receives there) is replaced; a path where another process
 * still answers is not taken (-EADDRINUSE), nor anything that is not a
 * socket (-EEXIST). Returns the descriptor and the socket file's identity
 * in *RET_ST, or a negative errno with a sentence in ERR.
 */
int unix_bind_path(int type, const char *path, struct stat *ret_st, char *err, size_t err_size);

/*
 * The directory holding the socket PATH must be owned by OWNER (root, or the
 * daemon's user) and not writable by group or others: whoever may write
 * there could put a socket of their own in the daemon's place. Returns 0,
 * -EPERM with a sentence in ERR when it is not safe, or another negative
 * errno (it cannot be looked at).
 */
int unix_check_dir(const char *path, uid_t owner, char *err, size_t err_size);

/* The filesystem path a bound AF_UNIX socket FD has (malloc'd), or NULL (abstract, unnamed, error). */
char *unix_socket_path(int fd);

#endif
