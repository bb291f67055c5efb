/* util.c - see util.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int64_t now_boottime_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int make_parent(const char *path)
{
	char *copy = strdup(path), *slash;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash && slash != copy) {
		*slash = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			r = -errno;
	}
	free(copy);
	return r;
}

static int bind_with_mode(int fd, const struct sockaddr_un *sa, socklen_t len)
{
	/* bind() creates the socket file with 0777 & ~umask: ask for 0666 without a chmod race. */
	mode_t old = umask(0111);
	int r = bind(fd, (const struct sockaddr *)sa, len);
	int saved = errno;

	(void)umask(old);
	errno = saved;
	return r < 0 ? -errno : 0;
}

/* 0 when nobody answers at PATH (a leftover socket), -EADDRINUSE when someone does. */
static int probe_stale(int type, const struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, len);
	/* A listener whose backlog is full answers EAGAIN: alive. */
	r = r == 0 || errno == EAGAIN ? -EADDRINUSE : errno == ECONNREFUSED ? 0 : -errno;
	(void)close(fd);
	return r;
}

int unix_bind_path(int type, const char *path, struct stat *ret_st, char *err, size_t err_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	struct stat st;
	int fd, r;

	if (path[0] != '/') {
		(void)snprintf(err, err_size, "socket path '%s' is not absolute", path);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		(void)snprintf(err, err_size, "socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);

	r = make_parent(path);
	if (r < 0) {
		(void)snprintf(err, err_size, "cannot create the directory of '%s': %s", path, strerror(-r));
		return r;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		(void)snprintf(err, err_size, "socket: %s", strerror(-r));
		return r;
	}
	r = bind_with_mode(fd, &sa, len);
	if (r == -EADDRINUSE) {
		if (lstat(path, &st) < 0) {
			r = -errno;
		} else if (!S_ISSOCK(st.st_mode)) {
			(void)snprintf(err, err_size, "'%s' exists and is not a socket", path);
			r = -EEXIST;
			goto fail;
		} else {
			r = probe_stale(type, &sa, len);
			if (r == -EADDRINUSE) {
				(void)snprintf(err, err_size, "'%s' is in use by another process", path);
				goto fail;
			}
			if (r == 0 && unlink(path) < 0 && errno != ENOENT)
				r = -errno;
			if (r == 0)
				r = bind_with_mode(fd, &sa, len);
		}
	}
	if (r < 0) {
		(void)snprintf(err, err_size, "cannot bind '%s': %s", path, strerror(-r));
		goto fail;
	}
	if (stat(path, &st) < 0) {
		r = -errno;
		(void)snprintf(err, err_size, "cannot set up '%s': %s", path, strerror(-r));
		(void)unlink(path);
		goto fail;
	}
	*ret_st = st;
	return fd;
fail:
	(void)close(fd);
	return r;
}

int unix_check_dir(const char *path, uid_t owner, char *err, size_t err_size)
{
	const char *slash = strrchr(path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	struct stat st;
	size_t n;

	if (!slash) {
		(void)snprintf(err, err_size, "socket path '%s' is not absolute", path);
		return -EINVAL;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir)) {
		(void)snprintf(err, err_size, "socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (stat(dir, &st) < 0) {
		int r = -errno;

		(void)snprintf(err, err_size, "cannot look at the socket directory '%s': %s", dir, strerror(-r));
		return r;
	}
	if (st.st_uid != owner || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		(void)snprintf(err, err_size,
		               "the socket directory '%s' is %s (owner uid %u, mode %04o): it must be owned by uid %u "
		               "and not writable by group or others",
		               dir, st.st_uid != owner ? "not ours" : "writable by others", (unsigned)st.st_uid,
		               (unsigned)(st.st_mode & 07777), (unsigned)owner);
		return -EPERM;
	}
	return 0;
}

char *unix_socket_path(int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	size_t n;

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] != '/')
		return NULL;
	n = len - offsetof(struct sockaddr_un, sun_path);
	if (n > sizeof(sa.sun_path))
		n = sizeof(sa.sun_path);
	return strndup(sa.sun_path, n);
}
