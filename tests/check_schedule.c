/* check_schedule.c - the rules of schedule.h: periodic checks, splay, rate limit, coalescing, backoff. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "schedule.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

static uint64_t random_max(uint64_t bound)
{
	return bound;
}

static uint64_t random_zero(uint64_t bound)
{
	(void)bound;
	return 0;
}

static uint64_t random_half(uint64_t bound)
{
	return bound / 2;
}

static const struct schedule_params defaults = {
	.interval_ms = 6 * HOUR,
	.splay_ms = 30 * MIN,
	.min_interval_ms = MIN,
};

/* Run a whole round at NOW taking DURATION; returns the end time. */
static int64_t run_round(struct schedule *s, int64_t now, int64_t duration, bool failed)
{
	ck_assert(schedule_due(s, now));
	schedule_started(s, now);
	ck_assert(!schedule_due(s, now));
	schedule_finished(s, now + duration, failed);
	return now + duration;
}

START_TEST(test_never_checked_is_due_at_start_plus_splay)
{
	struct schedule s;

	schedule_init(&s, &defaults, random_half, 1000, -1);
	ck_assert_int_eq(schedule_next(&s), 1000 + 15 * MIN);
	ck_assert(!schedule_due(&s, 1000 + 15 * MIN - 1));
	ck_assert(schedule_due(&s, 1000 + 15 * MIN));
}
END_TEST

START_TEST(test_persisted_last_check_sets_the_next_one)
{
	struct schedule s;

	/* Checked an hour ago: due in 5 h (+ no splay). */
	schedule_init(&s, &defaults, random_zero, 10 * HOUR, HOUR);
	ck_assert_int_eq(schedule_next(&s), 10 * HOUR + 5 * HOUR);
}
END_TEST

START_TEST(test_machine_that_was_off_catches_up)
{
	struct schedule s;

	/* Last check three days ago: due at once, whatever the splay. */
	schedule_init(&s, &defaults, random_max, 5 * SEC, 72 * HOUR);
	ck_assert(schedule_due(&s, 5 * SEC));
}
END_TEST

START_TEST(test_last_check_in_the_future_counts_as_now)
{
	struct schedule s;

	schedule_init(&s, &defaults, random_zero, 5 * SEC, -5000);
	ck_assert_int_eq(schedule_next(&s), 5 * SEC + 6 * HOUR);
}
END_TEST

START_TEST(test_interval_zero_means_no_periodic_check)
{
	struct schedule s;
	struct schedule_params p = defaults;
	int64_t wait, end;
	bool coalesced;

	p.interval_ms = 0;
	schedule_init(&s, &p, random_max, 0, -1);
	ck_assert_int_eq(schedule_next(&s), SCHEDULE_NEVER);
	ck_assert(!schedule_due(&s, 1000 * HOUR));
	/* A request still runs a check, and nothing follows it, not even after a failure. */
	ck_assert_int_eq(schedule_request(&s, 10, &wait, &coalesced), SCHEDULE_QUEUED);
	end = run_round(&s, 10, 5 * SEC, true);
	ck_assert_int_eq(schedule_next(&s), SCHEDULE_NEVER);
	ck_assert(!schedule_due(&s, end + 1000 * HOUR));
}
END_TEST

START_TEST(test_periodic_check_follows_each_round)
{
	struct schedule s;
	int64_t end;

	schedule_init(&s, &defaults, random_max, 0, -1);
	ck_assert_int_eq(schedule_next(&s), 30 * MIN);
	end = run_round(&s, 30 * MIN, 2 * SEC, false);
	ck_assert_int_eq(schedule_next(&s), end + 6 * HOUR + 30 * MIN);
}
END_TEST

START_TEST(test_first_request_is_queued)
{
	struct schedule s;
	int64_t wait = -1;
	bool coalesced = true;

	schedule_init(&s, &defaults, random_max, 100, -1);
	ck_assert_int_eq(schedule_request(&s, 100, &wait, &coalesced), SCHEDULE_QUEUED);
	ck_assert(!coalesced);
	ck_assert_int_eq(wait, 0);
	ck_assert(schedule_due(&s, 100));
	/* A second one before the round starts joins it. */
	ck_assert_int_eq(schedule_request(&s, 100, &wait, &coalesced), SCHEDULE_QUEUED);
	ck_assert(coalesced);
}
END_TEST

