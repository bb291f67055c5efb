/*
 * updaterctl - talk to updaterd over its control socket (SPEC section 10).
 *
 *   updaterctl [--socket PATH] check [--wait [SECONDS]]
 *   updaterctl [--socket PATH] status [--json]
 *   updaterctl [--socket PATH] watch
 *   updaterctl [--socket PATH] rollback TARGET
 *   updaterctl [--socket PATH] hold|unhold TARGET
 *   updaterctl [--socket PATH] metrics
 *   updaterctl rollout-bucket [--machine-id ID | --machine-id-file FILE] TARGET VERSION
 *   updaterctl [--socket PATH] seed TARGET VERSION
 *
 * One datagram is one request (the words are in updater-protocol.h), sent
 * with sendto() and MSG_DONTWAIT from an autobound socket so the daemon can
 * answer; the daemon answers from a socket of its own, so ours is never
 * connected, and a datagram is taken as the reply only when its
 * SCM_CREDENTIALS carry the daemon's uid (root, or the owner of the control
 * socket's file). Notifications (watch, check --wait) come over a
 * connection to the events socket beside the control socket. Every wait,
 * a full queue at the daemon included, ends at a deadline or at SIGINT /
 * SIGTERM.
 * Exit codes: 0 done, 1 the daemon reported a failure, 2 usage, 3 the daemon
 * is not reachable.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "updater-protocol.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

#define REPLY_TIMEOUT_MS 5000
#define SEND_RETRY_MS 10 /* while the daemon's queue is full */
#define WAIT_DEFAULT_SEC 900
#define REQUEST_MAX UPDATER_PROTO_REQUEST_MAX
#define DGRAM_MAX UPDATER_PROTO_REPLY_MAX

static const char *socket_path;
static volatile sig_atomic_t got_signal;
static uid_t daemon_owner = (uid_t)-1; /* the control socket file's owner: the daemon's uid */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: updaterctl [--socket PATH] COMMAND\n"
		"       updaterctl -h|--help | --version\n"
		"\n"
		"  check [--wait [SECONDS]]  request a check; --wait: wait for its end (default %d s)\n"
		"  status [--json]           the daemon's state, as a table or as JSON\n"
		"  watch                     print notifications, one a line, until interrupted\n"
		"  rollback TARGET           restore TARGET's previous version (root only)\n"
		"  hold TARGET               install nothing on TARGET until unhold; checks still run (root only)\n"
		"  unhold TARGET             release a hold (root only)\n"
		"  metrics                   the daemon's metrics, Prometheus text\n"
		"  rollout-bucket [--machine-id ID | --machine-id-file FILE] TARGET VERSION\n"
		"                            this machine's place in VERSION's rollout, 0 (first) to 1\n"
		"                            (computed here, without the daemon)\n"
		"  seed TARGET VERSION       record VERSION as TARGET's installed version and floor (root only)\n"
		"  inhibit [--target T] [--why TEXT] -- COMMAND [ARG...]\n"
		"                            run COMMAND; no swap of T (of any target) starts meanwhile\n"
		"                            (root, or the owner of T's file); exits as COMMAND does\n"
		"\n"
		"The socket is PATH, $UPDATER_SOCKET or %s.\n"
		"Exit: 0 done, 1 the daemon reported a failure, 2 usage, 3 not reachable.\n",
		WAIT_DEFAULT_SEC, UPDATER_PROTO_SOCKET);
}

static void __attribute__((format(printf, 1, 2))) warnx_(const char *fmt, ...)
{
	va_list ap;

	fputs("updaterctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
	got_signal = sig;
}

/* SIGINT/SIGTERM end watch and check --wait; they are blocked except inside ppoll(). */
static void setup_signals(sigset_t *ret_waitmask)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	(void)sigprocmask(SIG_BLOCK, &block, ret_waitmask);
	sigdelset(ret_waitmask, SIGINT);
	sigdelset(ret_waitmask, SIGTERM);
}

static bool unreachable_errno(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == ENOTDIR || e == EACCES || e == EPERM ||
	       e == ENOTSOCK || e == EPROTOTYPE || e == ENAMETOOLONG;
}

/* Sleep up to MS (monotonic), or until SIGINT/SIGTERM. */
static void pause_ms(int64_t ms, const sigset_t *waitmask)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	if (ms > 0 && !got_signal)
		(void)ppoll(NULL, 0, &ts, waitmask);
}

static void control_address(struct sockaddr_un *sa, socklen_t *ret_len)
{
	size_t len = strlen(socket_path);

	if (len == 0 || len >= sizeof(sa->sun_path)) {
		warnx_("socket path '%s': %s", socket_path, strerror(ENAMETOOLONG));
		exit(EXIT_UNREACHABLE);
	}
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, socket_path, len + 1);
	*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* The control socket file's owner: the daemon's uid, beside root. */
static void learn_daemon_owner(void)
{
	struct stat st;

	if (stat(socket_path, &st) == 0)
		daemon_owner = st.st_uid;
}

/*
 * An autobound datagram socket that receives credentials with every
 * datagram, or exit 1. Not connected: the daemon replies from another socket.
 */
static int ctl_socket(void)
{
	struct sockaddr_un self = { .sun_family = AF_UNIX };
	int fd, one = 1;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&self, sizeof(sa_family_t)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		warnx_("socket: %s", strerror(errno));
		exit(EXIT_FAILED);
	}
	learn_daemon_owner();
	return fd;
}

/*
 * Send MSG to the daemon without blocking. While its queue is full, try
 * again until DEADLINE (monotonic ms): then exit 3. SIGINT/SIGTERM: exit 1.
 */
