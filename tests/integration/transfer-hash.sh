#!/bin/bash
# Hashing never holds the loop (SPEC 17): while a 1 GiB target is hashed -
# at a check, because the file was changed outside the daemon, and after a
# rollback, which brings it back - status requests sent every 10 ms are all
# answered, none later than 50 ms. The file is sparse: no disk is used, and
# the reads run at memory speed, which is what SHA-256 must keep up with.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

pl_setup
require_cmd openssl
PROBE="/usr/bin/python3 $SRCDIR/tests/integration/status-probe.py"

truncate -s 1G "$TARGET"
chmod 0755 "$TARGET"
big_sha=$(openssl dgst -sha256 -r "$TARGET" | cut -d ' ' -f 1)
pl_publish 1.0
pl_config
pl_start

stop=$TEST_TMP/probe.stop
$PROBE "$SOCK" "$stop" --interval 10 >"$TEST_TMP/probe.out" 2>&1 &
probe=$!
track_pid "$probe"

# The check meets a file it never saw: it hashes 1 GiB, then installs 1.0.
pl_mark
pl_check
[[ $PL_RC -eq 0 ]] || fail "the check failed: $PL_OUT"
pl_log_has "hello: hashing '$TARGET'" || fail "the check did not hash the target"
[[ $(pl_version) == 1.0 ]] || fail "1.0 was not installed: $(pl_version)"

# The rollback brings the 1 GiB file back; it is hashed again, in the background.
out=$("$UPDATERCTL" --socket "$SOCK" rollback hello 2>&1) || fail "rollback failed: $out"
state_has_big() {
	grep -qx "sha256=$big_sha" "$TEST_TMP/state/targets/hello" &&
		grep -q '^file_id=.' "$TEST_TMP/state/targets/hello"
}
wait_until 60 state_has_big || fail "the state never learned the restored file: $(cat "$TEST_TMP/state/targets/hello")"
grep -q "hello: '$TARGET' hashed after the rollback" "$TEST_LOG" || fail "the rollback's hash is not logged"

touch "$stop"
wait "$probe"
read -r _ sent _ answered _ max _ slow <"$TEST_TMP/probe.out" || fail "probe: $(cat "$TEST_TMP/probe.out")"
echo "status requests: $sent sent, $answered answered, slowest $max ms, $slow later than 50 ms"
((sent >= 20)) || fail "only $sent status requests were sent"
[[ $answered == "$sent" ]] || fail "$((sent - answered)) of $sent status requests were not answered"
[[ $slow == 0 ]] || fail "$slow status requests were answered later than 50 ms (slowest $max ms)"
pass