START_TEST(test_request_inside_min_interval_is_deferred)
{
	struct schedule s;
	int64_t wait;
	bool coalesced;

	schedule_init(&s, &defaults, random_max, 0, -1);
	(void)schedule_request(&s, 0, &wait, &coalesced);
	run_round(&s, 0, SEC, false);
	ck_assert_int_eq(schedule_request(&s, 10 * SEC, &wait, &coalesced), SCHEDULE_DEFERRED);
	ck_assert(!coalesced);
	ck_assert_int_eq(wait, 50 * SEC);
	ck_assert_int_eq(schedule_next(&s), MIN);
	ck_assert(!schedule_due(&s, MIN - 1));
	ck_assert(schedule_due(&s, MIN));
	ck_assert_int_eq(schedule_request(&s, 30 * SEC, &wait, &coalesced), SCHEDULE_DEFERRED);
	ck_assert(coalesced);
	ck_assert_int_eq(wait, 30 * SEC);
}
END_TEST

START_TEST(test_request_while_running_follows_after_min_interval)
{
	struct schedule s;
	int64_t wait;
	bool coalesced;

	schedule_init(&s, &defaults, random_max, 0, -1);
	(void)schedule_request(&s, 0, &wait, &coalesced);
	schedule_started(&s, 0);
	ck_assert_int_eq(schedule_request(&s, 5 * SEC, &wait, &coalesced), SCHEDULE_RUNNING);
	ck_assert(!coalesced);
	ck_assert_int_eq(schedule_request(&s, 6 * SEC, &wait, &coalesced), SCHEDULE_RUNNING);
	ck_assert(coalesced);
	ck_assert(!schedule_due(&s, 10 * MIN)); /* never while running */
	schedule_finished(&s, 10 * SEC, false);
	ck_assert_int_eq(schedule_next(&s), MIN);
	/* A long round: the follow-up starts as soon as it ends. */
	run_round(&s, MIN, 0, false);
	ck_assert_int_eq(schedule_request(&s, MIN + 1, &wait, &coalesced), SCHEDULE_DEFERRED);
	schedule_started(&s, 2 * MIN);
	(void)schedule_request(&s, 2 * MIN + 1, &wait, &coalesced);
	schedule_finished(&s, 5 * MIN, false);
	ck_assert(schedule_due(&s, 5 * MIN));
}
END_TEST

START_TEST(test_flood_coalesces_into_one_check)
{
	struct schedule s;
	int64_t wait, now = 0;
	bool coalesced;
	unsigned queued = 0, ncoalesced = 0, started = 0;

	schedule_init(&s, &defaults, random_max, 0, -1);
	/* 10,000 requests inside one second, with the loop starting rounds as it goes. */
	for (int i = 0; i < 10000; i++) {
		now = i / 10;
		if (schedule_request(&s, now, &wait, &coalesced) == SCHEDULE_QUEUED)
			queued++;
		if (coalesced)
			ncoalesced++;
		if (schedule_due(&s, now)) {
			schedule_started(&s, now);
			started++;
		}
		if (i == 500)
			schedule_finished(&s, now, false);
	}
	ck_assert_uint_eq(started, 1);
	ck_assert_uint_eq(queued, 1);
	/* One started a check, one created the deferred check, every other joined it. */
	ck_assert_uint_eq(ncoalesced, 10000 - 2);
	ck_assert_int_eq(schedule_next(&s), MIN);
	ck_assert(schedule_due(&s, MIN));
	schedule_started(&s, MIN);
	schedule_finished(&s, MIN + SEC, false);
	/* Nothing else is waiting: the next check is the periodic one. */
	ck_assert_int_eq(schedule_next(&s), MIN + SEC + 6 * HOUR + 30 * MIN);
}
END_TEST

