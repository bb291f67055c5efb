# shellcheck shell=bash
# pipeline-lib.sh - shared set-up for the pipeline-*.sh integration tests
# (sourced after lib.sh and daemon-lib.sh).
#
# These tests run the real daemon with the real default scripts
# (scripts/check and scripts/download, installed root-owned 0755), manifests
# made by the real scripts/updater-publish and signed by the real minisign
# with a key generated for the test.
#
# pl_setup creates, inside a fresh $TEST_TMP:
#   scripts/           the default check and download scripts
#   keys/pub, sec      a minisign key pair without a password ($PUBKEY: its key line)
#   rel/hello-V        release files made by pl_release (copies of /bin/sleep, so
#                      a process running one has it as /proc/PID/exe)
#   repo/              the repository updater-publish writes
#   bin/hello          the target ($TARGET)
# and sets CONFIG, SOCK, SOURCE (file://$REPO unless the caller set it).
UPDATERCTL=$BUILDDIR/updaterctl

pl_setup() {
	require_root
	require_cmd minisign curl
	[[ -x /usr/bin/python3 ]] || skip "needs /usr/bin/python3"
	new_tmpdir
	CONFIG=$TEST_TMP/updater.yaml
	SOCK=$TEST_TMP/control.sock
	REPO=$TEST_TMP/repo
	REL=$TEST_TMP/rel
	BIN=$TEST_TMP/bin
	TARGET=$BIN/hello
	KEYS=$TEST_TMP/keys
	SCRIPTS=$TEST_TMP/scripts
	SOURCE=${SOURCE:-file://$REPO}
	TEST_LOG=$TEST_TMP/updaterd.log
	: >"$TEST_LOG"
	mkdir -m 0755 "$SCRIPTS" "$REPO" "$REL" "$BIN" "$TEST_TMP/state"
	mkdir -m 0700 "$KEYS"
	install -o root -g root -m 0755 "$SRCDIR/scripts/check" "$SRCDIR/scripts/download" "$SCRIPTS/"
	minisign -G -W -p "$KEYS/pub" -s "$KEYS/sec" >/dev/null 2>&1 || fail "minisign -G failed"
	PUBKEY=$(tail -n 1 "$KEYS/pub")
	PL_TRUSTED=("$PUBKEY")
}

# pl_release VERSION: the release file $REL/hello-VERSION, an ELF unique to VERSION.
pl_release() {
	local f=$REL/hello-$1
	[[ -f $f ]] && return 0
	cp /bin/sleep "$f"
	printf '\n# hello %s\n' "$1" >>"$f"
	chmod 0644 "$f"
}

# pl_publish VERSION [updater-publish options...]: a signed release of hello.
pl_publish() {
	local v=$1
	shift
	pl_release "$v"
	"$SRCDIR/scripts/updater-publish" --repo "$REPO" --target hello --version "$v" \
		--key "$KEYS/sec" "$@" "$REL/hello-$v" >/dev/null || fail "updater-publish $v failed"
}

# pl_sign [minisign options...]: (re)sign $REPO/manifest with the test key.
pl_sign() {
	minisign -S -s "$KEYS/sec" -m "$REPO/manifest" -x "$REPO/manifest.minisig" "$@" \
		>/dev/null 2>&1 || fail "minisign -S failed"
	chmod 0644 "$REPO/manifest.minisig"
}

# pl_manifest KEY=VALUE...: write $REPO/manifest by hand (unsigned).
pl_manifest() {
	printf '%s\n' "$@" >"$REPO/manifest"
	chmod 0644 "$REPO/manifest"
	rm -f "$REPO/manifest.minisig"
}

# pl_config [top-level YAML lines...]: (re)write $CONFIG. PL_TRUSTED holds
# the trusted keys (empty: none), PL_TARGET_LINES extra lines for the target,
# PL_SCRIPTS_DIR the scripts directory ($SCRIPTS).
pl_config() {
	local k
	{
		echo "socket: $SOCK"
		echo "scripts_dir: ${PL_SCRIPTS_DIR:-$SCRIPTS}"
		echo "state_dir: $TEST_TMP/state"
		echo "interval: 0"
		echo "min_interval: 0"
		echo "script_user: nobody"
		printf '%s\n' "$@"
		if ((${#PL_TRUSTED[@]} == 0)) && [[ " $* " != *" allow_unsigned:"* ]]; then
			echo "allow_unsigned: true"
		fi
		if ((${#PL_TRUSTED[@]} > 0)); then
			echo "trusted_keys:"
			for k in "${PL_TRUSTED[@]}"; do
				echo "  - $k"
			done
		fi
		echo "targets:"
		echo "  - name: hello"
		echo "    path: $TARGET"
		echo "    source: $SOURCE"
		if [[ -n ${PL_TARGET_LINES:-} ]]; then
			printf '%s\n' "$PL_TARGET_LINES"
		fi
	} >"$CONFIG"
	grep -q '^script_timeout:' "$CONFIG" || echo "script_timeout: 30s" >>"$CONFIG"
}

# pl_start: start the daemon on $CONFIG (see start_updaterd).
pl_start() {
	start_updaterd "$CONFIG"
}

# pl_stop: SIGTERM the daemon and wait for it (it must exit 0).
pl_stop() {
	[[ -n ${UPDATERD_PID:-} ]] || return 0
	kill -TERM "$UPDATERD_PID" 2>/dev/null
	daemon_exits_within 5 || fail "updaterd did not stop on SIGTERM"
	assert_eq "$DAEMON_STATUS" 0 "exit status of updaterd after SIGTERM"
	UPDATERD_PID=
}

# pl_restart [top-level YAML lines...]: a daemon on a freshly written configuration.
pl_restart() {
	pl_stop
	pl_config "$@"
	pl_start
}

# pl_check: one check through updaterctl, waiting for its end. Prints the
# round's summary (and notifications); PL_RC gets updaterctl's exit code.
# shellcheck disable=SC2034 # PL_OUT and PL_RC are for the caller
pl_check() {
	PL_OUT=$("$UPDATERCTL" --socket "$SOCK" check --wait 40 2>&1)
	PL_RC=$?
}

# pl_once: one `updaterd --once` run on $CONFIG, its log appended to
# $TEST_LOG; PL_RC gets its exit code.
# shellcheck disable=SC2034
pl_once() {
	"$UPDATERD" -c "$CONFIG" -v --once >>"$TEST_LOG" 2>&1
	PL_RC=$?
}

# The installed version as the daemon reports it.
pl_version() {
	status_get 's["targets"][0]["version"]'
}

# No staging file is left beside the target.
pl_no_staging() {
	local left
	left=$(find "$BIN" -maxdepth 1 -name '.hello.updater-??????' -print)
	[[ -z $left ]] || fail "${1:-}: staging file(s) left: $left"
}

# pl_mark: remember where the log ends, so pl_log_has looks only at what follows.
pl_mark() {
	PL_MARK=$(wc -l <"$TEST_LOG")
}

# pl_log_has ERE: the log, after the last pl_mark, has a line matching ERE.
pl_log_has() {
	tail -n +"$((PL_MARK + 1))" "$TEST_LOG" | grep -q -E -- "$1"
}

# pl_subscribe OUT: a subscriber in the background (a connection to the
# events socket), one received packet a line in OUT; its first line is
# "connected".
pl_subscribe() {
	local out=$1
	: >"$out"
	/usr/bin/python3 "$SRCDIR/tests/integration/events.py" "$SOCK" --timeout 120 >"$out" 2>&1 &
	track_pid $!
	wait_until 5 grep -q '^connected$' "$out" || fail "subscribe failed: $(cat "$out")"
}

# pl_exited PID: the child PID ended (gone, or a zombie not yet waited for).
pl_exited() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
	[[ -z $st || $st == Z ]]
}

NGINX=/usr/sbin/nginx

# require_nginx: skip the test without nginx.
require_nginx() {
	[[ -x $NGINX ]] || skip "needs nginx ($NGINX)"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_nginx: nginx on a free port, serving $TEST_TMP/repo as /repo/ and
# answering 500 for /broken/manifest. Sets PORT, NGX, ACCESS; NGX/bytes.log
# has "STATUS URI BODY_BYTES" a request.
start_nginx() {
	local try
	NGX=$TEST_TMP/nginx
	ACCESS=$NGX/access.log
	mkdir -p "$NGX/tmp"
	for try in 1 2 3; do
		PORT=$(free_port)
		cat >"$NGX/nginx.conf" <<EOF
# One process, so that killing it at exit leaves no worker behind.
master_process off;
error_log $NGX/error.log info;
events { worker_connections 64; }
http {
	default_type application/octet-stream;
	log_format cond escape=none '\$status \$request_method \$uri inm=\$http_if_none_match';
	access_log $ACCESS cond;
	# What crossed the network, for the transfer tests.
	log_format bytes escape=none '\$status \$uri \$body_bytes_sent';
	access_log $NGX/bytes.log bytes;
	client_body_temp_path $NGX/tmp/body;
	proxy_temp_path $NGX/tmp/proxy;
	fastcgi_temp_path $NGX/tmp/fastcgi;
	uwsgi_temp_path $NGX/tmp/uwsgi;
	scgi_temp_path $NGX/tmp/scgi;
	server {
		listen 127.0.0.1:$PORT;
		root $TEST_TMP;
		location / { return 404; }
		location /repo/ { }
		location = /broken/manifest { return 500; }
	}
}
EOF
		"$NGINX" -e "$NGX/error.log" -p "$NGX" -c "$NGX/nginx.conf" \
			-g "daemon off; pid $NGX/nginx.pid;" >>"$NGX/nginx.out" 2>&1 </dev/null &
		NGINX_PID=$!
		track_pid "$NGINX_PID"
		if wait_until 10 curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/"; then
			return 0
		fi
		kill -KILL "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
		echo "nginx did not start on port $PORT (try $try)" >&2
	done
	cat "$NGX/error.log" "$NGX/nginx.out" >&2
	fail "nginx did not start"
}

# Lines of the access log matching an ERE.
access_count() {
	grep -c -E -- "$1" "$ACCESS" || true
}

# PL_SHOW_LOG=1 in the environment: print the daemon's log at exit (debugging).
if [[ -n ${PL_SHOW_LOG:-} ]]; then
	trap '[[ -f ${TEST_LOG:-} ]] && cat "$TEST_LOG" >&2; _cleanup' EXIT
fi
