/*
 * check_release.c - directory targets (SPEC section 18): the entry checks
 * one by one, then real archives (written here with libarchive) unpacked,
 * committed, switched, pruned and recovered in a scratch directory, asserting
 * on what is left on disk.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "release.h"
#include "unit-files.h"

static char dir[PATH_MAX];
static char releases[PATH_MAX + 16];
static char current[PATH_MAX + 16];

static void setup(void)
{
	scratch_make(dir, sizeof(dir), "check_release");
	(void)snprintf(releases, sizeof(releases), "%s/releases", dir);
	(void)snprintf(current, sizeof(current), "%s/current", dir);
	ck_assert_int_eq(release_prepare(releases), 0);
}

static void teardown(void)
{
	scratch_remove();
}

/* --- the entry checks ---------------------------------------------------- */

struct entry {
	const char *name;
	mode_t type;
	const char *link;     /* symlink target */
	const char *hardlink; /* hard link target */
};

/* Feed ENTRIES to one set; the result of the last, its normalized name in NORM. */
static int check_entries(const struct entry *entries, size_t n, char *norm, char *err)
{
	struct release_names *names = release_names_new();
	int r = 0;

	ck_assert_ptr_nonnull(names);
	for (size_t i = 0; i < n; i++) {
		err[0] = '\0';
		r = release_check_entry(names, entries[i].name, entries[i].type, entries[i].link,
		                        entries[i].hardlink, norm, PATH_MAX, err, 512);
		if (i + 1 < n)
			ck_assert_msg(r >= 0, "entry %zu ('%s') refused: %s", i, entries[i].name, err);
	}
	release_names_free(names);
	return r;
}

#define REFUSED(why, ...)                                                                    \
	do {                                                                                   \
		const struct entry e_[] = { __VA_ARGS__ };                                      \
		char norm_[PATH_MAX], err_[512];                                                \
		int r_ = check_entries(e_, sizeof(e_) / sizeof(e_[0]), norm_, err_);            \
		ck_assert_msg(r_ == -EBADMSG, "admitted (%d): %s", r_, e_[sizeof(e_) / sizeof(e_[0]) - 1].name); \
		ck_assert_msg(strstr(err_, why), "error '%s' does not say '%s'", err_, why);   \
	} while (0)

#define ADMITTED(want, ...)                                                                  \
	do {                                                                                   \
		const struct entry e_[] = { __VA_ARGS__ };                                      \
		char norm_[PATH_MAX], err_[512];                                                \
		int r_ = check_entries(e_, sizeof(e_) / sizeof(e_[0]), norm_, err_);            \
		ck_assert_msg(r_ == 1, "refused (%d): %s", r_, err_);                          \
		ck_assert_str_eq(norm_, want);                                                  \
	} while (0)

START_TEST(test_absolute_and_dotdot_names_are_refused)
{
	REFUSED("absolute", { "/etc/passwd", S_IFREG });
	REFUSED("'..'", { "../x", S_IFREG });
	REFUSED("'..'", { "a/../../x", S_IFREG });
	REFUSED("'..'", { "a/..", S_IFDIR });
	REFUSED("not a directory", { "./", S_IFREG });
}
END_TEST

START_TEST(test_names_are_normalized_and_the_root_is_skipped)
{
	struct release_names *names = release_names_new();
	char norm[PATH_MAX], err[512];

	ck_assert_int_eq(release_check_entry(names, "./", S_IFDIR, NULL, NULL, norm, sizeof(norm), err,
	                                     sizeof(err)),
	                 0);
	release_names_free(names);
	ADMITTED("bin/shop", { "./bin//./shop", S_IFREG });
	ADMITTED("bin", { "bin/shop", S_IFREG }, { "./bin/", S_IFDIR });
}
END_TEST

START_TEST(test_devices_fifos_and_sockets_are_refused)
{
	REFUSED("device", { "null", S_IFCHR });
	REFUSED("device", { "sda", S_IFBLK });
	REFUSED("fifo", { "p", S_IFIFO });
	REFUSED("socket", { "s", S_IFSOCK });
}
END_TEST

