#!/bin/bash
# The status reply is one JSON object with every field of SPEC section 4;
# subscribers (connections to the events socket) get "checked ok|failed
# SUMMARY" after each round; the subscriber limits hold, and a slot is free
# as soon as its connection closes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup "interval: 6h" "splay: 10m" "min_interval: 1s"
before=$(date +%s)
start_updaterd "$CONFIG"

status_json >"$TEST_TMP/status.json" || fail "no status reply"
$PY - "$TEST_TMP/status.json" "$TEST_TMP/bin/hello" "$before" <<'PYEOF' || fail "status JSON: $(cat "$TEST_TMP/status.json")"
import json, sys
raw = open(sys.argv[1], "rb").read().rstrip(b"\n")  # dgram.py adds one
assert all(0x20 <= b < 0x7f for b in raw), "reply is not printable ASCII"
s = json.loads(raw)
assert set(s) == {"version", "state", "last_check", "last_result", "next_check", "requests", "targets"}, sorted(s)
assert isinstance(s["version"], str) and s["version"], s["version"]
assert s["state"] == "idle", s["state"]
assert s["last_check"] is None and s["last_result"] is None
now = int(sys.argv[3])
# Never checked: due at start-up + splay (10 min).
assert now <= s["next_check"] <= now + 600 + 5, (now, s["next_check"])
assert s["requests"] == {"received": 1, "coalesced": 0, "rejected": 0}, s["requests"]
assert len(s["targets"]) == 1
t = s["targets"][0]
assert set(t) == {"name", "path", "version", "sha256", "updated_at", "last_error", "held", "pending",
                  "probation_until", "quarantined", "stale"}, sorted(t)
assert t["held"] is False and t["pending"] is None, t
assert t["probation_until"] is None and t["quarantined"] is None and t["stale"] == [], t
assert t["name"] == "hello" and t["path"] == sys.argv[2], t
for k in ("version", "sha256", "updated_at"):
    assert t[k] is None or isinstance(t[k], (str, int)), (k, t[k])
PYEOF

# A subscriber (as nobody, connected to the events socket) sees the end of
# the round it asked for; subscribe/unsubscribe datagrams are answered with
# where subscriptions went.
as_nobody /usr/bin/python3 - "$SOCK" >"$TEST_TMP/sub.out" 2>&1 <<'PYEOF' &
import os, socket, sys
path = sys.argv[1]
ev = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ev.connect(os.path.join(os.path.dirname(path), "events.sock"))
ev.settimeout(10)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("")
s.settimeout(10)
s.sendto(b"x", path)
print(s.recv(512).decode())
print(ev.recv(4096).decode())
s.sendto(b"subscribe", path)
print(s.recv(512).decode())
s.sendto(b"unsubscribe", path)
print(s.recv(512).decode())
PYEOF
sub=$!
track_pid $sub
wait $sub || fail "subscriber failed: $(cat "$TEST_TMP/sub.out")"
mapfile -t lines <"$TEST_TMP/sub.out"
assert_eq "${lines[0]}" queued "check reply"
[[ ${lines[1]} == "checked ok "* ]] || fail "round notification: '${lines[1]}'"
assert_eq "${lines[2]}" "error subscriptions are connections to events.sock" "subscribe reply"
assert_eq "${lines[3]}" "error subscriptions are connections to events.sock" "unsubscribe reply"

wait_until 10 daemon_idle || fail "round did not end"
status_json >"$TEST_TMP/status.json"
$PY - "$TEST_TMP/status.json" <<'PYEOF' || fail "status after a check: $(cat "$TEST_TMP/status.json")"
import json, sys, time
s = json.load(open(sys.argv[1]))
now = time.time()
assert isinstance(s["last_check"], int) and abs(s["last_check"] - now) < 30, s["last_check"]
assert isinstance(s["last_result"], str) and s["last_result"], s["last_result"]
# The next periodic check: after the last one + interval, within the splay.
assert s["last_check"] + 6 * 3600 <= s["next_check"] <= s["last_check"] + 6 * 3600 + 600 + 2, s
PYEOF

# Subscribers: 16 connections per uid; the 17th is told why and closed.
as_nobody /usr/bin/python3 - "$SOCK" >"$TEST_TMP/limit.out" 2>&1 <<'PYEOF'
import os, socket, sys, time
path = os.path.join(os.path.dirname(sys.argv[1]), "events.sock")
socks = []
for i in range(17):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    socks.append(s)
last = socks[-1]
last.settimeout(5)
print(last.recv(512).decode())
print("EOF" if last.recv(512) == b"" else "open")
# The first 16 hear nothing: they are subscribed.
time.sleep(0.3)
for s in socks[:16]:
    s.setblocking(False)
    try:
        print("unexpected: %r" % s.recv(512))
    except BlockingIOError:
        pass
print("done")
PYEOF
mapfile -t lines <"$TEST_TMP/limit.out"
[[ ${lines[0]} == "error too many subscribers for uid 65534 (at most 16)" ]] || fail "17th connection: '${lines[0]}'"
assert_eq "${lines[1]}" EOF "the 17th connection is closed"
assert_eq "${lines[2]}" done "the first 16 connections: $(cat "$TEST_TMP/limit.out")"

# Those connections are closed now: nobody may connect again at once, no
# notification needed to free the slots.
$PY "$SRCDIR/tests/integration/events.py" "$SOCK" --until checked --timeout 10 >"$TEST_TMP/again.out" 2>&1 &
again=$!
track_pid $again
wait_until 5 grep -q '^connected$' "$TEST_TMP/again.out" || fail "cannot connect: $(cat "$TEST_TMP/again.out")"
as_nobody /usr/bin/python3 - "$SOCK" >"$TEST_TMP/again2.out" 2>&1 <<'PYEOF'
import os, socket, sys
path = os.path.join(os.path.dirname(sys.argv[1]), "events.sock")
socks = []
for i in range(16):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    socks.append(s)
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d.bind("")
d.settimeout(5)
d.sendto(b"status", sys.argv[1])
d.recv(65536)  # the daemon has accepted them by now
for s in socks:
    s.setblocking(False)
    try:
        data = s.recv(512)
        print("refused: %r" % data)
    except BlockingIOError:
        pass
print("done")
PYEOF
assert_eq "$(cat "$TEST_TMP/again2.out")" done "16 new connections of nobody after the old ones closed"
pass
