/*
 * check_state.c - the persistent state in state_dir (SPEC sections 2, 3 and 8.7).
 *
 * Each test gets a fresh temporary directory and a state_dir inside it that
 * does not exist yet. Assertions are on what a later start of the daemon, or
 * an operator, would find: the files and their bytes, modes and owners, and
 * the values read back. Failed writes are provoked for real: by a file size
 * limit (any user) and by a full tmpfs (root).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "state.h"
#include "unit-files.h"

static char tmpdir[64];
static char state_dir[128];
static char mountpoint[128];

static void setup(void)
{
	scratch_make(tmpdir, sizeof(tmpdir), "check_state");
	(void)snprintf(state_dir, sizeof(state_dir), "%s/state", tmpdir);
	(void)snprintf(mountpoint, sizeof(mountpoint), "%s/full", tmpdir);
}

static void teardown(void)
{
	scratch_remove();
}

/* --- helpers ------------------------------------------------------------ */

static void assert_file_text(const char *path, const char *want)
{
	char *got = read_file(path, NULL);

	ck_assert_msg(strcmp(got, want) == 0, "'%s' holds\n%s\nexpected\n%s", path, got, want);
	free(got);
}

static void path_in(char *out, const char *dir, const char *name)
{
	ck_assert_int_lt(snprintf(out, PATH_MAX, "%s/%s", dir, name), PATH_MAX);
}

static void assert_never(const struct target_state *st)
{
	ck_assert_ptr_null(st->version);
	ck_assert_str_eq(st->sha256_hex, "");
	ck_assert_int_eq(st->updated_at, -1);
	ck_assert_ptr_null(st->previous_version);
	ck_assert_str_eq(st->previous_sha256_hex, "");
	ck_assert_ptr_null(st->last_error);
}

#define SHA_A "4f1c2e8d9b0a7c6e5f4d3c2b1a0918273645546372819aabbccddeeff0011223"
#define SHA_B "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff"

static void fill_state(struct target_state *st, const char *version, const char *last_error)
{
	memset(st, 0, sizeof(*st));
	st->version = version ? strdup(version) : NULL;
	strcpy(st->sha256_hex, SHA_A);
	strcpy(st->file_id, "2049:131:1839104:1767225600.123456789:1767225601.000000001");
	st->updated_at = 1767225600;
	st->previous_version = strdup("1.4.1");
	strcpy(st->previous_sha256_hex, SHA_B);
	st->rolled_back_from = strdup("1.5");
	st->floor = strdup("1.5");
	st->previous_mode = 04755;
	st->last_error = last_error ? strdup(last_error) : NULL;
	st->pending_at = -1;
	st->last_success = -1;
}

/* Write filler files into DIR until the filesystem has no block left. */
static void fill_up(const char *dir)
{
	char path[PATH_MAX], chunk[4096];
	int fd;

	memset(chunk, 'f', sizeof(chunk));
	path_in(path, dir, "filler");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 1024; i++) {
		ssize_t n = write(fd, chunk, sizeof(chunk));

		if (n < 0) {
			ck_assert_int_eq(errno, ENOSPC);
			break;
		}
	}
	ck_assert_int_eq(close(fd), 0);
}

/* --- layout ------------------------------------------------------------- */

START_TEST(test_init_creates_the_layout)
{
	char path[PATH_MAX];
	struct stat st;

	/* Scripts running as script_user must reach cache/NAME, whatever the daemon's umask. */
	(void)umask(077);
	ck_assert_int_eq(state_init(state_dir), 0);
	st = lstat_of(state_dir);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_uint_eq(st.st_uid, geteuid());
	path_in(path, state_dir, "targets");
	st = lstat_of(path);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	path_in(path, state_dir, "cache");
	st = lstat_of(path);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_uint_eq(dir_entries(state_dir), 2);

	/* Again: nothing to do, nothing lost. */
	path_in(path, state_dir, "targets/hello");
	write_file(path, "version=1\n", 10, 0644);
	ck_assert_int_eq(state_init(state_dir), 0);
	assert_file_text(path, "version=1\n");
}
END_TEST

