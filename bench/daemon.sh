#!/bin/bash
# bench/daemon.sh - what updaterd costs idle and under a request flood.
#
#   bench/daemon.sh [BUILDDIR]     (default: $BUILDDIR, else ./build)
#
# Use a build without --enable-sanitizers. Needs strace and a C compiler
# (for the baseline receiver); run as root (scripts run as nobody).
# Prints, each with its goal and a baseline measured in the same run:
#   - system calls made by an idle daemon in 10 s (strace -f -c), against
#     `sleep` (goal 0)
#   - idle resident memory (VmRSS), against `sleep` (goal <= 2 MiB)
#   - a flood of 100,000 one-byte datagrams from 4 concurrent senders:
#     daemon CPU time per datagram (utime+stime from /proc/PID/stat, and
#     the finer /proc/PID/schedstat), against a minimal C receiver doing
#     one recv() per datagram (goal <= 5 us); and how many checks the flood
#     ran (goal 1). Done twice: senders without an address (no replies)
#     and autobound senders (a reply attempted for every datagram).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILDDIR=${1:-${BUILDDIR:-$SRC/build}}
UPDATERD=$BUILDDIR/updaterd
PY=/usr/bin/python3
TOTAL=100000
SENDERS=4
IDLE_SECONDS=10

die() {
	echo "bench/daemon.sh: $*" >&2
	exit 1
}
[[ -x $UPDATERD ]] || die "no updaterd at '$UPDATERD' (pass the build directory)"
command -v strace >/dev/null || die "needs strace (apt-get install strace)"
command -v cc >/dev/null || die "needs a C compiler"
[[ $(id -u) -eq 0 ]] || die "run as root"
if ldd "$UPDATERD" 2>/dev/null | grep -q -E 'libasan|libubsan'; then
	die "'$UPDATERD' is a sanitizer build: configure another build directory without --enable-sanitizers"
fi

TMP=$(mktemp -d /tmp/updater-bench.XXXXXX)
chmod 0755 "$TMP"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -m 0755 "$TMP/scripts" "$TMP/bin"
: >"$TMP/checks.log"
chmod 0666 "$TMP/checks.log"
printf '#!/bin/sh\necho run >>%s/checks.log\n' "$TMP" >"$TMP/scripts/check"
printf '#!/bin/sh\nexit 1\n' >"$TMP/scripts/download"
printf '#!/bin/sh\n' >"$TMP/bin/hello"
chmod 0755 "$TMP/scripts/check" "$TMP/scripts/download" "$TMP/bin/hello"
SOCK=$TMP/control.sock
cat >"$TMP/updater.yaml" <<YAML
socket: $SOCK
scripts_dir: $TMP/scripts
state_dir: $TMP/state
interval: 6h
splay: 30m
min_interval: 1h
script_user: nobody
allow_unsigned: true
targets:
  - name: hello
    path: $TMP/bin/hello
    source: file://$TMP/repo
YAML
# Checked a minute ago: the next periodic check is hours away.
mkdir -p "$TMP/state"
echo $(($(date +%s) - 60)) >"$TMP/state/last_check"

cc -O2 -o "$TMP/sink" "$HERE/sink.c" || die "cannot build the baseline receiver"

"$UPDATERD" -c "$TMP/updater.yaml" 2>"$TMP/updaterd.log" &
PID=$!
PIDS+=("$PID")
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.05; done
[[ -S $SOCK ]] || die "updaterd did not start: $(cat "$TMP/updaterd.log")"
sleep 1

