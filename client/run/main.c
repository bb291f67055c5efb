/*
 * updater-run - a supervisor, and PID 1 for containers, that restarts
 * PROGRAM into a new version without refusing a connection.
 *
 *   updater-run [OPTIONS] -- PROGRAM [ARG...]
 *
 * One loop waits, with the nearest deadline as its timeout, for signals (a
 * signalfd: every signal we handle is blocked, so a signal is an event like
 * any other), READY=1 on the notify socket, and news of a new file. The
 * supervised tree moves through three phases:
 *
 *   RUNNING   a generation of PROGRAM runs (maybe not ready yet)
 *   STOPPING  the tree got --stop-signal; SIGKILL follows after --grace; it
 *             ends when updater-run has no child left, then comes what was
 *             decided: exit, start again now, or start again after a backoff
 *   WAITING   the backoff before the next start
 *
 * With --notify and --listen, a restart is overlapped: the next generation
 * starts beside the one that serves (the "incoming" one), on the same
 * sockets, and the old one gets --stop-signal (it "retires") only once the
 * new one sent READY=1. An incoming generation that exits or misses
 * --ready-timeout is killed and the old one serves on.
 *
 * Listening sockets (--listen) belong to updater-run for its whole life, so
 * connections that arrive while no generation accepts wait in their backlog.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

#define EXIT_USAGE 2
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

/* After SIGKILL, the kill is repeated this often until the tree is empty, in
 * case a process forked while the first one went out. */
#define REKILL_MS 1000

extern char **environ;

enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS };
enum phase { PHASE_RUNNING, PHASE_STOPPING, PHASE_WAITING, PHASE_DONE };
enum next { NEXT_EXIT, NEXT_START, NEXT_BACKOFF };

struct options {
	int64_t grace_ms;
	int stop_signal;
	enum restart_policy restart;
	bool restart_on_update;
	bool notify;
	int64_t ready_timeout_ms;
	bool no_cgroup;
	struct listen_sock *listens;
	size_t n_listens;
	int rewrite[NSIG];  /* --rewrite: what PROGRAM gets instead; -1 unchanged */
	char **argv; /* PROGRAM [ARG...] */
};

struct run {
	struct options o;
	char *path;            /* PROGRAM, absolute */
	char **envp;           /* the environment of every start */
	char *env_own[4];      /* the entries of envp we allocated */
	size_t n_env_own;
	char *upstream_notify; /* our own NOTIFY_SOCKET, with --notify */
	char *listen_pid_slot; /* the value of LISTEN_PID= in envp, set by the child */
	int *child_fds;        /* scratch for the child: n_listens entries */
	bool take_tty;         /* the next start gets the terminal's foreground */
	struct tree tree;
	struct program_watch watch;
	int sfd;
	int notify_fd;

	enum phase phase;
	enum next next;          /* what follows STOPPING */
	pid_t main_pid;          /* PROGRAM while it runs, else 0 */
	pid_t pgid;              /* PROGRAM's group, for leftovers once it is gone */
	unsigned generation;
	bool ready;
	bool exec_failed;
	bool terminating;        /* SIGTERM/SIGINT/SIGQUIT: no more starts */
	bool killed;             /* SIGKILL went out in this stop */
	bool self_stopped;       /* stopped itself after PROGRAM, until SIGCONT */
	int fatal_sig;           /* a synchronous signal to die of once the tree is gone */
	int forwarded_sig;       /* the last signal forwarded to this generation */
	int64_t started_at, exited_at;
	int64_t kill_at, ready_at, start_at; /* deadlines, 0 when unset */
	char why[160];           /* why the current generation replaced the last */
	int last_code;           /* PROGRAM's last exit code, -1 before any */
	int exit_override;       /* -1, or updater-run's own failure code */
	unsigned backoff_s;

	/* Overlapped restarts: the generation starting beside the serving one,
	 * and the one being stopped after it was replaced. */
	pid_t incoming_pid;      /* 0: none */
	bool incoming_killed;    /* it failed: killed, waiting to be reaped */
	int64_t incoming_started_at, incoming_ready_at;
	char incoming_why[160];
	pid_t retiring_pid;      /* the replaced generation's PROGRAM while it runs */
	pid_t retiring_pgid;     /* its group, 0: none */
	unsigned retiring_generation;
	int64_t retiring_kill_at; /* SIGKILL to its group, 0 unset */
};

int64_t run_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
	(void)fprintf(f,
		"Usage: updater-run [OPTIONS] [--] PROGRAM [ARG...]\n"
		"\n"
		"Run PROGRAM, reap every process under it, forward signals to it, and\n"
		"restart it into a new version on SIGHUP or when its file is replaced.\n"
		"\n"
		"  -g, --grace SECONDS        time between the stop signal and SIGKILL (10)\n"
		"  -s, --stop-signal SIGNAL   signal that stops the tree (SIGTERM)\n"
		"  -r, --restart POLICY       no, on-failure or always: start PROGRAM again\n"
		"                             when it exits (backoff 1 s doubling to 60 s)\n"
		"  -u, --restart-on-update    restart when PROGRAM's file is replaced\n"
		"  -l, --listen [NAME=]SPEC   open tcp:HOST:PORT or unix:PATH once and pass\n"
		"                             it to every start (LISTEN_FDS); repeatable;\n"
		"                             unix:PATH,mode=0660,user=U,group=G sets its\n"
		"                             file's mode (0666 by default) and owner\n"
		"  -n, --notify               give PROGRAM a NOTIFY_SOCKET; a start counts\n"
		"                             once it sends READY=1; with --listen, restarts\n"
		"                             overlap: the old one stops once the new is ready\n"
		"      --ready-timeout SECONDS  how long to wait for READY=1 (30)\n"
		"      --rewrite FROM:TO      send TO instead of FROM to PROGRAM, forwarded or\n"
		"                             as the stop signal (TO 0: nothing); repeatable\n"
		"      --no-cgroup            never put the tree in a cgroup of its own\n"
		"  -v, --verbose              log every step\n"
		"  -h, --help                 show this help\n"
		"  -V, --version              show the version\n"
		"\n"
		"Exit status: PROGRAM's; 128+N when signal N killed it; 126 when it cannot\n"
		"be executed; 127 when it is not found; 2 for a usage error; 1 when\n"
		"updater-run itself fails or PROGRAM never became ready.\n"
		"See updater-run(1).\n");
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)fprintf(stderr, "updater-run: %s\nTry 'updater-run --help'.\n", msg);
	return -EINVAL;
}

/* SECONDS: a decimal number, optionally followed by "s". */
static int parse_seconds(const char *s, int64_t *ret_ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0 || v > 31536000.0)
		return -EINVAL;
	if (*end == 's')
		end++;
	if (*end)
		return -EINVAL;
	*ret_ms = (int64_t)(v * 1000.0 + 0.5);
	return 0;
}

