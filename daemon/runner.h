/*
 * runner.h - run a script popen-style, without blocking the daemon's loop
 * (SPEC section 6).
 *
 * runner_start() forks and execs the program directly (never through a
 * shell) with exactly the given environment, as the given user, in its own
 * session and process group, in "/", with umask 022, stdin from /dev/null and
 * only fds 0-2 open. Its stdout is delivered to a callback as it arrives, its
 * stderr is logged line by line under LOG_NAME (at most RUNNER_STDERR_MAX
 * bytes a run). The caller's select() loop drives it:
 *
 *     runner_fill_fds(r, &rfds, &maxfd);      before select()
 *     deadline = runner_deadline(r);          include in the select() timeout
 *     if (runner_process(r, &rfds, now) > 0)  after select(): 1 when finished
 *             runner_result(r, &res);
 *     runner_free(r);
 *
 * The process is watched with a pidfd, so no SIGCHLD handling is needed.
 * When the timeout passes, the whole process group gets SIGTERM, and SIGKILL
 * RUNNER_KILL_GRACE_MS later. When the callback returns a negative value, the
 * group is killed at once and the run ends as aborted.
 */
#ifndef UPDATER_RUNNER_H
#define UPDATER_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/types.h>

#define RUNNER_STDERR_MAX 4096
#define RUNNER_KILL_GRACE_MS 5000
#define RUNNER_LAST_LINE_MAX 256

struct runner;

/* Called with each chunk of the script's stdout. Return 0 to go on, or a negative errno to abort the run. */
typedef int (*runner_output_fn)(void *ctx, const uint8_t *buf, size_t len);

struct runner_spec {
	const char *path;         /* absolute path of the executable */
	char *const *argv;        /* argv[0] included; NULL means { path, NULL } */
	char *const *envp;        /* the complete environment */
	bool change_user;         /* false: keep the daemon's credentials */
	uid_t uid;                /* when change_user */
	gid_t gid;                /* when change_user; also the only group */
	uint64_t timeout_ms;      /* 0: none */
	const char *log_name;     /* stderr lines are logged as "LOG_NAME: line" */
	runner_output_fn on_output; /* NULL: stdout is discarded */
	void *ctx;
	uint64_t kill_grace_ms;   /* SIGTERM to SIGKILL after a timeout; 0: RUNNER_KILL_GRACE_MS */
};

enum runner_status {
	RUNNER_EXITED,    /* exit_code is valid */
	RUNNER_SIGNALED,  /* term_signal is valid */
	RUNNER_TIMED_OUT, /* killed after timeout_ms */
	RUNNER_ABORTED,   /* killed because on_output returned an error (abort_error) */
};

struct runner_result {
	enum runner_status status;
	int exit_code;
	int term_signal;
	int abort_error; /* the negative errno the callback returned */
	uint64_t output_bytes;
	uint64_t timeout_ms; /* the spec's, for runner_describe() */
	char last_stderr[RUNNER_LAST_LINE_MAX]; /* its last non-empty line that was logged (cut), "" none */
};

/*
 * Check that PATH may be run by a root daemon: a regular file, owned by
 * OWNER, not writable by group or others, in a directory not writable by
 * group or others unless it is root-owned and sticky. Symlinks are followed
 * and the checks apply to the final file. Returns 0, or a negative errno with
 * a sentence in ERR ("'/x/check' is writable by group or others").
 */
int runner_check_script(const char *path, uid_t owner, char *err, size_t err_size);

/*
 * Start the program. Returns 0 and a new runner, or a negative errno (nothing
 * is left running). When the child cannot get as far as execve() (missing or
 * non-executable file, user change refused...), the reason is logged as
 * "LOG_NAME: cannot execute '/x/check': Permission denied" and its errno is
 * returned: a failed exec is never reported as an exit status.
 */
int runner_start(const struct runner_spec *spec, struct runner **ret_runner);

pid_t runner_pid(const struct runner *r);
void runner_fill_fds(const struct runner *r, fd_set *rfds, int *maxfd);
/* The next CLOCK_BOOTTIME deadline in ms (timeout or kill), or INT64_MAX. */
int64_t runner_deadline(const struct runner *r);
/* Handle readable fds and deadlines. Returns 1 when the run is over (process reaped, pipes closed), else 0. */
int runner_process(struct runner *r, const fd_set *rfds, int64_t now_ms);
/* Valid once runner_process returned 1. */
void runner_result(const struct runner *r, struct runner_result *ret);
/* A human sentence for a result: "exited with status 3", "timed out after 300 s". */
void runner_describe(const struct runner_result *res, char *buf, size_t size);
/*
 * SIGKILL the whole process group and reap it (waiting at most 0.5 s), without
 * waiting for pipes. Afterwards the run is over: runner_result() reports
 * RUNNER_ABORTED with abort_error -ECANCELED unless it had ended already.
 */
void runner_kill(struct runner *r);
/* Kills the group first if still running. NULL is allowed. */
void runner_free(struct runner *r);

#endif
