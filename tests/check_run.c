/* check_run.c - updater-run's pure rules: the --restart backoff (client/run/backoff.c),
 * signal names, roles and --rewrite (client/run/signal.c). */
#include <check.h>
#include <signal.h>
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

START_TEST(test_signal_names_include_the_real_time_signals)
{
	ck_assert_int_eq(signal_from_string("TERM"), SIGTERM);
	ck_assert_int_eq(signal_from_string("sigpwr"), SIGPWR);
	ck_assert_int_eq(signal_from_string("RTMIN"), SIGRTMIN);
	ck_assert_int_eq(signal_from_string("SIGRTMIN+3"), SIGRTMIN + 3);
	ck_assert_int_eq(signal_from_string("RTMAX-1"), SIGRTMAX - 1);
	ck_assert_int_eq(signal_from_string("64"), 64);
	ck_assert_int_lt(signal_from_string("65"), 0);
	ck_assert_int_lt(signal_from_string("0"), 0);
	ck_assert_int_lt(signal_from_string("RTMIN+99"), 0);
	ck_assert_int_lt(signal_from_string("RTMIN-1"), 0);
	ck_assert_str_eq(signal_to_string(SIGRTMIN + 2), "SIGRTMIN+2");
	ck_assert_str_eq(signal_to_string(32), "signal 32");
}
END_TEST

START_TEST(test_signal_roles_follow_the_man_page_table)
{
	ck_assert_int_eq(signal_role(SIGCHLD, SIGTERM), SIGROLE_REAP);
	ck_assert_int_eq(signal_role(SIGHUP, SIGTERM), SIGROLE_RESTART);
	ck_assert_int_eq(signal_role(SIGHUP, SIGHUP), SIGROLE_RESTART);
	ck_assert_int_eq(signal_role(SIGQUIT, SIGTERM), SIGROLE_TERMINATE);
	ck_assert_int_eq(signal_role(SIGUSR1, SIGUSR1), SIGROLE_TERMINATE);
	ck_assert_int_eq(signal_role(SIGUSR1, SIGTERM), SIGROLE_FORWARD);
	ck_assert_int_eq(signal_role(SIGPWR, SIGTERM), SIGROLE_STOP_TREE);
	ck_assert_int_eq(signal_role(SIGTTIN, SIGTERM), SIGROLE_JOB_STOP);
	ck_assert_int_eq(signal_role(SIGCONT, SIGTERM), SIGROLE_CONTINUE);
	ck_assert_int_eq(signal_role(SIGABRT, SIGTERM), SIGROLE_FATAL);
	ck_assert_int_eq(signal_role(SIGSEGV, SIGSEGV), SIGROLE_FATAL);
	ck_assert_int_eq(signal_role(SIGKILL, SIGTERM), SIGROLE_UNCATCHABLE);
	ck_assert_int_eq(signal_role(SIGALRM, SIGTERM), SIGROLE_FORWARD);
	ck_assert_int_eq(signal_role(32, SIGTERM), SIGROLE_FORWARD);
	ck_assert(signal_role_is_forwarded(SIGROLE_JOB_STOP));
	ck_assert(!signal_role_is_forwarded(SIGROLE_STOP_TREE));
	ck_assert(!signal_role_is_forwarded(SIGROLE_FATAL));
}
END_TEST

START_TEST(test_signal_rewrite_parses_names_numbers_and_zero)
{
	int from = -1, to = -1;

	ck_assert_int_eq(signal_parse_rewrite("TERM:QUIT", &from, &to), 0);
	ck_assert_int_eq(from, SIGTERM);
	ck_assert_int_eq(to, SIGQUIT);
	ck_assert_int_eq(signal_parse_rewrite("10:0", &from, &to), 0);
	ck_assert_int_eq(from, SIGUSR1);
	ck_assert_int_eq(to, 0);
	from = to = -1;
	ck_assert_int_lt(signal_parse_rewrite("TERM", &from, &to), 0);
	ck_assert_int_lt(signal_parse_rewrite("0:TERM", &from, &to), 0);
	ck_assert_int_lt(signal_parse_rewrite("TERM:", &from, &to), 0);
	ck_assert_int_lt(signal_parse_rewrite("TERM:QUIT:INT", &from, &to), 0);
	ck_assert_int_eq(from, -1);
	ck_assert_int_eq(to, -1);
}
END_TEST

START_TEST(test_signal_fill_all_holds_glibc_own_signals)
{
	sigset_t set;
	const unsigned long *w;

	signal_fill_all(&set);
	w = (const unsigned long *)(const void *)&set;
	/* Bit N-1 for signal N, as the kernel reads it. */
	ck_assert(w[0] & (1UL << (SIGTERM - 1)));
	ck_assert(!(w[0] & (1UL << (SIGKILL - 1))));
	ck_assert(!(w[0] & (1UL << (SIGSTOP - 1))));
	ck_assert(sigismember(&set, SIGRTMIN));
	ck_assert(sigismember(&set, SIGCHLD));
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
	tc = tcase_create("signal");
	tcase_add_test(tc, test_signal_names_include_the_real_time_signals);
	tcase_add_test(tc, test_signal_roles_follow_the_man_page_table);
	tcase_add_test(tc, test_signal_rewrite_parses_names_numbers_and_zero);
	tcase_add_test(tc, test_signal_fill_all_holds_glibc_own_signals);
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
