#!/bin/bash
# Issue 9, finding 1: a local user (nobody) talks to the daemon from a socket
# bound to a path in a directory of its own, then replaces that path with a
# symlink: to the control socket (the daemon would answer itself for ever,
# and root's requests would not get through) or to a socket in a 0700
# directory only root can reach (the daemon would deliver datagrams with
# uid 0 there). A path-bound sender is acted on but never answered, and a
# datagram from the daemon's own process is dropped: nothing reaches the
# victim, the daemon stays idle, root's updaterctl is answered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "min_interval: 1s"
start_updaterd "$CONFIG"
UPDATERCTL=$BUILDDIR/updaterctl

# A victim only root can reach: it records every datagram and its sender's uid.
mkdir -m 0700 "$TEST_TMP/private"
$PY - "$TEST_TMP/private/victim.sock" "$TEST_TMP/victim.log" <<'PYEOF' &
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
        uid = -1
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                _, uid, _ = struct.unpack("3i", payload[:12])
        log.write("uid=%d %r\n" % (uid, data[:60]))
PYEOF
track_pid $!
wait_until 5 test -S "$TEST_TMP/private/victim.sock" || fail "the victim did not start"
: >"$TEST_TMP/victim.log"

# The attacker's directory, its own.
EVIL=$TEST_TMP/evil
mkdir -m 0755 "$EVIL"
chown 65534:65534 "$EVIL"

# attack NAME TARGET: as nobody, bind EVIL/NAME, subscribe and ask from it,
# swap the path for a symlink to TARGET, ask again (check and status), and
# keep the socket open.
attack() {
	as_nobody /usr/bin/python3 - "$SOCK" "$EVIL/$1" "$2" <<'PYEOF' &
import os, socket, sys, time
control, mine, target = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(mine)
for word in (b"subscribe", b"status", b"x"):
    s.sendto(word, control)
time.sleep(0.2)
os.unlink(mine)
os.symlink(target, mine)
for word in (b"status", b"x", b"bogus"):
    s.sendto(word, control)
time.sleep(60)
PYEOF
	track_pid $!
}

attack to-victim "$TEST_TMP/private/victim.sock"
attack to-daemon "$SOCK"
sleep 1
# A check round ends with a notification: it must not reach the victim either.
out=$("$UPDATERCTL" --socket "$SOCK" check --wait 20 2>&1) || fail "root's check --wait: $out"
assert_eq "$(tail -n 1 <<<"$out")" "no update for hello" "root's check --wait"
sleep 1
[[ ! -s $TEST_TMP/victim.log ]] || fail "the daemon delivered datagrams through the symlink: $(head -n 5 "$TEST_TMP/victim.log")"

# The daemon does not talk to itself: a handful of requests, not a storm.
received=$(status_get 's["requests"]["received"]')
((received < 50)) || fail "the daemon received $received requests: it answers itself through the symlink"
sleep 1
again=$(status_get 's["requests"]["received"]')
((again - received < 10)) || fail "requests keep coming ($received, then $again a second later)"
# Root is answered, at once.
"$UPDATERCTL" --socket "$SOCK" status >"$TEST_TMP/status.out" 2>&1 || fail "root's updaterctl status: $(cat "$TEST_TMP/status.out")"
grep -q '^daemon ' "$TEST_TMP/status.out" || fail "status table: $(cat "$TEST_TMP/status.out")"
# The daemon is not busy: little CPU time for all of this.
ticks=$(awk '{print $14 + $15}' "/proc/$UPDATERD_PID/stat")
((ticks < 100)) || fail "updaterd used $ticks clock ticks of CPU"
pass
