#!/bin/bash
# bench/fleet.sh - a fleet of real updaterd processes against one static origin.
#
#   bench/fleet.sh [BUILDDIR] [N]     (default: $BUILDDIR, else ./build; N 200)
#
# Run as root on a build without sanitizers. Needs nginx, curl, minisign.
# N real updaterd processes, each with its own configuration, state,
# control socket and machine-id (machine_id_file:), interval FLEET_INTERVAL
# (20 s) and splay FLEET_SPLAY (5 s), the default check and download
# scripts run as nobody, all against one nginx on 127.0.0.1 serving a
# repository signed with minisign by scripts/updater-publish.
#
# Phases, each printed as it ends:
#  1. idle: 1.0 is installed everywhere and nothing changes for FLEET_IDLE
#     (60 s): origin requests/s, and bytes per check (304s counted).
#  2. ramp: 2.0 published with --rollout-start one check interval (+ splay +
#     5 s) ahead, so every machine has seen it before the first turn, and
#     --rollout-duration FLEET_RAMP (180 s). Every second the fraction of the
#     fleet at 2.0 is sampled and compared with the planned ramp, both the
#     straight line (t - start) / duration and the exact plan of the fleet's
#     own buckets (`updaterctl rollout-bucket` for each machine-id): the max
#     deviation. Also requests/s and bytes during the ramp.
#  3. halt: a bad 3.0, published the same way; as soon as 5 % of the fleet
#     has it, `updater-publish --halt`; then one interval + splay + 10 s more:
#     how many machines got 3.0, against the halted percentage and one
#     check interval's worth of turns after it.
#  4. 100,000 machines at interval 6h (splay 30m), on paper, from the
#     measured per-check costs: requests/s and bandwidth idle and during a
#     rollout, and the time for a fleet-wide rollout.
# Goals: the ramp within 5 % of plan; a halt stops at the machines already
# due (at most the halted percentage + one interval's worth); at 100k
# machines under 100 requests/s on the origin and near-zero bytes when
# nothing changed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILDDIR=${1:-${BUILDDIR:-$SRC/build}}
N=${2:-200}
UPDATERD=$BUILDDIR/updaterd
UPDATERCTL=$BUILDDIR/updaterctl
INTERVAL=${FLEET_INTERVAL:-20}
SPLAY=${FLEET_SPLAY:-5}
IDLE=${FLEET_IDLE:-60}
RAMP=${FLEET_RAMP:-180}
NGINX=/usr/sbin/nginx

die() {
	echo "fleet.sh: $*" >&2
	exit 1
}
[[ $(id -u) -eq 0 ]] || die "run as root"
[[ -x $UPDATERD && -x $UPDATERCTL ]] || die "build first ($BUILDDIR)"
[[ -x $NGINX ]] || die "needs nginx"
command -v minisign >/dev/null || die "needs minisign"
command -v curl >/dev/null || die "needs curl"

T=$(mktemp -d /tmp/fleet.XXXXXX)
chmod 0755 "$T"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [[ -n ${NGINX_PID:-} ]]; then
		kill -KILL "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT

now_ms() {
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}

# nap SECONDS: sleep that long by the clock, even when another user's test kills a sleep.
nap() {
	local end=$(($(now_ms) + $1 * 1000))
	while (($(now_ms) < end)); do
		sleep 0.5 2>/dev/null || true
	done
}

# --- the origin ------------------------------------------------------------
mkdir -p "$T/scripts" "$T/keys" "$T/www/repo" "$T/rel" "$T/ngx/tmp"
install -o root -g root -m 0755 "$SRC/scripts/check" "$SRC/scripts/download" "$T/scripts/"
minisign -G -W -p "$T/keys/pub" -s "$T/keys/sec" >/dev/null 2>&1 || die "minisign -G failed"
PUBKEY=$(tail -n 1 "$T/keys/pub")
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ACCESS=$T/ngx/access.log
cat >"$T/ngx/nginx.conf" <<EOF
master_process off;
worker_rlimit_nofile 4096;
error_log $T/ngx/error.log warn;
events { worker_connections 2048; }
http {
	default_type application/octet-stream;
	log_format fleet escape=none '\$msec \$status \$bytes_sent \$uri';
	access_log $ACCESS fleet;
	client_body_temp_path $T/ngx/tmp/body;
	proxy_temp_path $T/ngx/tmp/proxy;
	fastcgi_temp_path $T/ngx/tmp/fastcgi;
	uwsgi_temp_path $T/ngx/tmp/uwsgi;
	scgi_temp_path $T/ngx/tmp/scgi;
	server {
		listen 127.0.0.1:$PORT;
		root $T/www;
		location /repo/ { }
	}
}
EOF
"$NGINX" -p "$T/ngx" -c "$T/ngx/nginx.conf" -g "daemon off; pid $T/ngx/nginx.pid;" \
	>"$T/ngx/out" 2>&1 </dev/null &