START_TEST(test_symlinks_leaving_the_release_are_refused)
{
	REFUSED("outside", { "l", S_IFLNK, "/etc" });
	REFUSED("outside", { "l", S_IFLNK, ".." });
	REFUSED("outside", { "a/l", S_IFLNK, "../.." });
	REFUSED("outside", { "a/l", S_IFLNK, "b/../../../etc" });
	REFUSED("outside", { "l", S_IFLNK, "" });
	ADMITTED("a/b/l", { "a/b/l", S_IFLNK, "../../c" });
	ADMITTED("l", { "l", S_IFLNK, "./lib/../lib" });
}
END_TEST

START_TEST(test_nothing_is_written_through_an_earlier_symlink_or_file)
{
	REFUSED("which is a symlink", { "l", S_IFLNK, "d" }, { "l/passwd", S_IFREG });
	REFUSED("which is a symlink", { "d", S_IFDIR }, { "l", S_IFLNK, "d" }, { "l/x/y", S_IFREG });
	REFUSED("which is a file", { "f", S_IFREG }, { "f/x", S_IFREG });
}
END_TEST

START_TEST(test_a_name_appears_once_except_a_directory)
{
	REFUSED("twice", { "f", S_IFREG }, { "f", S_IFREG });
	REFUSED("twice", { "d", S_IFDIR }, { "d", S_IFLNK, "." });
	REFUSED("twice", { "d/f", S_IFREG }, { "d", S_IFLNK, "." });
	ADMITTED("d", { "d", S_IFDIR }, { "d", S_IFDIR });
}
END_TEST

START_TEST(test_hardlinks_only_to_files_extracted_before)
{
	REFUSED("hard link to '/etc/passwd', outside", { "p", S_IFREG, NULL, "/etc/passwd" });
	REFUSED("outside the release", { "p", S_IFREG, NULL, "../../etc/passwd" });
	REFUSED("not a file extracted before", { "p", S_IFREG, NULL, "later" }, );
	REFUSED("not a file extracted before", { "d", S_IFDIR }, { "p", S_IFREG, NULL, "d" });
	REFUSED("not a file extracted before", { "l", S_IFLNK, "f" }, { "p", S_IFREG, NULL, "l" });
	ADMITTED("p", { "f", S_IFREG }, { "p", S_IFREG, NULL, "./f" });
}
END_TEST

START_TEST(test_versions_that_cannot_name_a_directory)
{
	ck_assert(release_valid_version("1.4.2"));
	ck_assert(release_valid_version("2:1.0~rc1+b2"));
	ck_assert(!release_valid_version(""));
	ck_assert(!release_valid_version(".."));
	ck_assert(!release_valid_version(".hidden"));
	ck_assert(!release_valid_version("1/2"));
	ck_assert(!release_valid_version("1 2"));
}
END_TEST

/* --- real archives ------------------------------------------------------- */

struct aentry {
	const char *name;
	mode_t type; /* 0: a hard link to LINK */
	mode_t perm;
	const char *data; /* regular files */
	const char *link;
	int64_t size;     /* -1: strlen(data) */
};

