/* check_status.c - the status reply: JSON with nothing known, with targets, and escaping. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

START_TEST(test_status_with_nothing_known_uses_null)
{
	struct status_view st = { .version = "0.1.0", .state = "idle", .last_check = -1, .next_check = -1 };
	char *json;
	size_t len;

	ck_assert_int_eq(status_render_json(&st, &json, &len), 0);
	ck_assert_str_eq(json, "{\"version\":\"0.1.0\",\"state\":\"idle\",\"last_check\":null,\"last_result\":null,"
	                       "\"next_check\":null,\"requests\":{\"received\":0,\"coalesced\":0,\"rejected\":0},"
	                       "\"targets\":[]}");
	ck_assert_uint_eq(len, strlen(json));
	free(json);
}
END_TEST

START_TEST(test_status_with_targets)
{
	static const struct stale_proc stale[2] = { { .pid = 12, .comm = "b" }, { .pid = 345, .comm = "b\"x" } };
	struct status_target t[2] = {
		{ .name = "hello", .path = "/usr/local/bin/hello", .version = "1.4.2", .sha256 = "ab",
		  .updated_at = 1700000000, .last_error = NULL, .held = true, .pending_version = "1.5",
		  .pending_at = 1700003600, .pending_why = "rollout: later" },
		{ .name = "b", .path = "/b", .version = NULL, .sha256 = "", .updated_at = -1, .last_error = "boom",
		  .probation_until = 1700000060, .quarantined = "2.0", .stale_procs = stale, .n_stale_procs = 2 },
	};
	struct status_view st = {
		.version = "0.1.0", .state = "downloading", .last_check = 1700000001, .last_result = "no update",
		.next_check = 1700021601, .received = 10000, .coalesced = 9998, .rejected = 3,
		.targets = t, .n_targets = 2,
	};
	char *json;
	size_t len;

	ck_assert_int_eq(status_render_json(&st, &json, &len), 0);
	ck_assert_str_eq(json,
	                 "{\"version\":\"0.1.0\",\"state\":\"downloading\",\"last_check\":1700000001,"
	                 "\"last_result\":\"no update\",\"next_check\":1700021601,"
	                 "\"requests\":{\"received\":10000,\"coalesced\":9998,\"rejected\":3},\"targets\":["
	                 "{\"name\":\"hello\",\"path\":\"/usr/local/bin/hello\",\"version\":\"1.4.2\",\"sha256\":\"ab\","
	                 "\"updated_at\":1700000000,\"held\":true,"
	                 "\"pending\":{\"version\":\"1.5\",\"at\":1700003600,\"why\":\"rollout: later\"},\"last_error\":null,"
	                 "\"probation_until\":null,\"quarantined\":null,\"stale\":[]},"
	                 "{\"name\":\"b\",\"path\":\"/b\",\"version\":null,\"sha256\":null,\"updated_at\":null,"
	                 "\"held\":false,\"pending\":null,\"last_error\":\"boom\",\"probation_until\":1700000060,"
	                 "\"quarantined\":\"2.0\",\"stale\":[{\"pid\":12,\"comm\":\"b\"},{\"pid\":345,\"comm\":\"b\\\"x\"}]}]}");
	free(json);
}
END_TEST

static char *status_with_error(const char *error)
{
	struct status_target t = { .name = "x", .path = "/x", .updated_at = -1, .last_error = error };
	struct status_view st = { .version = "v", .state = "idle", .last_check = -1, .next_check = -1,
		                     .targets = &t, .n_targets = 1 };
	char *json, *start, *end, *ret;
	size_t len;

	ck_assert_int_eq(status_render_json(&st, &json, &len), 0);
	for (size_t i = 0; i < len; i++)
		ck_assert_msg((unsigned char)json[i] >= 0x20 && (unsigned char)json[i] < 0x7f,
		              "byte %zu of the reply is not printable ASCII", i);
	start = strstr(json, "\"last_error\":\"");
	ck_assert_ptr_nonnull(start);
	start += strlen("\"last_error\":\"");
	end = strstr(start, "\",\"probation_until\":null,");
	ck_assert_ptr_nonnull(end);
	ret = strndup(start, (size_t)(end - start));
	free(json);
	return ret;
}

START_TEST(test_json_escaping)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "back\\slash", "back\\\\slash" },
		{ "a\nb\tc\rd", "a\\nb\\tc\\rd" },
		{ "\x01\x1f\x7f", "\\u0001\\u001f\\u007f" },
		{ "caf\xc3\xa9", "caf\\u00e9" },
		{ "\xe2\x82\xac", "\\u20ac" },
		{ "\xf0\x9f\x98\x80", "\\ud83d\\ude00" },
		{ "bad\xff", "bad\\ufffd" },
		{ "cut\xc3", "cut\\ufffd" },
		{ "overlong\xc0\xaf", "overlong\\ufffd\\ufffd" },
		{ "surrogate\xed\xa0\x80", "surrogate\\ufffd\\ufffd\\ufffd" },
		{ "</script>", "</script>" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = status_with_error(cases[i].in);

		ck_assert_str_eq(got, cases[i].out);
		free(got);
	}
}
END_TEST

START_TEST(test_metrics_render_every_family_with_its_labels)
{
	struct status_target t[2] = {
		{ .name = "hello", .version = "1.4.2", .updates = 3, .rollbacks_manual = 1, .rollbacks_health = 2,
		  .check_failures = 4, .download_bytes = 12345, .last_success = 1700000000, .stale = 1,
		  .pending_version = "1.5", .pending_at = 1700003600 },
		{ .name = "we\"ird", .version = NULL, .last_success = -1, .pending_at = -1 },
	};
	struct status_view st = { .version = "v", .state = "idle", .last_check = 1700000001, .next_check = -1,
		                     .received = 10, .coalesced = 6, .rejected = 1, .targets = t, .n_targets = 2 };
	char *text;
	size_t len;
	static const char *const want[] = {
		"# TYPE updater_target_info gauge\n",
		"updater_target_info{target=\"hello\",version=\"1.4.2\"} 1\n",
		"updater_target_info{target=\"we\\\"ird\",version=\"\"} 1\n",
		"updater_last_check_timestamp_seconds 1700000001\n",
		"updater_last_success_timestamp_seconds{target=\"hello\"} 1700000000\n",
		"# TYPE updater_updates_total counter\n",
		"updater_updates_total{target=\"hello\"} 3\n",
		"updater_rollbacks_total{target=\"hello\",reason=\"manual\"} 1\n",
		"updater_rollbacks_total{target=\"hello\",reason=\"health\"} 2\n",
		"updater_check_failures_total{target=\"hello\"} 4\n",
		"updater_download_bytes_total{target=\"hello\"} 12345\n",
		"updater_stale_processes{target=\"hello\"} 1\n",
		"updater_requests_total{result=\"accepted\"} 3\n",
		"updater_requests_total{result=\"coalesced\"} 6\n",
		"updater_requests_total{result=\"rejected\"} 1\n",
		"updater_pending_timestamp_seconds{target=\"hello\",version=\"1.5\"} 1700003600\n",
	};

	ck_assert_int_eq(status_render_metrics(&st, &text, &len), 0);
	ck_assert_uint_eq(len, strlen(text));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(text, want[i]), "missing: %s", want[i]);
	/* Unknown times have no sample. */
	ck_assert_ptr_null(strstr(text, "updater_last_success_timestamp_seconds{target=\"we"));
	ck_assert_ptr_null(strstr(text, "updater_pending_timestamp_seconds{target=\"we"));
	free(text);
}
END_TEST

static Suite *status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *json = tcase_create("json");

	tcase_add_test(json, test_status_with_nothing_known_uses_null);
	tcase_add_test(json, test_status_with_targets);
	tcase_add_test(json, test_json_escaping);
	tcase_add_test(json, test_metrics_render_every_family_with_its_labels);
	suite_add_tcase(s, json);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(status_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
