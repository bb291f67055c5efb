#!/bin/bash
# What `make install` writes besides programs (SPEC 2, 19): the units in the
# unit directory of the configured prefix (not pkg-config's /lib/systemd/system),
# the sysusers.d file declaring _updater, the default configuration when
# there is none and never over a local one, the drop-in directory, the
# manual pages; `make uninstall` removes the configuration only unchanged.
. "$(dirname "$0")/lib.sh"
require_cmd make
new_tmpdir
D=$TEST_TMP/dest
# uninstall expects the program directories that install-data does not make.
mk() {
	mkdir -p "$D$prefix"/{bin,sbin,lib/pkgconfig,include}
	make -s -C "$BUILDDIR" "$@" DESTDIR="$D" >"$TEST_TMP/make.log" 2>&1 || fail "make $*: $(cat "$TEST_TMP/make.log")"
}
prefix=$(sed -n "s/^prefix = //p" "$BUILDDIR/Makefile")
unitdir=$(sed -n "s/^systemdsystemunitdir = //p" "$BUILDDIR/Makefile")
[[ -n $prefix ]] || fail "no prefix in the Makefile"
[[ $unitdir == "\${prefix}/lib/systemd/system" || $unitdir == "$prefix/lib/systemd/system" ]] ||
	fail "the unit directory does not follow --prefix: '$unitdir'"

mk install-data
for f in "$prefix/lib/systemd/system/updaterd.service" "$prefix/lib/systemd/system/updaterd.socket" \
	"$prefix/lib/systemd/system/updaterd-events.socket" \
	"$prefix/lib/sysusers.d/updater.conf" "$prefix/share/man/man5/updater.yaml.5"; do
	[[ -f $D$f ]] || fail "'$f' not installed: $(cd "$D" && find . -type f | sort)"
done
grep -qE '^u +_updater ' "$D$prefix/lib/sysusers.d/updater.conf" || fail "the sysusers file does not declare _updater"
# The configuration file and drop-ins, wherever --sysconfdir put them.
config=$(grep -o -- '-c [^ ]*' "$D$prefix/lib/systemd/system/updaterd.service" | head -n 1 | cut -d' ' -f2)
[[ -f $D$config ]] || fail "no default configuration at '$config'"
[[ -d $D${config%.yaml}.d ]] || fail "no drop-in directory '${config%.yaml}.d'"
cmp -s "$D$config" "$BUILDDIR/etc/updater.yaml" || fail "the installed configuration is not the default"
grep -q '^targets:' "$D$config" && fail "the default configuration names targets"

# A local configuration survives a second install, and uninstall.
echo "interval: 1h" >>"$D$config"
cp "$D$config" "$TEST_TMP/local.yaml"
mk install-data
cmp -s "$D$config" "$TEST_TMP/local.yaml" || fail "make install replaced a local configuration"
mk uninstall
[[ -f $D$config ]] || fail "make uninstall removed a changed configuration"
[[ -e $D$prefix/lib/systemd/system/updaterd.service ]] && fail "make uninstall left the unit"
# An unchanged one goes with uninstall.
rm -f "$D$config"
mk install-data
mk uninstall
[[ -e $D$config ]] && fail "make uninstall left the unchanged default configuration"
pass
