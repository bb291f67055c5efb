/*
 * check_swap.c - staging, verifying, committing and rolling back (SPEC section 8).
 *
 * Every test works on a real target in a fresh temporary directory and
 * asserts on what is left on disk: the bytes, mode, owner and inode of the
 * target, of .NAME.updater-prev and of the staging file, and the exact set of
 * names in the directory. libsodium's random generator is replaced (before
 * sodium_init) by one the tests can script, so a test can know the staging
 * name swap_stage_open() will try first and plant something there.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <sodium.h>

#include "swap.h"
#include "unit-files.h"
#include "util.h"

/* --- a random generator the tests can script --------------------------- */

/*
 * RNG_SYSTEM draws from getrandom(); RNG_COUNTING makes randombytes_uniform()
 * return 0, 1, 2, ... (mod its bound), so the first staging name is
 * predictable; RNG_CONSTANT always returns 0, so every name is the same.
 * Tests run in forked children: a mode set by one test ends with it.
 */
static enum { RNG_SYSTEM, RNG_COUNTING, RNG_CONSTANT } rng_mode;
static uint32_t rng_next;
static unsigned rng_uniform_calls;

static void rng_fill(void *const buf, const size_t size)
{
	uint8_t *p = buf;
	size_t left = size;

	while (left > 0) {
		ssize_t n = getrandom(p, left, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		p += n;
		left -= (size_t)n;
	}
}

static const char *rng_name(void)
{
	return "check_swap scripted";
}

static uint32_t rng_random(void)
{
	uint32_t v;

	rng_fill(&v, sizeof(v));
	return v;
}

static uint32_t rng_uniform(const uint32_t upper_bound)
{
	uint32_t v, min;

	rng_uniform_calls++;
	if (upper_bound < 2)
		return 0;
	switch (rng_mode) {
	case RNG_COUNTING:
		return rng_next++ % upper_bound;
	case RNG_CONSTANT:
		return 0;
	case RNG_SYSTEM:
		break;
	}
	/* Reject the low values that would make the modulo uneven. */
	min = (uint32_t)(-upper_bound) % upper_bound;
	do
		v = rng_random();
	while (v < min);
	return v % upper_bound;
}

static randombytes_implementation scripted_rng = {
	.implementation_name = rng_name,
	.random = rng_random,
	.uniform = rng_uniform,
	.buf = rng_fill,
};

/* The alphabet random_name() in swap.c draws its six characters from. */
static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* The Nth (0-based) staging name RNG_COUNTING makes for BASE. */
static void counted_name(const char *base, unsigned n, char *out, size_t size)
{
	char suffix[7];

	for (unsigned i = 0; i < 6; i++)
		suffix[i] = name_chars[(n * 6 + i) % (sizeof(name_chars) - 1)];
	suffix[6] = '\0';
	(void)snprintf(out, size, ".%s.updater-%s", base, suffix);
}

/* --- the fixture: TMP/bin/hello is the target, TMP/outside is elsewhere - */

static char tmpdir[64];
static char bindir[128];
static char target[256];
static char prevpath[256];
static char outside[128];
static char mountpoint[128];

static void setup(void)
{
	rng_mode = RNG_SYSTEM;
	rng_next = 0;
	rng_uniform_calls = 0;
	scratch_make(tmpdir, sizeof(tmpdir), "check_swap");
	(void)snprintf(bindir, sizeof(bindir), "%s/bin", tmpdir);
	(void)snprintf(target, sizeof(target), "%s/hello", bindir);
	(void)snprintf(prevpath, sizeof(prevpath), "%s/.hello.updater-prev", bindir);
	(void)snprintf(outside, sizeof(outside), "%s/outside", tmpdir);
	(void)snprintf(mountpoint, sizeof(mountpoint), "%s/full", tmpdir);
	ck_assert_int_eq(mkdir(bindir, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
}

static void teardown(void)
{
	scratch_remove();
}

/* --- helpers ------------------------------------------------------------ */

static void assert_file_bytes(const char *path, const void *want, size_t want_len)
{
	size_t len;
	char *got = read_file(path, &len);

	ck_assert_msg(len == want_len, "'%s' holds %zu bytes, expected %zu", path, len, want_len);
	ck_assert_msg(memcmp(got, want, len) == 0, "'%s' does not hold the expected bytes", path);
	free(got);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in DIR, sorted and joined with spaces: "a b c". */
static char *dir_listing(const char *dir)
{
	char *names[64], *out = NULL;
	size_t n = 0, len = 0;
	struct dirent *de;
	FILE *f;
	DIR *d = opendir(dir);

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		ck_assert_uint_lt(n, 64);
		names[n++] = strdup(de->d_name);
	}
	(void)closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	f = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s%s", i ? " " : "", names[i]);
		free(names[i]);
	}
	ck_assert_int_eq(fclose(f), 0);
	return out;
}

static void assert_dir_holds(const char *dir, const char *want)
{
	char *got = dir_listing(dir);

	ck_assert_msg(strcmp(got, want) == 0, "'%s' holds [%s], expected [%s]", dir, got, want);
	free(got);
}

static void sha256_of(const void *data, size_t len, uint8_t out[32])
{
	crypto_hash_sha256(out, data, len);
}

/* A new file staged and finished with the right size and sha256. */
static void stage_ok(const char *path, const void *data, size_t len, struct staging *st)
{
	uint8_t sha[32];
	char err[256] = "";
	int r;

	sha256_of(data, len, sha);
	ck_assert_int_eq(swap_stage_open(path, len, 1 << 20, st), 0);
	ck_assert_int_eq(swap_stage_write(st, data, len), 0);
	r = swap_stage_finish(st, sha, err, sizeof(err));
	ck_assert_msg(r == 0, "swap_stage_finish: %d: %s", r, err);
}

/* Stage DATA and commit it at PATH. */
static void install(const char *path, const char *data, struct swap_result *res)
{
	struct staging st;

	stage_ok(path, data, strlen(data), &st);
	ck_assert_int_eq(swap_commit(&st, res), 0);
	swap_stage_abort(&st);
}

static bool is_staging_name(const char *name, const char *base)
{
	size_t blen = strlen(base);

	if (name[0] != '.' || strncmp(name + 1, base, blen) != 0 ||
	    strncmp(name + 1 + blen, ".updater-", 9) != 0)
		return false;
	name += 1 + blen + 9;
	return strlen(name) == 6 && strspn(name, name_chars) == 6;
}

static const char OLD[] = "#!/bin/sh\necho old\n";
static const char NEW[] = "#!/bin/sh\necho new version\n";

/* --- staging ------------------------------------------------------------ */

START_TEST(test_stage_open_creates_private_file_beside_target_and_leaves_target)
{
	struct staging st;
	struct stat before, sst, after;
	uint8_t sha[32];
	char dir[PATH_MAX];
	const char *slash;

	write_file(target, OLD, strlen(OLD), 0755);
	before = lstat_of(target);
	sha256_of(NEW, strlen(NEW), sha);

	ck_assert_int_eq(swap_stage_open(target, strlen(NEW), 1 << 20, &st), 0);
	ck_assert_ptr_nonnull(st.path);
	slash = strrchr(st.path, '/');
	ck_assert_ptr_nonnull(slash);
	(void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - st.path), st.path);
	ck_assert_str_eq(dir, bindir);
	ck_assert_str_eq(slash + 1, st.name);
	ck_assert_msg(is_staging_name(st.name, "hello"), "'%s' is not .hello.updater-XXXXXX",
	              st.name);
	sst = lstat_of(st.path);
	ck_assert(S_ISREG(sst.st_mode));
	ck_assert_uint_eq(sst.st_mode & 07777, 0600);
	ck_assert_uint_eq(sst.st_uid, geteuid());
	ck_assert_uint_eq(sst.st_size, 0);
	/* Same directory, so the final rename stays on one filesystem. */
	ck_assert_uint_eq(sst.st_dev, before.st_dev);

	/* Written and verified, but not committed: PATH is still the old file. */
	ck_assert_int_eq(swap_stage_write(&st, NEW, strlen(NEW)), 0);
	ck_assert_int_eq(swap_stage_finish(&st, sha, NULL, 0), 0);
	assert_file_bytes(st.path, NEW, strlen(NEW));
	after = lstat_of(target);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_uint_eq(after.st_mode, before.st_mode);
	assert_file_bytes(target, OLD, strlen(OLD));
	ck_assert(!exists(prevpath));

	swap_stage_abort(&st);
	assert_dir_holds(bindir, "hello");
	assert_file_bytes(target, OLD, strlen(OLD));
}
END_TEST

START_TEST(test_symlink_at_target_is_refused_with_eloop)
{
	char victim[PATH_MAX];
	struct staging st;

	(void)snprintf(victim, sizeof(victim), "%s/victim", outside);
	write_file(victim, OLD, strlen(OLD), 0755);
	ck_assert_int_eq(symlink(victim, target), 0);

	ck_assert_int_eq(swap_stage_open(target, 4, 1 << 20, &st), -ELOOP);
	assert_dir_holds(bindir, "hello");
	ck_assert(S_ISLNK(lstat_of(target).st_mode));
	assert_file_bytes(victim, OLD, strlen(OLD));
}
END_TEST

START_TEST(test_directory_at_target_is_refused)
{
	struct staging st;

	ck_assert_int_eq(mkdir(target, 0755), 0);
	ck_assert_int_eq(swap_stage_open(target, 4, 1 << 20, &st), -EISDIR);
	assert_dir_holds(bindir, "hello");
}
END_TEST

START_TEST(test_missing_directory_is_enoent)
{
	char path[PATH_MAX];
	struct staging st;

	(void)snprintf(path, sizeof(path), "%s/nowhere/hello", tmpdir);
	ck_assert_int_eq(swap_stage_open(path, 4, 1 << 20, &st), -ENOENT);
	ck_assert(!exists(path));
	/* A path with no directory part is not a target either. */
	ck_assert_int_eq(swap_stage_open("hello", 4, 1 << 20, &st), -EINVAL);
}
END_TEST

START_TEST(test_abort_is_idempotent_and_harmless_on_a_zeroed_struct)
{
	struct staging st, zero;
	int keep;

	/* A zeroed struct holds fd 0 twice: abort must not close it. */
	memset(&zero, 0, sizeof(zero));
	keep = fcntl(STDIN_FILENO, F_GETFD);
	if (keep < 0) {
		int fd = open("/dev/null", O_RDONLY);

		ck_assert_int_eq(fd, STDIN_FILENO);
	}
	swap_stage_abort(&zero);
	ck_assert_msg(fcntl(STDIN_FILENO, F_GETFD) >= 0, "swap_stage_abort closed fd 0");
	swap_stage_abort(NULL);

	write_file(target, OLD, strlen(OLD), 0755);
	ck_assert_int_eq(swap_stage_open(target, 4, 1 << 20, &st), 0);
	swap_stage_abort(&st);
	swap_stage_abort(&st);
	ck_assert_int_eq(swap_stage_write(&st, "abcd", 4), -EBADF);
	ck_assert_int_eq(swap_stage_finish(&st, (const uint8_t[32]){ 0 }, NULL, 0), -EBADF);
	ck_assert_int_eq(swap_commit(&st, NULL), -EINVAL);

	/* Finished, then given up: the commit that follows by mistake changes nothing. */
	stage_ok(target, NEW, strlen(NEW), &st);
	swap_stage_abort(&st);
	ck_assert_int_eq(swap_commit(&st, NULL), -EINVAL);
	assert_dir_holds(bindir, "hello");
	assert_file_bytes(target, OLD, strlen(OLD));
}
END_TEST

/* --- size and sha256 ---------------------------------------------------- */

/* After a failed staging and an abort: no staging file, PATH as it was. */
static void assert_aborted_cleanly(struct staging *st, ino_t old_ino)
{
	swap_stage_abort(st);
	assert_dir_holds(bindir, "hello");
	assert_file_bytes(target, OLD, strlen(OLD));
	ck_assert_uint_eq(lstat_of(target).st_ino, old_ino);
}

START_TEST(test_right_bytes_and_sha256_finish)
{
	struct staging st;
	uint8_t sha[32];
	char err[256] = "";
	const size_t len = strlen(NEW);

	write_file(target, OLD, strlen(OLD), 0755);
	sha256_of(NEW, len, sha);
	ck_assert_int_eq(swap_stage_open(target, len, len, &st), 0);
	/* In pieces, with an empty write among them: hashed as one stream. */
	ck_assert_int_eq(swap_stage_write(&st, NEW, 3), 0);
	ck_assert_int_eq(swap_stage_write(&st, NEW + 3, 0), 0);
	ck_assert_int_eq(swap_stage_write(&st, NEW + 3, len - 3), 0);
	ck_assert_uint_eq(st.written, len);
	ck_assert_int_eq(swap_stage_finish(&st, sha, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	assert_file_bytes(st.path, NEW, len);
	swap_stage_abort(&st);
}
END_TEST

START_TEST(test_one_byte_past_size_fails_and_leaves_target)
{
	ino_t ino;
	struct staging st;
	const size_t len = strlen(NEW);

	write_file(target, OLD, strlen(OLD), 0755);
	ino = lstat_of(target).st_ino;

	/* All the bytes, then one more. */
	ck_assert_int_eq(swap_stage_open(target, len, 1 << 20, &st), 0);
	ck_assert_int_eq(swap_stage_write(&st, NEW, len), 0);
	ck_assert_int_eq(swap_stage_write(&st, "x", 1), -EFBIG);
	ck_assert_uint_eq(st.written, len);
	ck_assert_uint_eq(lstat_of(st.path).st_size, len);
	assert_aborted_cleanly(&st, ino);

	/* One write that is a byte too long writes nothing. */
	ck_assert_int_eq(swap_stage_open(target, len - 1, 1 << 20, &st), 0);
	ck_assert_int_eq(swap_stage_write(&st, NEW, len), -EFBIG);
	ck_assert_uint_eq(st.written, 0);
	ck_assert_uint_eq(lstat_of(st.path).st_size, 0);
	assert_aborted_cleanly(&st, ino);
}
END_TEST

START_TEST(test_fewer_bytes_fail_finish_with_a_sentence)
{
	ino_t ino;
	struct staging st;
	uint8_t sha[32];
	char err[256] = "";
	char want[128];
	const size_t len = strlen(NEW);

	write_file(target, OLD, strlen(OLD), 0755);
	ino = lstat_of(target).st_ino;
	sha256_of(NEW, len, sha);
	ck_assert_int_eq(swap_stage_open(target, len, 1 << 20, &st), 0);
	ck_assert_int_eq(swap_stage_write(&st, NEW, len - 1), 0);
	ck_assert_int_eq(swap_stage_finish(&st, sha, err, sizeof(err)), -EIO);
	(void)snprintf(want, sizeof(want), "download is %zu bytes, the manifest says %zu", len - 1,
	               len);
	ck_assert_str_eq(err, want);
	assert_aborted_cleanly(&st, ino);

	/* Nothing at all is short too. */
	ck_assert_int_eq(swap_stage_open(target, len, 1 << 20, &st), 0);
	ck_assert_int_eq(swap_stage_finish(&st, sha, NULL, 0), -EIO);
	assert_aborted_cleanly(&st, ino);
}
END_TEST

START_TEST(test_wrong_sha256_fails_finish_with_a_sentence)
{
	ino_t ino;
	struct staging st;
	uint8_t sha[32], wrong[32];
	char err[256] = "", got_hex[65], want_hex[65], want[256];
	const size_t len = strlen(NEW);

	write_file(target, OLD, strlen(OLD), 0755);
	ino = lstat_of(target).st_ino;
	sha256_of(NEW, len, sha);
	memcpy(wrong, sha, sizeof(wrong));
	wrong[31] ^= 1;
	hex_encode(sha, 32, got_hex);
	hex_encode(wrong, 32, want_hex);

	ck_assert_int_eq(swap_stage_open(target, len, 1 << 20, &st), 0);
	ck_assert_int_eq(swap_stage_write(&st, NEW, len), 0);
	ck_assert_int_eq(swap_stage_finish(&st, wrong, err, sizeof(err)), -EIO);
	(void)snprintf(want, sizeof(want), "sha256 of the download is %s, the manifest says %s",
	               got_hex, want_hex);
	ck_assert_str_eq(err, want);
	/* A failed finish never committed anything. */
	ck_assert_int_eq(swap_commit(&st, NULL), -EINVAL);
	assert_aborted_cleanly(&st, ino);
}
END_TEST

START_TEST(test_over_max_size_is_efbig)
{
	ino_t ino;
	struct staging st;
	char buf[64];

	memset(buf, 'z', sizeof(buf));
	write_file(target, OLD, strlen(OLD), 0755);
	ino = lstat_of(target).st_ino;

	/* The manifest claims 64 bytes, but only 10 are allowed. */
	ck_assert_int_eq(swap_stage_open(target, sizeof(buf), 10, &st), 0);
	ck_assert_int_eq(swap_stage_write(&st, buf, 11), -EFBIG);
	ck_assert_uint_eq(st.written, 0);
	ck_assert_int_eq(swap_stage_write(&st, buf, 10), 0);
	ck_assert_int_eq(swap_stage_write(&st, buf, 1), -EFBIG);
	ck_assert_uint_eq(lstat_of(st.path).st_size, 10);
	assert_aborted_cleanly(&st, ino);
}
END_TEST

/* --- owner and mode ----------------------------------------------------- */

START_TEST(test_owner_and_mode_are_copied_from_current_file)
{
	struct staging st;
	struct stat sst;

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: chown to 1234:5678 needs root\n");
		return;
	}
	write_file(target, OLD, strlen(OLD), 0750);
	ck_assert_int_eq(chown(target, 1234, 5678), 0);
	ck_assert_int_eq(chmod(target, 0750), 0);

	stage_ok(target, NEW, strlen(NEW), &st);
	sst = lstat_of(st.path);
	ck_assert_uint_eq(sst.st_uid, 1234);
	ck_assert_uint_eq(sst.st_gid, 5678);
	ck_assert_uint_eq(sst.st_mode & 07777, 0750);
	ck_assert_int_eq(swap_commit(&st, NULL), 0);
	sst = lstat_of(target);
	ck_assert_uint_eq(sst.st_uid, 1234);
	ck_assert_uint_eq(sst.st_gid, 5678);
	ck_assert_uint_eq(sst.st_mode & 07777, 0750);
	assert_file_bytes(target, NEW, strlen(NEW));
}
END_TEST

START_TEST(test_setuid_setgid_and_sticky_bits_are_not_carried_over)
{
	struct staging st;
	struct stat sst;

	write_file(target, OLD, strlen(OLD), 0755);
	ck_assert_int_eq(chmod(target, 07755), 0);
	ck_assert_uint_eq(lstat_of(target).st_mode & 07777, 07755);

	stage_ok(target, NEW, strlen(NEW), &st);
	ck_assert_uint_eq(lstat_of(st.path).st_mode & 07777, 0755);
	ck_assert_int_eq(swap_commit(&st, NULL), 0);
	sst = lstat_of(target);
	ck_assert_uint_eq(sst.st_mode & 07777, 0755);
	ck_assert_uint_eq(sst.st_uid, geteuid());
}
END_TEST

START_TEST(test_no_current_file_gives_0755_root_root)
{
	struct staging st;
	struct stat sst;
	bool root = geteuid() == 0;

	/* Neither the umask nor root's current group leak into the new file. */
	(void)umask(077);
	if (root)
		ck_assert_int_eq(setegid(5678), 0);
	stage_ok(target, NEW, strlen(NEW), &st);
	if (root)
		ck_assert_int_eq(setegid(0), 0);
	sst = lstat_of(st.path);
	ck_assert_uint_eq(sst.st_mode & 07777, 0755);
	ck_assert_uint_eq(sst.st_uid, geteuid());
	ck_assert_uint_eq(sst.st_gid, root ? 0 : getegid());
	ck_assert_int_eq(swap_commit(&st, NULL), 0);
	sst = lstat_of(target);
	ck_assert_uint_eq(sst.st_mode & 07777, 0755);
	ck_assert_uint_eq(sst.st_uid, geteuid());
	ck_assert_uint_eq(sst.st_gid, root ? 0 : getegid());
}
END_TEST

/* --- commit ------------------------------------------------------------- */

START_TEST(test_commit_puts_new_file_at_path_and_old_inode_at_prev)
{
	struct staging st;
	struct swap_result res;
	struct stat old, staged, now, prev;

	write_file(target, OLD, strlen(OLD), 0755);
	old = lstat_of(target);
	stage_ok(target, NEW, strlen(NEW), &st);
	staged = lstat_of(st.path);

	memset(&res, 0xa5, sizeof(res));
	ck_assert_int_eq(swap_commit(&st, &res), 0);
	ck_assert(st.committed);
	now = lstat_of(target);
	prev = lstat_of(prevpath);

	assert_file_bytes(target, NEW, strlen(NEW));
	ck_assert_uint_ne(now.st_ino, old.st_ino);
	ck_assert_uint_eq(now.st_ino, staged.st_ino); /* renamed into place, not copied */
	ck_assert_uint_eq(prev.st_ino, old.st_ino);   /* a hard link to the old inode */
	ck_assert_uint_eq(prev.st_dev, old.st_dev);
	ck_assert_uint_eq(prev.st_nlink, 1);
	assert_file_bytes(prevpath, OLD, strlen(OLD));
	ck_assert(res.had_old);
	ck_assert_uint_eq(res.old_dev, old.st_dev);
	ck_assert_uint_eq(res.old_ino, old.st_ino);
	assert_dir_holds(bindir, ".hello.updater-prev hello");

	/* abort after commit is a no-op: the committed file stays. */
	swap_stage_abort(&st);
	assert_file_bytes(target, NEW, strlen(NEW));
	assert_dir_holds(bindir, ".hello.updater-prev hello");
}
END_TEST

START_TEST(test_second_commit_replaces_prev)
{
	struct swap_result res;
	struct stat v1, v2, v3, prev;

	write_file(target, "v1\n", 3, 0755);
	v1 = lstat_of(target);
	install(target, "v2\n", &res);
	v2 = lstat_of(target);
	ck_assert_uint_eq(lstat_of(prevpath).st_ino, v1.st_ino);

	install(target, "v3\n", &res);
	v3 = lstat_of(target);
	prev = lstat_of(prevpath);
	ck_assert_uint_eq(prev.st_ino, v2.st_ino);
	ck_assert_uint_ne(v3.st_ino, v2.st_ino);
	ck_assert(res.had_old);
	ck_assert_uint_eq(res.old_ino, v2.st_ino);
	assert_file_bytes(target, "v3\n", 3);
	assert_file_bytes(prevpath, "v2\n", 3);
	/* The temporary link that replaced -prev is gone; v1 is gone with it. */
	assert_dir_holds(bindir, ".hello.updater-prev hello");
}
END_TEST

START_TEST(test_commit_without_current_file_has_no_old_and_no_prev)
{
	struct swap_result res;

	memset(&res, 0xa5, sizeof(res));
	install(target, "v1\n", &res);
	ck_assert(!res.had_old);
	ck_assert_uint_eq(res.old_ino, 0);
	assert_file_bytes(target, "v1\n", 3);
	assert_dir_holds(bindir, "hello");
}
END_TEST

START_TEST(test_commit_before_finish_is_refused)
{
	struct staging st;

	write_file(target, OLD, strlen(OLD), 0755);
	ck_assert_int_eq(swap_stage_open(target, strlen(NEW), 1 << 20, &st), 0);
	ck_assert_int_eq(swap_stage_write(&st, NEW, strlen(NEW)), 0);
	ck_assert_int_eq(swap_commit(&st, NULL), -EINVAL);
	assert_file_bytes(target, OLD, strlen(OLD));
	ck_assert(!exists(prevpath));
	swap_stage_abort(&st);
	assert_dir_holds(bindir, "hello");
}
END_TEST

/* --- privileges of -prev (SPEC 14) ------------------------------------- */

/* A file capability (cap_net_bind_service+ep) as the kernel stores it: VFS_CAP_REVISION_2. */
static const uint8_t cap_xattr[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00 };

static bool has_caps(const char *path)
{
	return getxattr(path, "security.capability", NULL, 0) > 0;
}

START_TEST(test_prev_loses_setuid_setgid_and_capabilities_and_the_mode_is_reported)
{
	struct swap_result res;
	struct stat before;
	bool caps;

	write_file(target, "v1\n", 3, 0755);
	ck_assert_int_eq(chmod(target, 06755), 0);
	/* Only root may set a capability; without, the mode alone is checked. */
	caps = setxattr(target, "security.capability", cap_xattr, sizeof(cap_xattr), 0) == 0;
	ck_assert_int_eq(chmod(target, 06755), 0);
	before = lstat_of(target);
	install(target, "v2\n", &res);
	ck_assert_int_eq(res.old_mode, 06755);
	ck_assert_uint_eq(lstat_of(prevpath).st_ino, before.st_ino);
	ck_assert_uint_eq(lstat_of(prevpath).st_mode & 07777, 0755);
	ck_assert(!caps || !has_caps(prevpath));
	/* The new file never gets set-uid either. */
	ck_assert_uint_eq(lstat_of(target).st_mode & 07777, 0755);
}
END_TEST

START_TEST(test_rollback_restores_the_recorded_mode_and_strips_the_new_prev)
{
	struct swap_result res;

	write_file(target, "v1\n", 3, 0755);
	ck_assert_int_eq(chmod(target, 04750), 0);
	install(target, "v2\n", &res);
	ck_assert_int_eq(res.old_mode, 04750);
	ck_assert_uint_eq(lstat_of(prevpath).st_mode & 07777, 0750);
	/* What is at PATH now is set-uid too (say, an outside chmod). */
	ck_assert_int_eq(chmod(target, 04750), 0);
	ck_assert_int_eq(swap_rollback(target, res.old_mode, &res), 0);
	assert_file_bytes(target, "v1\n", 3);
	ck_assert_uint_eq(lstat_of(target).st_mode & 07777, 04750);
	ck_assert_int_eq(res.old_mode, 04750);
	assert_file_bytes(prevpath, "v2\n", 3);
	ck_assert_uint_eq(lstat_of(prevpath).st_mode & 07777, 0750);
	assert_dir_holds(bindir, ".hello.updater-prev hello");
}
END_TEST

START_TEST(test_prev_strip_at_startup_takes_setuid_from_a_leftover)
{
	write_file(prevpath, "v0\n", 3, 0755);
	ck_assert_int_eq(chmod(prevpath, 02755), 0);
	ck_assert_int_eq(swap_prev_strip(target), 1);
	ck_assert_uint_eq(lstat_of(prevpath).st_mode & 07777, 0755);
	ck_assert_int_eq(swap_prev_strip(target), 0);
	ck_assert_int_eq(unlink(prevpath), 0);
	ck_assert_int_eq(swap_prev_strip(target), 0);
}
END_TEST

START_TEST(test_smoke_access_is_0550_for_the_group_then_the_final_mode_at_commit)
{
	struct staging st;

	write_file(target, "v1\n", 3, 0700);
	stage_ok(target, "v2\n", 3, &st);
	ck_assert_uint_eq(lstat_of(st.path).st_mode & 07777, 0700);
	ck_assert_int_eq(swap_stage_smoke_access(&st, getegid()), 0);
	ck_assert_uint_eq(lstat_of(st.path).st_mode & 07777, 0550);
	ck_assert_int_eq(swap_commit(&st, NULL), 0);
	ck_assert_uint_eq(lstat_of(target).st_mode & 07777, 0700);
	ck_assert_uint_eq(lstat_of(target).st_uid, geteuid());
	swap_stage_abort(&st);
	assert_dir_holds(bindir, ".hello.updater-prev hello");
}
END_TEST

/* --- rollback ----------------------------------------------------------- */

START_TEST(test_rollback_restores_old_file_and_keeps_rolled_back_one_as_prev)
{
	struct swap_result res;
	struct stat v1, v2, now, prev;

	write_file(target, "v1\n", 3, 0755);
	v1 = lstat_of(target);
	install(target, "v2\n", &res);
	v2 = lstat_of(target);

	memset(&res, 0xa5, sizeof(res));
	ck_assert_int_eq(swap_rollback(target, -1, &res), 0);
	now = lstat_of(target);
	prev = lstat_of(prevpath);
	assert_file_bytes(target, "v1\n", 3);
	assert_file_bytes(prevpath, "v2\n", 3);
	ck_assert_uint_eq(now.st_ino, v1.st_ino);
	ck_assert_uint_eq(prev.st_ino, v2.st_ino);
	ck_assert(res.had_old);
	ck_assert_uint_eq(res.old_dev, v2.st_dev);
	ck_assert_uint_eq(res.old_ino, v2.st_ino);
	assert_dir_holds(bindir, ".hello.updater-prev hello");

	/* Rolling back again goes forward again. */
	ck_assert_int_eq(swap_rollback(target, -1, &res), 0);
	assert_file_bytes(target, "v2\n", 3);
	assert_file_bytes(prevpath, "v1\n", 3);
	ck_assert_uint_eq(lstat_of(target).st_ino, v2.st_ino);
	ck_assert_uint_eq(res.old_ino, v1.st_ino);
	assert_dir_holds(bindir, ".hello.updater-prev hello");
}
END_TEST

START_TEST(test_rollback_without_prev_is_enoent)
{
	struct swap_result res = { .had_old = true, .old_ino = 42 };
	struct stat before;

	ck_assert_int_eq(swap_rollback(target, -1, &res), -ENOENT);
	write_file(target, OLD, strlen(OLD), 0755);
	before = lstat_of(target);
	ck_assert_int_eq(swap_rollback(target, -1, &res), -ENOENT);
	ck_assert_uint_eq(lstat_of(target).st_ino, before.st_ino);
	assert_file_bytes(target, OLD, strlen(OLD));
	assert_dir_holds(bindir, "hello");
	/* *ret is untouched on failure. */
	ck_assert(res.had_old);
	ck_assert_uint_eq(res.old_ino, 42);
}
END_TEST

START_TEST(test_rollback_when_prev_is_the_file_itself_is_enoent_and_leaves_no_link)
{
	struct stat before;

	/* A crash between a swap's -prev link and its rename leaves one file under both names. */
	write_file(target, OLD, strlen(OLD), 0755);
	ck_assert_int_eq(link(target, prevpath), 0);
	before = lstat_of(target);
	ck_assert_int_eq(swap_rollback(target, -1, NULL), -ENOENT);
	ck_assert_uint_eq(lstat_of(target).st_ino, before.st_ino);
	assert_file_bytes(target, OLD, strlen(OLD));
	assert_dir_holds(bindir, ".hello.updater-prev hello");
}
END_TEST

START_TEST(test_rollback_with_only_prev_puts_it_back)
{
	struct swap_result res;

	write_file(prevpath, OLD, strlen(OLD), 0755);
	ck_assert_int_eq(swap_rollback(target, -1, &res), 0);
	ck_assert(!res.had_old);
	assert_file_bytes(target, OLD, strlen(OLD));
	assert_dir_holds(bindir, "hello");
}
END_TEST

START_TEST(test_rollback_refuses_symlink_at_path)
{
	char victim[PATH_MAX];

	(void)snprintf(victim, sizeof(victim), "%s/victim", outside);
	write_file(victim, NEW, strlen(NEW), 0755);
	write_file(prevpath, OLD, strlen(OLD), 0755);
	ck_assert_int_eq(symlink(victim, target), 0);
	ck_assert_int_eq(swap_rollback(target, -1, NULL), -ELOOP);
	ck_assert(S_ISLNK(lstat_of(target).st_mode));
	assert_file_bytes(victim, NEW, strlen(NEW));
	assert_file_bytes(prevpath, OLD, strlen(OLD));
}
END_TEST

/* --- start-up cleanup --------------------------------------------------- */

START_TEST(test_cleanup_removes_only_staging_files_and_counts_them)
{
	static const char *const leftovers[] = {
		".hello.updater-Ab3dE9", ".hello.updater-000000", ".hello.updater-zzzzzz",
	};
	static const char *const kept[] = {
		".hello.updater-prev",    /* the previous version */
		".hello.updater-ABCDEFG", /* seven characters */
		".hello.updater-ABC-EF",  /* not alphanumeric */
		".hello.updater-ABCDE",   /* five */
		".hello.tmp-ABCDEF",      /* another infix */
		".other.updater-ABCDEF",  /* another target's */
		".hellox.updater-ABCDEF",
		".hidden",
		"hello.updater-ABCDEF",   /* no leading dot */
	};
	char path[PATH_MAX], victim[PATH_MAX], want[1024] = "";
	struct staging st;
	char *crashed;

	(void)snprintf(victim, sizeof(victim), "%s/victim", outside);
	write_file(victim, OLD, strlen(OLD), 0755);
	write_file(target, OLD, strlen(OLD), 0755);
	for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", bindir, leftovers[i]);
		write_file(path, "junk", 4, 0600);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", bindir, kept[i]);
		write_file(path, "keep", 4, 0600);
	}
	/* A staging-named symlink: the link goes, the file it names stays. */
	(void)snprintf(path, sizeof(path), "%s/.hello.updater-LiNk00", bindir);
	ck_assert_int_eq(symlink(victim, path), 0);
	/* What a crashed daemon leaves: a real staging file, never aborted. */
	ck_assert_int_eq(swap_stage_open(target, 4, 1 << 20, &st), 0);
	ck_assert_int_eq(swap_stage_write(&st, "half", 2), 0);
	crashed = strdup(st.path);
	(void)close(st.fd);
	(void)close(st.dirfd);
	free(st.path);
	free(st.name);
	free(st.target_path);
	ck_assert(exists(crashed));

	ck_assert_int_eq(swap_cleanup_staging(target), 5);
	ck_assert(!exists(crashed));
	free(crashed);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", bindir, kept[i]);
		assert_file_bytes(path, "keep", 4);
	}
	assert_file_bytes(target, OLD, strlen(OLD));
	assert_file_bytes(victim, OLD, strlen(OLD));
	{
		const char *sorted[] = {
			".hello.tmp-ABCDEF",    ".hello.updater-ABC-EF", ".hello.updater-ABCDE",
			".hello.updater-ABCDEFG", ".hello.updater-prev", ".hellox.updater-ABCDEF",
			".hidden",              ".other.updater-ABCDEF", "hello",
			"hello.updater-ABCDEF",
		};

		for (size_t i = 0; i < sizeof(sorted) / sizeof(sorted[0]); i++) {
			(void)strcat(want, i ? " " : "");
			(void)strcat(want, sorted[i]);
		}
	}
	assert_dir_holds(bindir, want);

	/* Nothing left: zero. */
	ck_assert_int_eq(swap_cleanup_staging(target), 0);
}
END_TEST

