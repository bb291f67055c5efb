#!/bin/bash
# The status reply is one JSON object with every field of SPEC section 4;
# subscribers get "checked ok|failed SUMMARY" after each round; the
# subscriber limits hold.
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
assert set(t) == {"name", "path", "version", "sha256", "updated_at", "last_error", "held", "pending"}, sorted(t)
assert t["held"] is False and t["pending"] is None, t
assert t["name"] == "hello" and t["path"] == sys.argv[2], t
for k in ("version", "sha256", "updated_at"):
    assert t[k] is None or isinstance(t[k], (str, int)), (k, t[k])
PYEOF

# A subscriber (as nobody) sees the end of the round it asked for.
as_nobody /usr/bin/python3 - "$SOCK" >"$TEST_TMP/sub.out" 2>&1 <<'PYEOF' &
import socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("")
s.settimeout(10)
s.sendto(b"subscribe", path)
print(s.recv(512).decode())
s.sendto(b"x", path)
print(s.recv(512).decode())
print(s.recv(512).decode())
s.sendto(b"unsubscribe", path)
print(s.recv(512).decode())
s.sendto(b"unsubscribe", path)
print(s.recv(512).decode())
PYEOF
sub=$!
track_pid $sub
wait $sub || fail "subscriber failed: $(cat "$TEST_TMP/sub.out")"
mapfile -t lines <"$TEST_TMP/sub.out"
assert_eq "${lines[0]}" ok "subscribe reply"
assert_eq "${lines[1]}" queued "check reply"
[[ ${lines[2]} == "checked ok "* ]] || fail "round notification: '${lines[2]}'"
assert_eq "${lines[3]}" ok "unsubscribe reply"
assert_eq "${lines[4]}" "error not subscribed" "second unsubscribe reply"

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

# Subscribers: 64 per uid; a socket without an address cannot subscribe.
as_nobody /usr/bin/python3 - "$SOCK" >"$TEST_TMP/limit.out" 2>&1 <<'PYEOF'
import socket, sys
path = sys.argv[1]
socks, replies = [], []
for i in range(65):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("")
    s.settimeout(5)
    s.sendto(b"subscribe", path)
    replies.append(s.recv(512).decode())
    socks.append(s)
print(replies.count("ok"))
print(replies[-1])
PYEOF
mapfile -t lines <"$TEST_TMP/limit.out"
assert_eq "${lines[0]}" 64 "subscriptions accepted for one uid"
[[ ${lines[1]} == "error too many subscribers for uid 65534"* ]] || fail "65th subscription: '${lines[1]}'"

# Those sockets are closed now: the next round's notification drops them, and
# nobody can subscribe again.
request check >/dev/null
sleep 2
wait_until 10 daemon_idle || fail "round did not end"
reply=$(as_nobody $DGRAM "$SOCK" subscribe --reply)
assert_eq "$reply" ok "subscribe after the gone subscribers were dropped"
pass
