/*
 * check_events.c - the events socket (events.h): a listening SOCK_SEQPACKET
 * socket, connections counted per uid from SO_PEERCRED and refused past the
 * limits, one packet per notification, a full or gone subscriber
 * disconnected, connections kept out of select()'s range, connections
 * adopted after a re-exec, and what a subscriber may send.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "events.h"

static char tmpdir[64];
static char path[128];

static void setup(void)
{
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_events.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	(void)snprintf(path, sizeof(path), "%s/events.sock", tmpdir);
}

static void teardown(void)
{
	char cmd[128];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void open_events(struct events *ev)
{
	char err[256];

	*ev = (struct events){ .fd = -1 };
	(void)events_raise_nofile(ev);
	ck_assert_msg(events_open(ev, path, -1, err, sizeof(err)) == 0, "%s", err);
}

/* A subscriber: a connected SOCK_SEQPACKET socket. */
static int subscriber(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Accept everything waiting, however many batches that takes. */
static int accept_all(struct events *ev)
{
	int total = 0, r;

	while ((r = events_accept(ev)) > 0)
		total += r;
	ck_assert_int_ge(r, 0);
	return total;
}

/* One packet, or -1 / 0 (EOF). */
static ssize_t packet(int fd, char *buf, size_t size)
{
	ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);

	if (n >= 0)
		buf[n] = '\0';
	return n;
}

START_TEST(test_open_binds_a_listening_seqpacket_socket)
{
	struct events ev;
	struct stat st;
	int type = 0;
	socklen_t len = sizeof(type);

	open_events(&ev);
	ck_assert(!ev.activated);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0666);
	ck_assert_int_eq(getsockopt(ev.fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
	ck_assert_int_eq(type, SOCK_SEQPACKET);
	ck_assert(fcntl(ev.fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(ev.fd, F_GETFL) & O_NONBLOCK);
	ck_assert_int_eq(events_accept(&ev), 0);
	events_close(&ev, false);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_a_live_socket_is_not_taken)
{
	struct events ev, ev2 = { .fd = -1 };
	char err[256];

	open_events(&ev);
	ck_assert_int_eq(events_open(&ev2, path, -1, err, sizeof(err)), -EADDRINUSE);
	events_close(&ev, true);
	/* Kept (re-exec): the file stays, stale now, and a new daemon takes it. */
	ck_assert_int_eq(access(path, F_OK), 0);
	open_events(&ev);
	events_close(&ev, false);
}
END_TEST

START_TEST(test_at_most_16_per_uid)
{
	struct events ev;
	int fds[EVENTS_PER_UID + 1];
	char buf[256];

	open_events(&ev);
	for (int i = 0; i <= EVENTS_PER_UID; i++)
		fds[i] = subscriber();
	ck_assert_int_eq(accept_all(&ev), EVENTS_PER_UID);
	ck_assert_uint_eq(ev.n, EVENTS_PER_UID);
	ck_assert_uint_eq(events_count_uid(&ev, getuid()), EVENTS_PER_UID);
	ck_assert_uint_eq(ev.refused, 1);
	/* The one too many is told why, and closed. */
	ck_assert_int_gt(packet(fds[EVENTS_PER_UID], buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "error too many subscribers for uid"));
	ck_assert_int_eq(packet(fds[EVENTS_PER_UID], buf, sizeof(buf)), 0);
	/* A slot is free again as soon as a connection closes: no send needed to find out. */
	close(fds[0]);
	fds[0] = subscriber();
	ck_assert_int_eq(accept_all(&ev), 1);
	ck_assert_uint_eq(ev.n, EVENTS_PER_UID);
	for (int i = 0; i <= EVENTS_PER_UID; i++)
		close(fds[i]);
	events_close(&ev, false);
}
END_TEST

/* Send FDS over SOCK (SCM_RIGHTS, in batches). */
static void pass_fds(int sock, const int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} c;
		struct iovec iov = { .iov_base = "f", .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
		                     .msg_controllen = sizeof(c.buf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fds[i], sizeof(int));
		if (sendmsg(sock, &mh, 0) != 1)
			_exit(3);
	}
}

static int take_fd(int sock)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	char b;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
	                     .msg_controllen = sizeof(c.buf) };
	int fd;

	ck_assert_int_eq(recvmsg(sock, &mh, MSG_CMSG_CLOEXEC), 1);
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	return fd;
}

