/*
 * check_config.c - config_load() and the value parsers (SPEC section 3).
 *
 * Every test writes a real file into a temporary directory and loads it, and
 * asserts on the values or on the exact "FILE:LINE: KEY: message" lines an
 * operator would read.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char tmpdir[64];
static char cfgfile[PATH_MAX];
static struct config *cfg;
static char *errors;

/* A key taken from the SPEC's example: 56 base64 characters, "Ed" + id + key. */
#define SPEC_KEY "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"
#define TARGET "targets:\n  - name: hello\n    path: /usr/local/bin/hello\n    source: file:///srv/hello\n"

static void setup(void)
{
	strcpy(tmpdir, "/tmp/check_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	(void)snprintf(cfgfile, sizeof(cfgfile), "%s/updater.yaml", tmpdir);
	cfg = NULL;
	errors = NULL;
}

static void teardown(void)
{
	config_free(cfg);
	cfg = NULL;
	free(errors);
	errors = NULL;
	(void)unlink(cfgfile);
	(void)rmdir(tmpdir);
}

static void write_file(const char *text, size_t len)
{
	FILE *f = fopen(cfgfile, "we");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Load TEXT; returns config_load's result. */
static int load(const char *text)
{
	config_free(cfg);
	cfg = NULL;
	free(errors);
	errors = NULL;
	write_file(text, strlen(text));
	return config_load(cfgfile, &cfg, &errors);
}

static void load_ok(const char *text)
{
	int r = load(text);

	ck_assert_msg(r == 0, "config_load failed (%d): %s", r, errors ? errors : "(no errors)");
	ck_assert_ptr_nonnull(cfg);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* The error text holds the line "FILE:LINE: REST". */
static void assert_error(unsigned line, const char *rest)
{
	char want[PATH_MAX + 512];

	(void)snprintf(want, sizeof(want), "%s:%u: %s\n", cfgfile, line, rest);
	ck_assert_msg(errors && strstr(errors, want), "expected error line\n  %s in\n%s", want,
	              errors ? errors : "(none)");
}

/* Loading TEXT fails with exactly one error line, at LINE, saying REST. */
static void assert_single_error(const char *text, unsigned line, const char *rest)
{
	int r = load(text);

	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(cfg);
	assert_error(line, rest);
	ck_assert_msg(count_lines(errors) == 1, "expected one error, got:\n%s", errors);
}

/* --- trust (SPEC 14) -------------------------------------------------- */

START_TEST(test_allow_unsigned_and_a_targets_version_are_read)
{
	load_ok("allow_unsigned: true\n"
	        "targets:\n"
	        "  - name: hello\n"
	        "    path: /usr/local/bin/hello\n"
	        "    source: s\n"
	        "    version: 1:2.0-1\n"
	        "  - {name: other, path: /srv/x, source: s}\n");
	ck_assert(cfg->allow_unsigned);
	ck_assert_str_eq(cfg->targets[0].version, "1:2.0-1");
	ck_assert_ptr_null(cfg->targets[1].version);
	load_ok("allow_unsigned: false\n" TARGET);
	ck_assert(!cfg->allow_unsigned);
}
END_TEST

START_TEST(test_bad_allow_unsigned_and_version_name_the_line)
{
	assert_single_error("allow_unsigned: maybe\n" TARGET, 1, "allow_unsigned: 'maybe' is not true or false");
	assert_single_error(TARGET "    version: x.1\n", 5, "targets[0].version: 'x.1' is not a valid version");
}
END_TEST

/* --- values ------------------------------------------------------------ */

START_TEST(test_durations_accept_units_and_bare_seconds)
{
	static const struct {
		const char *text;
		uint64_t sec;
	} ok[] = {
		{ "0", 0 },        { "45", 45 },    { "45s", 45 },        { "5m", 300 },
		{ "6h", 21600 },   { "2d", 172800 }, { "007", 7 },        { "0d", 0 },
		{ "18446744073709551615", UINT64_MAX },
		{ "213503982334601d", 213503982334601ULL * 86400 },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 1234;
		ck_assert_msg(config_parse_duration(ok[i].text, &v) == 0, "'%s' refused", ok[i].text);
		ck_assert_uint_eq(v, ok[i].sec);
	}
}
END_TEST

START_TEST(test_durations_refuse_bad_text_and_overflow)
{
	static const char *const bad[] = {
		"", "s", "5x", "5ms", "5M", "5H", "-1", "+1", " 5", "5 ", "5 m", "1.5h", "1h30m",
		"0x10", "18446744073709551616", "307445734561825861m", "213503982334602d", "5mm",
	};
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_parse_duration(bad[i], &v) == -EINVAL, "'%s' accepted", bad[i]);
	ck_assert_int_eq(config_parse_duration(NULL, &v), -EINVAL);
	ck_assert_uint_eq(v, 42); /* untouched on failure */
}
END_TEST

START_TEST(test_sizes_accept_binary_and_decimal_units)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "512KiB", 512 * 1024 },
		{ "100MiB", 100ULL << 20 },
		{ "1GiB", 1ULL << 30 },
		{ "2TiB", 2ULL << 40 },
		{ "3KB", 3000 },
		{ "4MB", 4000000 },
		{ "5GB", 5000000000ULL },
		{ "7B", 7 },
		{ "17179869183GiB", 17179869183ULL << 30 },
		{ "18446744073709551615", UINT64_MAX },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(config_parse_size(ok[i].text, &v) == 0, "'%s' refused", ok[i].text);
		ck_assert_uint_eq(v, ok[i].bytes);
	}
}
END_TEST

