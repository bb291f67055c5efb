/* events.c - see events.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "events.h"
#include "util.h"

/*
 * The send buffer of each connection (the kernel doubles it): what a
 * subscriber that does not read can pin in the kernel before it is
 * disconnected, 1024 times over at most. Dozens of notifications.
 */
#define EVENTS_SNDBUF (32 * 1024)

/* Packets read from one connection per events_reap(): what a subscriber sends is not queued for ever. */
#define EVENTS_READ_BUDGET 16

int events_raise_nofile(struct events *ev)
{
	const rlim_t need = EVENTS_FD_FLOOR + EVENTS_MAX + EVENTS_FD_RESERVE;
	struct rlimit rl;

	ev->fd_floor = false;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit want = rl;

		want.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) < 0)
			return -errno;
		rl = want;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		return -EMFILE;
	ev->fd_floor = true;
	return 0;
}

static int listen_on(int fd)
{
	return listen(fd, SOMAXCONN) < 0 ? -errno : 0;
}

/* The epoll set of the connections, made before any connection so it stays below 1024. */
static int watch_open(struct events *ev, char *err, size_t err_size)
{
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0) {
		(void)snprintf(err, err_size, "epoll_create1: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int events_open(struct events *ev, const char *path, int activated, char *err, size_t err_size)
{
	struct stat st;
	int fd, r;

	ev->fd = -1;
	r = watch_open(ev, err, err_size);
	if (r < 0)
		return r;
	if (activated >= 0) {
		if (sd_is_socket(activated, AF_UNIX, SOCK_SEQPACKET, 1) <= 0) {
			(void)snprintf(err, err_size, "the activated events socket is not a listening AF_UNIX SOCK_SEQPACKET socket");
			(void)close(activated);
			return -ENOTSOCK;
		}
		if (fcntl(activated, F_SETFD, FD_CLOEXEC) < 0 ||
		    fcntl(activated, F_SETFL, fcntl(activated, F_GETFL) | O_NONBLOCK) < 0) {
			r = -errno;
			(void)snprintf(err, err_size, "cannot set up the activated events socket: %s", strerror(-r));
			(void)close(activated);
			return r;
		}
		ev->fd = activated;
		ev->activated = true;
		return 0;
	}
	fd = unix_bind_path(SOCK_SEQPACKET, path, &st, err, err_size);
	if (fd < 0)
		return fd;
	r = listen_on(fd);
	if (r < 0) {
		(void)snprintf(err, err_size, "cannot listen on '%s': %s", path, strerror(-r));
		(void)unlink(path);
		(void)close(fd);
		return r;
	}
	ev->path = strdup(path);
	if (!ev->path) {
		(void)unlink(path);
		(void)close(fd);
		(void)snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	ev->fd = fd;
	ev->activated = false;
	ev->dev = st.st_dev;
	ev->ino = st.st_ino;
	return 0;
}

size_t events_count_uid(const struct events *ev, uid_t uid)
{
	size_t n = 0;

	for (size_t i = 0; i < ev->n; i++)
		n += ev->v[i].uid == uid;
	return n;
}

/*
 * Move FD out of select()'s range, so that what the loop opens later stays
 * below FD_SETSIZE. Returns the descriptor to keep (FD is closed when it
 * moved), or -EMFILE when there is no room (FD is left to the caller).
 */
static int move_up(const struct events *ev, int fd)
{
	int up;

	if (fd >= EVENTS_FD_FLOOR)
		return fd;
	if (!ev->fd_floor)
		/* Without room above 1024, keep a reserve below it for the loop. */
		return fd < FD_SETSIZE - EVENTS_FD_RESERVE ? fd : -EMFILE;
	up = fcntl(fd, F_DUPFD_CLOEXEC, EVENTS_FD_FLOOR);
	if (up < 0)
		return -EMFILE;
	(void)close(fd);
	return up;
}

static void close_at(struct events *ev, size_t i)
{
	if (ev->v[i].inhibits && ev->on_release)
		ev->on_release(ev->ctx, &ev->v[i]);
	(void)close(ev->v[i].fd); /* which also takes it out of the epoll set */
	/* Order matters to nobody; keep removal O(1). */
	ev->v[i] = ev->v[ev->n - 1];
	ev->n--;
}

static int add(struct events *ev, int fd, uid_t uid, pid_t pid)
{
	if (ev->n == ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 16;
		struct events_conn *v = reallocarray(ev->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		ev->v = v;
		ev->cap = cap;
	}
	ev->v[ev->n++] = (struct events_conn){ .fd = fd, .uid = uid, .pid = pid };
	return 0;
}

/* One packet, "error REASON", to a connection about to be closed. */
static void refuse(int fd, const char *reason)
{
	char msg[160];

	(void)snprintf(msg, sizeof(msg), UPDATER_REPLY_ERROR "%s", reason);
	(void)send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Whether one more connection of UID fits; closed ones are looked for first. */
static int room_for(struct events *ev, uid_t uid)
{
	if (ev->n >= EVENTS_MAX || events_count_uid(ev, uid) >= EVENTS_PER_UID)
		(void)events_reap(ev);
	if (ev->n >= EVENTS_MAX)
		return -EUSERS;
	if (events_count_uid(ev, uid) >= EVENTS_PER_UID)
		return -EDQUOT;
	return 0;
}

static int take(struct events *ev, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	char reason[128];
	int r, kept;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || len != sizeof(uc)) {
		(void)close(fd);
		return -EPROTO;
	}
	r = room_for(ev, uc.uid);
	if (r < 0) {
		if (r == -EUSERS)
			(void)snprintf(reason, sizeof(reason), "too many subscribers (at most %d)", EVENTS_MAX);
		else
			(void)snprintf(reason, sizeof(reason), "too many subscribers for uid %u (at most %d)",
			               (unsigned)uc.uid, EVENTS_PER_UID);
		refuse(fd, reason);
		ev->refused++;
		(void)close(fd);
		return r;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ EVENTS_SNDBUF }, sizeof(int));
	kept = move_up(ev, fd);
	if (kept < 0) {
		refuse(fd, "too many subscribers (no descriptor left)");
		ev->refused++;
		(void)close(fd);
		return kept;
	}
	r = add(ev, kept, uc.uid, uc.pid);
	if (r < 0) {
		(void)close(kept);
		return r;
	}
	if (ev->epfd >= 0) {
		struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = kept };

		(void)epoll_ctl(ev->epfd, EPOLL_CTL_ADD, kept, &e);
	}
	return 0;
}

int events_accept(struct events *ev)
{
	int added = 0;

	for (int i = 0; i < EVENTS_ACCEPT_BUDGET && ev->fd >= 0; i++) {
		int fd = accept4(ev->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return added > 0 ? added : -errno;
		}
		if (take(ev, fd) == 0)
			added++;
	}
	return added;
}

int events_adopt(struct events *ev, int fd)
{
	int flags;

	if (sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 0) <= 0) {
		(void)close(fd);
		return -ENOTSOCK;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		(void)close(fd);
		return -errno;
	}
	return take(ev, fd);
}

size_t events_send(struct events *ev, const char *msg, size_t len)
{
	size_t sent = 0;

	for (size_t i = 0; i < ev->n;) {
		ssize_t n;

		do
			n = send(ev->v[i].fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n >= 0) {
			sent++;
			i++;
			continue;
		}
		/* Gone (EPIPE, ECONNRESET), or full (EAGAIN): it missed this one, so it goes. */
		ev->dropped++;
		close_at(ev, i);
	}
	return sent;
}

static int64_t now_unix_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Grant or refuse the inhibitor connection C asks for. Writes the reply into REPLY. */
static void inhibit(struct events *ev, struct events_conn *c, const struct events_request *req, char *reply,
                    size_t size)
{
	char err[160] = "";
	int r;

	if (c->inhibits) {
		(void)snprintf(reply, size, UPDATER_REPLY_ERROR "this connection holds an inhibitor already");
		return;
	}
	r = ev->on_inhibit ? ev->on_inhibit(ev->ctx, c, req->target, err, sizeof(err)) : -EOPNOTSUPP;
	if (r < 0) {
		(void)snprintf(reply, size, UPDATER_REPLY_ERROR "%s", err[0] ? err : strerror(-r));
		return;
	}
	c->inhibits = true;
	memcpy(c->target, req->target, sizeof(c->target));
	memcpy(c->why, req->why, sizeof(c->why));
	c->since_ms = now_unix_ms();
	(void)snprintf(reply, size, "%s", UPDATER_REPLY_OK);
}

/* Read and answer what a subscriber sent; false when the connection is over. */
static bool serve(struct events *ev, struct events_conn *c)
{
	for (int k = 0; k < EVENTS_READ_BUDGET; k++) {
		uint8_t buf[UPDATER_PROTO_REQUEST_MAX + 1];
		struct events_request req;
		char err[128], reply[200];
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		if (n == 0)
			return false;
		if (events_parse(buf, (size_t)n, (size_t)n > UPDATER_PROTO_REQUEST_MAX, &req, err, sizeof(err)) < 0)
			(void)snprintf(reply, sizeof(reply), UPDATER_REPLY_ERROR "%s", err);
		else
			inhibit(ev, c, &req, reply, sizeof(reply));
		if (send(c->fd, reply, strlen(reply), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EINTR)
			return false;
	}
	return true;
}

void events_watch_clear(struct events *ev)
{
	struct epoll_event e[64];

	/* Level-triggered: what is still ready after events_reap() shows up again. */
	if (ev->epfd >= 0)
		(void)epoll_wait(ev->epfd, e, 64, 0);
}

size_t events_inhibitors(const struct events *ev, const char *target, int64_t *ret_since_ms,
                         const char **ret_why)
{
	size_t n = 0;

	*ret_since_ms = 0;
	*ret_why = NULL;
	for (size_t i = 0; i < ev->n; i++) {
		const struct events_conn *c = &ev->v[i];

		if (!c->inhibits || (c->target[0] && strcmp(c->target, target) != 0))
			continue;
		if (n == 0 || c->since_ms < *ret_since_ms) {
			*ret_since_ms = c->since_ms;
			*ret_why = c->why[0] ? c->why : NULL;
		}
		n++;
	}
	return n;
}

size_t events_reap(struct events *ev)
{
	struct pollfd *p;
	size_t gone = 0;

	if (ev->n == 0)
		return 0;
	p = calloc(ev->n, sizeof(*p));
	if (!p)
		return 0;
	for (size_t i = 0; i < ev->n; i++)
		p[i] = (struct pollfd){ .fd = ev->v[i].fd, .events = POLLIN | POLLRDHUP };
	if (poll(p, ev->n, 0) > 0) {
		/* Backwards, so that close_at()'s move of the last one is already looked at. */
		for (size_t i = ev->n; i-- > 0;) {
			bool over = (p[i].revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP)) != 0;

			if (!over && (p[i].revents & POLLIN))
				over = !serve(ev, &ev->v[i]);
			if (over) {
				close_at(ev, i);
				gone++;
			}
		}
	}
	free(p);
	return gone;
}

int events_parse(const uint8_t *buf, size_t len, bool truncated, struct events_request *ret, char *err,
                 size_t err_size)
{
	static const char word[] = UPDATER_REQ_INHIBIT;
	const size_t wlen = sizeof(word) - 1;
	size_t tlen;

	if (truncated || len > UPDATER_PROTO_REQUEST_MAX) {
		(void)snprintf(err, err_size, "request too long (over %d bytes)", UPDATER_PROTO_REQUEST_MAX);
		return -EINVAL;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0) {
		(void)snprintf(err, err_size, "empty request");
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] < 0x20 || buf[i] > 0x7e) {
			(void)snprintf(err, err_size, "malformed request (not printable ASCII)");
			return -EINVAL;
		}
	}
	if (len < wlen + 2 || memcmp(buf, word, wlen) != 0 || buf[wlen] != ' ') {
		(void)snprintf(err, err_size, "unknown request");
		return -EINVAL;
	}
	*ret = (struct events_request){ .kind = EVENTS_REQ_INHIBIT };
	buf += wlen + 1;
	len -= wlen + 1;
	for (tlen = 0; tlen < len && buf[tlen] != ' '; tlen++)
		;
	if (tlen == 1 && buf[0] == UPDATER_REQ_INHIBIT_ALL[0]) {
		ret->target[0] = '\0';
	} else {
		if (tlen == 0 || tlen > UPDATER_PROTO_TARGET_MAX) {
			(void)snprintf(err, err_size, "invalid target name");
			return -EINVAL;
		}
		for (size_t k = 0; k < tlen; k++) {
			uint8_t c = buf[k];

			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
			      c == '_' || c == '-')) {
				(void)snprintf(err, err_size, "invalid target name");
				return -EINVAL;
			}
		}
		memcpy(ret->target, buf, tlen);
		ret->target[tlen] = '\0';
	}
	if (tlen < len) {
		size_t wl = len - tlen - 1;

		if (wl > EVENTS_WHY_MAX)
			wl = EVENTS_WHY_MAX;
		memcpy(ret->why, buf + tlen + 1, wl);
		ret->why[wl] = '\0';
	}
	return 0;
}

void events_close(struct events *ev, bool keep_path)
{
	struct stat st;

	for (size_t i = 0; i < ev->n; i++)
		(void)close(ev->v[i].fd);
	free(ev->v);
	if (ev->fd >= 0)
		(void)close(ev->fd);
	/* Unlink only the socket file we made: another instance may own the path by now. */
	if (ev->path && !keep_path && stat(ev->path, &st) == 0 && st.st_dev == ev->dev && st.st_ino == ev->ino)
		(void)unlink(ev->path);
	free(ev->path);
	if (ev->epfd > 0)
		(void)close(ev->epfd);
	*ev = (struct events){ .fd = -1, .epfd = -1 };
}
