/*
 * check_runner.c - runner_start() and friends with real scripts (SPEC section 6).
 *
 * Each test writes shell scripts into a temporary directory and runs them
 * through the runner, driving it with select() as the daemon does. What a
 * script reports about itself (environment, fds, cwd, umask, session, user)
 * is compared with what the SPEC promises; stderr of the test is redirected
 * to a file to read the log lines.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"
#include "util.h"

static char tmpdir[64];
static char logfile[128];
static int saved_stderr = -1;

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t abort_after; /* 0: never */
	int abort_error;
	unsigned calls;
};

static char *const base_env[] = {
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"LANG=C.UTF-8",
	NULL,
};

static void setup(void)
{
	strcpy(tmpdir, "/tmp/check_runner.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	/* Scripts may run as nobody: the directory must be searchable. */
	ck_assert_int_eq(chmod(tmpdir, 0755), 0);
	(void)snprintf(logfile, sizeof(logfile), "%s.log", tmpdir);
	saved_stderr = -1;
}

static void teardown(void)
{
	char cmd[512];

	if (saved_stderr >= 0) {
		(void)dup2(saved_stderr, STDERR_FILENO);
		(void)close(saved_stderr);
		saved_stderr = -1;
	}
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", tmpdir, logfile);
	(void)system(cmd);
}

/* Log lines go to LOGFILE from now on. */
static void capture_stderr(void)
{
	int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	(void)close(fd);
}

/* The whole file, NUL-terminated (freed by the caller). */
static char *read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *data = NULL;
	size_t len = 0, cap = 0;

	ck_assert_ptr_nonnull(f);
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			data = realloc(data, cap + 1);
			ck_assert_ptr_nonnull(data);
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	(void)fclose(f);
	data[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return data;
}

static char *read_log(void)
{
	return read_all(logfile, NULL);
}

/* A 0755 script NAME in the temp dir; returns its path (static buffer per slot). */
static const char *script(const char *name, const char *body)
{
	static char paths[4][PATH_MAX];
	static unsigned slot;
	char *path = paths[slot++ % 4];
	FILE *f;

	(void)snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fprintf(f, "#!/bin/sh\n%s\n", body), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0755), 0);
	return path;
}

