/*
 * check_manifest.c - manifests, their minisign signatures and Debian version
 * order (SPEC section 7).
 *
 * The parser tests hand manifest text both to manifest_load() without keys and
 * to manifest_parse(), and require the two to agree. The signature tests make
 * real keys and real signatures with the minisign program in a temporary
 * directory, tamper with them one byte at a time, and hold the daemon's verdict
 * against `minisign -Vm` run on the very same bytes: what minisign accepts the
 * daemon accepts, and nothing else. The version table is confirmed by
 * `dpkg --compare-versions` as the test runs, so the table cannot be wrong.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "manifest.h"

#define TARGET "hello"
#define URL "https://updates.example.com/hello/hello-1.4.2"
#define SHA "5298c1307d43ef6756f6f66f2ea601c7477006c9770016c65a0047c5b189b700"
#define EXPIRES "2026-12-31T00:00:00Z"
#define EXPIRES_UNIX 1798675200
#define NOW ((time_t)1767225600) /* 2026-01-01T00:00:00Z */

/* --- running programs ---------------------------------------------------- */

/*
 * Run ARGV (searched in PATH) with stdin, stdout and stderr on /dev/null, and
 * return its exit code: 128+N when signal N killed it, -1 when it could not
 * be started.
 */
static int run(const char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, r;

	/* No ck_assert here: main() runs it too, before any test. */
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (r == 0)
		r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static bool program_runs(const char *name, const char *arg)
{
	const char *argv[] = { name, arg, NULL };

	return run(argv) == 0;
}

/* --- the parser ----------------------------------------------------------- */

static const char *const fields[][2] = {
	{ "target", TARGET }, { "version", "1.4.2" }, { "url", URL },
	{ "size", "1839104" }, { "sha256", SHA },     { "expires", EXPIRES },
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static struct manifest m;
static char err[512];

static void parser_setup(void)
{
	memset(&m, 0, sizeof(m));
	err[0] = '\0';
}

static void parser_teardown(void)
{
	manifest_clear(&m);
}

/*
 * The SPEC's example manifest into BUF, with KEY's line replaced by
 * KEY=VALUE, or left out when VALUE is NULL; a KEY that is not a field is
 * added at the end.
 */
static const char *build(char *buf, size_t size, const char *key, const char *value)
{
	size_t len = 0;
	bool seen = false;

	buf[0] = '\0';
	for (size_t i = 0; i < N_FIELDS; i++) {
		const char *v = fields[i][1];

		if (key && strcmp(key, fields[i][0]) == 0) {
			seen = true;
			if (!value)
				continue;
			v = value;
		}
		len += (size_t)snprintf(buf + len, size - len, "%s=%s\n", fields[i][0], v);
		ck_assert_uint_lt(len, size);
	}
	if (key && !seen && value) {
		len += (size_t)snprintf(buf + len, size - len, "%s=%s\n", key, value);
		ck_assert_uint_lt(len, size);
	}
	return buf;
}

/*
 * Parse TEXT[0..len) for target "hello" at time NOW through both entry
 * points, which must give the same result and the same error. On success the
 * manifest is left in M; on failure both outputs must be untouched and ERR a
 * single sentence.
 */
static int parse_at(const char *text, size_t len, time_t now)
{
	struct manifest a, b, untouched;
	char err_b[sizeof(err)];
	int ra, rb;

	memset(&untouched, 0xa5, sizeof(untouched));
	a = b = untouched;
	err[0] = err_b[0] = '\0';
	ra = manifest_load(text, len, NULL, 0, TARGET, now, &a, err, sizeof(err));
	rb = manifest_parse(text, len, TARGET, now, &b, err_b, sizeof(err_b));
	ck_assert_int_eq(ra, rb);
	ck_assert_str_eq(err, err_b);
	if (ra < 0) {
		ck_assert_msg(memcmp(&a, &untouched, sizeof(a)) == 0, "manifest_load wrote *ret on failure");
		ck_assert_msg(memcmp(&b, &untouched, sizeof(b)) == 0, "manifest_parse wrote *ret on failure");
		ck_assert_msg(err[0] != '\0', "no error message for result %d", ra);
		ck_assert_ptr_null(strchr(err, '\n'));
		return ra;
	}
	ck_assert_str_eq(a.target, b.target);
	ck_assert_str_eq(a.version, b.version);
	ck_assert_str_eq(a.url, b.url);
	ck_assert_uint_eq(a.size, b.size);
	ck_assert_str_eq(a.sha256_hex, b.sha256_hex);
	ck_assert_int_eq(a.expires, b.expires);
	ck_assert(!a.signed_by_key && !b.signed_by_key);
	manifest_clear(&b);
	manifest_clear(&m);
	m = a;
	return 0;
}

static int parse(const char *text)
{
	return parse_at(text, strlen(text), NOW);
}

static void assert_accepted(const char *text)
{
	int r = parse(text);

	ck_assert_msg(r == 0, "refused (%d: %s):\n%s", r, err, text);
}

/* TEXT is refused with result WANT and an error that contains SAYS. */
static void assert_refused(const char *text, int want, const char *says)
{
	int r = parse(text);

	ck_assert_msg(r == want, "got %d (%s), want %d, for:\n%s", r, err, want, text);
	ck_assert_msg(strstr(err, says), "error '%s' does not say '%s'", err, says);
}

START_TEST(test_valid_manifest_fills_every_field)
{
	static const uint8_t sha[32] = {
		0x52, 0x98, 0xc1, 0x30, 0x7d, 0x43, 0xef, 0x67, 0x56, 0xf6, 0xf6,
		0x6f, 0x2e, 0xa6, 0x01, 0xc7, 0x47, 0x70, 0x06, 0xc9, 0x77, 0x00,
		0x16, 0xc6, 0x5a, 0x00, 0x47, 0xc5, 0xb1, 0x89, 0xb7, 0x00,
	};
	char buf[1024];

	assert_accepted(build(buf, sizeof(buf), NULL, NULL));
	ck_assert_str_eq(m.target, TARGET);
	ck_assert_str_eq(m.version, "1.4.2");
	ck_assert_str_eq(m.url, URL);
	ck_assert_uint_eq(m.size, 1839104);
	ck_assert_str_eq(m.sha256_hex, SHA);
	ck_assert_mem_eq(m.sha256, sha, sizeof(sha));
	ck_assert_int_eq(m.expires, EXPIRES_UNIX);
	ck_assert(!m.signed_by_key);

	manifest_clear(&m);
	ck_assert_ptr_null(m.target);
	ck_assert_ptr_null(m.version);
	ck_assert_ptr_null(m.url);
	ck_assert_int_eq(m.expires, -1);
	manifest_clear(NULL);
}
END_TEST

START_TEST(test_expires_is_optional)
{
	char buf[1024];

	assert_accepted(build(buf, sizeof(buf), "expires", NULL));
	ck_assert_int_eq(m.expires, -1);
}
END_TEST

START_TEST(test_missing_required_key_is_named)
{
	static const char *const required[] = { "target", "version", "url", "size", "sha256" };
	char buf[1024], says[64];

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		(void)snprintf(says, sizeof(says), "required key '%s' is missing", required[i]);
		assert_refused(build(buf, sizeof(buf), required[i], NULL), -EINVAL, says);
	}
	assert_refused("", -EINVAL, "required key 'target' is missing");
	assert_refused("\n\n", -EINVAL, "is missing");
}
END_TEST

START_TEST(test_repeated_key_is_rejected)
{
	char buf[1024], says[64];

	for (size_t i = 0; i < N_FIELDS; i++) {
		/* The very same value again: the repetition alone rejects it. */
		build(buf, sizeof(buf), NULL, NULL);
		(void)snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s=%s\n", fields[i][0],
		               fields[i][1]);
		(void)snprintf(says, sizeof(says), "line 7: key '%s' is repeated", fields[i][0]);
		assert_refused(buf, -EINVAL, says);
	}
	/* First or last wins would both be wrong: a different value is refused the same way. */
	build(buf, sizeof(buf), NULL, NULL);
	strcat(buf, "url=https://evil.example.com/hello\n");
	assert_refused(buf, -EINVAL, "key 'url' is repeated");
}
END_TEST

