#!/bin/bash
# End to end over http:// from a real nginx on 127.0.0.1, with the real
# default scripts and signed releases from updater-publish: 1.1, published
# right after 1.0, is seen (nginx's ETag has a one-second granularity); 2.0
# (at an absolute URL) replaces it; a check with nothing new is one conditional
# request (304 in nginx's access log, no signature fetched); a download that
# fails (404) changes nothing and is retried from the cached manifest on the
# next check (again a 304); a 404 or a 500 for the manifest is a failed check.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

require_nginx

# http_publish VERSION [options]: pl_publish. nginx's ETag is the mtime in
# whole seconds and the size, and these manifests are all of one size:
# updater-publish must see to it that a new manifest never shares its
# predecessor's second, or the next check gets 304 and misses the release.
http_publish() {
	pl_publish "$@"
}

require_root
require_cmd curl
SOURCE=placeholder
pl_setup
start_nginx
BASE=http://127.0.0.1:$PORT
SOURCE=$BASE/repo
pl_config

# 1.0 installed and published (relative url=): the first check learns it.
http_publish 1.0
install -m 0755 "$REL/hello-1.0" "$TARGET"
pl_start
pl_check
assert_eq "$PL_RC" 0 "first check ($PL_OUT)"
[[ $PL_OUT == *"hello 1.0 is up to date"* ]] || fail "summary for 1.0: '$PL_OUT'"
assert_eq "$(access_count '^200 GET /repo/manifest inm=-?$')" 1 "first manifest request, unconditional"
assert_eq "$(access_count '^200 GET /repo/manifest.minisig ')" 1 "signature fetched"

# 1.1 at once: a manifest of the same length, likely within the same second,
# must not look unchanged to the conditional request.
http_publish 1.1
pl_check
assert_eq "$PL_RC" 0 "check for 1.1 ($PL_OUT)"
[[ $PL_OUT == *"updated hello 1.1"* ]] || fail "1.1, published right after 1.0, was not seen: '$PL_OUT'"
cmp -s "$TARGET" "$REL/hello-1.1" || fail "the target's bytes are not 1.1"

# 2.0 at an absolute URL.
http_publish 2.0 --url-base "$BASE/repo"
grep -qx "url=$BASE/repo/hello-2.0" "$REPO/manifest" || fail "updater-publish --url-base: $(cat "$REPO/manifest")"
pl_check
assert_eq "$PL_RC" 0 "check for 2.0 ($PL_OUT)"
[[ $PL_OUT == *"updated hello 2.0"* ]] || fail "check --wait did not report the update: '$PL_OUT'"
cmp -s "$TARGET" "$REL/hello-2.0" || fail "the target's bytes are not 2.0"
cmp -s "$BIN/.hello.updater-prev" "$REL/hello-1.1" || fail ".hello.updater-prev does not hold 1.1"
assert_eq "$(access_count '^200 GET /repo/hello-2.0 ')" 1 "2.0 downloaded from nginx"
assert_eq "$(pl_version)" 2.0 "status version after the update"
pl_no_staging "after the update"

# Nothing new: one conditional request, answered 304; no signature fetched;
# the check answers with the manifest it cached (SPEC 14: every check shows
# a signed manifest), which names the installed version.
n304=$(access_count '^304 GET /repo/manifest inm="')
nsig=$(access_count 'GET /repo/manifest.minisig ')
cp -p "$TARGET" "$TEST_TMP/saved"
pl_check
assert_eq "$PL_RC" 0 "check with nothing new ($PL_OUT)"
[[ $PL_OUT == *"hello 2.0 is up to date"* ]] || fail "summary with nothing new: '$PL_OUT'"
assert_eq "$(access_count '^304 GET /repo/manifest inm="')" $((n304 + 1)) "a conditional request answered 304"
assert_eq "$(access_count 'GET /repo/manifest.minisig ')" "$nsig" "signature requests after a 304"
cmp -s "$TARGET" "$TEST_TMP/saved" || fail "a check with nothing new changed the target"

# 3.0 published, but its file is missing (404): the download fails...
http_publish 3.0
mv "$REPO/hello-3.0" "$TEST_TMP/hello-3.0.aside"
pl_mark
pl_check
assert_eq "$PL_RC" 1 "check with the release file missing ($PL_OUT)"
pl_log_has "hello: download of 3.0 failed: the download script exited with status 22" ||
	fail "no log line for the failed download"
pl_log_has "hello: .*404" || fail "curl's 404 was not logged"
cmp -s "$TARGET" "$TEST_TMP/saved" || fail "a failed download changed the target"
pl_no_staging "after a failed download"
assert_eq "$(access_count '^404 GET /repo/hello-3.0 ')" 1 "the download's 404"
[[ $(status_get 's["targets"][0]["last_error"]') == *"download of 3.0 failed"* ]] || fail "status last_error"
# ...and the next check, though the manifest is unchanged (304), offers it again.
mv "$TEST_TMP/hello-3.0.aside" "$REPO/hello-3.0"
n304=$(access_count '^304 GET /repo/manifest inm="')
pl_check
assert_eq "$PL_RC" 0 "check after the file came back ($PL_OUT)"
assert_eq "$(access_count '^304 GET /repo/manifest inm="')" $((n304 + 1)) "the retry's manifest request was conditional"
cmp -s "$TARGET" "$REL/hello-3.0" || fail "3.0 was not installed on the retry"
assert_eq "$(pl_version)" 3.0 "status version after the retry"
assert_eq "$(status_get 's["targets"][0]["last_error"]')" None "last_error after the retry"

# The manifest is gone (404): a failed check.
cp -p "$TARGET" "$TEST_TMP/saved"
mv "$REPO/manifest" "$TEST_TMP/manifest.aside"
pl_mark
pl_check
assert_eq "$PL_RC" 1 "check with the manifest missing ($PL_OUT)"
pl_log_has "hello: check failed: the check script exited with status 1" || fail "no log line for the failed check (404)"
pl_log_has "hello: cannot fetch $SOURCE/manifest" || fail "the check script's reason (404) was not logged"
assert_eq "$(access_count '^404 GET /repo/manifest ')" 1 "the manifest's 404"
cmp -s "$TARGET" "$TEST_TMP/saved" || fail "a 404 changed the target"
pl_no_staging "after a 404"
mv "$TEST_TMP/manifest.aside" "$REPO/manifest"

# A server error (500): a failed check.
SOURCE=$BASE/broken
# shellcheck disable=SC2119 # no extra configuration lines
pl_restart
pl_mark
pl_check
assert_eq "$PL_RC" 1 "check against a 500 ($PL_OUT)"
pl_log_has "hello: check failed: the check script exited with status 1" || fail "no log line for the failed check (500)"
pl_log_has "hello: .*500" || fail "curl's 500 was not logged"
assert_eq "$(access_count '^500 GET /broken/manifest ')" 1 "the manifest's 500"
cmp -s "$TARGET" "$TEST_TMP/saved" || fail "a 500 changed the target"
pl_no_staging "after a 500"
wait_until 5 daemon_idle || fail "the daemon does not answer status at the end"
pl_stop
pass "over http:// from nginx"
