#!/bin/bash
# Issue 9, finding 2: a local user (nobody) sends 300 status requests from
# sockets that never read. Their replies stay charged to the socket that
# sent them; were that the control socket, its send buffer would stay full
# and every later reply and notification, root's included, would be lost for
# as long as the attacker waits. Replies leave through a reply socket of
# their own that is replaced when full: root's updaterctl is answered, and a
# subscriber hears the end of the next round.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "min_interval: 1s"
start_updaterd "$CONFIG"
UPDATERCTL=$BUILDDIR/updaterctl

install -m 0666 /dev/null "$TEST_TMP/attacker.out"
as_nobody /usr/bin/python3 - "$SOCK" "$TEST_TMP/attacker.out" <<'PYEOF' &
import socket, sys, time
socks = []
for i in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("")
    s.sendto(b"status", sys.argv[1])
    socks.append(s)
    if i % 8 == 7:
        time.sleep(0.002)  # the daemon's queue holds net.unix.max_dgram_qlen datagrams
with open(sys.argv[2], "w") as f:
    f.write("sent\n")
time.sleep(120)  # never read, never close
PYEOF
track_pid $!
wait_until 30 grep -q sent "$TEST_TMP/attacker.out" || fail "the attacker did not send its requests"
sleep 0.5 # the daemon has read them all by now: the status below counts them

# Root is answered, however many replies wait unread.
for i in 1 2 3; do
	"$UPDATERCTL" --socket "$SOCK" status >"$TEST_TMP/status.out" 2>&1 ||
		fail "root's updaterctl status ($i) after 300 unread replies: $(cat "$TEST_TMP/status.out")"
done
grep -q '^requests  *30[0-9] received' "$TEST_TMP/status.out" || fail "status table: $(cat "$TEST_TMP/status.out")"
# And so are notifications: a subscriber hears the end of a round it asked for.
out=$("$UPDATERCTL" --socket "$SOCK" check --wait 20 2>&1) || fail "root's check --wait: $out"
assert_eq "$(tail -n 1 <<<"$out")" "no update for hello" "check --wait after 300 unread replies"
# Other users too.
as_nobody "$UPDATERCTL" --socket "$SOCK" status >/dev/null 2>&1 || fail "nobody's updaterctl status after the attack"
pass
