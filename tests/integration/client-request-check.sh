#!/bin/bash
# updater_request_check: one datagram of one byte, from any user, that never
# blocks. The receiver is the real updaterd when this build has one (its
# status counts the request), else a stand-in socket that logs the sender's
# uid as the kernel reports it.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"

require_root
require_cmd setpriv
new_tmpdir
mkdir "$TEST_TMP/bin"
cp "$PROBE_V1" "$TEST_TMP/bin/probe"
sock=$TEST_TMP/control.sock
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# probe_batch COMMANDS...: run the probe with these commands on stdin; its
# answers on stdout.
probe_batch() {
	printf '%s\n' "$@" exit | UPDATER_SOCKET=$sock "$TEST_TMP/bin/probe"
}

# --- no daemon: the error, at once ---
out=$(probe_batch request) || fail "probe failed: $out"
[[ $out == *"request -2"* ]] || fail "no socket: expected -ENOENT, got: $out"
/usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])' "$sock"
out=$(probe_batch request)
[[ $out == *"request -111"* ]] || fail "stale socket: expected -ECONNREFUSED, got: $out"
rm -f "$sock"

# --- a receiver that never reads: the queue fills, the call does not block ---
/usr/bin/python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
time.sleep(60)' "$sock" &
sleeper=$!
track_pid "$sleeper"
wait_until 10 test -S "$sock" || fail "the sleeping receiver did not start"
mapfile -t cmds < <(yes request | head -n 3000)
start=$SECONDS
out=$(probe_batch "${cmds[@]}" | sort | uniq -c)
((SECONDS - start < 30)) || fail "3000 requests took $((SECONDS - start)) s: it blocks"
[[ $out == *"request 0"* && $out == *"request -11"* ]] ||
	fail "a full queue must give -EAGAIN, not block: $out"
kill "$sleeper"
wait "$sleeper" 2>/dev/null
rm -f "$sock"

# --- the request arrives, from root and from nobody ---
if [[ -x $UPDATERD ]] && declare -F start_updaterd >/dev/null &&
	[[ -z ${CLIENT_TEST_FAKE_DAEMON:-} ]]; then
	mkdir -m 0755 "$TEST_TMP/scripts" "$TEST_TMP/state"
	install_script "$TEST_TMP/scripts/check" '#!/bin/sh
exit 0'
	install_script "$TEST_TMP/scripts/download" '#!/bin/sh
exit 1'
	write_config "$TEST_TMP/updater.yaml" "interval: 0" "min_interval: 1h" \
		"targets:" "  - name: hello" "    path: $TEST_TMP/bin/hello" "    source: file://$TEST_TMP/repo"
	start_updaterd "$TEST_TMP/updater.yaml"
	received() {
		dgram "$sock" status --reply |
			/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"]["received"])'
	}
	before=$(received)
	out=$(probe_batch request) || fail "probe as root: $out"
	[[ $out == *"request 0"* ]] || fail "request as root: $out"
	out=$(UPDATER_SOCKET=$sock "${as_nobody[@]}" "$TEST_TMP/bin/probe" <<<$'request\nexit')
	[[ $out == *"request 0"* ]] || fail "request as nobody: $out"
	# shellcheck disable=SC2317 # called through wait_until
	counted() { (($(received) >= before + 2)); }
	wait_until 5 counted || fail "updaterd counted $(received) requests, expected at least $((before + 2))"
	echo "updaterd received the requests from root and nobody"
else
	/usr/bin/python3 "$SRCDIR/tests/integration/client-fakedaemon.py" "$sock" normal "$TEST_TMP/fake.log" &
	track_pid $!
	wait_until 10 test -S "$sock" || fail "the stand-in daemon did not start"
	out=$(probe_batch request) || fail "probe as root: $out"
	[[ $out == *"request 0"* ]] || fail "request as root: $out"
	out=$(UPDATER_SOCKET=$sock "${as_nobody[@]}" "$TEST_TMP/bin/probe" <<<$'request\nexit')
	[[ $out == *"request 0"* ]] || fail "request as nobody: $out"
	wait_until 5 grep -q '^uid=65534 len=1 ' "$TEST_TMP/fake.log" ||
		fail "no one-byte request from uid 65534: $(cat "$TEST_TMP/fake.log")"
	grep -q '^uid=0 len=1 ' "$TEST_TMP/fake.log" || fail "no one-byte request from root"
	echo "the stand-in received the requests from root and nobody (no updaterd in this build)"
fi

pass
