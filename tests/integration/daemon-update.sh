#!/bin/bash
# After a swap, subscribers get "updated TARGET VERSION" and every process
# still running the old file gets the target's signal:; a rollback from root
# answers "ok VERSION" and notifies "rolledback TARGET VERSION"; status shows
# the installed version.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "min_interval: 1s"
REPO=$TEST_TMP/repo
mkdir -m 0755 "$REPO"
# Scripts of our own: check prints $REPO/manifest, download copies the URL's file.
install_script "$TEST_TMP/scripts/check" "#!/bin/sh
echo run >>'$CHECKS'
cat '$REPO/manifest'"
install_script "$TEST_TMP/scripts/download" '#!/bin/sh
exec cat "$UPDATER_URL"'
sed -i "s|    source: .*|&\n    signal: SIGUSR2|" "$CONFIG"

# publish VERSION: a new hello (an ELF, so /proc/PID/exe names it), and its manifest.
publish() {
	cp /bin/sleep "$REPO/hello-$1"
	printf '\n# version %s\n' "$1" >>"$REPO/hello-$1"
	chmod 0644 "$REPO/hello-$1"
	write_manifest hello "$1" "$REPO/hello-$1" "$REPO/manifest"
}

publish 1.0
cp "$REPO/hello-1.0" "$TEST_TMP/bin/hello"
chmod 0755 "$TEST_TMP/bin/hello"
start_updaterd "$CONFIG"
assert_eq "$(request x)" queued "first request"
wait_until 10 daemon_idle || fail "first round did not end"

# A process running version 1.0, and a subscriber.
"$TEST_TMP/bin/hello" 600 &
old=$!
track_pid $old
$PY "$SRCDIR/tests/integration/events.py" "$SOCK" --until rolledback --timeout 20 >"$TEST_TMP/sub.out" 2>&1 &
sub=$!
track_pid $sub
wait_until 5 grep -q '^connected$' "$TEST_TMP/sub.out" || fail "subscribe failed: $(cat "$TEST_TMP/sub.out")"

publish 2.0
sleep 1 # past min_interval
assert_eq "$(request x)" queued "request for 2.0"
wait_until 10 grep -q '^updated hello 2.0$' "$TEST_TMP/sub.out" || fail "no 'updated' notification: $(cat "$TEST_TMP/sub.out")"
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-2.0" || fail "hello was not replaced by 2.0"
# The process that ran 1.0 got SIGUSR2 (which ends sleep).
wait $old
assert_eq "$?" $((128 + 12)) "exit status of the process running the old file"
wait_until 10 daemon_idle || fail "round did not end"
assert_eq "$(status_get 's["targets"][0]["version"]')" 2.0 "installed version"
assert_eq "$(status_get 's["last_result"]')" "updated hello to 2.0" "status: the last round's result"
[[ $(log_count '^<5>update available: hello 2\.0$') == 1 ]] || fail "no 'update available' log line"

# A process running 2.0; then 3.0; then roll back to 2.0.
"$TEST_TMP/bin/hello" 600 &
old2=$!
track_pid $old2
publish 3.0
sleep 1
assert_eq "$(request x)" queued "request for 3.0"
wait_until 10 grep -q '^updated hello 3.0$' "$TEST_TMP/sub.out" || fail "no notification for 3.0"
wait $old2
assert_eq "$?" $((128 + 12)) "exit status of the process running 2.0"
wait_until 10 daemon_idle || fail "round did not end"
grep -q '^checked ok ' "$TEST_TMP/sub.out" || fail "no 'checked ok' notification: $(cat "$TEST_TMP/sub.out")"

reply=$(as_nobody $DGRAM "$SOCK" "rollback hello" --reply)
assert_eq "$reply" "error permission denied: rollback needs root" "rollback from nobody"
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-3.0" || fail "a refused rollback changed the file"
"$TEST_TMP/bin/hello" 600 &
old3=$!
track_pid $old3
reply=$(request "rollback hello")
assert_eq "$reply" "ok 2.0" "rollback reply"
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-2.0" || fail "rollback did not put 2.0 back"
wait_until 10 grep -q '^rolledback hello 2.0 manual$' "$TEST_TMP/sub.out" || fail "no 'rolledback' notification: $(cat "$TEST_TMP/sub.out")"
wait $old3
assert_eq "$?" $((128 + 12)) "exit status of the process running 3.0 after the rollback"
assert_eq "$(status_get 's["targets"][0]["version"]')" 2.0 "version after rollback"
reply=$(request "rollback nosuchtarget")
[[ $reply == "error "* ]] || fail "rollback of an unknown target: '$reply'"
wait $sub

# The rollback holds: the repository still offers 3.0, and the next check does
# not install it again; a newer release is installed, and ends the hold.
sleep 1
assert_eq "$(request x)" queued "request after the rollback"
wait_until 10 daemon_idle || fail "round after the rollback did not end"
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-2.0" || fail "the check undid the rollback"
[[ $(log_count 'hello: refusing version 3\.0: hello was rolled back from 3\.0; waiting for a newer release') == 1 ]] ||
	fail "no log line about the held rollback"
assert_eq "$(status_get 's["last_result"]')" "refused hello 3.0: rolled back from 3.0" "result of the held check"
publish 4.0
sleep 1
assert_eq "$(request x)" queued "request for 4.0"
wait_until 10 daemon_idle || fail "round for 4.0 did not end"
cmp -s "$TEST_TMP/bin/hello" "$REPO/hello-4.0" || fail "4.0, newer than the rolled back 3.0, was not installed"
grep -qx 'rolled_back_from=' "$TEST_TMP/state/targets/hello" || fail "the hold was not lifted: $(cat "$TEST_TMP/state/targets/hello")"
pass
