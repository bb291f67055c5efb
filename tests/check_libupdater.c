/*
 * check_libupdater.c - libupdater's calls that can be proven inside one
 * process: argument checks, the path it records, the check request and the
 * daemon subscription (against sockets standing in for updaterd's),
 * updater_spawn_self. Re-executions are proven by the integration tests
 * (tests/integration/client-*.sh), which drive tests/updater-probe.
 *
 * Check runs every test in a child of its own, so each starts with the
 * library uninitialized.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <updater.h>

static char *self_argv0;
static char tmpdir[] = "/tmp/check_libupdater.XXXXXX";

static void setup_tmp(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_tmp(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void init_self(void)
{
	char *argv[] = { self_argv0, "arg1", NULL };

	ck_assert_int_eq(updater_init(2, argv), 0);
}

/* A datagram socket at PATH standing in for the daemon's. */
static int fake_daemon(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

START_TEST(test_calls_before_init_fail)
{
	ck_assert_int_eq(updater_self_changed(), -EINVAL);
	ck_assert_int_eq(updater_reexec(), -EINVAL);
	ck_assert_int_eq(updater_keep_fd(0, "x"), -EINVAL);
	ck_assert_int_eq(updater_watch_fd(), -EINVAL);
	ck_assert_int_eq(updater_watch_handle(), -EINVAL);
	ck_assert_int_eq(updater_inherited_fd("x"), -ENOENT);
	ck_assert_int_eq(updater_spawn_self(NULL), -EINVAL);
}
END_TEST

START_TEST(test_init_twice_is_refused)
{
	char *argv[] = { self_argv0, NULL };

	init_self();
	ck_assert_int_eq(updater_init(1, argv), -EALREADY);
}
END_TEST

START_TEST(test_init_rejects_empty_argv)
{
	char *argv[] = { NULL };

	ck_assert_int_eq(updater_init(0, argv), -EINVAL);
	ck_assert_int_eq(updater_init(1, argv), -EINVAL);
}
END_TEST

START_TEST(test_running_image_is_unchanged)
{
	init_self();
	ck_assert_int_eq(updater_self_changed(), 0);
}
END_TEST

/* argv[0] may be anything: a name that is not this program must not make the
 * library believe it was replaced (and re-execute into that other file). */
START_TEST(test_misleading_argv0_falls_back_to_proc_self_exe)
{
	char *argv_other[] = { "/bin/sh", NULL };

	ck_assert_int_eq(updater_init(1, argv_other), 0);
	ck_assert_int_eq(updater_self_changed(), 0);
}
END_TEST

START_TEST(test_unknown_argv0_falls_back_to_proc_self_exe)
{
	char *argv_none[] = { "no-such-program-here", NULL };

	ck_assert_int_eq(updater_init(1, argv_none), 0);
	ck_assert_int_eq(updater_self_changed(), 0);
}
END_TEST

START_TEST(test_keep_fd_validates)
{
	char long_name[300];
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	init_self();
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ck_assert_int_eq(updater_keep_fd(fd, "http"), 0);
	ck_assert_int_eq(updater_keep_fd(fd, "renamed"), 0);
	ck_assert_int_eq(updater_keep_fd(fd, ""), -EINVAL);
	ck_assert_int_eq(updater_keep_fd(fd, "a:b"), -EINVAL);
	ck_assert_int_eq(updater_keep_fd(fd, "tab\there"), -EINVAL);
	ck_assert_int_eq(updater_keep_fd(fd, long_name), -EINVAL);
	ck_assert_int_eq(updater_keep_fd(fd, NULL), -EINVAL);
	long_name[255] = '\0';
	ck_assert_int_eq(updater_keep_fd(fd, long_name), 0);
	ck_assert_int_eq(updater_keep_fd(-1, "x"), -EBADF);
	ck_assert_int_eq(updater_keep_fd(9999, "x"), -EBADF);
	close(fd);
}
END_TEST

/* A kept descriptor closed behind the library's back fails the re-exec
 * early, before anything was changed: the test is still running after it. */
START_TEST(test_reexec_with_closed_kept_fd_fails)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	init_self();
	ck_assert_int_eq(updater_keep_fd(fd, "gone"), 0);
	close(fd);
	ck_assert_int_eq(updater_reexec(), -EBADF);
}
END_TEST