START_TEST(test_cleanup_in_missing_directory_is_enoent)
{
	char path[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/nowhere/hello", tmpdir);
	ck_assert_int_eq(swap_cleanup_staging(path), -ENOENT);
}
END_TEST

/* --- hashing ------------------------------------------------------------ */

/* What /usr/bin/sha256sum says about PATH. */
static void sha256sum(const char *path, char out[65])
{
	char cmd[PATH_MAX + 64], line[256];
	FILE *p;

	(void)snprintf(cmd, sizeof(cmd), "/usr/bin/sha256sum '%s'", path);
	p = popen(cmd, "re");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_uint_gt(strlen(line), 64);
	memcpy(out, line, 64);
	out[64] = '\0';
}

START_TEST(test_file_sha256_matches_known_digests_and_sha256sum)
{
	char hex[65], want[65];
	uint8_t *big;
	const size_t big_len = 300 * 1024 + 7; /* more than one read buffer */

	write_file(target, "", 0, 0644);
	ck_assert_int_eq(swap_file_sha256(target, hex), 0);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	write_file(target, "abc", 3, 0644);
	ck_assert_int_eq(swap_file_sha256(target, hex), 0);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	big = malloc(big_len);
	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 9));
	write_file(target, big, big_len, 0644);
	free(big);
	ck_assert_int_eq(swap_file_sha256(target, hex), 0);
	sha256sum(target, want);
	ck_assert_str_eq(hex, want);
}
END_TEST

