/*
 * status.h - the daemon's state, rendered for the outside: the `status`
 * reply's JSON object (SPEC section 4). One module renders every view of
 * the state, so what updaterctl shows can never disagree with `status`.
 *
 * The caller fills a struct status_view from its own state (borrowed
 * pointers, nothing is kept) and asks for a rendering. Nothing here logs,
 * and nothing here reads the clock or the disk.
 */
#ifndef UPDATER_STATUS_H
#define UPDATER_STATUS_H

#include <stddef.h>
#include <stdint.h>

struct status_target {
	const char *name;
	const char *path;
	const char *version;    /* NULL: null */
	const char *sha256;     /* NULL or "": null */
	int64_t updated_at;     /* < 0: null */
	const char *last_error; /* NULL: null */
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

#endif
