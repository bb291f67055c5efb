# Directory targets (SPEC section 18): unpack a release with libarchive and
# switch a symlink (release.c, in the daemon's convenience library).
libupdaterd_la_SOURCES += daemon/release.c daemon/release.h
libupdaterd_la_CFLAGS += $(LIBARCHIVE_CFLAGS)
libupdaterd_la_LIBADD += $(LIBARCHIVE_LIBS)

check_PROGRAMS += tests/check_release
TESTS += tests/check_release
tests_check_release_SOURCES = tests/check_release.c tests/unit-files.c tests/unit-files.h
tests_check_release_CFLAGS = $(UNIT_CFLAGS) $(LIBARCHIVE_CFLAGS)
tests_check_release_LDADD = $(UNIT_LDADD) $(SODIUM_LIBS) $(LIBARCHIVE_LIBS)

# With the real daemon, default scripts, updater-publish and minisign: the
# life of a release, hostile archives, kill -9 during 50 updates, and whole
# releases under a run loop with libupdater and updater-run through `current`.
DIR_INTEGRATION_TESTS = \
	tests/integration/dir-keep.sh \
	tests/integration/dir-hostile.sh \
	tests/integration/dir-crash.sh \
	tests/integration/dir-update.sh \
	tests/integration/dir-publish.sh \
	tests/integration/dir-health.sh
TESTS += $(DIR_INTEGRATION_TESTS)
EXTRA_DIST += $(DIR_INTEGRATION_TESTS) \
	tests/integration/dir-lib.sh \
	tests/integration/dir-shop.c \
	tests/integration/dir-hostile.py
