#!/bin/bash
# Attack (issue 9, finding 10): `signal:` after a swap checked /proc/PID/exe,
# then signalled the PID by number. If the process exits in between and its
# PID is reused, the signal hits an unrelated process. Now (SPEC 14) the
# daemon holds a pidfd, checks /proc/PID/exe again, and signals through the
# pidfd: a process that is gone is never confused with a newcomer.
#
# The race is made certain, not hoped for: strace delays the daemon's
# signalling system call (kill or pidfd_send_signal) by 3 s; meanwhile the
# process running the old file is killed, and a bystander is started with
# its PID (through /proc/sys/kernel/ns_last_pid). The bystander must live.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

require_cmd strace
pl_setup
[[ -w /proc/sys/kernel/ns_last_pid ]] || skip "needs a writable /proc/sys/kernel/ns_last_pid"
PL_TARGET_LINES="    signal: SIGUSR2"
pl_config
pl_publish 1.0
install -m 0755 "$REL/hello-1.0" "$TARGET"
pl_start
pl_check
assert_eq "$(pl_version)" 1.0 "version learnt"

"$TARGET" 600 &
old=$!
track_pid $old
strace -qq -f -p "$UPDATERD_PID" -o "$TEST_TMP/strace.log" \
	-e trace=kill,pidfd_send_signal -e inject=kill,pidfd_send_signal:delay_enter=3000000 &
tracer=$!
track_pid $tracer
# strace is attached once the daemon shows a tracer.
attached() { [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$UPDATERD_PID/status") != 0 ]]; }
wait_until 10 attached || fail "strace did not attach to updaterd"

pl_publish 2.0
pl_mark
"$UPDATERCTL" --socket "$SOCK" check >/dev/null || fail "check request failed"
wait_until 20 pl_log_has "updated hello to 2\.0" || fail "2.0 was not installed"

# The daemon now sits in its delayed signal call. The old process goes, and
# a bystander takes its PID.
kill -KILL $old
wait $old 2>/dev/null
bystander=
for _ in $(seq 200); do
	echo $((old - 1)) >/proc/sys/kernel/ns_last_pid
	sleep 600 &
	if (($! == old)); then
		bystander=$!
		break
	fi
	kill -KILL $! 2>/dev/null
	wait $! 2>/dev/null
done
[[ -n $bystander ]] || skip "could not start a process with PID $old (a busy machine took it first)"
track_pid $bystander

# Past the 3 s delay: the signal call has returned, and the round is over.
wait_until 20 pl_log_has "check: updated hello to 2\.0" || fail "the round did not end"
grep -qE '(kill|pidfd_send_signal)\(' "$TEST_TMP/strace.log" || fail "strace saw no signal call: $(cat "$TEST_TMP/strace.log")"
sleep 0.5
if pl_exited $bystander; then
	wait $bystander
	fail "the bystander that reused PID $old was killed (exit status $?): the signal went by number"
fi
kill -TERM $tracer 2>/dev/null
pl_stop
pass
