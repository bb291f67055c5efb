# The update pipeline: one check round (update.c), the default scripts and
# the release tool, and their tests.
libupdaterd_la_SOURCES += daemon/update.c daemon/update.h

# The default scripts go to the scripts directory, the release tool to bindir.
dist_scripts_SCRIPTS += scripts/check scripts/download
dist_bin_SCRIPTS += scripts/updater-publish
dist_man_MANS += man/updater-publish.1

# The release tool and the default check script, without the daemon.
TESTS += tests/integration/pipeline-publish.sh
EXTRA_DIST += tests/integration/pipeline-publish.sh

# Crash consistency (kill -9 during 100 updates) and a full disk, with the
# real daemon.
TESTS += tests/integration/pipeline-crash.sh tests/integration/pipeline-disk.sh
EXTRA_DIST += tests/integration/pipeline-crash.sh tests/integration/pipeline-disk.sh

# Time to apply a 100 MiB update, against curl + sha256sum + mv.
EXTRA_DIST += bench/update.sh

# End to end with the real daemon, default scripts, updater-publish and
# minisign: over file://, over http:// from nginx, and the bad-input battery.
TESTS += tests/integration/pipeline-file.sh tests/integration/pipeline-http.sh \
	tests/integration/pipeline-bad.sh
EXTRA_DIST += tests/integration/pipeline-file.sh tests/integration/pipeline-http.sh \
	tests/integration/pipeline-bad.sh tests/integration/pipeline-lib.sh
