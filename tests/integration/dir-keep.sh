#!/bin/bash
# Directory targets, the whole life of a release (SPEC section 18), with the
# real daemon, default scripts, updater-publish and minisign: the first
# update creates the `current` symlink; after 5 updates with keep: 3, three
# releases remain, current and previous among them; a rollback switches back
# to the previous release and holds (the release rolled back from is refused
# until a newer one); a newer release prunes the oldest; a release whose smoke
# test (relative to the new release) fails is never switched to and leaves
# nothing behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/dir-lib.sh"

dl_setup
DL_TARGET_LINES="    keep: 3
    smoke_test: [bin/shop, --version]"
dl_config
pl_start

[[ -e $CURRENT ]] && fail "current exists before the first update"
for v in 1.0 2.0 3.0 4.0 5.0; do
	dl_publish "$v"
	pl_check
	assert_eq "$PL_RC" 0 "check for $v: $PL_OUT"
	assert_eq "$(dl_current)" "$v" "current after the update to $v"
	dl_runs_whole || fail "after $v: current/bin/shop does not run whole: $("$CURRENT/bin/shop" 2>&1)"
	assert_eq "$("$CURRENT/bin/shop")" "bin=$v lib=$v data=$v" "what current runs after $v"
	assert_eq "$(pl_version)" "$v" "status version after $v"
	dl_no_temporaries || fail "temporaries left after $v: $(dl_temporaries)"
done
assert_eq "$(dl_releases)" "3.0 4.0 5.0" "releases after 5 updates with keep: 3"
[[ -z $(find "$RELEASES" -perm /022 -o ! -user root) ]] ||
	fail "release files writable by others or not root's: $(find "$RELEASES" -perm /022 -o ! -user root)"

# Rollback: back to the previous release, which stays kept.
out=$("$UPDATERCTL" --socket "$SOCK" rollback shop 2>&1) || fail "rollback: $out"
assert_eq "$(dl_current)" "4.0" "current after the rollback"
assert_eq "$("$CURRENT/bin/shop")" "bin=4.0 lib=4.0 data=4.0" "what current runs after the rollback"
assert_eq "$(pl_version)" "4.0" "status version after the rollback"
assert_eq "$(dl_releases)" "3.0 4.0 5.0" "releases after the rollback"

# The release rolled back from is not installed again ...
pl_check
assert_eq "$(dl_current)" "4.0" "current after a check offering 5.0 again"
# ... a newer one is, and the oldest goes (current 6.0, previous 4.0, then 5.0).
dl_publish 6.0
pl_check
assert_eq "$PL_RC" 0 "check for 6.0: $PL_OUT"
assert_eq "$(dl_current)" "6.0" "current after 6.0"
assert_eq "$(dl_releases)" "4.0 5.0 6.0" "releases after 6.0"

# A smoke test that fails: nothing switched, nothing left.
dl_release 7.0 broken
dl_publish 7.0
pl_mark
pl_check
[[ $PL_RC -ne 0 ]] || fail "a release failing its smoke test was reported as a success"
pl_log_has 'shop: smoke test of 7\.0 failed' || fail "no log line for the failed smoke test"
assert_eq "$(dl_current)" "6.0" "current after a failed smoke test"
assert_eq "$(dl_releases)" "4.0 5.0 6.0" "releases after a failed smoke test"
dl_no_temporaries || fail "temporaries left after a failed smoke test: $(dl_temporaries)"
[[ -z $(find "$RELEASES" -name '.7.0.updater-*') ]] || fail "the archive of 7.0 is left"
pl_stop
pass "5 updates, keep 3, rollback, prune, failed smoke test"