static int add_listen(struct options *o, const char *arg)
{
	struct listen_sock l, *v;
	const char *why = "invalid";
	int r;

	r = listen_parse(arg, &l, &why);
	if (r == -EINVAL) {
		(void)fprintf(stderr, "updater-run: bad --listen '%s': %s\nTry 'updater-run --help'.\n",
			      arg, why);
		return r;
	}
	if (r < 0)
		return r;
	v = realloc(o->listens, (o->n_listens + 1) * sizeof(*v));
	if (!v) {
		listen_close(&l);
		return -ENOMEM;
	}
	v[o->n_listens++] = l;
	o->listens = v;
	return 0;
}

/* 0 to go on, 1 when --help or --version was handled, -EINVAL on a usage
 * error (already reported), another -errno on failure. */
static int parse_options(int argc, char *argv[], struct options *o)
{
	enum { OPT_READY_TIMEOUT = 256, OPT_NO_CGROUP, OPT_REWRITE };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "grace", required_argument, NULL, 'g' },
		{ "stop-signal", required_argument, NULL, 's' },
		{ "restart", required_argument, NULL, 'r' },
		{ "restart-on-update", no_argument, NULL, 'u' },
		{ "listen", required_argument, NULL, 'l' },
		{ "notify", no_argument, NULL, 'n' },
		{ "ready-timeout", required_argument, NULL, OPT_READY_TIMEOUT },
		{ "no-cgroup", no_argument, NULL, OPT_NO_CGROUP },
		{ "rewrite", required_argument, NULL, OPT_REWRITE },
		{ NULL, 0, NULL, 0 },
	};
	int c, r, from, to;

	for (c = 0; c < NSIG; c++)
		o->rewrite[c] = -1;
	o->grace_ms = 10000;
	o->stop_signal = SIGTERM;
	o->restart = RESTART_NO;
	o->ready_timeout_ms = 30000;

	opterr = 0;
	/* '+': options end at PROGRAM, so its own options stay its own. */
	while ((c = getopt_long(argc, argv, "+:hVvg:s:r:ul:n", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			(void)printf("updater-run %s\n", PACKAGE_VERSION);
			return 1;
		case 'v':
			run_log_set_verbose(true);
			break;
		case 'g':
			if (parse_seconds(optarg, &o->grace_ms) < 0)
				return usage_error("bad --grace '%s': expected seconds", optarg);
			break;
		case 's':
			r = signal_from_string(optarg);
			if (r < 0 || r == SIGSTOP)
				return usage_error("bad --stop-signal '%s': expected a signal name or number", optarg);
			o->stop_signal = r;
			break;
		case 'r':
			if (strcmp(optarg, "no") == 0)
				o->restart = RESTART_NO;
			else if (strcmp(optarg, "on-failure") == 0)
				o->restart = RESTART_ON_FAILURE;
			else if (strcmp(optarg, "always") == 0)
				o->restart = RESTART_ALWAYS;
			else
				return usage_error("bad --restart '%s': expected no, on-failure or always", optarg);
			break;
		case 'u':
			o->restart_on_update = true;
			break;
		case 'l':
			r = add_listen(o, optarg);
			if (r < 0)
				return r;
			break;
		case 'n':
			o->notify = true;
			break;
		case OPT_READY_TIMEOUT:
			if (parse_seconds(optarg, &o->ready_timeout_ms) < 0 || o->ready_timeout_ms == 0)
				return usage_error("bad --ready-timeout '%s': expected seconds", optarg);
			break;
		case OPT_NO_CGROUP:
			o->no_cgroup = true;
			break;
		case OPT_REWRITE:
			if (signal_parse_rewrite(optarg, &from, &to) < 0)
				return usage_error("bad --rewrite '%s': expected FROM:TO, two signal names "
						   "or numbers (TO may be 0)", optarg);
			o->rewrite[from] = to;
			break;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* Only what PROGRAM would receive can be rewritten (known once
	 * --stop-signal is). */
	for (c = 1; c < NSIG; c++)
		if (o->rewrite[c] >= 0 && !signal_role_is_forwarded(signal_role(c, o->stop_signal)))
			return usage_error("cannot --rewrite %s: updater-run acts on it itself and "
					   "never sends it to PROGRAM", signal_to_string(c));
	if (optind >= argc)
		return usage_error("%s", "no PROGRAM given");
	o->argv = argv + optind;
	return 0;
}

/* ---- PROGRAM and its environment ---------------------------------------- */

/* The absolute path PROGRAM runs from, found like execvp does: a name
 * without '/' is looked up in PATH. -ENOENT when it is nowhere. Watching for
 * updates needs the path, and a relative one would change meaning if
 * PROGRAM's directory were replaced. */
static int resolve_program(const char *name, char **ret)
{
	const char *path = getenv("PATH"), *p, *colon;
	char *cand = NULL, *cwd, *denied = NULL;
	struct stat st;
	size_t len;

	if (strchr(name, '/')) {
		if (name[0] == '/')
			cand = strdup(name);
		else if ((cwd = getcwd(NULL, 0))) {
			if (asprintf(&cand, "%s/%s", cwd, name) < 0)
				cand = NULL;
			free(cwd);
		}
		if (!cand)
			return -ENOMEM;
		*ret = cand;
		return 0;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; p; p = *colon ? colon + 1 : NULL) {
		colon = p + strcspn(p, ":");
		len = (size_t)(colon - p);
		if (len == 0) {
			p = ".";
			len = 1;
		}
		if (asprintf(&cand, "%.*s/%s", (int)len, p, name) < 0)
			return -ENOMEM;
		if (cand[0] != '/') {
			/* A relative PATH entry: anchor it now. */
			char *abs = NULL;

			cwd = getcwd(NULL, 0);
			if (cwd && asprintf(&abs, "%s/%s", cwd, cand) < 0)
				abs = NULL;
			free(cwd);
			free(cand);
			if (!abs)
				return -ENOMEM;
			cand = abs;
		}
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(cand, X_OK) == 0) {
				free(denied);
				*ret = cand;
				return 0;
			}
			/* Like execvp: a file that exists but cannot run is
			 * reported (as 126) if nothing better is found. */
			if (!denied) {
				denied = cand;
				cand = NULL;
			}
		}
		free(cand);
		cand = NULL;
		if (!*colon)
			break;
	}
	if (denied) {
		*ret = denied;
		return 0;
	}
	return -ENOENT;
}

/* What a service manager may have meant for updater-run itself and must not
 * reach PROGRAM as if meant for it: LISTEN_* always (the PID would be
 * wrong), NOTIFY_SOCKET when PROGRAM gets our own. Without --notify,
 * NOTIFY_SOCKET passes through (with NotifyAccess=all, PROGRAM may talk to
 * the service manager directly). */
static bool env_is_replaced(const struct run *r, const char *e)
{
	return strncmp(e, "LISTEN_FDS=", 11) == 0 || strncmp(e, "LISTEN_PID=", 11) == 0 ||
	       strncmp(e, "LISTEN_FDNAMES=", 15) == 0 ||
	       (r->o.notify && strncmp(e, "NOTIFY_SOCKET=", 14) == 0);
}

