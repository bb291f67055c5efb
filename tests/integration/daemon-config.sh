#!/bin/bash
# Options and configuration: --check-config (0 / 78), usage errors (2),
# --version, a broken file at start (78) and at reload (the running
# configuration is kept and the daemon keeps answering), --once (0 / 1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

daemon_setup
out=$TEST_TMP/out.txt

"$UPDATERD" -c "$CONFIG" --check-config >"$out" 2>&1
assert_eq "$?" 0 "--check-config on a good file"

cp "$CONFIG" "$TEST_TMP/good.yaml"
{
	cat "$TEST_TMP/good.yaml"
	echo "bogus_key: 1"
} | sed 's/^interval: 0$/interval: soon/' >"$TEST_TMP/broken.yaml"
"$UPDATERD" -c "$TEST_TMP/broken.yaml" --check-config >"$out" 2>&1
assert_eq "$?" 78 "--check-config on a broken file"
grep -q 'bogus_key' "$out" || fail "the unknown key is not reported: $(cat "$out")"
grep -q 'interval' "$out" || fail "the bad duration is not reported: $(cat "$out")"
"$UPDATERD" -c "$TEST_TMP/missing.yaml" --check-config >"$out" 2>&1
assert_eq "$?" 78 "--check-config on a missing file"

# Scripts that may not be run, and a user that does not exist.
chmod 0775 "$TEST_TMP/scripts/check"
"$UPDATERD" -c "$CONFIG" --check-config >"$out" 2>&1
assert_eq "$?" 78 "--check-config with a group-writable check script"
grep -q "scripts/check" "$out" || fail "the script is not named: $(cat "$out")"
chmod 0755 "$TEST_TMP/scripts/check"
rm "$TEST_TMP/scripts/download"
"$UPDATERD" -c "$CONFIG" --check-config >"$out" 2>&1
assert_eq "$?" 78 "--check-config without a download script"
install_script "$TEST_TMP/scripts/download" "#!/bin/sh"
sed 's/^script_user: nobody$/script_user: no-such-user-here/' "$TEST_TMP/good.yaml" >"$TEST_TMP/nouser.yaml"
"$UPDATERD" -c "$TEST_TMP/nouser.yaml" --check-config >"$out" 2>&1
assert_eq "$?" 78 "--check-config with an unknown script_user"
grep -q 'no-such-user-here' "$out" || fail "the user is not named: $(cat "$out")"

# Usage.
"$UPDATERD" --bogus >/dev/null 2>&1
assert_eq "$?" 2 "unknown option"
"$UPDATERD" -c "$CONFIG" extra >/dev/null 2>&1
assert_eq "$?" 2 "extra argument"
"$UPDATERD" --check-config --once -c "$CONFIG" >/dev/null 2>&1
assert_eq "$?" 2 "--check-config with --once"
[[ $("$UPDATERD" --version) =~ ^updaterd\ [0-9] ]] || fail "--version"
"$UPDATERD" -h | grep -q -- '--check-config' || fail "-h does not describe the options"

# A broken file at start: 78, every error logged.
"$UPDATERD" -c "$TEST_TMP/broken.yaml" >"$out" 2>&1
assert_eq "$?" 78 "start with a broken file"
[[ $(grep -c -E 'bogus_key|interval' "$out") -ge 2 ]] || fail "not every error logged: $(cat "$out")"

# A broken file at reload: kept running with the old configuration.
start_updaterd "$CONFIG"
cp "$TEST_TMP/broken.yaml" "$CONFIG"
kill -HUP "$UPDATERD_PID"
wait_until 5 grep -q 'keeping the running configuration' "$TEST_LOG" || fail "no log line about keeping the configuration"
grep -q 'bogus_key' "$TEST_LOG" || fail "the reload errors are not logged"
kill -0 "$UPDATERD_PID" || fail "updaterd died on a broken reload"
assert_eq "$(status_get 's["targets"][0]["name"]')" hello "target after a broken reload"
# SIGHUP still checks at once.
wait_checks 1 5 || fail "no check after a broken reload"
# A good file takes effect.
sed 's/name: hello$/name: hello2/' "$TEST_TMP/good.yaml" >"$CONFIG"
wait_until 10 daemon_idle || fail "round did not end"
kill -HUP "$UPDATERD_PID"
reloaded() {
	[[ $(status_get 's["targets"][0]["name"]') == hello2 ]]
}
wait_until 5 reloaded || fail "a good reload did not take effect"
kill -TERM "$UPDATERD_PID"
daemon_exits_within 3 || fail "updaterd did not stop"

# --once: 0 when the check found nothing, 1 when it failed.
cp "$TEST_TMP/good.yaml" "$CONFIG"
before=$(checks_run)
"$UPDATERD" -c "$CONFIG" --once >"$out" 2>&1
assert_eq "$?" 0 "--once with nothing to update: $(cat "$out")"
assert_eq "$(checks_run)" "$((before + 1))" "--once ran the check once"
[[ ! -e $SOCK ]] || fail "--once created the control socket"
echo "exit 3" >"$TEST_TMP/check.body"
"$UPDATERD" -c "$CONFIG" --once >"$out" 2>&1
assert_eq "$?" 1 "--once with a failing check: $(cat "$out")"
rm -f "$TEST_TMP/check.body"

# Not root: script_user does not apply, scripts owned by the daemon's user
# are accepted and run as that user.
U=$TEST_TMP/user
mkdir -m 0755 "$U"
cp -r "$TEST_TMP/scripts" "$TEST_TMP/bin" "$U/"
sed -e "s|$TEST_TMP/|$U/|g" -e "s|^socket: .*|socket: $U/control.sock|" "$TEST_TMP/good.yaml" >"$U/updater.yaml"
: >"$U/checks.log"
sed -i "s|'$CHECKS'|'$U/checks.log'|" "$U/scripts/check"
chown -R nobody "$U"
as_nobody "$UPDATERD" -c "$U/updater.yaml" --check-config >"$out" 2>&1
assert_eq "$?" 0 "--check-config as nobody with scripts owned by nobody: $(cat "$out")"
as_nobody "$UPDATERD" -c "$U/updater.yaml" --once >"$out" 2>&1
assert_eq "$?" 0 "--once as nobody: $(cat "$out")"
read -r uid _ <"$U/checks.log"
assert_eq "$uid" 65534 "the check script's uid under a non-root daemon"
pass
