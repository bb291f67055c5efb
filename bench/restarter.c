/*
 * restarter.c - the bare mechanisms updater-run's restarts are measured
 * against, a minimal server, and the probe that times them.
 *
 *   restarter serve
 *       accept on fd 3 (LISTEN_FDS; LISTEN_PID is not checked, so a shell
 *       in between does no harm) and answer each connection with our PID
 *       and a newline; SIGTERM ends it at its default action
 *   restarter hold HOST:PORT -- PROGRAM [ARG...]
 *       a tight restart holding the socket, in C: listen, run PROGRAM with
 *       the socket as fd 3, and on SIGHUP send it SIGTERM, wait for its
 *       exit, fork and exec it again; SIGTERM ends both
 *   restarter replace OLDPID PIDFILE -- PROGRAM [ARG...]
 *       a tight stop-and-start: SIGTERM to OLDPID, wait for its exit (a
 *       pidfd: no polling), then fork and exec PROGRAM and write its PID
 *       to PIDFILE
 *   restarter idle N
 *       N idle processes (children that pause); prints "ready" once they
 *       all exist; SIGTERM ends them all
 *   restarter probe PORT COUNT hup PID | term-server [--cpu PID]
 *       COUNT times: ask the server on 127.0.0.1:PORT who answers, send
 *       SIGHUP to PID (hup) or SIGTERM to the server that answered
 *       (term-server), and time until another PID answers; prints one
 *       line per restart (milliseconds) and, with --cpu, the CPU time that
 *       process used per restart (from /proc/PID/schedstat)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int usage(void)
{
	fprintf(stderr, "usage: restarter serve | hold HOST:PORT -- PROGRAM... | "
			"replace OLDPID PIDFILE -- PROGRAM... | idle N | "
			"probe PORT COUNT hup PID|term-server [--cpu PID]\n");
	return 2;
}

static int serve(void)
{
	char reply[32];
	int n, c;

	n = snprintf(reply, sizeof(reply), "%d\n", (int)getpid());
	if (!getenv("LISTEN_FDS"))
		return 1;
	for (;;) {
		c = accept4(3, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return 1;
		}
		(void)!write(c, reply, (size_t)n);
		close(c);
	}
}

static pid_t spawn(char **argv, int listen_fd)
{
	char pid[32];
	sigset_t none;
	pid_t p = fork();

	if (p != 0)
		return p;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (listen_fd >= 0) {
		if (listen_fd != 3) {
			dup2(listen_fd, 3);
			close(listen_fd);
		}
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", pid, 1);
	}
	execvp(argv[0], argv);
	_exit(127);
}

static int hold(const char *addr, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(addr, ':');
	sigset_t set;
	pid_t child;
	int fd, sig, one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return usage();
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return usage();
	fd = socket(AF_INET, SOCK_STREAM, 0); /* no CLOEXEC: for the child */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		perror("restarter hold");
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	child = spawn(argv, fd);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		kill(child, SIGTERM);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		if (sig != SIGHUP)
			return 0;
		child = spawn(argv, fd);
	}
}

static int replace(pid_t old, const char *pidfile, char **argv)
{
	struct pollfd p;
	FILE *f;
	pid_t child;
	int pfd = (int)syscall(SYS_pidfd_open, old, 0);

	if (pfd < 0) {
		perror("restarter replace: pidfd_open");
		return 1;
	}
	kill(old, SIGTERM);
	p.fd = pfd;
	p.events = POLLIN;
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	child = spawn(argv, -1);
	f = fopen(pidfile, "w");
	if (!f)
		return 1;
	fprintf(f, "%d\n", (int)child);
	return fclose(f) == 0 ? 0 : 1;
}

static int idle(long n)
{
	sigset_t set;
	long i;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	setpgid(0, 0);
	for (i = 0; i < n; i++) {
		pid_t p = fork();

		if (p == 0) {
			sigset_t none;

			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			for (;;)
				pause();
		}
		if (p < 0) {
			perror("restarter idle: fork");
			kill(0, SIGKILL);
		}
	}
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGKILL);
	return 0;
}

/* The PID the server on PORT answers with; 0 when the connection fails. */
static long ask(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[32];
	ssize_t n;
	size_t len = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return 0;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return len && buf[len - 1] == '\n' ? atol(buf) : 0;
}

static long long cpu_ns(pid_t pid)
{
	char path[64];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int probe(int argc, char **argv)
{
	int port, count, i;
	bool hup;
	pid_t target = 0, cpu_pid = 0;
	long old, cur;
	long long c0 = -1, c1;
	double t0;
	struct timespec pause_ts = { 0, 100 * 1000 * 1000 };

	if (argc < 3)
		return usage();
	port = atoi(argv[0]);
	count = atoi(argv[1]);
	hup = strcmp(argv[2], "hup") == 0;
	i = 3;
	if (hup) {
		if (argc < 4)
			return usage();
		target = (pid_t)atol(argv[3]);
		i = 4;
	} else if (strcmp(argv[2], "term-server") != 0) {
		return usage();
	}
	if (i + 1 < argc && strcmp(argv[i], "--cpu") == 0)
		cpu_pid = (pid_t)atol(argv[i + 1]);
	for (i = 0; i < count; i++) {
		double deadline = now_ms() + 30000;

		while ((old = ask(port)) == 0)
			if (now_ms() > deadline)
				return 1;
		nanosleep(&pause_ts, NULL);
		if (cpu_pid && c0 < 0)
			c0 = cpu_ns(cpu_pid);
		t0 = now_ms();
		kill(hup ? target : (pid_t)old, hup ? SIGHUP : SIGTERM);
		/* A refused or failed connection is tried again at once. */
		while ((cur = ask(port)) == 0 || cur == old)
			if (now_ms() > deadline)
				return 1;
		printf("%.3f\n", now_ms() - t0);
		fflush(stdout);
	}
	if (cpu_pid && c0 >= 0 && (c1 = cpu_ns(cpu_pid)) >= 0)
		printf("cpu %.3f\n", (double)(c1 - c0) / 1e6 / count);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "serve") == 0)
		return serve();
	if (strcmp(argv[1], "hold") == 0 && argc >= 5 && strcmp(argv[3], "--") == 0)
		return hold(argv[2], argv + 4);
	if (strcmp(argv[1], "replace") == 0 && argc >= 6 && strcmp(argv[4], "--") == 0)
		return replace((pid_t)atol(argv[2]), argv[3], argv + 5);
	if (strcmp(argv[1], "idle") == 0 && argc == 3)
		return idle(atol(argv[2]));
	if (strcmp(argv[1], "probe") == 0)
		return probe(argc - 2, argv + 2);
	return usage();
}
