/*
 * probation.h - the health gate after a swap (SPEC section 15).
 *
 * A target with `health:` configured is on probation after every swap: its
 * command is run, like a script (runner.h: script_user, the scripts'
 * environment plus UPDATER_PREVIOUS_VERSION, no shell, stdin /dev/null, its
 * process group killed at the end), at once and then every `interval`, until
 * it exits 0 (with `expect_version`: and prints the new version as a word)
 * or until the deadline, `timeout` after the swap.
 *
 *   - Healthy: probation ends, the state forgets the deadline, and
 *     hooks->on_healthy is called (the caller notifies `healthy`).
 *   - Not healthy by the deadline: update_rollback() rolls the target back
 *     exactly as a `rollback` request does (so the version rolled back from,
 *     and every older one, is held back: the quarantine is update.c's hold),
 *     with the reason `health`, and last_error naming the command's last exit
 *     status and stderr line. One interval later the command runs once
 *     against the old version and its result is logged.
 *
 * The deadline is wall-clock time kept in the state (probation_until), so a
 * daemon killed or a machine rebooted mid-probation resumes it at start:
 * probation_resume() starts it again for the time left, rolls back at once
 * when the deadline passed, and ends it as healthy when the target no longer
 * has `health:`.
 *
 * Nothing here blocks: the caller's select() loop drives every run,
 * like update.h's rounds:
 *
 *     probation_start() after a swap (update.c has already written the
 *                       deadline into the state, with the swap)
 *     loop: probation_fill_fds(), probation_deadline(), select(),
 *           probation_process()
 *     probation_cancel() when the target is rolled back by hand
 *     probation_set_free() at exit (the state keeps the deadline)
 *
 * Targets are looked up by name in OPTS->config at every step, so a reload
 * of the configuration takes effect for the next run of the command, and a
 * target that is gone ends its probation. The check rounds leave a target on
 * probation alone (update.c skips it), so only this module writes its state
 * until probation ends. Problems are logged with the target's name.
 */
#ifndef UPDATER_PROBATION_H
#define UPDATER_PROBATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/select.h>

#include "update.h"

struct probation_set;

struct probation_hooks {
	/* TARGET left probation healthy at VERSION. */
	void (*on_healthy)(void *ctx, const struct target_config *target, const char *version);
	void *ctx;
};

/*
 * A new, empty set. OPTS and UPDATE_HOOKS (used for the rollback) must
 * outlive it; OPTS->config may be replaced between calls. Returns 0 or
 * -ENOMEM.
 */
int probation_set_new(const struct update_opts *opts, const struct update_hooks *update_hooks,
                      const struct probation_hooks *hooks, struct probation_set **ret_set);
void probation_set_free(struct probation_set *set);

/*
 * TARGET was just swapped (from the hook update.h calls after a swap): its
 * state names the new version, the previous one and the deadline update.c
 * wrote with the swap. Without `health:` it is healthy at once (on_healthy
 * is called before this returns). A probation of the same target that was
 * running is replaced.
 */
void probation_start(struct probation_set *set, const struct target_config *target);

/* At start-up: resume every probation the state records (see above). */
void probation_resume(struct probation_set *set);

/* Forget TARGET's probation (after a manual rollback); kills its command. */
void probation_cancel(struct probation_set *set, const char *target);

/* True while any target is on probation or its after-rollback run is pending. */
bool probation_active(const struct probation_set *set);
/* Automatic rollbacks done since the set was made (updaterd --once exits 1 after one). */
size_t probation_rollbacks(const struct probation_set *set);

void probation_fill_fds(const struct probation_set *set, fd_set *rfds, int *maxfd);
/* The nearest CLOCK_BOOTTIME deadline in ms, or INT64_MAX. */
int64_t probation_deadline(const struct probation_set *set);
void probation_process(struct probation_set *set, const fd_set *rfds, int64_t now_ms);

/*
 * True when STDOUT (LEN bytes, not NUL-terminated) contains VERSION as a
 * word: not preceded or followed by a letter, digit or one of ".+-~:_".
 */
bool probation_has_version(const char *out, size_t len, const char *version);

#endif
