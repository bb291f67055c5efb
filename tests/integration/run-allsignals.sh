#!/bin/bash
# Every signal sent to updater-run does what updater-run(1)'s table says,
# as a child subreaper and as PID 1 of a new PID namespace, and none leaves
# PROGRAM behind without its supervisor:
#   - forwarded (SIGUSR1... SIGPIPE, SIGALRM, SIGSTKFLT, SIGURG, SIGXCPU,
#     SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGCONT, every real-time
#     signal): PROGRAM and its child (one process group) each get it once,
#     and updater-run carries on; SIGCHLD is not forwarded;
#   - SIGINT, SIGQUIT, SIGTERM and a --stop-signal: forwarded, then exit;
#   - SIGPWR: the tree gets the stop signal, then exit;
#   - SIGTSTP, SIGTTIN, SIGTTOU: PROGRAM's group gets SIGSTOP, updater-run
#     then stops itself (not as PID 1); SIGCONT continues both;
#   - SEGV, BUS, ILL, FPE, TRAP, SYS, ABRT: never forwarded; as a subreaper
#     the tree is stopped first, then updater-run dies of the signal; as
#     PID 1 they are ignored;
#   - SIGSTOP stops updater-run alone; SIGKILL kills it, and PROGRAM with it
#     (as PID 1: the whole namespace).
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP
REC="$SRCDIR/tests/integration/run-recorder.py"
# The synchronous signals dump core by default: not into the build tree.
ulimit -c 0

