/* tree.c - see run.h: the processes under updater-run. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"

/* Longest parent chain followed before giving up (a loop cannot exist, but
 * a process may die and its PID be reused while we walk). */
#define CHAIN_MAX 4096

static int read_file_at(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n;
	size_t len = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	while (len + 1 < size) {
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
	buf[len] = '\0';
	(void)close(fd);
	return (int)len;
}

/* The parent of PID from /proc/PID/stat: "pid (comm) state ppid ...", where
 * comm may hold spaces and parentheses, so the fields start after the last
 * ')'. */
static pid_t proc_ppid(pid_t pid)
{
	char path[64], buf[1024];
	const char *p;
	long ppid;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/* ---- cgroup v2 ---------------------------------------------------------- */

/* Undo the octal escapes (\040 for a space...) of /proc/self/mountinfo. */
static void unescape_octal(char *s)
{
	char *w = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

/* Where our own cgroup v2 directory is: the unified hierarchy's line of
 * /proc/self/cgroup ("0::/path") under the mount point of the cgroup2 file
 * system (which is /sys/fs/cgroup or, on hybrid systems, .../unified). */
static int cgroup_own_dir(char **ret)
{
	char buf[4096], own[4096], line[4096], root[4096], mnt[4096];
	const char *rel;
	char *p, *sep, *dir;
	FILE *f;
	bool found = false;

	if (read_file_at(AT_FDCWD, "/proc/self/cgroup", buf, sizeof(buf)) <= 0)
		return -ENOENT;
	p = strstr(buf, "0::");
	if (!p || (p != buf && p[-1] != '\n'))
		return -ENOENT;
	p += 3;
	(void)snprintf(own, sizeof(own), "%.*s", (int)strcspn(p, "\n"), p);
	if (own[0] != '/')
		return -ENOENT;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		unescape_octal(root);
		unescape_octal(mnt);
		found = true;
		break;
	}
	(void)fclose(f);
	if (!found)
		return -ENOENT;

	/* The mount may show a subtree (inside a cgroup namespace, or a bind
	 * mount): our path must lie under its root. */
	if (strcmp(root, "/") == 0) {
		rel = own;
	} else {
		size_t n = strlen(root);

		if (strncmp(own, root, n) != 0 || (own[n] != '/' && own[n] != '\0'))
			return -ENOENT;
		rel = own + n;
	}
	if (asprintf(&dir, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel) < 0)
		return -ENOMEM;
	*ret = dir;
	return 0;
}

static int cgroup_create(struct tree *t)
{
	char *parent = NULL, *path = NULL;
	uint8_t rnd[4];
	int r, i, dirfd = -1, procs = -1;

	r = cgroup_own_dir(&parent);
	if (r < 0)
		return r;
	for (i = 0; i < 8; i++) {
		if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
			rnd[0] = (uint8_t)i;
			rnd[1] = rnd[2] = rnd[3] = 0;
		}
		free(path);
		if (asprintf(&path, "%s/updater-run.%d.%02x%02x%02x%02x", parent, (int)t->self,
			     rnd[0], rnd[1], rnd[2], rnd[3]) < 0) {
			path = NULL;
			r = -ENOMEM;
			goto fail;
		}
		if (mkdir(path, 0755) == 0)
			break;
		r = -errno;
		if (r != -EEXIST)
			goto fail;
	}
	if (i == 8)
		goto fail;
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		r = -errno;
		goto fail_rmdir;
	}
	procs = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (procs < 0) {
		r = -errno;
		goto fail_rmdir;
	}
	/* cgroup.kill (Linux 5.14) makes the final kill one write; without
	 * it, the members are killed one by one (and again, until none is
	 * left). */
	t->cgroup_has_kill = faccessat(dirfd, "cgroup.kill", W_OK, 0) == 0;
	t->cgroup_dir_fd = dirfd;
	t->cgroup_procs_fd = procs;
	t->cgroup_path = path;
	t->cgroup_exact = true;
	free(parent);
	return 0;

fail_rmdir:
	if (dirfd >= 0)
		(void)close(dirfd);
	(void)rmdir(path);
fail:
	log_debug("no cgroup of its own for the tree (under '%s'): %s", parent, strerror(-r));
	free(path);
	free(parent);
	return r;
}

