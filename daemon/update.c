/* update.c - see update.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "manifest.h"
#include "policy.h"
#include "release.h"
#include "runner.h"
#include "state.h"
#include "update.h"
#include "updater-protocol.h"
#include "util.h"

/* SPEC section 6: a check printing more than this has failed. */
#define CHECK_OUTPUT_MAX (64 * 1024)
#define SUMMARY_MAX 2048
#define ENV_MAX 20

enum step {
	STEP_NEXT_TARGET, /* nothing running: begin the next target */
	STEP_HASH,        /* hashing the file at path (a thread; the loop goes on) */
	STEP_CHECK,
	STEP_RESUME,      /* hashing the kept part of a partial download (a thread) */
	STEP_DOWNLOAD,
	STEP_UNPACK, /* directory targets: the archive is being unpacked */
	STEP_SMOKE,
	STEP_DONE,
};

struct update_round {
	struct update_opts opts;
	struct update_hooks hooks;
	size_t index; /* the target being worked on */
	enum step step;
	struct runner *runner;
	struct hash_job *hash; /* STEP_HASH */

	/* Per target, reset by target_reset(). */
	const struct target_config *target;
	struct target_state state;
	char current_sha256[65]; /* of the file at path before the round, "" none */
	char *env[ENV_MAX + 1];
	char *check_output;
	size_t check_len;
	struct manifest manifest;
	bool have_manifest;
	struct staging staging;
	bool staging_open;
	int write_error; /* first error of swap_stage_write, reported after the run */
	uint64_t resume_offset; /* UPDATER_OFFSET: bytes of a partial download kept */
	const struct manifest_delta *delta; /* UPDATER_DELTA_*: one from the installed file */
	struct release_unpack *unpack; /* directory targets, from the download on */
	int64_t unpack_deadline;

	bool failed;
	char summary[SUMMARY_MAX];
	int64_t wake_ms; /* Unix ms of the earliest deferral with a known end, -1 none */
	/* This machine's id for rollout buckets, read at the first rollout. */
	char machine_id[POLICY_MACHINE_ID_MAX + 1];
	int machine_id_r; /* 1: not read yet; 0: read; < 0: unusable */
};

/*
 * The sha256 of a target, cached by who the file is (device, inode, size,
 * modification and change times): while all of them stay the same, its bytes
 * did not change, so a periodic check does not re-read a large file. The
 * identity goes into the state with the sha256 (file_id), so a restart does
 * not re-read it either.
 */
struct sha_cache_entry {
	char *path;
	char id[STATE_FILE_ID_MAX];
	char hex[65];
};
static struct sha_cache_entry sha_cache[16];