static void ctl_send(int fd, const char *msg, int64_t deadline, const sigset_t *waitmask)
{
	struct sockaddr_un sa;
	socklen_t len;

	control_address(&sa, &len);
	for (;;) {
		int64_t left;

		if (sendto(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, len) >= 0)
			return;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			warnx_("cannot send to the daemon at '%s': %s", socket_path, strerror(errno));
			exit(unreachable_errno(errno) ? EXIT_UNREACHABLE : EXIT_FAILED);
		}
		left = deadline - now_ms();
		if (left <= 0) {
			warnx_("the daemon at '%s' takes no requests: its queue is full", socket_path);
			exit(EXIT_UNREACHABLE);
		}
		/* An unconnected socket cannot poll for room at the daemon: look again shortly. */
		pause_ms(left < SEND_RETRY_MS ? left : SEND_RETRY_MS, waitmask);
		if (got_signal)
			exit(EXIT_FAILED);
	}
}

/* The uid in a datagram's SCM_CREDENTIALS, or (uid_t)-1 without. */
static uid_t sender_uid(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			/* Nobody's descriptors are wanted here. */
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++) {
				int stray;

				memcpy(&stray, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				(void)close(stray);
			}
		}
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			return uc.uid;
		}
	}
	return (uid_t)-1;
}

/*
 * Receive one datagram (from the daemon: CHECK_CREDS) or packet (on the
 * events connection) into BUF, NUL-terminated, a trailing newline removed,
 * before DEADLINE (monotonic ms, < 0: none). A datagram whose credentials
 * are not the daemon's is dropped unread. Returns its length, -ETIMEDOUT,
 * -EINTR when SIGINT/SIGTERM arrived (WAITMASK: the mask inside the wait),
 * -EPIPE when the daemon closed the connection, or another negative errno.
 */
static ssize_t ctl_recv(int fd, char *buf, size_t size, int64_t deadline, const sigset_t *waitmask,
                        bool check_creds)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct timespec ts, *tsp = NULL;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(8 * sizeof(int))];
		} cmsg;
		struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cmsg.buf,
		                     .msg_controllen = sizeof(cmsg.buf) };
		ssize_t n;
		int r;

		if (got_signal)
			return -EINTR;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000;
			tsp = &ts;
		}
		r = ppoll(&p, 1, tsp, waitmask);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (check_creds && !updater_proto_reply_uid_ok(sender_uid(&mh), daemon_owner))
			continue; /* not the daemon: someone who found our address */
		if (!check_creds && n == 0)
			return -EPIPE;
		buf[n] = '\0';
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		return n;
	}
}

/*
 * A connection to the events socket beside the control socket, taken only
 * when its peer has the daemon's uid; exit 3 when there is none.
 */
static int ctl_events(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	int fd;

	if (!updater_proto_events_path(socket_path, sa.sun_path, sizeof(sa.sun_path))) {
		warnx_("socket path '%s': %s", socket_path, strerror(ENAMETOOLONG));
		exit(EXIT_UNREACHABLE);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		warnx_("socket: %s", strerror(errno));
		exit(EXIT_FAILED);
	}
	if (connect(fd, (struct sockaddr *)&sa,
	            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1)) < 0) {
		warnx_("cannot reach the daemon at '%s': %s", sa.sun_path, strerror(errno));
		exit(unreachable_errno(errno) || errno == EAGAIN ? EXIT_UNREACHABLE : EXIT_FAILED);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0 ||
	    !updater_proto_reply_uid_ok(peer.uid, daemon_owner)) {
		warnx_("'%s' is not the daemon's (its owner is uid %d)", sa.sun_path, (int)peer.uid);
		exit(EXIT_UNREACHABLE);
	}
	return fd;
}

#define has_prefix updater_proto_has_prefix

/*
 * The daemon's reply to what was just sent, before DEADLINE. Notifications
 * (an older daemon sent them on this socket) are skipped. No reply in time:
 * exit 3.
 */
static void ctl_reply(int fd, char *buf, size_t size, int64_t deadline, const sigset_t *waitmask)
{
	for (;;) {
		ssize_t n = ctl_recv(fd, buf, size, deadline, waitmask, true);

		if (n == -ETIMEDOUT) {
			warnx_("no reply from the daemon at '%s'", socket_path);
			exit(EXIT_UNREACHABLE);
		}
		if (n == -EINTR)
			exit(EXIT_FAILED);
		if (n < 0) {
			warnx_("no reply from the daemon at '%s': %s", socket_path, strerror((int)-n));
			exit(unreachable_errno((int)-n) ? EXIT_UNREACHABLE : EXIT_FAILED);
		}
		if (!updater_proto_is_note(buf))
			return;
	}
}

/*
 * The length of the well-formed UTF-8 sequence at S (2-4 bytes, no
 * overlong form, no surrogate, at most U+10FFFF) with its code point in
 * *RET_CP, or 0.
 */
static size_t utf8_seq(const unsigned char *s, unsigned *ret_cp)
{
	size_t len;
	unsigned cp, min;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
		return 0;
	*ret_cp = cp;
	return len;
}

/*
 * A daemon's text, made unable to drive the terminal, into OUT (SIZE bytes,
 * NUL-terminated): C0 controls (but a tab, with KEEP_TAB), DEL, the C1
 * controls U+0080-U+009F (as UTF-8, the form a UTF-8 terminal obeys) and
 * every byte that is not well-formed UTF-8 (a lone 0x9b is CSI to an 8-bit
 * terminal) become '?'. Other characters are kept whole, or not at all.
 */
