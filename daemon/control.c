/* control.c - see control.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <systemd/sd-daemon.h>

#include "control.h"
#include "util.h"

/* recvmmsg()/sendmmsg() batch: a flood costs one system call per batch, not per datagram. */
#define CONTROL_BATCH 64

static int set_passcred(int fd)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

/* True for an AF_UNIX datagram socket. */
static bool is_unix_dgram(int fd)
{
	return sd_is_socket(fd, AF_UNIX, SOCK_DGRAM, -1) > 0;
}

/*
 * The descriptors handed over (socket activation, or our previous image):
 * the first AF_UNIX datagram socket is ours; the others are closed, so they
 * never leak into scripts.
 */
static int take_activated(const int *passed, size_t n_passed, struct control_socket *ret, char *err,
                          size_t err_size)
{
	int chosen = -1;

	for (size_t i = 0; i < n_passed; i++) {
		if (chosen < 0 && is_unix_dgram(passed[i]))
			chosen = passed[i];
		else
			(void)close(passed[i]);
	}
	if (chosen < 0)
		return -ENOENT;
	if (fcntl(chosen, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(chosen, F_SETFL, fcntl(chosen, F_GETFL) | O_NONBLOCK) < 0 || set_passcred(chosen) < 0) {
		int r = -errno;

		(void)snprintf(err, err_size, "cannot set up the activated socket: %s", strerror(-r));
		(void)close(chosen);
		return r;
	}
	*ret = (struct control_socket){ .fd = chosen, .reply_fd = -1, .activated = true };
	return 0;
}

static int bind_path(const char *path, struct control_socket *ret, char *err, size_t err_size)
{
	struct stat st;
	int fd = unix_bind_path(SOCK_DGRAM, path, &st, err, err_size), r;

	if (fd < 0)
		return fd;
	if (set_passcred(fd) < 0) {
		r = -errno;
		(void)snprintf(err, err_size, "cannot set up '%s': %s", path, strerror(-r));
		(void)unlink(path);
		(void)close(fd);
		return r;
	}
	*ret = (struct control_socket){ .fd = fd, .reply_fd = -1, .dev = st.st_dev, .ino = st.st_ino };
	ret->path = strdup(path);
	if (!ret->path) {
		(void)unlink(path);
		(void)close(fd);
		*ret = (struct control_socket){ .fd = -1, .reply_fd = -1 };
		(void)snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/*
 * The socket replies leave through: never the control socket, whose send
 * buffer a client that does not read could fill for everybody. Its reading
 * side is shut, so nobody can queue datagrams to it (they get EPIPE).
 */
static int reply_socket(int *ret_fd, int *ret_sndbuf)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), size = 0;
	socklen_t len = sizeof(size);

	if (fd < 0)
		return -errno;
	(void)shutdown(fd, SHUT_RD);
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0 || size <= 0)
		size = 212992;
	*ret_fd = fd;
	*ret_sndbuf = size;
	return 0;
}

int control_replace_reply_socket(struct control_socket *cs)
{
	int fd, size, r = reply_socket(&fd, &size);

	if (r < 0)
		return r;
	if (cs->reply_fd >= 0)
		(void)close(cs->reply_fd);
	cs->reply_fd = fd;
	cs->reply_sndbuf = size;
	cs->replaced++;
	return 0;
}

int control_open(const char *path, const int *passed, size_t n_passed, struct control_socket *ret,
                 char *err, size_t err_size)
{
	uid_t owner = geteuid();
	int r = take_activated(passed, n_passed, ret, err, err_size);

	if (r == -ENOENT) {
		r = unix_check_dir(path, owner, err, err_size);
		if (r < 0 && r != -ENOENT)
			return r;
		r = bind_path(path, ret, err, err_size);
		if (r < 0)
			return r;
	} else if (r < 0) {
		return r;
	}
	/* Checked again once it exists (bound, or made by the service manager). */
	{
		char *where = ret->path ? NULL : unix_socket_path(ret->fd);

		r = where || ret->path ? unix_check_dir(where ? where : ret->path, owner, err, err_size) : 0;
		free(where);
	}
	if (r == 0)
		r = reply_socket(&ret->reply_fd, &ret->reply_sndbuf);
	if (r < 0) {
		if (r != -EPERM)
			(void)snprintf(err, err_size, "cannot make the reply socket: %s", strerror(-r));
		control_close(ret, false);
		return r;
	}
	return 0;
}

