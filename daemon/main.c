/*
 * main.c - updaterd: options, set-up, and the one select() loop.
 *
 * Everything the daemon waits for is a descriptor in one select() call: the
 * control socket, the events socket's listening side (never its
 * connections: events.h), a signalfd for SIGHUP/SIGTERM/SIGINT, a CLOCK_BOOTTIME
 * timerfd armed at the nearest deadline, and the pipes of a running check
 * round. Idle, the loop sleeps in select() with nothing to do until that
 * deadline, so an idle daemon makes no system call at all. A timerfd rather
 * than select()'s own timeout, because select() counts CLOCK_MONOTONIC, which
 * stands still while the machine is suspended: a check due during a suspend
 * must run right after resume, not hours later.
 *
 * This is the only file that exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "updater.h"
#include "../client/lib/internal.h" /* updater_keep_clear_(): updaterd links libupdater's code statically */

#include "config.h"
#include "control.h"
#include "events.h"
#include "handover.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "probation.h"
#include "runner.h"
#include "schedule.h"
#include "stale.h"
#include "state.h"
#include "status.h"
#include "update.h"
#include "util.h"

#define EXIT_USAGE 2
#define EXIT_CONFIG 78

/* Datagrams handled per wake-up before the loop looks at its other descriptors again. */
#define CONTROL_BUDGET 4096
#define CONTROL_MSGS 64

/*
 * Self-update goes through libupdater: the control socket, the events
 * socket, every subscriber's connection and a memfd with what the new image
 * must carry on with (handover.h) are kept across updater_reexec() under
 * these names. The first two are also socket activation's names.
 */
#define FDNAME_CONTROL UPDATER_PROTO_FDNAME_CONTROL
#define FDNAME_EVENTS UPDATER_PROTO_FDNAME_EVENTS
#define FDNAME_SUBSCRIBER "subscriber"
#define FDNAME_HANDOVER "handover"

#define METRICS_MIN_GAP_MS 1000
/* What start_daemon() found among the descriptors handed to us, by name or by type. */
struct passed_fds {
	int *control; /* candidates for the control socket */
	size_t n_control;
	int events;   /* the events socket, -1: none */
	int *subscribers;
	size_t n_subscribers;
};

/* Images replaced by swaps since start, remembered to find stale processes. */
#define KNOWN_IMAGES_MAX 64

struct known_image {
	char target[CONFIG_NAME_MAX + 1];
	struct stale_image image;
};

struct daemon {
	char *config_file;
	struct config *config;       /* the running configuration */
	struct config *round_config; /* what the running round uses (may be older than config) */
	struct update_opts opts;
	struct update_opts round_opts;
	struct update_hooks hooks;

	struct control_socket cs;
	struct events ev;
	int sigfd;
	int timerfd;
	int64_t timer_armed; /* the deadline the timerfd is set to; INT64_MAX disarmed, 0 expired */

	struct schedule sched;
	struct update_round *round;
	bool notify;        /* NOTIFY_SOCKET is set */
	int phase_reported; /* last STATUS=: -1 idle, -2 none yet */
	int64_t next_reported;

	uint64_t received, coalesced, rejected;
	int64_t last_check; /* Unix seconds, -1 never */
	char *last_result;

	int64_t watchdog_ms; /* 0: off */
	int64_t watchdog_next;

	/* The metrics file: rewritten when dirty, at most every METRICS_MIN_GAP_MS. */
	bool metrics_dirty;
	bool metrics_failed;
	int64_t metrics_next;
	struct target_state *view_states; /* of the view being rendered */
	struct stale_proc (*view_stale)[STALE_MAX];

	/* The health gate after swaps (probation.h). */
	struct probation_set *probation;
	struct probation_hooks probation_hooks;
	struct known_image known[KNOWN_IMAGES_MAX];
	size_t n_known; /* a ring: the oldest is replaced */

	/* Self-update: a swap replaced our own executable; the memfd handed over. */
	bool reexec;
	int handover_fd;
};

static struct control_msg msgs[CONTROL_MSGS];

static void usage(FILE *f)
{
	(void)fprintf(f,
	              "Usage: updaterd [-c FILE] [--check-config] [--once] [-v] [--version] [-h]\n"
	              "\n"
	              "Keeps chosen executables up to date (see updaterd(8)).\n"
	              "\n"
	              "  -c, --config FILE   configuration file (default %s)\n"
	              "      --check-config  check the configuration and the scripts, then exit\n"
	              "      --once          check every target once, apply updates, then exit\n"
	              "  -v, --verbose       log debug messages\n"
	              "      --version       print the version and exit\n"
	              "  -h, --help          print this help and exit\n",
	              CONFIGFILE);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t sec_to_ms(uint64_t sec)
{
	/* Far enough to be "never" in practice, far from overflowing when added to. */
	const uint64_t cap = (uint64_t)INT64_MAX / 4000;

	return (int64_t)(sec > cap ? cap : sec) * 1000;
}

static void log_lines(int priority, const char *text)
{
	const char *p = text;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (len > 0)
			log_msg(priority, "%.*s", len, p);
		p = nl ? nl + 1 : NULL;
	}
}

static int load_config(const char *file, struct config **ret)
{
	char *errors = NULL;
	int r = config_load(file, ret, &errors);

	if (r < 0) {
		if (errors && *errors)
			log_lines(LOG_ERR, errors);
		else
			log_err("'%s': %s", file, strerror(-r));
	}
	free(errors);
	return r;
}

/* SPEC 14: a root daemon without trusted_keys runs only when told it may. */
static int check_trust(const struct config *config)
{
	/*
	 * Without targets there is nothing to install, signed or not: the
	 * installed default configuration (no targets, no keys) starts, answers
	 * and idles (SPEC 19).
	 */
	if (geteuid() != 0 || config->n_trusted_keys > 0 || config->allow_unsigned || config->n_targets == 0)
		return 0;
	log_err("'%s': trusted_keys is empty: as root, updaterd installs only signed releases; add "
	        "the release key to trusted_keys, or write allow_unsigned: true (tests, private mirrors)",
	        config->file);
	return -EPERM;
}

/*
 * Who the scripts run as. When the daemon is not root, script_user does not
 * apply. Also refuses a configuration a root daemon must not run (check_trust),
 * since every caller (start, --once, --check-config, reload) needs both.
 */
static int resolve_script_user(const struct config *config, struct update_opts *opts)
{
	const char *user = config->script_user ? config->script_user : CONFIG_DEFAULT_SCRIPT_USER;
	struct passwd *pw;

	*opts = (struct update_opts){ .config = config, .uid = getuid(), .gid = getgid() };
	if (geteuid() != 0)
		return 0;
	if (check_trust(config) < 0)
		return -EPERM;
	errno = 0;
	pw = getpwnam(user);
	if (!pw && strcmp(user, CONFIG_DEFAULT_SCRIPT_USER) == 0) {
		log_err("'%s': script_user '%s' does not exist: create it with systemd-sysusers (the "
		        "project's sysusers.d file declares it), or name another system user in script_user",
		        config->file, user);
		return -ESRCH;
	}
	if (!pw) {
		log_err("'%s': script_user '%s': %s", config->file, user,
		        errno ? strerror(errno) : "no such user");
		return -ESRCH;
	}
	if (strcmp(user, "nobody") == 0)
		log_warn("'%s': script_user nobody: other programs run as nobody too and can tamper "
		         "with the scripts' cache; prefer the dedicated user %s", config->file,
		         CONFIG_DEFAULT_SCRIPT_USER);
	opts->change_user = true;
	opts->uid = pw->pw_uid;
	opts->gid = pw->pw_gid;
	return 0;
}

