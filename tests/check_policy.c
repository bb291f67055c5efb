/* check_policy.c - SPEC 16's rules: the bucket, pins, the order of the rules, windows. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "schedule.h"

START_TEST(test_bucket_is_sha256_of_the_spec_string)
{
	/*
	 * The first 8 bytes, big-endian, of SHA-256("updater-rollout\0m1\0hello\01.2"),
	 * over 2^64, as python3 computes it: int.from_bytes(sha256(...)[:8], "big") / 2**64.
	 */
	double b = policy_bucket("m1", "hello", "1.2");
	char buf[32];

	(void)snprintf(buf, sizeof(buf), "%.12f", b);
	ck_assert_str_eq(buf, "0.966836644733");
	ck_assert(b >= 0.0 && b < 1.0);
	/* Each release orders the fleet afresh; each machine has its own place. */
	ck_assert(policy_bucket("m1", "hello", "1.3") != b);
	ck_assert(policy_bucket("m2", "hello", "1.2") != b);
	ck_assert(policy_bucket("m1", "hellp", "1.2") != b);
}
END_TEST

START_TEST(test_buckets_spread_evenly)
{
	int below[10] = { 0 };
	char id[32];

	for (int i = 0; i < 10000; i++) {
		(void)snprintf(id, sizeof(id), "machine-%d", i);
		below[(int)(policy_bucket(id, "hello", "2.0") * 10)]++;
	}
	for (int i = 0; i < 10; i++)
		ck_assert_msg(below[i] > 850 && below[i] < 1150, "decile %d holds %d of 10000", i, below[i]);
}
END_TEST

START_TEST(test_pin_takes_leading_components)
{
	ck_assert(policy_pin_matches("1.4", "1.4"));
	ck_assert(policy_pin_matches("1.4", "1.4.2"));
	ck_assert(policy_pin_matches("1.4", "1.4-3"));
	ck_assert(policy_pin_matches("1.4", "1.4~rc1"));
	ck_assert(policy_pin_matches("1.4", "2:1.4.9"));
	ck_assert(!policy_pin_matches("1.4", "1.40"));
	ck_assert(!policy_pin_matches("1.4", "1.4a"));
	ck_assert(!policy_pin_matches("1.4", "1.5"));
	ck_assert(!policy_pin_matches("1.4", "11.4"));
	ck_assert(!policy_pin_matches("1.4.2", "1.4"));
	ck_assert(policy_pin_matches("2:1.4", "2:1.4.1"));
	ck_assert(!policy_pin_matches("2:1.4", "1.4.1"));
}
END_TEST

static struct policy_input input(void)
{
	return (struct policy_input){
		.target = "hello", .version = "2.0", .bucket = 0.5, .rollout_start = -1,
		.rollout_percent = 100, .window_opens = -1, .now_ms = 1000000000000LL,
	};
}

START_TEST(test_no_rule_installs)
{
	struct policy_input in = input();
	struct policy_decision d;

	policy_decide(&in, &d);
	ck_assert_int_eq(d.verdict, POLICY_INSTALL);
	ck_assert_ptr_null(d.rule);
}
END_TEST

START_TEST(test_rollout_percent_straddles_the_bucket)
{
	struct policy_input in = input();
	struct policy_decision d;

	in.rollout_percent = 50; /* 0.5 is not below 50 % */
	policy_decide(&in, &d);
	ck_assert_int_eq(d.verdict, POLICY_REFUSE);
	ck_assert_str_eq(d.rule, POLICY_RULE_ROLLOUT);
	ck_assert_ptr_nonnull(strstr(d.why, "has not reached this machine"));
	in.rollout_percent = 51;
	policy_decide(&in, &d);
	ck_assert_int_eq(d.verdict, POLICY_INSTALL);
	in.rollout_percent = 0;
	in.bucket = 0.0; /* even the first canary */
	policy_decide(&in, &d);
	ck_assert_int_eq(d.verdict, POLICY_REFUSE);
	ck_assert_str_eq(d.rule, POLICY_RULE_HALTED);
}
END_TEST

