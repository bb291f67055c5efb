#!/bin/bash
# updater-run --notify --listen restarts overlapped (SPEC 15): the new
# generation starts while the old one serves, and the old one is stopped only
# once the new one sent READY=1. Under a connect loop (tests/loadgen) on the
# socket updater-run holds, PROGRAM's file (tests/probation-server, --fd
# --notify) is replaced by, one after the other:
#   - a build that serves but never sends READY=1: killed after
#     --ready-timeout, logged, generation 1 keeps answering;
#   - a build that exits 1 before updater_init(), and a file that is not an
#     executable at all: each killed/reaped, logged, generation 1 answers;
#   - a good 3.0: it takes over, generation 1 is stopped.
# Not one connection fails; updater-run itself keeps its PID.
. "$SRCDIR/tests/integration/lib.sh"

RUN=$BUILDDIR/updater-run
PSRV=$BUILDDIR/tests/probation-server
LOADGEN=$BUILDDIR/tests/loadgen
new_tmpdir
mkdir "$TEST_TMP/bin"
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cp "$PSRV-v1" "$TEST_TMP/bin/hello"
UPDATER_SOCKET=$TEST_TMP/no-daemon.sock "$RUN" -v --notify --ready-timeout 2 --restart-on-update \
	--listen "tcp:127.0.0.1:$PORT" -- "$TEST_TMP/bin/hello" --fd --notify 2>"$TEST_TMP/run.log" &
run=$!
track_pid $run
answer() { "$LOADGEN" --once "$PORT" 2>/dev/null; }
answers() { [[ $(answer) == "hello $1 pid "* ]]; }
wait_until 10 answers 1.0 || fail "generation 1 does not answer: $(cat "$TEST_TMP/run.log")"
gen1=$(answer | awk '{ print $4 }')

"$LOADGEN" --clients 4 --interval-ms 1 "$PORT" >"$TEST_TMP/load.out" 2>"$TEST_TMP/load.err" &
load=$!
track_pid $load
sleep 0.5

install_new() {
	cp "$1" "$TEST_TMP/bin/.hello.new"
	chmod 0755 "$TEST_TMP/bin/.hello.new"
	mv -f "$TEST_TMP/bin/.hello.new" "$TEST_TMP/bin/hello"
}
kept() { grep -c 'keeps serving' "$TEST_TMP/run.log"; }
kept_at_least() { (($(kept) >= $1)); }

install_new "$PSRV-noready"
wait_until 10 grep -q 'did not send READY=1 within 2 s: killed; generation 1 (pid [0-9]*) keeps serving' "$TEST_TMP/run.log" ||
	fail "the generation that never got ready was not killed: $(tail -n 5 "$TEST_TMP/run.log")"
answers 1.0 || fail "generation 1 stopped answering after the unready start"
assert_eq "$(answer | awk '{ print $4 }')" "$gen1" "the process answering after the unready start"

printf 'this is not a program\n' >"$TEST_TMP/garbage"
n=$(kept)
for bad in "$PSRV-bad" "$TEST_TMP/garbage"; do
	install_new "$bad"
	n=$((n + 1))
	wait_until 10 kept_at_least $n || fail "no 'keeps serving' after $(basename "$bad"): $(tail -n 5 "$TEST_TMP/run.log")"
	answers 1.0 || fail "generation 1 stopped answering after $(basename "$bad")"
	sleep 0.3
done
grep -q 'exited with status 1 before it sent READY=1' "$TEST_TMP/run.log" || fail "the broken build's exit is not logged"
grep -q "cannot execute '$TEST_TMP/bin/hello'" "$TEST_TMP/run.log" || fail "the garbage file's exec failure is not logged"

install_new "$PSRV-v3"
wait_until 10 answers 3.0 || fail "3.0 did not take over: $(tail -n 5 "$TEST_TMP/run.log")"
wait_until 10 test ! -d "/proc/$gen1" || fail "generation 1 (pid $gen1) was not stopped after 3.0 became ready"
sleep 0.3
kill -TERM $load
wait $load
echo "load generator: $(tr '\n' ' ' <"$TEST_TMP/load.out")"
get() { sed -n "s/^$1=//p" "$TEST_TMP/load.out"; }
# Not "regressions": the build that never got ready (2.0) shares the socket
# while it lives and answers some connections; then 1.0 answers again.
for k in refused reset timeout other bad; do
	assert_eq "$(get "$k")" 0 "connections $k"
done
(($(get ok) >= 100)) || fail "only $(get ok) connections were answered: no real load"
[[ $(get versions) == 1.0,3.0 || $(get versions) == 1.0,2.0,3.0 ]] || fail "versions answered: $(get versions)"
for i in 1 2 3 4 5; do answers 3.0 || fail "an answer after the take-over is not 3.0: $(answer)"; done
kill -0 $run || fail "updater-run is gone"
kill -TERM $run
wait $run
pass