static int collect(void *ctx, const uint8_t *data, size_t len)
{
	struct buf *b = ctx;

	b->calls++;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + len + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		ck_assert_ptr_nonnull(b->data);
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	if (b->abort_after && b->len >= b->abort_after)
		return b->abort_error;
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static const char *out_text(const struct buf *b)
{
	return b->data ? (const char *)b->data : "";
}

/* Drive a started runner to its end as the daemon's loop would, within 60 s. */
static void drive(struct runner *r, struct runner_result *res)
{
	int64_t guard = now_boottime_ms() + 60000;

	for (;;) {
		fd_set rfds;
		int maxfd = -1;
		int64_t now = now_boottime_ms();
		int64_t deadline = runner_deadline(r);
		int64_t wait_ms = (deadline < guard ? deadline : guard) - now;
		struct timeval tv;
		int n;

		ck_assert_msg(now < guard, "the run did not end within 60 s");
		if (wait_ms < 0)
			wait_ms = 0;
		tv.tv_sec = wait_ms / 1000;
		tv.tv_usec = (wait_ms % 1000) * 1000;
		FD_ZERO(&rfds);
		runner_fill_fds(r, &rfds, &maxfd);
		n = select(maxfd + 1, &rfds, NULL, NULL, &tv);
		if (n < 0) {
			ck_assert_int_eq(errno, EINTR);
			continue;
		}
		if (runner_process(r, &rfds, now_boottime_ms()) > 0)
			break;
	}
	runner_result(r, res);
}

/* Run SPEC to its end; returns runner_start's result. */
static int run(struct runner_spec *spec, struct runner_result *res, struct buf *out)
{
	struct runner *r = NULL;
	int ret;

	if (out && !spec->on_output) {
		spec->on_output = collect;
		spec->ctx = out;
	}
	if (!spec->envp)
		spec->envp = base_env;
	if (!spec->log_name)
		spec->log_name = "test";
	ret = runner_start(spec, &r);
	if (ret < 0)
		return ret;
	drive(r, res);
	runner_free(r);
	return 0;
}

/* No child of ours is left, running or zombie. */
static void assert_no_children(void)
{
	pid_t w = waitpid(-1, NULL, WNOHANG);

	ck_assert_msg(w == -1 && errno == ECHILD, "a child is left (waitpid returned %d)", (int)w);
}

/*
 * As child subreaper the test inherits what the script left behind: reap it
 * all (blocking), asserting each died of a signal; returns how many.
 */
static int reap_orphans(int *ret_last_signal)
{
	int n = 0;
	int st;

	while (waitpid(-1, &st, 0) > 0) {
		ck_assert_msg(WIFSIGNALED(st), "a leftover exited with status %d", WEXITSTATUS(st));
		if (ret_last_signal)
			*ret_last_signal = WTERMSIG(st);
		n++;
	}
	ck_assert_int_eq(errno, ECHILD);
	return n;
}

/* --- what the script sees ----------------------------------------------- */

START_TEST(test_environment_is_exactly_envp)
{
	char *const envp[] = {
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"LANG=C.UTF-8",
		"HOME=/var/lib/updater/cache/hello",
		"UPDATER_TARGET=hello",
		"UPDATER_VERSION=",
		"UPDATER_SOURCE=https://x.example/a b",
		NULL,
	};
	struct runner_spec spec = { .path = "/usr/bin/env", .envp = envp };
	struct runner_result res;
	struct buf out = { 0 };

	/* What the daemon itself was started with must not leak. */
	ck_assert_int_eq(setenv("LD_PRELOAD", "", 1), 0);
	ck_assert_int_eq(setenv("BASH_ENV", "/etc/passwd", 1), 0);
	ck_assert_int_eq(setenv("FOO", "bar", 1), 0);
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_eq(res.status, RUNNER_EXITED);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(out_text(&out), "PATH=/usr/local/bin:/usr/bin:/bin\n"
	                                 "LANG=C.UTF-8\n"
	                                 "HOME=/var/lib/updater/cache/hello\n"
	                                 "UPDATER_TARGET=hello\n"
	                                 "UPDATER_VERSION=\n"
	                                 "UPDATER_SOURCE=https://x.example/a b\n");
	ck_assert_uint_eq(res.output_bytes, out.len);
	buf_free(&out);
	assert_no_children();
}
END_TEST

START_TEST(test_empty_environment_through_a_shell_script)
{
	char *const envp[] = { NULL };
	struct runner_spec spec = { .envp = envp };
	struct runner_result res;
	struct buf out = { 0 };

	spec.path = script("env.sh", "exec /usr/bin/env");
	ck_assert_int_eq(setenv("BASH_ENV", "/etc/passwd", 1), 0);
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_eq(res.status, RUNNER_EXITED);
	/* dash exports PWD on its own; nothing of ours may appear. */
	ck_assert_msg(out.len == 0 || strcmp(out_text(&out), "PWD=/\n") == 0, "env: %s",
	              out_text(&out));
	buf_free(&out);
}
END_TEST

START_TEST(test_only_fds_0_1_2_are_open)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { 0 };
	int p[2];
	char expect3[64];
	char *line, *save = NULL;
	int seen = 0;

	/* Descriptors the daemon holds without O_CLOEXEC must not reach the script. */
	ck_assert_int_ge(open("/dev/null", O_RDONLY), 0);
	ck_assert_int_ge(open(tmpdir, O_RDONLY | O_DIRECTORY), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ge(dup2(p[0], 200), 0);

	spec.path = script("fds.sh", "exec /bin/ls -l /proc/self/fd/");
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_eq(res.status, RUNNER_EXITED);
	ck_assert_int_eq(res.exit_code, 0);

	/* ls itself holds fd 3 on the directory it lists. */
	(void)snprintf(expect3, sizeof(expect3), "/fd");
	for (line = strtok_r((char *)out.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *arrow = strstr(line, " -> ");
		const char *name;
		int fd;

		if (!arrow)
			continue; /* "total 0" */
		name = arrow;
		while (name > line && name[-1] != ' ')
			name--;
		fd = atoi(name);
		switch (fd) {
		case 0:
			ck_assert_str_eq(arrow + 4, "/dev/null");
			break;
		case 1:
		case 2:
			ck_assert_msg(strncmp(arrow + 4, "pipe:[", 6) == 0, "fd %d: %s", fd, arrow + 4);
			break;
		case 3:
			ck_assert_msg(strstr(arrow + 4, expect3) && strncmp(arrow + 4, "/proc/", 6) == 0,
			              "fd 3: %s", arrow + 4);
			break;
		default:
			ck_abort_msg("fd %d is open in the script: %s", fd, line);
		}
		seen |= 1 << fd;
	}
	ck_assert_int_eq(seen, 0xf);
	buf_free(&out);
}
END_TEST

START_TEST(test_cwd_umask_stdin_session)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { 0 };
	struct runner *r;
	char comm[64];
	char cwd[64], mask[16], in[64], sid_line[512];
	int pid, ppid, pgrp, session;
	pid_t rpid;
	char state;

	ck_assert_int_eq(chdir(tmpdir), 0);
	(void)umask(077);
	spec.path = script("where.sh", "pwd\n"
	                               "umask\n"
	                               "readlink /proc/self/fd/0\n"
	                               "read -r stat < /proc/$$/stat; echo \"$stat\"\n"
	                               "if cat; then :; fi");
	spec.envp = base_env;
	spec.on_output = collect;
	spec.ctx = &out;
	spec.log_name = "where";
	ck_assert_int_eq(runner_start(&spec, &r), 0);
	rpid = runner_pid(r);
	ck_assert_int_gt(rpid, 0);
	drive(r, &res);
	runner_free(r);

	ck_assert_int_eq(res.status, RUNNER_EXITED);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_int_eq(sscanf(out_text(&out), "%63s %15s %63s %511[^\n]", cwd, mask, in, sid_line), 4);
	ck_assert_str_eq(cwd, "/");
	ck_assert_str_eq(mask, "0022");
	ck_assert_str_eq(in, "/dev/null");
	ck_assert_int_eq(sscanf(sid_line, "%d (%63[^)]) %c %d %d %d", &pid, comm, &state, &ppid, &pgrp,
	                        &session),
	                 6);
	/* The script's own session and process group: it leads both. */
	ck_assert_int_eq(pid, rpid);
	ck_assert_int_eq(session, pid);
	ck_assert_int_eq(pgrp, pid);
	ck_assert_int_eq(ppid, getpid());
	buf_free(&out);
}
END_TEST

START_TEST(test_signal_mask_and_dispositions_are_reset)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { 0 };
	sigset_t block;

	/* The daemon blocks signals for signalfd and may ignore some... */
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGRTMIN, SIG_IGN);
	/* ... even those glibc keeps for itself, when its parent ignored them. */
	{
		struct {
			void (*handler)(int);
			unsigned long flags;
			void (*restorer)(void);
			uint64_t mask;
		} ksa = { .handler = SIG_IGN };

		ck_assert_int_eq(syscall(SYS_rt_sigaction, 32, &ksa, NULL, sizeof(ksa.mask)), 0);
		ck_assert_int_eq(syscall(SYS_rt_sigaction, 33, &ksa, NULL, sizeof(ksa.mask)), 0);
	}
	(void)sigemptyset(&block);
	(void)sigaddset(&block, SIGTERM);
	(void)sigaddset(&block, SIGHUP);
	(void)sigaddset(&block, SIGCHLD);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, NULL), 0);

	spec.path = script("sig.sh", "exec grep -E '^Sig(Blk|Ign):' /proc/self/status");
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(out_text(&out), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
	buf_free(&out);
}
END_TEST