START_TEST(test_file_sha256_of_missing_symlink_or_directory_fails)
{
	char hex[65] = "untouched", linkpath[PATH_MAX];

	ck_assert_int_eq(swap_file_sha256(target, hex), -ENOENT);
	write_file(target, "abc", 3, 0644);
	(void)snprintf(linkpath, sizeof(linkpath), "%s/link", bindir);
	ck_assert_int_eq(symlink(target, linkpath), 0);
	ck_assert_int_eq(swap_file_sha256(linkpath, hex), -ELOOP);
	ck_assert_int_eq(swap_file_sha256(bindir, hex), -EINVAL);
	ck_assert_str_eq(hex, "untouched");
}
END_TEST

/* --- planted names ------------------------------------------------------ */

START_TEST(test_scripted_rng_predicts_the_first_staging_name)
{
	struct staging st;
	char want[64];

	rng_mode = RNG_COUNTING;
	counted_name("hello", 0, want, sizeof(want));
	ck_assert_str_eq(want, ".hello.updater-ABCDEF");
	ck_assert_int_eq(swap_stage_open(target, 4, 1 << 20, &st), 0);
	ck_assert_str_eq(st.name, want);
	ck_assert_uint_eq(rng_uniform_calls, 6);
	swap_stage_abort(&st);
}
END_TEST