START_TEST(test_init_deletes_temporary_files_a_crash_left)
{
	static const char *const leftovers[] = { "last_check.tmp-0123abcd", "targets/hello.tmp-deadbeef" };
	static const char *const kept[] = { "targets/hello", "targets/hello.tmp-xyz", "targets/a.tmp-0123abcd9",
	                                    "targets/.tmp-01234567" };
	char path[PATH_MAX];
	struct stat st;

	ck_assert_int_eq(state_init(state_dir), 0);
	for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
		path_in(path, state_dir, leftovers[i]);
		write_file(path, "half", 4, 0644);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		path_in(path, state_dir, kept[i]);
		write_file(path, "keep", 4, 0644);
	}
	path_in(path, state_dir, "targets/dir.tmp-00000000");
	ck_assert_int_eq(mkdir(path, 0755), 0);

	ck_assert_int_eq(state_init(state_dir), 0);
	for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
		path_in(path, state_dir, leftovers[i]);
		ck_assert_msg(lstat(path, &st) < 0 && errno == ENOENT, "'%s' is still there", leftovers[i]);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		path_in(path, state_dir, kept[i]);
		ck_assert_msg(lstat(path, &st) == 0, "'%s' was deleted", kept[i]);
	}
	path_in(path, state_dir, "targets/dir.tmp-00000000");
	ck_assert(S_ISDIR(lstat_of(path).st_mode));
}
END_TEST

START_TEST(test_init_refuses_a_file_in_the_way)
{
	char path[PATH_MAX];

	write_file(state_dir, "x", 1, 0644);
	ck_assert_int_eq(state_init(state_dir), -ENOTDIR);
	ck_assert_int_eq(unlink(state_dir), 0);
	ck_assert_int_eq(mkdir(state_dir, 0755), 0);
	path_in(path, state_dir, "targets");
	ck_assert_int_eq(symlink(tmpdir, path), 0);
	ck_assert_int_eq(state_init(state_dir), -ENOTDIR);
}
END_TEST

/* --- targets ------------------------------------------------------------ */

START_TEST(test_target_state_round_trips_every_field)
{
	static const char error[] =
		"download failed: exit=22, 'curl: (22) The requested URL returned error: 404'"
		"  a=b==c  100% \t\"quoted\" \\ back";
	struct target_state in, out;
	char path[PATH_MAX];

	ck_assert_int_eq(state_init(state_dir), 0);
	fill_state(&in, "1.4.2-1+deb12u1~rc=2", error);
	ck_assert_int_eq(state_save_target(state_dir, "hello", &in), 0);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	ck_assert_str_eq(out.version, "1.4.2-1+deb12u1~rc=2");
	ck_assert_str_eq(out.sha256_hex, SHA_A);
	ck_assert_str_eq(out.file_id, "2049:131:1839104:1767225600.123456789:1767225601.000000001");
	ck_assert_int_eq(out.updated_at, 1767225600);
	ck_assert_str_eq(out.previous_version, "1.4.1");
	ck_assert_str_eq(out.previous_sha256_hex, SHA_B);
	ck_assert_str_eq(out.rolled_back_from, "1.5");
	ck_assert_str_eq(out.floor, "1.5");
	ck_assert_int_eq(out.previous_mode, 04755);
	ck_assert_str_eq(out.last_error, error);

	/* One key=value line each, readable by a person. */
	path_in(path, state_dir, "targets/hello");
	assert_file_text(path, "version=1.4.2-1+deb12u1~rc=2\n"
	                       "floor=1.5\n"
	                       "sha256=" SHA_A "\n"
	                       "file_id=2049:131:1839104:1767225600.123456789:1767225601.000000001\n"
	                       "updated_at=1767225600\n"
	                       "previous_version=1.4.1\n"
	                       "previous_sha256=" SHA_B "\n"
	                       "previous_mode=4755\n"
	                       "rolled_back_from=1.5\n"
	                       "last_error=download failed: exit=22, 'curl: (22) The requested URL "
	                       "returned error: 404'  a=b==c  100% \t\"quoted\" \\ back\n"
	                       "pending_version=\npending_at=-1\npending_why=\n"
	                       "updates=0\nrollbacks_manual=0\nrollbacks_health=0\n"
	                       "check_failures=0\ndownload_bytes=0\nlast_success=-1\n");
	ck_assert_uint_eq(lstat_of(path).st_mode & 07777, 0644);
	ck_assert_uint_eq(dir_entries(state_dir), 2); /* no temporary file beside it */
	path_in(path, state_dir, "targets");
	ck_assert_uint_eq(dir_entries(path), 1);

	/* A later save replaces every field, clearing those now unknown. */
	target_state_clear(&in);
	in.version = strdup("2.0");
	ck_assert_int_eq(state_save_target(state_dir, "hello", &in), 0);
	target_state_clear(&out);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	ck_assert_str_eq(out.version, "2.0");
	ck_assert_str_eq(out.sha256_hex, "");
	ck_assert_str_eq(out.file_id, "");
	ck_assert_int_eq(out.updated_at, -1);
	ck_assert_ptr_null(out.previous_version);
	ck_assert_ptr_null(out.rolled_back_from);
	ck_assert_ptr_null(out.last_error);
	target_state_clear(&in);
	target_state_clear(&out);
}
END_TEST

