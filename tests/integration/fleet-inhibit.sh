#!/bin/bash
# Inhibitors (SPEC 16): `updaterctl inhibit --target hello --why TEXT -- COMMAND`
# holds a connection to events.sock while COMMAND runs, and no swap of
# hello starts meanwhile: a release found is deferred with a log line naming
# the rule. Killing the holder with SIGKILL closes the connection: the
# daemon releases the inhibitor and installs what waited, by itself. Only
# root or the owner of the target's file may inhibit it (nobody gets an
# error and COMMAND does not run). With max_inhibit: 4s, a release waits at
# most that long: the daemon goes ahead while the inhibitor is still held,
# and logs it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

pl_setup
fl_node 1
fl_start 1
pl_publish 1.0
fl_check 1
assert_eq "$(fl_version 1)" 1.0 "before any inhibitor"

# Not the owner of the target's file: refused, COMMAND never runs.
as_nobody "$UPDATERCTL" --socket "$(fl_dir 1)/control.sock" inhibit --target hello -- \
	/bin/sh -c "touch $TEST_TMP/ran" 2>"$TEST_TMP/err" && fail "nobody could inhibit a root-owned target"
[[ ! -e $TEST_TMP/ran ]] || fail "COMMAND ran although the inhibitor was refused"
grep -q 'permission denied' "$TEST_TMP/err" || fail "no permission error: $(cat "$TEST_TMP/err")"
as_nobody "$UPDATERCTL" --socket "$(fl_dir 1)/control.sock" inhibit -- /bin/true 2>/dev/null &&
	fail "nobody could inhibit every target"

# Held by a process we kill with SIGKILL.
"$UPDATERCTL" --socket "$(fl_dir 1)/control.sock" inhibit --target hello --why "backup running" -- \
	/bin/sh -c "echo started >$TEST_TMP/holder; exec sleep 600" &
holder=$!
track_pid "$holder"
wait_until 10 test -s "$TEST_TMP/holder" || fail "the inhibitor's COMMAND did not start"
fl_log_has 1 'inhibitor on hello taken by uid 0' || fail "the daemon did not log the inhibitor"
pl_publish 2.0
fl_check 1
assert_eq "$(fl_version 1)" 1.0 "while inhibited"
fl_log_has 1 'hello: not installing 2.0 now: inhibited by 1 inhibitor: backup running \(until released, at most until [0-9T:-]+Z\) \(rule: inhibitor' ||
	fail "no log line naming the inhibitor rule"
kill -KILL "$holder"
wait "$holder" 2>/dev/null
wait_until 10 fl_version_is 1 2.0 || fail "killing the holder did not release the inhibitor (still $(fl_version 1))"
fl_log_has 1 'inhibitor on hello released' || fail "no log line for the release"

# max_inhibit: the daemon goes ahead after 4 s, while the holder still runs.
fl_stop 1
fl_node 1 "max_inhibit: 4s"
fl_start 1
"$UPDATERCTL" --socket "$(fl_dir 1)/control.sock" inhibit --why "long job" -- sleep 600 &
holder=$!
track_pid "$holder"
wait_until 10 fl_log_has 1 'inhibitor on every target taken' || fail "the second inhibitor was not taken"
taken=$(now_ms)
pl_publish 3.0
fl_check 1
assert_eq "$(fl_version 1)" 2.0 "right after publishing 3.0 under an inhibitor"
wait_until 10 fl_version_is 1 3.0 || fail "max_inhibit did not run out"
waited=$(($(now_ms) - taken))
echo "installed ${waited} ms after the inhibitor was taken (max_inhibit 4 s)"
((waited >= 4000)) || fail "installed after $waited ms, before max_inhibit"
fl_log_has 1 'hello: an inhibitor: long job has been held for longer than max_inhibit; going ahead: installing 3.0' ||
	fail "no log line for max_inhibit"
kill -0 "$holder" 2>/dev/null || fail "the holder ended early"
pass