START_TEST(test_symlink_planted_at_staging_name_is_never_followed)
{
	char victim[PATH_MAX], absent[PATH_MAX], first[64], second[64], third[64];
	char path1[PATH_MAX], path2[PATH_MAX], linkbuf[PATH_MAX];
	struct staging st;
	struct stat vbefore, vafter;
	ssize_t n;

	(void)snprintf(victim, sizeof(victim), "%s/victim", outside);
	(void)snprintf(absent, sizeof(absent), "%s/created", outside);
	write_file(victim, OLD, strlen(OLD), 0644);
	write_file(target, OLD, strlen(OLD), 0755);
	vbefore = lstat_of(victim);

	rng_mode = RNG_COUNTING;
	counted_name("hello", 0, first, sizeof(first));
	counted_name("hello", 1, second, sizeof(second));
	counted_name("hello", 2, third, sizeof(third));
	/* The first name points at a file outside, the second at one that does not exist. */
	(void)snprintf(path1, sizeof(path1), "%s/%s", bindir, first);
	(void)snprintf(path2, sizeof(path2), "%s/%s", bindir, second);
	ck_assert_int_eq(symlink(victim, path1), 0);
	ck_assert_int_eq(symlink(absent, path2), 0);

	ck_assert_int_eq(swap_stage_open(target, strlen(NEW), 1 << 20, &st), 0);
	ck_assert_str_eq(st.name, third);
	ck_assert_uint_eq(rng_uniform_calls, 18); /* both planted names were tried */
	ck_assert_int_eq(swap_stage_write(&st, NEW, strlen(NEW)), 0);
	swap_stage_abort(&st);

	vafter = lstat_of(victim);
	assert_file_bytes(victim, OLD, strlen(OLD));
	ck_assert_uint_eq(vafter.st_ino, vbefore.st_ino);
	ck_assert_uint_eq(vafter.st_mode, vbefore.st_mode);
	ck_assert_uint_eq(vafter.st_uid, vbefore.st_uid);
	ck_assert(!exists(absent));
	ck_assert(S_ISLNK(lstat_of(path1).st_mode));
	ck_assert(S_ISLNK(lstat_of(path2).st_mode));
	n = readlink(path1, linkbuf, sizeof(linkbuf) - 1);
	ck_assert_int_gt(n, 0);
	linkbuf[n] = '\0';
	ck_assert_str_eq(linkbuf, victim);
	assert_file_bytes(target, OLD, strlen(OLD));
}
END_TEST

