#!/bin/bash
# updater_self_changed and the watch descriptor see a replacement by mv, by
# install(1) and by a flipped symlink, without any daemon; updater_spawn_self
# after a replacement still runs the old version; the re-exec runs the new.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"

new_tmpdir
export UPDATER_SOCKET=$TEST_TMP/no-daemon.sock

# expect_update: the watch becomes readable and reports the replacement.
expect_update() {
	probe_expect "poll 5000" "poll readable"
	probe_expect handle "handle 1"
	probe_expect changed "changed 1"
}

# --- mv over the path ---
mkdir "$TEST_TMP/bin"
prog=$TEST_TMP/bin/probe
cp "$PROBE_V1" "$prog"
probe_start "$prog"
pid=$PROBE_PID
probe_expect changed "changed 0"
probe watch
[[ $REPLY =~ ^watch\ [0-9]+$ ]] || fail "watch: $REPLY"
probe_expect "poll 200" "poll timeout"
# Staging a file next to it wakes the watch, but nothing was replaced yet.
cp "$PROBE_V2" "$TEST_TMP/bin/.probe.new"
probe_expect "poll 5000" "poll readable"
probe_expect handle "handle 0"
probe_expect "poll 0" "poll timeout"
mv -f "$TEST_TMP/bin/.probe.new" "$prog"
expect_update
# A helper started now runs the image this process runs, not the new file.
probe_expect spawn "child 1"
probe_read
assert_eq "$REPLY" "spawn 0 0" "the helper ran and exited 0"
probe reexec
assert_eq "$REPLY" "listen - - -" "re-exec after mv"
probe_read
assert_eq "$REPLY" "ready 2 $pid" "version 2 after mv"
probe_expect changed "changed 0"
probe_expect spawn "child 2"
probe_read
assert_eq "$REPLY" "spawn 0 0" "the helper ran and exited 0"

# --- install(1) writes a new file in place (unlink, create, write, close) ---
probe watch
install -m 0755 "$PROBE_V1" "$prog"
expect_update
probe reexec
probe_read
assert_eq "$REPLY" "ready 1 $pid" "version 1 after install"
probe_stop

# --- a flipped `current` symlink in the middle of the path ---
mkdir -p "$TEST_TMP/app/releases/1" "$TEST_TMP/app/releases/2"
cp "$PROBE_V1" "$TEST_TMP/app/releases/1/probe"
cp "$PROBE_V2" "$TEST_TMP/app/releases/2/probe"
ln -s releases/1 "$TEST_TMP/app/current"
probe_start "$TEST_TMP/app/current/probe"
pid=$PROBE_PID
probe watch
probe_expect changed "changed 0"
ln -s releases/2 "$TEST_TMP/app/.current.new"
mv -T "$TEST_TMP/app/.current.new" "$TEST_TMP/app/current"
expect_update
probe reexec
probe_read
assert_eq "$REPLY" "ready 2 $pid" "version 2 through the flipped link"
# The new image watches where the link points now: flip back.
probe watch
ln -s releases/1 "$TEST_TMP/app/.current.new"
mv -T "$TEST_TMP/app/.current.new" "$TEST_TMP/app/current"
expect_update
probe reexec
probe_read
assert_eq "$REPLY" "ready 1 $pid" "version 1 after flipping back"
probe_stop

# --- started by a relative path through the link, then chdir: the path
# handed over to the new image still goes through the link ---
cd "$TEST_TMP/app" || fail "cd"
probe_start ./current/probe
cd - >/dev/null || fail "cd -"
pid=$PROBE_PID
probe_expect "chdir /" "chdir 0"
probe reexec
probe_read
assert_eq "$REPLY" "ready 1 $pid" "re-exec after chdir"
probe_expect "getenv UPDATER_REEXEC_PATH" "env UPDATER_REEXEC_PATH unset"
probe watch
ln -s releases/2 "$TEST_TMP/app/.current.new"
mv -T "$TEST_TMP/app/.current.new" "$TEST_TMP/app/current"
expect_update
probe reexec
probe_read
assert_eq "$REPLY" "ready 2 $pid" "version 2 through the link, after chdir and a re-exec"
probe_stop

# --- the path is a symlink; the file it points to is replaced where it is ---
mkdir -p "$TEST_TMP/opt" "$TEST_TMP/links"
cp "$PROBE_V1" "$TEST_TMP/opt/probe"
ln -s ../opt/probe "$TEST_TMP/links/probe"
probe_start "$TEST_TMP/links/probe"
pid=$PROBE_PID
probe watch
probe_expect changed "changed 0"
replace_with "$PROBE_V2" "$TEST_TMP/opt/probe"
expect_update
probe reexec
probe_read
assert_eq "$REPLY" "ready 2 $pid" "version 2 behind the symlink"
probe_stop

# --- a program started by name through PATH ---
mkdir "$TEST_TMP/path"
cp "$PROBE_V1" "$TEST_TMP/path/updater-probe-by-name"
PATH=$TEST_TMP/path:$PATH probe_start updater-probe-by-name
pid=$PROBE_PID
probe watch
replace_with "$PROBE_V2" "$TEST_TMP/path/updater-probe-by-name"
expect_update
probe reexec
probe_read
assert_eq "$REPLY" "ready 2 $pid" "version 2 found through PATH"
probe_stop

pass
