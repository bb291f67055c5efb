#!/bin/bash
# bench/delta.sh - how small a delta between two real releases is, and how
# long it takes to apply.
#
#   bench/delta.sh [OLD NEW]   (commits; default: the two newest commits
#                               that changed daemon/ or client/)
#
# Builds updaterd and examples/hello-server from each commit (git archive
# into a temporary directory, the usual autotools build), publishes the two
# builds of each program with scripts/updater-publish, the second with
# --deltas 1, and prints for each: the full size, the delta's size, their
# ratio, and the time to apply the delta (zstd -d --patch-from, as the
# default download script does; median of 5), for the binaries as built
# (-g -O2, with debug information) and stripped (as a package ships them).
# Goal: a delta at most 20% of the full file for a patch release.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)

die() {
	echo "bench/delta.sh: $*" >&2
	exit 1
}
for c in zstd git dpkg strip; do
	command -v "$c" >/dev/null || die "needs $c"
done
if [[ $# -ge 2 ]]; then
	OLD=$1 NEW=$2
else
	read -r NEW OLD < <(git -C "$SRC" log -2 --format=%h -- daemon client | tr '\n' ' ')
fi
[[ -n ${OLD:-} && -n ${NEW:-} ]] || die "cannot find two commits"
OLD=$(git -C "$SRC" rev-parse --short "$OLD") || die "no commit $OLD"
NEW=$(git -C "$SRC" rev-parse --short "$NEW") || die "no commit $NEW"

TMP=$(mktemp -d /tmp/updater-bench-delta.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# build COMMIT: updaterd and hello-server of COMMIT into $TMP/rel/.
build() {
	local c=$1 dir=$TMP/src-$1
	mkdir -p "$dir" "$TMP/rel"
	git -C "$SRC" archive "$c" | tar -x -C "$dir" || die "git archive $c failed"
	(
		cd "$dir" && ./autogen.sh >/dev/null 2>&1 && mkdir b && cd b &&
			../configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var >/dev/null &&
			make -j"$(nproc)" updaterd examples/hello-server >/dev/null 2>&1
	) || die "cannot build $c (see $dir)"
	cp "$dir/b/updaterd" "$TMP/rel/updaterd-$c"
	# libtool's wrapper script, or the program itself.
	if [[ -x $dir/b/examples/.libs/hello-server ]]; then
		cp "$dir/b/examples/.libs/hello-server" "$TMP/rel/hello-server-$c"
	else
		cp "$dir/b/examples/hello-server" "$TMP/rel/hello-server-$c"
	fi
	for p in updaterd hello-server; do
		strip -o "$TMP/rel/$p-stripped-$c" "$TMP/rel/$p-$c"
	done
}

echo "building $OLD and $NEW ..." >&2
build "$OLD"
build "$NEW"

# apply_ms BASE DELTA: median of 5 runs of zstd -d --patch-from, in ms.
apply_ms() {
	local i t0 t1 all=()
	for i in 1 2 3 4 5; do
		t0=${EPOCHREALTIME/./}
		zstd -q -d -f --long=31 --patch-from="$1" -o "$TMP/out" -- "$2" || die "zstd -d failed"
		t1=${EPOCHREALTIME/./}
		all+=($((t1 - t0)))
	done
	printf '%s\n' "${all[@]}" | sort -n | sed -n 3p | awk '{ printf "%.1f", $1 / 1000 }'
}

echo "deltas from $OLD to $NEW ($(git -C "$SRC" log -1 --format=%s "$NEW" | cut -c1-60)...)"
printf '  %-22s %10s %10s %8s %10s %8s\n' program full delta ratio apply goal
for p in updaterd updaterd-stripped hello-server hello-server-stripped; do
	repo=$TMP/repo-$p
	"$SRC/scripts/updater-publish" --repo "$repo" --target "$p" --version 1.0 "$TMP/rel/$p-$OLD" >/dev/null ||
		die "updater-publish 1.0 of $p failed"
	"$SRC/scripts/updater-publish" --repo "$repo" --target "$p" --version 1.0.1 --deltas 1 \
		"$TMP/rel/$p-$NEW" >/dev/null || die "updater-publish 1.0.1 --deltas 1 of $p failed"
	full=$(sed -n 's/^size=//p' "$repo/manifest")
	line=$(grep '^delta-' "$repo/manifest") || {
		printf '  %-22s %10d %10s\n' "$p" "$full" "(none)"
		continue
	}
	dsize=$(echo "$line" | awk '{ print $2 }')
	delta=$repo/$(echo "$line" | sed 's/^delta-[0-9a-f]*=//; s/ .*//')
	cmp -s <(zstd -q -d -c --long=31 --patch-from="$repo/$p-1.0" -- "$delta") "$repo/$p-1.0.1" ||
		die "the delta of $p does not give the new file back"
	printf '  %-22s %10d %10d %7.1f%% %8s ms %8s\n' "$p" "$full" "$dsize" \
		"$(echo "100 * $dsize / $full" | bc -l)" "$(apply_ms "$repo/$p-1.0" "$delta")" "<= 20%"
done
