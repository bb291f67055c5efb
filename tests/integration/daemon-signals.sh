#!/bin/bash
# SIGHUP checks at once, inside min_interval. SIGTERM during a hanging script
# exits 0 within a second and leaves no process of the script's group.
# SIGINT on an idle daemon exits 0 too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "min_interval: 1h"
start_updaterd "$CONFIG"

assert_eq "$(request x)" queued "first request"
wait_checks 1 || fail "first check did not run"
wait_until 10 daemon_idle || fail "first round did not end"
reply=$(request x)
[[ $reply =~ ^deferred\ 3[0-9]{3}$ ]] || fail "request inside min_interval: '$reply'"
kill -HUP "$UPDATERD_PID"
wait_checks 2 5 || fail "SIGHUP did not check at once"
wait_until 10 daemon_idle || fail "SIGHUP round did not end"
sleep 0.5
# The deferred request was answered by that check: nothing else is waiting.
assert_eq "$(checks_run)" 2 "checks after SIGHUP"
assert_eq "$(status_get 's["next_check"]')" None "next_check after SIGHUP answered the waiting request"

# SIGTERM while the check script hangs (it and a child of its own).
echo 'sleep 600 & sleep 600' >"$TEST_TMP/check.body"
kill -HUP "$UPDATERD_PID"
wait_checks 3 5 || fail "third check did not start"
read -r _ pgid < <(tail -n 1 "$CHECKS")
[[ $pgid =~ ^[0-9]+$ ]] || fail "no process group recorded"
wait_until 5 pgrep -g "$pgid" sleep >/dev/null || fail "the hanging script is not running"
assert_eq "$(status_get 's["state"]')" checking "state during the hanging check"
start=$(date +%s%N)
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not exit after SIGTERM"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "$DAEMON_STATUS" 0 "exit status after SIGTERM"
((elapsed_ms < 1000)) || fail "updaterd took ${elapsed_ms} ms to stop (SPEC: within one second)"
# Zombies are dead already (reaped by whoever inherited them); no other may remain.
if pgrep -r R,S,D,T,t -g "$pgid" >/dev/null; then
	fail "processes of the script's group survive: $(pgrep -a -g "$pgid")"
fi
[[ ! -e $SOCK ]] || fail "the socket file was left behind"
[[ $(log_count 'stopping') -ge 1 ]] || fail "no log line about stopping"

# SIGINT, idle.
rm -f "$TEST_TMP/check.body"
start_updaterd "$CONFIG"
kill -INT "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not exit after SIGINT"
assert_eq "$DAEMON_STATUS" 0 "exit status after SIGINT"
echo "SIGTERM during a hanging script: stopped in ${elapsed_ms} ms"
pass