START_TEST(test_runs_as_nobody_when_change_user)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { 0 };

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root\n");
		return;
	}
	spec.path = script("who.sh", "id -u; id -g; id -G\n"
	                             "grep -E '^Cap(Eff|Prm):' /proc/self/status\n"
	                             "grep -E '^(Uid|Gid):' /proc/self/status");
	spec.change_user = true;
	spec.uid = 65534;
	spec.gid = 65534;
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_eq(res.status, RUNNER_EXITED);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(out_text(&out), "65534\n65534\n65534\n"
	                                 "CapPrm:\t0000000000000000\n"
	                                 "CapEff:\t0000000000000000\n"
	                                 "Uid:\t65534\t65534\t65534\t65534\n"
	                                 "Gid:\t65534\t65534\t65534\t65534\n");
	buf_free(&out);
}
END_TEST

START_TEST(test_change_user_refused_without_privileges_is_an_error)
{
	struct runner_spec spec = { 0 };
	struct runner *r = NULL;
	char *log;

	capture_stderr();
	spec.path = script("true.sh", "exit 0");
	if (geteuid() == 0) {
		/* Act as a user who may not switch to another (root stays saved, for the cleanup). */
		ck_assert_int_eq(setresgid(65534, 65534, 0), 0);
		ck_assert_int_eq(setresuid(65534, 65534, 0), 0);
	}
	spec.envp = base_env;
	spec.change_user = true;
	spec.uid = 0;
	spec.gid = 0;
	spec.log_name = "hello";
	ck_assert_int_eq(runner_start(&spec, &r), -EPERM);
	ck_assert_ptr_null(r);
	assert_no_children();
	(void)setresuid(0, 0, 0);
	(void)setresgid(0, 0, 0);
	log = read_log();
	ck_assert_msg(strstr(log, "hello: cannot change group to run '") &&
	              strstr(log, "true.sh': Operation not permitted"), "log: %s", log);
	free(log);
}
END_TEST

