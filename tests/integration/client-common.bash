# client-common.bash - helpers for the client tests, sourced after lib.sh.
#
# The probe (tests/updater-probe.c) is a libupdater program driven one
# command a line; probe_start runs a copy of it with its stdin and stdout on
# FIFOs, so the test talks to the same process across its re-executions.

# shellcheck disable=SC2034 # used by the tests that source this file
PROBE_V1=$BUILDDIR/tests/updater-probe-v1
# shellcheck disable=SC2034
PROBE_V2=$BUILDDIR/tests/updater-probe-v2
LOADGEN=$BUILDDIR/tests/loadgen
# shellcheck disable=SC2034
UPDATERCTL=$BUILDDIR/updaterctl

# probe_start PROGRAM [ARGS...]: start PROGRAM (a copy of a probe) with its
# output and errors in $TEST_TMP; sets PROBE_PID, reads its "listen" line
# into PROBE_LISTEN and its "ready" line into PROBE_READY.
probe_start() {
	local dir
	dir=$(mktemp -d "$TEST_TMP/probe.XXXXXX")
	mkfifo "$dir/in" "$dir/out"
	"$@" <"$dir/in" >"$dir/out" 2>>"$TEST_TMP/probe.err" &
	PROBE_PID=$!
	track_pid "$PROBE_PID"
	exec {PROBE_IN}>"$dir/in" {PROBE_OUT}<"$dir/out"
	probe_read
	PROBE_LISTEN=$REPLY
	probe_read
	PROBE_READY=$REPLY
}

# probe_read: the probe's next line in REPLY (fails the test after 10 s).
probe_read() {
	IFS= read -r -t 10 REPLY <&"$PROBE_OUT" ||
		fail "the probe (pid $PROBE_PID) did not answer; its stderr: $(tail -n 5 "$TEST_TMP/probe.err" 2>/dev/null)"
}

# probe COMMAND...: send one command, its answer in REPLY.
probe() {
	printf '%s\n' "$*" >&"$PROBE_IN" || fail "the probe (pid $PROBE_PID) is gone"
	probe_read
}

# probe_expect COMMAND EXPECTED: send COMMAND, fail unless the answer is EXPECTED.
probe_expect() {
	probe "$1"
	[[ $REPLY == "$2" ]] || fail "probe '$1': expected '$2', got '$REPLY'"
}

# probe_stop: ask the probe to exit and wait for it.
probe_stop() {
	{ printf 'exit\n' >&"$PROBE_IN"; } 2>/dev/null
	exec {PROBE_IN}>&- {PROBE_OUT}<&-
	wait "$PROBE_PID" 2>/dev/null
}

# replace_with SOURCE PATH: a new inode at PATH, renamed into place as an
# updater would (the staging file lives in the same directory).
replace_with() {
	local tmp
	tmp=$(dirname "$2")/.$(basename "$2").new
	if ! cp "$1" "$tmp" || ! chmod 0755 "$tmp" || ! mv -f "$tmp" "$2"; then
		fail "cannot replace '$2'"
	fi
}

# build_hello VERSION OUTPUT: compile examples/hello-server.c answering
# VERSION, against the libupdater of this build, with the build's compiler
# and sanitizer flags (a sanitized library needs a sanitized program).
build_hello() {
	local cc san
	cc=$(sed -n 's/^CC = //p' "$BUILDDIR/Makefile")
	san=$(sed -n 's/^SANITIZER_CFLAGS = //p' "$BUILDDIR/Makefile")
	# shellcheck disable=SC2086 # the flags are words
	${cc:-cc} -O1 $san -D_GNU_SOURCE -DHELLO_VERSION="\"$1\"" -I"$SRCDIR/include" \
		"$SRCDIR/examples/hello-server.c" -o "$2" \
		-L"$BUILDDIR/.libs" -Wl,-rpath,"$BUILDDIR/.libs" -lupdater ||
		fail "cannot build hello-server $1"
}

# hello_answer PORT: one connection to hello-server; its answer line on stdout.
hello_answer() {
	"$LOADGEN" --once "$1"
}

# hello_version_is PORT VERSION: true when hello-server now answers VERSION.
hello_version_is() {
	local a
	a=$("$LOADGEN" --once "$1" 2>/dev/null) || return 1
	[[ $a == "hello $2 pid "* ]]
}
