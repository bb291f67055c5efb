/*
 * check_control.c - the control socket: request classification, reply
 * formatting, the socket itself (bind, its directory, stale socket,
 * credentials, truncation, replies through a reply socket of their own,
 * only to abstract addresses, our own datagrams dropped), and the signal
 * to processes running an old image. The subscribers are check_events.c's.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "notify.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_control.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[128];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static int parse(const char *text, size_t len, struct control_request *req, char *err)
{
	return control_parse((const uint8_t *)text, len, false, req, err, 128);
}

static int parse_str(const char *text, struct control_request *req, char *err)
{
	return parse(text, strlen(text), req, err);
}

START_TEST(test_any_single_byte_is_a_check)
{
	struct control_request req;
	char err[128];

	for (int c = 0; c < 256; c++) {
		uint8_t b = (uint8_t)c;

		req.command = CONTROL_STATUS;
		ck_assert_int_eq(control_parse(&b, 1, false, &req, err, sizeof(err)), 0);
		ck_assert_int_eq(req.command, CONTROL_CHECK);
	}
}
END_TEST

START_TEST(test_known_words)
{
	struct control_request req;
	char err[128];

	ck_assert_int_eq(parse_str("check", &req, err), 0);
	ck_assert_int_eq(req.command, CONTROL_CHECK);
	ck_assert_int_eq(parse_str("check\n", &req, err), 0);
	ck_assert_int_eq(req.command, CONTROL_CHECK);
	ck_assert_int_eq(parse_str("status", &req, err), 0);
	ck_assert_int_eq(req.command, CONTROL_STATUS);
	ck_assert_int_eq(parse_str("status\n", &req, err), 0);
	ck_assert_int_eq(req.command, CONTROL_STATUS);
	ck_assert_int_eq(parse_str("subscribe", &req, err), 0);
	ck_assert_int_eq(req.command, CONTROL_SUBSCRIBE);
	ck_assert_int_eq(parse_str("unsubscribe", &req, err), 0);
	ck_assert_int_eq(req.command, CONTROL_UNSUBSCRIBE);
	ck_assert_int_eq(parse_str("rollback hello-1.x_Y", &req, err), 0);
	ck_assert_int_eq(req.command, CONTROL_ROLLBACK);
	ck_assert_str_eq(req.target, "hello-1.x_Y");
}
END_TEST

START_TEST(test_rollback_target_is_validated)
{
	struct control_request req;
	char err[128], name[80];

	ck_assert_int_eq(parse_str("rollback", &req, err), -EINVAL);
	ck_assert_str_eq(err, "rollback needs a target name");
	ck_assert_int_eq(parse_str("rollback ", &req, err), -EINVAL);
	ck_assert_str_eq(err, "rollback needs a target name");
	ck_assert_int_eq(parse_str("rollback a/b", &req, err), -EINVAL);
	ck_assert_str_eq(err, "invalid target name");
	ck_assert_int_eq(parse_str("rollback  a", &req, err), -EINVAL);
	ck_assert_int_eq(parse_str("rollback a b", &req, err), -EINVAL);
	ck_assert_int_eq(parse_str("rollbackx", &req, err), -EINVAL);
	ck_assert_str_eq(err, "unknown request");
	memset(name, 'a', sizeof(name));
	memcpy(name, "rollback ", 9);
	name[9 + 64] = '\0';
	ck_assert_int_eq(parse_str(name, &req, err), 0);
	ck_assert_uint_eq(strlen(req.target), 64);
	name[9 + 64] = 'a';
	name[9 + 65] = '\0';
	ck_assert_int_eq(parse_str(name, &req, err), -EINVAL);
	ck_assert_str_eq(err, "invalid target name");
}
END_TEST

START_TEST(test_seed_takes_a_target_and_a_version)
{
	struct control_request req;
	char err[128];

	ck_assert_int_eq(parse_str("seed hello 1:2.0~rc1+deb12u1-3", &req, err), 0);
	ck_assert_int_eq(req.command, CONTROL_SEED);
	ck_assert_str_eq(req.target, "hello");
	ck_assert_str_eq(req.version, "1:2.0~rc1+deb12u1-3");
	ck_assert_int_eq(parse_str("seed hello 2.0\n", &req, err), 0);
	ck_assert_str_eq(req.version, "2.0");
	ck_assert_int_eq(parse_str("seed hello", &req, err), -EINVAL);
	ck_assert_str_eq(err, "seed needs a target name and a version");
	ck_assert_int_eq(parse_str("seed  2.0", &req, err), -EINVAL);
	ck_assert_str_eq(err, "seed needs a target name and a version");
	ck_assert_int_eq(parse_str("seed a/b 2.0", &req, err), -EINVAL);
	ck_assert_str_eq(err, "invalid target name");
	ck_assert_int_eq(parse_str("seed hello 2.0 extra", &req, err), -EINVAL);
	ck_assert_str_eq(err, "invalid version");
	ck_assert_int_eq(parse_str("seed hello 2.0;rm", &req, err), -EINVAL);
	ck_assert_str_eq(err, "invalid version");
	ck_assert_int_eq(parse_str("seed", &req, err), -EINVAL);
	ck_assert_str_eq(err, "unknown request");
}
END_TEST

START_TEST(test_malformed_requests_are_rejected)
{
	struct control_request req;
	char err[128];
	uint8_t big[CONTROL_REQUEST_MAX];

	ck_assert_int_eq(parse("", 0, &req, err), -EINVAL);
	ck_assert_str_eq(err, "empty request");
	ck_assert_int_eq(parse_str("CHECK", &req, err), -EINVAL);
	ck_assert_str_eq(err, "unknown request");
	ck_assert_int_eq(parse_str("check now", &req, err), -EINVAL);
	ck_assert_int_eq(parse_str("status\n\n", &req, err), -EINVAL);
	ck_assert_int_eq(parse("\x01\x02\x03\xff", 4, &req, err), -EINVAL);
	ck_assert_str_eq(err, "malformed request (not printable ASCII)");
	ck_assert_int_eq(parse("check\0", 6, &req, err), -EINVAL);
	ck_assert_int_eq(parse("\n\n", 2, &req, err), -EINVAL);
	/* Over 256 bytes: the receiver saw MSG_TRUNC. */
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(control_parse(big, sizeof(big), true, &req, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "request too long (over 256 bytes)");
	ck_assert_int_eq(control_parse((const uint8_t *)"check", 5, true, &req, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(test_check_replies)
{
	char buf[32];

	control_format_check(SCHEDULE_QUEUED, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "queued");
	control_format_check(SCHEDULE_RUNNING, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "running");
	control_format_check(SCHEDULE_DEFERRED, 1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "deferred 1");
	control_format_check(SCHEDULE_DEFERRED, 1000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "deferred 1");
	control_format_check(SCHEDULE_DEFERRED, 1001, buf, sizeof(buf));
	ck_assert_str_eq(buf, "deferred 2");
	control_format_check(SCHEDULE_DEFERRED, 59999, buf, sizeof(buf));
	ck_assert_str_eq(buf, "deferred 60");
	control_format_check(SCHEDULE_DEFERRED, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "deferred 1");
}
END_TEST

START_TEST(test_sanitize_keeps_printable_ascii)
{
	char buf[16];

	control_sanitize("ok 1.2\n\x01\xc3\xa9", buf, sizeof(buf));
	ck_assert_str_eq(buf, "ok 1.2????");
	control_sanitize("0123456789abcdefghij", buf, sizeof(buf));
	ck_assert_str_eq(buf, "0123456789abcde");
}
END_TEST

/* A client socket bound to an abstract autobind address, like the tests' dgram.py. */
static int client_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)), 0);
	return fd;
}

