/*
 * updater-probe - a libupdater program that the integration tests drive one
 * command a line on stdin, answering one line on stdout. Its state survives
 * updater_reexec() (stdin is read unbuffered, byte by byte, so no command is
 * lost in a stdio buffer when the image is replaced), so a test can talk to
 * the old image and then to the new one in the same process.
 *
 * On start it prints "listen PID FDS NAMES" (the LISTEN_* variables it was
 * given, "-" when unset), then "ready VERSION PID".
 *
 *   pid | version | argv | getenv NAME | setenv NAME VALUE
 *   open               a new /dev/null descriptor without close-on-exec: "fd N"
 *   pipe               "fd R W"
 *   dup2 FD TO | close FD | cloexec FD | chdir DIR
 *   keep FD NAME       "keep R"
 *   inherited NAME     "inherited R"
 *   fds                "fds N=DEV:INO:C ..." every descriptor > 2, C: close-on-exec
 *   changed            "changed R"      updater_self_changed()
 *   watch              "watch R"        updater_watch_fd() (the number, or -errno)
 *   poll MS            "poll readable" or "poll timeout"
 *   handle             "handle R"       updater_watch_handle()
 *   reexec             nothing on success (the new image prints "listen"/"ready");
 *                      "reexec R" on failure
 *   spawn              updater_spawn_self({argv0, "child"}): the child prints
 *                      "child VERSION"; then "spawn R STATUS"
 *   request            "request R"      updater_request_check()
 *   exit
 * Unknown commands answer "error".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <updater.h>

#ifndef PROBE_VERSION
#define PROBE_VERSION "0"
#endif

static char *argv0;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* One line from fd 0, unbuffered. Returns 0, or -1 at end of input. */
static int read_line(char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(0, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return n ? 0 : -1;
		if (c == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

static void list_fds(void)
{
	char line[8192];
	size_t len = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fds[1024], n = 0;

	if (!d) {
		out("fds error");
		return;
	}
	while ((de = readdir(d)) && n < 1024) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd <= 2 || fd == dirfd(d))
			continue;
		fds[n++] = fd;
	}
	closedir(d);
	/* Sorted, so that two listings compare as strings. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];

			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	len += (size_t)snprintf(line + len, sizeof(line) - len, "fds");
	for (int i = 0; i < n && len < sizeof(line); i++) {
		struct stat st;
		int flags = fcntl(fds[i], F_GETFD);

		if (fstat(fds[i], &st) < 0)
			continue;
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %d=%lu:%lu:%d", fds[i],
					(unsigned long)st.st_dev, (unsigned long)st.st_ino,
					(flags & FD_CLOEXEC) ? 1 : 0);
	}
	out("%s", line);
}

static void command(char *line)
{
	char *cmd = strtok(line, " "), *a = strtok(NULL, " "), *b = strtok(NULL, "");

	if (!cmd) {
		out("error");
	} else if (!strcmp(cmd, "pid")) {
		out("pid %ld", (long)getpid());
	} else if (!strcmp(cmd, "version")) {
		out("version %s", PROBE_VERSION);
	} else if (!strcmp(cmd, "getenv") && a) {
		const char *v = getenv(a);

		if (v)
			out("env %s=%s", a, v);
		else
			out("env %s unset", a);
	} else if (!strcmp(cmd, "setenv") && a && b) {
		out("setenv %d", setenv(a, b, 1));
	} else if (!strcmp(cmd, "open")) {
		out("fd %d", open("/dev/null", O_RDONLY));
	} else if (!strcmp(cmd, "pipe")) {
		int p[2];

		if (pipe(p) < 0)
			out("fd -1 -1");
		else
			out("fd %d %d", p[0], p[1]);
	} else if (!strcmp(cmd, "dup2") && a && b) {
		out("dup2 %d", dup2(atoi(a), atoi(b)));
	} else if (!strcmp(cmd, "chdir") && a) {
		out("chdir %d", chdir(a));
	} else if (!strcmp(cmd, "close") && a) {
		out("close %d", close(atoi(a)));
	} else if (!strcmp(cmd, "cloexec") && a) {
		out("cloexec %d", fcntl(atoi(a), F_SETFD, FD_CLOEXEC));
	} else if (!strcmp(cmd, "keep") && a && b) {
		out("keep %d", updater_keep_fd(atoi(a), b));
	} else if (!strcmp(cmd, "inherited") && a) {
		out("inherited %d", updater_inherited_fd(a));
	} else if (!strcmp(cmd, "fds")) {
		list_fds();
	} else if (!strcmp(cmd, "changed")) {
		out("changed %d", updater_self_changed());
	} else if (!strcmp(cmd, "watch")) {
		out("watch %d", updater_watch_fd());
	} else if (!strcmp(cmd, "poll") && a) {
		struct pollfd p = { .fd = updater_watch_fd(), .events = POLLIN };

		out("poll %s", poll(&p, 1, atoi(a)) > 0 ? "readable" : "timeout");
	} else if (!strcmp(cmd, "handle")) {
		out("handle %d", updater_watch_handle());
	} else if (!strcmp(cmd, "reexec")) {
		out("reexec %d", updater_reexec());
	} else if (!strcmp(cmd, "spawn")) {
		char *av[] = { argv0, "child", NULL };
		pid_t pid = updater_spawn_self(av);
		int status = -1;

		if (pid > 0)
			(void)waitpid(pid, &status, 0);
		out("spawn %d %d", pid > 0 ? 0 : (int)pid, status);
	} else if (!strcmp(cmd, "request")) {
		out("request %d", updater_request_check());
	} else if (!strcmp(cmd, "argv")) {
		/* The recorded argv is what the process shows after a re-exec. */
		char buf[4096];
		FILE *f = fopen("/proc/self/cmdline", "re");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		for (size_t i = 0; i + 1 < n; i++)
			if (buf[i] == '\0')
				buf[i] = '|';
		buf[n ? n - 1 : 0] = '\0';
		out("argv %s", buf);
	} else if (!strcmp(cmd, "exit")) {
		exit(0);
	} else {
		out("error");
	}
}

int main(int argc, char *argv[])
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS"), *names = getenv("LISTEN_FDNAMES");
	char line[4096];
	int r;

	argv0 = argv[0];
	if (argc > 1 && !strcmp(argv[1], "child")) {
		out("child %s", PROBE_VERSION);
		return 0;
	}
	out("listen %s %s %s", pid ? pid : "-", fds ? fds : "-", names ? names : "-");
	r = updater_init(argc, argv);
	if (r < 0)
		out("init %d", r);
	out("ready %s %ld", PROBE_VERSION, (long)getpid());
	while (read_line(line, sizeof(line)) == 0)
		command(line);
	return 0;
}
