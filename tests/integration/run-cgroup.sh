#!/bin/bash
# The tree's cgroup, as strace sees updater-run use it:
#   1. each start is born in the cgroup (clone3 with CLONE_INTO_CGROUP), so
#      nobody writes to cgroup.procs, and no moved process waits for an RCU
#      grace period;
#   2. a stop (a SIGHUP restart, the end) signals the tree through the
#      cgroup's member list, in one pass, and the kill after --grace is one
#      write to cgroup.kill: /proc is never walked (its cost grew with every
#      process on the machine);
#      a cgroup so killed is replaced before the next start (Linux kills
#      what is born in a cgroup that was killed);
#   3. where clone3 is refused (ENOSYS injected), the child moves itself into
#      the cgroup before exec, and the tree is still all there and stopped.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
require_root
require_cmd strace
new_tmpdir
T=$TEST_TMP

CG_OWN=$(sed -n 's/^0:://p' /proc/self/cgroup)
CG_MNT=$(awk '$0 ~ / - cgroup2 / && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
cgroup_of() {
	sed -n 's/^0:://p' "/proc/$1/cgroup"
}
cgroup_writable() {
	local probe ok=1
	[[ -n $CG_MNT && $CG_OWN == /* ]] || return 1
	probe=$CG_MNT${CG_OWN%/}/updater-test-probe.$$
	mkdir "$probe" 2>/dev/null || return 1
	[[ -e $probe/cgroup.kill ]] && sh -c "echo \$\$ >'$probe/cgroup.procs'" 2>/dev/null && ok=0
	wait_until 5 rmdir "$probe" 2>/dev/null
	return $ok
}
cgroup_writable || skip "cgroup v2 is not writable here"
# strace must be able to decode clone3 (strace 5.5 or later).
strace -f -o /dev/null -e trace=clone3 true 2>/dev/null || skip "strace cannot trace clone3"

# PROGRAM ignores SIGTERM and starts a grandchild that leaves its group and
# session (setsid) and ignores SIGTERM too: only SIGKILL ends them.
cat >"$T/stubborn" <<SH
#!/bin/sh
trap '' TERM
n=\$(cat "$T/count" 2>/dev/null || echo 0)
n=\$((n + 1))
echo \$n >"$T/count"
setsid sh -c 'trap "" TERM; echo \$\$ >"$T/gc.\$1.tmp"; mv "$T/gc.\$1.tmp" "$T/gc.\$1"; while :; do sleep 0.1; done' sh \$n &
while :; do sleep 0.1; done
SH
chmod 0755 "$T/stubborn"

# run_traced CASE STRACE_ARGS...: updater-run --grace 1 -- stubborn under
# strace, one SIGHUP restart, then SIGTERM; the trace in $T/trace.CASE.
run_traced() {
	local c=$1 tracer run prog gc1 cg
	shift
	rm -f "$T/count" "$T"/gc.*
	# LeakSanitizer cannot run under ptrace (a sanitized build would exit 1).
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -o "$T/trace.$c" "$@" "$RUN" -v --grace 1 -- "$T/stubborn" >>"$T/log.$c" 2>&1 &
	tracer=$!
	track_pid "$tracer"
	wait_until 20 test -s "$T/gc.1" || fail "$c: the program did not start: $(cat "$T/log.$c")"
	run=$(pgrep -P "$tracer" -f -- "$RUN")
	[[ -n $run ]] || fail "$c: no updater-run under strace"
	track_pid "$run"
	_run_pids+=("$run")
	prog=$(pgrep -P "$run")
	gc1=$(cat "$T/gc.1")
	cg=$(cgroup_of "$prog")
	[[ $cg =~ ^"${CG_OWN%/}"/updater-run\.$run\.[0-9a-f]{8}$ ]] ||
		fail "$c: PROGRAM runs in cgroup '$cg', not one of updater-run's own"
	assert_eq "$(cgroup_of "$gc1")" "$cg" "$c: the setsid grandchild's cgroup"
	kill -HUP "$run"
	wait_until 30 test -s "$T/gc.2" || fail "$c: no restart after SIGHUP (run $run, prog $prog): $(cat "$T/log.$c"; ps -o pid,ppid,stat,args --ppid "$run" -p "$run")"
	proc_gone "$gc1" || fail "$c: the grandchild of generation 1 survived the restart"
	# The stop ended in cgroup.kill (the grace ran out): the next generation
	# has a fresh cgroup, since a killed one kills what is born in it.
	cg2=$(cgroup_of "$(cat "$T/gc.2")")
	[[ $cg2 =~ ^"${CG_OWN%/}"/updater-run\.$run\.[0-9a-f]{8}$ ]] ||
		fail "$c: generation 2 runs in cgroup '$cg2', not one of updater-run's own"
	assert_eq "$(cgroup_of "$(pgrep -P "$run")")" "$cg2" "$c: generation 2's PROGRAM and grandchild"
	if [[ $c == born ]]; then
		[[ $cg2 != "$cg" ]] || fail "$c: generation 2 was born in the killed cgroup"
		[[ -e $CG_MNT$cg ]] && fail "$c: the killed cgroup '$CG_MNT$cg' is left behind"
	fi
	cg=$cg2
	kill -TERM "$run"
	wait_exit "$tracer" 30
	assert_eq "$RC" 137 "$c: exit status (killed after the grace)"
	[[ -e $CG_MNT$cg ]] && fail "$c: the cgroup '$CG_MNT$cg' is left behind"
	assert_no_leftovers
}

# 1 and 2: the usual way.
run_traced born
tr=$T/trace.born
grep -q 'clone3({flags=CLONE_INTO_CGROUP' "$tr" || fail "no start born in the cgroup: $(grep -E 'clone|fork' "$tr")"
grep -E 'cgroup\.procs' "$tr" | grep -q -E 'O_WRONLY|O_RDWR' &&
	grep -q -E '^[0-9]+ +write\([0-9]+, "0", 1\)' "$tr" &&
	fail "a start moved itself into the cgroup: $(grep -E 'write\([0-9]+, "0", 1\)' "$tr")"
grep -q -E "openat\(AT_FDCWD, \"/proc\", .*O_DIRECTORY" "$tr" &&
	fail "a stop walked /proc: $(grep -E '"/proc"' "$tr" | head -3)"
grep -q -E '"/proc/[0-9]+/stat"' "$tr" && fail "a stop read /proc/PID/stat: $(grep -E '"/proc/[0-9]+/stat"' "$tr" | head -3)"
grep -q -E 'openat\([0-9]+, "cgroup\.procs", O_RDONLY' "$tr" || fail "the stop did not read the cgroup's members"
grep -q -E 'openat\([0-9]+, "cgroup\.kill", O_WRONLY' "$tr" || fail "the kill after the grace did not use cgroup.kill"

# 3. clone3 refused.
run_traced refused -e inject=clone3:error=ENOSYS
log_has "$T/log.refused" "clone3\\(CLONE_INTO_CGROUP\\) refused" || fail "the fallback was not logged: $(cat "$T/log.refused")"
grep -q -E 'write\([0-9]+, "0", 1\) += 1' "$T/trace.refused" || fail "no start moved itself into the cgroup"

pass
