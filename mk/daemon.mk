# updaterd: every module but main.c goes into a convenience library that the
# daemon and the unit tests both link, so the tests exercise the shipped code.
noinst_LTLIBRARIES += libupdaterd.la
libupdaterd_la_SOURCES = \
	daemon/log.c daemon/log.h \
	daemon/util.c daemon/util.h \
	daemon/control.c daemon/control.h \
	daemon/events.c daemon/events.h \
	daemon/status.c daemon/status.h \
	daemon/handover.c daemon/handover.h \
	daemon/schedule.c daemon/schedule.h \
	daemon/policy.c daemon/policy.h \
	daemon/notify.c daemon/notify.h
libupdaterd_la_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(YAML_CFLAGS) $(SODIUM_CFLAGS)
libupdaterd_la_LIBADD = $(SYSTEMD_LIBS) $(YAML_LIBS) $(SODIUM_LIBS) -lm

# Unit tests link the convenience library and Check.
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SODIUM_CFLAGS)
UNIT_LDADD = libupdaterd.la $(CHECK_LIBS)

check_PROGRAMS += tests/check_control tests/check_events tests/check_status tests/check_schedule tests/check_policy
TESTS += tests/check_control tests/check_events tests/check_status tests/check_schedule tests/check_policy
tests_check_control_SOURCES = tests/check_control.c
tests_check_control_CFLAGS = $(UNIT_CFLAGS)
tests_check_control_LDADD = $(UNIT_LDADD)
tests_check_events_SOURCES = tests/check_events.c
tests_check_events_CFLAGS = $(UNIT_CFLAGS)
tests_check_events_LDADD = $(UNIT_LDADD)
tests_check_status_SOURCES = tests/check_status.c
tests_check_status_CFLAGS = $(UNIT_CFLAGS)
tests_check_status_LDADD = $(UNIT_LDADD)
tests_check_schedule_SOURCES = tests/check_schedule.c
tests_check_schedule_CFLAGS = $(UNIT_CFLAGS)
tests_check_schedule_LDADD = $(UNIT_LDADD)
tests_check_policy_SOURCES = tests/check_policy.c
tests_check_policy_CFLAGS = $(UNIT_CFLAGS)
tests_check_policy_LDADD = $(UNIT_LDADD) $(SODIUM_LIBS)


# The daemon itself: options, set-up and the loop.
sbin_PROGRAMS += updaterd
updaterd_SOURCES = daemon/main.c
updaterd_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
updaterd_LDADD = libupdaterd.la libupdater-core.la

dist_man_MANS += man/updaterd.8

# Integration tests: the real updaterd against real sockets and scripts.
DAEMON_INTEGRATION_TESTS = \
	tests/integration/daemon-request.sh \
	tests/integration/daemon-flood.sh \
	tests/integration/daemon-malformed.sh \
	tests/integration/daemon-status.sh \
	tests/integration/daemon-signals.sh \
	tests/integration/daemon-notify.sh \
	tests/integration/daemon-config.sh \
	tests/integration/daemon-socket.sh \
	tests/integration/daemon-units.sh \
	tests/integration/daemon-update.sh \
	tests/integration/daemon-selfupdate.sh \
	tests/integration/daemon-schedule.sh \
	tests/integration/daemon-recover.sh \
	tests/integration/attack-symlink-subscriber.sh \
	tests/integration/attack-unread-replies.sh \
	tests/integration/attack-subscriber-table.sh \
	tests/integration/attack-updaterctl-full-queue.sh \
	tests/integration/attack-socket-dir.sh \
	tests/integration/attack-status-escape.sh
TESTS += $(DAEMON_INTEGRATION_TESTS)
EXTRA_DIST += $(DAEMON_INTEGRATION_TESTS) \
	tests/integration/daemon-lib.sh \
	tests/integration/notify_listen.py \
	tests/integration/events.py
EXTRA_DIST += bench/daemon.sh bench/flood.py bench/sink.c
