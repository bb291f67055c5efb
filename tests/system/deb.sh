#!/bin/bash
# tests/system/deb.sh - the Debian packages (SPEC 19): built from this tree
# with `dpkg-buildpackage -us -uc -b` (outside it), lintian clean of errors
# and warnings, then installed on a fresh copy of the cached Debian 12 root
# under a real systemd by following the README's steps literally: the
# sockets enabled and listening, the service not started by the package,
# the first request starting it, _updater created, the configuration a
# conffile, nothing failed; then purged cleanly.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"
sys_require
require_cmd dpkg-buildpackage dh lintian
new_tmpdir
start=$SECONDS

# --- build, outside the tree ---------------------------------------------
version=$(dpkg-parsechangelog -l "$SRCDIR/debian/changelog" -S Version)
src=$TEST_TMP/src/updater-$version
mkdir -p "$src"
tar -C "$SRCDIR" --exclude=./build --exclude=./.git --exclude=./autom4te.cache -cf - . | tar -C "$src" -xf -
# Not the make check running this test: its MAKEFLAGS carry TEST_LOGS, which
# would make the package's own test run (debian/rules) this whole suite,
# this test included, again and again.
(cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u SRCDIR -u BUILDDIR \
	-u top_srcdir -u top_builddir UPDATER_SYSTEM_NESTED=1 DEB_BUILD_OPTIONS="parallel=2" \
	nice -n 10 dpkg-buildpackage -us -uc -b) >"$TEST_TMP/build.log" 2>&1 ||
	fail "dpkg-buildpackage: $(tail -n 20 "$TEST_TMP/build.log")"
arch=$(dpkg --print-architecture)
for p in updater libupdater0 libupdater-dev; do
	[[ -f $TEST_TMP/src/${p}_${version}_$arch.deb ]] || fail "no $p package: $(ls "$TEST_TMP/src")"
done
echo "built after $((SECONDS - start)) s"
nice -n 10 lintian --pedantic -I "$TEST_TMP/src/updater_${version}_$arch.changes" >"$TEST_TMP/lintian.log" 2>&1
grep -E '^[EW]: ' "$TEST_TMP/lintian.log" && fail "lintian errors or warnings (above)"
echo "lintian: $(grep -c '^[IPX]: ' "$TEST_TMP/lintian.log") info/pedantic tags:"
grep -E '^[IPX]: ' "$TEST_TMP/lintian.log" | sed 's/^/  /'

# --- install on a fresh root, as the README says -------------------------
R=$TEST_TMP/root
sys_copy "$R"
mkdir -p "$R/root/src"
cp "$TEST_TMP/src/"*.deb "$R/root/"
sys_boot
trap 'sys_poweroff; _cleanup' EXIT
steps=$(awk '/^### From the Debian packages/ { on = 1; next } /^###? / { on = 0 } on && /^    / { sub(/^    /, ""); print }' "$SRCDIR/README.md")
[[ -n $steps ]] || fail "no install steps under '### From the Debian packages' in README.md"
ran=0
while IFS= read -r step; do
	case $step in
	apt-get\ install\ *build* | "apt-get install debhelper"* | dpkg-buildpackage*) continue ;; # the build, done above
	esac
	if [[ $step == updaterctl* ]]; then
		# Installed, before any request: the sockets listen, the service waits.
		for u in updaterd.socket updaterd-events.socket; do
			[[ $(unit_prop $u ActiveState) == active && $(in_root systemctl is-enabled $u) == enabled ]] ||
				fail "$u is not enabled and listening after the install"
		done
		[[ $(unit_prop updaterd.service ActiveState) == inactive ]] || fail "the package started updaterd.service"
	fi
	in_root_sh "cd /root/src && $step" >"$TEST_TMP/step.log" 2>&1 || fail "README step '$step': $(tail -n 20 "$TEST_TMP/step.log")"
	ran=$((ran + 1))
done <<<"$steps"
((ran >= 2)) || fail "the README's package steps ran $ran commands"
grep -q 'no targets checked\|never' "$TEST_TMP/step.log" || fail "updaterctl status after the install: $(cat "$TEST_TMP/step.log")"
[[ $(unit_prop updaterd.service ActiveState) == active ]] || fail "a request did not start updaterd.service"
in_root id _updater >/dev/null || fail "the package did not create _updater"
in_root dpkg-query -W -f='${Conffiles}' updater | grep -q '/etc/updater/updater.yaml' || fail "updater.yaml is not a conffile"
in_root updaterd --check-config >/dev/null 2>&1 || fail "the packaged configuration does not pass --check-config"
failed=$(in_root systemctl --failed --no-legend --plain)
[[ -z $failed ]] || fail "failed units after the install: $failed"
in_root journalctl -u updaterd -p warning --no-pager -q | grep -q . &&
	fail "warnings in the journal: $(in_root journalctl -u updaterd -p warning --no-pager -q)"
echo "installed per README: sockets listening, service started by the first request"

in_root apt-get purge -y -q updater libupdater0 >"$TEST_TMP/purge.log" 2>&1 || fail "purge: $(tail "$TEST_TMP/purge.log")"
[[ -e $R/lib/systemd/system/updaterd.service || -e $R/etc/updater/updater.yaml ]] && fail "files left after the purge"
[[ $(unit_prop updaterd.socket LoadState) == not-found ]] || fail "updaterd.socket still loaded after the purge"
sys_poweroff
echo "tests/system/deb.sh: $((SECONDS - start)) s"
pass
