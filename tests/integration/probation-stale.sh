#!/bin/bash
# Stale processes (SPEC section 15): after a swap, status lists per target
# the processes still running a replaced image of its path, by PID and
# comm, until they exit; a process that re-executed into the new file is
# not listed; updaterctl status lists them too. No health: here, so the
# update is healthy at once ("healthy hello 2.0" right after "updated").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/probation-lib.sh"

stale_pids() {
	status_get '" ".join(str(p["pid"]) for p in s["targets"][0]["stale"])'
}

probation_setup
start_updaterd "$CONFIG"
subscribe "$TEST_TMP/sub.out"
assert_eq "$(request x)" queued "first request"
wait_until 10 daemon_idle || fail "the first round did not end"

# One server that stays on its image, one that follows its file.
"$TEST_TMP/bin/hello" --port "$PORT" 2>>"$TEST_TMP/server.log" &
stays=$!
track_pid $stays
other=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TEST_TMP/bin/hello" --port "$other" --reexec 2>>"$TEST_TMP/server.log" &
follows=$!
track_pid $follows
wait_until 10 answers 1.0 || fail "the 1.0 server does not answer"
assert_eq "$(stale_pids)" "" "stale processes before any swap"

publish 2.0 v2
sleep 1
assert_eq "$(request x)" queued "request for 2.0"
wait_until 10 has_note "$TEST_TMP/sub.out" 'updated hello 2\.0' || fail "no 'updated hello 2.0'"
wait_until 10 has_note "$TEST_TMP/sub.out" 'healthy hello 2\.0' || fail "no health: should be healthy at once: $(cat "$TEST_TMP/sub.out")"
wait_until 10 daemon_idle || fail "the round did not end"
# The follower re-executes into 2.0 (its /proc/PID/exe is the new file).
runs_new_file() { [[ $(stat -L -c %i "/proc/$follows/exe" 2>/dev/null) == $(stat -c %i "$TEST_TMP/bin/hello") ]]; }
wait_until 10 runs_new_file ||
	fail "the --reexec server did not re-execute"
assert_eq "$(stale_pids)" "$stays" "stale processes after the swap"
assert_eq "$(status_get 's["targets"][0]["stale"][0]["comm"]')" hello "comm of the stale process"
UPDATER_SOCKET=$SOCK "$BUILDDIR/updaterctl" status >"$TEST_TMP/status.out"
grep -q "still running the replaced file: pid $stays (hello)" "$TEST_TMP/status.out" ||
	fail "updaterctl status does not list the stale process: $(cat "$TEST_TMP/status.out")"
kill -TERM "$stays"
wait "$stays" 2>/dev/null
assert_eq "$(stale_pids)" "" "stale processes after it exited"
UPDATER_SOCKET=$SOCK "$BUILDDIR/updaterctl" status >"$TEST_TMP/status.out"
grep -q "still running" "$TEST_TMP/status.out" && fail "updaterctl status lists a process that exited"
pass
