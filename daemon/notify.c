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
