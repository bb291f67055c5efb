#!/bin/bash
# The generated systemd units pass `systemd-analyze verify`, name no program
# outside the project and systemd (no /bin/kill: procps is not on minimal
# systems), protect the system without ProtectSystem= (whose read-only /bin,
# /sbin, /lib win over ReadWritePaths= on merged /usr), and keep their
# exposure (`systemd-analyze security --offline=yes`) at most 3.0.
. "$(dirname "$0")/lib.sh"
require_cmd systemd-analyze
new_tmpdir
[[ -x $UPDATERD ]] || fail "no updaterd at '$UPDATERD'"

# Use the units the build made when it made them, else generate them here;
# either way ExecStart= must name a program that exists: the built daemon.
for u in updaterd.service updaterd.socket updaterd-events.socket; do
	if [[ -f $BUILDDIR/units/$u ]]; then
		cp "$BUILDDIR/units/$u" "$TEST_TMP/$u"
	else
		sed -e "s|@sbindir@|$BUILDDIR|g" -e 's|@bindir@|/usr/bin|g' \
			-e 's|@configfile@|/etc/updater/updater.yaml|g' -e 's|@runstatedir@|/run|g' \
			-e 's|@localstatedir@|/var|g' -e 's|@scriptsdir@|/usr/lib/updater|g' \
			"$SRCDIR/units/$u.in" >"$TEST_TMP/$u"
	fi
	grep -q '@[a-z]*@' "$TEST_TMP/$u" && fail "$u: unsubstituted variables: $(grep '@[a-z]*@' "$TEST_TMP/$u")"
done
sed -i -E "s#^(Exec[A-Za-z]+=)[^ ]*/updaterd #\1$UPDATERD #" "$TEST_TMP/updaterd.service"
grep -q "^ExecStart=$UPDATERD " "$TEST_TMP/updaterd.service" || fail "no ExecStart= naming updaterd"

# Every command is the daemon or systemd's own systemctl.
while IFS= read -r line; do
	prog=${line#*=}
	prog=${prog%% *}
	[[ $prog == "$UPDATERD" || $prog == systemctl ]] || fail "a command outside the project: '$line'"
done < <(grep -E '^Exec[A-Za-z]+=' "$TEST_TMP/updaterd.service")
grep -q '^ExecReload=' "$TEST_TMP/updaterd.service" || fail "no ExecReload="
grep -q '^ProtectSystem=no' "$TEST_TMP/updaterd.service" || fail "ProtectSystem= is on: ReadWritePaths= cannot open /usr/bin under it"
grep -q '^ReadOnlyPaths=/usr /etc' "$TEST_TMP/updaterd.service" || fail "the system is not read-only"
# One configuration error must not take the socket down with the service.
grep -q '^RestartPreventExitStatus=78' "$TEST_TMP/updaterd.service" || fail "a configuration error is restarted"
grep -q '^StartLimitIntervalSec=0' "$TEST_TMP/updaterd.service" || fail "the service's start limit can fail its socket"

systemd-analyze verify --man=no "$TEST_TMP/updaterd.socket" "$TEST_TMP/updaterd-events.socket" "$TEST_TMP/updaterd.service" \
	>"$TEST_TMP/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$TEST_TMP/verify.log")"
[[ -s $TEST_TMP/verify.log ]] && fail "systemd-analyze verify warns: $(cat "$TEST_TMP/verify.log")"

# The socket unit serves the protocol as the daemon expects it.
grep -q '^ListenDatagram=/' "$TEST_TMP/updaterd.socket" || fail "the socket is not a datagram path"
grep -q '^PassCredentials=yes' "$TEST_TMP/updaterd.socket" || fail "PassCredentials= is off"
grep -q '^SocketMode=0666' "$TEST_TMP/updaterd.socket" || fail "SocketMode= is not 0666"
grep -q '^FileDescriptorName=control$' "$TEST_TMP/updaterd.socket" || fail "the control socket is not named 'control'"
# The events socket: a SOCK_SEQPACKET path beside the control socket, named for the daemon.
ctl=$(sed -n 's/^ListenDatagram=//p' "$TEST_TMP/updaterd.socket")
grep -qx "ListenSequentialPacket=${ctl%/*}/events.sock" "$TEST_TMP/updaterd-events.socket" ||
	fail "the events socket is not events.sock beside '$ctl'"
grep -q '^FileDescriptorName=events$' "$TEST_TMP/updaterd-events.socket" || fail "the events socket is not named 'events'"
grep -q '^SocketMode=0666' "$TEST_TMP/updaterd-events.socket" || fail "the events socket's SocketMode= is not 0666"
grep -q '^Service=updaterd.service$' "$TEST_TMP/updaterd-events.socket" || fail "the events socket does not start updaterd.service"
grep -q '^Type=notify' "$TEST_TMP/updaterd.service" || fail "the service is not Type=notify"

if systemd-analyze security --offline=yes "$TEST_TMP/updaterd.service" >"$TEST_TMP/security.log" 2>&1; then
	grep -a 'Overall exposure' "$TEST_TMP/security.log"
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$TEST_TMP/security.log")
	[[ -n $score ]] || fail "no exposure level in: $(cat "$TEST_TMP/security.log")"
	echo "$score <= 3.0" | bc | grep -q 1 || fail "exposure $score is above 3.0: $(grep -a '✗' "$TEST_TMP/security.log")"
else
	echo "systemd-analyze security --offline=yes is not supported here"
fi
pass
