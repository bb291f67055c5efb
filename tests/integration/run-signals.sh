#!/bin/bash
# Signals: SIGTERM is forwarded to PROGRAM's group and a program that ignores
# it is killed after --grace; SIGUSR1 is forwarded; SIGHUP stops the whole
# tree, a grandchild that left the group with setsid included, and starts
# PROGRAM again. Where cgroup v2 is writable, the tree runs in a cgroup of
# updater-run's own, removed when it exits; with --no-cgroup, in ours.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP

# 1. SIGTERM reaches PROGRAM, which traps it and exits 0: so does updater-run.
cat >"$T/polite" <<SH
#!/bin/sh
trap 'echo term >"$T/got-term"; exit 0' TERM
trap 'echo usr1 >>"$T/got-usr1"' USR1
echo \$\$ >"$T/polite.pid"
while :; do sleep 0.1; done
SH
chmod 0755 "$T/polite"
start_run "$T/log1" -v --grace 30 -- "$T/polite"
wait_until 10 test -s "$T/polite.pid" || fail "the program did not start"
kill -USR1 "$RUN_PID"
wait_until 10 test -s "$T/got-usr1" || fail "SIGUSR1 was not forwarded"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 10
assert_eq "$RC" 0 "exit status after a forwarded SIGTERM"
assert_eq "$(cat "$T/got-term" 2>/dev/null)" term "the program's SIGTERM trap"
assert_no_leftovers

# 2. A program that ignores SIGTERM is killed, with its whole tree, after
# --grace 1: 137 (SIGKILL), and not much later than the grace.
cat >"$T/stubborn" <<SH
#!/bin/sh
trap '' TERM
setsid sh -c 'trap "" TERM; while :; do sleep 0.1; done # $T' &
echo \$\$ >"$T/stubborn.pid"
while :; do sleep 0.1; done
SH
chmod 0755 "$T/stubborn"
start_run "$T/log2" -v --grace 1 -- "$T/stubborn"
wait_until 10 test -s "$T/stubborn.pid" || fail "the stubborn program did not start"
sleep 0.2
start=$(date +%s%N)
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 15
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "$RC" 137 "exit status of a program killed after the grace"
((elapsed_ms >= 900)) || fail "killed after $elapsed_ms ms, before the 1 s grace"
log_has "$T/log2" "still runs 1 s after" || fail "no log line about the kill: $(cat "$T/log2")"
assert_no_leftovers

# 3. SIGHUP: the tree is stopped (the setsid grandchild too, by the stop
# signal: --grace 60 would make a SIGKILL come much too late) and PROGRAM
# starts again. Once with a cgroup when there can be one, once without.

