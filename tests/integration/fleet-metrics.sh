#!/bin/bash
# metrics_file: and updaterctl metrics (SPEC 16): after an update, a manual
# rollback and a failed check, the file the daemon keeps (atomically: no
# temporary file left beside it) has the counters and labels SPEC 16 names,
# passes `promtool check metrics`, and says what `updaterctl metrics` says.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

PROMTOOL=$(command -v promtool) || skip "needs promtool (Debian package prometheus)"
pl_setup
M=$TEST_TMP/n1/metrics/updater.prom
fl_node 1 "metrics_file: $M"
mkdir -p "$TEST_TMP/n1/metrics"
fl_start 1
wait_until 5 test -f "$M" || fail "no metrics file at start"

# metrics_has ERE: the file has a line matching ERE (whole line).
metrics_has() {
	grep -qx -E -- "$1" "$M"
}

# promtool and updaterctl agree with the file (but for the request counters,
# which the metrics request itself moves).
metrics_valid() {
	local what=$1
	"$PROMTOOL" check metrics <"$M" >"$TEST_TMP/promtool.out" 2>&1 ||
		fail "$what: promtool check metrics: $(cat "$TEST_TMP/promtool.out")"
	fl_ctl 1 metrics >"$TEST_TMP/ctl.prom" || fail "$what: updaterctl metrics failed"
	diff <(grep -v '^updater_requests_total' "$M") <(grep -v '^updater_requests_total' "$TEST_TMP/ctl.prom") >&2 ||
		fail "$what: updaterctl metrics and the file differ"
	[[ -z $(find "$(dirname "$M")" -mindepth 1 ! -name updater.prom) ]] ||
		fail "$what: something beside the metrics file: $(ls -a "$(dirname "$M")")"
}

pl_publish 1.0
fl_check 1
size=$(stat -c %s "$REL/hello-1.0")
wait_until 5 metrics_has 'updater_target_info\{target="hello",version="1\.0"\} 1' ||
	fail "after the update: no target_info for 1.0: $(cat "$M")"
metrics_has 'updater_updates_total\{target="hello"\} 1' || fail "updates_total after one update"
metrics_has "updater_download_bytes_total\\{target=\"hello\"\\} $size" || fail "download_bytes_total"
metrics_has 'updater_last_check_timestamp_seconds [0-9]{10}' || fail "last_check_timestamp"
metrics_has 'updater_last_success_timestamp_seconds\{target="hello"\} [0-9]{10}' || fail "last_success_timestamp"
metrics_has 'updater_check_failures_total\{target="hello"\} 0' || fail "check_failures_total"
metrics_has 'updater_stale_processes\{target="hello"\} [0-9]+' || fail "stale_processes"
metrics_has 'updater_requests_total\{result="accepted"\} [0-9]+' || fail "requests_total"
metrics_valid "after an update"

pl_publish 2.0
fl_check 1
fl_ctl 1 rollback hello >/dev/null || fail "rollback failed"
wait_until 5 metrics_has 'updater_rollbacks_total\{target="hello",reason="manual"\} 1' ||
	fail "after the rollback: $(cat "$M")"
metrics_has 'updater_rollbacks_total\{target="hello",reason="health"\} 0' || fail "rollbacks_total health"
metrics_has 'updater_target_info\{target="hello",version="1\.0"\} 1' || fail "target_info after the rollback"
metrics_has 'updater_updates_total\{target="hello"\} 2' || fail "updates_total after two updates"
metrics_valid "after a rollback"

rm -f "$REPO/manifest" "$REPO/manifest.minisig"
fl_check 1
((FL_RC != 0)) || fail "a check without a manifest did not fail"
wait_until 5 metrics_has 'updater_check_failures_total\{target="hello"\} 1' ||
	fail "after a failed check: $(cat "$M")"
metrics_valid "after a failed check"

# A pending version has its time.
start=$(date -u +%s)
pl_publish 3.0 --rollout-duration 1000d --rollout-start "@$start"
fl_check 1
wait_until 5 metrics_has 'updater_pending_timestamp_seconds\{target="hello",version="3\.0"\} [0-9]{10}' ||
	fail "no pending timestamp: $(cat "$M")"
metrics_valid "with a version pending"
pass
