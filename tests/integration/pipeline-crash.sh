#!/bin/bash
# Crash consistency of the swap: 100 updates of a 20 MiB file, each one cut
# short by kill -9 of updaterd at a random moment. After every kill the
# target is byte for byte the old or the new release, never anything else;
# a restarted daemon leaves no .hello.updater-XXXXXX staging file, answers
# status, and its status agrees with the bytes on disk (sha256 always, the
# version whenever it reports one).
#
# The kill delay is uniform between 0 and 1.2 times one update as measured
# in the test's first rounds (every other one in the update's second half),
# so kills land during the download, between the fsync and the rename, and
# after the swap. The test prints how many landed where.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

ROUNDS=${PIPELINE_CRASH_ROUNDS:-100}
SIZE=$((20 * 1024 * 1024))

daemon_setup "min_interval: 0"
REPO=$TEST_TMP/repo
TARGET=$TEST_TMP/bin/hello
mkdir -m 0755 "$REPO"
install_script "$TEST_TMP/scripts/check" "#!/bin/sh
exec cat '$REPO/manifest'"
install_script "$TEST_TMP/scripts/download" '#!/bin/sh
exec cat "$UPDATER_URL"'
TEST_LOG=$TEST_TMP/updaterd.log
: >"$TEST_LOG"

# Three release files, reused: each round writes a slot that holds neither
# the bytes on disk nor the previous round's release (whose killed download
# may still be reading it). A release is one random base with the round
# number stamped at a few offsets: cheap, and different every round.
head -c "$SIZE" /dev/urandom >"$REPO/base"
for s in 0 1 2; do
	cp "$REPO/base" "$REPO/hello.$s"
	chmod 0644 "$REPO/hello.$s"
done
rm -f "$REPO/base"

slot_file() { echo "$REPO/hello.$1"; }

# publish R SLOT: stamp release R into SLOT and offer it as version 1.R.
publish() {
	local r=$1 f off
	f=$(slot_file "$2")
	for off in 0 4096 $((SIZE / 2)) $((SIZE - 16)); do
		printf '%016d' "$r" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
	done
	write_manifest hello "1.$r" "$f" "$REPO/manifest"
}

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

staging_files() {
	find "$TEST_TMP/bin" -maxdepth 1 -name '.hello.updater-*' ! -name '.hello.updater-prev' -printf '%s\n'
}

status_answers() {
	status_json >/dev/null 2>&1
}

# start_daemon: a daemon that only checks on request; recovery runs before it
# serves, so once status answers, recovery is over. The socket file of a
# killed daemon is still there: wait for an answer, not for the file.
start_daemon() {
	"$UPDATERD" -c "$CONFIG" -v >>"$TEST_LOG" 2>&1 &
	UPDATERD_PID=$!
	# Only the live daemon is killed at exit: an old PID may be reused.
	_pids_to_kill=("$UPDATERD_PID")
	wait_until 20 status_answers || fail "restarted updaterd does not answer status"
}

# The state agrees with the file: sha256 always; the version when reported.
# Args: the version whose bytes are on disk, and whether "unknown" is allowed.
check_status() {
	local want_version=$1 unknown_ok=$2 json sha ver
	json=$(status_json) || fail "no status"
	sha=$($PY -c 'import json,sys; t=json.loads(sys.argv[1])["targets"][0]; print(t["sha256"] or "")' "$json")
	ver=$($PY -c 'import json,sys; t=json.loads(sys.argv[1])["targets"][0]; print("" if t["version"] is None else t["version"])' "$json")
	assert_eq "$sha" "$(sha256sum "$TARGET" | cut -d' ' -f1)" "round $r: sha256 in status against the file"
	if [[ -z $ver ]]; then
		[[ $unknown_ok == yes ]] || fail "round $r: status reports no version for $want_version's bytes"
		STATUS_UNKNOWN=$((STATUS_UNKNOWN + 1))
	else
		assert_eq "$ver" "$want_version" "round $r: version in status against the bytes on disk"
	fi
	REPORTED=$ver
}

# Calibration: three whole updates, unkilled, timed like the kills below:
# from the reply to the request to the "updated" notification, each by a
# freshly started daemon (whose start-up already hashed the target).
timed_update() {
	$PY - "$SOCK" "$1" <<'PYEOF'
import os, socket, sys, time
ev = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ev.connect(os.path.join(os.path.dirname(sys.argv[1]), "events.sock"))
ev.settimeout(60)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("")
s.settimeout(60)
s.sendto(b"check", sys.argv[1])
while s.recv(4096) != b"queued":
    pass
t0 = time.monotonic()
want = ("updated hello " + sys.argv[2]).encode()
while ev.recv(4096) != want:
    pass
print(round((time.monotonic() - t0) * 1000))
PYEOF
}
publish 0 0
cp "$(slot_file 0)" "$TARGET"
chmod 0755 "$TARGET"
durations=()
for r in 1 2 3; do
	publish "$r" $((r % 3))
	start_daemon
	ms=$(timed_update "1.$r") || fail "calibration update $r did not happen"
	durations+=("$ms")
	wait_until 10 daemon_idle || fail "calibration round $r did not end"
	cmp -s "$TARGET" "$(slot_file $((r % 3)))" || fail "calibration update $r: wrong bytes"
	kill -TERM "$UPDATERD_PID"
	daemon_exits_within 5 || fail "updaterd did not stop on SIGTERM"
