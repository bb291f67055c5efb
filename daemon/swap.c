/* swap.c - see swap.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <sodium.h>

#include "swap.h"
#include "util.h"

#define RANDOM_SUFFIX_LEN 6

static void set_err(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_size == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

/* Split PATH into a malloc'd directory and a pointer to its basename. */
static int split_path(const char *path, char **ret_dir, const char **ret_base)
{
	const char *slash = strrchr(path, '/');

	if (!slash || slash[1] == '\0')
		return -EINVAL;
	*ret_dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	if (!*ret_dir)
		return -ENOMEM;
	*ret_base = slash + 1;
	return 0;
}

static int open_dir_of(const char *path, const char **ret_base)
{
	char *dir;
	int fd, r;

	r = split_path(path, &dir, ret_base);
	if (r < 0)
		return r;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = fd < 0 ? -errno : fd;
	free(dir);
	return r;
}

/* ".BASE.updater-XXXXXX" with a fresh random suffix. */
static char *random_name(const char *base)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char suffix[RANDOM_SUFFIX_LEN + 1];
	char *name;

	for (int i = 0; i < RANDOM_SUFFIX_LEN; i++)
		suffix[i] = chars[randombytes_uniform(sizeof(chars) - 1)];
	suffix[RANDOM_SUFFIX_LEN] = '\0';
	if (asprintf(&name, ".%s" SWAP_STAGING_INFIX "%s", base, suffix) < 0)
		return NULL;
	return name;
}