static void safe_text(const char *text, bool keep_tab, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t o = 0;

	if (size == 0)
		return;
	while (*s) {
		unsigned cp = 0;
		size_t len = *s < 0x80 ? 1 : utf8_seq(s, &cp);
		bool bad = len == 0 || (len == 1 && ((*s < ' ' && !(keep_tab && *s == '\t')) || *s == 0x7f)) ||
		           (len == 2 && cp < 0xa0);

		if (bad)
			len = 1;
		if (o + (bad ? 1 : len) >= size)
			break;
		if (bad)
			out[o++] = '?';
		else
			for (size_t i = 0; i < len; i++)
				out[o++] = (char)s[i];
		s += len;
	}
	out[o] = '\0';
}

/* Print a daemon's text without letting it drive the terminal. */
static void print_safe(FILE *f, const char *s)
{
	size_t size = strlen(s) + 1;
	char *clean = malloc(size);

	if (!clean) {
		fputs("?\n", f);
		return;
	}
	safe_text(s, true, clean, size);
	fputs(clean, f);
	fputc('\n', f);
	free(clean);
}

static int fail_reply(const char *what, const char *reply)
{
	fprintf(stderr, "updaterctl: %s: ", what);
	print_safe(stderr, has_prefix(reply, UPDATER_REPLY_ERROR) ? reply + strlen(UPDATER_REPLY_ERROR) : reply);
	return EXIT_FAILED;
}

static int flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx_("standard output: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- check ------------------------------------------------------------- */

static bool is_check_answer(const char *reply)
{
	return strcmp(reply, UPDATER_REPLY_QUEUED) == 0 || strcmp(reply, UPDATER_REPLY_RUNNING) == 0 ||
	       has_prefix(reply, UPDATER_REPLY_DEFERRED);
}

/*
 * check --wait follows each target the round updated through its probation
 * (SPEC section 15): an "updated" notification is answered later by
 * "healthy" or "rolledback" for the same target.
 */
#define PENDING_MAX 64

struct pending {
	char names[PENDING_MAX][72];
	size_t n;
	bool health_rollback;
};

/* The TARGET word of a notification after PREFIX, into NAME. */
static void note_target(const char *note, const char *prefix, char *name, size_t size)
{
	const char *p = note + strlen(prefix);
	size_t len = strcspn(p, " ");

	if (len >= size)
		len = size - 1;
	memcpy(name, p, len);
	name[len] = '\0';
}

static void pending_note(struct pending *pd, const char *note)
{
	char name[72];
	size_t i;

	if (has_prefix(note, UPDATER_NOTE_UPDATED)) {
		note_target(note, UPDATER_NOTE_UPDATED, name, sizeof(name));
		for (i = 0; i < pd->n && strcmp(pd->names[i], name) != 0; i++)
			;
		if (i == pd->n && pd->n < PENDING_MAX)
			snprintf(pd->names[pd->n++], sizeof(pd->names[0]), "%s", name);
		return;
	}
	if (has_prefix(note, UPDATER_NOTE_HEALTHY))
		note_target(note, UPDATER_NOTE_HEALTHY, name, sizeof(name));
	else if (has_prefix(note, UPDATER_NOTE_ROLLEDBACK))
		note_target(note, UPDATER_NOTE_ROLLEDBACK, name, sizeof(name));
	else
		return;
	for (i = 0; i < pd->n; i++) {
		if (strcmp(pd->names[i], name) == 0) {
			memmove(pd->names[i], pd->names[i + 1], (pd->n - i - 1) * sizeof(pd->names[0]));
			pd->n--;
			break;
		}
	}
	/* "rolledback TARGET VERSION health": the update failed its gate. */
	if (has_prefix(note, UPDATER_NOTE_ROLLEDBACK)) {
		const char *reason = strrchr(note, ' ');

		if (reason && strcmp(reason + 1, UPDATER_ROLLBACK_HEALTH) == 0)
			pd->health_rollback = true;
	}
}

static int cmd_check(int fd, bool wait, double wait_sec, const sigset_t *waitmask)
{
	struct pending pd = { .n = 0 };
	bool round_over = false;
	char *buf = malloc(DGRAM_MAX);
	int64_t deadline, reply_deadline = now_ms() + REPLY_TIMEOUT_MS;
	int checks_to_see, ret = EXIT_FAILED, ev = -1;
	const char *summary;

	if (!buf) {
		warnx_("%s", strerror(ENOMEM));
		return EXIT_FAILED;
	}
	/* Subscribed before asking, so the end of our check cannot be missed. */
	if (wait)
		ev = ctl_events();
	ctl_send(fd, UPDATER_REQ_CHECK, reply_deadline, waitmask);
	ctl_reply(fd, buf, DGRAM_MAX, reply_deadline, waitmask);
	if (!is_check_answer(buf)) {
		ret = fail_reply(UPDATER_REQ_CHECK, buf);
		goto out;
	}
	print_safe(stdout, buf);
	if (!wait) {
		ret = flush_stdout() < 0 ? EXIT_FAILED : 0;
		goto out;
	}
	(void)flush_stdout();

	/* "running": the round under way ends first, then ours. */
	checks_to_see = strcmp(buf, UPDATER_REPLY_RUNNING) == 0 ? 2 : 1;
	deadline = now_ms() + (int64_t)llround(wait_sec * 1000.0);
	for (;;) {
		ssize_t n = ctl_recv(ev, buf, DGRAM_MAX, deadline, waitmask, false);

		if (n == -ETIMEDOUT) {
			if (round_over)
				warnx_("probation of %s did not end within %g s", pd.names[0], wait_sec);
			else
				warnx_("the check did not end within %g s", wait_sec);
			ret = EXIT_FAILED;
			break;
		}
		if (n == -EINTR)
			break;
		if (n == -EPIPE) {
			warnx_("the daemon at '%s' closed the connection before the check ended", socket_path);
			break;
		}
		if (n < 0) {
			warnx_("waiting for the daemon at '%s': %s", socket_path, strerror((int)-n));
			break;
		}
		if (has_prefix(buf, UPDATER_REPLY_ERROR)) {
			ret = fail_reply("events", buf);
			break;
		}
		if (updater_proto_is_change(buf) || has_prefix(buf, UPDATER_NOTE_HEALTHY)) {
			print_safe(stdout, buf);
			(void)flush_stdout();
			pending_note(&pd, buf);
		} else if (!round_over && has_prefix(buf, UPDATER_NOTE_CHECKED) && --checks_to_see == 0) {
			/* The end of a round: ok or failed is for the exit code, the summary for people. */
			round_over = true;
			summary = strchr(buf + strlen(UPDATER_NOTE_CHECKED), ' ');
			print_safe(stdout, summary ? summary + 1 : buf + strlen(UPDATER_NOTE_CHECKED));
			ret = has_prefix(buf, UPDATER_NOTE_CHECKED_OK) ? 0 : EXIT_FAILED;
			if (flush_stdout() < 0)
				ret = EXIT_FAILED;
		}
		/* Then every update it made through its probation. */
		if (round_over && pd.n == 0) {
			if (pd.health_rollback) {
				warnx_("an update failed its health check and was rolled back");
				ret = EXIT_FAILED;
			}
			break;
		}
	}
out:
	if (ev >= 0)
		(void)close(ev);
	free(buf);
	return ret;
}

/* ---- status: a small JSON reader for the daemon's one known shape ------ */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype type;
	bool b;
	double num;
	char *str;         /* J_STR, UTF-8 */
	struct jv *items;  /* J_ARR, J_OBJ */
	char **keys;       /* J_OBJ */
	size_t n;
};

