#!/bin/bash
# updaterctl against a stand-in for the daemon's socket that answers the
# protocol of SPEC section 4 (tests/integration/client-fakedaemon.py), so
# every reply a real daemon may give can be produced on demand: output and
# exit codes 0 (done), 1 (the daemon reported a failure), 2 (usage),
# 3 (not reachable). tests/integration/client-daemon.sh runs it against the
# real updaterd.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"

new_tmpdir
FAKE="/usr/bin/python3 $SRCDIR/tests/integration/client-fakedaemon.py"
unset UPDATER_SOCKET

# ctl ARGS...: run updaterctl; output in OUT, errors in ERR, exit code in RC.
ctl() {
	RC=0
	"$UPDATERCTL" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || RC=$?
	OUT=$(cat "$TEST_TMP/out")
	ERR=$(cat "$TEST_TMP/err")
}

expect_rc() {
	[[ $RC == "$1" ]] || fail "updaterctl ${*:2}: exit $RC, expected $1 (stdout '$OUT', stderr '$ERR')"
}

# fake MODE: (re)start the stand-in on $sock in MODE, log in $TEST_TMP/fake.log.
sock=$TEST_TMP/control.sock
fake_pid=
fake() {
	if [[ -n $fake_pid ]]; then
		kill "$fake_pid" 2>/dev/null
		wait "$fake_pid" 2>/dev/null
	fi
	rm -f "$sock"
	: >"$TEST_TMP/fake.log"
	$FAKE "$sock" "$1" "$TEST_TMP/fake.log" &
	fake_pid=$!
	track_pid "$fake_pid"
	wait_until 10 test -S "$sock" || fail "the stand-in daemon did not start"
}

# --- usage: exit 2 ---
ctl
expect_rc 2 "(no command)"
ctl frobnicate
expect_rc 2 frobnicate
[[ $ERR == *"unknown command 'frobnicate'"* ]] || fail "unknown command: stderr '$ERR'"
ctl check --bogus
expect_rc 2 check --bogus
ctl rollback
expect_rc 2 rollback
ctl rollback a b
expect_rc 2 rollback a b
ctl status --yaml
expect_rc 2 status --yaml
ctl watch now
expect_rc 2 watch now
ctl --socket
expect_rc 2 --socket
ctl --help
expect_rc 0 --help
[[ $OUT == usage:* && $OUT == *rollback* ]] || fail "--help: '$OUT'"

# --- not reachable: exit 3 ---
ctl --socket "$TEST_TMP/absent.sock" check
expect_rc 3 check with no socket file
[[ $ERR == *"$TEST_TMP/absent.sock"* ]] || fail "the message names the socket: '$ERR'"
/usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])' "$TEST_TMP/stale.sock"
ctl --socket "$TEST_TMP/stale.sock" status
expect_rc 3 status on a stale socket
UPDATER_SOCKET=$TEST_TMP/absent.sock ctl status
expect_rc 3 "status (UPDATER_SOCKET)"
fake silent
ctl --socket "$sock" check
expect_rc 3 check with no reply
[[ $ERR == *"no reply"* ]] || fail "no reply: '$ERR'"

# --- check ---
fake normal
ctl --socket "$sock" check
expect_rc 0 check
assert_eq "$OUT" "queued" "check prints the reply"
UPDATER_SOCKET=$sock ctl check
expect_rc 0 "check (UPDATER_SOCKET)"

# The two checks above end their rounds 0.35 s later; past that, their
# notifications cannot reach the subscriber below.
sleep 0.5
: >"$TEST_TMP/fake.log"
ctl --socket "$sock" check --wait 10
expect_rc 0 check --wait
assert_eq "$OUT" $'queued\nupdated hello 2.0\nhealthy hello 2.0\nupdated hello to 2.0' "check --wait output"
# Subscribed (connected to events.sock) before asking, the connection closed at the end.
wait_until 5 grep -q disconnect "$TEST_TMP/fake.log" || fail "check --wait did not close its connection"
assert_eq "$(sed -e 's/^uid=[0-9]* len=[0-9]* //' -e 's/^uid=[0-9]* //' "$TEST_TMP/fake.log" | tr '\n' ' ')" \
	"connect check disconnect " "check --wait requests"

