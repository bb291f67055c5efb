/* check_run.c - updater-run's pure rules: the --restart backoff (client/run/backoff.c). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "run.h"

#define SEC 1000LL

START_TEST(test_backoff_doubles_from_1_s_to_a_60_s_cap)
{
	static const unsigned want[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
	unsigned s = 0;
	size_t i;

	/* Each start fails at once. */
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		s = run_backoff_next(s, 0);
		ck_assert_uint_eq(s, want[i]);
	}
}
END_TEST

START_TEST(test_backoff_grows_while_starts_run_under_60_s)
{
	ck_assert_uint_eq(run_backoff_next(0, 59 * SEC), 1);
	ck_assert_uint_eq(run_backoff_next(8, 59 * SEC + 999), 16);
	ck_assert_uint_eq(run_backoff_next(60, 59 * SEC + 999), 60);
}
END_TEST

START_TEST(test_backoff_resets_after_60_s_up)
{
	ck_assert_uint_eq(run_backoff_next(60, 60 * SEC), 1);
	ck_assert_uint_eq(run_backoff_next(32, 60 * SEC), 1);
	ck_assert_uint_eq(run_backoff_next(4, 3600 * SEC), 1);
	ck_assert_uint_eq(run_backoff_next(0, 60 * SEC), 1);
}
END_TEST

START_TEST(test_backoff_climbs_again_after_a_reset)
{
	unsigned s = 0;
	int i;

	for (i = 0; i < 10; i++)
		s = run_backoff_next(s, 0);
	ck_assert_uint_eq(s, 60);
	s = run_backoff_next(s, 61 * SEC);
	ck_assert_uint_eq(s, 1);
	s = run_backoff_next(s, 0);
	ck_assert_uint_eq(s, 2);
	s = run_backoff_next(s, 0);
	ck_assert_uint_eq(s, 4);
}
END_TEST

static Suite *run_suite(void)
{
	Suite *s = suite_create("run");
	TCase *tc = tcase_create("backoff");

	tcase_add_test(tc, test_backoff_doubles_from_1_s_to_a_60_s_cap);
	tcase_add_test(tc, test_backoff_grows_while_starts_run_under_60_s);
	tcase_add_test(tc, test_backoff_resets_after_60_s_up);
	tcase_add_test(tc, test_backoff_climbs_again_after_a_reset);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(run_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