struct jparser {
	const char *p;
	int depth;
};

static void jv_free(struct jv *v)
{
	free(v->str);
	for (size_t i = 0; i < v->n; i++) {
		jv_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
}

static void jskip(struct jparser *jp)
{
	while (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r')
		jp->p++;
}

static int jparse_value(struct jparser *jp, struct jv *ret);

static int hex4(const char *s, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

static size_t utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int jparse_string(struct jparser *jp, char **ret)
{
	/* Every escape shrinks or keeps the length: \uXXXX (6) -> at most 3 bytes,
	 * a surrogate pair (12) -> 4. */
	const char *start = ++jp->p;
	char *out, *o;

	while (*jp->p && *jp->p != '"') {
		if (*jp->p == '\\' && jp->p[1])
			jp->p++;
		jp->p++;
	}
	if (*jp->p != '"')
		return -1;
	out = o = malloc((size_t)(jp->p - start) + 1);
	if (!out)
		return -1;
	for (const char *s = start; s < jp->p; s++) {
		unsigned cp, lo;

		if ((unsigned char)*s < 0x20)
			goto bad;
		if (*s != '\\') {
			*o++ = *s;
			continue;
		}
		switch (*++s) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (s + 4 >= jp->p || hex4(s + 1, &cp) < 0)
				goto bad;
			s += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && s + 6 < jp->p && s[1] == '\\' && s[2] == 'u' &&
			    hex4(s + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			o += utf8_put(o, cp);
			break;
		default:
			goto bad;
		}
	}
	*o = '\0';
	jp->p++;
	*ret = out;
	return 0;
bad:
	free(out);
	return -1;
}

static int jparse_container(struct jparser *jp, struct jv *ret, bool object)
{
	char close = object ? '}' : ']';

	ret->type = object ? J_OBJ : J_ARR;
	jp->p++;
	jskip(jp);
	if (*jp->p == close) {
		jp->p++;
		return 0;
	}
	for (;;) {
		struct jv *items = realloc(ret->items, (ret->n + 1) * sizeof(*items));
		char *key = NULL;

		if (!items)
			return -1;
		ret->items = items;
		if (object) {
			char **keys = realloc(ret->keys, (ret->n + 1) * sizeof(*keys));

			if (!keys)
				return -1;
			ret->keys = keys;
			jskip(jp);
			if (*jp->p != '"' || jparse_string(jp, &key) < 0)
				return -1;
			jskip(jp);
			if (*jp->p != ':') {
				free(key);
				return -1;
			}
			jp->p++;
			ret->keys[ret->n] = key;
		}
		memset(&ret->items[ret->n], 0, sizeof(struct jv));
		ret->n++;
		if (jparse_value(jp, &ret->items[ret->n - 1]) < 0)
			return -1;
		jskip(jp);
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p != close)
			return -1;
		jp->p++;
		return 0;
	}
}

static int jparse_value(struct jparser *jp, struct jv *ret)
{
	char *end;
	int r;

	jskip(jp);
	if (++jp->depth > 16)
		return -1;
	switch (*jp->p) {
	case '{':
	case '[':
		r = jparse_container(jp, ret, *jp->p == '{');
		break;
	case '"':
		ret->type = J_STR;
		r = jparse_string(jp, &ret->str);
		break;
	case 'n':
		ret->type = J_NULL;
		r = strncmp(jp->p, "null", 4) == 0 ? 0 : -1;
		jp->p += r == 0 ? 4 : 0;
		break;
	case 't':
	case 'f':
		ret->type = J_BOOL;
		ret->b = *jp->p == 't';
		r = strncmp(jp->p, ret->b ? "true" : "false", ret->b ? 4 : 5) == 0 ? 0 : -1;
		jp->p += r == 0 ? (ret->b ? 4 : 5) : 0;
		break;
	default:
		ret->type = J_NUM;
		ret->num = strtod(jp->p, &end);
		r = end == jp->p ? -1 : 0;
		jp->p = end;
		break;
	}
	jp->depth--;
	return r;
}

static int json_parse(const char *text, struct jv *ret)
{
	struct jparser jp = { .p = text };
	struct jv v = { .type = J_NULL };

	if (jparse_value(&jp, &v) < 0) {
		jv_free(&v);
		return -1;
	}
	jskip(&jp);
	if (*jp.p) {
		jv_free(&v);
		return -1;
	}
	*ret = v;
	return 0;
}

static const struct jv *jget(const struct jv *obj, const char *key)
{
	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

/* A value as short text for the table: strings sanitized, null as "-". */
static void jtext(const struct jv *v, char *buf, size_t size)
{
	if (!v || v->type == J_NULL) {
		snprintf(buf, size, "-");
	} else if (v->type == J_STR) {
		safe_text(v->str, false, buf, size);
		if (buf[0] == '\0')
			snprintf(buf, size, "-");
	} else if (v->type == J_NUM) {
		snprintf(buf, size, "%.15g", v->num);
	} else if (v->type == J_BOOL) {
		snprintf(buf, size, "%s", v->b ? "true" : "false");
	} else {
		snprintf(buf, size, "?");
	}
}

static void jtime(const struct jv *v, char *buf, size_t size)
{
	struct tm tm;
	time_t t;

	if (!v || v->type != J_NUM || v->num < 0 || v->num > 1e12) {
		snprintf(buf, size, v && v->type == J_NULL ? "never" : "-");
		return;
	}
	t = (time_t)v->num;
	if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

/* "stale: pid 123 (hello), pid 456 (hello)": processes still running a replaced file. */
static void print_stale(const struct jv *stale, int indent)
{
	char pid[32], comm[64];

	if (!stale || stale->type != J_ARR || stale->n == 0)
		return;
	printf("%-*s  still running the replaced file:", indent, "");
	for (size_t i = 0; i < stale->n; i++) {
		jtext(jget(&stale->items[i], "pid"), pid, sizeof(pid));
		jtext(jget(&stale->items[i], "comm"), comm, sizeof(comm));
		printf("%s pid %s (%s)", i ? "," : "", pid, comm);
	}
	printf("\n");
}

static int print_status_table(const char *json)
{
	char a[512], b[512], c[512];
	const struct jv *reqs, *targets;
	struct jv root = { .type = J_NULL };
	size_t w_name = 6, w_ver = 7;

	if (json_parse(json, &root) < 0 || root.type != J_OBJ) {
		warnx_("status: the daemon's reply is not the expected JSON");
		jv_free(&root);
		return EXIT_FAILED;
	}
	jtext(jget(&root, "version"), a, sizeof(a));
	jtext(jget(&root, "state"), b, sizeof(b));
	printf("daemon      updaterd %s, %s\n", a, b);
	jtime(jget(&root, "last_check"), a, sizeof(a));
	jtext(jget(&root, "last_result"), b, sizeof(b));
	printf("last check  %s%s%s%s\n", a, strcmp(b, "-") ? " (" : "", strcmp(b, "-") ? b : "",
	       strcmp(b, "-") ? ")" : "");
	jtime(jget(&root, "next_check"), a, sizeof(a));
	printf("next check  %s\n", strcmp(a, "never") == 0 ? "none scheduled" : a);
	reqs = jget(&root, "requests");
	jtext(jget(reqs, "received"), a, sizeof(a));
	jtext(jget(reqs, "coalesced"), b, sizeof(b));
	jtext(jget(reqs, "rejected"), c, sizeof(c));
	printf("requests    %s received, %s coalesced, %s rejected\n", a, b, c);

	targets = jget(&root, "targets");
	if (targets && targets->type == J_ARR && targets->n > 0) {
		for (size_t i = 0; i < targets->n; i++) {
			jtext(jget(&targets->items[i], "name"), a, sizeof(a));
			jtext(jget(&targets->items[i], "version"), b, sizeof(b));
			if (strlen(a) > w_name)
				w_name = strlen(a);
			if (strlen(b) > w_ver)
				w_ver = strlen(b);
		}
		printf("\n%-*s  %-*s  %-19s  %s\n", (int)w_name, "TARGET", (int)w_ver, "VERSION", "UPDATED", "PATH");
		for (size_t i = 0; i < targets->n; i++) {
			const struct jv *t = &targets->items[i];
			char d[512];

			jtext(jget(t, "name"), a, sizeof(a));
			jtext(jget(t, "version"), b, sizeof(b));
			jtime(jget(t, "updated_at"), c, sizeof(c));
			jtext(jget(t, "path"), d, sizeof(d));
			printf("%-*s  %-*s  %-19s  %s\n", (int)w_name, a, (int)w_ver, b, c, d);
			jtext(jget(t, "last_error"), d, sizeof(d));
			if (strcmp(d, "-") != 0)
				printf("%-*s  last error: %s\n", (int)w_name, "", d);
			if (jget(t, "held") && jget(t, "held")->type == J_BOOL && jget(t, "held")->b)
				printf("%-*s  held (updaterctl unhold %s)\n", (int)w_name, "", a);
			if (jget(t, "pending") && jget(t, "pending")->type == J_OBJ) {
				const struct jv *p = jget(t, "pending");

				jtext(jget(p, "version"), b, sizeof(b));
				jtime(jget(p, "at"), c, sizeof(c));
				jtext(jget(p, "why"), d, sizeof(d));
				printf("%-*s  pending: %s%s%s (%s)\n", (int)w_name, "", b,
				       strcmp(c, "-") && strcmp(c, "never") ? " at " : "",
				       strcmp(c, "-") && strcmp(c, "never") ? c : "", d);
			}
			if (jget(t, "probation_until") && jget(t, "probation_until")->type == J_NUM) {
				jtime(jget(t, "probation_until"), d, sizeof(d));
				printf("%-*s  on probation until %s\n", (int)w_name, "", d);
			}
			jtext(jget(t, "quarantined"), d, sizeof(d));
			if (strcmp(d, "-") != 0)
				printf("%-*s  quarantined: %s and older versions (until a newer release)\n", (int)w_name,
				       "", d);
			print_stale(jget(t, "stale"), (int)w_name);
		}
	}
	jv_free(&root);
	return flush_stdout() < 0 ? EXIT_FAILED : 0;
}

static int cmd_status(int fd, bool json, const sigset_t *waitmask)
{
	char *buf = malloc(DGRAM_MAX);
	int ret;

	if (!buf) {
		warnx_("%s", strerror(ENOMEM));
		return EXIT_FAILED;
	}
	int64_t deadline = now_ms() + REPLY_TIMEOUT_MS;

	ctl_send(fd, UPDATER_REQ_STATUS, deadline, waitmask);
	ctl_reply(fd, buf, DGRAM_MAX, deadline, waitmask);
	if (buf[0] != '{') {
		ret = fail_reply(UPDATER_REQ_STATUS, buf);
	} else if (json) {
		print_safe(stdout, buf);
		ret = flush_stdout() < 0 ? EXIT_FAILED : 0;
	} else {
		ret = print_status_table(buf);
	}
	free(buf);
	return ret;
}

/* ---- watch, rollback --------------------------------------------------- */

/* How long `watch` tries to connect again after the daemon closed the connection. */
#define RECONNECT_MS 5000

/*
 * A new connection after the daemon closed ours (it restarted, or we were
 * too slow and missed notifications), within RECONNECT_MS; -1 when none.
 */
static int reconnect(const sigset_t *waitmask)
{
	int64_t deadline = now_ms() + RECONNECT_MS;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!updater_proto_events_path(socket_path, sa.sun_path, sizeof(sa.sun_path)))
		return -1;
	while (!got_signal && now_ms() < deadline) {
		struct ucred peer;
		socklen_t plen = sizeof(peer);
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa,
		            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1)) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) == 0 &&
		    updater_proto_reply_uid_ok(peer.uid, daemon_owner))
			return fd;
		(void)close(fd);
		pause_ms(100, waitmask);
	}
	return -1;
}

