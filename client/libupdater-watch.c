/*
 * libupdater-watch.c - notice that the executable was replaced, and talk to
 * the update daemon.
 *
 * Two sources feed one epoll descriptor the program polls:
 *  - inotify on the directories whose change can replace the file at the
 *    path: its own directory, the directory of every symlink on the path (a
 *    flipped `current` link), and the directory of the file it resolves to.
 *    This sees updates made by anyone (apt, install, mv), daemon or not;
 *  - a datagram socket subscribed to the daemon's notifications, when a daemon
 *    listens. It is connected to the daemon's socket, so only the daemon can
 *    make it readable.
 * What arrives is never trusted: it only prompts a stat() of the path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "updater.h"
#include "libupdater-internal.h"

#define S (&updater_state_)

#define MAX_WATCHES 32
#define WATCH_MASK \
	(IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static struct {
	int epfd;
	int inofd;
	int adopted; /* an inotify instance the previous image handed over, -1 none */
	int sockfd; /* -1 without a daemon */
	int wds[MAX_WATCHES];
	size_t n_wds;
} W = { .epfd = -1, .inofd = -1, .adopted = -1, .sockfd = -1 };

const char *updater_socket_path_(void)
{
	/* secure_getenv: a set-uid program must not be pointed at any socket. */
	const char *p = secure_getenv("UPDATER_SOCKET");

	return p && *p ? p : UPDATER_DEFAULT_SOCKET;
}

static int socket_address(struct sockaddr_un *sa, socklen_t *ret_len)
{
	const char *path = updater_socket_path_();
	size_t len = strlen(path);

	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

/* A datagram socket with an autobound (abstract) address, so replies can come. */
static int autobound_socket(void)
{
	struct sockaddr_un self = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&self, sizeof(sa_family_t)) < 0) {
		int r = -errno;

		(void)close(fd);
		return r;
	}
	return fd;
}

