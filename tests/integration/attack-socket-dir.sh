#!/bin/bash
# Hardening (issue 9): whoever may write in the control socket's directory
# can put a socket of their own in the daemon's place (control.sock or
# events.sock). The daemon refuses to start, exit 78 with a log line naming
# the directory, when that directory is not its own (root's) or is writable
# by group or others, sticky or not; --check-config says the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup
RUN=$TEST_TMP/run
sed -i "s|^socket: .*|socket: $RUN/control.sock|" "$CONFIG"
mkdir -m 0755 "$RUN"

# refused WHY: updaterd exits 78 at once, says why, binds nothing.
refused() {
	: >"$TEST_TMP/log"
	rc=0
	timeout 10 "$UPDATERD" -c "$CONFIG" >"$TEST_TMP/log" 2>&1 || rc=$?
	assert_eq "$rc" 78 "updaterd's exit status with a socket directory $1"
	grep -q "socket directory '$RUN'" "$TEST_TMP/log" || fail "no log line naming '$RUN' ($1): $(cat "$TEST_TMP/log")"
	[[ ! -e $RUN/control.sock && ! -e $RUN/events.sock ]] || fail "a socket was bound in a directory $1"
	rc=0
	"$UPDATERD" -c "$CONFIG" --check-config >"$TEST_TMP/log" 2>&1 || rc=$?
	assert_eq "$rc" 78 "--check-config with a socket directory $1"
}

chmod 0777 "$RUN"
refused "writable by others"
grep -q "not writable by group or others" "$TEST_TMP/log" || fail "the reason: $(cat "$TEST_TMP/log")"
chmod 1777 "$RUN"
refused "sticky and writable by others"
chmod 0775 "$RUN"
refused "writable by its group"
chmod 0755 "$RUN"
chown 65534:65534 "$RUN"
refused "owned by nobody"
grep -q "owner uid 65534" "$TEST_TMP/log" || fail "the owner is not named: $(cat "$TEST_TMP/log")"

# Root's 0755 directory: served.
chown 0:0 "$RUN"
SOCK=$RUN/control.sock
start_updaterd "$CONFIG"
assert_eq "$(request x)" queued "a request once the directory is safe"
[[ -S $RUN/events.sock ]] || fail "no events.sock beside the control socket"
assert_eq "$(stat -c %a "$RUN/events.sock")" 666 "events.sock's mode"
pass
