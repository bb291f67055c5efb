#!/bin/bash
# A directory target's update is one switch (SPEC section 18). Each release
# has three files that change together: bin/shop, the shared library it
# loads (lib/libshop.so) and the data file it reads (share/data), each
# stamped with its version. While a loop runs `current/bin/shop` as fast as
# it can, the real daemon applies three signed releases: every run must see
# one whole release (never a new binary with an old library or data file)
# and no run may fail.
#
# At the same time, through `current`:
#  - hello-server (libupdater) started as current/bin/hello re-executes into
#    each new release, keeping its PID, with not one connection refused,
#    reset or unanswered (tests/loadgen);
#  - updater-run --restart-on-update runs current/bin/started and starts it
#    again from each new release.
# Last, with the daemon stopped, `current` is switched by hand (ln -s, mv -T):
# both see that too, through their watch of the symlink's directory alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/pipeline-lib.sh"
. "$(dirname "$0")/client-common.bash"
. "$(dirname "$0")/dir-lib.sh"

[[ -x $LOADGEN ]] || skip "needs tests/loadgen (make check builds it)"
dl_setup
UPDATER_RUN=$BUILDDIR/updater-run
STARTS=$TEST_TMP/starts.log
: >"$STARTS"
chmod 0666 "$STARTS"

# A release: shop's three files, hello-server, and a program for updater-run.
release() {
	dl_release "$1"
	build_hello "$1" "$REL/shop-$1/bin/hello" || fail "cannot build hello-server $1"
	printf '#!/bin/sh\necho "%s $$" >>"%s"\nexec sleep 600\n' "$1" "$STARTS" >"$REL/shop-$1/bin/started"
	chmod 0755 "$REL/shop-$1/bin/started" "$REL/shop-$1/bin/hello"
}
VERSIONS=(2 3 4)
release 1
for v in "${VERSIONS[@]}"; do
	release "$v"
done
dl_publish 1

DL_TARGET_LINES="    smoke_test: [bin/shop, --version]"
dl_config
pl_start
pl_check
assert_eq "$(dl_current)" 1 "the first release"

# The loop: one line per run, FAILED when a run did not exit 0.
(
	while :; do
		"$CURRENT/bin/shop" 2>&1 || echo "FAILED $?"
	done
) >"$TEST_TMP/runs.log" &
LOOP=$!
track_pid "$LOOP"

export UPDATER_SOCKET=$SOCK
"$CURRENT/bin/hello" --port 0 --port-file "$TEST_TMP/port" 2>"$TEST_TMP/hello.log" &
SERVER=$!
track_pid "$SERVER"
wait_until 10 test -s "$TEST_TMP/port" || fail "hello-server did not start: $(cat "$TEST_TMP/hello.log")"
PORT=$(cat "$TEST_TMP/port")
wait_until 10 hello_version_is "$PORT" 1 || fail "hello-server does not answer 1"
"$LOADGEN" --clients 4 --interval-ms 1 "$PORT" >"$TEST_TMP/load.out" 2>"$TEST_TMP/load.err" &
LOAD=$!
track_pid "$LOAD"

"$UPDATER_RUN" --restart-on-update -- "$CURRENT/bin/started" 2>"$TEST_TMP/run.log" &
RUN=$!
track_pid "$RUN"
wait_until 10 grep -q '^1 ' "$STARTS" || fail "updater-run did not start current/bin/started"

sleep 0.5
for v in "${VERSIONS[@]}"; do
	dl_publish "$v"
	pl_check
	assert_eq "$PL_RC" 0 "check for $v: $PL_OUT"
	assert_eq "$(dl_current)" "$v" "current after $v"
	wait_until 30 hello_version_is "$PORT" "$v" || fail "hello-server did not re-execute into $v: $(tail -n 5 "$TEST_TMP/hello.log")"
	wait_until 30 grep -q "^$v " "$STARTS" || fail "updater-run did not restart into $v: $(cat "$STARTS") $(tail -n 5 "$TEST_TMP/run.log")"
	sleep 0.3
done

# Without the daemon (stopped: no notification reaches anyone), a switch by
# hand as any deploy tool makes it: only the watch on the symlink's directory
# can see it.
pl_stop
release 5
cp -a "$REL/shop-5" "$RELEASES/5"
ln -s "$RELEASES/5" "$OPT/.current.new"
mv -T "$OPT/.current.new" "$CURRENT"
wait_until 30 hello_version_is "$PORT" 5 || fail "hello-server did not see the switch by hand: $(tail -n 5 "$TEST_TMP/hello.log")"
wait_until 30 grep -q "^5 " "$STARTS" || fail "updater-run did not see the switch by hand: $(cat "$STARTS")"
sleep 0.3

kill -TERM "$LOAD"
wait "$LOAD"
kill "$LOOP"
wait "$LOOP" 2>/dev/null

# Every run saw one whole release.
runs=$(wc -l <"$TEST_TMP/runs.log")
mixed=$(grep -E '^bin=' "$TEST_TMP/runs.log" | grep -v -E '^bin=([0-9]+) lib=\1 data=\1$' | head -n 5)
failed=$(grep -c '^FAILED' "$TEST_TMP/runs.log")
# A line cut short by the kill of the loop is the only line allowed to be partial.
partial=$(head -n -1 "$TEST_TMP/runs.log" | grep -v -E '^bin=([0-9]+) lib=\1 data=\1$' | head -n 5)
[[ -z $mixed ]] || fail "runs that mixed releases: $mixed"
[[ -z $partial ]] || fail "runs that did not see one whole release: $partial"
assert_eq "$failed" 0 "failed runs"
seen=$(grep -o -E '^bin=[0-9]+' "$TEST_TMP/runs.log" | sort -u | wc -l)
assert_eq "$seen" $((${#VERSIONS[@]} + 2)) "versions the loop saw"
echo "the loop: $runs runs, each of one whole release, over $seen releases"

# The server: every connection answered, one PID, versions only ever going up.
get() { sed -n "s/^$1=//p" "$TEST_TMP/load.out"; }
for k in refused reset timeout other bad regressions; do
	assert_eq "$(get "$k")" 0 "hello-server connections $k"
done
assert_eq "$(get pids)" "$SERVER" "every answer came from the same process"
assert_eq "$(get versions)" "1,2,3,4,5" "the versions hello-server answered"
echo "hello-server: $(get ok) connections answered, none failed, one PID"

# updater-run: one start per release, in order.
assert_eq "$(cut -d' ' -f1 "$STARTS" | tr '\n' ' ')" "1 2 3 4 5 " "the starts under updater-run"
kill -TERM "$RUN"
wait "$RUN" 2>/dev/null
pass "$runs runs of whole releases; $(get ok) connections, 0 failed; updater-run restarted into each release"