/* --- exit statuses and exec failures ------------------------------------ */

START_TEST(test_exit_status_and_signal_are_reported)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	char text[128];

	spec.path = script("three.sh", "exit 3");
	ck_assert_int_eq(run(&spec, &res, NULL), 0);
	ck_assert_int_eq(res.status, RUNNER_EXITED);
	ck_assert_int_eq(res.exit_code, 3);
	runner_describe(&res, text, sizeof(text));
	ck_assert_str_eq(text, "exited with status 3");

	memset(&spec, 0, sizeof(spec));
	spec.path = script("usr1.sh", "kill -USR1 $$; sleep 10");
	ck_assert_int_eq(run(&spec, &res, NULL), 0);
	ck_assert_int_eq(res.status, RUNNER_SIGNALED);
	ck_assert_int_eq(res.term_signal, SIGUSR1);
	runner_describe(&res, text, sizeof(text));
	ck_assert_str_eq(text, "killed by signal 10 (SIGUSR1)");

	memset(&spec, 0, sizeof(spec));
	spec.path = "/bin/echo";
	spec.argv = (char *const[]){ "echo", "-n", "a", "b", NULL };
	{
		struct buf out = { 0 };

		ck_assert_int_eq(run(&spec, &res, &out), 0);
		ck_assert_str_eq(out_text(&out), "a b");
		buf_free(&out);
	}
	assert_no_children();
}
END_TEST

START_TEST(test_exec_failure_is_an_error_with_a_reason)
{
	struct runner_spec spec = { 0 };
	struct runner *r = NULL;
	char path[128];
	char *log;

	capture_stderr();
	spec.path = script("noexec.sh", "exit 0");
	ck_assert_int_eq(chmod(spec.path, 0644), 0);
	spec.envp = base_env;
	spec.log_name = "hello";
	/* Without any x bit, root may not execute it either. */
	ck_assert_int_eq(runner_start(&spec, &r), -EACCES);
	ck_assert_ptr_null(r);
	(void)snprintf(path, sizeof(path), "%s/missing", tmpdir);
	spec.path = path;
	ck_assert_int_eq(runner_start(&spec, &r), -ENOENT);
	spec.path = "relative/check";
	ck_assert_int_eq(runner_start(&spec, &r), -EINVAL);
	ck_assert_ptr_null(r);
	assert_no_children();

	log = read_log();
	ck_assert_msg(strstr(log, "hello: cannot execute '") &&
	              strstr(log, "/noexec.sh': Permission denied\n"), "log: %s", log);
	ck_assert_msg(strstr(log, "/missing': No such file or directory\n"), "log: %s", log);
	free(log);
}
END_TEST

/* --- output ----------------------------------------------------------- */

