# The attacks of issue 9, one integration test each, named for the attack:
# each reproduces it against the real daemon and clients and fails on a
# build without the fix.
ATTACK_TESTS = tests/integration/attack-replay-fresh-state.sh \
	tests/integration/attack-frozen-mirror.sh \
	tests/integration/attack-curlrc-unsigned.sh \
	tests/integration/attack-setuid-prev.sh \
	tests/integration/attack-smoke-0700.sh \
	tests/integration/attack-pid-reuse.sh \
	tests/integration/attack-setuid-reexec.sh \
	tests/integration/attack-listen-unlink.sh
TESTS += $(ATTACK_TESTS)
EXTRA_DIST += $(ATTACK_TESTS)