# A datagram from another uid at our address is not the daemon's reply.
fake spoof
ctl --socket "$sock" check
expect_rc 0 check with a forged reply first
assert_eq "$OUT" "queued" "check ignores a reply from another uid"
ctl --socket "$sock" status --json
expect_rc 0 status with a forged reply first
[[ $OUT == *'"targets"'* ]] || fail "status took the forged reply: '$OUT'"

# "running": the round under way ends first; the second "checked" is ours.
fake running
ctl --socket "$sock" check --wait 10
expect_rc 1 check --wait while running
assert_eq "$OUT" $'running\nfailed: hello: download failed' "check --wait waits for the second round"

fake failing
ctl --socket "$sock" check --wait
expect_rc 1 check --wait on a failing check
assert_eq "$OUT" $'deferred 1\nfailed: hello: bad signature' "check --wait on a failing check"

fake never
ctl --socket "$sock" check --wait 1
expect_rc 1 check --wait with a timeout
[[ $ERR == *"did not end within 1 s"* ]] || fail "timeout message: '$ERR'"

# --- status ---
fake normal
ctl --socket "$sock" status --json
expect_rc 0 status --json
/usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["targets"][0]["name"] == "hello", d
assert d["requests"]["coalesced"] == 1, d
' <<<"$OUT" || fail "status --json is not the daemon's JSON: '$OUT'"

ctl --socket "$sock" status
expect_rc 0 status
for want in "updaterd 0.1.0, idle" "1 coalesced" "TARGET" "hello" "1.4.2" "/usr/local/bin/hello" \
	"other-tool" "last error: check: exit 1 é?[31m??2J?" "none scheduled"; do
	[[ $OUT == *"$want"* ]] || fail "status table lacks '$want':
$OUT"
done
[[ $OUT != *$'\e'* ]] || fail "status printed an escape character from the daemon"
# C1 controls too: U+009B (CSI) and U+0085 as UTF-8, which a UTF-8 terminal obeys.
[[ $OUT != *$'\xc2\x9b'* && $OUT != *$'\xc2\x85'* ]] || fail "status printed a C1 control character from the daemon"

# --- watch: one line a notification, until SIGTERM; then the connection closes ---
: >"$TEST_TMP/fake.log"
"$UPDATERCTL" --socket "$sock" watch >"$TEST_TMP/watch.out" 2>"$TEST_TMP/watch.err" &
watch_pid=$!
track_pid "$watch_pid"
wait_until 5 grep -q connect "$TEST_TMP/fake.log" || fail "watch did not connect"
dgram "$sock" x >/dev/null || fail "cannot reach the stand-in"
wait_until 5 grep -q "checked ok" "$TEST_TMP/watch.out" || fail "watch printed: $(cat "$TEST_TMP/watch.out")"
kill -TERM "$watch_pid"
rc=0
wait "$watch_pid" || rc=$?
assert_eq "$rc" 0 "watch exits 0 on SIGTERM"
assert_eq "$(cat "$TEST_TMP/watch.out")" $'updated hello 2.0\nhealthy hello 2.0\nchecked ok updated hello to 2.0' "watch output"
wait_until 5 grep -q disconnect "$TEST_TMP/fake.log" || fail "watch did not close its connection"

# --- rollback ---
ctl --socket "$sock" rollback hello
expect_rc 0 rollback hello
assert_eq "$OUT" "ok 1.4.1" "rollback output"
ctl --socket "$sock" rollback missing
expect_rc 1 rollback missing
[[ $ERR == *"rollback missing: unknown target 'missing'"* ]] || fail "rollback error: '$ERR'"
[[ -z $OUT ]] || fail "rollback error printed on stdout: '$OUT'"
if [[ $(id -u) -eq 0 ]]; then
	RC=0
	setpriv --reuid=65534 --regid=65534 --clear-groups "$UPDATERCTL" --socket "$sock" rollback hello \
		>"$TEST_TMP/out" 2>"$TEST_TMP/err" || RC=$?
	OUT=$(cat "$TEST_TMP/out") ERR=$(cat "$TEST_TMP/err")
	expect_rc 1 rollback as nobody
	[[ $ERR == *"permission denied"* ]] || fail "rollback as nobody: '$ERR'"
	grep -q '^uid=65534 .*rollback hello' "$TEST_TMP/fake.log" || fail "the daemon did not see nobody's uid"
fi

pass
