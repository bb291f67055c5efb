/* probation.c - see probation.h. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "probation.h"
#include "runner.h"
#include "state.h"
#include "util.h"

/* What of the command's stdout is kept to look for the version in. */
#define HEALTH_OUTPUT_MAX (64 * 1024)
/* SIGTERM to SIGKILL when a run outlives its time: the gate must not wait long. */
#define HEALTH_KILL_GRACE_MS 1000
#define HEALTH_ENV_MAX 12

enum stage {
	STAGE_GATE,  /* on probation: trying the new version */
	STAGE_AFTER, /* rolled back: one run against the old version, logged */
};

struct probation {
	char name[CONFIG_NAME_MAX + 1];
	enum stage stage;
	char *version;        /* what the command is run against (UPDATER_VERSION) */
	char *previous;       /* UPDATER_PREVIOUS_VERSION, NULL: unknown */
	int64_t deadline_ms;  /* CLOCK_BOOTTIME; INT64_MAX in STAGE_AFTER */
	uint64_t timeout_sec; /* as configured when it started, for messages */
	int64_t next_ms;      /* next run; INT64_MAX while one runs */
	int64_t started_ms;   /* of the current run */
	unsigned runs;
	struct runner *runner;
	char *out;
	size_t out_len;
	char last_what[640];   /* the last run's result, a sentence */
	char last_stderr[RUNNER_LAST_LINE_MAX];
};

struct probation_set {
	const struct update_opts *opts;
	const struct update_hooks *update_hooks;
	struct probation_hooks hooks;
	struct probation **v;
	size_t n;
	size_t rollbacks;
};

int probation_set_new(const struct update_opts *opts, const struct update_hooks *update_hooks,
                      const struct probation_hooks *hooks, struct probation_set **ret_set)
{
	struct probation_set *set = calloc(1, sizeof(*set));

	if (!set)
		return -ENOMEM;
	set->opts = opts;
	set->update_hooks = update_hooks;
	if (hooks)
		set->hooks = *hooks;
	*ret_set = set;
	return 0;
}

static void probation_free(struct probation *p)
{
	if (!p)
		return;
	runner_free(p->runner);
	free(p->version);
	free(p->previous);
	free(p->out);
	free(p);
}

/* Take entry I out of the set and free it. */
static void set_remove(struct probation_set *set, size_t i)
{
	probation_free(set->v[i]);
	memmove(&set->v[i], &set->v[i + 1], (set->n - i - 1) * sizeof(set->v[0]));
	set->n--;
}

static ssize_t set_find(const struct probation_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i]->name, name) == 0)
			return (ssize_t)i;
	return -1;
}

void probation_set_free(struct probation_set *set)
{
	if (!set)
		return;
	while (set->n > 0)
		set_remove(set, set->n - 1);
	free(set->v);
	free(set);
}

bool probation_has_version(const char *out, size_t len, const char *version)
{
	size_t vlen = version ? strlen(version) : 0;

#define WORD_CHAR(c) \
	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9') || \
	 strchr(".+-~:_", (c)) != NULL)
	if (vlen == 0 || vlen > len)
		return false;
	for (size_t i = 0; i + vlen <= len; i++) {
		if (memcmp(out + i, version, vlen) != 0)
			continue;
		if (i > 0 && out[i - 1] != '\0' && WORD_CHAR(out[i - 1]))
			continue;
		if (i + vlen < len && out[i + vlen] != '\0' && WORD_CHAR(out[i + vlen]))
			continue;
		return true;
	}
#undef WORD_CHAR
	return false;
}

static int on_output(void *ctx, const uint8_t *buf, size_t len)
{
	struct probation *p = ctx;
	char *n;

	/* Only the beginning is kept: a chatty command is not a failure. */
	if (p->out_len >= HEALTH_OUTPUT_MAX)
		return 0;
	if (len > HEALTH_OUTPUT_MAX - p->out_len)
		len = HEALTH_OUTPUT_MAX - p->out_len;
	n = realloc(p->out, p->out_len + len);
	if (!n)
		return -ENOMEM;
	memcpy(n + p->out_len, buf, len);
	p->out = n;
	p->out_len += len;
	return 0;
}

