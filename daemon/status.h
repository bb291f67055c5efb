/*
 * status.h - the daemon's state, rendered for the outside: the `status`
 * reply's JSON object (SPEC section 4) and the Prometheus text of the
 * metrics file and the `metrics` reply (SPEC 16). One module renders every
 * view of the state, so what updaterctl shows, the metrics file and
 * `status` can never disagree.
 *
 * The caller fills a struct status_view from its own state (borrowed
 * pointers, nothing is kept) and asks for a rendering. Nothing here logs,
 * and nothing here reads the clock or the disk.
 */
#ifndef UPDATER_STATUS_H
#define UPDATER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stale.h"

struct status_target {
	const char *name;
	const char *path;
	const char *version;    /* NULL: null */
	const char *sha256;     /* NULL or "": null */
	int64_t updated_at;     /* < 0: null */
	const char *last_error; /* NULL: null */
	/* SPEC 16 */
	bool held;
	const char *pending_version; /* NULL: "pending": null */
	int64_t pending_at;          /* < 0: null */
	const char *pending_why;
	/* Counters (metrics only). */
	uint64_t updates, rollbacks_manual, rollbacks_health, check_failures, download_bytes;
	int64_t last_success; /* < 0: no sample */
	size_t stale;         /* processes running a replaced image of its path */
	int64_t probation_until; /* Unix seconds; <= 0: null (not on probation) */
	const char *quarantined; /* the version held back (it and older ones), NULL: null */
	const struct stale_proc *stale_procs; /* the first of them (at most STALE_MAX), for "stale" */
	size_t n_stale_procs;
};

struct status_view {
	const char *version;     /* the daemon's */
	const char *state;       /* idle, checking, downloading, swapping */
	int64_t last_check;      /* Unix seconds, < 0: null */
	const char *last_result; /* NULL: null */
	int64_t next_check;      /* Unix seconds, < 0: null */
	uint64_t received, coalesced, rejected;
	const struct status_target *targets;
	size_t n_targets;
};

/*
 * The status reply: one JSON object in pure ASCII (every other character is
 * a \u escape; bytes that are not valid UTF-8 become U+FFFD). Returns 0 and
 * a malloc'd NUL-terminated string in *ret_json (its length in *ret_len),
 * or -ENOMEM.
 */
int status_render_json(const struct status_view *st, char **ret_json, size_t *ret_len);

/*
 * The same state as Prometheus text exposition (names and labels of SPEC
 * 16): updater_target_info{target,version}, updater_last_check_timestamp_seconds,
 * updater_last_success_timestamp_seconds{target}, updater_updates_total{target},
 * updater_rollbacks_total{target,reason}, updater_check_failures_total{target},
 * updater_download_bytes_total{target}, updater_stale_processes{target},
 * updater_requests_total{result} (accepted, coalesced, rejected: they add up
 * to every request received), updater_pending_timestamp_seconds{target,version}.
 * A time that is not known has no sample. Returns 0 and a malloc'd string,
 * or -ENOMEM.
 */
int status_render_metrics(const struct status_view *st, char **ret_text, size_t *ret_len);

#endif