static void send_to(int fd, const char *path, const void *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len);
}

static size_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

START_TEST(test_socket_bind_mode_and_parent)
{
	struct control_socket cs;
	char path[128], err[256];
	struct stat st;

	make_tmpdir();
	(void)snprintf(path, sizeof(path), "%s/run/control.sock", tmpdir);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), 0);
	ck_assert(!cs.activated);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0666);
	(void)snprintf(path, sizeof(path), "%s/run", tmpdir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	ck_assert(fcntl(cs.fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(cs.fd, F_GETFL) & O_NONBLOCK);
	control_close(&cs, false);
	(void)snprintf(path, sizeof(path), "%s/run/control.sock", tmpdir);
	ck_assert_int_eq(access(path, F_OK), -1);
	remove_tmpdir();
}
END_TEST

START_TEST(test_socket_stale_replaced_live_refused)
{
	struct control_socket cs, cs2;
	char path[128], err[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	make_tmpdir();
	(void)snprintf(path, sizeof(path), "%s/control.sock", tmpdir);
	/* A stale socket: bound, then its owner went away. */
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), 0);
	/* Now someone answers there: not taken. */
	ck_assert_int_eq(control_open(path, NULL, 0, &cs2, err, sizeof(err)), -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(err, "in use"));
	control_close(&cs, false);
	/* Not a socket: left alone. */
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), -EEXIST);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(control_open("relative.sock", NULL, 0, &cs, err, sizeof(err)), -EINVAL);
	remove_tmpdir();
}
END_TEST

