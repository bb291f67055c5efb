#!/bin/bash
# bench/restart.sh - what a restart under updater-run costs a client.
#
#   bench/restart.sh [BUILDDIR] [RESTARTS] [CLIENTS] [SERVER_DELAY]
#
# A small TCP server runs under updater-run while CLIENTS (4) clients
# connect in a loop; updater-run restarts it RESTARTS (20) times with SIGHUP,
# each once the previous new generation has answered. Measured in the same
# run, three ways:
#
#   overlapped  updater-run --notify --listen: the new generation starts
#               while the old one serves, the old one is stopped once the
#               new one sent READY=1 (SPEC 15); a negative gap means both
#               answered for a while
#   --listen    stop-first: updater-run holds the listening socket; the
#               server takes it from LISTEN_FDS (fd 3)
#   own bind    (baseline) the server binds the port itself, SO_REUSEADDR
#
# Printed per way: answers, refused connections, other failed connections,
# and the restart gap (last answer of the old generation to first answer of
# the new one: mean, median, max), then the ratios to the baseline.
# SERVER_DELAY (0) makes each server wait that many seconds before serving,
# like a program that loads for a while.
#
# Then the restart itself, against the bare mechanisms, with a minimal C
# server (bench/restarter.c serve, which answers its PID on fd 3):
# TIMED (30) times, from the signal to the first answer of the new
# generation (bench/restarter.c probe), and the supervisor's own CPU time
# per restart (schedstat), for
#
#   updater-run --listen       SIGHUP to updater-run
#   tight restart in C         restarter hold: holds the socket, on SIGHUP
#                              SIGTERM, wait for the exit, fork and exec
#   socket-activate + sh loop  systemd-socket-activate holds the socket, a
#                              shell loop starts the server again; SIGTERM to
#                              the server
#
# once on the machine as it is and once with IDLE (2000) extra idle
# processes. Goal: updater-run within 1.5 times the bare mechanism
# (socket-activate + sh loop), and no slower with the idle processes.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILDDIR=$(cd "${1:-$here/build}" && pwd)
RESTARTS=${2:-20}
CLIENTS=${3:-4}
DELAY=${4:-0}
RUN=$BUILDDIR/updater-run
PY=/usr/bin/python3
SERVER=$here/tests/integration/run-server.py
LOAD=$here/tests/integration/run-load.py
TIMED=${TIMED:-30}
IDLE=${IDLE:-2000}

[[ -x $RUN ]] || { echo "no updater-run in '$BUILDDIR' (build first)" >&2; exit 1; }
T=$(mktemp -d /tmp/updater-bench.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[[ -n ${idle_pid:-} ]] && kill -TERM "$idle_pid" 2>/dev/null && wait "$idle_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # SECONDS COMMAND...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.01
	done
}
answers() { # PORT
	$PY -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).recv(64)' \
		"$1" 2>/dev/null
}
seen_at_least() { # FILE N
	[[ -f $1 ]] && (($(wc -l <"$1") >= $2))
}

