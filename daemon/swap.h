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
 *     swap_stage_smoke_access(&st, gid)        optional: root:GID 0550 while a
 *                                              smoke test runs as that group's
 *                                              user, whatever the final mode
 *     ... run a smoke test on st.path ...
 *     swap_commit(&st, &res)                   the final owner and mode again,
 *                                              .NAME.updater-prev := PATH (hard
 *                                              link, replaced atomically),
 *                                              rename(staging, PATH), fsync dir,
 *                                              then -prev loses set-uid, set-gid
 *                                              and file capabilities
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

#include "hash.h"

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
	struct sha256 hash;   /* of the bytes written; NULL md until a resume is given one */
	bool finished;
	bool committed;
	/* The owner and mode swap_stage_finish() gave it (final, after any smoke test). */
	uid_t final_uid;
	gid_t final_gid;
	mode_t final_mode;
	bool smoke_access; /* swap_stage_smoke_access() changed them */
};

struct swap_result {
	bool had_old;        /* PATH existed before the rename */
	dev_t old_dev;       /* device and inode of the replaced file */
	ino_t old_ino;
	int old_mode;        /* its 07777 mode bits before -prev was stripped; -1 without one */
	char old_sha256_hex[65]; /* "" : the caller knows it (it hashed PATH before the check) */
};

/* Returns 0, or negative errno (e.g. -ENOENT when the directory is missing). */
int swap_stage_open(const char *target_path, uint64_t expected_size, uint64_t max_size,
                    struct staging *ret);
/*
 * Resumable downloads (SPEC 17): a download that failed part-way keeps its
 * staging file. swap_stage_keep() makes the bytes written durable, closes the
 * file without deleting it and returns its name in the target's directory.
 * swap_stage_resume() opens that name again (it must be a staging name, a
 * regular file of ours, one link, mode 0600, at least BYTES long), cuts it to
 * BYTES and positions the next write there; its hash context is empty
 * (st.hash.md NULL) until the caller gives it the hash of the kept BYTES
 * (hash_job_start_fd on st.fd, then hash_job_take into st.hash): writes
 * before that return -EINVAL. Both return 0 or negative errno (-ENOENT: the
 * file is gone, -EPERM: not ours, -ENODATA: shorter than BYTES).
 */
int swap_stage_keep(struct staging *st, char **ret_name);
int swap_stage_resume(const char *target_path, const char *name, uint64_t bytes,
                      uint64_t expected_size, uint64_t max_size, struct staging *ret);
/* Delete the kept staging file NAME beside TARGET_PATH (only a staging name). 0 or negative errno. */
int swap_discard_staging(const char *target_path, const char *name);
/* True when NAME is a staging file name beside TARGET_PATH (.BASE.updater-XXXXXX). */
bool swap_is_staging_name(const char *target_path, const char *name);

/* Returns 0, -EFBIG past the expected size or max_size, or the write error (-ENOSPC...). */
int swap_stage_write(struct staging *st, const void *buf, size_t len);
/* Returns 0, -EIO with ERR on a size or sha256 mismatch, or the fsync/chown error. */
int swap_stage_finish(struct staging *st, const uint8_t sha256[32], char *err, size_t err_size);
/*
 * Let a smoke test run the staged file as a user of group GID, whatever its
 * final mode (a target only root may execute, 0700, included): owner kept,
 * group GID, mode 0550 (nobody may write it). swap_commit() puts the final
 * owner and mode back before the rename. Returns 0 or negative errno.
 */
int swap_stage_smoke_access(struct staging *st, gid_t gid);
/* Returns 0 once the new file is at PATH; fills *ret (may be NULL). */
int swap_commit(struct staging *st, struct swap_result *ret);
void swap_stage_abort(struct staging *st);

/*
 * Put .NAME.updater-prev back at PATH and keep what was at PATH as the new
 * -prev, each step an atomic rename. Returns 0, -ENOENT when there is no
 * previous file (or -prev is PATH's own file, as a crash in the middle of a
 * swap can leave it), or another negative errno; PATH is whole at every instant.
 * Fills *ret like swap_commit (the replaced file is the one rolled back from).
 * RESTORE_MODE (07777 bits, -1 to leave it) is given to the file that comes
 * back before it is renamed to PATH: the mode it had before -prev stripped
 * it. What becomes -prev is stripped of set-uid, set-gid and capabilities.
 */
int swap_rollback(const char *target_path, int restore_mode, struct swap_result *ret);

/*
 * Strip set-uid, set-gid and the security.capability xattr from
 * .NAME.updater-prev beside TARGET_PATH (start-up: a crash may have left it
 * with them). Returns 1 when something was stripped, 0 when there was
 * nothing to do or no -prev, or negative errno.
 */
int swap_prev_strip(const char *target_path);

/* The path of .NAME.updater-prev beside TARGET_PATH (malloc'd), or NULL on ENOMEM. */
char *swap_prev_path(const char *target_path);

/* Delete leftover .NAME.updater-XXXXXX staging files beside TARGET_PATH (not -prev). Returns how many, or negative errno. */
int swap_cleanup_staging(const char *target_path);
/* The same, except the file called KEEP (a partial download to resume; NULL: none). */
int swap_cleanup_staging_except(const char *target_path, const char *keep);

/* sha256 of the regular file at PATH as 64 lowercase hex digits (hash_file_sha256). -ENOENT when there is none. */
int swap_file_sha256(const char *path, char ret_hex[65]);

#endif