static struct schedule_params schedule_params_of(const struct config *c)
{
	return (struct schedule_params){
		.interval_ms = sec_to_ms(c->interval_sec),
		.splay_ms = sec_to_ms(c->splay_sec),
		.min_interval_ms = sec_to_ms(c->min_interval_sec),
	};
}

static int check_scripts(const struct config *config)
{
	static const char *const names[] = { "check", "download" };
	uid_t owner = geteuid() == 0 ? 0 : geteuid();
	int ret = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[PATH_MAX], err[512];

		if (snprintf(path, sizeof(path), "%s/%s", config->scripts_dir, names[i]) >= (int)sizeof(path)) {
			log_err("scripts_dir '%s' is too long", config->scripts_dir);
			ret = -ENAMETOOLONG;
			continue;
		}
		if (runner_check_script(path, owner, err, sizeof(err)) < 0) {
			log_err("%s", err);
			ret = -EPERM;
		}
	}
	return ret;
}

static int cmd_check_config(const char *file)
{
	struct config *config;
	struct update_opts opts;
	int bad = 0;

	if (load_config(file, &config) < 0)
		return EXIT_CONFIG;
	if (check_scripts(config) < 0)
		bad = 1;
	if (resolve_script_user(config, &opts) < 0)
		bad = 1;
	{
		/* The socket's directory, when it is there already (the daemon makes it otherwise). */
		char err[512];
		int r = unix_check_dir(config->socket_path, geteuid(), err, sizeof(err));

		if (r < 0 && r != -ENOENT) {
			log_err("%s", err);
			bad = 1;
		}
	}
	if (!bad && config->n_dropins > 0)
		log_info("'%s' and %zu drop-in%s in '%s': configuration and scripts are valid", file,
		         config->n_dropins, config->n_dropins == 1 ? "" : "s", config->dropin_dir);
	else if (!bad)
		log_info("'%s': configuration and scripts are valid", file);
	config_free(config);
	return bad ? EXIT_CONFIG : 0;
}

/* Block the signals we read from a signalfd, and ignore SIGPIPE. */
static int setup_signals(void)
{
	sigset_t set;
	int fd;

	(void)signal(SIGPIPE, SIG_IGN);
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGHUP);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

/* Drain the signalfd; returns the signals seen as a bit mask (1 << signo). */
static unsigned read_signals(int fd)
{
	struct signalfd_siginfo si;
	unsigned seen = 0;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo < 32)
			seen |= 1u << si.ssi_signo;
	return seen;
}

static void signal_old_image(const struct target_config *target, const struct swap_result *res)
{
	size_t count = 0;
	int r;

	if (!target->signal || !res || !res->had_old)
		return;
	r = notify_signal_image(res->old_dev, res->old_ino, target->signal, getpid(), &count);
	if (r < 0)
		log_warn("%s: cannot signal processes running the old file: %s", target->name, strerror(-r));
	else if (count > 0)
		log_info("%s: sent %s to %zu process%s running the old file", target->name,
		         sigabbrev_np(target->signal) ? sigabbrev_np(target->signal) : "a signal", count,
		         count == 1 ? "" : "es");
}

/* TEXT, made printable ASCII, as one packet to every subscriber. */
static void publish(struct daemon *d, const char *text)
{
	char clean[UPDATER_PROTO_NOTE_MAX];

	if (!d || d->ev.n == 0)
		return;
	control_sanitize(text, clean, sizeof(clean));
	(void)events_send(&d->ev, clean, strlen(clean));
}

/* "WHAT TARGET VERSION" to every subscriber (WHAT: a notification prefix). */
static void announce(struct daemon *d, const char *what, const char *target, const char *version)
{
	char msg[256];

	if (!d || d->ev.n == 0)
		return;
	(void)snprintf(msg, sizeof(msg), "%s%s %s", what, target, version ? version : "unknown");
	publish(d, msg);
}

/* The stale processes of TARGET (stale.h), with the images this daemon replaced. */
static int scan_stale(const struct daemon *d, const struct target_config *target, struct stale_proc ret[STALE_MAX])
{
	struct stale_image images[KNOWN_IMAGES_MAX];
	size_t n = 0;

	for (size_t i = 0; d && i < KNOWN_IMAGES_MAX && i < d->n_known; i++)
		if (strcmp(d->known[i].target, target->name) == 0)
			images[n++] = d->known[i].image;
	return stale_scan(target->path, images, n, getpid(), ret);
}

/* After a swap or a rollback: remember the replaced image, and say who still runs it. */
static void note_replaced(struct daemon *d, const struct target_config *target, const struct swap_result *res)
{
	struct stale_proc procs[STALE_MAX];
	struct known_image *k;
	int n;

	if (!d || !res || !res->had_old)
		return;
	k = &d->known[d->n_known++ % KNOWN_IMAGES_MAX];
	(void)snprintf(k->target, sizeof(k->target), "%s", target->name);
	k->image = (struct stale_image){ .dev = res->old_dev, .ino = res->old_ino };
	n = scan_stale(d, target, procs);
	if (n > 0)
		log_info("%s: %d process%s still run%s the replaced file (first: pid %d, %s)", target->name, n,
		         n == 1 ? "" : "es", n == 1 ? "s" : "", (int)procs[0].pid, procs[0].comm);
}

static void on_swapped(void *ctx, const struct target_config *target, const char *version,
                       const struct swap_result *res)
{
	struct daemon *d = ctx;

	announce(d, UPDATER_NOTE_UPDATED, target->name, version);
	signal_old_image(target, res);
	note_replaced(d, target, res);
	/* On probation now, when it has a health command (else healthy at once). */
	if (d && d->probation)
		probation_start(d->probation, target);
	/* We replaced our own executable: run the new one once the round is over. */
	if (d && updater_self_changed() == 1)
		d->reexec = true;
}

static void on_rolled_back(void *ctx, const struct target_config *target, const char *version,
                           const char *reason, const struct swap_result *res)
{
	struct daemon *d = ctx;
	char what[160];

	/* "rolledback TARGET VERSION REASON": the reason rides after the version. */
	(void)snprintf(what, sizeof(what), "%s %s", version, reason);
	announce(d, UPDATER_NOTE_ROLLEDBACK, target->name, what);
	signal_old_image(target, res);
	note_replaced(d, target, res);
	if (d)
		d->metrics_dirty = true;
	if (d && updater_self_changed() == 1)
		d->reexec = true;
}

static void on_healthy(void *ctx, const struct target_config *target, const char *version)
{
	struct daemon *d = ctx;

	announce(d, UPDATER_NOTE_HEALTHY, target->name, version);
	if (d)
		d->metrics_dirty = true;
}

static const char *phase_name(enum update_phase phase)
{
	switch (phase) {
	case UPDATE_CHECKING:
		return "checking";
	case UPDATE_DOWNLOADING:
		return "downloading";
	case UPDATE_SWAPPING:
		return "swapping";
	}
	return "checking";
}

