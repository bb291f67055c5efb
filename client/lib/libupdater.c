/*
 * libupdater.c - who the running image is, which descriptors survive a
 * re-exec, and the re-exec itself.
 *
 * The running image is known by the device and inode of /proc/self/exe; the
 * file that would run next is whatever the recorded path names now. When
 * they differ, updater_reexec() executes the path with the same argv and
 * hands the kept descriptors over the way systemd's socket activation does
 * (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID), so the new image finds them with
 * updater_inherited_fd() or sd_listen_fds().
 *
 * In a set-uid or set-gid program (AT_SECURE) the caller's environment and
 * argv[0] are the caller's to choose, so none of them names what runs next:
 * only the canonical /proc/self/exe path, and only while nobody but its
 * owner (root or the program's own user) can write it or a directory above
 * it. LISTEN_* and UPDATER_WATCH_FD are not adopted either (SPEC 14).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "updater.h"
#include "internal.h"

extern char **environ;

struct updater_state updater_state_;

#define S (&updater_state_)

#define FDNAME_MAX 255
/* The path updater_reexec() executed, for the new image's updater_init(). */
#define REEXEC_PATH_VAR "UPDATER_REEXEC_PATH"
/* Bounds what a (possibly hostile) environment can make us allocate. */
#define LISTEN_FDS_MAX 4096

static bool fdname_is_valid(const char *name)
{
	size_t len = 0;

	if (!name)
		return false;
	for (const char *p = name; *p; p++, len++) {
		/* Printable ASCII without ':', the separator of LISTEN_FDNAMES. */
		if (*p < ' ' || *p > '~' || *p == ':')
			return false;
	}
	return len >= 1 && len <= FDNAME_MAX;
}

static int fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* DIR/NAME as a new string, or NULL. */
static char *path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + 1 + b + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

static char *absolute_from_cwd(const char *rel)
{
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	return path_join(strcmp(cwd, "/") == 0 ? "" : cwd, rel);
}

static bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

/* NAME (no '/') looked up in PATH as execvp(3) would, made absolute. */
static char *search_path(const char *name)
{
	const char *search = getenv("PATH");
	char *copy, *save = NULL, *found = NULL;

	if (!search || !*search)
		return NULL;
	copy = strdup(search);
	if (!copy)
		return NULL;
	/* strtok_r skips empty entries: an empty entry (the cwd) is rare and unsafe. */
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *candidate = path_join(dir, name);

		if (!candidate)
			break;
		if (is_executable_file(candidate)) {
			if (candidate[0] == '/') {
				found = candidate;
			} else {
				found = absolute_from_cwd(candidate);
				free(candidate);
			}
			break;
		}
		free(candidate);
	}
	free(copy);
	return found;
}

/*
 * readlink(/proc/self/exe) without the " (deleted)" the kernel appends once
 * the image's file is gone, or NULL.
 */
static char *proc_self_exe_path(void)
{
	static const char deleted[] = " (deleted)";
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	size_t dl = sizeof(deleted) - 1;

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if ((size_t)n > dl && strcmp(buf + n - dl, deleted) == 0)
		buf[n - dl] = '\0';
	return strdup(buf);
}

/*
 * The path this program was started as: the one a previous image handed over
 * (it knew it, even if argv[0] is relative and the working directory changed
 * since), else argv[0]. Either is only a hint, and a caller may set it to
 * anything: the candidate is taken when it is the running image, or when it
 * names the same place as /proc/self/exe (the file was replaced before we
 * looked: an update we must not miss). Otherwise the path of the image itself.
 */
