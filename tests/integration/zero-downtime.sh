#!/bin/bash
# Zero downtime: hello-server (examples/hello-server.c, built with libupdater)
# is updated 20 times while a load generator connects to it in a loop on
# 127.0.0.1. Not one connection may be refused, reset or left unanswered;
# every answer comes from v1 or later and no client ever gets an older
# version after a newer one; the server keeps its PID throughout.
#
# Two passes:
#  mv      each update renames a new build over the server's path, as any
#          installer would; the server sees it through inotify alone
#  daemon  each release is signed and published with updater-publish, and
#          applied by the real updaterd (check, download, verify, smoke test,
#          swap) on `updaterctl check --wait`; the server is subscribed to
#          the daemon's notifications as well
# The daemon pass is skipped (with a note) when updaterd, minisign or root
# are missing.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"

UPDATES=20
LAST=$((UPDATES + 1))
new_tmpdir
mkdir "$TEST_TMP/builds"

# v1 .. v21, two compilers at a time.
for v in $(seq 1 "$LAST"); do
	build_hello "$v" "$TEST_TMP/builds/hello-$v" &
	if ((v % 2 == 0)); then wait; fi
done
wait
for v in $(seq 1 "$LAST"); do
	[[ -x $TEST_TMP/builds/hello-$v ]] || fail "hello-server $v was not built"
done

# start_server PASS PATH: run hello-server from PATH; sets SERVER and PORT.
start_server() {
	"$2" --port 0 --port-file "$TEST_TMP/$1.port" 2>"$TEST_TMP/$1.hello.log" &
	SERVER=$!
	track_pid "$SERVER"
	wait_until 10 test -s "$TEST_TMP/$1.port" || fail "$1: hello-server did not start: $(cat "$TEST_TMP/$1.hello.log")"
	PORT=$(cat "$TEST_TMP/$1.port")
	wait_until 10 hello_version_is "$PORT" 1 || fail "$1: hello-server does not answer on port $PORT"
}

# under_load PASS APPLY: with the load generator running, for v in 2..21
# call APPLY v, then wait until the server answers v; then check the load
# generator's account.
under_load() {
	local pass=$1 apply=$2 v out=$TEST_TMP/$1.load.out
	"$LOADGEN" --clients 4 --interval-ms 1 "$PORT" >"$out" 2>"$TEST_TMP/$pass.load.err" &
	local load=$!
	track_pid "$load"
	sleep 0.5
	for v in $(seq 2 "$LAST"); do
		"$apply" "$v"
		wait_until 60 hello_version_is "$PORT" "$v" ||
			fail "$pass: update $v was not picked up; server log: $(tail -n 5 "$TEST_TMP/$pass.hello.log")"
		sleep 0.1
	done
	sleep 0.3
	kill -TERM "$load"
	wait "$load"
	echo "$pass: load generator: $(tr '\n' ' ' <"$out")"

	get() { sed -n "s/^$1=//p" "$out"; }
	local k ok prev=0 seen
	for k in refused reset timeout other bad regressions; do
		assert_eq "$(get "$k")" 0 "$pass: connections $k"
	done
	ok=$(get ok)
	((ok >= 200)) || fail "$pass: only $ok connections were answered: no real load"
	assert_eq "$(get pids)" "$SERVER" "$pass: every answer came from the same process"
	# Every version seen is one of ours, in increasing order, ending with the last.
	IFS=, read -r -a seen <<<"$(get versions)"
	for v in "${seen[@]}"; do
		if ! [[ $v =~ ^[0-9]+$ ]] || ((v <= prev || v > LAST)); then
			fail "$pass: versions seen: $(get versions)"
		fi
		prev=$v
	done
	assert_eq "$prev" "$LAST" "$pass: the last version answered"
	kill -0 "$SERVER" 2>/dev/null || fail "$pass: hello-server died"
	assert_eq "$(grep -c 're-executing' "$TEST_TMP/$pass.hello.log")" "$UPDATES" "$pass: re-executions in the server's log"
	echo "$pass: $ok connections answered during $UPDATES updates, ${#seen[@]} versions seen, none failed"
	kill "$SERVER"
	wait "$SERVER" 2>/dev/null
}

# --- pass 1: mv ---
mkdir "$TEST_TMP/mv"
cp "$TEST_TMP/builds/hello-1" "$TEST_TMP/mv/hello"
export UPDATER_SOCKET=$TEST_TMP/no-daemon.sock
start_server mv "$TEST_TMP/mv/hello"
apply_mv() {
	replace_with "$TEST_TMP/builds/hello-$1" "$TEST_TMP/mv/hello"
}
under_load mv apply_mv

# --- pass 2: signed releases applied by updaterd ---
if [[ $(id -u) -ne 0 || ! -x $UPDATERD ]] || ! command -v minisign >/dev/null; then
	pass "the daemon pass was skipped (needs root, updaterd and minisign)"
	exit 0
fi
d=$TEST_TMP/daemon
mkdir -p "$d/bin" "$d/repo"
mkdir -m 0755 "$d/scripts"
install -m 0755 "$SRCDIR/scripts/check" "$SRCDIR/scripts/download" "$d/scripts/"
minisign -G -W -p "$d/release.pub" -s "$d/release.key" >/dev/null || fail "minisign -G"
publish() {
	"$SRCDIR/scripts/updater-publish" --repo "$d/repo" --target hello --version "$1" \
		--key "$d/release.key" "$TEST_TMP/builds/hello-$1" >/dev/null || fail "updater-publish $1"
}
publish 1
install -m 0755 "$TEST_TMP/builds/hello-1" "$d/bin/hello"
cat >"$d/updater.yaml" <<EOF
socket: $d/control.sock
scripts_dir: $d/scripts
state_dir: $d/state
interval: 0
min_interval: 0
script_timeout: 60s
script_user: nobody
trusted_keys:
  - $(tail -n 1 "$d/release.pub")
targets:
  - name: hello
    path: $d/bin/hello
    source: file://$d/repo
    smoke_test: [--version]
EOF
TEST_LOG=$d/updaterd.log
start_updaterd "$d/updater.yaml"
export UPDATER_SOCKET=$d/control.sock
start_server daemon "$d/bin/hello"
apply_daemon() {
	publish "$1"
	"$UPDATERCTL" check --wait 60 >"$d/check.out" 2>&1 ||
		fail "updaterctl check --wait for $1: $(cat "$d/check.out")"
	grep -qx "updated hello $1" "$d/check.out" || fail "no 'updated hello $1' notification: $(cat "$d/check.out")"
}
under_load daemon apply_daemon
cmp -s "$d/bin/hello" "$TEST_TMP/builds/hello-$LAST" || fail "the installed file is not the last release"

pass