void control_drain(const int *passed, size_t n_passed)
{
	for (size_t i = 0; i < n_passed; i++) {
		int fd = passed[i], listening = 0;
		socklen_t len = sizeof(listening);
		char byte;

		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
			continue;
		for (int n = 0; n < CONTROL_DRAIN_MAX; n++) {
			if (listening) {
				int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

				if (c < 0 && errno != EINTR && errno != ECONNABORTED)
					break;
				if (c >= 0)
					(void)close(c);
			} else if (recv(fd, &byte, sizeof(byte), MSG_DONTWAIT | MSG_TRUNC) < 0 &&
			           errno != EINTR) {
				break;
			}
		}
	}
}

void control_close(struct control_socket *cs, bool keep_path)
{
	struct stat st;

	if (cs->fd >= 0)
		(void)close(cs->fd);
	if (cs->reply_fd >= 0)
		(void)close(cs->reply_fd);
	/* Unlink only the socket file we made: another instance may own the path by now. */
	if (cs->path && !keep_path && stat(cs->path, &st) == 0 && st.st_dev == cs->dev && st.st_ino == cs->ino)
		(void)unlink(cs->path);
	free(cs->path);
	*cs = (struct control_socket){ .fd = -1, .reply_fd = -1 };
}

static void reset_reply(struct control_msg *m)
{
	free(m->reply_alloc);
	m->reply_alloc = NULL;
	m->reply = NULL;
	m->reply_len = 0;
}

/* A client may pass descriptors with SCM_RIGHTS: close them, or a flood would exhaust ours. */
static void read_cmsgs(struct control_msg *m, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			/*
			 * A datagram queued before SO_PASSCRED was on (an activated
			 * socket without PassCredentials=) carries no credentials: the
			 * kernel reports pid 0 and the overflow uid. Nobody, then.
			 */
			if (uc.pid == 0)
				continue;
			m->has_creds = true;
			m->uid = uc.uid;
			m->pid = uc.pid;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < nfds; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				(void)close(fd);
			}
		}
	}
}

