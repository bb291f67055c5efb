/* release.c - see release.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <linux/openat2.h>

#include "manifest.h"
#include "release.h"

#define RANDOM_SUFFIX_LEN 6
#define NAMES_MAX (3 * RELEASE_ENTRIES_MAX)
#define NAMES_BYTES_MAX (64u << 20)
#define REPORT_MAX 1024
#define READ_BLOCK (64 * 1024)

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

bool release_valid_version(const char *version)
{
	size_t n = strlen(version);

	if (n == 0 || n > 128 || version[0] == '.')
		return false;
	return strspn(version, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.+~:_-") == n;
}

char *release_archive_path(const char *releases, const char *version)
{
	char *p;

	if (asprintf(&p, "%s/%s", releases, version) < 0)
		return NULL;
	return p;
}

int release_prepare(const char *releases)
{
	struct stat st;

	if (mkdir(releases, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(releases, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* Whoever else may write there could plant what a release then runs. */
	if (st.st_uid != geteuid() || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

/* ".BASE.updater-XXXXXX" with a fresh random suffix. */
static char *random_name(const char *base)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[RANDOM_SUFFIX_LEN];
	char suffix[RANDOM_SUFFIX_LEN + 1];
	char *name;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return NULL;
	for (int i = 0; i < RANDOM_SUFFIX_LEN; i++)
		suffix[i] = chars[rnd[i] % (sizeof(chars) - 1)];
	suffix[RANDOM_SUFFIX_LEN] = '\0';
	if (asprintf(&name, ".%s" SWAP_STAGING_INFIX "%s", base, suffix) < 0)
		return NULL;
	return name;
}

/* Is NAME one of our temporary names (".X.updater-XXXXXX", not -prev)? */
static bool is_temp_name(const char *name, const char *base)
{
	size_t n = strlen(name), infix = strlen(SWAP_STAGING_INFIX);
	const char *p;

	if (name[0] != '.' || n < 1 + infix + RANDOM_SUFFIX_LEN + 1)
		return false;
	p = name + n - RANDOM_SUFFIX_LEN - infix;
	if (strncmp(p, SWAP_STAGING_INFIX, infix) != 0)
		return false;
	if (base && ((size_t)(p - name - 1) != strlen(base) || strncmp(name + 1, base, strlen(base)) != 0))
		return false;
	return true;
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* The directory of PATH, opened, and a pointer to PATH's basename. */
static int open_parent(const char *path, const char **ret_base)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (!slash || slash[1] == '\0')
		return -EINVAL;
	dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	fd = open_dir(dir);
	free(dir);
	*ret_base = slash + 1;
	return fd;
}

int release_current(const char *path, const char *releases, char **ret)
{
	char buf[PATH_MAX];
	size_t n = strlen(releases);
	ssize_t len;
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISLNK(st.st_mode))
		return -EINVAL;
	len = readlink(path, buf, sizeof(buf) - 1);
	if (len < 0)
		return -errno;
	buf[len] = '\0';
	if ((size_t)len <= n + 1 || strncmp(buf, releases, n) != 0 || buf[n] != '/' ||
	    !release_valid_version(buf + n + 1))
		return -EINVAL;
	*ret = strdup(buf + n + 1);
	return *ret ? 0 : -ENOMEM;
}

/* ---- removing trees ---------------------------------------------------- */

static int remove_tree_at(int dirfd, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (depth > RELEASE_DEPTH_MAX + 8)
		return -ELOOP;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		int q;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		q = remove_tree_at(fd, de->d_name, depth + 1);
		if (q < 0 && r == 0)
			r = q;
	}
	(void)closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && r == 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int release_remove_tree(int dirfd, const char *name)
{
	return remove_tree_at(dirfd, name, 0);
}

/*
 * In a child: close every descriptor above 2 but KEEP (ascending). A child
 * that outlives the daemon must not hold its sockets: a restarted daemon
 * would find them in use.
 */
static void close_fds_except(const int *keep, size_t n)
{
	unsigned lo = 3;

	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < lo)
			continue;
		if ((unsigned)keep[i] > lo)
			(void)close_range(lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	(void)close_range(lo, ~0u, 0);
}

/* Rename RELFD/NAME to a fresh temporary name, stored in *RET_TMP. */
static int rename_away(int relfd, const char *name, char **ret_tmp)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		char *tmp = random_name(name);
		int r;

		if (!tmp)
			return -ENOMEM;
		if (renameat2(relfd, name, relfd, tmp, RENAME_NOREPLACE) < 0) {
			r = -errno;
			free(tmp);
			if (r == -EEXIST)
				continue;
			return r;
		}
		*ret_tmp = tmp;
		return 0;
	}
	return -EEXIST;
}