/*
 * The health command's program must be safe to run for a root daemon, like
 * a script: owned by root (or by the daemon's own user), not writable by
 * others, in directories that are not either.
 */
static int command_allowed(const char *path, char *err, size_t err_size)
{
	if (runner_check_script(path, 0, err, err_size) == 0)
		return 0;
	if (geteuid() != 0 && runner_check_script(path, geteuid(), err, err_size) == 0)
		return 0;
	return -EPERM;
}

static void env_free(char **env)
{
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
}

/* The environment of the scripts (SPEC section 6), with the versions of section 15. */
static int env_build(const struct probation *p, const struct target_config *t, const char *cache_dir,
                     const char *sha256, char **env)
{
	size_t n = 0;

#define ENV_ADD(...)                                     \
	do {                                             \
		if (asprintf(&env[n], __VA_ARGS__) < 0) { \
			env[n] = NULL;                   \
			return -ENOMEM;                  \
		}                                        \
		env[++n] = NULL;                         \
	} while (0)
	env[0] = NULL;
	ENV_ADD("PATH=/usr/local/bin:/usr/bin:/bin");
	ENV_ADD("LANG=C.UTF-8");
	ENV_ADD("HOME=%s", cache_dir);
	ENV_ADD("UPDATER_CACHE=%s", cache_dir);
	ENV_ADD("UPDATER_TARGET=%s", t->name);
	ENV_ADD("UPDATER_PATH=%s", t->path);
	ENV_ADD("UPDATER_SOURCE=%s", t->source);
	ENV_ADD("UPDATER_VERSION=%s", p->version ? p->version : "");
	ENV_ADD("UPDATER_PREVIOUS_VERSION=%s", p->previous ? p->previous : "");
	ENV_ADD("UPDATER_SHA256=%s", sha256);
#undef ENV_ADD
	return 0;
}

/* Start one run of TARGET's command; it may last until the deadline. */
static int run_start(struct probation_set *set, struct probation *p, const struct target_config *t,
                     int64_t now_ms)
{
	const struct update_opts *opts = set->opts;
	char *env[HEALTH_ENV_MAX + 1] = { NULL };
	char *cache_dir = NULL, log_name[CONFIG_NAME_MAX + 16], err[512];
	struct target_state st;
	uint64_t timeout_ms;
	int r;

	r = command_allowed(t->health.command[0], err, sizeof(err));
	if (r < 0) {
		(void)snprintf(p->last_what, sizeof(p->last_what), "refused to run: %s", err);
		log_err("%s: health command refused: %s", t->name, err);
		return r;
	}
	r = state_cache_dir(opts->config->state_dir, t->name, opts->change_user ? opts->uid : geteuid(),
	                    opts->change_user ? opts->gid : getegid(), &cache_dir);
	if (r < 0) {
		(void)snprintf(p->last_what, sizeof(p->last_what), "could not run: its cache directory: %s",
		               strerror(-r));
		return r;
	}
	(void)state_load_target(opts->config->state_dir, t->name, &st);
	r = env_build(p, t, cache_dir, st.sha256_hex, env);
	target_state_clear(&st);
	free(cache_dir);
	if (r < 0) {
		env_free(env);
		(void)snprintf(p->last_what, sizeof(p->last_what), "could not run: %s", strerror(-r));
		return r;
	}
	/* A run never outlasts the gate; at the deadline it is killed (probation_process). */
	if (p->deadline_ms == INT64_MAX)
		timeout_ms = t->health.timeout_sec * 1000;
	else
		timeout_ms = (uint64_t)(p->deadline_ms > now_ms ? p->deadline_ms - now_ms : 0) + 1000;
	(void)snprintf(log_name, sizeof(log_name), "%s: health", t->name);
	free(p->out);
	p->out = NULL;
	p->out_len = 0;
	{
		const struct runner_spec spec = {
			.path = t->health.command[0],
			.argv = t->health.command,
			.envp = env,
			.change_user = opts->change_user,
			.uid = opts->uid,
			.gid = opts->gid,
			.timeout_ms = timeout_ms,
			.log_name = log_name,
			.on_output = on_output,
			.ctx = p,
			.kill_grace_ms = HEALTH_KILL_GRACE_MS,
		};

		r = runner_start(&spec, &p->runner);
	}
	env_free(env);
	if (r < 0) {
		p->runner = NULL;
		(void)snprintf(p->last_what, sizeof(p->last_what), "could not run: %s", strerror(-r));
		return r;
	}
	p->runs++;
	p->started_ms = now_ms;
	p->next_ms = INT64_MAX;
	log_debug("%s: health command started against %s (run %u)", t->name, p->version, p->runs);
	return 0;
}