START_TEST(test_sizes_refuse_bad_text_and_overflow)
{
	static const char *const bad[] = {
		"", "GiB", "1 GiB", "1Gb", "1gib", "1G", "1k", "-5", "1.5GiB", "1GiB ", "17179869184GiB",
		"18446744073709551616", "1KiBB",
	};
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_parse_size(bad[i], &v) == -EINVAL, "'%s' accepted", bad[i]);
	ck_assert_uint_eq(v, 42);
}
END_TEST

START_TEST(test_signals_by_name_short_name_and_number)
{
	int s = 0;

	ck_assert_int_eq(config_parse_signal("SIGUSR2", &s), 0);
	ck_assert_int_eq(s, SIGUSR2);
	ck_assert_int_eq(config_parse_signal("USR1", &s), 0);
	ck_assert_int_eq(s, SIGUSR1);
	ck_assert_int_eq(config_parse_signal("sighup", &s), 0);
	ck_assert_int_eq(s, SIGHUP);
	ck_assert_int_eq(config_parse_signal("15", &s), 0);
	ck_assert_int_eq(s, SIGTERM);
	ck_assert_int_eq(config_parse_signal("WINCH", &s), 0);
	ck_assert_int_eq(s, SIGWINCH);
	s = 99;
	ck_assert_int_eq(config_parse_signal("", &s), -EINVAL);
	ck_assert_int_eq(config_parse_signal("0", &s), -EINVAL);
	ck_assert_int_eq(config_parse_signal("65", &s), -EINVAL);
	ck_assert_int_eq(config_parse_signal("SIGFOO", &s), -EINVAL);
	ck_assert_int_eq(config_parse_signal("SIG", &s), -EINVAL);
	ck_assert_int_eq(config_parse_signal("12x", &s), -EINVAL);
	ck_assert_int_eq(s, 99);
}
END_TEST

/* --- whole files ------------------------------------------------------- */

START_TEST(test_defaults_apply_when_keys_are_absent)
{
	const struct target_config *t;

	load_ok(TARGET);
	ck_assert_str_eq(cfg->file, cfgfile);
	ck_assert_str_eq(cfg->socket_path, CONFIG_DEFAULT_SOCKET);
	ck_assert_str_eq(cfg->scripts_dir, SCRIPTSDIR);
	ck_assert_str_eq(cfg->state_dir, CONFIG_DEFAULT_STATE_DIR);
	ck_assert_uint_eq(cfg->interval_sec, 6 * 3600);
	ck_assert_uint_eq(cfg->splay_sec, 30 * 60);
	ck_assert_uint_eq(cfg->min_interval_sec, 60);
	ck_assert_uint_eq(cfg->script_timeout_sec, 300);
	ck_assert_str_eq(cfg->script_user, "_updater");
	ck_assert(!cfg->allow_unsigned);
	ck_assert_uint_eq(cfg->max_download, 1ULL << 30);
	ck_assert_uint_eq(cfg->n_trusted_keys, 0);
	ck_assert_uint_eq(cfg->n_targets, 1);
	t = &cfg->targets[0];
	ck_assert_str_eq(t->name, "hello");
	ck_assert_str_eq(t->path, "/usr/local/bin/hello");
	ck_assert_str_eq(t->source, "file:///srv/hello");
	ck_assert_int_eq(t->signal, 0);
	ck_assert_ptr_null(t->smoke_test);
	ck_assert(!t->allow_downgrade);
	ck_assert_ptr_eq(config_find_target(cfg, "hello"), t);
	ck_assert_ptr_null(config_find_target(cfg, "other"));
	ck_assert_ptr_null(errors);
}
END_TEST

