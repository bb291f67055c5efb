#!/bin/bash
# Attack (issue 9, finding 8): the daemon replaces a set-uid root program;
# the old one stays beside it as .NAME.updater-prev, still set-uid (and with
# its file capabilities), so a local user runs the old, perhaps vulnerable,
# version with euid 0. Now (SPEC 14) the kept inode loses set-uid, set-gid
# and security.capability; the state records its mode, and a rollback
# restores the mode.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

require_cmd setcap getcap
pl_setup
pl_config
# The target: a copy of id(1), set-uid root, with a file capability. Run by
# nobody, a set-uid copy says euid 0.
for v in 1.0 2.0; do
	cp /usr/bin/id "$REL/hello-$v"
	printf '\n# hello %s\n' "$v" >>"$REL/hello-$v"
	chmod 0644 "$REL/hello-$v"
done
install -m 0755 "$REL/hello-1.0" "$TARGET"
chmod 06755 "$TARGET"
setcap cap_net_bind_service+ep "$TARGET" || skip "this filesystem takes no file capabilities"
chmod 06755 "$TARGET" # setcap may clear the set-uid bit
assert_eq "$(as_nobody "$TARGET" -u)" 0 "euid of the set-uid 1.0 run by nobody (test set-up)"
pl_publish 1.0
pl_start
pl_check
assert_eq "$(pl_version)" 1.0 "version learnt"

pl_publish 2.0
pl_check
assert_eq "$PL_RC" 0 "check for 2.0 ($PL_OUT)"
cmp -s "$TARGET" "$REL/hello-2.0" || fail "2.0 not installed ($PL_OUT)"
prev=$BIN/.hello.updater-prev
cmp -s "$prev" "$REL/hello-1.0" || fail "-prev does not hold 1.0"
assert_eq "$(stat -c %a "$prev")" 755 "mode of -prev (set-uid and set-gid gone)"
assert_eq "$(as_nobody "$prev" -u)" 65534 "euid of -prev run by nobody"
[[ -z $(getcap "$prev") ]] || fail "-prev kept its capabilities: $(getcap "$prev")"
assert_eq "$(stat -c %a "$TARGET")" 755 "mode of the new file (never set-uid)"
grep -qx 'previous_mode=6755' "$TEST_TMP/state/targets/hello" ||
	fail "the state does not record -prev's mode: $(cat "$TEST_TMP/state/targets/hello")"

# A crash right after the rename could leave -prev set-uid: the next start strips it.
pl_stop
chmod 04755 "$prev"
pl_start
assert_eq "$(stat -c %a "$prev")" 755 "mode of a set-uid -prev after a restart"

# Rollback: 1.0 comes back with its mode; 2.0, now -prev, is not set-uid.
out=$("$UPDATERCTL" --socket "$SOCK" rollback hello 2>&1) || fail "rollback failed: $out"
cmp -s "$TARGET" "$REL/hello-1.0" || fail "1.0 is not back"
assert_eq "$(stat -c %a "$TARGET")" 6755 "mode of 1.0 after the rollback"
assert_eq "$(stat -c %a "$prev")" 755 "mode of -prev (2.0) after the rollback"
grep -qx 'previous_mode=0755' "$TEST_TMP/state/targets/hello" ||
	fail "previous_mode after the rollback: $(cat "$TEST_TMP/state/targets/hello")"
pl_stop
pass
