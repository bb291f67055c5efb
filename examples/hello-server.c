/*
 * hello-server - a TCP server that updates itself without refusing a
 * connection: an example of libupdater.
 *
 *   hello-server [--port N] [--address A] [--port-file FILE] [--version]
 *
 * Each connection is answered with "hello VERSION pid PID\n" and closed.
 * VERSION is fixed at build time (-DHELLO_VERSION='"1.2"').
 *
 * The listening socket is made once and kept across re-executions: the new
 * image takes it over with updater_inherited_fd(), so connections that
 * arrive while it starts wait in the socket's backlog instead of being
 * refused. The re-exec happens between connections, when the watch
 * descriptor says the executable was replaced.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <updater.h>

#ifndef HELLO_VERSION
#define HELLO_VERSION "0"
#endif

static void usage(FILE *f)
{
	fprintf(f, "usage: hello-server [--port N] [--address A] [--port-file FILE] [--version]\n");
}

static int listen_tcp(const char *address, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd;

	if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
		fprintf(stderr, "hello-server: bad address '%s'\n", address);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A deep backlog holds the connections that arrive during a re-exec. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		fprintf(stderr, "hello-server: %s:%d: %s\n", address, port, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

static int write_port_file(const char *file, int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char tmp[4096];
	FILE *f;

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	/* Written whole, then renamed: a reader never sees half a number. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "we");
	if (!f)
		return -1;
	fprintf(f, "%d\n", ntohs(sa.sin_port));
	if (fclose(f) != 0 || rename(tmp, file) < 0)
		return -1;
	return 0;
}

/* Answer one connection; the client sends nothing we need. */
static void answer(int conn)
{
	char line[128], junk[512];
	int n = snprintf(line, sizeof(line), "hello %s pid %ld\n", HELLO_VERSION, (long)getpid());

	(void)!write(conn, line, (size_t)n);
	(void)shutdown(conn, SHUT_WR);
	/* Unread input would turn close() into a reset: drain what came. */
	while (recv(conn, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	(void)close(conn);
}

/*
 * Answer what waits in the backlog, at most a batch at a time so that under
 * a flood the loop still gets to look at the watch descriptor.
 */
static void serve_backlog(int lfd)
{
	for (int i = 0; i < 16; i++) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0)
			return; /* EAGAIN: the backlog is empty */
		answer(conn);
	}
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "address", required_argument, NULL, 'a' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *address = "127.0.0.1", *port_file = NULL;
	int port = 8080, c, lfd, wfd, r;
	bool inherited;

	r = updater_init(argc, argv);
	if (r < 0)
		fprintf(stderr, "hello-server: updater_init: %s\n", strerror(-r));

	while ((c = getopt_long(argc, argv, "p:a:f:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			port = atoi(optarg);
			if (port < 0 || port > 65535) {
				usage(stderr);
				return 2;
			}
			break;
		case 'a':
			address = optarg;
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'V':
			printf("hello-server %s\n", HELLO_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* A client that goes away must not kill the server. */
	signal(SIGPIPE, SIG_IGN);

	lfd = updater_inherited_fd("http");
	inherited = lfd >= 0;
	if (!inherited) {
		lfd = listen_tcp(address, port);
		if (lfd < 0)
			return 1;
		if (port_file && write_port_file(port_file, lfd) < 0) {
			fprintf(stderr, "hello-server: '%s': %s\n", port_file, strerror(errno));
			return 1;
		}
	}
	(void)fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	r = updater_keep_fd(lfd, "http");
	if (r < 0)
		fprintf(stderr, "hello-server: updater_keep_fd: %s\n", strerror(-r));

	wfd = updater_watch_fd();
	if (wfd < 0)
		fprintf(stderr, "hello-server: no update watch: %s\n", strerror(-wfd));
	fprintf(stderr, "hello-server %s: pid %ld, %s socket\n", HELLO_VERSION, (long)getpid(),
		inherited ? "inherited" : "new");

	for (;;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = wfd, .events = POLLIN } };

		if (poll(p, wfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "hello-server: poll: %s\n", strerror(errno));
			return 1;
		}
		/*
		 * Here no connection is half served: a safe point to re-exec. The
		 * watch comes first, so an update does not wait behind a batch:
		 * what waits in the backlog is answered by the new version.
		 */
		if (wfd >= 0 && p[1].revents && updater_watch_handle() == 1) {
			fprintf(stderr, "hello-server %s: the executable was replaced, re-executing\n", HELLO_VERSION);
			r = updater_reexec();
			fprintf(stderr, "hello-server %s: re-exec failed, running on: %s\n", HELLO_VERSION, strerror(-r));
		}
		if (p[0].revents)
			serve_backlog(lfd);
	}
}