static const char *phase_title(enum update_phase phase)
{
	switch (phase) {
	case UPDATE_CHECKING:
		return "Checking for updates";
	case UPDATE_DOWNLOADING:
		return "Downloading";
	case UPDATE_SWAPPING:
		return "Installing";
	}
	return "Checking for updates";
}

/* The next check as Unix seconds, -1 when none is planned. */
static int64_t next_check_unix(const struct daemon *d, int64_t now)
{
	int64_t next = schedule_next(&d->sched);

	if (next == SCHEDULE_NEVER)
		return -1;
	if (next < now)
		next = now;
	return (int64_t)time(NULL) + (next - now + 999) / 1000;
}

/*
 * STATUS= for systemd, only when something it shows changed: this runs on
 * every turn of the loop, a flood included.
 */
static void report_status(struct daemon *d, int64_t now)
{
	int phase = d->round ? (int)update_round_phase(d->round) : -1;
	int64_t next = d->round ? 0 : schedule_next(&d->sched);

	if (!d->notify || (phase == d->phase_reported && next == d->next_reported))
		return;
	d->phase_reported = phase;
	d->next_reported = next;
	if (d->round) {
		notify_status("%s", phase_title((enum update_phase)phase));
	} else if (next == SCHEDULE_NEVER) {
		notify_status("Idle; checks only on request");
	} else {
		time_t t = (time_t)next_check_unix(d, now);
		struct tm tm;
		char when[64];

		(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm));
		notify_status("Idle; next check at %s", when);
	}
}

static void start_round(struct daemon *d, int64_t now)
{
	int r;

	schedule_started(&d->sched, now);
	d->round_opts = d->opts;
	d->round_config = d->config;
	r = update_round_start(&d->round_opts, &d->hooks, &d->round);
	if (r < 0) {
		char msg[256];

		d->round = NULL;
		d->round_config = NULL;
		log_err("cannot start a check: %s", strerror(-r));
		schedule_finished(&d->sched, now, true);
		free(d->last_result);
		(void)snprintf(msg, sizeof(msg), "failed: cannot start: %s", strerror(-r));
		d->last_result = strdup(msg);
		(void)snprintf(msg, sizeof(msg), UPDATER_NOTE_CHECKED_FAILED " cannot start: %s", strerror(-r));
		publish(d, msg);
		return;
	}
	d->phase_reported = -2;
	log_debug("check round started");
}

/* A check at the wall-clock time WAKE_MS (Unix ms), in the schedule's clock. */
static void wake_at(struct daemon *d, int64_t now, int64_t wake_ms)
{
	struct timespec ts;
	int64_t wall, at;

	if (wake_ms < 0)
		return;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	at = now + (wake_ms > wall ? wake_ms - wall : 0);
	schedule_wake(&d->sched, at);
	log_debug("a check is planned in %" PRId64 " ms, when a version found may go in", at - now);
}

static void finish_round(struct daemon *d, int64_t now)
{
	bool failed = update_round_failed(d->round);
	const char *summary = update_round_summary(d->round);
	char msg[2200]; /* summaries run up to 2 KiB */
	int64_t wall = (int64_t)time(NULL), wake_ms;
	int r;

	if (!summary)
		summary = failed ? "failed" : "done";
	log_msg(failed ? LOG_WARNING : LOG_INFO, "check: %s", summary);
	free(d->last_result);
	d->last_result = strdup(summary);
	(void)snprintf(msg, sizeof(msg), "%s %s", failed ? UPDATER_NOTE_CHECKED_FAILED : UPDATER_NOTE_CHECKED_OK, summary);

	wake_ms = update_round_wake_ms(d->round);
	update_round_free(d->round);
	d->round = NULL;
	if (d->round_config && d->round_config != d->config)
		config_free(d->round_config); /* replaced by a reload during the round */
	d->round_config = NULL;

	r = state_set_last_check(d->config->state_dir, wall);
	if (r < 0)
		log_warn("'%s': cannot record the time of the last check: %s", d->config->state_dir, strerror(-r));
	d->last_check = wall;
	schedule_finished(&d->sched, now, failed);
	wake_at(d, now, wake_ms);
	d->metrics_dirty = true;
	if (failed && d->sched.retry != SCHEDULE_NEVER)
		log_info("retrying in %" PRId64 " s", (d->sched.retry - now + 999) / 1000);
	publish(d, msg);
}

/*
 * The view of the state that status.c renders, for the status reply, the
 * metrics reply and the metrics file alike. TARGETS and STATES have room for
 * every target; the caller clears STATES afterwards (view_clear).
 */
static int view_build(struct daemon *d, int64_t now, struct status_view *ret)
{
	const struct config *c = d->config;
	size_t n = c->n_targets ? c->n_targets : 1;
	struct status_target *targets = calloc(n, sizeof(*targets));
	struct target_state *states = calloc(n, sizeof(*states));
	struct stale_proc (*stale)[STALE_MAX] = calloc(n, sizeof(*stale));

	if (!targets || !states || !stale) {
		free(targets);
		free(states);
		free(stale);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_targets; i++) {
		const struct target_config *t = &c->targets[i];
		struct target_state *s = &states[i];
		/* Besides after a swap, the one moment the daemon looks for stale processes. */
		int n_stale = scan_stale(d, t, stale[i]);

		if (state_load_target(c->state_dir, t->name, s) < 0)
			*s = (struct target_state){ .updated_at = -1, .pending_at = -1, .last_success = -1 };
		targets[i] = (struct status_target){
			.name = t->name,
			.path = t->path,
			.version = s->version,
			.sha256 = s->sha256_hex,
			.updated_at = s->updated_at,
			.last_error = s->last_error,
			.held = state_is_held(c->state_dir, t->name),
			.pending_version = s->pending_version,
			.pending_at = s->pending_at,
			.pending_why = s->pending_why,
			.updates = s->updates,
			.rollbacks_manual = s->rollbacks_manual,
			.rollbacks_health = s->rollbacks_health,
			.check_failures = s->check_failures,
			.download_bytes = s->download_bytes,
			.last_success = s->last_success,
			.stale = n_stale < 0 ? 0 : (size_t)n_stale,
			.probation_until = s->probation_until,
			.quarantined = s->rolled_back_from,
			.stale_procs = stale[i],
			.n_stale_procs = n_stale < 0 ? 0 : n_stale > STALE_MAX ? STALE_MAX : (size_t)n_stale,
		};
	}
	*ret = (struct status_view){
		.version = PACKAGE_VERSION,
		.state = d->round ? phase_name(update_round_phase(d->round)) : "idle",
		.last_check = d->last_check,
		.last_result = d->last_result,
		.next_check = next_check_unix(d, now),
		.received = d->received,
		.coalesced = d->coalesced,
		.rejected = d->rejected,
		.targets = targets,
		.n_targets = c->n_targets,
	};
	d->view_states = states;
	d->view_stale = stale;
	return 0;
}

static void view_clear(struct daemon *d, struct status_view *v)
{
	for (size_t i = 0; d->view_states && i < v->n_targets; i++)
		target_state_clear(&d->view_states[i]);
	free(d->view_states);
	d->view_states = NULL;
	free(d->view_stale);
	d->view_stale = NULL;
	free((void *)v->targets);
	v->targets = NULL;
}

