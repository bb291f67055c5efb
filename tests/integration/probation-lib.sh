# probation-lib.sh - shared set-up of the probation-*.sh tests (SPEC section
# 15), sourced after lib.sh and daemon-lib.sh.
#
# probation_setup [TARGET LINES...] makes, in a fresh $TEST_TMP:
#   scripts/check     prints $REPO/manifest
#   scripts/download  copies the file the manifest's url names
#   scripts/health    the health command: connects to the server on $PORT
#                     and prints its answer ("hello VERSION pid PID"); exit 1
#                     with a line on stderr when nothing answers. Every run
#                     appends "UID VERSION PREVIOUS" to $HEALTH_LOG.
#   bin/hello         probation-server 1.0, the release 1.0 of $REPO
# and a configuration whose target has the caller's extra lines (health:,
# signal: ...; @TMP@ stands for $TEST_TMP), min_interval 1s.
PSRV=$BUILDDIR/tests/probation-server

probation_setup() {
	daemon_setup "min_interval: 1s"
	REPO=$TEST_TMP/repo
	HEALTH_LOG=$TEST_TMP/health.log
	mkdir -m 0755 "$REPO"
	: >"$HEALTH_LOG"
	chmod 0666 "$HEALTH_LOG"
	PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	install_script "$TEST_TMP/scripts/check" "#!/bin/sh
cat '$REPO/manifest'"
	install_script "$TEST_TMP/scripts/download" '#!/bin/sh
exec cat "$UPDATER_URL"'
	install_script "$TEST_TMP/scripts/health" "#!/bin/sh
echo \"\$(id -u) \$UPDATER_VERSION \$UPDATER_PREVIOUS_VERSION\" >>'$HEALTH_LOG'
exec $PY -c '
import socket, sys
try:
    s = socket.create_connection((\"127.0.0.1\", $PORT), 1)
    print(s.recv(128).decode().strip())
except OSError as e:
    print(\"cannot reach the server:\", e, file=sys.stderr)
    sys.exit(1)
'"
	local extra=("$@") line
	for line in "${extra[@]}"; do
		printf "%s\n" "${line//@TMP@/$TEST_TMP}" >>"$CONFIG"
	done
	publish 1.0 v1
	cp "$REPO/hello-1.0" "$TEST_TMP/bin/hello"
	chmod 0755 "$TEST_TMP/bin/hello"
}

# publish VERSION BUILD: probation-server-BUILD as release VERSION of $REPO
# (a trailer after the ELF makes every release a file of its own).
publish() {
	cp "$PSRV-$2" "$REPO/hello-$1"
	printf '\n# release %s\n' "$1" >>"$REPO/hello-$1"
	chmod 0644 "$REPO/hello-$1"
	write_manifest hello "$1" "$REPO/hello-$1" "$REPO/manifest"
}

# supervise [ARGS...]: start bin/hello --port $PORT ARGS in a loop, as a
# service manager with Restart=always would (0.2 s between starts), in a
# process group of its own that the test's end kills. While
# $TEST_TMP/hold exists, nothing is started.
supervise() {
	setsid bash -c '
		while :; do
			if [ ! -e "$0/hold" ]; then "$0/bin/hello" --port "$1" "${@:2}" 2>>"$0/server.log"; fi
			sleep 0.2
		done' "$TEST_TMP" "$PORT" "$@" &
	SUPERVISOR=$!
	_supervisors+=("$SUPERVISOR")
}
_supervisors=()
_probation_cleanup() {
	local p
	for p in "${_supervisors[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	_cleanup
}
trap _probation_cleanup EXIT

# The server's answer ("hello VERSION pid PID"), or nothing.
answer() {
	$PY -c '
import socket, sys
try:
    print(socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).recv(128).decode().strip())
except OSError:
    pass' "$PORT"
}

# answers VERSION: the server answers as VERSION.
answers() {
	[[ $(answer) == "hello $1 pid "* ]]
}

# subscribe OUT: a subscriber (a connection to events.sock) writing
# "SECONDS NOTIFICATION" lines to OUT (SECONDS: CLOCK_MONOTONIC); waits
# until it is connected.
subscribe() {
	$PY - "$(dirname "$SOCK")/events.sock" "$1" <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
out = open(sys.argv[2], "w", buffering=1)
out.write("%.3f connected\n" % time.monotonic())
while True:
    m = s.recv(4096).decode()  # first, then the time it arrived
    if not m:
        break
    out.write("%.3f %s\n" % (time.monotonic(), m))
PYEOF
	track_pid $!
	wait_until 5 grep -q ' connected$' "$1" || fail "cannot connect to events.sock: $(cat "$1")"
}

# note_time OUT REGEX: the time of the first notification matching REGEX.
note_time() {
	grep -E "^[0-9.]+ $2\$" "$1" | head -n 1 | cut -d' ' -f1
}

has_note() {
	grep -qE "^[0-9.]+ $2\$" "$1"
}

state_has() {
	grep -qx "$1" "$TEST_TMP/state/targets/hello"
}
