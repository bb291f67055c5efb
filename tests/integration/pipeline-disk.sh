#!/bin/bash
# A full disk: the target lives alone on a 3 MiB tmpfs. A 4 MiB release
# cannot be staged beside it: the round fails, the log and the status say
# "No space left on device", the target keeps its bytes, the staging file is
# gone (its space is free again), and the daemon keeps answering. A release
# that fits is then applied.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

MiB=$((1024 * 1024))
daemon_setup "min_interval: 0"
REPO=$TEST_TMP/repo
BIN=$TEST_TMP/bin
TARGET=$BIN/hello
mkdir -m 0755 "$REPO"
mount -t tmpfs -o size=3m,mode=0755 updater-test "$BIN" 2>/dev/null || skip "cannot mount a tmpfs on '$BIN'"
# Unmounted before lib.sh removes $TEST_TMP.
trap 'for p in "${_pids_to_kill[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
umount "$BIN" 2>/dev/null || umount -l "$BIN"; _cleanup' EXIT

install_script "$TEST_TMP/scripts/check" "#!/bin/sh
exec cat '$REPO/manifest'"
install_script "$TEST_TMP/scripts/download" '#!/bin/sh
exec cat "$UPDATER_URL"'

# publish VERSION MIB: a release of that many random MiB, and its manifest.
publish() {
	head -c $(($2 * MiB)) /dev/urandom >"$REPO/hello-$1"
	chmod 0644 "$REPO/hello-$1"
	write_manifest hello "$1" "$REPO/hello-$1" "$REPO/manifest"
}

staging_files() {
	find "$BIN" -maxdepth 1 -name '.hello.updater-*' ! -name '.hello.updater-prev'
}

free_kib() {
	df -k --output=avail "$BIN" | tail -n 1 | tr -d ' '
}

# One round to completion; prints the reply to the request.
round() {
	local reply
	reply=$(request check)
	wait_until 30 daemon_idle || fail "the round for $1 did not end"
	echo "$reply"
}

publish 1.0 1
cp "$REPO/hello-1.0" "$TARGET"
chmod 0755 "$TARGET"
start_updaterd "$CONFIG"
# The first check learns that 1.0 is installed.
assert_eq "$(round 1.0)" queued "request for 1.0"
assert_eq "$(status_get 's["targets"][0]["version"]')" 1.0 "version before the update"
free_before=$(free_kib)

publish 2.0 4
assert_eq "$(round 2.0)" queued "request for 2.0"
[[ $(log_count 'update available: hello 2\.0') -ge 1 ]] || fail "2.0 was not offered"
log_count "No space left on device" | grep -qv '^0$' ||
	fail "the log does not say the disk is full"
grep -E "hello.*No space left on device" "$TEST_LOG" | grep -q -F "$BIN/.hello.updater-" ||
	fail "the log line does not name the staging file: $(grep 'No space' "$TEST_LOG")"
[[ $(log_count 'updated hello to 2\.0') -eq 0 ]] || fail "2.0 was reported as installed"
cmp -s "$TARGET" "$REPO/hello-1.0" || fail "the target changed after a failed update"
[[ -z $(staging_files) ]] || fail "a staging file remains: $(ls -a "$BIN")"
assert_eq "$(free_kib)" "$free_before" "free space on the tmpfs after the failed update"
last_error=$(status_get 's["targets"][0]["last_error"]')
[[ $last_error == *"No space left on device"* ]] || fail "status last_error: '$last_error'"
assert_eq "$(status_get 's["state"]')" idle "state after the failed update"
assert_eq "$(status_get 's["targets"][0]["version"]')" 1.0 "version after the failed update"

publish 3.0 1
assert_eq "$(round 3.0)" queued "request for 3.0"
cmp -s "$TARGET" "$REPO/hello-3.0" || fail "3.0 was not applied: $(tail -n 5 "$TEST_LOG")"
cmp -s "$BIN/.hello.updater-prev" "$REPO/hello-1.0" || fail "-prev is not 1.0"
[[ -z $(staging_files) ]] || fail "a staging file remains after 3.0: $(ls -a "$BIN")"
assert_eq "$(status_get 's["targets"][0]["version"]')" 3.0 "version after the update that fits"
assert_eq "$(status_get 's["targets"][0]["last_error"]')" None "last_error after the update that fits"
pass
