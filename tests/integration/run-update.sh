#!/bin/bash
# --restart-on-update: PROGRAM (found through PATH) is restarted when a new
# file is moved over it, and not when something else in its directory
# changes or its own file is merely touched. updater-run also subscribes to
# updaterd's notifications when there is one (a connection to events.sock
# beside its control socket): a notification about a file
# that did not change restarts nothing, a replacement that is both seen by
# inotify and announced restarts once, and where the directory cannot be
# watched the notification alone restarts PROGRAM.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP
TEST_LOG=$T/log
mkdir "$T/bin"

# write_version N [DIR [MARKS]]: a new file (new inode) DIR/.app.new holding
# version N of the program, which appends "vN PID" to MARKS when it starts.
write_version() {
	local dir=${2:-$T/bin} marks=${3:-$T/marks}
	cat >"$dir/.app.new" <<SH
#!/bin/sh
echo "v$1 \$\$" >>"$marks"
while :; do sleep 0.1; done
SH
	chmod 0755 "$dir/.app.new"
}
# marks [MARKS]: how many starts so far.
marks() {
	cat "${1:-$T/marks}" 2>/dev/null | wc -l
}
marks_at_least() {
	(($(marks "${2:-$T/marks}") >= $1))
}

# A stand-in for updaterd: records what it receives on its control socket
# and "connect" / "disconnect" for each connection to its events socket, and
# on "send TEXT" (from the test) sends TEXT to each connection, as updaterd
# announces "updated TARGET VERSION".
$PY - "$T/control.sock" "$T/daemon-got" <<'PYEOF' &
import os, select, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
ev = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
evpath = os.path.join(os.path.dirname(sys.argv[1]), "events.sock")
ev.bind(evpath)
os.chmod(evpath, 0o666)
ev.listen(16)
subs = []
def record(text):
    with open(sys.argv[2], "a") as f:
        f.write(text + "\n")
while True:
    r, _, _ = select.select([s, ev] + subs, [], [])
    if ev in r:
        c, _ = ev.accept()
        subs.append(c)
        record("connect")
    for c in [c for c in subs if c in r]:
        if not c.recv(512):
            subs.remove(c)
            c.close()
            record("disconnect")
    if s not in r:
        continue
    data, addr = s.recvfrom(512)
    text = data.decode()
    record(text)
    reply = b"ok"
    if text.startswith("send "):
        n = 0
        for c in subs:
            try:
                c.send(text[5:].encode())
                n += 1
            except OSError:
                pass
        reply = b"sent %d" % n
    try:
        if addr:
            s.sendto(reply, addr)
    except OSError:
        pass
PYEOF
STANDIN=$!
track_pid "$STANDIN"
wait_until 10 test -S "$T/control.sock" || fail "the stand-in daemon did not start"
# updater-run may run as another user below.
chmod 0666 "$T/control.sock"

# announce TEXT: the stand-in daemon sends TEXT to its one subscriber.
announce() {
	assert_eq "$(dgram "$T/control.sock" "send $1" --reply)" "sent 1" "subscribers told '$1'"
}
# barrier LOG: return once updater-run's loop has gone round at least once
# after this call, so that what it was handling when called (a datagram, an
# inotify event) has been decided and logged. Two SIGWINCH (ignored by sh),
# each waited for, since signals are handled first in an iteration.
winches() {
	grep -c "forwarding SIGWINCH" "$1" || true
}
winches_at_least() {
	(($(winches "$1") >= $2))
}
barrier() {
	local n
	n=$(winches "$1")
	kill -WINCH "$RUN_PID"
	wait_until 10 winches_at_least "$1" $((n + 1)) || fail "barrier: no SIGWINCH forwarded"
	kill -WINCH "$RUN_PID"
	wait_until 10 winches_at_least "$1" $((n + 2)) || fail "barrier: no SIGWINCH forwarded"
}
restarts() {
	grep -c "restarting '" "$1" || true
}

write_version 1
mv "$T/bin/.app.new" "$T/bin/app"
PATH="$T/bin:$PATH" UPDATER_SOCKET="$T/control.sock" start_run "$T/log" -v --restart-on-update -- app
wait_until 10 marks_at_least 1 || fail "version 1 did not start"
wait_until 10 grep -qx connect "$T/daemon-got" || fail "no connection to updaterd's events socket"
pid1=$(awk '{print $2}' "$T/marks")

# An announcement while the file is still the one started: the device and
# inode are the same, so nothing restarts.
announce "updated app 1"
wait_until 10 log_has "$T/log" "updaterd says: updated app 1" || fail "the notification did not reach updater-run"
barrier "$T/log"
assert_eq "$(restarts "$T/log")" 0 "restarts after a notification about an unchanged file"
assert_eq "$(marks)" 1 "starts after a notification about an unchanged file"