START_TEST(test_every_key_is_read)
{
	const struct target_config *t;

	load_ok("# the SPEC's example, and a second target\n"
	        "socket: /run/u/c.sock\n"
	        "scripts_dir: /opt/scripts/\n"
	        "state_dir: /var/lib/u\n"
	        "interval: 2d\n"
	        "splay: 45s\n"
	        "min_interval: 0\n"
	        "script_timeout: 90\n"
	        "script_user: root\n"
	        "max_download: 100MiB\n"
	        "trusted_keys:\n"
	        "  - " SPEC_KEY "\n"
	        "  - 'untrusted comment: minisign public key\n\n    " SPEC_KEY "'\n"
	        "targets:\n"
	        "  - name: hello\n"
	        "    path: /usr/local/bin/hello\n"
	        "    source: https://updates.example.com/hello\n"
	        "    signal: SIGUSR2\n"
	        "    smoke_test: [--version, '', \"a b\"]\n"
	        "    allow_downgrade: yes\n"
	        "  - {name: Other_1.x-y, path: /srv/x, source: s, allow_downgrade: false,\n"
	        "     smoke_test: []}\n");
	ck_assert_str_eq(cfg->socket_path, "/run/u/c.sock");
	ck_assert_str_eq(cfg->scripts_dir, "/opt/scripts");
	ck_assert_str_eq(cfg->state_dir, "/var/lib/u");
	ck_assert_uint_eq(cfg->interval_sec, 2 * 86400);
	ck_assert_uint_eq(cfg->splay_sec, 45);
	ck_assert_uint_eq(cfg->min_interval_sec, 0);
	ck_assert_uint_eq(cfg->script_timeout_sec, 90);
	ck_assert_str_eq(cfg->script_user, "root");
	ck_assert_uint_eq(cfg->max_download, 100ULL << 20);
	ck_assert_uint_eq(cfg->n_trusted_keys, 2);
	/* "RWQf6LRCGA9i" = 'E' 'd' then the key id 1f e8 b4 42 18 0f 62 e7. */
	ck_assert_uint_eq(cfg->trusted_keys[0].id[0], 0x1f);
	ck_assert_uint_eq(cfg->trusted_keys[0].id[1], 0xe8);
	ck_assert_mem_eq(cfg->trusted_keys[0].id, cfg->trusted_keys[1].id, MINISIGN_KEYID_BYTES);
	ck_assert_mem_eq(cfg->trusted_keys[0].pk, cfg->trusted_keys[1].pk, MINISIGN_PK_BYTES);
	ck_assert_uint_eq(cfg->n_targets, 2);
	t = &cfg->targets[0];
	ck_assert_str_eq(t->source, "https://updates.example.com/hello");
	ck_assert_int_eq(t->signal, SIGUSR2);
	ck_assert_ptr_nonnull(t->smoke_test);
	ck_assert_str_eq(t->smoke_test[0], "--version");
	ck_assert_str_eq(t->smoke_test[1], "");
	ck_assert_str_eq(t->smoke_test[2], "a b");
	ck_assert_ptr_null(t->smoke_test[3]);
	ck_assert(t->allow_downgrade);
	t = config_find_target(cfg, "Other_1.x-y");
	ck_assert_ptr_eq(t, &cfg->targets[1]);
	ck_assert_str_eq(t->path, "/srv/x");
	ck_assert(!t->allow_downgrade);
	/* An empty list is a smoke test without arguments, not no smoke test. */
	ck_assert_ptr_nonnull(t->smoke_test);
	ck_assert_ptr_null(t->smoke_test[0]);
}
END_TEST

START_TEST(test_null_lists_mean_empty)
{
	load_ok("trusted_keys:\n" TARGET "    smoke_test:\n    signal: 12\n");
	ck_assert_uint_eq(cfg->n_trusted_keys, 0);
	ck_assert_ptr_null(cfg->targets[0].smoke_test);
	ck_assert_int_eq(cfg->targets[0].signal, SIGUSR2);
}
END_TEST

START_TEST(test_booleans)
{
	static const char *const yes[] = { "true", "yes", "True", "YES", "on" };
	static const char *const no[] = { "false", "no", "False", "NO", "off" };
	char text[512];

	for (size_t i = 0; i < 5; i++) {
		(void)snprintf(text, sizeof(text), TARGET "    allow_downgrade: %s\n", yes[i]);
		load_ok(text);
		ck_assert(cfg->targets[0].allow_downgrade);
		(void)snprintf(text, sizeof(text), TARGET "    allow_downgrade: %s\n", no[i]);
		load_ok(text);
		ck_assert(!cfg->targets[0].allow_downgrade);
	}
	assert_single_error(TARGET "    allow_downgrade: maybe\n", 5,
	                    "targets[0].allow_downgrade: 'maybe' is not true or false");
	assert_single_error(TARGET "    allow_downgrade: [true]\n", 5,
	                    "targets[0].allow_downgrade: must be a string, not a list");
}
END_TEST

/* --- errors ------------------------------------------------------------ */

START_TEST(test_unknown_keys_are_named_with_their_line)
{
	assert_single_error("sockt: /x\n" TARGET, 1, "sockt: unknown key");
	assert_single_error(TARGET "    sauce: x\n", 5, "targets[0].sauce: unknown key");
}
END_TEST

START_TEST(test_wrong_types)
{
	assert_single_error("socket: [/a]\n" TARGET, 1, "socket: must be a string, not a list");
	assert_single_error("interval: {a: 1}\n" TARGET, 1, "interval: must be a string, not a mapping");
	assert_single_error("trusted_keys: " SPEC_KEY "\n" TARGET, 1,
	                    "trusted_keys: must be a list, not a string");
	assert_single_error("trusted_keys: [[x]]\n" TARGET, 1,
	                    "trusted_keys[0]: must be a string, not a list");
	assert_single_error("targets: {name: x}\n", 1, "targets: must be a list, not a mapping");
	assert_single_error("targets:\n  - hello\n", 2, "targets[0]: must be a mapping, not a string");
	assert_single_error(TARGET "    smoke_test: --version\n", 5,
	                    "targets[0].smoke_test: must be a list of arguments, not a string");
	assert_single_error(TARGET "    smoke_test: [a, [b]]\n", 5,
	                    "targets[0].smoke_test[1]: must be a string, not a list");
	assert_single_error(TARGET "  - name: b\n    path: /b\n    source:\n      url: x\n", 8,
	                    "targets[1].source: must be a string, not a mapping");
	assert_single_error("- a\n- b\n", 1, "the top level must be a mapping, not a list");
	assert_single_error("just text\n", 1, "the top level must be a mapping, not a string");
}
END_TEST