START_TEST(test_at_most_1024_in_all_and_above_select)
{
	enum { UIDS = EVENTS_MAX / EVENTS_PER_UID };
	struct events ev;
	struct rlimit rl = { .rlim_cur = 8192, .rlim_max = 8192 };
	static int fds[EVENTS_MAX + 1];
	int n = 0, extra, low;
	char buf[256];

	if (geteuid() != 0)
		return; /* needs other uids */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	open_events(&ev);
	ck_assert(ev.fd_floor);
	(void)chmod(tmpdir, 0755);
	/* 64 uids, 16 connections each, made in children that hand them to us. */
	for (int u = 0; u < UIDS; u++) {
		int sv[2], status;
		pid_t child;

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
		child = fork();
		ck_assert_int_ge(child, 0);
		if (child == 0) {
			int mine[EVENTS_PER_UID];

			if (setresuid(200000 + (uid_t)u, 200000 + (uid_t)u, 200000 + (uid_t)u) < 0)
				_exit(2);
			for (int i = 0; i < EVENTS_PER_UID; i++)
				mine[i] = subscriber();
			pass_fds(sv[1], mine, EVENTS_PER_UID);
			_exit(0);
		}
		for (int i = 0; i < EVENTS_PER_UID; i++)
			fds[n++] = take_fd(sv[0]);
		ck_assert_int_eq(waitpid(child, &status, 0), child);
		ck_assert_int_eq(status, 0);
		close(sv[0]);
		close(sv[1]);
		(void)accept_all(&ev);
	}
	ck_assert_uint_eq(ev.n, EVENTS_MAX);
	/* Every connection is above select()'s range; what the loop opens next is below it. */
	for (size_t i = 0; i < ev.n; i++)
		ck_assert_int_ge(ev.v[i].fd, FD_SETSIZE);
	low = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_lt(low, FD_SETSIZE);
	close(low);
	/* One more, from yet another uid: refused, the table is full. */
	extra = subscriber();
	ck_assert_int_eq(accept_all(&ev), 0);
	ck_assert_int_gt(packet(extra, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "error too many subscribers (at most 1024)"));
	close(extra);
	/* One of them leaves: its slot is found free without a send. */
	close(fds[5]);
	extra = subscriber();
	ck_assert_int_eq(accept_all(&ev), 1);
	ck_assert_uint_eq(ev.n, EVENTS_MAX);
	close(extra);
	for (int i = 0; i < n; i++)
		if (i != 5)
			close(fds[i]);
	events_close(&ev, false);
}
END_TEST

START_TEST(test_one_packet_each_and_gone_ones_dropped)
{
	struct events ev;
	int a, b, gone;
	char buf[256];

	open_events(&ev);
	a = subscriber();
	b = subscriber();
	gone = subscriber();
	ck_assert_int_eq(accept_all(&ev), 3);
	{
		/* A small send buffer each: what subscribers that never read can pin. */
		int size = 0;
		socklen_t len = sizeof(size);

		ck_assert_int_eq(getsockopt(ev.v[0].fd, SOL_SOCKET, SO_SNDBUF, &size, &len), 0);
		ck_assert_int_le(size, 64 * 1024);
	}
	close(gone);
	ck_assert_uint_eq(events_send(&ev, "updated hello 1.4.2", 19), 2);
	ck_assert_uint_eq(events_send(&ev, "checked ok done", 15), 2);
	ck_assert_uint_eq(ev.n, 2);
	ck_assert_uint_eq(ev.dropped, 1);
	for (int k = 0; k < 2; k++) {
		int fd = k ? b : a;

		ck_assert_int_eq(packet(fd, buf, sizeof(buf)), 19);
		ck_assert_str_eq(buf, "updated hello 1.4.2");
		ck_assert_int_eq(packet(fd, buf, sizeof(buf)), 15);
		ck_assert_str_eq(buf, "checked ok done");
		ck_assert_int_eq(packet(fd, buf, sizeof(buf)), -1);
	}
	close(a);
	close(b);
	events_close(&ev, false);
}
END_TEST

