/* listen.c - see run.h: the sockets that outlive every start of PROGRAM. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "run.h"

/* listen() caps this at net.core.somaxconn: connections that arrive while
 * no generation accepts wait here, so the deeper the better. */
#define LISTEN_BACKLOG 4096

/* systemd's rule for LISTEN_FDNAMES: printable ASCII, no ':' (the
 * separator), at most 255 characters. */
static bool name_is_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > LISTEN_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == ':')
			return false;
	return true;
}

/* "tcp:HOST:PORT": HOST may be empty or "*" (every address), a name, an IPv4
 * address or an IPv6 address in brackets. */
static int split_tcp(const char *rest, char *host, size_t hsize, char *port, size_t psize,
		     const char **why)
{
	const char *colon, *h = rest;
	size_t hlen;
	char *end;
	long n;

	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');

		if (!close || close[1] != ':') {
			*why = "an IPv6 address goes in brackets: tcp:[ADDR]:PORT";
			return -EINVAL;
		}
		h = rest + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		if (hlen == 0) {
			*why = "empty IPv6 address";
			return -EINVAL;
		}
	} else {
		colon = strrchr(rest, ':');
		if (!colon) {
			*why = "expected tcp:HOST:PORT";
			return -EINVAL;
		}
		hlen = (size_t)(colon - rest);
		if (memchr(rest, ':', hlen)) {
			*why = "an IPv6 address goes in brackets: tcp:[ADDR]:PORT";
			return -EINVAL;
		}
	}
	if (hlen >= hsize) {
		*why = "host name too long";
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0)
		host[0] = '\0';

	errno = 0;
	n = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || errno || *end || n < 0 || n > 65535) {
		*why = "the port must be a number from 0 to 65535";
		return -EINVAL;
	}
	(void)snprintf(port, psize, "%ld", n);
	return 0;
}

/* A user or group: a name, or a number. */
static int parse_id(const char *text, bool group, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (*text >= '0' && *text <= '9' && !errno && !*end && v < (unsigned long)(uid_t)-1) {
		*ret = (unsigned)v;
		return 0;
	}
	if (group) {
		const struct group *gr = getgrnam(text);

		if (!gr)
			return -ESRCH;
		*ret = gr->gr_gid;
	} else {
		const struct passwd *pw = getpwnam(text);

		if (!pw)
			return -ESRCH;
		*ret = pw->pw_uid;
	}
	return 0;
}

/* Where the options of unix:PATH,OPT=V,... start (NULL: none): the first
 * ",mode=", ",user=" or ",group=", so a path may hold other commas. */
static const char *unix_options(const char *path)
{
	static const char *const keys[] = { ",mode=", ",user=", ",group=" };
	const char *first = NULL;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *p = strstr(path, keys[i]);

		if (p && (!first || p < first))
			first = p;
	}
	return first;
}

/* "mode=0660,user=www-data,group=www-data" into *l. */
static int parse_unix_options(const char *opts, struct listen_sock *l, const char **why)
{
	char buf[512], *save = NULL, *item;
	unsigned id;

	if (strlen(opts) >= sizeof(buf)) {
		*why = "the socket options are too long";
		return -EINVAL;
	}
	strcpy(buf, opts);
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (strncmp(item, "mode=", 5) == 0) {
			char *end;
			unsigned long m;

			errno = 0;
			m = strtoul(item + 5, &end, 8);
			if (!item[5] || errno || *end || m > 0777) {
				*why = "mode= takes an octal mode such as 0660";
				return -EINVAL;
			}
			l->unix_mode = (mode_t)m;
		} else if (strncmp(item, "user=", 5) == 0) {
			if (parse_id(item + 5, false, &id) < 0) {
				*why = "user= names no user";
				return -EINVAL;
			}
			l->unix_uid = (uid_t)id;
		} else if (strncmp(item, "group=", 6) == 0) {
			if (parse_id(item + 6, true, &id) < 0) {
				*why = "group= names no group";
				return -EINVAL;
			}
			l->unix_gid = (gid_t)id;
		} else {
			*why = "unix: options are mode=, user= and group=";
			return -EINVAL;
		}
	}
	return 0;
}

