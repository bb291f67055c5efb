/* state.c - see state.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "manifest.h"
#include "state.h"

/* A state file is a handful of short lines; anything bigger is damage. */
#define STATE_FILE_MAX 8192
/* state_write_file_atomic() writes PATH.tmp-XXXXXXXX (8 hex digits) first. */
#define TEMP_INFIX ".tmp-"
#define TEMP_SUFFIX_LEN 8

static int mkdir_if_missing(const char *path, mode_t mode)
{
	struct stat st;

	/* chmod: the umask must not make cache/ unreachable for script_user. */
	if (mkdir(path, mode) == 0)
		return chmod(path, mode) < 0 ? -errno : 0;
	if (errno != EEXIST)
		return -errno;
	if (lstat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static bool is_temp_name(const char *name)
{
	const char *infix = strstr(name, TEMP_INFIX);

	if (!infix || infix == name || strlen(infix) != strlen(TEMP_INFIX) + TEMP_SUFFIX_LEN)
		return false;
	for (const char *p = infix + strlen(TEMP_INFIX); *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* Temporary files of writes a crash cut short: never renamed, never needed. */
static void remove_leftover_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (is_temp_name(e->d_name)) /* unlinkat() leaves a directory alone */
			(void)unlinkat(dirfd(d), e->d_name, 0);
	(void)closedir(d);
}

int state_init(const char *state_dir)
{
	char path[PATH_MAX];
	int r;

	r = mkdir_if_missing(state_dir, 0755);
	if (r < 0)
		return r;
	remove_leftover_temps(state_dir);
	if (snprintf(path, sizeof(path), "%s/targets", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = mkdir_if_missing(path, 0755);
	if (r < 0)
		return r;
	remove_leftover_temps(path);
	if (snprintf(path, sizeof(path), "%s/cache", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return mkdir_if_missing(path, 0755);
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, r = 0;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int state_write_file_atomic(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	const uint8_t *p = data;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s" TEMP_INFIX "%08" PRIx32, path, randombytes_random()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	return fsync_dir_of(path);
fail:
	if (fd >= 0)
		(void)close(fd);
	(void)unlink(tmp);
	return r;
}

/* Read a small file into a NUL-terminated buffer. -ENOENT when missing. */
static int read_small_file(const char *path, char *buf, size_t size, size_t *ret_len)
{
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 1 >= size) {
			(void)close(fd);
			return -EFBIG;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			(void)close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	buf[len] = '\0';
	*ret_len = len;
	return 0;
}

static int parse_i64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || (*end && *end != '\n'))
		return -EINVAL;
	*ret = v;
	return 0;
}

int64_t state_last_check(const char *state_dir)
{
	char path[PATH_MAX], buf[64];
	size_t len;
	int64_t v;

	if (snprintf(path, sizeof(path), "%s/last_check", state_dir) >= (int)sizeof(path))
		return -1;
	if (read_small_file(path, buf, sizeof(buf), &len) < 0)
		return -1;
	if (parse_i64(buf, &v) < 0 || v < 0)
		return -1;
	return v;
}

int state_set_last_check(const char *state_dir, int64_t when)
{
	char path[PATH_MAX], buf[32];
	int n;

	if (snprintf(path, sizeof(path), "%s/last_check", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	n = snprintf(buf, sizeof(buf), "%" PRId64 "\n", when);
	return state_write_file_atomic(path, buf, (size_t)n);
}

void target_partial_clear(struct target_partial *p)
{
	free(p->version);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

void target_state_clear(struct target_state *st)
{
	if (!st)
		return;
	target_partial_clear(&st->partial);
	free(st->version);
	free(st->floor);
	free(st->previous_version);
	free(st->last_error);
	free(st->rolled_back_from);
	free(st->pending_version);
	free(st->pending_why);
	memset(st, 0, sizeof(*st));
	st->updated_at = -1;
	st->pending_at = -1;
	st->last_success = -1;
	st->previous_mode = -1;
}

int target_state_raise_floor(struct target_state *st, const char *version)
{
	char *copy;

	if (!version || (st->floor && version_compare(version, st->floor) <= 0))
		return 0;
	copy = strdup(version);
	if (!copy)
		return -ENOMEM;
	free(st->floor);
	st->floor = copy;
	return 0;
}

/* An octal mode of at most 07777, or "" for unknown (-1). */
static int parse_mode(const char *s, int *ret)
{
	char *end;
	unsigned long v;

	if (!*s) {
		*ret = -1;
		return 0;
	}
	if (*s < '0' || *s > '7')
		return -EBADMSG;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 07777)
		return -EBADMSG;
	*ret = (int)v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static bool valid_sha256_hex(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int target_file(const char *state_dir, const char *name, char *path, size_t size)
{
	if (snprintf(path, size, "%s/targets/%s", state_dir, name) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static bool valid_file_id(const char *s)
{
	if (strlen(s) >= STATE_FILE_ID_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == ':' || *p == '.'))
			return false;
	return true;
}

static int parse_u64_value(const char *s, uint64_t *ret)
{
	int64_t v;

	if (parse_i64(s, &v) < 0 || v < 0)
		return -EBADMSG;
	*ret = (uint64_t)v;
	return 0;
}

/* The partial_* keys: the bookkeeping of a download to resume. */
static int apply_partial_line(struct target_partial *p, const char *key, const char *value,
                              char ***ret_text)
{
	if (strcmp(key, "partial_version") == 0) {
		*ret_text = &p->version;
	} else if (strcmp(key, "partial_name") == 0) {
		/* A name in the target's directory, never a path. */
		if (strchr(value, '/') || strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
			return -EBADMSG;
		*ret_text = &p->name;
	} else if (strcmp(key, "partial_sha256") == 0) {
		if (*value && !valid_sha256_hex(value))
			return -EBADMSG;
		strcpy(p->sha256_hex, value);
	} else if (strcmp(key, "partial_size") == 0) {
		return parse_u64_value(value, &p->size);
	} else if (strcmp(key, "partial_bytes") == 0) {
		return parse_u64_value(value, &p->bytes);
	}
	return 0;
}

/* Apply one "key=value" line to ST. Unknown keys are skipped (newer daemons may add some). */
static int apply_line(struct target_state *st, const char *key, const char *value)
{
	char **text = NULL;

	if (strncmp(key, "partial_", 8) == 0) {
		int r = apply_partial_line(&st->partial, key, value, &text);

		if (r < 0 || !text)
			return r;
	} else if (strcmp(key, "version") == 0)
		text = &st->version;
	else if (strcmp(key, "floor") == 0)
		text = &st->floor;
	else if (strcmp(key, "previous_version") == 0)
		text = &st->previous_version;
	else if (strcmp(key, "last_error") == 0)
		text = &st->last_error;
	else if (strcmp(key, "rolled_back_from") == 0)
		text = &st->rolled_back_from;
	else if (strcmp(key, "pending_version") == 0)
		text = &st->pending_version;
	else if (strcmp(key, "pending_why") == 0)
		text = &st->pending_why;
	else if (strcmp(key, "pending_at") == 0)
		return parse_i64(value, &st->pending_at) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "last_success") == 0)
		return parse_i64(value, &st->last_success) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "updates") == 0)
		return parse_u64(value, &st->updates) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "rollbacks_manual") == 0)
		return parse_u64(value, &st->rollbacks_manual) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "rollbacks_health") == 0)
		return parse_u64(value, &st->rollbacks_health) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "check_failures") == 0)
		return parse_u64(value, &st->check_failures) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "download_bytes") == 0)
		return parse_u64(value, &st->download_bytes) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "sha256") == 0 || strcmp(key, "previous_sha256") == 0) {
		char *dst = key[0] == 's' ? st->sha256_hex : st->previous_sha256_hex;

		if (*value && !valid_sha256_hex(value))
			return -EBADMSG;
		strcpy(dst, value);
		return 0;
	} else if (strcmp(key, "file_id") == 0) {
		if (!valid_file_id(value))
			return -EBADMSG;
		strcpy(st->file_id, value);
		return 0;
	} else if (strcmp(key, "updated_at") == 0) {
		return parse_i64(value, &st->updated_at) < 0 ? -EBADMSG : 0;
	} else if (strcmp(key, "probation_until") == 0) {
		if (parse_i64(value, &st->probation_until) < 0 || st->probation_until < 0)
			return -EBADMSG;
		return 0;
	} else if (strcmp(key, "previous_mode") == 0) {
		return parse_mode(value, &st->previous_mode);
	} else {
		return 0;
	}
	if (*text)
		return -EBADMSG; /* repeated key */
	/* A version never holds a control character: the daemon writes none (a '\r' would not read back). */
	if (text == &st->version || text == &st->floor || text == &st->previous_version ||
	    text == &st->rolled_back_from || text == &st->pending_version || text == &st->partial.version)
		for (const char *p = value; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return -EBADMSG;
	if (!*value)
		return 0;
	*text = strdup(value);
	return *text ? 0 : -ENOMEM;
}

