#!/bin/bash
# --restart: no (the default) exits with PROGRAM; on-failure starts it again
# after a failure, waiting 1 s, then 2 s...; always starts it again after any
# exit; a SIGTERM during the wait ends updater-run at once.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP

# The program counts its starts and fails (exit 1) until the third one.
cat >"$T/flaky" <<SH
#!/bin/sh
n=\$(cat "$T/count" 2>/dev/null || echo 0)
n=\$((n + 1))
echo \$n >"$T/count"
[ \$n -ge 3 ] && exit 0
exit 1
SH
chmod 0755 "$T/flaky"

# no: one start, PROGRAM's status.
start_run "$T/log1" -- "$T/flaky"
wait_exit "$RUN_PID" 10
assert_eq "$RC" 1 "--restart no: exit status"
assert_eq "$(cat "$T/count")" 1 "--restart no: starts"

# on-failure: starts until it succeeds, with 1 s then 2 s between them.
rm -f "$T/count"
TEST_LOG=$T/log2
start=$(date +%s%N)
start_run "$T/log2" --restart on-failure -- "$T/flaky"
wait_exit "$RUN_PID" 30
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "$RC" 0 "--restart on-failure: exit status"
assert_eq "$(cat "$T/count")" 3 "--restart on-failure: starts"
log_has "$T/log2" "again in 1 s" || fail "no 1 s backoff"
log_has "$T/log2" "again in 2 s" || fail "no 2 s backoff"
((elapsed_ms >= 2900)) || fail "three starts in $elapsed_ms ms: the backoff was not waited"

# always: starts again after a success too; SIGTERM in the wait ends it with
# the last status.
rm -f "$T/count"
TEST_LOG=$T/log3
start_run "$T/log3" --restart always -- sh -c "echo x >>'$T/always'; exit 0"
wait_until 10 log_has "$T/log3" "again in 2 s" || fail "--restart always: no second backoff"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 5
assert_eq "$RC" 0 "--restart always: exit status after SIGTERM in the backoff"
assert_eq "$(wc -l <"$T/always")" 2 "--restart always: starts"

# SIGHUP during the backoff starts PROGRAM at once.
TEST_LOG=$T/log4
start_run "$T/log4" -v --restart always -- sh -c "echo x >>'$T/hup'; exit 4"
wait_until 10 log_has "$T/log4" "again in 2 s" || fail "no second backoff"
kill -HUP "$RUN_PID"
hup_starts() {
	(($(wc -l <"$T/hup") >= 3))
}
wait_until 3 hup_starts || fail "no start right after SIGHUP in the backoff"
assert_eq "$(wc -l <"$T/hup")" 3 "starts after SIGHUP in the backoff"
log_has "$T/log4" "starting '.*' now: SIGHUP" || fail "no immediate start logged"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 5
assert_eq "$RC" 4 "exit status: the last one of PROGRAM"

assert_no_leftovers
pass
