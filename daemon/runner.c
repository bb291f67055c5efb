/*
 * runner.c - see runner.h.
 *
 * The child is prepared by the parent as far as possible (pipes, /dev/null,
 * argv), so that between fork() and execve() it only makes system calls. An
 * exec-status pipe (close-on-exec) tells the parent whether execve() was
 * reached: EOF means it was, a struct exec_failure means the child gave up
 * before, naming the step and the errno. runner_start() then logs
 * "LOG_NAME: cannot execute '/x/check': Permission denied" and returns the
 * negative errno, so no run is ever reported as a mysterious exit 127.
 *
 * The process is watched through a pidfd (where there is none, as under
 * valgrind, it is looked at every RUNNER_POLL_MS). When it exits, the child
 * is a zombie; its process group is killed with SIGKILL *before* the zombie
 * is reaped, while its PID cannot have been reused, so grandchildren that
 * stayed in the group cannot keep the pipes open. A process that left the
 * group (setsid) and keeps a pipe open is abandoned after RUNNER_DRAIN_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "runner.h"
#include "util.h"

/* After the process exited, how long leftovers may keep its pipes open. */
#define RUNNER_DRAIN_MS 1000
/* Without a pidfd, how often the process is looked at. */
#define RUNNER_POLL_MS 50
/* runner_kill() waits at most this long for the killed process to die. */
#define RUNNER_REAP_WAIT_MS 500
#define RUNNER_READ_CHUNK (256 * 1024)
/* Reads per fd and runner_process() call: a chatty script cannot starve the loop. */
#define RUNNER_READS_PER_CALL 8
/* The size asked for the output pipe (1 MiB, the default fs.pipe-max-size). */
#define RUNNER_PIPE_SIZE (1024 * 1024)

enum exec_step {
	STEP_SIGNALS = 1,
	STEP_SETSID,
	STEP_FDS,
	STEP_CHDIR,
	STEP_GROUPS,
	STEP_GID,
	STEP_UID,
	STEP_REGAIN,
	STEP_EXEC,
};

struct exec_failure {
	int step;
	int error;
};

struct runner {
	pid_t pid;
	int pidfd;  /* -1 once reaped */
	int out_fd; /* -1 once closed */
	int err_fd;
	bool reaped;
	bool finished;
	int wait_status;
	bool status_lost; /* someone else reaped our child */

	int64_t term_at; /* INT64_MAX when not pending */
	int64_t kill_at;
	int64_t drain_at;
	int64_t poll_at; /* without a pidfd: next waitid(); INT64_MAX otherwise */
	uint64_t timeout_ms;
	uint64_t kill_grace_ms;
	bool timed_out;
	bool aborted;
	int abort_error;
	uint64_t output_bytes;

	runner_output_fn on_output;
	void *ctx;
	char *log_name;

	/* stderr: the current partial line and how much was logged this run. */
	char line[RUNNER_STDERR_MAX + 1];
	size_t line_len;
	size_t err_logged;
	bool err_truncated_line;
	bool err_dropped;
	char last_line[RUNNER_LAST_LINE_MAX]; /* the last non-empty stderr line, for runner_result() */

	uint8_t buf[RUNNER_READ_CHUNK];
};

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		(void)close(*fd);
		*fd = -1;
	}
}

/*
 * Move FD above 2 (close-on-exec), so that dup2() onto 0-2 in the child never
 * meets a source that is already the target (which would leave it
 * close-on-exec). A daemon started with closed standard fds gets them here.
 */
static int fd_above_stdio(int fd)
{
	int nfd;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0) {
		int r = -errno;

		(void)close(fd);
		return r;
	}
	(void)close(fd);
	return nfd;
}

static int make_pipe(int fds[2])
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	p[0] = fd_above_stdio(p[0]);
	p[1] = fd_above_stdio(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		int r = p[0] < 0 ? p[0] : p[1];

		if (p[0] >= 0)
			(void)close(p[0]);
		if (p[1] >= 0)
			(void)close(p[1]);
		return r;
	}
	fds[0] = p[0];
	fds[1] = p[1];
	return 0;
}