static char *resolve_path(const char *handed, const char *argv0, dev_t dev, ino_t ino)
{
	char *candidate = NULL, *self;
	struct stat st;

	if (handed && handed[0] == '/') {
		candidate = strdup(handed);
	} else if (argv0 && *argv0) {
		if (argv0[0] == '/')
			candidate = strdup(argv0);
		else if (strchr(argv0, '/'))
			candidate = absolute_from_cwd(argv0);
		else
			candidate = search_path(argv0);
	}
	if (candidate && stat(candidate, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
		return candidate;

	self = proc_self_exe_path();
	if (candidate && self) {
		char *real = realpath(candidate, NULL);
		bool same = real && strcmp(real, self) == 0;

		free(real);
		if (same) {
			free(self);
			return candidate;
		}
	}
	free(candidate);
	return self;
}

static char **copy_argv(int argc, char *argv[])
{
	char **copy = calloc((size_t)argc + 1, sizeof(*copy));

	if (!copy)
		return NULL;
	for (int i = 0; i < argc; i++) {
		copy[i] = strdup(argv[i]);
		if (!copy[i]) {
			for (int j = 0; j < i; j++)
				free(copy[j]);
			free(copy);
			return NULL;
		}
	}
	return copy;
}

static void free_named(struct named_fd *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *ret)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/*
 * Take the descriptors a previous image (or systemd) handed over. They are
 * ours only when LISTEN_PID names this process; then the variables are
 * removed so that children do not think the descriptors are theirs.
 */
static int adopt_listen_fds(void)
{
	unsigned long long pid, n;
	const char *names;
	char *copy = NULL, *cursor;
	struct named_fd *v;
	size_t count = 0;

	if (parse_uint(getenv("LISTEN_PID"), UINT32_MAX, &pid) < 0 || pid != (unsigned long long)getpid())
		return 0;
	if (parse_uint(getenv("LISTEN_FDS"), LISTEN_FDS_MAX, &n) < 0 || n == 0)
		goto done;

	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	names = getenv("LISTEN_FDNAMES");
	if (names) {
		copy = strdup(names);
		if (!copy) {
			free(v);
			return -ENOMEM;
		}
	}
	cursor = copy;
	for (unsigned long long i = 0; i < n; i++) {
		int fd = 3 + (int)i;
		char *name = NULL;

		if (cursor) {
			name = cursor;
			cursor = strchr(cursor, ':');
			if (cursor)
				*cursor++ = '\0';
		}
		if (!name || !fdname_is_valid(name))
			name = "unknown";
		if (!fd_is_open(fd))
			continue;
		/* Ours now: not for whatever this program executes. */
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		v[count].fd = fd;
		v[count].name = strdup(name);
		if (!v[count].name) {
			free_named(v, count);
			free(copy);
			return -ENOMEM;
		}
		count++;
	}
	free(copy);
	S->inherited = v;
	S->n_inherited = count;
done:
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	return 0;
}

/* Started set-uid or set-gid (or with file capabilities): the caller is not to be trusted. */
static bool secure_mode(void)
{
	return getauxval(AT_SECURE) != 0;
}

/*
 * True when nobody but root or the effective user can change what PATH
 * (absolute, canonical) executes: the file and every directory above it are
 * owned by one of them and writable by neither group nor others. A
 * root-owned sticky directory (/tmp) is allowed: there, nobody else may
 * rename or delete what is not theirs.
 */
static bool path_is_trusted(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (path[0] != '/' || len >= sizeof(buf))
		return false;
	memcpy(buf, path, len + 1);
	for (;;) {
		struct stat st;
		char *slash;

		if (lstat(buf, &st) < 0 || S_ISLNK(st.st_mode))
			return false;
		if (st.st_uid != 0 && st.st_uid != geteuid())
			return false;
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) && st.st_uid == 0 && strcmp(buf, path) != 0))
			return false;
		if (strcmp(buf, "/") == 0)
			return true;
		slash = strrchr(buf, '/');
		if (slash == buf)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

int updater_init(int argc, char *argv[])
{
	struct stat st;
	int fd, r;

	/* A pre-flight run by the previous image: it only wanted to see us get here. */
	updater_preflight_child_();
	if (S->initialized)
		return -EALREADY;
	if (argc < 1 || !argv || !argv[0])
		return -EINVAL;

	fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fstat(fd, &st);
	(void)close(fd);
	if (r < 0)
		return -errno;

	S->secure = secure_mode();
	if (S->secure) {
		/* Not argv[0], PATH or UPDATER_REEXEC_PATH: the caller chose them. */
		S->path = proc_self_exe_path();
		(void)unsetenv("LISTEN_PID");
		(void)unsetenv("LISTEN_FDS");
		(void)unsetenv("LISTEN_FDNAMES");
		(void)unsetenv(UPDATER_WATCH_FD_VAR);
	} else {
		S->path = resolve_path(getenv(REEXEC_PATH_VAR), argv[0], st.st_dev, st.st_ino);
	}
	(void)unsetenv(REEXEC_PATH_VAR);
	if (!S->path)
		return -ENOMEM;
	S->argv = copy_argv(argc, argv);
	if (!S->argv) {
		free(S->path);
		S->path = NULL;
		return -ENOMEM;
	}
	S->dev = st.st_dev;
	S->ino = st.st_ino;

	r = adopt_listen_fds();
	if (r < 0) {
		for (int i = 0; S->argv[i]; i++)
			free(S->argv[i]);
		free(S->argv);
		S->argv = NULL;
		free(S->path);
		S->path = NULL;
		return r;
	}
	updater_watch_adopt_();
	S->initialized = true;
	return 0;
}

int updater_self_changed(void)
{
	struct stat st;

	if (!S->initialized)
		return -EINVAL;
	if (stat(S->path, &st) < 0)
		return -errno;
	return st.st_dev != S->dev || st.st_ino != S->ino;
}

int updater_keep_fd(int fd, const char *name)
{
	struct named_fd *v;
	char *copy;

	if (!S->initialized || !fdname_is_valid(name))
		return -EINVAL;
	if (fd < 0 || !fd_is_open(fd))
		return -EBADF;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < S->n_kept; i++) {
		if (S->kept[i].fd == fd) {
			free(S->kept[i].name);
			S->kept[i].name = copy;
			(void)updater_fdstore_(fd, name);
			return 0;
		}
	}
	v = realloc(S->kept, (S->n_kept + 1) * sizeof(*v));
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	v[S->n_kept].fd = fd;
	v[S->n_kept].name = copy;
	S->kept = v;
	S->n_kept++;
	/* So that a crash and Restart= refuse no connection either (fdstore.c). */
	(void)updater_fdstore_(fd, name);
	return 0;
}