NGINX_PID=$!
for _ in $(seq 100); do
	curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/repo/" && break
	sleep 0.05
done
SOURCE=http://127.0.0.1:$PORT/repo

release() { # VERSION: a small ELF unique to it
	cp /bin/true "$T/rel/hello-$1"
	printf '\n# hello %s\n' "$1" >>"$T/rel/hello-$1"
}
publish() { # VERSION [options]
	local v=$1
	shift
	release "$v"
	"$SRC/scripts/updater-publish" --repo "$T/www/repo" --target hello --version "$v" \
		--key "$T/keys/sec" "$@" "$T/rel/hello-$v" >/dev/null || die "publish $v failed"
}
publish 1.0

# --- the fleet ---------------------------------------------------------------
echo "starting $N updaterd (interval ${INTERVAL}s, splay ${SPLAY}s) against nginx on 127.0.0.1:$PORT"
for ((i = 0; i < N; i++)); do
	d=$T/n$i
	mkdir -p "$d/bin" "$d/state"
	echo "bench-machine-$i" >"$d/machine-id"
	# 1.0 is there already: the first check only learns its version.
	install -m 0755 "$T/rel/hello-1.0" "$d/bin/hello"
	cat >"$d/c.yaml" <<EOF
socket: $d/c.sock
scripts_dir: $T/scripts
state_dir: $d/state
machine_id_file: $d/machine-id
interval: ${INTERVAL}s
splay: ${SPLAY}s
min_interval: 0
script_user: nobody
trusted_keys:
  - $PUBKEY
targets:
  - name: hello
    path: $d/bin/hello
    source: $SOURCE
EOF
	"$UPDATERD" -c "$d/c.yaml" >"$d/log" 2>&1 &
	PIDS+=($!)
done

# count VERSION: machines whose state says VERSION is installed.
count() {
	grep -lx "version=$1" "$T"/n*/state/targets/hello 2>/dev/null | wc -l
}
wait_count() { # VERSION N SECONDS
	local end=$(($(date +%s) + $3))
	while (($(date +%s) < end)); do
		(($(count "$1") >= $2)) && return 0
		sleep 0.5 2>/dev/null
	done
	return 1
}
wait_count 1.0 "$N" $((INTERVAL + SPLAY + 30)) || die "the fleet did not learn 1.0 ($(count 1.0) of $N)"
rss=$(for p in "${PIDS[@]}"; do awk '/^VmRSS/ { print $2 }' "/proc/$p/status"; done | awk '{ s += $1 } END { printf "%.1f", s / NR / 1024 }')
echo "fleet up: $N daemons, $rss MiB RSS each on average"

# stats FROM_MS TO_MS: requests, checks (manifest requests), 304s and bytes in the log.
stats() {
	awk -v a="$1" -v b="$2" '
		{ t = $1 * 1000 }
		t >= a && t < b {
			req++; bytes += $3
			if ($4 ~ /\/manifest$/) { checks++; mbytes += $3; if ($2 == 304) c304++ }
			if ($4 ~ /minisig$/) sig++
			if ($4 ~ /hello-/) { dl++; dlbytes += $3 }
		}
		END {
			s = (b - a) / 1000
			printf "%d %d %d %d %d %d %d %.3f\n", req, checks, c304, bytes, sig, dl, dlbytes, s
		}' "$ACCESS"
}

