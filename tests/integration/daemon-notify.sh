#!/bin/bash
# sd_notify: READY=1 once serving, STATUS=, WATCHDOG=1 at half WATCHDOG_USEC,
# RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM, all on a
# NOTIFY_SOCKET the test owns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup
NOTES=$TEST_TMP/notify.log
: >"$NOTES"
$PY "$SRCDIR/tests/integration/notify_listen.py" "$TEST_TMP/notify.sock" "$NOTES" &
track_pid $!
wait_until 5 test -S "$TEST_TMP/notify.sock" || fail "notify listener did not start"

# WATCHDOG_PID must name the daemon: set it in a wrapper that execs it.
real=$UPDATERD
UPDATERD=$TEST_TMP/wrapper
printf '#!/bin/bash\nexport WATCHDOG_PID=$$\nexec %q "$@"\n' "$real" >"$UPDATERD"
chmod 0755 "$UPDATERD"
export NOTIFY_SOCKET=$TEST_TMP/notify.sock WATCHDOG_USEC=400000
start_updaterd "$CONFIG"
unset NOTIFY_SOCKET WATCHDOG_USEC

has_note() {
	grep -q -E "$1" "$NOTES"
}
count_notes() {
	grep -c -E "$1" "$NOTES" || true
}

wait_until 5 has_note '^READY=1$' || fail "no READY=1: $(cat "$NOTES")"
wait_until 5 has_note '^STATUS=Idle' || fail "no STATUS=: $(cat "$NOTES")"
# The socket answers once READY=1 was sent.
assert_eq "$(request x)" queued "request after READY=1"
sleep 1.2
n=$(count_notes '^WATCHDOG=1$')
((n >= 3 && n <= 12)) || fail "WATCHDOG=1 sent $n times in 1.2 s with WATCHDOG_USEC=400000"

kill -HUP "$UPDATERD_PID"
two_ready() {
	(($(count_notes '^READY=1$') >= 2))
}
wait_until 5 two_ready || fail "no READY=1 after the reload: $(cat "$NOTES")"
wait_until 5 has_note '^RELOADING=1 MONOTONIC_USEC=[0-9]+$' || fail "no RELOADING=1: $(cat "$NOTES")"
reloading=$(grep -n -m1 '^RELOADING=1' "$NOTES" | cut -d: -f1)
ready2=$(grep -n '^READY=1$' "$NOTES" | sed -n 2p | cut -d: -f1)
((reloading < ready2)) || fail "READY=1 came before RELOADING=1"
wait_until 5 has_note '^STATUS=Checking' || fail "no STATUS while checking: $(cat "$NOTES")"

kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"
assert_eq "$DAEMON_STATUS" 0 "exit status"
wait_until 5 has_note '^STOPPING=1$' || fail "no STOPPING=1: $(cat "$NOTES")"
pass