static int env_add(struct run *r, char **env, size_t *k, char *s)
{
	if (!s)
		return -ENOMEM;
	env[(*k)++] = s;
	r->env_own[r->n_env_own++] = s;
	return 0;
}

/* The environment every start gets: ours, minus what was meant for
 * updater-run, plus LISTEN_* and NOTIFY_SOCKET. The LISTEN_PID value can
 * only be written in the child, after fork. */
static int build_env(struct run *r, const char *notify_addr)
{
	size_t n = 0, i, k = 0, names_len = 1;
	char **env, *names, *s;

	while (environ[n])
		n++;
	env = calloc(n + 5, sizeof(*env));
	if (!env)
		return -ENOMEM;
	r->envp = env;
	for (i = 0; i < n; i++)
		if (!env_is_replaced(r, environ[i]))
			env[k++] = environ[i];
	if (r->o.n_listens) {
		for (i = 0; i < r->o.n_listens; i++)
			names_len += strlen(r->o.listens[i].name) + 1;
		names = malloc(names_len);
		if (!names)
			return -ENOMEM;
		names[0] = '\0';
		for (i = 0; i < r->o.n_listens; i++) {
			if (i)
				(void)strcat(names, ":");
			(void)strcat(names, r->o.listens[i].name);
		}
		if (asprintf(&s, "LISTEN_FDNAMES=%s", names) < 0)
			s = NULL;
		free(names);
		if (env_add(r, env, &k, s) < 0)
			return -ENOMEM;
		if (asprintf(&s, "LISTEN_FDS=%zu", r->o.n_listens) < 0)
			s = NULL;
		if (env_add(r, env, &k, s) < 0)
			return -ENOMEM;
		/* Room for any PID; the child writes its own. */
		if (asprintf(&s, "LISTEN_PID=%-20s", "") < 0)
			s = NULL;
		if (env_add(r, env, &k, s) < 0)
			return -ENOMEM;
		r->listen_pid_slot = s + strlen("LISTEN_PID=");
	}
	if (notify_addr) {
		if (asprintf(&s, "NOTIFY_SOCKET=%s", notify_addr) < 0)
			s = NULL;
		if (env_add(r, env, &k, s) < 0)
			return -ENOMEM;
	}
	env[k] = NULL;
	return 0;
}

static void free_env(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n_env_own; i++)
		free(r->env_own[i]);
	r->n_env_own = 0;
	free(r->envp);
	r->envp = NULL;
}

/* ---- starting a generation ---------------------------------------------- */

/* Decimal digits without stdio: this runs between fork and exec. */
static void write_pid(char *slot, pid_t pid)
{
	char tmp[24];
	int n = 0;
	unsigned long v = (unsigned long)pid;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*slot++ = tmp[--n];
	*slot = '\0';
}

/* glibc keeps two real-time signals for itself (32 and 33) and refuses to
 * change them, yet an ignored one would stay ignored across exec. The
 * kernel's own call takes them; SIG_DFL needs no restorer, and the handler
 * is the first field of the kernel's structure everywhere. */
static void reset_reserved_signal(int sig)
{
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		unsigned long mask[2];
	} ksa;

	memset(&ksa, 0, sizeof(ksa));
	ksa.handler = SIG_DFL;
	(void)syscall(SYS_rt_sigaction, sig, &ksa, NULL, (size_t)(NSIG / 8));
}

/* The child, between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn)) child_exec(struct run *r, int errfd)
{
	size_t n = r->o.n_listens, i;
	int top = 3 + (int)n, e, sig, escaped = -1;
	struct sigaction sa;

	(void)setpgid(0, 0);
	/* SIGTTOU is still blocked here, as in the parent, so the terminal
	 * can be taken from the background. */
	if (r->take_tty)
		(void)tcsetpgrp(STDIN_FILENO, getpid());
	/* Still in our cgroup: the parent must know the cgroup is no longer
	 * the whole tree (a negative number on the pipe; exec errors are
	 * positive). */
	if (tree_child_enter(&r->tree) < 0)
		(void)!write(errfd, &escaped, sizeof(escaped));
	/* Should updater-run be killed outright (SIGKILL, the OOM killer),
	 * PROGRAM goes with it rather than run on unsupervised. The check
	 * after closes the race with a parent that died before the prctl. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != r->tree.self)
		_exit(EXIT_CANNOT_EXEC);

	if (n) {
		/* Listening sockets go to 3, 4...: first lift every descriptor
		 * we need out of that range, then put them in place (dup2
		 * clears close-on-exec on the copy). */
		if (errfd < top)
			errfd = fcntl(errfd, F_DUPFD_CLOEXEC, top);
		for (i = 0; i < n; i++)
			r->child_fds[i] = fcntl(r->o.listens[i].fd, F_DUPFD_CLOEXEC, top);
		for (i = 0; i < n; i++) {
			if (r->child_fds[i] < 0 || dup2(r->child_fds[i], 3 + (int)i) < 0) {
				e = errno;
				goto fail;
			}
		}
		write_pid(r->listen_pid_slot, getpid());
	}

	/* A clean start: default dispositions (ignored ones survive exec
	 * otherwise) and nothing blocked. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, &sa, NULL) < 0)
			reset_reserved_signal(sig);
	signal_unblock_all();

	(void)execve(r->path, r->o.argv, r->envp);
	e = errno;
fail:
	if (errfd >= 0)
		(void)!write(errfd, &e, sizeof(e));
	_exit(e == ENOENT || e == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

static void begin_stop(struct run *r, enum next next);
static void finish_stop(struct run *r);
static void describe_status(int status, char *buf, size_t size);
static void mark_ready(struct run *r);
static int rewritten(const struct run *r, int sig);

/* ---- the terminal ------------------------------------------------------- */

/* The process group in the foreground of our controlling terminal (on
 * stdin), or -1 when there is none. */
static pid_t tty_foreground(void)
{
	return isatty(STDIN_FILENO) ? tcgetpgrp(STDIN_FILENO) : -1;
}

/* The foreground follows PROGRAM only when it was ours, or the last
 * generation's: then ^C and ^Z reach PROGRAM as they would without us,
 * and a job put in the background keeps its hands off the terminal. */
static bool tty_is_ours(const struct run *r)
{
	pid_t fg = tty_foreground();

	return fg > 0 && (fg == getpgrp() || (r->pgid > 0 && fg == r->pgid));
}

/* Take the foreground back from PROGRAM's group, if it has it (SIGTTOU is
 * blocked: allowed from the background). */
static void tty_take_back(const struct run *r)
{
	if (r->pgid > 0 && tty_foreground() == r->pgid)
		(void)tcsetpgrp(STDIN_FILENO, getpgrp());
}

/* ---- job control -------------------------------------------------------- */

