#!/bin/bash
# Issue 9, finding 4: when the daemon's queue is full (here: the daemon is
# stopped and a local user filled its socket), updaterctl blocked in send()
# with SIGINT and SIGTERM blocked; only SIGKILL ended it. It sends without
# blocking now, waits inside its deadline and exits 3 (not reachable), and
# SIGTERM/SIGINT end every wait at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "min_interval: 1s"
start_updaterd "$CONFIG"
UPDATERCTL=$BUILDDIR/updaterctl
assert_eq "$(request x)" queued "a request before the attack"
wait_until 10 daemon_idle || fail "the first round did not end"

kill -STOP "$UPDATERD_PID"
# Fill the queue as nobody, until the kernel says it is full.
as_nobody /usr/bin/python3 - "$SOCK" <<'PYEOF' || fail "cannot fill the daemon's queue"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("")
s.setblocking(False)
n = 0
try:
    while n < 100000:
        s.sendto(b"x", sys.argv[1])
        n += 1
except BlockingIOError:
    pass
assert 0 < n < 100000, n
PYEOF

# proc_ended PID: gone, or a zombie.
proc_ended() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
	[[ -z $st || $st == Z ]]
}
# ended_within SECONDS PID: PID ended within SECONDS, else it is killed.
ended_within() {
	if wait_until "$1" proc_ended "$2"; then
		return 0
	fi
	kill -KILL "$2" 2>/dev/null
	return 1
}

# status: exit 3 within its 5-second deadline, with a reason.
start=$SECONDS
"$UPDATERCTL" --socket "$SOCK" status >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
ctl=$!
track_pid $ctl
ended_within 9 $ctl || fail "updaterctl status still runs 9 s after the daemon's queue filled (it blocks in send)"
rc=0
wait $ctl || rc=$?
assert_eq "$rc" 3 "updaterctl status on a full queue"
grep -q 'queue is full' "$TEST_TMP/err" || fail "no reason given: $(cat "$TEST_TMP/err")"
((SECONDS - start <= 8)) || fail "updaterctl status took $((SECONDS - start)) s"

# SIGTERM and SIGINT end updaterctl while it waits for room.
for sig in TERM INT; do
	"$UPDATERCTL" --socket "$SOCK" check --wait 60 >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
	ctl=$!
	track_pid $ctl
	sleep 1
	proc_ended $ctl && fail "check --wait ended before SIGINT: $(cat "$TEST_TMP/err")"
	kill -"$sig" $ctl
	ended_within 2 $ctl || fail "updaterctl check --wait ignores SIG$sig while the daemon's queue is full"
	wait $ctl
	rc=$?
	[[ $rc != 0 ]] || fail "check --wait interrupted by SIG$sig exited 0"
done

# rollback as root: the same deadline.
"$UPDATERCTL" --socket "$SOCK" rollback hello >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
ctl=$!
track_pid $ctl
ended_within 9 $ctl || fail "updaterctl rollback still runs 9 s after the daemon's queue filled"
rc=0
wait $ctl || rc=$?
assert_eq "$rc" 3 "updaterctl rollback on a full queue"

# The daemon goes on; its queue drains and updaterctl is answered again.
kill -CONT "$UPDATERD_PID"
wait_until 10 "$UPDATERCTL" --socket "$SOCK" status >/dev/null 2>&1 || fail "no status once the daemon runs again"
pass
