/*
 * run.h - the modules of updater-run, the supervisor that restarts programs
 * into new versions.
 *
 *   main.c          options, the event loop, starting a generation of PROGRAM
 *   log.c           "updater-run: " lines on stderr
 *   signal.c        signal names <-> numbers
 *   tree.c          the tree of processes under updater-run: reap, kill, cgroup
 *   listen.c        --listen sockets, handed to every start as LISTEN_FDS
 *   notify.c        the NOTIFY_SOCKET a program sends READY=1 to
 *   watch.c         --restart-on-update: has PROGRAM's file been replaced
 *   backoff.c       --restart: the wait before the next start
 *
 * Functions return 0 (or a count or a descriptor) on success and a negative
 * errno value on failure; output parameters are named ret_* and are left
 * untouched on failure. Errors are for the event loop to report: the other
 * modules log nothing but debug lines (what they fell back to, and why).
 */
#ifndef UPDATER_RUN_H
#define UPDATER_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- log.c -------------------------------------------------------------- */

enum run_log_level {
	RUN_LOG_ERR,
	RUN_LOG_WARN,
	RUN_LOG_NOTICE, /* printed by default: restarts, failures */
	RUN_LOG_INFO,   /* printed with -v */
	RUN_LOG_DEBUG,  /* printed with -v */
};

void run_log_set_verbose(bool verbose);
bool run_log_is_verbose(void);
/* Print "updater-run: [error: |warning: ]MESSAGE\n" to stderr; keeps errno. */
void run_log(enum run_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) run_log(RUN_LOG_ERR, __VA_ARGS__)
#define log_warn(...) run_log(RUN_LOG_WARN, __VA_ARGS__)
#define log_notice(...) run_log(RUN_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) run_log(RUN_LOG_INFO, __VA_ARGS__)
#define log_debug(...) run_log(RUN_LOG_DEBUG, __VA_ARGS__)

/* ---- signal.c ----------------------------------------------------------- */

/* "TERM", "SIGTERM", "sigterm" or "15" -> 15, "RTMIN+2" -> 36; -EINVAL for
 * anything else. */
int signal_from_string(const char *s);
/* 15 -> "SIGTERM", 36 -> "SIGRTMIN+2"; else "signal N" (a static buffer). */
const char *signal_to_string(int sig);

/* What a signal sent to updater-run does (the table of updater-run(1)). */
enum signal_role {
	SIGROLE_UNCATCHABLE, /* SIGKILL, SIGSTOP: the kernel acts alone */
	SIGROLE_REAP,        /* SIGCHLD */
	SIGROLE_RESTART,     /* SIGHUP */
	SIGROLE_TERMINATE,   /* SIGTERM, SIGINT, SIGQUIT, a --stop-signal with no
			      * other role: forwarded, then no further start */
	SIGROLE_STOP_TREE,   /* SIGPWR: the tree is stopped, no further start */
	SIGROLE_JOB_STOP,    /* SIGTSTP, SIGTTIN, SIGTTOU: PROGRAM's group stops
			      * (SIGSTOP unless rewritten), then updater-run */
	SIGROLE_CONTINUE,    /* SIGCONT: forwarded; PROGRAM gets the terminal back */
	SIGROLE_FATAL,       /* SEGV, BUS, ILL, FPE, TRAP, SYS, ABRT: never
			      * forwarded; the tree is stopped, then updater-run
			      * dies of the signal (ignored as PID 1) */
	SIGROLE_FORWARD,     /* every other signal: forwarded to PROGRAM's group */
};

enum signal_role signal_role(int sig, int stop_signal);
/* True for the roles whose signal PROGRAM's group receives (so --rewrite
 * may change it). */
bool signal_role_is_forwarded(enum signal_role role);
/* "FROM:TO" (names or numbers; TO may be 0) -> *ret_from, *ret_to. */
int signal_parse_rewrite(const char *arg, int *ret_from, int *ret_to);
/* Every signal but SIGKILL and SIGSTOP, glibc's own 32 and 33 included. */
void signal_fill_all(sigset_t *set);
/* Block that set (the kernel's call: glibc's would leave 32 and 33 out);
 * *ret_set is what to give signalfd(). */