/* In the child: report why we cannot exec, and die. Only async-signal-safe calls. */
static _Noreturn void child_fail(int status_fd, int step, int error)
{
	struct exec_failure f = { .step = step, .error = error };
	ssize_t n;

	do
		n = write(status_fd, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

/* Mark every fd above 2 close-on-exec (the status pipe must live until execve). */
static void child_cloexec_from(unsigned int first)
{
	long max;

	if (close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	/* Kernels before 5.11: walk the descriptor table. */
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 1024 * 1024)
		max = 1024 * 1024;
	for (long fd = first; fd < max; fd++)
		(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

/*
 * The kernel's struct sigaction (asm-generic layout, as on x86-64 and arm64),
 * to reach the signals glibc keeps for itself (32, 33): they may arrive
 * ignored from whoever started the daemon, and SIG_IGN survives execve.
 */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void child_default_signal(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	if (sigaction(sig, &sa, NULL) < 0 && errno == EINVAL) {
		struct kernel_sigaction ksa;

		memset(&ksa, 0, sizeof(ksa));
		ksa.handler = SIG_DFL;
		(void)syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
	}
}

static _Noreturn void child_run(const struct runner_spec *spec, char *const *argv, int null_fd,
                                int out_w, int err_w, int status_fd, pid_t parent)
{
	sigset_t none;

	/*
	 * Dispositions first, then the mask: a signal ignored by the daemon must
	 * reach the script (SIG_IGN survives execve), and no handler of the
	 * daemon's may run in the child once signals are unblocked.
	 */
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			child_default_signal(sig);
	if (sigemptyset(&none) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(status_fd, STEP_SIGNALS, errno);

	if (setsid() < 0)
		child_fail(status_fd, STEP_SETSID, errno);

	if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 ||
	    dup2(err_w, STDERR_FILENO) < 0)
		child_fail(status_fd, STEP_FDS, errno);
	child_cloexec_from(3);

	if (chdir("/") < 0)
		child_fail(status_fd, STEP_CHDIR, errno);
	(void)umask(022);

	if (spec->change_user) {
		uid_t ru, eu, su;

		if (setgroups(1, &spec->gid) < 0)
			child_fail(status_fd, STEP_GROUPS, errno);
		if (setresgid(spec->gid, spec->gid, spec->gid) < 0)
			child_fail(status_fd, STEP_GID, errno);
		if (setresuid(spec->uid, spec->uid, spec->uid) < 0)
			child_fail(status_fd, STEP_UID, errno);
		/* Trust, but verify: a process that dropped root must not get it back. */
		if (getresuid(&ru, &eu, &su) < 0 || ru != spec->uid || eu != spec->uid ||
		    su != spec->uid)
			child_fail(status_fd, STEP_REGAIN, EPERM);
		if (spec->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
			child_fail(status_fd, STEP_REGAIN, EPERM);
	}

	/*
	 * A script must not outlive a daemon that died without killing it. Set
	 * after the credential change, which would clear it.
	 */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);

	(void)execve(spec->path, argv, spec->envp);
	child_fail(status_fd, STEP_EXEC, errno);
}

static const char *step_what(int step)
{
	switch (step) {
	case STEP_SIGNALS:
		return "cannot reset signals for";
	case STEP_SETSID:
		return "cannot start a session for";
	case STEP_FDS:
		return "cannot set up the standard fds of";
	case STEP_CHDIR:
		return "cannot change to / for";
	case STEP_GROUPS:
	case STEP_GID:
		return "cannot change group to run";
	case STEP_UID:
		return "cannot change user to run";
	case STEP_REGAIN:
		return "could regain root after dropping it for";
	default:
		return "cannot execute";
	}
}

static void runner_free_struct(struct runner *r)
{
	close_fd(&r->pidfd);
	close_fd(&r->out_fd);
	close_fd(&r->err_fd);
	free(r->log_name);
	free(r);
}

/* Block until PID is gone or TIMEOUT_MS passed. Returns true when reaped. */
static bool reap_blocking(pid_t pid, int pidfd, int timeout_ms, int *ret_status)
{
	int64_t deadline = now_boottime_ms() + timeout_ms;

	for (;;) {
		pid_t w = waitpid(pid, ret_status, WNOHANG);

		if (w == pid)
			return true;
		if (w < 0 && errno != EINTR)
			return false; /* ECHILD: already reaped by someone else */
		if (w == 0) {
			int64_t left = deadline - now_boottime_ms();
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

			if (left <= 0)
				return false;
			if (pidfd < 0) {
				(void)usleep(1000);
				continue;
			}
			(void)poll(&pfd, 1, (int)(left > INT_MAX ? INT_MAX : left));
		}
	}
}

int runner_start(const struct runner_spec *spec, struct runner **ret_runner)
{
	const char *name;
	char *default_argv[2];
	char *const *argv;
	struct runner *r;
	struct exec_failure failure;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, status[2] = { -1, -1 };
	int null_fd = -1;
	pid_t parent = getpid();
	pid_t pid;
	ssize_t n;
	int ret;

	if (!spec || !spec->path || spec->path[0] != '/' || !spec->envp || !ret_runner)
		return -EINVAL;
	name = spec->log_name ? spec->log_name : spec->path;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->pid = -1;
	r->pidfd = r->out_fd = r->err_fd = -1;
	r->term_at = r->kill_at = r->drain_at = r->poll_at = INT64_MAX;
	r->timeout_ms = spec->timeout_ms;
	r->on_output = spec->on_output;
	r->ctx = spec->ctx;
	r->log_name = strdup(name);
	if (!r->log_name) {
		free(r);
		return -ENOMEM;
	}

	default_argv[0] = (char *)spec->path;
	default_argv[1] = NULL;
	argv = spec->argv ? spec->argv : default_argv;

	if ((ret = make_pipe(out)) < 0 || (ret = make_pipe(err)) < 0 || (ret = make_pipe(status)) < 0)
		goto fail;
	/*
	 * A download streams through the output pipe: the larger it is, the
	 * fewer times the script and the daemon wait for each other (best
	 * effort: the kernel caps it at fs.pipe-max-size).
	 */
	(void)fcntl(out[0], F_SETPIPE_SZ, RUNNER_PIPE_SIZE);
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (null_fd < 0) {
		ret = -errno;
		goto fail;
	}
	null_fd = fd_above_stdio(null_fd);
	if (null_fd < 0) {
		ret = null_fd;
		null_fd = -1;
		goto fail;
	}
	/* select() cannot watch descriptors at or above FD_SETSIZE. */
	if (out[0] >= FD_SETSIZE || err[0] >= FD_SETSIZE) {
		ret = -EMFILE;
		goto fail;
	}
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0) {
		ret = -errno;
		goto fail;
	}

	pid = fork();
	if (pid < 0) {
		ret = -errno;
		log_err("%s: cannot fork to run '%s': %m", name, spec->path);
		goto fail;
	}
	if (pid == 0)
		child_run(spec, argv, null_fd, out[1], err[1], status[1], parent);

	r->pid = pid;
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&status[1]);
	close_fd(&null_fd);

	/* The child writes a failure and exits, or execs: either ends this read quickly. */
	do
		n = read(status[0], &failure, sizeof(failure));
	while (n < 0 && errno == EINTR);
	close_fd(&status[0]);
	if (n == (ssize_t)sizeof(failure)) {
		int st;

		ret = failure.error > 0 ? -failure.error : -EIO;
		(void)reap_blocking(pid, -1, 5000, &st);
		log_err("%s: %s '%s': %s", name, step_what(failure.step), spec->path,
		        strerror(-ret));
		r->pid = -1;
		goto fail;
	}

	ret = sys_pidfd_open(pid);
	if (ret < 0)
		ret = -errno;
	else
		ret = fd_above_stdio(ret);
	if (ret >= FD_SETSIZE) {
		(void)close(ret);
		ret = -EMFILE;
	}
	/* No pidfd (valgrind, kernels before 5.3, seccomp): poll instead. */
	if (ret == -ENOSYS) {
		r->poll_at = now_boottime_ms() + RUNNER_POLL_MS;
		ret = -1;
	}
	if (ret < -1) {
		int st;

		log_err("%s: cannot watch the process of '%s': %s", name, spec->path, strerror(-ret));
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		(void)reap_blocking(pid, -1, 5000, &st);
		r->pid = -1;
		goto fail;
	}
	r->pidfd = ret; /* -1 when polling */
	r->out_fd = out[0];
	r->err_fd = err[0];
	r->kill_grace_ms = spec->kill_grace_ms ? spec->kill_grace_ms : RUNNER_KILL_GRACE_MS;
	if (r->kill_grace_ms > INT64_MAX / 4)
		r->kill_grace_ms = INT64_MAX / 4;
	if (spec->timeout_ms > 0)
		r->term_at = now_boottime_ms() + (int64_t)(spec->timeout_ms > INT64_MAX / 4 ?
		                                           INT64_MAX / 4 : spec->timeout_ms);
	*ret_runner = r;
	return 0;

fail:
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	close_fd(&status[0]);
	close_fd(&status[1]);
	close_fd(&null_fd);
	runner_free_struct(r);
	return ret;
}

pid_t runner_pid(const struct runner *r)
{
	return r ? r->pid : -1;
}

void runner_fill_fds(const struct runner *r, fd_set *rfds, int *maxfd)
{
	int fds[3];

	if (!r || r->finished)
		return;
	fds[0] = r->out_fd;
	fds[1] = r->err_fd;
	fds[2] = r->reaped ? -1 : r->pidfd;
	for (size_t i = 0; i < 3; i++) {
		if (fds[i] < 0)
			continue;
		FD_SET(fds[i], rfds);
		if (fds[i] > *maxfd)
			*maxfd = fds[i];
	}
}

int64_t runner_deadline(const struct runner *r)
{
	int64_t d = INT64_MAX;

	if (!r || r->finished)
		return INT64_MAX;
	if (r->term_at < d)
		d = r->term_at;
	if (r->kill_at < d)
		d = r->kill_at;
	if (r->drain_at < d)
		d = r->drain_at;
	if (r->poll_at < d)
		d = r->poll_at;
	return d;
}

/* The group dies with the leader; before the leader is reaped its PID is still ours. */
static void signal_group(struct runner *r, int sig)
{
	if (r->pid <= 0 || r->reaped)
		return;
	if (kill(-r->pid, sig) < 0 && errno == ESRCH)
		(void)kill(r->pid, sig);
}

/* Replace what would confuse a log reader (escape sequences, CR) with '?'. */
static void sanitize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			s[i] = '?';
	}
}

