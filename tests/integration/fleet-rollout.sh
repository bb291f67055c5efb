#!/bin/bash
# Staged rollout by rollout_percent (SPEC 16), with two real daemons whose
# machine-ids put them on either side of 50 % for release 2.0: the one below
# installs it, the other logs that the rollout has not reached it and shows
# the version as pending; publishing 2.0 again at 100 % updates the second.
# `updaterctl rollout-bucket` agrees with the daemon's own choice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

pl_setup
FL_ID_1=$(fl_pick_id 2.0 0.05 0.40) || fail "no machine-id with a bucket below 0.40"
FL_ID_2=$(fl_pick_id 2.0 0.60 0.95) || fail "no machine-id with a bucket above 0.60"
fl_node 1
fl_node 2
fl_start 1
fl_start 2

pl_publish 1.0
for n in 1 2; do
	fl_check $n
	assert_eq "$(fl_version $n)" 1.0 "machine $n after 1.0"
done

pl_publish 2.0 --rollout-percent 50
for n in 1 2; do
	fl_check $n
done
assert_eq "$(fl_version 1)" 2.0 "machine 1 (bucket $(fl_bucket "$FL_ID_1" 2.0)) at 50 %"
assert_eq "$(fl_version 2)" 1.0 "machine 2 (bucket $(fl_bucket "$FL_ID_2" 2.0)) at 50 %"
fl_log_has 2 'hello: not installing 2.0 now: the rollout has not reached this machine \(bucket 0\.[6-9][0-9]*, rollout_percent=50\) \(rule: rollout; until ' ||
	fail "machine 2 did not log that the rollout has not reached it"
assert_eq "$(fl_get 2 's["targets"][0]["pending"]["version"]')" 2.0 "machine 2's pending version"
fl_get 2 's["targets"][0]["pending"]["why"]' | grep -q '^rollout: ' || fail "pending.why does not name the rule"
assert_eq "$(fl_get 1 's["targets"][0]["pending"]')" None "machine 1 has nothing pending"
# The bucket the operator computes is the one that decided.
b2=$(fl_bucket "$FL_ID_2" 2.0)
fl_log_has 2 "bucket ${b2:0:6}" || fail "machine 2 logged another bucket than updaterctl's $b2"

pl_publish 2.0 --rollout-percent 100
fl_check 2
assert_eq "$(fl_version 2)" 2.0 "machine 2 after 100 %"
assert_eq "$(fl_get 2 's["targets"][0]["pending"]')" None "machine 2 has nothing pending any more"
pass
