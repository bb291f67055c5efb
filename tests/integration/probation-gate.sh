#!/bin/bash
# The health gate (SPEC section 15), with the real daemon, real scripts and a
# real server kept running by a supervisor loop:
#   - a release whose server exits on start is rolled back by itself within
#     timeout + interval: "rolledback hello 1.0 health", the old server
#     answers again, 2.0 is quarantined (status, last_error with the health
#     command's exit status and stderr line) and refused by the next check
#     with a log line naming it; the command runs once against the old
#     version; updaterctl check --wait exits 1;
#   - a newer good release is installed afterwards and leaves probation:
#     "healthy hello 3.0", updaterctl check --wait exits 0;
#   - expect_version: a good release that the running server never
#     re-executed into (it still answers 1.0) fails the gate;
#   - updaterd --once waits for probation: exit 1 after an automatic
#     rollback, 0 after a healthy update.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/probation-lib.sh"

CTL=$BUILDDIR/updaterctl
TIMEOUT=4
INTERVAL=1
probation_setup \
	"    signal: SIGTERM" \
	"    health:" \
	"      command: [@TMP@/scripts/health]" \
	"      expect_version: true" \
	"      timeout: ${TIMEOUT}s" \
	"      interval: ${INTERVAL}s"
supervise
wait_until 10 answers 1.0 || fail "the 1.0 server does not answer: $(answer)"
start_updaterd "$CONFIG"
subscribe "$TEST_TMP/sub.out"
assert_eq "$(request x)" queued "first request"
wait_until 10 daemon_idle || fail "the first round did not end"
assert_eq "$(status_get 's["targets"][0]["version"]')" 1.0 "version learnt from the manifest"

# 2.0 exits at start: the daemon's SIGTERM stops 1.0, the supervisor starts
# 2.0 again and again, the health command never reaches a server.
publish 2.0 bad
sleep 1
rc=0
UPDATER_SOCKET=$SOCK "$CTL" check --wait 30 >"$TEST_TMP/ctl.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "updaterctl check --wait after an automatic rollback (output: $(cat "$TEST_TMP/ctl.out"))"
grep -qx 'rolledback hello 1.0 health' "$TEST_TMP/ctl.out" || fail "check --wait did not print the rollback: $(cat "$TEST_TMP/ctl.out")"
has_note "$TEST_TMP/sub.out" 'updated hello 2\.0' || fail "no 'updated hello 2.0': $(cat "$TEST_TMP/sub.out")"
has_note "$TEST_TMP/sub.out" 'rolledback hello 1\.0 health' || fail "no 'rolledback hello 1.0 health': $(cat "$TEST_TMP/sub.out")"
has_note "$TEST_TMP/sub.out" 'healthy hello 2\.0' && fail "2.0 was announced healthy"
t_up=$(note_time "$TEST_TMP/sub.out" 'updated hello 2\.0')
t_back=$(note_time "$TEST_TMP/sub.out" 'rolledback hello 1\.0 health')
# Within timeout + interval (and a second for a shared machine's scheduling).
$PY -c "import sys; d = $t_back - $t_up; print('swap to rollback: %.2f s' % d); sys.exit(0 if $TIMEOUT - 0.5 <= d <= $TIMEOUT + $INTERVAL + 1 else 1)" ||
	fail "the rollback came too early or too late after the swap (timeout ${TIMEOUT}s, interval ${INTERVAL}s)"
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-1.0" || fail "1.0 is not back at the path"
wait_until 10 answers 1.0 || fail "the old server does not answer again: '$(answer)'"
assert_eq "$(status_get 's["targets"][0]["version"]')" 1.0 "version after the automatic rollback"
assert_eq "$(status_get 's["targets"][0]["quarantined"]')" 2.0 "status: quarantined"
assert_eq "$(status_get 's["targets"][0]["probation_until"]')" None "status: probation_until after the rollback"
err=$(status_get 's["targets"][0]["last_error"]')
[[ $err == *"health check of 2.0 failed"*"exited with status 1"*"cannot reach the server"* ]] ||
	fail "last_error does not name the command's exit status and stderr line: '$err'"
state_has 'rolled_back_from=2.0' || fail "the state does not hold 2.0 back: $(cat "$TEST_TMP/state/targets/hello")"
# The command ran as script_user (nobody) with the new and the old version,
# then once against the old version after the rollback, and that was logged.
grep -qx '65534 2.0 1.0' "$HEALTH_LOG" || fail "health command environment: $(sort -u "$HEALTH_LOG")"
wait_until 10 grep -q 'after the rollback, the health command passes against 1\.0' "$TEST_LOG" ||
	fail "no log line about the run against the old version"