static void stderr_drop(struct runner *r)
{
	if (r->err_dropped)
		return;
	r->err_dropped = true;
	log_warn("%s: more than %d bytes on stderr; the rest is dropped", r->log_name,
	         RUNNER_STDERR_MAX);
}

/*
 * Log the buffered line if it fits in what is left of the budget (its bytes
 * and a newline). Only whole lines are logged, except that a first line
 * longer than the whole budget is logged cut, so it is not lost entirely.
 */
static void stderr_end_line(struct runner *r)
{
	size_t cost = r->line_len + 1;

	if (r->err_dropped)
		return;
	if (r->err_logged + cost > RUNNER_STDERR_MAX &&
	    !(r->err_logged == 0 && r->err_truncated_line)) {
		stderr_drop(r);
		return;
	}
	r->line[r->line_len] = '\0';
	sanitize(r->line, r->line_len);
	if (r->line_len > 0) {
		size_t n = r->line_len < sizeof(r->last_line) - 1 ? r->line_len : sizeof(r->last_line) - 1;

		memcpy(r->last_line, r->line, n);
		r->last_line[n] = '\0';
	}
	log_warn("%s: %s%s", r->log_name, r->line, r->err_truncated_line ? " [truncated]" : "");
	r->err_logged += cost > RUNNER_STDERR_MAX ? RUNNER_STDERR_MAX : cost;
	r->line_len = 0;
	r->err_truncated_line = false;
}

