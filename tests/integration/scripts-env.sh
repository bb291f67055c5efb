#!/bin/bash
# scripts-env.sh - the real updaterd, started with a polluted environment
# (LD_PRELOAD, BASH_ENV, FOO) and extra open descriptors, runs its check
# script with exactly the SPEC section 6 environment, only fds 0-2, in /,
# with umask 022, stdin from /dev/null, in its own session, as nobody.
source "$(dirname "$0")/lib.sh"
require_root
require_cmd sha256sum setpriv
new_tmpdir

mkdir -p "$TEST_TMP/scripts" "$TEST_TMP/bin" "$TEST_TMP/out"
# The script runs as nobody and reports into this directory.
chown nobody "$TEST_TMP/out"
out=$TEST_TMP/out

printf 'installed hello\n' >"$TEST_TMP/bin/hello"
chmod 0755 "$TEST_TMP/bin/hello"
sha=$(sha256sum "$TEST_TMP/bin/hello" | cut -d' ' -f1)

# /proc/$$/environ is what the shell was given by execve(), before dash adds
# anything of its own; ls is exec'd, so it holds only what the script held
# (and fd 3, its own handle on the directory it lists).
install_script "$TEST_TMP/scripts/check" "#!/bin/sh
tr '\\0' '\\n' </proc/\$\$/environ >'$out/env.tmp'
{ pwd; umask; id -u; id -g; id -G; read -r s </proc/\$\$/stat; echo \"\$\$ \$s\"; } >'$out/where.tmp'
mv '$out/env.tmp' '$out/env'
mv '$out/where.tmp' '$out/where'
exec /bin/ls -l /proc/self/fd/ >'$out/fds'"
install_script "$TEST_TMP/scripts/download" "#!/bin/sh
exit 1"

write_config "$TEST_TMP/updater.yaml" \
	"interval: 0" \
	"min_interval: 0" \
	"script_user: nobody" \
	"targets:" \
	"  - name: hello" \
	"    path: $TEST_TMP/bin/hello" \
	"    source: file://$TEST_TMP/repo/hello"

# What the daemon is started with must not reach the scripts.
exec 7</dev/null 8>"$TEST_TMP/x"
# A real library to preload (harmless in the daemon), so the variable is live.
preload=$(ldconfig -p | awk '$1 == "libm.so.6" { print $NF; exit }')
[[ -f $preload ]] || fail "no libm.so.6 to preload"
LD_PRELOAD=$preload BASH_ENV=/etc/passwd FOO=bar start_updaterd "$TEST_TMP/updater.yaml"
exec 7<&- 8>&-
[[ -r /proc/$UPDATERD_PID/fd/7 && -w /proc/$UPDATERD_PID/fd/8 ]] ||
	fail "the daemon did not inherit the extra fds; the test proves nothing"
for var in "FOO=bar" "LD_PRELOAD=$preload" "BASH_ENV=/etc/passwd"; do
	grep -qzx -- "$var" "/proc/$UPDATERD_PID/environ" ||
		fail "the daemon did not inherit $var; the test proves nothing"
done
grep -q "$preload" "/proc/$UPDATERD_PID/maps" ||
	fail "the daemon did not preload $preload; the test proves nothing"

reply=$(dgram "$TEST_TMP/control.sock" x --reply) || fail "no reply to a check request"
[[ $reply == queued || $reply == running ]] || fail "unexpected reply '$reply'"
wait_until 30 test -s "$out/fds" || fail "the check script did not run"

# The environment, in order, whole.
cache=$(sed -n 's/^UPDATER_CACHE=//p' "$out/env")
[[ -n $cache ]] || fail "UPDATER_CACHE is not set: $(cat "$out/env")"
expected="PATH=/usr/local/bin:/usr/bin:/bin
LANG=C.UTF-8
HOME=$cache
UPDATER_CACHE=$cache
UPDATER_TARGET=hello
UPDATER_PATH=$TEST_TMP/bin/hello
UPDATER_SOURCE=file://$TEST_TMP/repo/hello
UPDATER_VERSION=
UPDATER_SHA256=$sha"
assert_eq "$(sort "$out/env")" "$(sort <<<"$expected")" "the check script's environment"
[[ -d $cache && $(stat -c %U "$cache") == nobody ]] ||
	fail "UPDATER_CACHE '$cache' is not a directory owned by nobody"

# Only fds 0-2 (and ls's own 3); 0 is /dev/null, 1 and 2 are pipes.
fds=$(sed -n 's/.* \([0-9][0-9]*\) -> \(.*\)$/\1 \2/p' "$out/fds" | sort -n)
[[ $(awk '{print $1}' <<<"$fds" | tr '\n' ' ') == "0 1 2 3 " ]] ||
	fail "open fds in the check script: $(tr '\n' ';' <<<"$fds")"
grep -qx '0 /dev/null' <<<"$fds" || fail "stdin is not /dev/null: $fds"
grep -q '^2 pipe:' <<<"$fds" || fail "stderr is not a pipe: $fds"
grep -q '^3 /proc/[0-9]*/fd$' <<<"$fds" || fail "fd 3 is not ls's own: $fds"

# cwd, umask, user, group, session.
mapfile -t where <"$out/where"
assert_eq "${where[0]}" "/" "working directory"
assert_eq "${where[1]}" "0022" "umask"
assert_eq "${where[2]}" "65534" "uid"
assert_eq "${where[3]}" "65534" "gid"
assert_eq "${where[4]}" "65534" "groups"
read -r pid spid _ _ _ pgrp sid _ <<<"${where[5]}"
assert_eq "$spid" "$pid" "/proc/self/stat pid"
assert_eq "$pgrp" "$pid" "the script's process group"
assert_eq "$sid" "$pid" "the script's session"

# The round ends (the script printed no manifest) and the daemon serves on.
is_idle() {
	dgram "$TEST_TMP/control.sock" status --reply | grep -q '"state": *"idle"'
}
wait_until 10 is_idle || fail "the daemon did not go back to idle"
kill -0 "$UPDATERD_PID" || fail "the daemon died"
pass
