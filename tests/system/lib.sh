# tests/system/lib.sh - boot a copy of the cached Debian 12 root under
# systemd-nspawn and run commands inside it (sourced by bash, after
# tests/integration/lib.sh).
#
#   sys_require             skip (77) with a one-line reason where this cannot run
#   sys_copy DIR            a fresh copy of the cached root at DIR ($SYS_ROOT)
#   sys_boot                boot $SYS_ROOT; sets SYS_PID (PID 1 inside, host view)
#   in_root CMD...          run CMD inside, clean environment, as root
#   in_root_sh SCRIPT       the same through bash -c
#   sys_poweroff            SIGRTMIN+3 to PID 1 inside, wait for nspawn
#
# nspawn runs --register=no --keep-unit: there is no system bus on the host
# to register a machine with. --private-network: the root has loopback only.

SYS_CACHE=${UPDATER_SYSTEM_CACHE:-/var/cache/updater-test}
SYS_NSPAWN_PID=
SYS_PID=

sys_require() {
	# Inside the Debian package's build that deb.sh runs: never boot again.
	[[ -z ${UPDATER_SYSTEM_NESTED:-} ]] || skip "inside a package build started by tests/system/deb.sh"
	[[ $(id -u) -eq 0 ]] || skip "needs root (systemd-nspawn)"
	local c
	for c in systemd-nspawn nsenter debootstrap; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c (apt-get install systemd-container debootstrap util-linux)"
	done
	[[ -d /sys/fs/cgroup ]] || skip "no cgroup file system to boot systemd in"
}

sys_copy() {
	local cached
	cached=$("$SRCDIR/tests/system/root.sh" "$SYS_CACHE") || fail "cannot prepare the Debian 12 root"
	SYS_ROOT=$1
	rm -rf "$SYS_ROOT"
	cp -a "$cached" "$SYS_ROOT" || fail "cannot copy the root"
}

# The nspawn child whose innermost PID is 1: systemd as PID 1 in the container.
_sys_find_init() {
	local p
	for p in $(cat /proc/"$SYS_NSPAWN_PID"/task/*/children 2>/dev/null); do
		if [[ $(awk '/^NSpid:/ { print $NF }' /proc/"$p"/status 2>/dev/null) == 1 ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

_sys_running() {
	local state
	state=$(in_root systemctl is-system-running 2>/dev/null)
	[[ $state == running || $state == degraded ]]
}

sys_boot() {
	SYS_CONSOLE=${SYS_CONSOLE:-$TEST_TMP/console.log}
	systemd-nspawn -D "$SYS_ROOT" -b --register=no --keep-unit --private-network \
		--quiet </dev/null >>"$SYS_CONSOLE" 2>&1 &
	SYS_NSPAWN_PID=$!
	track_pid "$SYS_NSPAWN_PID"
	wait_until 30 _sys_find_init >/dev/null ||
		skip "systemd-nspawn does not boot here: $(tail -n 3 "$SYS_CONSOLE" | tr '\n' ' ')"
	SYS_PID=$(_sys_find_init)
	wait_until 60 _sys_running || {
		in_root systemctl --failed --no-pager >&2
		fail "the booted root is not running: $(in_root systemctl is-system-running 2>&1)"
	}
	local failed
	failed=$(in_root systemctl --failed --no-legend --plain 2>/dev/null)
	[[ -z $failed ]] || echo "note: units failed at boot: $failed" >&2
}

in_root() {
	nsenter -t "$SYS_PID" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 HOME=/root SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

in_root_sh() {
	in_root /bin/bash -c "$1"
}

# nobody inside, with no supplementary groups.
as_nobody_in_root() {
	in_root setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

sys_poweroff() {
	[[ -n $SYS_NSPAWN_PID ]] || return 0
	kill -RTMIN+3 "$SYS_PID" 2>/dev/null
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$SYS_NSPAWN_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SYS_NSPAWN_PID" 2>/dev/null; then
		kill -KILL "$SYS_NSPAWN_PID"
		fail "the container did not power off within 30 s"
	fi
	wait "$SYS_NSPAWN_PID" 2>/dev/null
	SYS_NSPAWN_PID=
}

# unit_prop UNIT PROPERTY: one property's value.
unit_prop() {
	in_root systemctl show -p "$2" --value "$1"
}