START_TEST(test_floor_only_goes_up_and_a_state_without_one_gets_its_version)
{
	static const char legacy[] = "version=2.0\nsha256=\nupdated_at=-1\n";
	struct target_state st;

	ck_assert_int_eq(state_parse_target(legacy, strlen(legacy), &st), 0);
	ck_assert_str_eq(st.floor, "2.0");
	ck_assert_int_eq(st.previous_mode, -1);
	ck_assert_int_eq(target_state_raise_floor(&st, "1.9"), 0);
	ck_assert_str_eq(st.floor, "2.0");
	ck_assert_int_eq(target_state_raise_floor(&st, "2.0~rc1"), 0);
	ck_assert_str_eq(st.floor, "2.0");
	ck_assert_int_eq(target_state_raise_floor(&st, "2.0.1"), 0);
	ck_assert_str_eq(st.floor, "2.0.1");
	ck_assert_int_eq(target_state_raise_floor(&st, NULL), 0);
	ck_assert_str_eq(st.floor, "2.0.1");
	target_state_clear(&st);

	/* A floor above the version stays; the version forgotten keeps the floor. */
	ck_assert_int_eq(state_parse_target("version=1.0\nfloor=3.0\n", 22, &st), 0);
	ck_assert_str_eq(st.floor, "3.0");
	target_state_clear(&st);
	ck_assert_int_eq(state_parse_target("floor=3.0\n", 10, &st), 0);
	ck_assert_ptr_null(st.version);
	ck_assert_str_eq(st.floor, "3.0");
	target_state_clear(&st);
}
END_TEST

START_TEST(test_previous_mode_is_octal_up_to_07777)
{
	struct target_state st;

	ck_assert_int_eq(state_parse_target("previous_mode=6755\n", 19, &st), 0);
	ck_assert_int_eq(st.previous_mode, 06755);
	target_state_clear(&st);
	ck_assert_int_eq(state_parse_target("previous_mode=\n", 15, &st), 0);
	ck_assert_int_eq(st.previous_mode, -1);
	target_state_clear(&st);
	ck_assert_int_eq(state_parse_target("previous_mode=17777\n", 20, &st), -EBADMSG);
	ck_assert_int_eq(state_parse_target("previous_mode=-1\n", 17, &st), -EBADMSG);
	ck_assert_int_eq(state_parse_target("previous_mode=0789\n", 19, &st), -EBADMSG);
	ck_assert_int_eq(state_parse_target("floor=1\nfloor=2\n", 16, &st), -EBADMSG);
	assert_never(&st);
}
END_TEST

