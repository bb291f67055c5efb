#!/bin/bash
# Attack (issue 9, finding 5): a mirror replays an old signed manifest to a
# machine whose installed version is unknown — a fresh state, or a file
# installed by hand — and gets the old release installed. The version floor
# (SPEC 14) refuses it:
#   - fresh state, a newer file installed by hand, the mirror serves the old
#     signed 1.0 without expires: refused, nothing installed, the log says
#     how to seed the version;
#   - a signed manifest with an unexpired expires is installed on a fresh
#     state, and raises the floor;
#   - after a file is changed outside the daemon (version forgotten), a
#     replay of that very release (unexpired) is refused by the floor;
#   - `updaterctl seed` (root only) sets version and floor; `version:` in the
#     target's configuration does the same for a fresh state.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

pl_setup
pl_config

# The mirror's old material: 1.0, signed, no expires (as published before
# expires was the default). Kept aside for the replay.
pl_publish 1.0 --expires never
mkdir -m 0755 "$TEST_TMP/old"
cp -p "$REPO/manifest" "$REPO/manifest.minisig" "$TEST_TMP/old/"
# 2.0 is out, and installed by hand: the daemon has never seen this machine.
pl_publish 2.0
install -m 0755 "$REL/hello-2.0" "$TARGET"

# The replay.
cp -p "$TEST_TMP/old/manifest" "$TEST_TMP/old/manifest.minisig" "$REPO/"
pl_start
pl_mark
pl_check
cmp -s "$TARGET" "$REL/hello-2.0" || fail "a replayed old signed manifest was installed on a fresh state ($PL_OUT)"
assert_eq "$PL_RC" 1 "updaterctl check --wait on a refused replay ($PL_OUT)"
pl_log_has "hello: refusing version 1\.0: the installed version is unknown and the manifest has no expires" ||
	fail "no log line saying why 1.0 was refused"
pl_log_has "updaterctl seed hello VERSION" || fail "the log does not say how to seed the version"
pl_no_staging "after the refused replay"

# A release that says when it expires is installed on the fresh state, and
# becomes the floor.
pl_publish 3.0 --expires "+1 day"
mkdir -m 0755 "$TEST_TMP/v3"
cp -p "$REPO/manifest" "$REPO/manifest.minisig" "$TEST_TMP/v3/"
pl_check
assert_eq "$PL_RC" 0 "check for 3.0 ($PL_OUT)"
cmp -s "$TARGET" "$REL/hello-3.0" || fail "3.0 (signed, unexpired expires) was not installed ($PL_OUT)"
grep -qx 'floor=3.0' "$TEST_TMP/state/targets/hello" || fail "no floor in the state: $(cat "$TEST_TMP/state/targets/hello")"

# Someone installs a file by hand; at restart the daemon forgets the version,
# not the floor. The mirror replays 3.0's (still valid) manifest: refused.
pl_stop
pl_release 3.1-local
install -m 0755 "$REL/hello-3.1-local" "$TARGET"
pl_start
pl_mark
pl_check
cmp -s "$TARGET" "$REL/hello-3.1-local" || fail "a replay at the floor replaced a file installed by hand ($PL_OUT)"
pl_log_has "hello: refusing version 3\.0: not above the version floor 3\.0" || fail "no log line about the floor"
assert_eq "$(pl_version)" None "version of a file changed outside the daemon"

# seed: root only; sets the version and the floor.
out=$(as_nobody "$UPDATERCTL" --socket "$SOCK" seed hello 3.1 2>&1)
assert_eq "$?" 1 "updaterctl seed as nobody ($out)"
[[ $out == *"permission denied"* ]] || fail "seed as nobody: '$out'"
out=$("$UPDATERCTL" --socket "$SOCK" seed hello 3.1 2>&1)
assert_eq "$?" 0 "updaterctl seed as root ($out)"
assert_eq "$out" "ok 3.1" "reply to seed"
assert_eq "$(pl_version)" 3.1 "version after seed"
grep -qx 'floor=3.1' "$TEST_TMP/state/targets/hello" || fail "seed did not raise the floor: $(cat "$TEST_TMP/state/targets/hello")"
out=$("$UPDATERCTL" --socket "$SOCK" seed hello 'not a version' 2>&1)
assert_eq "$?" 1 "seed with a bad version ($out)"
out=$("$UPDATERCTL" --socket "$SOCK" seed nosuch 1.0 2>&1)
assert_eq "$?" 1 "seed of an unknown target ($out)"

# version: in the configuration, on a fresh state: the 3.0 replay is refused
# as not newer, and the floor is 4.0.
pl_stop
rm -rf "$TEST_TMP/state"
mkdir -m 0755 "$TEST_TMP/state"
PL_TARGET_LINES="    version: 4.0"
pl_config
pl_start
pl_mark
cp -p "$TEST_TMP/v3/manifest" "$TEST_TMP/v3/manifest.minisig" "$REPO/"
pl_check
cmp -s "$TARGET" "$REL/hello-3.1-local" || fail "version: 4.0 in the configuration did not stop 3.0 ($PL_OUT)"
pl_log_has "hello: refusing version 3\.0: not newer than the installed 4\.0" || fail "no refusal against the configured version"
grep -qx 'floor=4.0' "$TEST_TMP/state/targets/hello" || fail "version: did not set the floor: $(cat "$TEST_TMP/state/targets/hello")"
pl_stop
pass
