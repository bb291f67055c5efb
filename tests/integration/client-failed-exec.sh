#!/bin/bash
# A re-exec that fails (the path replaced by a file that is not executable,
# by garbage, by a script whose interpreter is missing, by a file still open
# for writing, or removed) returns the error, and the program runs on with
# its descriptors, their flags and its environment exactly as before; the
# next good file is executed normally.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"

new_tmpdir
mkdir "$TEST_TMP/bin"
prog=$TEST_TMP/bin/probe
cp "$PROBE_V1" "$prog"
export UPDATER_SOCKET=$TEST_TMP/no-daemon.sock

probe_start "$prog" serve
pid=$PROBE_PID
# A layout that makes the shuffle work: 3 /dev/null (not kept), 4/5 a pipe
# (5 kept as "a"), 6 /dev/null (kept as "b", close-on-exec), a watch.
probe_expect open "fd 3"
probe_expect pipe "fd 4 5"
probe_expect open "fd 6"
probe_expect "cloexec 6" "cloexec 0"
probe_expect "keep 5 a" "keep 0"
probe_expect "keep 6 b" "keep 0"
probe watch
probe fds
layout=$REPLY
probe_expect "getenv LISTEN_FDS" "env LISTEN_FDS unset"

# after_failure EXPECTED_ERRNO WHAT: reexec fails with -EXPECTED_ERRNO and
# nothing changed; the process still answers.
after_failure() {
	probe_expect reexec "reexec -$1"
	probe_expect fds "$layout"
	probe_expect "getenv LISTEN_FDS" "env LISTEN_FDS unset"
	probe_expect "getenv LISTEN_PID" "env LISTEN_PID unset"
	probe_expect pid "pid $pid"
	probe_expect version "version 1"
	echo "ok: $2 -> -$1"
}

# Not executable (mode 0644).
printf 'not a program\n' >"$TEST_TMP/bin/new"
chmod 0644 "$TEST_TMP/bin/new"
mv -f "$TEST_TMP/bin/new" "$prog"
probe_expect changed "changed 1"
after_failure 13 "not executable (EACCES)"

# Garbage with the execute bit: execve itself fails, after the descriptors
# were moved into place, so this undoes the shuffle.
printf 'garbage\0\1\2\3 no ELF, no #!\n' >"$TEST_TMP/bin/new"
chmod 0755 "$TEST_TMP/bin/new"
mv -f "$TEST_TMP/bin/new" "$prog"
after_failure 8 "garbage (ENOEXEC)"

# A script whose interpreter is missing: execve fails with ENOENT.
printf '#!/nonexistent/interpreter\n' >"$TEST_TMP/bin/new"
chmod 0755 "$TEST_TMP/bin/new"
mv -f "$TEST_TMP/bin/new" "$prog"
after_failure 2 "missing interpreter (ENOENT)"

# A directory in its place.
rm -f "$prog"
mkdir "$prog"
after_failure 13 "a directory (EACCES)"
rmdir "$prog"

# Removed.
probe_expect changed "changed -2"
after_failure 2 "removed (ENOENT)"

# The new file is still open for writing (an installer copying in place).
cp "$PROBE_V2" "$prog"
exec {writer}>>"$prog"
after_failure 26 "still being written (ETXTBSY)"
exec {writer}>&-

# The writer is done: the re-exec goes through, with the kept descriptors.
probe reexec
assert_eq "$REPLY" "listen $pid 2 a:b" "the good file runs"
probe_read
assert_eq "$REPLY" "ready 2 $pid" "version 2, same process"
probe_stop

pass