START_TEST(test_repeated_unknown_key_is_ignored_like_any_unknown_key)
{
	char buf[1024];

	/* The code ignores unknown keys entirely, repeated or not: nothing reads them. */
	build(buf, sizeof(buf), NULL, NULL);
	strcat(buf, "comment=one\ncomment=two\n");
	assert_accepted(buf);
}
END_TEST

START_TEST(test_size_must_be_a_decimal_number_of_bytes)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
		{ "0", 0 }, { "1", 1 }, { "007", 7 }, { "18446744073709551615", UINT64_MAX },
	};
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.0", "1,000", "1KiB", "one",
		"18446744073709551616", "18446744073709551620", "99999999999999999999",
		"-18446744073709551615", "\xef\xbc\x91", /* FULLWIDTH DIGIT ONE */
	};
	char buf[1024], says[128];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_accepted(build(buf, sizeof(buf), "size", ok[i].text));
		ck_assert_uint_eq(m.size, ok[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(says, sizeof(says), "size '%s' is not a number of bytes", bad[i]);
		assert_refused(build(buf, sizeof(buf), "size", bad[i]), -EINVAL, says);
	}
}
END_TEST

START_TEST(test_sha256_must_be_64_lowercase_hex_digits)
{
	static const char *const bad[] = {
		"5298C1307D43EF6756F6F66F2EA601C7477006C9770016C65A0047C5B189B700", /* upper case */
		"5298c1307d43ef6756f6f66f2ea601c7477006c9770016c65a0047c5b189b70A", /* one upper */
		"5298c1307d43ef6756f6f66f2ea601c7477006c9770016c65a0047c5b189b70",  /* 63 */
		"5298c1307d43ef6756f6f66f2ea601c7477006c9770016c65a0047c5b189b7000", /* 65 */
		"5298c1307d43ef6756f6f66f2ea601c7477006c9770016c65a0047c5b189b70g", /* not hex */
		"5298c1307d43ef6756f6f66f2ea601c7477006c9770016c65a0047c5b189b70 ",
		" 298c1307d43ef6756f6f66f2ea601c7477006c9770016c65a0047c5b189b700",
		"0x98c1307d43ef6756f6f66f2ea601c7477006c9770016c65a0047c5b189b700",
		"",
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(build(buf, sizeof(buf), "sha256", bad[i]), -EINVAL,
		               "sha256 must be 64 lowercase hex digits");
	assert_accepted(build(buf, sizeof(buf), "sha256",
	                      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	ck_assert_uint_eq(m.sha256[0], 0x01);
	ck_assert_uint_eq(m.sha256[7], 0xef);
	ck_assert_uint_eq(m.sha256[31], 0xef);
}
END_TEST

START_TEST(test_target_other_than_the_configured_one_is_rejected)
{
	static const char *const other[] = { "hello2", "Hello", "hell", "hello ", " hello", "" };
	char buf[1024], says[128];

	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		(void)snprintf(says, sizeof(says), "manifest is for target '%s', not 'hello'", other[i]);
		assert_refused(build(buf, sizeof(buf), "target", other[i]), -EINVAL, says);
	}
}
END_TEST

START_TEST(test_expired_manifest_is_stale)
{
	char buf[1024];

	assert_refused(build(buf, sizeof(buf), "expires", "2025-06-30T12:00:00Z"), -ESTALE,
	               "manifest expired at 2025-06-30T12:00:00Z");
	/* One second past the expiry is stale; the expiry itself still counts as valid. */
	build(buf, sizeof(buf), NULL, NULL);
	ck_assert_int_eq(parse_at(buf, strlen(buf), EXPIRES_UNIX + 1), -ESTALE);
	ck_assert_int_eq(parse_at(buf, strlen(buf), EXPIRES_UNIX), 0);
}
END_TEST

START_TEST(test_future_expiry_is_accepted)
{
	static const struct {
		const char *text;
		int64_t unix_time;
	} ok[] = {
		{ "2026-01-01T00:00:00Z", 1767225600 }, /* exactly now */
		{ "2026-12-31T23:59:59Z", 1798761599 },
		{ "2028-02-29T12:30:45Z", 1835440245 }, /* a leap day */
		{ "2100-01-01T00:00:00Z", 4102444800 },
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_accepted(build(buf, sizeof(buf), "expires", ok[i].text));
		ck_assert_int_eq(m.expires, ok[i].unix_time);
	}
}
END_TEST

START_TEST(test_malformed_expires_is_rejected)
{
	static const char *const bad[] = {
		"",
		"tomorrow",
		"1798675200",
		"2026-12-31",
		"2026-12-31T00:00:00",
		"2026-12-31T00:00Z",
		"2026-12-31 00:00:00Z",
		"2026-12-31t00:00:00z",
		"2026-12-31T00:00:00+00:00",
		"2026-12-31T00:00:00.5Z",
		"2026-12-31T00:00:00ZZ",
		"2026-1-31T00:00:00Z",
		"2026-13-01T00:00:00Z",
		"2026-00-10T00:00:00Z",
		"2026-12-00T00:00:00Z",
		"2026-12-32T00:00:00Z",
		"2026-02-30T00:00:00Z", /* no such day */
		"2026-04-31T00:00:00Z",
		"2027-02-29T00:00:00Z", /* not a leap year */
		"2026-12-31T24:00:00Z",
		"2026-12-31T23:60:00Z",
		"2026-12-31T23:59:61Z",
		"2026-12-31T 0:00:00Z", /* strptime would skip the blank */
		"2026-12-31T00:00: 0Z",
		"+026-12-31T00:00:00Z",
		"2026/12/31T00:00:00Z",
	};
	char buf[1024], says[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(says, sizeof(says), "expires '%s' is not of the form", bad[i]);
		assert_refused(build(buf, sizeof(buf), "expires", bad[i]), -EINVAL, says);
	}
}
END_TEST

START_TEST(test_unknown_keys_are_ignored)
{
	char buf[1024];

	build(buf, sizeof(buf), NULL, NULL);
	strcat(buf, "comment=built by CI\nTarget=other\nx-future=1\nurl2=\nempty=\n");
	assert_accepted(buf);
	ck_assert_str_eq(m.target, TARGET);
	ck_assert_str_eq(m.url, URL);
}
END_TEST

#define BASE_A "1111111111111111111111111111111111111111111111111111111111111111"
#define BASE_B "2222222222222222222222222222222222222222222222222222222222222222"
#define DSHA "abababababababababababababababababababababababababababababababab"

START_TEST(test_delta_keys_are_many_distinct_keys)
{
	char buf[2048];

	build(buf, sizeof(buf), NULL, NULL);
	strcat(buf, "delta-" BASE_A "=deltas/hello-1.4.2.from-1.4.1.zst 5500 " DSHA "\n");
	strcat(buf, "delta-" BASE_B "=https://cdn.example.com/d/hello.zst 0 " DSHA "\n");
	assert_accepted(buf);
	ck_assert_uint_eq(m.n_deltas, 2);
	ck_assert_str_eq(m.deltas[0].base_hex, BASE_A);
	ck_assert_str_eq(m.deltas[0].url, "deltas/hello-1.4.2.from-1.4.1.zst");
	ck_assert_uint_eq(m.deltas[0].size, 5500);
	ck_assert_str_eq(m.deltas[0].sha256_hex, DSHA);
	ck_assert_ptr_eq(manifest_find_delta(&m, BASE_B), &m.deltas[1]);
	ck_assert_str_eq(manifest_find_delta(&m, BASE_B)->url, "https://cdn.example.com/d/hello.zst");
	ck_assert_ptr_null(manifest_find_delta(&m, SHA));
	ck_assert_ptr_null(manifest_find_delta(&m, ""));
	/* Without delta keys: none. */
	assert_accepted(build(buf, sizeof(buf), NULL, NULL));
	ck_assert_uint_eq(m.n_deltas, 0);
	ck_assert_ptr_null(manifest_find_delta(&m, BASE_A));
}
END_TEST

START_TEST(test_malformed_or_repeated_delta_keys_are_rejected)
{
	static const struct {
		const char *line;
		const char *says;
	} bad[] = {
		{ "delta-" BASE_A "=u 1 " DSHA "\ndelta-" BASE_A "=v 2 " DSHA, "is repeated" },
		{ "delta-1111=u 1 " DSHA, "64 lowercase hex" },
		{ "delta-" "111111111111111111111111111111111111111111111111111111111111111A" "=u 1 " DSHA, "64 lowercase hex" },
		{ "delta-=u 1 " DSHA, "64 lowercase hex" },
		{ "delta-" BASE_A "=u 1", "URL SIZE SHA256" },
		{ "delta-" BASE_A "=u " DSHA, "URL SIZE SHA256" },
		{ "delta-" BASE_A "= 1 " DSHA, "URL SIZE SHA256" },
		{ "delta-" BASE_A "=u  1 " DSHA, "URL SIZE SHA256" },
		{ "delta-" BASE_A "=u 1 " DSHA " extra", "URL SIZE SHA256" },
		{ "delta-" BASE_A "=u 1 ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB", "URL SIZE SHA256" },
		{ "delta-" BASE_A "=u -1 " DSHA, "not a number of bytes" },
		{ "delta-" BASE_A "=u 1k " DSHA, "not a number of bytes" },
	};
	char buf[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		build(buf, sizeof(buf), NULL, NULL);
		strcat(buf, bad[i].line);
		strcat(buf, "\n");
		assert_refused(buf, -EINVAL, bad[i].says);
	}
	/* At most MANIFEST_DELTAS_MAX of them. */
	build(buf, sizeof(buf), NULL, NULL);
	{
		size_t len = strlen(buf);
		char *big = malloc(len + (MANIFEST_DELTAS_MAX + 1) * 160 + 1);

		ck_assert_ptr_nonnull(big);
		memcpy(big, buf, len + 1);
		for (int i = 0; i <= MANIFEST_DELTAS_MAX; i++)
			len += (size_t)sprintf(big + len, "delta-%064x=u 1 " DSHA "\n", i);
		assert_refused(big, -EINVAL, "more than 64 delta keys");
		free(big);
	}
}
END_TEST

START_TEST(test_value_keeps_everything_after_the_first_equals_sign)
{
	char buf[1024];

	assert_accepted(build(buf, sizeof(buf), "url", "https://example.com/get?file=hello&v=1.4.2"));
	ck_assert_str_eq(m.url, "https://example.com/get?file=hello&v=1.4.2");
	assert_refused(build(buf, sizeof(buf), "url", ""), -EINVAL, "url is empty");
}
END_TEST

START_TEST(test_manifest_larger_than_64_KiB_is_rejected)
{
	static char big[MANIFEST_MAX + 2];
	size_t len;

	/* Exactly MANIFEST_MAX bytes, padded with an unknown key, is still a manifest. */
	build(big, sizeof(big), NULL, NULL);
	len = strlen(big);
	memcpy(big + len, "pad=", 4);
	memset(big + len + 4, 'x', MANIFEST_MAX - len - 5);
	big[MANIFEST_MAX - 1] = '\n';
	big[MANIFEST_MAX] = '\0';
	ck_assert_uint_eq(strlen(big), MANIFEST_MAX);
	assert_accepted(big);

	big[MANIFEST_MAX - 1] = 'x';
	big[MANIFEST_MAX] = '\n';
	big[MANIFEST_MAX + 1] = '\0';
	assert_refused(big, -EINVAL, "manifest is larger than 65536 bytes");
}
END_TEST

START_TEST(test_line_without_equals_sign_is_rejected)
{
	char buf[1024];

	build(buf, sizeof(buf), NULL, NULL);
	strcat(buf, "garbage\n");
	assert_refused(buf, -EINVAL, "line 7: expected key=value");
	assert_refused("target=hello\n=1.0\n", -EINVAL, "line 2: expected key=value");
	assert_refused("target hello\n", -EINVAL, "line 1: expected key=value");
}
END_TEST

START_TEST(test_nul_byte_is_rejected)
{
	char buf[1024];
	size_t len;

	/* A NUL would cut the value short for every C string reader after us. */
	build(buf, sizeof(buf), NULL, NULL);
	len = strlen(buf);
	memcpy(buf + len, "comment=a\0b\n", 12);
	ck_assert_int_eq(parse_at(buf, len + 12, NOW), -EINVAL);
	ck_assert_str_eq(err, "manifest contains a NUL byte");

	build(buf, sizeof(buf), NULL, NULL);
	len = strlen(buf);
	*strstr(buf, "/hello-1.4.2") = '\0';
	ck_assert_int_eq(parse_at(buf, len, NOW), -EINVAL);
	ck_assert_str_eq(err, "manifest contains a NUL byte");
}
END_TEST

START_TEST(test_crlf_and_control_characters_are_rejected)
{
	char buf[1024], crlf[2048];
	size_t j = 0;

	/* CRLF is refused outright rather than kept as a '\r' at the end of every value. */
	build(buf, sizeof(buf), NULL, NULL);
	for (size_t i = 0; buf[i]; i++) {
		if (buf[i] == '\n')
			crlf[j++] = '\r';
		crlf[j++] = buf[i];
	}
	crlf[j] = '\0';
	assert_refused(crlf, -EINVAL, "line 1: control character in manifest");
	assert_refused("target=hello\nversion=1.0\t\n", -EINVAL, "line 2: control character");
	assert_refused("target=hello\nurl=a\x1b[0m\n", -EINVAL, "line 2: control character");
	assert_refused("target=hello\nurl=a\x7f\n", -EINVAL, "line 2: control character");
}
END_TEST

START_TEST(test_blank_lines_and_a_missing_final_newline_are_accepted)
{
	char buf[1024], text[1100];

	build(buf, sizeof(buf), NULL, NULL);
	(void)snprintf(text, sizeof(text), "\n\n%s\n", buf);
	assert_accepted(text);
	buf[strlen(buf) - 1] = '\0';
	assert_accepted(buf);
	ck_assert_int_eq(m.expires, EXPIRES_UNIX);
}
END_TEST

START_TEST(test_invalid_version_is_rejected)
{
	static const char *const bad[] = {
		"", "a1.0", "v1.4.2", ".1", "~1", "1.0 beta", "1.0_1", "1.0/2", ":1.0", "1:", "a:1.0",
		"1.0-", "-1", "1:a", "1.0:1", "1.4.2\xc3\xa9",
	};
	char buf[1024], says[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(says, sizeof(says), "version '%s' is not a valid version", bad[i]);
		assert_refused(build(buf, sizeof(buf), "version", bad[i]), -EINVAL, says);
	}
	assert_accepted(build(buf, sizeof(buf), "version", "1:1.4.2~rc1+dfsg-0ubuntu1"));
	ck_assert_str_eq(m.version, "1:1.4.2~rc1+dfsg-0ubuntu1");
}
END_TEST

/* --- signatures made by minisign ----------------------------------------- */

struct signed_form {
	char *text;      /* the manifest bytes, then the four signature lines */
	size_t len;
	size_t body_len; /* the manifest bytes */
};

static char dir[64];
static char pub_path[PATH_MAX], sec_path[PATH_MAX], other_sec_path[PATH_MAX];
static struct minisign_pubkey key, other_key;
static char other_id[17]; /* as minisign prints it in the .pub comment: hex, no leading zeros */
static struct signed_form good, legacy, foreign, expired;
static char good_body[1024];

static char *path_in_dir(char *buf, size_t size, const char *name)
{
	(void)snprintf(buf, size, "%s/%s", dir, name);
	return buf;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f != NULL, "cannot write '%s': %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole file at PATH, NUL-terminated; its length in *ret_len. */
static char *read_bytes(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long size;

	ck_assert_msg(f != NULL, "cannot read '%s': %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	ck_assert_int_eq(fclose(f), 0);
	buf[size] = '\0';
	*ret_len = (size_t)size;
	return buf;
}

static void keygen(const char *pub, const char *sec)
{
	const char *argv[] = { "minisign", "-G", "-W", "-p", pub, "-s", sec, NULL };

	ck_assert_int_eq(run(argv), 0);
}

static void load_pubkey(const char *pub, struct minisign_pubkey *ret)
{
	size_t len;
	char *text = read_bytes(pub, &len);

	ck_assert_msg(minisign_pubkey_parse(text, ret) == 0, "cannot parse '%s':\n%s", pub, text);
	free(text);
}

/*
 * Write BODY to NAME in the directory, sign it with minisign (the legacy
 * format when LEGACY_FORMAT), and make the signed form: BODY, then NAME.minisig.
 */
static void sign(const char *name, const char *body, const char *sec, bool legacy_format,
                 struct signed_form *ret)
{
	char path[PATH_MAX], sig_path[PATH_MAX + 8];
	const char *argv[] = { "minisign", "-S", "-s", sec, "-m", path, NULL };
	const char *legacy_argv[] = { "minisign", "-S", "-l", "-s", sec, "-m", path, NULL };
	size_t body_len = strlen(body), sig_len;
	char *sig;

	path_in_dir(path, sizeof(path), name);
	write_bytes(path, body, body_len);
	ck_assert_int_eq(run(legacy_format ? legacy_argv : argv), 0);
	(void)snprintf(sig_path, sizeof(sig_path), "%s.minisig", path);
	sig = read_bytes(sig_path, &sig_len);
	ret->len = body_len + sig_len;
	ret->body_len = body_len;
	ret->text = malloc(ret->len + 1);
	ck_assert_ptr_nonnull(ret->text);
	memcpy(ret->text, body, body_len);
	memcpy(ret->text + body_len, sig, sig_len + 1);
	free(sig);
}

static void signatures_setup(void)
{
	char other_pub[PATH_MAX], buf[1024];
	const char *comment;
	size_t len;
	char *text;

	strcpy(dir, "/tmp/check_manifest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	path_in_dir(pub_path, sizeof(pub_path), "key.pub");
	path_in_dir(sec_path, sizeof(sec_path), "key.sec");
	path_in_dir(other_pub, sizeof(other_pub), "other.pub");
	path_in_dir(other_sec_path, sizeof(other_sec_path), "other.sec");
	keygen(pub_path, sec_path);
	keygen(other_pub, other_sec_path);
	load_pubkey(pub_path, &key);
	load_pubkey(other_pub, &other_key);
	ck_assert_msg(memcmp(key.id, other_key.id, sizeof(key.id)) != 0, "two keys, one id");

	text = read_bytes(other_pub, &len);
	comment = strstr(text, "minisign public key ");
	ck_assert_ptr_nonnull(comment);
	comment += strlen("minisign public key ");
	(void)snprintf(other_id, sizeof(other_id), "%.*s", (int)strcspn(comment, " \r\n"), comment);
	free(text);

	build(good_body, sizeof(good_body), NULL, NULL);
	sign("manifest", good_body, sec_path, false, &good);
	sign("legacy", good_body, sec_path, true, &legacy);
	sign("foreign", good_body, other_sec_path, false, &foreign);
	sign("expired", build(buf, sizeof(buf), "expires", "2025-06-30T12:00:00Z"), sec_path, false,
	     &expired);
}

static void signatures_teardown(void)
{
	static const char *const names[] = {
		"key.pub", "key.sec", "other.pub", "other.sec", "manifest", "manifest.minisig",
		"legacy", "legacy.minisig", "foreign", "foreign.minisig", "expired", "expired.minisig",
		"big", "big.minisig", "x", "x.minisig",
	};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		(void)unlink(path_in_dir(path, sizeof(path), names[i]));
	(void)rmdir(dir);
	free(good.text);
	free(legacy.text);
	free(foreign.text);
	free(expired.text);
}

/* The daemon's verdict on TEXT with KEY trusted: manifest_load's result, ERR says why. */
static int daemon_load(const char *text, size_t len, const struct minisign_pubkey *keys, size_t n_keys)
{
	struct manifest out;
	int r;

	err[0] = '\0';
	r = manifest_load(text, len, keys, n_keys, TARGET, NOW, &out, err, sizeof(err));
	if (r == 0)
		manifest_clear(&out);
	return r;
}

/*
 * What `minisign -Vm x -p key.pub` says when x holds BODY and x.minisig
 * holds SIG: true when it accepts. With PREHASHED_ONLY, -H is added.
 */
static bool minisign_accepts(const char *body, size_t body_len, const char *sig, size_t sig_len,
                             bool prehashed_only)
{
	char path[PATH_MAX], sig_path[PATH_MAX];
	const char *argv[] = { "minisign", "-V", "-q", "-p", pub_path, "-m", path, NULL, NULL };
	int code;

	path_in_dir(path, sizeof(path), "x");
	path_in_dir(sig_path, sizeof(sig_path), "x.minisig");
	write_bytes(path, body, body_len);
	write_bytes(sig_path, sig, sig_len);
	if (prehashed_only)
		argv[7] = "-H";
	code = run(argv);
	/* 0 verified, 1 bad signature, 2 unreadable signature: anything else is a broken test. */
	ck_assert_msg(code >= 0 && code <= 2, "minisign -V exited %d", code);
	return code == 0;
}

static bool minisign_accepts_form(const struct signed_form *f)
{
	return minisign_accepts(f->text, f->body_len, f->text + f->body_len, f->len - f->body_len, false);
}

START_TEST(test_valid_signed_manifest_is_accepted)
{
	struct manifest out;
	size_t body_len = 0;

	ck_assert(minisign_accepts_form(&good));
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(manifest_load(good.text, good.len, &key, 1, TARGET, NOW, &out, err, sizeof(err)), 0);
	ck_assert(out.signed_by_key);
	ck_assert_str_eq(out.target, TARGET);
	ck_assert_str_eq(out.version, "1.4.2");
	ck_assert_str_eq(out.url, URL);
	ck_assert_uint_eq(out.size, 1839104);
	ck_assert_str_eq(out.sha256_hex, SHA);
	ck_assert_int_eq(out.expires, EXPIRES_UNIX);
	manifest_clear(&out);

	ck_assert_int_eq(manifest_verify(good.text, good.len, &key, 1, &body_len, err, sizeof(err)), 0);
	ck_assert_uint_eq(body_len, good.body_len);
}
END_TEST

START_TEST(test_any_of_several_trusted_keys_verifies)
{
	const struct minisign_pubkey both[] = { other_key, key };

	ck_assert_int_eq(daemon_load(good.text, good.len, both, 2), 0);
	ck_assert_int_eq(daemon_load(foreign.text, foreign.len, both, 2), 0);
}
END_TEST

START_TEST(test_signature_is_ignored_without_trusted_keys)
{
	struct manifest out;

	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(manifest_load(legacy.text, legacy.len, NULL, 0, TARGET, NOW, &out, err, sizeof(err)), 0);
	ck_assert(!out.signed_by_key);
	ck_assert_str_eq(out.version, "1.4.2");
	manifest_clear(&out);
}
END_TEST

START_TEST(test_public_key_file_and_its_base64_line_parse_alike)
{
	struct minisign_pubkey from_line;
	size_t len;
	char *text = read_bytes(pub_path, &len);
	char *line = strchr(text, '\n') + 1;
	char padded[256];

	ck_assert_int_eq(minisign_pubkey_parse(line, &from_line), 0);
	ck_assert_mem_eq(&from_line, &key, sizeof(key));
	line[strcspn(line, "\n")] = '\0';
	(void)snprintf(padded, sizeof(padded), "  %s \t\r\n\n", line);
	ck_assert_int_eq(minisign_pubkey_parse(padded, &from_line), 0);
	ck_assert_mem_eq(&from_line, &key, sizeof(key));
	free(text);
}
END_TEST

START_TEST(test_malformed_public_key_is_rejected)
{
	struct minisign_pubkey out, untouched;
	size_t len;
	char *text = read_bytes(pub_path, &len);
	char *line = strchr(text, '\n') + 1;
	char buf[256];
	const char *sig_line = good.text + good.body_len + strcspn(good.text + good.body_len, "\n") + 1;

	line[strcspn(line, "\n")] = '\0';
	memset(&untouched, 0x5a, sizeof(untouched));
	out = untouched;
	ck_assert_int_eq(minisign_pubkey_parse(NULL, &out), -EINVAL);
	ck_assert_int_eq(minisign_pubkey_parse("", &out), -EINVAL);
	ck_assert_int_eq(minisign_pubkey_parse("untrusted comment: only a comment", &out), -EINVAL);
	(void)snprintf(buf, sizeof(buf), "%.*s", (int)strlen(line) - 4, line);
	ck_assert_int_eq(minisign_pubkey_parse(buf, &out), -EINVAL); /* truncated */
	(void)snprintf(buf, sizeof(buf), "%sAAAA", line);
	ck_assert_int_eq(minisign_pubkey_parse(buf, &out), -EINVAL); /* too long */
	(void)snprintf(buf, sizeof(buf), "%s\nRWQ", line);
	ck_assert_int_eq(minisign_pubkey_parse(buf, &out), -EINVAL); /* a second line */
	(void)snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(sig_line, "\n"), sig_line);
	ck_assert_int_eq(minisign_pubkey_parse(buf, &out), -EINVAL); /* a signature, not a key */
	ck_assert_mem_eq(&out, &untouched, sizeof(out));
	free(text);
}
END_TEST

static const uint8_t masks[] = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80 };

static int base64_value(char c)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(digits, c) : NULL;

	return p ? (int)(p - digits) : -1;
}

/*
 * True when SIG[off], a base64 line's last digit before its '=' padding,
 * changed to C only in the bits the padding leaves unused. The bytes are the
 * same, so minisign (whose decoder ignores those bits) still verifies them;
 * libsodium insists on the canonical form, and the daemon refuses them.
 */
static bool only_unused_bits_changed(const char *sig, size_t sig_len, size_t off, char c)
{
	size_t end = off + 1, pad = 0;
	int was = base64_value(sig[off]), now = base64_value(c);

	while (end < sig_len && sig[end] == '=') {
		end++;
		pad++;
	}
	if (pad == 0 || pad > 2 || (end < sig_len && sig[end] != '\n') || was < 0 || now < 0)
		return false;
	return (was ^ now) < (pad == 1 ? 1 << 2 : 1 << 4);
}

START_TEST(test_flipped_signature_byte_is_rejected_unless_minisign_accepts_it)
{
	const char *sig = good.text + good.body_len;
	size_t sig_len = good.len - good.body_len;
	size_t comment_start = good.body_len + strlen("untrusted comment: ");
	size_t comment_end = good.body_len + strcspn(sig, "\n");
	char *t = malloc(good.len + 1);
	unsigned accepted = 0, rejected = 0, non_canonical = 0;

	ck_assert_ptr_nonnull(t);
	/* Every bit of every byte of the four signature lines, newlines included. */
	for (size_t i = good.body_len; i < good.len; i++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			bool ours, theirs;
			int r;

			memcpy(t, good.text, good.len + 1);
			t[i] = (char)(t[i] ^ masks[k]);
			r = daemon_load(t, good.len, &key, 1);
			theirs = minisign_accepts(t, good.body_len, t + good.body_len, sig_len, false);
			ours = r == 0;
			ck_assert_msg(ours == theirs ||
			                      (theirs && only_unused_bits_changed(sig, sig_len, i - good.body_len, t[i])),
			              "byte %zu of the signature ('%c' ^ 0x%02x): daemon %s (%d: %s), minisign %s",
			              i - good.body_len, sig[i - good.body_len], masks[k],
			              ours ? "accepts" : "refuses", r, err, theirs ? "accepts" : "refuses");
			if (ours != theirs)
				non_canonical++;
			ck_assert_msg(r == 0 || r == -EBADMSG, "byte %zu: %d (%s)", i - good.body_len, r, err);
			/* The untrusted comment's text is the only part nobody signed. */
			if (ours)
				ck_assert_msg(i >= comment_start && i < comment_end,
				              "byte %zu outside the untrusted comment accepted", i - good.body_len);
			if (ours)
				accepted++;
			else
				rejected++;
		}
	}
	ck_assert_uint_gt(accepted, 0);
	ck_assert_uint_ge(rejected, sizeof(masks) * (sig_len - (comment_end - comment_start)));
	/* The global signature always ends in "==": some flip of its last digit touches only unused bits. */
	ck_assert_uint_gt(non_canonical, 0);
	free(t);
}
END_TEST

START_TEST(test_flipped_manifest_byte_is_rejected)
{
	char *t = malloc(good.len + 1);

	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < good.body_len; i++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			int r;

			memcpy(t, good.text, good.len + 1);
			t[i] = (char)(t[i] ^ masks[k]);
			r = daemon_load(t, good.len, &key, 1);
			/* The signature is checked first: a flip is a signature problem, not a parse error. */
			ck_assert_msg(r == -EBADMSG, "manifest byte %zu ('%c' ^ 0x%02x): %d (%s)", i,
			              good.text[i], masks[k], r, err);
			ck_assert_msg(!minisign_accepts(t, good.body_len, t + good.body_len,
			                                good.len - good.body_len, false),
			              "minisign accepts manifest byte %zu flipped", i);
		}
	}
	free(t);
}
END_TEST