/* Stop updater-run itself with SIG (SIGTSTP, SIGTTIN or SIGTTOU), the way a
 * program without a handler stops, so that the shell that started it sees
 * its job stopped. For a moment SIG is unblocked at its default action: the
 * stop happens inside kill(), and the kernel discards it when our process
 * group is orphaned (no shell could continue us). Execution resumes here on
 * SIGCONT, which then waits in the signalfd. */
static void stop_self(int sig)
{
	struct sigaction dfl, old;
	sigset_t one;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	(void)sigaction(sig, &dfl, &old);
	sigemptyset(&one);
	sigaddset(&one, sig);
	(void)sigprocmask(SIG_UNBLOCK, &one, NULL);
	(void)kill(getpid(), sig);
	(void)sigprocmask(SIG_BLOCK, &one, NULL);
	(void)sigaction(sig, &old, NULL);
}

/* What PROGRAM gets for SIG: --rewrite's choice, SIGSTOP for the job
 * control signals (PROGRAM may ignore those, an interactive shell does),
 * else SIG itself. 0: nothing. */
static int rewritten(const struct run *r, int sig)
{
	if (sig > 0 && sig < NSIG && r->o.rewrite[sig] >= 0)
		return r->o.rewrite[sig];
	if (signal_role(sig, r->o.stop_signal) == SIGROLE_JOB_STOP)
		return SIGSTOP;
	return sig;
}

/* Tell the service manager updater-run runs under, if any (--notify). */
static void notify_upstream(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notify_upstream(struct run *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int e;

	if (!r->upstream_notify)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = notify_send(r->upstream_notify, msg);
	if (e < 0) {
		errno = -e;
		log_debug("cannot notify '%s': %m", r->upstream_notify);
	}
}

static void mark_ready(struct run *r)
{
	r->ready = true;
	r->ready_at = 0;
	notify_upstream(r, "READY=1\nSTATUS=generation %u running (pid %d)", r->generation,
			(int)r->main_pid);
	if (r->generation == 1)
		log_info("'%s' started (pid %d)%s", r->path, (int)r->main_pid,
			 r->o.notify ? ", ready" : "");
	else
		log_notice("generation %u of '%s' %s (pid %d), replacing generation %u (%s)",
			   r->generation, r->path, r->o.notify ? "ready" : "started",
			   (int)r->main_pid, r->generation - 1, r->why);
}

/* A start that could not even fork: as good as a failed run. */
static void start_failed(struct run *r)
{
	r->main_pid = 0;
	r->exited_at = run_now_ms();
	if (r->o.restart == RESTART_NO) {
		r->exit_override = 1;
		r->phase = PHASE_DONE;
		return;
	}
	(void)snprintf(r->why, sizeof(r->why), "the last start failed");
	r->next = NEXT_BACKOFF;
	finish_stop(r);
}

/* Fork and exec PROGRAM in a group of its own. Returns its PID (also when
 * the exec failed: *ret_exec_failed, logged; the child then exits), or -1
 * when it could not fork (logged). */
static pid_t spawn(struct run *r, bool *ret_exec_failed)
{
	int pipefd[2], e = 0;
	ssize_t n;
	pid_t pid;

	*ret_exec_failed = false;
	if (r->o.restart_on_update)
		program_watch_note_started(&r->watch);
	/* The child reports a failed exec through this pipe; a successful
	 * exec closes it (close-on-exec), so the read returns 0. */
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		log_err("cannot start '%s': pipe: %m", r->path);
		return -1;
	}
	pid = tree_fork(&r->tree);
	if (pid < 0) {
		errno = -pid;
		log_err("cannot start '%s': fork: %m", r->path);
		(void)close(pipefd[0]);
		(void)close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		(void)close(pipefd[0]);
		child_exec(r, pipefd[1]);
	}
	(void)close(pipefd[1]);
	/* Also here, so that a signal forwarded before the child ran reaches
	 * its group; fails harmlessly once the child has exec'd. */
	(void)setpgid(pid, pid);
	for (;;) {
		n = read(pipefd[0], &e, sizeof(e));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == (ssize_t)sizeof(e) && e < 0) {
			tree_note_escaped(&r->tree);
			continue;
		}
		break;
	}
	(void)close(pipefd[0]);
	if (n == (ssize_t)sizeof(e)) {
		*ret_exec_failed = true;
		errno = e;
		log_err("cannot execute '%s': %m", r->path);
	}
	return pid;
}

static void start_generation(struct run *r)
{
	bool exec_failed;
	pid_t pid;

	r->generation++;
	r->ready = false;
	r->exec_failed = false;
	r->killed = false;
	r->forwarded_sig = 0;
	r->kill_at = r->ready_at = r->start_at = 0;
	r->started_at = run_now_ms();
	r->take_tty = tty_is_ours(r);
	pid = spawn(r, &exec_failed);
	if (pid < 0) {
		start_failed(r);
		return;
	}
	r->main_pid = pid;
	r->pgid = pid;
	r->phase = PHASE_RUNNING;
	if (exec_failed) {
		r->exec_failed = true;
		return; /* its exit is handled like any other */
	}
	if (r->o.notify) {
		r->ready_at = r->started_at + r->o.ready_timeout_ms;
		log_info("generation %u of '%s' runs as pid %d, waiting for READY=1",
			 r->generation, r->path, (int)pid);
	} else {
		mark_ready(r);
	}
}

/* ---- overlapped restarts (--notify with --listen) ------------------------ */

/* A restart may overlap when the serving generation is ready, its sockets
 * are updater-run's, and READY=1 can say when the next one serves. */
static bool can_overlap(const struct run *r)
{
	return r->o.notify && r->o.n_listens > 0 && r->phase == PHASE_RUNNING && r->main_pid && r->ready &&
	       !r->terminating;
}

/* The incoming generation failed: kill its group; the serving one goes on. */
static void incoming_fail(struct run *r, const char *what)
{
	log_warn("generation %u of '%s' (pid %d) %s: killed; generation %u (pid %d) keeps serving",
		 r->generation + 1, r->path, (int)r->incoming_pid, what, r->generation, (int)r->main_pid);
	(void)kill(-r->incoming_pid, SIGKILL);
	(void)kill(r->incoming_pid, SIGKILL);
	r->incoming_killed = true;
	r->incoming_ready_at = 0;
}

static void start_incoming(struct run *r, const char *why)
{
	bool exec_failed;
	pid_t pid;

	if (r->incoming_pid && !r->incoming_killed)
		incoming_fail(r, "was replaced by a newer start");
	r->take_tty = false; /* the terminal stays with the serving generation */
	pid = spawn(r, &exec_failed);
	if (pid < 0)
		return; /* logged; the serving generation goes on */
	if (r->incoming_pid) {
		/* The one killed above is still to be reaped: as a stray child. */
		log_debug("pid %d is left to be reaped", (int)r->incoming_pid);
	}
	r->incoming_pid = pid;
	r->incoming_killed = false;
	r->incoming_started_at = run_now_ms();
	r->incoming_ready_at = r->incoming_started_at + r->o.ready_timeout_ms;
	(void)snprintf(r->incoming_why, sizeof(r->incoming_why), "%s", why);
	if (exec_failed)
		incoming_fail(r, "could not be executed");
	else
		log_notice("restarting '%s' overlapped: %s; generation %u starts as pid %d beside generation %u",
			   r->path, why, r->generation + 1, (int)pid, r->generation);
}