START_TEST(test_no_request_is_lost_and_rate_is_limited)
{
	struct schedule s;
	struct schedule_params p = { .interval_ms = 0, .min_interval_ms = 10 * SEC };
	int64_t wait, last_start = INT64_MIN, round_end = -1, last_request = -1;
	bool coalesced, running = false;
	unsigned rounds = 0;

	schedule_init(&s, &p, random_max, 0, -1);
	/* Requests at irregular times for 10 simulated minutes, rounds of 3 s. */
	for (int64_t now = 0; now < 10 * MIN + MIN; now += 100) {
		if (running && now >= round_end) {
			schedule_finished(&s, now, false);
			running = false;
		}
		if (now < 10 * MIN && (now % 7300 == 0 || now % 1100 == 0)) {
			(void)schedule_request(&s, now, &wait, &coalesced);
			last_request = now;
		}
		if (!running && schedule_due(&s, now)) {
			if (last_start != INT64_MIN)
				ck_assert_int_ge(now - last_start, p.min_interval_ms);
			schedule_started(&s, now);
			last_start = now;
			round_end = now + 3 * SEC;
			running = true;
			rounds++;
		}
	}
	/* The last request was answered by a check that started after it. */
	ck_assert_int_ge(last_start, last_request);
	ck_assert(!s.pending);
	ck_assert_uint_le(rounds, 10 * 6 + 1);
	ck_assert_uint_ge(rounds, 10 * 6 - 1);
}
END_TEST

START_TEST(test_force_bypasses_min_interval)
{
	struct schedule s;
	int64_t wait;
	bool coalesced;

	schedule_init(&s, &defaults, random_max, 0, -1);
	(void)schedule_request(&s, 0, &wait, &coalesced);
	run_round(&s, 0, SEC, false);
	ck_assert(!schedule_due(&s, 2 * SEC));
	schedule_force(&s);
	ck_assert(schedule_due(&s, 2 * SEC));
	ck_assert_int_eq(schedule_request(&s, 2 * SEC, &wait, &coalesced), SCHEDULE_QUEUED);
	run_round(&s, 2 * SEC, SEC, false);
	ck_assert(!schedule_due(&s, 4 * SEC));
}
END_TEST

START_TEST(test_force_while_running_follows_at_once)
{
	struct schedule s;

	schedule_init(&s, &defaults, random_max, 0, -1);
	schedule_force(&s);
	schedule_started(&s, 0);
	schedule_force(&s);
	ck_assert(!schedule_due(&s, SEC));
	schedule_finished(&s, 2 * SEC, false);
	ck_assert(schedule_due(&s, 2 * SEC));
}
END_TEST

START_TEST(test_backoff_doubles_and_is_capped)
{
	struct schedule_params p = defaults;

	ck_assert_int_eq(schedule_backoff_ms(&p, 1), MIN);
	ck_assert_int_eq(schedule_backoff_ms(&p, 2), 2 * MIN);
	ck_assert_int_eq(schedule_backoff_ms(&p, 3), 4 * MIN);
	ck_assert_int_eq(schedule_backoff_ms(&p, 6), 32 * MIN);
	ck_assert_int_eq(schedule_backoff_ms(&p, 7), HOUR);
	ck_assert_int_eq(schedule_backoff_ms(&p, 1000), HOUR);
	p.interval_ms = 10 * MIN;
	ck_assert_int_eq(schedule_backoff_ms(&p, 4), 8 * MIN);
	ck_assert_int_eq(schedule_backoff_ms(&p, 5), 10 * MIN);
	p.interval_ms = 30 * SEC;
	ck_assert_int_eq(schedule_backoff_ms(&p, 1), 30 * SEC);
}
END_TEST

START_TEST(test_failed_round_is_retried_with_backoff)
{
	struct schedule s;
	int64_t end;

	schedule_init(&s, &defaults, random_max, 0, -1);
	ck_assert(schedule_due(&s, 30 * MIN));
	end = run_round(&s, 30 * MIN, SEC, true);
	ck_assert_int_eq(schedule_next(&s), end + MIN);
	end = run_round(&s, end + MIN, SEC, true);
	ck_assert_int_eq(schedule_next(&s), end + 2 * MIN);
	end = run_round(&s, end + 2 * MIN, SEC, true);
	ck_assert_int_eq(schedule_next(&s), end + 4 * MIN);
	/* Success resets the backoff and the periodic schedule takes over. */
	end = run_round(&s, end + 4 * MIN, SEC, false);
	ck_assert_int_eq(schedule_next(&s), end + 6 * HOUR + 30 * MIN);
	end = run_round(&s, end + 6 * HOUR + 30 * MIN, SEC, true);
	ck_assert_int_eq(schedule_next(&s), end + MIN);
}
END_TEST