/* The good signed form with its untrusted comment line replaced by LINE[0..line_len). */
static struct signed_form with_untrusted_comment(const char *line, size_t line_len)
{
	const char *rest = strchr(good.text + good.body_len, '\n');
	size_t rest_len = good.len - (size_t)(rest - good.text);
	struct signed_form f = { .body_len = good.body_len };

	f.len = good.body_len + line_len + rest_len;
	f.text = malloc(f.len + 1);
	ck_assert_ptr_nonnull(f.text);
	memcpy(f.text, good.text, good.body_len);
	memcpy(f.text + good.body_len, line, line_len);
	memcpy(f.text + good.body_len + line_len, rest, rest_len + 1);
	return f;
}

START_TEST(test_untrusted_comment_is_free_text_after_its_prefix)
{
#define LINE(text, ok) { text, sizeof(text) - 1, ok }
	static const struct {
		const char *line;
		size_t len;
		bool ok;
	} cases[] = {
		LINE("untrusted comment: anything at all", true),
		LINE("untrusted comment: ", true),
		LINE("untrusted comment: caf\xc3\xa9 \xff\r", true),
		LINE("untrusted comment: target=evil", true),
		LINE("untrusted comment:", false), /* minisign wants the blank after the colon */
		LINE("untrusted comment:x", false),
		LINE("Untrusted comment: x", false),
		LINE("untrusted  comment: x", false),
		LINE("untrusted comment: a\0b", false), /* minisign's line ends at a NUL */
	};
#undef LINE

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct signed_form f = with_untrusted_comment(cases[i].line, cases[i].len);
		int r = daemon_load(f.text, f.len, &key, 1);

		ck_assert_msg((r == 0) == cases[i].ok, "'%s': %d (%s)", cases[i].line, r, err);
		ck_assert_msg(minisign_accepts_form(&f) == cases[i].ok, "minisign disagrees on '%s'",
		              cases[i].line);
		free(f.text);
	}
}
END_TEST