/* The incoming generation sent READY=1: it serves now; the old one retires. */
static void promote_incoming(struct run *r)
{
	int stop = rewritten(r, r->o.stop_signal);

	if (r->retiring_pgid) {
		/* A generation still retiring from the previous restart: no more grace. */
		(void)kill(-r->retiring_pgid, SIGKILL);
	}
	r->retiring_pid = r->main_pid;
	r->retiring_pgid = r->pgid;
	r->retiring_generation = r->generation;
	r->retiring_kill_at = run_now_ms() + r->o.grace_ms;
	if (stop != 0) {
		(void)kill(-r->retiring_pgid, stop);
		if (stop != SIGKILL && stop != SIGCONT)
			(void)kill(-r->retiring_pgid, SIGCONT);
	}
	r->generation++;
	r->main_pid = r->incoming_pid;
	r->pgid = r->incoming_pid;
	r->started_at = r->incoming_started_at;
	r->forwarded_sig = 0;
	r->exec_failed = false;
	r->incoming_pid = 0;
	r->incoming_ready_at = 0;
	(void)snprintf(r->why, sizeof(r->why), "%s", r->incoming_why);
	mark_ready(r);
	log_info("generation %u (pid %d) is stopped with %s now that generation %u serves",
		 r->retiring_generation, (int)r->retiring_pid, signal_to_string(r->o.stop_signal), r->generation);
}

/* Reaped PID: was it one of the overlapped generations? */
static bool reap_overlapped(struct run *r, pid_t pid, int status)
{
	char desc[96];

	if (pid == r->incoming_pid && r->incoming_pid) {
		describe_status(status, desc, sizeof(desc));
		if (!r->incoming_killed) {
			char what[128];

			(void)snprintf(what, sizeof(what), "%s before it sent READY=1", desc);
			incoming_fail(r, what);
		}
		r->incoming_pid = 0;
		r->incoming_killed = false;
		return true;
	}
	if (pid == r->retiring_pid && r->retiring_pid) {
		describe_status(status, desc, sizeof(desc));
		log_info("generation %u of '%s' (pid %d) %s", r->retiring_generation, r->path, (int)pid, desc);
		r->retiring_pid = 0;
		return true;
	}
	return false;
}

/* ---- stopping ----------------------------------------------------------- */

/* How to reach PROGRAM's group. While PROGRAM lives, its group is signalled
 * as a whole. Once it is gone the number may in theory be reused, so the
 * members are found one by one (walk or cgroup) when that is possible;
 * those that already got the same signal forwarded are left out. */
static void group_args(const struct run *r, int sig, pid_t *ret_pgid, bool *ret_whole)
{
	*ret_pgid = 0;
	*ret_whole = false;
	if (r->main_pid) {
		*ret_pgid = r->main_pid;
		*ret_whole = true;
	} else if (!r->tree.proc_ok && r->tree.cgroup_dir_fd < 0) {
		*ret_pgid = r->pgid;
		*ret_whole = true;
	} else if (r->forwarded_sig == sig && sig != SIGKILL) {
		*ret_pgid = r->pgid;
	}
}

static int signal_tree(struct run *r, int sig, bool then_cont)
{
	pid_t pgid;
	bool whole;

	group_args(r, sig, &pgid, &whole);
	return tree_kill(&r->tree, pgid, whole, sig, then_cont);
}

static void kill_tree(struct run *r)
{
	(void)signal_tree(r, SIGKILL, false);
	r->killed = true;
	r->kill_at = run_now_ms() + REKILL_MS;
}

static void begin_stop(struct run *r, enum next next)
{
	int n, stop = rewritten(r, r->o.stop_signal);

	r->phase = PHASE_STOPPING;
	r->next = next;
	r->ready_at = 0;
	if (!tree_has_children()) {
		finish_stop(r);
		return;
	}
	if (stop == 0) {
		log_debug("stopping the tree: no stop signal (--rewrite %s:0), SIGKILL after the grace",
			  signal_to_string(r->o.stop_signal));
	} else {
		/* SIGCONT after it, in the same pass: a stopped process would
		 * sit on the signal until the SIGKILL. */
		n = signal_tree(r, stop, true);
		log_debug("stopping the tree with %s: %s%d process%s one by one",
			  signal_to_string(stop), r->main_pid ? "PROGRAM's group, and " : "", n,
			  n == 1 ? "" : "es");
	}
	if (stop == SIGKILL)
		r->killed = true;
	if (!r->kill_at)
		r->kill_at = run_now_ms() + r->o.grace_ms;
}

static void finish_stop(struct run *r)
{
	int64_t now = run_now_ms();

	r->kill_at = 0;
	r->killed = false;
	log_debug("no process left under updater-run");
	switch (r->next) {
	case NEXT_EXIT:
		r->phase = PHASE_DONE;
		break;
	case NEXT_START:
		start_generation(r);
		break;
	case NEXT_BACKOFF:
		r->backoff_s = run_backoff_next(r->backoff_s, r->exited_at - r->started_at);
		r->phase = PHASE_WAITING;
		r->start_at = now + (int64_t)r->backoff_s * 1000;
		log_notice("starting '%s' again in %u s", r->path, r->backoff_s);
		break;
	}
}

/* ---- events ------------------------------------------------------------- */

static void describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		(void)snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		(void)snprintf(buf, size, "was killed by %s%s", signal_to_string(WTERMSIG(status)),
			       WCOREDUMP(status) ? " (core dumped)" : "");
	else
		(void)snprintf(buf, size, "ended with wait status %#x", (unsigned)status);
}

static void on_main_exit(struct run *r, int status)
{
	bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pid_t pid = r->main_pid;
	char desc[96];

	describe_status(status, desc, sizeof(desc));
	r->last_code = WIFEXITED(status) ? WEXITSTATUS(status)
		     : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
	r->main_pid = 0;
	r->exited_at = run_now_ms();
	if (r->phase != PHASE_RUNNING) {
		log_info("'%s' (pid %d) %s", r->path, (int)pid, desc);
		return;
	}
	if (r->terminating || (r->exec_failed && r->generation == 1)) {
		log_info("'%s' (pid %d) %s", r->path, (int)pid, desc);
		begin_stop(r, NEXT_EXIT);
	} else if (r->o.restart == RESTART_ALWAYS || (r->o.restart == RESTART_ON_FAILURE && failed)) {
		log_notice("'%s' (pid %d) %s", r->path, (int)pid, desc);
		(void)snprintf(r->why, sizeof(r->why), "it %s", desc);
		begin_stop(r, NEXT_BACKOFF);
	} else {
		run_log(failed ? RUN_LOG_NOTICE : RUN_LOG_INFO, "'%s' (pid %d) %s", r->path,
			(int)pid, desc);
		begin_stop(r, NEXT_EXIT);
	}
}

