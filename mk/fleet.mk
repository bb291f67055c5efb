# Fleet pacing (SPEC 16): rollout, channels, pins, holds, windows, metrics.
# The rules live in daemon/policy.c and daemon/schedule.c (see daemon.mk);
# these are the integration tests with real daemons, scripts and signatures.
FLEET_INTEGRATION_TESTS = \
	tests/integration/fleet-rollout.sh \
	tests/integration/fleet-turn.sh \
	tests/integration/fleet-halt.sh \
	tests/integration/fleet-window.sh \
	tests/integration/fleet-rules.sh \
	tests/integration/fleet-metrics.sh \
	tests/integration/fleet-inhibit.sh
TESTS += $(FLEET_INTEGRATION_TESTS)
EXTRA_DIST += $(FLEET_INTEGRATION_TESTS) tests/integration/fleet-lib.sh

# 200 real daemons against one nginx: the ramp, the origin's load, a halt.
EXTRA_DIST += bench/fleet.sh
