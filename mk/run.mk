# updater-run: the supervisor (and container PID 1) that restarts programs
# into new versions. It must run alone, so it links libupdater's code
# statically (the convenience library, for its watch), nothing shared.
bin_PROGRAMS += updater-run
updater_run_SOURCES = \
	client/run/main.c client/run/run.h \
	client/run/log.c client/run/signal.c client/run/tree.c \
	client/run/listen.c client/run/notify.c client/run/watch.c \
	client/run/backoff.c
updater_run_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/client/lib
updater_run_LDADD = libupdater-core.la

dist_man_MANS += man/updater-run.1

# Check suite for updater-run's pure rules: it links only the modules it tests.
check_PROGRAMS += tests/check_run
tests_check_run_SOURCES = tests/check_run.c client/run/backoff.c client/run/signal.c \
	client/run/run.h
tests_check_run_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/client/run -I$(top_srcdir)/client/lib
tests_check_run_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_run_LDADD = $(CHECK_LIBS)
TESTS += tests/check_run

RUN_TESTS = \
	tests/integration/run-exit.sh \
	tests/integration/run-reap.sh \
	tests/integration/run-signals.sh \
	tests/integration/run-forward.sh \
	tests/integration/run-allsignals.sh \
	tests/integration/run-rewrite.sh \
	tests/integration/run-jobcontrol.sh \
	tests/integration/run-cgroup.sh \
	tests/integration/run-listen.sh \
	tests/integration/run-update.sh \
	tests/integration/run-notify.sh \
	tests/integration/run-restart.sh
TESTS += $(RUN_TESTS)
# lib.sh is shared by every integration test; listed here because these
# tests need it in the tarball (harmless if another fragment lists it too).
EXTRA_DIST += $(RUN_TESTS) \
	tests/integration/lib.sh \
	tests/integration/run-lib.sh \
	tests/integration/run-server.py \
	tests/integration/run-load.py \
	tests/integration/run-recorder.py \
	bench/restart.sh \
	bench/restarter.c
