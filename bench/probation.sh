#!/bin/bash
# bench/probation.sh - how long a bad release stays in place: the time from
# its swap to the old version answering again, against health.timeout.
#
#   bench/probation.sh [BUILDDIR] [RUNS] [TIMEOUTS...]   (build 3 "3 6")
#
# The real updaterd, scripts and tests/probation-server builds (as in
# tests/integration/probation-gate.sh): version 1.0 runs under a supervisor
# loop (a restart every 0.2 s, as Restart=always would); a release 2.0 that
# exits at start is published and checked; the daemon's signal: SIGTERM
# stops 1.0, the health command (a TCP client asking for the version, every
# interval: 1 s) never sees 2.0, and at health.timeout the daemon rolls back.
# Printed per timeout: swap -> "rolledback" notification, and swap -> the
# first answer of 1.0 again (polled every 10 ms), each as median and max
# over RUNS, and the excess over the timeout. Goal: rolled back within
# timeout + interval; answering again shortly after (one supervisor restart).
# Needs root (the scripts run as nobody).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILDDIR=$(cd "${1:-$here/build}" && pwd)
RUNS=${2:-3}
shift 2 2>/dev/null || shift $#
TIMEOUTS=("$@")
((${#TIMEOUTS[@]})) || TIMEOUTS=(3 6)
SRCDIR=$here
export BUILDDIR SRCDIR
. "$here/tests/integration/lib.sh"
. "$here/tests/integration/daemon-lib.sh"
. "$here/tests/integration/probation-lib.sh"
TEST_NAME=bench-probation
not_answers() { ! answers "$1"; }

results=()
for timeout in "${TIMEOUTS[@]}"; do
	probation_setup \
		"    signal: SIGTERM" \
		"    health:" \
		"      command: [@TMP@/scripts/health]" \
		"      expect_version: true" \
		"      timeout: ${timeout}s" \
		"      interval: 1s"
	supervise
	wait_until 10 answers 1.0 || fail "the 1.0 server does not answer"
	start_updaterd "$CONFIG"
	subscribe "$TEST_TMP/sub.out"
	request x >/dev/null
	wait_until 10 daemon_idle || fail "the first round did not end"
	: >"$TEST_TMP/samples"
	for ((run = 1; run <= RUNS; run++)); do
		publish "2.$run" bad
		sleep 1.1 # past min_interval
		request x >/dev/null
		wait_until 10 has_note "$TEST_TMP/sub.out" "updated hello 2\\.$run" || fail "2.$run was not installed"
		# 1.0 is gone once the supervisor restarted into 2.x; then wait for it again.
		wait_until 10 not_answers 1.0 || true
		wait_until $((timeout + 15)) answers 1.0 || fail "1.0 never answered again"
		t_answer=$($PY -c 'import time; print("%.3f" % time.monotonic())')
		wait_until 5 has_note "$TEST_TMP/sub.out" 'rolledback hello 1\.0 health' || fail "no rollback notification"
		t_up=$(note_time "$TEST_TMP/sub.out" "updated hello 2\\.$run")
		t_back=$(grep -E '^[0-9.]+ rolledback hello 1\.0 health$' "$TEST_TMP/sub.out" | tail -n 1 | cut -d' ' -f1)
		echo "$t_up $t_back $t_answer" >>"$TEST_TMP/samples"
		# The next run needs a newer release than the quarantined 2.x.
		sleep 1
	done
	results+=("$timeout $($PY - "$TEST_TMP/samples" <<'PYEOF'
import statistics, sys
rb, ans = [], []
for line in open(sys.argv[1]):
    up, back, answer = map(float, line.split())
    rb.append(back - up)
    ans.append(answer - up)
print("%.2f %.2f %.2f %.2f" % (statistics.median(rb), max(rb), statistics.median(ans), max(ans)))
PYEOF
)")
	kill -TERM "$UPDATERD_PID"
	wait "$UPDATERD_PID" 2>/dev/null
	for p in "${_supervisors[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	_supervisors=()
	rm -rf "$TEST_TMP"
	TEST_LOG=
done

echo "probation: a release that exits at start, health.interval 1 s, $RUNS runs per timeout"
printf '%-10s %14s %14s %16s %16s %s\n' "timeout" "rollback med" "rollback max" "old answers med" "old answers max" "goal (rollback <= timeout + interval)"
for r in "${results[@]}"; do
	read -r t rbm rbx am ax <<<"$r"
	printf '%-10s %12s s %12s s %14s s %14s s %s\n' "${t} s" "$rbm" "$rbx" "$am" "$ax" \
		"$(awk -v x="$rbx" -v t="$t" 'BEGIN { print (x <= t + 1 ? "met" : "NOT met") }')"
done
