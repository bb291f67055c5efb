#!/bin/bash
# tests/system/systemd.sh - updater under a real systemd (SPEC 19): a copy of
# a Debian 12 root (debootstrapped once, cached; tests/system/root.sh) with
# the freshly built project installed by `make install DESTDIR=`, booted with
# systemd-nspawn, every check under the one boot:
#
#   the README's install steps (after the build), with no target configured;
#   socket activation by a nobody datagram; READY=1 and STATUS=;
#   a broken drop-in: reload fails and keeps the running daemon, and nobody's
#     requests while the daemon cannot start leave updaterd.socket listening;
#   a signed update of a target in /usr/local/bin, and of one in /usr/bin
#     (refused, read-only, until a ReadWritePaths= drop-in opens it);
#   systemctl reload (a drop-in's new target served, the same MainPID);
#   hello-server (libupdater) with its own socket unit, re-executing into a
#     new version under load: no failed connection, the same MainPID;
#   hello-server binding its own socket, killed with SIGKILL under load:
#     libupdater put the socket in the unit's fd store (FDSTORE=1), so the
#     restarted process takes it back and no connection is refused;
#   the daemon updating itself in /usr/sbin: the same MainPID, NRestarts=0;
#   the watchdog (WatchdogSec=3s): not firing over 30 s of a healthy daemon,
#     firing on a SIGSTOPped one;
#   systemctl stop within a second during a hung download, nothing left;
#   the journal's priorities; systemd-analyze security at most 3.0.
#
# Skips (77) without root, systemd-nspawn or debootstrap, or where nspawn
# cannot boot. The Debian package is tested by tests/system/deb.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"
sys_require
require_cmd minisign make cc
new_tmpdir
start=$SECONDS
grep -q '^prefix = /usr$' "$BUILDDIR/Makefile" && grep -q '^sysconfdir = /etc$' "$BUILDDIR/Makefile" ||
	skip "the build is not configured --prefix=/usr --sysconfdir=/etc (as the README and quickstart.sh do)"
R=$TEST_TMP/root
sys_copy "$R"
echo "root copied after $((SECONDS - start)) s"

make -s -C "$BUILDDIR" install DESTDIR="$R" >"$TEST_TMP/install.log" 2>&1 || fail "make install: $(tail "$TEST_TMP/install.log")"
install -m 0755 "$BUILDDIR/tests/loadgen" "$R/usr/local/bin/loadgen"
install -m 0755 "$BUILDDIR/examples/hello-server" "$R/usr/local/bin/hello-server"
# A second hello-server, the same program built as another version.
cc -D_GNU_SOURCE -o "$TEST_TMP/hello-server-2" -I"$SRCDIR/include" -DHELLO_VERSION='"2.0"' \
	"$SRCDIR/examples/hello-server.c" -L"$BUILDDIR/client/lib/.libs" -L"$BUILDDIR/.libs" -lupdater ||
	fail "cannot build hello-server 2.0"
cat >"$R/etc/systemd/system/hello.socket" <<'UNIT'
[Socket]
ListenStream=127.0.0.1:8080
FileDescriptorName=http
Backlog=1024
[Install]
WantedBy=sockets.target
UNIT
cat >"$R/etc/systemd/system/hello.service" <<'UNIT'
[Service]
ExecStart=/usr/local/bin/hello-server
UNIT
# hello-server binding its own socket, which libupdater also puts into the
# unit's file descriptor store (FDSTORE: systemd 252 does not set it itself).
cat >"$R/etc/systemd/system/hello-store.service" <<'UNIT'
[Service]
ExecStart=/usr/local/bin/hello-server --port 8081
Environment=FDSTORE=4
FileDescriptorStoreMax=4
Restart=always
UNIT

