#!/bin/bash
# A one-byte datagram from an unprivileged user runs exactly one check, as
# script_user; requests inside min_interval are deferred into one more check.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "min_interval: 3s"
start_updaterd "$CONFIG"

reply=$(as_nobody $DGRAM "$SOCK" x --reply) || fail "no reply to a one-byte datagram from nobody"
assert_eq "$reply" queued "reply to the first request"
wait_checks 1 || fail "the check script did not run"
read -r uid pgid <"$CHECKS"
assert_eq "$uid" 65534 "the check script's uid (script_user nobody)"
wait_until 10 daemon_idle || fail "the round did not end"
sleep 0.5
assert_eq "$(checks_run)" 1 "checks after one request"

# Inside min_interval: deferred, and two requests make one more check.
reply=$(as_nobody $DGRAM "$SOCK" check --reply)
[[ $reply =~ ^deferred\ [1-3]$ ]] || fail "reply inside min_interval: '$reply'"
reply=$(request ff --hex)
[[ $reply =~ ^deferred\ [1-3]$ ]] || fail "second reply inside min_interval: '$reply'"
assert_eq "$(checks_run)" 1 "no check before min_interval has passed"
wait_checks 2 10 || fail "the deferred check never ran"
wait_until 10 daemon_idle || fail "the deferred round did not end"
sleep 1
assert_eq "$(checks_run)" 2 "the two deferred requests ran one check"
assert_eq "$(status_get 's["requests"]["coalesced"]')" 1 "coalesced requests"

# Every check logged its result, and nothing runs by itself with interval 0.
[[ $(log_count 'check: ') -ge 2 ]] || fail "the rounds' results were not logged"
pass