/* Refuse a target that is a symlink: renaming over it would replace the link, not its file. */
static int check_not_symlink(int dirfd, const char *base, struct stat *ret_st, bool *ret_exists)
{
	if (fstatat(dirfd, base, ret_st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		*ret_exists = false;
		return 0;
	}
	if (S_ISLNK(ret_st->st_mode))
		return -ELOOP;
	if (!S_ISREG(ret_st->st_mode))
		return -EISDIR;
	*ret_exists = true;
	return 0;
}

int swap_stage_open(const char *target_path, uint64_t expected_size, uint64_t max_size,
                    struct staging *ret)
{
	struct staging st = { .fd = -1, .dirfd = -1, .expected_size = expected_size,
	                      .max_size = max_size };
	const char *base;
	struct stat cur;
	bool exists;
	int r;

	/* First, so every struct holding a descriptor has it: abort takes one without as zeroed. */
	st.target_path = strdup(target_path);
	if (!st.target_path)
		return -ENOMEM;
	r = sha256_init(&st.hash);
	if (r < 0)
		goto fail;
	st.dirfd = open_dir_of(target_path, &base);
	if (st.dirfd < 0) {
		r = st.dirfd;
		goto fail;
	}
	r = check_not_symlink(st.dirfd, base, &cur, &exists);
	if (r < 0)
		goto fail;
	/* O_EXCL|O_NOFOLLOW: a name someone planted (file or symlink) is never opened. */
	for (int attempt = 0; attempt < 100 && st.fd < 0; attempt++) {
		free(st.name);
		st.name = random_name(base);
		if (!st.name) {
			r = -ENOMEM;
			goto fail;
		}
		st.fd = openat(st.dirfd, st.name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		               0600);
		if (st.fd < 0) {
			r = -errno;
			/* Not ours: swap_stage_abort() must never unlink a name someone else holds. */
			free(st.name);
			st.name = NULL;
			if (r != -EEXIST)
				goto fail;
		}
	}
	if (st.fd < 0) {
		r = -EEXIST;
		goto fail;
	}
	if (asprintf(&st.path, "%.*s/%s", (int)(base - target_path - 1), target_path, st.name) < 0) {
		st.path = NULL;
		r = -ENOMEM;
		goto fail;
	}
	*ret = st;
	return 0;
fail:
	swap_stage_abort(&st);
	return r;
}

int swap_stage_write(struct staging *st, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (st->fd < 0)
		return -EBADF;
	if (!st->hash.md)
		return -EINVAL;
	if (len > st->expected_size - st->written || st->written + len > st->max_size)
		return -EFBIG;
	sha256_update(&st->hash, p, len);
	while (len > 0) {
		ssize_t n = write(st->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		st->written += (uint64_t)n;
	}
	return 0;
}

int swap_stage_finish(struct staging *st, const uint8_t sha256[32], char *err, size_t err_size)
{
	uint8_t got[SHA256_BYTES];
	char got_hex[65], want_hex[65];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	mode_t mode = 0755;
	const char *base;
	struct stat cur;
	bool exists;
	int r;

	if (st->fd < 0)
		return -EBADF;
	base = strrchr(st->target_path, '/') + 1;
	if (st->written != st->expected_size) {
		set_err(err, err_size, "download is %" PRIu64 " bytes, the manifest says %" PRIu64,
		        st->written, st->expected_size);
		return -EIO;
	}
	if (!st->hash.md)
		return -EINVAL;
	sha256_final(&st->hash, got);
	if (sodium_memcmp(got, sha256, sizeof(got)) != 0) {
		hex_encode(got, sizeof(got), got_hex);
		hex_encode(sha256, sizeof(got), want_hex);
		set_err(err, err_size, "sha256 of the download is %s, the manifest says %s", got_hex,
		        want_hex);
		return -EIO;
	}
	if (fsync(st->fd) < 0) {
		r = -errno;
		set_err(err, err_size, "cannot write '%s' to disk: %s", st->path, strerror(-r));
		return r;
	}
	r = check_not_symlink(st->dirfd, base, &cur, &exists);
	if (r < 0) {
		set_err(err, err_size, "'%s' is not a regular file", st->target_path);
		return r;
	}
	if (exists) {
		uid = cur.st_uid;
		gid = cur.st_gid;
		mode = cur.st_mode & 0777; /* never set-uid, set-gid or sticky */
	} else if (uid == 0) {
		gid = 0;
	}
	st->final_uid = uid;
	st->final_gid = gid;
	st->final_mode = mode;
	/* chown first: it would clear the mode bits chmod sets. */
	if (fchown(st->fd, uid, gid) < 0 || fchmod(st->fd, mode) < 0) {
		r = -errno;
		set_err(err, err_size, "cannot set owner and mode of '%s': %s", st->path, strerror(-r));
		return r;
	}
	/* Closed now, so the staged file can be executed (a smoke test) without ETXTBSY. */
	if (close(st->fd) < 0) {
		st->fd = -1;
		r = -errno;
		set_err(err, err_size, "cannot write '%s': %s", st->path, strerror(-r));
		return r;
	}
	st->fd = -1;
	st->finished = true;
	return 0;
}

/* Make NAME (in DIRFD) a hard link of FROM, replacing it atomically. */
/* A new staging-named hard link to FROM (a name taken is tried again); its name in *RET_NAME. */
static int link_temp(int dirfd, const char *from, const char *base, char **ret_name)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		char *tmp = random_name(base);

		if (!tmp)
			return -ENOMEM;
		if (linkat(dirfd, from, dirfd, tmp, 0) == 0) {
			*ret_name = tmp;
			return 0;
		}
		free(tmp);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static int link_replace(int dirfd, const char *from, const char *name, const char *base)
{
	char *tmp = NULL;
	int r = link_temp(dirfd, from, base, &tmp);

	if (r == 0) {
		if (renameat(dirfd, tmp, dirfd, name) < 0)
			r = -errno;
		/*
		 * A rename that moved TMP leaves nothing to delete, but rename()
		 * does nothing when both names are links of the same file (NAME
		 * already is FROM, e.g. after a crash between this and the
		 * caller's rename): then our TMP link is still there.
		 */
		(void)unlinkat(dirfd, tmp, 0);
	}
	free(tmp);
	return r;
}

/* Open NAME in DIRFD without following a link, for fstat/fchown/fchmod only. */
static int open_node(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* chmod/xattr calls refuse an O_PATH fd; its /proc/self/fd link does not. */
static void fd_proc_path(int fd, char buf[32])
{
	(void)snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

static int set_owner_mode(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	char proc[32];
	int fd = open_node(dirfd, name), r = 0;

	if (fd < 0)
		return fd;
	fd_proc_path(fd, proc);
	/* chown first: it would clear the mode bits chmod sets. */
	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0 || chmod(proc, mode) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int swap_stage_smoke_access(struct staging *st, gid_t gid)
{
	int r;

	if (!st->target_path || !st->finished || st->committed)
		return -EINVAL;
	r = set_owner_mode(st->dirfd, st->name, st->final_uid, gid, 0550);
	if (r == 0)
		st->smoke_access = true;
	return r;
}

/*
 * Take set-uid, set-gid and file capabilities from NAME (in DIRFD) when it
 * is the inode DEV:INO (or any inode when WANT_ID is false). 1 when something
 * was stripped, 0 when nothing was to strip, or negative errno.
 */
static int strip_privileges(int dirfd, const char *name, bool want_id, dev_t dev, ino_t ino)
{
	char proc[32];
	struct stat st;
	int fd, r = 0;

	fd = open_node(dirfd, name);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (want_id && (st.st_dev != dev || st.st_ino != ino)))
		goto out;
	fd_proc_path(fd, proc);
	if ((st.st_mode & (S_ISUID | S_ISGID)) != 0) {
		if (chmod(proc, st.st_mode & 01777) < 0) {
			r = -errno;
			goto out;
		}
		r = 1;
	}
	if (removexattr(proc, "security.capability") == 0)
		r = 1;
	else if (errno != ENODATA && errno != ENOTSUP)
		r = -errno;
out:
	(void)close(fd);
	return r;
}

int swap_prev_strip(const char *target_path)
{
	const char *base;
	char *prev;
	int dirfd, r;

	dirfd = open_dir_of(target_path, &base);
	if (dirfd < 0)
		return dirfd;
	if (asprintf(&prev, ".%s" SWAP_PREV_SUFFIX, base) < 0) {
		(void)close(dirfd);
		return -ENOMEM;
	}
	r = strip_privileges(dirfd, prev, false, 0, 0);
	free(prev);
	(void)close(dirfd);
	return r;
}

int swap_commit(struct staging *st, struct swap_result *ret)
{
	struct swap_result res = { 0 };
	const char *base;
	char *prev = NULL;
	struct stat cur;
	bool exists;
	int r;

	/* No target_path: aborted (or zeroed), whatever FINISHED says. */
	if (!st->target_path || !st->finished || st->committed)
		return -EINVAL;
	base = strrchr(st->target_path, '/') + 1;
	res.old_mode = -1;
	if (st->smoke_access) {
		r = set_owner_mode(st->dirfd, st->name, st->final_uid, st->final_gid, st->final_mode);
		if (r < 0)
			return r;
		st->smoke_access = false;
	}
	r = check_not_symlink(st->dirfd, base, &cur, &exists);
	if (r < 0)
		return r;
	if (asprintf(&prev, ".%s" SWAP_PREV_SUFFIX, base) < 0)
		return -ENOMEM;
	if (exists) {
		res.had_old = true;
		res.old_dev = cur.st_dev;
		res.old_ino = cur.st_ino;
		res.old_mode = (int)(cur.st_mode & 07777);
		r = link_replace(st->dirfd, base, prev, base);
		if (r < 0)
			goto out;
	}
	if (renameat(st->dirfd, st->name, st->dirfd, base) < 0) {
		r = -errno;
		goto out;
	}
	st->committed = true;
	/*
	 * Only now, when the old inode is no longer PATH (stripping it before
	 * would take set-uid from PATH for a moment): a set-uid program kept as
	 * -prev must not stay one, nor keep its capabilities. A crash right
	 * here leaves them; the next start-up strips them (swap_prev_strip).
	 */
	if (exists)
		(void)strip_privileges(st->dirfd, prev, true, cur.st_dev, cur.st_ino);
	/* The rename is durable only once the directory is on disk. */
	r = fsync(st->dirfd) < 0 ? -errno : 0;
	if (ret)
		*ret = res;
	swap_stage_abort(st);
out:
	free(prev);
	return r;
}

void swap_stage_abort(struct staging *st)
{
	/* Zeroed (fd and dirfd 0, never opened) or already aborted: nothing is ours. */
	if (!st || !st->target_path)
		return;
	if (st->fd >= 0)
		(void)close(st->fd);
	if (st->dirfd >= 0) {
		if (st->name && !st->committed)
			(void)unlinkat(st->dirfd, st->name, 0);
		(void)close(st->dirfd);
	}
	sha256_free(&st->hash);
	free(st->target_path);
	free(st->path);
	free(st->name);
	st->fd = st->dirfd = -1;
	st->target_path = st->path = st->name = NULL;
}

char *swap_prev_path(const char *target_path)
{
	const char *slash = strrchr(target_path, '/');
	char *p;

	if (!slash)
		return NULL;
	if (asprintf(&p, "%.*s/.%s" SWAP_PREV_SUFFIX, (int)(slash - target_path), target_path,
	             slash + 1) < 0)
		return NULL;
	return p;
}

int swap_rollback(const char *target_path, int restore_mode, struct swap_result *ret)
{
	struct swap_result res = { .old_mode = -1 };
	char *prev = NULL, *back = NULL, *cur_copy = NULL;
	const char *base;
	struct stat cur, pst;
	bool exists;
	int dirfd, r;

	dirfd = open_dir_of(target_path, &base);
	if (dirfd < 0)
		return dirfd;
	r = check_not_symlink(dirfd, base, &cur, &exists);
	if (r < 0)
		goto out;
	if (asprintf(&prev, ".%s" SWAP_PREV_SUFFIX, base) < 0) {
		prev = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (fstatat(dirfd, prev, &pst, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(pst.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	/* -prev is the file at PATH (a crash between the link and the rename of a swap): nothing to go back to. */
	if (exists && pst.st_dev == cur.st_dev && pst.st_ino == cur.st_ino) {
		r = -ENOENT;
		goto out;
	}
	/*
	 * Two links made first, then two renames: PATH is whole at every
	 * instant, and a crash in between leaves only staging-named links
	 * that the next start-up deletes.
	 */
	r = link_temp(dirfd, prev, base, &back);
	if (r < 0)
		goto out;
	/* The mode -prev had before it was stripped, on the file that comes back. */
	if (restore_mode >= 0 && (pst.st_mode & 07777) != (mode_t)restore_mode) {
		char proc[32];
		int fd = open_node(dirfd, back);

		r = fd;
		if (fd >= 0) {
			fd_proc_path(fd, proc);
			r = chmod(proc, (mode_t)restore_mode) < 0 ? -errno : 0;
			(void)close(fd);
		}
		if (r < 0) {
			(void)unlinkat(dirfd, back, 0);
			goto out;
		}
	}
	if (exists) {
		r = link_temp(dirfd, base, base, &cur_copy);
		if (r < 0) {
			(void)unlinkat(dirfd, back, 0);
			goto out;
		}
	}
	if (renameat(dirfd, back, dirfd, base) < 0) {
		r = -errno;
		(void)unlinkat(dirfd, back, 0);
		if (exists)
			(void)unlinkat(dirfd, cur_copy, 0);
		goto out;
	}
	if (exists) {
		res.had_old = true;
		res.old_dev = cur.st_dev;
		res.old_ino = cur.st_ino;
		res.old_mode = (int)(cur.st_mode & 07777);
		if (renameat(dirfd, cur_copy, dirfd, prev) < 0) {
			r = -errno;
			(void)unlinkat(dirfd, cur_copy, 0);
			goto out;
		}
		(void)strip_privileges(dirfd, prev, true, cur.st_dev, cur.st_ino);
	} else {
		(void)unlinkat(dirfd, prev, 0);
	}
	r = fsync(dirfd) < 0 ? -errno : 0;
	if (ret)
		*ret = res;
out:
	free(prev);
	free(back);
	free(cur_copy);
	(void)close(dirfd);
	return r;
}

/* ".BASE.updater-XXXXXX": a staging name of ours (never -prev, whose suffix is 4 long). */
static bool is_staging_name(const char *name, const char *base)
{
	size_t blen = strlen(base), ilen = strlen(SWAP_STAGING_INFIX);

	if (name[0] != '.' || strncmp(name + 1, base, blen) != 0)
		return false;
	name += 1 + blen;
	if (strncmp(name, SWAP_STAGING_INFIX, ilen) != 0)
		return false;
	name += ilen;
	if (strlen(name) != RANDOM_SUFFIX_LEN)
		return false;
	for (; *name; name++)
		if (!((*name >= 'A' && *name <= 'Z') || (*name >= 'a' && *name <= 'z') ||
		      (*name >= '0' && *name <= '9')))
			return false;
	return true;
}

int swap_cleanup_staging(const char *target_path)
{
	return swap_cleanup_staging_except(target_path, NULL);
}

int swap_cleanup_staging_except(const char *target_path, const char *keep)
{
	const char *base;
	struct dirent *de;
	DIR *dir;
	int dirfd, fd, count = 0;

	dirfd = open_dir_of(target_path, &base);
	if (dirfd < 0)
		return dirfd;
	fd = dup(dirfd);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		int r = -errno;
		if (fd >= 0)
			(void)close(fd);
		(void)close(dirfd);
		return r;
	}
	while ((de = readdir(dir))) {
		/* unlinkat never follows a symlink: a planted link is removed, not its target. */
		if (keep && strcmp(de->d_name, keep) == 0)
			continue;
		if (is_staging_name(de->d_name, base) && unlinkat(dirfd, de->d_name, 0) == 0)
			count++;
	}
	(void)closedir(dir);
	(void)close(dirfd);
	return count;
}

int swap_file_sha256(const char *path, char ret_hex[65])
{
	return hash_file_sha256(path, ret_hex);
}

bool swap_is_staging_name(const char *target_path, const char *name)
{
	const char *slash = strrchr(target_path, '/');

	return slash && !strchr(name, '/') && is_staging_name(name, slash + 1);
}

int swap_stage_keep(struct staging *st, char **ret_name)
{
	char *name;
	int r = 0;

	if (!st->target_path || st->fd < 0 || !st->name || st->finished || st->committed)
		return -EINVAL;
	/* What the state will say is there must be on disk before the state says it. */
	if (fsync(st->fd) < 0)
		r = -errno;
	if (r == 0 && fsync(st->dirfd) < 0)
		r = -errno;
	if (r < 0)
		return r;
	name = st->name;
	st->name = NULL; /* not unlinked by the abort */
	swap_stage_abort(st);
	*ret_name = name;
	return 0;
}

int swap_stage_resume(const char *target_path, const char *name, uint64_t bytes,
                      uint64_t expected_size, uint64_t max_size, struct staging *ret)
{
	struct staging st = { .fd = -1, .dirfd = -1, .expected_size = expected_size,
	                      .max_size = max_size };
	const char *base;
	struct stat fst;
	int r;

	if (!swap_is_staging_name(target_path, name) || bytes > expected_size || bytes > max_size)
		return -EINVAL;
	st.target_path = strdup(target_path);
	st.name = strdup(name);
	if (!st.target_path || !st.name) {
		r = -ENOMEM;
		goto fail;
	}
	st.dirfd = open_dir_of(target_path, &base);
	if (st.dirfd < 0) {
		r = st.dirfd;
		goto fail;
	}
	st.fd = openat(st.dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (st.fd < 0) {
		r = errno == ELOOP ? -EPERM : -errno;
		goto fail;
	}
	if (fstat(st.fd, &fst) < 0) {
		r = -errno;
		goto fail;
	}
	/* Only a file this daemon made: a name someone planted is not taken as ours. */
	if (!S_ISREG(fst.st_mode) || fst.st_uid != geteuid() || fst.st_nlink != 1 ||
	    (fst.st_mode & 07777) != 0600) {
		r = -EPERM;
		goto fail;
	}
	if ((uint64_t)fst.st_size < bytes) {
		r = -ENODATA;
		goto fail;
	}
	if (ftruncate(st.fd, (off_t)bytes) < 0 || lseek(st.fd, (off_t)bytes, SEEK_SET) < 0) {
		r = -errno;
		goto fail;
	}
	if (asprintf(&st.path, "%.*s/%s", (int)(base - target_path - 1), target_path, st.name) < 0) {
		st.path = NULL;
		r = -ENOMEM;
		goto fail;
	}
	st.written = bytes;
	*ret = st;
	return 0;
fail:
	/* Not unlinked here: the caller decides (a file not ours is never deleted). */
	free(st.name);
	st.name = NULL;
	swap_stage_abort(&st);
	return r;
}

int swap_discard_staging(const char *target_path, const char *name)
{
	const char *base;
	int dirfd, r = 0;

	if (!name || !swap_is_staging_name(target_path, name))
		return -EINVAL;
	dirfd = open_dir_of(target_path, &base);
	if (dirfd < 0)
		return dirfd;
	if (unlinkat(dirfd, name, 0) < 0)
		r = -errno;
	(void)close(dirfd);
	return r;
}