# measure NAME PORT overlap|listen|ownbind: one way; prints the load generator's JSON.
measure() {
	local name=$1 port=$2 mode=$3 run_pid load_pid i dir=$T/$1
	mkdir -p "$dir"
	if [[ $mode == overlap ]]; then
		"$RUN" --grace 10 --notify --ready-timeout $((${DELAY%.*} + 30)) --listen "tcp:127.0.0.1:$port" -- \
			$PY "$SERVER" --fd --delay "$DELAY" --ready 2>>"$dir/log" &
	elif [[ $mode == listen ]]; then
		"$RUN" --grace 10 --listen "tcp:127.0.0.1:$port" -- \
			$PY "$SERVER" --fd --delay "$DELAY" 2>>"$dir/log" &
	else
		"$RUN" --grace 10 -- $PY "$SERVER" --bind "127.0.0.1:$port" --delay "$DELAY" 2>>"$dir/log" &
	fi
	run_pid=$!
	pids+=("$run_pid")
	# Load only once the first generation serves: refusals before the very
	# first start are not a restart's doing.
	wait_for 30 answers "$port" || { echo "$name: the server never answered" >&2; return 1; }
	$PY "$LOAD" 127.0.0.1 "$port" "$dir/stop" --clients "$CLIENTS" --seen "$dir/seen" >"$dir/result" &
	load_pid=$!
	pids+=("$load_pid")
	wait_for 30 seen_at_least "$dir/seen" 1 || { echo "$name: the server never answered" >&2; return 1; }
	for ((i = 1; i <= RESTARTS; i++)); do
		kill -HUP "$run_pid"
		wait_for 60 seen_at_least "$dir/seen" $((i + 1)) ||
			{ echo "$name: generation $((i + 1)) never answered" >&2; return 1; }
		sleep 0.2 # some steady load before the next restart
	done
	touch "$dir/stop"
	wait "$load_pid"
	kill -TERM "$run_pid"
	wait "$run_pid"
	cat "$dir/result"
}

port=$(free_port)
echo "updater-run restart benchmark: $RESTARTS restarts, $CLIENTS clients, server delay ${DELAY}s"
measure overlap "$port" overlap >"$T/overlap.json" || exit 1
port=$(free_port)
measure listen "$port" listen >"$T/listen.json" || exit 1
port=$(free_port)
measure ownbind "$port" ownbind >"$T/ownbind.json" || exit 1

$PY - "$T/overlap.json" "$T/listen.json" "$T/ownbind.json" <<'PYEOF'
import json, statistics, sys
rows = []
for label, path in (("overlapped", sys.argv[1]), ("--listen, stop first", sys.argv[2]),
                    ("own bind (baseline)", sys.argv[3])):
    r = json.load(open(path))
    g = r["gaps_ms"] or [0.0]
    rows.append((label, r, statistics.mean(g), statistics.median(g), max(g)))
print("%-22s %8s %8s %8s %10s %10s %10s" % ("", "answers", "refused", "failed",
      "gap mean", "gap median", "gap max"))
for label, r, mean, med, mx in rows:
    print("%-22s %8d %8d %8d %8.1f ms %7.1f ms %7.1f ms" % (
        label, r["answers"], r["refused"], r["failed"], mean, med, mx))
(_, o, om, omed, omx) = rows[0]
print("overlapped: failed+refused %d (goal 0), gap max %.1f ms (goal <= 10): %s"
      % (o["refused"] + o["failed"], omx,
         "met" if o["refused"] + o["failed"] == 0 and omx <= 10 else "NOT met"))
(_, a, am, amed, amx), (_, b, bm, bmed, bmx) = rows[1:]
lost_a = a["refused"] + a["failed"]
lost_b = b["refused"] + b["failed"]
def ratio(x, y):
    return "%.2f" % (x / y) if y else "n/a"
print("ratios --listen / baseline: gap mean %s, gap median %s, failed+refused %d vs %d"
      % (ratio(am, bm), ratio(amed, bmed), lost_a, lost_b))
print("generations seen: %d with --listen, %d with own bind"
      % (len(a["generations"]), len(b["generations"])))
PYEOF

# ---- the restart itself, against the bare mechanisms ----------------------
RESTARTER=$T/restarter
${CC:-cc} -O2 -D_GNU_SOURCE -o "$RESTARTER" "$here/bench/restarter.c" || exit 1