static int cmd_watch(const sigset_t *waitmask)
{
	char *buf = malloc(DGRAM_MAX);
	int ret = 0, ev;
	bool heard = false;

	if (!buf) {
		warnx_("%s", strerror(ENOMEM));
		return EXIT_FAILED;
	}
	ev = ctl_events();
	for (;;) {
		ssize_t n = ctl_recv(ev, buf, DGRAM_MAX, -1, waitmask, false);

		if (n == -EINTR)
			break;
		if (n == -EPIPE && heard) {
			(void)close(ev);
			ev = reconnect(waitmask);
			if (ev >= 0) {
				warnx_("the daemon closed the connection; connected again (notifications may have been missed)");
				heard = false;
				continue;
			}
			if (got_signal)
				break;
			warnx_("the daemon at '%s' closed the connection", socket_path);
			ret = EXIT_UNREACHABLE;
			break;
		}
		if (n == -EPIPE) {
			warnx_("the daemon at '%s' closed the connection", socket_path);
			ret = EXIT_UNREACHABLE;
			break;
		}
		if (n < 0) {
			warnx_("watching the daemon at '%s': %s", socket_path, strerror((int)-n));
			ret = EXIT_FAILED;
			break;
		}
		if (has_prefix(buf, UPDATER_REPLY_ERROR)) {
			/* Refused: too many subscribers. */
			ret = fail_reply("watch", buf);
			break;
		}
		heard = true;
		print_safe(stdout, buf);
		if (flush_stdout() < 0) {
			ret = EXIT_FAILED;
			break;
		}
	}
	if (ev >= 0)
		(void)close(ev);
	free(buf);
	return ret;
}