/* Clear the deadline in the state, and maybe set last_error. */
static void state_end_probation(const struct config *config, const char *name, const char *last_error)
{
	struct target_state st;
	int r;

	(void)state_load_target(config->state_dir, name, &st);
	st.probation_until = 0;
	if (last_error) {
		free(st.last_error);
		st.last_error = strdup(last_error);
	}
	r = state_save_target(config->state_dir, name, &st);
	if (r < 0)
		log_err("%s: cannot write its state in '%s': %s", name, config->state_dir, strerror(-r));
	target_state_clear(&st);
}

static void end_healthy(struct probation_set *set, size_t i, const struct target_config *t)
{
	struct probation *p = set->v[i];

	state_end_probation(set->opts->config, p->name, NULL);
	log_notice("%s: %s is healthy: the health command passed (run %u); probation is over", p->name,
	           p->version, p->runs);
	if (set->hooks.on_healthy)
		set->hooks.on_healthy(set->hooks.ctx, t, p->version);
	set_remove(set, i);
}

/* The deadline passed without a healthy answer: roll back as `rollback` does. False: entry I is gone. */
static bool roll_back(struct probation_set *set, size_t i, const struct target_config *t, int64_t now_ms)
{
	struct probation *p = set->v[i];
	struct update_rollback_why why = { .reason = UPDATER_ROLLBACK_HEALTH };
	char reason[1024], err[256] = "", *old = NULL;
	int r;

	(void)snprintf(reason, sizeof(reason), "health check of %s failed for %" PRIu64 " s: the health command %s%s%s",
	               p->version, p->timeout_sec, p->last_what[0] ? p->last_what : "gave no answer",
	               p->last_stderr[0] ? "; its last stderr line: " : "", p->last_stderr);
	log_warn("%s: %s; rolling back", t->name, reason);
	why.last_error = reason;
	r = update_rollback(set->opts, set->update_hooks, t->name, &why, &old, err, sizeof(err));
	if (r < 0) {
		char both[1400];

		log_err("%s: the automatic rollback failed: %s", t->name, err[0] ? err : strerror(-r));
		(void)snprintf(both, sizeof(both), "%s; the automatic rollback failed: %s", reason,
		               err[0] ? err : strerror(-r));
		state_end_probation(set->opts->config, p->name, both);
		set_remove(set, i);
		return false;
	}
	set->rollbacks++;
	log_notice("%s: rolled back to %s because %s was not healthy; %s and older versions are quarantined "
	           "until a newer release",
	           t->name, old, p->version, p->version);
	/* Now one run against the old version, to tell whether it serves again. */
	free(p->previous);
	p->previous = p->version;
	p->version = old;
	p->stage = STAGE_AFTER;
	p->deadline_ms = INT64_MAX;
	p->next_ms = now_ms + (int64_t)t->health.interval_sec * 1000;
	p->last_what[0] = p->last_stderr[0] = '\0';
	return true;
}

static void after_done(struct probation_set *set, size_t i, bool healthy)
{
	struct probation *p = set->v[i];

	if (healthy)
		log_notice("%s: after the rollback, the health command passes against %s", p->name, p->version);
	else
		log_warn("%s: after the rollback, the health command still fails against %s: it %s%s%s", p->name,
		         p->version, p->last_what, p->last_stderr[0] ? "; its last stderr line: " : "",
		         p->last_stderr);
	set_remove(set, i);
}