START_TEST(test_rollout_turn_defers_until_start_plus_bucket_times_duration)
{
	struct policy_input in = input();
	struct policy_decision d;

	in.rollout_start = 1000000000; /* = now */
	in.rollout_duration = 3600;
	in.bucket = 0.25;
	ck_assert_int_eq(policy_turn_ms(&in), 1000000000000LL + 900000);
	policy_decide(&in, &d);
	ck_assert_int_eq(d.verdict, POLICY_DEFER);
	ck_assert_str_eq(d.rule, POLICY_RULE_ROLLOUT);
	ck_assert_int_eq(d.until_ms, 1000000000000LL + 900000);
	in.now_ms += 900000;
	policy_decide(&in, &d);
	ck_assert_int_eq(d.verdict, POLICY_INSTALL);
	/* Bucket 0 takes it at the start. */
	in = input();
	in.rollout_start = 1000000000;
	in.rollout_duration = 3600;
	in.bucket = 0.0;
	policy_decide(&in, &d);
	ck_assert_int_eq(d.verdict, POLICY_INSTALL);
}
END_TEST

START_TEST(test_rules_apply_in_order)
{
	struct policy_input in = input();
	struct policy_decision d;

	in.pin = "1";
	in.held = true;
	in.has_window = true;
	in.window_opens = 1000000100;
	in.inhibitors = 1;
	policy_decide(&in, &d);
	ck_assert_str_eq(d.rule, POLICY_RULE_PIN);
	ck_assert_int_eq(d.verdict, POLICY_REFUSE);
	in.pin = "2";
	policy_decide(&in, &d);
	ck_assert_str_eq(d.rule, POLICY_RULE_HOLD);
	ck_assert_int_eq(d.verdict, POLICY_DEFER);
	ck_assert_int_eq(d.until_ms, -1);
	in.held = false;
	policy_decide(&in, &d);
	ck_assert_str_eq(d.rule, POLICY_RULE_WINDOW);
	ck_assert_int_eq(d.until_ms, 1000000100000LL);
	in.window_open = true;
	policy_decide(&in, &d);
	ck_assert_str_eq(d.rule, POLICY_RULE_INHIBITOR);
	ck_assert_int_eq(d.until_ms, -1);
}
END_TEST

START_TEST(test_max_inhibit_runs_out)
{
	struct policy_input in = input();
	struct policy_decision d;

	in.inhibitors = 2;
	in.inhibitor_why = "backup";
	in.inhibited_since_ms = in.now_ms - 5000;
	in.max_inhibit_ms = 6000;
	policy_decide(&in, &d);
	ck_assert_int_eq(d.verdict, POLICY_DEFER);
	ck_assert_int_eq(d.until_ms, in.now_ms + 1000);
	ck_assert_ptr_nonnull(strstr(d.why, "backup"));
	in.now_ms += 1000;
	policy_decide(&in, &d);
	ck_assert_int_eq(d.verdict, POLICY_INSTALL);
	ck_assert_str_eq(d.rule, "max_inhibit");
}
END_TEST