/* Rename RELFD/NAME to a temporary name, then delete it: never a half-deleted release under its name. */
static int retire(int relfd, const char *name)
{
	char *tmp = NULL;
	int r = rename_away(relfd, name, &tmp);

	if (r < 0)
		return r;
	r = release_remove_tree(relfd, tmp);
	free(tmp);
	return r;
}

/*
 * Delete the trees NAMES (entries may be NULL) in RELFD in a grandchild
 * process, so a large old release never holds the daemon's loop; the child
 * between exits at once and is reaped here. Without a fork, here and now.
 */
static void remove_in_background(int relfd, char **names, size_t n)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (fork() == 0) {
			close_fds_except(&relfd, 1);
			for (size_t i = 0; i < n; i++)
				if (names[i])
					(void)release_remove_tree(relfd, names[i]);
			_exit(0);
		}
		_exit(0);
	}
	if (pid > 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (names[i])
			(void)release_remove_tree(relfd, names[i]);
}

/* ---- the entry checks -------------------------------------------------- */

enum name_kind { KIND_NONE, KIND_DIR, KIND_FILE, KIND_LINK };

struct name_slot {
	char *name;
	enum name_kind kind;
};

struct release_names {
	struct name_slot *v;
	size_t cap; /* a power of two */
	size_t n;
	size_t bytes;
	char **links; /* symlinks, checked again once written */
	size_t n_links;
	size_t cap_links;
};

struct release_names *release_names_new(void)
{
	struct release_names *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cap = 1024;
	s->v = calloc(s->cap, sizeof(*s->v));
	if (!s->v) {
		free(s);
		return NULL;
	}
	return s;
}

void release_names_free(struct release_names *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->v[i].name);
	for (size_t i = 0; i < s->n_links; i++)
		free(s->links[i]);
	free(s->links);
	free(s->v);
	free(s);
}

static size_t name_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return (size_t)h;
}

static struct name_slot *names_slot(const struct release_names *s, const char *name, size_t len)
{
	size_t i = name_hash(name, len) & (s->cap - 1);

	while (s->v[i].name && (strlen(s->v[i].name) != len || memcmp(s->v[i].name, name, len) != 0))
		i = (i + 1) & (s->cap - 1);
	return &s->v[i];
}

static enum name_kind names_get(const struct release_names *s, const char *name, size_t len)
{
	const struct name_slot *slot = names_slot(s, name, len);

	return slot->name ? slot->kind : KIND_NONE;
}

static int names_grow(struct release_names *s)
{
	struct name_slot *old = s->v;
	size_t old_cap = s->cap;

	s->v = calloc(old_cap * 2, sizeof(*s->v));
	if (!s->v) {
		s->v = old;
		return -ENOMEM;
	}
	s->cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].name)
			*names_slot(s, old[i].name, strlen(old[i].name)) = old[i];
	free(old);
	return 0;
}

static int names_put(struct release_names *s, const char *name, size_t len, enum name_kind kind)
{
	struct name_slot *slot = names_slot(s, name, len);

	if (slot->name) {
		slot->kind = kind;
		return 0;
	}
	if (s->n >= NAMES_MAX || s->bytes + len > NAMES_BYTES_MAX)
		return -E2BIG;
	if ((s->n + 1) * 2 > s->cap) {
		if (names_grow(s) < 0)
			return -ENOMEM;
		slot = names_slot(s, name, len);
	}
	slot->name = strndup(name, len);
	if (!slot->name)
		return -ENOMEM;
	slot->kind = kind;
	s->n++;
	s->bytes += len;
	return 0;
}

static int names_add_link(struct release_names *s, const char *name)
{
	if (s->n_links == s->cap_links) {
		size_t cap = s->cap_links ? s->cap_links * 2 : 64;
		char **v = realloc(s->links, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->links = v;
		s->cap_links = cap;
	}
	s->links[s->n_links] = strdup(name);
	if (!s->links[s->n_links])
		return -ENOMEM;
	s->n_links++;
	return 0;
}

/*
 * NAME without "./", "//" and "." components, into OUT. Returns the number
 * of components (0: the root itself), or -EBADMSG for an absolute name, a
 * ".." component, or one too long or too deep.
 */
static int normalize(const char *name, char *out, size_t out_size, char *err, size_t err_size)
{
	const char *p = name;
	size_t len = 0;
	int depth = 0;

	if (name[0] == '/') {
		set_err(err, err_size, "'%s' is an absolute name", name);
		return -EBADMSG;
	}
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			set_err(err, err_size, "'%s' has a '..' component", name);
			return -EBADMSG;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (len + n + 2 > out_size || ++depth > RELEASE_DEPTH_MAX) {
				set_err(err, err_size, "'%.200s...' is too long or too deep", name);
				return -EBADMSG;
			}
			if (len > 0)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
		}
		p = *end ? end + 1 : end;
	}
	out[len] = '\0';
	return depth;
}

