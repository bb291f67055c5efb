#!/bin/bash
# Attack (issue 9, finding 6): a mirror that freezes — answers nothing, or
# 304 Not Modified for ever — keeps a machine on an expired release while
# every check reports success. With trusted_keys, every check must produce a
# valid, unexpired, signed manifest (SPEC 14):
#   - an empty answer is a failed check ("no signed manifest");
#   - over http:// from nginx, a 304 is answered by the check script with the
#     manifest it cached; once that expires, the check fails ("expired");
#   - updater-publish writes expires= by default (30 days), not with
#     --expires never.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

require_nginx
pl_setup

# updater-publish's default expires is 30 days from now.
pl_publish 1.0
exp=$(sed -n 's/^expires=//p' "$REPO/manifest")
[[ -n $exp ]] || fail "updater-publish wrote no expires= by default"
days=$(( ($(date -d "$exp" +%s) - $(date +%s) + 3600) / 86400 ))
assert_eq "$days" 30 "days until the default expires"
pl_publish 1.1 --expires never
grep -q '^expires=' "$REPO/manifest" && fail "--expires never still wrote expires="

# The mirror answers nothing (an empty manifest): a failed check.
install -m 0755 "$REL/hello-1.1" "$TARGET"
: >"$REPO/manifest"
rm -f "$REPO/manifest.minisig"
chmod 0644 "$REPO/manifest"
pl_config
pl_start
pl_mark
pl_check
assert_eq "$PL_RC" 1 "check against a mirror that answers nothing ($PL_OUT)"
[[ $PL_OUT == *"no signed manifest"* ]] || fail "summary of an empty answer: '$PL_OUT'"
[[ $(status_get 's["targets"][0]["last_error"]') == *"no signed manifest"* ]] ||
	fail "last_error of an empty answer: $(status_get 's["targets"][0]["last_error"]')"
pl_stop

# Over http://: 2.0 expires in a few seconds; the mirror then freezes (304).
start_nginx
SOURCE=http://127.0.0.1:$PORT/repo
pl_config
pl_publish 2.0 --expires "+4 seconds"
pl_start
pl_check
assert_eq "$PL_RC" 0 "check for 2.0 ($PL_OUT)"
cmp -s "$TARGET" "$REL/hello-2.0" || fail "2.0 not installed ($PL_OUT)"
# Unchanged on the mirror: 304, answered with the cached manifest.
n304=$(access_count '^304 GET /repo/manifest ')
pl_check
assert_eq "$PL_RC" 0 "check with nothing new, before 2.0 expires ($PL_OUT)"
[[ $PL_OUT == *"hello 2.0 is up to date"* ]] || fail "the 304 was not answered with the cached manifest: '$PL_OUT'"
assert_eq "$(access_count '^304 GET /repo/manifest ')" $((n304 + 1)) "the conditional request was answered 304"
# Frozen past the release's expiry: every check now fails, loudly.
expires_at=$(date -d "$(sed -n 's/^expires=//p' "$REPO/manifest")" +%s)
past_expiry() { [[ $(date +%s) -gt $expires_at ]]; }
wait_until 10 past_expiry || fail "2.0 did not expire"
sleep 1
pl_check
assert_eq "$PL_RC" 1 "check against a frozen mirror after the release expired ($PL_OUT)"
[[ $PL_OUT == *"expired"* ]] || fail "summary against a frozen mirror: '$PL_OUT'"
assert_eq "$(access_count '^304 GET /repo/manifest ')" $((n304 + 2)) "the frozen mirror answered 304 again"
pl_stop
pass
