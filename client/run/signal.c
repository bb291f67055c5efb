/* signal.c - see run.h: signal names, what each signal means to updater-run,
 * and the mask that turns every signal into an event. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "run.h"

static const struct {
	int sig;
	const char *name;
} signal_names[] = {
	{ SIGHUP, "HUP" },       { SIGINT, "INT" },       { SIGQUIT, "QUIT" },
	{ SIGILL, "ILL" },       { SIGTRAP, "TRAP" },     { SIGABRT, "ABRT" },
	{ SIGBUS, "BUS" },       { SIGFPE, "FPE" },       { SIGKILL, "KILL" },
	{ SIGUSR1, "USR1" },     { SIGSEGV, "SEGV" },     { SIGUSR2, "USR2" },
	{ SIGPIPE, "PIPE" },     { SIGALRM, "ALRM" },     { SIGTERM, "TERM" },
	{ SIGSTKFLT, "STKFLT" }, { SIGCHLD, "CHLD" },     { SIGCONT, "CONT" },
	{ SIGSTOP, "STOP" },     { SIGTSTP, "TSTP" },     { SIGTTIN, "TTIN" },
	{ SIGTTOU, "TTOU" },     { SIGURG, "URG" },       { SIGXCPU, "XCPU" },
	{ SIGXFSZ, "XFSZ" },     { SIGVTALRM, "VTALRM" }, { SIGPROF, "PROF" },
	{ SIGWINCH, "WINCH" },   { SIGIO, "IO" },         { SIGPWR, "PWR" },
	{ SIGSYS, "SYS" },
};

/* "N" with nothing after it, 0 <= N <= max; -1 otherwise. */
static int small_number(const char *s, int max)
{
	char *end;
	long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n > max)
		return -1;
	return (int)n;
}

int signal_from_string(const char *s)
{
	int n;
	size_t i;

	if (!s || !*s)
		return -EINVAL;
	if (*s >= '0' && *s <= '9') {
		n = small_number(s, NSIG - 1);
		return n >= 1 ? n : -EINVAL;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	/* The real-time signals as kill(1) and bash name them, counted from
	 * the first one glibc leaves to programs (SIGRTMIN, 34). */
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		bool min = strncasecmp(s, "RTMIN", 5) == 0;

		s += 5;
		n = 0;
		if (*s) {
			if (*s != (min ? '+' : '-'))
				return -EINVAL;
			n = small_number(s + 1, SIGRTMAX - SIGRTMIN);
			if (n < 0)
				return -EINVAL;
		}
		return min ? SIGRTMIN + n : SIGRTMAX - n;
	}
	for (i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (strcasecmp(s, signal_names[i].name) == 0)
			return signal_names[i].sig;
	return -EINVAL;
}

const char *signal_to_string(int sig)
{
	static char buf[32];
	size_t i;

	for (i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
		if (signal_names[i].sig == sig) {
			(void)snprintf(buf, sizeof(buf), "SIG%s", signal_names[i].name);
			return buf;
		}
	}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		(void)snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		(void)snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

enum signal_role signal_role(int sig, int stop_signal)
{
	enum signal_role role;

	switch (sig) {
	case SIGKILL:
	case SIGSTOP:
		return SIGROLE_UNCATCHABLE;
	case SIGCHLD:
		return SIGROLE_REAP;
	case SIGHUP:
		return SIGROLE_RESTART;
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
		return SIGROLE_TERMINATE;
	case SIGPWR:
		return SIGROLE_STOP_TREE;
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
		return SIGROLE_JOB_STOP;
	case SIGCONT:
		return SIGROLE_CONTINUE;
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
	case SIGTRAP:
	case SIGSYS:
	case SIGABRT:
		return SIGROLE_FATAL;
	default:
		role = SIGROLE_FORWARD;
		break;
	}
	/* A stop signal that means nothing else to updater-run asks it to
	 * stop, as SIGTERM does by default. */
	if (sig == stop_signal)
		return SIGROLE_TERMINATE;
	return role;
}

bool signal_role_is_forwarded(enum signal_role role)
{
	return role == SIGROLE_FORWARD || role == SIGROLE_TERMINATE || role == SIGROLE_JOB_STOP ||
	       role == SIGROLE_CONTINUE;
}

int signal_parse_rewrite(const char *arg, int *ret_from, int *ret_to)
{
	const char *colon = strchr(arg, ':');
	char from[32];
	int f, t;

	if (!colon || (size_t)(colon - arg) >= sizeof(from))
		return -EINVAL;
	memcpy(from, arg, (size_t)(colon - arg));
	from[colon - arg] = '\0';
	f = signal_from_string(from);
	if (f < 0)
		return -EINVAL;
	t = strcmp(colon + 1, "0") == 0 ? 0 : signal_from_string(colon + 1);
	if (t < 0)
		return -EINVAL;
	*ret_from = f;
	*ret_to = t;
	return 0;
}

/* Set bit SIG of the kernel's view of a sigset_t: an array of unsigned
 * long, signal N at bit N-1. glibc's sigaddset refuses 32 and 33, the
 * real-time signals it keeps for its threads, yet those kill a process
 * that leaves them at their default as surely as any other. */
static void mask_add(sigset_t *set, int sig)
{
	unsigned long *w = (unsigned long *)(void *)set;
	const unsigned bits = 8 * sizeof(unsigned long);

	w[(unsigned)(sig - 1) / bits] |= 1UL << ((unsigned)(sig - 1) % bits);
}

void signal_fill_all(sigset_t *set)
{
	int sig;

	sigemptyset(set);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			mask_add(set, sig);
}

int signal_block_all(sigset_t *ret_set)
{
	sigset_t set;

	signal_fill_all(&set);
	/* The kernel's call: glibc's would leave 32 and 33 out. */
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, (size_t)(NSIG / 8)) < 0)
		return -errno;
	*ret_set = set;
	return 0;
}

void signal_unblock_all(void)
{
	sigset_t none;

	sigemptyset(&none);
	(void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, (size_t)(NSIG / 8));
}
