#!/bin/bash
# libupdater's pre-flight (SPEC 11, issue 11): before updater_reexec() gives
# up the running image, the new file runs once as a child and must reach
# updater_init(). Under a connect loop (tests/loadgen), a libupdater server
# (tests/probation-server --reexec) is given, one after the other, a build
# that exits 1 before updater_init(), a file that is not an executable at
# all, and a truncated ELF: each time it logs that the re-exec failed and
# keeps answering as 1.0; then a good 2.0 takes over in the same process.
# Not one connection fails.
. "$SRCDIR/tests/integration/lib.sh"

PSRV=$BUILDDIR/tests/probation-server
LOADGEN=$BUILDDIR/tests/loadgen
new_tmpdir
mkdir "$TEST_TMP/bin"
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cp "$PSRV-v1" "$TEST_TMP/bin/hello"
"$TEST_TMP/bin/hello" --port "$PORT" --reexec 2>"$TEST_TMP/server.log" &
server=$!
track_pid $server
answers() { [[ $("$LOADGEN" --once "$PORT" 2>/dev/null) == "hello $1 pid $server" ]]; }
wait_until 10 answers 1.0 || fail "the 1.0 server does not answer"

"$LOADGEN" --clients 4 --interval-ms 1 "$PORT" >"$TEST_TMP/load.out" 2>"$TEST_TMP/load.err" &
load=$!
track_pid $load
sleep 0.5

# install FILE: rename FILE over the server's path, as an installer would.
install_new() {
	cp "$1" "$TEST_TMP/bin/.hello.new"
	chmod 0755 "$TEST_TMP/bin/.hello.new"
	mv -f "$TEST_TMP/bin/.hello.new" "$TEST_TMP/bin/hello"
}
failures() { grep -c 're-exec failed, serving on' "$TEST_TMP/server.log"; }
failures_at_least() { (($(failures) >= $1)); }

printf 'this is not a program\n' >"$TEST_TMP/garbage"
head -c 4096 "$PSRV-v2" >"$TEST_TMP/truncated"
n=0
for bad in "$PSRV-bad" "$TEST_TMP/garbage" "$TEST_TMP/truncated"; do
	install_new "$bad"
	n=$((n + 1))
	wait_until 20 failures_at_least $n || fail "no failed re-exec logged for $(basename "$bad"): $(tail -n 5 "$TEST_TMP/server.log")"
	answers 1.0 || fail "after $(basename "$bad"), the server does not answer as 1.0"
	sleep 0.3
done
grep -q 'broken build, exiting' "$TEST_TMP/server.log" || fail "the broken build's own stderr line is not in the log"
grep -q 're-exec failed, serving on: Exec format error' "$TEST_TMP/server.log" ||
	fail "the non-executable file's failure is not ENOEXEC: $(cat "$TEST_TMP/server.log")"

install_new "$PSRV-v2"
wait_until 20 answers 2.0 || fail "the good 2.0 did not take over: $(tail -n 5 "$TEST_TMP/server.log")"
sleep 0.3
kill -TERM $load
wait $load
echo "load generator: $(tr '\n' ' ' <"$TEST_TMP/load.out")"
get() { sed -n "s/^$1=//p" "$TEST_TMP/load.out"; }
for k in refused reset timeout other bad regressions; do
	assert_eq "$(get "$k")" 0 "connections $k"
done
(($(get ok) >= 100)) || fail "only $(get ok) connections were answered: no real load"
assert_eq "$(get pids)" "$server" "every answer came from the one server process"
assert_eq "$(get versions)" "1.0,2.0" "versions answered"
pass
