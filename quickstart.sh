#!/bin/bash
# quickstart.sh - build updater and show it working, or run every test.
#
#   ./quickstart.sh demo   install what is needed, build, run a live demo
#   ./quickstart.sh test   install what is needed, build, run every test
#
# Idempotent; meant for a Debian 12 machine, as root. The build lives in
# ./build (out of tree). Set UPDATER_SKIP_APT=1 to skip the package step.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

packages=(
	build-essential autoconf automake libtool pkg-config
	libsystemd-dev libyaml-dev libsodium-dev check
	libarchive-dev zstd xz-utils
	minisign curl nginx-light shellcheck python3 systemd
	strace procps util-linux iproute2 man-db bc prometheus libcap2-bin
	libssl-dev openssl zstd
	systemd-container debootstrap debhelper lintian
)

usage() {
	echo "usage: $0 demo|test" >&2
	exit 2
}

install_packages() {
	[[ ${UPDATER_SKIP_APT:-0} = 1 ]] && return 0
	if [[ $(id -u) -ne 0 ]]; then
		echo "quickstart: not root; assuming these are installed: ${packages[*]}" >&2
		return 0
	fi
	echo "==> installing packages: ${packages[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

# The scripts' own system user (SPEC 14: script_user _updater by default). A
# package or `make install` creates it from the project's sysusers.d file;
# a build tree has neither, so create it here the same way (or with useradd
# where that file is missing).
ensure_script_user() {
	getent passwd _updater >/dev/null && return 0
	if [[ $(id -u) -ne 0 ]]; then
		echo "quickstart: not root; the demo needs the system user _updater" >&2
		return 0
	fi
	local conf
	for conf in units/updater.sysusers units/sysusers.d/updater.conf sysusers.d/updater.conf; do
		if [[ -f $conf ]] && command -v systemd-sysusers >/dev/null; then
			echo "==> creating the system user _updater (systemd-sysusers $conf)"
			systemd-sysusers "$conf" && getent passwd _updater >/dev/null && return 0
		fi
	done
	echo "==> creating the system user _updater (useradd --system)"
	useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin \
		--comment "updaterd scripts" --user-group _updater
}

build() {
	echo "==> building"
	local inputs=(configure.ac Makefile.am mk/*.mk)
	local input stale=0
	for input in "${inputs[@]}"; do
		if [[ ! -f configure || ! -f Makefile.in || $input -nt configure || $input -nt Makefile.in ]]; then
			stale=1
		fi
	done
	if ((stale)); then
		./autogen.sh
	fi
	mkdir -p build
	cd build
	if [[ ! -f Makefile || ../configure -nt config.status ]]; then
		../configure --enable-werror --prefix=/usr --sysconfdir=/etc \
			--localstatedir=/var --runstatedir=/run
	elif [[ ../Makefile.in -nt Makefile ]]; then
		./config.status
	fi
	make -j"$(nproc)"
	cd "$here"
}

run_tests() {
	echo "==> running every test"
	cd build
	if ! make -j"$(nproc)" check; then
		echo "==> failed tests:" >&2
		grep -l -E '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs') 2>/dev/null |
			while read -r trs; do
				echo "---- ${trs%.trs}.log" >&2
				tail -n 80 "${trs%.trs}.log" >&2
			done
		exit 1
	fi
	cd "$here"
}

case "${1:-}" in
demo)
	install_packages
	build
	ensure_script_user
	exec "$here/examples/demo.sh" "$here/build"
	;;
test)
	install_packages
	build
	ensure_script_user
	run_tests
	echo "==> all tests passed"
	;;
*)
	usage
	;;
esac