START_TEST(test_output_is_delivered_exactly)
{
	const size_t size = 5 * 1024 * 1024 + 123;
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { 0 };
	char data_path[128];
	char body[1024];
	uint8_t *data;
	FILE *f;

	data = malloc(size);
	ck_assert_ptr_nonnull(data);
	srandom(42);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(random() >> 7);
	(void)snprintf(data_path, sizeof(data_path), "%s/data", tmpdir);
	f = fopen(data_path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, size, f), size);
	ck_assert_int_eq(fclose(f), 0);

	/* Written in small pieces with pauses, so reads see partial chunks. */
	(void)snprintf(body, sizeof(body),
	               "head -c 1000 '%s'; sleep 0.1; tail -c +1001 '%s' | dd bs=777 status=none",
	               data_path, data_path);
	spec.path = script("cat.sh", body);
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_eq(res.status, RUNNER_EXITED);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_uint_eq(res.output_bytes, size);
	ck_assert_uint_eq(out.len, size);
	ck_assert_msg(memcmp(out.data, data, size) == 0, "output differs from the file");
	ck_assert_uint_gt(out.calls, 1);
	free(data);
	buf_free(&out);
}
END_TEST

START_TEST(test_abort_from_callback_kills_the_group)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { .abort_after = 100000, .abort_error = -EMSGSIZE };
	char text[128];
	pid_t grandchild;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	spec.path = script("yes.sh", "sleep 1000 & echo \"$!\"; exec yes");
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_eq(res.status, RUNNER_ABORTED);
	ck_assert_int_eq(res.abort_error, -EMSGSIZE);
	runner_describe(&res, text, sizeof(text));
	ck_assert_str_eq(text, "stopped: Message too long");
	grandchild = atoi(out_text(&out));
	ck_assert_int_gt(grandchild, 0);
	{
		int st;

		/* As subreaper we inherited it: it must be dead already, or die now. */
		ck_assert_int_eq(waitpid(grandchild, &st, 0), grandchild);
		ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	}
	assert_no_children();
	buf_free(&out);
}
END_TEST

START_TEST(test_stderr_is_logged_line_by_line)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	char *log;

	capture_stderr();
	spec.path = script("err.sh", "echo one >&2; echo out; printf 'two\\n\\n\\033[31mred\\r\\n' >&2; "
	                             "sleep 0.1; printf 'partial' >&2");
	spec.log_name = "hello";
	{
		struct buf out = { 0 };

		ck_assert_int_eq(run(&spec, &res, &out), 0);
		ck_assert_str_eq(out_text(&out), "out\n");
		buf_free(&out);
	}
	ck_assert_int_eq(res.exit_code, 0);
	log = read_log();
	ck_assert_str_eq(log, "<4>hello: one\n"
	                      "<4>hello: two\n"
	                      "<4>hello: \n"
	                      "<4>hello: ?[31mred?\n"
	                      "<4>hello: partial\n");
	free(log);
}
END_TEST

START_TEST(test_stderr_is_bounded_per_run)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	char *log, *p;
	size_t logged = 0, lines = 0, dropped = 0;

	capture_stderr();
	/* 200 lines of 100 bytes: 20000 bytes, far over RUNNER_STDERR_MAX. */
	spec.path = script("loud.sh", "i=0; while [ $i -lt 200 ]; do "
	                              "printf '%099d\\n' $i >&2; i=$((i+1)); done; echo done");
	spec.log_name = "loud";
	{
		struct buf out = { 0 };

		ck_assert_int_eq(run(&spec, &res, &out), 0);
		/* The script was never blocked on its stderr. */
		ck_assert_str_eq(out_text(&out), "done\n");
		buf_free(&out);
	}
	ck_assert_int_eq(res.exit_code, 0);
	log = read_log();
	for (p = log; *p;) {
		char *nl = strchr(p, '\n');

		ck_assert_ptr_nonnull(nl);
		if (strstr(p, "the rest is dropped") && strstr(p, "the rest is dropped") < nl)
			dropped++;
		else {
			ck_assert_msg(strncmp(p, "<4>loud: ", 9) == 0, "line: %.*s", (int)(nl - p), p);
			logged += (size_t)(nl - p) - 9 + 1;
			lines++;
		}
		p = nl + 1;
	}
	ck_assert_uint_eq(dropped, 1);
	ck_assert_uint_le(logged, RUNNER_STDERR_MAX);
	ck_assert_uint_eq(lines, RUNNER_STDERR_MAX / 100);
	free(log);
}
END_TEST

