#!/bin/bash
# Hardening (issue 9): text in the daemon's status (a target's last error
# comes from a script's output) must not drive the terminal of whoever runs
# `updaterctl status`: C0 controls and DEL, and the C1 controls U+0080-U+009F
# as UTF-8 (U+009B is CSI to a UTF-8 terminal), and bytes that are not UTF-8
# are printed as '?', other UTF-8 text as it is. Against the stand-in daemon,
# whose status carries "exit 1 é\e[31m\u009b2J\u0085".
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"

new_tmpdir
sock=$TEST_TMP/control.sock
/usr/bin/python3 "$SRCDIR/tests/integration/client-fakedaemon.py" "$sock" normal "$TEST_TMP/fake.log" &
track_pid $!
wait_until 10 test -S "$sock" || fail "the stand-in daemon did not start"

"$UPDATERCTL" --socket "$sock" status >"$TEST_TMP/out" 2>"$TEST_TMP/err" || fail "status: $(cat "$TEST_TMP/err")"
/usr/bin/python3 - "$TEST_TMP/out" <<'PYEOF' || fail "status printed control characters: $(od -c "$TEST_TMP/out" | head -n 20)"
import sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8")  # well-formed UTF-8 throughout
bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
assert not bad, bad
assert "last error: check: exit 1 \u00e9?[31m??2J?" in text, text
PYEOF
pass