START_TEST(test_nothing_inherited_without_listen_pid)
{
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", "1", 1); /* not us */
	init_self();
	ck_assert_int_eq(updater_inherited_fd("unknown"), -ENOENT);
	/* Not ours: left alone. */
	ck_assert_str_eq(getenv("LISTEN_PID"), "1");
}
END_TEST

START_TEST(test_request_check_sends_one_byte)
{
	char path[256], buf[16];
	int d;

	snprintf(path, sizeof(path), "%s/control.sock", tmpdir);
	d = fake_daemon(path);
	setenv("UPDATER_SOCKET", path, 1);
	ck_assert_int_eq(updater_request_check(), 0);
	ck_assert(readable(d, 2000));
	ck_assert_int_eq(recv(d, buf, sizeof(buf), 0), 1);
	close(d);
}
END_TEST

START_TEST(test_request_check_without_daemon)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/absent.sock", tmpdir);
	setenv("UPDATER_SOCKET", path, 1);
	ck_assert_int_eq(updater_request_check(), -ENOENT);

	/* A socket file nobody listens on any more. */
	fd = fake_daemon(path);
	close(fd);
	ck_assert_int_eq(updater_request_check(), -ECONNREFUSED);

	setenv("UPDATER_SOCKET", "/tmp/"
				 "0123456789012345678901234567890123456789012345678901234567890123456789"
				 "0123456789012345678901234567890123456789.sock",
	       1);
	ck_assert_int_eq(updater_request_check(), -ENAMETOOLONG);
}
END_TEST

