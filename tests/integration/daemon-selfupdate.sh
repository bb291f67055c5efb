#!/bin/bash
# updaterd as its own target: after swapping its own file it re-executes the
# new one in the same process, keeping its control socket, its events socket,
# every subscriber's connection and its counters; requests sent meanwhile are
# answered, and a client connects to the events socket after the re-exec.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "min_interval: 1s"
REPO=$TEST_TMP/repo
mkdir -m 0755 "$REPO"
install_script "$TEST_TMP/scripts/check" "#!/bin/sh
cat '$REPO/manifest'"
install_script "$TEST_TMP/scripts/download" '#!/bin/sh
exec cat "$UPDATER_URL"'
# The daemon runs from a copy of itself, which is its only target.
cp "$UPDATERD" "$TEST_TMP/bin/updaterd"
chmod 0755 "$TEST_TMP/bin/updaterd"
sed -i -e "s|name: hello|name: updaterd|" -e "s|path: .*/bin/hello|path: $TEST_TMP/bin/updaterd|" "$CONFIG"
UPDATERD=$TEST_TMP/bin/updaterd

# Version 2.0 is the same program with a few more bytes (another sha256).
cp "$TEST_TMP/bin/updaterd" "$REPO/updaterd-2.0"
printf '\nupdaterd 2.0\n' >>"$REPO/updaterd-2.0"
chmod 0644 "$REPO/updaterd-2.0"
write_manifest updaterd 2.0 "$REPO/updaterd-2.0" "$REPO/manifest"

start_updaterd "$CONFIG"
old_ino=$(stat -L -c %i "/proc/$UPDATERD_PID/exe")
request frobnicate >/dev/null # one rejected request, to see the counters carried over

$PY - "$SOCK" "$TEST_TMP/sub.done" >"$TEST_TMP/sub.out" 2>&1 <<'PYEOF' &
import os, socket, sys, time
# 16 connections (root's limit): every one crosses the re-exec.
evs = []
for i in range(16):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    c.connect(os.path.join(os.path.dirname(sys.argv[1]), "events.sock"))
    c.settimeout(20)
    evs.append(c)
ev = evs[0]
print("connected", flush=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("")
s.sendto(b"x", sys.argv[1])
while True:
    m = ev.recv(4096).decode()
    print(m, flush=True)
    if m.startswith("checked") and "updated" in m:
        break
# After the re-exec: ask again (past min_interval); the new image must still
# hold this connection and tell it the round ended.
time.sleep(1.5)
s.sendto(b"check", sys.argv[1])
while True:
    m = ev.recv(4096).decode()
    print(m, flush=True)
    if m.startswith("checked"):
        break
# The other 15 heard both rounds too, before and after the re-exec.
heard = 0
for c in evs[1:]:
    rounds = 0
    while rounds < 2:
        if c.recv(4096).startswith(b"checked"):
            rounds += 1
    heard += 1
print("%d more connections heard both rounds" % heard, flush=True)
# Hold them until the test has counted them.
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
PYEOF
sub=$!
track_pid $sub

# Requests keep coming, back to back, while the daemon swaps and
# re-executes itself: each one is answered (a request that reaches the socket
# during the exec waits there for the new image), until 50 more have been
# answered after the process started running the new file.
$PY - "$SOCK" "$UPDATERD_PID" "$old_ino" <<'PYEOF' || fail "a request during the self-update got no reply"
import os, socket, sys, time
path, pid, old_ino = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("")
s.settimeout(5)
after, sent, deadline = 0, 0, time.monotonic() + 30
while after < 50:
    if time.monotonic() > deadline:
        sys.exit("the daemon did not re-execute within 30 s (%d requests answered)" % sent)
    s.sendto(b"status", path)
    sent += 1
    try:
        reply = s.recv(65536)
    except socket.timeout:
        sys.exit("request %d got no reply within 5 s" % sent)
    if not reply.startswith(b"{"):
        sys.exit("request %d: unexpected reply %r" % (sent, reply[:80]))
    if after or os.stat("/proc/%s/exe" % pid).st_ino != old_ino:
        after += 1
print("%d status requests answered across the self-update" % sent)
PYEOF
wait_until 30 grep -q 'more connections heard both rounds' "$TEST_TMP/sub.out" ||
	fail "subscriber: $(cat "$TEST_TMP/sub.out")"
# In the new image too they live above select()'s range (the handed-over
# ones arrive at 5 and up); counted while the subscriber holds them, since
# the daemon closes a connection as soon as its peer has gone.
high=$(ls "/proc/$UPDATERD_PID/fd" | awk '$1 >= 1024' | wc -l)
((high >= 16)) || fail "only $high descriptors at 1024 and above after the re-exec"
touch "$TEST_TMP/sub.done"
wait $sub || fail "subscriber: $(cat "$TEST_TMP/sub.out")"
grep -q '^updated updaterd 2.0$' "$TEST_TMP/sub.out" || fail "no 'updated' notification: $(cat "$TEST_TMP/sub.out")"
assert_eq "$(grep -c '^checked ok' "$TEST_TMP/sub.out")" 2 "round notifications (before and after the re-exec)"
grep -q 'carried on after re-executing: 16 subscribers kept' "$TEST_LOG" || fail "the subscribers' connections were not handed over: $(grep 'carried on' "$TEST_LOG")"
grep -qx '15 more connections heard both rounds' "$TEST_TMP/sub.out" || fail "not every connection crossed the re-exec: $(tail -n 3 "$TEST_TMP/sub.out")"
# The events socket itself crossed the exec: a new subscriber is served.
$PY "$SRCDIR/tests/integration/events.py" "$SOCK" --until checked --timeout 20 >"$TEST_TMP/sub2.out" 2>&1 &
sub2=$!
track_pid $sub2
wait_until 5 grep -q '^connected$' "$TEST_TMP/sub2.out" || fail "cannot connect after the re-exec: $(cat "$TEST_TMP/sub2.out")"
sleep 1.1 # past min_interval
request check >/dev/null
wait $sub2 || fail "no notification after the re-exec: $(cat "$TEST_TMP/sub2.out")"

kill -0 "$UPDATERD_PID" || fail "updaterd is gone"
new_ino=$(stat -L -c %i "/proc/$UPDATERD_PID/exe")
[[ $new_ino == "$(stat -c %i "$TEST_TMP/bin/updaterd")" && $new_ino != "$old_ino" ]] ||
	fail "the process does not run the new file (exe inode $new_ino, file $(stat -c %i "$TEST_TMP/bin/updaterd"), old $old_ino)"
grep -q 're-executing' "$TEST_LOG" || fail "no log line about re-executing"
assert_eq "$(status_get 's["requests"]["rejected"]')" 1 "rejected counter after the re-exec"
assert_eq "$(status_get 's["targets"][0]["version"]')" 2.0 "installed version"
[[ $(request x) =~ ^(queued|running|deferred\ [0-9]+)$ ]] || fail "a check request after the re-exec"

# The new image still owns the socket file: it removes it when it stops.
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"
assert_eq "$DAEMON_STATUS" 0 "exit status"
[[ ! -e $SOCK ]] || fail "the socket file was left behind by the re-executed daemon"
pass