# Release keys and repositories, made here with the project's release tool.
minisign -G -W -p "$TEST_TMP/key.pub" -s "$TEST_TMP/key.sec" >/dev/null || fail "minisign -G"
KEY=$(tail -n 1 "$TEST_TMP/key.pub")
publish() { # TARGET VERSION FILE [updater-publish options]
	local t=$1 v=$2 f=$3
	shift 3
	"$SRCDIR/scripts/updater-publish" --repo "$R/srv/updates/$t" --target "$t" --version "$v" \
		--key "$TEST_TMP/key.sec" --expires '30 days' "$@" "$f" >>"$TEST_TMP/publish.log" 2>&1 ||
		fail "updater-publish $t $v: $(tail -n 3 "$TEST_TMP/publish.log")"
	chmod -R a+rX "$R/srv/updates"
}
printf '#!/bin/sh\necho hello 1\n' >"$R/usr/local/bin/hello"
printf '#!/bin/sh\necho hello-usr 1\n' >"$R/usr/bin/hello-usr"
chmod 0755 "$R/usr/local/bin/hello" "$R/usr/bin/hello-usr"
printf '#!/bin/sh\necho hello 2\n' >"$TEST_TMP/hello-2"
printf '#!/bin/sh\necho hello-usr 2\n' >"$TEST_TMP/hello-usr-2"

sys_boot
echo "booted after $((SECONDS - start)) s"
trap 'sys_poweroff; _cleanup' EXIT

# --- the README's steps after the build, with no target configured --------
steps=$(awk '/^### From source/ { on = 1; next } /^###? / { on = 0 } on && /^    / { sub(/^    /, ""); print }' "$SRCDIR/README.md")
[[ -n $steps ]] || fail "no install steps under '### From source' in README.md"
# The build must be the README's: the same ./configure options.
used=$("$BUILDDIR/config.status" --config | tr -d "'" | sed -e 's/--enable-werror//' -e 's/  */ /g' -e 's/^ //' -e 's/ $//')
readme_configure=$(grep '^\./configure' <<<"$steps")
[[ $readme_configure == "./configure $used" ]] ||
	fail "the README's '$readme_configure' is not how this build was configured ('$used')"
while IFS= read -r step; do
	case $step in
	./autogen.sh | ./configure* | make) continue ;; # done on this machine, with the same options
	"make install") continue ;;                      # done above, into the root
	esac
	in_root_sh "$step" >"$TEST_TMP/step.log" 2>&1 || fail "README step '$step': $(cat "$TEST_TMP/step.log")"
done <<<"$steps"
grep -q 'no targets checked\|never' "$TEST_TMP/step.log" || fail "updaterctl status after the install steps: $(cat "$TEST_TMP/step.log")"
in_root id _updater >/dev/null || fail "no system user _updater (sysusers.d)"
[[ $(unit_prop updaterd.socket ActiveState) == active ]] || fail "updaterd.socket is not active"

# --- socket activation by a nobody datagram; READY=1 and STATUS= ----------
in_root systemctl stop updaterd.service
[[ $(unit_prop updaterd.service ActiveState) == inactive ]] || fail "updaterd.service did not stop"
reply=$(as_nobody_in_root updaterctl check 2>&1) || fail "nobody's check request: $reply"
[[ $reply =~ ^(queued|running|deferred|no\ targets) ]] || fail "nobody's check request got '$reply'"
[[ $(unit_prop updaterd.service ActiveState) == active ]] || fail "a nobody datagram did not start updaterd.service"
[[ $(unit_prop updaterd.service SubState) == running ]] || fail "not running after READY=1: $(unit_prop updaterd.service SubState)"
# The request's round ends, and STATUS= says so.
idle_status() {
	status_text=$(unit_prop updaterd.service StatusText)
	[[ $status_text =~ ^Idle.*next\ check ]]
}
wait_until 10 idle_status || fail "STATUS= is '$status_text'"
echo "activation, READY=1, STATUS='$status_text'"

# --- a broken drop-in ----------------------------------------------------
pid=$(unit_prop updaterd.service MainPID)
in_root_sh 'printf "targets:\n  - name: x\n    bogus: 1\n" >/etc/updater/updater.d/broken.yaml'
in_root systemctl reload updaterd >/dev/null 2>&1 && fail "systemctl reload succeeded with a broken drop-in"
[[ $(unit_prop updaterd.service MainPID) == "$pid" && $(unit_prop updaterd.service ActiveState) == active ]] ||
	fail "a failed reload changed the daemon"
in_root journalctl -u updaterd --no-pager | grep -q '/etc/updater/updater.d/broken.yaml:3: targets\[0\].bogus: unknown key' ||
	fail "the journal does not name the broken drop-in"