# --- 1. idle ----------------------------------------------------------------
nap $((INTERVAL + SPLAY)) # every machine past its first (200) check
t0=$(now_ms)
nap "$IDLE"
t1=$(now_ms)
read -r req checks c304 bytes _ _ _ secs <<<"$(stats "$t0" "$t1")"
idle_rps=$(awk -v r="$req" -v s="$secs" 'BEGIN { printf "%.2f", r / s }')
idle_bpc=$(awk -v b="$bytes" -v c="$checks" 'BEGIN { printf "%.0f", c ? b / c : 0 }')
idle_rpc=$(awk -v r="$req" -v c="$checks" 'BEGIN { printf "%.3f", c ? r / c : 0 }')
echo
echo "== 1. idle, nothing published, ${IDLE}s"
echo "origin requests: $req in ${secs}s = $idle_rps req/s ($checks checks, $c304 answered 304)"
echo "per check: $idle_rpc requests, $idle_bpc bytes (headers of the 304 included)"

# --- 2. ramp -----------------------------------------------------------------
# plan_file VERSION: every machine's bucket for VERSION, sorted.
plan_file() {
	for ((i = 0; i < N; i++)); do
		"$UPDATERCTL" rollout-bucket --machine-id "bench-machine-$i" hello "$1"
	done | sort -n >"$T/plan-$1"
}
# planned VERSION T_REL: the fraction of the fleet whose turn is before T_REL seconds after the start.
planned() {
	awk -v x="$2" -v d="$RAMP" -v n="$N" '$1 * d <= x { c++ } END { printf "%.4f", c / n }' "$T/plan-$1"
}
plan_file 2.0
lead=$((INTERVAL + SPLAY + 5))
t_pub=$(now_ms)
start=$(($(date +%s) + lead))
publish 2.0 --rollout-duration "${RAMP}s" --rollout-start "@$start"
echo
echo "== 2. ramp: 2.0 published with rollout_start = now + ${lead}s, rollout_duration ${RAMP}s"
printf '%8s %9s %9s %9s\n' "t (s)" "updated" "plan" "line"
maxdev=0 maxdev_line=0
while :; do
	now=$(now_ms)
	rel=$(awk -v n="$now" -v s="$start" 'BEGIN { printf "%.3f", n / 1000 - s }')
	got=$(count 2.0)
	frac=$(awk -v g="$got" -v n="$N" 'BEGIN { printf "%.4f", g / n }')
	plan=$(planned 2.0 "$rel")
	line=$(awk -v x="$rel" -v d="$RAMP" 'BEGIN { l = x / d; if (l < 0) l = 0; if (l > 1) l = 1; printf "%.4f", l }')
	maxdev=$(awk -v a="$frac" -v b="$plan" -v m="$maxdev" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d > m ? d : m) }')
	maxdev_line=$(awk -v a="$frac" -v b="$line" -v m="$maxdev_line" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d > m ? d : m) }')
	if awk -v r="$rel" 'BEGIN { exit !(r >= -2) }'; then
		secs_int=${rel%.*}
		if ((secs_int % 10 == 0)) || ((got == N)); then
			printf '%8s %8.1f%% %8.1f%% %8.1f%%\n' "$rel" "$(awk -v f="$frac" 'BEGIN { print f * 100 }')" \
				"$(awk -v f="$plan" 'BEGIN { print f * 100 }')" "$(awk -v f="$line" 'BEGIN { print f * 100 }')"
		fi
	fi
	((got == N)) && break
	if awk -v r="$rel" -v d="$RAMP" 'BEGIN { exit !(r > d + 30) }'; then
		echo "not every machine updated 30 s after the end of the ramp ($got of $N)"
		break
	fi
	sleep 1 2>/dev/null
done
t_end=$(now_ms)
read -r req checks c304 bytes sig dl dlbytes secs <<<"$(stats "$t_pub" "$t_end")"
echo "max deviation from the plan of the fleet's own buckets: $(awk -v m="$maxdev" 'BEGIN { printf "%.1f", m * 100 }') % (goal: <= 5 %)"
echo "max deviation from the straight line: $(awk -v m="$maxdev_line" 'BEGIN { printf "%.1f", m * 100 }') % (200 buckets are a sample of it)"
echo "origin during the ramp: $req requests in ${secs}s = $(awk -v r="$req" -v s="$secs" 'BEGIN { printf "%.2f", r / s }') req/s; $checks checks ($c304 x 304), $sig signatures, $dl downloads ($dlbytes bytes)"
ramp_extra_req=$(awk -v r="$req" -v c="$checks" -v n="$N" -v s="$secs" -v i="$INTERVAL" -v p="$SPLAY" \
	'BEGIN { idle = s / (i + p / 2) * n; printf "%.2f", (r - idle) / n }')
