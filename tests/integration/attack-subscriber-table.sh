#!/bin/bash
# Issue 9, finding 3: 16 uids (one subuid range) each subscribe 64 times and
# hold the subscriptions; with 64 per uid they held the whole table of 1024
# for good, and nobody else could subscribe. Subscriptions are connections
# to events.sock now: 16 per uid, so 16 uids hold 256; a connection past the
# limit is told why and closed; the table frees a slot as soon as a
# connection closes. Only 64 uids fill it, and then the next subscriber is
# refused until one of them leaves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "min_interval: 1s"
start_updaterd "$CONFIG"
UPDATERCTL=$BUILDDIR/updaterctl
BASE=100000

# hog UID N OUT: as UID, N subscriptions by every means there is (datagram
# "subscribe" from autobound sockets, connections to events.sock), held open;
# OUT gets "held K" (connections the daemon kept after 0.5 s) and then
# "refused" lines with what the others were told.
hog() {
	install -m 0666 /dev/null "$3"
	setpriv --reuid="$1" --regid="$1" --clear-groups /usr/bin/python3 - "$SOCK" "$2" "$3" <<'PYEOF' &
import os, socket, sys, time
control, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keep, conns = [], []
for i in range(n):
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d.bind("")
    d.settimeout(2)
    try:
        d.sendto(b"subscribe", control)
        d.recv(512)  # read: what fills the table is the subscriptions, not unread replies
    except OSError:
        pass
    keep.append(d)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        c.connect(os.path.join(os.path.dirname(control), "events.sock"))
        conns.append(c)
    except OSError:
        pass
time.sleep(0.5)
held, refused = 0, []
for c in conns:
    c.setblocking(False)
    try:
        data = c.recv(512)
        refused.append(data.decode(errors="replace") or "EOF")
    except BlockingIOError:
        held += 1
with open(out, "w") as f:
    f.write("held %d\n" % held)
    for r in refused:
        f.write("refused %s\n" % r)
time.sleep(300)
PYEOF
	track_pid $!
	HOG_PID=$!
}

for ((u = 0; u < 16; u++)); do
	hog $((BASE + u)) 64 "$TEST_TMP/hog.$u"
done
for ((u = 0; u < 16; u++)); do
	wait_until 60 test -s "$TEST_TMP/hog.$u" || fail "uid $((BASE + u)) did not finish subscribing"
done

# Another user subscribes and hears the end of a round.
as_nobody "$UPDATERCTL" --socket "$SOCK" watch >"$TEST_TMP/watch.out" 2>"$TEST_TMP/watch.err" &
watch_pid=$!
track_pid $watch_pid
sleep 0.5
out=$("$UPDATERCTL" --socket "$SOCK" check --wait 20 2>&1) || fail "root's check --wait with 16 uids subscribed: $out"
wait_until 10 grep -q '^checked ok' "$TEST_TMP/watch.out" ||
	fail "nobody's watch heard nothing with 16 uids subscribed 64 times each: '$(cat "$TEST_TMP/watch.out")' '$(cat "$TEST_TMP/watch.err")'"
# Each of the 16 holds 16, and was told why the others were closed.
for ((u = 0; u < 16; u++)); do
	assert_eq "$(head -n 1 "$TEST_TMP/hog.$u")" "held 16" "connections kept for uid $((BASE + u))"
	grep -q "^refused error too many subscribers for uid $((BASE + u)) (at most 16)$" "$TEST_TMP/hog.$u" ||
		fail "uid $((BASE + u)) was not told why: $(sed -n 2p "$TEST_TMP/hog.$u")"
done

# 64 uids do fill the table: 48 more, 16 each.
for ((u = 16; u < 64; u++)); do
	hog $((BASE + u)) 16 "$TEST_TMP/hog.$u"
done
for ((u = 16; u < 64; u++)); do
	wait_until 60 test -s "$TEST_TMP/hog.$u" || fail "uid $((BASE + u)) did not finish subscribing"
done
# nobody's watch holds one slot: the 64th uid got 15.
total=0
for ((u = 0; u < 64; u++)); do
	total=$((total + $(head -n 1 "$TEST_TMP/hog.$u" | cut -d' ' -f2)))
done
assert_eq "$total" 1023 "connections held by the 64 uids (nobody's watch has the last slot)"
out=$(/usr/bin/python3 "$SRCDIR/tests/integration/events.py" "$SOCK" --timeout 5 2>&1)
assert_eq "$out" $'connected\nerror too many subscribers (at most 1024)\nEOF' "a subscriber past 1024"
# One of them leaves: its slots are free at once, without a notification.
kill "$HOG_PID"
wait "$HOG_PID" 2>/dev/null
$PY "$SRCDIR/tests/integration/events.py" "$SOCK" --until checked --timeout 20 >"$TEST_TMP/late.out" 2>&1 &
late=$!
track_pid $late
wait_until 5 grep -q '^connected$' "$TEST_TMP/late.out" || fail "cannot connect: $(cat "$TEST_TMP/late.out")"
sleep 1.1 # past min_interval
"$UPDATERCTL" --socket "$SOCK" check >/dev/null || fail "root's check"
wait $late || fail "the subscriber after one left: $(cat "$TEST_TMP/late.out")"
grep -q '^checked ok' "$TEST_TMP/late.out" || fail "the subscriber after one left: $(cat "$TEST_TMP/late.out")"
pass