START_TEST(test_untrusted_comment_longer_than_minisign_reads_is_rejected)
{
	char line[1100];

	/* minisign reads the line into 1024 bytes: 1022 characters, the newline and a NUL. */
	for (size_t n = 1020; n <= 1026; n++) {
		struct signed_form f;
		bool ok = n <= 1022;
		int r;

		memcpy(line, "untrusted comment: ", 19);
		memset(line + 19, 'c', n - 19);
		line[n] = '\0';
		f = with_untrusted_comment(line, n);
		r = daemon_load(f.text, f.len, &key, 1);
		ck_assert_msg((r == 0) == ok, "%zu characters: %d (%s)", n, r, err);
		if (!ok)
			ck_assert_msg(strstr(err, "long"), "'%s' does not say the line is too long", err);
		ck_assert_msg(minisign_accepts_form(&f) == ok, "minisign disagrees at %zu characters", n);
		free(f.text);
	}
}
END_TEST

START_TEST(test_signature_by_another_key_names_the_unknown_key_id)
{
	char id[17];

	/* The error names the id as 16 hex digits; minisign drops leading zeros. */
	ck_assert_int_eq(daemon_load(foreign.text, foreign.len, &key, 1), -EBADMSG);
	ck_assert_int_eq(sscanf(err, "signed by key %16[0-9A-F], which is not in trusted_keys", id), 1);
	ck_assert_msg(strstr(err, ", which is not in trusted_keys"), "%s", err);
	ck_assert_uint_eq(strlen(id), 16);
	ck_assert_uint_eq(strtoull(id, NULL, 16), strtoull(other_id, NULL, 16));
	ck_assert(!minisign_accepts_form(&foreign));
}
END_TEST

