# daemon-lib.sh - shared set-up for the daemon-*.sh integration tests
# (sourced after lib.sh).
#
# daemon_setup creates, inside a fresh $TEST_TMP:
#   scripts/check      root-owned 0755; appends "UID PGID" to $CHECKS for every
#                      run, then runs $TEST_TMP/check.body if it exists (so a
#                      test can make it hang or fail), and prints nothing
#   scripts/download   root-owned 0755, prints nothing
#   bin/hello          the target file
#   updater.yaml       a configuration: interval 0 (only requests start
#                      checks), min_interval 1h, script_user nobody, plus the
#                      caller's extra lines
PY=/usr/bin/python3

daemon_setup() {
	require_root
	new_tmpdir
	CHECKS=$TEST_TMP/checks.log
	CONFIG=$TEST_TMP/updater.yaml
	SOCK=$TEST_TMP/control.sock
	mkdir -m 0755 "$TEST_TMP/scripts" "$TEST_TMP/bin"
	: >"$CHECKS"
	chmod 0666 "$CHECKS"
	install_script "$TEST_TMP/scripts/check" "#!/bin/sh
echo \"\$(id -u) \$(cut -d' ' -f5 /proc/\$\$/stat)\" >>'$CHECKS'
if [ -f '$TEST_TMP/check.body' ]; then . '$TEST_TMP/check.body'; fi
exit 0"
	install_script "$TEST_TMP/scripts/download" "#!/bin/sh
exit 1"
	printf '#!/bin/sh\necho hello 1.0\n' >"$TEST_TMP/bin/hello"
	chmod 0755 "$TEST_TMP/bin/hello"
	daemon_write_config "$@"
}

# daemon_write_config [extra YAML lines...]: (re)write $CONFIG.
daemon_write_config() {
	local has_interval=0 has_min=0 line
	for line in "$@"; do
		[[ $line == interval:* ]] && has_interval=1
		[[ $line == min_interval:* ]] && has_min=1
	done
	local extra=()
	((has_interval)) || extra+=("interval: 0")
	((has_min)) || extra+=("min_interval: 1h")
	write_config "$CONFIG" "${extra[@]}" "script_user: nobody" "script_timeout: 60s" "$@" \
		"targets:" \
		"  - name: hello" \
		"    path: $TEST_TMP/bin/hello" \
		"    source: file://$TEST_TMP/repo"
}

# write_manifest TARGET VERSION FILE OUT: an unsigned manifest offering FILE
# (its path as the url) as TARGET VERSION, put at OUT by a rename, mode 0644
# (the scripts read it as nobody).
write_manifest() {
	{
		echo "target=$1"
		echo "version=$2"
		echo "url=$3"
		echo "size=$(stat -c %s "$3")"
		echo "sha256=$(sha256sum "$3" | cut -d ' ' -f 1)"
	} >"$4.tmp"
	chmod 0644 "$4.tmp"
	mv -f "$4.tmp" "$4"
}

# Number of check script runs so far.
checks_run() {
	wc -l <"$CHECKS" | tr -d ' '
}

checks_at_least() {
	(($(checks_run) >= $1))
}

# wait_checks N [SECONDS]: until at least N checks ran.
wait_checks() {
	wait_until "${2:-10}" checks_at_least "$1"
}

# request PAYLOAD [dgram.py args...]: send one datagram, print the reply.
request() {
	$DGRAM "$SOCK" "$@" --reply
}

# The status JSON.
status_json() {
	$DGRAM "$SOCK" status --reply
}

# status_get EXPR: evaluate a Python expression on the parsed status `s`.
status_get() {
	status_json | $PY -c 'import json,sys; s=json.load(sys.stdin); print('"$1"')'
}

# The daemon is idle (no round running).
daemon_idle() {
	[[ $(status_get 's["state"]') == idle ]]
}

# as_nobody CMD...: run a command as nobody with no supplementary groups.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# daemon_exits_within SECONDS: wait for $UPDATERD_PID to end; sets DAEMON_STATUS.
daemon_exits_within() {
	local limit=$1 i st
	for ((i = 0; i < limit * 50; i++)); do
		# A child that exited stays a zombie until waited for.
		st=$(cut -d' ' -f3 "/proc/$UPDATERD_PID/stat" 2>/dev/null)
		if [[ -z $st || $st == Z ]]; then
			wait "$UPDATERD_PID"
			DAEMON_STATUS=$?
			return 0
		fi
		sleep 0.02
	done
	return 1
}
