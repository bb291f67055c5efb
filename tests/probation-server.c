/*
 * probation-server - a TCP server for the probation tests, built in several
 * versions (-DSERVER_VERSION) and one broken build (-DSERVER_BROKEN) that
 * exits 1 at start, before it ever calls updater_init(), and one
 * (-DSERVER_NO_READY) that serves but never sends READY=1.
 *
 *   probation-server --port N [--reexec]
 *   probation-server --fd            (the socket is fd 3, as LISTEN_FDS gives it)
 *
 * Each connection is answered with "hello VERSION pid PID\n" and closed.
 * With --reexec it follows its own file like hello-server: when the file is
 * replaced it calls updater_reexec() between connections, keeping the
 * socket; when that fails (the new file cannot start), it says so on stderr
 * and serves on. Without --reexec it runs its image until it is stopped.
 * With --notify (under updater-run --notify) it sends READY=1 once serving,
 * after SERVER_DELAY seconds (environment, default 0) of "loading".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <updater.h>

#ifndef SERVER_VERSION
#define SERVER_VERSION "0"
#endif

static int listen_port(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		fprintf(stderr, "probation-server %s: port %d: %s\n", SERVER_VERSION, port, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* sd_notify's READY=1, by hand: the test program needs no libsystemd. */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa,
	             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
	(void)close(fd);
}

static void answer(int conn)
{
	char line[128], junk[512];
	int n = snprintf(line, sizeof(line), "hello %s pid %ld\n", SERVER_VERSION, (long)getpid());

	(void)!write(conn, line, (size_t)n);
	(void)shutdown(conn, SHUT_WR);
	while (recv(conn, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	(void)close(conn);
}

int main(int argc, char *argv[])
{
	bool reexec = false, from_fd = false, notify = false;
	int port = -1, lfd, wfd = -1, r;
	const char *delay = getenv("SERVER_DELAY");

#ifdef SERVER_BROKEN
	/* A build that cannot start: it fails before the library ever runs. */
	fprintf(stderr, "probation-server %s: broken build, exiting\n", SERVER_VERSION);
	return 1;
#endif
	r = updater_init(argc, argv);
	if (r < 0)
		fprintf(stderr, "probation-server %s: updater_init: %s\n", SERVER_VERSION, strerror(-r));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--reexec") == 0)
			reexec = true;
		else if (strcmp(argv[i], "--fd") == 0)
			from_fd = true;
		else if (strcmp(argv[i], "--notify") == 0)
			notify = true;
		else if (strcmp(argv[i], "--version") == 0) {
			printf("probation-server %s\n", SERVER_VERSION);
			return 0;
		} else {
			fprintf(stderr, "usage: probation-server --port N [--reexec] | --fd [--notify]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (delay && atof(delay) > 0) {
		double d = atof(delay);
		struct timespec ts = { .tv_sec = (time_t)d, .tv_nsec = (long)((d - (double)(time_t)d) * 1e9) };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	lfd = updater_inherited_fd("tcp");
	if (lfd < 0)
		lfd = from_fd ? 3 : listen_port(port);
	if (lfd < 0)
		return 1;
	(void)fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	if (reexec) {
		(void)updater_keep_fd(lfd, "tcp");
		wfd = updater_watch_fd();
	}
	fprintf(stderr, "probation-server %s: pid %ld serving\n", SERVER_VERSION, (long)getpid());
#ifndef SERVER_NO_READY
	if (notify)
		notify_ready();
#else
	(void)notify; /* a build that serves but never says so */
	(void)notify_ready;
#endif
	for (;;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = wfd, .events = POLLIN } };

		if (poll(p, wfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (wfd >= 0 && p[1].revents && updater_watch_handle() == 1) {
			r = updater_reexec();
			fprintf(stderr, "probation-server %s: re-exec failed, serving on: %s\n", SERVER_VERSION,
			        strerror(-r));
		}
		for (int i = 0; i < 16; i++) {
			int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (conn < 0)
				break;
			answer(conn);
		}
	}
}
