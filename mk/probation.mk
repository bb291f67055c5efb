# Probation (SPEC section 15): the health gate after a swap, and the scan for
# processes still running a replaced image; both in the daemon's library.
libupdaterd_la_SOURCES += \
	daemon/probation.c daemon/probation.h \
	daemon/stale.c daemon/stale.h

# The probation tests' server, in three good versions and a build that exits
# before updater_init(). -no-install: real executables that re-execute their
# own path.
PROBATION_SERVERS = tests/probation-server-v1 tests/probation-server-v2 \
	tests/probation-server-v3 tests/probation-server-bad tests/probation-server-noready
check_PROGRAMS += $(PROBATION_SERVERS)
tests_probation_server_v1_SOURCES = tests/probation-server.c
tests_probation_server_v1_CPPFLAGS = $(AM_CPPFLAGS) -DSERVER_VERSION='"1.0"'
tests_probation_server_v1_LDADD = libupdater.la
tests_probation_server_v1_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_probation_server_v2_SOURCES = tests/probation-server.c
tests_probation_server_v2_CPPFLAGS = $(AM_CPPFLAGS) -DSERVER_VERSION='"2.0"'
tests_probation_server_v2_LDADD = libupdater.la
tests_probation_server_v2_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_probation_server_v3_SOURCES = tests/probation-server.c
tests_probation_server_v3_CPPFLAGS = $(AM_CPPFLAGS) -DSERVER_VERSION='"3.0"'
tests_probation_server_v3_LDADD = libupdater.la
tests_probation_server_v3_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_probation_server_bad_SOURCES = tests/probation-server.c
tests_probation_server_bad_CPPFLAGS = $(AM_CPPFLAGS) -DSERVER_VERSION='"2.0"' -DSERVER_BROKEN
tests_probation_server_bad_LDADD = libupdater.la
tests_probation_server_bad_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_probation_server_noready_SOURCES = tests/probation-server.c
tests_probation_server_noready_CPPFLAGS = $(AM_CPPFLAGS) -DSERVER_VERSION='"2.0"' -DSERVER_NO_READY
tests_probation_server_noready_LDADD = libupdater.la
tests_probation_server_noready_LDFLAGS = $(AM_LDFLAGS) -no-install

PROBATION_TESTS = \
	tests/integration/probation-gate.sh \
	tests/integration/probation-resume.sh \
	tests/integration/probation-stale.sh \
	tests/integration/probation-preflight.sh \
	tests/integration/run-overlap.sh
TESTS += $(PROBATION_TESTS)
EXTRA_DIST += $(PROBATION_TESTS) tests/integration/probation-lib.sh bench/probation.sh