START_TEST(test_newlines_in_last_error_become_spaces_and_inject_nothing)
{
	struct target_state in, out;
	char path[PATH_MAX], *text;
	size_t len, lines = 0;

	ck_assert_int_eq(state_init(state_dir), 0);
	fill_state(&in, "1.0", "first line\nversion=6.6.6\r\nsha256=" SHA_B "\n");
	ck_assert_int_eq(state_save_target(state_dir, "hello", &in), 0);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	ck_assert_str_eq(out.last_error, "first line version=6.6.6  sha256=" SHA_B " ");
	ck_assert_str_eq(out.version, "1.0");
	ck_assert_str_eq(out.sha256_hex, SHA_A);

	path_in(path, state_dir, "targets/hello");
	text = read_file(path, &len);
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	ck_assert_uint_eq(lines, 19); /* one a key, none injected */
	free(text);
	target_state_clear(&in);
	target_state_clear(&out);
}
END_TEST

START_TEST(test_pending_counters_and_hold_round_trip)
{
	struct target_state in, out;

	ck_assert_int_eq(state_init(state_dir), 0);
	fill_state(&in, "1.0", NULL);
	in.pending_version = strdup("1.1");
	in.pending_at = 1700000000;
	in.pending_why = strdup("rollout: later");
	in.updates = 3;
	in.rollbacks_manual = 1;
	in.rollbacks_health = 2;
	in.check_failures = 5;
	in.download_bytes = 1ULL << 40;
	in.last_success = 1700000001;
	ck_assert_int_eq(state_save_target(state_dir, "hello", &in), 0);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	ck_assert_str_eq(out.pending_version, "1.1");
	ck_assert_int_eq(out.pending_at, 1700000000);
	ck_assert_str_eq(out.pending_why, "rollout: later");
	ck_assert_uint_eq(out.updates, 3);
	ck_assert_uint_eq(out.rollbacks_manual, 1);
	ck_assert_uint_eq(out.rollbacks_health, 2);
	ck_assert_uint_eq(out.check_failures, 5);
	ck_assert_uint_eq(out.download_bytes, 1ULL << 40);
	ck_assert_int_eq(out.last_success, 1700000001);
	target_state_clear(&out);
	target_state_clear(&in);

	ck_assert(!state_is_held(state_dir, "hello"));
	ck_assert_int_eq(state_set_held(state_dir, "hello", true), 0);
	ck_assert(state_is_held(state_dir, "hello"));
	ck_assert(!state_is_held(state_dir, "other"));
	ck_assert_int_eq(state_set_held(state_dir, "hello", false), 0);
	ck_assert(!state_is_held(state_dir, "hello"));
	ck_assert_int_eq(state_set_held(state_dir, "hello", false), 0);
}
END_TEST

START_TEST(test_missing_file_reads_as_never)
{
	struct target_state out;

	memset(&out, 0x5a, sizeof(out));
	/* Neither the file nor even state_dir exist. */
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	assert_never(&out);
	ck_assert_int_eq(state_init(state_dir), 0);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	assert_never(&out);
	target_state_clear(&out);
	target_state_clear(NULL);
}
END_TEST