START_TEST(test_missing_required_keys_name_the_entry)
{
	assert_single_error("targets:\n  - name: a\n    path: /a\n", 2,
	                    "targets[0]: missing required key 'source'");
	assert_single_error("targets:\n  - path: /a\n    source: s\n", 2,
	                    "targets[0]: missing required key 'name'");
	assert_single_error(TARGET "  - name: b\n    source: s\n", 5,
	                    "targets[1]: missing required key 'path'");
}
END_TEST

/* The default configuration has no target: a daemon without targets starts and idles. */
START_TEST(test_no_targets_is_valid)
{
	static const char *const texts[] = {
		"", "# only a comment\n", "socket: /x\n", "targets: []\n", "targets:\n",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		load_ok(texts[i]);
		ck_assert_uint_eq(cfg->n_targets, 0);
		ck_assert_uint_eq(cfg->n_dropins, 0);
		ck_assert_ptr_null(config_find_target(cfg, "hello"));
	}
}
END_TEST

START_TEST(test_bad_values)
{
	assert_single_error("socket: run/c.sock\n" TARGET, 1, "socket: must be an absolute path");
	assert_single_error("socket: /run/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" TARGET,
	                    1, "socket: is longer than 107 bytes");
	assert_single_error("scripts_dir: lib/updater\n" TARGET, 1,
	                    "scripts_dir: must be an absolute path");
	assert_single_error("state_dir: ''\n" TARGET, 1, "state_dir: must be an absolute path");
	assert_single_error("state_dir:\n" TARGET, 1, "state_dir: has no value");
	assert_single_error("interval: 6 hours\n" TARGET, 1,
	                    "interval: '6 hours' is not a duration (a number of seconds, or with s, m, h or d)");
	assert_single_error("splay: 3651d\n" TARGET, 1, "splay: '3651d' is too long (at most 3650d)");
	assert_single_error("script_timeout: 0\n" TARGET, 1, "script_timeout: must be at least 1s");
	assert_single_error("max_download: 1 GiB\n" TARGET, 1,
	                    "max_download: '1 GiB' is not a size (bytes, or with KiB, MiB, GiB, KB, MB or GB)");
	assert_single_error("max_download: 0\n" TARGET, 1, "max_download: must be greater than 0");
	assert_single_error("script_user: 'no body'\n" TARGET, 1,
	                    "script_user: 'no body' is not a valid user name");
	assert_single_error("trusted_keys: [RWQnotakey]\n" TARGET, 1,
	                    "trusted_keys[0]: not a minisign public key");
	assert_single_error(TARGET "    signal: SIGFOO\n", 5,
	                    "targets[0].signal: 'SIGFOO' is not a signal (a name such as SIGUSR2, or a number)");
	assert_single_error("state_dir: \"/var/\\0lib\"\n" TARGET, 1, "state_dir: contains a NUL byte");
}
END_TEST

START_TEST(test_target_names)
{
	char text[512];
	char name[CONFIG_NAME_MAX + 2];

	memset(name, 'a', CONFIG_NAME_MAX);
	name[CONFIG_NAME_MAX] = '\0';
	(void)snprintf(text, sizeof(text), "targets:\n- {name: %s, path: /a, source: s}\n", name);
	load_ok(text);
	ck_assert_str_eq(cfg->targets[0].name, name);

	strcat(name, "a");
	(void)snprintf(text, sizeof(text), "targets:\n- {name: %s, path: /a, source: s}\n", name);
	ck_assert_int_eq(load(text), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errors, ":2: targets[0].name: '"));

	static const char *const bad[] = { "'a b'", "a/b", "..", ".", "'é'", "''", "a:b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(text, sizeof(text), "targets:\n- name: %s\n  path: /a\n  source: s\n", bad[i]);
		ck_assert_msg(load(text) == -EINVAL, "name %s accepted", bad[i]);
		ck_assert_msg(strstr(errors, ":2: targets[0].name: ") && count_lines(errors) == 1,
		              "name %s: %s", bad[i], errors);
	}
}
END_TEST

START_TEST(test_target_paths)
{
	assert_single_error("targets:\n  - name: a\n    path: bin/a\n    source: s\n", 3,
	                    "targets[0].path: must be an absolute path");
	assert_single_error("targets:\n  - name: a\n    path: /usr/bin/\n    source: s\n", 3,
	                    "targets[0].path: must name a file, not a directory");
	assert_single_error("targets:\n  - name: a\n    path: /usr/bin/..\n    source: s\n", 3,
	                    "targets[0].path: must name a file, not a directory");
	assert_single_error("targets:\n  - name: a\n    path: /\n    source: s\n", 3,
	                    "targets[0].path: must name a file, not a directory");
	assert_single_error(TARGET "  - name: b\n    path: /usr/local/bin/hello\n    source: s\n", 6,
	                    "targets[1].path: '/usr/local/bin/hello' is already the path of targets[0]");
}
END_TEST

