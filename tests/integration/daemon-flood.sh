#!/bin/bash
# 10,000 one-byte datagrams in a burst: every one is received and counted,
# they run at most two checks (the one they started and one deferred check
# that follows after min_interval), and none is lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "min_interval: 3s"
echo "sleep 1" >"$TEST_TMP/check.body"
start_updaterd "$CONFIG"

$DGRAM "$SOCK" x --count 10000 || fail "the burst could not be sent"
# The first status request is itself the 10,001st datagram.
received=$(status_get 's["requests"]["received"]')
assert_eq "$received" 10001 "datagrams counted as received"
assert_eq "$(status_get 's["requests"]["rejected"]')" 0 "rejected"
# One request started a check, one created the deferred check, the rest joined it.
assert_eq "$(status_get 's["requests"]["coalesced"]')" 9998 "coalesced"

wait_checks 2 15 || fail "no deferred check followed the burst (checks: $(checks_run))"
wait_until 10 daemon_idle || fail "the deferred round did not end"
sleep 4 # more than min_interval: nothing else may start
assert_eq "$(checks_run)" 2 "checks run for the burst"
[[ $(status_get 's["last_check"]') =~ ^[0-9]+$ ]] || fail "last_check not recorded"
kill -0 "$UPDATERD_PID" || fail "updaterd died"
pass
