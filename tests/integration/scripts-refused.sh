#!/bin/bash
# scripts-refused.sh - the real updaterd refuses to run a check script that
# others could have changed (SPEC section 6): writable by group or others,
# owned by another user, or in a directory writable by others. Each refusal
# is logged with its reason, the check round fails cleanly without running
# anything, and the daemon serves on. A root-owned sticky directory is fine,
# and so is the script once repaired.
source "$(dirname "$0")/lib.sh"
require_root
new_tmpdir

mkdir -p "$TEST_TMP/scripts" "$TEST_TMP/bin" "$TEST_TMP/out"
chown nobody "$TEST_TMP/out"
out=$TEST_TMP/out
check=$TEST_TMP/scripts/check
printf 'v1\n' >"$TEST_TMP/bin/hello"
chmod 0755 "$TEST_TMP/bin/hello"

# Each run leaves a mark; it prints no manifest, so a run is a success.
install_script "$check" "#!/bin/sh
echo ran >>'$out/runs'"
install_script "$TEST_TMP/scripts/download" "#!/bin/sh
exit 1"

write_config "$TEST_TMP/updater.yaml" \
	"script_user: nobody" \
	"interval: 0" \
	"min_interval: 0" \
	"targets:" \
	"  - name: hello" \
	"    path: $TEST_TMP/bin/hello" \
	"    source: file://$TEST_TMP/repo/hello"

runs() {
	if [[ -f $out/runs ]]; then wc -l <"$out/runs"; else echo 0; fi
}

status() {
	dgram "$TEST_TMP/control.sock" status --reply
}

is_idle() {
	status | grep -q '"state": *"idle"'
}

# Polled by wait_until, so the counts are taken anew each time.
more_log_lines() {
	test "$(log_count "$1")" -gt "$2"
}

more_runs() {
	test "$(runs)" -gt "$1"
}

# check_refused REASON_REGEX: a check request ends in a failed round, with the
# reason in the log and in the target's last_error, and the script not run.
check_refused() {
	local reason=$1 before runs_before
	before=$(log_count "$reason")
	runs_before=$(runs)
	dgram "$TEST_TMP/control.sock" x >/dev/null || fail "cannot request a check"
	wait_until 20 more_log_lines "$reason" "$before" ||
		fail "no log line saying '$reason'"
	wait_until 20 is_idle || fail "the round did not end"
	local st
	st=$(status)
	grep -q '"last_result": *"failed' <<<"$st" || fail "the round did not fail: $st"
	grep -Eq "\"last_error\": *\"[^\"]*$reason" <<<"$st" ||
		fail "the target's last_error does not say '$reason': $st"
	assert_eq "$(runs)" "$runs_before" "runs of a refused script"
	kill -0 "$UPDATERD_PID" || fail "the daemon died"
}

check_runs() {
	local runs_before
	runs_before=$(runs)
	dgram "$TEST_TMP/control.sock" x >/dev/null || fail "cannot request a check"
	wait_until 20 more_runs "$runs_before" || fail "the script did not run"
	wait_until 20 is_idle || fail "the round did not end"
	status | grep -q '"last_result": *"failed' && fail "the round failed: $(status)"
	return 0
}

# --check-config refuses it too, with the reason, exit 78.
chmod 0757 "$check"
rc=0
"$UPDATERD" -c "$TEST_TMP/updater.yaml" --check-config >"$TEST_TMP/cc.log" 2>&1 || rc=$?
assert_eq "$rc" 78 "--check-config exit code with an others-writable script"
grep -q "'$check' is writable by group or others" "$TEST_TMP/cc.log" ||
	fail "--check-config did not say why: $(cat "$TEST_TMP/cc.log")"

start_updaterd "$TEST_TMP/updater.yaml"

# Writable by others, then by group.
check_refused "'$check' is writable by group or others"
chmod 0775 "$check"
check_refused "'$check' is writable by group or others"

# Owned by another user.
chmod 0755 "$check"
chown nobody "$check"
check_refused "'$check' is owned by nobody \\(uid 65534\\), not by root"
chown root "$check"

# In a directory writable by others (not sticky).
chmod 0777 "$TEST_TMP/scripts"
check_refused "directory '$TEST_TMP/scripts' is writable by group or others"

# A root-owned sticky directory is allowed; so is the repaired setup.
chmod 1777 "$TEST_TMP/scripts"
check_runs
chmod 0755 "$TEST_TMP/scripts"
check_runs
assert_eq "$(runs)" 2 "runs of the accepted script"
pass