/* PROGRAM stopped. When that was job control (^Z, or a read or write of
 * the terminal from the background), updater-run stops as well, so that the
 * shell that started it sees its job stop, gets the terminal back, and can
 * continue it ("fg": SIGCONT reaches PROGRAM through us). Other stops
 * (SIGSTOP from someone) are left alone, as are stops without a terminal
 * and as PID 1, where nobody would continue us. */
static void on_main_stopped(struct run *r, int sig)
{
	if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
		return;
	if (r->tree.pid1 || r->self_stopped || tty_foreground() < 0)
		return;
	log_debug("'%s' (pid %d) stopped by %s: stopping too", r->path, (int)r->main_pid,
		  signal_to_string(sig));
	tty_take_back(r);
	stop_self(sig);
}

/* Reap everything that has ended; PROGRAM's own end is handled last, once
 * the zombies are gone. */
static void reap(struct run *r)
{
	bool main_ended = false;
	int status, main_status = 0, main_stop = 0;
	pid_t pid;

	for (;;) {
		/* WUNTRACED: PROGRAM stopped by ^Z is news too (reported once
		 * per stop; the stops of other children are just passed). */
		pid = waitpid(-1, &status, WNOHANG | WUNTRACED);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		if (WIFSTOPPED(status)) {
			if (pid == r->main_pid)
				main_stop = WSTOPSIG(status);
			continue;
		}
		if (pid == r->main_pid) {
			main_ended = true;
			main_status = status;
		} else if (reap_overlapped(r, pid, status)) {
			continue;
		} else {
			log_debug("reaped pid %d", (int)pid);
		}
	}
	if (main_ended)
		on_main_exit(r, main_status);
	else if (main_stop)
		on_main_stopped(r, main_stop);
}

static void restart(struct run *r, const char *why)
{
	if (r->terminating)
		return;
	switch (r->phase) {
	case PHASE_RUNNING:
		if (can_overlap(r)) {
			start_incoming(r, why);
			break;
		}
		log_notice("restarting '%s': %s", r->path, why);
		(void)snprintf(r->why, sizeof(r->why), "%s", why);
		begin_stop(r, NEXT_START);
		break;
	case PHASE_STOPPING:
		(void)snprintf(r->why, sizeof(r->why), "%s", why);
		r->next = NEXT_START;
		r->exit_override = -1;
		break;
	case PHASE_WAITING:
		log_notice("starting '%s' now: %s", r->path, why);
		(void)snprintf(r->why, sizeof(r->why), "%s", why);
		start_generation(r);
		break;
	case PHASE_DONE:
		break;
	}
}

static void forward(struct run *r, int sig)
{
	int to = rewritten(r, sig);
	char name[32];

	if (!r->main_pid)
		return;
	if (to == 0) {
		log_debug("not forwarding %s (--rewrite %s:0)", signal_to_string(sig),
			  signal_to_string(sig));
		return;
	}
	if (to != sig) {
		(void)snprintf(name, sizeof(name), "%s", signal_to_string(sig));
		log_debug("forwarding %s as %s to process group %d", name, signal_to_string(to),
			  (int)r->main_pid);
	} else {
		log_debug("forwarding %s to process group %d", signal_to_string(sig), (int)r->main_pid);
	}
	if (kill(-r->main_pid, to) < 0 && errno == ESRCH)
		(void)kill(r->main_pid, to);
	r->forwarded_sig = to;
}

static void terminate(struct run *r, int sig)
{
	if (!r->terminating) {
		log_info("%s received: stopping '%s'", signal_to_string(sig), r->path);
		notify_upstream(r, "STOPPING=1");
	}
	r->terminating = true;
	/* A generation that was not serving yet has nothing to finish. */
	if (r->incoming_pid && !r->incoming_killed)
		incoming_fail(r, "is not needed any more");
	switch (r->phase) {
	case PHASE_RUNNING:
		forward(r, sig);
		if (!r->kill_at)
			r->kill_at = run_now_ms() + r->o.grace_ms;
		break;
	case PHASE_STOPPING:
		r->next = NEXT_EXIT;
		break;
	case PHASE_WAITING:
		r->phase = PHASE_DONE;
		break;
	case PHASE_DONE:
		break;
	}
}

/* Stop the whole tree with the stop signal, then exit: SIGPWR (a container
 * manager asking PID 1 to shut down), and a synchronous signal. */
static void shut_down(struct run *r)
{
	if (!r->terminating)
		notify_upstream(r, "STOPPING=1");
	r->terminating = true;
	switch (r->phase) {
	case PHASE_RUNNING:
		begin_stop(r, NEXT_EXIT);
		break;
	case PHASE_STOPPING:
		r->next = NEXT_EXIT;
		break;
	case PHASE_WAITING:
		r->phase = PHASE_DONE;
		break;
	case PHASE_DONE:
		break;
	}
}

/* SIGSEGV, SIGBUS... sent from outside (a real fault is never read here:
 * the kernel delivers it past the mask). Forwarding it would make no sense;
 * dying of it at once would orphan the tree. As PID 1 it is ignored, as the
 * kernel ignores it for any PID 1 without a handler. */
static void on_fatal(struct run *r, const struct signalfd_siginfo *si)
{
	int sig = (int)si->ssi_signo;

	if (r->tree.pid1) {
		log_notice("%s from pid %d ignored: updater-run is PID 1", signal_to_string(sig),
			   (int)si->ssi_pid);
		return;
	}
	log_warn("%s received from pid %d: stopping the tree, then ending with %s",
		 signal_to_string(sig), (int)si->ssi_pid, signal_to_string(sig));
	if (!r->fatal_sig)
		r->fatal_sig = sig;
	shut_down(r);
}

/* SIGTSTP, SIGTTIN, SIGTTOU: as if PROGRAM and updater-run were one job.
 * PROGRAM's group stops first (SIGSTOP unless rewritten), then we do; both
 * go on with SIGCONT. */
static void on_job_stop(struct run *r, int sig)
{
	forward(r, sig);
	if (r->tree.pid1)
		return;
	log_debug("%s received: stopping", signal_to_string(sig));
	r->self_stopped = true;
	tty_take_back(r);
	stop_self(sig);
}

/* SIGCONT (we may just have been stopped): PROGRAM gets the terminal back
 * when we are in the foreground, then the signal. */
static void on_continue(struct run *r, int sig)
{
	pid_t fg = tty_foreground();

	r->self_stopped = false;
	if (r->main_pid && fg > 0 && fg == getpgrp() && tcsetpgrp(STDIN_FILENO, r->pgid) == 0)
		log_debug("the terminal's foreground goes back to process group %d", (int)r->pgid);
	forward(r, sig);
}

