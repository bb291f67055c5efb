/*
 * watch.c - notice that an executable was replaced, and talk to the update
 * daemon. See watch.h for the object; the updater_watch_* calls of
 * <updater.h> are one such watch on the program's own path.
 *
 * Two sources feed one epoll descriptor the program polls:
 *  - inotify on the directories whose change can replace the file at the
 *    path: its own directory, the directory of every symlink on the path (a
 *    flipped `current` link), and the directory of the file it resolves to.
 *    This sees updates made by anyone (apt, install, mv), daemon or not;
 *  - a connection to the daemon's events socket (a SOCK_SEQPACKET socket
 *    beside its control socket), when a daemon listens: every notification
 *    arrives as one packet. Only the process that listens there can write
 *    to it, and it is taken only when SO_PEERCRED says that is the daemon's
 *    uid (root, or the owner of the control socket's file).
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
#include "internal.h"
#include "updater-protocol.h"
#include "watch.h"

#define S (&updater_state_)

/* The program's own watch, and an inotify instance handed over for it. */
static struct watch self_watch = { .epfd = -1, .inofd = -1, .sockfd = -1 };
static int adopted_inofd = -1;

const char *updater_socket_path_(void)
{
	/* secure_getenv: a set-uid program must not be pointed at any socket. */
	const char *p = secure_getenv("UPDATER_SOCKET");

	return p && *p ? p : UPDATER_PROTO_SOCKET;
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
	if (sendto(fd, UPDATER_REQ_CHECK_BYTE, 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int updater_events_connect_(const char *control_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	struct stat st;
	uid_t owner;
	int fd, r;

	if (!updater_proto_events_path(control_path, sa.sun_path, sizeof(sa.sun_path)))
		return -ENAMETOOLONG;
	/* The control socket's owner is the daemon's uid when a user runs it. */
	owner = stat(control_path, &st) == 0 ? st.st_uid : (uid_t)-1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa,
	            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1)) < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0 || plen != sizeof(peer) ||
	    !updater_proto_reply_uid_ok(peer.uid, owner)) {
		(void)close(fd);
		return -EPERM;
	}
	return fd;
}

/* A subscription, or -1 when no daemon can be reached: not an error. */
static int subscribe(void)
{
	int fd = updater_events_connect_(updater_socket_path_());

	return fd < 0 ? -1 : fd;
}

static void unsubscribe(struct watch *w)
{
	if (w->sockfd < 0)
		return;
	if (w->epfd >= 0)
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->sockfd, NULL);
	(void)close(w->sockfd);
	w->sockfd = -1;
}

/* ---- directories to watch --------------------------------------------- */