START_TEST(test_legacy_signature_is_rejected)
{
	ck_assert_int_eq(daemon_load(legacy.text, legacy.len, &key, 1), -EBADMSG);
	ck_assert_msg(strstr(err, "legacy (not prehashed) minisign signature refused"), "%s", err);
	/* minisign itself takes the legacy form unless told -H: the SPEC refuses it on purpose. */
	ck_assert(minisign_accepts_form(&legacy));
	ck_assert(!minisign_accepts(legacy.text, legacy.body_len, legacy.text + legacy.body_len,
	                            legacy.len - legacy.body_len, true));
	ck_assert(minisign_accepts(good.text, good.body_len, good.text + good.body_len,
	                           good.len - good.body_len, true));
}
END_TEST

START_TEST(test_unsigned_manifest_is_rejected_when_keys_are_configured)
{
	ck_assert_int_eq(daemon_load(good.text, good.body_len, &key, 1), -EBADMSG);
	ck_assert_str_eq(err, "manifest is not signed, but trusted_keys are configured");
	ck_assert_int_eq(daemon_load("", 0, &key, 1), -EBADMSG);
}
END_TEST

START_TEST(test_tampered_trusted_comment_fails_the_global_signature)
{
	char *t = strdup(good.text);
	char *c;

	ck_assert_ptr_nonnull(t);
	c = strstr(t + good.body_len, "trusted comment: timestamp:");
	ck_assert_ptr_nonnull(c);
	c = strchr(c, ':') + 2;
	memcpy(c, "TIMESTAMP", 9);
	ck_assert_int_eq(daemon_load(t, good.len, &key, 1), -EBADMSG);
	ck_assert_str_eq(err, "global signature (over the trusted comment) is not valid");
	ck_assert(!minisign_accepts(t, good.body_len, t + good.body_len, good.len - good.body_len, false));
	free(t);
}
END_TEST