static void fill_status_reply(struct daemon *d, struct control_msg *m, int64_t now, bool metrics)
{
	struct status_view st;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (view_build(d, now, &st) < 0) {
		control_set_replyf(m, UPDATER_REPLY_ERROR "out of memory");
		return;
	}
	r = metrics ? status_render_metrics(&st, &text, &len) : status_render_json(&st, &text, &len);
	if (r < 0 || control_set_reply(m, text, len) < 0)
		control_set_replyf(m, UPDATER_REPLY_ERROR "out of memory");
	free(text);
	view_clear(d, &st);
}

/*
 * The metrics file (SPEC 16): rewritten atomically when anything changed,
 * at most once a second, so a flood of requests costs one write a second.
 */
static void metrics_write(struct daemon *d, int64_t now)
{
	const char *file = d->config->metrics_file;
	struct status_view st;
	char *text = NULL;
	size_t len = 0;
	int r;

	d->metrics_dirty = false;
	d->metrics_next = now + METRICS_MIN_GAP_MS;
	if (!file || view_build(d, now, &st) < 0)
		return;
	r = status_render_metrics(&st, &text, &len);
	view_clear(d, &st);
	if (r == 0)
		r = state_write_file_atomic(file, text, len);
	if (r < 0 && !d->metrics_failed)
		log_warn("metrics_file '%s': cannot write it: %s", file, strerror(-r));
	d->metrics_failed = r < 0;
	free(text);
}

/* At start-up: the pending versions of the state that have a time. */
static void wake_for_pending(struct daemon *d, int64_t now)
{
	for (size_t i = 0; i < d->config->n_targets; i++) {
		struct target_state st;

		if (state_load_target(d->config->state_dir, d->config->targets[i].name, &st) == 0 &&
		    st.pending_version && st.pending_at >= 0)
			wake_at(d, now, st.pending_at * 1000);
		target_state_clear(&st);
	}
}

static void handle_hold(struct daemon *d, struct control_msg *m, const char *target, bool hold)
{
	int r;

	if (!config_find_target(d->config, target)) {
		control_set_replyf(m, UPDATER_REPLY_ERROR "no target named '%s'", target);
		return;
	}
	r = state_set_held(d->config->state_dir, target, hold);
	if (r < 0) {
		log_err("%s: cannot %s it in '%s': %s", target, hold ? "hold" : "release", d->config->state_dir,
		        strerror(-r));
		control_set_replyf(m, UPDATER_REPLY_ERROR "%s", strerror(-r));
		return;
	}
	if (hold)
		log_notice("%s: held (by uid 0, pid %d): checks still run, nothing is installed until it is released",
		           target, (int)m->pid);
	else
		log_notice("%s: released (by uid 0, pid %d)", target, (int)m->pid);
	control_set_replyf(m, "%s", UPDATER_REPLY_OK);
	d->metrics_dirty = true;
	/* A version that waited for the release goes in now. */
	if (!hold) {
		int64_t wait_ms;
		bool coalesced;

		(void)schedule_request(&d->sched, now_boottime_ms(), &wait_ms, &coalesced);
	}
}

static void handle_rollback(struct daemon *d, struct control_msg *m, const char *target)
{
	char err[256] = "";
	char *version = NULL;
	int r;

	if (d->round) {
		control_set_replyf(m, UPDATER_REPLY_ERROR "busy: a check is running, try again when it is over");
		return;
	}
	r = update_rollback(&d->opts, &d->hooks, target, NULL, &version, err, sizeof(err));
	if (r == 0 && d->probation)
		probation_cancel(d->probation, target); /* a person decided: the gate is moot */
	if (r < 0) {
		log_warn("rollback of %s failed: %s", target, err[0] ? err : strerror(-r));
		control_set_replyf(m, UPDATER_REPLY_ERROR "%s", err[0] ? err : strerror(-r));
		return;
	}
	log_notice("%s: rolled back to %s (requested by uid 0, pid %d)", target, version ? version : "unknown",
	           (int)m->pid);
	control_set_replyf(m, UPDATER_REPLY_OK_VALUE "%s", version ? version : "unknown");
	free(version);
}

static void handle_seed(struct daemon *d, struct control_msg *m, const struct control_request *req)
{
	char err[256] = "";
	int r;

	if (d->round) {
		control_set_replyf(m, UPDATER_REPLY_ERROR "busy: a check is running, try again when it is over");
		return;
	}
	r = update_seed(d->config, req->target, req->version, err, sizeof(err));
	if (r < 0) {
		log_warn("seed of %s failed: %s", req->target, err[0] ? err : strerror(-r));
		control_set_replyf(m, UPDATER_REPLY_ERROR "%s", err[0] ? err : strerror(-r));
		return;
	}
	log_notice("%s: installed version set to %s, and its floor (requested by uid 0, pid %d)",
	           req->target, req->version, (int)m->pid);
	control_set_replyf(m, UPDATER_REPLY_OK_VALUE "%s", req->version);
}

static void handle_request(struct daemon *d, struct control_msg *m, int64_t now)
{
	struct control_request req;
	char err[128], text[64];
	int64_t wait_ms;
	bool coalesced;
	enum schedule_answer answer;

	if (m->from_self) {
		/* Our own reply or notification came back (a path that leads here): drop it. */
		d->rejected++;
		return;
	}
	d->received++;
	if (control_parse(m->buf, m->len, m->truncated, &req, err, sizeof(err)) < 0) {
		d->rejected++;
		log_debug("rejected a request from uid %d: %s", m->has_creds ? (int)m->uid : -1, err);
		control_set_replyf(m, UPDATER_REPLY_ERROR "%s", err);
		return;
	}
	switch (req.command) {
	case CONTROL_CHECK:
		answer = schedule_request(&d->sched, now, &wait_ms, &coalesced);
		if (coalesced)
			d->coalesced++;
		else
			log_debug("check requested by uid %d", m->has_creds ? (int)m->uid : -1);
		control_format_check(answer, wait_ms, text, sizeof(text));
		control_set_replyf(m, "%s", text);
		break;
	case CONTROL_STATUS:
		fill_status_reply(d, m, now, false);
		break;
	case CONTROL_METRICS:
		fill_status_reply(d, m, now, true);
		break;
	case CONTROL_HOLD:
	case CONTROL_UNHOLD:
		if (!m->has_creds || m->uid != 0) {
			d->rejected++;
			control_set_replyf(m, UPDATER_REPLY_ERROR "permission denied: %s needs root",
			                   req.command == CONTROL_HOLD ? UPDATER_REQ_HOLD : UPDATER_REQ_UNHOLD);
			break;
		}
		handle_hold(d, m, req.target, req.command == CONTROL_HOLD);
		break;
	case CONTROL_SUBSCRIBE:
	case CONTROL_UNSUBSCRIBE:
		control_set_replyf(m, UPDATER_REPLY_ERROR "%s", UPDATER_ERROR_SUBSCRIBE_MOVED);
		break;
	case CONTROL_ROLLBACK:
		if (!m->has_creds || m->uid != 0) {
			d->rejected++;
			log_debug("refused rollback of %s from uid %d", req.target, m->has_creds ? (int)m->uid : -1);
			control_set_replyf(m, UPDATER_REPLY_ERROR "permission denied: rollback needs root");
			break;
		}
		handle_rollback(d, m, req.target);
		break;
	case CONTROL_SEED:
		if (!m->has_creds || m->uid != 0) {
			d->rejected++;
			control_set_replyf(m, UPDATER_REPLY_ERROR "permission denied: seed needs root");
			break;
		}
		handle_seed(d, m, &req);
		break;
	}
}

