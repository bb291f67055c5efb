#!/bin/bash
# Drop-ins and a daemon without targets (SPEC 19): the installed default
# file (no targets) starts a daemon that answers status and idles; a drop-in
# in updater.d/ adds a target at SIGHUP; --check-config names the drop-in of
# each error, exits 78, and a broken drop-in at reload keeps the running
# configuration.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup
out=$TEST_TMP/out.txt
D=$TEST_TMP/updater.d

# The default configuration as `make install` writes it, with this test's
# paths: it must set nothing that the appended lines repeat (every setting
# is commented out) and name no target.
default=$BUILDDIR/etc/updater.yaml
[[ -f $default ]] || fail "no default configuration at '$default'"
grep -q '^[a-z]' "$default" && fail "the default configuration sets something: $(grep '^[a-z]' "$default")"
{
	cat "$default"
	write_config /dev/stdout "interval: 0" "script_user: nobody"
} >"$CONFIG"
"$UPDATERD" -c "$CONFIG" --check-config >"$out" 2>&1
assert_eq "$?" 0 "--check-config on the default file: $(cat "$out")"

start_updaterd "$CONFIG"
grep -q 'serving 0 targets' "$TEST_LOG" || fail "no 'serving 0 targets' line: $(cat "$TEST_LOG")"
assert_eq "$(status_get 'len(s["targets"])')" 0 "targets of the default configuration"
assert_eq "$(status_get 's["state"]')" idle "state without targets"
reply=$(request check)
[[ $reply =~ ^(queued|running|deferred) ]] || fail "check without targets: '$reply'"
wait_until 5 daemon_idle || fail "a round without targets did not end"
assert_eq "$(checks_run)" 0 "scripts run without targets"
kill -0 "$UPDATERD_PID" || fail "updaterd without targets died"

# A drop-in adds a target at SIGHUP; files that are not *.yaml are skipped.
mkdir -m 0755 "$D"
printf 'targets:\n  - name: hello\n    path: %s\n    source: file://%s/repo\n' \
	"$TEST_TMP/bin/hello" "$TEST_TMP" >"$D/10-hello.yaml"
printf 'targets:\n  - name: ignored\n    path: /nowhere\n    source: s\n' >"$D/10-hello.yaml.dpkg-old"
"$UPDATERD" -c "$CONFIG" --check-config >"$out" 2>&1
assert_eq "$?" 0 "--check-config with a drop-in: $(cat "$out")"
kill -HUP "$UPDATERD_PID"
has_hello() {
	[[ $(status_get '",".join(t["name"] for t in s["targets"])') == hello ]]
}
wait_until 5 has_hello || fail "the drop-in's target is not served after SIGHUP: $(status_json)"
wait_checks 1 5 || fail "the drop-in's target was not checked after SIGHUP"

# Errors in drop-ins name their file; the main file's errors are reported too.
printf 'targets:\n  - name: two\n    path: %s/bin/two\n    source: s\n    bogus: 1\n' "$TEST_TMP" >"$D/20-bad.yaml"
printf 'targets:\n  - name: hello\n    path: /x/hello\n    source: s\ninterval: 1m\n' >"$D/30-dup.yaml"
"$UPDATERD" -c "$CONFIG" --check-config >"$out" 2>&1
assert_eq "$?" 78 "--check-config with broken drop-ins"
grep -qF "$D/20-bad.yaml:5: targets[0].bogus: unknown key" "$out" || fail "the bad key's drop-in is not named: $(cat "$out")"
grep -qF "$D/30-dup.yaml:2: targets[0].name: duplicate target name 'hello' (also targets[0] in '$D/10-hello.yaml')" "$out" ||
	fail "the duplicate is not named with both files: $(cat "$out")"
grep -qF "$D/30-dup.yaml:5: interval: not allowed in a drop-in" "$out" || fail "a setting in a drop-in is not refused: $(cat "$out")"

# The same at reload: every error logged, the running configuration kept.
kill -HUP "$UPDATERD_PID"
wait_until 5 grep -q 'keeping the running configuration' "$TEST_LOG" || fail "no log line about keeping the configuration"
grep -qF "$D/20-bad.yaml:5" "$TEST_LOG" || fail "the reload error does not name the drop-in"
kill -0 "$UPDATERD_PID" || fail "updaterd died on a broken drop-in"
wait_until 5 has_hello || fail "the running configuration was not kept"

# At start, a broken drop-in is a configuration error.
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"
"$UPDATERD" -c "$CONFIG" >"$out" 2>&1
assert_eq "$?" 78 "start with a broken drop-in"
grep -qF "$D/20-bad.yaml" "$out" || fail "the start error does not name the drop-in: $(cat "$out")"

# Socket-activated with a broken configuration: exit 78 and leave no request
# in the socket, or systemd would start the daemon again at once, in a loop,
# until it gives up on the socket (trigger-limit-hit) and refuses everyone.
left=$($PY - "$UPDATERD" "$CONFIG" "$TEST_TMP/activated.sock" <<'PY'
import os, socket, sys
updaterd, config, path = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for i in range(5):  # fewer than net.unix.max_dgram_qlen (10): sendto never blocks
    c.sendto(b"x", path)
pid = os.fork()
if pid == 0:
    if s.fileno() != 3:
        os.dup2(s.fileno(), 3)
    os.set_inheritable(3, True)
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
    os.execve(updaterd, [updaterd, "-c", config], env)
_, status = os.waitpid(pid, 0)
s.setblocking(False)
left = 0
try:
    while True:
        s.recv(16)
        left += 1
except BlockingIOError:
    pass
print(os.waitstatus_to_exitcode(status), left)
PY
)
assert_eq "$left" "78 0" "exit status and requests left in an activated socket with a broken configuration"
pass