START_TEST(test_global_signature_from_another_signature_is_rejected)
{
	char *t = strdup(good.text);
	const char *theirs = strrchr(expired.text, '\n');
	char *ours = strrchr(t, '\n');

	/* Both last lines are 88 characters of base64: swap expired's in. */
	ck_assert_ptr_nonnull(t);
	while (theirs > expired.text && theirs[-1] != '\n')
		theirs--;
	while (ours > t && ours[-1] != '\n')
		ours--;
	ck_assert_uint_eq(strlen(ours), strlen(theirs));
	memcpy(ours, theirs, strlen(theirs));
	ck_assert_int_eq(daemon_load(t, good.len, &key, 1), -EBADMSG);
	ck_assert_str_eq(err, "global signature (over the trusted comment) is not valid");
	ck_assert(!minisign_accepts(t, good.body_len, t + good.body_len, good.len - good.body_len, false));
	free(t);
}
END_TEST

START_TEST(test_signature_of_other_bytes_does_not_match)
{
	/* expired's signature lines after good's manifest bytes. */
	size_t sig_len = expired.len - expired.body_len;
	char *t = malloc(good.body_len + sig_len + 1);

	ck_assert_ptr_nonnull(t);
	memcpy(t, good.text, good.body_len);
	memcpy(t + good.body_len, expired.text + expired.body_len, sig_len + 1);
	ck_assert_int_eq(daemon_load(t, good.body_len + sig_len, &key, 1), -EBADMSG);
	ck_assert_msg(strstr(err, "does not match the manifest"), "%s", err);
	ck_assert(!minisign_accepts(t, good.body_len, t + good.body_len, sig_len, false));
	free(t);
}
END_TEST

