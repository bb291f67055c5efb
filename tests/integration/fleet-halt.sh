#!/bin/bash
# Halting a rollout (SPEC 16): 2.0 is published with a rollout_duration; the
# canary (rollout_bucket: 0.0) takes it at once, the machine last in line
# (rollout_bucket: 0.9) is due seconds later. `updater-publish --halt`
# re-signs the manifest with rollout_percent=0 before that: the second
# machine's own check at its turn finds the halt, logs it and installs
# nothing; the canary keeps 2.0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

pl_setup
fl_node 1 "rollout_bucket: 0.0"
fl_node 2 "rollout_bucket: 0.9"
fl_start 1
fl_start 2
pl_publish 1.0
fl_check 1
fl_check 2

start=$(date -u +%s)
pl_publish 2.0 --rollout-duration 8s --rollout-start "@$start"
fl_check 1
fl_check 2
assert_eq "$(fl_version 1)" 2.0 "the canary"
assert_eq "$(fl_version 2)" 1.0 "the last machine before its turn"
"$SRCDIR/scripts/updater-publish" --repo "$REPO" --halt hello --key "$KEYS/sec" >/dev/null ||
	fail "updater-publish --halt failed"
grep -qx 'rollout_percent=0' "$REPO/manifest" || fail "the halted manifest has no rollout_percent=0"
minisign -Vm "$REPO/manifest" -p "$KEYS/pub" >/dev/null || fail "the halted manifest is not signed"

# Past the second machine's turn (start + 7.2 s), and its check then.
turn=$((start * 1000 + 7200))
wait_until 15 fl_log_has 2 'not installing 2.0 now: the rollout is halted \(rollout_percent=0\) \(rule: halted' ||
	fail "machine 2 did not find the halt at its turn"
(($(now_ms) >= turn)) || fail "machine 2 looked again before its turn"
sleep 1
assert_eq "$(fl_version 2)" 1.0 "the last machine after the halt"
assert_eq "$(fl_version 1)" 2.0 "the canary after the halt"
fl_check 1
assert_eq "$(fl_version 1)" 2.0 "the canary after another check"
pass
