#!/bin/bash
# End to end over file://, with the real default scripts, a release made by
# updater-publish and signed by minisign: a signed 2.0 (expiring tomorrow)
# replaces the installed 1.0 (bytes, mode and owner; 1.0 kept as
# .hello.updater-prev; the state survives a restart), a subscriber hears
# "updated hello 2.0", a process running 1.0 gets the target's signal, a
# check with nothing new changes nothing, and "rollback hello" from root puts
# 1.0 back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

pl_setup
PL_TARGET_LINES="    signal: SIGUSR2
    smoke_test: [--version]"
pl_config
pl_publish 1.0
install -m 0750 -o root -g nogroup "$REL/hello-1.0" "$TARGET"
mode_before=$(stat -c '%a %U:%G' "$TARGET")
"$UPDATERD" -c "$CONFIG" --check-config >>"$TEST_LOG" 2>&1 || fail "--check-config refused the configuration"
pl_start

# 1.0 is what is published and installed: the daemon learns its version.
pl_check
assert_eq "$PL_RC" 0 "updaterctl check --wait with 1.0 installed ($PL_OUT)"
[[ $PL_OUT == *"hello 1.0 is up to date"* ]] || fail "summary for 1.0: '$PL_OUT'"
assert_eq "$(pl_version)" 1.0 "version learnt from the signed manifest"

# A process running 1.0, and a subscriber.
"$TARGET" 600 &
old=$!
track_pid $old
pl_subscribe "$TEST_TMP/sub.out"

pl_publish 2.0 --expires "+1 day"
grep -q '^expires=' "$REPO/manifest" || fail "updater-publish wrote no expires="
[[ -s $REPO/manifest.minisig ]] || fail "updater-publish did not sign"
minisign -Vm "$REPO/manifest" -p "$KEYS/pub" >/dev/null || fail "minisign does not accept the published manifest"
pl_check
assert_eq "$PL_RC" 0 "check for 2.0 ($PL_OUT)"
[[ $PL_OUT == *"updated hello 2.0"* ]] || fail "check --wait did not report the update: '$PL_OUT'"
cmp -s "$TARGET" "$REL/hello-2.0" || fail "the target's bytes are not 2.0"
assert_eq "$(stat -c '%a %U:%G' "$TARGET")" "$mode_before" "mode and owner of the new file"
[[ ! -L $BIN/.hello.updater-prev ]] || fail ".hello.updater-prev is a symlink"
cmp -s "$BIN/.hello.updater-prev" "$REL/hello-1.0" || fail ".hello.updater-prev does not hold 1.0"
pl_no_staging "after the update"
grep -q "updated hello to 2.0 ('$TARGET')" "$TEST_LOG" || fail "no 'updated' log line"
assert_eq "$(pl_version)" 2.0 "status version after the update"
assert_eq "$(status_get 's["targets"][0]["sha256"]')" "$(sha256sum "$REL/hello-2.0" | cut -d' ' -f1)" "status sha256"
assert_eq "$(status_get 's["targets"][0]["last_error"]')" None "last_error after the update"
wait_until 10 grep -qx 'updated hello 2.0' "$TEST_TMP/sub.out" || fail "the subscriber got no 'updated hello 2.0': $(cat "$TEST_TMP/sub.out")"
# SIGUSR2 ends sleep: the process running 1.0 was told.
wait_until 10 pl_exited $old || fail "the process running 1.0 did not end"
wait $old
assert_eq "$?" $((128 + 12)) "exit status of the process running 1.0 (SIGUSR2)"

# The state is on disk: a restarted daemon knows 2.0.
grep -qx 'version=2.0' "$TEST_TMP/state/targets/hello" || fail "state file: $(cat "$TEST_TMP/state/targets/hello")"
pl_stop
pl_start
assert_eq "$(pl_version)" 2.0 "version after a restart"

# Nothing new: nothing changes.
cp -p "$TARGET" "$TEST_TMP/saved"
pl_check
assert_eq "$PL_RC" 0 "check with nothing new ($PL_OUT)"
[[ $PL_OUT == *"hello 2.0 is up to date"* ]] || fail "summary with nothing new: '$PL_OUT'"
cmp -s "$TARGET" "$TEST_TMP/saved" || fail "a check with nothing new changed the target"

# Rollback from root: 1.0 again, 2.0 now in -prev, and a notification.
pl_subscribe "$TEST_TMP/sub2.out"
assert_eq "$(dgram "$SOCK" "rollback hello" --reply)" "ok 1.0" "rollback reply"
cmp -s "$TARGET" "$REL/hello-1.0" || fail "rollback did not restore 1.0's bytes"
cmp -s "$BIN/.hello.updater-prev" "$REL/hello-2.0" || fail "after the rollback, -prev does not hold 2.0"
assert_eq "$(stat -c '%a %U:%G' "$TARGET")" "$mode_before" "mode and owner after the rollback"
wait_until 10 grep -qx 'rolledback hello 1.0 manual' "$TEST_TMP/sub2.out" || fail "no 'rolledback hello 1.0 manual': $(cat "$TEST_TMP/sub2.out")"
assert_eq "$(pl_version)" 1.0 "status version after the rollback"
pl_no_staging "after the rollback"
pl_stop
pass "over file://"
