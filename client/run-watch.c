/* run-watch.c - see run.h: noticing that PROGRAM's file was replaced. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "run.h"

#define DEFAULT_SOCKET "/run/updater/control.sock"

/* IN_CREATE is left out on purpose: a file that was just created is still
 * being written. A complete new file arrives by rename (IN_MOVED_TO), by the
 * end of a write (IN_CLOSE_WRITE) or by a chmod +x (IN_ATTRIB). */
#define WATCH_MASK (IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

static int add_dir_of(int ifd, const char *file)
{
	char *dir = strdup(file), *slash;
	int r;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	r = inotify_add_watch(ifd, dir, WATCH_MASK | IN_ONLYDIR);
	r = r < 0 ? -errno : 0;
	free(dir);
	return r;
}

int watch_open(struct watch *w, const char *path)
{
	char real[PATH_MAX];
	int ifd, r;

	w->path = path;
	w->sub_fd = -1;
	w->have_started = false;
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0)
		return -errno;
	r = add_dir_of(ifd, path);
	if (r < 0) {
		(void)close(ifd);
		return r;
	}
	/* For a symlink (/usr/bin/app -> /opt/app-1.2/app), a new version may
	 * also land behind the link. */
	if (realpath(path, real) && strcmp(real, path) != 0)
		(void)add_dir_of(ifd, real);
	w->inotify_fd = ifd;
	return 0;
}

int watch_subscribe(struct watch *w)
{
	const char *path = getenv("UPDATER_SOCKET");
	struct sockaddr_un sa;
	sa_family_t family = AF_UNIX;
	struct stat st;
	size_t len;
	int fd, r;

	if (!path || !*path)
		path = DEFAULT_SOCKET;
	len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	/* An autobound address lets the daemon send us notifications;
	 * connecting means only the daemon's datagrams are received. */
	if (bind(fd, (struct sockaddr *)&family, sizeof(family)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0 ||
	    send(fd, "subscribe", 9, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	w->sub_fd = fd;
	return 0;
}

void watch_close(struct watch *w)
{
	if (w->inotify_fd >= 0)
		(void)close(w->inotify_fd);
	if (w->sub_fd >= 0) {
		(void)send(w->sub_fd, "unsubscribe", 11, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)close(w->sub_fd);
	}
	w->inotify_fd = w->sub_fd = -1;
}

void watch_note_started(struct watch *w)
{
	struct stat st;

	if (stat(w->path, &st) == 0) {
		w->dev = st.st_dev;
		w->ino = st.st_ino;
		w->have_started = true;
	}
}

bool watch_changed(const struct watch *w)
{
	struct stat st;

	if (!w->have_started || stat(w->path, &st) < 0)
		return false;
	if (st.st_dev == w->dev && st.st_ino == w->ino)
		return false;
	return S_ISREG(st.st_mode) && access(w->path, X_OK) == 0;
}

bool watch_handle_inotify(struct watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	/* The events only say "look again"; which file changed does not
	 * matter, the comparison below decides. */
	do {
		n = read(w->inotify_fd, buf, sizeof(buf));
	} while (n > 0 || (n < 0 && errno == EINTR));
	return watch_changed(w);
}

bool watch_handle_sub(struct watch *w)
{
	char buf[512];
	ssize_t n;
	bool any = false;

	for (;;) {
		n = recv(w->sub_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN) {
				/* The daemon went away: stop listening to it. */
				log_debug("updaterd subscription ended: %m");
				(void)close(w->sub_fd);
				w->sub_fd = -1;
			}
			break;
		}
		buf[n] = '\0';
		log_debug("updaterd says: %.*s", (int)strcspn(buf, "\n"), buf);
		if (strncmp(buf, "updated ", 8) == 0 || strncmp(buf, "rolledback ", 11) == 0)
			any = true;
	}
	return any && watch_changed(w);
}