/* A symlink at NORM (DEPTH components) to TARGET: does it stay inside, read lexically? */
static bool link_stays_inside(int depth, const char *target)
{
	const char *p = target;
	int level = depth - 1; /* the link's own directory */

	if (target[0] == '/' || target[0] == '\0')
		return false;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--level < 0)
				return false;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			level++;
		}
		p = *end ? end + 1 : end;
	}
	return true;
}

static const char *kind_word(enum name_kind k)
{
	switch (k) {
	case KIND_LINK:
		return "a symlink";
	case KIND_FILE:
		return "a file";
	default:
		return "a directory";
	}
}

int release_check_entry(struct release_names *names, const char *name, mode_t type,
                        const char *symlink, const char *hardlink, char *norm, size_t norm_size,
                        char *err, size_t err_size)
{
	char target[PATH_MAX];
	enum name_kind have, kind;
	int depth, r;
	size_t len;

	depth = normalize(name, norm, norm_size, err, err_size);
	if (depth < 0)
		return depth;
	if (depth == 0) {
		if (type == S_IFDIR && !hardlink)
			return 0;
		set_err(err, err_size, "'%s' names the release itself but is not a directory", name);
		return -EBADMSG;
	}
	len = strlen(norm);
	/*
	 * Every directory on the way must be one this archive made (or will
	 * make implicitly): never a symlink or a file, so no later entry is
	 * ever written through a link an earlier one planted.
	 */
	for (size_t i = 0; i < len; i++) {
		if (norm[i] != '/')
			continue;
		have = names_get(names, norm, i);
		if (have == KIND_NONE) {
			r = names_put(names, norm, i, KIND_DIR);
			if (r < 0)
				goto too_many;
		} else if (have != KIND_DIR) {
			set_err(err, err_size, "'%s' goes through '%.*s', which is %s", name, (int)i, norm,
			        kind_word(have));
			return -EBADMSG;
		}
	}
	have = names_get(names, norm, len);
	if (hardlink) {
		int tdepth = normalize(hardlink, target, sizeof(target), NULL, 0);

		if (tdepth < 0) {
			set_err(err, err_size, "'%s' is a hard link to '%s', outside the release", name,
			        hardlink);
			return -EBADMSG;
		}
		if (tdepth == 0 || names_get(names, target, strlen(target)) != KIND_FILE) {
			set_err(err, err_size,
			        "'%s' is a hard link to '%s', which is not a file extracted before it", name,
			        hardlink);
			return -EBADMSG;
		}
		kind = KIND_FILE;
	} else {
		switch (type) {
		case S_IFREG:
			kind = KIND_FILE;
			break;
		case S_IFDIR:
			kind = KIND_DIR;
			break;
		case S_IFLNK:
			if (!symlink || !link_stays_inside(depth, symlink)) {
				set_err(err, err_size, "'%s' is a symlink to '%s', outside the release", name,
				        symlink ? symlink : "");
				return -EBADMSG;
			}
			kind = KIND_LINK;
			break;
		case S_IFCHR:
		case S_IFBLK:
			set_err(err, err_size, "'%s' is a device node", name);
			return -EBADMSG;
		case S_IFIFO:
			set_err(err, err_size, "'%s' is a fifo", name);
			return -EBADMSG;
		case S_IFSOCK:
			set_err(err, err_size, "'%s' is a socket", name);
			return -EBADMSG;
		default:
			set_err(err, err_size, "'%s' is of an unknown type", name);
			return -EBADMSG;
		}
	}
	/* A directory may be named again (it was implicit, or is listed twice); nothing else. */
	if (have != KIND_NONE && !(have == KIND_DIR && kind == KIND_DIR)) {
		set_err(err, err_size, "'%s' appears twice in the archive", name);
		return -EBADMSG;
	}
	r = names_put(names, norm, len, kind);
	if (r == 0 && kind == KIND_LINK)
		r = names_add_link(names, norm);
	if (r < 0)
		goto too_many;
	return 1;
too_many:
	if (r == -E2BIG) {
		set_err(err, err_size, "the archive has too many names");
		return -EBADMSG;
	}
	set_err(err, err_size, "out of memory");
	return r;
}

/* ---- unpacking (in a child process) ------------------------------------ */

struct release_unpack {
	char *path;
	char *releases;
	char *version;
	int relfd;       /* RELEASES */
	char *tmp_name;  /* .VERSION.updater-XXXXXX inside RELEASES, NULL once committed or removed */
	char *tmp_path;
	pid_t pid;       /* the unpacking child, 0 once reaped */
	int fd;          /* its report pipe, -1 once read */
	bool finished;   /* the child said the release is whole */
};