/* --- timeouts and kills -------------------------------------------------- */

static pid_t first_pid(const struct buf *out)
{
	return (pid_t)atoi(out_text(out));
}

/*
 * PID, a background child of the script, was killed by signal SIG. Usually it
 * is orphaned to us (a subreaper) and we reap it; but when it dies a moment
 * before its shell, the shell may reap it first (dash waits for any child).
 * Then its status is gone, and what can still be proved is that it is dead.
 */
static void assert_killed(pid_t pid, int sig)
{
	int st;

	if (waitpid(pid, &st, 0) == pid) {
		ck_assert(WIFSIGNALED(st));
		ck_assert_int_eq(WTERMSIG(st), sig);
		return;
	}
	ck_assert_int_eq(errno, ECHILD);
	ck_assert_msg(kill(pid, 0) < 0 && errno == ESRCH, "process %d still runs", (int)pid);
}

START_TEST(test_timeout_terms_the_whole_group)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { 0 };
	char text[128];
	int64_t start;
	pid_t grandchild;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	spec.path = script("hang.sh", "sleep 1000 & echo \"$!\"; sleep 1000");
	spec.timeout_ms = 300;
	spec.kill_grace_ms = 30000;
	start = now_boottime_ms();
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	/* SIGTERM was enough: no need to wait for the 30 s grace. */
	ck_assert_int_lt(now_boottime_ms() - start, 15000);
	ck_assert_int_eq(res.status, RUNNER_TIMED_OUT);
	runner_describe(&res, text, sizeof(text));
	ck_assert_str_eq(text, "timed out after 300 ms");
	grandchild = first_pid(&out);
	ck_assert_int_gt(grandchild, 0);
	assert_killed(grandchild, SIGTERM);
	/* dash may fork for its last command: that one is an orphan too. */
	(void)reap_orphans(NULL);
	buf_free(&out);
}
END_TEST

START_TEST(test_timeout_kills_what_ignores_sigterm)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { 0 };
	int64_t start;
	pid_t grandchild;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	/* The shell and its background child both ignore SIGTERM. */
	spec.path = script("stubborn.sh", "trap '' TERM; sleep 1000 & echo \"$!\"; "
	                                  "while :; do wait; done");
	spec.timeout_ms = 200;
	spec.kill_grace_ms = 700;
	start = now_boottime_ms();
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_ge(now_boottime_ms() - start, 200 + 700);
	ck_assert_int_eq(res.status, RUNNER_TIMED_OUT);
	grandchild = first_pid(&out);
	ck_assert_int_gt(grandchild, 0);
	assert_killed(grandchild, SIGKILL);
	(void)reap_orphans(NULL);
	buf_free(&out);
}
END_TEST

START_TEST(test_leftover_in_group_cannot_hold_the_pipes)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { 0 };
	int64_t start;
	pid_t grandchild;
	int st;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	/* The script exits at once; its child would keep stdout open for 1000 s. */
	spec.path = script("bg.sh", "sleep 1000 & echo \"$!\"; exit 0");
	start = now_boottime_ms();
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_lt(now_boottime_ms() - start, 15000);
	ck_assert_int_eq(res.status, RUNNER_EXITED);
	ck_assert_int_eq(res.exit_code, 0);
	grandchild = first_pid(&out);
	ck_assert_int_eq(waitpid(grandchild, &st, 0), grandchild);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	buf_free(&out);
}
END_TEST

START_TEST(test_escaped_process_is_abandoned_after_exit)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct buf out = { 0 };
	pid_t escaped;
	int st;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	capture_stderr();
	/* setsid leaves the group: the runner cannot kill it, but must not wait forever. */
	spec.path = script("escape.sh", "setsid sleep 1000 & echo \"$!\"; sleep 0.2; exit 0");
	spec.log_name = "escape";
	ck_assert_int_eq(run(&spec, &res, &out), 0);
	ck_assert_int_eq(res.status, RUNNER_EXITED);
	escaped = first_pid(&out);
	ck_assert_int_gt(escaped, 0);
	ck_assert_int_eq(kill(escaped, SIGKILL), 0);
	ck_assert_int_eq(waitpid(escaped, &st, 0), escaped);
	{
		char *log = read_log();

		ck_assert_msg(strstr(log, "escape: a process that left the script's process group keeps "
		                          "its output open"), "log: %s", log);
		free(log);
	}
	buf_free(&out);
}
END_TEST