static void stderr_feed(struct runner *r, const char *buf, size_t len)
{
	for (size_t i = 0; i < len && !r->err_dropped; i++) {
		if (buf[i] == '\n') {
			stderr_end_line(r);
			continue;
		}
		/* One byte is kept for the newline the budget counts. */
		if (r->line_len < RUNNER_STDERR_MAX - 1)
			r->line[r->line_len++] = buf[i];
		else
			r->err_truncated_line = true;
	}
}

/* At the end of the run: the last line may lack its newline. */
static void stderr_flush(struct runner *r)
{
	if (r->line_len > 0 || r->err_truncated_line)
		stderr_end_line(r);
}

/* Read what is there. Returns with the fd closed on EOF or error. */
static void drain_fd(struct runner *r, int *fd, bool is_stdout)
{
	for (int i = 0; i < RUNNER_READS_PER_CALL && *fd >= 0; i++) {
		ssize_t n = read(*fd, r->buf, sizeof(r->buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			log_warn("%s: cannot read the script's %s: %m", r->log_name,
			         is_stdout ? "output" : "stderr");
			close_fd(fd);
			return;
		}
		if (n == 0) {
			close_fd(fd);
			return;
		}
		if (!is_stdout) {
			stderr_feed(r, (const char *)r->buf, (size_t)n);
			continue;
		}
		if (r->aborted)
			continue; /* keep the pipe drained until the group is gone */
		r->output_bytes += (uint64_t)n;
		if (r->on_output) {
			int cr = r->on_output(r->ctx, r->buf, (size_t)n);

			if (cr < 0) {
				r->aborted = true;
				r->abort_error = cr;
				signal_group(r, SIGKILL);
				r->term_at = r->kill_at = INT64_MAX;
				/* Nothing more is wanted: do not wait for this pipe. */
				close_fd(fd);
				return;
			}
		}
	}
}

/* Reap the process when it has exited; nothing when it still runs. */
static void reap(struct runner *r, int64_t now_ms)
{
	siginfo_t si;
	int status = 0;
	pid_t w;

	/* Look without reaping: only a zombie may have its group killed. */
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
		if (si.si_pid == 0)
			return; /* still running */
		/* The zombie holds its PID: kill what is left of the group, then reap. */
		(void)kill(-r->pid, SIGKILL);
		do
			w = waitpid(r->pid, &status, 0);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			r->status_lost = true;
	} else if (errno == ECHILD) {
		r->status_lost = true; /* reaped behind our back */
	} else {
		return;
	}
	r->wait_status = status;
	r->reaped = true;
	close_fd(&r->pidfd);
	r->term_at = r->kill_at = r->poll_at = INT64_MAX;
	r->drain_at = now_ms + RUNNER_DRAIN_MS;
}