START_TEST(test_a_full_subscriber_is_disconnected)
{
	struct events ev;
	char note[1024], buf[2048];
	int slow, fast, got = 0;
	ssize_t n;

	open_events(&ev);
	slow = subscriber();
	fast = subscriber();
	ck_assert_int_eq(accept_all(&ev), 2);
	memset(note, 'n', sizeof(note));
	for (int i = 0; i < 10000 && ev.n == 2; i++) {
		ck_assert_uint_ge(events_send(&ev, note, sizeof(note)), 1);
		while (packet(fast, buf, sizeof(buf)) > 0)
			;
	}
	/* The one that did not read is gone; the other stays. */
	ck_assert_uint_eq(ev.n, 1);
	ck_assert_uint_eq(events_send(&ev, "checked ok x", 12), 1);
	ck_assert_int_eq(packet(fast, buf, sizeof(buf)), 12);
	/* It reads what was queued, then the end: it knows it missed something. */
	while ((n = packet(slow, buf, sizeof(buf))) > 0)
		got++;
	ck_assert_int_gt(got, 0);
	ck_assert_int_eq(n, 0);
	close(slow);
	close(fast);
	events_close(&ev, false);
}
END_TEST

static int released;

static int grant_hello(void *ctx, const struct events_conn *c, const char *target, char *err, size_t size)
{
	(void)ctx;
	(void)c;
	if (strcmp(target, "hello") == 0)
		return 0;
	(void)snprintf(err, size, "no target named '%s'", target);
	return -ENOENT;
}

static void count_release(void *ctx, const struct events_conn *c)
{
	(void)ctx;
	ck_assert(c->inhibits);
	released++;
}

