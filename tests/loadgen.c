/*
 * loadgen - connect to hello-server instances in a loop and account for every
 * connection: answered (by which version and PID), refused, reset, timed out.
 * Used by tests/integration/zero-downtime.sh and bench/zero-downtime.sh.
 *
 *   loadgen --once PORT
 *	one connection; prints the answer line; exit 0, or 1 when it failed
 *   loadgen [--clients N] [--interval-ms MS] [--duration SEC] PORT...
 *	N connections in flight per port until SIGTERM/SIGINT or SEC; then a
 *	summary (below)
 *   loadgen --new VERSION (--rename SRC DST | --run CMD) [--timeout SEC] ... PORT...
 *	bench: once every port has answered, at t0 rename SRC over DST (or run
 *	`sh -c CMD`, not waited for), then run until every port answered
 *	VERSION; prints per port the latency from t0 to its first answer of
 *	VERSION and the gap between its last older answer and that one
 *
 * Summary, key=value lines on stdout:
 *   connections ok refused reset timeout other bad   counts (bad: an answer
 *	that is not "hello VERSION pid PID")
 *   regressions   answers older than one the same client had already seen
 *   versions      distinct versions, in order of first appearance
 *   pids          distinct PIDs
 * Exit 0 when every connection was answered and none regressed, else 1.
 *
 * One thread, non-blocking sockets in epoll. A client closes with SO_LINGER 0
 * once it has the whole answer, so no TIME_WAIT piles up over 100k
 * connections.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONN_TIMEOUT_MS 5000
#define MAX_VERSIONS 256
#define MAX_PIDS 4096

enum cstate { C_IDLE, C_CONNECTING, C_READING };

struct client {
	int port_index;
	int fd;
	enum cstate state;
	int64_t started;   /* ms: connect() */
	int64_t next;      /* ms: when an idle client connects again */
	char best[64];     /* newest version this client has seen */
	char buf[256];
	size_t len;
};

struct port {
	int port;
	bool answered;
};

static struct {
	uint64_t connections, ok, refused, reset, timeout, other, bad, regressions;
	char versions[MAX_VERSIONS][64];
	int n_versions;
	long pids[MAX_PIDS];
	int n_pids;
} stats;

static volatile sig_atomic_t stop;
static int epfd;
static struct port *ports;
static int n_ports;
static struct client *clients;
static int n_clients;
static int interval_ms;
static const char *new_version;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_ms_f(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void note_version(const char *v)
{
	for (int i = 0; i < stats.n_versions; i++)
		if (strcmp(stats.versions[i], v) == 0)
			return;
	if (stats.n_versions < MAX_VERSIONS)
		snprintf(stats.versions[stats.n_versions++], sizeof(stats.versions[0]), "%s", v);
}

static void note_pid(long pid)
{
	for (int i = 0; i < stats.n_pids; i++)
		if (stats.pids[i] == pid)
			return;
	if (stats.n_pids < MAX_PIDS)
		stats.pids[stats.n_pids++] = pid;
}

/* Bench timings in fractional ms, kept apart from the integer loop clock. */
static double *first_new_f, *last_old_f;

static void finish(struct client *c, int err)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (err == 0) {
		char version[64];
		long pid;
		struct port *p = &ports[c->port_index];

		c->buf[c->len] = '\0';
		if (sscanf(c->buf, "hello %63s pid %ld", version, &pid) != 2) {
			stats.bad++;
		} else {
			double t = now_ms_f();

			stats.ok++;
			note_version(version);
			note_pid(pid);
			if (c->best[0] && strverscmp(version, c->best) < 0)
				stats.regressions++;
			else
				snprintf(c->best, sizeof(c->best), "%s", version);
			p->answered = true;
			if (new_version) {
				if (strcmp(version, new_version) == 0) {
					if (first_new_f[c->port_index] < 0)
						first_new_f[c->port_index] = t;
				} else {
					last_old_f[c->port_index] = t;
				}
			}
		}
		/* The answer is whole: an abortive close leaves no TIME_WAIT. */
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	} else if (err == ECONNREFUSED) {
		stats.refused++;
	} else if (err == ECONNRESET || err == EPIPE) {
		stats.reset++;
	} else if (err == ETIMEDOUT) {
		stats.timeout++;
	} else {
		stats.other++;
	}
	if (c->fd >= 0)
		(void)close(c->fd);
	c->fd = -1;
	c->state = C_IDLE;
	c->next = now_ms() + interval_ms;
}

static void start(struct client *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ports[c->port_index].port) };
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	stats.connections++;
	c->len = 0;
	c->started = now_ms();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		finish(c, errno);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		finish(c, errno);
		return;
	}
	c->state = C_CONNECTING;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		finish(c, errno);
}

static void on_event(struct client *c)
{
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		(void)getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			finish(c, err);
			return;
		}
		c->state = C_READING;
		(void)epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	}
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

		if (n > 0) {
			c->len += (size_t)n;
			if (c->len == sizeof(c->buf) - 1) {
				stats.bad++;
				finish(c, EMSGSIZE);
				stats.other--;
				return;
			}
			continue;
		}
		if (n == 0) {
			finish(c, 0);
			return;
		}
		if (errno == EAGAIN)
			return;
		finish(c, errno);
		return;
	}
}

static int once(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[256];
	size_t len = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 5 };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "loadgen: 127.0.0.1:%d: %s\n", port, strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0) {
			fprintf(stderr, "loadgen: 127.0.0.1:%d: %s\n", port, strerror(errno));
			return 1;
		}
		if (n == 0 || (len += (size_t)n) == sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	fputs(buf, stdout);
	return len > 0 && buf[len - 1] == '\n' ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen --once PORT\n"
			"       loadgen [--clients N] [--interval-ms MS] [--duration SEC]\n"
			"               [--new VERSION (--rename SRC DST | --run CMD) [--timeout SEC]] PORT...\n");
	exit(2);
}

