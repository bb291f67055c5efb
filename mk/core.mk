# rules for the core area: configuration (config.c) and the script runner
# (runner.c), both in the daemon's convenience library, and their tests.
libupdaterd_la_SOURCES += \
	daemon/config.c daemon/config.h \
	daemon/runner.c daemon/runner.h

check_PROGRAMS += tests/check_config tests/check_runner
TESTS += tests/check_config tests/check_runner
tests_check_config_SOURCES = tests/check_config.c
tests_check_config_CFLAGS = $(UNIT_CFLAGS)
tests_check_config_LDADD = $(UNIT_LDADD)
tests_check_runner_SOURCES = tests/check_runner.c
tests_check_runner_CFLAGS = $(UNIT_CFLAGS)
tests_check_runner_LDADD = $(UNIT_LDADD)

TESTS += \
	tests/integration/scripts-env.sh \
	tests/integration/scripts-refused.sh
EXTRA_DIST += \
	tests/integration/scripts-env.sh \
	tests/integration/scripts-refused.sh
