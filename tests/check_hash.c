/*
 * check_hash.c - SHA-256 through libcrypto and hash jobs off the loop
 * (daemon/hash.c), and the partial staging files a resumed download goes on
 * with (swap_stage_keep / swap_stage_resume, SPEC 17).
 *
 * Digests are checked against the FIPS 180-2 vectors and against
 * libsodium's independent implementation; files are real, in a scratch
 * directory.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "hash.h"
#include "swap.h"
#include "unit-files.h"
#include "util.h"

static char dir[256];

static void setup(void)
{
	scratch_make(dir, sizeof(dir), "check_hash");
}

static void teardown(void)
{
	scratch_remove();
}

static void path_in(char *buf, size_t size, const char *name)
{
	ck_assert_int_lt(snprintf(buf, size, "%s/%s", dir, name), (int)size);
}

static void sodium_hex(const void *data, size_t len, char out[65])
{
	uint8_t d[32];

	crypto_hash_sha256(d, data, len);
	hex_encode(d, 32, out);
}

/* Wait for JOB with select(), as the loop does; fails after 30 s. */
static void wait_job(struct hash_job *job)
{
	time_t end = time(NULL) + 30;

	while (!hash_job_ready(job)) {
		fd_set rfds;
		struct timeval tv = { .tv_sec = 1 };

		ck_assert_int_lt(time(NULL), end);
		FD_ZERO(&rfds);
		FD_SET(hash_job_fd(job), &rfds);
		(void)select(hash_job_fd(job) + 1, &rfds, NULL, NULL, &tv);
	}
}

START_TEST(test_streaming_sha256_matches_fips_vectors)
{
	static const char *msg2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct sha256 h = { 0 };
	uint8_t d[SHA256_BYTES];
	char hex[65];

	ck_assert_int_eq(sha256_init(&h), 0);
	sha256_update(&h, "a", 1);
	sha256_update(&h, "bc", 2);
	sha256_final(&h, d);
	hex_encode(d, sizeof(d), hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_ptr_null(h.md); /* final releases it */

	ck_assert_int_eq(sha256_init(&h), 0);
	for (size_t i = 0; msg2[i]; i++)
		sha256_update(&h, msg2 + i, 1);
	sha256_final(&h, d);
	hex_encode(d, sizeof(d), hex);
	ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	sha256_free(&h); /* a released context: no-op */
}
END_TEST

START_TEST(test_file_hash_matches_libsodium_for_sizes_around_the_chunk)
{
	static const size_t sizes[] = { 0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 7 };
	char path[512], got[65], want[65];

	path_in(path, sizeof(path), "f");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *data = malloc(sizes[i] + 1);

		ck_assert_ptr_nonnull(data);
		for (size_t j = 0; j < sizes[i]; j++)
			data[j] = (uint8_t)(j * 131 + i);
		write_file(path, data, sizes[i], 0644);
		sodium_hex(data, sizes[i], want);
		ck_assert_int_eq(hash_file_sha256(path, got), 0);
		ck_assert_str_eq(got, want);
		free(data);
	}
}
END_TEST

START_TEST(test_file_hash_refuses_missing_symlink_and_directory)
{
	char path[512], link[512], hex[65];

	path_in(path, sizeof(path), "missing");
	ck_assert_int_eq(hash_file_sha256(path, hex), -ENOENT);
	path_in(link, sizeof(link), "link");
	ck_assert_int_eq(symlink("/etc/passwd", link), 0);
	ck_assert_int_eq(hash_file_sha256(link, hex), -ELOOP);
	ck_assert_int_eq(hash_file_sha256(dir, hex), -EINVAL);
}
END_TEST