START_TEST(test_machine_id_falls_back_to_a_random_one_made_once)
{
	char dir[] = "/tmp/check_policy.XXXXXX", path[256], id1[POLICY_MACHINE_ID_MAX + 1],
	     id2[POLICY_MACHINE_ID_MAX + 1];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/mid", dir);
	/* A configured file that is missing is an error, not a fallback. */
	ck_assert_int_lt(policy_machine_id(path, dir, id1), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("0123abcd\n", f);
	fclose(f);
	ck_assert_int_eq(policy_machine_id(path, dir, id1), 0);
	ck_assert_str_eq(id1, "0123abcd");
	unlink(path);
	if (access(POLICY_MACHINE_ID_DEFAULT, R_OK) != 0) {
		ck_assert_int_eq(policy_machine_id(NULL, dir, id1), 0);
		ck_assert_int_eq(policy_machine_id(NULL, dir, id2), 0);
		ck_assert_str_eq(id1, id2);
		ck_assert_uint_eq(strlen(id1), 32);
		(void)snprintf(path, sizeof(path), "%s/%s", dir, POLICY_MACHINE_ID_STATE);
		unlink(path);
	}
	rmdir(dir);
}
END_TEST

START_TEST(test_windows_parse)
{
	struct schedule_windows w;
	char err[256];

	ck_assert_int_eq(schedule_windows_parse("Mon-Fri 02:00-05:00", &w, err, sizeof(err)), 0);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_uint_eq(w.w[0].days, 0x3e);
	ck_assert_int_eq(w.w[0].start_sec, 7200);
	ck_assert_int_eq(w.w[0].length_sec, 3 * 3600);
	ck_assert(!w.w[0].utc);
	ck_assert_int_eq(schedule_windows_parse("Fri-Mon 22:00-01:30:15 UTC, 12:00-13:00", &w, err, sizeof(err)), 0);
	ck_assert_uint_eq(w.n, 2);
	ck_assert_uint_eq(w.w[0].days, 0x63); /* Fri Sat Sun Mon */
	ck_assert_int_eq(w.w[0].length_sec, 3 * 3600 + 30 * 60 + 15);
	ck_assert(w.w[0].utc);
	ck_assert_uint_eq(w.w[1].days, 0x7f);
	ck_assert_int_lt(schedule_windows_parse("Mon-Fry 02:00-05:00", &w, err, sizeof(err)), 0);
	ck_assert_int_lt(schedule_windows_parse("Mon 2:00-05:00", &w, err, sizeof(err)), 0);
	ck_assert_int_lt(schedule_windows_parse("Mon 02:00-25:00", &w, err, sizeof(err)), 0);
	ck_assert_int_lt(schedule_windows_parse("", &w, err, sizeof(err)), 0);
	ck_assert_int_lt(schedule_windows_parse("Mon 02:00-05:00,", &w, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_windows_open_and_next_opening)
{
	struct schedule_windows w;
	char err[256];
	int64_t next;
	/* 2026-12-01 is a Tuesday; 12:00 UTC. */
	const int64_t tue_noon = 1796126400;

	ck_assert_int_eq(schedule_windows_parse("Mon-Fri 02:00-05:00 UTC", &w, err, sizeof(err)), 0);
	ck_assert(!schedule_windows_open(&w, tue_noon, &next));
	ck_assert_int_eq(next, tue_noon + 14 * 3600); /* Wednesday 02:00 */
	ck_assert(schedule_windows_open(&w, tue_noon - 8 * 3600, &next)); /* Tuesday 04:00 */
	ck_assert(!schedule_windows_open(&w, tue_noon - 7 * 3600, &next)); /* 05:00: closed */
	/* Friday 12:00 -> Monday 02:00. */
	ck_assert(!schedule_windows_open(&w, tue_noon + 3 * 86400, &next));
	ck_assert_int_eq(next, tue_noon + 6 * 86400 - 10 * 3600);
	/* Past midnight: Sat 23:00-01:00 is open on Sunday 00:30. */
	ck_assert_int_eq(schedule_windows_parse("Sat 23:00-01:00 UTC", &w, err, sizeof(err)), 0);
	ck_assert(schedule_windows_open(&w, tue_noon + 5 * 86400 - 11 * 3600 - 1800, &next));
	/* Local time follows TZ. */
	setenv("TZ", "Etc/GMT-2", 1); /* UTC+2 */
	tzset();
	ck_assert_int_eq(schedule_windows_parse("Tue 14:00-15:00", &w, err, sizeof(err)), 0);
	ck_assert(schedule_windows_open(&w, tue_noon, &next));
	ck_assert(!schedule_windows_open(&w, tue_noon + 3600, &next));
	ck_assert_int_eq(next, tue_noon + 7 * 86400);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_bucket_is_sha256_of_the_spec_string);
	tcase_add_test(tc, test_buckets_spread_evenly);
	tcase_add_test(tc, test_pin_takes_leading_components);
	tcase_add_test(tc, test_no_rule_installs);
	tcase_add_test(tc, test_rollout_percent_straddles_the_bucket);
	tcase_add_test(tc, test_rollout_turn_defers_until_start_plus_bucket_times_duration);
	tcase_add_test(tc, test_rules_apply_in_order);
	tcase_add_test(tc, test_max_inhibit_runs_out);
	tcase_add_test(tc, test_machine_id_falls_back_to_a_random_one_made_once);
	tcase_add_test(tc, test_windows_parse);
	tcase_add_test(tc, test_windows_open_and_next_opening);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