static long sys_openat2(int dirfd, const char *path, struct open_how *how)
{
	return syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

/*
 * Once all is written: every symlink must resolve beneath the release as
 * the kernel sees it (a chain of links each harmless alone may not be).
 * Dangling ones are allowed: they lead nowhere outside either.
 */
static int check_links_beneath(int rootfd, const struct release_names *names, char *err, size_t err_size)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
	                        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };

	for (size_t i = 0; i < names->n_links; i++) {
		long fd = sys_openat2(rootfd, names->links[i], &how);

		if (fd >= 0) {
			(void)close((int)fd);
			continue;
		}
		if (errno == ENOENT || errno == ENOSYS)
			continue;
		if (errno == EXDEV || errno == ELOOP || errno == EAGAIN) {
			set_err(err, err_size, "symlink '%s' leads out of the release", names->links[i]);
			return -EBADMSG;
		}
		set_err(err, err_size, "cannot follow symlink '%s': %s", names->links[i], strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * Durability, before the rename: every file and directory of the release
 * fsynced. One syncfs() first writes everything out at once; each fsync()
 * then costs the device's cache flush alone, so they run in a few threads at
 * a time, and the filesystem merges their flushes (one after the other, 2,000
 * files take seconds on a busy disk).
 */
#define SYNC_THREADS 8

struct sync_list {
	char **paths;   /* relative to the release's root; a directory ends in '/' */
	size_t n, cap;
	size_t next;    /* the next one a thread takes */
	int rootfd;
	int error;      /* the first error, as a negative errno */
	pthread_mutex_t lock;
};

static int sync_list_add(struct sync_list *l, const char *prefix, const char *name, bool dir)
{
	char *p;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char **v = realloc(l->paths, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->paths = v;
		l->cap = cap;
	}
	if (asprintf(&p, "%s%s%s", prefix, name, dir ? "/" : "") < 0)
		return -ENOMEM;
	l->paths[l->n++] = p;
	return 0;
}

/* Every regular file and directory under DIRFD (named PREFIX), never through a symlink. */
static int sync_collect(struct sync_list *l, int dirfd, const char *prefix, int depth)
{
	struct dirent *de;
	DIR *d;
	int dup_fd, r = 0;

	if (depth > RELEASE_DEPTH_MAX + 1)
		return -ELOOP;
	dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		r = -errno;
		(void)close(dup_fd);
		return r;
	}
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		char *sub;
		int fd;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (S_ISREG(st.st_mode)) {
			r = sync_list_add(l, prefix, de->d_name, false);
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		if (asprintf(&sub, "%s%s/", prefix, de->d_name) < 0) {
			(void)close(fd);
			r = -ENOMEM;
			break;
		}
		r = sync_collect(l, fd, sub, depth + 1);
		free(sub);
		(void)close(fd);
		if (r == 0)
			r = sync_list_add(l, prefix, de->d_name, true);
	}
	(void)closedir(d);
	return r;
}

static void *sync_worker(void *arg)
{
	struct sync_list *l = arg;
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
	                        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };

	for (;;) {
		const char *path;
		long fd;
		int r = 0;

		(void)pthread_mutex_lock(&l->lock);
		path = l->next < l->n && l->error == 0 ? l->paths[l->next++] : NULL;
		(void)pthread_mutex_unlock(&l->lock);
		if (!path)
			return NULL;
		fd = sys_openat2(l->rootfd, path, &how);
		if (fd < 0)
			r = -errno;
		else if (fsync((int)fd) < 0)
			r = -errno;
		if (fd >= 0)
			(void)close((int)fd);
		if (r < 0) {
			(void)pthread_mutex_lock(&l->lock);
			if (l->error == 0)
				l->error = r;
			(void)pthread_mutex_unlock(&l->lock);
		}
	}
}

static int sync_tree(int rootfd)
{
	struct sync_list l = { .rootfd = rootfd };
	pthread_t threads[SYNC_THREADS];
	size_t started = 0;
	int r;

	(void)syncfs(rootfd);
	r = sync_collect(&l, rootfd, "", 0);
	if (r == 0 && pthread_mutex_init(&l.lock, NULL) != 0)
		r = -ENOMEM;
	if (r == 0) {
		for (; started < SYNC_THREADS && started * 64 < l.n; started++)
			if (pthread_create(&threads[started], NULL, sync_worker, &l) != 0)
				break;
		/* No thread (or nothing to share out): this one does the work. */
		if (started == 0)
			(void)sync_worker(&l);
		for (size_t i = 0; i < started; i++)
			(void)pthread_join(threads[i], NULL);
		(void)pthread_mutex_destroy(&l.lock);
		r = l.error;
	}
	/* The root itself last: its entries are on disk once it is. */
	if (r == 0 && fsync(rootfd) < 0)
		r = -errno;
	for (size_t i = 0; i < l.n; i++)
		free(l.paths[i]);
	free(l.paths);
	return r;
}