/* A stand-in for the daemon's events socket: SOCK_SEQPACKET, listening, at PATH. */
static int fake_events(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

/* The watch descriptor subscribes to the daemon (a connection to events.sock
 * beside the control socket); a notification makes it readable, and
 * handling it drains it and reports "not replaced". */
START_TEST(test_watch_subscribes_and_wakes_on_notification)
{
	char path[256], evpath[256];
	int d, ev, c, w;

	snprintf(path, sizeof(path), "%s/control.sock", tmpdir);
	snprintf(evpath, sizeof(evpath), "%s/events.sock", tmpdir);
	d = fake_daemon(path);
	ev = fake_events(evpath);
	setenv("UPDATER_SOCKET", path, 1);
	init_self();
	w = updater_watch_fd();
	ck_assert_int_ge(w, 3);
	ck_assert_int_eq(updater_watch_fd(), w);
	ck_assert(fcntl(w, F_GETFD) & FD_CLOEXEC);

	ck_assert(readable(ev, 2000));
	c = accept4(ev, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(c, 0);
	/* Nothing is asked on the control socket: the connection is the subscription. */
	ck_assert(!readable(d, 0));
	ck_assert(!readable(w, 0));
	ck_assert_int_eq(send(c, "updated x 2", 11, 0), 11);
	ck_assert(readable(w, 2000));
	ck_assert_int_eq(updater_watch_handle(), 0);
	ck_assert(!readable(w, 0));
	/* The daemon closes the connection (it restarts, or we missed notifications):
	 * the watch wakes, so the caller looks again, and the library connects anew. */
	close(c);
	ck_assert(readable(w, 2000));
	ck_assert_int_eq(updater_watch_handle(), 0);
	ck_assert(readable(ev, 2000));
	c = accept4(ev, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(send(c, "checked ok x", 12, 0), 12);
	ck_assert(readable(w, 2000));
	ck_assert_int_eq(updater_watch_handle(), 0);
	/* A refusal is no subscription: after it, no new connection until inotify sees a change. */
	close(c);
	ck_assert(readable(w, 2000));
	ck_assert_int_eq(updater_watch_handle(), 0);
	c = accept4(ev, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(send(c, "error too many subscribers", 26, 0), 26);
	close(c);
	ck_assert(readable(w, 2000));
	ck_assert_int_eq(updater_watch_handle(), 0);
	ck_assert(!readable(ev, 300));
	close(ev);
	close(d);
}
END_TEST

/*
 * Only the daemon can wake the watch: an events socket whose listener is
 * another uid than root or the control socket's owner is not subscribed to.
 */
START_TEST(test_watch_refuses_another_uids_events_socket)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[256], buf[16];
	int d, ev, c, status;
	pid_t child;

	if (geteuid() != 0)
		return; /* needs another uid */
	ck_assert_int_eq(chmod(tmpdir, 0777), 0);
	snprintf(path, sizeof(path), "%s/control.sock", tmpdir);
	d = fake_daemon(path); /* root's */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/events.sock", tmpdir);
	ev = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(ev, 0);
	/* SO_PEERCRED names who called listen(): nobody, here. */
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		if (setresuid(65534, 65534, 65534) < 0 || bind(ev, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(ev, 8) < 0)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_int_eq(status, 0);
	setenv("UPDATER_SOCKET", path, 1);
	init_self();
	ck_assert_int_ge(updater_watch_fd(), 0);
	ck_assert(readable(ev, 2000));
	c = accept4(ev, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(c, 0);
	/* The library hung up at once. */
	ck_assert(readable(c, 2000));
	ck_assert_int_eq(recv(c, buf, sizeof(buf), MSG_DONTWAIT), 0);
	ck_assert_int_eq(updater_watch_handle(), 0);
	close(c);
	close(ev);
	close(d);
}
END_TEST

START_TEST(test_watch_works_without_daemon)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/absent.sock", tmpdir);
	setenv("UPDATER_SOCKET", path, 1);
	init_self();
	ck_assert_int_ge(updater_watch_fd(), 3);
	ck_assert_int_eq(updater_watch_handle(), 0);
}
END_TEST

START_TEST(test_spawn_self_runs_this_image)
{
	char *argv[] = { self_argv0, "--exit-with", "42", NULL };
	int status;
	pid_t pid = updater_spawn_self(argv);

	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 42);
}
END_TEST

START_TEST(test_spawn_self_defaults_to_recorded_argv)
{
	char *argv[] = { self_argv0, "--exit-with", "7", NULL };
	int status;
	pid_t pid;

	ck_assert_int_eq(updater_init(3, argv), 0);
	pid = updater_spawn_self(NULL);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 7);
}
END_TEST

static Suite *libupdater_suite(void)
{
	Suite *s = suite_create("libupdater");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
	tcase_add_test(tc, test_calls_before_init_fail);
	tcase_add_test(tc, test_init_twice_is_refused);
	tcase_add_test(tc, test_init_rejects_empty_argv);
	tcase_add_test(tc, test_running_image_is_unchanged);
	tcase_add_test(tc, test_misleading_argv0_falls_back_to_proc_self_exe);
	tcase_add_test(tc, test_unknown_argv0_falls_back_to_proc_self_exe);
	tcase_add_test(tc, test_keep_fd_validates);
	tcase_add_test(tc, test_reexec_with_closed_kept_fd_fails);
	tcase_add_test(tc, test_nothing_inherited_without_listen_pid);
	tcase_add_test(tc, test_request_check_sends_one_byte);
	tcase_add_test(tc, test_request_check_without_daemon);
	tcase_add_test(tc, test_watch_subscribes_and_wakes_on_notification);
	tcase_add_test(tc, test_watch_refuses_another_uids_events_socket);
	tcase_add_test(tc, test_watch_works_without_daemon);
	tcase_add_test(tc, test_spawn_self_runs_this_image);
	tcase_add_test(tc, test_spawn_self_defaults_to_recorded_argv);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char *argv[])
{
	SRunner *sr;
	int failed;

	/* updater_spawn_self() runs this program again: it just exits. */
	if (argc == 3 && strcmp(argv[1], "--exit-with") == 0)
		return atoi(argv[2]);
	self_argv0 = argv[0];
	sr = srunner_create(libupdater_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
