#!/bin/bash
# The control socket: created 0666 in a new 0755 directory, a stale socket
# replaced, a live one or a non-socket left alone (exit 1), removed at stop;
# socket activation (LISTEN_FDS) takes precedence over socket:, with the
# sender's credentials still taken from the kernel; the events socket is
# bound beside an activated control socket, or activated itself (named
# "events"), and removed at stop when the daemon bound it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup
RUN=$TEST_TMP/run
SOCK=$RUN/control.sock
sed -i "s|^socket: .*|socket: $SOCK|" "$CONFIG"

start_updaterd "$CONFIG"
assert_eq "$(stat -c %a "$SOCK")" 666 "socket mode"
assert_eq "$(stat -c %a "$RUN")" 755 "socket directory mode"
reply=$(as_nobody $DGRAM "$SOCK" status --reply)
assert_eq "${reply:0:1}" "{" "status as nobody"

# A second daemon on the same path: refused, the first keeps serving.
"$UPDATERD" -c "$CONFIG" >"$TEST_TMP/second.log" 2>&1
assert_eq "$?" 1 "second daemon on a live socket"
grep -q 'in use' "$TEST_TMP/second.log" || fail "no reason given: $(cat "$TEST_TMP/second.log")"
assert_eq "$(request x)" queued "first daemon after the second was refused"
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"
[[ ! -e $SOCK ]] || fail "socket left behind at stop"

# A stale socket (its owner died without removing it) is replaced.
$PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])' "$SOCK"
[[ -S $SOCK ]] || fail "could not make a stale socket"
$DGRAM "$SOCK" x 2>/dev/null && fail "the stale socket answers"
start_updaterd "$CONFIG"
assert_eq "$(request x)" queued "request on the replaced socket"
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"

# Something that is not a socket is never removed.
echo precious >"$SOCK"
"$UPDATERD" -c "$CONFIG" >"$TEST_TMP/third.log" 2>&1
assert_eq "$?" 1 "start with a regular file at the socket path"
assert_eq "$(cat "$SOCK")" precious "the file at the socket path"
rm -f "$SOCK"

# Socket activation: the activated socket wins, socket: is not created.
if command -v systemd-socket-activate >/dev/null; then
	ACT=$TEST_TMP/activated.sock
	systemd-socket-activate --datagram -l "$ACT" "$UPDATERD" -c "$CONFIG" -v >>"$TEST_LOG" 2>&1 &
	UPDATERD_PID=$!
	track_pid $UPDATERD_PID
	wait_until 5 test -S "$ACT" || fail "systemd-socket-activate did not bind"
	chmod 0666 "$ACT" # as the socket unit's SocketMode= does
	reply=$($DGRAM "$ACT" x --reply) || fail "no reply on the activated socket"
	assert_eq "$reply" queued "request on the activated socket"
	wait_until 5 grep -q 'socket activation' "$TEST_LOG" || fail "the daemon did not take the activated socket"
	[[ ! -e $SOCK ]] || fail "socket: was bound although a socket was activated"
	# Credentials still come from the kernel.
	reply=$(as_nobody $DGRAM "$ACT" "rollback hello" --reply)
	assert_eq "$reply" "error permission denied: rollback needs root" "rollback from nobody (activated)"
	reply=$($DGRAM "$ACT" "rollback hello" --reply)
	[[ $reply != *"permission denied"* ]] || fail "rollback from root refused as unprivileged: '$reply'"
	# Only the control socket activated: events.sock is bound beside it.
	[[ -S $TEST_TMP/events.sock ]] || fail "no events.sock beside the activated control socket"
	$PY "$SRCDIR/tests/integration/events.py" "$ACT" --until checked --timeout 20 >"$TEST_TMP/beside.out" 2>&1 &
	sub=$!
	track_pid $sub
	wait_until 5 grep -q '^connected$' "$TEST_TMP/beside.out" || fail "cannot connect beside: $(cat "$TEST_TMP/beside.out")"
	kill -HUP "$UPDATERD_PID" # a check now, past min_interval
	wait $sub || fail "no notification on the events socket beside the activated one: $(cat "$TEST_TMP/beside.out")"
	kill -TERM "$UPDATERD_PID"
	daemon_exits_within 3 || fail "activated updaterd did not stop"
	assert_eq "$DAEMON_STATUS" 0 "activated updaterd exit status"
	[[ ! -e $TEST_TMP/events.sock ]] || fail "events.sock left behind at stop"

	# Both activated, named as the units name them (updaterd.socket: control,
	# updaterd-events.socket: events): neither path of ours is bound.
	ACTDIR=$TEST_TMP/act
	mkdir -m 0755 "$ACTDIR"
	systemd-socket-activate --seqpacket -l "$ACTDIR/events.sock" --fdname=events \
		systemd-socket-activate --datagram -l "$ACTDIR/control.sock" --fdname=control \
		"$UPDATERD" -c "$CONFIG" -v >>"$TEST_LOG" 2>&1 &
	UPDATERD_PID=$!
	track_pid $UPDATERD_PID
	# Each waits for traffic on its socket before it starts the next program.
	wait_until 5 test -S "$ACTDIR/events.sock" || fail "systemd-socket-activate did not bind the events socket"
	$PY "$SRCDIR/tests/integration/events.py" "$ACTDIR/control.sock" --until checked --timeout 20 >"$TEST_TMP/act-events.out" 2>&1 &
	sub=$!
	track_pid $sub
	wait_until 5 grep -q '^connected$' "$TEST_TMP/act-events.out" || fail "cannot connect: $(cat "$TEST_TMP/act-events.out")"
	wait_until 5 test -S "$ACTDIR/control.sock" || fail "systemd-socket-activate did not bind the control socket"
	chmod 0666 "$ACTDIR/control.sock" "$ACTDIR/events.sock"
	reply=$($DGRAM "$ACTDIR/control.sock" check --reply) || fail "no reply on the activated control socket"
	assert_eq "$reply" queued "a check on the activated control socket"
	wait $sub || fail "no notification on the activated events socket: $(cat "$TEST_TMP/act-events.out")"
	grep -q "events on '(socket activation)'" "$TEST_LOG" || fail "the daemon did not take the activated events socket"
	[[ ! -e $SOCK && ! -e $RUN/events.sock ]] || fail "socket: was bound although both sockets were activated"
	kill -TERM "$UPDATERD_PID"
	daemon_exits_within 3 || fail "activated updaterd did not stop"
	assert_eq "$DAEMON_STATUS" 0 "activated updaterd exit status (both sockets)"
else
	echo "systemd-socket-activate missing: activation not tested"
fi
pass