/* Copy the data of the current entry, counting it against the limit. */
static int copy_data(struct archive *a, struct archive *w, uint64_t *bytes, uint64_t max,
                     const char *name, char *err, size_t err_size)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	for (;;) {
		r = archive_read_data_block(a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK) {
			set_err(err, err_size, "the archive is damaged at '%s': %s", name,
			        archive_error_string(a) ? archive_error_string(a) : "read error");
			return -EBADMSG;
		}
		if (len > max - *bytes) {
			set_err(err, err_size, "it unpacks to more than max_unpacked (%" PRIu64 " bytes)", max);
			return -EBADMSG;
		}
		*bytes += len;
		if (archive_write_data_block(w, buf, len, off) != ARCHIVE_OK) {
			set_err(err, err_size, "cannot write '%s': %s", name,
			        archive_error_string(w) ? archive_error_string(w) : "write error");
			return -EIO;
		}
	}
}

static int unpack_entries(struct archive *a, struct archive *w, struct release_names *names,
                          const struct release_spec *spec, struct release_report *rep, char *err,
                          size_t err_size)
{
	uint64_t max_entries = spec->max_entries ? spec->max_entries : RELEASE_ENTRIES_MAX;
	char norm[PATH_MAX], hl_norm[PATH_MAX];
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		const char *hl = archive_entry_hardlink(e);
		mode_t type = archive_entry_filetype(e);
		mode_t perm = archive_entry_perm(e);
		int c;

		if (++rep->entries > max_entries) {
			set_err(err, err_size, "it has more than %" PRIu64 " entries", max_entries);
			return -EBADMSG;
		}
		if (!name) {
			set_err(err, err_size, "entry %" PRIu64 " has no name", rep->entries);
			return -EBADMSG;
		}
		c = release_check_entry(names, name, type, archive_entry_symlink(e), hl, norm, sizeof(norm),
		                        err, err_size);
		if (c < 0)
			return c;
		if (c == 0)
			continue;
		if (type == S_IFREG && !hl && archive_entry_size_is_set(e)) {
			la_int64_t size = archive_entry_size(e);

			if (size < 0 || (uint64_t)size > spec->max_unpacked - rep->bytes) {
				set_err(err, err_size,
				        "'%s' would make it unpack to more than max_unpacked (%" PRIu64 " bytes)",
				        name, spec->max_unpacked);
				return -EBADMSG;
			}
		}
		if (perm & 07000)
			rep->dropped_bits++;
		/* What is written: the checked name, our owner, no special bits, nothing else restored. */
		archive_entry_set_pathname(e, norm);
		if (hl) {
			(void)normalize(hl, hl_norm, sizeof(hl_norm), NULL, 0);
			archive_entry_set_hardlink(e, hl_norm);
		}
		archive_entry_set_perm(e, perm & 0777);
		archive_entry_acl_clear(e);
		archive_entry_xattr_clear(e);
		archive_entry_set_fflags(e, 0, 0);
		if (archive_write_header(w, e) != ARCHIVE_OK) {
			set_err(err, err_size, "cannot write '%s': %s", name,
			        archive_error_string(w) ? archive_error_string(w) : "refused");
			return -EBADMSG;
		}
		r = copy_data(a, w, &rep->bytes, spec->max_unpacked, name, err, err_size);
		if (r < 0)
			return r;
		if (archive_write_finish_entry(w) != ARCHIVE_OK) {
			set_err(err, err_size, "cannot write '%s': %s", name,
			        archive_error_string(w) ? archive_error_string(w) : "error");
			return -EIO;
		}
	}
	if (r != ARCHIVE_EOF) {
		set_err(err, err_size, "the archive is damaged: %s",
		        archive_error_string(a) ? archive_error_string(a) : "read error");
		return -EBADMSG;
	}
	if (rep->entries == 0) {
		set_err(err, err_size, "the archive is empty");
		return -EBADMSG;
	}
	return 0;
}

/* The child's work: unpack ARCHIVE_FD into ROOTFD (its working directory). */
static int unpack(int archive_fd, int rootfd, const struct release_spec *spec,
                  struct release_report *rep, char *err, size_t err_size)
{
	struct release_names *names = release_names_new();
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	int r = -ENOMEM;

	if (!names || !a || !w) {
		set_err(err, err_size, "out of memory");
		goto out;
	}
	(void)archive_read_support_format_tar(a);
	(void)archive_read_support_filter_gzip(a);
	(void)archive_read_support_filter_xz(a);
	(void)archive_read_support_filter_zstd(a);
	(void)archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	                                           ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	                                           ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
	                                           ARCHIVE_EXTRACT_NO_OVERWRITE);
	if (archive_read_open_fd(a, archive_fd, READ_BLOCK) != ARCHIVE_OK) {
		set_err(err, err_size, "not an archive updaterd can read (tar, optionally gzip, xz or zstd): %s",
		        archive_error_string(a) ? archive_error_string(a) : "unknown format");
		r = -EBADMSG;
		goto out;
	}
	r = unpack_entries(a, w, names, spec, rep, err, err_size);
	if (r == 0 && archive_write_close(w) != ARCHIVE_OK) {
		set_err(err, err_size, "cannot finish writing: %s",
		        archive_error_string(w) ? archive_error_string(w) : "error");
		r = -EIO;
	}
	if (r == 0)
		r = check_links_beneath(rootfd, names, err, err_size);
	if (r == 0) {
		r = sync_tree(rootfd);
		if (r < 0)
			set_err(err, err_size, "cannot write the release to disk: %s", strerror(-r));
	}
	if (r == 0 && fchmod(rootfd, 0755) < 0) {
		r = -errno;
		set_err(err, err_size, "cannot open the release to readers: %s", strerror(-r));
	}