START_TEST(test_damaged_file_is_ebadmsg_and_reads_as_never)
{
	static const struct {
		const char *text;
		size_t len;
	} damaged[] = {
#define T(s) { s, sizeof(s) - 1 }
		T("garbage\n"),
		T("version=1\nno equals sign\n"),
		T("version=1\nversion=2\n"),
		T("sha256=xyz\n"),
		T("sha256=" "4F1C2E8D9B0A7C6E5F4D3C2B1A0918273645546372819AABBCCDDEEFF0011223" "\n"),
		T("previous_sha256=" SHA_A "0\n"),
		T("updated_at=soon\n"),
		T("file_id=1:2:3 4\n"),
		T("file_id=../etc\n"),
		T("updated_at=\n"),
		T("updated_at=99999999999999999999\n"),
		T("version=1\0\nlast_error=x\n"),
#undef T
	};
	struct target_state out;
	char path[PATH_MAX], *big;

	ck_assert_int_eq(state_init(state_dir), 0);
	path_in(path, state_dir, "targets/hello");
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		write_file(path, damaged[i].text, damaged[i].len, 0644);
		memset(&out, 0x5a, sizeof(out));
		ck_assert_msg(state_load_target(state_dir, "hello", &out) == -EBADMSG,
		              "damaged file %zu not reported", i);
		assert_never(&out);
	}

	/* Far too big to be a state file. */
	big = malloc(100000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 100000);
	memcpy(big, "last_error=", 11);
	big[99999] = '\n';
	write_file(path, big, 100000, 0644);
	free(big);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), -EBADMSG);
	assert_never(&out);

	/* A directory where the file should be is damage too, not a crash. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), -EBADMSG);
	assert_never(&out);
}
END_TEST

START_TEST(test_partial_download_round_trips_and_is_whole_or_ignored)
{
	struct target_state in, out;
	char path[PATH_MAX];

	ck_assert_int_eq(state_init(state_dir), 0);
	fill_state(&in, "1.0", NULL);
	in.partial.version = strdup("1.1");
	memcpy(in.partial.sha256_hex, SHA_B, 65);
	in.partial.size = 8388608;
	in.partial.bytes = 6033645;
	in.partial.name = strdup(".hello.updater-AbC123");
	ck_assert_int_eq(state_save_target(state_dir, "hello", &in), 0);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	ck_assert_str_eq(out.partial.version, "1.1");
	ck_assert_str_eq(out.partial.sha256_hex, SHA_B);
	ck_assert_uint_eq(out.partial.size, 8388608);
	ck_assert_uint_eq(out.partial.bytes, 6033645);
	ck_assert_str_eq(out.partial.name, ".hello.updater-AbC123");
	ck_assert_str_eq(out.version, "1.0");
	target_state_clear(&out);

	/* Forgotten: no partial_ key is written at all. */
	target_partial_clear(&in.partial);
	ck_assert_int_eq(state_save_target(state_dir, "hello", &in), 0);
	path_in(path, state_dir, "targets/hello");
	{
		char *text = read_file(path, NULL);
		ck_assert_ptr_null(strstr(text, "partial_"));
		free(text);
	}
	target_state_clear(&in);

	/* A name with a slash is damage; a record without its version is ignored. */
	write_file(path, "partial_name=../x\n", 18, 0644);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), -EBADMSG);
	target_state_clear(&out);
	write_file(path, "version=1.0\npartial_name=.hello.updater-AbC123\npartial_bytes=5\n", 63, 0644);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	ck_assert_str_eq(out.version, "1.0");
	ck_assert_ptr_null(out.partial.name);
	target_state_clear(&out);
	/* More bytes than the size: ignored too. */
	write_file(path, "partial_version=1\npartial_sha256=" SHA_A "\npartial_size=4\npartial_bytes=5\n"
	           "partial_name=.hello.updater-AbC123\n", 164, 0644);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	ck_assert_ptr_null(out.partial.name);
	target_state_clear(&out);
}
END_TEST

START_TEST(test_unknown_keys_and_blank_lines_are_not_damage)
{
	static const char text[] = "future_key=whatever\n\nversion=3.1\nupdated_at=12\n";
	struct target_state out;
	char path[PATH_MAX];

	ck_assert_int_eq(state_init(state_dir), 0);
	path_in(path, state_dir, "targets/hello");
	write_file(path, text, sizeof(text) - 1, 0644);
	ck_assert_int_eq(state_load_target(state_dir, "hello", &out), 0);
	ck_assert_str_eq(out.version, "3.1");
	ck_assert_int_eq(out.updated_at, 12);
	ck_assert_ptr_null(out.last_error);
	target_state_clear(&out);
}
END_TEST