static void handle_control(struct daemon *d, int64_t now)
{
	size_t budget = CONTROL_BUDGET;

	/*
	 * Drain the socket in batches. A batch shorter than asked for means
	 * recvmmsg() met EAGAIN: the queue is empty, and select() will say when
	 * more arrives. The budget keeps a flood from starving signals and the
	 * running round.
	 */
	while (budget > 0) {
		int n = control_receive(d->cs.fd, msgs, CONTROL_MSGS);

		if (n < 0) {
			log_warn("control socket: %s", strerror(-n));
			return;
		}
		for (int i = 0; i < n; i++)
			handle_request(d, &msgs[i], now);
		(void)control_send_replies(&d->cs, msgs, (size_t)n);
		if (n < CONTROL_MSGS)
			return;
		budget = budget > (size_t)n ? budget - (size_t)n : 0;
	}
}

/*
 * Inhibitors (SPEC 16). Who may hold one on TARGET: root, or the owner of
 * the target's file; on every target (TARGET ""), root only.
 */
static int on_inhibit(void *ctx, const struct events_conn *c, const char *target, char *err, size_t err_size)
{
	struct daemon *d = ctx;
	const struct target_config *t = NULL;
	struct stat st;

	if (target[0]) {
		t = config_find_target(d->config, target);
		if (!t) {
			(void)snprintf(err, err_size, "no target named '%s'", target);
			return -ENOENT;
		}
	}
	if (c->uid != 0) {
		if (!t) {
			(void)snprintf(err, err_size, "permission denied: an inhibitor on every target needs root");
			return -EPERM;
		}
		if (lstat(t->path, &st) < 0 || st.st_uid != c->uid) {
			(void)snprintf(err, err_size, "permission denied: only root or the owner of '%s' may inhibit %s",
			               t->path, t->name);
			return -EPERM;
		}
	}
	log_notice("inhibitor on %s taken by uid %u (pid %d)%s%s", t ? t->name : "every target", (unsigned)c->uid,
	           (int)c->pid, c->why[0] ? ": " : "", c->why);
	return 0;
}

static bool pending_for_inhibitor(const struct config *config)
{
	bool found = false;

	for (size_t i = 0; i < config->n_targets && !found; i++) {
		struct target_state st;

		if (state_load_target(config->state_dir, config->targets[i].name, &st) == 0 && st.pending_why &&
		    updater_proto_has_prefix(st.pending_why, POLICY_RULE_INHIBITOR ":"))
			found = true;
		target_state_clear(&st);
	}
	return found;
}

static void on_release(void *ctx, const struct events_conn *c)
{
	struct daemon *d = ctx;
	struct timespec ts;
	int64_t held;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	held = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - c->since_ms;
	log_notice("inhibitor on %s released (uid %u, pid %d), held %" PRId64 ".%01" PRId64 " s",
	           c->target[0] ? c->target : "every target", (unsigned)c->uid, (int)c->pid, held / 1000,
	           held % 1000 / 100);
	/* What waited for it goes in now, past min_interval: it was due already. */
	if (pending_for_inhibitor(d->config))
		schedule_force(&d->sched);
}

/* The update round's hook: look at what came on the connections first, so a fresh inhibitor counts. */
static size_t inhibitors_of(void *ctx, const struct target_config *target, int64_t *ret_since_ms,
                            const char **ret_why)
{
	struct daemon *d = ctx;

	if (!d)
		return 0;
	(void)events_reap(&d->ev);
	return events_inhibitors(&d->ev, target->name, ret_since_ms, ret_why);
}

static void handle_events(struct daemon *d)
{
	uint64_t refused = d->ev.refused;
	int r = events_accept(&d->ev);

	if (r < 0)
		log_warn("events socket: %s", strerror(-r));
	else if (r > 0)
		log_debug("%d new subscriber%s, %zu in all", r, r == 1 ? "" : "s", d->ev.n);
	if (d->ev.refused > refused)
		log_debug("refused %" PRIu64 " subscriber%s over the limits", d->ev.refused - refused,
		          d->ev.refused - refused == 1 ? "" : "s");
}

static void reload(struct daemon *d, int64_t now)
{
	struct config *config;
	struct update_opts opts;
	struct schedule_params params;
	int r;

	notify_reloading();
	notify_status("Reloading the configuration");
	log_info("SIGHUP: reloading '%s'", d->config_file);
	if (load_config(d->config_file, &config) < 0) {
		log_err("'%s' is invalid; keeping the running configuration", d->config_file);
	} else if (resolve_script_user(config, &opts) < 0) {
		log_err("'%s' is invalid; keeping the running configuration", d->config_file);
		config_free(config);
	} else {
		if (!d->cs.activated && strcmp(config->socket_path, d->config->socket_path) != 0)
			log_warn("socket: the new path '%s' takes effect at the next start; still serving '%s'",
			         config->socket_path, d->config->socket_path);
		if (d->config != d->round_config)
			config_free(d->config);
		d->config = config;
		d->opts = opts;
		d->opts.config = d->config;
		params = schedule_params_of(config);
		schedule_set_params(&d->sched, &params);
		r = state_init(config->state_dir);
		if (r < 0)
			log_err("'%s': %s", config->state_dir, strerror(-r));
		log_info("'%s' reloaded", d->config_file);
		d->metrics_dirty = true;
	}
	notify_ready();
	/* SIGHUP also means "check now", past min_interval. */
	schedule_force(&d->sched);
	d->phase_reported = -2;
	report_status(d, now);
}

/* Arm the timerfd at DEADLINE (CLOCK_BOOTTIME ms), only when it changed. */
static void arm_timer(struct daemon *d, int64_t deadline)
{
	struct itimerspec its = { 0 };

	if (deadline < 1)
		deadline = 1; /* due already; zero would disarm it */
	if (deadline == d->timer_armed)
		return;
	if (deadline != INT64_MAX) {
		its.it_value.tv_sec = deadline / 1000;
		its.it_value.tv_nsec = (deadline % 1000) * 1000000;
	}
	if (timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_warn("timerfd_settime: %m");
		return;
	}
	d->timer_armed = deadline;
}

/*
 * What a re-executed image needs to carry on where this one stops, in a
 * memfd made once (handover.h has the format). Returns its descriptor
 * (close-on-exec; libupdater clears that for the exec), or a negative errno.
 */
static int handover_save(struct daemon *d, int64_t now)
{
	const struct handover h = {
		.received = d->received,
		.coalesced = d->coalesced,
		.rejected = d->rejected,
		.pending = d->sched.pending,
		.has_last_start = d->sched.last_start != INT64_MIN,
		.last_start_ago_ms = now - d->sched.last_start,
		.socket_path = d->cs.path,
		.socket_dev = d->cs.dev,
		.socket_ino = d->cs.ino,
		.events_path = d->ev.path,
		.events_dev = d->ev.dev,
		.events_ino = d->ev.ino,
		.last_result = d->last_result,
	};
	int r;

	if (d->handover_fd < 0) {
		d->handover_fd = memfd_create("updaterd-handover", MFD_CLOEXEC);
		if (d->handover_fd < 0)
			return -errno;
	}
	r = handover_write(d->handover_fd, &h);
	return r < 0 ? r : d->handover_fd;
}

