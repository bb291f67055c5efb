#!/bin/bash
# Resumable downloads (SPEC 17), with the real daemon, the default scripts
# and a server that drops the connection at a random byte:
# - the next check goes on from that byte (UPDATER_OFFSET, a Range request):
#   the bytes sent in all are the file's size plus at most one slice;
# - the same when the daemon was restarted in between (the partial file is
#   in the state, and start-up keeps it);
# - a server that ignores Range still ends in the right file;
# - a partial file of another version is deleted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/transfer-lib.sh"

SIZE=$((8 * 1024 * 1024))
SLICE=65536

SOURCE=placeholder
pl_setup
tr_start_server
SOURCE=http://127.0.0.1:$PORT/repo
pl_config
pl_start

staging_files() {
	find "$BIN" -maxdepth 1 -name '.hello.updater-??????' -printf '%f\n'
}

# cut_download VERSION: publish VERSION; its download is cut at a random
# byte; the check fails and keeps what arrived. Sets CUT.
cut_download() {
	local v=$1 kept
	tr_release "$v" "$SIZE"
	pl_publish "$v"
	CUT=$(shuf -i 1000-$((SIZE - 1000)) -n 1)
	echo "$CUT" >"$CTL/cut-hello-$v"
	pl_mark
	pl_check
	assert_eq "$PL_RC" 1 "$v: the cut download fails the check ($PL_OUT)"
	pl_log_has "hello: keeping the [0-9]+ of $SIZE bytes of $v that arrived" ||
		fail "$v: the partial download was not kept"
	assert_eq "$(tr_state partial_version)" "$v" "$v: partial_version in the state"
	assert_eq "$(tr_state partial_size)" "$SIZE" "$v: partial_size in the state"
	KEPT=$(tr_state partial_bytes)
	((KEPT > 0 && KEPT <= CUT)) || fail "$v: $KEPT bytes kept of $CUT sent"
	kept=$(staging_files)
	[[ -n $kept && $kept == "$(tr_state partial_name)" ]] || fail "$v: staging files '$kept', state names '$(tr_state partial_name)'"
	assert_eq "$(stat -c %s "$BIN/$kept")" "$KEPT" "$v: size of the kept file"
}

# resumed VERSION: the next check resumed at the kept byte and installed VERSION.
resumed() {
	local v=$1 sent
	pl_mark
	pl_check
	assert_eq "$PL_RC" 0 "$v: the check after the cut ($PL_OUT)"
	tr_installed "$v" "$v resumed"
	pl_log_has "hello: resuming the download of $v at byte $KEPT of $SIZE" || fail "$v: not resumed at $KEPT"
	grep -q "GET /repo/hello-$v range=$KEPT status=206" "$SRV_LOG" || fail "$v: no Range request from $KEPT: $(grep "hello-$v" "$SRV_LOG")"
	sent=$(tr_sent "hello-$v")
	echo "$v: cut at $CUT, kept $KEPT, $sent bytes sent in all for $SIZE"
	((sent <= SIZE + SLICE)) || fail "$v: $sent bytes sent for a file of $SIZE (cut at $CUT)"
	pl_no_staging "$v after the resume"
	[[ -z $(tr_state partial_name) ]] || fail "$v: the state still records a partial download"
}

# 1. Cut, then resumed by the next check.
cut_download 1.0
resumed 1.0

# 2. Cut, the daemon restarted, then resumed: start-up keeps the recorded file.
cut_download 2.0
pl_stop
pl_mark
pl_start
wait_until 5 daemon_idle || fail "the restarted daemon does not answer"
pl_log_has "removed [0-9]+ leftover staging" && fail "start-up removed the partial download"
resumed 2.0

# 3. A server that ignores Range: the script skips the kept bytes itself.
cut_download 3.0
touch "$CTL/norange"
pl_mark
pl_check
assert_eq "$PL_RC" 0 "3.0 from a server that ignores Range ($PL_OUT)"
tr_installed 3.0 "3.0 without Range"
pl_log_has "the server ignores byte ranges" || fail "the fallback for a server that ignores Range was not taken"
pl_no_staging "3.0"
rm -f "$CTL/norange"

# 4. A partial download of 4.0, then 5.0 is published: the partial file goes.
cut_download 4.0
partial=$(tr_state partial_name)
tr_release 5.0 $((SIZE / 2))
pl_publish 5.0
pl_mark
pl_check
assert_eq "$PL_RC" 0 "5.0 after a partial 4.0 ($PL_OUT)"
tr_installed 5.0 "5.0"
pl_log_has "hello: deleting the partial download of 4.0 \\($KEPT of $SIZE bytes\\): hello 5.0 is offered now" ||
	fail "the partial download of 4.0 was not said to be deleted"
[[ ! -e $BIN/$partial ]] || fail "the partial download of 4.0 is still there"
pl_no_staging "5.0"
[[ -z $(tr_state partial_name) ]] || fail "the state still records the partial download of 4.0"
pass