START_TEST(test_every_state_that_saves_loads_back)
{
	struct target_state in, out;
	char path[PATH_MAX], *error;
	size_t overhead;
	bool some_saved = false, some_refused = false;

	ck_assert_int_eq(state_init(state_dir), 0);
	path_in(path, state_dir, "targets/hello");
	/* The bytes a state with an empty last_error takes. */
	fill_state(&in, "1.0", "");
	ck_assert_int_eq(state_save_target(state_dir, "hello", &in), 0);
	overhead = (size_t)lstat_of(path).st_size;
	target_state_clear(&in);

	/* Around the size limit: a state is either refused whole, or read back whole. */
	for (size_t size = 8180; size <= 8200; size++) {
		struct stat before = lstat_of(path);
		int r;

		error = malloc(size - overhead + 1);
		ck_assert_ptr_nonnull(error);
		memset(error, 'e', size - overhead);
		error[size - overhead] = '\0';
		fill_state(&in, "1.0", error);
		r = state_save_target(state_dir, "hello", &in);
		if (r == 0) {
			some_saved = true;
			ck_assert_uint_eq(lstat_of(path).st_size, size);
			ck_assert_msg(state_load_target(state_dir, "hello", &out) == 0,
			              "a state of %zu bytes was saved but cannot be read back", size);
			ck_assert_str_eq(out.last_error, error);
			target_state_clear(&out);
		} else {
			some_refused = true;
			ck_assert_int_eq(r, -EFBIG);
			ck_assert_uint_eq(lstat_of(path).st_ino, before.st_ino);
			ck_assert_uint_eq(lstat_of(path).st_size, before.st_size);
		}
		target_state_clear(&in);
		free(error);
	}
	ck_assert(some_saved);
	ck_assert(some_refused);
	ck_assert_uint_eq(dir_entries(state_dir), 2);
}
END_TEST

/* --- last check --------------------------------------------------------- */

START_TEST(test_last_check_round_trips_and_is_minus_one_when_never)
{
	char path[PATH_MAX];

	ck_assert_int_eq(state_last_check(state_dir), -1);
	ck_assert_int_eq(state_init(state_dir), 0);
	ck_assert_int_eq(state_last_check(state_dir), -1);

	ck_assert_int_eq(state_set_last_check(state_dir, 1767225600), 0);
	ck_assert_int_eq(state_last_check(state_dir), 1767225600);
	path_in(path, state_dir, "last_check");
	assert_file_text(path, "1767225600\n");
	ck_assert_int_eq(state_set_last_check(state_dir, 0), 0);
	ck_assert_int_eq(state_last_check(state_dir), 0);
	ck_assert_int_eq(state_set_last_check(state_dir, INT64_C(4102444800)), 0);
	ck_assert_int_eq(state_last_check(state_dir), INT64_C(4102444800));
	ck_assert_uint_eq(dir_entries(state_dir), 3);

	/* Damage reads as never. */
	write_file(path, "soon\n", 5, 0644);
	ck_assert_int_eq(state_last_check(state_dir), -1);
	write_file(path, "-5\n", 3, 0644);
	ck_assert_int_eq(state_last_check(state_dir), -1);
	write_file(path, "", 0, 0644);
	ck_assert_int_eq(state_last_check(state_dir), -1);
	write_file(path, "12 junk\n", 8, 0644);
	ck_assert_int_eq(state_last_check(state_dir), -1);
}
END_TEST

/* --- atomic writes ------------------------------------------------------ */

START_TEST(test_atomic_write_replaces_whole_file_and_leaves_no_temp)
{
	char path[PATH_MAX], buf[64];
	struct stat before, after;
	int old_fd;

	path_in(path, tmpdir, "file");
	ck_assert_int_eq(state_write_file_atomic(path, "first contents\n", 15), 0);
	assert_file_text(path, "first contents\n");
	before = lstat_of(path);
	ck_assert_uint_eq(before.st_mode & 07777, 0644);
	ck_assert_uint_eq(dir_entries(tmpdir), 1);

	/* A reader that opened the old file keeps reading the whole old file. */
	old_fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(old_fd, 0);
	ck_assert_int_eq(state_write_file_atomic(path, "second\n", 7), 0);
	after = lstat_of(path);
	ck_assert_uint_ne(after.st_ino, before.st_ino);
	assert_file_text(path, "second\n");
	ck_assert_int_eq(read(old_fd, buf, sizeof(buf)), 15);
	ck_assert_int_eq(memcmp(buf, "first contents\n", 15), 0);
	(void)close(old_fd);
	ck_assert_uint_eq(dir_entries(tmpdir), 1);

	/* Empty is a valid content; a missing directory is an error. */
	ck_assert_int_eq(state_write_file_atomic(path, "", 0), 0);
	ck_assert_int_eq(lstat_of(path).st_size, 0);
	path_in(path, tmpdir, "nowhere/file");
	ck_assert_int_eq(state_write_file_atomic(path, "x", 1), -ENOENT);
}
END_TEST

