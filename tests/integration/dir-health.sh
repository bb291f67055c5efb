#!/bin/bash
# The health gate (SPEC 15) is the same for a directory target: after the
# switch to a release whose health command fails, the daemon switches back
# to the previous release by itself ("rolledback shop 1.0 health"),
# quarantines the failed version (the next check refuses it), and a newer,
# healthy release is installed and leaves probation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/dir-lib.sh"

dl_setup
# Healthy when current/bin/shop runs whole and its data file does not say "sick".
install_script "$SCRIPTS/health" "#!/bin/sh
out=\$('$CURRENT/bin/shop') || exit 1
case \"\$out\" in *data=sick*) echo \"sick: \$out\" >&2; exit 1 ;; esac
echo \"\$out\""
DL_TARGET_LINES="    health:
      command: [$SCRIPTS/health]
      timeout: 3s
      interval: 1s"
dl_config
pl_start
dl_publish 1.0
pl_check
assert_eq "$PL_RC" 0 "the first release: $PL_OUT"
assert_eq "$(dl_current)" 1.0 "current after 1.0"

dl_release 2.0 sick
dl_publish 2.0
pl_check
grep -qx 'rolledback shop 1.0 health' <<<"$PL_OUT" || fail "no health rollback: $PL_OUT"
assert_eq "$(dl_current)" 1.0 "current after the health rollback"
dl_runs_whole || fail "current/bin/shop does not run whole after the rollback"
assert_eq "$(status_get 's["targets"][0]["quarantined"]')" 2.0 "status: quarantined"
assert_eq "$(pl_version)" 1.0 "status version after the health rollback"
assert_eq "$(dl_releases)" "1.0 2.0" "releases after the health rollback"

# The quarantined release is refused; a newer one goes in and stays.
pl_check
assert_eq "$(dl_current)" 1.0 "current after a check offering the quarantined 2.0"
dl_publish 3.0
pl_check
assert_eq "$PL_RC" 0 "3.0: $PL_OUT"
grep -qx 'healthy shop 3.0' <<<"$PL_OUT" || fail "3.0 did not leave probation healthy: $PL_OUT"
assert_eq "$(dl_current)" 3.0 "current after 3.0"
assert_eq "$(status_get 's["targets"][0]["quarantined"]')" None "status: quarantined after 3.0"
pl_stop
pass "a failing health command switched back, quarantined, a newer release healthy"
