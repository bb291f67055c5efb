#!/bin/bash
# rollout_start + rollout_duration (SPEC 16): a daemon whose turn
# (rollout_start + bucket x rollout_duration) is a few seconds ahead defers
# the release with a log line naming the rule and the time, shows it as
# pending at that time, and installs it at its turn, within a second of it,
# by a check it scheduled itself: periodic checks are off (interval 0) and
# nothing else asks for one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

pl_setup
FL_ID_1=$(fl_pick_id 2.0 0.40 0.60) || fail "no machine-id with a bucket in [0.4, 0.6)"
fl_node 1
fl_start 1
pl_publish 1.0
fl_check 1
assert_eq "$(fl_version 1)" 1.0 "after 1.0"

b=$(fl_bucket "$FL_ID_1" 2.0)
start=$(date -u +%s)
pl_publish 2.0 --rollout-duration 12s --rollout-start "@$start"
# The turn in ms: start + b x 12 s.
turn=$((start * 1000 + $(awk -v b="$b" 'BEGIN { printf "%.0f", b * 12000 }')))
fl_check 1
assert_eq "$(fl_version 1)" 1.0 "right after publishing (turn in $(((turn - $(now_ms)) / 1000)) s)"
fl_log_has 1 'hello: not installing 2.0 now: the rollout reaches this machine \(bucket [0-9.]+\) at [0-9T:-]+Z \(rule: rollout; until [0-9T:-]+Z\)' ||
	fail "no log line naming the rollout rule and its time"
at=$(fl_get 1 's["targets"][0]["pending"]["at"]')
assert_eq "$at" "$(((turn + 999) / 1000))" "pending.at"

# Watch the file: when does 2.0 appear?
want=$(sha256sum "$REL/hello-2.0" | cut -d ' ' -f 1)
seen=
deadline=$((turn + 5000))
while (($(now_ms) < deadline)); do
	if [[ -f $(fl_dir 1)/bin/hello ]] && [[ $(sha256sum <"$(fl_dir 1)/bin/hello" | cut -d ' ' -f 1) == "$want" ]]; then
		seen=$(now_ms)
		break
	fi
	sleep 0.02
done
[[ -n $seen ]] || fail "2.0 was not installed within 5 s of the turn"
late=$((seen - turn))
echo "installed $late ms after the turn"
((late >= 0)) || fail "installed $((-late)) ms before the turn"
((late <= 1000)) || fail "installed $late ms after the turn (more than a second)"
assert_eq "$(fl_version 1)" 2.0 "after the turn"
pass
