#!/bin/bash
# The bad-input battery, with the real daemon, scripts, updater-publish and
# minisign: each bad manifest, signature, download or script leaves the
# target byte-identical and no staging file, logs why, and the daemon keeps
# answering. Also: a version that is not newer (a downgrade, a replayed old
# manifest) is refused and that is no failure, the set-uid bit is dropped, a
# symlink planted at .hello.updater-prev is replaced, not followed, and
# `updaterd --once` exits 1 on a failed verification, 0 on "not newer".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"

pl_setup
pl_config
pl_publish 1.0
install -m 0755 "$REL/hello-1.0" "$TARGET"
pl_start
pl_check
assert_eq "$PL_RC" 0 "first check ($PL_OUT)"
assert_eq "$(pl_version)" 1.0 "installed version"
# Kept for a replay: a genuine signed manifest of 1.0.
cp -p "$REPO/manifest" "$TEST_TMP/manifest-1.0"
cp -p "$REPO/manifest.minisig" "$TEST_TMP/manifest-1.0.minisig"

# bad_case NAME REASON_ERE [WANTED_RC]: one check; the target must be
# unchanged, no staging file left, a log line must match REASON_ERE, and
# the daemon must answer status and be idle, its last_error set for a
# failure. WANTED_RC: updaterctl's exit code (1, a failed check).
bad_case() {
	local name=$1 reason=$2 want=${3:-1} err
	cp -p "$TARGET" "$TEST_TMP/saved"
	pl_mark
	pl_check
	assert_eq "$PL_RC" "$want" "$name: exit code of updaterctl check --wait ($PL_OUT)"
	cmp -s "$TARGET" "$TEST_TMP/saved" || fail "$name: the target changed"
	pl_no_staging "$name"
	pl_log_has "$reason" || fail "$name: no log line matching '$reason'"
	wait_until 5 daemon_idle || fail "$name: the daemon does not answer status, or is not idle"
	err=$(status_get 's["targets"][0]["last_error"]')
	if ((want == 0)); then
		assert_eq "$err" None "$name: last_error in status"
	else
		[[ $err != None ]] || fail "$name: no last_error in status"
	fi
	echo "ok: $name"
}

# once_case NAME WANTED_RC REASON_ERE: the same input through `updaterd --once`.
once_case() {
	local name=$1 want=$2 reason=$3
	cp -p "$TARGET" "$TEST_TMP/saved"
	pl_stop
	pl_mark
	pl_once
	assert_eq "$PL_RC" "$want" "$name: exit code of updaterd --once"
	cmp -s "$TARGET" "$TEST_TMP/saved" || fail "$name (--once): the target changed"
	pl_no_staging "$name (--once)"
	pl_log_has "$reason" || fail "$name (--once): no log line matching '$reason'"
	pl_start
	echo "ok: $name (--once)"
}

# A 2.0 whose release file is in the repository, for the hand-made manifests.
pl_release 2.0
size2=$(stat -c %s "$REL/hello-2.0")
sha2=$(sha256sum "$REL/hello-2.0" | cut -d' ' -f1)
other_sha=$(printf 'other bytes\n' | sha256sum | cut -d' ' -f1)

# A signature line with one character changed (a valid base64 all the same).
pl_publish 2.0
/usr/bin/python3 - "$REPO/manifest.minisig" <<'PYEOF'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
s = lines[1]
c = s[40]
lines[1] = s[:40] + ("A" if c != "A" else "B") + s[41:]
open(p, "w").write("\n".join(lines))
PYEOF
bad_case "tampered signature" "hello: manifest rejected: signature by key [0-9A-Fa-f]+ does not match the manifest"

# The manifest changed after it was signed.
pl_publish 2.0
sed -i "s/^sha256=.*/sha256=$other_sha/" "$REPO/manifest"
bad_case "manifest changed after signing" "hello: manifest rejected: signature by key [0-9A-Fa-f]+ does not match the manifest"

# The trusted comment changed: the global signature no longer matches.
pl_publish 2.0
sed -i '3s/^trusted comment: .*/trusted comment: updater-publish hello 9.9/' "$REPO/manifest.minisig"
bad_case "tampered trusted comment" "hello: manifest rejected: global signature .*is not valid"

