# shellcheck shell=bash
# transfer-lib.sh - shared set-up for the transfer-*.sh integration tests
# (sourced after lib.sh, daemon-lib.sh and pipeline-lib.sh).

# tr_start_server: transfer-server.py serving $TEST_TMP (so /repo/ is $REPO),
# controlled through $CTL. Sets CTL, SRV_LOG, PORT.
tr_start_server() {
	CTL=$TEST_TMP/ctl
	SRV_LOG=$TEST_TMP/server.log
	mkdir -p "$CTL"
	: >"$SRV_LOG"
	/usr/bin/python3 "$SRCDIR/tests/integration/transfer-server.py" "$TEST_TMP" "$CTL" \
		"$TEST_TMP/port" "$SRV_LOG" 2>"$TEST_TMP/server.err" &
	track_pid $!
	wait_until 10 test -s "$TEST_TMP/port" || fail "transfer-server.py did not start: $(cat "$TEST_TMP/server.err")"
	PORT=$(cat "$TEST_TMP/port")
}

# tr_release VERSION SIZE: $REL/hello-VERSION, SIZE random bytes (before pl_publish).
tr_release() {
	head -c "$2" /dev/urandom >"$REL/hello-$1"
	chmod 0644 "$REL/hello-$1"
}

# tr_sent NAME: body bytes the server sent for /repo/NAME, all requests together.
tr_sent() {
	awk -v p="/repo/$1" '$2 == p { sub("sent=", "", $5); n += $5 } END { print n + 0 }' "$SRV_LOG"
}

# tr_state KEY: the value of KEY in the target's state file (empty when none).
tr_state() {
	sed -n "s/^$1=//p" "$TEST_TMP/state/targets/hello"
}

# tr_installed VERSION: the target holds exactly that release.
tr_installed() {
	cmp -s "$TARGET" "$REL/hello-$1" || fail "${2:-}: the target is not hello-$1"
}
