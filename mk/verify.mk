# Verification and persistence: manifests (minisign, versions), the atomic
# swap and the state, all in the daemon's convenience library.
libupdaterd_la_SOURCES += \
	daemon/manifest.c daemon/manifest.h \
	daemon/state.c daemon/state.h \
	daemon/swap.c daemon/swap.h

check_PROGRAMS += tests/check_swap tests/check_state
TESTS += tests/check_swap tests/check_state
tests_check_swap_SOURCES = tests/check_swap.c tests/unit-files.c tests/unit-files.h
tests_check_swap_CFLAGS = $(UNIT_CFLAGS)
tests_check_swap_LDADD = $(UNIT_LDADD) $(SODIUM_LIBS)
tests_check_state_SOURCES = tests/check_state.c tests/unit-files.c tests/unit-files.h
tests_check_state_CFLAGS = $(UNIT_CFLAGS)
tests_check_state_LDADD = $(UNIT_LDADD) $(SODIUM_LIBS)

check_PROGRAMS += tests/check_manifest
TESTS += tests/check_manifest
tests_check_manifest_SOURCES = tests/check_manifest.c
tests_check_manifest_CFLAGS = $(UNIT_CFLAGS)
tests_check_manifest_LDADD = $(UNIT_LDADD)
