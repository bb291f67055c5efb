#!/bin/bash
# updater_reexec: the PID, argv and environment survive; the kept descriptors
# arrive at 3, 4, ... with LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID and nothing
# else stays open but the watch's inotify instance, which the new image's
# watch takes over; descriptors handed over the systemd way are adopted.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"

new_tmpdir
mkdir "$TEST_TMP/bin"
cp "$PROBE_V1" "$TEST_TMP/bin/probe"
export UPDATER_SOCKET=$TEST_TMP/no-daemon.sock

# --- a re-exec keeps PID, argv, environment and the kept descriptors ---
FOO='a value with spaces' probe_start "$TEST_TMP/bin/probe" alpha "two words" ""
pid=$PROBE_PID
assert_eq "$PROBE_LISTEN" "listen - - -" "first start: no LISTEN_* variables"
assert_eq "$PROBE_READY" "ready 1 $pid" "first start"
probe argv
argv_before=$REPLY
assert_eq "$argv_before" "argv $TEST_TMP/bin/probe|alpha|two words|" "argv as started"

# Descriptors: 3 /dev/null, 4 and 5 a pipe. Keep 5 as "first" and 3 as
# "second": they must swap places (3 <- 5, 4 <- 3) and the pipe's read end
# at 4, not kept, must not survive.
probe_expect open "fd 3"
probe_expect pipe "fd 4 5"
probe fds
declare -A ident
for entry in ${REPLY#fds }; do
	fd=${entry%%=*}
	id=${entry#*=}
	ident[$fd]=${id%:*}
done
[[ -n ${ident[3]:-} && -n ${ident[5]:-} ]] || fail "unexpected descriptors: $REPLY"
probe_expect "keep 5 first" "keep 0"
probe_expect "keep 3 second" "keep 0"
probe_expect "setenv LATER set-after-start" "setenv 0"

probe reexec
assert_eq "$REPLY" "listen $pid 2 first:second" "the new image's LISTEN_PID LISTEN_FDS LISTEN_FDNAMES"
probe_read
assert_eq "$REPLY" "ready 1 $pid" "the same PID after the re-exec"
probe_expect argv "$argv_before"
probe_expect "getenv FOO" "env FOO=a value with spaces"
probe_expect "getenv LATER" "env LATER=set-after-start"
# updater_init took the LISTEN_* variables out, so children do not see them.
probe_expect "getenv LISTEN_FDS" "env LISTEN_FDS unset"
probe_expect "getenv LISTEN_FDNAMES" "env LISTEN_FDNAMES unset"
probe_expect "getenv LISTEN_PID" "env LISTEN_PID unset"
probe_expect "inherited first" "inherited 3"
probe_expect "inherited second" "inherited 4"
probe_expect "inherited third" "inherited -2"
# Exactly the two kept descriptors are open, adopted close-on-exec.
probe_expect fds "fds 3=${ident[5]}:1 4=${ident[3]}:1"

# --- again, keeping one under a new name; an opened watch is not leaked ---
probe watch
[[ $REPLY =~ ^watch\ [0-9]+$ ]] || fail "watch: $REPLY"
probe_expect "keep 4 again" "keep 0"
probe reexec
assert_eq "$REPLY" "listen $pid 1 again" "second re-exec"
probe_read
assert_eq "$REPLY" "ready 1 $pid" "second re-exec"
# Of the library's own descriptors only the watch's inotify instance crosses
# (closing one makes the kernel wait for a grace period), close-on-exec in
# the new image; the next updater_watch_fd() takes it over, making no other.
probe fds
read -r -a entries <<<"${REPLY#fds }"
assert_eq "${#entries[@]}" 2 "descriptors after a re-exec with a watch: $REPLY"
assert_eq "${entries[0]}" "3=${ident[3]}:1" "the kept descriptor"
inofd=${entries[1]%%=*}
assert_eq "$(readlink "/proc/$pid/fd/$inofd")" "anon_inode:inotify" "the other descriptor"
[[ ${entries[1]} == *:1 ]] || fail "the handed-over inotify instance is not close-on-exec: $REPLY"
probe watch
[[ $REPLY =~ ^watch\ [0-9]+$ ]] || fail "watch in the new image: $REPLY"
n_inotify=$(for f in /proc/"$pid"/fd/*; do readlink "$f"; done | grep -c '^anon_inode:inotify$')
assert_eq "$n_inotify" 1 "inotify instances once the new image watches"
[[ -e /proc/$pid/fd/$inofd ]] || fail "the new image's watch did not take the handed-over instance"

# --- nothing kept: no LISTEN_* at all, above 2 only the watch's instance ---
probe reexec
assert_eq "$REPLY" "listen - - -" "re-exec without kept descriptors"
probe_read
probe fds
[[ $REPLY =~ ^fds\ ([0-9]+)=[0-9:]+:1$ ]] || fail "descriptors after a re-exec without kept ones: $REPLY"
assert_eq "$(readlink "/proc/$pid/fd/${BASH_REMATCH[1]}")" "anon_inode:inotify" "the one descriptor"
# This image does not watch: the next one gets nothing at all.
probe reexec
assert_eq "$REPLY" "listen - - -" "re-exec without a watch"
probe_read
probe_expect fds "fds"
probe_stop

# --- adopted from socket activation (systemd's variables, our PID) ---
# shellcheck disable=SC2016 # $$ is the PID of the shell that execs the probe
probe_start bash -c 'exec 3</dev/null 4</dev/null; export LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=web:admin; exec "$0"' \
	"$TEST_TMP/bin/probe"
assert_eq "$PROBE_LISTEN" "listen $PROBE_PID 2 web:admin" "activation variables"
probe_expect "inherited web" "inherited 3"
probe_expect "inherited admin" "inherited 4"
probe_expect "getenv LISTEN_FDS" "env LISTEN_FDS unset"
probe fds
# (Other descriptors this test's own caller leaked to it may be listed too.)
[[ " $REPLY " =~ \ 3=[0-9:]+:1\  && " $REPLY " =~ \ 4=[0-9:]+:1\  ]] ||
	fail "adopted descriptors are not close-on-exec: $REPLY"
probe_stop

# Without names they are "unknown", as systemd calls them.
# shellcheck disable=SC2016
probe_start bash -c 'exec 3</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0"' "$TEST_TMP/bin/probe"
probe_expect "inherited unknown" "inherited 3"
probe_stop

# Variables meant for another process are not ours: nothing adopted, left alone.
# shellcheck disable=SC2016
probe_start bash -c 'exec 3</dev/null; export LISTEN_PID=1 LISTEN_FDS=1; exec "$0"' "$TEST_TMP/bin/probe"
probe_expect "inherited unknown" "inherited -2"
probe_expect "getenv LISTEN_PID" "env LISTEN_PID=1"
probe_stop

pass
