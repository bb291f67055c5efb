# Fuzz targets for the parsers that see untrusted input: manifests (from the
# check script), the configuration file, control datagrams, packets on the
# events socket, the self-update hand-over and the state files.
#
# Every target is linked with fuzz/driver.c into a regression program that
# replays its seed corpus under `make check`, with whatever compiler builds
# the rest. With --enable-fuzzing (clang) the same targets are also built
# as libFuzzer programs; those compile the daemon sources they exercise
# themselves, so the convenience library and everything else stays
# uninstrumented.

check_PROGRAMS += fuzz/fuzz-manifest-regress fuzz/fuzz-config-regress fuzz/fuzz-control-regress \
	fuzz/fuzz-handover-regress fuzz/fuzz-events-regress fuzz/fuzz-state-regress
TESTS += fuzz/run-corpus.sh
fuzz_fuzz_manifest_regress_SOURCES = fuzz/fuzz-manifest.c fuzz/driver.c fuzz/fuzz.h
fuzz_fuzz_manifest_regress_CFLAGS = $(UNIT_CFLAGS)
fuzz_fuzz_manifest_regress_LDADD = $(UNIT_LDADD)
fuzz_fuzz_config_regress_SOURCES = fuzz/fuzz-config.c fuzz/driver.c fuzz/fuzz.h
fuzz_fuzz_config_regress_CFLAGS = $(UNIT_CFLAGS)
fuzz_fuzz_config_regress_LDADD = $(UNIT_LDADD)
fuzz_fuzz_control_regress_SOURCES = fuzz/fuzz-control.c fuzz/driver.c fuzz/fuzz.h
fuzz_fuzz_control_regress_CFLAGS = $(UNIT_CFLAGS)
fuzz_fuzz_control_regress_LDADD = $(UNIT_LDADD)
fuzz_fuzz_handover_regress_SOURCES = fuzz/fuzz-handover.c fuzz/driver.c fuzz/fuzz.h
fuzz_fuzz_handover_regress_CFLAGS = $(UNIT_CFLAGS)
fuzz_fuzz_handover_regress_LDADD = $(UNIT_LDADD)
fuzz_fuzz_events_regress_SOURCES = fuzz/fuzz-events.c fuzz/driver.c fuzz/fuzz.h
fuzz_fuzz_events_regress_CFLAGS = $(UNIT_CFLAGS)
fuzz_fuzz_events_regress_LDADD = $(UNIT_LDADD)
fuzz_fuzz_state_regress_SOURCES = fuzz/fuzz-state.c fuzz/driver.c fuzz/fuzz.h
fuzz_fuzz_state_regress_CFLAGS = $(UNIT_CFLAGS)
fuzz_fuzz_state_regress_LDADD = $(UNIT_LDADD)

# The corpus directories are shipped whole (automake copies directories
# named in EXTRA_DIST), so adding a seed needs no change here.
EXTRA_DIST += fuzz/run-corpus.sh fuzz/corpus

if ENABLE_FUZZING
FUZZ_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(SODIUM_CFLAGS) $(YAML_CFLAGS) \
	-fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
noinst_PROGRAMS += fuzz/fuzz-manifest fuzz/fuzz-config fuzz/fuzz-control fuzz/fuzz-handover \
	fuzz/fuzz-events fuzz/fuzz-state
fuzz_fuzz_manifest_SOURCES = fuzz/fuzz-manifest.c fuzz/fuzz.h daemon/manifest.c
fuzz_fuzz_manifest_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_manifest_LDADD = $(SODIUM_LIBS)
fuzz_fuzz_config_SOURCES = fuzz/fuzz-config.c fuzz/fuzz.h daemon/config.c daemon/manifest.c daemon/schedule.c
fuzz_fuzz_config_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_config_LDADD = $(YAML_LIBS) $(SODIUM_LIBS)
fuzz_fuzz_control_SOURCES = fuzz/fuzz-control.c fuzz/fuzz.h daemon/control.c
fuzz_fuzz_control_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_control_LDADD = $(SYSTEMD_LIBS)
fuzz_fuzz_handover_SOURCES = fuzz/fuzz-handover.c fuzz/fuzz.h daemon/handover.c daemon/util.c
fuzz_fuzz_handover_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_handover_LDADD = $(SYSTEMD_LIBS)
fuzz_fuzz_events_SOURCES = fuzz/fuzz-events.c fuzz/fuzz.h daemon/events.c daemon/util.c
fuzz_fuzz_events_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_events_LDADD = $(SYSTEMD_LIBS)
fuzz_fuzz_state_SOURCES = fuzz/fuzz-state.c fuzz/fuzz.h daemon/state.c daemon/manifest.c
fuzz_fuzz_state_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_state_LDADD = $(SODIUM_LIBS)
endif