void updater_keep_clear_(void)
{
	for (size_t i = 0; i < S->n_kept; i++)
		free(S->kept[i].name);
	free(S->kept);
	S->kept = NULL;
	S->n_kept = 0;
}

int updater_inherited_fd(const char *name)
{
	if (!name)
		return -ENOENT;
	for (size_t i = 0; i < S->n_inherited; i++)
		if (strcmp(S->inherited[i].name, name) == 0)
			return S->inherited[i].fd;
	return -ENOENT;
}

/* ---- updater_reexec ---------------------------------------------------- */

/*
 * Every open descriptor above 2, in *ret (malloc'd). From /proc/self/fd, or,
 * without /proc, by probing up to the descriptor limit.
 */
static int list_open_fds(int **ret, size_t *ret_n)
{
	size_t n = 0, cap = 64;
	int *v = malloc(cap * sizeof(*v));
	DIR *d;

	if (!v)
		return -ENOMEM;
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;
		int self = dirfd(d);

		while ((de = readdir(d))) {
			unsigned long long fd;

			if (parse_uint(de->d_name, INT_MAX, &fd) < 0 || (int)fd == self || fd <= 2)
				continue;
			if (n == cap) {
				int *nv = realloc(v, 2 * cap * sizeof(*v));

				if (!nv) {
					(void)closedir(d);
					free(v);
					return -ENOMEM;
				}
				v = nv;
				cap *= 2;
			}
			v[n++] = (int)fd;
		}
		(void)closedir(d);
	} else {
		struct rlimit rl;
		int max = 65536;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max)
			max = (int)rl.rlim_cur;
		for (int fd = 3; fd < max; fd++) {
			if (!fd_is_open(fd))
				continue;
			if (n == cap) {
				int *nv = realloc(v, 2 * cap * sizeof(*v));

				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
				cap *= 2;
			}
			v[n++] = fd;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool is_handover_var(const char *entry)
{
	return strncmp(entry, "LISTEN_FDS=", 11) == 0 || strncmp(entry, "LISTEN_FDNAMES=", 15) == 0 ||
	       strncmp(entry, "LISTEN_PID=", 11) == 0 ||
	       strncmp(entry, REEXEC_PATH_VAR "=", sizeof(REEXEC_PATH_VAR)) == 0 ||
	       strncmp(entry, UPDATER_WATCH_FD_VAR "=", sizeof(UPDATER_WATCH_FD_VAR)) == 0;
}

/*
 * The environment for the new image: the current one without LISTEN_*,
 * UPDATER_REEXEC_PATH and UPDATER_WATCH_FD, plus ours: LISTEN_* when
 * descriptors are kept, the path, and the inotify instance WATCH_FD when
 * there is one. environ itself is not touched, so nothing needs undoing when
 * the exec fails. *ret_own holds the strings built here (to free).
 */
static int build_envp(int watch_fd, char ***ret_envp, char **ret_own)
{
	size_t n = 0, len_names = 0, k = 0;
	char **envp, *own, *p;

	for (char **e = environ; e && *e; e++)
		n++;
	for (size_t i = 0; i < S->n_kept; i++)
		len_names += strlen(S->kept[i].name) + 1;

	envp = calloc(n + 6, sizeof(*envp));
	own = malloc(64 + 64 + 64 + sizeof("LISTEN_FDNAMES=") + len_names + sizeof(REEXEC_PATH_VAR "=") +
		     strlen(S->path) + 1);
	if (!envp || !own) {
		free(envp);
		free(own);
		return -ENOMEM;
	}
	for (char **e = environ; e && *e; e++)
		if (!is_handover_var(*e))
			envp[k++] = *e;

	p = own;
	envp[k++] = p;
	p += sprintf(p, "%s=%s", REEXEC_PATH_VAR, S->path) + 1;
	if (watch_fd >= 0) {
		envp[k++] = p;
		p += sprintf(p, "%s=%d", UPDATER_WATCH_FD_VAR, watch_fd) + 1;
	}
	if (S->n_kept > 0) {
		envp[k++] = p;
		p += sprintf(p, "LISTEN_PID=%ld", (long)getpid()) + 1;
		envp[k++] = p;
		p += sprintf(p, "LISTEN_FDS=%zu", S->n_kept) + 1;
		envp[k++] = p;
		p += sprintf(p, "LISTEN_FDNAMES=");
		for (size_t i = 0; i < S->n_kept; i++)
			p += sprintf(p, "%s%s", i ? ":" : "", S->kept[i].name);
	}
	envp[k] = NULL;
	*ret_envp = envp;
	*ret_own = own;
	return 0;
}

/*
 * The descriptor table is changed in steps that can all be undone, because
 * execve() may still fail at the end (a garbage file, ETXTBSY while the new
 * file is being written) and the program must then run on as it was:
 *
 *  1. copy every kept descriptor above the target range 3..3+n-1, so placing
 *     one can never clobber another;
 *  2. copy whatever occupies a target slot, with its close-on-exec flag;
 *  3. set close-on-exec on every other descriptor above 2 that lacks it,
 *     remembering which;
 *  4. dup2() the copies of step 1 into the slots: dup2 leaves them without
 *     close-on-exec, so they alone cross the exec.
 *
 * The copies of steps 1 and 2 are close-on-exec and vanish with the exec. On
 * failure, step 4 is undone from step 2's copies and step 3's list.
 */
struct fd_plan {
	size_t n;
	int *tmp;         /* [n]: copies of the kept descriptors */
	int *saved;       /* [n]: copies of slot 3+i's occupant, or -1 */
	int *saved_flags; /* [n] */
	int *cleared;     /* descriptors we set close-on-exec on */
	size_t n_cleared;
	size_t n_placed;
};

static void plan_undo(struct fd_plan *p)
{
	for (size_t i = 0; i < p->n_placed; i++) {
		int slot = 3 + (int)i;

		if (p->saved[i] >= 0)
			(void)dup3(p->saved[i], slot, (p->saved_flags[i] & FD_CLOEXEC) ? O_CLOEXEC : 0);
		else
			(void)close(slot);
	}
	p->n_placed = 0;
	for (size_t i = 0; i < p->n_cleared; i++) {
		int flags = fcntl(p->cleared[i], F_GETFD);

		if (flags >= 0)
			(void)fcntl(p->cleared[i], F_SETFD, flags & ~FD_CLOEXEC);
	}
	p->n_cleared = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (p->saved[i] >= 0)
			(void)close(p->saved[i]);
		if (p->tmp[i] >= 0)
			(void)close(p->tmp[i]);
		p->saved[i] = p->tmp[i] = -1;
	}
}

