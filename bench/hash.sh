#!/bin/bash
# bench/hash.sh - how fast updaterd hashes a large target, against openssl.
#
#   bench/hash.sh [BUILDDIR] [N]   (default: $BUILDDIR, else ./build; N 3)
#
# Run as root, from a build without --enable-sanitizers. A 1 GiB file of
# random bytes (warm in the page cache) is the target of a daemon that has
# never seen it, so `updaterd --once` must read and hash all of it (in its
# hash thread) before it runs the check script, which prints nothing. The
# same run on a 1-byte target is the fixed cost (start-up, the script); the
# difference is the hashing. Printed beside `openssl dgst -sha256` and
# `sha256sum` on the same file. Goal: the daemon within 10% of openssl.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILDDIR=${1:-${BUILDDIR:-$SRC/build}}
N=${2:-3}
UPDATERD=$BUILDDIR/updaterd
SIZE=$((1024 * 1024 * 1024))

die() {
	echo "bench/hash.sh: $*" >&2
	exit 1
}
[[ -x $UPDATERD ]] || die "no updaterd at '$UPDATERD' (pass the build directory)"
[[ $(id -u) -eq 0 ]] || die "run as root"
command -v openssl >/dev/null || die "needs openssl"
TMP=$(mktemp -d /tmp/updater-bench.XXXXXX)
chmod 0755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
mkdir -m 0755 "$TMP/scripts" "$TMP/bin"
# The check tells what the daemon found (UPDATER_SHA256), and offers nothing.
: >"$TMP/seen"
chmod 0666 "$TMP/seen"
printf '#!/bin/sh\necho "$UPDATER_SHA256" >%s\nexit 0\n' "$TMP/seen" >"$TMP/scripts/check"
cp "$TMP/scripts/check" "$TMP/scripts/download"
chmod 0755 "$TMP/scripts/check" "$TMP/scripts/download"
head -c "$SIZE" /dev/urandom >"$TMP/bin/big"
printf x >"$TMP/bin/small"

config() {
	cat <<YAML
socket: $TMP/control.sock
scripts_dir: $TMP/scripts
state_dir: $TMP/state-$1
interval: 0
script_user: nobody
targets:
  - name: hello
    path: $TMP/bin/$1
    source: file:///nonexistent
YAML
}
config big >"$TMP/big.yaml"
config small >"$TMP/small.yaml"

now() { echo "${EPOCHREALTIME/./}"; }
# time_us CMD...: microseconds CMD took.
time_us() {
	local t0 t1
	t0=$(now)
	"$@" >/dev/null 2>&1 || die "'$*' failed"
	t1=$(now)
	echo $((t1 - t0))
}
# A run of the daemon that must hash its target: its state is gone.
once() {
	rm -rf "$TMP/state-$1"
	"$UPDATERD" -c "$TMP/$1.yaml" --once
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

cat "$TMP/bin/big" >/dev/null # warm
declare -A t
for name in openssl sha256sum big small; do t[$name]=; done
for ((i = 0; i < N; i++)); do
	t[openssl]+="$(time_us openssl dgst -sha256 "$TMP/bin/big") "
	t[sha256sum]+="$(time_us sha256sum "$TMP/bin/big") "
	t[big]+="$(time_us once big) "
	[[ $(cat "$TMP/seen") == "$(openssl dgst -sha256 -r "$TMP/bin/big" | cut -d ' ' -f 1)" ]] ||
		die "the daemon's sha256 is not openssl's"
	t[small]+="$(time_us once small) "
done
rate() { echo "scale=0; $SIZE / $1" | bc; } # bytes per microsecond = MB/s
daemon=$(($(median <<<"${t[big]}") - $(median <<<"${t[small]}")))
echo "SHA-256 of a 1 GiB file (warm page cache, $(nproc) CPUs, median of $N):"
printf '  %-22s %5d MB/s\n' "openssl dgst -sha256" "$(rate "$(median <<<"${t[openssl]}")")"
printf '  %-22s %5d MB/s\n' "sha256sum" "$(rate "$(median <<<"${t[sha256sum]}")")"
printf '  %-22s %5d MB/s   (updaterd --once on 1 GiB minus on 1 byte)\n' "updaterd" "$(rate "$daemon")"
printf '  updaterd / openssl     %.2f   goal >= 0.90\n' "$(echo "$(median <<<"${t[openssl]}") / $daemon" | bc -l)"
