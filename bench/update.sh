#!/bin/bash
# bench/update.sh - how long updaterd takes to apply a 100 MiB update.
#
#   bench/update.sh [BUILDDIR] [N]   (default: $BUILDDIR, else ./build; N 5)
#
# Use a build without --enable-sanitizers; run as root. Needs curl, minisign
# and strace. The update is real: the default scripts (scripts/check and
# scripts/download, installed root-owned 0755 in a temporary scripts_dir),
# a file:// repository, a manifest published by scripts/updater-publish and
# signed with a minisign key made for the run, scripts run as nobody.
#
# Three ways to put a new 100 MiB release in place, interleaved, each run
# once to warm up and then N times (the medians and minimums are printed):
#   baseline    curl -s file://REPO/RELEASE >DIR/tmp && sha256sum DIR/tmp &&
#               mv DIR/tmp DIR/hello, DIR being the target's directory
#   baseline+fsync  the same with `sync DIR/tmp` (an fsync) before the mv:
#               what the daemon must do anyway to survive a crash
#   fastest     the fastest shell baseline: curl, `openssl dgst -sha256`
#               (the CPU's SHA instructions, as the daemon's libcrypto), mv
#   once        wall time of `updaterd --once` from start to exit (check,
#               download, verify, fsync, swap, state), run on the file the
#               previous update of the daemon installed: its identity is in
#               the state, so it is not read again (the steady state)
#   once-foreign  the same, right after the baseline's mv replaced the file
#               behind the daemon's back: the daemon must read the whole
#               installed file first, to learn its sha256 (UPDATER_SHA256)
#   request     a running daemon: from the check request to the "updated"
#               notification
# Goals: the updater at most 1.3 times the baseline, and at most 1.0 times
# the fastest shell baseline (issue 13). The files are warm: the
# release was just written by updater-publish and the installed file was
# just written or read, so the page cache holds both for every method.
# Last, one `updaterd --once` under `strace -f -c -w` shows where the wall
# time of the system calls goes (the daemon and its scripts together).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILDDIR=${1:-${BUILDDIR:-$SRC/build}}
N=${2:-5}
UPDATERD=$BUILDDIR/updaterd
PY=/usr/bin/python3
SIZE=$((100 * 1024 * 1024))

die() {
	echo "bench/update.sh: $*" >&2
	exit 1
}
[[ -x $UPDATERD ]] || die "no updaterd at '$UPDATERD' (pass the build directory)"
[[ $(id -u) -eq 0 ]] || die "run as root"
for c in curl minisign strace sha256sum openssl; do
	command -v "$c" >/dev/null || die "needs $c"
done
if ldd "$UPDATERD" 2>/dev/null | grep -q -E 'libasan|libubsan'; then
	die "'$UPDATERD' is a sanitizer build: configure another build directory without --enable-sanitizers"
fi