int signal_block_all(sigset_t *ret_set);
/* Unblock every signal; async-signal-safe (for the child before exec). */
void signal_unblock_all(void);

/* ---- tree.c ------------------------------------------------------------- */

/*
 * Every process that starts under updater-run ends as its child: PROGRAM is
 * forked by it, and every orphan below is reparented to it, because it is
 * PID 1 of its namespace or a child subreaper. So the tree is empty exactly
 * when updater-run has no child left, and killing "every descendant" means:
 *
 *   - as PID 1: kill(-1), which reaches every process of the namespace;
 *   - otherwise: PROGRAM's process group, and, when cgroup v2 is writable,
 *     the members of a cgroup of the tree's own, which every start is born
 *     in (clone3 with CLONE_INTO_CGROUP, or a move before exec where that is
 *     refused): one read of cgroup.procs, one write of cgroup.kill for the
 *     final SIGKILL, however many processes the machine runs;
 *   - without a cgroup (or when a start could not enter it): every process
 *     whose parent chain in /proc leads to updater-run (catches those that
 *     called setsid and left the group).
 */
struct tree {
	pid_t self;
	bool pid1;          /* updater-run is PID 1: kill(-1) is exact */
	bool proc_ok;       /* /proc shows our PID namespace: the walk is valid */
	int cgroup_dir_fd;  /* our own cgroup, or -1 */
	int cgroup_procs_fd; /* its cgroup.procs opened for writing, or -1 */
	char *cgroup_path;
	bool cgroup_exact;   /* every start entered the cgroup: it is the tree */
	bool cgroup_has_kill; /* cgroup.kill (Linux 5.14) */
	bool clone3_refused; /* clone3(CLONE_INTO_CGROUP) failed once: fork */
	bool child_must_enter; /* set by tree_fork for the child: move yourself */
	bool cgroup_killed;  /* cgroup.kill was written: renewed before a start */
};

/* Become PID 1 or a subreaper, check /proc, and (unless no_cgroup, or as
 * PID 1) try to create a cgroup for the tree. Failures to create the cgroup
 * are not errors: they are logged at debug level. */
int tree_init(struct tree *t, bool no_cgroup);
/* Remove the cgroup (it must be empty: call once the tree is). */
void tree_done(struct tree *t);
/* fork() for a start of PROGRAM: the child is born in the cgroup when
 * there is one (clone3, CLONE_INTO_CGROUP), else it must call
 * tree_child_enter. 0 in the child, its PID in the parent, -errno. */
pid_t tree_fork(struct tree *t);
/* In the child, before exec (async-signal-safe): move into the cgroup if
 * tree_fork could not start us there. -errno when that failed. */
int tree_child_enter(const struct tree *t);
/* A child reported that tree_child_enter failed: the cgroup no longer
 * holds the whole tree, so kills walk /proc as well. */
void tree_note_escaped(struct tree *t);
/* Signal every descendant (see above), and then_cont: SIGCONT right after,
 * in the same pass. With signal_group, the group pgid is signalled as a
 * whole (atomically, forks included); its members are then never signalled
 * one by one, nor, without signal_group, are they signalled at all (they
 * already got one) - except by SIGKILL, which reaches every process.
 * Returns how many processes were signalled one by one. */
int tree_kill(struct tree *t, pid_t pgid, bool signal_group, int sig, bool then_cont);
/* True while updater-run has a child, exited or not (does not reap). */
bool tree_has_children(void);
/* True when PID is a descendant of updater-run (walking /proc), or when that
 * cannot be known (no usable /proc). */
bool tree_contains(const struct tree *t, pid_t pid);

/* ---- listen.c ----------------------------------------------------------- */

#define LISTEN_NAME_MAX 255