START_TEST(test_concurrent_reader_sees_only_whole_files)
{
	char path[PATH_MAX], a[4096], b[4096];
	pid_t writer;
	int status, seen_a = 0, seen_b = 0;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	path_in(path, tmpdir, "file");
	ck_assert_int_eq(state_write_file_atomic(path, a, sizeof(a)), 0);

	writer = fork();
	ck_assert_int_ge(writer, 0);
	if (writer == 0) {
		for (int i = 0; i < 200; i++)
			if (state_write_file_atomic(path, i % 2 ? a : b, sizeof(a)) < 0)
				_exit(1);
		_exit(0);
	}
	for (;;) {
		size_t len;
		char *got;
		pid_t done = waitpid(writer, &status, WNOHANG);

		got = read_file(path, &len);
		ck_assert_uint_eq(len, sizeof(a));
		if (memcmp(got, a, len) == 0)
			seen_a++;
		else if (memcmp(got, b, len) == 0)
			seen_b++;
		else
			ck_abort_msg("a reader saw a mix of two writes");
		free(got);
		if (done == writer)
			break;
	}
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_gt(seen_a + seen_b, 0);
	ck_assert_uint_eq(dir_entries(tmpdir), 1);
}
END_TEST

START_TEST(test_failed_write_keeps_old_contents_and_leaves_no_temp)
{
	struct rlimit old_limit, limit;
	char path[PATH_MAX], big[4096];

	path_in(path, tmpdir, "file");
	ck_assert_int_eq(state_write_file_atomic(path, "old contents\n", 13), 0);

	/* A file size limit makes the write fail half way, as a full disk would. */
	memset(big, 'n', sizeof(big));
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
	limit = old_limit;
	limit.rlim_cur = 1000;
	(void)signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
	ck_assert_int_eq(state_write_file_atomic(path, big, sizeof(big)), -EFBIG);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old_limit), 0);

	assert_file_text(path, "old contents\n");
	ck_assert_uint_eq(dir_entries(tmpdir), 1);
}
END_TEST

START_TEST(test_full_disk_keeps_the_old_state_and_leaves_no_temp)
{
	struct target_state in, out;
	char dir[PATH_MAX], path[PATH_MAX], *error;

	if (!scratch_mount_tmpfs(mountpoint))
		return;
	path_in(dir, mountpoint, "state");
	ck_assert_int_eq(state_init(dir), 0);
	fill_state(&in, "1.0", NULL);
	ck_assert_int_eq(state_save_target(dir, "hello", &in), 0);
	ck_assert_int_eq(state_set_last_check(dir, 1000), 0);
	target_state_clear(&in);
	fill_up(mountpoint);

	error = malloc(6000);
	ck_assert_ptr_nonnull(error);
	memset(error, 'x', 5999);
	error[5999] = '\0';
	fill_state(&in, "2.0", error);
	free(error);
	ck_assert_int_eq(state_save_target(dir, "hello", &in), -ENOSPC);
	ck_assert_int_lt(state_set_last_check(dir, 2000), 0);
	target_state_clear(&in);

	ck_assert_int_eq(state_load_target(dir, "hello", &out), 0);
	ck_assert_str_eq(out.version, "1.0");
	ck_assert_ptr_null(out.last_error);
	target_state_clear(&out);
	ck_assert_int_eq(state_last_check(dir), 1000);
	path_in(path, dir, "targets");
	ck_assert_uint_eq(dir_entries(path), 1);
	ck_assert_uint_eq(dir_entries(dir), 3); /* targets, cache, last_check */
}
END_TEST

/* --- cache directories -------------------------------------------------- */