/* WORD TARGET (rollback, hold, unhold): prints the daemon's "ok ..." reply. */
static int cmd_target_request(int fd, const char *word, const char *target, const sigset_t *waitmask)
{
	char req[REQUEST_MAX + 1], buf[1024];

	if (snprintf(req, sizeof(req), "%s %s", word, target) > REQUEST_MAX) {
		warnx_("%s: target name too long", word);
		return EXIT_USAGE;
	}
	int64_t deadline = now_ms() + REPLY_TIMEOUT_MS;

	ctl_send(fd, req, deadline, waitmask);
	ctl_reply(fd, buf, sizeof(buf), deadline, waitmask);
	if (!has_prefix(buf, UPDATER_REPLY_OK))
		return fail_reply(req, buf);
	print_safe(stdout, buf);
	return flush_stdout() < 0 ? EXIT_FAILED : 0;
}

static int cmd_metrics(int fd, const sigset_t *waitmask)
{
	char *buf = malloc(DGRAM_MAX);
	int ret = 0;

	if (!buf) {
		warnx_("%s", strerror(ENOMEM));
		return EXIT_FAILED;
	}
	int64_t deadline = now_ms() + REPLY_TIMEOUT_MS;

	ctl_send(fd, UPDATER_REQ_METRICS, deadline, waitmask);
	ctl_reply(fd, buf, DGRAM_MAX, deadline, waitmask);
	if (buf[0] != '#') {
		ret = fail_reply(UPDATER_REQ_METRICS, buf);
	} else {
		/* Prometheus text: lines of printable ASCII; anything else is shown as '?'. */
		for (const char *p = buf; *p; p++)
			fputc(((unsigned char)*p < ' ' && *p != '\n') || *p == 0x7f ? '?' : *p, stdout);
		ret = flush_stdout() < 0 ? EXIT_FAILED : 0;
	}
	free(buf);
	return ret;
}

