#!/bin/bash
# Finding 11 (issue 9): a target only root may execute (mode 0700) and its
# smoke test, which runs as script_user: it used to run after the final mode
# was applied, so it always failed and the target could never be updated.
# Now the smoke test runs before the final mode (the staged file is
# owner:script_user's group 0550 while it runs) and the installed file gets
# 0700 back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

pl_setup
# The smoke test records who ran it, then exits 0.
for v in 1.0 2.0; do
	printf '#!/bin/sh\n# hello %s\nid -u >%s/smoke.uid\nexit 0\n' "$v" "$TEST_TMP" >"$REL/hello-$v"
	chmod 0644 "$REL/hello-$v"
done
: >"$TEST_TMP/smoke.uid"
chmod 0666 "$TEST_TMP/smoke.uid"
install -m 0700 -o root -g root "$REL/hello-1.0" "$TARGET"
PL_TARGET_LINES="    smoke_test: [--version]"
pl_config
pl_publish 1.0
pl_start
pl_check
pl_publish 2.0
pl_check
assert_eq "$PL_RC" 0 "update of a 0700 target with a smoke test ($PL_OUT)"
cmp -s "$TARGET" "$REL/hello-2.0" || fail "2.0 not installed ($PL_OUT)"
assert_eq "$(stat -c '%a %U:%G' "$TARGET")" "700 root:root" "mode and owner of the new file"
assert_eq "$(cat "$TEST_TMP/smoke.uid")" 65534 "uid the smoke test ran as"
# Nobody else could have run or changed the staged file meanwhile: no
# staging file is left, and -prev is 1.0 as installed.
pl_no_staging "after the update"
assert_eq "$(stat -c '%a' "$BIN/.hello.updater-prev")" 700 "mode of -prev"
pl_stop
pass
