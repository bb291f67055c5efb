#!/bin/bash
# Finding 12 (issue 9): `updater-run --listen unix:PATH` unlinked whatever
# socket was at PATH — the live socket of another program or of another
# updater-run — and at exit unlinked PATH even when it was no longer its own;
# the socket's mode followed the umask. Now: a socket at PATH is probed with
# connect() and removed only when stale; a live one is refused; at exit PATH
# is unlinked only while it is still the socket updater-run bound (device
# and inode); the mode is 0666 or ,mode=OCTAL (with ,user= and ,group=),
# never the umask's.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP

# serve PATH READY: another program listening on PATH (answers "other").
serve() {
	$PY - "$1" "$2" <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"other\n")
    except OSError:
        pass  # a prober that hung up at once
    c.close()
PYEOF
	track_pid $!
	wait_until 10 test -e "$2" || fail "the other program did not start"
}
# ask PATH: what the program listening on PATH answers first ("" when none).
ask_unix() {
	$PY -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(sys.argv[1]); print(s.recv(64).decode().strip())' "$1" 2>/dev/null
}

# 1. A live socket of another program: refused, and left alone.
serve "$T/live.sock" "$T/live.ready"
"$RUN" --listen "unix:$T/live.sock" -- /bin/true >"$T/live.log" 2>&1
rc=$?
((rc != 0)) || fail "updater-run took over a live socket (exit 0): $(cat "$T/live.log")"
grep -q "another program listens on it" "$T/live.log" || fail "no reason given: $(cat "$T/live.log")"
assert_eq "$(ask_unix "$T/live.sock")" other "the other program's socket after updater-run"

# 2. A stale socket (bound, never listened on again): replaced.
$PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/stale.sock"
[[ -S $T/stale.sock ]] || fail "test set-up: no stale socket"
start_run "$T/stale.log" --listen "unix:$T/stale.sock" -- sleep 600
wait_until 10 test -n "$(ps -o pid= --ppid "$RUN_PID")" || fail "PROGRAM did not start: $(cat "$T/stale.log")"
$PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$T/stale.sock" ||
	fail "the stale socket was not replaced: $(cat "$T/stale.log")"

# 3. At exit, a path that is no longer its own is left alone.
mv "$T/stale.sock" "$T/moved.sock"
serve "$T/stale.sock" "$T/stale.ready"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_eq "$(ask_unix "$T/stale.sock")" other "the socket now at the path after updater-run exited"
# Its own socket, still at its path, is removed at exit.
start_run "$T/own.log" --listen "unix:$T/own.sock" -- sleep 600
wait_until 10 test -S "$T/own.sock" || fail "no socket: $(cat "$T/own.log")"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
[[ -e $T/own.sock ]] && fail "updater-run left its own socket behind"

# 4. The mode: never the umask's.
(
	umask 0077
	exec "$RUN" --listen "unix:$T/mode.sock" -- sleep 600
) >>"$T/mode.log" 2>&1 &
RUN_PID=$!
track_pid $RUN_PID
wait_until 10 test -S "$T/mode.sock" || fail "no socket: $(cat "$T/mode.log")"
sleep 0.2
assert_eq "$(stat -c %a "$T/mode.sock")" 666 "default mode of the socket under umask 077"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
start_run "$T/mode2.log" --listen "unix:$T/m,2.sock,mode=0660,user=nobody,group=nogroup" -- sleep 600
wait_until 10 test -S "$T/m,2.sock" || fail "no socket: $(cat "$T/mode2.log")"
sleep 0.2
assert_eq "$(stat -c '%a %U:%G' "$T/m,2.sock")" "660 nobody:nogroup" "mode and owner from the options"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
"$RUN" --listen "unix:$T/x.sock,mode=9" -- /bin/true >"$T/bad.log" 2>&1
assert_eq "$?" 2 "a bad mode= is a usage error"
pass