/* Without the daemon: the bucket of SPEC 16 for this (or the given) machine. */
static int cmd_rollout_bucket(int argc, char *argv[])
{
	char id[POLICY_MACHINE_ID_MAX + 1];
	const char *given = NULL, *file = NULL;
	int i, r;

	for (i = 0; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			return -1;
		if (strcmp(argv[i], "--machine-id") == 0)
			given = argv[i + 1];
		else if (strcmp(argv[i], "--machine-id-file") == 0)
			file = argv[i + 1];
		else
			return -1;
	}
	if (argc - i != 2 || !*argv[i] || !*argv[i + 1] || (given && file))
		return -1;
	if (given) {
		if (strlen(given) > POLICY_MACHINE_ID_MAX) {
			warnx_("rollout-bucket: the machine-id is longer than %d characters", POLICY_MACHINE_ID_MAX);
			return EXIT_USAGE;
		}
		(void)snprintf(id, sizeof(id), "%s", given);
	} else {
		/* As the daemon does with its default configuration. */
		r = policy_machine_id(file, file ? NULL : "/var/lib/updater", id); /* the default state_dir */
		if (r < 0) {
			warnx_("rollout-bucket: cannot read the machine-id from '%s': %s",
			       file ? file : POLICY_MACHINE_ID_DEFAULT, strerror(-r));
			return EXIT_FAILED;
		}
	}
	printf("%.6f\n", policy_bucket(id, argv[i], argv[i + 1]));
	return flush_stdout() < 0 ? EXIT_FAILED : 0;
}

static int cmd_seed(int fd, const char *target, const char *version, const sigset_t *waitmask)
{
	char req[REQUEST_MAX + 1], buf[1024];

	if (snprintf(req, sizeof(req), UPDATER_REQ_SEED "%s %s", target, version) > REQUEST_MAX) {
		warnx_("seed: target name or version too long");
		return EXIT_USAGE;
	}
	int64_t deadline = now_ms() + REPLY_TIMEOUT_MS;

	ctl_send(fd, req, deadline, waitmask);
	ctl_reply(fd, buf, sizeof(buf), deadline, waitmask);
	if (!has_prefix(buf, UPDATER_REPLY_OK))
		return fail_reply(req, buf);
	print_safe(stdout, buf);
	return flush_stdout() < 0 ? EXIT_FAILED : 0;
}

/* ---- inhibit ------------------------------------------------------------ */

static volatile sig_atomic_t got_child;

static void on_child(int sig)
{
	(void)sig;
	got_child = 1;
}

/* The exit status of updaterctl for a child's wait status. */
static int exit_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_FAILED;
}

/*
 * Hold an inhibitor on an events connection while COMMAND runs. The
 * connection is close-on-exec: COMMAND does not hold it, so it ends the
 * moment updaterctl does, however that happens (the kernel closes it).
 * Notifications that arrive on it meanwhile are read and dropped, so the
 * daemon never finds it full.
 */