START_TEST(test_expired_but_validly_signed_manifest_is_stale)
{
	ck_assert(minisign_accepts_form(&expired));
	ck_assert_int_eq(daemon_load(expired.text, expired.len, &key, 1), -ESTALE);
	ck_assert_str_eq(err, "manifest expired at 2025-06-30T12:00:00Z");
}
END_TEST

START_TEST(test_signature_framing_is_stricter_than_minisign)
{
	char *t = malloc(2 * good.len + 64);
	size_t j = 0;

	ck_assert_ptr_nonnull(t);
	/* Three of the four lines. */
	memcpy(t, good.text, good.len);
	j = good.len - 1;
	while (t[j - 1] != '\n')
		j--;
	ck_assert_int_eq(daemon_load(t, j, &key, 1), -EBADMSG);
	ck_assert_str_eq(err, "signature is truncated: 3 of 4 lines");

	/* No newline after the global signature: minisign and the daemon both take it. */
	ck_assert_int_eq(daemon_load(good.text, good.len - 1, &key, 1), 0);
	ck_assert(minisign_accepts(good.text, good.body_len, good.text + good.body_len,
	                           good.len - good.body_len - 1, false));

	/*
	 * Deliberately stricter than minisign, which reads four lines and stops:
	 * text after the signature, and CRLF line ends (minisign strips the '\r'),
	 * are refused rather than half-read.
	 */
	memcpy(t, good.text, good.len);
	memcpy(t + good.len, "extra\n", 6);
	ck_assert_int_eq(daemon_load(t, good.len + 6, &key, 1), -EBADMSG);
	ck_assert_str_eq(err, "unexpected text after the signature");
	ck_assert(minisign_accepts(t, good.body_len, t + good.body_len, good.len - good.body_len + 6, false));

	memcpy(t, good.text, good.body_len);
	j = good.body_len;
	for (size_t i = good.body_len; i < good.len; i++) {
		if (good.text[i] == '\n')
			t[j++] = '\r';
		t[j++] = good.text[i];
	}
	ck_assert_int_eq(daemon_load(t, j, &key, 1), -EBADMSG);
	ck_assert(minisign_accepts(t, good.body_len, t + good.body_len, j - good.body_len, false));
	free(t);
}
END_TEST

START_TEST(test_signed_manifest_larger_than_64_KiB_is_rejected)
{
	static char body[MANIFEST_MAX + 2];
	struct signed_form f;
	size_t len;

	build(body, sizeof(body), NULL, NULL);
	len = strlen(body);
	memcpy(body + len, "pad=", 4);
	memset(body + len + 4, 'x', MANIFEST_MAX - len - 4);
	body[MANIFEST_MAX] = '\n';
	body[MANIFEST_MAX + 1] = '\0';
	sign("big", body, sec_path, false, &f);
	ck_assert(minisign_accepts_form(&f));
	ck_assert_int_eq(daemon_load(f.text, f.len, &key, 1), -EINVAL);
	ck_assert_str_eq(err, "manifest is larger than 65536 bytes");
	free(f.text);

	body[MANIFEST_MAX - 1] = '\n';
	body[MANIFEST_MAX] = '\0';
	sign("big", body, sec_path, false, &f);
	ck_assert_int_eq(daemon_load(f.text, f.len, &key, 1), 0);
	free(f.text);
}
END_TEST

/* --- versions -------------------------------------------------------------- */

static const struct {
	const char *a, *b;
	int sign; /* of version_compare(a, b) */
} pairs[] = {
	{ "1.0", "1.0", 0 },
	{ "1.0", "1.1", -1 },
	{ "1:0", "2.0", 1 },      /* an epoch outweighs everything after it */
	{ "0:1.0", "1.0", 0 },    /* epoch 0 is the default */
	{ "1:1.0", "2:0.1", -1 },
	{ "10:1", "9:2", 1 },
	{ "2.0", "1:0.1", -1 },
	{ "1.0~rc1", "1.0", -1 }, /* '~' sorts before the end */
	{ "1.0~~", "1.0~", -1 },
	{ "1.0~~a", "1.0~", -1 },
	{ "1.0~", "1.0", -1 },
	{ "1~", "1~a", -1 },
	{ "1.0~rc1", "1.0~rc2", -1 },
	{ "1.0~rc10", "1.0~rc9", 1 },
	{ "1.0~beta", "1.0~rc", -1 },
	{ "1.0~rc1", "1.0~rc1a", -1 },
	{ "1.0+~", "1.0+", -1 },
	{ "1.0-1", "1.0-2", -1 },
	{ "1.0-10", "1.0-9", 1 },
	{ "1.0", "1.0-0", 0 },    /* no revision is revision 0 */
	{ "1.0-0", "1.0-00", 0 },
	{ "1:1.0", "1:1.0-0", 0 },
	{ "1.0-1", "1.0-1.1", -1 },
	{ "1.0-a", "1.0-1", 1 },
	{ "1.0-1-1", "1.0-2", 1 }, /* the last '-' splits: upstream 1.0-1 */
	{ "1.0-1~bpo1", "1.0-1", -1 },
	{ "1.0~rc1-1", "1.0-0", -1 },
	{ "2.30-1", "2.30-1+deb12u1", -1 },
	{ "1.0a", "1.0+", -1 },   /* letters sort before non-letters */
	{ "1.0.1", "1.0a", 1 },
	{ "1.0+b1", "1.0.1", -1 }, /* '+' before '.' in ASCII */
	{ "1.2.3a", "1.2.3.0", -1 },
	{ "1.0", "1.0a", -1 },
	{ "1.0", "1.0.0", -1 },
	{ "1.0.0", "1.0.0.0", -1 },
	{ "1.0A", "1.0a", -1 },   /* letters in ASCII order */
	{ "1.0Z", "1.0a", -1 },
	{ "1+dfsg", "1.dfsg", -1 },
	{ "1.0+dfsg1-1", "1.0-1", 1 },
	{ "7.6p2-4", "7.6-0", 1 },
	{ "1:2:3", "1:2.3", 1 },  /* ':' after '.' in upstream with an epoch */
	{ "1.01", "1.1", 0 },     /* leading zeros do not count */
	{ "1.001", "1.1", 0 },
	{ "00", "0", 0 },
	{ "1.0010", "1.9", 1 },
	{ "1.2.3", "1.2.10", -1 },
	{ "1.9", "1.10", -1 },
	{ "0.9.9+git20240101", "0.9.10", -1 },
	{ "99999999999999999999", "100000000000000000000", -1 }, /* beyond 64 bits */
	{ "18446744073709551616", "18446744073709551615", 1 },
	{ "1.123456789012345678901234567890", "1.123456789012345678901234567891", -1 },
	{ "1.000000000000000000000000000001", "1.1", 0 },
};
#define N_PAIRS (sizeof(pairs) / sizeof(pairs[0]))

static bool have_dpkg;

static int sign_of(int v)
{
	return (v > 0) - (v < 0);
}