START_TEST(test_runner_kill_is_synchronous)
{
	struct runner_spec spec = { 0 };
	struct runner_result res;
	struct runner *r;
	pid_t pid;

	spec.path = script("sleep.sh", "trap '' TERM; sleep 1000");
	spec.envp = base_env;
	ck_assert_int_eq(runner_start(&spec, &r), 0);
	pid = runner_pid(r);
	runner_kill(r);
	/* Reaped: the PID no longer exists as our child. */
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	runner_result(r, &res);
	ck_assert_int_eq(res.status, RUNNER_ABORTED);
	ck_assert_int_eq(res.abort_error, -ECANCELED);
	runner_kill(r); /* twice is harmless */
	runner_free(r);

	ck_assert_int_eq(runner_start(&spec, &r), 0);
	pid = runner_pid(r);
	runner_free(r); /* kills too */
	ck_assert_int_eq(kill(pid, 0), -1);
	runner_free(NULL);
	assert_no_children();
}
END_TEST

/* --- runner_check_script ------------------------------------------------- */

static int check(const char *path, uid_t owner, char *err)
{
	return runner_check_script(path, owner, err, 512);
}

START_TEST(test_check_script_accepts_a_safe_script)
{
	char err[512] = "";
	const char *path = script("check", "exit 0");

	ck_assert_msg(check(path, getuid(), err) == 0, "refused: %s", err);
}
END_TEST

START_TEST(test_check_script_refusals)
{
	char err[512];
	char want[1024];
	char dir[128], sub[128], link[160];
	const char *path = script("check", "exit 0");

	/* Not there. */
	(void)snprintf(want, sizeof(want), "%s/nope", tmpdir);
	ck_assert_int_eq(check(want, getuid(), err), -ENOENT);
	ck_assert_msg(strstr(err, "/nope': No such file or directory"), "%s", err);

	/* Not a regular file. */
	(void)snprintf(dir, sizeof(dir), "%s/d", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(check(dir, getuid(), err), -EPERM);
	(void)snprintf(want, sizeof(want), "'%s' is not a regular file", dir);
	ck_assert_str_eq(err, want);

	/* Owned by someone else. */
	ck_assert_int_eq(check(path, getuid() + 1, err), -EPERM);
	ck_assert_msg(strstr(err, "check' is owned by ") && strstr(err, ", not by "), "%s", err);

	/* Writable by group, then by others. */
	ck_assert_int_eq(chmod(path, 0775), 0);
	ck_assert_int_eq(check(path, getuid(), err), -EPERM);
	(void)snprintf(want, sizeof(want), "'%s' is writable by group or others", path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(path, 0757), 0);
	ck_assert_int_eq(check(path, getuid(), err), -EPERM);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(path, 0755), 0);

	/* In a directory writable by group or others. */
	ck_assert_int_eq(chmod(tmpdir, 0775), 0);
	ck_assert_int_eq(check(path, getuid(), err), -EPERM);
	(void)snprintf(want, sizeof(want), "directory '%s' is writable by group or others", tmpdir);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(tmpdir, 0757), 0);
	ck_assert_int_eq(check(path, getuid(), err), -EPERM);
	ck_assert_str_eq(err, want);

	/* ... or below one (its parent can rename the whole directory away). */
	(void)snprintf(sub, sizeof(sub), "%s/safe", tmpdir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	(void)snprintf(want, sizeof(want), "%s/safe/check", tmpdir);
	ck_assert_int_eq(rename(path, want), 0);
	ck_assert_int_eq(check(want, getuid(), err), -EPERM);
	ck_assert_msg(strstr(err, "is writable by group or others"), "%s", err);
	ck_assert_int_eq(chmod(tmpdir, 0755), 0);
	ck_assert_int_eq(check(want, getuid(), err), 0);

	/* A symlink is judged by its target... */
	(void)snprintf(link, sizeof(link), "%s/link", tmpdir);
	ck_assert_int_eq(symlink(want, link), 0);
	ck_assert_int_eq(check(link, getuid(), err), 0);
	ck_assert_int_eq(chmod(want, 0777), 0);
	ck_assert_int_eq(check(link, getuid(), err), -EPERM);
	ck_assert_msg(strstr(err, "/link' (-> '") && strstr(err, "writable by group or others"), "%s",
	              err);
	ck_assert_int_eq(chmod(want, 0755), 0);
	/* ... and by the directory that holds the link. */
	ck_assert_int_eq(unlink(link), 0);
	(void)snprintf(link, sizeof(link), "%s/d/link", tmpdir);
	ck_assert_int_eq(symlink(want, link), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(check(link, getuid(), err), -EPERM);
	(void)snprintf(want, sizeof(want), "directory '%s' is writable by group or others", dir);
	ck_assert_str_eq(err, want);

	/* A symlink to a directory. */
	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_eq(symlink("/", link), 0);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(check(link, getuid(), err), -EPERM);
	ck_assert_msg(strstr(err, "is not a regular file"), "%s", err);

	/* A relative path. */
	ck_assert_int_eq(check("check", getuid(), err), -EINVAL);
}
END_TEST

START_TEST(test_check_script_root_sticky_dir_is_allowed)
{
	char err[512] = "";
	char dir[128], path[160];
	FILE *f;

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root\n");
		return;
	}
	(void)snprintf(dir, sizeof(dir), "%s/sticky", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chmod(dir, 01777), 0);
	(void)snprintf(path, sizeof(path), "%s/check", dir);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0755), 0);
	ck_assert_msg(check(path, 0, err) == 0, "refused: %s", err);

	/* Sticky but not root's: refused. */
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	ck_assert_int_eq(check(path, 0, err), -EPERM);
	ck_assert_msg(strstr(err, "sticky' is owned by nobody (uid 65534)") ||
	              strstr(err, "sticky' is owned by uid 65534"), "%s", err);
	ck_assert_int_eq(chown(dir, 0, 0), 0);
	/* Writable but not sticky: refused. */
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(check(path, 0, err), -EPERM);

	/* Script owned by nobody, daemon root: refused with the owner's name. */
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	ck_assert_int_eq(check(path, 0, err), -EPERM);
	ck_assert_msg(strstr(err, "check' is owned by nobody (uid 65534), not by root (uid 0)"), "%s",
	              err);
}
END_TEST