/* In a re-executed image: take over what the previous one handed over. */
static void handover_take(struct daemon *d, int64_t now)
{
	int fd = updater_inherited_fd(FDNAME_HANDOVER), r;
	struct handover h;

	if (fd < 0)
		return;
	r = handover_read(fd, &h);
	(void)close(fd);
	if (r < 0) {
		log_warn("cannot read what the previous image handed over: %s", strerror(-r));
		return;
	}
	d->received = h.received;
	d->coalesced = h.coalesced;
	d->rejected = h.rejected;
	if (h.pending)
		d->sched.pending = true;
	if (h.has_last_start)
		d->sched.last_start = now - h.last_start_ago_ms;
	/* Only a socket that came to us without a path of its own. */
	if (h.socket_path && d->cs.activated && !d->cs.path) {
		d->cs.path = h.socket_path;
		d->cs.dev = h.socket_dev;
		d->cs.ino = h.socket_ino;
		h.socket_path = NULL;
	}
	if (h.events_path && d->ev.activated && !d->ev.path) {
		d->ev.path = h.events_path;
		d->ev.dev = h.events_dev;
		d->ev.ino = h.events_ino;
		h.events_path = NULL;
	}
	if (h.last_result) {
		free(d->last_result);
		d->last_result = h.last_result;
		h.last_result = NULL;
	}
	handover_clear(&h);
	log_info("carried on after re-executing: %zu subscriber%s kept", d->ev.n, d->ev.n == 1 ? "" : "s");
}

/*
 * Run the new version of ourselves in this process (libupdater's re-exec),
 * handing over the control socket, so no request is refused, and the memfd
 * with the subscribers and counters. On failure the old version runs on.
 */
static void do_reexec(struct daemon *d)
{
	int r, hfd;

	d->reexec = false;
	log_notice("our executable was replaced: re-executing it, keeping the control and events sockets");
	notify_status("Re-executing the new version");
	/* What an earlier attempt kept may be closed by now: the list is made afresh. */
	updater_keep_clear_();
	/* The sockets first: they get the low numbers 3 and 4 in the new image. */
	r = updater_keep_fd(d->cs.fd, FDNAME_CONTROL);
	if (r == 0 && d->ev.fd >= 0)
		r = updater_keep_fd(d->ev.fd, FDNAME_EVENTS);
	if (r < 0) {
		log_err("cannot re-execute: cannot keep the sockets: %s", strerror(-r));
		return;
	}
	hfd = handover_save(d, now_boottime_ms());
	if (hfd >= 0)
		r = updater_keep_fd(hfd, FDNAME_HANDOVER);
	else
		r = hfd;
	if (r < 0)
		log_warn("cannot hand the counters over: %s", strerror(-r));
	/* Connections whose peer left are not worth handing over. */
	(void)events_reap(&d->ev);
	for (size_t i = 0; i < d->ev.n; i++) {
		r = updater_keep_fd(d->ev.v[i].fd, FDNAME_SUBSCRIBER);
		if (r < 0) {
			log_warn("cannot hand the subscribers over: %s", strerror(-r));
			break;
		}
	}
	r = updater_reexec();
	log_err("cannot re-execute: %s; the old version keeps running", strerror(-r));
}