# While the daemon cannot start, requests do not take its socket down.
in_root systemctl stop updaterd.service
# 30 requests at once (each client waits up to 5 s for a reply that never comes).
in_root_sh 'for i in $(seq 30); do setpriv --reuid=65534 --regid=65534 --clear-groups updaterctl check >/dev/null 2>&1 & done; wait'
[[ $(unit_prop updaterd.service Result) == exit-code && $(unit_prop updaterd.service ExecMainStatus) == 78 ]] ||
	fail "a broken configuration did not end in 78: $(unit_prop updaterd.service Result)"
[[ $(unit_prop updaterd.socket ActiveState) == active ]] ||
	fail "updaterd.socket is $(unit_prop updaterd.socket ActiveState) ($(unit_prop updaterd.socket Result)) after requests to a daemon that cannot start"
in_root rm /etc/updater/updater.d/broken.yaml
as_nobody_in_root updaterctl check >/dev/null || fail "the fixed configuration is not started by a request"
[[ $(unit_prop updaterd.service ActiveState) == active ]] || fail "updaterd.service is not active after the fix"
echo "broken drop-in: reload refused, socket kept listening"

# --- targets; /usr/bin read-only until a drop-in opens it ----------------
in_root_sh "printf 'interval: 0\nmin_interval: 0\ntrusted_keys: [$KEY]\n' >>/etc/updater/updater.yaml"
dropin() { # NAME PATH
	in_root_sh "printf 'targets:\n  - name: $1\n    path: $2\n    source: file:///srv/updates/$1\n' >/etc/updater/updater.d/$1.yaml"
}
dropin hello /usr/local/bin/hello
dropin hello-usr /usr/bin/hello-usr
publish hello 2 "$TEST_TMP/hello-2"
publish hello-usr 2 "$TEST_TMP/hello-usr-2"
in_root systemctl reload updaterd || fail "systemctl reload with two targets"
in_root updaterctl check --wait >"$TEST_TMP/check.log" 2>&1 && fail "an update in /usr/bin worked under the default unit: $(cat "$TEST_TMP/check.log")"
cmp -s "$R/usr/local/bin/hello" "$TEST_TMP/hello-2" || fail "/usr/local/bin/hello was not updated: $(cat "$TEST_TMP/check.log")"
cmp -s "$R/usr/bin/hello-usr" "$TEST_TMP/hello-usr-2" && fail "/usr/bin is writable to the daemon under the default unit"
in_root journalctl -u updaterd -p err --no-pager | grep -q 'hello-usr.*[Rr]ead-only file system' ||
	fail "no error-priority journal line about read-only /usr/bin: $(in_root journalctl -u updaterd -p err --no-pager | tail -n 5)"
echo "signed update in /usr/local/bin; /usr/bin read-only by default"

mkdir -p "$R/etc/systemd/system/updaterd.service.d"
cat >"$R/etc/systemd/system/updaterd.service.d/test.conf" <<'UNIT'
[Service]
ReadWritePaths=/usr/bin /usr/sbin
WatchdogSec=3s
LimitCORE=0
UNIT
in_root systemctl daemon-reload
in_root systemctl restart updaterd || fail "restart with the drop-in"
pid0=$(unit_prop updaterd.service MainPID)
watch_start=$SECONDS
in_root updaterctl check --wait >"$TEST_TMP/check.log" 2>&1 || fail "check with /usr/bin opened: $(cat "$TEST_TMP/check.log")"
cmp -s "$R/usr/bin/hello-usr" "$TEST_TMP/hello-usr-2" || fail "/usr/bin/hello-usr not updated with ReadWritePaths=/usr/bin"
[[ $(in_root /usr/bin/hello-usr) == "hello-usr 2" ]] || fail "the new /usr/bin/hello-usr does not run"
echo "signed update in /usr/bin with the documented drop-in"

# --- systemctl reload: a new drop-in's target, the same MainPID -----------
dropin hello-server /usr/local/bin/hello-server
in_root systemctl reload updaterd || fail "systemctl reload"
[[ $(unit_prop updaterd.service MainPID) == "$pid0" ]] || fail "reload changed MainPID"
in_root updaterctl status --json | grep -q '"hello-server"' || fail "the reloaded drop-in's target is not served"
echo "reload: new target served by MainPID $pid0"

