/*
 * state.h - what the daemon remembers across restarts, in state_dir.
 *
 * Layout of STATE_DIR (created 0755, root-owned):
 *     last_check            Unix seconds of the last finished check round
 *     targets/NAME          key=value lines: version, floor, sha256, file_id,
 *                           updated_at, previous_version, previous_sha256,
 *                           previous_mode, rolled_back_from, last_error; while a partial
 *                           download is kept: partial_version,
 *                           partial_sha256, partial_size, partial_bytes,
 *                           partial_name; pending_version,
 *                           pending_at, pending_why (a version found but
 *                           not installed yet, SPEC 16); the counters of the
 *                           metrics (updates, rollbacks_manual,
 *                           rollbacks_health, check_failures,
 *                           download_bytes, last_success);
 *                           probation_until (while on probation)
 *     held/NAME             exists while NAME is held (updaterctl hold;
 *                           the directory is made at the first hold)
 *     cache/NAME/           HOME and UPDATER_CACHE of the scripts for NAME,
 *                           owned by script_user
 *
 * Every file is written atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. A file that is missing reads as
 * "never"; a file that cannot be parsed is reported and read as "never" too,
 * so a damaged state never stops the daemon.
 */
#ifndef UPDATER_STATE_H
#define UPDATER_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define STATE_FILE_ID_MAX 128

/*
 * A download that failed part-way (SPEC 17): its staging file NAME, beside
 * the target, holds the first BYTES of VERSION, whose manifest says SIZE
 * bytes and SHA256_HEX. NAME NULL: none is kept.
 */
struct target_partial {
	char *version;
	char sha256_hex[65];
	uint64_t size;
	uint64_t bytes;
	char *name;
};

struct target_state {
	char *version;          /* installed version, NULL when unknown */
	/*
	 * The version floor (SPEC 14): the highest version ever installed or
	 * seen installed, NULL when none. It never goes down: a manifest at or
	 * below it is refused, even when VERSION is unknown.
	 */
	char *floor;
	char sha256_hex[65];    /* of the installed file as we left it, "" when unknown */
	/*
	 * Who that file was when its sha256 was taken (an opaque token of
	 * digits, ':' and '.', "" when unknown): while the file still matches it,
	 * the sha256 need not be computed again, not even after a restart.
	 */
	char file_id[STATE_FILE_ID_MAX];
	int64_t updated_at;     /* Unix seconds, -1 never */
	char *previous_version; /* what .NAME.updater-prev holds, NULL when unknown */
	char previous_sha256_hex[65];
	/*
	 * The mode (07777 bits) of the file kept as .NAME.updater-prev before it
	 * lost set-uid and set-gid; -1 when unknown. A rollback restores it.
	 */
	int previous_mode;
	/*
	 * The version a rollback went back from: it and older ones are not
	 * installed again, only a newer release. NULL when none is held back.
	 */
	char *rolled_back_from;
	char *last_error;       /* last failure for this target, NULL when the last run succeeded */
	struct target_partial partial;

	/* A newer version seen but held back by a rule of SPEC 16; NULL when none. */
	char *pending_version;
	int64_t pending_at;  /* Unix seconds it is expected to go in, -1 unknown */
	char *pending_why;   /* the rule and its sentence */

	/* Counters for the metrics, kept across restarts. */
	uint64_t updates;
	uint64_t rollbacks_manual;
	uint64_t rollbacks_health;
	uint64_t check_failures;
	uint64_t download_bytes;
	int64_t last_success; /* Unix seconds of the last check of it that did not fail, -1 never */
	/*
	 * On probation (SPEC section 15): the wall-clock deadline, Unix
	 * seconds, by which the installed version must prove healthy, else it
	 * is rolled back. 0 when not on probation.
	 */
	int64_t probation_until;
};

/* Forget ST's partial download (the file itself is the caller's to delete). */
void target_partial_clear(struct target_partial *p);

/*
 * Create STATE_DIR, STATE_DIR/targets and STATE_DIR/cache if missing, and
 * delete the temporary files of writes a crash cut short. 0 or negative errno.
 */
int state_init(const char *state_dir);

/* Unix seconds of the last check, or -1 when never. */
int64_t state_last_check(const char *state_dir);
int state_set_last_check(const char *state_dir, int64_t when);

/*
 * Read the state of target NAME into *ret. A missing file is the "never"
 * state and returns 0. A damaged file also leaves the "never" state in *ret
 * but returns -EBADMSG, so the caller can log it; other errors are negative
 * errno values, again with *ret in the "never" state.
 */
int state_load_target(const char *state_dir, const char *name, struct target_state *ret);
int state_save_target(const char *state_dir, const char *name, const struct target_state *st);
void target_state_clear(struct target_state *st);

/*
 * The text state_save_target() writes, one key=value line per field (a
 * newline in a value becomes a space), in a malloc'd *ret_text of *ret_len
 * bytes (not NUL-terminated). 0 or -ENOMEM.
 */
int state_format_target(const struct target_state *st, char **ret_text, size_t *ret_len);

/*
 * Parse the text of a state file (LEN bytes, not necessarily NUL-terminated)
 * into *ret. Returns 0, or -EBADMSG (damaged: a line without '=', a repeated
 * key, a bad sha256, file_id, number or mode, a control character in a
 * version, a NUL byte) or -ENOMEM, with *ret in the "never" state. A floor
 * below VERSION (or missing) is raised to VERSION: a state written before
 * floors existed gets one.
 */
int state_parse_target(const char *text, size_t len, struct target_state *ret);

/*
 * Raise ST's floor to VERSION when VERSION is above it (or there is none).
 * Returns 0 or -ENOMEM. Never lowers it.
 */
int target_state_raise_floor(struct target_state *st, const char *version);

/*
 * The per-target cache directory (STATE_DIR/cache/NAME), created if missing,
 * owned by UID:GID, mode 0700. Stores a malloc'd path in *ret_path.
 */
int state_cache_dir(const char *state_dir, const char *name, uid_t uid, gid_t gid, char **ret_path);

/* Whether NAME is held (STATE_DIR/held/NAME exists). */
bool state_is_held(const char *state_dir, const char *name);
/* Hold (HELD true) or release NAME; the change is on disk when it returns 0. */
int state_set_held(const char *state_dir, const char *name, bool held);

/* Write DATA to PATH atomically (temp file, fsync, rename, fsync dir), mode 0644. */
int state_write_file_atomic(const char *path, const void *data, size_t len);

#endif