static struct probation *probation_add(struct probation_set *set, const char *name, const char *version,
                                       const char *previous)
{
	struct probation *p, **v;
	ssize_t old = set_find(set, name);

	if (old >= 0)
		set_remove(set, (size_t)old);
	v = realloc(set->v, (set->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	set->v = v;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	(void)snprintf(p->name, sizeof(p->name), "%s", name);
	p->version = strdup(version ? version : "unknown");
	p->previous = previous ? strdup(previous) : NULL;
	if (!p->version || (previous && !p->previous)) {
		probation_free(p);
		return NULL;
	}
	p->stage = STAGE_GATE;
	set->v[set->n++] = p;
	return p;
}

/* Begin (or resume) the gate of T with DEADLINE Unix seconds. */
static void gate_begin(struct probation_set *set, const struct target_config *t, const char *version,
                       const char *previous, int64_t deadline, bool resumed)
{
	int64_t now_ms = now_boottime_ms(), left = deadline - (int64_t)time(NULL);
	struct probation *p = probation_add(set, t->name, version, previous);

	if (!p) {
		log_err("%s: cannot start its probation: %s", t->name, strerror(ENOMEM));
		return;
	}
	if (left < 0)
		left = 0;
	if (left > (int64_t)t->health.timeout_sec)
		left = (int64_t)t->health.timeout_sec; /* the clock went back, or the timeout was shortened */
	p->timeout_sec = t->health.timeout_sec;
	p->deadline_ms = now_ms + left * 1000;
	p->next_ms = now_ms;
	if (resumed)
		log_notice("%s: resuming the probation of %s: %" PRId64 " s left", t->name, p->version, left);
	else
		log_info("%s: %s is on probation for %" PRId64 " s", t->name, p->version, left);
}

void probation_start(struct probation_set *set, const struct target_config *t)
{
	struct target_state st;
	const char *version;

	probation_cancel(set, t->name);
	(void)state_load_target(set->opts->config->state_dir, t->name, &st);
	version = st.version ? st.version : "unknown";
	if (!t->health.command || st.probation_until <= 0) {
		if (set->hooks.on_healthy)
			set->hooks.on_healthy(set->hooks.ctx, t, version);
	} else {
		gate_begin(set, t, version, st.previous_version, st.probation_until, false);
	}
	target_state_clear(&st);
}

void probation_resume(struct probation_set *set)
{
	const struct config *config = set->opts->config;

	for (size_t i = 0; i < config->n_targets; i++) {
		const struct target_config *t = &config->targets[i];
		struct target_state st;
		int64_t now = (int64_t)time(NULL);

		if (state_load_target(config->state_dir, t->name, &st) < 0 || st.probation_until <= 0) {
			target_state_clear(&st);
			continue;
		}
		if (!t->health.command) {
			log_notice("%s: was on probation, but has no health command any more: %s counts as healthy",
			           t->name, st.version ? st.version : "unknown");
			state_end_probation(config, t->name, NULL);
			if (set->hooks.on_healthy)
				set->hooks.on_healthy(set->hooks.ctx, t, st.version ? st.version : "unknown");
		} else if (st.probation_until <= now) {
			struct probation *p = probation_add(set, t->name, st.version, st.previous_version);

			log_warn("%s: the probation of %s ended %" PRId64 " s ago, while updaterd was not running, "
			         "with no healthy answer",
			         t->name, st.version ? st.version : "unknown", now - st.probation_until);
			if (p) {
				p->timeout_sec = t->health.timeout_sec;
				(void)snprintf(p->last_what, sizeof(p->last_what),
				               "gave no healthy answer before the deadline (updaterd was not running)");
				(void)roll_back(set, set->n - 1, t, now_boottime_ms());
			}
		} else {
			gate_begin(set, t, st.version, st.previous_version, st.probation_until, true);
		}
		target_state_clear(&st);
	}
}

void probation_cancel(struct probation_set *set, const char *target)
{
	ssize_t i = set_find(set, target);

	if (i >= 0)
		set_remove(set, (size_t)i);
}

bool probation_active(const struct probation_set *set)
{
	return set && set->n > 0;
}

size_t probation_rollbacks(const struct probation_set *set)
{
	return set ? set->rollbacks : 0;
}

void probation_fill_fds(const struct probation_set *set, fd_set *rfds, int *maxfd)
{
	for (size_t i = 0; set && i < set->n; i++)
		if (set->v[i]->runner)
			runner_fill_fds(set->v[i]->runner, rfds, maxfd);
}

int64_t probation_deadline(const struct probation_set *set)
{
	int64_t d = INT64_MAX;

	for (size_t i = 0; set && i < set->n; i++) {
		const struct probation *p = set->v[i];
		int64_t x = p->runner ? runner_deadline(p->runner) : p->next_ms;

		if (p->deadline_ms < x)
			x = p->deadline_ms;
		if (x < d)
			d = x;
	}
	return d;
}

/* A run of P ended with RES: was it healthy? Records why not. */
static bool judge(struct probation *p, const struct target_config *t, const struct runner_result *res)
{
	memcpy(p->last_stderr, res->last_stderr, sizeof(p->last_stderr));
	if (res->status != RUNNER_EXITED || res->exit_code != 0) {
		runner_describe(res, p->last_what, sizeof(p->last_what));
		return false;
	}
	if (t->health.expect_version && !probation_has_version(p->out, p->out_len, p->version)) {
		(void)snprintf(p->last_what, sizeof(p->last_what),
		               "exited with status 0 but its output does not name version %s", p->version);
		return false;
	}
	return true;
}

/* Handle entry I; returns false when it was removed. */
static bool process_one(struct probation_set *set, size_t i, const fd_set *rfds, int64_t now_ms)
{
	struct probation *p = set->v[i];
	const struct target_config *t = config_find_target(set->opts->config, p->name);
	struct runner_result res;

	if (!t || !t->health.command) {
		log_notice("%s: no health command any more: %s counts as healthy", p->name, p->version);
		if (p->stage == STAGE_GATE) {
			state_end_probation(set->opts->config, p->name, NULL);
			if (t && set->hooks.on_healthy)
				set->hooks.on_healthy(set->hooks.ctx, t, p->version);
		}
		set_remove(set, i);
		return false;
	}
	if (p->runner && runner_process(p->runner, rfds, now_ms) > 0) {
		bool healthy;

		runner_result(p->runner, &res);
		runner_free(p->runner);
		p->runner = NULL;
		healthy = judge(p, t, &res);
		if (p->stage == STAGE_AFTER) {
			after_done(set, i, healthy);
			return false;
		}
		if (healthy) {
			end_healthy(set, i, t);
			return false;
		}
		log_info("%s: %s is not healthy yet: the health command %s", p->name, p->version, p->last_what);
		p->next_ms = p->started_ms + (int64_t)t->health.interval_sec * 1000;
	}
	if (p->stage == STAGE_GATE && now_ms >= p->deadline_ms) {
		if (p->runner) {
			runner_kill(p->runner);
			runner_result(p->runner, &res);
			memcpy(p->last_stderr, res.last_stderr, sizeof(p->last_stderr));
			runner_free(p->runner);
			p->runner = NULL;
			(void)snprintf(p->last_what, sizeof(p->last_what),
			               "was still running at the deadline (killed)");
		}
		return roll_back(set, i, t, now_ms);
	}
	if (!p->runner && now_ms >= p->next_ms) {
		if (run_start(set, p, t, now_ms) < 0) {
			if (p->stage == STAGE_AFTER) {
				after_done(set, i, false);
				return false;
			}
			p->next_ms = now_ms + (int64_t)t->health.interval_sec * 1000;
		}
	}
	return true;
}

void probation_process(struct probation_set *set, const fd_set *rfds, int64_t now_ms)
{
	size_t i = 0;

	while (set && i < set->n)
		if (process_one(set, i, rfds, now_ms))
			i++;
}
