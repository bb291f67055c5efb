#!/bin/bash
# updater-publish and the default check script, without the daemon:
# a published release verifies with `minisign -Vm`; a release never changes;
# bad options are refused with exit 2 and bad values with exit 1; and a check
# that runs while a release is being published (the new signature beside
# the old manifest) fetches the pair again instead of offering a mismatch.
. "$(dirname "$0")/lib.sh"
require_cmd minisign sha256sum
new_tmpdir
PUBLISH=$SRCDIR/scripts/updater-publish
CHECK=$SRCDIR/scripts/check
cd "$TEST_TMP" || fail "cd"
minisign -G -W -p key.pub -s key.sec >/dev/null || fail "minisign -G"
echo "release one" >hello-v1
echo "release two" >hello-v2
mkdir cache

# --- publishing ---
out=$(sh "$PUBLISH" --repo repo --target hello --version 1.0 --key key.sec hello-v1) ||
	fail "publish 1.0: $out"
cmp -s repo/hello-1.0 hello-v1 || fail "the release file was not copied in"
minisign -Vm repo/manifest -p key.pub -q || fail "minisign does not accept the published manifest"
grep -qx "sha256=$(sha256sum <hello-v1 | cut -d ' ' -f 1)" repo/manifest || fail "manifest sha256"
grep -qx "size=$(stat -c %s hello-v1)" repo/manifest || fail "manifest size"
grep -qx "url=hello-1.0" repo/manifest || fail "manifest url"
sed -n 3p repo/manifest.minisig | grep -q "manifest-sha256=$(sha256sum <repo/manifest | cut -d ' ' -f 1)" ||
	fail "the trusted comment does not name the manifest's sha256: $(sed -n 3p repo/manifest.minisig)"
[[ -z $(find repo -name '.publish.*') ]] || fail "temporary files left in the repository"
cp repo/manifest manifest-1.0

sh "$PUBLISH" --repo repo --target hello --version 1.0 --key key.sec hello-v2 2>err
assert_eq "$?" 1 "publishing 1.0 again with other bytes"
grep -q "exists with other contents" err || fail "message: $(cat err)"
cmp -s repo/hello-1.0 hello-v1 || fail "a published release was changed"
sh "$PUBLISH" --repo repo --target hello --version 'not a version' hello-v2 2>err
assert_eq "$?" 1 "an invalid version"
grep -q "is not a valid version" err || fail "message: $(cat err)"
sh "$PUBLISH" --repo repo --target hello hello-v2 2>err
assert_eq "$?" 2 "no --version"
sh "$PUBLISH" --repo repo --target hello --version 2.0 --bogus hello-v2 2>err
assert_eq "$?" 2 "an unknown option"
cmp -s repo/manifest manifest-1.0 || fail "a refused publication changed the manifest"

sh "$PUBLISH" --repo repo --target hello --version 2.0 --key key.sec hello-v2 >/dev/null ||
	fail "publish 2.0"
minisign -Vm repo/manifest -p key.pub -q || fail "minisign does not accept the 2.0 manifest"

# --- the check script: one signed manifest on stdout ---
check() {
	UPDATER_SOURCE=file://$TEST_TMP/repo UPDATER_CACHE=$TEST_TMP/cache \
		sh "$CHECK"
}
check >offered 2>err || fail "check: $(cat err)"
cat repo/manifest repo/manifest.minisig | cmp -s - offered || fail "check did not print manifest + signature"

# A check in the middle of a publication: the new signature is in place,
# the old manifest still is; the publisher's second rename lands 1.5 s later.
# The check must wait for it and offer the consistent pair.
rm -rf cache/*
cp repo/manifest manifest-2.0
cp manifest-1.0 repo/manifest
(sleep 1.5 && cp manifest-2.0 repo/manifest.new && mv repo/manifest.new repo/manifest) &
track_pid $!
check >offered 2>err || fail "check during publication: $(cat err)"
cat manifest-2.0 repo/manifest.minisig | cmp -s - offered ||
	fail "check offered a mismatched pair: $(head -n 2 offered)"

# A pair that stays mismatched is offered after three tries, with a message,
# so the daemon rejects it and says why.
rm -rf cache/*
cp manifest-1.0 repo/manifest
check >offered 2>err || fail "check with a mismatched pair: $(cat err)"
grep -q "do not match after 3 tries" err || fail "message: $(cat err)"
pass
