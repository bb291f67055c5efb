#!/bin/bash
# The timer: with interval 0 nothing runs by itself, not even with an old
# last check; a last check older than interval is caught up at start; a
# machine that never checked checks at start + splay; periodic checks
# follow each other by interval; and an idle daemon makes no system call.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup
mkdir -p "$TEST_TMP/state"
echo $(($(date +%s) - 86400)) >"$TEST_TMP/state/last_check"

# interval 0: no check at start, whatever the last check.
start_updaterd "$CONFIG"
sleep 2
assert_eq "$(checks_run)" 0 "checks with interval 0"
assert_eq "$(status_get 's["next_check"]')" None "next_check with interval 0"
assert_eq "$(status_get 's["last_check"]')" "$(cat "$TEST_TMP/state/last_check")" "persisted last_check"

# Idle: no system call at all (no polling), seen by strace for 2 s.
if command -v strace >/dev/null; then
	timeout -s INT 2 strace -f -c -p "$UPDATERD_PID" -o "$TEST_TMP/strace.txt" >/dev/null 2>&1
	calls=$(awk '$NF == "total" { print $(NF-1) + 0 }' "$TEST_TMP/strace.txt")
	assert_eq "${calls:-0}" 0 "system calls of an idle daemon in 2 s: $(cat "$TEST_TMP/strace.txt")"
	# strace does see it when it works.
	( sleep 0.5; $DGRAM "$SOCK" status >/dev/null ) &
	timeout -s INT 1.5 strace -f -c -p "$UPDATERD_PID" -o "$TEST_TMP/strace2.txt" >/dev/null 2>&1
	wait $!
	grep -q recvmmsg "$TEST_TMP/strace2.txt" || fail "strace saw no request: $(cat "$TEST_TMP/strace2.txt")"
fi
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"

# A day since the last check, interval 1h: caught up at once.
daemon_write_config "interval: 1h" "splay: 0" "min_interval: 1s"
start_updaterd "$CONFIG"
wait_checks 1 5 || fail "an overdue check was not caught up at start"
wait_until 10 daemon_idle || fail "round did not end"
last=$(cat "$TEST_TMP/state/last_check")
(($(date +%s) - last < 30)) || fail "last_check was not written after the check ($last)"
next=$(status_get 's["next_check"]')
((next >= last + 3600 - 1 && next <= last + 3600 + 2)) || fail "next_check $next is not last_check $last + 1h"
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"

# Restarted right after: the recent last check holds, nothing runs at start.
before=$(checks_run)
start_updaterd "$CONFIG"
sleep 1.5
assert_eq "$(checks_run)" "$before" "checks at a restart just after a check"
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"

# Never checked: due at start + splay (0 here).
rm -f "$TEST_TMP/state/last_check"
before=$(checks_run)
start_updaterd "$CONFIG"
wait_checks $((before + 1)) 5 || fail "a machine that never checked did not check at start"
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"

# interval 2s: periodic checks follow one another.
daemon_write_config "interval: 2s" "splay: 0" "min_interval: 1s"
before=$(checks_run)
start_updaterd "$CONFIG"
sleep 5.5
n=$(($(checks_run) - before))
((n >= 2 && n <= 4)) || fail "$n periodic checks in 5.5 s with interval 2s"
pass
