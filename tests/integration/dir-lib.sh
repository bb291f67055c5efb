# shellcheck shell=bash
# dir-lib.sh - shared set-up for the dir-*.sh integration tests of directory
# targets (SPEC section 18), sourced after lib.sh, daemon-lib.sh and
# pipeline-lib.sh.
#
# dl_setup creates, inside a fresh $TEST_TMP (see pl_setup for the rest):
#   opt/current        the target's path ($CURRENT), a symlink the daemon owns
#   opt/releases/      its releases ($RELEASES)
#   rel/shop-V/        release trees made by dl_release: bin/shop, lib/libshop.so,
#                      share/data, each stamped with V (tests/integration/dir-shop.c)
# and the configuration of one directory target "shop" (dl_config).
dl_setup() {
	pl_setup
	require_cmd cc tar zstd
	OPT=$TEST_TMP/opt
	CURRENT=$OPT/current
	RELEASES=$OPT/releases
	mkdir -m 0755 "$OPT"
}

# dl_release VERSION [DATA]: the release tree $REL/shop-VERSION (DATA: the
# data file's contents, VERSION when not given).
dl_release() {
	local v=$1 d=$REL/shop-$1
	[[ -d $d ]] && return 0
	mkdir -p "$d/bin" "$d/lib" "$d/share"
	cc -O1 -shared -fPIC -DSHOP_LIB -DSHOP_VERSION="\"$v\"" "$SRCDIR/tests/integration/dir-shop.c" \
		-o "$d/lib/libshop.so" || fail "cannot build libshop $v"
	cc -O1 -DSHOP_VERSION="\"$v\"" "$SRCDIR/tests/integration/dir-shop.c" -L"$d/lib" -lshop \
		-Wl,-rpath,'$ORIGIN/../lib' -o "$d/bin/shop" || fail "cannot build shop $v"
	echo "${2:-$v}" >"$d/share/data"
	chmod -R go+rX "$d"
}

# dl_publish VERSION [updater-publish options...]: a signed release of shop
# made from $REL/shop-VERSION by updater-publish.
dl_publish() {
	local v=$1
	shift
	dl_release "$v"
	"$SRCDIR/scripts/updater-publish" --repo "$REPO" --target shop --version "$v" \
		--key "$KEYS/sec" "$@" "$REL/shop-$v" >/dev/null || fail "updater-publish $v failed"
}

# dl_publish_file VERSION FILE: FILE (a crafted archive) as release VERSION.
dl_publish_file() {
	"$SRCDIR/scripts/updater-publish" --repo "$REPO" --target shop --version "$1" \
		--key "$KEYS/sec" "$2" >"$TEST_TMP/publish.out" 2>&1 ||
		fail "updater-publish $1 ($2) failed: $(cat "$TEST_TMP/publish.out")"
}

# dl_config [top-level YAML lines...]: (re)write $CONFIG with the one
# directory target; DL_TARGET_LINES: extra lines for it.
dl_config() {
	{
		echo "socket: $SOCK"
		echo "scripts_dir: $SCRIPTS"
		echo "state_dir: $TEST_TMP/state"
		echo "interval: 0"
		echo "min_interval: 0"
		echo "script_user: nobody"
		echo "script_timeout: 60s"
		printf '%s\n' "$@"
		echo "trusted_keys:"
		echo "  - $PUBKEY"
		echo "targets:"
		echo "  - name: shop"
		echo "    type: directory"
		echo "    path: $CURRENT"
		echo "    source: file://$REPO"
		if [[ -n ${DL_TARGET_LINES:-} ]]; then
			printf '%s\n' "$DL_TARGET_LINES"
		fi
	} >"$CONFIG"
}

# dl_current: the release $CURRENT names ("" when none).
dl_current() {
	local t
	t=$(readlink "$CURRENT" 2>/dev/null) || { echo ""; return; }
	echo "${t#"$RELEASES"/}"
}

# dl_releases: the release directories, sorted, space-separated (not the
# temporary names of releases being unpacked or deleted).
dl_releases() {
	find "$RELEASES" -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%f\n' 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//'
}

# dl_temporaries: temporary entries left in $RELEASES or beside $CURRENT.
dl_temporaries() {
	find "$RELEASES" "$OPT" -mindepth 1 -maxdepth 1 -name '.*.updater-*' -printf '%p\n' 2>/dev/null
}

# dl_no_temporaries: none (old releases and refused ones are deleted in the
# background: give it 60 s, for 100,000 files on a busy machine).
dl_no_temporaries() {
	_dl_none() { [[ -z $(dl_temporaries) ]]; }
	wait_until 60 _dl_none
}

# dl_runs_whole: `current/bin/shop` runs, and its three files are of one release.
dl_runs_whole() {
	local out
	out=$("$CURRENT/bin/shop") || return 1
	[[ $out =~ ^bin=([^ ]+)\ lib=([^ ]+)\ data=([^ ]+)$ ]] || return 1
	[[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" && ${BASH_REMATCH[1]} == "${BASH_REMATCH[3]}" ]]
}