START_TEST(test_exhausted_names_fail_with_eexist_and_keep_the_planted_file)
{
	char planted[PATH_MAX];
	struct staging st;

	rng_mode = RNG_CONSTANT; /* every attempt is .hello.updater-AAAAAA */
	write_file(target, OLD, strlen(OLD), 0755);
	(void)snprintf(planted, sizeof(planted), "%s/.hello.updater-AAAAAA", bindir);
	write_file(planted, "not ours", 8, 0644);

	ck_assert_int_eq(swap_stage_open(target, 4, 1 << 20, &st), -EEXIST);
	/* Someone else's file is never deleted on the way out. */
	assert_file_bytes(planted, "not ours", 8);
	assert_dir_holds(bindir, ".hello.updater-AAAAAA hello");
	assert_file_bytes(target, OLD, strlen(OLD));
}
END_TEST

/* --- a full disk -------------------------------------------------------- */

START_TEST(test_full_disk_fails_the_write_and_abort_leaves_target)
{
	char full_target[PATH_MAX], chunk[4096];
	struct staging st;
	struct stat before;
	uint8_t sha[32];
	int r = 0;

	if (!scratch_mount_tmpfs(mountpoint))
		return;
	(void)snprintf(full_target, sizeof(full_target), "%s/hello", mountpoint);
	write_file(full_target, OLD, strlen(OLD), 0755);
	before = lstat_of(full_target);
	memset(chunk, 'n', sizeof(chunk));
	memset(sha, 0, sizeof(sha));

	ck_assert_int_eq(swap_stage_open(full_target, 1 << 20, 1 << 20, &st), 0);
	for (int i = 0; i < 256 && r == 0; i++)
		r = swap_stage_write(&st, chunk, sizeof(chunk));
	ck_assert_int_eq(r, -ENOSPC);
	ck_assert_uint_lt(st.written, 64 * 1024);
	ck_assert_int_ne(swap_stage_finish(&st, sha, NULL, 0), 0);
	swap_stage_abort(&st);

	assert_dir_holds(mountpoint, "hello");
	assert_file_bytes(full_target, OLD, strlen(OLD));
	ck_assert_uint_eq(lstat_of(full_target).st_ino, before.st_ino);
	ck_assert_uint_eq(lstat_of(full_target).st_mode, before.st_mode);

	/* The space is back: a file that fits goes through on the same filesystem. */
	install(full_target, NEW, NULL);
	assert_file_bytes(full_target, NEW, strlen(NEW));
}
END_TEST