static int run_loop(struct daemon *d)
{
	for (;;) {
		int64_t now = now_boottime_ms(), deadline = INT64_MAX;
		fd_set rfds;
		int maxfd = -1, r;

		if (!d->round && schedule_due(&d->sched, now))
			start_round(d, now);
		report_status(d, now);

		if (d->round)
			deadline = update_round_deadline(d->round);
		else
			deadline = schedule_next(&d->sched);
		deadline = min64(deadline, probation_deadline(d->probation));
		if (d->watchdog_ms > 0)
			deadline = min64(deadline, d->watchdog_next);
		if (d->metrics_dirty && d->config->metrics_file) {
			if (now >= d->metrics_next)
				metrics_write(d, now);
			else
				deadline = min64(deadline, d->metrics_next);
		}
		arm_timer(d, deadline);

		FD_ZERO(&rfds);
		FD_SET(d->sigfd, &rfds);
		FD_SET(d->timerfd, &rfds);
		FD_SET(d->cs.fd, &rfds);
		maxfd = d->sigfd > d->timerfd ? d->sigfd : d->timerfd;
		if (d->cs.fd > maxfd)
			maxfd = d->cs.fd;
		if (d->ev.fd >= 0) {
			FD_SET(d->ev.fd, &rfds);
			if (d->ev.fd > maxfd)
				maxfd = d->ev.fd;
		}
		if (d->ev.epfd >= 0 && d->ev.epfd < FD_SETSIZE) {
			FD_SET(d->ev.epfd, &rfds);
			if (d->ev.epfd > maxfd)
				maxfd = d->ev.epfd;
		}
		if (d->round)
			update_round_fill_fds(d->round, &rfds, &maxfd);
		update_background_fill_fds(&rfds, &maxfd);
		probation_fill_fds(d->probation, &rfds, &maxfd);

		r = select(maxfd + 1, &rfds, NULL, NULL, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_err("select: %m");
			return 1;
		}
		now = now_boottime_ms();

		if (FD_ISSET(d->sigfd, &rfds)) {
			unsigned seen = read_signals(d->sigfd);

			if (seen & ((1u << SIGTERM) | (1u << SIGINT))) {
				log_info("%s: stopping", seen & (1u << SIGTERM) ? "SIGTERM" : "SIGINT");
				return 0;
			}
			if (seen & (1u << SIGHUP))
				reload(d, now);
		}
		if (FD_ISSET(d->timerfd, &rfds)) {
			uint64_t ticks;

			if (read(d->timerfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				log_debug("timerfd: %m");
			d->timer_armed = 0; /* expired: arm it again (0 is never a deadline) */
		}
		/* Connections first: a client connects, then asks for a check whose end it awaits. */
		if (d->ev.fd >= 0 && FD_ISSET(d->ev.fd, &rfds))
			handle_events(d);
		/* A packet on a connection (an inhibitor), or a connection gone. */
		if (d->ev.epfd >= 0 && d->ev.epfd < FD_SETSIZE && FD_ISSET(d->ev.epfd, &rfds)) {
			events_watch_clear(&d->ev);
			(void)events_reap(&d->ev);
		}
		if (FD_ISSET(d->cs.fd, &rfds)) {
			handle_control(d, now);
			d->metrics_dirty = true; /* the request counters */
		}
		update_background_process(&rfds);
		if (d->round && update_round_process(d->round, &rfds, now) > 0)
			finish_round(d, now);
		probation_process(d->probation, &rfds, now);
		/* After a swap or rollback of ourselves, and never in the middle of a round. */
		if (d->reexec && !d->round)
			do_reexec(d);
		if (d->watchdog_ms > 0 && now >= d->watchdog_next) {
			notify_watchdog();
			d->watchdog_next = now + d->watchdog_ms;
		}
	}
}

static void daemon_free(struct daemon *d)
{
	/* A probation cut short resumes at the next start: its deadline is in the state. */
	probation_set_free(d->probation);
	d->probation = NULL;
	if (d->round)
		update_round_free(d->round);
	d->round = NULL;
	update_background_free();
	if (d->round_config && d->round_config != d->config)
		config_free(d->round_config);
	config_free(d->config);
	control_close(&d->cs, false);
	events_close(&d->ev, false);
	if (d->sigfd >= 0)
		(void)close(d->sigfd);
	if (d->timerfd >= 0)
		(void)close(d->timerfd);
	for (size_t i = 0; i < CONTROL_MSGS; i++)
		free(msgs[i].reply_alloc);
	free(d->last_result);
	if (d->handover_fd >= 0)
		(void)close(d->handover_fd);
}

/*
 * The events socket: the one handed to us, or events.sock beside the control
 * socket. Its directory is held to the control socket's rule. Returns 0, or
 * a negative errno (-EPERM: the directory is not safe) after logging.
 */
static int open_events(struct daemon *d, struct passed_fds *p)
{
	char path[PATH_MAX], err[512];
	char *control = d->cs.fd >= 0 && !d->cs.path ? unix_socket_path(d->cs.fd) : NULL;
	const char *base = d->cs.path ? d->cs.path : control ? control : d->config->socket_path;
	int r;

	if (!updater_proto_events_path(base, path, sizeof(path))) {
		log_err("events socket: no directory in '%s'", base);
		free(control);
		return -EINVAL;
	}
	free(control);
	if (p->events < 0) {
		/* Not in a directory others may write to (nor one another user owns). */
		r = unix_check_dir(path, geteuid(), err, sizeof(err));
		if (r < 0 && r != -ENOENT) {
			log_err("events socket: %s", err);
			return r;
		}
	}
	r = events_open(&d->ev, path, p->events, err, sizeof(err));
	p->events = -1;
	if (r < 0) {
		log_err("events socket: %s", err);
		return r;
	}
	d->ev.on_inhibit = on_inhibit;
	d->ev.on_release = on_release;
	d->ev.ctx = d;
	if (d->ev.activated) {
		char *where = unix_socket_path(d->ev.fd);

		r = where ? unix_check_dir(where, geteuid(), err, sizeof(err)) : 0;
		free(where);
		if (r < 0) {
			log_err("events socket: %s", err);
			return r;
		}
	}
	for (size_t i = 0; i < p->n_subscribers; i++) {
		r = events_adopt(&d->ev, p->subscribers[i]);
		if (r < 0 && r != -ENOTSOCK)
			log_warn("a subscriber handed over is lost: %s", strerror(-r));
	}
	p->n_subscribers = 0;
	return 0;
}

/* The activated control and events sockets, emptied: see control_drain(). */
static void drain_passed(const struct passed_fds *p)
{
	control_drain(p->control, p->n_control);
	if (p->events >= 0)
		control_drain(&p->events, 1);
}

static int cmd_daemon(const char *file, struct passed_fds *passed)
{
	struct daemon d = {
		.cs = { .fd = -1, .reply_fd = -1 },
		.ev = { .fd = -1, .epfd = -1 },
		.sigfd = -1,
		.timerfd = -1,
		.timer_armed = INT64_MAX,
		.phase_reported = -2,
		.last_check = -1,
		.handover_fd = -1,
	};
	struct schedule_params params;
	char err[512];
	int64_t now, since = -1;
	bool activated;
	int r, ret = 1;

	d.notify = getenv("NOTIFY_SOCKET") != NULL;
	d.config_file = (char *)file;
	/* Exit 78 without leaving a request behind to restart us (control_drain). */
	if (load_config(file, &d.config) < 0) {
		drain_passed(passed);
		return EXIT_CONFIG;
	}
	if (resolve_script_user(d.config, &d.opts) < 0) {
		config_free(d.config);
		drain_passed(passed);
		return EXIT_CONFIG;
	}
	d.opts.config = d.config;
	d.hooks = (struct update_hooks){ .on_swapped = on_swapped, .on_rolled_back = on_rolled_back,
		                         .inhibitors = inhibitors_of, .ctx = &d };
	d.probation_hooks = (struct probation_hooks){ .on_healthy = on_healthy, .ctx = &d };
	if (probation_set_new(&d.opts, &d.hooks, &d.probation_hooks, &d.probation) < 0) {
		log_err("%s", strerror(ENOMEM));
		config_free(d.config);
		return 1;
	}

	r = setup_signals();
	if (r < 0) {
		log_err("signals: %s", strerror(-r));
		goto out;
	}
	d.sigfd = r;
	d.timerfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d.timerfd < 0) {
		log_err("timerfd_create: %m");
		goto out;
	}
	r = state_init(d.config->state_dir);
	if (r < 0) {
		log_err("'%s': cannot create the state directory: %s", d.config->state_dir, strerror(-r));
		goto out;
	}
	update_recover(d.config);

	r = events_raise_nofile(&d.ev);
	if (r < 0)
		log_warn("RLIMIT_NOFILE: no room for %d subscribers above descriptor %d (%s); fewer are taken",
		         EVENTS_MAX, EVENTS_FD_FLOOR, strerror(-r));
	/*
	 * Bound by us, the events socket comes first: a client that finds the
	 * control socket finds the events socket listening (between its bind()
	 * and listen() a connection is refused). An activated control socket
	 * names the directory, so it is taken first.
	 */
	activated = passed->n_control > 0;
	if (!activated) {
		r = open_events(&d, passed);
		if (r < 0) {
			if (r == -EPERM)
				ret = EXIT_CONFIG;
			goto out;
		}
	}
	r = control_open(d.config->socket_path, passed->control, passed->n_control, &d.cs, err, sizeof(err));
	passed->n_control = 0; /* taken, or closed */
	if (r < 0) {
		log_err("control socket: %s", err);
		if (r == -EPERM)
			ret = EXIT_CONFIG;
		goto out;
	}
	if (activated) {
		r = open_events(&d, passed);
		if (r < 0) {
			if (r == -EPERM)
				ret = EXIT_CONFIG;
			goto out;
		}
	}

	now = now_boottime_ms();
	d.last_check = state_last_check(d.config->state_dir);
	if (d.last_check >= 0) {
		int64_t ago = (int64_t)time(NULL) - d.last_check;

		since = ago < 0 ? 0 : (ago > INT64_MAX / 2000 ? INT64_MAX / 2000 : ago) * 1000;
	}
	params = schedule_params_of(d.config);
	schedule_init(&d.sched, &params, NULL, now, since);
	handover_take(&d, now);
	wake_for_pending(&d, now);
	/* A probation the state records goes on (or rolls back, when its deadline passed). */
	probation_resume(d.probation);
	d.metrics_dirty = true;

	d.watchdog_ms = notify_watchdog_interval_ms();
	d.watchdog_next = now + d.watchdog_ms;

	log_info("updaterd %s serving %zu target%s on '%s' (events on '%s')%s", PACKAGE_VERSION,
	         d.config->n_targets, d.config->n_targets == 1 ? "" : "s",
	         d.cs.path ? d.cs.path : "(socket activation)", d.ev.path ? d.ev.path : "(socket activation)",
	         d.config->interval_sec ? "" : "; periodic checks off");
	notify_ready();
	ret = run_loop(&d);
out:
	notify_stopping();
	if (d.round)
		log_info("cancelling the running check");
	daemon_free(&d);
	return ret;
}

static int cmd_once(const char *file)
{
	struct config *config;
	struct update_opts opts;
	/* No sockets here: only what the hooks need for probation and stale processes. */
	struct daemon d = { .cs = { .fd = -1 } };
	struct update_hooks hooks = { .on_swapped = on_swapped, .on_rolled_back = on_rolled_back, .ctx = &d };
	struct update_round *round = NULL;
	bool round_failed = false;
	int sigfd = -1, r, ret = 1;

	if (load_config(file, &config) < 0)
		return EXIT_CONFIG;
	if (resolve_script_user(config, &opts) < 0) {
		config_free(config);
		return EXIT_CONFIG;
	}
	sigfd = setup_signals();
	if (sigfd < 0) {
		log_err("signals: %s", strerror(-sigfd));
		goto out;
	}
	r = state_init(config->state_dir);
	if (r < 0) {
		log_err("'%s': cannot create the state directory: %s", config->state_dir, strerror(-r));
		goto out;
	}
	update_recover(config);
	r = probation_set_new(&opts, &hooks, NULL, &d.probation);
	if (r < 0) {
		log_err("%s", strerror(-r));
		goto out;
	}
	probation_resume(d.probation);
	r = update_round_start(&opts, &hooks, &round);
	if (r < 0) {
		log_err("cannot start a check: %s", strerror(-r));
		goto out;
	}
	/* The round, then every probation it started (SPEC section 15: --once waits for them). */
	while (round || probation_active(d.probation) || update_background_busy()) {
		int64_t now = now_boottime_ms(), deadline = probation_deadline(d.probation);
		struct timeval tv, *tvp = NULL;
		fd_set rfds;
		int maxfd = sigfd;

		if (round)
			deadline = min64(deadline, update_round_deadline(round));

		if (deadline != INT64_MAX) {
			int64_t wait = deadline > now ? deadline - now : 0;

			tv.tv_sec = (time_t)(wait / 1000);
			tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
			tvp = &tv;
		}
		FD_ZERO(&rfds);
		FD_SET(sigfd, &rfds);
		if (round)
			update_round_fill_fds(round, &rfds, &maxfd);
		probation_fill_fds(d.probation, &rfds, &maxfd);
		update_background_fill_fds(&rfds, &maxfd);
		if (select(maxfd + 1, &rfds, NULL, NULL, tvp) < 0) {
			if (errno == EINTR)
				continue;
			log_err("select: %m");
			goto out;
		}
		if (FD_ISSET(sigfd, &rfds) && (read_signals(sigfd) & ((1u << SIGTERM) | (1u << SIGINT)))) {
			log_info(round ? "stopping: cancelling the check" : "stopping: probation resumes at the next start");
			goto out;
		}
		now = now_boottime_ms();
		if (round && update_round_process(round, &rfds, now) > 0) {
			const char *summary = update_round_summary(round);

			round_failed = update_round_failed(round);
			log_msg(round_failed ? LOG_WARNING : LOG_INFO, "check: %s",
			        summary ? summary : round_failed ? "failed" : "done");
			r = state_set_last_check(config->state_dir, (int64_t)time(NULL));
			if (r < 0)
				log_warn("'%s': cannot record the time of the last check: %s", config->state_dir,
				         strerror(-r));
			update_round_free(round);
			round = NULL;
			if (probation_active(d.probation))
				log_info("waiting for probation to end");
		}
		probation_process(d.probation, &rfds, now);
		update_background_process(&rfds);
	}
	ret = round_failed ? 1 : 0;
	if (probation_rollbacks(d.probation) > 0) {
		log_warn("%zu automatic rollback%s: exiting 1", probation_rollbacks(d.probation),
		         probation_rollbacks(d.probation) == 1 ? "" : "s");
		ret = 1;
	}
out:
	probation_set_free(d.probation);
	update_background_free();
	if (round)
		update_round_free(round);
	if (sigfd >= 0)
		(void)close(sigfd);
	config_free(config);
	return ret;
}

static bool is_listening_seqpacket(int fd)
{
	return sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 1) > 0;
}