int runner_process(struct runner *r, const fd_set *rfds, int64_t now_ms)
{
	if (!r)
		return 1;
	if (r->finished)
		return 1;

	if (r->out_fd >= 0 && FD_ISSET(r->out_fd, rfds))
		drain_fd(r, &r->out_fd, true);
	if (r->err_fd >= 0 && FD_ISSET(r->err_fd, rfds))
		drain_fd(r, &r->err_fd, false);
	if (!r->reaped && r->pidfd >= 0 && FD_ISSET(r->pidfd, rfds)) {
		/* Read what the script wrote before it exited, then reap. */
		if (r->out_fd >= 0)
			drain_fd(r, &r->out_fd, true);
		reap(r, now_ms);
	} else if (!r->reaped && r->pidfd < 0 && now_ms >= r->poll_at) {
		reap(r, now_ms);
		if (!r->reaped)
			r->poll_at = now_ms + RUNNER_POLL_MS;
	}

	if (!r->reaped) {
		if (now_ms >= r->term_at) {
			r->timed_out = true;
			r->term_at = INT64_MAX;
			log_warn("%s: timed out after %" PRIu64 " ms; sending SIGTERM", r->log_name,
			         r->timeout_ms);
			signal_group(r, SIGTERM);
			/* A stopped process would never see the SIGTERM. */
			signal_group(r, SIGCONT);
			r->kill_at = now_ms + (int64_t)r->kill_grace_ms;
		}
		if (now_ms >= r->kill_at) {
			r->kill_at = INT64_MAX;
			log_warn("%s: still running %" PRIu64 " ms after SIGTERM; sending SIGKILL",
			         r->log_name, r->kill_grace_ms);
			signal_group(r, SIGKILL);
		}
	} else if ((r->out_fd >= 0 || r->err_fd >= 0) && now_ms >= r->drain_at) {
		log_warn("%s: a process that left the script's process group keeps its output open; "
		         "no longer reading it",
		         r->log_name);
		close_fd(&r->out_fd);
		close_fd(&r->err_fd);
	}

	if (r->reaped && r->out_fd < 0 && r->err_fd < 0) {
		stderr_flush(r);
		r->finished = true;
		r->drain_at = INT64_MAX;
		return 1;
	}
	return 0;
}