# Our own cgroup v2 path ("0::/path" in /proc/self/cgroup) and where the
# cgroup2 file system is mounted (/sys/fs/cgroup, or .../unified on hybrid
# systems); CG_MNT stays empty when there is none whose root is "/".
CG_OWN=$(sed -n 's/^0:://p' /proc/self/cgroup)
CG_MNT=$(awk '$0 ~ / - cgroup2 / && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
# cgroup_of PID: its cgroup v2 path.
cgroup_of() {
	sed -n 's/^0:://p' "/proc/$1/cgroup"
}
# Whether updater-run can have a cgroup of its own here: a child of our
# cgroup can be made, has cgroup.kill (Linux 5.14), and takes a process.
cgroup_writable() {
	local probe ok=1
	[[ -n $CG_MNT && $CG_OWN == /* ]] || return 1
	probe=$CG_MNT${CG_OWN%/}/updater-test-probe.$$
	mkdir "$probe" 2>/dev/null || return 1
	[[ -e $probe/cgroup.kill ]] && sh -c "echo \$\$ >'$probe/cgroup.procs'" 2>/dev/null && ok=0
	wait_until 5 rmdir "$probe" 2>/dev/null
	return $ok
}
if cgroup_writable; then
	have_cgroup=yes
else
	have_cgroup=no
	echo "note: cgroup v2 is not writable here: the tree's cgroup is not checked"
fi
cat >"$T/counter" <<SH
#!/bin/sh
n=\$(cat "$T/count" 2>/dev/null || echo 0)
n=\$((n + 1))
setsid sh -c 'echo \$\$ >"$T/gc.\$1.tmp"; mv "$T/gc.\$1.tmp" "$T/gc.\$1"; while :; do sleep 0.1; done' sh \$n &
echo \$n >"$T/count"
while :; do sleep 0.1; done
SH
chmod 0755 "$T/counter"
for mode in default --no-cgroup; do
	rm -f "$T/count" "$T"/gc.*
	args=(-v --grace 60)
	[[ $mode == default ]] || args+=("$mode")
	start_run "$T/log3$mode" "${args[@]}" -- "$T/counter"
	wait_until 10 test -s "$T/gc.1" || fail "$mode: the program did not start its grandchild"
	gc1=$(cat "$T/gc.1")
	[[ $(cut -d' ' -f6 "/proc/$gc1/stat") == "$gc1" ]] || fail "$mode: the grandchild did not setsid"
	prog=$(pgrep -P "$RUN_PID")
	cg=$(cgroup_of "$prog")
	if [[ $mode == --no-cgroup ]]; then
		assert_eq "$cg" "$CG_OWN" "$mode: the program's cgroup"
	elif [[ $have_cgroup == yes ]]; then
		[[ $cg =~ ^"${CG_OWN%/}"/updater-run\.$RUN_PID\.[0-9a-f]{8}$ ]] ||
			fail "the program runs in cgroup '$cg', not one of updater-run's own under '$CG_OWN'"
		[[ -d $CG_MNT$cg ]] || fail "no cgroup directory '$CG_MNT$cg'"
		log_has "$T/log3$mode" "the tree runs in cgroup '$CG_MNT$cg'" || fail "the cgroup was not logged"
		assert_eq "$(cgroup_of "$gc1")" "$cg" "the setsid grandchild's cgroup"
		assert_eq "$(cgroup_of "$RUN_PID")" "$CG_OWN" "updater-run's own cgroup"
	fi
	kill -HUP "$RUN_PID"
	wait_until 20 test -s "$T/gc.2" || fail "$mode: no restart after SIGHUP: $(cat "$T/log3$mode")"
	assert_eq "$(cat "$T/count")" 2 "$mode: starts"
	proc_gone "$gc1" || fail "$mode: the setsid grandchild $gc1 survived the restart"
	log_has "$T/log3$mode" "generation 2 of '$T/counter' started .*replacing generation 1 \\(SIGHUP\\)" ||
		fail "$mode: no restart logged: $(cat "$T/log3$mode")"
	assert_eq "$(zombies_of "$RUN_PID")" 0 "$mode: zombies under updater-run"
	# The next generation, in the same cgroup (or, again, in ours).
	assert_eq "$(cgroup_of "$(cat "$T/gc.2")")" "$cg" "$mode: the cgroup of generation 2's grandchild"
	kill -TERM "$RUN_PID"
	wait_exit "$RUN_PID" 20
	assert_eq "$RC" 143 "$mode: exit status (sh killed by SIGTERM)"
	if [[ $mode == default && $have_cgroup == yes ]]; then
		[[ -e $CG_MNT$cg ]] && fail "the cgroup '$CG_MNT$cg' is left after updater-run exited"
	fi
	assert_no_leftovers
done

# 4. The same as PID 1 of a PID namespace, where kill(-1) reaches the tree and
# signals from outside the namespace must still arrive (they are blocked and
# read, never left at their default, which PID 1 would ignore).
if [[ $(id -u) -eq 0 ]] && unshare --pid --fork --mount-proc true 2>/dev/null; then
	rm -f "$T/count" "$T"/gc.*
	gcs() {
		pgrep -f -- "$T/gc" | wc -l
	}
	one_gc() {
		[[ $(gcs) == 1 ]]
	}
	unshare --pid --fork --mount-proc "$RUN" -v --grace 60 -- "$T/counter" >>"$T/log4" 2>&1 &
	ns=$!
	track_pid "$ns"
	wait_until 10 test -s "$T/gc.1" || fail "PID 1: the program did not start"
	run1=$(pgrep -P "$ns")
	[[ -n $run1 ]] || fail "PID 1: no updater-run under unshare"
	track_pid "$run1"
	assert_eq "$(gcs)" 1 "PID 1: grandchildren"
	kill -HUP "$run1"
	wait_until 20 test -s "$T/gc.2" || fail "PID 1: no restart after SIGHUP: $(cat "$T/log4")"
	wait_until 5 one_gc
	assert_eq "$(gcs)" 1 "PID 1: grandchildren after the restart (the old one must be gone)"
	kill -TERM "$run1"
	wait_exit "$ns" 20
	assert_eq "$RC" 143 "PID 1: exit status (sh killed by SIGTERM)"
	assert_no_leftovers
else
	echo "note: PID 1 case skipped (needs root and unshare)"
fi

pass
