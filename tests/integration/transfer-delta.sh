#!/bin/bash
# Deltas (SPEC 17) over nginx, with the real daemon, the default scripts and
# updater-publish --deltas:
# - a delta from the installed file: only the delta's bytes cross (nginx's
#   log), and the target holds the new release;
# - a corrupt delta, a delta for another base, and a missing delta file each
#   fall back to the whole file and install the right bytes;
# - a delta whose output has the wrong sha256 fails the download and installs
#   nothing; the next try fetches the whole file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/transfer-lib.sh"

require_nginx
require_cmd zstd dpkg
SOURCE=placeholder
pl_setup
start_nginx
BYTES=$NGX/bytes.log
SOURCE=http://127.0.0.1:$PORT/repo
pl_config
SIZE=$((4 * 1024 * 1024))

# patch_release OLD NEW: NEW is OLD with 4 KiB changed and 1 KiB added.
patch_release() {
	cp "$REL/hello-$1" "$REL/hello-$2"
	head -c 4096 /dev/urandom | dd of="$REL/hello-$2" bs=4096 seek=$((RANDOM % 1000)) conv=notrunc status=none
	head -c 1024 /dev/urandom >>"$REL/hello-$2"
	chmod 0644 "$REL/hello-$2"
}

# crossed: "URI BYTES" of each request nginx answered since the last mark.
mark_bytes() {
	BYTES_MARK=$(wc -l <"$BYTES")
}
crossed() {
	tail -n +"$((BYTES_MARK + 1))" "$BYTES" | awk '{ print $2, $3 }'
}
# release_bytes: body bytes of release files and deltas (not the manifest) since the mark.
release_bytes() {
	crossed | awk '$1 !~ /manifest/ { n += $2 } END { print n + 0 }'
}

# check_installs VERSION WHAT: one check installs VERSION.
check_installs() {
	pl_check
	assert_eq "$PL_RC" 0 "$2: the check ($PL_OUT)"
	tr_installed "$1" "$2"
	pl_no_staging "$2"
}

tr_release 1.0 "$SIZE"
pl_publish 1.0
install -m 0755 "$REL/hello-1.0" "$TARGET"
pl_start
pl_check
assert_eq "$PL_RC" 0 "the first check ($PL_OUT)"

# 1. A delta from the installed 1.0.
patch_release 1.0 1.1
pl_publish 1.1 --deltas 1
grep -q "^delta-$(sha256sum <"$REL/hello-1.0" | cut -d ' ' -f 1)=deltas/hello-1.1.from-1.0.zst " "$REPO/manifest" ||
	fail "updater-publish --deltas wrote no delta from 1.0: $(cat "$REPO/manifest")"
dsize=$(stat -c %s "$REPO/deltas/hello-1.1.from-1.0.zst")
mark_bytes
pl_mark
check_installs 1.1 "the delta from 1.0"
pl_log_has "hello: 1.1 offers a delta from the installed file \\($dsize bytes of $((SIZE + 1024))\\)" ||
	fail "the delta was not used"
crossed | grep -q "^/repo/hello-1.1 " && fail "the whole file crossed: $(crossed)"
assert_eq "$(release_bytes)" "$dsize" "bytes of the update that crossed (the delta's)"
echo "delta: $dsize bytes crossed for a file of $((SIZE + 1024))"

# 2. A corrupt delta (same size, one byte changed): the whole file instead.
patch_release 1.1 1.2
pl_publish 1.2 --deltas 1
delta=$REPO/deltas/hello-1.2.from-1.1.zst
printf '\377' | dd of="$delta" bs=1 seek=100 conv=notrunc status=none
mark_bytes
pl_mark
check_installs 1.2 "a corrupt delta"
pl_log_has "the delta's sha256 is [0-9a-f]+, the manifest says" || fail "the corrupt delta was not noticed"
crossed | grep -q "^/repo/hello-1.2 $((SIZE + 2048))$" || fail "the whole file did not cross: $(crossed)"

# 3. A delta for another base: 1.4's delta is from 1.3, 1.2 is installed.
patch_release 1.2 1.3
pl_publish 1.3
patch_release 1.3 1.4
pl_publish 1.4 --deltas 1
grep -q '^delta-' "$REPO/manifest" || fail "1.4 has no delta"
mark_bytes
pl_mark
check_installs 1.4 "a delta for another base"
pl_log_has "offers a delta" && fail "a delta for another base was used"
crossed | grep -q '^/repo/deltas/' && fail "a delta for another base was fetched: $(crossed)"

# 4. A missing delta file (404): the whole file instead.
patch_release 1.4 1.5
pl_publish 1.5 --deltas 1
rm -f "$REPO/deltas/hello-1.5.from-1.4.zst"
mark_bytes
pl_mark
check_installs 1.5 "a missing delta"
crossed | grep -q "^/repo/hello-1.5 " || fail "the whole file did not cross: $(crossed)"

# 5. A delta that applies, but to the wrong output: the download fails,
# nothing is installed; the next try fetches the whole file.
patch_release 1.5 1.6
patch_release 1.5 wrong
pl_publish 1.6 --deltas 1
delta=$REPO/deltas/hello-1.6.from-1.5.zst
zstd -qq -f -19 --single-thread --patch-from="$REL/hello-1.5" -o "$delta" "$REL/hello-wrong"
chmod 0644 "$delta"
sed -i "s|^\\(delta-[0-9a-f]*=deltas/hello-1.6.from-1.5.zst\\) .*|\\1 $(stat -c %s "$delta") $(sha256sum <"$delta" | cut -d ' ' -f 1)|" "$REPO/manifest"
pl_sign
cp -p "$TARGET" "$TEST_TMP/saved"
pl_mark
pl_check
assert_eq "$PL_RC" 1 "a delta with the wrong output ($PL_OUT)"
cmp -s "$TARGET" "$TEST_TMP/saved" || fail "a delta with the wrong output changed the target"
pl_no_staging "a delta with the wrong output"
pl_log_has "hello: download of 1.6 rejected: sha256 of the download is [0-9a-f]+, the manifest says [0-9a-f]+ \\(made from a delta" ||
	fail "the wrong output was not rejected"
mark_bytes
check_installs 1.6 "the try after a bad delta"
crossed | grep -q '^/repo/deltas/' && fail "the bad delta was fetched again: $(crossed)"
pass