struct dirlist {
	char *v[WATCH_DIRS_MAX];
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
	if (len == 0 || l->n == WATCH_DIRS_MAX)
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

static void dirs_to_watch(const char *path, struct dirlist *l)
{
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
static void rearm_watches(struct watch *w)
{
	struct dirlist l = { .n = 0 };
	int wds[WATCH_DIRS_MAX];
	size_t n = 0;

	dirs_to_watch(w->path, &l);
	for (size_t i = 0; i < l.n; i++) {
		int wd = inotify_add_watch(w->inofd, l.v[i], w->mask | IN_ONLYDIR);
		bool dup = false;

		if (wd < 0)
			continue;
		for (size_t j = 0; j < n; j++)
			dup |= wds[j] == wd;
		if (!dup)
			wds[n++] = wd;
	}
	dirlist_free(&l);
	for (size_t i = 0; i < w->n_wds; i++) {
		bool still = false;

		for (size_t j = 0; j < n; j++)
			still |= wds[j] == w->wds[i];
		if (!still)
			(void)inotify_rm_watch(w->inofd, w->wds[i]);
	}
	memcpy(w->wds, wds, n * sizeof(int));
	w->n_wds = n;
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void resubscribe(struct watch *w)
{
	w->heard = false;
	w->sockfd = subscribe();
	if (w->sockfd >= 0 && epoll_add(w->epfd, w->sockfd) < 0) {
		(void)close(w->sockfd);
		w->sockfd = -1;
	}
}

/* ---- the watch object (watch.h) ---------------------------------------- */

int watch_open(struct watch *w, const char *path, uint32_t mask, int adopted)
{
	int r;

	*w = (struct watch){ .mask = mask, .epfd = -1, .inofd = -1, .sockfd = -1 };
	w->path = strdup(path);
	if (!w->path) {
		r = -ENOMEM;
		goto fail;
	}
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0) {
		r = -errno;
		goto fail;
	}
	if (adopted >= 0) {
		/* The previous image's instance: its watches carry over, and add again. */
		w->inofd = adopted;
		adopted = -1;
		(void)fcntl(w->inofd, F_SETFL, fcntl(w->inofd, F_GETFL) | O_NONBLOCK);
	} else {
		w->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	}
	if (w->inofd < 0) {
		r = -errno;
		goto fail;
	}
	rearm_watches(w);
	r = epoll_add(w->epfd, w->inofd);
	if (r < 0)
		goto fail;
	resubscribe(w);
	return 0;
fail:
	if (adopted >= 0)
		(void)close(adopted);
	watch_close(w);
	return r;
}

unsigned watch_drain(struct watch *w)
{
	/* inotify_event is aligned so the buffer can be read as events. */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	unsigned saw = 0;
	ssize_t n;

	if (w->epfd < 0)
		return 0;
	/* The content of a notification does not matter: the caller compares. */
	while (w->sockfd >= 0) {
		n = recv(w->sockfd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			saw |= WATCH_SAW_DAEMON;
			/* A refusal ("error too many subscribers") is not a subscription that worked. */
			if ((size_t)n < strlen(UPDATER_REPLY_ERROR) ||
			    memcmp(buf, UPDATER_REPLY_ERROR, strlen(UPDATER_REPLY_ERROR)) != 0)
				w->heard = true;
			if (w->on_message)
				w->on_message(buf, (size_t)n, w->ctx);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/*
		 * The daemon closed the connection (it restarted, or our buffer
		 * was full and we missed notifications): look at the file, and
		 * subscribe again once, only after a connection that carried
		 * something, so a daemon that refuses us is not asked in a loop.
		 * Otherwise the next change in a directory tries again.
		 */
		saw |= WATCH_SAW_DAEMON;
		unsubscribe(w);
		if (w->heard)
			resubscribe(w);
		break;
	}
	while ((n = read(w->inofd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0)
			saw |= WATCH_SAW_DIRECTORY;
	}
	if (saw & WATCH_SAW_DIRECTORY) {
		rearm_watches(w);
		if (w->sockfd < 0)
			resubscribe(w);
	}
	return saw;
}

int watch_before_exec(struct watch *w, int above)
{
	/* The subscription is close-on-exec: the exec ends it, a failed one keeps it. */
	/* F_DUPFD, not F_DUPFD_CLOEXEC: this copy crosses the exec. */
	return w->inofd >= 0 ? fcntl(w->inofd, F_DUPFD, above) : -1;
}

void watch_after_failed_exec(struct watch *w, int handed)
{
	/* The original still holds the instance: closing the copy costs nothing. */
	if (handed >= 0)
		(void)close(handed);
	(void)w;
}

void watch_close(struct watch *w)
{
	if (w->sockfd >= 0)
		(void)close(w->sockfd);
	if (w->inofd >= 0)
		(void)close(w->inofd);
	if (w->epfd >= 0)
		(void)close(w->epfd);
	free(w->path);
	*w = (struct watch){ .epfd = -1, .inofd = -1, .sockfd = -1 };
}

/* ---- the program's own watch (<updater.h>) ----------------------------- */

int updater_watch_before_exec_(int above)
{
	return self_watch.epfd >= 0 ? watch_before_exec(&self_watch, above) : -1;
}

void updater_watch_after_failed_exec_(int handed)
{
	if (self_watch.epfd >= 0)
		watch_after_failed_exec(&self_watch, handed);
	else if (handed >= 0)
		(void)close(handed);
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
	adopted_inofd = (int)fd;
}

int updater_watch_fd(void)
{
	int r;

	if (!S->initialized)
		return -EINVAL;
	if (self_watch.epfd >= 0)
		return self_watch.epfd;
	r = watch_open(&self_watch, S->path, WATCH_MASK_ANY, adopted_inofd);
	adopted_inofd = -1;
	return r < 0 ? r : self_watch.epfd;
}

int updater_watch_handle(void)
{
	if (self_watch.epfd < 0)
		return -EINVAL;
	(void)watch_drain(&self_watch);
	return updater_self_changed();
}
