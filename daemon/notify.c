/* notify.c - see notify.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

/* The service manager's side of things goes through libsystemd's sd-daemon API. */
static int notify_send(const char *msg)
{
	return sd_notify(0, msg);
}

void notify_ready(void)
{
	(void)notify_send("READY=1");
}

void notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	/* systemd >= 253 pairs RELOADING=1 with the time it was sent. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	               (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	(void)notify_send(msg);
}

void notify_stopping(void)
{
	(void)notify_send("STOPPING=1");
}

void notify_status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	/* Without NOTIFY_SOCKET, do not even format. */
	if (!getenv("NOTIFY_SOCKET"))
		return;
	n = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(ap, fmt);
	(void)vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One line: a newline would start another assignment. */
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	(void)notify_send(buf);
}

void notify_watchdog(void)
{
	(void)notify_send("WATCHDOG=1");
}

int64_t notify_watchdog_interval_ms(void)
{
	uint64_t usec = 0;

	/* Also checks WATCHDOG_PID: a watchdog meant for another process is not ours. */
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	/* Ping at half the period, but never in a busy loop. */
	if (usec < 2000)
		return 1;
	return (int64_t)(usec / 2000);
}

static bool same_address(const struct subscriber *sub, const struct sockaddr_un *addr, socklen_t addrlen)
{
	return sub->addrlen == addrlen && memcmp(&sub->addr, addr, addrlen) == 0;
}

static ssize_t find(const struct subscribers *s, const struct sockaddr_un *addr, socklen_t addrlen)
{
	for (size_t i = 0; i < s->n; i++)
		if (same_address(&s->v[i], addr, addrlen))
			return (ssize_t)i;
	return -1;
}

int subscribers_add(struct subscribers *s, const struct sockaddr_un *addr, socklen_t addrlen, uid_t uid)
{
	size_t same_uid = 0;

	if (addrlen <= offsetof(struct sockaddr_un, sun_path) || addrlen > sizeof(*addr))
		return -EDESTADDRREQ;
	if (find(s, addr, addrlen) >= 0)
		return 0;
	if (s->n >= NOTIFY_SUBSCRIBERS_MAX)
		return -EUSERS;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].uid == uid)
			same_uid++;
	if (same_uid >= NOTIFY_SUBSCRIBERS_PER_UID)
		return -EDQUOT;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct subscriber *v = reallocarray(s->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n] = (struct subscriber){ .addrlen = addrlen, .uid = uid };
	memcpy(&s->v[s->n].addr, addr, addrlen);
	s->n++;
	return 0;
}

static void remove_at(struct subscribers *s, size_t i)
{
	/* Order matters to nobody; keep removal O(1). */
	s->v[i] = s->v[s->n - 1];
	s->n--;
}

int subscribers_remove(struct subscribers *s, const struct sockaddr_un *addr, socklen_t addrlen)
{
	ssize_t i = find(s, addr, addrlen);

	if (i < 0)
		return -ENOENT;
	remove_at(s, (size_t)i);
	return 0;
}

void subscribers_free(struct subscribers *s)
{
	free(s->v);
	*s = (struct subscribers){ 0 };
}

size_t subscribers_send(struct subscribers *s, int fd, const char *msg)
{
	size_t len = strlen(msg), sent = 0, i = 0;

	while (i < s->n) {
		struct subscriber *sub = &s->v[i];

		if (sendto(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&sub->addr,
		           sub->addrlen) >= 0) {
			sent++;
		} else if (errno == ECONNREFUSED || errno == ENOENT || errno == ENOTCONN) {
			/* Its socket is gone: nobody will read there again. */
			remove_at(s, i);
			continue;
		}
		i++;
	}
	return sent;
}

/* PID when NAME is a decimal process id, else 0. */
static pid_t parse_pid(const char *name)
{
	char *end;
	long v;

	if (name[0] < '1' || name[0] > '9')
		return 0;
	errno = 0;
	v = strtol(name, &end, 10);
	if (errno || *end || v <= 0 || v > INT32_MAX)
		return 0;
	return (pid_t)v;
}

int notify_signal_image(dev_t dev, ino_t ino, int sig, pid_t except, size_t *ret_count)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t count = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[32];
		struct stat st;
		pid_t pid = parse_pid(de->d_name);

		if (pid <= 0 || pid == except)
			continue;
		(void)snprintf(path, sizeof(path), "%d/exe", (int)pid);
		/* stat() follows the magic link to the inode the process runs, even after a rename. */
		if (fstatat(dirfd(d), path, &st, 0) < 0)
			continue;
		if (st.st_dev != dev || st.st_ino != ino)
			continue;
		if (kill(pid, sig) == 0)
			count++;
	}
	(void)closedir(d);
	*ret_count = count;
	return 0;
}