out:
	if (w)
		(void)archive_write_free(w);
	if (a)
		(void)archive_read_free(a);
	release_names_free(names);
	return r;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static __attribute__((noreturn)) void child_main(int report_fd, int archive_fd, int rootfd,
                                                 const struct release_spec *spec, pid_t parent)
{
	struct release_report rep = { 0 };
	char err[REPORT_MAX - 64] = "", msg[REPORT_MAX];
	int keep[3] = { report_fd, archive_fd, rootfd };
	sigset_t none;
	int r;

	/* Nobody must go on writing into a directory the next daemon deletes at start-up. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	/* Ascending, for close_fds_except(). */
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];

				keep[i] = keep[j];
				keep[j] = t;
			}
	close_fds_except(keep, 3);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)umask(022);
	if (fchdir(rootfd) < 0) {
		r = -errno;
		set_err(err, sizeof(err), "cannot enter the new release: %s", strerror(errno));
	} else {
		r = unpack(archive_fd, rootfd, spec, &rep, err, sizeof(err));
	}
	if (r == 0)
		(void)snprintf(msg, sizeof(msg), "ok %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", rep.entries,
		               rep.bytes, rep.dropped_bits);
	else
		(void)snprintf(msg, sizeof(msg), "error %d %s\n", -r, err);
	write_all(report_fd, msg, strlen(msg));
	_exit(r == 0 ? 0 : 1);
}