void runner_result(const struct runner *r, struct runner_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->output_bytes = r->output_bytes;
	ret->timeout_ms = r->timeout_ms;
	memcpy(ret->last_stderr, r->last_line, sizeof(ret->last_stderr));
	if (r->aborted) {
		ret->status = RUNNER_ABORTED;
		ret->abort_error = r->abort_error;
	} else if (r->timed_out) {
		ret->status = RUNNER_TIMED_OUT;
	} else if (r->status_lost) {
		/* Reaped behind our back: the exit status is unknown. */
		ret->status = RUNNER_EXITED;
		ret->exit_code = 127;
	} else if (WIFSIGNALED(r->wait_status)) {
		ret->status = RUNNER_SIGNALED;
		ret->term_signal = WTERMSIG(r->wait_status);
	} else {
		ret->status = RUNNER_EXITED;
		ret->exit_code = WEXITSTATUS(r->wait_status);
	}
}

void runner_describe(const struct runner_result *res, char *buf, size_t size)
{
	const char *abbrev;

	switch (res->status) {
	case RUNNER_EXITED:
		(void)snprintf(buf, size, "exited with status %d", res->exit_code);
		break;
	case RUNNER_SIGNALED:
		abbrev = sigabbrev_np(res->term_signal);
		if (abbrev)
			(void)snprintf(buf, size, "killed by signal %d (SIG%s)", res->term_signal, abbrev);
		else
			(void)snprintf(buf, size, "killed by signal %d", res->term_signal);
		break;
	case RUNNER_TIMED_OUT:
		if (res->timeout_ms % 1000 == 0)
			(void)snprintf(buf, size, "timed out after %" PRIu64 " s", res->timeout_ms / 1000);
		else
			(void)snprintf(buf, size, "timed out after %" PRIu64 " ms", res->timeout_ms);
		break;
	case RUNNER_ABORTED:
		(void)snprintf(buf, size, "stopped: %s",
		               res->abort_error < 0 ? strerror(-res->abort_error) : "aborted");
		break;
	default:
		(void)snprintf(buf, size, "unknown result");
		break;
	}
}

void runner_kill(struct runner *r)
{
	if (!r || r->finished)
		return;
	if (!r->reaped) {
		int status = 0;

		signal_group(r, SIGKILL);
		if (reap_blocking(r->pid, r->pidfd, RUNNER_REAP_WAIT_MS, &status))
			r->wait_status = status;
		else
			r->status_lost = true;
		r->reaped = true;
	}
	close_fd(&r->pidfd);
	close_fd(&r->out_fd);
	close_fd(&r->err_fd);
	stderr_flush(r);
	if (!r->aborted) {
		r->aborted = true;
		r->abort_error = -ECANCELED;
	}
	r->term_at = r->kill_at = r->drain_at = r->poll_at = INT64_MAX;
	r->finished = true;
}

void runner_free(struct runner *r)
{
	if (!r)
		return;
	runner_kill(r);
	runner_free_struct(r);
}

/* --- runner_check_script -------------------------------------------- */