static void print_summary(void)
{
	printf("connections=%llu\nok=%llu\nrefused=%llu\nreset=%llu\ntimeout=%llu\nother=%llu\nbad=%llu\n"
	       "regressions=%llu\n",
	       (unsigned long long)stats.connections, (unsigned long long)stats.ok,
	       (unsigned long long)stats.refused, (unsigned long long)stats.reset,
	       (unsigned long long)stats.timeout, (unsigned long long)stats.other, (unsigned long long)stats.bad,
	       (unsigned long long)stats.regressions);
	printf("versions=");
	for (int i = 0; i < stats.n_versions; i++)
		printf("%s%s", i ? "," : "", stats.versions[i]);
	printf("\npids=");
	for (int i = 0; i < stats.n_pids; i++)
		printf("%s%ld", i ? "," : "", stats.pids[i]);
	printf("\n");
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "once", required_argument, NULL, 'o' },
		{ "clients", required_argument, NULL, 'c' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "new", required_argument, NULL, 'n' },
		{ "rename", required_argument, NULL, 'r' },
		{ "run", required_argument, NULL, 'R' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rename_src = NULL, *rename_dst = NULL, *run_cmd = NULL;
	int per_port = 1, c;
	double duration = 0, timeout = 30;
	int64_t begin, end = -1, t0 = -1;
	double t0f = 0;
	pid_t run_pid = -1;
	bool failed;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			return once(atoi(optarg));
		case 'c':
			per_port = atoi(optarg);
			break;
		case 'i':
			interval_ms = atoi(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 'n':
			new_version = optarg;
			break;
		case 'r':
			rename_src = optarg;
			if (optind >= argc)
				usage();
			rename_dst = argv[optind++];
			break;
		case 'R':
			run_cmd = optarg;
			break;
		case 't':
			timeout = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || per_port < 1 || (new_version && !rename_src && !run_cmd))
		usage();
	n_ports = argc - optind;
	ports = calloc((size_t)n_ports, sizeof(*ports));
	first_new_f = calloc((size_t)n_ports, sizeof(double));
	last_old_f = calloc((size_t)n_ports, sizeof(double));
	n_clients = n_ports * per_port;
	clients = calloc((size_t)n_clients, sizeof(*clients));
	if (!ports || !clients || !first_new_f || !last_old_f)
		return 2;
	for (int i = 0; i < n_ports; i++) {
		ports[i].port = atoi(argv[optind + i]);
		first_new_f[i] = -1;
		last_old_f[i] = -1;
	}
	for (int i = 0; i < n_clients; i++) {
		clients[i].port_index = i % n_ports;
		clients[i].fd = -1;
	}

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return 2;
	begin = now_ms();
	if (duration > 0)
		end = begin + (int64_t)(duration * 1000);

	while (!stop) {
		struct epoll_event evs[256];
		int64_t now = now_ms(), wait = 50;
		int n;

		if (end >= 0 && now >= end)
			break;
		if (new_version) {
			bool all_up = true, all_new = true;

			for (int i = 0; i < n_ports; i++) {
				all_up &= ports[i].answered;
				all_new &= first_new_f[i] >= 0;
			}
			if (t0 < 0 && all_up) {
				/* Every instance answers: now the update. */
				t0 = now;
				t0f = now_ms_f();
				if (rename_src) {
					if (rename(rename_src, rename_dst) < 0) {
						perror("loadgen: rename");
						return 2;
					}
				} else {
					run_pid = fork();
					if (run_pid == 0) {
						execl("/bin/sh", "sh", "-c", run_cmd, (char *)NULL);
						_exit(127);
					}
				}
			}
			if (t0 >= 0 && all_new)
				break;
			if (t0 >= 0 && now - t0 > (int64_t)(timeout * 1000)) {
				fprintf(stderr, "loadgen: not every instance answered %s within %g s\n", new_version, timeout);
				break;
			}
			if (t0 < 0 && now - begin > (int64_t)(timeout * 1000)) {
				fprintf(stderr, "loadgen: not every instance answered within %g s\n", timeout);
				return 2;
			}
		}
		for (int i = 0; i < n_clients; i++) {
			struct client *cl = &clients[i];

			if (cl->state == C_IDLE && now >= cl->next)
				start(cl);
			else if (cl->state != C_IDLE && now - cl->started > CONN_TIMEOUT_MS)
				finish(cl, ETIMEDOUT);
			if (cl->state == C_IDLE && cl->next - now < wait)
				wait = cl->next - now;
		}
		if (wait < 0)
			wait = 0;
		n = epoll_wait(epfd, evs, 256, (int)wait);
		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr);
	}
	for (int i = 0; i < n_clients; i++)
		if (clients[i].fd >= 0)
			(void)close(clients[i].fd);
	if (run_pid > 0)
		(void)waitpid(run_pid, NULL, 0);

	print_summary();
	failed = stats.refused || stats.reset || stats.timeout || stats.other || stats.bad || stats.regressions;
	if (new_version) {
		for (int i = 0; i < n_ports; i++) {
			double lat = first_new_f[i] >= 0 ? first_new_f[i] - t0f : -1;
			double gap = first_new_f[i] >= 0 && last_old_f[i] >= 0 ? first_new_f[i] - last_old_f[i] : -1;

			printf("port=%d latency_ms=%.3f gap_ms=%.3f\n", ports[i].port, lat, gap);
			failed |= lat < 0;
		}
	}
	return failed ? 1 : 0;
}