static void plan_free(struct fd_plan *p)
{
	free(p->tmp);
	free(p->saved);
	free(p->saved_flags);
	free(p->cleared);
}

static int plan_prepare(struct fd_plan *p, const int *open_fds, size_t n_open)
{
	int above;

	p->n = S->n_kept;
	above = 3 + (int)p->n;
	p->tmp = malloc((p->n + 1) * sizeof(int));
	p->saved = malloc((p->n + 1) * sizeof(int));
	p->saved_flags = calloc(p->n + 1, sizeof(int));
	p->cleared = malloc((n_open + 1) * sizeof(int));
	if (!p->tmp || !p->saved || !p->saved_flags || !p->cleared)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		p->tmp[i] = p->saved[i] = -1;

	for (size_t i = 0; i < p->n; i++) {
		p->tmp[i] = fcntl(S->kept[i].fd, F_DUPFD_CLOEXEC, above);
		if (p->tmp[i] < 0)
			return errno == EBADF ? -EBADF : -errno;
	}
	for (size_t i = 0; i < p->n; i++) {
		int slot = 3 + (int)i, flags = fcntl(slot, F_GETFD);

		if (flags < 0)
			continue;
		p->saved_flags[i] = flags;
		p->saved[i] = fcntl(slot, F_DUPFD_CLOEXEC, above);
		if (p->saved[i] < 0)
			return -errno;
	}
	for (size_t i = 0; i < n_open; i++) {
		int fd = open_fds[i], flags;

		if (fd >= 3 && fd < above)
			continue;
		flags = fcntl(fd, F_GETFD);
		if (flags < 0 || (flags & FD_CLOEXEC))
			continue;
		if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
			return -errno;
		p->cleared[p->n_cleared++] = fd;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (dup2(p->tmp[i], 3 + (int)i) < 0)
			return -errno;
		p->n_placed = i + 1;
	}
	return 0;
}

