#!/bin/bash
# root.sh - the Debian 12 root that tests/system boots, made once and cached.
#
#   tests/system/root.sh [CACHE_DIR]
#
# Prints the path of a ready root (CACHE_DIR/debian12, default
# /var/cache/updater-test). The first call debootstraps it (minbase plus
# systemd and the project's runtime libraries) from the mirror the machine's
# own apt uses; later calls only check its stamp. The root is made in a
# temporary directory and renamed into place when complete, so an interrupted
# run never leaves a half-made root behind. Nothing in the cache is ever
# booted: each test run boots a copy.
set -euo pipefail

cache=${1:-${UPDATER_SYSTEM_CACHE:-/var/cache/updater-test}}
suite=bookworm
# What the booted system needs: systemd as PID 1, the journal, the daemon's
# libraries, curl for the default scripts, and the .deb's dependencies.
# No procps: the units must need nothing outside the project (no /bin/kill).
include=systemd,systemd-sysv,dbus,libyaml-0-2,libsodium23,libssl3,libarchive13,curl,ca-certificates,zstd,man-db
root=$cache/debian12
stamp="suite=$suite include=$include"

if [[ -f $root/.updater-root && $(cat "$root/.updater-root") == "$stamp" ]]; then
	echo "$root"
	exit 0
fi

# The machine's own mirror: the first Debian (not security) URI in its apt
# sources, deb822 or one-line style.
mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -r $f ]] || continue
		if [[ $f == *.sources ]]; then
			uri=$(awk '
				/^[ \t]*$/ { if (u != "" && s ~ /(^| )'"$suite"'( |$)/) { print u; exit } u = ""; s = ""; next }
				/^URIs:/ { u = $2 } /^Suites:/ { $1 = ""; s = $0 }
				END { if (u != "" && s ~ /(^| )'"$suite"'( |$)/) print u }' "$f" | head -n 1)
		else
			uri=$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i + 1) == "'"$suite"'") { print $i; exit } }' "$f")
		fi
		if [[ -n $uri && $uri != *security* ]]; then
			echo "${uri%/}"
			return 0
		fi
	done
	echo http://deb.debian.org/debian
}

mkdir -p "$cache"
# One maker at a time (tests run in parallel); the others then find it ready.
exec 9>"$cache/.lock"
flock 9
if [[ -f $root/.updater-root && $(cat "$root/.updater-root") == "$stamp" ]]; then
	echo "$root"
	exit 0
fi
url=$(mirror)
tmp=$(mktemp -d "$cache/.debian12.XXXXXX")
# Its / : mktemp makes it 0700, which would lock every user but root out.
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "root.sh: debootstrap $suite from $url into $root (once; cached afterwards)" >&2
start=$SECONDS
if ! debootstrap --variant=minbase --include="$include" "$suite" "$tmp" "$url" >"$cache/debootstrap.log" 2>&1; then
	tail -n 20 "$cache/debootstrap.log" >&2
	echo "root.sh: debootstrap failed (log: $cache/debootstrap.log)" >&2
	exit 1
fi
# A booted copy must come up quietly and alone: no getty on a console nobody
# reads, a machine-id made at each boot, no network to wait for.
rm -f "$tmp/etc/machine-id" && : >"$tmp/etc/machine-id"
ln -sf /dev/null "$tmp/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$tmp/etc/systemd/system/getty@.service"
ln -sf /dev/null "$tmp/etc/systemd/system/systemd-networkd-wait-online.service"
apt-get -o RootDir="$tmp" clean >/dev/null 2>&1 || rm -rf "$tmp"/var/cache/apt/archives/*.deb
echo "$stamp" >"$tmp/.updater-root"
rm -rf "$root"
mv "$tmp" "$root"
trap - EXIT
echo "root.sh: root ready in $((SECONDS - start)) s" >&2
echo "$root"
