#!/bin/bash
# updater-run's exit status is PROGRAM's: its code, 128+N after signal N,
# 126 when it cannot be executed, 127 when it is not found; 2 for a usage
# error. PROGRAM starts clean: own process group, nothing blocked or ignored.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP

# run_rc EXPECTED ARGS...: run updater-run in the foreground.
run_rc() {
	local want=$1 rc
	shift
	timeout 20 "$RUN" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[[ $rc == "$want" ]] || { cat "$T/err" >&2; fail "updater-run $*: exit $rc, expected $want"; }
}

run_rc 0 -- true
run_rc 7 -- sh -c "exit 7 # $T"
run_rc 143 -- sh -c "kill -TERM \$\$ # $T"
run_rc 137 -- sh -c "kill -KILL \$\$ # $T"

# Not executable (126), not there (127), by path or by PATH lookup.
printf '#!/bin/sh\nexit 0\n' >"$T/noexec"
chmod 0644 "$T/noexec"
run_rc 126 -- "$T/noexec"
grep -q "cannot execute '$T/noexec'" "$T/err" || fail "no exec error logged: $(cat "$T/err")"
run_rc 127 -- "$T/missing"
run_rc 127 -- updater-run-no-such-program
grep -q "updater-run-no-such-program': command not found" "$T/err" || fail "no 'not found' message"
# A directory on PATH holding only a non-executable match: 126, as a shell says.
mkdir "$T/bin"
cp "$T/noexec" "$T/bin/onlyhere"
PATH="$T/bin:$PATH" run_rc 126 -- onlyhere
# A script found through PATH runs from there.
printf '#!/bin/sh\necho "$0"\nexit 5\n' >"$T/bin/five"
chmod 0755 "$T/bin/five"
PATH="$T/bin:$PATH" run_rc 5 -- five
assert_eq "$(cat "$T/out")" "$T/bin/five" "PROGRAM's \$0"

# PROGRAM's options are its own, with or without "--".
run_rc 3 sh -c "exit 3 # $T"

# A clean start: its own process group, no blocked or ignored signal, even
# when updater-run itself was started with some ignored (33 is one of the
# two glibc keeps for itself: sigaction() cannot reset it).
run_rc 0 -- sh -c "set -- \$(cut -d' ' -f5 /proc/\$\$/stat); test \$1 = \$\$ # $T" ||
	fail "PROGRAM is not a process group leader"
(trap '' USR1 INT 33 2>/dev/null; exec "$RUN" -- grep -E '^Sig(Blk|Ign):' /proc/self/status) >"$T/sig" 2>&1 ||
	fail "grep failed: $(cat "$T/sig")"
grep -q '^SigBlk:[[:space:]]*0000000000000000$' "$T/sig" || fail "signals blocked in PROGRAM: $(cat "$T/sig")"
grep -q '^SigIgn:[[:space:]]*0000000000000000$' "$T/sig" || fail "signals ignored in PROGRAM: $(cat "$T/sig")"

# On a terminal whose foreground updater-run owns, PROGRAM's group gets it
# (so ^C reaches PROGRAM as it would without updater-run).
if command -v script >/dev/null 2>&1; then
	script -qec "$RUN -- sh -c 'cut -d\" \" -f5,8 /proc/\$\$/stat # $T'" /dev/null >"$T/tty" 2>&1 </dev/null ||
		fail "under a terminal: $(cat "$T/tty")"
	read -r pgrp tpgid <"$T/tty"
	tpgid=${tpgid%$'\r'}
	[[ -n $pgrp && $pgrp == "$tpgid" ]] || fail "PROGRAM's group $pgrp is not the terminal's foreground ($tpgid)"
fi

# Usage errors: exit 2 and a message that says what is wrong.
usage() {
	local want=$1
	shift
	run_rc 2 "$@"
	grep -q -- "$want" "$T/err" || fail "updater-run $*: message lacks '$want': $(cat "$T/err")"
}
usage "no PROGRAM given"
usage "no PROGRAM given" -v --
usage "unknown option '--frobnicate'" --frobnicate -- true
usage "unknown option '-Z'" -Z -- true
usage "needs an argument" --grace
usage "bad --grace 'soon'" --grace soon -- true
usage "bad --stop-signal 'SIGFOO'" --stop-signal SIGFOO -- true
usage "bad --stop-signal '99'" --stop-signal 99 -- true
usage "bad --restart 'sometimes'" --restart sometimes -- true
usage "bad --ready-timeout '0'" --ready-timeout 0 -- true
usage "bad --listen 'tcp:127.0.0.1'" --listen tcp:127.0.0.1 -- true
usage "bad --listen 'tcp:::1:80'" --listen tcp:::1:80 -- true
usage "bad --listen 'tcp:127.0.0.1:70000'" --listen tcp:127.0.0.1:70000 -- true
usage "bad --listen 'udp:127.0.0.1:80'" --listen udp:127.0.0.1:80 -- true
usage "bad --listen 'a:b=tcp" --listen a:b=tcp:127.0.0.1:80 -- true
usage "bad --listen 'unix:'" --listen unix: -- true
# Signal names and numbers are accepted in every spelling.
run_rc 0 --stop-signal INT -- true
run_rc 0 --stop-signal sigusr1 -- true
run_rc 0 --stop-signal 9 -- true

run_rc 0 --help
grep -q '^Usage: updater-run' "$T/out" || fail "--help prints no usage"
run_rc 0 --version
grep -q '^updater-run [0-9]' "$T/out" || fail "--version prints no version"

assert_no_leftovers
pass
