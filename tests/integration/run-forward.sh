#!/bin/bash
# Signal forwarding: SIGUSR1, SIGUSR2, SIGWINCH, SIGINT, SIGQUIT and SIGTERM
# reach every process of PROGRAM's group, once each; SIGINT, SIGQUIT and
# SIGTERM also end updater-run: at once when PROGRAM dies of them, or by
# killing the tree after --grace when PROGRAM carries on. A synchronous
# signal (SIGSEGV) sent from outside is never forwarded: updater-run stops
# the tree, then dies of it.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP
# SIGQUIT and SIGSEGV dump core by default: not into the build tree.
ulimit -c 0

# PROGRAM records every signal it gets in $T/got ("main SIGINT") and carries
# on; so does a child it forked, which stays in its process group ("child
# SIGINT"). Each writes its PID once its handlers are in place.
cat >"$T/recorder" <<PY
#!$PY
import os, signal
role = "main"
out = os.open("$T/got", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
def record(sig, frame):
    os.write(out, ("%s %s\n" % (role, signal.Signals(sig).name)).encode())
for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1,
          signal.SIGUSR2, signal.SIGWINCH, signal.SIGSEGV):
    signal.signal(s, record)
if os.fork() == 0:
    role = "child"
def ready():
    with open("$T/%s.tmp" % role, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename("$T/%s.tmp" % role, "$T/%s.pid" % role)
ready()
while True:
    signal.pause()
PY
chmod 0755 "$T/recorder"

# start_recorder LOG ARGS...: updater-run ARGS -- recorder; sets MAIN, CHILD.
start_recorder() {
	local log=$1
	shift
	rm -f "$T/got" "$T"/*.pid
	start_run "$log" -v "$@" -- "$T/recorder"
	wait_until 10 test -s "$T/main.pid" -a -s "$T/child.pid" ||
		fail "the recorder did not start: $(cat "$log")"
	MAIN=$(cat "$T/main.pid")
	CHILD=$(cat "$T/child.pid")
	assert_eq "$(ps -o pgid= -p "$CHILD" | tr -d ' ')" "$MAIN" "the child's process group"
}

got_count() {
	grep -c -x -- "$1" "$T/got" 2>/dev/null || true
}
both_got() {
	[[ $(got_count "main $1") -ge 1 && $(got_count "child $1") -ge 1 ]]
}
# assert_both_once SIG: main and child each got SIG exactly once.
assert_both_once() {
	assert_eq "$(got_count "main $1")" 1 "$1 received by PROGRAM"
	assert_eq "$(got_count "child $1")" 1 "$1 received by PROGRAM's child"
}

# 1. SIGUSR1, SIGUSR2, SIGWINCH go to the group and change nothing else; then
# a SIGINT that PROGRAM survives: the tree is killed after --grace 1 (137).
start_recorder "$T/log1" --grace 1
for sig in USR1 USR2 WINCH; do
	kill -"$sig" "$RUN_PID"
	wait_until 10 both_got "SIG$sig" || fail "SIG$sig was not forwarded to the group: $(cat "$T/got")"
done
for sig in USR1 USR2 WINCH; do
	assert_both_once "SIG$sig"
done
proc_gone "$RUN_PID" && fail "updater-run ended after SIGUSR1/SIGUSR2/SIGWINCH"
log_has "$T/log1" "restarting" && fail "a forwarded signal restarted PROGRAM: $(cat "$T/log1")"

# terminate_ignored SIG LOG: SIG was just sent to an updater-run whose
# PROGRAM (and child) handle it and carry on.
terminate_ignored() {
	local sig=$1 log=$2 start=$3 elapsed_ms
	wait_until 10 both_got "SIG$sig" || fail "SIG$sig was not forwarded to the group: $(cat "$T/got")"
	wait_exit "$RUN_PID" 15
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	assert_eq "$RC" 137 "SIG$sig ignored: exit status (killed after the grace)"
	((elapsed_ms >= 900)) || fail "SIG$sig: the tree was killed after $elapsed_ms ms, before the 1 s grace"
	assert_both_once "SIG$sig"
	log_has "$log" "SIG$sig received: stopping" || fail "SIG$sig: no stop logged: $(cat "$log")"
	log_has "$log" "still runs 1 s after the stop request: killing the tree" ||
		fail "SIG$sig: no kill after the grace logged: $(cat "$log")"
	assert_no_leftovers
}
start=$(date +%s%N)
kill -INT "$RUN_PID"
terminate_ignored INT "$T/log1" "$start"

# 2. The same for SIGQUIT and SIGTERM, each on a fresh tree.
for sig in QUIT TERM; do
	start_recorder "$T/log2$sig" --grace 1
	start=$(date +%s%N)
	kill -"$sig" "$RUN_PID"
	terminate_ignored "$sig" "$T/log2$sig" "$start"
done

# 3. A PROGRAM that dies of the forwarded signal (sh, default actions):
# updater-run exits at once with 128+N, long before --grace 30.
for sig in INT QUIT; do
	start_run "$T/log3$sig" -v --grace 30 -- sh -c "echo \$\$ >'$T/sh.pid'; while :; do sleep 0.1; done"
	wait_until 10 test -s "$T/sh.pid" || fail "sh did not start"
	kill -"$sig" "$RUN_PID"
	wait_exit "$RUN_PID" 10
	assert_eq "$RC" $((128 + $(kill -l "$sig"))) "exit status after SIG$sig to sh"
	log_has "$T/log3$sig" "still runs" && fail "SIG$sig: the tree was killed instead: $(cat "$T/log3$sig")"
	rm -f "$T/sh.pid"
	assert_no_leftovers
done

# 4. SIGSEGV sent to updater-run (not PID 1) is never forwarded: the tree is
# stopped first (the stop signal, then SIGKILL after --grace 1 since the
# recorder carries on), and only then does updater-run die of SIGSEGV, so
# nothing is orphaned. (run-allsignals.sh does this for every signal.)
start_recorder "$T/log4" --grace 1
kill -SEGV "$RUN_PID"
wait_exit "$RUN_PID" 15
assert_eq "$RC" $((128 + 11)) "updater-run's status after SIGSEGV"
proc_gone "$MAIN" || fail "PROGRAM outlived updater-run"
proc_gone "$CHILD" || fail "PROGRAM's child outlived updater-run"
assert_both_once SIGTERM
assert_eq "$(got_count "main SIGSEGV")$(got_count "child SIGSEGV")" 00 "SIGSEGV forwarded"
log_has "$T/log4" "forwarding SIGSEGV" && fail "SIGSEGV forwarded: $(cat "$T/log4")"
log_has "$T/log4" "SIGSEGV received from pid [0-9]+: stopping the tree" ||
	fail "no stop logged: $(cat "$T/log4")"
assert_no_leftovers

pass