static Suite *swap_suite(void)
{
	Suite *s = suite_create("swap");
	TCase *stage = tcase_create("stage");
	TCase *verify = tcase_create("verify");
	TCase *owner = tcase_create("owner");
	TCase *commit = tcase_create("commit");
	TCase *rollback = tcase_create("rollback");
	TCase *cleanup = tcase_create("cleanup");
	TCase *hash = tcase_create("hash");
	TCase *planted = tcase_create("planted");
	TCase *full = tcase_create("full");
	TCase *privileges = tcase_create("privileges");
	TCase *all[] = { stage, verify, owner, commit, rollback, cleanup, hash, planted, full, privileges };

	tcase_add_test(stage, test_stage_open_creates_private_file_beside_target_and_leaves_target);
	tcase_add_test(stage, test_symlink_at_target_is_refused_with_eloop);
	tcase_add_test(stage, test_directory_at_target_is_refused);
	tcase_add_test(stage, test_missing_directory_is_enoent);
	tcase_add_test(stage, test_abort_is_idempotent_and_harmless_on_a_zeroed_struct);

	tcase_add_test(verify, test_right_bytes_and_sha256_finish);
	tcase_add_test(verify, test_one_byte_past_size_fails_and_leaves_target);
	tcase_add_test(verify, test_fewer_bytes_fail_finish_with_a_sentence);
	tcase_add_test(verify, test_wrong_sha256_fails_finish_with_a_sentence);
	tcase_add_test(verify, test_over_max_size_is_efbig);

	tcase_add_test(owner, test_owner_and_mode_are_copied_from_current_file);
	tcase_add_test(owner, test_setuid_setgid_and_sticky_bits_are_not_carried_over);
	tcase_add_test(owner, test_no_current_file_gives_0755_root_root);

	tcase_add_test(commit, test_commit_puts_new_file_at_path_and_old_inode_at_prev);
	tcase_add_test(commit, test_second_commit_replaces_prev);
	tcase_add_test(commit, test_commit_without_current_file_has_no_old_and_no_prev);
	tcase_add_test(commit, test_commit_before_finish_is_refused);

	tcase_add_test(rollback, test_rollback_restores_old_file_and_keeps_rolled_back_one_as_prev);
	tcase_add_test(rollback, test_rollback_without_prev_is_enoent);
	tcase_add_test(privileges, test_prev_loses_setuid_setgid_and_capabilities_and_the_mode_is_reported);
	tcase_add_test(privileges, test_rollback_restores_the_recorded_mode_and_strips_the_new_prev);
	tcase_add_test(privileges, test_prev_strip_at_startup_takes_setuid_from_a_leftover);
	tcase_add_test(privileges, test_smoke_access_is_0550_for_the_group_then_the_final_mode_at_commit);
	tcase_add_test(rollback, test_rollback_when_prev_is_the_file_itself_is_enoent_and_leaves_no_link);
	tcase_add_test(rollback, test_rollback_with_only_prev_puts_it_back);
	tcase_add_test(rollback, test_rollback_refuses_symlink_at_path);

	tcase_add_test(cleanup, test_cleanup_removes_only_staging_files_and_counts_them);
	tcase_add_test(cleanup, test_cleanup_in_missing_directory_is_enoent);

	tcase_add_test(hash, test_file_sha256_matches_known_digests_and_sha256sum);
	tcase_add_test(hash, test_file_sha256_of_missing_symlink_or_directory_fails);

	tcase_add_test(planted, test_scripted_rng_predicts_the_first_staging_name);
	tcase_add_test(planted, test_symlink_planted_at_staging_name_is_never_followed);
	tcase_add_test(planted, test_exhausted_names_fail_with_eexist_and_keep_the_planted_file);

	tcase_add_test(full, test_full_disk_fails_the_write_and_abort_leaves_target);

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

	/* Before sodium_init: libsodium takes its generator once, at first use. */
	if (randombytes_set_implementation(&scripted_rng) != 0 || sodium_init() < 0) {
		fprintf(stderr, "cannot set up libsodium\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(swap_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