TMP=$(mktemp -d /tmp/updater-bench.XXXXXX)
chmod 0755 "$TMP"
DAEMON=
cleanup() {
	if [[ -n $DAEMON ]]; then
		kill -KILL "$DAEMON" 2>/dev/null
		wait "$DAEMON" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

REPO=$TMP/repo
BIN=$TMP/bin
TARGET=$BIN/hello
SOCK=$TMP/control.sock
LOG=$TMP/updaterd.log
mkdir -m 0755 "$TMP/scripts" "$BIN" "$REPO"
install -m 0755 -o root -g root "$SRC/scripts/check" "$SRC/scripts/download" "$TMP/scripts/"
minisign -G -W -p "$TMP/key.pub" -s "$TMP/key.sec" >/dev/null 2>&1 || die "minisign -G failed"
cat >"$TMP/updater.yaml" <<YAML
socket: $SOCK
scripts_dir: $TMP/scripts
state_dir: $TMP/state
interval: 0
min_interval: 0
script_user: nobody
max_download: 1GiB
trusted_keys:
  - $(sed -n 2p "$TMP/key.pub")
targets:
  - name: hello
    path: $TARGET
    source: file://$REPO
YAML

# Releases: one random file, stamped with the version at a few offsets.
head -c "$SIZE" /dev/urandom >"$TMP/release"
version=0
last_release=
# publish: the next version into the repository (signed), the previous
# release file dropped; sets RELEASE to its path.
publish() {
	local off
	version=$((version + 1))
	for off in 0 $((SIZE / 2)) $((SIZE - 16)); do
		printf '%016d' "$version" | dd of="$TMP/release" bs=1 seek="$off" conv=notrunc status=none
	done
	"$SRC/scripts/updater-publish" --repo "$REPO" --target hello --version "1.$version" \
		--key "$TMP/key.sec" "$TMP/release" >/dev/null || die "updater-publish failed"
	[[ -n $last_release ]] && rm -f "$last_release"
	RELEASE=$REPO/hello-1.$version
	last_release=$RELEASE
}

now_ns() {
	echo "${EPOCHREALTIME/./}000"
}

installed() {
	cmp -s "$TARGET" "$RELEASE" || die "$1: the target is not release 1.$version: $(tail -n 5 "$LOG")"
}

publish
cp "$RELEASE" "$TARGET"
chmod 0755 "$TARGET"

# Each sets ELAPSED to the seconds it took.
run_baseline() {
	local t0 t1
	t0=$(now_ns)
	curl -s "file://$RELEASE" >"$BIN/tmp" && sha256sum "$BIN/tmp" >/dev/null && mv "$BIN/tmp" "$TARGET" ||
		die "baseline failed"
	t1=$(now_ns)
	installed baseline
	ELAPSED=$(echo "($t1 - $t0) / 1000000000" | bc -l)
}

run_baseline_fsync() {
	local t0 t1
	t0=$(now_ns)
	curl -s "file://$RELEASE" >"$BIN/tmp" && sha256sum "$BIN/tmp" >/dev/null && sync "$BIN/tmp" &&
		mv "$BIN/tmp" "$TARGET" || die "baseline+fsync failed"
	t1=$(now_ns)
	installed baseline+fsync
	ELAPSED=$(echo "($t1 - $t0) / 1000000000" | bc -l)
}

run_fastest() {
	local t0 t1
	t0=$(now_ns)
	curl -s "file://$RELEASE" >"$BIN/tmp" && openssl dgst -sha256 "$BIN/tmp" >/dev/null &&
		mv "$BIN/tmp" "$TARGET" || die "fastest baseline failed"
	t1=$(now_ns)
	installed fastest
	ELAPSED=$(echo "($t1 - $t0) / 1000000000" | bc -l)
}

run_once_foreign() {
	run_once
}

run_once() {
	local t0 t1
	t0=$(now_ns)
	"$UPDATERD" -c "$TMP/updater.yaml" --once >>"$LOG" 2>&1 || die "updaterd --once failed: $(tail -n 5 "$LOG")"
	t1=$(now_ns)
	installed --once
	ELAPSED=$(echo "($t1 - $t0) / 1000000000" | bc -l)
}

# A running daemon (started and its start-up over before the clock runs).
run_request() {
	local s
	"$UPDATERD" -c "$TMP/updater.yaml" >>"$LOG" 2>&1 &
	DAEMON=$!
	for _ in $(seq 500); do
		$PY "$SRC/tests/integration/dgram.py" "$SOCK" status --reply --timeout 0.2 >/dev/null 2>&1 && break
		sleep 0.02
	done
	s=$($PY - "$SOCK" "1.$version" <<'PYEOF'
import os, socket, sys, time
ev = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ev.connect(os.path.join(os.path.dirname(sys.argv[1]), "events.sock"))
ev.settimeout(120)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("")
t0 = time.monotonic()
s.sendto(b"check", sys.argv[1])
want = ("updated hello " + sys.argv[2]).encode()
while ev.recv(4096) != want:
    pass
print("%.6f" % (time.monotonic() - t0))
PYEOF
	) || die "no 'updated' notification: $(tail -n 5 "$LOG")"
	kill -TERM "$DAEMON"
	wait "$DAEMON"
	DAEMON=
	installed request
	ELAPSED=$s
}

declare -A times
# The order matters: once_foreign follows the baseline's mv, request follows
# a daemon's update (its start-up is not timed anyway), once follows request.
METHODS="baseline baseline_fsync fastest once_foreign request once"
for m in $METHODS; do times[$m]=; done
for ((i = 0; i <= N; i++)); do
	for m in $METHODS; do
		publish
		sync # a clean page cache: no dirty pages from the publication in the timed runs
		"run_$m"
		((i == 0)) && continue # warm-up
		times[$m]+="$ELAPSED "
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
minimum() { tr ' ' '\n' | grep . | sort -g | head -n 1; }

echo "updaterd: apply a $((SIZE / 1024 / 1024)) MiB update ($UPDATERD, $(nproc) CPUs, $(df --output=fstype "$BIN" | tail -n 1) at $BIN)"
echo "signed manifest, default scripts, file:// repository, warm page cache, $N runs each after one warm-up"
echo
declare -A med
for m in $METHODS; do
	med[$m]=$(median <<<"${times[$m]}")
	label=${m/_fsync/+fsync}
	printf '  %-16s median %6.3f s   min %6.3f s   (%s)\n' "${label/_/-}" "${med[$m]}" \
		"$(minimum <<<"${times[$m]}")" "$(echo ${times[$m]} | xargs printf '%.3f ')"
done
echo
for m in once once_foreign request; do
	printf '  %-12s / baseline        %.2f   goal <= 1.30\n' "${m/_/-}" "$(echo "${med[$m]} / ${med[baseline]}" | bc -l)"
	printf '  %-12s / baseline+fsync  %.2f\n' "${m/_/-}" "$(echo "${med[$m]} / ${med[baseline_fsync]}" | bc -l)"
	printf '  %-12s / fastest         %.2f   goal <= 1.00\n' "${m/_/-}" "$(echo "${med[$m]} / ${med[fastest]}" | bc -l)"
done

echo
echo "one 'updaterd --once' under strace (daemon and scripts; tracing slows it down):"
publish
sync
strace -f -ttt -T -e trace=execve,openat,fsync,renameat,exit_group -o "$TMP/trace.out" \
	"$UPDATERD" -c "$TMP/updater.yaml" --once >>"$LOG" 2>&1 || die "updaterd --once under strace failed"
installed strace
# The first time each step is seen, relative to the daemon's execve.
awk -v target="$TARGET" -v scripts="$TMP/scripts" '
	function at(name) { if (!(name in t)) { t[name] = $2; order[++n] = name } }
	NR == 1 { t0 = $2 }
	index($0, "openat(") && index($0, "\"" target "\"") && !("check" in t) { at("hashes the installed file") }
	index($0, "execve(\"" scripts "/check\"") { at("check script starts") }
	index($0, "execve(\"" scripts "/download\"") { at("download script starts") }
	/fsync\(/ && ("download script starts" in t) && !("staging fsync" in t) {
		at("staging fsync"); match($0, /<[0-9.]+>/); fs = substr($0, RSTART + 1, RLENGTH - 2)
	}
	/renameat\(.*\.updater-[A-Za-z0-9]+", [0-9A-Z_]+, "hello"/ { at("rename into place") }
	{ last = $2 }
	END {
		for (i = 1; i <= n; i++) printf "  %+8.3f s  %s\n", t[order[i]] - t0, order[i]
		printf "  %+8.3f s  exit\n", last - t0
		if (fs != "") printf "  (the staging fsync itself took %.3f s)\n", fs
	}' "$TMP/trace.out"
echo
echo "another run's system calls by wall time (strace -f -c -w; top 6):"
publish
sync
strace -f -c -w -o "$TMP/strace.out" "$UPDATERD" -c "$TMP/updater.yaml" --once >>"$LOG" 2>&1 ||
	die "updaterd --once under strace failed"
installed strace
sed -n '1,8p' "$TMP/strace.out" | sed 's/^/  /'

# --- directory targets (SPEC section 18) -----------------------------------
# A 2,000-file, 100 MiB release (20 directories of 100 random 50 KiB files),
# published by updater-publish as tar.zst, against the shell baseline:
#   baseline-dir  curl -s file://ARCHIVE >tmp && sha256sum tmp && mkdir
#                 releases/V && tar -x -f tmp -C releases/V && ln -sfn
#                 releases/V current.tmp && mv -T current.tmp current
#   baseline-dir+sync  the same with `sync -f` of the new release (one
#                 syncfs) before the switch: durable, as the daemon must be
#   once-dir      `updaterd --once` start to exit (check, download, verify,
#                 unpack with every entry checked, fsync of every file and
#                 directory, rename, switch, state)
# Goal: once-dir at most 1.3 times baseline-dir. Then the switch itself:
# from the rename of the new symlink over `current` to the first open of a
# file through `current` that finds the new release (a reader polling in a
# loop), and the rename and the directory fsync as strace -T times them;
# goal under 1 ms.
echo
echo "directory target: a 2,000-file, 100 MiB release (tar.zst)"
DREL=$TMP/dir-release
DOPT=$TMP/opt
mkdir -p "$DOPT/base-releases"
for d in $(seq -w 0 19); do
	mkdir -p "$DREL/d$d"
	for f in $(seq -w 0 99); do
		head -c 51200 /dev/urandom >"$DREL/d$d/f$f"
	done
done
chmod -R go+rX "$DREL"
sed -e "s|^state_dir: .*|state_dir: $TMP/dir-state|" -e '/^targets:/,$d' "$TMP/updater.yaml" >"$TMP/dir.yaml"
cat >>"$TMP/dir.yaml" <<YAML
targets:
  - name: shop
    type: directory
    path: $DOPT/current
    source: file://$TMP/dir-repo
YAML
dversion=0
dpublish() {
	dversion=$((dversion + 1))
	echo "$dversion" >"$DREL/VERSION"
	rm -f "$TMP/dir-repo"/shop-*.tar.zst
	"$SRC/scripts/updater-publish" --repo "$TMP/dir-repo" --target shop --version "$dversion" \
		--key "$TMP/key.sec" "$DREL" >/dev/null || die "updater-publish (directory) failed"
	DARCHIVE=$TMP/dir-repo/shop-$dversion.tar.zst
}
dinstalled() {
	[[ $(cat "$1/VERSION" 2>/dev/null) == "$dversion" ]] || die "$2: '$1' is not release $dversion"
}
run_baseline_dir() {
	local t0 t1 nr=$DOPT/base-releases/$dversion
	t0=$(now_ns)
	curl -s "file://$DARCHIVE" >"$DOPT/tmp" && sha256sum "$DOPT/tmp" >/dev/null && mkdir "$nr" &&
		tar -x -f "$DOPT/tmp" -C "$nr" && ln -sfn "$nr" "$DOPT/base.tmp" && mv -T "$DOPT/base.tmp" "$DOPT/base" ||
		die "baseline-dir failed"
	t1=$(now_ns)
	dinstalled "$DOPT/base" baseline-dir
	rm -rf "$DOPT/tmp" "$(ls -d "$DOPT"/base-releases/* | grep -v "/$dversion\$")"
	ELAPSED=$(echo "($t1 - $t0) / 1000000000" | bc -l)
}
run_baseline_dir_sync() {
	local t0 t1 nr=$DOPT/base-releases/$dversion
	t0=$(now_ns)
	curl -s "file://$DARCHIVE" >"$DOPT/tmp" && sha256sum "$DOPT/tmp" >/dev/null && mkdir "$nr" &&
		tar -x -f "$DOPT/tmp" -C "$nr" && sync -f "$nr" && ln -sfn "$nr" "$DOPT/base.tmp" &&
		mv -T "$DOPT/base.tmp" "$DOPT/base" || die "baseline-dir+sync failed"
	t1=$(now_ns)
	dinstalled "$DOPT/base" baseline-dir+sync
	rm -rf "$DOPT/tmp" "$(ls -d "$DOPT"/base-releases/* | grep -v "/$dversion\$")"
	ELAPSED=$(echo "($t1 - $t0) / 1000000000" | bc -l)
}
run_once_dir() {
	local t0 t1
	t0=$(now_ns)
	"$UPDATERD" -c "$TMP/dir.yaml" --once >>"$LOG" 2>&1 || die "updaterd --once (directory) failed: $(tail -n 5 "$LOG")"
	t1=$(now_ns)
	dinstalled "$DOPT/current" once-dir
	ELAPSED=$(echo "($t1 - $t0) / 1000000000" | bc -l)
}
DMETHODS="baseline_dir baseline_dir_sync once_dir"
for m in $DMETHODS; do times[$m]=; done
for ((i = 0; i <= N; i++)); do
	for m in $DMETHODS; do
		dpublish
		sync
		"run_$m"
		((i == 0)) && continue
		times[$m]+="$ELAPSED "
	done
done
for m in $DMETHODS; do
	med[$m]=$(median <<<"${times[$m]}")
	label=${m//_/-}
	printf '  %-18s median %6.3f s   min %6.3f s   (%s)\n' "${label/-sync/+sync}" "${med[$m]}" \
		"$(minimum <<<"${times[$m]}")" "$(echo ${times[$m]} | xargs printf '%.3f ')"
done
printf '  once-dir / baseline-dir        %.2f   goal <= 1.30\n' "$(echo "${med[once_dir]} / ${med[baseline_dir]}" | bc -l)"
printf '  once-dir / baseline-dir+sync   %.2f\n' "$(echo "${med[once_dir]} / ${med[baseline_dir_sync]}" | bc -l)"

# The switch: a reader opens current/VERSION in a loop and notes when it
# first reads the new release; strace notes when the rename returned.
dpublish
sync
$PY - "$DOPT/current/VERSION" "$dversion" >"$TMP/reader.out" <<'PYEOF' &
import sys, time
path, want = sys.argv[1], sys.argv[2]
deadline = time.time() + 120
while time.time() < deadline:
    try:
        with open(path) as f:
            if f.read().strip() == want:
                print("%.6f" % time.time())
                break
    except OSError:
        pass
PYEOF
READER=$!
strace -f -ttt -T -e trace=renameat,renameat2,fsync -o "$TMP/switch.out" \
	"$UPDATERD" -c "$TMP/dir.yaml" --once >>"$LOG" 2>&1 || die "updaterd --once (switch) failed"
wait "$READER"
$PY - "$TMP/switch.out" "$(cat "$TMP/reader.out")" <<'PYEOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
seen = float(sys.argv[2])
for i, l in enumerate(lines):
    m = re.match(r'\d+\s+([\d.]+) renameat2?\(.*"\.current\.updater-\w+", .*"current".*<([\d.]+)>', l)
    if m:
        start, dur = float(m.group(1)), float(m.group(2))
        fs = next((re.search(r'<([\d.]+)>', x) for x in lines[i + 1:] if 'fsync(' in x), None)
        print("  switch: rename %.3f ms, then the directory fsync %.3f ms (strace -T)" % (dur * 1e3, float(fs.group(1)) * 1e3 if fs else -1))
        print("  switch: rename returned -> a reader through current sees the new release: %.3f ms   goal < 1 ms" % ((seen - start - dur) * 1e3))
        break
else:
    print("  switch: no rename of the symlink found in the trace")
PYEOF