# timed NAME: TIMED restarts of one way; samples in $T/NAME.ms, CPU in $T/NAME.cpu.
timed() {
	local name=$1 port sup out=$T/$1.out
	port=$(free_port)
	case $name in
	updater-run*)
		"$RUN" --grace 10 --listen "tcp:127.0.0.1:$port" -- "$RESTARTER" serve 2>>"$T/timed.log" &
		sup=$!
		;;
	c-hold*)
		"$RESTARTER" hold "127.0.0.1:$port" -- "$RESTARTER" serve &
		sup=$!
		;;
	activate*)
		systemd-socket-activate -l "127.0.0.1:$port" \
			sh -c "while :; do '$RESTARTER' serve; done" 2>>"$T/timed.log" &
		sup=$!
		;;
	esac
	pids+=("$sup")
	wait_for 30 answers "$port" || { echo "$name: the server never answered" >&2; return 1; }
	case $name in
	activate*) "$RESTARTER" probe "$port" "$TIMED" term-server --cpu "$sup" >"$out" ;;
	*) "$RESTARTER" probe "$port" "$TIMED" hup "$sup" --cpu "$sup" >"$out" ;;
	esac || { echo "$name: the probe failed" >&2; return 1; }
	grep -v '^cpu' "$out" >"$T/$name.ms"
	sed -n 's/^cpu //p' "$out" >"$T/$name.cpu"
	kill -TERM "$sup"
	wait "$sup" 2>/dev/null
	# The shell loop outlives systemd-socket-activate's SIGTERM.
	pkill -KILL -f -- "$RESTARTER serve" 2>/dev/null
	return 0
}

# stats NAME: "median p90 max" of $T/NAME.ms.
stats() {
	sort -g "$T/$1.ms" | awk '{ v[NR] = $1 } END {
		m = int((NR + 1) / 2); p = int(NR * 0.9 + 0.999999); if (p > NR) p = NR
		printf "%.2f %.2f %.2f\n", v[m], v[p], v[NR] }'
}

ways=(updater-run c-hold activate)
for w in "${ways[@]}"; do timed "$w" || exit 1; done
"$RESTARTER" idle "$IDLE" >"$T/idle.out" &
idle_pid=$!
wait_for 60 grep -q ready "$T/idle.out" || { echo "the idle processes did not start" >&2; exit 1; }
for w in "${ways[@]}"; do timed "$w+idle" || exit 1; done
kill -TERM "$idle_pid"
wait "$idle_pid" 2>/dev/null
idle_pid=

echo
echo "restart time: signal to the first answer of the new generation, $TIMED restarts each,"
echo "C server; CPU is the supervisor's own, per restart ($(nproc) CPUs, $(uname -r))"
printf '%-34s %9s %9s %9s %9s\n' "" "median" "p90" "max" "CPU"
for w in "${ways[@]}" "${ways[@]/%/+idle}"; do
	case $w in
	updater-run) label="updater-run --listen" ;;
	c-hold) label="tight restart in C" ;;
	activate) label="socket-activate + sh loop" ;;
	updater-run+idle) label="updater-run --listen, +$IDLE idle" ;;
	c-hold+idle) label="tight restart in C, +$IDLE idle" ;;
	activate+idle) label="socket-activate + sh, +$IDLE idle" ;;
	esac
	read -r -a st <<<"$(stats "$w")"
	printf '%-34s %6s ms %6s ms %6s ms %6s ms\n' "$label" "${st[0]}" "${st[1]}" "${st[2]}" "$(cat "$T/$w.cpu")"
done
med() { stats "$1" | cut -d' ' -f1; }
awk -v u="$(med updater-run)" -v a="$(med activate)" -v c="$(med c-hold)" \
	-v ui="$(med updater-run+idle)" -v ai="$(med activate+idle)" 'BEGIN {
	printf "median ratio updater-run / socket-activate + sh loop: %.2f (goal <= 1.5): %s\n", u / a, (u / a <= 1.5 ? "met" : "NOT met")
	printf "median ratio updater-run / tight restart in C: %.2f\n", u / c
	printf "with %d idle processes: updater-run / socket-activate + sh loop %.2f (goal <= 1.5): %s; updater-run with / without them %.2f\n", '"$IDLE"', ui / ai, (ui / ai <= 1.5 ? "met" : "NOT met"), ui / u
}'
