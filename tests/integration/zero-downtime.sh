#!/bin/bash
# Zero downtime: hello-server (examples/hello-server.c, built with libupdater)
# is updated 20 times while a load generator connects to it in a loop on
# 127.0.0.1. Each update renames a new build over the server's path, the way
# updaterd swaps a file. Not one connection may be refused, reset or left
# unanswered; every answer comes from v1 or later and no client ever gets an
# older version after a newer one; the server keeps its PID throughout.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"

UPDATES=20
new_tmpdir
mkdir "$TEST_TMP/bin" "$TEST_TMP/builds"
export UPDATER_SOCKET=$TEST_TMP/no-daemon.sock

# v1 .. v21, two compilers at a time.
for v in $(seq 1 $((UPDATES + 1))); do
	build_hello "$v" "$TEST_TMP/builds/hello-$v" &
	if ((v % 2 == 0)); then wait; fi
done
wait
for v in $(seq 1 $((UPDATES + 1))); do
	[[ -x $TEST_TMP/builds/hello-$v ]] || fail "hello-server $v was not built"
done

prog=$TEST_TMP/bin/hello
cp "$TEST_TMP/builds/hello-1" "$prog"
"$prog" --port 0 --port-file "$TEST_TMP/port" 2>"$TEST_TMP/hello.log" &
server=$!
track_pid "$server"
wait_until 10 test -s "$TEST_TMP/port" || fail "hello-server did not start: $(cat "$TEST_TMP/hello.log")"
port=$(cat "$TEST_TMP/port")
wait_until 10 hello_version_is "$port" 1 || fail "hello-server does not answer on port $port"

"$LOADGEN" --clients 4 --interval-ms 1 "$port" >"$TEST_TMP/load.out" 2>"$TEST_TMP/load.err" &
load=$!
track_pid "$load"
sleep 0.5

for v in $(seq 2 $((UPDATES + 1))); do
	replace_with "$TEST_TMP/builds/hello-$v" "$prog"
	wait_until 20 hello_version_is "$port" "$v" ||
		fail "update $v was not picked up; server log: $(tail -n 5 "$TEST_TMP/hello.log")"
	sleep 0.1
done
sleep 0.3
kill -TERM "$load"
wait "$load"
echo "load generator: $(tr '\n' ' ' <"$TEST_TMP/load.out")"

get() { sed -n "s/^$1=//p" "$TEST_TMP/load.out"; }
for k in refused reset timeout other bad regressions; do
	assert_eq "$(get "$k")" 0 "connections $k"
done
((${ok:=$(get ok)} >= 200)) || fail "only $ok connections were answered: no real load"
assert_eq "$(get pids)" "$server" "every answer came from the same process"
# Every version seen is one of ours, in increasing order, ending with the last.
prev=0
IFS=, read -r -a seen <<<"$(get versions)"
for v in "${seen[@]}"; do
	[[ $v =~ ^[0-9]+$ ]] && ((v > prev && v <= UPDATES + 1)) || fail "versions seen: $(get versions)"
	prev=$v
done
assert_eq "$prev" $((UPDATES + 1)) "the last version answered"
kill -0 "$server" 2>/dev/null || fail "hello-server died"
assert_eq "$(grep -c 're-executing' "$TEST_TMP/hello.log")" "$UPDATES" "re-executions in the server's log"
echo "$ok connections answered during $UPDATES updates, ${#seen[@]} versions seen, none failed"

pass
