/*
 * hash.h - SHA-256 at memory speed, and long hashes off the loop (SPEC 17).
 *
 * SHA-256 goes through OpenSSL's libcrypto (EVP), which uses the CPU's SHA
 * instructions; libsodium stays for the Ed25519 signatures of manifests.
 *
 * A streaming context, for bytes that arrive a little at a time (a download):
 *
 *     struct sha256 h;
 *     sha256_init(&h);  sha256_update(&h, buf, len) ...  sha256_final(&h, out);
 *
 * sha256_final() also releases the context; sha256_free() releases one given
 * up on (both are no-ops on a released or zeroed context).
 *
 * A hash job reads a whole file, or the first bytes of an open file, in a
 * thread of its own and says when it is done by making a descriptor readable,
 * so the daemon's select() loop waits on it like on a script's pipe and keeps
 * answering its sockets however large the file and however slow the disk:
 *
 *     hash_job_start_path(path, &job)      or hash_job_start_fd(fd, n, &job)
 *     loop: FD_SET(hash_job_fd(job)); select(); hash_job_ready(job) ?
 *     hash_job_result(job, hex, &st)       the digest and who the file was
 *     hash_job_take(job, &ctx)             or the context, not finalized, to go on with
 *     hash_job_free(job)                   cancels a job still running, joins its thread
 *
 * The thread only reads and hashes into memory of its own: it never logs,
 * never allocates and never touches the daemon's state. Functions return
 * negative errno values and never log.
 */
#ifndef UPDATER_HASH_H
#define UPDATER_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define SHA256_BYTES 32

struct sha256 {
	void *md; /* EVP_MD_CTX *, NULL when released */
};

/* 0, or -ENOMEM. */
int sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *buf, size_t len);
/* The digest of everything given to sha256_update; releases H. */
void sha256_final(struct sha256 *h, uint8_t out[SHA256_BYTES]);
void sha256_free(struct sha256 *h);

/*
 * sha256 of the regular file at PATH as 64 lowercase hex digits, in the
 * calling thread. -ENOENT when there is none, -ELOOP for a symlink, -EINVAL
 * for anything but a regular file.
 */
int hash_file_sha256(const char *path, char ret_hex[65]);

struct hash_job;

/*
 * Hash the regular file at PATH (opened O_NOFOLLOW) in a thread. Errors of
 * the open come back from hash_job_result(), not here: here only -ENOMEM or
 * the error of creating the thread.
 */
int hash_job_start_path(const char *path, struct hash_job **ret_job);
/*
 * Hash the first LENGTH bytes of FD (a regular file; duplicated, read with
 * pread, so the caller's offset does not move) in a thread. A file shorter
 * than LENGTH fails the job with -ENODATA.
 */
int hash_job_start_fd(int fd, uint64_t length, struct hash_job **ret_job);
/* The descriptor that becomes readable when the job is done (below FD_SETSIZE). */
int hash_job_fd(const struct hash_job *job);
/* True once the job is done (reads its descriptor; call when select() says it is readable). */
bool hash_job_ready(struct hash_job *job);
/*
 * A finished job's outcome: 0 and the digest in RET_HEX, and in *RET_ST (may
 * be NULL) the file as it was opened; -EBUSY when the file changed while it
 * was read; or the error of the open or a read.
 */
int hash_job_result(const struct hash_job *job, char ret_hex[65], struct stat *ret_st);
/* A finished job's context, not finalized, moved to *RET (hash_job_start_fd's resume case). */
int hash_job_take(struct hash_job *job, struct sha256 *ret);
/* Bytes hashed so far (for progress). */
uint64_t hash_job_bytes(const struct hash_job *job);
void hash_job_free(struct hash_job *job);

#endif