int listen_parse(const char *arg, struct listen_sock *ret, const char **ret_why)
{
	const char *eq = strchr(arg, '='), *colon = strchr(arg, ':'), *spec = arg;
	char host[256], port[8], *name = NULL, *p;
	const char *why = NULL;
	size_t nlen = 0, unix_len = 0;
	struct listen_sock opt = { .unix_mode = 0666, .unix_uid = (uid_t)-1, .unix_gid = (gid_t)-1 };

	/* A NAME= prefix is recognised only before the first ':', so that
	 * "unix:/run/a=b.sock" stays a path. */
	if (eq && (!colon || eq < colon)) {
		nlen = (size_t)(eq - arg);
		if (!name_is_valid(arg, nlen)) {
			*ret_why = "a name is 1 to 255 printable characters, without ':' or spaces";
			return -EINVAL;
		}
		spec = eq + 1;
	}
	if (strncmp(spec, "tcp:", 4) == 0) {
		if (split_tcp(spec + 4, host, sizeof(host), port, sizeof(port), &why) < 0) {
			*ret_why = why;
			return -EINVAL;
		}
	} else if (strncmp(spec, "unix:", 5) == 0) {
		const char *opts = unix_options(spec + 5);
		size_t plen = opts ? (size_t)(opts - spec - 5) : strlen(spec + 5);

		if (plen == 0 || (spec[5] == '@' && plen == 1)) {
			*ret_why = "expected unix:PATH or unix:@NAME";
			return -EINVAL;
		}
		if (plen >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*ret_why = "the socket path is too long";
			return -EINVAL;
		}
		unix_len = plen;
		if (opts && spec[5] == '@') {
			*ret_why = "an abstract socket has no file: no mode=, user= or group=";
			return -EINVAL;
		}
		if (opts && parse_unix_options(opts + 1, &opt, &why) < 0) {
			*ret_why = why;
			return -EINVAL;
		}
	} else {
		*ret_why = "expected tcp:HOST:PORT or unix:PATH";
		return -EINVAL;
	}

	if (nlen) {
		name = strndup(arg, nlen);
	} else {
		/* The default name is the spec (without options) with its ':' turned into '-'. */
		name = strndup(spec, unix_len ? 5 + unix_len : LISTEN_NAME_MAX);
		for (p = name; p && *p; p++)
			if (*p == ':')
				*p = '-';
	}
	if (!name)
		return -ENOMEM;
	ret->spec = strdup(spec);
	if (!ret->spec) {
		free(name);
		return -ENOMEM;
	}
	ret->unix_want = unix_len ? strndup(spec + 5, unix_len) : NULL;
	if (unix_len && !ret->unix_want) {
		free(name);
		free(ret->spec);
		return -ENOMEM;
	}
	ret->name = name;
	ret->unix_path = NULL;
	ret->unix_mode = opt.unix_mode;
	ret->unix_uid = opt.unix_uid;
	ret->unix_gid = opt.unix_gid;
	ret->unix_dev = 0;
	ret->unix_ino = 0;
	ret->fd = -1;
	return 0;
}

static int open_tcp(struct listen_sock *l, const char **what)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[8];
	const char *why;
	int fd = -1, one = 1, r;

	if (split_tcp(l->spec + 4, host, sizeof(host), port, sizeof(port), &why) < 0)
		return -EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (r != 0) {
		*what = r == EAI_SYSTEM ? "resolve" : gai_strerror(r);
		return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	}
	r = -EADDRNOTAVAIL;
	*what = "resolve";
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			r = -errno;
			*what = "socket";
			continue;
		}
		/* A restart of updater-run itself must not wait for TIME_WAIT. */
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			r = -errno;
			*what = "bind";
		} else if (listen(fd, LISTEN_BACKLOG) < 0) {
			r = -errno;
			*what = "listen";
		} else {
			break;
		}
		(void)close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return r;
	l->fd = fd;
	return 0;
}

/*
 * Is a program listening on the socket file at SA? 1 yes, 0 stale (nobody
 * accepts: connect() is refused), negative errno when it cannot be told.
 */
static int socket_is_live(const struct sockaddr_un *sa, socklen_t salen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, salen) == 0 || errno == EAGAIN || errno == EINPROGRESS)
		r = 1; /* accepted, or a full backlog: someone listens */
	else if (errno == ECONNREFUSED)
		r = 0;
	else
		r = -errno;
	(void)close(fd);
	return r;
}

