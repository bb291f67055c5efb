# run-lib.sh - helpers for the updater-run tests, sourced after lib.sh.
#
# Every program a test starts has the test's temporary directory in its
# command line (it is a script there, or gets the path as an argument), so
# "nothing is left" means: no process mentions $TEST_TMP.

RUN=$BUILDDIR/updater-run
PY=/usr/bin/python3
SERVER="$SRCDIR/tests/integration/run-server.py"
LOAD="$SRCDIR/tests/integration/run-load.py"

[[ -x $RUN ]] || { echo "updater-run not built at '$RUN'" >&2; exit 99; }

_run_pids=()

# At exit, even after a failure: ask every updater-run to stop its tree
# before lib.sh's SIGKILL (which would orphan the tree), then kill whatever
# still mentions the test's directory.
_run_cleanup() {
	local pid
	for pid in "${_run_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${_run_pids[@]}"; do
		wait_until 5 proc_gone "$pid"
	done
	[[ -n ${TEST_TMP:-} ]] && pkill -KILL -f -- "$TEST_TMP" 2>/dev/null
	_cleanup
}
trap _run_cleanup EXIT

# start_run LOG ARGS...: updater-run ARGS in the background, its stderr (and
# PROGRAM's) appended to LOG. Sets RUN_PID.
start_run() {
	local log=$1
	shift
	"$RUN" "$@" >>"$log" 2>&1 &
	RUN_PID=$!
	track_pid "$RUN_PID"
	_run_pids+=("$RUN_PID")
}

proc_gone() {
	! kill -0 "$1" 2>/dev/null
}

# wait_exit PID SECONDS: wait for a background job of this shell to end;
# sets RC to its exit status. Fails the test when it does not end in time.
wait_exit() {
	if ! wait_until "$2" proc_gone "$1"; then
		ps -o pid,ppid,stat,etime,args -p "$1" --ppid "$1" >&2
		fail "pid $1 still runs after $2 s"
	fi
	wait "$1"
	RC=$?
}

# The PIDs of processes whose command line mentions the test's directory.
# Processes of this test still running. A zombie is not one: orphans end up
# children of PID 1, which may take its time to reap them (seen under load).
leftovers() {
	local pid stat
	for pid in $(pgrep -f -- "$TEST_TMP"); do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		[[ ${stat%% *} != Z ]] && echo "$pid"
	done
	return 0
}

assert_no_leftovers() {
	local left
	# The reaper may need a moment to collect what the kill just ended.
	wait_until 5 test -z "$(leftovers)" && return 0
	left=$(leftovers)
	ps -o pid,ppid,stat,args -p "$(echo $left | tr ' ' ,)" >&2 || true
	fail "processes left behind: $left"
}

# Zombies whose parent is PID.
zombies_of() {
	local parent=$1 f stat fields n=0
	for f in /proc/[0-9]*/stat; do
		stat=$(cat "$f" 2>/dev/null) || continue
		read -r -a fields <<<"${stat##*) }"
		[[ ${fields[0]} == Z && ${fields[1]} == "$parent" ]] && n=$((n + 1))
	done
	echo "$n"
}

# log_has LOG REGEX
log_has() {
	grep -q -E -- "$2" "$1"
}

# A TCP port nobody listens on right now (the kernel picks it).
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ask HOST PORT: one connection, print the answer (a server PID).
ask() {
	$PY - "$1" "$2" <<'PYEOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
data = b""
while True:
    c = s.recv(64)
    if not c:
        break
    data += c
sys.stdout.write(data.decode())
PYEOF
}