static Suite *runner_suite(void)
{
	Suite *s = suite_create("runner");
	TCase *env = tcase_create("environment");
	TCase *status = tcase_create("status");
	TCase *output = tcase_create("output");
	TCase *kills = tcase_create("kills");
	TCase *checks = tcase_create("check_script");
	TCase *all[] = { env, status, output, kills, checks };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		tcase_set_timeout(all[i], 120);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(env, test_environment_is_exactly_envp);
	tcase_add_test(env, test_empty_environment_through_a_shell_script);
	tcase_add_test(env, test_only_fds_0_1_2_are_open);
	tcase_add_test(env, test_cwd_umask_stdin_session);
	tcase_add_test(env, test_signal_mask_and_dispositions_are_reset);
	tcase_add_test(env, test_runs_as_nobody_when_change_user);
	tcase_add_test(env, test_change_user_refused_without_privileges_is_an_error);

	tcase_add_test(status, test_exit_status_and_signal_are_reported);
	tcase_add_test(status, test_exec_failure_is_an_error_with_a_reason);

	tcase_add_test(output, test_output_is_delivered_exactly);
	tcase_add_test(output, test_abort_from_callback_kills_the_group);
	tcase_add_test(output, test_stderr_is_logged_line_by_line);
	tcase_add_test(output, test_stderr_is_bounded_per_run);

	tcase_add_test(kills, test_timeout_terms_the_whole_group);
	tcase_add_test(kills, test_timeout_kills_what_ignores_sigterm);
	tcase_add_test(kills, test_leftover_in_group_cannot_hold_the_pipes);
	tcase_add_test(kills, test_escaped_process_is_abandoned_after_exit);
	tcase_add_test(kills, test_runner_kill_is_synchronous);

	tcase_add_test(checks, test_check_script_accepts_a_safe_script);
	tcase_add_test(checks, test_check_script_refusals);
	tcase_add_test(checks, test_check_script_root_sticky_dir_is_allowed);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(runner_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
