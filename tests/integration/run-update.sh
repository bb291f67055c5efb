#!/bin/bash
# --restart-on-update: PROGRAM (found through PATH) is restarted when a new
# file is moved over it, and not when something else in its directory
# changes or its own file is merely touched. updater-run also subscribes to
# updaterd's control socket when there is one.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP
TEST_LOG=$T/log
mkdir "$T/bin"

# write_version N: a new file (new inode) holding version N of the program.
write_version() {
	cat >"$T/bin/.app.new" <<SH
#!/bin/sh
echo "v$1 \$\$" >>"$T/marks"
while :; do sleep 0.1; done
SH
	chmod 0755 "$T/bin/.app.new"
}
marks() {
	cat "$T/marks" 2>/dev/null | wc -l
}
marks_at_least() {
	(($(marks) >= $1))
}

# A stand-in for updaterd: records what it receives on its control socket.
$PY - "$T/control.sock" "$T/daemon-got" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    data, addr = s.recvfrom(512)
    with open(sys.argv[2], "a") as f:
        f.write(data.decode() + "\n")
    try:
        if addr:
            s.sendto(b"ok", addr)
    except OSError:
        pass
PYEOF
track_pid $!
wait_until 10 test -S "$T/control.sock" || fail "the stand-in daemon did not start"

write_version 1
mv "$T/bin/.app.new" "$T/bin/app"
PATH="$T/bin:$PATH" UPDATER_SOCKET="$T/control.sock" start_run "$T/log" -v --restart-on-update -- app
wait_until 10 marks_at_least 1 || fail "version 1 did not start"
wait_until 10 grep -qx subscribe "$T/daemon-got" || fail "no subscription sent to updaterd's socket"
pid1=$(awk '{print $2}' "$T/marks")

# Not an update: another file in the directory, the file touched, chmod.
echo x >"$T/bin/other"
mv "$T/bin/other" "$T/bin/other2"
touch "$T/bin/app"
chmod 0755 "$T/bin/app"
sleep 1
assert_eq "$(marks)" 1 "starts after unrelated changes"

# An update: a new file renamed over the old one.
write_version 2
mv "$T/bin/.app.new" "$T/bin/app"
wait_until 20 marks_at_least 2 || fail "no restart after the file was replaced"
assert_eq "$(sed -n 2p "$T/marks" | cut -d' ' -f1)" v2 "the second start runs the new file"
proc_gone "$pid1" || fail "version 1 (pid $pid1) still runs"
log_has "$T/log" "restarting '$T/bin/app': its file was replaced" || fail "no restart logged"

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
wait_until 10 grep -qx unsubscribe "$T/daemon-got" || fail "no unsubscribe at exit"
{ kill %1 && wait %1; } 2>/dev/null
assert_no_leftovers
pass
