# updater-run: the supervisor (and container PID 1) that restarts programs
# into new versions. It links nothing of the project: it must run alone.
bin_PROGRAMS += updater-run
updater_run_SOURCES = \
	client/updater-run.c client/run.h \
	client/run-log.c client/run-signal.c client/run-tree.c \
	client/run-listen.c client/run-notify.c client/run-watch.c \
	client/run-backoff.c

dist_man_MANS += man/updater-run.1

# Check suite for updater-run's pure rules: it links only the modules it
# tests, like updater-run itself links nothing of the project.
check_PROGRAMS += tests/check_run
tests_check_run_SOURCES = tests/check_run.c client/run-backoff.c client/run.h
tests_check_run_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/client
tests_check_run_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_run_LDADD = $(CHECK_LIBS)
TESTS += tests/check_run

RUN_TESTS = \
	tests/integration/run-exit.sh \
	tests/integration/run-reap.sh \
	tests/integration/run-signals.sh \
	tests/integration/run-forward.sh \
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
	bench/restart.sh