START_TEST(test_cache_dir_is_private_to_the_given_owner)
{
	uid_t uid = geteuid() == 0 ? 1234 : geteuid();
	gid_t gid = geteuid() == 0 ? 5678 : getegid();
	char want[PATH_MAX], *path = NULL;
	struct stat st;

	ck_assert_int_eq(state_init(state_dir), 0);
	ck_assert_int_eq(state_cache_dir(state_dir, "hello", uid, gid, &path), 0);
	path_in(want, state_dir, "cache/hello");
	ck_assert_str_eq(path, want);
	st = lstat_of(path);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_uint_eq(st.st_uid, uid);
	ck_assert_uint_eq(st.st_gid, gid);
	free(path);

	/* Kept between runs, and put right when someone changed it. */
	path_in(want, state_dir, "cache/hello/etag");
	write_file(want, "W/\"1\"", 5, 0644);
	path_in(want, state_dir, "cache/hello");
	ck_assert_int_eq(chmod(want, 0777), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(want, 0, 0), 0);
	ck_assert_int_eq(state_cache_dir(state_dir, "hello", uid, gid, &path), 0);
	st = lstat_of(path);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_uint_eq(st.st_uid, uid);
	ck_assert_uint_eq(st.st_gid, gid);
	path_in(want, state_dir, "cache/hello/etag");
	assert_file_text(want, "W/\"1\"");
	free(path);
}
END_TEST

START_TEST(test_cache_dir_never_follows_a_planted_symlink)
{
	char outside[PATH_MAX], linkpath[PATH_MAX], *path = NULL;
	struct stat before, after;

	ck_assert_int_eq(state_init(state_dir), 0);
	path_in(outside, tmpdir, "outside");
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	before = lstat_of(outside);
	path_in(linkpath, state_dir, "cache/hello");
	ck_assert_int_eq(symlink(outside, linkpath), 0);

	ck_assert_int_eq(state_cache_dir(state_dir, "hello", 1234, 5678, &path), -ENOTDIR);
	ck_assert_ptr_null(path);
	after = lstat_of(outside);
	ck_assert_uint_eq(after.st_mode, before.st_mode);
	ck_assert_uint_eq(after.st_uid, before.st_uid);
	ck_assert_uint_eq(after.st_gid, before.st_gid);
	ck_assert(S_ISLNK(lstat_of(linkpath).st_mode));
}
END_TEST

static Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *layout = tcase_create("layout");
	TCase *targets = tcase_create("targets");
	TCase *last_check = tcase_create("last_check");
	TCase *atomic = tcase_create("atomic");
	TCase *cache = tcase_create("cache");
	TCase *all[] = { layout, targets, last_check, atomic, cache };

	tcase_add_test(layout, test_init_creates_the_layout);
	tcase_add_test(layout, test_init_refuses_a_file_in_the_way);
	tcase_add_test(layout, test_init_deletes_temporary_files_a_crash_left);

	tcase_add_test(targets, test_target_state_round_trips_every_field);
	tcase_add_test(targets, test_newlines_in_last_error_become_spaces_and_inject_nothing);
	tcase_add_test(targets, test_pending_counters_and_hold_round_trip);
	tcase_add_test(targets, test_floor_only_goes_up_and_a_state_without_one_gets_its_version);
	tcase_add_test(targets, test_previous_mode_is_octal_up_to_07777);
	tcase_add_test(targets, test_missing_file_reads_as_never);
	tcase_add_test(targets, test_damaged_file_is_ebadmsg_and_reads_as_never);
	tcase_add_test(targets, test_unknown_keys_and_blank_lines_are_not_damage);
	tcase_add_test(targets, test_every_state_that_saves_loads_back);
	tcase_add_test(targets, test_partial_download_round_trips_and_is_whole_or_ignored);

	tcase_add_test(last_check, test_last_check_round_trips_and_is_minus_one_when_never);

	tcase_add_test(atomic, test_atomic_write_replaces_whole_file_and_leaves_no_temp);
	tcase_add_test(atomic, test_concurrent_reader_sees_only_whole_files);
	tcase_add_test(atomic, test_failed_write_keeps_old_contents_and_leaves_no_temp);
	tcase_add_test(atomic, test_full_disk_keeps_the_old_state_and_leaves_no_temp);

	tcase_add_test(cache, test_cache_dir_is_private_to_the_given_owner);
	tcase_add_test(cache, test_cache_dir_never_follows_a_planted_symlink);

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		tcase_set_timeout(all[i], 60);
		suite_add_tcase(s, all[i]);
	}
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0) {
		fprintf(stderr, "cannot set up libsodium\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(state_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