int state_parse_target(const char *text, size_t len, struct target_state *ret)
{
	struct target_state st = { .updated_at = -1, .pending_at = -1, .last_success = -1,
	                           .previous_mode = -1 };
	char *buf, *line, *save = NULL;
	int r = 0;

	if (memchr(text, '\0', len)) {
		*ret = st;
		return -EBADMSG;
	}
	buf = strndup(text, len);
	if (!buf) {
		*ret = st;
		return -ENOMEM;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq) {
			r = -EBADMSG;
			goto damaged;
		}
		*eq = '\0';
		r = apply_line(&st, line, eq + 1);
		if (r < 0)
			goto damaged;
	}
	/* A partial record is whole or ignored. */
	if (st.partial.name && (!st.partial.version || !st.partial.sha256_hex[0] ||
	                        st.partial.bytes > st.partial.size))
		target_partial_clear(&st.partial);
	r = target_state_raise_floor(&st, st.version);
	if (r < 0)
		goto damaged;
	free(buf);
	*ret = st;
	return 0;
damaged:
	free(buf);
	target_state_clear(&st);
	*ret = st;
	return r == -ENOMEM ? r : -EBADMSG;
}

int state_load_target(const char *state_dir, const char *name, struct target_state *ret)
{
	char path[PATH_MAX], buf[STATE_FILE_MAX];
	struct target_state st = { .updated_at = -1, .pending_at = -1, .last_success = -1,
	                           .previous_mode = -1 };
	size_t len;
	int r;

	r = target_file(state_dir, name, path, sizeof(path));
	if (r < 0) {
		*ret = st;
		return r;
	}
	r = read_small_file(path, buf, sizeof(buf), &len);
	if (r < 0) {
		*ret = st;
		/* A missing file is "never"; one that cannot be read (too big, a directory) is damage. */
		return r == -ENOENT ? 0 : r == -ENOMEM ? r : -EBADMSG;
	}
	return state_parse_target(buf, len, ret);
}