ramp_bytes=$(awk -v b="$bytes" -v n="$N" 'BEGIN { printf "%.0f", b / n }')

# --- 3. halt -----------------------------------------------------------------
plan_file 3.0
start=$(($(date +%s) + lead))
publish 3.0 --rollout-duration "${RAMP}s" --rollout-start "@$start"
echo
echo "== 3. halt: a bad 3.0 published the same way; --halt once 5 % have it"
target=$(((N * 5 + 99) / 100))
wait_count 3.0 "$target" $((lead + RAMP)) || die "3.0 never reached 5 %"
t_halt=$(date +%s.%N)
"$SRC/scripts/updater-publish" --repo "$T/www/repo" --halt hello --key "$T/keys/sec" >/dev/null || die "--halt failed"
t_halted=$(date +%s.%N)
at_halt=$(count 3.0)
nap $((INTERVAL + SPLAY + 10))
after=$(count 3.0)
# Machines whose turn fell before the halt was in place, and those of one interval after it.
due=$(awk -v d="$RAMP" -v s="$start" -v h="$t_halted" '$1 * d + s <= h { c++ } END { print c + 0 }' "$T/plan-3.0")
interval_worth=$(awk -v d="$RAMP" -v s="$start" -v h="$t_halted" -v i="$INTERVAL" '$1 * d + s <= h + i { c++ } END { print c + 0 }' "$T/plan-3.0")
echo "halted at $(awk -v a="$t_halt" -v s="$start" 'BEGIN { printf "%.1f", a - s }') s into the rollout ($(awk -v a="$t_halted" -v b="$t_halt" 'BEGIN { printf "%.1f", b ? a - b : 0 }') s to re-sign), with $at_halt machines at 3.0 ($(awk -v a="$at_halt" -v n="$N" 'BEGIN { printf "%.1f", a * 100 / n }') %)"
echo "machines at 3.0 one interval + splay + 10 s later: $after ($(awk -v a="$after" -v n="$N" 'BEGIN { printf "%.1f", a * 100 / n }') %)"
echo "due by their turn when the halt was in place: $due; goal: at most the halted ones + one interval's worth of turns = $interval_worth"

# --- 4. on paper ----------------------------------------------------------------
echo
echo "== 4. 100,000 machines, interval 6h, splay 30m (from the measured costs above)"
awk -v rpc="$idle_rpc" -v bpc="$idle_bpc" -v extra="$ramp_extra_req" -v rb="$ramp_bytes" \
	-v size="$(stat -c %s "$T/rel/hello-2.0")" 'BEGIN {
	n = 100000; period = 6 * 3600 + 1800 / 2
	cps = n / period
	printf "idle: %.2f checks/s, %.2f requests/s, %.1f KiB/s (%.0f bytes a check)\n", cps, cps * rpc, cps * bpc / 1024, bpc
	printf "a rollout adds %.2f requests and %.0f bytes per machine (this release: %d bytes);\n", extra, rb, size
	d = 2 * 86400
	printf "  over rollout_duration 2d: %.2f requests/s more, %.1f KiB/s\n", n * extra / d, n * rb / d / 1024
	printf "  over rollout_duration 6h: %.2f requests/s more, %.1f KiB/s\n", n * extra / 21600, n * rb / 21600 / 1024
	printf "fleet-wide rollout: rollout_start (publish + one interval + splay = 6.5 h, so every machine\n"
	printf "  has seen it before the first turn) + rollout_duration; with the start at publish time,\n"
	printf "  the early buckets lag their turn by up to one interval (6.5 h) instead\n"
	printf "goal: under 100 requests/s (%s), near-zero bytes idle (%s)\n", (cps * rpc + n * extra / 21600 < 100 ? "met" : "NOT met"), (cps * bpc < 100 * 1024 ? "met" : "NOT met")
}'
