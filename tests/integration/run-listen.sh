#!/bin/bash
# --listen: updater-run opens the sockets once and hands them to every start
# as LISTEN_FDS, so five SIGHUP restarts in a row under a steady stream of
# connections refuse none and fail none.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP

port=$(free_port)
TEST_LOG=$T/log
start_run "$T/log" -v --grace 20 --listen "tcp:127.0.0.1:$port" --listen "ctl=unix:$T/ctl.sock" \
	-- $PY "$SERVER" --fd --info "$T/info" "$T"
wait_until 10 test -s "$T/info" || fail "the server did not start: $(cat "$T/log")"
pid1=$(ask 127.0.0.1 "$port") || fail "no answer on port $port"

# What sd_listen_fds() would see in PROGRAM.
grep -qx "LISTEN_FDS=2" "$T/info" || fail "LISTEN_FDS: $(cat "$T/info")"
grep -qx "LISTEN_PID=$pid1" "$T/info" || fail "LISTEN_PID is not the program's PID: $(cat "$T/info")"
grep -qx "LISTEN_FDNAMES=tcp-127.0.0.1-$port:ctl" "$T/info" || fail "LISTEN_FDNAMES: $(cat "$T/info")"
[[ -S $T/ctl.sock ]] || fail "no unix socket at '$T/ctl.sock'"
$PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$T/ctl.sock" ||
	fail "the unix socket does not accept connections"

# seen_at_least N: N server generations have answered the load generator.
seen_at_least() {
	(($(wc -l <"$T/seen") >= $1))
}
$PY "$LOAD" 127.0.0.1 "$port" "$T/stop-load" --clients 2 --seen "$T/seen" >"$T/load.json" &
load=$!
track_pid "$load"
wait_until 10 test -s "$T/seen" || fail "the load generator got no answer"
for i in 1 2 3 4 5; do
	kill -HUP "$RUN_PID"
	wait_until 20 log_has "$T/log" "generation $((i + 1)) of .* started" ||
		fail "restart $i did not happen: $(tail -n 5 "$T/log")"
	# The new generation must have answered before the next restart.
	wait_until 20 seen_at_least $((i + 1)) ||
		fail "generation $((i + 1)) never answered"
done
touch "$T/stop-load"
wait_exit "$load" 20
assert_eq "$RC" 0 "load generator"
result=$(cat "$T/load.json")
echo "load: $result"
read -r answers refused failed generations < <($PY -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["answers"], r["refused"], r["failed"], len(r["generations"]))' "$T/load.json")
assert_eq "$refused" 0 "refused connections"
assert_eq "$failed" 0 "failed connections"
assert_eq "$generations" 6 "server generations that answered"
((answers > 10)) || fail "only $answers answers: hardly a load"
# Each old server got SIGTERM exactly once: Python restores the default
# action while it shuts down, so a second copy would kill it.
assert_eq "$(grep -c "python3' (pid [0-9]*) exited with status 0" "$T/log")" 5 \
	"old servers that exited cleanly"

kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_eq "$RC" 0 "exit status (the server exits 0 on SIGTERM)"
[[ ! -e $T/ctl.sock ]] || fail "the unix socket file is left behind"
assert_no_leftovers

# 2. Socket activation: sockets a service manager passed to updater-run itself
# are handed on, under their names, to every start.
if command -v systemd-socket-activate >/dev/null 2>&1; then
	port=$(free_port)
	rm -f "$T/info"
	systemd-socket-activate -l "127.0.0.1:$port" --fdname=web \
		"$RUN" -v -- $PY "$SERVER" --fd --info "$T/info" "$T" >>"$T/log2" 2>&1 &
	act=$!
	track_pid "$act"
	# It starts updater-run at the first connection, which then waits.
	wait_until 10 ask 127.0.0.1 "$port" >/dev/null 2>&1 || fail "activated: no answer: $(cat "$T/log2")"
	grep -qx "LISTEN_FDNAMES=web" "$T/info" || fail "activated: LISTEN_FDNAMES: $(cat "$T/info")"
	grep -qx "LISTEN_FDS=1" "$T/info" || fail "activated: LISTEN_FDS: $(cat "$T/info")"
	run=$act # systemd-socket-activate execs updater-run in its own process
	kill -HUP "$run"
	wait_until 20 log_has "$T/log2" "generation 2 of .* started" || fail "activated: no restart"
	wait_until 10 ask 127.0.0.1 "$port" >/dev/null 2>&1 || fail "activated: no answer after the restart"
	assert_eq "$(grep -c '^PID=' "$T/info")" 2 "activated: starts"
	kill -TERM "$run"
	wait_exit "$act" 20
	assert_no_leftovers
fi
pass