cpu_ticks() { # utime + stime, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
cpu_ns() { # time on CPU from the scheduler, in ns
	awk '{ print $1 }' "/proc/$1/schedstat"
}
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
syscalls_in() { # PID SECONDS: system calls the process makes while traced
	timeout -s INT "$2" strace -f -c -p "$1" -o "$TMP/strace.$1" >/dev/null 2>&1
	awk '$NF == "total" { print $(NF-1) + 0; found = 1 } END { if (!found) print 0 }' "$TMP/strace.$1"
}
status_received() {
	$PY "$SRC/tests/integration/dgram.py" "$SOCK" status --reply |
		$PY -c 'import json,sys; print(json.load(sys.stdin)["requests"]["received"])'
}
checks() {
	wc -l <"$TMP/checks.log" | tr -d ' '
}

# Baselines: a sleeping process.
sleep 1000 &
SLEEP=$!
PIDS+=("$SLEEP")
sleep 0.2

echo "updaterd benchmark ($UPDATERD, $(nproc) CPUs)"
echo
echo "idle, ${IDLE_SECONDS} s:"
syscalls_in "$SLEEP" "$IDLE_SECONDS" >/dev/null &
base_job=$!
d_calls=$(syscalls_in "$PID" "$IDLE_SECONDS")
wait "$base_job"
base_calls=$(awk '$NF == "total" { print $(NF-1) + 0; f = 1 } END { if (!f) print 0 }' "$TMP/strace.$SLEEP")
printf '  system calls      updaterd %6d   sleep(1) %6d   goal 0\n' "$d_calls" "$base_calls"
# Zero means nothing only if strace can see the daemon at all: one request while traced.
( sleep 0.5; $PY "$SRC/tests/integration/dgram.py" "$SOCK" status >/dev/null ) &
seen=$(syscalls_in "$PID" 1)
wait $!
((seen > 0)) || die "strace saw no system call even for a request: the idle figure means nothing"
printf '  (control: strace counted %d system calls for one status request)\n' "$seen"
d_rss=$(rss_kib "$PID")
s_rss=$(rss_kib "$SLEEP")
printf '  VmRSS             updaterd %6d KiB  sleep(1) %6d KiB  ratio %.2f   goal <= 2048 KiB\n' \
	"$d_rss" "$s_rss" "$(echo "$d_rss / $s_rss" | bc -l)"
# VmRSS counts every page of the shared libraries the process has mapped in
# (libc alone is ~1.4 MiB of it, as for sleep); PSS and private memory are
# what the daemon itself costs the machine.
rollup() { # PID FIELD
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup"
}
d_priv=$(($(rollup "$PID" Private_Clean) + $(rollup "$PID" Private_Dirty)))
s_priv=$(($(rollup "$SLEEP" Private_Clean) + $(rollup "$SLEEP" Private_Dirty)))
printf '  Pss               updaterd %6d KiB  sleep(1) %6d KiB\n' "$(rollup "$PID" Pss)" "$(rollup "$SLEEP" Pss)"
printf '  Private           updaterd %6d KiB  sleep(1) %6d KiB\n' "$d_priv" "$s_priv"
echo

# The flood, twice.
sent=0
n_status=0
for mode in unbound bound; do
	flag=
	[[ $mode == bound ]] && flag=--bind
	checks0=$(checks)
	r0=$(status_received)
	n_status=$((n_status + 1))
	t0=$(cpu_ticks "$PID")
	s0=$(cpu_ns "$PID")
	wall=$($PY "$HERE/flood.py" "$SOCK" "$TOTAL" "$SENDERS" $flag) || die "flood failed"
	# Wait until every datagram was read (the queue may still hold a few).
	for _ in $(seq 200); do
		r=$(status_received)
		if ((r - 1 >= r0 + TOTAL)); then break; fi
		sleep 0.05
	done
	t1=$(cpu_ticks "$PID")
	s1=$(cpu_ns "$PID")
	((r - 1 >= r0 + TOTAL)) || die "only $((r - 1 - r0)) of $TOTAL datagrams were received"
	hz=$(getconf CLK_TCK)
	us_stat=$(echo "($t1 - $t0) * 1000000 / $hz / $TOTAL" | bc -l)
	us_sched=$(echo "($s1 - $s0) / 1000 / $TOTAL" | bc -l)
	sleep 1
	ran=$(($(checks) - checks0))

	# Baseline: the minimal receiver under the same flood.
	rm -f "$TMP/sink.sock"
	"$TMP/sink" "$TMP/sink.sock" "$TOTAL" >"$TMP/sink.out" &
	SINK=$!
	for _ in $(seq 100); do [[ -S $TMP/sink.sock ]] && break; sleep 0.02; done
	$PY "$HERE/flood.py" "$TMP/sink.sock" "$TOTAL" "$SENDERS" $flag >/dev/null || die "baseline flood failed"
	wait "$SINK"
	us_sink=$(echo "$(cat "$TMP/sink.out") / $TOTAL" | bc -l)

	echo "flood of $TOTAL one-byte datagrams from $SENDERS senders ($mode senders$([[ $mode == bound ]] && echo ', a reply to each'), ${wall} s):"
	printf '  CPU per datagram  updaterd %.2f us (stat) %.2f us (schedstat)   recv() loop %.2f us   ratio %.2f   goal <= 5 us\n' \
		"$us_stat" "$us_sched" "$us_sink" "$(echo "$us_sched / $us_sink" | bc -l)"
	if [[ $mode == unbound ]]; then
		printf '  checks started    %d   goal 1 (the rest wait as one deferred check, min_interval 1h)\n' "$ran"
	else
		printf '  checks started    %d   goal 0 (the flood joins the deferred check already waiting)\n' "$ran"
	fi
done
kill -TERM "$PID"
wait "$PID"
echo
echo "updaterd exited with status $? after SIGTERM"
