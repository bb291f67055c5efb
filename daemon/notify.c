/* notify.c - see notify.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* True when /proc/PID/exe (PATH, inside DIRFD) is the inode DEV:INO. */
static bool runs_image(int dirfd, const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	/* stat() follows the magic link to the inode the process runs, even after a rename. */
	return fstatat(dirfd, path, &st, 0) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/*
 * Signal PID through a pidfd: the number may be reused between the scan and
 * the signal, the pidfd may not. The image is checked again once the pidfd
 * is held (the PID may have been reused before pidfd_open()); after that, a
 * process that exits makes pidfd_send_signal() fail with ESRCH instead of
 * hitting whoever got its number. Returns 0 or negative errno.
 */
static int signal_pid_if_image(int dirfd, pid_t pid, dev_t dev, ino_t ino, int sig)
{
	char path[32];
	int pidfd, r = 0;

	(void)snprintf(path, sizeof(path), "%d/exe", (int)pid);
	if (!runs_image(dirfd, path, dev, ino))
		return -ESRCH;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	if (!runs_image(dirfd, path, dev, ino))
		r = -ESRCH;
	else if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		r = -errno;
	(void)close(pidfd);
	return r;
}

int notify_signal_image(dev_t dev, ino_t ino, int sig, pid_t except, size_t *ret_count)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t count = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t pid = parse_pid(de->d_name);

		if (pid <= 0 || pid == except)
			continue;
		if (signal_pid_if_image(dirfd(d), pid, dev, ino, sig) == 0)
			count++;
	}
	(void)closedir(d);
	*ret_count = count;
	return 0;
}