START_TEST(test_receive_credentials_and_reply)
{
	static struct control_msg msgs[4];
	struct control_socket cs;
	char path[128], err[256], reply[64], big[300];
	int client, unbound, n;
	ssize_t r;

	make_tmpdir();
	(void)snprintf(path, sizeof(path), "%s/control.sock", tmpdir);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), 0);
	ck_assert_int_eq(control_receive(cs.fd, msgs, 4), 0);

	client = client_socket();
	unbound = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	send_to(client, path, "x", 1);
	memset(big, 'a', sizeof(big));
	send_to(client, path, big, sizeof(big));
	send_to(unbound, path, "status", 6);
	n = control_receive(cs.fd, msgs, 4);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(msgs[0].len, 1);
	ck_assert(!msgs[0].truncated);
	ck_assert(msgs[0].has_creds);
	ck_assert_uint_eq(msgs[0].uid, getuid());
	ck_assert_int_eq(msgs[0].pid, getpid());
	/* Sent by this very process: the daemon drops such a datagram. */
	ck_assert(msgs[0].from_self);
	ck_assert(control_msg_has_address(&msgs[0]));
	ck_assert(msgs[1].truncated);
	ck_assert_uint_eq(msgs[1].len, CONTROL_REQUEST_MAX);
	ck_assert(!control_msg_has_address(&msgs[2]));
	ck_assert_uint_eq(msgs[2].len, 6);

	control_set_replyf(&msgs[0], "queued");
	control_set_replyf(&msgs[1], "error too long\n\x01");
	control_set_replyf(&msgs[2], "not sent: no address");
	ck_assert_uint_eq(control_send_replies(&cs, msgs, 3), 2);
	r = recv(client, reply, sizeof(reply), MSG_DONTWAIT);
	ck_assert_int_eq(r, 6);
	ck_assert(memcmp(reply, "queued", 6) == 0);
	r = recv(client, reply, sizeof(reply), MSG_DONTWAIT);
	ck_assert_int_eq(r, 16);
	ck_assert(memcmp(reply, "error too long??", 16) == 0);
	ck_assert_int_eq(recv(client, reply, sizeof(reply), MSG_DONTWAIT), -1);
	ck_assert_ptr_null(msgs[0].reply);
	close(client);
	close(unbound);
	control_close(&cs, false);
	remove_tmpdir();
}
END_TEST

START_TEST(test_long_reply_and_full_client)
{
	static struct control_msg msgs[64];
	struct control_socket cs;
	char path[128], err[256], *text, buf[8192];
	int client, n, got = 0;

	make_tmpdir();
	(void)snprintf(path, sizeof(path), "%s/control.sock", tmpdir);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), 0);
	client = client_socket();
	/* In steps: the daemon's socket queues only net.unix.max_dgram_qlen datagrams. */
	for (n = 0; n < 40;) {
		int k;

		for (int i = 0; i < 5; i++)
			send_to(client, path, "x", 1);
		k = control_receive(cs.fd, msgs + n, 64 - (size_t)n);
		ck_assert_int_eq(k, 5);
		n += k;
	}
	text = malloc(5000);
	memset(text, 'j', 5000);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(control_set_reply(&msgs[i], text, 5000), 0);
	/* The client never reads: some replies are lost, none blocks. */
	ck_assert_uint_le(control_send_replies(&cs, msgs, (size_t)n), 40);
	while (recv(client, buf, sizeof(buf), MSG_DONTWAIT) == 5000)
		got++;
	ck_assert_int_ge(got, 1);
	free(text);
	close(client);
	control_close(&cs, false);
	remove_tmpdir();
}
END_TEST