/* A value goes on one line: newlines in an error text become spaces. */
static void put_line(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s=", key);
	for (const char *p = value ? value : ""; *p; p++)
		fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
	fputc('\n', f);
}

int state_format_target(const struct target_state *st, char **ret_text, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	put_line(f, "version", st->version);
	put_line(f, "floor", st->floor);
	put_line(f, "sha256", st->sha256_hex);
	put_line(f, "file_id", st->file_id);
	fprintf(f, "updated_at=%" PRId64 "\n", st->updated_at);
	put_line(f, "previous_version", st->previous_version);
	put_line(f, "previous_sha256", st->previous_sha256_hex);
	if (st->previous_mode >= 0)
		fprintf(f, "previous_mode=%04o\n", (unsigned)st->previous_mode);
	else
		put_line(f, "previous_mode", "");
	put_line(f, "rolled_back_from", st->rolled_back_from);
	put_line(f, "last_error", st->last_error);
	if (st->partial.name) {
		put_line(f, "partial_version", st->partial.version);
		put_line(f, "partial_sha256", st->partial.sha256_hex);
		fprintf(f, "partial_size=%" PRIu64 "\n", st->partial.size);
		fprintf(f, "partial_bytes=%" PRIu64 "\n", st->partial.bytes);
		put_line(f, "partial_name", st->partial.name);
	}
	put_line(f, "pending_version", st->pending_version);
	fprintf(f, "pending_at=%" PRId64 "\n", st->pending_version ? st->pending_at : -1);
	put_line(f, "pending_why", st->pending_version ? st->pending_why : NULL);
	fprintf(f, "updates=%" PRIu64 "\nrollbacks_manual=%" PRIu64 "\nrollbacks_health=%" PRIu64 "\n",
	        st->updates, st->rollbacks_manual, st->rollbacks_health);
	fprintf(f, "check_failures=%" PRIu64 "\ndownload_bytes=%" PRIu64 "\nlast_success=%" PRId64 "\n",
	        st->check_failures, st->download_bytes, st->last_success);
	if (st->probation_until > 0)
		fprintf(f, "probation_until=%" PRId64 "\n", st->probation_until);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret_text = buf;
	*ret_len = len;
	return 0;
}

int state_save_target(const char *state_dir, const char *name, const struct target_state *st)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	int r;

	r = target_file(state_dir, name, path, sizeof(path));
	if (r < 0)
		return r;
	r = state_format_target(st, &buf, &len);
	if (r < 0)
		return r;
	/* read_small_file() needs a byte for the NUL and one to see the end. */
	if (len >= STATE_FILE_MAX - 1) {
		free(buf);
		return -EFBIG;
	}
	r = state_write_file_atomic(path, buf, len);
	free(buf);
	return r;
}

int state_cache_dir(const char *state_dir, const char *name, uid_t uid, gid_t gid, char **ret_path)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, r;

	if (snprintf(path, sizeof(path), "%s/cache/%s", state_dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* Never follow a symlink someone planted: fix up the directory through its own fd. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) {
		r = -errno;
		goto out;
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0) {
		r = -errno;
		goto out;
	}
	*ret_path = strdup(path);
	r = *ret_path ? 0 : -ENOMEM;
out:
	(void)close(fd);
	return r;
}

static int held_file(const char *state_dir, const char *name, char *path, size_t size)
{
	if (snprintf(path, size, "%s/held/%s", state_dir, name) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

bool state_is_held(const char *state_dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	return held_file(state_dir, name, path, sizeof(path)) == 0 && lstat(path, &st) == 0;
}

int state_set_held(const char *state_dir, const char *name, bool held)
{
	char path[PATH_MAX];
	int r;

	r = held_file(state_dir, name, path, sizeof(path));
	if (r < 0)
		return r;
	if (held) {
		char dir[PATH_MAX];

		(void)snprintf(dir, sizeof(dir), "%s/held", state_dir);
		r = mkdir_if_missing(dir, 0755);
		return r < 0 ? r : state_write_file_atomic(path, "held\n", 5);
	}
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return fsync_dir_of(path);
}
