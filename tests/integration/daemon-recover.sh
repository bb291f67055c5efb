#!/bin/bash
# Start-up recovery reconciles the state with the disk: a target that still
# is the file the daemon installed is not read again (its identity is in the
# state beside its sha256); one changed behind the daemon's back is noticed,
# its version forgotten, and the release is installed again; temporary
# files that a crash left in the state directory are deleted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
require_cmd strace

daemon_setup
REPO=$TEST_TMP/repo
TARGET=$TEST_TMP/bin/hello
STATE=$TEST_TMP/state/targets/hello
mkdir -m 0755 "$REPO"
install_script "$TEST_TMP/scripts/check" "#!/bin/sh
cat '$REPO/manifest'"
install_script "$TEST_TMP/scripts/download" '#!/bin/sh
exec cat "$UPDATER_URL"'
head -c 3000000 /dev/urandom >"$REPO/hello-2.0"
chmod 0644 "$REPO/hello-2.0"
write_manifest hello 2.0 "$REPO/hello-2.0" "$REPO/manifest"
TEST_LOG=$TEST_TMP/updaterd.log

# once LABEL: one `updaterd --once`, traced; its exit status in ONCE_STATUS.
once() {
	echo "---- $1" >>"$TEST_LOG"
	strace -f -qq -e trace=open,openat -o "$TEST_TMP/trace" \
		"$UPDATERD" -c "$CONFIG" --once -v >>"$TEST_LOG" 2>&1
	ONCE_STATUS=$?
}

# How often the daemon opened the target itself (its path, read-only).
target_reads() {
	grep -c -E "open(at)?\(.*\"$TARGET\", O_RDONLY" "$TEST_TMP/trace" || true
}

once "install 2.0"
assert_eq "$ONCE_STATUS" 0 "--once installing 2.0"
cmp -s "$TARGET" "$REPO/hello-2.0" || fail "2.0 was not installed"
grep -qx 'version=2.0' "$STATE" || fail "state: $(cat "$STATE")"
grep -qx "file_id=[0-9:.][0-9:.]*" "$STATE" || fail "no file identity in the state: $(cat "$STATE")"

# Nothing changed: neither recovery nor the check reads the 3 MB again.
once "restart, nothing changed"
assert_eq "$ONCE_STATUS" 0 "--once with 2.0 installed"
assert_eq "$(target_reads)" 0 "reads of the unchanged target"
grep -q 'hello: 2.0 is installed already' "$TEST_LOG" || fail "the check did not see 2.0 installed"

# Touched (new times, same bytes): read once, still 2.0, and the new identity
# is remembered, so the next start reads nothing again.
touch -d '2020-01-01' "$TARGET"
once "restart after touch"
assert_eq "$(target_reads)" 1 "reads of the touched target"
grep -qx 'version=2.0' "$STATE" || fail "a touch lost the version: $(cat "$STATE")"
[[ $(log_count 'changed outside updaterd') == 0 ]] || fail "a touch was taken for a change"
once "restart after touch, again"
assert_eq "$(target_reads)" 0 "reads once the new identity is known"

# Changed behind the daemon's back, same size, in place (same inode): noticed,
# the version forgotten, and 2.0 installed again by the check.
head -c 3000000 /dev/urandom >"$TEST_TMP/other"
dd if="$TEST_TMP/other" of="$TARGET" conv=notrunc status=none
once "restart after an outside change"
assert_eq "$ONCE_STATUS" 0 "--once after an outside change"
[[ $(log_count "hello: '$TARGET' was changed outside updaterd; its version is now unknown") == 1 ]] ||
	fail "the outside change was not logged"
cmp -s "$TARGET" "$REPO/hello-2.0" || fail "2.0 was not installed again over the changed file"
grep -qx 'version=2.0' "$STATE" || fail "state after reinstalling: $(cat "$STATE")"

# A crash in the middle of a state write leaves a temporary file: deleted.
printf 'version=9\n' >"$STATE.tmp-0badf00d"
printf '1\n' >"$TEST_TMP/state/last_check.tmp-12345678"
once "restart after a crash during a state write"
[[ ! -e $STATE.tmp-0badf00d && ! -e $TEST_TMP/state/last_check.tmp-12345678 ]] ||
	fail "temporary state files were left: $(ls -a "$TEST_TMP/state" "$TEST_TMP/state/targets")"
grep -qx 'version=2.0' "$STATE" || fail "state after the clean-up: $(cat "$STATE")"
pass