START_TEST(test_passed_descriptors_are_closed)
{
	static struct control_msg msgs[4];
	struct control_socket cs;
	char path[128], err[256];
	int client, pass = open("/dev/null", O_RDONLY | O_CLOEXEC);
	size_t before;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(3 * sizeof(int))];
	} cbuf;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1,
		             .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
	struct cmsghdr *c;
	int fds[3] = { pass, pass, pass };

	make_tmpdir();
	(void)snprintf(path, sizeof(path), "%s/control.sock", tmpdir);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), 0);
	client = client_socket();
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	before = count_fds();
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sendmsg(client, &mh, 0), 1);
	ck_assert_int_eq(control_receive(cs.fd, msgs, 4), 3);
	ck_assert(msgs[0].has_creds);
	ck_assert_uint_eq(count_fds(), before);
	close(pass);
	close(client);
	control_close(&cs, false);
	remove_tmpdir();
}
END_TEST

START_TEST(test_path_bound_sender_gets_no_reply)
{
	static struct control_msg msgs[2];
	struct control_socket cs;
	struct sockaddr_un self = { .sun_family = AF_UNIX };
	char path[128], err[256], mine[128], reply[64];
	int client;

	make_tmpdir();
	(void)snprintf(path, sizeof(path), "%s/control.sock", tmpdir);
	(void)snprintf(mine, sizeof(mine), "%s/client.sock", tmpdir);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), 0);
	/* A path may later be a symlink to anything, the control socket itself included. */
	client = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memcpy(self.sun_path, mine, strlen(mine) + 1);
	ck_assert_int_eq(bind(client, (struct sockaddr *)&self, sizeof(self)), 0);
	send_to(client, path, "status", 6);
	ck_assert_int_eq(control_receive(cs.fd, msgs, 2), 1);
	ck_assert(msgs[0].addrlen > sizeof(sa_family_t));
	ck_assert(!control_msg_has_address(&msgs[0]));
	control_set_replyf(&msgs[0], "{}");
	ck_assert_uint_eq(control_send_replies(&cs, msgs, 1), 0);
	ck_assert_int_eq(recv(client, reply, sizeof(reply), MSG_DONTWAIT), -1);
	close(client);
	control_close(&cs, false);
	remove_tmpdir();
}
END_TEST

START_TEST(test_replies_leave_through_a_replaced_reply_socket)
{
	enum { CLIENTS = 64 };
	static struct control_msg msgs[CLIENTS];
	struct control_socket cs;
	struct sockaddr_un from;
	socklen_t flen = sizeof(from);
	char path[128], err[256], *text, buf[64];
	int clients[CLIENTS], fresh;
	ssize_t r;

	make_tmpdir();
	(void)snprintf(path, sizeof(path), "%s/control.sock", tmpdir);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), 0);
	ck_assert_int_ge(cs.reply_fd, 0);
	ck_assert_int_ne(cs.reply_fd, cs.fd);
	/* Each client asks once and never reads: its reply stays charged to the reply socket. */
	for (int i = 0; i < CLIENTS; i++) {
		clients[i] = client_socket();
		send_to(clients[i], path, "status", 6);
		/* One at a time: the control socket queues only net.unix.max_dgram_qlen datagrams. */
		ck_assert_int_eq(control_receive(cs.fd, msgs + i, 1), 1);
	}
	text = malloc(16384);
	memset(text, 'j', 16384);
	for (int i = 0; i < CLIENTS; i++)
		ck_assert_int_eq(control_set_reply(&msgs[i], text, 16384), 0);
	/* 64 x 16 KiB is more than one socket's send buffer: it is replaced, nobody loses a reply. */
	ck_assert_uint_eq(control_send_replies(&cs, msgs, CLIENTS), CLIENTS);
	ck_assert_uint_ge(cs.replaced, 1);
	/* And the next client is answered, not from the control socket. */
	fresh = client_socket();
	send_to(fresh, path, "status", 6);
	ck_assert_int_eq(control_receive(cs.fd, msgs, 1), 1);
	control_set_replyf(&msgs[0], "ok");
	ck_assert_uint_eq(control_send_replies(&cs, msgs, 1), 1);
	r = recvfrom(fresh, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
	ck_assert_int_eq(r, 2);
	ck_assert(flen <= sizeof(sa_family_t) || from.sun_path[0] == '\0'); /* not the control socket's path */
	free(text);
	for (int i = 0; i < CLIENTS; i++)
		close(clients[i]);
	close(fresh);
	control_close(&cs, false);
	remove_tmpdir();
}
END_TEST