struct listen_sock {
	char *spec;      /* as given, without the NAME= part */
	char *name;      /* for LISTEN_FDNAMES: never contains ':' */
	char *unix_path; /* a filesystem socket we created and unlink at exit */
	/* unix:PATH[,mode=OCTAL][,user=U][,group=G]: PATH, and what its file gets. */
	char *unix_want;
	mode_t unix_mode; /* 0666 unless mode= says; never the umask's */
	uid_t unix_uid;   /* (uid_t)-1: unchanged */
	gid_t unix_gid;   /* (gid_t)-1: unchanged */
	dev_t unix_dev;   /* who the file at unix_path is: unlinked at exit only while it still is */
	ino_t unix_ino;
	int fd;
};

/* Check "[NAME=]tcp:HOST:PORT" or "[NAME=]unix:PATH[,mode=0660][,user=U][,group=G]"
 * and fill *ret (fd -1). -EINVAL with *ret_why set to a reason for people on
 * a bad spec. */
int listen_parse(const char *arg, struct listen_sock *ret, const char **ret_why);
/* Create, bind and listen. -errno, with *ret_what naming the failed step. A
 * unix socket file is replaced only when it is stale (connect() refused):
 * -EADDRINUSE when a program still listens there. */
int listen_open(struct listen_sock *l, const char **ret_what);
/* Adopt sockets a service manager passed to updater-run itself (LISTEN_PID
 * is our pid): *ret_socks is a new array of *ret_n entries (maybe 0). */
int listen_adopt(struct listen_sock **ret_socks, size_t *ret_n);
void listen_close(struct listen_sock *l);

/* ---- notify.c ----------------------------------------------------------- */

/* A datagram socket on a random abstract address, credentials on. The
 * NOTIFY_SOCKET value ("@...") is written to ret_addr (size len). */
int notify_open(char *ret_addr, size_t len);

struct notify_msg {
	pid_t pid;       /* the sender, from SCM_CREDENTIALS; 0 when absent */
	bool ready;      /* READY=1 */
	bool stopping;   /* STOPPING=1 */
	char status[128]; /* STATUS=..., "" when absent */
};

/* Read one datagram (non-blocking). 1 with *ret filled, 0 when nothing is
 * queued, -errno on error. Any descriptor passed along is closed. */
int notify_receive(int fd, struct notify_msg *ret);

/* Send MSG to a NOTIFY_SOCKET address ("/path" or "@abstract"): how
 * updater-run, itself under a service manager, passes readiness on. */
int notify_send(const char *addr, const char *msg);

/* ---- watch.c ------------------------------------------------------------ */

/*
 * Noticing that PROGRAM's file was replaced. The events come from
 * libupdater's watch (client/lib/watch.h: inotify on every directory the
 * path goes through, and updaterd's notifications); they only say "look
 * again". The decision is always the same comparison of the device and
 * inode now at the path with those of the file last started.
 */
#include "watch.h"

struct program_watch {
	struct watch events; /* events.epfd < 0: not watching */
	bool have_started;
	dev_t dev;           /* of the file last started */
	ino_t ino;
};

/* Watch PATH (absolute). 0, or a negative errno (then nothing is watched). */
int program_watch_open(struct program_watch *w, const char *path);
void program_watch_close(struct program_watch *w);
/* Remember the file at the path as the running one (call before a start). */
void program_watch_note_started(struct program_watch *w);
/* Drain the events: what was seen (WATCH_SAW_* bits) when the file at the
 * path is now another one, complete (a regular, executable file); else 0. */
unsigned program_watch_handle(struct program_watch *w);

/* ---- backoff.c ---------------------------------------------------------- */

/* The wait, in seconds, before PROGRAM starts again after a start that ran
 * for UPTIME_MS and came after a wait of PREV_S (0 before the first wait):
 * 1 s, doubling up to 60 s, and 1 s again once a start ran for 60 s. */
unsigned run_backoff_next(unsigned prev_s, int64_t uptime_ms);

/* ---- main.c helpers shared with modules ------------------------------- */

/* CLOCK_MONOTONIC in milliseconds. */
int64_t run_now_ms(void);

#endif
