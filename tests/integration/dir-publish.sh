#!/bin/bash
# updater-publish for a directory target: the tree is packed as
# NAME-VERSION.tar.zst with its entries sorted, owners and groups 0 and
# modification times clamped to SOURCE_DATE_EPOCH, so the same tree packs to
# the same bytes wherever and by whomever it is published; the manifest
# describes that archive.
. "$(dirname "$0")/lib.sh"
require_cmd tar zstd
new_tmpdir
PUBLISH=$SRCDIR/scripts/updater-publish
T=$TEST_TMP/tree
mkdir -p "$T/z" "$T/a/b"
# Made out of order, owned by someone else, some in the future.
echo z >"$T/z/last"
echo m >"$T/middle"
echo b >"$T/a/b/first"
ln -s ../middle "$T/a/link"
if [[ $(id -u) -eq 0 ]]; then chown -R 65534:65534 "$T"; fi
touch -h -d '+1 day' "$T/a/link" "$T/z/last"
touch -d '2020-01-01 00:00:00 UTC' "$T/middle"
CLAMP=1700000000

SOURCE_DATE_EPOCH=$CLAMP "$PUBLISH" --repo "$TEST_TMP/repo1" --target shop --version 2.0 "$T" >/dev/null ||
	fail "updater-publish of a directory failed"
A=$TEST_TMP/repo1/shop-2.0.tar.zst
[[ -f $A ]] || fail "no shop-2.0.tar.zst in the repository: $(ls "$TEST_TMP/repo1")"
assert_eq "$(sed -n 's/^url=//p' "$TEST_TMP/repo1/manifest")" shop-2.0.tar.zst "manifest url"
assert_eq "$(sed -n 's/^size=//p' "$TEST_TMP/repo1/manifest")" "$(stat -c %s "$A")" "manifest size"
assert_eq "$(sed -n 's/^sha256=//p' "$TEST_TMP/repo1/manifest")" "$(sha256sum "$A" | cut -d' ' -f1)" "manifest sha256"

listing=$(zstd -dc "$A" | tar -tv --numeric-owner --full-time -f -) || fail "the archive does not list"
names=$(zstd -dc "$A" | tar -t -f -)
assert_eq "$(echo "$names" | tr '\n' ' ')" "./ ./a/ ./a/b/ ./a/b/first ./a/link ./middle ./z/ ./z/last " "entries, sorted by name"
[[ -z $(echo "$listing" | awk '$2 != "0/0"') ]] || fail "owners not zeroed: $listing"
newest=$(zstd -dc "$A" | /usr/bin/python3 -c 'import sys, tarfile; print(max(int(m.mtime) for m in tarfile.open(fileobj=sys.stdin.buffer, mode="r|")))')
((newest <= CLAMP)) || fail "an mtime past SOURCE_DATE_EPOCH: $newest > $CLAMP"
echo "$listing" | grep -q ' 2020-01-01 00:00:00 ./middle$' || fail "an older mtime was changed: $listing"

# Elsewhere, again: the same bytes.
cp -a "$T" "$TEST_TMP/copy"
SOURCE_DATE_EPOCH=$CLAMP "$PUBLISH" --repo "$TEST_TMP/repo2" --target shop --version 2.0 "$TEST_TMP/copy" >/dev/null ||
	fail "second publication failed"
cmp -s "$A" "$TEST_TMP/repo2/shop-2.0.tar.zst" || fail "the same tree packed to other bytes"
# Publishing the same version again from the same tree is not a change.
SOURCE_DATE_EPOCH=$CLAMP "$PUBLISH" --repo "$TEST_TMP/repo1" --target shop --version 2.0 "$T" >/dev/null ||
	fail "re-publishing the same tree as the same version was refused"
# Another tree under that version is.
echo changed >"$T/middle"
SOURCE_DATE_EPOCH=$CLAMP "$PUBLISH" --repo "$TEST_TMP/repo1" --target shop --version 2.0 "$T" >/dev/null 2>&1 &&
	fail "a changed tree was published again as 2.0"
pass
