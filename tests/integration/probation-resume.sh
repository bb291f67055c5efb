#!/bin/bash
# Probation survives the daemon (SPEC section 15): its deadline is in the
# state, on the wall clock.
#   - updaterd SIGKILLed during probation and started again resumes it (log
#     line, status probation_until), and the update ends healthy once the
#     server answers;
#   - a deadline that passed while the daemon was down rolls back at start:
#     the old file is back, the version is quarantined, last_error says why.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/probation-lib.sh"

probation_setup \
	"    signal: SIGTERM" \
	"    health:" \
	"      command: [@TMP@/scripts/health]" \
	"      expect_version: true" \
	"      timeout: 5s" \
	"      interval: 1s"
supervise
wait_until 10 answers 1.0 || fail "the 1.0 server does not answer: $(answer)"
start_updaterd "$CONFIG"
assert_eq "$(request x)" queued "first request"
wait_until 10 daemon_idle || fail "the first round did not end"

# 2.0 is good, but the supervisor holds it back: the gate cannot pass yet.
touch "$TEST_TMP/hold"
publish 2.0 v2
sleep 1
assert_eq "$(request x)" queued "request for 2.0"
wait_until 10 state_has 'version=2.0' || fail "2.0 was not installed"
grep -q '^probation_until=[0-9]' "$TEST_TMP/state/targets/hello" || fail "no deadline in the state: $(cat "$TEST_TMP/state/targets/hello")"
kill -KILL "$UPDATERD_PID"
wait "$UPDATERD_PID" 2>/dev/null
until_before=$(sed -n 's/^probation_until=//p' "$TEST_TMP/state/targets/hello")
start_updaterd "$CONFIG"
wait_until 5 grep -q 'hello: resuming the probation of 2\.0: [0-9]* s left' "$TEST_LOG" ||
	fail "the restarted daemon did not resume the probation"
subscribe "$TEST_TMP/sub.out"
assert_eq "$(status_get 's["targets"][0]["probation_until"]')" "$until_before" "status: probation_until after the restart"
UPDATER_SOCKET=$SOCK "$BUILDDIR/updaterctl" status >"$TEST_TMP/status.out"
grep -q 'on probation until' "$TEST_TMP/status.out" || fail "updaterctl status does not show probation: $(cat "$TEST_TMP/status.out")"
rm -f "$TEST_TMP/hold"
wait_until 10 has_note "$TEST_TMP/sub.out" 'healthy hello 2\.0' || fail "no 'healthy hello 2.0': $(cat "$TEST_TMP/sub.out")"
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-2.0" || fail "2.0 is not in place after a healthy probation"
assert_eq "$(status_get 's["targets"][0]["probation_until"]')" None "probation_until after healthy"
state_has 'rolled_back_from=' || fail "a healthy update was held back"
pass "SIGKILL during probation: resumed, healthy"

# 3.0, held back again; the daemon is killed, and stays down past the deadline.
touch "$TEST_TMP/hold"
publish 3.0 v3
sleep 1
assert_eq "$(request x)" queued "request for 3.0"
wait_until 10 state_has 'version=3.0' || fail "3.0 was not installed"
kill -KILL "$UPDATERD_PID"
wait "$UPDATERD_PID" 2>/dev/null
deadline=$(sed -n 's/^probation_until=//p' "$TEST_TMP/state/targets/hello")
[[ -n $deadline ]] || fail "no deadline in the state"
while (($(date +%s) <= deadline)); do sleep 0.2; done
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-3.0" || fail "3.0 was rolled back while the daemon was down"
start_updaterd "$CONFIG"
wait_until 10 grep -q 'hello: the probation of 3\.0 ended [0-9]* s ago, while updaterd was not running' "$TEST_LOG" ||
	fail "no log line about the missed deadline"
wait_until 10 cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-2.0" || fail "2.0 is not back after a missed deadline"
assert_eq "$(status_get 's["targets"][0]["version"]')" 2.0 "version after the rollback at start"
assert_eq "$(status_get 's["targets"][0]["quarantined"]')" 3.0 "quarantined after the rollback at start"
assert_eq "$(status_get 's["targets"][0]["probation_until"]')" None "probation_until after the rollback at start"
err=$(status_get 's["targets"][0]["last_error"]')
[[ $err == *"health check of 3.0 failed"*"updaterd was not running"* ]] || fail "last_error: '$err'"
rm -f "$TEST_TMP/hold"
wait_until 10 answers 2.0 || fail "2.0 does not answer after the rollback: '$(answer)'"
pass "deadline passed while down: rolled back at start"