int release_unpack_start(const struct release_spec *spec, struct release_unpack **ret)
{
	struct release_unpack *u;
	int pipefd[2] = { -1, -1 }, archive_fd = -1, rootfd = -1, r;
	pid_t parent;

	if (!release_valid_version(spec->version))
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->relfd = u->fd = -1;
	u->path = strdup(spec->path);
	u->releases = strdup(spec->releases);
	u->version = strdup(spec->version);
	if (!u->path || !u->releases || !u->version) {
		r = -ENOMEM;
		goto fail;
	}
	u->relfd = open_dir(spec->releases);
	if (u->relfd < 0) {
		r = u->relfd;
		goto fail;
	}
	/* 0700 while it is written: nobody looks into a release before it is whole. */
	for (int attempt = 0; attempt < 100 && !u->tmp_name; attempt++) {
		u->tmp_name = random_name(spec->version);
		if (!u->tmp_name) {
			r = -ENOMEM;
			goto fail;
		}
		if (mkdirat(u->relfd, u->tmp_name, 0700) < 0) {
			r = -errno;
			free(u->tmp_name);
			u->tmp_name = NULL;
			if (r != -EEXIST)
				goto fail;
		}
	}
	if (!u->tmp_name) {
		r = -EEXIST;
		goto fail;
	}
	if (asprintf(&u->tmp_path, "%s/%s", spec->releases, u->tmp_name) < 0) {
		u->tmp_path = NULL;
		r = -ENOMEM;
		goto fail;
	}
	rootfd = openat(u->relfd, u->tmp_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	archive_fd = open(spec->archive, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0 || archive_fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	/* Taken before the fork: a child that asked getppid() after it would miss a parent killed meanwhile. */
	parent = getpid();
	u->pid = fork();
	if (u->pid < 0) {
		r = -errno;
		u->pid = 0;
		goto fail;
	}
	if (u->pid == 0) {
		(void)close(pipefd[0]);
		child_main(pipefd[1], archive_fd, rootfd, spec, parent);
	}
	(void)close(pipefd[1]);
	(void)close(archive_fd);
	(void)close(rootfd);
	u->fd = pipefd[0];
	(void)fcntl(u->fd, F_SETFL, O_NONBLOCK);
	*ret = u;
	return 0;
fail:
	if (pipefd[0] >= 0)
		(void)close(pipefd[0]);
	if (pipefd[1] >= 0)
		(void)close(pipefd[1]);
	if (archive_fd >= 0)
		(void)close(archive_fd);
	if (rootfd >= 0)
		(void)close(rootfd);
	release_unpack_free(u);
	return r;
}

int release_unpack_fd(const struct release_unpack *u)
{
	return u ? u->fd : -1;
}

const char *release_unpack_dir(const struct release_unpack *u)
{
	return u->tmp_path;
}

int release_unpack_finish(struct release_unpack *u, struct release_report *report, char *err,
                          size_t err_size)
{
	struct release_report rep = { 0 };
	char msg[REPORT_MAX + 1];
	size_t len = 0;
	int status = 0, code = 0, pos = 0;

	if (u->fd < 0)
		return -EBADF;
	(void)fcntl(u->fd, F_SETFL, 0);
	while (len < REPORT_MAX) {
		ssize_t n = read(u->fd, msg + len, REPORT_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	msg[len] = '\0';
	if (len > 0 && msg[len - 1] == '\n')
		msg[len - 1] = '\0';
	(void)close(u->fd);
	u->fd = -1;
	while (waitpid(u->pid, &status, 0) < 0 && errno == EINTR)
		;
	u->pid = 0;
	if (sscanf(msg, "ok %" SCNu64 " %" SCNu64 " %" SCNu64, &rep.entries, &rep.bytes,
	           &rep.dropped_bits) == 3 &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		u->finished = true;
		if (report)
			*report = rep;
		return 0;
	}
	if (sscanf(msg, "error %d %n", &code, &pos) == 1 && pos > 0) {
		set_err(err, err_size, "%s", msg + pos);
		return code > 0 ? -code : -EIO;
	}
	if (WIFSIGNALED(status))
		set_err(err, err_size, "the unpacking process was killed by signal %d", WTERMSIG(status));
	else
		set_err(err, err_size, "the unpacking process failed without saying why");
	return -EIO;
}

/* Make a new symlink to TARGET beside PATH and rename it over PATH; then fsync the directory. */
static int switch_link(const char *path, const char *target)
{
	const char *base;
	char *tmp = NULL;
	int dirfd, r = -EEXIST;

	dirfd = open_parent(path, &base);
	if (dirfd < 0)
		return dirfd;
	for (int attempt = 0; attempt < 100; attempt++) {
		tmp = random_name(base);
		if (!tmp) {
			r = -ENOMEM;
			break;
		}
		if (symlinkat(target, dirfd, tmp) == 0) {
			r = 0;
			break;
		}
		r = -errno;
		free(tmp);
		tmp = NULL;
		if (r != -EEXIST)
			break;
	}
	if (r == 0 && renameat(dirfd, tmp, dirfd, base) < 0) {
		r = -errno;
		(void)unlinkat(dirfd, tmp, 0);
	}
	/* The switch is durable once the directory is. */
	if (r == 0 && fsync(dirfd) < 0)
		r = -EIO;
	free(tmp);
	(void)close(dirfd);
	return r;
}

/* The old program's file (for `signal:`): RELEASES/CURRENT/EXE. */
static void old_exe(int relfd, const char *current, const char *exe, struct swap_result *res)
{
	char *p = NULL;
	struct stat st;

	memset(res, 0, sizeof(*res));
	if (!current || !exe || asprintf(&p, "%s/%s", current, exe) < 0)
		return;
	if (fstatat(relfd, p, &st, 0) == 0 && S_ISREG(st.st_mode)) {
		res->had_old = true;
		res->old_dev = st.st_dev;
		res->old_ino = st.st_ino;
	}
	free(p);
}

int release_commit(struct release_unpack *u, const char *exe, struct swap_result *ret)
{
	struct swap_result res;
	char *current = NULL, *target = NULL;
	struct stat st;
	int r;

	if (!u->finished || !u->tmp_name)
		return -EINVAL;
	if (release_current(u->path, u->releases, &current) < 0)
		current = NULL;
	if (current && strcmp(current, u->version) == 0) {
		free(current);
		return -EBUSY;
	}
	old_exe(u->relfd, current, exe, &res);
	if (fstatat(u->relfd, u->version, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		r = retire(u->relfd, u->version);
		if (r < 0)
			goto out;
	}
	if (renameat2(u->relfd, u->tmp_name, u->relfd, u->version, RENAME_NOREPLACE) < 0) {
		r = -errno;
		goto out;
	}
	free(u->tmp_name);
	u->tmp_name = NULL;
	if (fsync(u->relfd) < 0) {
		r = -errno;
		goto undo;
	}
	target = release_archive_path(u->releases, u->version);
	if (!target) {
		r = -ENOMEM;
		goto undo;
	}
	r = switch_link(u->path, target);
	if (r < 0 && r != -EIO) /* -EIO: switched, only the sync failed */
		goto undo;
	if (ret)
		*ret = res;
	goto out;
undo:
	/* PATH was not switched: the new release is nobody's; do not leave it. */
	(void)retire(u->relfd, u->version);
out:
	free(target);
	free(current);
	return r;
}

void release_unpack_free(struct release_unpack *u)
{
	if (!u)
		return;
	if (u->pid > 0) {
		(void)kill(u->pid, SIGKILL);
		while (waitpid(u->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (u->fd >= 0)
		(void)close(u->fd);
	if (u->relfd >= 0) {
		/* A refused archive may have left 100,000 files: deleted off the loop. */
		if (u->tmp_name)
			remove_in_background(u->relfd, &u->tmp_name, 1);
		(void)close(u->relfd);
	}
	free(u->tmp_name);
	free(u->tmp_path);
	free(u->path);
	free(u->releases);
	free(u->version);
	free(u);
}

int release_discard(const char *path, const char *releases, const char *version)
{
	char *current = NULL;
	struct stat st;
	int relfd, r;

	if (!release_valid_version(version))
		return -EINVAL;
	if (release_current(path, releases, &current) == 0) {
		bool busy = strcmp(current, version) == 0;

		free(current);
		if (busy)
			return -EBUSY;
	}
	relfd = open_dir(releases);
	if (relfd < 0)
		return relfd;
	if (fstatat(relfd, version, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = errno == ENOENT ? 0 : -errno;
	} else {
		r = retire(relfd, version);
		if (r == 0)
			r = 1;
	}
	(void)close(relfd);
	return r;
}

int release_switch(const char *path, const char *releases, const char *version, const char *exe,
                   struct swap_result *ret)
{
	struct swap_result res;
	char *current = NULL, *target;
	struct stat st;
	int relfd, r;

	if (!release_valid_version(version))
		return -EINVAL;
	relfd = open_dir(releases);
	if (relfd < 0)
		return relfd;
	if (fstatat(relfd, version, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		(void)close(relfd);
		return -ENOENT;
	}
	if (release_current(path, releases, &current) < 0)
		current = NULL;
	old_exe(relfd, current, exe, &res);
	free(current);
	(void)close(relfd);
	target = release_archive_path(releases, version);
	if (!target)
		return -ENOMEM;
	r = switch_link(path, target);
	free(target);
	if (r >= 0 && ret)
		*ret = res;
	return r;
}

static int version_desc(const void *a, const void *b)
{
	return version_compare(*(char *const *)b, *(char *const *)a);
}

int release_prune(const char *releases, unsigned keep, const char *current, const char *previous)
{
	char **names = NULL;
	size_t n = 0, cap = 0, kept = 0;
	struct dirent *de;
	int relfd, fd, r = 0, deleted = 0;
	DIR *d;

	relfd = open_dir(releases);
	if (relfd < 0)
		return relfd;
	fd = fcntl(relfd, F_DUPFD_CLOEXEC, 3);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		r = -errno;
		if (fd >= 0)
			(void)close(fd);
		(void)close(relfd);
		return r;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!release_valid_version(de->d_name) ||
		    fstatat(relfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if ((current && strcmp(de->d_name, current) == 0) ||
		    (previous && strcmp(de->d_name, previous) == 0)) {
			kept++;
			continue;
		}
		if (n == cap) {
			char **v = realloc(names, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!v) {
				r = -ENOMEM;
				goto out;
			}
			names = v;
			cap = cap ? cap * 2 : 16;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), version_desc);
	for (size_t i = 0; i < n; i++) {
		char *tmp = NULL;
		int q;

		if (kept < keep) {
			/* Kept: not a name for the background deletion below. */
			free(names[i]);
			names[i] = NULL;
			kept++;
			continue;
		}
		/* Out of sight at once; deleted in the background (a crash leaves it to the start-up). */
		q = rename_away(relfd, names[i], &tmp);
		if (q == 0) {
			free(names[i]);
			names[i] = tmp;
			deleted++;
		} else {
			free(names[i]);
			names[i] = NULL;
			if (r == 0)
				r = q;
		}
	}
	if (deleted > 0)
		remove_in_background(relfd, names, n);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	(void)closedir(d);
	(void)close(relfd);
	return r < 0 && deleted == 0 ? r : deleted;
}

/* Delete the temporary entries in DIR (of BASE when not NULL; only symlinks when LINKS_ONLY). */
static int remove_temps(const char *dir, const char *base, bool links_only)
{
	struct dirent *de;
	int dirfd, fd, r = 0, count = 0;
	DIR *d;

	dirfd = open_dir(dir);
	if (dirfd < 0)
		return dirfd;
	fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		r = -errno;
		if (fd >= 0)
			(void)close(fd);
		(void)close(dirfd);
		return r;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!is_temp_name(de->d_name, base))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (links_only && !S_ISLNK(st.st_mode))
			continue;
		int q = release_remove_tree(dirfd, de->d_name);

		if (q == 0)
			count++;
		else if (r == 0)
			r = q;
	}
	(void)closedir(d);
	(void)close(dirfd);
	return r < 0 && count == 0 ? r : count;
}

int release_recover(const char *path, const char *releases)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int a, b;

	a = remove_temps(releases, NULL, false);
	if (!slash)
		return a;
	dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	b = remove_temps(dir, slash + 1, true);
	free(dir);
	if (a < 0)
		return a;
	return b > 0 ? a + b : a;
}