/*
 * The descriptors handed to us at start, by socket activation or by our
 * previous image after a self-update, are sorted first: "subscriber" and
 * "handover" by name (from the previous image), the sockets by type (a
 * listening SOCK_SEQPACKET socket is the events socket, the first datagram
 * socket the control socket), whatever their names (FileDescriptorName=
 * events / control in the units; tools such as systemd-socket-activate give
 * one name to all); then libupdater takes them over
 * (and LISTEN_* out of the environment) and learns who we are, for
 * self-update. The handover memfd is read later, by name.
 */
static int start_daemon(const char *file, int argc, char *argv[])
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(0, &names), handover, r;
	struct passed_fds p = { .events = -1 };

	if (n < 0 || n > 4096)
		n = 0;
	r = updater_init(argc, argv);
	if (r < 0)
		log_warn("cannot prepare self-update: %s", strerror(-r));
	handover = updater_inherited_fd(FDNAME_HANDOVER);
	if (n > 0) {
		p.control = calloc((size_t)n, sizeof(*p.control));
		p.subscribers = calloc((size_t)n, sizeof(*p.subscribers));
		if (!p.control || !p.subscribers) {
			log_err("%s", strerror(ENOMEM));
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "";

		if (fd == handover)
			continue;
		if (strcmp(name, FDNAME_SUBSCRIBER) == 0)
			p.subscribers[p.n_subscribers++] = fd;
		else if (p.events < 0 && is_listening_seqpacket(fd))
			p.events = fd; /* named "events", or by whatever name a tool gave it */
		else
			p.control[p.n_control++] = fd; /* control_open() takes the first datagram socket, closes the rest */
	}
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	r = cmd_daemon(file, &p);
	/* Whatever was not taken (a failed start) is closed. */
	for (size_t i = 0; i < p.n_control; i++)
		(void)close(p.control[i]);
	for (size_t i = 0; i < p.n_subscribers; i++)
		(void)close(p.subscribers[i]);
	if (p.events >= 0)
		(void)close(p.events);
	free(p.control);
	free(p.subscribers);
	return r;
}

int main(int argc, char *argv[])
{
	enum { OPT_CHECK_CONFIG = 256, OPT_ONCE, OPT_VERSION };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = CONFIGFILE;
	bool check_config = false, once = false;
	int c;

	log_init();
	while ((c = getopt_long(argc, argv, "c:vh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 'v':
			log_set_verbose(true);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_CHECK_CONFIG:
			check_config = true;
			break;
		case OPT_ONCE:
			once = true;
			break;
		case OPT_VERSION:
			(void)printf("updaterd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		(void)fprintf(stderr, "updaterd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (check_config && once) {
		(void)fprintf(stderr, "updaterd: --check-config and --once exclude each other\n");
		return EXIT_USAGE;
	}
	if (check_config)
		return cmd_check_config(file);
	if (once)
		return cmd_once(file);
	return start_daemon(file, argc, argv);
}