START_TEST(test_path_job_gives_the_digest_and_who_the_file_was)
{
	char path[512], got[65], want[65];
	static uint8_t data[5 * 1024 * 1024 + 3];
	struct hash_job *job = NULL;
	struct stat st, now;

	for (size_t j = 0; j < sizeof(data); j++)
		data[j] = (uint8_t)(j ^ (j >> 8));
	path_in(path, sizeof(path), "f");
	write_file(path, data, sizeof(data), 0644);
	sodium_hex(data, sizeof(data), want);
	ck_assert_int_eq(hash_job_start_path(path, &job), 0);
	ck_assert_int_lt(hash_job_fd(job), FD_SETSIZE);
	wait_job(job);
	ck_assert_int_eq(hash_job_result(job, got, &st), 0);
	ck_assert_str_eq(got, want);
	now = lstat_of(path);
	ck_assert_uint_eq(st.st_ino, now.st_ino);
	ck_assert_int_eq(st.st_size, (off_t)sizeof(data));
	ck_assert_uint_eq(hash_job_bytes(job), sizeof(data));
	hash_job_free(job);
}
END_TEST

START_TEST(test_path_job_reports_open_errors)
{
	char path[512], hex[65];
	struct hash_job *job = NULL;

	path_in(path, sizeof(path), "missing");
	ck_assert_int_eq(hash_job_start_path(path, &job), 0);
	wait_job(job);
	ck_assert_int_eq(hash_job_result(job, hex, NULL), -ENOENT);
	hash_job_free(job);
}
END_TEST

START_TEST(test_fd_job_hashes_the_first_bytes_and_leaves_the_offset)
{
	char path[512], want[65];
	static const char text[] = "0123456789abcdefghij";
	struct hash_job *job = NULL;
	struct sha256 h = { 0 };
	uint8_t d[SHA256_BYTES];
	char hex[65];
	int fd;

	path_in(path, sizeof(path), "f");
	write_file(path, text, 20, 0600);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lseek(fd, 7, SEEK_SET), 7);
	ck_assert_int_eq(hash_job_start_fd(fd, 12, &job), 0);
	wait_job(job);
	ck_assert_int_eq(hash_job_take(job, &h), 0);
	hash_job_free(job);
	/* Going on where the job stopped gives the digest of the whole. */
	sha256_update(&h, text + 12, 8);
	sha256_final(&h, d);
	hex_encode(d, sizeof(d), hex);
	sodium_hex(text, 20, want);
	ck_assert_str_eq(hex, want);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 7);

	/* More than the file holds. */
	ck_assert_int_eq(hash_job_start_fd(fd, 21, &job), 0);
	wait_job(job);
	ck_assert_int_eq(hash_job_take(job, &h), -ENODATA);
	hash_job_free(job);
	(void)close(fd);
}
END_TEST

START_TEST(test_freeing_a_running_job_cancels_it_promptly)
{
	char path[512];
	struct hash_job *job = NULL;
	struct timespec t0, t1;
	int fd;

	/* 64 GiB of holes: minutes to read, so the job is surely still running. */
	path_in(path, sizeof(path), "big");
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)64 << 30), 0);
	(void)close(fd);
	ck_assert_int_eq(hash_job_start_path(path, &job), 0);
	usleep(20000);
	ck_assert(!hash_job_ready(job));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	hash_job_free(job);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 1000);
}
END_TEST

/* --- partial staging files ------------------------------------------------ */