# Not an update: another file in the directory, the file touched, chmod.
echo x >"$T/bin/other"
mv "$T/bin/other" "$T/bin/other2"
touch "$T/bin/app"
chmod 0755 "$T/bin/app"
sleep 1
assert_eq "$(marks)" 1 "starts after unrelated changes"

# An update: a new file renamed over the old one, then announced, as
# updaterd does. inotify sees the rename first (the loop reads it before
# the subscription); the notification must not restart the tree again.
write_version 2
mv "$T/bin/.app.new" "$T/bin/app"
announce "updated app 2"
wait_until 20 marks_at_least 2 || fail "no restart after the file was replaced"
assert_eq "$(sed -n 2p "$T/marks" | cut -d' ' -f1)" v2 "the second start runs the new file"
proc_gone "$pid1" || fail "version 1 (pid $pid1) still runs"
log_has "$T/log" "restarting '$T/bin/app': its file was replaced" || fail "no restart logged"
wait_until 10 log_has "$T/log" "updaterd says: updated app 2" || fail "the notification did not reach updater-run"
wait_until 10 log_has "$T/log" "generation 2 of '$T/bin/app' started" || fail "generation 2 not logged"
barrier "$T/log"
assert_eq "$(restarts "$T/log")" 1 "restarts after a replacement seen by inotify and announced"
assert_eq "$(marks)" 2 "starts after a replacement seen by inotify and announced"

# A new version that cannot run is not started until it is complete: here
# it arrives without the execute bit, then gets it.
cat >"$T/bin/.app.new" <<SH
#!/bin/sh
echo "v3 \$\$" >>"$T/marks"
while :; do sleep 0.1; done
SH
chmod 0644 "$T/bin/.app.new"
mv "$T/bin/.app.new" "$T/bin/app"
sleep 1
assert_eq "$(marks)" 2 "starts while the new file is not executable"
chmod 0755 "$T/bin/app"
wait_until 20 marks_at_least 3 || fail "no restart once the new file became executable"
assert_eq "$(sed -n 3p "$T/marks" | cut -d' ' -f1)" v3 "the third start"

assert_eq "$(zombies_of "$RUN_PID")" 0 "zombies under updater-run"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_eq "$RC" 143 "exit status (sh killed by SIGTERM)"
wait_until 10 grep -qx disconnect "$T/daemon-got" || fail "the connection to the events socket was not closed at exit"
only_standin_left() {
	[[ $(leftovers) == "$STANDIN" ]]
}
wait_until 5 only_standin_left || fail "processes left behind: $(leftovers)"

# The notification alone: PROGRAM's directory has no read permission for
# updater-run's user (nobody when we are root, who would read it anyway), so
# inotify cannot watch it, yet the program still runs from it. A replaced
# file then restarts nothing until updaterd announces it.
H=$T/hidden
mkdir "$H"
install -m 0666 /dev/null "$T/hmarks"
write_version 1 "$H" "$T/hmarks"
mv "$H/.app.new" "$H/app"
chmod 0311 "$H"
as_user=()
[[ $(id -u) -eq 0 ]] && as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
UPDATER_SOCKET="$T/control.sock" "${as_user[@]}" "$RUN" -v --restart-on-update -- "$H/app" >>"$T/hlog" 2>&1 &
RUN_PID=$!
track_pid "$RUN_PID"
_run_pids+=("$RUN_PID")
TEST_LOG=$T/hlog
wait_until 10 marks_at_least 1 "$T/hmarks" || fail "version 1 did not start from the unreadable directory"
log_has "$T/hlog" "warning: cannot watch '$H/app' for updates" ||
	fail "inotify watched the unreadable directory: the test proves nothing here"
two_connects() {
	(($(grep -cx connect "$T/daemon-got") >= 2))
}
wait_until 10 two_connects || fail "no connection to updaterd's events socket"
hpid1=$(awk '{print $2}' "$T/hmarks")
write_version 2 "$H" "$T/hmarks"
mv "$H/.app.new" "$H/app"
barrier "$T/hlog"
assert_eq "$(marks "$T/hmarks")" 1 "starts after an unannounced replacement without inotify"
announce "updated app 2"
wait_until 20 marks_at_least 2 "$T/hmarks" || fail "no restart after updaterd announced the new file"
assert_eq "$(sed -n 2p "$T/hmarks" | cut -d' ' -f1)" v2 "the start after the notification runs the new file"
proc_gone "$hpid1" || fail "version 1 (pid $hpid1) still runs"
log_has "$T/hlog" "restarting '$H/app': updaterd replaced its file" || fail "no restart by notification logged"
assert_eq "$(restarts "$T/hlog")" 1 "restarts by notification"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_eq "$RC" 143 "exit status (sh killed by SIGTERM)"
chmod 0755 "$H"

{ kill %1 && wait %1; } 2>/dev/null
assert_no_leftovers
pass
