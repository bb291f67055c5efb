/*
 * fdstore.c - hand kept descriptors to systemd's file descriptor store too.
 *
 * updater_keep_fd() makes a descriptor survive updater_reexec(); a crash
 * (or kill -9) of a service loses it, and a listening socket the service
 * made itself is then gone until the restart binds it again: connections in
 * between are refused. When the service manager keeps a store for the unit,
 * the descriptor is also sent there (sd_notify "FDSTORE=1", "FDNAME=NAME"),
 * and systemd passes it back to the restarted process by LISTEN_FDS under
 * that name, where updater_inherited_fd() finds it.
 *
 * A store exists when $FDSTORE is a positive number: systemd 254 and later
 * set it from FileDescriptorStoreMax=; with systemd 252 (Debian 12) the unit
 * sets it itself (Environment=FDSTORE=N beside FileDescriptorStoreMax=N).
 * Without it nothing is sent: a manager without a store would only log a
 * warning and close the descriptor. systemd keeps one copy of a descriptor
 * however often it is sent. Nothing here fails updater_keep_fd().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

/* "FDSTORE=1\nFDNAME=" + a name (at most 255, fdname_is_valid()). */
#define FDSTORE_MSG_MAX 300

static bool store_wanted(void)
{
	const char *v = secure_getenv("FDSTORE");
	char *end;
	unsigned long n;

	if (!v || !*v)
		return false;
	errno = 0;
	n = strtoul(v, &end, 10);
	return errno == 0 && *end == '\0' && n > 0;
}

/* NOTIFY_SOCKET as an address: a path, or "@name" for an abstract one. */
static int notify_address(struct sockaddr_un *sa, socklen_t *ret_len)
{
	const char *e = secure_getenv("NOTIFY_SOCKET");
	size_t len;

	if (!e || (e[0] != '/' && e[0] != '@'))
		return -ENOENT;
	len = strlen(e);
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, e, len);
	if (e[0] == '@')
		sa->sun_path[0] = '\0';
	*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (e[0] == '/'));
	return 0;
}

int updater_fdstore_(int fd, const char *name)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct sockaddr_un sa;
	socklen_t sa_len;
	char text[FDSTORE_MSG_MAX];
	struct iovec iov;
	struct msghdr mh = { 0 };
	struct cmsghdr *c;
	int s, n, r = 0;

	if (!store_wanted())
		return 0;
	r = notify_address(&sa, &sa_len);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	n = snprintf(text, sizeof(text), "FDSTORE=1\nFDNAME=%s", name);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -EINVAL;
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	iov = (struct iovec){ .iov_base = text, .iov_len = (size_t)n };
	memset(&control, 0, sizeof(control));
	mh.msg_name = &sa;
	mh.msg_namelen = sa_len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(s, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		r = -errno;
	(void)close(s);
	return r;
}