START_TEST(test_reap_and_subscriber_packets)
{
	struct events ev;
	int a, b;
	char buf[256];
	const char *why;
	int64_t since;

	open_events(&ev);
	a = subscriber();
	b = subscriber();
	ck_assert_int_eq(accept_all(&ev), 2);
	ck_assert_uint_eq(events_reap(&ev), 0);
	/* What a subscriber sends is read and answered, never acted on blindly. */
	ck_assert_int_eq(send(a, "hello", 5, 0), 5);
	ck_assert_uint_eq(events_reap(&ev), 0);
	ck_assert_int_gt(packet(a, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "error unknown request");
	/* Without an owner's decision, no inhibitor is granted. */
	ck_assert_int_eq(send(a, "inhibit hello", 13, 0), 13);
	ck_assert_uint_eq(events_reap(&ev), 0);
	ck_assert_int_gt(packet(a, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "error "));
	ck_assert_uint_eq(events_inhibitors(&ev, "hello", &since, &why), 0);
	/* The owner decides; the inhibitor lasts as long as the connection. */
	ev.on_inhibit = grant_hello;
	ev.on_release = count_release;
	released = 0;
	ck_assert_int_eq(send(b, "inhibit other", 13, 0), 13);
	ck_assert_int_eq(send(a, "inhibit hello backup of /srv", 28, 0), 28);
	ck_assert_uint_eq(events_reap(&ev), 0);
	ck_assert_int_gt(packet(b, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "error no target named 'other'");
	ck_assert_int_gt(packet(a, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "ok");
	ck_assert_uint_eq(events_inhibitors(&ev, "hello", &since, &why), 1);
	ck_assert_str_eq(why, "backup of /srv");
	ck_assert_int_gt(since, 0);
	ck_assert_uint_eq(events_inhibitors(&ev, "other", &since, &why), 0);
	ck_assert_int_eq(send(a, "inhibit hello", 13, 0), 13);
	ck_assert_uint_eq(events_reap(&ev), 0);
	ck_assert_int_gt(packet(a, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "error this connection holds an inhibitor already");
	/* The watch descriptor is readable while a connection has something to say. */
	ck_assert_int_ge(events_watch_fd(&ev), 0);
	close(b);
	ck_assert_uint_eq(events_reap(&ev), 1);
	ck_assert_uint_eq(ev.n, 1);
	ck_assert_int_eq(released, 0);
	close(a);
	ck_assert_uint_eq(events_reap(&ev), 1);
	ck_assert_int_eq(released, 1);
	ck_assert_uint_eq(events_inhibitors(&ev, "hello", &since, &why), 0);
	events_close(&ev, false);
}
END_TEST

START_TEST(test_adopt_takes_only_seqpacket_connections)
{
	struct events ev;
	int sv[2], dg[2];
	char buf[64];

	open_events(&ev);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg), 0);
	ck_assert_int_eq(events_adopt(&ev, sv[0]), 0);
	ck_assert_int_eq(events_adopt(&ev, dg[0]), -ENOTSOCK);
	ck_assert_int_eq(fcntl(dg[0], F_GETFD), -1); /* closed */
	ck_assert_uint_eq(ev.n, 1);
	ck_assert_uint_eq(ev.v[0].uid, getuid());
	if (ev.fd_floor)
		ck_assert_int_ge(ev.v[0].fd, EVENTS_FD_FLOOR);
	ck_assert_uint_eq(events_send(&ev, "healthy hello 2", 15), 1);
	ck_assert_int_eq(packet(sv[1], buf, sizeof(buf)), 15);
	close(sv[1]);
	close(dg[1]);
	events_close(&ev, false);
}
END_TEST

START_TEST(test_parse_subscriber_packets)
{
	struct events_request req;
	char err[128];
	uint8_t big[UPDATER_PROTO_REQUEST_MAX + 1];

	ck_assert_int_eq(events_parse((const uint8_t *)"", 0, false, &req, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "empty request");
	ck_assert_int_eq(events_parse((const uint8_t *)"\n", 1, false, &req, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(events_parse((const uint8_t *)"a\x01", 2, false, &req, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "malformed request (not printable ASCII)");
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(events_parse(big, sizeof(big), false, &req, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	ck_assert_int_eq(events_parse(big, 10, true, &req, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(events_parse((const uint8_t *)"status\n", 7, false, &req, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown request");
	ck_assert_int_eq(events_parse((const uint8_t *)"inhibit hello\n", 14, false, &req, err, sizeof(err)), 0);
	ck_assert_int_eq(req.kind, EVENTS_REQ_INHIBIT);
	ck_assert_str_eq(req.target, "hello");
	ck_assert_str_eq(req.why, "");
	ck_assert_int_eq(events_parse((const uint8_t *)"inhibit * db dump", 17, false, &req, err, sizeof(err)), 0);
	ck_assert_str_eq(req.target, "");
	ck_assert_str_eq(req.why, "db dump");
	ck_assert_int_eq(events_parse((const uint8_t *)"inhibit", 7, false, &req, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(events_parse((const uint8_t *)"inhibit a/b", 11, false, &req, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "invalid target name");
	ck_assert_int_eq(events_parse((const uint8_t *)"inhibit  x", 10, false, &req, err, sizeof(err)), -EINVAL);
}
END_TEST

static Suite *events_suite(void)
{
	Suite *s = suite_create("events");
	TCase *sock = tcase_create("socket");
	TCase *limits = tcase_create("limits");
	TCase *send_tc = tcase_create("send");
	TCase *parse_tc = tcase_create("parse");

	tcase_add_checked_fixture(sock, setup, teardown);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_checked_fixture(send_tc, setup, teardown);
	tcase_set_timeout(limits, 60);
	tcase_add_test(sock, test_open_binds_a_listening_seqpacket_socket);
	tcase_add_test(sock, test_a_live_socket_is_not_taken);
	tcase_add_test(sock, test_adopt_takes_only_seqpacket_connections);
	suite_add_tcase(s, sock);
	tcase_add_test(limits, test_at_most_16_per_uid);
	tcase_add_test(limits, test_at_most_1024_in_all_and_above_select);
	suite_add_tcase(s, limits);
	tcase_add_test(send_tc, test_one_packet_each_and_gone_ones_dropped);
	tcase_add_test(send_tc, test_a_full_subscriber_is_disconnected);
	tcase_add_test(send_tc, test_reap_and_subscriber_packets);
	suite_add_tcase(s, send_tc);
	tcase_add_test(parse_tc, test_parse_subscriber_packets);
	suite_add_tcase(s, parse_tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(events_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
