# Transfer (SPEC 17): SHA-256 through libcrypto, hashing off the loop,
# resumable downloads, max_rate, deltas; their tests and benchmarks.
libupdaterd_la_SOURCES += daemon/hash.c daemon/hash.h
libupdaterd_la_CFLAGS += $(CRYPTO_CFLAGS) $(PTHREAD_CFLAGS)
libupdaterd_la_LIBADD += $(CRYPTO_LIBS)
libupdaterd_la_LDFLAGS = $(PTHREAD_CFLAGS)

check_PROGRAMS += tests/check_hash
TESTS += tests/check_hash
tests_check_hash_SOURCES = tests/check_hash.c tests/unit-files.c tests/unit-files.h
tests_check_hash_CFLAGS = $(UNIT_CFLAGS) $(CRYPTO_CFLAGS)
tests_check_hash_LDADD = $(UNIT_LDADD) $(CRYPTO_LIBS)

# The loop answers while a 1 GiB target is hashed (a check, a rollback);
# a cut download resumes (also after a restart, also from a server that
# ignores Range), a partial file of another version is deleted; max_rate.
TRANSFER_TESTS = tests/integration/transfer-hash.sh tests/integration/transfer-resume.sh \
	tests/integration/transfer-rate.sh tests/integration/transfer-delta.sh
TESTS += $(TRANSFER_TESTS)
EXTRA_DIST += $(TRANSFER_TESTS) tests/integration/status-probe.py \
	tests/integration/transfer-lib.sh tests/integration/transfer-server.py

# The hashing rate against openssl; deltas of two real releases.
EXTRA_DIST += bench/hash.sh bench/delta.sh
