# lib.sh - helpers for the integration tests (sourced by bash).
#
# Every test runs the real programs from the build tree in a temporary
# directory that is removed at exit, killing what the test started.
# Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.
set -u

BUILDDIR=${BUILDDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
UPDATERD=$BUILDDIR/updaterd
DGRAM="/usr/bin/python3 $SRCDIR/tests/integration/dgram.py"
TEST_NAME=$(basename "$0" .sh)

_pids_to_kill=()

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	if [[ -n ${TEST_LOG:-} && -f ${TEST_LOG:-} ]]; then
		echo "---- daemon log ($TEST_LOG):" >&2
		tail -n 40 "$TEST_LOG" >&2
	fi
	exit 1
}

skip() {
	echo "SKIP: $TEST_NAME: $*" >&2
	exit 77
}

pass() {
	echo "PASS: $TEST_NAME${1:+: $1}"
}

require_root() {
	[[ $(id -u) -eq 0 ]] || skip "needs root"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

_cleanup() {
	local pid
	for pid in "${_pids_to_kill[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	for pid in "${_pids_to_kill[@]}"; do
		wait "$pid" 2>/dev/null
	done
	[[ -n ${TEST_TMP:-} && -d ${TEST_TMP:-} ]] && rm -rf "$TEST_TMP"
	return 0
}
trap _cleanup EXIT

# A temporary directory readable by other users (scripts may run as nobody).
new_tmpdir() {
	TEST_TMP=$(mktemp -d /tmp/updater-test.XXXXXX)
	chmod 0755 "$TEST_TMP"
}

# Remember a PID to kill at exit.
track_pid() {
	_pids_to_kill+=("$1")
}

# wait_until SECONDS COMMAND... : poll COMMAND every 20 ms until it succeeds.
wait_until() {
	local limit=$1
	shift
	local deadline=$((SECONDS + limit))
	while ((SECONDS <= deadline)); do
		"$@" && return 0
		sleep 0.02
	done
	return 1
}

assert_eq() {
	[[ "$1" == "$2" ]] || fail "${3:-values differ}: expected '$2', got '$1'"
}

# dgram SOCKET PAYLOAD [--reply] ...: send one datagram (see dgram.py).
dgram() {
	$DGRAM "$@"
}

# install_script PATH BODY: a root-owned 0755 script.
install_script() {
	printf '%s\n' "$2" >"$1"
	chmod 0755 "$1"
}

# write_config FILE [extra YAML lines...]: a configuration whose every path is
# inside $TEST_TMP; targets are appended by the caller through the extra lines.
# Uses TEST_TMP/scripts, TEST_TMP/state, TEST_TMP/control.sock.
write_config() {
	local file=$1 line trust=0
	shift
	for line in "$@"; do
		[[ $line == trusted_keys:* || $line == allow_unsigned:* ]] && trust=1
	done
	{
		echo "socket: $TEST_TMP/control.sock"
		echo "scripts_dir: $TEST_TMP/scripts"
		echo "state_dir: $TEST_TMP/state"
		# These tests serve unsigned manifests; a root daemon needs to be told.
		((trust)) || echo "allow_unsigned: true"
		printf '%s\n' "$@"
	} >"$file"
}

# start_updaterd CONFIG [ARGS...]: run updaterd in the background with its
# log in $TEST_LOG, and wait until its socket exists. Sets UPDATERD_PID.
start_updaterd() {
	local config=$1
	shift
	TEST_LOG=${TEST_LOG:-$TEST_TMP/updaterd.log}
	"$UPDATERD" -c "$config" -v "$@" >>"$TEST_LOG" 2>&1 &
	UPDATERD_PID=$!
	track_pid "$UPDATERD_PID"
	local sock
	sock=$(sed -n 's/^socket: *//p' "$config" | head -n 1)
	wait_until 10 test -S "$sock" || fail "updaterd did not create its socket '$sock'"
}

# Count lines in the daemon's log matching an extended regex.
log_count() {
	grep -c -E "$1" "$TEST_LOG" 2>/dev/null || true
}
