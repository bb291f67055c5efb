#!/bin/bash
# The clients against the real updaterd: updaterctl's commands and exit codes
# with the daemon up and after it stopped, and libupdater's watch descriptor
# woken by the daemon's notifications (its subscription), not only by inotify.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"
. "$SRCDIR/tests/integration/daemon-lib.sh"

require_root
[[ -x $UPDATERD ]] || skip "no updaterd in this build"
daemon_setup "min_interval: 0"
start_updaterd "$CONFIG"
export UPDATER_SOCKET=$SOCK

ctl() {
	RC=0
	"$UPDATERCTL" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || RC=$?
	OUT=$(cat "$TEST_TMP/out")
	ERR=$(cat "$TEST_TMP/err")
}
expect_rc() {
	[[ $RC == "$1" ]] || fail "updaterctl ${*:2}: exit $RC, expected $1 (stdout '$OUT', stderr '$ERR')"
}

# --- status ---
ctl status --json
expect_rc 0 status --json
$PY -c 'import json,sys; s=json.load(sys.stdin); assert s["targets"][0]["name"] == "hello", s' <<<"$OUT" ||
	fail "status --json: '$OUT'"
ctl status
expect_rc 0 status
[[ $OUT == *"updaterd "* && $OUT == *hello* && $OUT == *"$TEST_TMP/bin/hello"* ]] || fail "status table:
$OUT"

# --- check, check --wait ---
ctl check
expect_rc 0 check
[[ $OUT =~ ^(queued|running|deferred\ [0-9]+)$ ]] || fail "check: '$OUT'"
ctl check --wait 60
expect_rc 0 check --wait
# The round's summary: the check script offers nothing.
assert_eq "$(tail -n 1 <<<"$OUT")" "no update for hello" "check --wait"

printf 'exit 3\n' >"$TEST_TMP/check.body"
ctl check --wait 60
expect_rc 1 "check --wait (the check script fails)"
[[ $(tail -n 1 <<<"$OUT") == failed* ]] || fail "check --wait on a failing check: '$OUT'"
rm -f "$TEST_TMP/check.body"

# --- watch: the end of every round, one a line ---
"$UPDATERCTL" watch >"$TEST_TMP/watch.out" 2>"$TEST_TMP/watch.err" &
watch_pid=$!
track_pid "$watch_pid"
sleep 0.5 # subscribed
ctl check
expect_rc 0 check
wait_until 30 grep -q '^checked ok' "$TEST_TMP/watch.out" ||
	fail "watch printed: '$(cat "$TEST_TMP/watch.out")' '$(cat "$TEST_TMP/watch.err")'"
kill -TERM "$watch_pid"
rc=0
wait "$watch_pid" || rc=$?
assert_eq "$rc" 0 "watch exits 0 on SIGTERM"

# --- rollback: refused to others than root; an error without a previous version ---
RC=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$UPDATERCTL" rollback hello \
	>"$TEST_TMP/out" 2>"$TEST_TMP/err" || RC=$?
OUT=$(cat "$TEST_TMP/out") ERR=$(cat "$TEST_TMP/err")
expect_rc 1 rollback as nobody
[[ -n $ERR ]] || fail "rollback as nobody: no message"
ctl rollback no-such-target
expect_rc 1 rollback no-such-target
[[ $ERR == *"rollback no-such-target: "* ]] || fail "rollback error message: '$ERR'"

# --- libupdater subscribes: a round's notification wakes the watch ---
mkdir -p "$TEST_TMP/app"
cp "$PROBE_V1" "$TEST_TMP/app/probe"
probe_start "$TEST_TMP/app/probe"
probe watch
[[ $REPLY =~ ^watch\ [0-9]+$ ]] || fail "watch: $REPLY"
# Subscribed (connected to the events socket): nothing wakes the watch until
# a notification.
probe_expect "poll 300" "poll timeout"
ctl check
expect_rc 0 check
probe_expect "poll 30000" "poll readable"
probe_expect handle "handle 0"
probe_stop

# --- watch across a restart of the daemon: it connects again, says so, goes on ---
"$UPDATERCTL" watch >"$TEST_TMP/watch2.out" 2>"$TEST_TMP/watch2.err" &
watch_pid=$!
track_pid "$watch_pid"
sleep 0.5
ctl check
expect_rc 0 check
wait_until 30 grep -q '^checked' "$TEST_TMP/watch2.out" || fail "watch before the restart: '$(cat "$TEST_TMP/watch2.out")'"
kill -TERM "$UPDATERD_PID"
daemon_exits_within 5 || fail "updaterd did not stop"
start_updaterd "$CONFIG"
wait_until 10 grep -q 'connected again' "$TEST_TMP/watch2.err" || fail "watch did not connect again: '$(cat "$TEST_TMP/watch2.err")'"
ctl check
expect_rc 0 check
two_rounds() {
	(($(grep -c '^checked' "$TEST_TMP/watch2.out") >= 2))
}
wait_until 30 two_rounds || fail "watch after the restart: '$(cat "$TEST_TMP/watch2.out")' '$(cat "$TEST_TMP/watch2.err")'"
kill -TERM "$watch_pid"
rc=0
wait "$watch_pid" || rc=$?
assert_eq "$rc" 0 "watch exits 0 on SIGTERM after a reconnection"

# --- the daemon gone: exit 3 ---
kill -TERM "$UPDATERD_PID"
wait "$UPDATERD_PID" 2>/dev/null
ctl status
expect_rc 3 status with the daemon stopped
ctl check
expect_rc 3 check with the daemon stopped

pass
