/*
 * update.h - one check round: for each target, check -> manifest -> download
 * -> verify -> smoke test -> swap -> state (SPEC sections 6, 7, 8).
 *
 * This is the seam between the daemon's loop (main.c) and the update
 * pipeline. A round is driven by the caller's select() loop like a runner:
 *
 *     update_round_start(&opts, &hooks, &round);
 *     loop: update_round_fill_fds(), update_round_deadline(), select(),
 *           update_round_process() until it returns 1
 *     update_round_failed(), update_round_summary()
 *     update_round_free()
 *
 * Targets are handled one after the other. Everything that goes wrong is
 * logged with the target's name and recorded as its last_error in the state;
 * the installed file is never touched unless a verified file replaces it.
 * update_round_free() on a round still running kills its script's process
 * group and deletes its staging file.
 */
#ifndef UPDATER_UPDATE_H
#define UPDATER_UPDATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/types.h>

#include "config.h"
#include "swap.h"

struct update_round;

struct update_opts {
	const struct config *config; /* must outlive the round */
	bool change_user;            /* run scripts as uid/gid (daemon is root) */
	uid_t uid;
	gid_t gid;
};

struct update_hooks {
	/* After a swap of TARGET to VERSION; RES names the replaced file. */
	void (*on_swapped)(void *ctx, const struct target_config *target, const char *version,
	                   const struct swap_result *res);
	/* After a rollback to VERSION, likewise; REASON is UPDATER_ROLLBACK_MANUAL or _HEALTH. */
	void (*on_rolled_back)(void *ctx, const struct target_config *target, const char *version,
	                       const char *reason, const struct swap_result *res);
	/*
	 * Inhibitors (SPEC 16) held now on TARGET or on every target: how many,
	 * since when the oldest is held (Unix ms) and its reason (NULL: none
	 * given). NULL hook: none.
	 */
	size_t (*inhibitors)(void *ctx, const struct target_config *target, int64_t *ret_since_ms,
	                     const char **ret_why);
	void *ctx;
};

enum update_phase {
	UPDATE_CHECKING,
	UPDATE_DOWNLOADING,
	UPDATE_SWAPPING,
};

int update_round_start(const struct update_opts *opts, const struct update_hooks *hooks,
                       struct update_round **ret_round);
enum update_phase update_round_phase(const struct update_round *round);
void update_round_fill_fds(const struct update_round *round, fd_set *rfds, int *maxfd);
int64_t update_round_deadline(const struct update_round *round);
/* Returns 1 when the round is over, 0 while it runs. */
int update_round_process(struct update_round *round, const fd_set *rfds, int64_t now_ms);
/* True when a check, download, verification or swap failed (a refused, not newer manifest is not a failure). */
bool update_round_failed(const struct update_round *round);
/* One line for logs and status: "update available: hello 1.4.2", "updated hello to 1.4.2", "no update", "failed: ...". */
const char *update_round_summary(const struct update_round *round);
void update_round_free(struct update_round *round);

/* Why a rollback happens: what the notification and the state say. */
struct update_rollback_why {
	const char *reason;     /* UPDATER_ROLLBACK_MANUAL (also when WHY is NULL) or UPDATER_ROLLBACK_HEALTH */
	const char *last_error; /* recorded as the target's last_error; NULL: cleared */
};

/*
 * When a version this round found may go in by itself (a rollout turn, a
 * window opening, max_inhibit running out): Unix ms of the earliest, or -1.
 * The daemon schedules a check then.
 */
int64_t update_round_wake_ms(const struct update_round *round);

/*
 * Roll TARGET back to its previous file (synchronously: renames only), update
 * the state and call hooks->on_rolled_back. The version rolled back from is
 * held back, it and every older one, until a newer release (rolled_back_from:
 * the quarantine of SPEC section 15, for both kinds of rollback), and
 * probation ends; the restored file is hashed in the background
 * (update_background_*). WHY may be NULL (a manual rollback). Returns 0 and
 * the version now installed in *ret_version (malloc'd, "unknown" when not
 * recorded), or a negative errno with a sentence in ERR.
 */
int update_rollback(const struct update_opts *opts, const struct update_hooks *hooks,
                    const char *target, const struct update_rollback_why *why, char **ret_version,
                    char *err, size_t err_size);

/*
 * Work that outlives a request: after a rollback the restored file is hashed
 * in a thread (a large file takes seconds) and the state learns its sha256
 * when that is done. The loop waits on these descriptors too and calls
 * update_background_process() after select(); update_background_free()
 * cancels what still runs.
 */
void update_background_fill_fds(fd_set *rfds, int *maxfd);
void update_background_process(const fd_set *rfds);
bool update_background_busy(void);
void update_background_free(void);

/*
 * updaterctl seed: record VERSION as the version of TARGET's file now at its
 * path, and raise its floor to it (never lowered). Returns 0, or a negative
 * errno with a sentence in ERR.
 */
int update_seed(const struct config *config, const char *target, const char *version, char *err,
                size_t err_size);

/*
 * At start-up: delete leftover staging files of every target and reconcile
 * the state with the disk (a file whose sha256 no longer matches the recorded
 * one was changed by someone else: logged, and its version forgotten).
 */
void update_recover(const struct config *config);

#endif