# Signed by a key that is not trusted.
minisign -G -W -p "$KEYS/other.pub" -s "$KEYS/other.sec" >/dev/null 2>&1 || fail "minisign -G failed"
pl_publish 2.0
minisign -S -s "$KEYS/other.sec" -m "$REPO/manifest" -x "$REPO/manifest.minisig" >/dev/null 2>&1 || fail "minisign -S failed"
bad_case "untrusted key" "hello: manifest rejected: signed by key [0-9A-Fa-f]+, which is not in trusted_keys"

# Not signed at all, while trusted_keys is set.
"$SRCDIR/scripts/updater-publish" --repo "$REPO" --target hello --version 2.0 "$REL/hello-2.0" >/dev/null ||
	fail "updater-publish without --key failed"
[[ ! -e $REPO/manifest.minisig ]] || fail "updater-publish without --key left a signature"
bad_case "unsigned manifest" "hello: manifest rejected: manifest is not signed, but trusted_keys are configured"

# A legacy (not prehashed) signature by the trusted key.
pl_publish 2.0
pl_sign -l
grep -q '^RW' <(sed -n 2p "$REPO/manifest.minisig") || fail "minisign -l made no signature"
minisign -Vm "$REPO/manifest" -p "$KEYS/pub" >/dev/null 2>&1 || fail "minisign does not accept its own legacy signature"
bad_case "legacy signature" "hello: manifest rejected: legacy .*signature refused"

# Signed, but the sha256 is of other bytes.
pl_manifest target=hello version=2.0 url=hello-2.0 "size=$size2" "sha256=$other_sha"
pl_sign
bad_case "hash mismatch" "hello: download of 2.0 rejected: sha256 of the download is $sha2, the manifest says $other_sha"
once_case "hash mismatch" 1 "hello: download of 2.0 rejected: sha256 of the download is"

# Signed, but the file is shorter than the size.
pl_manifest target=hello version=2.0 url=hello-2.0 "size=$((size2 + 1))" "sha256=$sha2"
pl_sign
bad_case "short download" "hello: download of 2.0 rejected: download is $size2 bytes, the manifest says $((size2 + 1))"

# Signed, but the file is longer than the size.
pl_manifest target=hello version=2.0 url=hello-2.0 "size=$((size2 - 1))" "sha256=$sha2"
pl_sign
bad_case "long download" "hello: download of 2.0 is longer than the manifest's size \($((size2 - 1)) bytes\)"

# Signed, but expired.
pl_publish 2.0 --expires 2000-01-01
grep -q '^expires=2000-01-01T00:00:00Z$' "$REPO/manifest" || fail "updater-publish wrote no expires="
bad_case "expired manifest" "hello: manifest rejected: manifest expired at 2000-01-01T00:00:00Z"

# Signed, but for another target.
pl_manifest target=other version=2.0 url=hello-2.0 "size=$size2" "sha256=$sha2"
pl_sign
bad_case "manifest for another target" "hello: manifest rejected: manifest is for target 'other', not 'hello'"

# A good release, larger than max_download.
pl_restart "max_download: 1KiB"
pl_publish 2.0
bad_case "max_download exceeded" "hello: version 2.0 is $size2 bytes, more than max_download \(1024\)"

# A check script that fails.
mkdir -m 0755 "$TEST_TMP/scripts-fail"
install_script "$TEST_TMP/scripts-fail/check" '#!/bin/sh
echo "repository unreachable" >&2
exit 1'
install -m 0755 "$SRCDIR/scripts/download" "$TEST_TMP/scripts-fail/"
PL_SCRIPTS_DIR=$TEST_TMP/scripts-fail pl_restart
bad_case "failing check script" "hello: check failed: the check script exited with status 1"
pl_log_has "hello: repository unreachable" || fail "the check script's stderr was not logged"
once_case "failing check script" 1 "hello: check failed: the check script exited with status 1"

