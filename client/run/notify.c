/* notify.c - see run.h: the sd_notify protocol, receiving side. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "run.h"

/* systemd accepts notification datagrams up to this size. */
#define NOTIFY_MAX 4096

int notify_open(char *ret_addr, size_t len)
{
	struct sockaddr_un sa;
	uint8_t rnd[8];
	char name[64];
	size_t nlen;
	int fd, one = 1, r;

	/* An abstract address: nothing to clean up, nothing another user can
	 * pre-create. Anyone in the network namespace may still send to it,
	 * which is why every message's sender is checked against the tree. */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	(void)snprintf(name, sizeof(name), "updater-run/%d/%02x%02x%02x%02x%02x%02x%02x%02x",
		       (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
		       rnd[7]);
	nlen = strlen(name);
	if (nlen + 2 > len)
		return -ENAMETOOLONG;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, name, nlen);
	if (bind(fd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + nlen)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	(void)snprintf(ret_addr, len, "@%s", name);
	return fd;
}

static void parse_line(const char *line, size_t len, struct notify_msg *m)
{
	if (len == 7 && memcmp(line, "READY=1", 7) == 0)
		m->ready = true;
	else if (len == 10 && memcmp(line, "STOPPING=1", 10) == 0)
		m->stopping = true;
	else if (len >= 7 && memcmp(line, "STATUS=", 7) == 0)
		(void)snprintf(m->status, sizeof(m->status), "%.*s", (int)(len - 7), line + 7);
}

int notify_receive(int fd, struct notify_msg *ret)
{
	char buf[NOTIFY_MAX + 1];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = NOTIFY_MAX };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		.msg_controllen = sizeof(control),
	};
	struct notify_msg m;
	struct cmsghdr *c;
	const char *p, *nl;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;

	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			m.pid = uc.pid;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			/* We keep no file store: never hold a sender's files. */
			size_t i, k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fdv;

			for (i = 0; i < k; i++) {
				memcpy(&fdv, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				(void)close(fdv);
			}
		}
	}
	if ((size_t)n > NOTIFY_MAX || (mh.msg_flags & MSG_CTRUNC))
		return -EMSGSIZE;

	buf[n] = '\0';
	for (p = buf; p < buf + n; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + n - p));
		if (!nl)
			nl = buf + n;
		parse_line(p, (size_t)(nl - p), &m);
	}
	*ret = m;
	return 1;
}

int notify_send(const char *addr, const char *msg)
{
	struct sockaddr_un sa;
	size_t len = strlen(addr);
	socklen_t salen;
	int fd, r = 0;

	if (len == 0 || len >= sizeof(sa.sun_path) || (addr[0] != '/' && addr[0] != '@'))
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, addr, len);
	if (addr[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}
