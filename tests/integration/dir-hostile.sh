#!/bin/bash
# Hostile archives for a directory target (SPEC section 18), each signed,
# published and offered to the real daemon like any release: each is refused
# with a log line that says why, and nothing changes on disk — not the
# releases, not `current`, not the directory outside that the archive aims
# at, not /etc/passwd; no temporary entry is left. The cases: an absolute
# name, a `../` name, a symlink pointing outside then a file written through
# it, a hard link to /etc/passwd, a device node, more than max_unpacked bytes
# (a compression bomb: 64 MiB of zeros in a few KiB), more than 100,000
# entries, a truncated archive, and an archive whose sha256 does not match
# its manifest. A set-uid file is not refused: it is installed without the bit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/dir-lib.sh"

HOSTILE="/usr/bin/python3 $SRCDIR/tests/integration/dir-hostile.py"

dl_setup
OUTSIDE=$TEST_TMP/outside
mkdir -m 0755 "$OUTSIDE"
DL_TARGET_LINES="    max_unpacked: 16MiB"
dl_config
pl_start
dl_publish 1.0
pl_check
assert_eq "$(dl_current)" 1.0 "the first release"

# Everything an archive could have changed: every name under opt/ and
# outside/ with its type, mode, size and inode; the bytes of every file; and
# /etc/passwd with its link count.
snapshot() {
	find "$OPT" "$OUTSIDE" -printf '%p %y %m %s %i %l\n' | sort
	find "$OPT" "$OUTSIDE" -type f -exec sha256sum {} + | sort
	stat -c '%h %i %s %Y' /etc/passwd
}

n=0
# refused CASE WHY-ERE [FILE]: publish FILE (a crafted CASE archive when not
# given) as the next version; the check must fail with WHY in the log, and
# nothing may change.
refused() {
	local case=$1 why=$2 file=${3:-}
	n=$((n + 1))
	local v=1.$n before after
	if [[ -z $file ]]; then
		file=$TEST_TMP/$case.tar
		$HOSTILE "$case" "$file" "$OUTSIDE" || fail "$case: cannot craft the archive"
	fi
	dl_publish_file "$v" "$file"
	[[ $case == sha256 ]] && corrupt "$v"
	before=$(snapshot)
	pl_mark
	PL_OUT=$("$UPDATERCTL" --socket "$SOCK" check --wait 120 2>&1)
	PL_RC=$?
	[[ $PL_RC -ne 0 ]] || fail "$case: the check succeeded: $PL_OUT"
	pl_log_has "shop: .*$why" || fail "$case: no log line matching '$why'"
	# What a refused archive left in its temporary directory is deleted in the background.
	dl_no_temporaries || fail "$case: temporaries left: $(dl_temporaries)"
	after=$(snapshot)
	[[ $before == "$after" ]] || fail "$case: the disk changed: $(diff <(echo "$before") <(echo "$after"))"
	assert_eq "$(dl_current)" 1.0 "$case: current"
	dl_runs_whole || fail "$case: current/bin/shop no longer runs"
	echo "$case: refused: $(tail -n +"$((PL_MARK + 1))" "$TEST_LOG" | grep -m1 -E "shop: .*$why" | sed 's/^<[0-9]>//')"
}

# corrupt VERSION: the published archive keeps its size but one byte changes.
corrupt() {
	local f
	f=$(find "$REPO" -name "shop-$1*" -type f)
	printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
}

refused absolute "archive of 1\.[0-9]+ refused: '/.*/planted' is an absolute name"
refused dotdot "archive of 1\.[0-9]+ refused: .* has a '\.\.' component"
refused symlink-out "archive of 1\.[0-9]+ refused: 'evil' is a symlink to '$OUTSIDE', outside the release"
refused hardlink-passwd "archive of 1\.[0-9]+ refused: 'passwd' is a hard link to '/etc/passwd'"
refused device "archive of 1\.[0-9]+ refused: 'null' is a device node"
refused bomb "archive of 1\.[0-9]+ refused: 'zeros' would make it unpack to more than max_unpacked \(16777216 bytes\)"
refused entries "archive of 1\.[0-9]+ refused: it has more than 100000 entries"
refused truncated "archive of 1\.[0-9]+ refused: the archive is damaged"
dl_release 1.99
tar -C "$REL/shop-1.99" -cf "$TEST_TMP/good.tar" .
refused sha256 "download of 1\.[0-9]+ rejected: sha256 of the download is [0-9a-f]{64}, the manifest says" "$TEST_TMP/good.tar"

# A set-uid file: installed, without the bit, and said so.
dl_release 2.0
$HOSTILE setuid "$TEST_TMP/setuid.tar" "$REL/shop-2.0" || fail "cannot craft the set-uid archive"
dl_publish_file 2.0 "$TEST_TMP/setuid.tar"
pl_mark
pl_check
assert_eq "$PL_RC" 0 "the set-uid release: $PL_OUT"
assert_eq "$(dl_current)" 2.0 "current after the set-uid release"
assert_eq "$(stat -c %a "$CURRENT/bin/shop")" 755 "mode of the set-uid file as installed"
pl_log_has 'shop: 2\.0: dropped the set-uid, set-gid or sticky bit of 1 entry' ||
	fail "no log line for the dropped set-uid bit"
dl_runs_whole || fail "the set-uid release does not run"
pl_stop
pass "$n hostile archives refused, a set-uid file installed without the bit"
