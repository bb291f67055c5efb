#!/bin/bash
# Start-up recovery reconciles the state with the disk: a target that still
# is the file the daemon installed is not read again (its identity is in the
# state beside its sha256); one changed behind the daemon's back is noticed,
# its version forgotten but not its floor (SPEC 14: the same release is not
# installed again over it, a newer one is); temporary
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
# the version forgotten; the floor stays 2.0, so 2.0 is refused (a replay
# cannot pass for a repair) and the next release, 2.1, is installed.
head -c 3000000 /dev/urandom >"$TEST_TMP/other"
dd if="$TEST_TMP/other" of="$TARGET" conv=notrunc status=none
once "restart after an outside change"
assert_eq "$ONCE_STATUS" 0 "--once after an outside change"
[[ $(log_count "hello: '$TARGET' was changed outside updaterd; its version is now unknown") == 1 ]] ||
	fail "the outside change was not logged"
cmp -s "$TARGET" "$TEST_TMP/other" || fail "2.0 was installed again over the changed file, at the floor"
[[ $(log_count "hello: refusing version 2\.0: not above the version floor 2\.0") == 1 ]] ||
	fail "no refusal at the floor"
grep -qx 'floor=2.0' "$STATE" || fail "the floor after the outside change: $(cat "$STATE")"
grep -qx 'version=' "$STATE" || fail "the version after the outside change: $(cat "$STATE")"
head -c 3000000 /dev/urandom >"$REPO/hello-2.1"
chmod 0644 "$REPO/hello-2.1"
write_manifest hello 2.1 "$REPO/hello-2.1" "$REPO/manifest"
once "a newer release over the changed file"
assert_eq "$ONCE_STATUS" 0 "--once installing 2.1"
cmp -s "$TARGET" "$REPO/hello-2.1" || fail "2.1 was not installed over the changed file"
grep -qx 'version=2.1' "$STATE" || fail "state after installing 2.1: $(cat "$STATE")"

# A crash in the middle of a state write leaves a temporary file: deleted.
printf 'version=9\n' >"$STATE.tmp-0badf00d"
printf '1\n' >"$TEST_TMP/state/last_check.tmp-12345678"
once "restart after a crash during a state write"
[[ ! -e $STATE.tmp-0badf00d && ! -e $TEST_TMP/state/last_check.tmp-12345678 ]] ||
	fail "temporary state files were left: $(ls -a "$TEST_TMP/state" "$TEST_TMP/state/targets")"
grep -qx 'version=2.1' "$STATE" || fail "state after the clean-up: $(cat "$STATE")"
pass
