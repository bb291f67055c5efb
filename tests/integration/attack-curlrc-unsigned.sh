#!/bin/bash
# Attack (issue 9, finding 7): without trusted_keys, a process running as the
# script user plants $HOME/.curlrc in the target's cache (the scripts' HOME)
# and steers what curl fetches into a root-owned 0755 install. Now (SPEC 14):
#   - a root daemon with no trusted_keys refuses to start (exit 78) unless
#     allow_unsigned: true, in every mode (start, --once, --check-config);
#   - with allow_unsigned: true it warns at every check;
#   - the default scripts run curl with -q: a .curlrc planted by the script
#     account is not read.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

pl_setup
PL_TRUSTED=()
pl_release 1.0
install -m 0755 "$REL/hello-1.0" "$TARGET"

# Unsigned, as root, not allowed: refused.
pl_config "allow_unsigned: false"
"$UPDATERD" -c "$CONFIG" --check-config >"$TEST_TMP/cc.log" 2>&1
assert_eq "$?" 78 "--check-config of an unsigned root configuration"
grep -q "trusted_keys is empty" "$TEST_TMP/cc.log" || fail "no reason given: $(cat "$TEST_TMP/cc.log")"
"$UPDATERD" -c "$CONFIG" --once >"$TEST_TMP/once.log" 2>&1
assert_eq "$?" 78 "--once with an unsigned root configuration"
timeout 10 "$UPDATERD" -c "$CONFIG" >"$TEST_TMP/start.log" 2>&1
assert_eq "$?" 78 "start with an unsigned root configuration"
grep -q "allow_unsigned: true" "$TEST_TMP/start.log" || fail "the refusal does not name allow_unsigned: $(cat "$TEST_TMP/start.log")"
[[ -S $SOCK ]] && fail "the refused daemon created its socket"

# Allowed explicitly: it runs, and warns at every check.
pl_config "allow_unsigned: true"
pl_start
pl_mark
pl_check
pl_log_has "checking without signatures" || fail "no warning at the check"
pl_mark
pl_check
pl_log_has "checking without signatures" || fail "no warning at the second check"

# The planted .curlrc: it would fetch the attacker's manifest (and its
# release) in place of the mirror's. curl -q ignores it.
mkdir -m 0755 "$TEST_TMP/evil"
printf '#!/bin/sh\necho owned\n' >"$TEST_TMP/evil/payload"
{
	echo "target=hello"
	echo "version=6.6.6"
	echo "url=file://$TEST_TMP/evil/payload"
	echo "size=$(stat -c %s "$TEST_TMP/evil/payload")"
	echo "sha256=$(sha256sum "$TEST_TMP/evil/payload" | cut -d' ' -f1)"
} >"$TEST_TMP/evil/manifest"
chmod -R a+rX "$TEST_TMP/evil"
pl_publish 2.0
cache=$TEST_TMP/state/cache/hello
[[ $(stat -c %U "$cache") == nobody ]] || fail "the cache is not the script user's"
as_nobody sh -c "printf 'url = \"file://$TEST_TMP/evil/manifest\"\n' >'$cache/.curlrc'" ||
	fail "nobody could not write its own HOME"
pl_mark
pl_check
pl_log_has "6\.6\.6" && fail "the check read the planted .curlrc: $(grep 6.6.6 "$TEST_LOG")"
cmp -s "$TARGET" "$REL/hello-2.0" || fail "2.0 was not installed past the planted .curlrc ($PL_OUT)"
pl_stop
pass