START_TEST(test_duplicate_target_name)
{
	assert_single_error(TARGET "  - name: hello\n    path: /b\n    source: s\n", 5,
	                    "targets[1].name: duplicate target name 'hello' (also targets[0])");
}
END_TEST

START_TEST(test_duplicate_keys)
{
	assert_single_error("interval: 1h\nsplay: 1m\ninterval: 2h\n" TARGET, 3,
	                    "interval: duplicate key (first on line 1)");
	assert_single_error(TARGET "    path: /b\n", 5,
	                    "targets[0].path: duplicate key (first on line 3)");
	/* The first value is the one kept and checked; the file is refused anyway. */
	ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(test_syntax_errors_report_libyaml_and_line)
{
	ck_assert_int_eq(load("socket: /x\ntargets:\n  - name: a\n   path: /b\n"), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(count_lines(errors) == 1, "%s", errors);
	ck_assert_msg(strstr(errors, ":4: YAML syntax error: ") != NULL, "%s", errors);

	ck_assert_int_eq(load("a: [1, 2\n"), -EINVAL);
	ck_assert_msg(strstr(errors, "YAML syntax error") != NULL, "%s", errors);

	/* Not UTF-8. */
	ck_assert_int_eq(load("socket: /\xff\xfe\n" TARGET), -EINVAL);
	ck_assert_msg(strstr(errors, cfgfile) == errors && strstr(errors, "invalid characters"),
	              "%s", errors);
}
END_TEST

START_TEST(test_aliases_and_multiple_documents_are_refused)
{
	assert_single_error("x: &a /run/s\nsocket: *a\n" TARGET, 2, "YAML aliases are not supported");
	assert_single_error(TARGET "---\n" TARGET, 5, "only one YAML document is allowed");
}
END_TEST

START_TEST(test_nesting_is_bounded)
{
	char text[256] = "targets: ";
	size_t n = strlen(text);

	for (int i = 0; i < 40; i++)
		text[n++] = '[';
	text[n] = '\0';
	for (int i = 0; i < 40; i++)
		text[n++] = ']';
	text[n++] = '\n';
	text[n] = '\0';
	ck_assert_int_eq(load(text), -EINVAL);
	ck_assert_msg(strstr(errors, ":1: nested deeper than 16 levels") != NULL, "%s", errors);
}
END_TEST

START_TEST(test_file_size_is_bounded)
{
	size_t len = 1024 * 1024 + 1;
	char *big = malloc(len);

	ck_assert_ptr_nonnull(big);
	memset(big, '#', len);
	big[len - 1] = '\n';
	write_file(big, len);
	free(big);
	ck_assert_int_eq(config_load(cfgfile, &cfg, &errors), -EFBIG);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(errors, "is larger than 1048576 bytes") != NULL, "%s", errors);
}
END_TEST

START_TEST(test_unreadable_file_returns_errno)
{
	char missing[PATH_MAX + 16];
	char want[PATH_MAX + 64];
	struct config *c = (struct config *)&c;

	(void)snprintf(missing, sizeof(missing), "%s/nope.yaml", tmpdir);
	ck_assert_int_eq(config_load(missing, &c, &errors), -ENOENT);
	ck_assert_ptr_eq(c, (struct config *)&c); /* untouched */
	(void)snprintf(want, sizeof(want), "%s: cannot open: No such file or directory\n", missing);
	ck_assert_str_eq(errors, want);
	free(errors);
	errors = NULL;
	ck_assert_int_eq(config_load(tmpdir, &c, &errors), -EISDIR);
	ck_assert_int_eq(config_load(missing, &c, NULL), -ENOENT);
}
END_TEST

START_TEST(test_all_errors_are_reported_at_once)
{
	int r = load("sockt: /x\n"                 /* 1 */
	             "interval: soon\n"            /* 2 */
	             "max_download: 1GiB\n"        /* 3 */
	             "targets:\n"                  /* 4 */
	             "  - name: a\n"               /* 5 */
	             "    path: relative\n"        /* 6 */
	             "    source: s\n"             /* 7 */
	             "  - name: a\n"               /* 8 */
	             "    path: /b\n"              /* 9 */
	             "    signal: NOPE\n"          /* 10 */
	             "  - 42\n"                    /* 11 */
	             "splay: [1]\n");              /* 12 */

	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(cfg);
	assert_error(1, "sockt: unknown key");
	assert_error(2, "interval: 'soon' is not a duration (a number of seconds, or with s, m, h or d)");
	assert_error(6, "targets[0].path: must be an absolute path");
	assert_error(8, "targets[1].name: duplicate target name 'a' (also targets[0])");
	assert_error(10, "targets[1].signal: 'NOPE' is not a signal (a name such as SIGUSR2, or a number)");
	assert_error(8, "targets[1]: missing required key 'source'");
	assert_error(11, "targets[2]: must be a mapping, not a string");
	assert_error(12, "splay: must be a string, not a list");
	ck_assert_msg(count_lines(errors) == 8, "%s", errors);
}
END_TEST

START_TEST(test_errors_may_be_ignored)
{
	write_file("bogus: 1\n", 9);
	ck_assert_int_eq(config_load(cfgfile, &cfg, NULL), -EINVAL);
	ck_assert_ptr_null(cfg);
	config_free(NULL);
}
END_TEST

START_TEST(test_max_rate_is_global_with_a_per_target_override)
{
	load_ok("max_rate: 5MiB\n"
	        "targets:\n"
	        "  - {name: a, path: /srv/a, source: s}\n"
	        "  - {name: b, path: /srv/b, source: s, max_rate: 512KiB}\n");
	ck_assert_uint_eq(cfg->max_rate, 5ULL << 20);
	ck_assert_uint_eq(config_max_rate(cfg, &cfg->targets[0]), 5ULL << 20);
	ck_assert_uint_eq(config_max_rate(cfg, &cfg->targets[1]), 512ULL << 10);
	config_free(cfg);
	cfg = NULL;
	load_ok(TARGET);
	ck_assert_uint_eq(config_max_rate(cfg, &cfg->targets[0]), 0); /* no limit */
	assert_single_error("max_rate: 5 MiB/s\n" TARGET, 1,
	                    "max_rate: '5 MiB/s' is not a size (bytes, or with KiB, MiB, GiB, KB, MB or GB)");
	assert_single_error(TARGET "    max_rate: 0\n", 5, "targets[0].max_rate: must be greater than 0");
}
END_TEST

/* --- drop-ins ---------------------------------------------------------- */

static char dropdir[128];
static char dropins[8][PATH_MAX];
static size_t n_dropins;

static void dropin_setup(void)
{
	setup();
	(void)snprintf(dropdir, sizeof(dropdir), "%s/updater.d", tmpdir);
	n_dropins = 0;
}

static void dropin_teardown(void)
{
	for (size_t i = 0; i < n_dropins; i++)
		(void)unlink(dropins[i]);
	(void)rmdir(dropdir);
	teardown();
}

/* Write TEXT as the drop-in NAME; returns its path. */
static const char *write_dropin(const char *name, const char *text)
{
	char *path = dropins[n_dropins++];
	FILE *f;

	ck_assert_uint_le(n_dropins, sizeof(dropins) / sizeof(dropins[0]));
	(void)mkdir(dropdir, 0755);
	(void)snprintf(path, PATH_MAX, "%s/%s", dropdir, name);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* The error text holds the line "FILE:LINE: REST". */
static void assert_error_in(const char *file, unsigned line, const char *rest)
{
	char want[PATH_MAX + 512];

	(void)snprintf(want, sizeof(want), "%s:%u: %s\n", file, line, rest);
	ck_assert_msg(errors && strstr(errors, want), "expected error line\n  %s in\n%s", want,
	              errors ? errors : "(none)");
}

#define DROPIN(name) "targets:\n  - name: " name "\n    path: /opt/" name "/bin/" name \
	"\n    source: https://example.com/" name "\n"

START_TEST(test_dropin_dir_is_the_file_name_without_yaml_plus_d)
{
	char *d = config_dropin_dir("/etc/updater/updater.yaml");

	ck_assert_str_eq(d, "/etc/updater/updater.d");
	free(d);
	d = config_dropin_dir("/etc/updater.conf");
	ck_assert_str_eq(d, "/etc/updater.conf.d");
	free(d);
}
END_TEST

START_TEST(test_dropins_append_targets_in_name_order)
{
	const char *b = write_dropin("20-b.yaml", DROPIN("b"));
	const char *a = write_dropin("10-a.yaml", DROPIN("a") "  - name: a2\n    path: /a2\n    source: s\n");

	/* Skipped: not *.yaml, or hidden (an editor's or a package manager's leftovers). */
	write_dropin("30-c.yaml.dpkg-old", DROPIN("c"));
	write_dropin(".40-d.yaml", DROPIN("d"));
	write_dropin("50-e.yml", DROPIN("e"));
	load_ok("interval: 1h\n" TARGET);
	ck_assert_str_eq(cfg->dropin_dir, dropdir);
	ck_assert_uint_eq(cfg->n_dropins, 2);
	ck_assert_str_eq(cfg->dropins[0], a);
	ck_assert_str_eq(cfg->dropins[1], b);
	ck_assert_uint_eq(cfg->n_targets, 4);
	ck_assert_str_eq(cfg->targets[0].name, "hello");
	ck_assert_str_eq(cfg->targets[0].file, cfgfile);
	ck_assert_str_eq(cfg->targets[1].name, "a");
	ck_assert_str_eq(cfg->targets[1].path, "/opt/a/bin/a");
	ck_assert_str_eq(cfg->targets[1].source, "https://example.com/a");
	ck_assert_str_eq(cfg->targets[1].file, a);
	ck_assert_uint_eq(cfg->targets[1].index, 0);
	ck_assert_str_eq(cfg->targets[2].name, "a2");
	ck_assert_uint_eq(cfg->targets[2].index, 1);
	ck_assert_str_eq(cfg->targets[3].name, "b");
	ck_assert_str_eq(cfg->targets[3].file, b);
	ck_assert_ptr_eq(config_find_target(cfg, "b"), &cfg->targets[3]);
	ck_assert_uint_eq(cfg->interval_sec, 3600);
}
END_TEST

START_TEST(test_dropins_alone_give_the_targets)
{
	write_dropin("hello.yaml", DROPIN("hello"));
	load_ok("# the packaged default: no targets\n");
	ck_assert_uint_eq(cfg->n_targets, 1);
	ck_assert_str_eq(cfg->targets[0].name, "hello");
	/* An empty drop-in (or comments only) adds nothing and is no error. */
	write_dropin("empty.yaml", "# nothing yet\n");
	load_ok("");
	ck_assert_uint_eq(cfg->n_targets, 1);
	ck_assert_uint_eq(cfg->n_dropins, 2);
}
END_TEST

START_TEST(test_dropin_errors_name_their_file)
{
	const char *a = write_dropin("a.yaml", "targets:\n  - name: a\n    path: relative\n    source: s\n"
	                                       "interval: 5m\n");
	const char *b = write_dropin("b.yaml", "targets:\n  - name: hello\n    path: /b\n    source: s\n"
	                                       "  - name: c\n    path: /usr/local/bin/hello\n    source: s\n");
	const char *c = write_dropin("c.yaml", "targets: [\n");
	int r;

	r = load("bogus: 1\n" TARGET);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(cfg);
	assert_error(1, "bogus: unknown key");
	assert_error_in(a, 3, "targets[0].path: must be an absolute path");
	{
		char want[PATH_MAX + 128];

		(void)snprintf(want, sizeof(want),
		               "interval: not allowed in a drop-in, which holds only targets: set it in '%s'",
		               cfgfile);
		assert_error_in(a, 5, want);
		(void)snprintf(want, sizeof(want),
		               "targets[0].name: duplicate target name 'hello' (also targets[0] in '%s')",
		               cfgfile);
		assert_error_in(b, 2, want);
		(void)snprintf(want, sizeof(want),
		               "targets[1].path: '/usr/local/bin/hello' is already the path of targets[0] in '%s'",
		               cfgfile);
		assert_error_in(b, 6, want);
	}
	ck_assert_msg(strstr(errors, c) && strstr(errors, "YAML syntax error"), "%s", errors);
	ck_assert_msg(count_lines(errors) == 6, "%s", errors);
}
END_TEST

START_TEST(test_dropin_duplicate_across_dropins)
{
	const char *a = write_dropin("a.yaml", DROPIN("x"));
	const char *b = write_dropin("b.yaml", DROPIN("x"));
	char want[PATH_MAX + 128];

	ck_assert_int_eq(load(TARGET), -EINVAL);
	(void)snprintf(want, sizeof(want), "targets[0].name: duplicate target name 'x' (also targets[0] in '%s')", a);
	assert_error_in(b, 2, want);
}
END_TEST

START_TEST(test_dropin_dir_that_is_a_file_is_an_error)
{
	FILE *f = fopen(dropdir, "we");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(load(TARGET), -EINVAL);
	ck_assert_msg(errors && strstr(errors, dropdir) && strstr(errors, "cannot read the drop-in directory"),
	              "%s", errors ? errors : "(none)");
	ck_assert_int_eq(unlink(dropdir), 0);
}
END_TEST

/* --- directory targets (SPEC section 18) --------------------------------- */

#define DIR_TARGET "targets:\n  - name: shop\n    type: directory\n    path: /opt/shop/current\n    source: file:///srv/shop\n"

START_TEST(test_directory_target_defaults)
{
	const struct target_config *t;

	load_ok("max_download: 100MiB\n" DIR_TARGET);
	t = &cfg->targets[0];
	ck_assert_int_eq(t->type, TARGET_DIRECTORY);
	ck_assert_str_eq(t->releases, "/opt/shop/releases");
	ck_assert_uint_eq(t->keep, 3);
	ck_assert_uint_eq(t->max_unpacked, 400ull << 20);
	load_ok(TARGET);
	ck_assert_int_eq(cfg->targets[0].type, TARGET_FILE);
	ck_assert_ptr_null(cfg->targets[0].releases);
}
END_TEST

START_TEST(test_directory_target_keys_are_read)
{
	const struct target_config *t;

	/* max_download after the targets still sets the default of max_unpacked. */
	load_ok(DIR_TARGET "    releases: /srv/shop-releases/\n    keep: 5\n"
	        "    smoke_test: [bin/shop, --version]\n  - name: web\n    type: directory\n"
	        "    path: /opt/web/current\n    source: x\n    max_unpacked: 2GiB\nmax_download: 1MiB\n");
	t = &cfg->targets[0];
	ck_assert_str_eq(t->releases, "/srv/shop-releases");
	ck_assert_uint_eq(t->keep, 5);
	ck_assert_uint_eq(t->max_unpacked, 4ull << 20);
	ck_assert_str_eq(t->smoke_test[0], "bin/shop");
	ck_assert_uint_eq(cfg->targets[1].max_unpacked, 2ull << 30);
}
END_TEST

START_TEST(test_directory_target_bad_values)
{
	assert_single_error("targets:\n  - name: shop\n    type: tree\n    path: /x\n    source: x\n", 3,
	                    "targets[0].type: 'tree' is not file or directory");
	assert_single_error(DIR_TARGET "    keep: 0\n", 6, "targets[0].keep: '0' is not a number from 1 to 1000");
	assert_single_error(DIR_TARGET "    keep: 3KiB\n", 6, "targets[0].keep: '3KiB' is not a number from 1 to 1000");
	assert_single_error(DIR_TARGET "    releases: rel\n", 6, "targets[0].releases: must be an absolute path");
	assert_single_error(DIR_TARGET "    max_unpacked: lots\n", 6,
	                    "targets[0].max_unpacked: 'lots' is not a size greater than 0 (bytes, or with KiB, MiB, GiB)");
	assert_single_error(DIR_TARGET "    smoke_test: [/bin/true]\n", 2,
	                    "targets[0]: smoke_test[0] must be a path relative to the release, without '..'");
	assert_single_error(DIR_TARGET "    smoke_test: [bin/../../x]\n", 2,
	                    "targets[0]: smoke_test[0] must be a path relative to the release, without '..'");
	assert_single_error(TARGET "    keep: 2\n", 2, "targets[0]: releases, keep and max_unpacked need type: directory");
	assert_single_error(DIR_TARGET "  - name: two\n    type: directory\n    path: /opt/shop/other\n    source: x\n", 6,
	                    "targets[1]: releases '/opt/shop/releases' is already used by targets[0]");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *values = tcase_create("values");
	TCase *files = tcase_create("files");
	TCase *errs = tcase_create("errors");
	TCase *drop = tcase_create("drop-ins");
	TCase *dirs = tcase_create("directory targets");

	tcase_add_test(values, test_durations_accept_units_and_bare_seconds);
	tcase_add_test(files, test_allow_unsigned_and_a_targets_version_are_read);
	tcase_add_test(files, test_bad_allow_unsigned_and_version_name_the_line);
	tcase_add_test(values, test_durations_refuse_bad_text_and_overflow);
	tcase_add_test(values, test_sizes_accept_binary_and_decimal_units);
	tcase_add_test(values, test_sizes_refuse_bad_text_and_overflow);
	tcase_add_test(values, test_signals_by_name_short_name_and_number);
	suite_add_tcase(s, values);

	tcase_add_checked_fixture(files, setup, teardown);
	tcase_add_test(files, test_defaults_apply_when_keys_are_absent);
	tcase_add_test(files, test_every_key_is_read);
	tcase_add_test(files, test_null_lists_mean_empty);
	tcase_add_test(files, test_booleans);
	tcase_add_test(files, test_max_rate_is_global_with_a_per_target_override);
	suite_add_tcase(s, files);

	tcase_add_checked_fixture(errs, setup, teardown);
	tcase_add_test(errs, test_unknown_keys_are_named_with_their_line);
	tcase_add_test(errs, test_wrong_types);
	tcase_add_test(errs, test_missing_required_keys_name_the_entry);
	tcase_add_test(files, test_no_targets_is_valid);
	tcase_add_test(errs, test_bad_values);
	tcase_add_test(errs, test_target_names);
	tcase_add_test(errs, test_target_paths);
	tcase_add_test(errs, test_duplicate_target_name);
	tcase_add_test(errs, test_duplicate_keys);
	tcase_add_test(errs, test_syntax_errors_report_libyaml_and_line);
	tcase_add_test(errs, test_aliases_and_multiple_documents_are_refused);
	tcase_add_test(errs, test_nesting_is_bounded);
	tcase_add_test(errs, test_file_size_is_bounded);
	tcase_add_test(errs, test_unreadable_file_returns_errno);
	tcase_add_test(errs, test_all_errors_are_reported_at_once);
	tcase_add_test(errs, test_errors_may_be_ignored);
	suite_add_tcase(s, errs);

	tcase_add_checked_fixture(drop, dropin_setup, dropin_teardown);
	tcase_add_test(drop, test_dropin_dir_is_the_file_name_without_yaml_plus_d);
	tcase_add_test(drop, test_dropins_append_targets_in_name_order);
	tcase_add_test(drop, test_dropins_alone_give_the_targets);
	tcase_add_test(drop, test_dropin_errors_name_their_file);
	tcase_add_test(drop, test_dropin_duplicate_across_dropins);
	tcase_add_test(drop, test_dropin_dir_that_is_a_file_is_an_error);
	suite_add_tcase(s, drop);
	tcase_add_checked_fixture(dirs, setup, teardown);
	tcase_add_test(dirs, test_directory_target_defaults);
	tcase_add_test(dirs, test_directory_target_keys_are_read);
	tcase_add_test(dirs, test_directory_target_bad_values);
	suite_add_tcase(s, dirs);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