START_TEST(test_splay_stays_within_bounds)
{
	struct schedule_params p = { .interval_ms = HOUR, .splay_ms = 10 * SEC, .min_interval_ms = 0 };
	int64_t lo = INT64_MAX, hi = INT64_MIN;

	for (int i = 0; i < 2000; i++) {
		struct schedule s;

		schedule_init(&s, &p, NULL, 1000, -1);
		lo = s.periodic < lo ? s.periodic : lo;
		hi = s.periodic > hi ? s.periodic : hi;
		ck_assert_int_ge(s.periodic, 1000);
		ck_assert_int_le(s.periodic, 1000 + 10 * SEC);
	}
	/* Spread over the range, not a constant. */
	ck_assert_int_lt(lo, 1000 + 2 * SEC);
	ck_assert_int_gt(hi, 1000 + 8 * SEC);
}
END_TEST

START_TEST(test_zero_splay_draws_nothing)
{
	struct schedule_params p = { .interval_ms = HOUR, .splay_ms = 0, .min_interval_ms = 0 };
	struct schedule s;

	schedule_init(&s, &p, NULL, 77, -1);
	ck_assert_int_eq(s.periodic, 77);
}
END_TEST

START_TEST(test_reload_redraws_only_when_interval_changes)
{
	struct schedule s;
	struct schedule_params p = defaults;

	schedule_init(&s, &p, random_zero, 0, HOUR);
	ck_assert_int_eq(schedule_next(&s), 5 * HOUR);
	p.min_interval_ms = 5 * MIN;
	s.random = random_max;
	schedule_set_params(&s, &p);
	ck_assert_int_eq(schedule_next(&s), 5 * HOUR);
	p.interval_ms = 2 * HOUR;
	schedule_set_params(&s, &p);
	ck_assert_int_eq(schedule_next(&s), HOUR + 30 * MIN);
	p.interval_ms = 0;
	schedule_set_params(&s, &p);
	ck_assert_int_eq(schedule_next(&s), SCHEDULE_NEVER);
}
END_TEST

static Suite *schedule_suite(void)
{
	Suite *s = suite_create("schedule");
	TCase *periodic = tcase_create("periodic");
	TCase *requests = tcase_create("requests");
	TCase *backoff = tcase_create("backoff");

	tcase_add_test(periodic, test_never_checked_is_due_at_start_plus_splay);
	tcase_add_test(periodic, test_persisted_last_check_sets_the_next_one);
	tcase_add_test(periodic, test_machine_that_was_off_catches_up);
	tcase_add_test(periodic, test_last_check_in_the_future_counts_as_now);
	tcase_add_test(periodic, test_interval_zero_means_no_periodic_check);
	tcase_add_test(periodic, test_periodic_check_follows_each_round);
	tcase_add_test(periodic, test_splay_stays_within_bounds);
	tcase_add_test(periodic, test_zero_splay_draws_nothing);
	tcase_add_test(periodic, test_reload_redraws_only_when_interval_changes);
	suite_add_tcase(s, periodic);

	tcase_add_test(requests, test_first_request_is_queued);
	tcase_add_test(requests, test_request_inside_min_interval_is_deferred);
	tcase_add_test(requests, test_request_while_running_follows_after_min_interval);
	tcase_add_test(requests, test_flood_coalesces_into_one_check);
	tcase_add_test(requests, test_no_request_is_lost_and_rate_is_limited);
	tcase_add_test(requests, test_force_bypasses_min_interval);
	tcase_add_test(requests, test_force_while_running_follows_at_once);
	suite_add_tcase(s, requests);

	tcase_add_test(backoff, test_backoff_doubles_and_is_capped);
	tcase_add_test(backoff, test_failed_round_is_retried_with_backoff);
	suite_add_tcase(s, backoff);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(schedule_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
