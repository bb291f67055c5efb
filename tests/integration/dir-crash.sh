#!/bin/bash
# Crash consistency of directory targets (SPEC section 18): 50 updates of a
# release of 400 files, each cut short by kill -9 of updaterd at a random
# moment (during the download, the unpacking and its fsyncs, the renames, or
# after the switch). After every kill `current` names one whole release,
# the old or the new one: all 400 files there, each of that release; a
# restarted daemon leaves no temporary entry (no half-unpacked
# releases/.VERSION.updater-XXXXXX directory, no archive, no new symlink),
# and its status names the release `current` names.
#
# The kill delay is uniform between 0 and 1.2 times one update as measured
# in the test's first rounds, so kills land in every phase; the test prints
# how many landed where. The releases are signed manifests printed by a
# check script of the test's own (cat), so nothing but the daemon is timed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/dir-lib.sh"

ROUNDS=${DIR_CRASH_ROUNDS:-50}
FILES=400
dl_setup
install_script "$SCRIPTS/check" "#!/bin/sh
exec cat '$REPO/manifest' '$REPO/manifest.minisig'"
install_script "$SCRIPTS/download" '#!/bin/sh
exec cat "$UPDATER_URL"'

# Every archive at once: release R is FILES files in d0..d3, each holding
# "R" and some bytes, gzip-compressed.
$PY - "$REPO" "$((ROUNDS + 4))" "$FILES" <<'PYEOF' || fail "cannot make the archives"
import io, os, sys, tarfile
repo, rounds, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pad = os.urandom(3000)
for r in range(rounds):
    with tarfile.open("%s/shop-%d.tar.gz" % (repo, r), "w:gz", compresslevel=1) as tar:
        for d in range(4):
            t = tarfile.TarInfo("d%d" % d); t.type = tarfile.DIRTYPE; t.mode = 0o755
            tar.addfile(t)
        for f in range(files):
            data = b"%d\n" % r + pad
            t = tarfile.TarInfo("d%d/f%03d" % (f % 4, f)); t.size = len(data); t.mode = 0o644
            tar.addfile(t, io.BytesIO(data))
    os.chmod("%s/shop-%d.tar.gz" % (repo, r), 0o644)
PYEOF

# publish R: offer release R, signed.
publish() {
	local f=$REPO/shop-$1.tar.gz
	{
		echo "target=shop"
		echo "version=$1"
		echo "url=$f"
		echo "size=$(stat -c %s "$f")"
		echo "sha256=$(sha256sum "$f" | cut -d ' ' -f 1)"
		echo "expires=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)"
	} >"$REPO/manifest.new"
	minisign -S -s "$KEYS/sec" -m "$REPO/manifest.new" -x "$REPO/manifest.minisig.new" >/dev/null 2>&1 ||
		fail "minisign -S"
	chmod 0644 "$REPO/manifest.new" "$REPO/manifest.minisig.new"
	mv -f "$REPO/manifest.minisig.new" "$REPO/manifest.minisig"
	mv -f "$REPO/manifest.new" "$REPO/manifest"
}

# whole: `current` names release $1 or $2, and it is whole; prints which.
whole() {
	local v n vals
	v=$(dl_current)
	[[ $v == "$1" || $v == "$2" ]] || fail "round $r: current names '$v', neither $1 nor $2"
	n=$(find "$CURRENT/" -type f | wc -l)
	assert_eq "$n" "$FILES" "round $r: files in release $v"
	vals=$(find "$CURRENT/" -type f -exec head -qn1 {} + | sort -u | tr '\n' ' ')
	assert_eq "$vals" "$v " "round $r: what the files of release $v hold"
	echo "$v"
}

current_is() {
	[[ $(dl_current) == "$1" ]]
}

status_answers() {
	status_json >/dev/null 2>&1
}

start_daemon() {
	"$UPDATERD" -c "$CONFIG" -v >>"$TEST_LOG" 2>&1 &
	UPDATERD_PID=$!
	_pids_to_kill=("$UPDATERD_PID")
	wait_until 20 status_answers || fail "restarted updaterd does not answer status"
}

dl_config
publish 0
start_daemon
pl_check
assert_eq "$(dl_current)" 0 "the first release"

# Calibration: three whole updates, timed from the request to the switch.
durations=()
for r in 1 2 3; do
	publish "$r"
	t0=${EPOCHREALTIME/./}
	assert_eq "$(request check)" queued "calibration request $r"
	wait_until 30 current_is "$r" || fail "calibration update $r did not happen"
	t1=${EPOCHREALTIME/./}
	durations+=($(((t1 - t0) / 1000)))
	wait_until 10 daemon_idle || fail "calibration round $r did not end"
done
T=$(printf '%s\n' "${durations[@]}" | sort -n | sed -n 2p)
((T > 0)) || T=1
echo "one update of $FILES files: ${durations[*]} ms (median $T ms); kills at 0..$((T * 12 / 10)) ms"

cur=3 old=0 new=0 p_before=0 p_unpack=0 p_after=0
start_s=$SECONDS
for ((r = 4; r < 4 + ROUNDS; r++)); do
	publish "$r"
	delay=$(((RANDOM * 32768 + RANDOM) % (T * 12 / 10 + 1)))
	mark=$(wc -l <"$TEST_LOG")
	assert_eq "$(request check)" queued "request for $r"
	sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
	kill -KILL "$UPDATERD_PID"
	wait "$UPDATERD_PID" 2>/dev/null
	_pids_to_kill=()

	landed=$(whole "$cur" "$r")
	tail -n +"$((mark + 1))" "$TEST_LOG" >"$TEST_TMP/round.log"
	if [[ $landed == "$r" ]]; then
		new=$((new + 1)) p_after=$((p_after + 1))
		phase="after the switch"
	elif grep -q "update available: shop $r" "$TEST_TMP/round.log"; then
		old=$((old + 1)) p_unpack=$((p_unpack + 1))
		phase="during the download, the unpacking or the renames"
	else
		old=$((old + 1)) p_before=$((p_before + 1))
		phase="before the download"
	fi
	echo "round $r: killed after $delay ms: current is $landed ($phase); temporaries: $(dl_temporaries | wc -l)"

	start_daemon
	[[ -z $(dl_temporaries) ]] || fail "round $r: temporaries remain after the restart: $(dl_temporaries)"
	whole "$cur" "$r" >/dev/null
	assert_eq "$(pl_version)" "$landed" "round $r: the version in status after the restart"
	cur=$landed
done
elapsed=$((SECONDS - start_s))

# The last release applies cleanly after all this.
last=$((4 + ROUNDS - 1))
pl_check
assert_eq "$(dl_current)" "$last" "the last release"
r=final whole "$last" "$last" >/dev/null
dl_no_temporaries || fail "temporaries after the last update: $(dl_temporaries)"
echo "$ROUNDS kills in $elapsed s: current was the old release $old times (killed before the download $p_before," \
	"during it or the unpacking $p_unpack), the new one $new times"
pass "$ROUNDS kills: always one whole release"
