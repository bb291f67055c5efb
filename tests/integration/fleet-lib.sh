# shellcheck shell=bash
# fleet-lib.sh - several machines on one: the fleet-*.sh tests (SPEC 16),
# sourced after lib.sh, daemon-lib.sh and pipeline-lib.sh.
#
# pl_setup makes the shared parts (scripts, keys, the repository $REPO that
# pl_publish writes); fl_node N [top-level YAML lines...] makes machine N in
# $TEST_TMP/nN: its own target bin/hello, state, control socket, machine-id
# (nN/machine-id, "machine-N" unless FL_ID_N says otherwise) and
# configuration. FL_TARGET_LINES: extra lines for its target.
#
#   fl_start N / fl_stop N   its updaterd (log in nN/updaterd.log)
#   fl_check N               updaterctl check --wait; FL_OUT, FL_RC
#   fl_get N EXPR            a Python expression on its status `s`
#   fl_version N             its installed version
#   fl_log_has N ERE         its log has a line matching ERE

fl_dir() {
	echo "$TEST_TMP/n$1"
}

fl_node() {
	local n=$1 d id_var
	shift
	d=$(fl_dir "$n")
	mkdir -p "$d/bin" "$d/state"
	chmod 0755 "$d" "$d/bin" "$d/state"
	id_var=FL_ID_$n
	printf '%s\n' "${!id_var:-machine-$n}" >"$d/machine-id"
	{
		echo "socket: $d/control.sock"
		echo "scripts_dir: $SCRIPTS"
		echo "state_dir: $d/state"
		echo "machine_id_file: $d/machine-id"
		echo "interval: 0"
		echo "min_interval: 0"
		echo "script_user: nobody"
		echo "script_timeout: 30s"
		printf '%s\n' "$@"
		echo "trusted_keys:"
		echo "  - $PUBKEY"
		echo "targets:"
		echo "  - name: hello"
		echo "    path: $d/bin/hello"
		echo "    source: ${SOURCE}"
		if [[ -n ${FL_TARGET_LINES:-} ]]; then
			printf '%s\n' "$FL_TARGET_LINES"
		fi
	} >"$d/updater.yaml"
}

fl_start() {
	local d
	d=$(fl_dir "$1")
	TEST_LOG=$d/updaterd.log start_updaterd "$d/updater.yaml"
	eval "FL_PID_$1=\$UPDATERD_PID"
}

fl_stop() {
	local var=FL_PID_$1 st i
	[[ -n ${!var:-} ]] || return 0
	kill -TERM "${!var}" 2>/dev/null
	for ((i = 0; i < 250; i++)); do
		st=$(cut -d' ' -f3 "/proc/${!var}/stat" 2>/dev/null)
		[[ -z $st || $st == Z ]] && break
		sleep 0.02
	done
	wait "${!var}" 2>/dev/null
	eval "FL_PID_$1="
}

# shellcheck disable=SC2034 # FL_OUT and FL_RC are for the caller
fl_check() {
	FL_OUT=$("$UPDATERCTL" --socket "$(fl_dir "$1")/control.sock" check --wait 40 2>&1)
	FL_RC=$?
}

fl_ctl() {
	local n=$1
	shift
	"$UPDATERCTL" --socket "$(fl_dir "$n")/control.sock" "$@"
}

fl_get() {
	$DGRAM "$(fl_dir "$1")/control.sock" status --reply |
		$PY -c 'import json,sys; s=json.load(sys.stdin); print('"$2"')'
}

fl_version() {
	fl_get "$1" 's["targets"][0]["version"]'
}

# fl_version_is N VERSION: for wait_until.
fl_version_is() {
	[[ $(fl_version "$1") == "$2" ]]
}

fl_log_has() {
	grep -q -E -- "$2" "$(fl_dir "$1")/updaterd.log"
}

# fl_bucket ID VERSION: the bucket of machine-id ID for hello VERSION.
fl_bucket() {
	"$UPDATERCTL" rollout-bucket --machine-id "$1" hello "$2"
}

# fl_pick_id VERSION LOW HIGH: a machine-id whose bucket for VERSION is in [LOW, HIGH).
fl_pick_id() {
	local i b
	for ((i = 0; i < 1000; i++)); do
		b=$(fl_bucket "id-$i" "$1" 2>/dev/null) || continue
		if awk -v b="$b" -v lo="$2" -v hi="$3" 'BEGIN { exit !(b >= lo && b < hi) }'; then
			echo "id-$i"
			return 0
		fi
	done
	return 1
}

# now_ms: the wall clock in milliseconds.
now_ms() {
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}
