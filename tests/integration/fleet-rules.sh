#!/bin/bash
# channel:, pin: and updaterctl hold/unhold (SPEC 16), with one real daemon:
#  - channel: beta reads SOURCE/beta/manifest (updater-publish --channel beta),
#    not the default one;
#  - pin: "1.1" refuses 1.10 (logged, with the rule) and takes 1.1.5;
#  - hold: root only; a held target's check still runs and reports what it
#    would install, nothing is installed, the hold survives a restart, and
#    unhold installs it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

pl_setup
FL_TARGET_LINES='    channel: beta
    pin: "1.1"'
fl_node 1
fl_start 1

pl_publish 1.0
pl_publish 1.1 --channel beta
fl_check 1
assert_eq "$(fl_version 1)" 1.1 "channel beta"
pl_publish 1.2
fl_check 1
assert_eq "$(fl_version 1)" 1.1 "a release on the default channel is not for beta"

pl_publish 1.10 --channel beta
fl_check 1
assert_eq "$(fl_version 1)" 1.1 "1.10 with pin 1.1"
fl_log_has 1 'hello: not installing 1.10 now: pinned to 1.1 \(rule: pin; until the pin changes\)' ||
	fail "no log line for the pin"
assert_eq "$(fl_get 1 's["targets"][0]["pending"]')" None "a pinned-out version is not pending"
pl_publish 1.1.5 --channel beta
fl_check 1
assert_eq "$(fl_version 1)" 1.1.5 "1.1.5 with pin 1.1"

# Hold: root only.
as_nobody "$UPDATERCTL" --socket "$(fl_dir 1)/control.sock" hold hello 2>"$TEST_TMP/err" &&
	fail "nobody could hold a target"
grep -q 'permission denied' "$TEST_TMP/err" || fail "no permission error for nobody: $(cat "$TEST_TMP/err")"
fl_ctl 1 hold nosuch && fail "holding an unknown target succeeded"
fl_ctl 1 hold hello >/dev/null || fail "updaterctl hold failed"
assert_eq "$(fl_get 1 's["targets"][0]["held"]')" True "status held"
pl_publish 1.1.6 --channel beta
fl_check 1
assert_eq "$(fl_version 1)" 1.1.5 "held"
echo "$FL_OUT" | grep -q 'held: would install hello 1.1.6' || fail "the check does not report what it would install: $FL_OUT"
fl_log_has 1 'hello: not installing 1.1.6 now: held \(until updaterctl unhold hello\) \(rule: hold; until updaterctl unhold\)' ||
	fail "no log line for the hold"

fl_stop 1
fl_start 1
fl_check 1
assert_eq "$(fl_version 1)" 1.1.5 "still held after a restart"
assert_eq "$(fl_get 1 's["targets"][0]["held"]')" True "status held after a restart"
fl_ctl 1 unhold hello >/dev/null || fail "updaterctl unhold failed"
wait_until 10 fl_version_is 1 1.1.6 || fail "unhold did not install 1.1.6 (now $(fl_version 1))"
assert_eq "$(fl_get 1 's["targets"][0]["held"]')" False "status after unhold"
pass