/* A signal the kernel sent because of something updater-run itself did:
 * writing to a closed pipe or past RLIMIT_FSIZE (sent as if by ourselves),
 * or using up RLIMIT_CPU. Not PROGRAM's business. */
static bool caused_by_us(const struct run *r, const struct signalfd_siginfo *si)
{
	int sig = (int)si->ssi_signo;

	if ((sig == SIGPIPE || sig == SIGXFSZ) && si->ssi_code == SI_USER &&
	    (pid_t)si->ssi_pid == r->tree.self)
		return true;
	return sig == SIGXCPU && si->ssi_code == SI_KERNEL;
}

static void on_signal(struct run *r, const struct signalfd_siginfo *si)
{
	int sig = (int)si->ssi_signo;

	switch (signal_role(sig, r->o.stop_signal)) {
	case SIGROLE_REAP:
		reap(r);
		break;
	case SIGROLE_RESTART:
		restart(r, "SIGHUP");
		break;
	case SIGROLE_TERMINATE:
		terminate(r, sig);
		break;
	case SIGROLE_STOP_TREE:
		if (!r->terminating)
			log_info("%s received: stopping the tree", signal_to_string(sig));
		shut_down(r);
		break;
	case SIGROLE_JOB_STOP:
		on_job_stop(r, sig);
		break;
	case SIGROLE_CONTINUE:
		on_continue(r, sig);
		break;
	case SIGROLE_FATAL:
		on_fatal(r, si);
		break;
	case SIGROLE_FORWARD:
		if (caused_by_us(r, si))
			log_debug("%s caused by updater-run itself: not forwarded", signal_to_string(sig));
		else
			forward(r, sig);
		break;
	case SIGROLE_UNCATCHABLE:
		break;
	}
}

static void handle_signals(struct run *r)
{
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		n = read(r->sfd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			break;
		on_signal(r, &si);
	}
}

static void handle_notify(struct run *r)
{
	struct notify_msg m;
	int k;

	while ((k = notify_receive(r->notify_fd, &m)) != 0) {
		if (k < 0) {
			if (k == -EMSGSIZE)
				continue;
			break;
		}
		if (m.pid <= 0 || !tree_contains(&r->tree, m.pid)) {
			log_debug("ignoring a notification from pid %d, not under updater-run",
				  (int)m.pid);
			continue;
		}
		if (m.status[0])
			log_debug("pid %d: STATUS=%s", (int)m.pid, m.status);
		if (m.ready && r->incoming_pid && !r->incoming_killed && r->phase == PHASE_RUNNING &&
		    (m.pid == r->incoming_pid || getpgid(m.pid) == r->incoming_pid)) {
			promote_incoming(r);
			continue;
		}
		if (m.ready && r->phase == PHASE_RUNNING && r->main_pid && !r->ready)
			mark_ready(r);
	}
}

static void on_deadlines(struct run *r)
{
	int64_t now = run_now_ms();
	char secs[32];

	if (r->kill_at && now >= r->kill_at) {
		(void)snprintf(secs, sizeof(secs), "%.3g", (double)r->o.grace_ms / 1000.0);
		if (!r->killed) {
			if (r->phase == PHASE_RUNNING)
				log_warn("'%s' (pid %d) still runs %s s after %s: killing the tree",
					 r->path, (int)r->main_pid, secs, "the stop request");
			else
				log_warn("processes still run %s s after %s: sending SIGKILL", secs,
					 signal_to_string(r->o.stop_signal));
		}
		if (r->phase == PHASE_RUNNING) {
			r->phase = PHASE_STOPPING;
			r->next = NEXT_EXIT;
		}
		kill_tree(r);
	}
	if (r->ready_at && now >= r->ready_at && r->phase == PHASE_RUNNING && !r->ready) {
		(void)snprintf(secs, sizeof(secs), "%.3g", (double)r->o.ready_timeout_ms / 1000.0);
		log_err("'%s' (pid %d) did not send READY=1 within %s s", r->path,
			(int)r->main_pid, secs);
		r->ready_at = 0;
		(void)snprintf(r->why, sizeof(r->why), "the last start was not ready in time");
		r->exited_at = now;
		if (r->o.restart == RESTART_NO) {
			r->exit_override = 1;
			begin_stop(r, NEXT_EXIT);
		} else {
			begin_stop(r, NEXT_BACKOFF);
		}
	}
	if (r->incoming_ready_at && now >= r->incoming_ready_at && !r->incoming_killed) {
		char what[96];

		(void)snprintf(what, sizeof(what), "did not send READY=1 within %.3g s",
			       (double)r->o.ready_timeout_ms / 1000.0);
		incoming_fail(r, what);
	}
	if (r->retiring_kill_at && now >= r->retiring_kill_at) {
		if (r->retiring_pid)
			log_warn("generation %u of '%s' (pid %d) still runs %.3g s after %s: killing its group",
				 r->retiring_generation, r->path, (int)r->retiring_pid,
				 (double)r->o.grace_ms / 1000.0, signal_to_string(r->o.stop_signal));
		(void)kill(-r->retiring_pgid, SIGKILL);
		r->retiring_kill_at = 0;
		r->retiring_pgid = 0;
	}
	if (r->phase == PHASE_WAITING && now >= r->start_at)
		start_generation(r);
}

static int next_timeout(const struct run *r)
{
	int64_t t = INT64_MAX, now = run_now_ms();

	if (r->kill_at)
		t = r->kill_at;
	if (r->ready_at && r->ready_at < t)
		t = r->ready_at;
	if (r->phase == PHASE_WAITING && r->start_at < t)
		t = r->start_at;
	if (r->incoming_ready_at && !r->incoming_killed && r->incoming_ready_at < t)
		t = r->incoming_ready_at;
	if (r->retiring_kill_at && r->retiring_kill_at < t)
		t = r->retiring_kill_at;
	if (t == INT64_MAX)
		return -1;
	if (t <= now)
		return 0;
	return t - now > INT_MAX ? INT_MAX : (int)(t - now);
}

static int loop(struct run *r)
{
	struct pollfd p[4];
	int n, i_sig, i_notify = -1, i_watch = -1;
	unsigned saw;

	while (r->phase != PHASE_DONE) {
		n = 0;
		i_sig = n;
		p[n++] = (struct pollfd){ .fd = r->sfd, .events = POLLIN };
		if (r->notify_fd >= 0) {
			i_notify = n;
			p[n++] = (struct pollfd){ .fd = r->notify_fd, .events = POLLIN };
		}
		if (watch_fd(&r->watch.events) >= 0) {
			i_watch = n;
			p[n++] = (struct pollfd){ .fd = watch_fd(&r->watch.events), .events = POLLIN };
		}
		if (poll(p, (nfds_t)n, next_timeout(r)) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %m");
			return -errno;
		}
		if (p[i_sig].revents)
			handle_signals(r);
		if (i_notify >= 0 && p[i_notify].revents)
			handle_notify(r);
		if (i_watch >= 0 && p[i_watch].revents && (saw = program_watch_handle(&r->watch)) != 0)
			restart(r, saw & WATCH_SAW_DIRECTORY ? "its file was replaced" : "updaterd replaced its file");
		on_deadlines(r);
		if (r->phase == PHASE_STOPPING && !tree_has_children())
			finish_stop(r);
	}
	return 0;
}