# A download script that hangs: killed after script_timeout, with its process group.
mkdir -m 0755 "$TEST_TMP/scripts-hang" "$TEST_TMP/hang"
chown nobody "$TEST_TMP/hang"
install -m 0755 "$SRCDIR/scripts/check" "$TEST_TMP/scripts-hang/"
install_script "$TEST_TMP/scripts-hang/download" "#!/bin/sh
sleep 600 &
echo \$! >'$TEST_TMP/hang/pid'
wait"
PL_SCRIPTS_DIR=$TEST_TMP/scripts-hang pl_restart "script_timeout: 2s"
pl_publish 2.0
bad_case "hanging download script" "hello: download of 2.0 failed: the download script timed out after 2 s"
hang_pid=$(cat "$TEST_TMP/hang/pid")
[[ -n $hang_pid ]] || fail "the hanging download script did not start"
wait_until 10 test ! -e "/proc/$hang_pid" || fail "the hanging script's child $hang_pid survived"

# While a download runs (held back until the test opens a gate), the daemon
# answers requests: status says "downloading"; then the update completes.
install -m 0755 "$SRCDIR/scripts/download" "$TEST_TMP/scripts-hang/download-real"
install_script "$TEST_TMP/scripts-hang/download" "#!/bin/sh
while [ ! -e '$TEST_TMP/hang/go' ]; do sleep 0.05; done
exec '$TEST_TMP/scripts-hang/download-real'"
PL_SCRIPTS_DIR=$TEST_TMP/scripts-hang pl_restart "script_timeout: 60s"
assert_eq "$($DGRAM "$SOCK" x --reply)" queued "check request with a held download"
downloading() {
	[[ $(status_get 's["state"]') == downloading ]]
}
wait_until 20 downloading || fail "status never said downloading: $(status_json)"
for i in 1 2 3 4 5; do
	downloading || fail "status request $i during the download: $(status_json)"
done
touch "$TEST_TMP/hang/go"
wait_until 20 daemon_idle || fail "the held download did not end"
cmp -s "$TARGET" "$REL/hello-2.0" || fail "2.0 was not installed once the download went on"
echo "ok: status answered during a download"
pl_restart

# A version that is not newer is refused, and that is no failure.
pl_publish 3.0
pl_check
assert_eq "$PL_RC" 0 "update to 3.0 ($PL_OUT)"
cmp -s "$TARGET" "$REL/hello-3.0" || fail "3.0 was not installed"
pl_publish 2.5
bad_case "downgrade" "hello: refusing version 2.5: not newer than the installed 3.0" 0
once_case "downgrade" 0 "hello: refusing version 2.5: not newer than the installed 3.0"
assert_eq "$(pl_version)" 3.0 "version after the refused downgrade"
# An old signed manifest replayed: refused just the same.
cp -p "$TEST_TMP/manifest-1.0" "$REPO/manifest"
cp -p "$TEST_TMP/manifest-1.0.minisig" "$REPO/manifest.minisig"
bad_case "replayed 1.0 manifest" "hello: refusing version 1.0: not newer than the installed 3.0" 0

# A symlink planted at .hello.updater-prev is replaced, never written
# through; and the set-uid bit of the current file is not copied.
chmod 4755 "$TARGET"
printf 'precious\n' >"$TEST_TMP/victim"
chmod 0644 "$TEST_TMP/victim"
cp -p "$TEST_TMP/victim" "$TEST_TMP/victim.orig"
rm -f "$BIN/.hello.updater-prev"
ln -s "$TEST_TMP/victim" "$BIN/.hello.updater-prev"
pl_publish 4.0
pl_check
assert_eq "$PL_RC" 0 "update to 4.0 over a planted symlink ($PL_OUT)"
cmp -s "$TARGET" "$REL/hello-4.0" || fail "4.0 was not installed"
cmp -s "$TEST_TMP/victim" "$TEST_TMP/victim.orig" || fail "the symlink's victim was written"
[[ ! -L $BIN/.hello.updater-prev ]] || fail ".hello.updater-prev is still a symlink"
cmp -s "$BIN/.hello.updater-prev" "$REL/hello-3.0" || fail ".hello.updater-prev does not hold 3.0"
pl_no_staging "symlink at -prev"
assert_eq "$(stat -c %a "$TARGET")" 755 "mode of 4.0 (the old file was 4755)"
echo "ok: symlink at .hello.updater-prev, set-uid bit dropped"

wait_until 5 daemon_idle || fail "the daemon does not answer status at the end"
pl_stop
pass "every bad input refused"
