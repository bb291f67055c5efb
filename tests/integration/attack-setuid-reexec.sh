#!/bin/bash
# Attack (issue 9, finding 9): a set-uid root program linked with libupdater
# took the path it re-executes from argv[0] (a symlink the caller owns and
# flips), PATH or UPDATER_REEXEC_PATH, and adopted LISTEN_* descriptors from
# the caller: the caller's own binary ran with euid 0. Now (SPEC 14), under
# AT_SECURE, libupdater re-executes only the canonical /proc/self/exe path,
# only while that file and its directories are writable by nobody else, and
# adopts no LISTEN_* or UPDATER_WATCH_FD.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-common.bash"

require_root
new_tmpdir
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
SAFE=$TEST_TMP/safe
EVIL=$TEST_TMP/evil
mkdir -m 0755 "$SAFE" "$EVIL"
chown nobody: "$EVIL"
install -o root -g root -m 04755 "$PROBE_V1" "$SAFE/probe"
# The caller's payload: id(1), which says whose euid it runs with.
install -o nobody -m 0755 /usr/bin/id "$EVIL/payload"
[[ $(nobody "$EVIL/payload" -u) == 65534 ]] || fail "test set-up: the payload runs as nobody"

# 1. argv[0]: a symlink the caller owns, flipped before the re-exec.
nobody ln -s "$SAFE/probe" "$EVIL/probe"
probe_start nobody "$EVIL/probe"
[[ $PROBE_READY == "ready 1 "* ]] || fail "the set-uid probe did not start: '$PROBE_READY'"
nobody ln -sfn "$EVIL/payload" "$EVIL/probe"
probe reexec
[[ $REPLY == *"euid=0"* ]] && fail "argv[0]: the caller's binary ran with euid 0: '$REPLY'"
[[ $REPLY == "listen "* ]] || fail "argv[0]: after reexec, expected the probe again, got '$REPLY'"
probe_read
[[ $REPLY == "ready 1 "* ]] || fail "argv[0]: the probe did not come back: '$REPLY'"
probe_stop

# 2. UPDATER_REEXEC_PATH, and PATH with a bare argv[0].
nobody ln -s "$SAFE/probe" "$EVIL/again"
probe_start nobody env UPDATER_REEXEC_PATH="$EVIL/again" PATH="$EVIL" "$SAFE/probe"
nobody ln -sfn "$EVIL/payload" "$EVIL/again"
probe reexec
[[ $REPLY == *"euid=0"* ]] && fail "UPDATER_REEXEC_PATH: the caller's binary ran with euid 0: '$REPLY'"
[[ $REPLY == "listen "* ]] || fail "UPDATER_REEXEC_PATH: expected the probe again, got '$REPLY'"
probe_read
probe_stop

# 3. LISTEN_*: a descriptor of the caller's is not adopted as a kept socket.
echo secret >"$EVIL/fd"
probe_start nobody sh -c 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=evil exec "$0"' "$SAFE/probe" 3<"$EVIL/fd"
probe_expect "inherited evil" "inherited -2"
probe_stop

# 4. A set-uid program in a directory others may write: no re-exec at all.
mkdir -m 0777 "$TEST_TMP/open"
install -o root -g root -m 04755 "$PROBE_V1" "$TEST_TMP/open/probe"
probe_start nobody "$TEST_TMP/open/probe"
probe_expect reexec "reexec -1"
probe_stop

# Not set-uid: argv[0] is still honoured (an update through a symlink is seen).
probe_start "$SAFE/probe"
probe_expect "inherited evil" "inherited -2"
probe_stop
pass