START_TEST(test_version_table_agrees_with_dpkg)
{
	static const char *const ops[] = { "lt", "eq", "gt" };

	for (size_t i = 0; i < N_PAIRS; i++) {
		ck_assert_msg(version_is_valid(pairs[i].a), "'%s' invalid", pairs[i].a);
		ck_assert_msg(version_is_valid(pairs[i].b), "'%s' invalid", pairs[i].b);
		ck_assert_msg(sign_of(version_compare(pairs[i].a, pairs[i].b)) == pairs[i].sign,
		              "version_compare('%s', '%s') = %d, want sign %d", pairs[i].a, pairs[i].b,
		              version_compare(pairs[i].a, pairs[i].b), pairs[i].sign);
		if (!have_dpkg)
			continue;
		for (int k = 0; k < 3; k++) {
			const char *argv[] = { "dpkg", "--compare-versions", pairs[i].a, ops[k], pairs[i].b, NULL };
			int want = k - 1 == pairs[i].sign ? 0 : 1;

			ck_assert_msg(run(argv) == want, "dpkg --compare-versions %s %s %s should exit %d",
			              pairs[i].a, ops[k], pairs[i].b, want);
		}
	}
}
END_TEST

START_TEST(test_version_compare_is_antisymmetric_and_reflexive)
{
	const char *all[2 * N_PAIRS];

	for (size_t i = 0; i < N_PAIRS; i++) {
		all[2 * i] = pairs[i].a;
		all[2 * i + 1] = pairs[i].b;
		ck_assert_int_eq(sign_of(version_compare(pairs[i].b, pairs[i].a)), -pairs[i].sign);
	}
	for (size_t i = 0; i < 2 * N_PAIRS; i++) {
		ck_assert_msg(version_compare(all[i], all[i]) == 0, "'%s' != itself", all[i]);
		for (size_t j = 0; j < 2 * N_PAIRS; j++)
			ck_assert_msg(sign_of(version_compare(all[i], all[j])) ==
			                      -sign_of(version_compare(all[j], all[i])),
			              "'%s' vs '%s' is not antisymmetric", all[i], all[j]);
	}
}
END_TEST

START_TEST(test_version_is_valid_follows_debian_syntax)
{
	static const char *const ok[] = {
		"0", "1.0", "1:1.0-1", "1.0-1-1", "1.0~rc1+dfsg.1-0ubuntu1", "2:1:0", "0:0",
		"123456789:1", "1.0-a", "1a", "1.0+", "1.0~",
	};
	static const char *const bad[] = {
		"", "a1", ".1", "~1", "+1", "1.0 beta", " 1.0", "1.0_1", ":1.0", "1:", "a:1.0", "1.0-",
		"-1", "1:a", "1.0/2", "1.0:1", "1:1.0-", "1234567890:1", "1.0\xc3\xa9", "1:-1",
	};
	char long_version[300];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(version_is_valid(ok[i]), "'%s' refused", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!version_is_valid(bad[i]), "'%s' accepted", bad[i]);
	ck_assert(!version_is_valid(NULL));
	memset(long_version, '1', 256);
	long_version[256] = '\0';
	ck_assert(version_is_valid(long_version));
	long_version[256] = '1';
	long_version[257] = '\0';
	ck_assert(!version_is_valid(long_version));
}
END_TEST

static Suite *manifest_suite(bool with_minisign)
{
	Suite *s = suite_create("manifest");
	TCase *parser = tcase_create("parser");
	TCase *sigs;
	TCase *versions = tcase_create("versions");

	tcase_add_checked_fixture(parser, parser_setup, parser_teardown);
	tcase_add_test(parser, test_valid_manifest_fills_every_field);
	tcase_add_test(parser, test_expires_is_optional);
	tcase_add_test(parser, test_missing_required_key_is_named);
	tcase_add_test(parser, test_repeated_key_is_rejected);
	tcase_add_test(parser, test_repeated_unknown_key_is_ignored_like_any_unknown_key);
	tcase_add_test(parser, test_size_must_be_a_decimal_number_of_bytes);
	tcase_add_test(parser, test_sha256_must_be_64_lowercase_hex_digits);
	tcase_add_test(parser, test_target_other_than_the_configured_one_is_rejected);
	tcase_add_test(parser, test_expired_manifest_is_stale);
	tcase_add_test(parser, test_future_expiry_is_accepted);
	tcase_add_test(parser, test_malformed_expires_is_rejected);
	tcase_add_test(parser, test_unknown_keys_are_ignored);
	tcase_add_test(parser, test_value_keeps_everything_after_the_first_equals_sign);
	tcase_add_test(parser, test_manifest_larger_than_64_KiB_is_rejected);
	tcase_add_test(parser, test_line_without_equals_sign_is_rejected);
	tcase_add_test(parser, test_nul_byte_is_rejected);
	tcase_add_test(parser, test_crlf_and_control_characters_are_rejected);
	tcase_add_test(parser, test_blank_lines_and_a_missing_final_newline_are_accepted);
	tcase_add_test(parser, test_invalid_version_is_rejected);
	tcase_add_test(parser, test_delta_keys_are_many_distinct_keys);
	tcase_add_test(parser, test_malformed_or_repeated_delta_keys_are_rejected);
	suite_add_tcase(s, parser);

	if (with_minisign) {
		sigs = tcase_create("signatures");
		/* One set of keys and signatures for the whole case: minisign runs once each. */
		tcase_add_unchecked_fixture(sigs, signatures_setup, signatures_teardown);
		tcase_set_timeout(sigs, 120);
		tcase_add_test(sigs, test_valid_signed_manifest_is_accepted);
		tcase_add_test(sigs, test_any_of_several_trusted_keys_verifies);
		tcase_add_test(sigs, test_signature_is_ignored_without_trusted_keys);
		tcase_add_test(sigs, test_public_key_file_and_its_base64_line_parse_alike);
		tcase_add_test(sigs, test_malformed_public_key_is_rejected);
		tcase_add_test(sigs, test_flipped_signature_byte_is_rejected_unless_minisign_accepts_it);
		tcase_add_test(sigs, test_flipped_manifest_byte_is_rejected);
		tcase_add_test(sigs, test_untrusted_comment_is_free_text_after_its_prefix);
		tcase_add_test(sigs, test_untrusted_comment_longer_than_minisign_reads_is_rejected);
		tcase_add_test(sigs, test_signature_by_another_key_names_the_unknown_key_id);
		tcase_add_test(sigs, test_legacy_signature_is_rejected);
		tcase_add_test(sigs, test_unsigned_manifest_is_rejected_when_keys_are_configured);
		tcase_add_test(sigs, test_tampered_trusted_comment_fails_the_global_signature);
		tcase_add_test(sigs, test_global_signature_from_another_signature_is_rejected);
		tcase_add_test(sigs, test_signature_of_other_bytes_does_not_match);
		tcase_add_test(sigs, test_expired_but_validly_signed_manifest_is_stale);
		tcase_add_test(sigs, test_signature_framing_is_stricter_than_minisign);
		tcase_add_test(sigs, test_signed_manifest_larger_than_64_KiB_is_rejected);
		suite_add_tcase(s, sigs);
	}

	tcase_set_timeout(versions, 60);
	tcase_add_test(versions, test_version_table_agrees_with_dpkg);
	tcase_add_test(versions, test_version_compare_is_antisymmetric_and_reflexive);
	tcase_add_test(versions, test_version_is_valid_follows_debian_syntax);
	suite_add_tcase(s, versions);
	return s;
}

int main(void)
{
	bool with_minisign = program_runs("minisign", "-v");
	SRunner *sr;
	int failed;

	have_dpkg = program_runs("dpkg", "--version");
	if (!with_minisign)
		fprintf(stderr, "SKIP: minisign not found in PATH: the signature tests do not run\n");
	if (!have_dpkg)
		fprintf(stderr, "SKIP: dpkg not found in PATH: the version table is not cross-checked\n");
	sr = srunner_create(manifest_suite(with_minisign));
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