# start MODE LOG [ARGS... --] [EXIT_ON...]: updater-run ARGS -- recorder
# EXIT_ON. MODE sub: in a process group of its own whose parent (this
# shell) is in the same session, as under an interactive shell, so that a
# job control stop is not discarded. MODE pid1: as PID 1 of a new PID
# namespace. Sets OUTER (what this shell waits for), RUN_PID (updater-run),
# MAIN and CHILD (PIDs as seen from here).
start() {
	local mode=$1 log=$2 args=()
	shift 2
	while (($#)) && [[ $1 != -- ]]; do
		args+=("$1")
		shift
	done
	(($#)) && shift
	rm -f "$T/got" "$T"/*.pid
	set -m
	if [[ $mode == sub ]]; then
		"$RUN" -v "${args[@]}" -- "$REC" "$T" "$@" >>"$log" 2>&1 &
	else
		unshare --pid --fork --mount-proc "$RUN" -v "${args[@]}" -- "$REC" "$T" "$@" >>"$log" 2>&1 &
	fi
	OUTER=$!
	set +m
	track_pid "$OUTER"
	wait_until 10 test -s "$T/main.pid" -a -s "$T/child.pid" ||
		fail "$mode: the recorder did not start: $(cat "$log")"
	if [[ $mode == sub ]]; then
		RUN_PID=$OUTER
	else
		RUN_PID=$(pgrep -P "$OUTER")
		[[ -n $RUN_PID ]] || fail "pid1: no updater-run under unshare"
		track_pid "$RUN_PID"
	fi
	_run_pids+=("$RUN_PID")
	MAIN=$(pgrep -P "$RUN_PID")
	CHILD=$(pgrep -P "$MAIN")
	[[ -n $MAIN && -n $CHILD ]] || fail "$mode: no recorder under updater-run"
	assert_eq "$(ps -o pgid= -p "$CHILD" | tr -d ' ')" "$MAIN" "$mode: the child's process group"
}

got_count() {
	grep -c -x -- "$1" "$T/got" 2>/dev/null || true
}
got_at_least() {
	[[ $(got_count "$1") -ge $2 ]]
}
both_got() {
	[[ $(got_count "main $1") -ge 1 && $(got_count "child $1") -ge 1 ]]
}
assert_both_once() {
	assert_eq "$(got_count "main $1")" 1 "$2: signal $1 received by PROGRAM"
	assert_eq "$(got_count "child $1")" 1 "$2: signal $1 received by PROGRAM's child"
}
assert_none_got() {
	assert_eq "$(got_count "main $1")$(got_count "child $1")" 00 "$2: signal $1 reached PROGRAM's group"
}
state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	echo "${s%% *}"
}
is_stopped() {
	[[ $(state "$1") == T ]]
}
is_running() {
	local s
	s=$(state "$1") && [[ $s != T && $s != Z ]]
}
# ended MODE RC: updater-run (or unshare) ended with RC, and nothing of the
# tree survived it: PROGRAM and its child were gone before it exited.
ended() {
	wait_exit "$OUTER" 20
	assert_eq "$RC" "$2" "$1: exit status"
	proc_gone "$MAIN" || fail "$1: PROGRAM $MAIN outlived updater-run"
	proc_gone "$CHILD" || fail "$1: PROGRAM's child $CHILD outlived updater-run"
	assert_no_leftovers
}

FORWARDED="USR1 USR2 PIPE ALRM STKFLT URG XCPU XFSZ VTALRM PROF WINCH IO CONT"
for ((n = 34; n <= $(kill -l RTMAX); n++)); do
	FORWARDED+=" $n"
done
FATAL="SEGV BUS ILL FPE TRAP SYS ABRT"

# RUN_TEST_MODES="pid1" (or "sub") runs one mode only, for debugging.
read -r -a modes <<<"${RUN_TEST_MODES:-sub}"
if [[ -n ${RUN_TEST_MODES:-} ]]; then
	:
elif [[ $(id -u) -eq 0 ]] && unshare --pid --fork --mount-proc true 2>/dev/null; then
	modes+=(pid1)
else
	echo "note: the PID 1 cases are skipped (they need root and unshare)"
fi

for mode in "${modes[@]}"; do
	L=$T/log.$mode

	# 1. The forwarded signals, one after the other to one tree.
	start "$mode" "$L.1" --
	for sig in $FORWARDED; do
		n=$(kill -l "$sig" 2>/dev/null || echo "$sig")
		[[ $n == [0-9]* ]] || n=$sig
		kill -s "$sig" "$RUN_PID"
		wait_until 10 both_got "$n" ||
			fail "$mode: SIG$sig ($n) did not reach PROGRAM's group: $(tr '\n' ' ' <"$T/got")"
		is_running "$RUN_PID" || fail "$mode: updater-run is not running after SIG$sig"
	done
	for sig in $FORWARDED; do
		n=$(kill -l "$sig" 2>/dev/null || echo "$sig")
		[[ $n == [0-9]* ]] || n=$sig
		assert_both_once "$n" "$mode"
	done
	# SIGCHLD is updater-run's own business: a marker sent after it arrives
	# alone.
	kill -CHLD "$RUN_PID"
	kill -USR1 "$RUN_PID"
	wait_until 10 got_at_least "main 10" 2 || fail "$mode: the marker did not arrive: $(tr "\n" " " <"$T/got") $(cat "$L.1")"
	assert_none_got 17 "$mode: SIGCHLD"
	log_has "$L.1" "restarting" && fail "$mode: a forwarded signal restarted PROGRAM: $(cat "$L.1")"

	# 2. SIGSTOP stops updater-run alone; SIGCONT continues it (forwarded).
	: >"$T/got"
	kill -STOP "$RUN_PID"
	wait_until 10 is_stopped "$RUN_PID" || fail "$mode: SIGSTOP did not stop updater-run"
	is_running "$MAIN" || fail "$mode: SIGSTOP to updater-run stopped PROGRAM"
	kill -CONT "$RUN_PID"
	wait_until 10 both_got 18 || fail "$mode: SIGCONT after SIGSTOP did not reach PROGRAM's group"
	is_running "$RUN_PID" || fail "$mode: SIGCONT did not continue updater-run"

	# 3. Job control: PROGRAM's group stops (SIGSTOP: the recorder does not
	# get the signal itself), then updater-run; SIGCONT continues both.
	for sig in TSTP TTIN TTOU; do
		: >"$T/got"
		kill -"$sig" "$RUN_PID"
		wait_until 10 is_stopped "$MAIN" || fail "$mode: SIG$sig did not stop PROGRAM"
		wait_until 10 is_stopped "$CHILD" || fail "$mode: SIG$sig did not stop PROGRAM's child"
		if [[ $mode == sub ]]; then
			wait_until 10 is_stopped "$RUN_PID" || fail "$mode: SIG$sig did not stop updater-run"
		else
			sleep 0.2
			is_running "$RUN_PID" || fail "$mode: SIG$sig stopped updater-run as PID 1"
		fi
		kill -CONT "$RUN_PID"
		wait_until 10 both_got 18 || fail "$mode: SIGCONT after SIG$sig did not reach PROGRAM's group"
		wait_until 10 is_running "$MAIN" || fail "$mode: PROGRAM still stopped after SIGCONT"
		wait_until 10 is_running "$CHILD" || fail "$mode: PROGRAM's child still stopped after SIGCONT"
		is_running "$RUN_PID" || fail "$mode: updater-run still stopped after SIGCONT"
		assert_none_got "$(kill -l "$sig")" "$mode: SIG$sig"
	done

	# 4. The synchronous signals. As PID 1: ignored, to the same tree.
	if [[ $mode == pid1 ]]; then
		: >"$T/got"
		for sig in $FATAL; do
			kill -"$sig" "$RUN_PID"
		done
		kill -USR1 "$RUN_PID"
		wait_until 10 both_got 10 || fail "$mode: the marker did not arrive: $(tr "\n" " " <"$T/got") $(cat "$L.1")"
		for sig in $FATAL; do
			assert_none_got "$(kill -l "$sig")" "$mode: SIG$sig"
			log_has "$L.1" "SIG$sig from pid [0-9]+ ignored: updater-run is PID 1" ||
				fail "$mode: SIG$sig: not logged as ignored: $(cat "$L.1")"
		done
		is_running "$RUN_PID" || fail "$mode: updater-run does not run after the synchronous signals"
	fi
	# The end of this tree. As a subreaper: SIGTERM reaches the group (the
	# recorder carries on: killed by hand rather than after --grace 10).
	if [[ $mode == sub ]]; then
		kill -TERM "$RUN_PID"
		wait_until 10 both_got 15 || fail "$mode: SIGTERM did not reach PROGRAM's group"
		kill -KILL "$MAIN" "$CHILD"
		ended "$mode" 137
	else
		# 5. SIGKILL to PID 1: the kernel ends the whole namespace
		# (unshare reports it as 137, or as 1 where it fails to die of
		# the same signal itself).
		kill -KILL "$RUN_PID"
		wait_exit "$OUTER" 20
		[[ $RC == 137 || $RC == 1 ]] || fail "$mode: SIGKILL: exit status $RC"
		proc_gone "$MAIN" && proc_gone "$CHILD" || fail "$mode: SIGKILL: the tree outlived PID 1"
		assert_no_leftovers
	fi

	# 6. As a subreaper, a synchronous signal stops the tree first (the
	# recorder leaves at the stop signal), then kills updater-run.
	if [[ $mode == sub ]]; then
		for sig in $FATAL; do
			n=$(kill -l "$sig")
			start "$mode" "$L.6$sig" --grace 30 -- 15
			kill -"$sig" "$RUN_PID"
			ended "$mode: SIG$sig" $((128 + n))
			assert_both_once 15 "$mode: SIG$sig"
			assert_none_got "$n" "$mode: SIG$sig"
			log_has "$L.6$sig" "SIG$sig received from pid [0-9]+: stopping the tree, then ending with SIG$sig" ||
				fail "$mode: SIG$sig: nothing logged: $(cat "$L.6$sig")"
		done

		# 7. SIGKILL to a subreaper: PROGRAM itself goes with it (what it
		# started is left to the next reaper: killed here by hand).
		start "$mode" "$L.7" --
		cg=$(sed -n 's/^0:://p' "/proc/$MAIN/cgroup")
		kill -KILL "$RUN_PID"
		wait_exit "$OUTER" 10
		assert_eq "$RC" 137 "$mode: SIGKILL: exit status"
		wait_until 10 proc_gone "$MAIN" || fail "$mode: SIGKILL: PROGRAM outlived updater-run"
		kill -KILL "$CHILD" 2>/dev/null
		assert_no_leftovers
		# Nobody is left to remove the tree's cgroup, if it had one.
		cg_mnt=$(awk '$0 ~ / - cgroup2 / && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
		if [[ -n $cg_mnt && $cg == */updater-run.$RUN_PID.* ]]; then
			wait_until 5 rmdir "$cg_mnt$cg" 2>/dev/null
		fi
	fi

	# 8. SIGINT, SIGQUIT, SIGTERM: forwarded; PROGRAM leaves, and so does
	# updater-run, with PROGRAM's status.
	for sig in INT QUIT TERM; do
		n=$(kill -l "$sig")
		start "$mode" "$L.8$sig" --grace 30 -- "$n"
		kill -"$sig" "$RUN_PID"
		ended "$mode: SIG$sig" 0
		assert_both_once "$n" "$mode: SIG$sig"
	done

	# 9. SIGPWR stops the tree with the stop signal (SIGTERM, or USR2 here),
	# which PROGRAM gets instead of SIGPWR; the stop signal itself stops it
	# too.
	start "$mode" "$L.9" --grace 30 -- 15
	kill -PWR "$RUN_PID"
	ended "$mode: SIGPWR" 0
	assert_both_once 15 "$mode: SIGPWR"
	assert_none_got 30 "$mode: SIGPWR"
	start "$mode" "$L.9usr2" --grace 30 --stop-signal USR2 -- 12
	kill -PWR "$RUN_PID"
	ended "$mode: SIGPWR, --stop-signal USR2" 0
	assert_both_once 12 "$mode: SIGPWR, --stop-signal USR2"
	assert_none_got 30 "$mode: SIGPWR, --stop-signal USR2"
	start "$mode" "$L.9stop" --grace 30 --stop-signal USR2 -- 12
	kill -USR2 "$RUN_PID"
	ended "$mode: --stop-signal USR2 received" 0
	assert_both_once 12 "$mode: --stop-signal USR2 received"
	log_has "$L.9stop" "SIGUSR2 received: stopping" || fail "$mode: no stop logged: $(cat "$L.9stop")"

	# 10. Signals 32 and 33, which no glibc program can handle: forwarded,
	# they kill PROGRAM's group, and updater-run exits with 128+N.
	for n in 32 33; do
		start "$mode" "$L.10$n" --
		kill -"$n" "$RUN_PID"
		ended "$mode: signal $n" $((128 + n))
	done
done

pass