START_TEST(test_socket_directory_must_be_safe)
{
	struct control_socket cs;
	char path[256], dir[128], err[256];

	make_tmpdir();
	(void)snprintf(dir, sizeof(dir), "%s/run", tmpdir);
	(void)snprintf(path, sizeof(path), "%s/control.sock", dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "not writable by group or others"));
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), -EPERM);
	ck_assert_int_eq(chmod(dir, 0775), 0);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), -EPERM);
	if (geteuid() == 0) {
		ck_assert_int_eq(chmod(dir, 0755), 0);
		ck_assert_int_eq(chown(dir, 65534, 0), 0);
		ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), -EPERM);
		ck_assert_ptr_nonnull(strstr(err, "not ours"));
		ck_assert_int_eq(chown(dir, 0, 0), 0);
	}
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(control_open(path, NULL, 0, &cs, err, sizeof(err)), 0);
	control_close(&cs, false);
	remove_tmpdir();
}
END_TEST

START_TEST(test_signal_image_finds_processes)
{
	char prog[128], cmd[300];
	struct stat st;
	size_t count = 99;
	pid_t child;
	int status;

	/*
	 * A child running a private copy of sleep is found by the inode of that
	 * file; we are not. A copy, never /bin/sleep itself: every process on
	 * the machine running that inode would get the signal too (tests
	 * running beside this one among them).
	 */
	make_tmpdir();
	(void)snprintf(prog, sizeof(prog), "%s/sleep", tmpdir);
	(void)snprintf(cmd, sizeof(cmd), "cp /bin/sleep '%s'", prog);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(stat(prog, &st), 0);
	child = fork();
	if (child == 0) {
		execl(prog, "sleep", "30", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		char exe[64];
		struct stat cst;

		(void)snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)child);
		if (stat(exe, &cst) == 0 && cst.st_ino == st.st_ino)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(notify_signal_image(st.st_dev, st.st_ino, SIGTERM, getpid(), &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGTERM);
	remove_tmpdir();
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *parse_tc = tcase_create("parse");
	TCase *format = tcase_create("format");
	TCase *sock = tcase_create("socket");
	TCase *subs = tcase_create("notify");

	tcase_add_test(parse_tc, test_any_single_byte_is_a_check);
	tcase_add_test(parse_tc, test_known_words);
	tcase_add_test(parse_tc, test_rollback_target_is_validated);
	tcase_add_test(parse_tc, test_seed_takes_a_target_and_a_version);
	tcase_add_test(parse_tc, test_malformed_requests_are_rejected);
	suite_add_tcase(s, parse_tc);

	tcase_add_test(format, test_check_replies);
	tcase_add_test(format, test_sanitize_keeps_printable_ascii);
	suite_add_tcase(s, format);

	tcase_add_test(sock, test_socket_bind_mode_and_parent);
	tcase_add_test(sock, test_socket_stale_replaced_live_refused);
	tcase_add_test(sock, test_receive_credentials_and_reply);
	tcase_add_test(sock, test_long_reply_and_full_client);
	tcase_add_test(sock, test_passed_descriptors_are_closed);
	tcase_add_test(sock, test_path_bound_sender_gets_no_reply);
	tcase_add_test(sock, test_replies_leave_through_a_replaced_reply_socket);
	tcase_add_test(sock, test_socket_directory_must_be_safe);
	suite_add_tcase(s, sock);

	tcase_add_test(subs, test_signal_image_finds_processes);
	suite_add_tcase(s, subs);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
