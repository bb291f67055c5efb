#!/bin/bash
# --rewrite FROM:TO (repeatable): PROGRAM's group gets TO instead of FROM,
# for a forwarded signal (TO 0: nothing is sent) and for the stop signal
# (the stop of a restart included); signals updater-run acts on itself
# cannot be rewritten (a usage error, 2).
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP
REC="$SRCDIR/tests/integration/run-recorder.py"

got_count() {
	grep -c -x -- "$1" "$T/got" 2>/dev/null || true
}
both_got() {
	[[ $(got_count "main $1") -ge 1 && $(got_count "child $1") -ge 1 ]]
}
# start_recorder LOG ARGS... [-- EXIT_ON...]: sets MAIN, CHILD.
start_recorder() {
	local log=$1 args=()
	shift
	while (($#)) && [[ $1 != -- ]]; do
		args+=("$1")
		shift
	done
	(($#)) && shift
	rm -f "$T/got" "$T"/*.pid
	start_run "$log" -v "${args[@]}" -- "$REC" "$T" "$@"
	wait_until 10 test -s "$T/main.pid" -a -s "$T/child.pid" ||
		fail "the recorder did not start: $(cat "$log")"
	MAIN=$(pgrep -P "$RUN_PID")
}

# 1. Forwarded signals: USR1 arrives as USR2, WINCH not at all, URG as is;
# TERM arrives as QUIT (3), which the recorder leaves at: exit 0.
start_recorder "$T/log1" --rewrite USR1:USR2 --rewrite sigwinch:0 --rewrite TERM:3 -- 3
kill -USR1 "$RUN_PID"
wait_until 10 both_got 12 || fail "SIGUSR1 did not arrive as SIGUSR2: $(cat "$T/got")"
kill -WINCH "$RUN_PID"
kill -URG "$RUN_PID"
wait_until 10 both_got 23 || fail "SIGURG did not arrive: $(cat "$T/got")"
assert_eq "$(got_count "main 10")$(got_count "main 28")$(got_count "child 28")" 000 \
	"SIGUSR1 or SIGWINCH received as such"
log_has "$T/log1" "forwarding SIGUSR1 as SIGUSR2 to process group $MAIN" ||
	fail "the rewrite was not logged: $(cat "$T/log1")"
log_has "$T/log1" "not forwarding SIGWINCH \\(--rewrite SIGWINCH:0\\)" ||
	fail "the dropped SIGWINCH was not logged: $(cat "$T/log1")"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_eq "$RC" 0 "exit status after SIGTERM rewritten to SIGQUIT"
assert_eq "$(got_count "main 3") $(got_count "main 15")" "1 0" "SIGTERM arrived as SIGQUIT"
assert_no_leftovers

# 2. The stop: a restart (SIGHUP) stops the tree with the rewritten stop
# signal; so does SIGPWR, and so does the end of PROGRAM's main process
# for what it leaves behind (here, its child).
start_recorder "$T/log2" --rewrite TERM:QUIT --grace 30 -- 3
rm -f "$T"/*.pid
kill -HUP "$RUN_PID"
wait_until 20 log_has "$T/log2" "generation 2 of .* started" || fail "no restart: $(cat "$T/log2")"
assert_eq "$(got_count "main 3") $(got_count "child 3") $(got_count "main 15")" "1 1 0" \
	"the restart's stop signal"
wait_until 10 test -s "$T/main.pid" -a -s "$T/child.pid" || fail "generation 2 did not start"
: >"$T/got"
kill -PWR "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_eq "$RC" 0 "exit status after SIGPWR"
assert_eq "$(got_count "main 3") $(got_count "child 3") $(got_count "main 30")" "1 1 0" \
	"the stop signal after SIGPWR"
assert_no_leftovers

# 3. A --stop-signal is rewritten too.
start_recorder "$T/log3" --stop-signal USR1 --rewrite USR1:INT --grace 30 -- 2
rm -f "$T"/*.pid
kill -HUP "$RUN_PID"
wait_until 20 log_has "$T/log3" "generation 2 of .* started" || fail "no restart: $(cat "$T/log3")"
assert_eq "$(got_count "main 2") $(got_count "main 10")" "1 0" "the rewritten --stop-signal"
wait_until 10 test -s "$T/main.pid" -a -s "$T/child.pid" || fail "generation 2 did not start"
kill -TERM "$RUN_PID"
wait_until 10 both_got 15 || fail "SIGTERM did not arrive: $(cat "$T/got")"
kill -INT "$RUN_PID" # the recorder leaves at SIGINT
wait_exit "$RUN_PID" 20
assert_no_leftovers

# 4. Usage errors.
for arg in HUP:TERM CHLD:TERM PWR:TERM SEGV:TERM KILL:TERM TERM TERM:NOPE NOPE:TERM :TERM TERM:; do
	"$RUN" --rewrite "$arg" -- true >"$T/usage" 2>&1
	assert_eq "$?" 2 "--rewrite '$arg': exit status"
	grep -q -- "--rewrite" "$T/usage" || fail "--rewrite '$arg': no message: $(cat "$T/usage")"
done
"$RUN" --rewrite TERM:QUIT --rewrite QUIT:0 --rewrite RTMIN+1:RTMAX -- true
assert_eq "$?" 0 "valid rewrites"
"$RUN" --help | grep -q -- "--rewrite FROM:TO" || fail "--help does not name --rewrite"

pass