# --- hello-server re-executes under load ---------------------------------
in_root systemctl start hello.socket || fail "hello.socket"
[[ $(in_root loadgen --once 8080) == "hello 0.1.0 pid "* ]] || fail "hello-server does not answer"
hpid=$(unit_prop hello.service MainPID)
in_root loadgen --clients 8 --duration 8 8080 >"$TEST_TMP/load.log" 2>&1 &
load=$!
sleep 2
publish hello-server 2.0 "$TEST_TMP/hello-server-2"
in_root updaterctl check --wait >"$TEST_TMP/check.log" 2>&1 || fail "check for hello-server: $(cat "$TEST_TMP/check.log")"
wait "$load" || fail "connections failed while hello-server re-executed: $(cat "$TEST_TMP/load.log")"
grep -q '^versions=0.1.0,2.0$' "$TEST_TMP/load.log" || fail "the load did not see both versions: $(cat "$TEST_TMP/load.log")"
grep -qE '^(refused|reset|timeout|other|bad)=[1-9]' "$TEST_TMP/load.log" && fail "failed connections: $(cat "$TEST_TMP/load.log")"
[[ $(unit_prop hello.service MainPID) == "$hpid" ]] || fail "hello.service's MainPID changed"
[[ $(in_root loadgen --once 8080) == "hello 2.0 pid $hpid" ]] || fail "hello-server 2.0 is not serving"
echo "hello-server: $(grep -E '^(connections|ok)=' "$TEST_TMP/load.log" | tr '\n' ' ')across the re-exec, MainPID $hpid"

# --- kill -9 under load: the socket waits in the fd store ------------------
in_root systemctl start hello-store.service || fail "hello-store.service"
answers() {
	[[ $(in_root loadgen --once 8081 2>/dev/null) == "hello "* ]]
}
wait_until 10 answers || fail "hello-store does not answer"
[[ $(unit_prop hello-store.service NFileDescriptorStore) == 1 ]] ||
	fail "the listening socket is not in the fd store: NFileDescriptorStore=$(unit_prop hello-store.service NFileDescriptorStore)"
spid=$(unit_prop hello-store.service MainPID)
in_root loadgen --clients 8 --duration 6 8081 >"$TEST_TMP/load-store.log" 2>&1 &
load=$!
sleep 2
t0=$(date +%s%N)
in_root systemctl kill --signal=SIGKILL hello-store.service
restarted() {
	local p
	p=$(unit_prop hello-store.service MainPID)
	[[ $p != 0 && $p != "$spid" ]] && [[ $(in_root loadgen --once 8081 2>/dev/null) == *" pid $p" ]]
}
wait_until 10 restarted || fail "hello-store was not restarted"
gap_ms=$((($(date +%s%N) - t0) / 1000000))
wait "$load" || fail "connections failed across kill -9 with the fd store: $(cat "$TEST_TMP/load-store.log")"
grep -qE '^(refused|reset|timeout|other|bad)=[1-9]' "$TEST_TMP/load-store.log" && fail "failed connections: $(cat "$TEST_TMP/load-store.log")"
[[ $(unit_prop hello-store.service NRestarts) == 1 ]] || fail "NRestarts=$(unit_prop hello-store.service NRestarts) after one kill -9"
echo "kill -9 under load with the fd store: $(grep -E '^(connections|ok|refused)=' "$TEST_TMP/load-store.log" | tr '\n' ' ')restart gap <= $gap_ms ms"

# --- the daemon updates itself in /usr/sbin ------------------------------
dropin updaterd /usr/sbin/updaterd
in_root systemctl reload updaterd || fail "reload with the updaterd target"
cp "$R/usr/sbin/updaterd" "$TEST_TMP/updaterd-2"
printf '\0updaterd 0.1.0+test\n' >>"$TEST_TMP/updaterd-2" # another file, the same program
publish updaterd 0.1.0+test "$TEST_TMP/updaterd-2"
in_root updaterctl check --wait >"$TEST_TMP/check.log" 2>&1 || fail "self-update check: $(cat "$TEST_TMP/check.log")"
cmp -s "$R/usr/sbin/updaterd" "$TEST_TMP/updaterd-2" || fail "/usr/sbin/updaterd not updated"
new_ino=$(stat -c %i "$R/usr/sbin/updaterd")
running_ino() {
	[[ $(in_root stat -L -c %i "/proc/$pid0/exe" 2>/dev/null) == "$new_ino" ]]
}
wait_until 10 running_ino || fail "MainPID $pid0 does not run the new /usr/sbin/updaterd"
[[ $(unit_prop updaterd.service MainPID) == "$pid0" ]] || fail "self-update changed MainPID"
[[ $(unit_prop updaterd.service NRestarts) == 0 ]] || fail "self-update restarted the service"
in_root updaterctl status >/dev/null || fail "no status after the self-update"
echo "self-update: MainPID $pid0, NRestarts=0"

