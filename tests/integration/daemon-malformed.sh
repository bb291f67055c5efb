#!/bin/bash
# Every malformed datagram gets an "error ..." reply, is counted as rejected,
# and changes nothing else: no check runs, no other counter moves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup
start_updaterd "$CONFIG"

counters() {
	status_get '"%d %d %d" % (s["requests"]["received"], s["requests"]["coalesced"], s["requests"]["rejected"])'
}

expect_error() {
	local what=$1 reply before after
	shift
	read -r r0 c0 j0 <<<"$(counters)"
	reply=$("$@") || fail "$what: no reply"
	[[ $reply == "error "* ]] || fail "$what: reply '$reply' is not an error"
	read -r r1 c1 j1 <<<"$(counters)"
	# The status request in between is one received datagram too.
	assert_eq "$((r1 - r0))" 2 "$what: received"
	assert_eq "$((j1 - j0))" 1 "$what: rejected"
	assert_eq "$c1" "$c0" "$what: coalesced"
	echo "$what -> $reply"
}

expect_error "empty datagram" request ""
expect_error "257 bytes" request "$(head -c 257 /dev/zero | tr '\0' c)"
expect_error "binary garbage" request 00ff13fe7f0a01 --hex
expect_error "unknown command" request frobnicate
expect_error "check with an argument" request "check now"
expect_error "rollback without target" request rollback
expect_error "rollback of a bad name" request "rollback ../x"
expect_error "rollback from nobody" as_nobody $DGRAM "$SOCK" "rollback hello" --reply
expect_error "rollback from nobody, unknown target" as_nobody $DGRAM "$SOCK" "rollback x" --reply

# A 256-byte request is not too long, merely unknown; 257 is too long.
reply=$(request "$(head -c 256 /dev/zero | tr '\0' c)")
assert_eq "$reply" "error unknown request" "256-byte request"
reply=$(request "$(head -c 257 /dev/zero | tr '\0' c)")
assert_eq "$reply" "error request too long (over 256 bytes)" "257-byte request"

sleep 0.5
assert_eq "$(checks_run)" 0 "checks run by malformed requests"
assert_eq "$(status_get 's["state"]')" idle "state"
assert_eq "$(status_get 's["last_check"]')" None "last_check"
kill -0 "$UPDATERD_PID" || fail "updaterd died"
pass