grep -qx '65534 1.0 2.0' "$HEALTH_LOG" || fail "no run against the old version: $(sort -u "$HEALTH_LOG")"
UPDATER_SOCKET=$SOCK "$CTL" status >"$TEST_TMP/status.out" || fail "updaterctl status failed"
grep -q 'quarantined: 2.0' "$TEST_TMP/status.out" || fail "updaterctl status does not show the quarantine: $(cat "$TEST_TMP/status.out")"

# Quarantined: the repository still offers 2.0; the next check refuses it.
sleep 1
assert_eq "$(request x)" queued "request after the rollback"
wait_until 10 daemon_idle || fail "the round after the rollback did not end"
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-1.0" || fail "the check installed the quarantined 2.0"
[[ $(log_count 'hello: refusing version 2\.0: hello was rolled back from 2\.0') -ge 1 ]] ||
	fail "no log line naming the refused version"

# A newer, good release: installed, healthy, the quarantine is over.
publish 3.0 v3
sleep 1
rc=0
UPDATER_SOCKET=$SOCK "$CTL" check --wait 30 >"$TEST_TMP/ctl.out" 2>&1 || rc=$?
assert_eq "$rc" 0 "updaterctl check --wait for a healthy update (output: $(cat "$TEST_TMP/ctl.out"))"
grep -qx 'healthy hello 3.0' "$TEST_TMP/ctl.out" || fail "check --wait did not wait for 'healthy': $(cat "$TEST_TMP/ctl.out")"
has_note "$TEST_TMP/sub.out" 'healthy hello 3\.0' || fail "no 'healthy hello 3.0': $(cat "$TEST_TMP/sub.out")"
wait_until 10 answers 3.0 || fail "3.0 does not answer: '$(answer)'"
assert_eq "$(status_get 's["targets"][0]["quarantined"]')" None "status: quarantined after a newer release"
assert_eq "$(status_get 's["targets"][0]["last_error"]')" None "status: last_error after a healthy update"
assert_eq "$(status_get 's["targets"][0]["probation_until"]')" None "status: probation_until after healthy"
pass "exits on start, rolled back, quarantined, newer release healthy"

# expect_version: no signal this time, so the running 3.0 server is never
# restarted into 4.0: the command exits 0, but answers 3.0, not 4.0.
kill -TERM "$UPDATERD_PID"
wait "$UPDATERD_PID"
sed -i '/    signal: SIGTERM/d' "$CONFIG"
start_updaterd "$CONFIG"
subscribe "$TEST_TMP/sub2.out"
publish 4.0 v2
rc=0
UPDATER_SOCKET=$SOCK "$CTL" check --wait 30 >"$TEST_TMP/ctl.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "check --wait when the server still answers the old version"
has_note "$TEST_TMP/sub2.out" 'rolledback hello 3\.0 health' || fail "no health rollback: $(cat "$TEST_TMP/sub2.out")"
err=$(status_get 's["targets"][0]["last_error"]')
[[ $err == *"exited with status 0 but its output does not name version 4.0"* ]] || fail "last_error: '$err'"
assert_eq "$(status_get 's["targets"][0]["quarantined"]')" 4.0 "quarantined after expect_version failed"
answers 3.0 || fail "the 3.0 server stopped answering: '$(answer)'"
pass "expect_version"

# --once waits for probation: 5.0 (a broken build again, and the signal
# back) is rolled back before it exits, with status 1.
kill -TERM "$UPDATERD_PID"
wait "$UPDATERD_PID"
sed -i "s|    source: .*|&\n    signal: SIGTERM|" "$CONFIG"
publish 5.0 bad
rc=0
"$UPDATERD" -c "$CONFIG" --once -v >"$TEST_TMP/once.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "updaterd --once after an automatic rollback (log: $(tail -5 "$TEST_TMP/once.log"))"
grep -q 'rolled hello back to 3\.0' "$TEST_TMP/once.log" || fail "--once did not roll back: $(cat "$TEST_TMP/once.log")"
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-3.0" || fail "--once left 5.0 in place"
wait_until 10 answers 3.0 || fail "3.0 does not answer after --once rolled back: '$(answer)'"
# 6.0 is the 3.0 build: without expect_version, answering is enough.
sed -i 's/expect_version: true/expect_version: false/' "$CONFIG"
publish 6.0 v3
rc=0
"$UPDATERD" -c "$CONFIG" --once -v >"$TEST_TMP/once.log" 2>&1 || rc=$?
assert_eq "$rc" 0 "updaterd --once after a healthy update (log: $(tail -5 "$TEST_TMP/once.log"))"
grep -q 'hello: 6\.0 is healthy' "$TEST_TMP/once.log" || fail "--once exited before probation ended: $(cat "$TEST_TMP/once.log")"
pass "--once"
