/*
 * schedule.h - when the next check round starts (SPEC section 4, Schedule
 * and Rate limit).
 *
 * The schedule is pure bookkeeping: it makes no system call of its own
 * except for randomness, and takes the time (CLOCK_BOOTTIME milliseconds,
 * see now_boottime_ms()) as an argument, so every rule can be tested.
 *
 * The rules:
 *   - A periodic check is due at the end of the last check + interval + a
 *     splay drawn uniformly from [0, splay]; never checked: start-up + splay.
 *     With interval 0 there is no periodic check at all.
 *   - Check starts are rate limited: no check starts less than min_interval
 *     after the start of the previous one. A request inside that window, or
 *     while a check runs, is remembered (never lost); every request until
 *     the next check starts joins that one check ("coalesces").
 *   - A forced request (SIGHUP) bypasses min_interval: it starts at once, or
 *     right after the check that is running.
 *   - After a failed round a retry is due after a backoff of 1 min, doubling
 *     with every failure in a row, capped at min(interval, 1 h). With
 *     interval 0 nothing is retried: only requests start checks.
 *   - A wake-up (schedule_wake): a round found a version it may install
 *     only later (its rollout turn, its window opening, an inhibitor's
 *     max_inhibit); a check starts then, even with interval 0, and past
 *     min_interval (it is one check at one known time, never a flood).
 *
 * Calling sequence, from the daemon's loop:
 *
 *     schedule_init(&s, &params, now, since_last_ms);
 *     loop: if (schedule_due(&s, now)) { schedule_started(&s, now); ...round... }
 *           a request: schedule_request(&s, now, &wait_ms, &coalesced);
 *           SIGHUP:    schedule_force(&s);
 *           round end: schedule_finished(&s, now, failed);
 *           select() timeout: schedule_next(&s) when no round runs.
 */
#ifndef UPDATER_SCHEDULE_H
#define UPDATER_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#define SCHEDULE_NEVER INT64_MAX
#define SCHEDULE_BACKOFF_FIRST_MS (60 * 1000)
#define SCHEDULE_BACKOFF_MAX_MS (60 * 60 * 1000)

struct schedule_params {
	int64_t interval_ms; /* 0: no periodic checks */
	int64_t splay_ms;
	int64_t min_interval_ms;
};

enum schedule_answer {
	SCHEDULE_QUEUED,   /* a check starts now */
	SCHEDULE_RUNNING,  /* a check runs; one more follows it */
	SCHEDULE_DEFERRED, /* a check starts in *ret_wait_ms */
};

/* Uniform random integer in [0, bound]. */
typedef uint64_t (*schedule_random_fn)(uint64_t bound);

struct schedule {
	struct schedule_params p;
	schedule_random_fn random;
	int64_t started_at; /* when schedule_init ran */
	int64_t last_start; /* INT64_MIN: no check since start-up */
	int64_t last_end;   /* INT64_MIN: never checked (persisted time included) */
	int64_t periodic;   /* SCHEDULE_NEVER: none */
	int64_t retry;      /* SCHEDULE_NEVER: none */
	int64_t wake;       /* SCHEDULE_NEVER: none */
	unsigned failures;  /* failed rounds in a row */
	bool running;
	bool pending; /* a request waits for the next check */
	bool forced;  /* ... and it bypasses min_interval */
};

/*
 * Set up the schedule at NOW. SINCE_LAST_MS: how long ago the last check
 * ended (from the persisted wall-clock time; negative values count as 0), or
 * -1 when never. RANDOM may be NULL for the default (getrandom(2)).
 */
void schedule_init(struct schedule *s, const struct schedule_params *p, schedule_random_fn random,
                   int64_t now, int64_t since_last_ms);

/* New parameters (reload). The periodic deadline is drawn again only when interval or splay changed. */
void schedule_set_params(struct schedule *s, const struct schedule_params *p);

/*
 * A check request at NOW. Returns the answer for the requester; with
 * SCHEDULE_DEFERRED, *ret_wait_ms is how long until the check starts (> 0).
 * *ret_coalesced is true when the request joined a check that was already
 * waiting, so it costs no check of its own.
 */
enum schedule_answer schedule_request(struct schedule *s, int64_t now, int64_t *ret_wait_ms,
                                      bool *ret_coalesced);

/* A request that bypasses min_interval (SIGHUP). */
void schedule_force(struct schedule *s);

/*
 * When the next check should start, ignoring whether one runs now:
 * INT64_MIN for "at once" (forced), SCHEDULE_NEVER for none.
 */
int64_t schedule_next(const struct schedule *s);

/* True when no check runs and the next one is due at NOW. */
bool schedule_due(const struct schedule *s, int64_t now);

void schedule_started(struct schedule *s, int64_t now);
void schedule_finished(struct schedule *s, int64_t now, bool failed);

/*
 * A check at AT (the earliest of those asked for wins). A round that starts
 * for any reason clears it: each round asks again for what it still waits for.
 */
void schedule_wake(struct schedule *s, int64_t at);

/* The backoff after FAILURES failed rounds in a row (>= 1) with these parameters. */
int64_t schedule_backoff_ms(const struct schedule_params *p, unsigned failures);

/*
 * Maintenance windows (SPEC 16, `window:`): "Mon-Fri 02:00-05:00", local
 * time, or UTC with a "UTC" suffix; several separated by commas. Days are
 * Sun..Sat (a range may wrap: Fri-Mon) and may be left out (every day);
 * times are HH:MM or HH:MM:SS; an end at or before the start runs past
 * midnight into the next day.
 */
#define SCHEDULE_WINDOWS_MAX 16

struct schedule_window {
	uint8_t days;      /* bit N: weekday N (0 Sunday) */
	int32_t start_sec; /* seconds after midnight */
	int32_t length_sec;
	bool utc;
};

struct schedule_windows {
	struct schedule_window w[SCHEDULE_WINDOWS_MAX];
	size_t n;
};

/* Parse TEXT. Returns 0, or -EINVAL with a sentence in ERR. */
int schedule_windows_parse(const char *text, struct schedule_windows *ret, char *err, size_t err_size);

/*
 * At NOW (Unix seconds): true when a window is open. *ret_next_open gets
 * when one next opens after NOW (Unix seconds; -1 never, which only an
 * empty set gives). Local windows follow the TZ of the process.
 */
bool schedule_windows_open(const struct schedule_windows *w, int64_t now, int64_t *ret_next_open);

#endif
