#!/bin/bash
# window: (SPEC 16): a release found while the target's window is closed is
# deferred with a log line naming the rule and when the window opens, and is
# installed when it opens (a window opening a few seconds ahead, in UTC),
# by a check the daemon planned itself; not before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

pl_setup
pl_publish 1.0
fl_node 1
fl_start 1
fl_check 1
assert_eq "$(fl_version 1)" 1.0 "before any window"
fl_stop 1

# A window from 6 s from now for an hour (not across midnight: it wraps fine, but keep it plain).
open_at=$(($(date -u +%s) + 6))
from=$(date -u -d "@$open_at" +%H:%M:%S)
to=$(date -u -d "@$((open_at + 3600))" +%H:%M:%S)
FL_TARGET_LINES="    window: \"$from-$to UTC, Sun 00:00-00:01 UTC\"" fl_node 1
fl_start 1
pl_publish 2.0
fl_check 1
assert_eq "$(fl_version 1)" 1.0 "outside the window"
fl_log_has 1 "hello: not installing 2.0 now: outside its window, which opens at [0-9T:-]+Z \(rule: window; until " ||
	fail "no log line naming the window rule"
echo "$FL_OUT" | grep -q 'deferred hello 2.0' || fail "the round's summary does not say deferred: $FL_OUT"

want=$(sha256sum "$REL/hello-2.0" | cut -d ' ' -f 1)
seen=
while (($(date +%s) < open_at + 5)); do
	if [[ $(sha256sum <"$(fl_dir 1)/bin/hello" | cut -d ' ' -f 1) == "$want" ]]; then
		seen=$(now_ms)
		break
	fi
	sleep 0.02
done
[[ -n $seen ]] || fail "2.0 was not installed within 5 s of the window opening"
late=$((seen - open_at * 1000))
echo "installed $late ms after the window opened"
((late >= 0)) || fail "installed before the window opened"
((late <= 1000)) || fail "installed $late ms after the window opened"
pass
