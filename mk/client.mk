# Clients: libupdater (shared library, header, updater.pc), updaterctl, the
# hello-server example, and their tests.

# libupdater exports only the names of SPEC section 11 (client/lib/libupdater.sym).
lib_LTLIBRARIES += libupdater.la
include_HEADERS = include/updater.h
# The wire format of the sockets: shared by the daemon and every client, not installed.
noinst_HEADERS = include/updater-protocol.h

dist_man_MANS += man/libupdater.3 man/updaterctl.1
# The code is built once, into a convenience library: the shared library is
# made of it, and updaterd links it in statically for its own self-update.
noinst_LTLIBRARIES += libupdater-core.la
libupdater_core_la_SOURCES = \
	client/lib/libupdater.c \
	client/lib/fdstore.c \
	client/lib/watch.c \
	client/lib/watch.h \
	client/lib/preflight.c \
	client/lib/internal.h
libupdater_la_SOURCES =
libupdater_la_LIBADD = libupdater-core.la
libupdater_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 \
	-Wl,--version-script=$(srcdir)/client/lib/libupdater.sym
EXTRA_libupdater_la_DEPENDENCIES = client/lib/libupdater.sym
EXTRA_DIST += client/lib/libupdater.sym client/lib/updater.pc.in

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = client/lib/updater.pc
CLEANFILES += client/lib/updater.pc
client/lib/updater.pc: $(srcdir)/client/lib/updater.pc.in Makefile
	$(AM_V_GEN)$(MKDIR_P) client/lib && sed \
		-e 's|@prefix[@]|$(prefix)|g' \
		-e 's|@exec_prefix[@]|$(exec_prefix)|g' \
		-e 's|@libdir[@]|$(libdir)|g' \
		-e 's|@includedir[@]|$(includedir)|g' \
		-e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g' \
		< $(srcdir)/client/lib/updater.pc.in > $@

# updaterctl speaks the socket protocol itself; it needs only the header's
# default socket path, and the daemon's rollout bucket (daemon/policy.c,
# compiled in) for `rollout-bucket`, which works without the daemon.
bin_PROGRAMS += updaterctl
updaterctl_SOURCES = client/ctl/updaterctl.c daemon/policy.c daemon/policy.h
updaterctl_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
updaterctl_LDADD = $(SODIUM_LIBS) -lm


# The example, built against the library in the tree. -no-install: a real
# executable (no libtool wrapper script), since it re-executes its own path.
noinst_PROGRAMS += examples/hello-server
examples_hello_server_SOURCES = examples/hello-server.c
examples_hello_server_CPPFLAGS = $(AM_CPPFLAGS) -DHELLO_VERSION='"$(PACKAGE_VERSION)"'
examples_hello_server_LDADD = libupdater.la
examples_hello_server_LDFLAGS = $(AM_LDFLAGS) -no-install

# Tests. The probe is a small program driven line by line on stdin, built as
# two versions so a test can replace one with the other.
check_PROGRAMS += tests/check_libupdater tests/updater-probe-v1 tests/updater-probe-v2 tests/loadgen
tests_check_libupdater_SOURCES = tests/check_libupdater.c
tests_check_libupdater_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_libupdater_LDADD = libupdater.la $(CHECK_LIBS)
tests_check_libupdater_LDFLAGS = $(AM_LDFLAGS) -no-install

tests_updater_probe_v1_SOURCES = tests/updater-probe.c
tests_updater_probe_v1_CPPFLAGS = $(AM_CPPFLAGS) -DPROBE_VERSION='"1"'
tests_updater_probe_v1_LDADD = libupdater.la
tests_updater_probe_v1_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_updater_probe_v2_SOURCES = tests/updater-probe.c
tests_updater_probe_v2_CPPFLAGS = $(AM_CPPFLAGS) -DPROBE_VERSION='"2"'
tests_updater_probe_v2_LDADD = libupdater.la
tests_updater_probe_v2_LDFLAGS = $(AM_LDFLAGS) -no-install

tests_loadgen_SOURCES = tests/loadgen.c

TESTS += tests/check_libupdater \
	tests/integration/client-reexec.sh \
	tests/integration/client-failed-exec.sh \
	tests/integration/client-watch.sh \
	tests/integration/client-request-check.sh \
	tests/integration/client-updaterctl.sh \
	tests/integration/client-abi.sh \
	tests/integration/client-daemon.sh \
	tests/integration/zero-downtime.sh
# dgram.py (the tests' datagram client, shared) is listed here because these tests need it.
EXTRA_DIST += tests/integration/client-reexec.sh \
	tests/integration/client-failed-exec.sh \
	tests/integration/client-watch.sh \
	tests/integration/client-request-check.sh \
	tests/integration/client-updaterctl.sh \
	tests/integration/client-abi.sh \
	tests/integration/client-daemon.sh \
	tests/integration/client-common.bash \
	tests/integration/client-fakedaemon.py \
	tests/integration/dgram.py \
	tests/integration/zero-downtime.sh \
	bench/zero-downtime.sh \
	bench/watcher.c
