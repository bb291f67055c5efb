#!/bin/bash
# --notify: PROGRAM gets a NOTIFY_SOCKET, and a start counts (is logged as
# started, as replacing the previous generation) only once READY=1 arrives
# from inside the tree. Without READY=1 within --ready-timeout the start
# fails: with --restart no, updater-run stops the tree and exits 1.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP
TEST_LOG=$T/log

lines() {
	cat "$1" 2>/dev/null | wc -l
}
markers_at_least() {
	(($(lines "$T/marker") >= $1))
}

# 1. The server takes a second to load, appends its PID to "marker", then
# sends READY=1. The log may say "ready" only after the marker is there.
start_run "$T/log" -v --notify -- $PY "$SERVER" --delay 1 --marker "$T/marker" --ready \
	--info "$T/info" "$T"
wait_until 15 log_has "$T/log" "started \\(pid [0-9]+\\), ready" || fail "generation 1 never ready"
assert_eq "$(lines "$T/marker")" 1 "READY=1 senders when generation 1 was called ready"
grep -q '^NOTIFY_SOCKET=@updater-run/' "$T/info" || fail "NOTIFY_SOCKET: $(cat "$T/info")"
log_has "$T/log" "waiting for READY=1" || fail "no wait for READY=1 logged"

kill -HUP "$RUN_PID"
wait_until 15 log_has "$T/log" "generation 2 of .* ready \\(pid [0-9]+\\), replacing generation 1 \\(SIGHUP\\)" ||
	fail "generation 2 never reported ready"
assert_eq "$(lines "$T/marker")" 2 "READY=1 senders when generation 2 was called ready"
pid2=$(sed -n 2p "$T/marker")
log_has "$T/log" "generation 2 of .* ready \\(pid $pid2\\)" || fail "the ready generation is not pid $pid2"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_eq "$RC" 0 "exit status"
assert_no_leftovers

# 2. A program that never says READY=1; a READY=1 from outside the tree (a
# process that is not a descendant of updater-run) does not count.
rm -f "$T/info"
start_run "$T/log2" -v --notify --ready-timeout 10 -- $PY "$SERVER" --info "$T/info" "$T"
wait_until 10 test -s "$T/info" || fail "the program did not start"
addr=$(sed -n 's/^NOTIFY_SOCKET=//p' "$T/info")
$PY -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", "\0" + sys.argv[1][1:])' "$addr" || fail "cannot send to NOTIFY_SOCKET '$addr'"
wait_exit "$RUN_PID" 20
assert_eq "$RC" 1 "exit status when PROGRAM was never ready"
log_has "$T/log2" "ignoring a notification from pid [0-9]+, not under updater-run" ||
	fail "the outsider's READY=1 was not refused: $(cat "$T/log2")"
log_has "$T/log2" "did not send READY=1 within 10 s" || fail "no readiness timeout logged"
! log_has "$T/log2" "started \\(pid [0-9]+\\), ready" || fail "an outsider made the program ready"
assert_no_leftovers

# 3. With --restart on-failure, a start that is not ready in time is tried
# again after the backoff.
rm -f "$T/marker"
start_run "$T/log3" -v --notify --ready-timeout 1 --restart on-failure -- \
	sh -c "echo \$\$ >>'$T/marker'; while :; do sleep 0.1; done"
wait_until 20 markers_at_least 2 ||
	fail "no second start after a readiness timeout"
log_has "$T/log3" "starting '.*' again in 1 s" || fail "no backoff logged: $(cat "$T/log3")"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_no_leftovers

# 4. Under a service manager (NOTIFY_SOCKET set for updater-run itself):
# with --notify, PROGRAM's readiness is passed on as READY=1, and a stop as
# STOPPING=1; without it, PROGRAM gets the service manager's socket as is.
$PY - "$T/manager.sock" "$T/manager-got" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    data = s.recv(4096)
    with open(sys.argv[2], "a") as f:
        f.write(data.decode().replace("\n", " ") + "\n")
PYEOF
track_pid $!
wait_until 10 test -S "$T/manager.sock" || fail "the stand-in service manager did not start"
rm -f "$T/marker"
NOTIFY_SOCKET=$T/manager.sock start_run "$T/log4" -v --notify -- $PY "$SERVER" --delay 1 \
	--marker "$T/marker" --ready "$T"
wait_until 15 grep -qs "^READY=1" "$T/manager-got" || fail "no READY=1 passed on: $(cat "$T/log4")"
assert_eq "$(lines "$T/marker")" 1 "READY=1 senders when the service manager heard READY=1"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
grep -q "^STOPPING=1" "$T/manager-got" || fail "no STOPPING=1 passed on"

rm -f "$T/info"
NOTIFY_SOCKET=$T/manager.sock start_run "$T/log5" -- $PY "$SERVER" --info "$T/info" "$T"
wait_until 10 test -s "$T/info" || fail "the program did not start"
grep -qx "NOTIFY_SOCKET=$T/manager.sock" "$T/info" || fail "NOTIFY_SOCKET not passed through: $(cat "$T/info")"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
{ kill %1 && wait %1; } 2>/dev/null
assert_no_leftovers
pass