static void file_id_of(const struct stat *st, char ret[STATE_FILE_ID_MAX])
{
	(void)snprintf(ret, STATE_FILE_ID_MAX, "%ju:%ju:%jd:%jd.%09ld:%jd.%09ld", (uintmax_t)st->st_dev,
	               (uintmax_t)st->st_ino, (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec,
	               st->st_mtim.tv_nsec, (intmax_t)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

static struct sha_cache_entry *sha_cache_find(const char *path)
{
	for (size_t i = 0; i < sizeof(sha_cache) / sizeof(sha_cache[0]); i++)
		if (sha_cache[i].path && strcmp(sha_cache[i].path, path) == 0)
			return &sha_cache[i];
	return NULL;
}

static void sha_cache_put(const char *path, const char *id, const char hex[65])
{
	struct sha_cache_entry *e = sha_cache_find(path);

	for (size_t i = 0; !e && i < sizeof(sha_cache) / sizeof(sha_cache[0]); i++) {
		if (!sha_cache[i].path) {
			sha_cache[i].path = strdup(path);
			if (sha_cache[i].path)
				e = &sha_cache[i];
			break;
		}
	}
	if (!e)
		return; /* full: hash again next time */
	(void)snprintf(e->id, sizeof(e->id), "%s", id);
	memcpy(e->hex, hex, 65);
}

/* The current identity of the file at PATH; false when it is not a regular file. */
static bool file_id_now(const char *path, char ret[STATE_FILE_ID_MAX])
{
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	file_id_of(&st, ret);
	return true;
}

static int target_sha256(const char *path, char ret_hex[65])
{
	char id[STATE_FILE_ID_MAX];
	const struct sha_cache_entry *e;
	struct stat st;
	int r;

	if (lstat(path, &st) < 0) {
		ret_hex[0] = '\0';
		return errno == ENOENT ? 0 : -errno;
	}
	file_id_of(&st, id);
	e = sha_cache_find(path);
	if (e && strcmp(e->id, id) == 0) {
		memcpy(ret_hex, e->hex, 65);
		return 0;
	}
	r = swap_file_sha256(path, ret_hex);
	if (r < 0) {
		ret_hex[0] = '\0';
		return r == -ENOENT ? 0 : r;
	}
	sha_cache_put(path, id, ret_hex);
	return 0;
}

/*
 * ST now says the file at PATH has sha256 HEX; its file_id is who the file
 * was when the cache took that sha256 ("" when the cache does not know), so
 * the pair always describes one file.
 */
static void state_set_file(struct target_state *st, const char *path, const char hex[65])
{
	const struct sha_cache_entry *e = sha_cache_find(path);

	memcpy(st->sha256_hex, hex, 65);
	if (e && hex[0] && strcmp(e->hex, hex) == 0)
		memcpy(st->file_id, e->id, sizeof(st->file_id));
	else
		st->file_id[0] = '\0';
}

static void summary_add(struct update_round *round, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void summary_add(struct update_round *round, const char *fmt, ...)
{
	size_t len = strlen(round->summary);
	va_list ap;

	if (len > 0 && len + 2 < sizeof(round->summary)) {
		memcpy(round->summary + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	(void)vsnprintf(round->summary + len, sizeof(round->summary) - len, fmt, ap);
	va_end(ap);
}

static void env_free(char **env)
{
	for (size_t i = 0; env[i]; i++) {
		free(env[i]);
		env[i] = NULL;
	}
}

/* The exact environment of SPEC section 6; URL only for download. */
static int env_build(struct update_round *round, const char *cache_dir, const char *url)
{
	const struct target_config *t = round->target;
	size_t n = 0;
	int r = 0;

#define ENV_ADD(...)                                                  \
	do {                                                          \
		if (asprintf(&round->env[n], __VA_ARGS__) < 0) {      \
			round->env[n] = NULL;                         \
			r = -ENOMEM;                                  \
			goto out;                                     \
		}                                                     \
		n++;                                                  \
	} while (0)

	env_free(round->env);
	ENV_ADD("PATH=/usr/local/bin:/usr/bin:/bin");
	ENV_ADD("LANG=C.UTF-8");
	ENV_ADD("HOME=%s", cache_dir);
	ENV_ADD("UPDATER_CACHE=%s", cache_dir);
	ENV_ADD("UPDATER_TARGET=%s", t->name);
	ENV_ADD("UPDATER_PATH=%s", t->path);
	ENV_ADD("UPDATER_SOURCE=%s", t->source);
	ENV_ADD("UPDATER_VERSION=%s", round->state.version ? round->state.version : "");
	ENV_ADD("UPDATER_SHA256=%s", round->current_sha256);
	if (t->channel)
		ENV_ADD("UPDATER_CHANNEL=%s", t->channel);
	if (config_max_rate(round->opts.config, t) > 0)
		ENV_ADD("UPDATER_MAX_RATE=%" PRIu64, config_max_rate(round->opts.config, t));
	if (url)
		ENV_ADD("UPDATER_URL=%s", url);
	if (url && round->resume_offset > 0)
		ENV_ADD("UPDATER_OFFSET=%" PRIu64, round->resume_offset);
	if (url && round->delta) {
		ENV_ADD("UPDATER_DELTA_URL=%s", round->delta->url);
		ENV_ADD("UPDATER_DELTA_SIZE=%" PRIu64, round->delta->size);
		ENV_ADD("UPDATER_DELTA_SHA256=%s", round->delta->sha256_hex);
	}
#undef ENV_ADD
out:
	round->env[n] = NULL;
	return r;
}

static void target_reset(struct update_round *round)
{
	runner_free(round->runner);
	round->runner = NULL;
	hash_job_free(round->hash);
	round->hash = NULL;
	if (round->staging_open) {
		swap_stage_abort(&round->staging);
		round->staging_open = false;
	}
	release_unpack_free(round->unpack);
	round->unpack = NULL;
	if (round->have_manifest) {
		manifest_clear(&round->manifest);
		round->have_manifest = false;
	}
	target_state_clear(&round->state);
	env_free(round->env);
	free(round->check_output);
	round->check_output = NULL;
	round->check_len = 0;
	round->write_error = 0;
	round->resume_offset = 0;
	round->delta = NULL;
	round->current_sha256[0] = '\0';
	round->target = NULL;
}

static void target_finish(struct update_round *round)
{
	target_reset(round);
	round->index++;
	round->step = STEP_NEXT_TARGET;
}

/* Record the target's last_error and remember the round failed. */
static void target_failed(struct update_round *round, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void target_failed(struct update_round *round, const char *fmt, ...)
{
	const struct config *config = round->opts.config;
	char reason[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	(void)vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_err("%s: %s; '%s' is unchanged", round->target->name, reason, round->target->path);
	free(round->state.last_error);
	round->state.last_error = strdup(reason);
	round->state.check_failures++;
	r = state_save_target(config->state_dir, round->target->name, &round->state);
	if (r < 0)
		log_err("%s: cannot write its state in '%s': %s", round->target->name,
		        config->state_dir, strerror(-r));
	round->failed = true;
	summary_add(round, "failed: %s: %s", round->target->name, reason);
	target_finish(round);
}

/* The target finished without failure: clear a previous last_error. */
static void target_ok(struct update_round *round)
{
	const struct config *config = round->opts.config;
	int r;

	free(round->state.last_error);
	round->state.last_error = NULL;
	round->state.last_success = (int64_t)time(NULL);
	r = state_save_target(config->state_dir, round->target->name, &round->state);
	if (r < 0)
		log_err("%s: cannot write its state in '%s': %s", round->target->name,
		        config->state_dir, strerror(-r));
	target_finish(round);
}

static bool is_directory(const struct target_config *t)
{
	return t->type == TARGET_DIRECTORY;
}

/*
 * What UPDATER_SHA256 and the up-to-date test compare with for a directory
 * target: the sha256 of the archive its current release was unpacked from
 * (known while PATH names the recorded version).
 */
static void directory_current_sha256(struct update_round *round)
{
	const struct target_config *t = round->target;
	char *current = NULL;

	round->current_sha256[0] = '\0';
	if (release_current(t->path, t->releases, &current) == 0 && round->state.version &&
	    strcmp(current, round->state.version) == 0)
		memcpy(round->current_sha256, round->state.sha256_hex, 65);
	free(current);
}

static int script_owner(void)
{
	return geteuid() == 0 ? 0 : (int)geteuid();
}

static int start_runner(struct update_round *round, const char *path, char *const *argv,
                        runner_output_fn on_output)
{
	const struct config *config = round->opts.config;
	struct runner_spec spec = {
		.path = path,
		.argv = argv,
		.envp = round->env,
		.change_user = round->opts.change_user,
		.uid = round->opts.uid,
		.gid = round->opts.gid,
		.timeout_ms = config->script_timeout_sec * 1000,
		.log_name = round->target->name,
		.on_output = on_output,
		.ctx = round,
	};

	return runner_start(&spec, &round->runner);
}

static int on_check_output(void *ctx, const uint8_t *buf, size_t len)
{
	struct update_round *round = ctx;
	char *p;

	if (len > CHECK_OUTPUT_MAX - round->check_len)
		return -EFBIG;
	p = realloc(round->check_output, round->check_len + len + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + round->check_len, buf, len);
	round->check_len += len;
	p[round->check_len] = '\0';
	round->check_output = p;
	return 0;
}

static int on_download_output(void *ctx, const uint8_t *buf, size_t len)
{
	struct update_round *round = ctx;
	int r = swap_stage_write(&round->staging, buf, len);

	if (r < 0)
		round->write_error = r;
	return r;
}

static char *script_path(const struct config *config, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", config->scripts_dir, name) < 0)
		return NULL;
	return p;
}

/* Refuse a script that a root daemon must not run; logs and fails the target. */
static bool script_allowed(struct update_round *round, const char *path)
{
	char err[512];

	if (runner_check_script(path, (uid_t)script_owner(), err, sizeof(err)) < 0) {
		target_failed(round, "refusing to run script: %s", err);
		return false;
	}
	return true;
}

/*
 * The state does not know the installed version, the configuration does
 * (version:, e.g. from a package's drop-in): take it as installed, and as
 * the floor.
 */
static void adopt_configured_version(struct update_round *round)
{
	const struct config *config = round->opts.config;
	const struct target_config *t = round->target;
	struct target_state *st = &round->state;
	int r;

	st->version = strdup(t->version);
	if (!st->version || target_state_raise_floor(st, t->version) < 0)
		return;
	state_set_file(st, t->path, round->current_sha256);
	log_info("%s: installed version %s, as the configuration says", t->name, t->version);
	r = state_save_target(config->state_dir, t->name, st);
	if (r < 0)
		log_err("%s: cannot write its state in '%s': %s", t->name, config->state_dir,
		        strerror(-r));
}

static void start_check(struct update_round *round);

/*
 * The sha256 of the file at PATH when it needs no reading (no file, or the
 * cache knows this file): true and RET_HEX set; false when it must be hashed.
 */
static bool target_sha256_known(const char *path, char ret_hex[65])
{
	char id[STATE_FILE_ID_MAX];
	const struct sha_cache_entry *e;
	struct stat st;

	if (lstat(path, &st) < 0) {
		ret_hex[0] = '\0';
		return errno == ENOENT;
	}
	file_id_of(&st, id);
	e = sha_cache_find(path);
	if (e && strcmp(e->id, id) == 0) {
		memcpy(ret_hex, e->hex, 65);
		return true;
	}
	return false;
}

/* Prepare target INDEX: its sha256 (hashed off the loop when not known), then its check. */
static void begin_target(struct update_round *round)
{
	const struct config *config = round->opts.config;
	int r;

	round->target = &config->targets[round->index];
	r = state_load_target(config->state_dir, round->target->name, &round->state);
	if (r == -EBADMSG)
		log_warn("%s: its state file in '%s/targets' is damaged; starting afresh",
		         round->target->name, config->state_dir);
	/* probation.c owns a target on probation until it is healthy or rolled back. */
	if (round->state.probation_until > 0) {
		log_info("%s: %s is on probation; not checked this round", round->target->name,
		         round->state.version ? round->state.version : "unknown");
		summary_add(round, "%s on probation", round->target->name);
		target_finish(round);
		return;
	}
	if (is_directory(round->target)) {
		directory_current_sha256(round);
		start_check(round);
		return;
	}
	if (target_sha256_known(round->target->path, round->current_sha256)) {
		start_check(round);
		return;
	}
	/* A file we do not know (changed outside, or never seen): read it in a thread. */
	log_debug("%s: hashing '%s'", round->target->name, round->target->path);
	r = hash_job_start_path(round->target->path, &round->hash);
	if (r < 0) {
		target_failed(round, "cannot read '%s': %s", round->target->path, strerror(-r));
		return;
	}
	round->step = STEP_HASH;
}

static void hash_done(struct update_round *round)
{
	const char *path = round->target->path;
	char id[STATE_FILE_ID_MAX];
	struct stat st;
	int r = hash_job_result(round->hash, round->current_sha256, &st);

	hash_job_free(round->hash);
	round->hash = NULL;
	if (r == -ENOENT) {
		round->current_sha256[0] = '\0';
	} else if (r < 0) {
		round->current_sha256[0] = '\0';
		target_failed(round, "cannot read '%s': %s", path,
		              r == -EBUSY ? "it changed while it was read" : strerror(-r));
		return;
	} else {
		file_id_of(&st, id);
		sha_cache_put(path, id, round->current_sha256);
	}
	start_check(round);
}

static void start_check(struct update_round *round)
{
	const struct config *config = round->opts.config;
	char *cache_dir = NULL, *check = NULL;
	int r;

	if (!round->state.version && round->target->version)
		adopt_configured_version(round);
	r = state_cache_dir(config->state_dir, round->target->name,
	                    round->opts.change_user ? round->opts.uid : geteuid(),
	                    round->opts.change_user ? round->opts.gid : getegid(), &cache_dir);
	if (r < 0) {
		target_failed(round, "cannot prepare its cache directory in '%s': %s",
		              config->state_dir, strerror(-r));
		return;
	}
	r = env_build(round, cache_dir, NULL);
	free(cache_dir);
	check = script_path(config, "check");
	if (r < 0 || !check) {
		free(check);
		target_failed(round, "out of memory");
		return;
	}
	if (!script_allowed(round, check)) {
		free(check);
		return;
	}
	log_debug("%s: running '%s'", round->target->name, check);
	r = start_runner(round, check, NULL, on_check_output);
	free(check);
	if (r < 0) {
		target_failed(round, "cannot run the check script: %s", strerror(-r));
		return;
	}
	round->step = STEP_CHECK;
}

/* A directory target's download is staged in its releases directory. */
static int start_release_download(struct update_round *round)
{
	const struct target_config *t = round->target;
	const struct manifest *m = &round->manifest;
	char *archive;
	int r;

	if (!release_valid_version(m->version)) {
		target_failed(round, "version '%s' cannot name a release directory", m->version);
		return -EINVAL;
	}
	r = release_prepare(t->releases);
	if (r < 0) {
		target_failed(round, "the releases directory '%s' cannot be used: %s", t->releases,
		              r == -EPERM ? "others than the daemon's user may write it" : strerror(-r));
		return r;
	}
	/* A leftover of that name (a crash before the switch, a release rolled back from) goes. */
	r = release_discard(t->path, t->releases, m->version);
	if (r == -EBUSY) {
		target_failed(round, "version %s is the current release already (with other contents)",
		              m->version);
		return r;
	}
	if (r > 0)
		log_info("%s: removed the unused release '%s/%s' before unpacking it again", t->name,
		         t->releases, m->version);
	archive = release_archive_path(t->releases, m->version);
	r = archive ? swap_stage_open(archive, m->size, round->opts.config->max_download, &round->staging)
	            : -ENOMEM;
	free(archive);
	if (r < 0)
		target_failed(round, "cannot create a staging file in '%s': %s", t->releases,
		              strerror(-r));
	return r;
}

/*
 * Releases whose delta gave a file that failed verification: the next try of
 * the same release fetches the whole file, so a bad delta costs one failed
 * download, not every one after it (kept until the daemon restarts).
 */
struct delta_failed {
	char *target;
	char *version;
};
static struct delta_failed delta_failed[16];
static size_t delta_failed_next;

static bool delta_failed_find(const char *target, const char *version)
{
	for (size_t i = 0; i < sizeof(delta_failed) / sizeof(delta_failed[0]); i++)
		if (delta_failed[i].target && strcmp(delta_failed[i].target, target) == 0 &&
		    strcmp(delta_failed[i].version, version) == 0)
			return true;
	return false;
}

static void delta_failed_add(const char *target, const char *version)
{
	struct delta_failed *e = &delta_failed[delta_failed_next];

	if (delta_failed_find(target, version))
		return;
	delta_failed_next = (delta_failed_next + 1) % (sizeof(delta_failed) / sizeof(delta_failed[0]));
	free(e->target);
	free(e->version);
	e->target = strdup(target);
	e->version = strdup(version);
	if (!e->target || !e->version) {
		free(e->target);
		free(e->version);
		e->target = e->version = NULL;
	}
}

/* Run the download script into the open staging file (at its offset, when resumed). */
static void run_download(struct update_round *round)
{
	const struct config *config = round->opts.config;
	const struct manifest *m = &round->manifest;
	char *download = NULL, *cache_dir = NULL;
	int r;

	/*
	 * A delta from the file now at path, when the manifest has one: only
	 * what crosses the network changes, the checks of the result do not.
	 * Not for a resumed download, whose offset is into the whole file, nor
	 * for a directory target (its installed "file" is a directory).
	 */
	round->delta = round->resume_offset == 0 && !is_directory(round->target) &&
	                       !delta_failed_find(round->target->name, m->version)
	                       ? manifest_find_delta(m, round->current_sha256)
	                       : NULL;
	if (round->delta)
		log_info("%s: %s offers a delta from the installed file (%" PRIu64 " bytes of %" PRIu64 ")",
		         round->target->name, m->version, round->delta->size, m->size);
	/* Same environment as the check, plus what to fetch. */
	r = state_cache_dir(config->state_dir, round->target->name,
	                    round->opts.change_user ? round->opts.uid : geteuid(),
	                    round->opts.change_user ? round->opts.gid : getegid(), &cache_dir);
	if (r == 0)
		r = env_build(round, cache_dir, m->url);
	free(cache_dir);
	download = script_path(config, "download");
	if (r < 0 || !download) {
		free(download);
		target_failed(round, "cannot prepare the download: %s", strerror(r < 0 ? -r : ENOMEM));
		return;
	}
	if (!script_allowed(round, download)) {
		free(download);
		return;
	}
	r = start_runner(round, download, NULL, on_download_output);
	free(download);
	if (r < 0) {
		target_failed(round, "cannot run the download script: %s", strerror(-r));
		return;
	}
	round->step = STEP_DOWNLOAD;
}

/* Forget the partial download in the state, on disk too; its file is deleted (when ours). */
static void partial_forget(struct update_round *round, bool delete_file)
{
	const struct target_config *t = round->target;
	int r;

	if (delete_file) {
		r = swap_discard_staging(t->path, round->state.partial.name);
		if (r < 0 && r != -ENOENT)
			log_warn("%s: cannot delete the partial download '%s' beside '%s': %s", t->name,
			         round->state.partial.name, t->path, strerror(-r));
	}
	target_partial_clear(&round->state.partial);
	r = state_save_target(round->opts.config->state_dir, t->name, &round->state);
	if (r < 0)
		log_err("%s: cannot write its state in '%s': %s", t->name, round->opts.config->state_dir,
		        strerror(-r));
}

/*
 * The state keeps a partial download: of this release, reopen it and hash
 * its kept part (off the loop) before the download goes on from there; of
 * another release, delete it. Returns 1 when a resume is under way
 * (STEP_RESUME), 0 to download from the start.
 */
static int partial_resume(struct update_round *round)
{
	const struct config *config = round->opts.config;
	const struct target_config *t = round->target;
	const struct manifest *m = &round->manifest;
	struct target_partial *p = &round->state.partial;
	int r;

	if (!p->name)
		return 0;
	if (strcmp(p->version, m->version) != 0 || strcmp(p->sha256_hex, m->sha256_hex) != 0 ||
	    p->size != m->size) {
		log_notice("%s: deleting the partial download of %s (%" PRIu64 " of %" PRIu64
		           " bytes): %s %s is offered now",
		           t->name, p->version, p->bytes, p->size, t->name, m->version);
		partial_forget(round, true);
		return 0;
	}
	r = swap_stage_resume(t->path, p->name, p->bytes, m->size, config->max_download,
	                      &round->staging);
	if (r < 0) {
		log_warn("%s: cannot resume the partial download of %s ('%s' beside '%s'): %s; starting again",
		         t->name, m->version, p->name, t->path,
		         r == -ENODATA ? "it is shorter than recorded" : strerror(-r));
		/* A file that is not ours is never deleted. */
		partial_forget(round, r != -EPERM && r != -EINVAL);
		return 0;
	}
	round->staging_open = true;
	round->resume_offset = p->bytes;
	/*
	 * From here the file is the round's: a failure records it anew, any
	 * other end deletes it. The record on disk stays until then, so a crash
	 * meanwhile resumes again after the restart.
	 */
	target_partial_clear(p);
	r = hash_job_start_fd(round->staging.fd, round->resume_offset, &round->hash);
	if (r < 0) {
		target_failed(round, "cannot read the partial download '%s': %s", round->staging.path,
		              strerror(-r));
		return 1;
	}
	round->step = STEP_RESUME;
	return 1;
}

static void start_download(struct update_round *round)
{
	const struct config *config = round->opts.config;
	const struct manifest *m = &round->manifest;
	int r;

	if (m->size > config->max_download) {
		target_failed(round, "version %s is %" PRIu64 " bytes, more than max_download (%" PRIu64 ")",
		              m->version, m->size, config->max_download);
		return;
	}
	if (is_directory(round->target)) {
		r = start_release_download(round);
	} else {
		if (partial_resume(round) > 0)
			return;
		r = swap_stage_open(round->target->path, m->size, config->max_download, &round->staging);
		if (r < 0)
			target_failed(round, "cannot create a staging file beside '%s': %s",
			              round->target->path, strerror(-r));
	}
	if (r < 0)
		return;
	round->staging_open = true;
	run_download(round);
}

/* The kept part of a partial download is hashed: go on from its end. */
static void resume_hash_done(struct update_round *round)
{
	const struct config *config = round->opts.config;
	const struct manifest *m = &round->manifest;
	int r = hash_job_take(round->hash, &round->staging.hash);

	hash_job_free(round->hash);
	round->hash = NULL;
	if (r < 0) {
		log_warn("%s: cannot read the partial download '%s': %s; starting again",
		         round->target->name, round->staging.path, strerror(-r));
		swap_stage_abort(&round->staging);
		round->staging_open = false;
		round->resume_offset = 0;
		r = swap_stage_open(round->target->path, m->size, config->max_download, &round->staging);
		if (r < 0) {
			target_failed(round, "cannot create a staging file beside '%s': %s",
			              round->target->path, strerror(-r));
			return;
		}
		round->staging_open = true;
	} else {
		log_info("%s: resuming the download of %s at byte %" PRIu64 " of %" PRIu64,
		         round->target->name, m->version, round->resume_offset, m->size);
	}
	run_download(round);
}

/*
 * The download failed part-way: keep what arrived for the next try of the
 * same release (SPEC 17). Returns true when it was kept.
 */
static bool partial_keep(struct update_round *round)
{
	const struct manifest *m = &round->manifest;
	struct target_partial *p = &round->state.partial;
	uint64_t written = round->staging.written;
	char *name = NULL;
	int r;

	/*
	 * What a delta made is not kept: a resume goes on with the whole file's
	 * bytes. A directory target's archive is not kept either (resume is
	 * for files; start-up deletes what is left in its releases directory).
	 */
	if (round->write_error < 0 || written == 0 || written >= m->size || !round->staging_open ||
	    round->delta || is_directory(round->target))
		return false;
	r = swap_stage_keep(&round->staging, &name);
	round->staging_open = false;
	if (r < 0) {
		log_warn("%s: cannot keep the partial download: %s", round->target->name, strerror(-r));
		return false;
	}
	target_partial_clear(p);
	p->version = strdup(m->version);
	p->name = name;
	memcpy(p->sha256_hex, m->sha256_hex, 65);
	p->size = m->size;
	p->bytes = written;
	if (!p->version) {
		(void)swap_discard_staging(round->target->path, name);
		target_partial_clear(p);
		return false;
	}
	log_notice("%s: keeping the %" PRIu64 " of %" PRIu64 " bytes of %s that arrived; the next try resumes there",
	           round->target->name, written, m->size, m->version);
	return true;
}

static void pending_clear(struct target_state *st)
{
	free(st->pending_version);
	free(st->pending_why);
	st->pending_version = st->pending_why = NULL;
	st->pending_at = -1;
}

static double machine_bucket(struct update_round *round, const struct manifest *m)
{
	const struct config *config = round->opts.config;

	if (config->rollout_bucket >= 0)
		return config->rollout_bucket;
	if (round->machine_id_r == 1) {
		round->machine_id_r = policy_machine_id(config->machine_id_file, config->state_dir,
		                                        round->machine_id);
		if (round->machine_id_r < 0)
			log_warn("cannot read the machine-id from '%s': %s; taking rollouts last (bucket 1.0)",
			         config->machine_id_file ? config->machine_id_file : POLICY_MACHINE_ID_DEFAULT,
			         strerror(-round->machine_id_r));
	}
	if (round->machine_id_r < 0)
		return 1.0;
	return policy_bucket(round->machine_id, round->target->name, m->version);
}

static void until_text(const struct policy_decision *d, char *buf, size_t size)
{
	time_t t = (time_t)((d->until_ms + 999) / 1000);
	struct tm tm;

	if (d->until_ms >= 0 && gmtime_r(&t, &tm) && strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		return;
	if (strcmp(d->rule, POLICY_RULE_HOLD) == 0)
		(void)snprintf(buf, size, "updaterctl unhold");
	else if (strcmp(d->rule, POLICY_RULE_INHIBITOR) == 0)
		(void)snprintf(buf, size, "it is released");
	else if (strcmp(d->rule, POLICY_RULE_PIN) == 0)
		(void)snprintf(buf, size, "the pin changes");
	else
		(void)snprintf(buf, size, "a check finds a new manifest");
}

/*
 * SPEC 16: may the version of the manifest go in now? True: go ahead.
 * False: the target is finished, with a log line naming the rule and until
 * when, the version recorded as pending (but for a pin), and a wake-up
 * asked for when the rule has an end. BEFORE_SWAP: the download is done and
 * only the rules that can change meanwhile matter (hold, window, inhibitors).
 */
static bool policy_allows(struct update_round *round, bool before_swap)
{
	const struct config *config = round->opts.config;
	const struct target_config *t = round->target;
	const struct manifest *m = &round->manifest;
	struct policy_input in = {
		.target = t->name,
		.version = m->version,
		.bucket = 0.0,
		.rollout_start = before_swap ? -1 : m->rollout_start,
		.rollout_duration = m->rollout_duration,
		.rollout_percent = before_swap ? 100 : m->rollout_percent,
		.pin = before_swap ? NULL : t->pin,
		.held = state_is_held(config->state_dir, t->name),
		.has_window = t->window != NULL,
		.window_opens = -1,
		.max_inhibit_ms = (int64_t)config->max_inhibit_sec * 1000,
	};
	struct policy_decision d;
	struct timespec ts;
	char until[64];
	int r;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	in.now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (!before_swap && (in.rollout_start >= 0 || in.rollout_percent < 100))
		in.bucket = machine_bucket(round, m);
	if (in.has_window)
		in.window_open = schedule_windows_open(&t->windows, (int64_t)ts.tv_sec, &in.window_opens);
	if (round->hooks.inhibitors)
		in.inhibitors = round->hooks.inhibitors(round->hooks.ctx, t, &in.inhibited_since_ms,
		                                        &in.inhibitor_why);
	policy_decide(&in, &d);
	if (d.verdict == POLICY_INSTALL) {
		if (d.rule)
			log_warn("%s: %s: installing %s", t->name, d.why, m->version);
		return true;
	}
	until_text(&d, until, sizeof(until));
	log_notice("%s: not installing %s now: %s (rule: %s; until %s)", t->name, m->version, d.why,
	           d.rule, until);
	if (strcmp(d.rule, POLICY_RULE_HOLD) == 0)
		summary_add(round, "held: would install %s %s", t->name, m->version);
	else if (d.verdict == POLICY_DEFER)
		summary_add(round, "deferred %s %s: %s", t->name, m->version, d.why);
	else
		summary_add(round, "refused %s %s: %s", t->name, m->version, d.why);
	pending_clear(&round->state);
	if (strcmp(d.rule, POLICY_RULE_PIN) != 0) {
		round->state.pending_version = strdup(m->version);
		round->state.pending_at = d.until_ms >= 0 ? (d.until_ms + 999) / 1000 : -1;
		r = asprintf(&round->state.pending_why, "%s: %s", d.rule, d.why);
		if (r < 0)
			round->state.pending_why = NULL;
	}
	if (d.until_ms >= 0 && (round->wake_ms < 0 || d.until_ms < round->wake_ms))
		round->wake_ms = d.until_ms;
	target_ok(round);
	return false;
}

/* The check answered: decide what to do with its manifest. */
static void check_done(struct update_round *round, const struct runner_result *res)
{
	const struct config *config = round->opts.config;
	const struct target_config *t = round->target;
	const char *installed = round->state.version;
	struct manifest *m = &round->manifest;
	char err[512], what[256];
	int r;

	if (res->status == RUNNER_ABORTED && res->abort_error == -EFBIG) {
		target_failed(round, "check failed: it printed more than %d bytes", CHECK_OUTPUT_MAX);
		return;
	}
	if (res->status != RUNNER_EXITED || res->exit_code != 0) {
		runner_describe(res, what, sizeof(what));
		target_failed(round, "check failed: the check script %s", what);
		return;
	}
	if (round->check_len == 0 && config->n_trusted_keys > 0) {
		/* A mirror that answers nothing must not freeze a machine on an old release. */
		target_failed(round, "check failed: no signed manifest (with trusted_keys, every check "
		                     "must produce a valid, unexpired, signed manifest)");
		return;
	}
	if (round->check_len == 0) {
		log_debug("%s: no update offered", t->name);
		summary_add(round, "no update for %s", t->name);
		target_ok(round);
		return;
	}
	r = manifest_load(round->check_output, round->check_len, config->trusted_keys,
	                  config->n_trusted_keys, t->name, time(NULL), m, err, sizeof(err));
	if (r < 0) {
		target_failed(round, "manifest rejected: %s", err);
		return;
	}
	round->have_manifest = true;
	if (round->current_sha256[0] && strcmp(m->sha256_hex, round->current_sha256) == 0) {
		/* Already there; learn its version if we did not know it. */
		if (!installed || strcmp(installed, m->version) != 0) {
			free(round->state.version);
			round->state.version = strdup(m->version);
			(void)target_state_raise_floor(&round->state, m->version);
			state_set_file(&round->state, t->path, round->current_sha256);
			free(round->state.last_error);
			round->state.last_error = NULL;
			(void)state_save_target(config->state_dir, t->name, &round->state);
		}
		pending_clear(&round->state);
		log_debug("%s: %s is installed already", t->name, m->version);
		summary_add(round, "%s %s is up to date", t->name, m->version);
		target_ok(round);
		return;
	}
	if (installed && !t->allow_downgrade && version_compare(m->version, installed) <= 0) {
		log_notice("%s: refusing version %s: not newer than the installed %s", t->name,
		           m->version, installed);
		summary_add(round, "refused %s %s: not newer than %s", t->name, m->version, installed);
		pending_clear(&round->state);
		target_ok(round);
		return;
	}
	/* A rollback holds until a release newer than the one rolled back from. */
	if (round->state.rolled_back_from &&
	    version_compare(m->version, round->state.rolled_back_from) <= 0) {
		log_notice("%s: refusing version %s: %s was rolled back from %s; waiting for a newer release",
		           t->name, m->version, t->name, round->state.rolled_back_from);
		summary_add(round, "refused %s %s: rolled back from %s", t->name, m->version,
		            round->state.rolled_back_from);
		target_ok(round);
		return;
	}
	/* The floor holds even when the installed version is unknown (SPEC 14). */
	if (round->state.floor && !t->allow_downgrade &&
	    version_compare(m->version, round->state.floor) <= 0) {
		log_notice("%s: refusing version %s: not above the version floor %s (the highest "
		           "version installed here)", t->name, m->version, round->state.floor);
		summary_add(round, "refused %s %s: not above the floor %s", t->name, m->version,
		            round->state.floor);
		target_ok(round);
		return;
	}
	/*
	 * Version unknown (a fresh state, or a file changed outside the daemon):
	 * an old signed manifest could be a replay, unless it says when it
	 * expires. Without keys anyone can write a manifest: nothing to bound.
	 */
	if (!installed && config->n_trusted_keys > 0 && m->expires < 0) {
		target_failed(round, "refusing version %s: the installed version is unknown and the "
		                     "manifest has no expires (set version: in the target's configuration, "
		                     "or run 'updaterctl seed %s VERSION')", m->version, t->name);
		return;
	}
	if (!policy_allows(round, false))
		return;
	log_notice("update available: %s %s", t->name, m->version);
	start_download(round);
}

/* Releases beyond keep go, never the current or previous one. */
static void prune_releases(const struct target_config *t, const struct target_state *st)
{
	int r = release_prune(t->releases, t->keep, st->version, st->previous_version);

	if (r > 0)
		log_info("%s: deleted %d old release%s in '%s' (keep: %u)", t->name, r, r == 1 ? "" : "s",
		         t->releases, t->keep);
	else if (r < 0)
		log_warn("%s: cannot delete old releases in '%s': %s", t->name, t->releases,
		         strerror(-r));
}

static void commit(struct update_round *round)
{
	const struct config *config = round->opts.config;
	const struct target_config *t = round->target;
	struct target_state *st = &round->state;
	struct swap_result res;
	char id[STATE_FILE_ID_MAX];
	int r;

	if (is_directory(t)) {
		r = release_commit(round->unpack, t->smoke_test ? t->smoke_test[0] : NULL, &res);
		if (r < 0 && r != -EIO) {
			target_failed(round, "cannot switch '%s' to the new release: %s", t->path,
			              strerror(-r));
			return;
		}
	} else {
		r = swap_commit(&round->staging, &res);
		round->staging_open = false;
		if (r < 0 && !round->staging.committed) {
			swap_stage_abort(&round->staging);
			target_failed(round, "cannot rename the new file into place: %s", strerror(-r));
			return;
		}
	}
	if (r < 0)
		log_warn("%s: '%s' is replaced but the directory could not be synced: %s", t->name,
		         t->path, strerror(-r));
	memcpy(res.old_sha256_hex, round->current_sha256, 65);
	/* The bytes at PATH are the ones just verified: no need to read them again. */
	if (!is_directory(t) && file_id_now(t->path, id))
		sha_cache_put(t->path, id, round->manifest.sha256_hex);
	free(st->previous_version);
	st->previous_version = st->version;
	memcpy(st->previous_sha256_hex, round->current_sha256, 65);
	st->previous_mode = res.old_mode;
	st->version = strdup(round->manifest.version);
	(void)target_state_raise_floor(st, round->manifest.version);
	state_set_file(st, t->path, round->manifest.sha256_hex);
	free(st->rolled_back_from);
	st->rolled_back_from = NULL;
	st->updated_at = (int64_t)time(NULL);
	/* On probation from now on (SPEC section 15): the deadline goes to disk with the swap. */
	st->probation_until = t->health.command ? st->updated_at + (int64_t)t->health.timeout_sec : 0;
	free(st->last_error);
	st->last_error = NULL;
	pending_clear(st);
	st->updates++;
	st->last_success = st->updated_at;
	r = state_save_target(config->state_dir, t->name, st);
	if (r < 0)
		log_err("%s: updated, but its state could not be written in '%s': %s", t->name,
		        config->state_dir, strerror(-r));
	log_notice("updated %s to %s ('%s')", t->name, round->manifest.version, t->path);
	if (is_directory(t))
		prune_releases(t, st);
	summary_add(round, "updated %s to %s", t->name, round->manifest.version);
	if (round->hooks.on_swapped)
		round->hooks.on_swapped(round->hooks.ctx, t, round->manifest.version, &res);
	target_finish(round);
}

static void start_smoke(struct update_round *round, const char *program, char *const *args);
static void start_unpack(struct update_round *round);

static void download_done(struct update_round *round, const struct runner_result *res)
{
	const struct config *config = round->opts.config;
	const struct target_config *t = round->target;
	char err[512], what[256];
	int r;

	/* What crossed the network this time (a resumed download kept the rest). */
	if (round->staging.written > round->resume_offset)
		round->state.download_bytes += round->staging.written - round->resume_offset;
	/* A delta that failed once is not tried again for this release. */
	if (round->delta && (round->write_error < 0 || res->status != RUNNER_EXITED || res->exit_code != 0))
		delta_failed_add(t->name, round->manifest.version);
	if (round->write_error == -EFBIG) {
		if (round->staging.written + 1 > config->max_download)
			target_failed(round, "download of %s exceeds max_download (%" PRIu64 " bytes)",
			              round->manifest.version, config->max_download);
		else
			target_failed(round, "download of %s is longer than the manifest's size (%" PRIu64 " bytes)",
			              round->manifest.version, round->manifest.size);
		return;
	}
	if (round->write_error < 0) {
		target_failed(round, "cannot write '%s': %s", round->staging.path,
		              strerror(-round->write_error));
		return;
	}
	if (res->status != RUNNER_EXITED || res->exit_code != 0) {
		runner_describe(res, what, sizeof(what));
		(void)partial_keep(round);
		target_failed(round, "download of %s failed: the download script %s",
		              round->manifest.version, what);
		return;
	}
	r = swap_stage_finish(&round->staging, round->manifest.sha256, err, sizeof(err));
	if (r < 0) {
		if (round->delta)
			delta_failed_add(t->name, round->manifest.version);
		target_failed(round, "download of %s rejected: %s%s", round->manifest.version, err,
		              round->delta ? " (made from a delta; the next try fetches the whole file)" : "");
		return;
	}
	/* A window may have closed, a hold or an inhibitor come, while it downloaded. */
	if (!policy_allows(round, true))
		return;
	if (is_directory(t)) {
		start_unpack(round);
		return;
	}
	start_smoke(round, round->staging.path, t->smoke_test);
}

/*
 * The new version must run before it is switched to: PROGRAM ARGS..., exit
 * 0 (for a file target PROGRAM is the staged file and ARGS the whole
 * smoke_test; for a directory target the first element names the program
 * inside the unpacked release). Without smoke_test, straight to the commit.
 */
static void start_smoke(struct update_round *round, const char *program, char *const *args)
{
	char **argv;
	size_t n = 0;
	int r;

	if (!round->target->smoke_test) {
		commit(round);
		return;
	}
	while (args[n])
		n++;
	argv = calloc(n + 2, sizeof(*argv));
	if (!argv) {
		target_failed(round, "out of memory");
		return;
	}
	argv[0] = (char *)program;
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = args[i];
	/*
	 * The test runs as script_user, before the final mode is applied: a
	 * target only root may execute (0700) passes it too. swap_commit()
	 * restores the final owner and mode. (A directory target's release is
	 * readable by all once unpacked.)
	 */
	r = round->opts.change_user && !is_directory(round->target)
	            ? swap_stage_smoke_access(&round->staging, round->opts.gid)
	            : 0;
	if (r < 0) {
		free(argv);
		target_failed(round, "smoke test of %s could not run: cannot let script_user run '%s': %s",
		              round->manifest.version, round->staging.path, strerror(-r));
		return;
	}
	r = start_runner(round, program, argv, NULL);
	free(argv);
	if (r < 0) {
		target_failed(round, "smoke test of %s could not run: %s", round->manifest.version,
		              strerror(-r));
		return;
	}
	round->step = STEP_SMOKE;
}

/* The verified archive of a directory target is unpacked by a child process while the loop runs on. */
static void start_unpack(struct update_round *round)
{
	const struct target_config *t = round->target;
	struct release_spec spec = {
		.path = t->path,
		.releases = t->releases,
		.version = round->manifest.version,
		.archive = round->staging.path,
		.max_unpacked = t->max_unpacked,
	};
	int r = release_unpack_start(&spec, &round->unpack);

	if (r < 0) {
		target_failed(round, "cannot unpack %s into '%s': %s", round->manifest.version,
		              t->releases, strerror(-r));
		return;
	}
	round->unpack_deadline =
		now_boottime_ms() + (int64_t)round->opts.config->script_timeout_sec * 1000;
	round->step = STEP_UNPACK;
}

static void unpack_done(struct update_round *round, bool timed_out)
{
	const struct target_config *t = round->target;
	struct release_report rep;
	char err[768], *program = NULL;
	int r;

	if (timed_out) {
		target_failed(round, "unpacking %s took longer than script_timeout (%" PRIu64 " s)",
		              round->manifest.version, round->opts.config->script_timeout_sec);
		return;
	}
	r = release_unpack_finish(round->unpack, &rep, err, sizeof(err));
	if (r == -EBADMSG) {
		target_failed(round, "archive of %s refused: %s", round->manifest.version, err);
		return;
	}
	if (r < 0) {
		target_failed(round, "cannot unpack %s: %s", round->manifest.version, err);
		return;
	}
	log_info("%s: unpacked %s: %" PRIu64 " entries, %" PRIu64 " bytes", t->name,
	         round->manifest.version, rep.entries, rep.bytes);
	if (rep.dropped_bits)
		log_notice("%s: %s: dropped the set-uid, set-gid or sticky bit of %" PRIu64 " entr%s",
		           t->name, round->manifest.version, rep.dropped_bits,
		           rep.dropped_bits == 1 ? "y" : "ies");
	/* The archive has served its purpose. */
	swap_stage_abort(&round->staging);
	round->staging_open = false;
	if (!t->smoke_test) {
		commit(round);
		return;
	}
	if (asprintf(&program, "%s/%s", release_unpack_dir(round->unpack), t->smoke_test[0]) < 0) {
		target_failed(round, "out of memory");
		return;
	}
	start_smoke(round, program, t->smoke_test + 1);
	free(program);
}

static void smoke_done(struct update_round *round, const struct runner_result *res)
{
	char what[256];

	if (res->status != RUNNER_EXITED || res->exit_code != 0) {
		runner_describe(res, what, sizeof(what));
		target_failed(round, "smoke test of %s failed: it %s", round->manifest.version, what);
		return;
	}
	commit(round);
}

/* Start work until something runs or the round is over. */
static void advance(struct update_round *round)
{
	while (round->step == STEP_NEXT_TARGET) {
		if (round->index >= round->opts.config->n_targets) {
			round->step = STEP_DONE;
			break;
		}
		begin_target(round);
	}
}

int update_round_start(const struct update_opts *opts, const struct update_hooks *hooks,
                       struct update_round **ret_round)
{
	struct update_round *round;
	int r;

	r = state_init(opts->config->state_dir);
	if (r < 0) {
		log_err("cannot create the state directory '%s': %s", opts->config->state_dir,
		        strerror(-r));
		return r;
	}
	if (opts->config->n_trusted_keys == 0 && geteuid() == 0)
		log_warn("checking without signatures (allow_unsigned: true): whoever controls a "
		         "mirror or the script account can install anything as root");
	round = calloc(1, sizeof(*round));
	if (!round)
		return -ENOMEM;
	round->opts = *opts;
	if (hooks)
		round->hooks = *hooks;
	round->step = STEP_NEXT_TARGET;
	round->wake_ms = -1;
	round->machine_id_r = 1;
	target_state_clear(&round->state);
	round->staging.fd = round->staging.dirfd = -1;
	advance(round);
	*ret_round = round;
	return 0;
}

enum update_phase update_round_phase(const struct update_round *round)
{
	switch (round->step) {
	case STEP_RESUME:
	case STEP_DOWNLOAD:
		return UPDATE_DOWNLOADING;
	case STEP_UNPACK:
	case STEP_SMOKE:
		return UPDATE_SWAPPING;
	default:
		return UPDATE_CHECKING;
	}
}

void update_round_fill_fds(const struct update_round *round, fd_set *rfds, int *maxfd)
{
	if (round->runner)
		runner_fill_fds(round->runner, rfds, maxfd);
	if (round->hash) {
		int fd = hash_job_fd(round->hash);

		FD_SET(fd, rfds);
		if (fd > *maxfd)
			*maxfd = fd;
	}
	if (round->step == STEP_UNPACK && release_unpack_fd(round->unpack) >= 0) {
		FD_SET(release_unpack_fd(round->unpack), rfds);
		if (release_unpack_fd(round->unpack) > *maxfd)
			*maxfd = release_unpack_fd(round->unpack);
	}
}

int64_t update_round_deadline(const struct update_round *round)
{
	if (round->step == STEP_UNPACK)
		return round->unpack_deadline;
	/* A round with nothing running is over: let the loop come back at once. */
	if (round->hash)
		return INT64_MAX; /* its descriptor says when */
	if (!round->runner)
		return 0;
	return runner_deadline(round->runner);
}

int update_round_process(struct update_round *round, const fd_set *rfds, int64_t now_ms)
{
	struct runner_result res;

	if (round->hash && FD_ISSET(hash_job_fd(round->hash), rfds) && hash_job_ready(round->hash)) {
		if (round->step == STEP_RESUME)
			resume_hash_done(round);
		else
			hash_done(round);
		advance(round);
	}
	if (round->step == STEP_UNPACK &&
	    (FD_ISSET(release_unpack_fd(round->unpack), rfds) || now_ms >= round->unpack_deadline)) {
		unpack_done(round, !FD_ISSET(release_unpack_fd(round->unpack), rfds));
		advance(round);
	}
	if (round->runner && runner_process(round->runner, rfds, now_ms) > 0) {
		runner_result(round->runner, &res);
		runner_free(round->runner);
		round->runner = NULL;
		switch (round->step) {
		case STEP_CHECK:
			check_done(round, &res);
			break;
		case STEP_DOWNLOAD:
			download_done(round, &res);
			break;
		case STEP_SMOKE:
			smoke_done(round, &res);
			break;
		default:
			break;
		}
		advance(round);
	}
	if (round->step != STEP_DONE)
		return 0;
	if (!round->summary[0])
		summary_add(round, "no targets checked");
	return 1;
}

bool update_round_failed(const struct update_round *round)
{
	return round->failed;
}

int64_t update_round_wake_ms(const struct update_round *round)
{
	return round->wake_ms;
}

const char *update_round_summary(const struct update_round *round)
{
	return round->summary[0] ? round->summary : "checking";
}

void update_round_free(struct update_round *round)
{
	if (!round)
		return;
	target_reset(round);
	free(round);
}

/*
 * Background verifications: after a rollback, the file now at a target's
 * path is hashed in a thread, and the state learns its sha256 and identity
 * when the thread is done (update_background_*). One per target.
 */
struct verify {
	struct verify *next;
	char *state_dir;
	char *name;
	char *path;
	char presumed[65]; /* what the state said the file is */
	struct hash_job *job;
};
static struct verify *verifies;

static void verify_free(struct verify *v)
{
	hash_job_free(v->job);
	free(v->state_dir);
	free(v->name);
	free(v->path);
	free(v);
}

static void verify_start(const char *state_dir, const struct target_config *t, const char presumed[65])
{
	struct verify *v, **pp;
	int r;

	for (pp = &verifies; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, t->name) == 0) {
			v = *pp;
			*pp = v->next;
			verify_free(v); /* an older rollback's: its file is no longer at PATH */
			break;
		}
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		goto oom;
	v->state_dir = strdup(state_dir);
	v->name = strdup(t->name);
	v->path = strdup(t->path);
	memcpy(v->presumed, presumed, 65);
	if (!v->state_dir || !v->name || !v->path) {
		verify_free(v);
		goto oom;
	}
	r = hash_job_start_path(t->path, &v->job);
	if (r < 0) {
		log_warn("%s: cannot hash '%s' after the rollback: %s", t->name, t->path, strerror(-r));
		verify_free(v);
		return;
	}
	v->next = verifies;
	verifies = v;
	return;
oom:
	log_warn("%s: cannot hash '%s' after the rollback: %s", t->name, t->path, strerror(ENOMEM));
}

static void verify_done(struct verify *v)
{
	struct target_state st;
	char hex[65], id[STATE_FILE_ID_MAX], now_id[STATE_FILE_ID_MAX];
	struct stat fst;
	int r = hash_job_result(v->job, hex, &fst);

	if (r < 0) {
		log_warn("%s: cannot hash '%s' after the rollback: %s", v->name, v->path, strerror(-r));
		return;
	}
	file_id_of(&fst, id);
	/* Replaced again meanwhile: this sha256 is of a file no longer there. */
	if (!file_id_now(v->path, now_id) || strcmp(id, now_id) != 0)
		return;
	sha_cache_put(v->path, id, hex);
	if (v->presumed[0] && strcmp(hex, v->presumed) != 0)
		log_warn("%s: '%s' after the rollback has sha256 %s, not the %s recorded for it",
		         v->name, v->path, hex, v->presumed);
	if (state_load_target(v->state_dir, v->name, &st) < 0) {
		target_state_clear(&st);
		return;
	}
	/* Only while the state still speaks of the file we hashed. */
	if (strcmp(st.sha256_hex, v->presumed) == 0 && !st.file_id[0]) {
		memcpy(st.sha256_hex, hex, 65);
		(void)snprintf(st.file_id, sizeof(st.file_id), "%s", id);
		r = state_save_target(v->state_dir, v->name, &st);
		if (r < 0)
			log_err("%s: cannot write its state in '%s': %s", v->name, v->state_dir,
			        strerror(-r));
	}
	target_state_clear(&st);
	log_debug("%s: '%s' hashed after the rollback", v->name, v->path);
}

void update_background_fill_fds(fd_set *rfds, int *maxfd)
{
	for (const struct verify *v = verifies; v; v = v->next) {
		int fd = hash_job_fd(v->job);

		FD_SET(fd, rfds);
		if (fd > *maxfd)
			*maxfd = fd;
	}
}

void update_background_process(const fd_set *rfds)
{
	struct verify **pp = &verifies;

	while (*pp) {
		struct verify *v = *pp;

		if (FD_ISSET(hash_job_fd(v->job), rfds) && hash_job_ready(v->job)) {
			*pp = v->next;
			verify_done(v);
			verify_free(v);
			continue;
		}
		pp = &v->next;
	}
}

bool update_background_busy(void)
{
	return verifies != NULL;
}

void update_background_free(void)
{
	while (verifies) {
		struct verify *v = verifies;

		verifies = v->next;
		verify_free(v);
	}
}

int update_rollback(const struct update_opts *opts, const struct update_hooks *hooks,
                    const char *name, const struct update_rollback_why *why, char **ret_version,
                    char *err, size_t err_size)
{
	const struct config *config = opts->config;
	const struct target_config *t = config_find_target(config, name);
	struct target_state st;
	struct swap_result res;
	char sha[65], *tmp;
	int r;

	if (!t) {
		(void)snprintf(err, err_size, "no target named '%s'", name);
		return -ENOENT;
	}
	(void)state_load_target(config->state_dir, t->name, &st);
	if (is_directory(t)) {
		/* Back to the previous release, which the state names and keep never deletes. */
		r = st.previous_version ? release_switch(t->path, t->releases, st.previous_version,
		                                         t->smoke_test ? t->smoke_test[0] : NULL, &res)
		                        : -ENOENT;
	} else {
		r = swap_rollback(t->path, st.previous_mode, &res);
	}
	if (r == -ENOENT) {
		(void)snprintf(err, err_size, "%s has no previous version to roll back to", t->name);
		target_state_clear(&st);
		return r;
	}
	if (r < 0) {
		(void)snprintf(err, err_size, "cannot roll back '%s': %s", t->path, strerror(-r));
		target_state_clear(&st);
		return r;
	}
	/*
	 * The file now at PATH is the one kept as -prev: the state says what its
	 * sha256 was. Reading it again to be sure may take seconds for a large
	 * file, so it happens in a thread while the loop goes on (verify_start);
	 * until then the state names no file_id, so nothing trusts it blindly.
	 * A directory target's sha256 is its archive's, which is gone: the state's word stands.
	 */
	memcpy(sha, st.previous_sha256_hex, 65);
	/* What was current is now -prev, and the other way round. */
	tmp = st.version;
	st.version = st.previous_version;
	st.previous_version = tmp;
	/* Not to be installed again by the next check (a newer release is). */
	free(st.rolled_back_from);
	st.rolled_back_from = tmp ? strdup(tmp) : NULL;
	if (why && why->reason && strcmp(why->reason, UPDATER_ROLLBACK_HEALTH) == 0)
		st.rollbacks_health++;
	else
		st.rollbacks_manual++;
	memcpy(res.old_sha256_hex, st.sha256_hex, 65);
	memcpy(st.previous_sha256_hex, st.sha256_hex, 65);
	memcpy(st.sha256_hex, sha, 65);
	st.file_id[0] = '\0';
	st.previous_mode = res.old_mode;
	st.updated_at = (int64_t)time(NULL);
	st.probation_until = 0;
	free(st.last_error);
	st.last_error = why && why->last_error ? strdup(why->last_error) : NULL;
	r = state_save_target(config->state_dir, t->name, &st);
	if (r < 0)
		log_err("%s: rolled back, but its state could not be written in '%s': %s", t->name,
		        config->state_dir, strerror(-r));
	if (!is_directory(t))
		verify_start(config->state_dir, t, sha);
	log_notice("rolled %s back to %s ('%s')", t->name, st.version ? st.version : "unknown",
	           t->path);
	if (hooks && hooks->on_rolled_back)
		hooks->on_rolled_back(hooks->ctx, t, st.version ? st.version : "unknown",
		                      why && why->reason ? why->reason : UPDATER_ROLLBACK_MANUAL, &res);
	*ret_version = strdup(st.version ? st.version : "unknown");
	target_state_clear(&st);
	return *ret_version ? 0 : -ENOMEM;
}

/*
 * A directory target at start-up: temporary entries go, and the state
 * follows the release PATH names (a crash between the switch and the state
 * write leaves the state one step behind; the release's name is its version).
 */
static void recover_directory(const struct config *config, const struct target_config *t)
{
	struct target_state st;
	char *current = NULL, *tmp;
	int r;

	r = release_recover(t->path, t->releases);
	if (r > 0)
		log_notice("%s: removed %d leftover temporary entr%s in '%s' and beside '%s'", t->name, r,
		           r == 1 ? "y" : "ies", t->releases, t->path);
	else if (r < 0 && r != -ENOENT)
		log_warn("%s: cannot look for leftover temporary entries in '%s': %s", t->name,
		         t->releases, strerror(-r));
	r = state_load_target(config->state_dir, t->name, &st);
	if (r == -EBADMSG)
		log_warn("%s: its state file in '%s/targets' is damaged; starting afresh", t->name,
		         config->state_dir);
	r = release_current(t->path, t->releases, &current);
	if (r == 0 && st.version && strcmp(current, st.version) == 0) {
		free(current);
		target_state_clear(&st);
		return;
	}
	if (r == 0 && st.previous_version && strcmp(current, st.previous_version) == 0) {
		/* A rollback's switch, not yet in the state. */
		tmp = st.version;
		st.version = st.previous_version;
		st.previous_version = tmp;
		memcpy(st.previous_sha256_hex, st.sha256_hex, 65);
		st.sha256_hex[0] = '\0';
		free(current);
	} else if (r == 0) {
		log_notice("%s: '%s' names release %s, not the recorded %s; taking it", t->name, t->path,
		           current, st.version ? st.version : "(none)");
		free(st.previous_version);
		st.previous_version = st.version;
		memcpy(st.previous_sha256_hex, st.sha256_hex, 65);
		st.version = current;
		st.sha256_hex[0] = '\0';
	} else if (st.version) {
		log_warn("%s: '%s' is not a symlink to a release in '%s'; its version is now unknown",
		         t->name, t->path, t->releases);
		free(st.version);
		st.version = NULL;
		st.sha256_hex[0] = '\0';
	} else {
		target_state_clear(&st);
		return;
	}
	st.file_id[0] = '\0';
	(void)state_save_target(config->state_dir, t->name, &st);
	target_state_clear(&st);
}

static bool partial_present(const char *target_path, const char *name)
{
	char *dir = strdup(target_path), *slash, *path = NULL;
	struct stat st;
	bool ok;

	if (!dir)
		return true; /* keep it: cannot tell */
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	ok = asprintf(&path, "%s/%s", dir, name) >= 0 && lstat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
	free(dir);
	return ok;

}

int update_seed(const struct config *config, const char *name, const char *version, char *err,
                size_t err_size)
{
	const struct target_config *t = config_find_target(config, name);
	struct target_state st;
	char sha[65];
	int r;

	if (!t) {
		(void)snprintf(err, err_size, "no target named '%s'", name);
		return -ENOENT;
	}
	if (!version_is_valid(version)) {
		(void)snprintf(err, err_size, "'%s' is not a valid version", version);
		return -EINVAL;
	}
	r = target_sha256(t->path, sha);
	if (r < 0) {
		(void)snprintf(err, err_size, "cannot read '%s': %s", t->path, strerror(-r));
		return r;
	}
	(void)state_load_target(config->state_dir, t->name, &st);
	free(st.version);
	st.version = strdup(version);
	r = st.version ? target_state_raise_floor(&st, version) : -ENOMEM;
	if (r == 0) {
		state_set_file(&st, t->path, sha);
		r = state_save_target(config->state_dir, t->name, &st);
	}
	if (r < 0)
		(void)snprintf(err, err_size, "cannot write the state in '%s': %s", config->state_dir,
		               strerror(-r));
	target_state_clear(&st);
	return r;
}

void update_recover(const struct config *config)
{
	for (size_t i = 0; i < config->n_targets; i++) {
		const struct target_config *t = &config->targets[i];
		struct target_state st;
		char sha[65], id[STATE_FILE_ID_MAX], old_id[STATE_FILE_ID_MAX];
		bool changed;
		int r;

		if (is_directory(t)) {
			recover_directory(config, t);
			continue;
		}
		r = state_load_target(config->state_dir, t->name, &st);
		if (r == -EBADMSG)
			log_warn("%s: its state file in '%s/targets' is damaged; starting afresh", t->name,
			         config->state_dir);
		/* Every staging file is a leftover, except a partial download to resume. */
		r = swap_cleanup_staging_except(t->path, st.partial.name);

		if (r > 0)
			log_notice("%s: removed %d leftover staging file(s) beside '%s'", t->name, r,
			           t->path);
		else if (r < 0 && r != -ENOENT)
			log_warn("%s: cannot look for leftover staging files beside '%s': %s", t->name,
			         t->path, strerror(-r));
		if (st.partial.name && !partial_present(t->path, st.partial.name)) {
			log_notice("%s: the partial download of %s is gone; it starts again", t->name,
			           st.partial.version);
			target_partial_clear(&st.partial);
			(void)state_save_target(config->state_dir, t->name, &st);
		}
		r = swap_prev_strip(t->path);
		if (r > 0)
			log_notice("%s: took set-uid, set-gid and capabilities from the previous file kept "
			           "beside '%s'", t->name, t->path);
		if (!st.sha256_hex[0]) {
			target_state_clear(&st);
			continue;
		}
		/* Still the file the state's sha256 was taken of: trust it. */
		if (st.file_id[0] && file_id_now(t->path, id) && strcmp(id, st.file_id) == 0)
			sha_cache_put(t->path, id, st.sha256_hex);
		if (target_sha256(t->path, sha) < 0)
			sha[0] = '\0';
		changed = strcmp(sha, st.sha256_hex) != 0;
		if (changed) {
			log_warn("%s: '%s' was changed outside updaterd; its version is now unknown",
			         t->name, t->path);
			free(st.version);
			st.version = NULL;
		}
		memcpy(old_id, st.file_id, sizeof(old_id));
		state_set_file(&st, t->path, sha);
		/* Also when only the identity is new, so the next start need not hash. */
		if (changed || strcmp(old_id, st.file_id) != 0)
			(void)state_save_target(config->state_dir, t->name, &st);
		target_state_clear(&st);
	}
}