/* The file bound at PATH gets its owner and mode, never following a link. */
static int set_socket_file(struct listen_sock *l, const char *path)
{
	char proc[32];
	struct stat st;
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		r = errno ? -errno : -ENOTSOCK;
		goto out;
	}
	l->unix_dev = st.st_dev;
	l->unix_ino = st.st_ino;
	(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((l->unix_uid != (uid_t)-1 || l->unix_gid != (gid_t)-1) &&
	    fchownat(fd, "", l->unix_uid, l->unix_gid, AT_EMPTY_PATH) < 0) {
		r = -errno;
		goto out;
	}
	if (chmod(proc, l->unix_mode) < 0)
		r = -errno;
out:
	(void)close(fd);
	return r;
}

static int open_unix(struct listen_sock *l, const char **what)
{
	struct sockaddr_un sa;
	const char *path = l->unix_want;
	size_t len = strlen(path);
	socklen_t salen;
	struct stat st;
	mode_t mask;
	int fd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (path[0] == '@') {
		sa.sun_path[0] = '\0'; /* abstract: no file */
	} else if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		/*
		 * A socket file: removed only when nobody listens on it any
		 * more (left by an earlier run). A live one belongs to another
		 * program, or another updater-run: never taken from it.
		 */
		r = socket_is_live(&sa, salen);
		if (r != 0) {
			*what = r > 0 ? "another program listens on it" : "probe the existing socket";
			r = r > 0 ? -EADDRINUSE : r;
			errno = -r; /* the caller logs %m */
			return r;
		}
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*what = "socket";
		return -errno;
	}
	/* Created 0600 whatever the umask; then exactly the mode asked for. */
	mask = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, salen);
	(void)umask(mask);
	if (r < 0) {
		*what = "bind";
		goto fail;
	}
	if (path[0] != '@') {
		l->unix_path = strdup(path);
		if (!l->unix_path) {
			(void)unlink(path);
			(void)close(fd);
			return -ENOMEM;
		}
		r = set_socket_file(l, path);
		if (r < 0) {
			*what = "set the socket's owner and mode";
			(void)close(fd);
			errno = -r;
			return r;
		}
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		*what = "listen";
		goto fail;
	}
	l->fd = fd;
	return 0;
fail:
	r = -errno;
	(void)close(fd);
	return r;
}

int listen_open(struct listen_sock *l, const char **ret_what)
{
	const char *what = "open";
	int r;

	if (strncmp(l->spec, "tcp:", 4) == 0)
		r = open_tcp(l, &what);
	else
		r = open_unix(l, &what);
	if (r < 0)
		*ret_what = what;
	return r;
}

int listen_adopt(struct listen_sock **ret_socks, size_t *ret_n)
{
	const char *e_pid = getenv("LISTEN_PID"), *e_fds = getenv("LISTEN_FDS");
	const char *e_names = getenv("LISTEN_FDNAMES"), *p;
	struct listen_sock *v;
	long pid, n, i;
	char *end;
	size_t len;

	*ret_socks = NULL;
	*ret_n = 0;
	if (!e_pid || !e_fds)
		return 0;
	pid = strtol(e_pid, &end, 10);
	if (*end || pid != (long)getpid())
		return 0;
	n = strtol(e_fds, &end, 10);
	if (*end || n <= 0 || n > 1024)
		return 0;
	v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	p = e_names;
	for (i = 0; i < n; i++) {
		v[i].fd = 3 + (int)i;
		/* Ours now: no further program may inherit it by accident. */
		(void)fcntl(v[i].fd, F_SETFD, FD_CLOEXEC);
		len = p ? strcspn(p, ":") : 0;
		v[i].name = len && name_is_valid(p, len) ? strndup(p, len) : strdup("unknown");
		v[i].spec = strdup("inherited");
		if (p)
			p = p[len] ? p + len + 1 : NULL;
		if (!v[i].name || !v[i].spec) {
			for (; i >= 0; i--) {
				free(v[i].name);
				free(v[i].spec);
			}
			free(v);
			return -ENOMEM;
		}
	}
	*ret_socks = v;
	*ret_n = (size_t)n;
	return 0;
}

void listen_close(struct listen_sock *l)
{
	struct stat st;

	if (l->fd >= 0)
		(void)close(l->fd);
	/* Only while the file is still the socket we bound: another may have taken the path. */
	if (l->unix_path && lstat(l->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == l->unix_dev && st.st_ino == l->unix_ino)
		(void)unlink(l->unix_path);
	free(l->unix_path);
	free(l->unix_want);
	free(l->name);
	free(l->spec);
	l->fd = -1;
	l->unix_path = l->unix_want = l->name = l->spec = NULL;
}
