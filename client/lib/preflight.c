/*
 * preflight.c - before updater_reexec() gives up the running image, start
 * the new file once as a child and see it reach updater_init().
 *
 * A new build that cannot load (a missing library, another architecture, a
 * truncated file, a program that exits before it calls updater_init())
 * would otherwise replace a working process with nothing: execve() succeeds
 * as soon as the kernel accepts the file, and what fails after that fails
 * in the process that served. So the parent first runs the file as a child
 * with UPDATER_PREFLIGHT naming the write end of a pipe; that child's
 * updater_init() writes "ok" on it and exits at once (_exit: no atexit
 * handler, no stdio flush). Its stdin and stdout are /dev/null, its stderr
 * is ours, and it gets no descriptor of ours but the pipe. Only after "ok" does the parent execute the file
 * itself. The cost is one fork and exec of the new image up to its
 * updater_init() (bench/zero-downtime.sh measures it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

#define PREFLIGHT_OK "ok"

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void updater_preflight_child_(void)
{
	const char *v = getenv(UPDATER_PREFLIGHT_VAR);
	struct stat st;
	char *end;
	long fd;

	if (!v)
		return;
	fd = strtol(v, &end, 10);
	(void)unsetenv(UPDATER_PREFLIGHT_VAR);
	/* Only a pipe handed down for this: a stray variable is ignored. */
	if (*v == '\0' || *end || fd < 3 || fd > INT32_MAX || fstat((int)fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return;
	(void)!write((int)fd, PREFLIGHT_OK, strlen(PREFLIGHT_OK));
	_exit(0);
}

/* ENVP plus UPDATER_PREFLIGHT=FD (and without an UPDATER_PREFLIGHT of its own). */
static char **env_with_marker(char *const envp[], int fd, char *buf, size_t size)
{
	size_t n = 0, j = 0;
	char **v;

	while (envp[n])
		n++;
	v = calloc(n + 2, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], UPDATER_PREFLIGHT_VAR "=", strlen(UPDATER_PREFLIGHT_VAR) + 1) != 0)
			v[j++] = envp[i];
	(void)snprintf(buf, size, "%s=%d", UPDATER_PREFLIGHT_VAR, fd);
	v[j++] = buf;
	v[j] = NULL;
	return v;
}

static void reap(pid_t pid, bool kill_it)
{
	int64_t end = now_ms() + 1000;

	if (kill_it)
		(void)kill(pid, SIGKILL);
	for (;;) {
		pid_t w = waitpid(pid, NULL, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			return; /* reaped, or reaped by someone else (SIGCHLD ignored) */
		if (now_ms() >= end) {
			/* "ok" came, but it lingers: it must not outlive the check. */
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, NULL, 0);
			return;
		}
		(void)poll(NULL, 0, 1);
	}
}

int updater_preflight_(const char *path, char *const argv[])
{
	const char *t = getenv(UPDATER_PREFLIGHT_TIMEOUT_VAR);
	int64_t timeout = UPDATER_PREFLIGHT_TIMEOUT_MS, deadline;
	char marker[64], buf[32], **envp;
	size_t got = 0;
	int p[2], r;
	pid_t pid;

	if (getenv(UPDATER_NO_PREFLIGHT_VAR))
		return 0;
	if (t && atoi(t) > 0)
		timeout = (int64_t)atoi(t) * 1000;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	envp = env_with_marker(environ, p[1], marker, sizeof(marker));
	if (!envp) {
		(void)close(p[0]);
		(void)close(p[1]);
		return -ENOMEM;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		free(envp);
		(void)close(p[0]);
		(void)close(p[1]);
		return r;
	}
	if (pid == 0) {
		int err, null = open("/dev/null", O_RDWR | O_CLOEXEC);

		/*
		 * Not our input nor our output, which may be a protocol or a
		 * client's: stdin and stdout are /dev/null. stderr stays, so
		 * "error while loading shared libraries" reaches the log.
		 */
		if (null >= 0) {
			(void)dup2(null, 0);
			(void)dup2(null, 1);
		}
		/* Nothing of ours but the pipe reaches the child: not the listening sockets. */
		(void)syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
		(void)fcntl(p[1], F_SETFD, 0);
		(void)execve(path, argv, envp);
		err = errno;
		(void)snprintf(buf, sizeof(buf), "e%d", err);
		(void)!write(p[1], buf, strlen(buf));
		_exit(127);
	}
	free(envp);
	(void)close(p[1]);
	deadline = now_ms() + timeout;
	r = -ENOEXEC; /* until it says otherwise: it ended before updater_init() */
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t n;

		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue; /* the deadline decides */
		n = read(p[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF: every copy of the write end is closed */
		got += (size_t)n;
		buf[got] = '\0';
		if (strcmp(buf, PREFLIGHT_OK) == 0) {
			r = 0;
			break;
		}
		if (buf[0] == 'e' && got > 1) {
			int e = atoi(buf + 1);

			r = e > 0 ? -e : -ENOEXEC;
			break;
		}
		if (got >= sizeof(buf) - 1)
			break;
	}
	(void)close(p[0]);
	reap(pid, r != 0);
	return r;
}