/* Write ENTRIES as a tar (zstd-compressed when ZSTD) to PATH. */
static void make_archive(const char *path, const struct aentry *entries, size_t n, bool zstd)
{
	struct archive *a = archive_write_new();

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	if (zstd)
		ck_assert_int_eq(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		const struct aentry *x = &entries[i];
		size_t len = x->data ? strlen(x->data) : 0;

		archive_entry_set_pathname(e, x->name);
		archive_entry_set_mode(e, (x->type ? x->type : S_IFREG) | x->perm);
		if (x->type == S_IFLNK)
			archive_entry_set_symlink(e, x->link);
		if (x->type == 0)
			archive_entry_set_hardlink(e, x->link);
		if (x->type == S_IFREG)
			archive_entry_set_size(e, x->size >= 0 ? x->size : (int64_t)len);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (x->type == S_IFREG && len)
			ck_assert_int_eq(archive_write_data(a, x->data, len), (ssize_t)len);
		archive_entry_free(e);
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* Unpack ARCHIVE as VERSION; returns release_unpack_finish()'s result (*RET: the unpack, or NULL). */
static int unpack_as(const char *archive, const char *version, uint64_t max_unpacked,
                     uint64_t max_entries, struct release_unpack **ret, char *err)
{
	struct release_spec spec = { .path = current, .releases = releases, .version = version,
	                             .archive = archive, .max_unpacked = max_unpacked,
	                             .max_entries = max_entries };
	struct release_unpack *u = NULL;
	struct pollfd pfd;
	int r;

	err[0] = '\0';
	ck_assert_int_eq(release_unpack_start(&spec, &u), 0);
	pfd.fd = release_unpack_fd(u);
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
	r = release_unpack_finish(u, NULL, err, 512);
	if (ret)
		*ret = u;
	else
		release_unpack_free(u);
	return r;
}

/* Archive, unpack, commit VERSION with one file bin/shop saying VERSION. */
static void install(const char *version)
{
	char archive[PATH_MAX + 32], err[512];
	const struct aentry e[] = {
		{ "bin/", S_IFDIR, 0755 },
		{ "bin/shop", S_IFREG, 0755, version, NULL, -1 },
	};
	struct release_unpack *u;

	(void)snprintf(archive, sizeof(archive), "%s/a-%s.tar", dir, version);
	make_archive(archive, e, 2, false);
	ck_assert_msg(unpack_as(archive, version, 1 << 20, 0, &u, err) == 0, "unpack: %s", err);
	ck_assert_int_eq(release_commit(u, "bin/shop", NULL), 0);
	release_unpack_free(u);
}

/* The releases in RELEASES (not the temporary names of those being deleted in the background). */
static unsigned count_releases(void)
{
	char cmd[PATH_MAX + 256];
	unsigned n = 0;
	FILE *f;

	(void)snprintf(cmd, sizeof(cmd), "find '%s' -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l", releases);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%u", &n), 1);
	(void)pclose(f);
	return n;
}

static char *current_version(void)
{
	char *v = NULL;

	ck_assert_int_eq(release_current(current, releases, &v), 0);
	return v;
}

START_TEST(test_unpack_commit_switches_the_symlink_to_a_whole_release)
{
	char archive[PATH_MAX + 32], err[512], path[PATH_MAX * 2], *v;
	const struct aentry e[] = {
		{ "./", S_IFDIR, 0755 },
		{ "bin/", S_IFDIR, 0755 },
		{ "bin/shop", S_IFREG, 04755, "#!/bin/sh\necho 2.0\n", NULL, -1 },
		{ "lib/libshop.so", S_IFREG, 0644, "lib 2.0", NULL, -1 },
		{ "lib/libshop.so.2", S_IFLNK, 0777, NULL, "libshop.so" },
		{ "share/data", 0, 0644, NULL, "lib/libshop.so" },
	};
	struct release_report rep;
	struct release_unpack *u;
	struct release_spec spec = { .path = current, .releases = releases, .version = "2.0",
	                             .archive = archive, .max_unpacked = 1 << 20 };
	struct pollfd pfd;
	struct stat st;
	char *data;

	(void)snprintf(archive, sizeof(archive), "%s/a.tar.zst", dir);
	make_archive(archive, e, sizeof(e) / sizeof(e[0]), true);
	ck_assert_int_eq(release_unpack_start(&spec, &u), 0);
	pfd = (struct pollfd){ .fd = release_unpack_fd(u), .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
	ck_assert_msg(release_unpack_finish(u, &rep, err, sizeof(err)) == 0, "unpack: %s", err);
	ck_assert_uint_eq(rep.entries, 6);
	ck_assert_uint_eq(rep.dropped_bits, 1);
	/* Whole, under its temporary name, and PATH not yet there. */
	ck_assert_ptr_nonnull(strstr(release_unpack_dir(u), "/releases/.2.0.updater-"));
	ck_assert_int_eq(lstat(current, &st), -1);
	ck_assert_int_eq(release_commit(u, "bin/shop", NULL), 0);
	release_unpack_free(u);

	v = current_version();
	ck_assert_str_eq(v, "2.0");
	free(v);
	ck_assert_uint_eq(dir_entries(releases), 1);
	(void)snprintf(path, sizeof(path), "%s/bin/shop", current);
	st = lstat_of(path);
	ck_assert_uint_eq(st.st_mode & 07777, 0755); /* set-uid dropped */
	ck_assert_uint_eq(st.st_uid, geteuid());
	(void)snprintf(path, sizeof(path), "%s/lib/libshop.so.2", current);
	ck_assert(S_ISLNK(lstat_of(path).st_mode));
	(void)snprintf(path, sizeof(path), "%s/share/data", current);
	data = read_file(path, NULL);
	ck_assert_str_eq(data, "lib 2.0");
	free(data);
	(void)snprintf(path, sizeof(path), "%s/2.0", releases);
	ck_assert_uint_eq(lstat_of(path).st_mode & 07777, 0755);
}
END_TEST

/* The entries of RELEASES once what a refusal left is deleted (in the background: up to 10 s). */
static unsigned settled_entries(void)
{
	unsigned n = dir_entries(releases);

	for (int i = 0; i < 500 && n > 0; i++) {
		(void)usleep(20000);
		n = dir_entries(releases);
	}
	return n;
}

/* A refused archive leaves RELEASES as it was: empty. */
static void assert_refused(const struct aentry *e, size_t n, uint64_t max_unpacked,
                           uint64_t max_entries, const char *why)
{
	char archive[PATH_MAX + 32], err[512];
	struct stat st;
	int r;

	(void)snprintf(archive, sizeof(archive), "%s/bad.tar", dir);
	make_archive(archive, e, n, false);
	r = unpack_as(archive, "6.6", max_unpacked, max_entries, NULL, err);
	ck_assert_msg(r == -EBADMSG, "admitted (%d)", r);
	ck_assert_msg(strstr(err, why), "error '%s' does not say '%s'", err, why);
	ck_assert_uint_eq(settled_entries(), 0);
	ck_assert_int_eq(lstat(current, &st), -1);
}

START_TEST(test_a_directory_named_after_its_contents_is_unpacked)
{
	char archive[PATH_MAX + 32], err[512], path[PATH_MAX * 2], *data;
	const struct aentry e[] = {
		{ "a/b/c", S_IFREG, 0644, "c", NULL, -1 },
		{ "a/", S_IFDIR, 0755 },
		{ "a/b/", S_IFDIR, 0700 },
		{ "a/", S_IFDIR, 0755 },
	};
	struct release_unpack *u;

	(void)snprintf(archive, sizeof(archive), "%s/implicit.tar", dir);
	make_archive(archive, e, sizeof(e) / sizeof(e[0]), false);
	ck_assert_msg(unpack_as(archive, "1.0", 1 << 20, 0, &u, err) == 0, "unpack: %s", err);
	ck_assert_int_eq(release_commit(u, NULL, NULL), 0);
	release_unpack_free(u);
	(void)snprintf(path, sizeof(path), "%s/a/b/c", current);
	data = read_file(path, NULL);
	ck_assert_str_eq(data, "c");
	free(data);
}
END_TEST

START_TEST(test_a_chain_of_symlinks_out_of_the_release_is_refused)
{
	/* Each link alone reads as inside; together d/s/.. is the release's parent. */
	const struct aentry e[] = {
		{ "d/", S_IFDIR, 0755 },
		{ "t", S_IFLNK, 0777, NULL, "d/s/.." },
		{ "d/s", S_IFLNK, 0777, NULL, ".." },
	};

	assert_refused(e, 3, 1 << 20, 0, "leads out of the release");
}
END_TEST

START_TEST(test_more_than_max_unpacked_is_refused_before_writing)
{
	const struct aentry e[] = {
		{ "small", S_IFREG, 0644, "12345678", NULL, -1 },
		{ "big", S_IFREG, 0644, "0123456789", NULL, -1 },
	};

	assert_refused(e, 2, 12, 0, "more than max_unpacked");
}
END_TEST

START_TEST(test_more_than_max_entries_is_refused)
{
	const struct aentry e[] = {
		{ "a", S_IFREG, 0644, "a", NULL, -1 },
		{ "b", S_IFREG, 0644, "b", NULL, -1 },
		{ "c", S_IFREG, 0644, "c", NULL, -1 },
	};

	assert_refused(e, 3, 1 << 20, 2, "more than 2 entries");
}
END_TEST

START_TEST(test_hostile_entries_in_a_real_archive_are_refused)
{
	const struct aentry through[] = {
		{ "l", S_IFLNK, 0777, NULL, "/tmp" },
	};
	const struct aentry hard[] = {
		{ "p", 0, 0644, NULL, "/etc/passwd" },
	};

	assert_refused(through, 1, 1 << 20, 0, "outside the release");
	assert_refused(hard, 1, 1 << 20, 0, "hard link to '/etc/passwd', outside the release");
}
END_TEST

START_TEST(test_truncated_and_non_archives_are_refused)
{
	char archive[PATH_MAX + 32], err[512], *data;
	size_t len;
	const struct aentry e[] = {
		{ "f", S_IFREG, 0644, NULL, NULL, 0 },
	};
	char big[20000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	(void)snprintf(archive, sizeof(archive), "%s/t.tar", dir);
	{
		const struct aentry one[] = { { "f", S_IFREG, 0644, big, NULL, -1 } };

		make_archive(archive, one, 1, false);
	}
	data = read_file(archive, &len);
	write_file(archive, data, 5000, 0644);
	free(data);
	ck_assert_int_eq(unpack_as(archive, "1.0", 1 << 20, 0, NULL, err), -EBADMSG);
	ck_assert_msg(strstr(err, "damaged"), "%s", err);
	write_file(archive, "hello, not a tar\n", 17, 0644);
	ck_assert_int_eq(unpack_as(archive, "1.0", 1 << 20, 0, NULL, err), -EBADMSG);
	ck_assert_uint_eq(settled_entries(), 0);
	(void)e;
}
END_TEST

START_TEST(test_prune_keeps_current_previous_and_the_newest)
{
	const char *v[] = { "1.0", "1.1", "1.2", "1.3", "1.4" };
	char path[PATH_MAX * 2];
	struct stat st;

	for (size_t i = 0; i < 5; i++)
		install(v[i]);
	/* Current 1.4, previous 1.3: keep 3 leaves 1.2 as well. */
	ck_assert_int_eq(release_prune(releases, 3, "1.4", "1.3"), 2);
	ck_assert_uint_eq(count_releases(), 3);
	for (size_t i = 0; i < 5; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", releases, v[i]);
		ck_assert_int_eq(lstat(path, &st) == 0, i >= 2);
	}
	/* Current the oldest (rolled back twice), previous next: both stay, the newest goes. */
	ck_assert_int_eq(release_prune(releases, 2, "1.2", "1.3"), 1);
	(void)snprintf(path, sizeof(path), "%s/1.4", releases);
	ck_assert_int_eq(lstat(path, &st), -1);
	ck_assert_uint_eq(count_releases(), 2);
	/* keep: 1 still keeps the previous release. */
	ck_assert_int_eq(release_prune(releases, 1, "1.2", "1.3"), 0);
	ck_assert_uint_eq(count_releases(), 2);
}
END_TEST

START_TEST(test_switch_goes_back_and_refuses_a_missing_release)
{
	char *v;

	install("1.0");
	install("2.0");
	ck_assert_int_eq(release_switch(current, releases, "1.0", NULL, NULL), 0);
	v = current_version();
	ck_assert_str_eq(v, "1.0");
	free(v);
	ck_assert_int_eq(release_switch(current, releases, "3.0", NULL, NULL), -ENOENT);
	v = current_version();
	ck_assert_str_eq(v, "1.0");
	free(v);
	/* Committing the current version again is refused. */
	ck_assert_int_eq(release_discard(current, releases, "1.0"), -EBUSY);
	ck_assert_int_eq(release_discard(current, releases, "2.0"), 1);
	ck_assert_uint_eq(dir_entries(releases), 1);
}
END_TEST

START_TEST(test_recover_removes_temporaries_and_nothing_else)
{
	char path[PATH_MAX * 2];

	install("1.0");
	(void)snprintf(path, sizeof(path), "%s/.2.0.updater-AbC123", releases);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	(void)snprintf(path, sizeof(path), "%s/.2.0.updater-AbC123/sub", releases);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	(void)snprintf(path, sizeof(path), "%s/.3.0.updater-XyZ789", releases);
	write_file(path, "half an archive", 15, 0600);
	(void)snprintf(path, sizeof(path), "%s/.current.updater-QwE456", dir);
	ck_assert_int_eq(symlink("releases/2.0", path), 0);
	(void)snprintf(path, sizeof(path), "%s/.other.updater-QwE456", dir);
	write_file(path, "not ours", 8, 0600);
	ck_assert_int_eq(release_recover(current, releases), 3);
	ck_assert_uint_eq(dir_entries(releases), 1);
	/* current, releases, a-1.0.tar and the file that is not ours. */
	ck_assert_uint_eq(dir_entries(dir), 4);
}
END_TEST

START_TEST(test_a_releases_directory_others_may_write_is_refused)
{
	ck_assert_int_eq(release_prepare(releases), 0);
	ck_assert_int_eq(chmod(releases, 0775), 0);
	ck_assert_int_eq(release_prepare(releases), -EPERM);
	ck_assert_int_eq(chmod(releases, 0755), 0);
	ck_assert_int_eq(release_prepare(releases), 0);
	write_file(current, "x", 1, 0644);
	ck_assert_int_eq(release_prepare(current), -ENOTDIR);
}
END_TEST

START_TEST(test_current_refuses_a_link_elsewhere)
{
	char *v = NULL;

	ck_assert_int_eq(release_current(current, releases, &v), -ENOENT);
	ck_assert_int_eq(symlink("/etc", current), 0);
	ck_assert_int_eq(release_current(current, releases, &v), -EINVAL);
}
END_TEST

static Suite *release_suite(void)
{
	Suite *s = suite_create("release");
	TCase *checks = tcase_create("entry checks");
	TCase *unpack = tcase_create("unpack");
	TCase *keep = tcase_create("switch and keep");

	tcase_add_test(checks, test_absolute_and_dotdot_names_are_refused);
	tcase_add_test(checks, test_names_are_normalized_and_the_root_is_skipped);
	tcase_add_test(checks, test_devices_fifos_and_sockets_are_refused);
	tcase_add_test(checks, test_symlinks_leaving_the_release_are_refused);
	tcase_add_test(checks, test_nothing_is_written_through_an_earlier_symlink_or_file);
	tcase_add_test(checks, test_a_name_appears_once_except_a_directory);
	tcase_add_test(checks, test_hardlinks_only_to_files_extracted_before);
	tcase_add_test(checks, test_versions_that_cannot_name_a_directory);

	tcase_add_test(unpack, test_unpack_commit_switches_the_symlink_to_a_whole_release);
	tcase_add_test(unpack, test_a_directory_named_after_its_contents_is_unpacked);
	tcase_add_test(unpack, test_a_chain_of_symlinks_out_of_the_release_is_refused);
	tcase_add_test(unpack, test_more_than_max_unpacked_is_refused_before_writing);
	tcase_add_test(unpack, test_more_than_max_entries_is_refused);
	tcase_add_test(unpack, test_hostile_entries_in_a_real_archive_are_refused);
	tcase_add_test(unpack, test_truncated_and_non_archives_are_refused);

	tcase_add_test(keep, test_prune_keeps_current_previous_and_the_newest);
	tcase_add_test(keep, test_switch_goes_back_and_refuses_a_missing_release);
	tcase_add_test(keep, test_recover_removes_temporaries_and_nothing_else);
	tcase_add_test(keep, test_current_refuses_a_link_elsewhere);
	tcase_add_test(keep, test_a_releases_directory_others_may_write_is_refused);

	tcase_add_checked_fixture(checks, setup, teardown);
	tcase_add_checked_fixture(unpack, setup, teardown);
	tcase_add_checked_fixture(keep, setup, teardown);
	tcase_set_timeout(unpack, 30);
	suite_add_tcase(s, checks);
	suite_add_tcase(s, unpack);
	suite_add_tcase(s, keep);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(release_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