done
start_daemon
T=$(printf '%s\n' "${durations[@]}" | sort -n | sed -n 2p)
echo "one update of $SIZE bytes: ${durations[*]} ms (median $T ms); kills at 0..$((T * 12 / 10)) ms, every other one at $((T / 2))..$T ms"
# The release on disk: its slot and version.
disk_slot=0 cur_version=1.3 last_slot=0
REPORTED=1.3
first=4

old=0 new=0 STATUS_UNKNOWN=0 left_staging=0
p_before=0 p_download=0 p_staged=0 p_renamed=0 p_after=0
start_s=$SECONDS
for ((r = first; r < first + ROUNDS; r++)); do
	for slot in 0 1 2; do
		((slot != disk_slot && slot != last_slot)) && break
	done
	publish "$r" "$slot"
	last_slot=$slot
	old_file=$(slot_file "$disk_slot")
	new_file=$(slot_file "$slot")
	# Every other kill aims at the second half of the update, where the
	# short fsync-link-rename window is.
	if ((r % 2)); then
		delay=$((T / 2 + (RANDOM * 32768 + RANDOM) % (T / 2 + 1)))
	else
		delay=$(((RANDOM * 32768 + RANDOM) % (T * 12 / 10 + 1)))
	fi
	mark=$(wc -l <"$TEST_LOG")
	assert_eq "$(request check)" queued "request for 1.$r"
	sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
	kill -KILL "$UPDATERD_PID"
	wait "$UPDATERD_PID" 2>/dev/null
	_pids_to_kill=()

	# What the kill interrupted, from the log and the files it left.
	tail -n +"$((mark + 1))" "$TEST_LOG" >"$TEST_TMP/round.log"
	sizes=$(staging_files)
	if cmp -s "$TARGET" "$new_file"; then
		new=$((new + 1))
		landed=new
		if grep -q "updated hello to 1.$r " "$TEST_TMP/round.log"; then
			p_after=$((p_after + 1))
			phase="after the swap"
		else
			p_renamed=$((p_renamed + 1))
			phase="renamed, not yet logged"
		fi
	elif cmp -s "$TARGET" "$old_file"; then
		old=$((old + 1))
		landed=old
		if ! grep -q "update available: hello 1.$r" "$TEST_TMP/round.log"; then
			p_before=$((p_before + 1))
			phase="before the download"
		elif grep -qx "$SIZE" <<<"$sizes"; then
			p_staged=$((p_staged + 1))
			phase="downloaded, not renamed"
		else
			p_download=$((p_download + 1))
			phase="during the download"
		fi
	else
		fail "round $r (kill after $delay ms): '$TARGET' is neither $cur_version nor 1.$r ($(stat -c %s "$TARGET") bytes)"
	fi
	# Once the new file is in place, the swap has cleaned up after itself:
	# the staging file was renamed, the link made for -prev too.
	[[ $landed == new && -n $sizes ]] &&
		fail "round $r ($phase): a staging file is left beside the new file: $(ls -ai "$TEST_TMP/bin")"
	[[ -n $sizes ]] && left_staging=$((left_staging + 1))
	echo "round $r: killed after $delay ms: $landed ($phase); staging files left: $(echo $sizes)"

	# Restart: start-up recovery, then the status must match the disk.
	start_daemon
	[[ -z $(staging_files) ]] || fail "round $r: staging files remain after the restart: $(ls -a "$TEST_TMP/bin")"
	if [[ $landed == new ]]; then
		# Killed between the rename and the state write: the version is
		# unknown until the next check learns it; the sha256 still agrees.
		check_status "1.$r" yes
		cur_version=1.$r
		disk_slot=$slot
	else
		unknown_ok=no
		[[ -z $REPORTED ]] && unknown_ok=yes
		check_status "$cur_version" "$unknown_ok"
	fi
	cmp -s "$TARGET" "$(if [[ $landed == new ]]; then echo "$new_file"; else echo "$old_file"; fi)" ||
		fail "round $r: the restart changed the target"
done
elapsed=$((SECONDS - start_s))

# The last release applies cleanly after all this.
assert_eq "$(request check)" queued "final request"
wait_until 60 daemon_idle || fail "final round did not end"
cmp -s "$TARGET" "$(slot_file "$last_slot")" || fail "the last release was not applied"
assert_eq "$(status_get 's["targets"][0]["version"]')" "1.$((first + ROUNDS - 1))" "final version"
state_tmp=$(find "$TEST_TMP/state" -name '*.tmp-*' | wc -l)

echo "$ROUNDS kills in $elapsed s: old $old, new $new"
echo "  landed before the download $p_before, during it $p_download, after it but before the rename $p_staged,"
echo "  after the rename but before the 'updated' line $p_renamed, after the swap $p_after"
echo "  kills that left a staging file $left_staging (all removed at restart);" \
	"restarts reporting an unknown version $STATUS_UNKNOWN; leftover state temp files $state_tmp"
pass "$ROUNDS kills: $old old, $new new"