int tree_init(struct tree *t, bool no_cgroup)
{
	char buf[32];
	ssize_t n;

	t->self = getpid();
	t->pid1 = t->self == 1;
	t->cgroup_dir_fd = -1;
	t->cgroup_procs_fd = -1;
	t->cgroup_path = NULL;
	t->cgroup_exact = false;
	t->cgroup_has_kill = false;
	t->clone3_refused = false;
	t->child_must_enter = false;
	t->cgroup_killed = false;

	/* /proc may belong to another PID namespace (unshare --pid without
	 * --mount-proc): a walk would then follow the wrong parents. */
	n = readlink("/proc/self", buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		t->proc_ok = atoi(buf) == (int)t->self;
	} else {
		t->proc_ok = false;
	}
	if (!t->proc_ok)
		log_debug("/proc does not show our PID namespace: no process walk");

	if (!t->pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return -errno;
	/* As PID 1, kill(-1) already reaches exactly the tree. */
	if (!t->pid1 && !no_cgroup)
		(void)cgroup_create(t);
	if (t->cgroup_path)
		log_debug("the tree runs in cgroup '%s'", t->cgroup_path);
	return 0;
}

void tree_done(struct tree *t)
{
	if (t->cgroup_procs_fd >= 0)
		(void)close(t->cgroup_procs_fd);
	if (t->cgroup_dir_fd >= 0)
		(void)close(t->cgroup_dir_fd);
	if (t->cgroup_path && rmdir(t->cgroup_path) < 0)
		log_debug("cannot remove cgroup '%s': %m", t->cgroup_path);
	free(t->cgroup_path);
	t->cgroup_procs_fd = t->cgroup_dir_fd = -1;
	t->cgroup_path = NULL;
}

/* clone3()'s arguments as of Linux 5.7, spelled here so as not to depend on
 * the kernel headers' struct clone_args (and their clash with <sched.h>). */
struct clone3_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
	uint64_t cgroup;
};
#define RUN_CLONE_INTO_CGROUP 0x200000000ULL

/* A new cgroup in place of one that was killed (the tree is empty now). A
 * cgroup once killed through cgroup.kill kills every process later born in
 * it with CLONE_INTO_CGROUP (Linux 6.18 does; moved processes survive), so
 * the next generation gets a fresh one. False when none could be made: the
 * old one stays, entered the slow way. */
static bool cgroup_renew(struct tree *t)
{
	int old_dir = t->cgroup_dir_fd, old_procs = t->cgroup_procs_fd;
	char *old_path = t->cgroup_path;
	bool old_has_kill = t->cgroup_has_kill, old_exact = t->cgroup_exact;

	t->cgroup_dir_fd = t->cgroup_procs_fd = -1;
	t->cgroup_path = NULL;
	if (cgroup_create(t) < 0) {
		t->cgroup_dir_fd = old_dir;
		t->cgroup_procs_fd = old_procs;
		t->cgroup_path = old_path;
		t->cgroup_has_kill = old_has_kill;
		t->cgroup_exact = old_exact;
		return false;
	}
	t->cgroup_exact = old_exact;
	t->cgroup_killed = false;
	(void)close(old_procs);
	(void)close(old_dir);
	if (rmdir(old_path) < 0)
		log_debug("cannot remove cgroup '%s': %m", old_path);
	log_debug("the tree runs in cgroup '%s' now", t->cgroup_path);
	free(old_path);
	return true;
}

pid_t tree_fork(struct tree *t)
{
	struct clone3_args args;
	long pid;

	t->child_must_enter = false;
	if (t->cgroup_dir_fd >= 0 && !t->clone3_refused &&
	    (!t->cgroup_killed || cgroup_renew(t))) {
		/* Born in the cgroup: no move, so none of the RCU grace period
		 * that moving a running process waits for (10 ms and more). A
		 * plain fork() otherwise: no stack, no shared memory. */
		memset(&args, 0, sizeof(args));
		args.flags = RUN_CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (uint64_t)t->cgroup_dir_fd;
#ifdef SYS_clone3
		pid = syscall(SYS_clone3, &args, sizeof(args));
#else
		pid = -1;
		errno = ENOSYS;
#endif
		if (pid >= 0)
			return (pid_t)pid;
		if (errno == EAGAIN || errno == ENOMEM)
			return -errno; /* what fork() would say too */
		/* ENOSYS (before 5.3), E2BIG/EINVAL (before 5.7), EPERM
		 * (seccomp filters that refuse clone3), EOPNOTSUPP... */
		log_debug("clone3(CLONE_INTO_CGROUP) refused (%m): the child moves itself into "
			  "the cgroup before exec");
		t->clone3_refused = true;
	}
	t->child_must_enter = t->cgroup_procs_fd >= 0;
	pid = fork();
	return pid < 0 ? -errno : (pid_t)pid;
}

int tree_child_enter(const struct tree *t)
{
	/* Async-signal-safe: runs between fork and exec. */
	if (t->child_must_enter && write(t->cgroup_procs_fd, "0", 1) != 1)
		return -errno;
	return 0;
}

void tree_note_escaped(struct tree *t)
{
	if (t->cgroup_exact)
		log_debug("a start could not enter cgroup '%s': the tree is also looked for in /proc",
			  t->cgroup_path);
	t->cgroup_exact = false;
}

/* ---- killing ------------------------------------------------------------ */

