/*
 * swap.h - replace a file atomically, keeping the previous one (SPEC section 8).
 *
 * The calling sequence, in the spirit of git's lockfile API:
 *
 *     struct staging st;
 *     swap_stage_open(path, size, max, &st);   .NAME.updater-XXXXXX, 0600,
 *                                              O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC
 *     swap_stage_write(&st, buf, len) ...      hashed on the way; refuses a
 *                                              byte past SIZE or MAX
 *     swap_stage_finish(&st, sha256, err)      size and sha256 checked, fsync,
 *                                              owner and mode copied from PATH
 *                                              (0755 root:root when none), never
 *                                              set-uid/set-gid
 *     ... run a smoke test on st.path ...
 *     swap_commit(&st, &res)                   .NAME.updater-prev := PATH (hard
 *                                              link, replaced atomically),
 *                                              rename(staging, PATH), fsync dir
 *
 * On any failure, or to give up, call swap_stage_abort(): the staging file is
 * deleted and PATH is untouched. swap_stage_abort() after swap_commit() or
 * on a zeroed/aborted struct is a no-op, so it can be called unconditionally
 * in cleanup paths. At every instant PATH is the whole old file or the whole
 * new one.
 *
 * PATH itself must be a regular file or missing: a symlink at PATH is refused
 * with -ELOOP (renaming over it would replace the link, not the file it
 * names; configure the file the link points to instead).
 *
 * Functions never log; they return negative errno values and, where an ERR
 * buffer is taken, a sentence saying what was wrong.
 */
#ifndef UPDATER_SWAP_H
#define UPDATER_SWAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sodium.h>

#define SWAP_STAGING_INFIX ".updater-"
#define SWAP_PREV_SUFFIX ".updater-prev"

struct staging {
	int fd;              /* -1 when closed */
	int dirfd;           /* the target's directory, -1 when closed */
	char *target_path;   /* PATH */
	char *path;          /* full path of the staging file, NULL when none */
	char *name;          /* its basename inside dirfd */
	uint64_t expected_size;
	uint64_t max_size;
	uint64_t written;
	crypto_hash_sha256_state hash;
	bool finished;
	bool committed;
};

struct swap_result {
	bool had_old;        /* PATH existed before the rename */
	dev_t old_dev;       /* device and inode of the replaced file */
	ino_t old_ino;
	char old_sha256_hex[65]; /* "" : the caller knows it (it hashed PATH before the check) */
};

/* Returns 0, or negative errno (e.g. -ENOENT when the directory is missing). */
int swap_stage_open(const char *target_path, uint64_t expected_size, uint64_t max_size,
                    struct staging *ret);
/* Returns 0, -EFBIG past the expected size or max_size, or the write error (-ENOSPC...). */
int swap_stage_write(struct staging *st, const void *buf, size_t len);
/* Returns 0, -EIO with ERR on a size or sha256 mismatch, or the fsync/chown error. */
int swap_stage_finish(struct staging *st, const uint8_t sha256[32], char *err, size_t err_size);
/* Returns 0 once the new file is at PATH; fills *ret (may be NULL). */
int swap_commit(struct staging *st, struct swap_result *ret);
void swap_stage_abort(struct staging *st);

/*
 * Put .NAME.updater-prev back at PATH and keep what was at PATH as the new
 * -prev, each step an atomic rename. Returns 0, -ENOENT when there is no
 * previous file (or -prev is PATH's own file, as a crash in the middle of a
 * swap can leave it), or another negative errno; PATH is whole at every instant.
 * Fills *ret like swap_commit (the replaced file is the one rolled back from).
 */
int swap_rollback(const char *target_path, struct swap_result *ret);

/* The path of .NAME.updater-prev beside TARGET_PATH (malloc'd), or NULL on ENOMEM. */
char *swap_prev_path(const char *target_path);

/* Delete leftover .NAME.updater-XXXXXX staging files beside TARGET_PATH (not -prev). Returns how many, or negative errno. */
int swap_cleanup_staging(const char *target_path);

/* sha256 of the regular file at PATH as 64 lowercase hex digits. -ENOENT when there is none. */
int swap_file_sha256(const char *path, char ret_hex[65]);

#endif
