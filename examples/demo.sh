#!/bin/bash
# demo.sh BUILD_DIR - show updater at work, in a temporary sandbox.
#
# Run by `./quickstart.sh demo`. Everything lives in a temporary directory: a
# file:// release repository signed with a fresh minisign key, the daemon's
# socket, state and scripts, and a hello-server that answers with its
# version. The daemon checks the three ways (its timer, a datagram, SIGHUP),
# then fetches, verifies and swaps in a new release while the server keeps
# its PID and its listening socket. The demo stops by itself.
set -euo pipefail

build=$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
demo=$(mktemp -d /tmp/updater-demo.XXXXXX)
chmod 0755 "$demo"
pids=()

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$demo"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

ctl() { "$build/updaterctl" --socket "$demo/control.sock" "$@"; }

# Ask hello-server on $port what it is.
ask() {
	local answer
	exec 5<>"/dev/tcp/127.0.0.1/$port"
	read -r answer <&5
	exec 5<&-
	echo "$answer"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

say "A sandbox in $demo"
mkdir -p "$demo"/{scripts,state,repo,releases,bin}
install -m 0755 "$src/scripts/check" "$src/scripts/download" "$demo/scripts/"
for v in 1.0 2.0; do
	cc -O2 -D_GNU_SOURCE -DHELLO_VERSION="\"$v\"" -I"$src/include" "$src/examples/hello-server.c" \
		-L"$build/.libs" -lupdater -Wl,-rpath,"$build/.libs" -o "$demo/releases/hello-$v"
done
install -m 0755 "$demo/releases/hello-1.0" "$demo/bin/hello"
echo "built hello-server 1.0 and 2.0; 1.0 is installed at $demo/bin/hello"

say "A release key and a signed repository (updater-publish)"
minisign -G -W -p "$demo/release.pub" -s "$demo/release.key" >/dev/null
run "$src/scripts/updater-publish" --repo "$demo/repo" --target hello --version 1.0 \
	--key "$demo/release.key" "$demo/releases/hello-1.0"
ls "$demo/repo"

cat >"$demo/updater.yaml" <<YAML
socket: $demo/control.sock
scripts_dir: $demo/scripts
state_dir: $demo/state
interval: 4s
splay: 0
min_interval: 2s
script_timeout: 30s
trusted_keys:
  - $(tail -n 1 "$demo/release.pub")
targets:
  - name: hello
    path: $demo/bin/hello
    source: file://$demo/repo
    smoke_test: [--version]
YAML

say "The configuration"
cat "$demo/updater.yaml"
run "$build/updaterd" -c "$demo/updater.yaml" --check-config

say "updaterd starts (its log is indented below)"
"$build/updaterd" -c "$demo/updater.yaml" 2> >(sed -u "s/^<[0-9]>//; s/^/    updaterd| /") &
pids+=($!)
daemon=$!
for _ in $(seq 100); do [[ -S $demo/control.sock ]] && break; sleep 0.05; done

port=$(free_port)
"$demo/bin/hello" --port "$port" &
pids+=($!)
server=$!
for _ in $(seq 100); do ask >/dev/null 2>&1 && break; sleep 0.05; done
say "hello-server (pid $server) answers"
ask

say "1. The timer: interval 4s, so a periodic check comes by itself"
sleep 5
run ctl status

say "2. A datagram from any user (updaterctl check, as nobody)"
run setpriv --reuid=65534 --regid=65534 --clear-groups "$build/updaterctl" \
	--socket "$demo/control.sock" check
sleep 1

say "3. SIGHUP from root: re-read the configuration, check at once"
run kill -HUP "$daemon"
sleep 1

say "Version 2.0 is published"
run "$src/scripts/updater-publish" --repo "$demo/repo" --target hello --version 2.0 \
	--key "$demo/release.key" "$demo/releases/hello-2.0"
sleep 2.5   # past min_interval, so the next request runs at once
run ctl check --wait 30

for _ in $(seq 100); do ask | grep -q 'hello 2.0' && break; sleep 0.05; done
say "The same hello-server process now answers with the new version"
ask
run ctl status
ls -la "$demo/bin"

say "Stopping (SIGTERM)"
kill -TERM "$daemon"
wait "$daemon" && echo "updaterd exited with status 0"
echo "done; the sandbox is removed"