# --- the watchdog --------------------------------------------------------
if ((SECONDS - watch_start < 31)); then
	sleep $((31 - (SECONDS - watch_start)))
fi
[[ $(unit_prop updaterd.service MainPID) == "$pid0" && $(unit_prop updaterd.service NRestarts) == 0 ]] ||
	fail "the watchdog fired on a healthy daemon within $((SECONDS - watch_start)) s"
in_root_sh "kill -STOP $pid0" # the shell's kill: minbase has no /bin/kill
fired() {
	[[ $(unit_prop updaterd.service NRestarts) == 1 && $(unit_prop updaterd.service ActiveState) == active ]]
}
wait_until 30 fired || fail "the watchdog did not restart a stopped daemon: $(in_root systemctl status updaterd --no-pager | head)"
in_root journalctl -u updaterd --no-pager | grep -q 'Watchdog timeout' || fail "no watchdog timeout in the journal"
echo "watchdog: quiet for $((SECONDS - watch_start)) s, fired on SIGSTOP"

# --- systemctl stop during a hung download -------------------------------
# A listener that never answers: the kernel accepts, nobody reads.
in_root systemd-run --unit=hang-server updater-run --listen tcp:127.0.0.1:8099 -- sleep 1000 >/dev/null 2>&1 ||
	fail "cannot start the hanging server"
printf 'hang 2\n' >"$TEST_TMP/hang-2"
publish hang 2 "$TEST_TMP/hang-2" --url-base http://127.0.0.1:8099
dropin hang /usr/local/bin/hang
in_root systemctl reload updaterd || fail "reload with the hang target"
in_root updaterctl check >/dev/null || fail "check request"
downloading() {
	in_root updaterctl status --json | grep -q '"state": *"downloading"'
}
wait_until 20 downloading || fail "the download did not start: $(in_root updaterctl status)"
t0=$(date +%s%N)
in_root systemctl stop updaterd.service
ms=$((($(date +%s%N) - t0) / 1000000))
((ms < 1000)) || fail "systemctl stop took $ms ms during a download"
[[ $(unit_prop updaterd.service Result) == success ]] || fail "stop result: $(unit_prop updaterd.service Result)"
ls -a "$R/usr/local/bin" | grep -q '^\.hang\.updater-' && fail "a staging file was left: $(ls -a "$R/usr/local/bin")"
in_root_sh 'ps -e 2>/dev/null; ls /sys/fs/cgroup/system.slice/updaterd.service 2>/dev/null' | grep -q curl && fail "curl was left running"
echo "stop during a hung download: $ms ms"

# --- the journal's priorities --------------------------------------------
in_root journalctl -u updaterd -o json --no-pager >"$TEST_TMP/journal.json"
grep '"MESSAGE":"updaterd [0-9.]* serving' "$TEST_TMP/journal.json" | grep -q '"PRIORITY":"6"' ||
	fail "the start line is not at priority 6 (info)"
grep 'Read-only file system' "$TEST_TMP/journal.json" | grep -q '"PRIORITY":"3"' ||
	fail "the failed swap is not at priority 3 (err)"
grep '"SYSLOG_IDENTIFIER":"updaterd"' "$TEST_TMP/journal.json" | grep -q '"PRIORITY":"7"' &&
	fail "debug lines reached the journal without -v"
echo "journal: info 6, err 3, no debug"

# --- systemd-analyze security --------------------------------------------
in_root systemd-analyze security updaterd.service --no-pager >"$TEST_TMP/security.log" 2>&1
score=$(sed -n 's/.*Overall exposure level for updaterd.service: \([0-9.]*\).*/\1/p' "$TEST_TMP/security.log")
[[ -n $score ]] || fail "systemd-analyze security: $(tail -n 3 "$TEST_TMP/security.log")"
echo "$score <= 3.0" | bc | grep -q 1 || fail "exposure $score above 3.0"
echo "systemd-analyze security updaterd.service: $score"

sys_poweroff
echo "tests/system/systemd.sh: $((SECONDS - start)) s"
pass