/* ---- setup -------------------------------------------------------------- */

/* Every signal that can be blocked is, and read from the signalfd: none
 * can kill updater-run at its default action and leave the tree behind, a
 * write to a closed pipe returns EPIPE, and the terminal can be handed
 * over from the background (a blocked SIGTTOU counts as ignored). A real
 * fault (SIGSEGV...) still kills at once: the kernel unblocks it. The child
 * unblocks everything before exec. */
static int setup_signals(struct run *r)
{
	sigset_t set;
	int e;

	e = signal_block_all(&set);
	if (e < 0)
		return e;
	r->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sfd < 0)
		return -errno;
	return 0;
}

static int setup(struct run *r)
{
	char notify_addr[108];
	struct listen_sock *adopted = NULL, *all;
	size_t n_adopted = 0, i;
	const char *what = "open";
	int e;

	/* First: from here on a signal is an event, never a sudden death. */
	e = setup_signals(r);
	if (e < 0)
		goto fail_errno;
	e = resolve_program(r->o.argv[0], &r->path);
	if (e == -ENOENT) {
		log_err("'%s': command not found", r->o.argv[0]);
		return EXIT_NOT_FOUND;
	}
	if (e < 0)
		goto fail_errno;

	/* Sockets a service manager gave updater-run come first, then ours. */
	e = listen_adopt(&adopted, &n_adopted);
	if (e < 0)
		goto fail_errno;
	if (n_adopted) {
		all = realloc(adopted, (n_adopted + r->o.n_listens) * sizeof(*all));
		if (!all) {
			for (i = 0; i < n_adopted; i++)
				listen_close(&adopted[i]);
			free(adopted);
			e = -ENOMEM;
			goto fail_errno;
		}
		for (i = 0; i < r->o.n_listens; i++)
			all[n_adopted + i] = r->o.listens[i];
		free(r->o.listens);
		r->o.listens = all;
		r->o.n_listens += n_adopted;
		log_debug("adopted %zu listening sockets from the service manager", n_adopted);
	}
	for (i = n_adopted; i < r->o.n_listens; i++) {
		e = listen_open(&r->o.listens[i], &what);
		if (e < 0) {
			errno = -e;
			log_err("--listen '%s': %s: %m", r->o.listens[i].spec, what);
			return 1;
		}
		log_debug("listening on %s (fd %d as %d, name '%s')", r->o.listens[i].spec,
			  r->o.listens[i].fd, 3 + (int)i, r->o.listens[i].name);
	}
	if (r->o.n_listens) {
		r->child_fds = calloc(r->o.n_listens, sizeof(int));
		if (!r->child_fds) {
			e = -ENOMEM;
			goto fail_errno;
		}
	}

	if (r->o.notify) {
		const char *up = getenv("NOTIFY_SOCKET");

		if (up && *up && !(r->upstream_notify = strdup(up))) {
			e = -ENOMEM;
			goto fail_errno;
		}
		r->notify_fd = notify_open(notify_addr, sizeof(notify_addr));
		if (r->notify_fd < 0) {
			e = r->notify_fd;
			goto fail_errno;
		}
	}
	e = build_env(r, r->o.notify ? notify_addr : NULL);
	if (e < 0)
		goto fail_errno;

	e = tree_init(&r->tree, r->o.no_cgroup);
	if (e < 0) {
		errno = -e;
		log_warn("cannot become a child subreaper: %m; orphans will not be reaped here");
	}

	if (r->o.restart_on_update) {
		e = program_watch_open(&r->watch, r->path);
		if (e < 0) {
			errno = -e;
			log_warn("cannot watch '%s' for updates: %m", r->path);
		} else {
			if (r->watch.events.n_wds == 0)
				log_warn("cannot watch '%s' for updates: no directory on its path can be watched; "
				         "only updaterd's notifications will be seen", r->path);
			if (!watch_subscribed(&r->watch.events))
				log_debug("no subscription to updaterd at '%s'", updater_socket_path_());
		}
	}

	return 0;

fail_errno:
	errno = -e;
	log_err("%m");
	return 1;
}

static void teardown(struct run *r)
{
	size_t i;

	tty_take_back(r);
	tree_done(&r->tree);
	program_watch_close(&r->watch);
	for (i = 0; i < r->o.n_listens; i++)
		listen_close(&r->o.listens[i]);
	free(r->o.listens);
	free(r->child_fds);
	free_env(r);
	free(r->upstream_notify);
	free(r->path);
	if (r->notify_fd >= 0)
		(void)close(r->notify_fd);
	if (r->sfd >= 0)
		(void)close(r->sfd);
}

/* With 0, 1 or 2 closed, our own descriptors would take their place and
 * PROGRAM would read from a signalfd or write into a socket. */
static void ensure_stdio(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
			break;
}

/* End with SIG at its default action, so that whoever waits for us sees
 * the signal (the tree is gone by now). Returns only if that failed. */
static int die_of(int sig)
{
	struct sigaction dfl;
	sigset_t one;

	(void)fflush(NULL);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	(void)sigprocmask(SIG_UNBLOCK, &one, NULL);
	(void)raise(sig);
	return 128 + sig;
}

int main(int argc, char *argv[])
{
	struct run r;
	int e, code;

	ensure_stdio();

	memset(&r, 0, sizeof(r));
	r.sfd = r.notify_fd = -1;
	r.watch.events = (struct watch){ .epfd = -1, .inofd = -1, .sockfd = -1 };
	r.tree.cgroup_dir_fd = r.tree.cgroup_procs_fd = -1;
	r.last_code = -1;
	r.exit_override = -1;

	e = parse_options(argc, argv, &r.o);
	if (e != 0) {
		size_t i;

		for (i = 0; i < r.o.n_listens; i++)
			listen_close(&r.o.listens[i]);
		free(r.o.listens);
		return e > 0 ? 0 : e == -EINVAL ? EXIT_USAGE : 1;
	}

	code = setup(&r);
	if (code == 0) {
		start_generation(&r);
		if (loop(&r) < 0) {
			/* Nobody would reap or stop the tree after us. */
			r.exit_override = 1;
			(void)tree_kill(&r.tree, r.main_pid, r.main_pid != 0, SIGKILL, false);
		}
		code = r.exit_override >= 0 ? r.exit_override : r.last_code >= 0 ? r.last_code : 0;
	}
	teardown(&r);
	if (r.fatal_sig)
		code = die_of(r.fatal_sig);
	return code;
}
