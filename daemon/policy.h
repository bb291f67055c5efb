/*
 * policy.h - may this version be installed now (SPEC section 16).
 *
 * The check round found a signed manifest that is newer than what is
 * installed (update.c decides that, and the version floor). Before it
 * downloads or swaps, it asks policy_decide() with everything the answer
 * depends on: the release's rollout keys, this machine's bucket, the
 * target's pin, its hold, whether its window is open, and the inhibitors
 * held on events.sock. The answer is one of
 *
 *     POLICY_INSTALL  go ahead
 *     POLICY_REFUSE   never, as things stand (pin; a halted rollout; a
 *                     rollout_percent this machine is outside of): the
 *                     next check looks again
 *     POLICY_DEFER    not now, at a known time or when something is
 *                     released (rollout turn, window, hold, inhibitor)
 *
 * with the rule that decided and a sentence for the log line. The rules are
 * applied in this order: pin, rollout percent, rollout turn, hold, window,
 * inhibitors. Nothing here logs, reads the clock or the disk, except
 * policy_machine_id(), which reads (and, the first time, writes) the
 * machine-id.
 *
 * The bucket (SPEC 16): the first 8 bytes, big-endian, of SHA-256 of
 *     "updater-rollout\0" MACHINE-ID "\0" TARGET "\0" VERSION
 * divided by 2^64, so b is in [0, 1), each release orders the fleet afresh,
 * and anyone with a machine's id can compute its place.
 */
#ifndef UPDATER_POLICY_H
#define UPDATER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MACHINE_ID_MAX 128
#define POLICY_MACHINE_ID_DEFAULT "/etc/machine-id"
#define POLICY_MACHINE_ID_STATE "machine-id" /* in state_dir, made when the file above is missing */
#define POLICY_WHY_MAX 512

/* The bucket of SPEC 16 for this machine, target and version: in [0, 1). */
double policy_bucket(const char *machine_id, const char *target, const char *version);

/*
 * This machine's id: the first line of FILE (NULL: /etc/machine-id), else of
 * STATE_DIR/machine-id, which is created with 32 random hex digits the first
 * time it is needed (STATE_DIR NULL: not created). The id must be 1 to
 * POLICY_MACHINE_ID_MAX printable characters. Returns 0, or a negative errno
 * (-ENOENT when there is none and none may be made).
 */
int policy_machine_id(const char *file, const char *state_dir, char ret[POLICY_MACHINE_ID_MAX + 1]);

/*
 * True when VERSION's leading components equal PIN: "1.4" takes 1.4, 1.4.2,
 * 1.4-3 and 1.4~rc1, not 1.40 or 1.5. An epoch in VERSION is ignored unless
 * PIN has one.
 */
bool policy_pin_matches(const char *pin, const char *version);

enum policy_verdict {
	POLICY_INSTALL,
	POLICY_REFUSE,
	POLICY_DEFER,
};

/* The rule behind a verdict other than POLICY_INSTALL; "max_inhibit" when one was overridden. */
#define POLICY_RULE_PIN "pin"
#define POLICY_RULE_HALTED "halted"
#define POLICY_RULE_ROLLOUT "rollout"
#define POLICY_RULE_HOLD "hold"
#define POLICY_RULE_WINDOW "window"
#define POLICY_RULE_INHIBITOR "inhibitor"

struct policy_input {
	const char *target;
	const char *version;
	double bucket; /* this machine's, [0, 1] (1.0 only from configuration: last of all) */
	/* From the manifest. */
	int64_t rollout_start;    /* Unix seconds, -1 none */
	int64_t rollout_duration; /* seconds, 0 none */
	int rollout_percent;      /* 0-100 */
	/* From the configuration and the state. */
	const char *pin; /* NULL: none */
	bool held;
	/* The window: always open when HAS_WINDOW is false. */
	bool has_window;
	bool window_open;
	int64_t window_opens; /* Unix seconds: when it next opens, -1 never */
	/* Inhibitors on this target (or on all), held now. */
	size_t inhibitors;
	int64_t inhibited_since_ms; /* Unix ms the oldest was taken */
	const char *inhibitor_why;  /* the oldest's --why text, NULL none */
	int64_t max_inhibit_ms;     /* 0: no limit */
	int64_t now_ms;             /* Unix ms */
};

struct policy_decision {
	enum policy_verdict verdict;
	const char *rule; /* NULL with POLICY_INSTALL (unless an inhibitor was overridden: "max_inhibit") */
	int64_t until_ms; /* Unix ms when it may change by itself; -1 unknown (next check, a release) */
	char why[POLICY_WHY_MAX]; /* "the rollout reaches this machine (bucket 0.731) at 2026-..." */
};

/* Decide; pure. Always fills *ret. */
void policy_decide(const struct policy_input *in, struct policy_decision *ret);

/* The machine's turn for this release: Unix ms (rollout_start + bucket x duration), -1 without rollout_start. */
int64_t policy_turn_ms(const struct policy_input *in);

#endif