int updater_reexec(void)
{
	struct fd_plan plan = { 0 };
	struct stat st;
	int *open_fds = NULL;
	size_t n_open = 0;
	char **envp = NULL, *own = NULL;
	int r, handed = -1;

	if (!S->initialized)
		return -EINVAL;
	for (size_t i = 0; i < S->n_kept; i++)
		if (!fd_is_open(S->kept[i].fd))
			return -EBADF;
	/* A set-uid program re-executes only a file nobody else can change. */
	if (S->secure && !path_is_trusted(S->path))
		return -EPERM;
	/* Cheap checks first; execve() has the last word. */
	if (stat(S->path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (faccessat(AT_FDCWD, S->path, X_OK, AT_EACCESS) < 0)
		return -errno;
	/* The new file must get as far as updater_init() before we give up this image. */
	r = updater_preflight_(S->path, S->argv);
	if (r < 0)
		return r;

	r = list_open_fds(&open_fds, &n_open);
	if (r < 0)
		goto out;
	r = plan_prepare(&plan, open_fds, n_open);
	if (r < 0) {
		plan_undo(&plan);
		goto out;
	}
	/* Above the kept descriptors' slots, made after the plan: it crosses the exec. */
	handed = updater_watch_before_exec_(3 + (int)S->n_kept);
	r = build_envp(handed, &envp, &own);
	if (r < 0) {
		plan_undo(&plan);
		updater_watch_after_failed_exec_(handed);
		goto out;
	}
	(void)execve(S->path, S->argv, envp);
	r = -errno;
	plan_undo(&plan);
	updater_watch_after_failed_exec_(handed);
out:
	plan_free(&plan);
	free(open_fds);
	free(envp);
	free(own);
	return r;
}

/* ---- updater_spawn_self ------------------------------------------------ */

pid_t updater_spawn_self(char *const argv[])
{
	char *const *av = argv;
	int p[2], err = 0;
	pid_t pid;
	ssize_t n;

	if (!av) {
		if (!S->initialized)
			return -EINVAL;
		av = S->argv;
	}
	if (!av[0])
		return -EINVAL;
	/* The exec's errno comes back on a pipe the successful exec closes. */
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = errno;
		(void)close(p[0]);
		(void)close(p[1]);
		return -err;
	}
	if (pid == 0) {
		/* In the child, /proc/self/exe is the image the parent runs, even
		 * when its file was renamed over or deleted since. */
		(void)execve("/proc/self/exe", av, environ);
		err = errno;
		(void)!write(p[1], &err, sizeof(err));
		_exit(127);
	}
	(void)close(p[1]);
	do
		n = read(p[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	(void)close(p[0]);
	if (n == (ssize_t)sizeof(err)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -(err ? err : EIO);
	}
	return pid;
}