int updater_request_check(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, r = 0;

	r = socket_address(&sa, &len);
	if (r < 0)
		return r;
	fd = autobound_socket();
	if (fd < 0)
		return fd;
	/* Any single byte is a check request; the reply is not waited for. */
	if (sendto(fd, "!", 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

static void send_word(const char *word)
{
	if (W.sockfd >= 0)
		(void)send(W.sockfd, word, strlen(word), MSG_DONTWAIT | MSG_NOSIGNAL);
}

int updater_watch_before_exec_(int above)
{
	send_word("unsubscribe");
	/* F_DUPFD, not F_DUPFD_CLOEXEC: this copy crosses the exec. */
	return W.inofd >= 0 ? fcntl(W.inofd, F_DUPFD, above) : -1;
}

void updater_watch_after_failed_exec_(int handed)
{
	/* The original still holds the instance: closing the copy costs nothing. */
	if (handed >= 0)
		(void)close(handed);
	send_word("subscribe");
}

void updater_watch_adopt_(void)
{
	const char *e = getenv(UPDATER_WATCH_FD_VAR);
	char proc[64], target[64];
	ssize_t n;
	long fd;
	char *end;

	if (!e)
		return;
	errno = 0;
	fd = strtol(e, &end, 10);
	(void)unsetenv(UPDATER_WATCH_FD_VAR);
	if (errno || *end || fd < 3 || fd > INT_MAX)
		return;
	/* Only an inotify instance is taken; anything else is not ours. */
	(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%ld", fd);
	n = readlink(proc, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	if (strcmp(target, "anon_inode:inotify") != 0)
		return;
	if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
		return;
	W.adopted = (int)fd;
}

/* A subscribed socket, or -1 when no daemon can be reached: not an error. */
static int subscribe(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (socket_address(&sa, &len) < 0)
		return -1;
	fd = autobound_socket();
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0 ||
	    send(fd, "subscribe", 9, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* ---- directories to watch --------------------------------------------- */

struct dirlist {
	char *v[MAX_WATCHES];
	size_t n;
};

static void dirlist_free(struct dirlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Add the directory part of PATH (up to LEN bytes of it). */
static void dirlist_add_parent(struct dirlist *l, const char *path, size_t len)
{
	char *dir;

	while (len > 0 && path[len - 1] != '/')
		len--;
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 0 || l->n == MAX_WATCHES)
		return;
	dir = strndup(path, len);
	if (!dir)
		return;
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], dir) == 0) {
			free(dir);
			return;
		}
	}
	l->v[l->n++] = dir;
}

static void dirs_to_watch(struct dirlist *l)
{
	const char *path = S->path;
	size_t len = strlen(path);
	char *real;

	dirlist_add_parent(l, path, len);
	/* Every symlink on the path: its flip is a change in its directory. */
	for (size_t end = 1; end <= len; end++) {
		struct stat st;
		char *prefix;

		if (end < len && path[end] != '/')
			continue;
		prefix = strndup(path, end);
		if (!prefix)
			return;
		if (lstat(prefix, &st) == 0 && S_ISLNK(st.st_mode))
			dirlist_add_parent(l, prefix, end);
		free(prefix);
	}
	/* The file the path resolves to now, which may be replaced where it is. */
	real = realpath(path, NULL);
	if (real) {
		dirlist_add_parent(l, real, strlen(real));
		free(real);
	}
}

/*
 * Watch the directories the path now goes through, and stop watching those
 * it no longer does (a flipped symlink moves the watch to the new target).
 */
static void rearm_watches(void)
{
	struct dirlist l = { .n = 0 };
	int wds[MAX_WATCHES];
	size_t n = 0;

	dirs_to_watch(&l);
	for (size_t i = 0; i < l.n; i++) {
		int wd = inotify_add_watch(W.inofd, l.v[i], WATCH_MASK);
		bool dup = false;

		if (wd < 0)
			continue;
		for (size_t j = 0; j < n; j++)
			dup |= wds[j] == wd;
		if (!dup)
			wds[n++] = wd;
	}
	dirlist_free(&l);
	for (size_t i = 0; i < W.n_wds; i++) {
		bool still = false;

		for (size_t j = 0; j < n; j++)
			still |= wds[j] == W.wds[i];
		if (!still)
			(void)inotify_rm_watch(W.inofd, W.wds[i]);
	}
	memcpy(W.wds, wds, n * sizeof(int));
	W.n_wds = n;
}

static int epoll_add(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(W.epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int updater_watch_fd(void)
{
	int r;

	if (!S->initialized)
		return -EINVAL;
	if (W.epfd >= 0)
		return W.epfd;

	W.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (W.epfd < 0)
		return -errno;
	if (W.adopted >= 0) {
		/* The previous image's instance: its watches carry over, and add again. */
		W.inofd = W.adopted;
		W.adopted = -1;
		(void)fcntl(W.inofd, F_SETFL, fcntl(W.inofd, F_GETFL) | O_NONBLOCK);
	} else {
		W.inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	}
	if (W.inofd < 0) {
		r = -errno;
		goto fail;
	}
	rearm_watches();
	r = epoll_add(W.inofd);
	if (r < 0)
		goto fail;
	W.sockfd = subscribe();
	if (W.sockfd >= 0 && epoll_add(W.sockfd) < 0) {
		(void)close(W.sockfd);
		W.sockfd = -1;
	}
	return W.epfd;
fail:
	if (W.inofd >= 0)
		(void)close(W.inofd);
	(void)close(W.epfd);
	W.epfd = W.inofd = -1;
	W.n_wds = 0;
	return r;
}

int updater_watch_handle(void)
{
	/* inotify_event is aligned so the buffer can be read as events. */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed_dirs = false;
	ssize_t n;

	if (W.epfd < 0)
		return -EINVAL;
	if (W.sockfd >= 0) {
		/* The content does not matter: the path is checked below. */
		while (recv(W.sockfd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			;
	}
	while ((n = read(W.inofd, buf, sizeof(buf))) > 0)
		changed_dirs = true;
	if (changed_dirs)
		rearm_watches();
	return updater_self_changed();
}