static int cmd_inhibit(const char *target, const char *why, char *const command[], const sigset_t *waitmask)
{
	struct sigaction sa = { .sa_handler = on_child };
	char req[REQUEST_MAX + 1], buf[UPDATER_PROTO_NOTE_MAX + 1];
	sigset_t mask = *waitmask, block;
	struct stat st;
	int fd, status, n;
	pid_t child;
	ssize_t len;

	n = snprintf(req, sizeof(req), UPDATER_REQ_INHIBIT " %s%s", target ? target : UPDATER_REQ_INHIBIT_ALL,
	             why && *why ? " " : "");
	for (const char *p = why ? why : ""; *p && n < REQUEST_MAX; p++)
		req[n++] = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f ? *p : '?';
	req[n] = '\0';
	if (stat(socket_path, &st) == 0)
		daemon_owner = st.st_uid;
	fd = ctl_events();
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		warnx_("inhibit: cannot send to the daemon: %s", strerror(errno));
		return EXIT_UNREACHABLE;
	}
	for (;;) {
		len = ctl_recv(fd, buf, sizeof(buf), now_ms() + REPLY_TIMEOUT_MS, waitmask, false);
		if (len < 0) {
			warnx_("inhibit: no answer from the daemon: %s", strerror((int)-len));
			return len == -EINTR ? EXIT_FAILED : EXIT_UNREACHABLE;
		}
		if (!updater_proto_is_note(buf))
			break;
	}
	if (strcmp(buf, UPDATER_REPLY_OK) != 0)
		return fail_reply(req, buf);

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &block, NULL);
	sigdelset(&mask, SIGCHLD);
	child = fork();
	if (child < 0) {
		warnx_("inhibit: fork: %s", strerror(errno));
		return EXIT_FAILED;
	}
	if (child == 0) {
		sigset_t none;

		(void)signal(SIGINT, SIG_DFL);
		(void)signal(SIGTERM, SIG_DFL);
		(void)signal(SIGCHLD, SIG_DFL);
		(void)signal(SIGPIPE, SIG_DFL);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(command[0], command);
		fprintf(stderr, "updaterctl: inhibit: cannot run '%s': %s\n", command[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		pid_t w = waitpid(child, &status, WNOHANG);

		if (w == child)
			break;
		if (got_signal) {
			/* The terminal sent SIGINT to COMMAND too; SIGTERM is meant for it. */
			if (got_signal == SIGTERM)
				(void)kill(child, SIGTERM);
			got_signal = 0;
		}
		got_child = 0;
		if (ppoll(&p, fd >= 0 ? 1 : 0, NULL, &mask) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
			continue;
		len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len == 0 || (len < 0 && errno != EAGAIN && errno != EINTR)) {
			warnx_("inhibit: the daemon closed the connection: the inhibitor is gone");
			(void)close(fd);
			fd = -1;
		}
	}
	return exit_of(status);
}

static bool parse_seconds(const char *s, double *ret)
{
	char *end;
	double v;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 1e7)
		return false;
	*ret = v;
	return true;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	sigset_t waitmask;
	const char *cmd;
	int c, fd;

	/* '+': options end at the command, which has its own. */
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("updaterctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!socket_path) {
		socket_path = getenv("UPDATER_SOCKET");
		if (!socket_path || !*socket_path)
			socket_path = UPDATER_PROTO_SOCKET;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;

	if (strcmp(cmd, "check") == 0) {
		bool wait = false;
		double wait_sec = WAIT_DEFAULT_SEC;

		for (int i = 0; i < argc; i++) {
			if (strcmp(argv[i], "--wait") == 0 || strcmp(argv[i], "-w") == 0) {
				wait = true;
				if (i + 1 < argc && parse_seconds(argv[i + 1], &wait_sec))
					i++;
			} else if (has_prefix(argv[i], "--wait=")) {
				wait = true;
				if (!parse_seconds(argv[i] + 7, &wait_sec))
					goto bad_usage;
			} else {
				goto bad_usage;
			}
		}
		setup_signals(&waitmask);
		fd = ctl_socket();
		return cmd_check(fd, wait, wait_sec, &waitmask);
	}
	if (strcmp(cmd, "status") == 0) {
		bool json = false;

		for (int i = 0; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
				json = true;
			else
				goto bad_usage;
		}
		setup_signals(&waitmask);
		fd = ctl_socket();
		return cmd_status(fd, json, &waitmask);
	}
	if (strcmp(cmd, "watch") == 0) {
		if (argc != 0)
			goto bad_usage;
		setup_signals(&waitmask);
		learn_daemon_owner();
		return cmd_watch(&waitmask);
	}
	if (strcmp(cmd, UPDATER_REQ_ROLLBACK) == 0 || strcmp(cmd, UPDATER_REQ_HOLD) == 0 ||
	    strcmp(cmd, UPDATER_REQ_UNHOLD) == 0) {
		if (argc != 1 || !*argv[0])
			goto bad_usage;
		setup_signals(&waitmask);
		fd = ctl_socket();
		return cmd_target_request(fd, cmd, argv[0], &waitmask);
	}
	if (strcmp(cmd, UPDATER_REQ_METRICS) == 0) {
		if (argc != 0)
			goto bad_usage;
		setup_signals(&waitmask);
		fd = ctl_socket();
		return cmd_metrics(fd, &waitmask);
	}
	if (strcmp(cmd, UPDATER_REQ_INHIBIT) == 0) {
		const char *target = NULL, *why = NULL;
		int i;

		for (i = 0; i < argc; i++) {
			if (strcmp(argv[i], "--") == 0) {
				i++;
				break;
			}
			if (i + 1 < argc && (strcmp(argv[i], "--target") == 0 || strcmp(argv[i], "-t") == 0))
				target = argv[++i];
			else if (i + 1 < argc && strcmp(argv[i], "--why") == 0)
				why = argv[++i];
			else if (has_prefix(argv[i], "--target="))
				target = argv[i] + 9;
			else if (has_prefix(argv[i], "--why="))
				why = argv[i] + 6;
			else if (argv[i][0] == '-')
				goto bad_usage;
			else
				break;
		}
		if (i >= argc || (target && (!*target || strlen(target) > UPDATER_PROTO_TARGET_MAX ||
		                             strchr(target, ' '))))
			goto bad_usage;
		setup_signals(&waitmask);
		return cmd_inhibit(target, why, argv + i, &waitmask);
	}
	if (strcmp(cmd, "rollout-bucket") == 0) {
		int r = cmd_rollout_bucket(argc, argv);

		if (r >= 0)
			return r;
		goto bad_usage;
	}
	if (strcmp(cmd, "seed") == 0) {
		if (argc != 2 || !*argv[0] || !*argv[1])
			goto bad_usage;
		setup_signals(&waitmask);
		fd = ctl_socket();
		return cmd_seed(fd, argv[0], argv[1], &waitmask);
	}
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	warnx_("unknown command '%s'", cmd);
bad_usage:
	usage(stderr);
	return EXIT_USAGE;
}