int control_receive(int fd, struct control_msg *msgs, size_t n)
{
	struct mmsghdr vec[CONTROL_BATCH];
	struct iovec iov[CONTROL_BATCH];
	pid_t self;
	int r;

	if (n > CONTROL_BATCH)
		n = CONTROL_BATCH;
	for (size_t i = 0; i < n; i++) {
		iov[i] = (struct iovec){ .iov_base = msgs[i].buf, .iov_len = CONTROL_REQUEST_MAX };
		vec[i] = (struct mmsghdr){
			.msg_hdr = {
				.msg_name = &msgs[i].addr,
				.msg_namelen = sizeof(msgs[i].addr),
				.msg_iov = &iov[i],
				.msg_iovlen = 1,
				.msg_control = msgs[i].cmsg.buf,
				.msg_controllen = sizeof(msgs[i].cmsg.buf),
			},
		};
	}
	do
		r = recvmmsg(fd, vec, (unsigned)n, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	self = getpid();
	for (int i = 0; i < r; i++) {
		struct control_msg *m = &msgs[i];

		reset_reply(m);
		m->len = vec[i].msg_len > CONTROL_REQUEST_MAX ? CONTROL_REQUEST_MAX : vec[i].msg_len;
		m->buf[m->len] = '\0';
		m->truncated = (vec[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
		m->addrlen = vec[i].msg_hdr.msg_namelen;
		m->has_creds = false;
		m->uid = (uid_t)-1;
		m->pid = 0;
		read_cmsgs(m, &vec[i].msg_hdr);
		/* Our own datagram came back to us (a path that leads here): never acted on. */
		m->from_self = m->has_creds && m->pid == self;
	}
	return r;
}

bool control_msg_has_address(const struct control_msg *m)
{
	/* Abstract only: a path can be a symlink to anything, the control socket included. */
	return m->addrlen > offsetof(struct sockaddr_un, sun_path) && m->addrlen <= sizeof(m->addr) &&
	       m->addr.sun_path[0] == '\0';
}

int control_set_reply(struct control_msg *m, const char *text, size_t len)
{
	reset_reply(m);
	if (len <= sizeof(m->reply_buf)) {
		memcpy(m->reply_buf, text, len);
		m->reply = m->reply_buf;
	} else {
		m->reply_alloc = malloc(len);
		if (!m->reply_alloc)
			return -ENOMEM;
		memcpy(m->reply_alloc, text, len);
		m->reply = m->reply_alloc;
	}
	m->reply_len = len;
	return 0;
}

void control_set_replyf(struct control_msg *m, const char *fmt, ...)
{
	char raw[CONTROL_REPLY_INLINE + 1], clean[CONTROL_REPLY_INLINE + 1];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	control_sanitize(raw, clean, sizeof(clean));
	(void)control_set_reply(m, clean, strlen(clean));
}

static bool same_sender(const struct control_msg *a, const struct control_msg *b)
{
	return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/*
 * EAGAIN on a datagram socket means either the receiver's queue is full or
 * our own send buffer is: every reply still queued at a client that does not
 * read is charged to the socket that sent it. Ours, when what the kernel
 * holds for us leaves no room for this reply.
 */
static bool own_buffer_full(const struct control_socket *cs, size_t len)
{
	int outq = 0;

	if (ioctl(cs->reply_fd, SIOCOUTQ, &outq) < 0)
		return true;
	return (size_t)outq + len + 2048 > (size_t)cs->reply_sndbuf;
}

size_t control_send_replies(struct control_socket *cs, struct control_msg *msgs, size_t n)
{
	struct mmsghdr vec[CONTROL_BATCH];
	struct iovec iov[CONTROL_BATCH];
	const struct control_msg *owner[CONTROL_BATCH];
	size_t m = 0, k = 0, sent = 0;
	bool fresh = false; /* the reply socket was just replaced and has sent nothing yet */

	if (n > CONTROL_BATCH)
		n = CONTROL_BATCH;
	for (size_t i = 0; i < n; i++) {
		if (!msgs[i].reply || !control_msg_has_address(&msgs[i]))
			continue;
		iov[m] = (struct iovec){ .iov_base = (void *)msgs[i].reply, .iov_len = msgs[i].reply_len };
		vec[m] = (struct mmsghdr){
			.msg_hdr = {
				.msg_name = &msgs[i].addr,
				.msg_namelen = msgs[i].addrlen,
				.msg_iov = &iov[m],
				.msg_iovlen = 1,
			},
		};
		owner[m] = &msgs[i];
		m++;
	}
	while (k < m && cs->reply_fd >= 0) {
		int r = sendmmsg(cs->reply_fd, vec + k, (unsigned)(m - k), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			sent += (size_t)r;
			k += (size_t)r;
			fresh = false;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			const struct control_msg *full = owner[k];
			size_t w = k + 1;

			/*
			 * Our own buffer, pinned by replies nobody reads: a new reply
			 * socket starts empty (the old one's memory goes when those
			 * clients read or close). A new socket that fails at once means
			 * the client's queue is the full one.
			 */
			if (!fresh && own_buffer_full(cs, owner[k]->reply_len) && control_replace_reply_socket(cs) == 0) {
				fresh = true;
				continue;
			}
			/* This client's queue is full: its other replies in the batch would fail too. */
			for (size_t j = k + 1; j < m; j++) {
				if (same_sender(owner[j], full))
					continue;
				vec[w] = vec[j];
				owner[w] = owner[j];
				w++;
			}
			m = w;
		}
		k++; /* skip the one that failed */
	}
	for (size_t i = 0; i < n; i++)
		reset_reply(&msgs[i]);
	return sent;
}

static bool is_name_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

static bool is_version_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
	       c == '+' || c == '~' || c == ':' || c == '-';
}

/* "TARGET VERSION", what follows "seed ". */
static int parse_seed(const uint8_t *p, size_t len, struct control_request *ret, char *err,
                      size_t err_size)
{
	const uint8_t *space = memchr(p, ' ', len);
	size_t nlen = space ? (size_t)(space - p) : len;
	size_t vlen = space ? len - nlen - 1 : 0;

	if (nlen == 0 || vlen == 0) {
		(void)snprintf(err, err_size, "seed needs a target name and a version");
		return -EINVAL;
	}
	if (nlen > CONFIG_NAME_MAX) {
		(void)snprintf(err, err_size, "invalid target name");
		return -EINVAL;
	}
	for (size_t i = 0; i < nlen; i++) {
		if (!is_name_char(p[i])) {
			(void)snprintf(err, err_size, "invalid target name");
			return -EINVAL;
		}
	}
	if (vlen > CONTROL_VERSION_MAX) {
		(void)snprintf(err, err_size, "invalid version");
		return -EINVAL;
	}
	for (size_t i = 0; i < vlen; i++) {
		if (!is_version_char(space[1 + i])) {
			(void)snprintf(err, err_size, "invalid version");
			return -EINVAL;
		}
	}
	*ret = (struct control_request){ .command = CONTROL_SEED };
	memcpy(ret->target, p, nlen);
	ret->target[nlen] = '\0';
	memcpy(ret->version, space + 1, vlen);
	ret->version[vlen] = '\0';
	return 0;
}

int control_parse(const uint8_t *buf, size_t len, bool truncated, struct control_request *ret,
                  char *err, size_t err_size)
{
	static const struct {
		const char *word;
		enum control_command command;
	} words[] = {
		{ UPDATER_REQ_CHECK, CONTROL_CHECK },
		{ UPDATER_REQ_STATUS, CONTROL_STATUS },
		{ UPDATER_REQ_SUBSCRIBE, CONTROL_SUBSCRIBE },
		{ UPDATER_REQ_UNSUBSCRIBE, CONTROL_UNSUBSCRIBE },
		{ UPDATER_REQ_METRICS, CONTROL_METRICS },
	};
	/* The words followed by a target name. */
	static const struct {
		const char *word;
		enum control_command command;
	} target_words[] = {
		{ UPDATER_REQ_ROLLBACK, CONTROL_ROLLBACK },
		{ UPDATER_REQ_HOLD, CONTROL_HOLD },
		{ UPDATER_REQ_UNHOLD, CONTROL_UNHOLD },
	};
	static const char seed[] = UPDATER_REQ_SEED;
	const size_t slen = sizeof(seed) - 1;

	if (truncated || len > CONTROL_REQUEST_MAX) {
		(void)snprintf(err, err_size, "request too long (over %d bytes)", CONTROL_REQUEST_MAX);
		return -EINVAL;
	}
	if (len == 0) {
		(void)snprintf(err, err_size, "empty request");
		return -EINVAL;
	}
	if (len == 1) {
		/* The one-byte wake-up: its value does not matter. */
		*ret = (struct control_request){ .command = CONTROL_CHECK };
		return 0;
	}
	if (buf[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] < 0x20 || buf[i] > 0x7e) {
			(void)snprintf(err, err_size, "malformed request (not printable ASCII)");
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (len == strlen(words[i].word) && memcmp(buf, words[i].word, len) == 0) {
			*ret = (struct control_request){ .command = words[i].command };
			return 0;
		}
	}
	for (size_t w = 0; w < sizeof(target_words) / sizeof(target_words[0]); w++) {
		const char *word = target_words[w].word;
		const size_t rlen = strlen(word);
		const uint8_t *name = buf + rlen + 1;
		size_t nlen = len > rlen ? len - rlen - 1 : 0;

		if (len < rlen || memcmp(buf, word, rlen) != 0 || (len != rlen && buf[rlen] != ' '))
			continue;
		if (nlen == 0) {
			(void)snprintf(err, err_size, "%s needs a target name", word);
			return -EINVAL;
		}
		if (nlen > CONFIG_NAME_MAX) {
			(void)snprintf(err, err_size, "invalid target name");
			return -EINVAL;
		}
		for (size_t i = 0; i < nlen; i++) {
			if (!is_name_char(name[i])) {
				(void)snprintf(err, err_size, "invalid target name");
				return -EINVAL;
			}
		}
		*ret = (struct control_request){ .command = target_words[w].command };
		memcpy(ret->target, name, nlen);
		ret->target[nlen] = '\0';
		return 0;
	}
	if (len > slen && memcmp(buf, seed, slen) == 0)
		return parse_seed(buf + slen, len - slen, ret, err, err_size);
	(void)snprintf(err, err_size, "unknown request");
	return -EINVAL;
}

void control_format_check(enum schedule_answer answer, int64_t wait_ms, char *buf, size_t size)
{
	switch (answer) {
	case SCHEDULE_QUEUED:
		(void)snprintf(buf, size, "%s", UPDATER_REPLY_QUEUED);
		break;
	case SCHEDULE_RUNNING:
		(void)snprintf(buf, size, "%s", UPDATER_REPLY_RUNNING);
		break;
	case SCHEDULE_DEFERRED: {
		int64_t sec = wait_ms <= 0 ? 1 : (wait_ms + 999) / 1000;

		(void)snprintf(buf, size, UPDATER_REPLY_DEFERRED "%" PRId64, sec);
		break;
	}
	}
}

void control_sanitize(const char *text, char *buf, size_t size)
{
	size_t i;

	if (size == 0)
		return;
	for (i = 0; text[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		buf[i] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
	}
	buf[i] = '\0';
}