static void describe_owner(uid_t uid, char *buf, size_t size)
{
	struct passwd *pw = getpwuid(uid);

	if (pw && pw->pw_name)
		(void)snprintf(buf, size, "%s (uid %u)", pw->pw_name, (unsigned)uid);
	else
		(void)snprintf(buf, size, "uid %u", (unsigned)uid);
}

/*
 * DIR and each of its parents must be owned by root or OWNER and not be
 * writable by group or others, unless root-owned and sticky: anyone who can
 * rename an entry on the way can swap the script for their own.
 */
static int check_dir_chain(const char *dir, uid_t owner, char *err, size_t err_size)
{
	char path[PATH_MAX];
	char who[96];
	size_t len;
	struct stat st;

	len = strlen(dir);
	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (;;) {
		char *slash;

		if (stat(path, &st) < 0) {
			int r = -errno;

			(void)snprintf(err, err_size, "cannot check directory '%s': %s", path,
			               strerror(-r));
			return r;
		}
		if (st.st_uid != 0 && st.st_uid != owner) {
			describe_owner(st.st_uid, who, sizeof(who));
			(void)snprintf(err, err_size, "directory '%s' is owned by %s", path, who);
			return -EPERM;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_uid == 0 && (st.st_mode & S_ISVTX))) {
			(void)snprintf(err, err_size, "directory '%s' is writable by group or others",
			               path);
			return -EPERM;
		}
		if (strcmp(path, "/") == 0)
			return 0;
		slash = strrchr(path, '/');
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

static int parent_dir(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash)
		return -EINVAL;
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, path, len);
	buf[len] = '\0';
	return 0;
}

int runner_check_script(const char *path, uid_t owner, char *err, size_t err_size)
{
	char real[PATH_MAX];
	char dir[PATH_MAX];
	char link_dir[PATH_MAX];
	char who[96];
	struct stat st;
	int r;

	if (!path || path[0] != '/') {
		(void)snprintf(err, err_size, "'%s' is not an absolute path", path ? path : "");
		return -EINVAL;
	}
	if (!realpath(path, real)) {
		r = -errno;
		(void)snprintf(err, err_size, "cannot resolve '%s': %s", path, strerror(-r));
		return r;
	}
	if (stat(real, &st) < 0) {
		r = -errno;
		(void)snprintf(err, err_size, "cannot check '%s': %s", path, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(err, err_size, "'%s' is not a regular file", path);
		return -EPERM;
	}
	if (st.st_uid != owner) {
		char want[96];

		describe_owner(st.st_uid, who, sizeof(who));
		describe_owner(owner, want, sizeof(want));
		if (strcmp(path, real) == 0)
			(void)snprintf(err, err_size, "'%s' is owned by %s, not by %s", path, who, want);
		else
			(void)snprintf(err, err_size, "'%s' (-> '%s') is owned by %s, not by %s", path,
			               real, who, want);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		if (strcmp(path, real) == 0)
			(void)snprintf(err, err_size, "'%s' is writable by group or others", path);
		else
			(void)snprintf(err, err_size, "'%s' (-> '%s') is writable by group or others",
			               path, real);
		return -EPERM;
	}
	r = parent_dir(real, dir, sizeof(dir));
	if (r < 0) {
		(void)snprintf(err, err_size, "'%s': %s", path, strerror(-r));
		return r;
	}
	r = check_dir_chain(dir, owner, err, err_size);
	if (r < 0)
		return r;
	/* A symlink is only as safe as the directory that holds it. */
	if (strcmp(path, real) != 0) {
		char given_dir[PATH_MAX];

		r = parent_dir(path, given_dir, sizeof(given_dir));
		if (r == 0 && !realpath(given_dir, link_dir))
			r = -errno;
		if (r < 0) {
			(void)snprintf(err, err_size, "cannot resolve the directory of '%s': %s", path,
			               strerror(-r));
			return r;
		}
		if (strcmp(link_dir, dir) != 0)
			return check_dir_chain(link_dir, owner, err, err_size);
	}
	return 0;
}