struct proc_entry {
	pid_t pid;
	pid_t ppid;
	pid_t pgrp;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct proc_entry *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Every process of /proc with its parent and group, sorted by PID. */
static int proc_snapshot(struct proc_entry **ret, size_t *ret_n)
{
	struct proc_entry *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");
	char path[64], buf[1024], *end;
	const char *p;
	long pid, ppid, pgrp;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end)
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
			continue; /* gone meanwhile */
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 1, " %*c %ld %ld", &ppid, &pgrp) != 2)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				(void)closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n].pid = (pid_t)pid;
		v[n].ppid = (pid_t)ppid;
		v[n].pgrp = (pid_t)pgrp;
		n++;
	}
	(void)closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_entry);
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool snapshot_descends(const struct proc_entry *v, size_t n, pid_t pid, pid_t self)
{
	struct proc_entry key, *e;
	int depth;

	for (depth = 0; depth < CHAIN_MAX; depth++) {
		key.pid = pid;
		e = bsearch(&key, v, n, sizeof(*v), cmp_entry);
		if (!e)
			return false;
		if (e->ppid == self)
			return true;
		if (e->ppid <= 1)
			return false;
		pid = e->ppid;
	}
	return false;
}

/* Send SIG, then SIGCONT when then_cont, to one process: true if SIG went. */
static bool kill_one(pid_t pid, int sig, bool then_cont)
{
	if (kill(pid, sig) < 0)
		return false;
	if (then_cont)
		(void)kill(pid, SIGCONT);
	return true;
}

static int kill_walk(const struct tree *t, pid_t skip_pgrp, int sig, bool then_cont)
{
	struct proc_entry *v = NULL;
	size_t n = 0, i;
	int count = 0;

	if (proc_snapshot(&v, &n) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (v[i].pid == t->self || (skip_pgrp > 0 && v[i].pgrp == skip_pgrp))
			continue;
		if (snapshot_descends(v, n, v[i].pid, t->self) && kill_one(v[i].pid, sig, then_cont))
			count++;
	}
	free(v);
	return count;
}

/* Every member of the cgroup, read as a stream (any number of them): one
 * pass, however many other processes the machine runs. Members of
 * skip_pgrp were signalled with their group. */
static int kill_cgroup_members(const struct tree *t, pid_t skip_pgrp, int sig, bool then_cont)
{
	char buf[4096];
	ssize_t n;
	size_t i;
	long pid = 0;
	bool digits = false;
	int count = 0, fd = openat(t->cgroup_dir_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				if (pid < 10000000)
					pid = pid * 10 + (buf[i] - '0');
				digits = true;
				continue;
			}
			if (digits && pid > 0 && (pid_t)pid != t->self &&
			    !(skip_pgrp > 0 && getpgid((pid_t)pid) == skip_pgrp) &&
			    kill_one((pid_t)pid, sig, then_cont))
				count++;
			pid = 0;
			digits = false;
		}
	}
	if (digits && pid > 0 && (pid_t)pid != t->self &&
	    !(skip_pgrp > 0 && getpgid((pid_t)pid) == skip_pgrp) && kill_one((pid_t)pid, sig, then_cont))
		count++;
	(void)close(fd);
	return count;
}

static bool kill_cgroup_all(struct tree *t)
{
	int fd = openat(t->cgroup_dir_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, "1", 1) == 1;
	(void)close(fd);
	if (ok)
		t->cgroup_killed = true;
	return ok;
}

int tree_kill(struct tree *t, pid_t pgid, bool signal_group, int sig, bool then_cont)
{
	int count = 0;

	if (sig == SIGKILL || sig == SIGCONT)
		then_cont = false;
	if (t->pid1) {
		/* Every process of the namespace but ourselves, once. */
		(void)kill(-1, sig);
		if (then_cont)
			(void)kill(-1, SIGCONT);
		return 0;
	}
	if (signal_group && pgid > 0) {
		(void)kill(-pgid, sig);
		if (then_cont)
			(void)kill(-pgid, SIGCONT);
	}
	if (sig == SIGKILL) {
		/* cgroup.kill cannot miss a process forked meanwhile. */
		if (t->cgroup_dir_fd >= 0 && !(t->cgroup_has_kill && kill_cgroup_all(t)))
			count += kill_cgroup_members(t, 0, sig, false);
		if ((t->cgroup_dir_fd < 0 || !t->cgroup_exact) && t->proc_ok)
			count += kill_walk(t, 0, sig, false);
		return count;
	}
	/* Any other signal goes to each process once: a program that handles
	 * the first SIGTERM and then restores the default action must not die
	 * of a second copy. Members of the group got it with the group. The
	 * cgroup, when every start went into it, holds exactly the tree;
	 * otherwise the walk of /proc finds it (and failing that, the cgroup's
	 * list stands in, which may repeat the group's signal). */
	if (t->cgroup_dir_fd >= 0 && t->cgroup_exact)
		count += kill_cgroup_members(t, pgid, sig, then_cont);
	else if (t->proc_ok)
		count += kill_walk(t, pgid, sig, then_cont);
	else if (t->cgroup_dir_fd >= 0)
		count += kill_cgroup_members(t, 0, sig, then_cont);
	return count;
}

bool tree_has_children(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 || errno != ECHILD;
}

bool tree_contains(const struct tree *t, pid_t pid)
{
	int depth;

	if (t->pid1 || !t->proc_ok)
		return true;
	for (depth = 0; depth < CHAIN_MAX && pid > 1; depth++) {
		if (pid == t->self)
			return depth > 0;
		pid = proc_ppid(pid);
	}
	return false;
}
