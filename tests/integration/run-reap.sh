#!/bin/bash
# Every orphan that ends under updater-run is reaped: 200 background
# processes left behind by PROGRAM leave no zombie, whether updater-run is a
# child subreaper or PID 1 of a new PID namespace.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP

# The program: orphan 200 processes (their parent exits at once, so each
# "sleep" is reparented to the reaper, PROGRAM's parent), note how many the
# reaper adopted, kill them, wait until none is left, then count the zombies
# of the reaper.
cat >"$T/orphans" <<'SH'
#!/bin/sh
out=$1
reaper=$PPID
# "PID STATE PPID" of every process, one a line: one cat for all of /proc
# (a process that ends meanwhile is skipped), so counting stays cheap.
procs() {
	cat /proc/[0-9]*/stat 2>/dev/null | sed -n 's/^\([0-9]*\) .*) \(.\) \([0-9]*\) .*/\1 \2 \3/p'
}
# The reaper's children but this shell, zombies included.
children() {
	procs | grep -v "^$$ " | grep -c " $reaper\$"
}
zombies() {
	procs | grep -c " Z $reaper\$"
}
# SIGTERM to each live child of the reaper but this shell (one may not have
# become "sleep" yet, so not by name).
kill_children() {
	for p in $(procs | awk -v r="$reaper" -v me=$$ '$3 == r && $1 != me && $2 != "Z" { print $1 }'); do
		kill -TERM "$p" 2>/dev/null
	done
}
# One process forks the 200 and exits: cheaper than 200 subshells, which
# matters on a loaded machine.
/usr/bin/python3 -c '
import os
for _ in range(200):
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "120"])
'
# All of them are the reaper's children once their subshells are gone.
tries=0
while [ "$(children)" -lt 200 ] && [ $tries -lt 600 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
echo "adopted $(children)" >"$out"
# End them all at once, then wait (at most 30 s) until none is left: a
# zombie never goes.
kill_children
tries=0
while [ "$(children)" -gt 0 ] && [ $tries -lt 300 ]; do
	sleep 0.1
	kill_children
	tries=$((tries + 1))
done
echo "reaper $reaper" >>"$out"
echo "zombies $(zombies)" >>"$out"
SH
chmod 0755 "$T/orphans"

check_result() {
	local what=$1 out=$2 adopted zombies
	[[ -f $out ]] || fail "$what: the program wrote no result"
	adopted=$(sed -n 's/^adopted //p' "$out")
	zombies=$(sed -n 's/^zombies //p' "$out")
	# Every sleep was adopted by the reaper: proof that the test exercises
	# the reaper at all.
	assert_eq "$adopted" 200 "$what: orphans reparented to updater-run"
	assert_eq "$zombies" 0 "$what: zombies left under updater-run"
}

# 1. A child subreaper (not PID 1).
start_run "$T/log1" -- "$T/orphans" "$T/out1"
wait_exit "$RUN_PID" 120
assert_eq "$RC" 0 "subreaper: exit status"
check_result subreaper "$T/out1"
[[ $(sed -n 's/^reaper //p' "$T/out1") != 1 ]] || fail "subreaper: updater-run was PID 1"

# 2. PID 1 of a new PID namespace (needs root for unshare).
if [[ $(id -u) -eq 0 ]] && unshare --pid --fork --mount-proc true 2>/dev/null; then
	unshare --pid --fork --mount-proc "$RUN" -- "$T/orphans" "$T/out2" >>"$T/log2" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_exit "$pid" 120
	assert_eq "$RC" 0 "PID 1: exit status"
	check_result "PID 1" "$T/out2"
	assert_eq "$(sed -n 's/^reaper //p' "$T/out2")" 1 "PID 1: updater-run's PID in the namespace"
else
	echo "note: PID namespace case skipped (needs root and unshare)"
fi

assert_no_leftovers
pass