START_TEST(test_kept_staging_file_resumes_where_it_stopped)
{
	static const char text[] = "the whole new file, in two goes";
	size_t len = sizeof(text) - 1, half = 11;
	char target[512], kept_path[512], hex[65];
	struct staging st, again;
	struct hash_job *job = NULL;
	uint8_t want[32];
	char *name = NULL, *data;
	struct stat ks;

	path_in(target, sizeof(target), "hello");
	write_file(target, "old", 3, 0755);
	crypto_hash_sha256(want, (const uint8_t *)text, len);
	ck_assert_int_eq(swap_stage_open(target, len, 1 << 20, &st), 0);
	ck_assert_int_eq(swap_stage_write(&st, text, half), 0);
	ck_assert_int_eq(swap_stage_keep(&st, &name), 0);
	ck_assert(swap_is_staging_name(target, name));
	path_in(kept_path, sizeof(kept_path), name);
	ks = lstat_of(kept_path);
	ck_assert_int_eq(ks.st_size, (off_t)half);
	ck_assert_uint_eq(ks.st_mode & 07777, 0600);
	/* Start-up clean-up leaves the kept one alone, and only it. */
	ck_assert_int_eq(swap_cleanup_staging_except(target, name), 0);
	ks = lstat_of(kept_path);

	/* A few bytes more were written than recorded: cut back to the record. */
	{
		int fd = open(kept_path, O_WRONLY | O_APPEND | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, "XYZ", 3), 3);
		(void)close(fd);
	}
	ck_assert_int_eq(swap_stage_resume(target, name, half, len, 1 << 20, &again), 0);
	ck_assert_int_eq(swap_stage_write(&again, text + half, 1), -EINVAL); /* no hash yet */
	ck_assert_int_eq(hash_job_start_fd(again.fd, half, &job), 0);
	wait_job(job);
	ck_assert_int_eq(hash_job_take(job, &again.hash), 0);
	hash_job_free(job);
	ck_assert_int_eq(swap_stage_write(&again, text + half, len - half), 0);
	ck_assert_int_eq(swap_stage_finish(&again, want, hex, sizeof(hex)), 0);
	ck_assert_int_eq(swap_commit(&again, NULL), 0);
	data = read_file(target, NULL);
	ck_assert_str_eq(data, text);
	free(data);
	free(name);
}
END_TEST

START_TEST(test_resume_refuses_what_is_not_a_kept_staging_file)
{
	char target[512], path[512];
	struct staging st;

	path_in(target, sizeof(target), "hello");
	write_file(target, "old", 3, 0755);
	/* Not a staging name, or a path. */
	ck_assert_int_eq(swap_stage_resume(target, "hello", 0, 10, 100, &st), -EINVAL);
	ck_assert_int_eq(swap_stage_resume(target, "../.hello.updater-abcdef", 0, 10, 100, &st), -EINVAL);
	/* Gone. */
	ck_assert_int_eq(swap_stage_resume(target, ".hello.updater-abcdef", 0, 10, 100, &st), -ENOENT);
	/* A planted symlink, a file with another mode, a file with two links. */
	path_in(path, sizeof(path), ".hello.updater-Linked");
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(swap_stage_resume(target, ".hello.updater-Linked", 0, 10, 100, &st), -EPERM);
	path_in(path, sizeof(path), ".hello.updater-Mode00");
	write_file(path, "12345", 5, 0644);
	ck_assert_int_eq(swap_stage_resume(target, ".hello.updater-Mode00", 0, 10, 100, &st), -EPERM);
	path_in(path, sizeof(path), ".hello.updater-Short0");
	write_file(path, "12345", 5, 0600);
	ck_assert_int_eq(swap_stage_resume(target, ".hello.updater-Short0", 6, 10, 100, &st), -ENODATA);
	/* More than the manifest's size. */
	ck_assert_int_eq(swap_stage_resume(target, ".hello.updater-Short0", 11, 10, 100, &st), -EINVAL);
	/* Nothing was deleted by a refusal. */
	ck_assert_uint_eq(dir_entries(dir), 4);
}
END_TEST

static Suite *hash_suite(void)
{
	Suite *s = suite_create("hash");
	TCase *digest = tcase_create("digest");
	TCase *jobs = tcase_create("jobs");
	TCase *partial = tcase_create("partial");
	TCase *all[] = { digest, jobs, partial };

	tcase_add_test(digest, test_streaming_sha256_matches_fips_vectors);
	tcase_add_test(digest, test_file_hash_matches_libsodium_for_sizes_around_the_chunk);
	tcase_add_test(digest, test_file_hash_refuses_missing_symlink_and_directory);
	tcase_add_test(jobs, test_path_job_gives_the_digest_and_who_the_file_was);
	tcase_add_test(jobs, test_path_job_reports_open_errors);
	tcase_add_test(jobs, test_fd_job_hashes_the_first_bytes_and_leaves_the_offset);
	tcase_add_test(jobs, test_freeing_a_running_job_cancels_it_promptly);
	tcase_add_test(partial, test_kept_staging_file_resumes_where_it_stopped);
	tcase_add_test(partial, test_resume_refuses_what_is_not_a_kept_staging_file);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
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
	sr = srunner_create(hash_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
