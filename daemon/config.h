/*
 * config.h - the YAML configuration (SPEC section 3) as a struct.
 *
 * config_load() reads and validates a file, then its drop-in directory, and
 * has no other side effect: it does not create directories, look at scripts
 * or resolve users. Every problem it finds is reported, not only the first,
 * as lines of the form
 *     FILE:LINE: KEY: what is wrong
 * where FILE is the file that holds the line (the main file or a drop-in), so
 * an operator can fix every file in one pass.
 *
 * Drop-ins: FILE's name without its ".yaml" suffix, plus ".d"
 * (/etc/updater/updater.yaml -> /etc/updater/updater.d/), holds files named
 * *.yaml, read in strcmp() order of their names after the main file. A
 * drop-in holds only "targets:" (one file per application, so packages and
 * configuration management add a target without editing a shared file); its
 * targets are appended to the main file's. A target name or path defined
 * twice, in one file or across files, is an error. A missing directory is no
 * error; names starting with "." are skipped.
 */
#ifndef UPDATER_CONFIG_H
#define UPDATER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "schedule.h"
#include "updater-protocol.h"

#define CONFIG_NAME_MAX 64

#define CONFIG_DEFAULT_SOCKET UPDATER_PROTO_SOCKET
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/updater"
/* Declared by the project's sysusers.d file (SPEC 14). */
#define CONFIG_DEFAULT_SCRIPT_USER "_updater"

/* SPEC section 15: the health gate after a swap; command NULL when not configured. */
struct target_health {
	char **command;         /* argv, NULL-terminated, command[0] an absolute path */
	bool expect_version;    /* stdout must contain the new version as a word */
	uint64_t timeout_sec;   /* how long the new version may take to prove itself (60) */
	uint64_t interval_sec;  /* the command is tried again this often (2) */
};

#define CONFIG_HEALTH_TIMEOUT_DEFAULT 60
#define CONFIG_HEALTH_INTERVAL_DEFAULT 2
enum target_type {
	TARGET_FILE,      /* path is the file that gets replaced */
	TARGET_DIRECTORY, /* path is a symlink to a release in releases (SPEC section 18) */
};

#define CONFIG_DEFAULT_KEEP 3

struct target_config {
	char name[CONFIG_NAME_MAX + 1]; /* [A-Za-z0-9._-]{1,64}, unique */
	enum target_type type;
	char *path;                     /* absolute */
	char *source;                   /* handed to the scripts as UPDATER_SOURCE */
	int signal;                     /* 0 when not configured */
	char **smoke_test;              /* arguments only, NULL-terminated; NULL when not configured */
	bool allow_downgrade;
	uint64_t max_rate; /* bytes per second for its downloads; 0: the global max_rate */
	/* Fleet pacing (SPEC 16). */
	char *channel; /* [A-Za-z0-9._-]{1,64}; NULL: none */
	char *pin;     /* NULL: none */
	char *window;  /* the text, for logs; NULL: always open */
	struct schedule_windows windows;
	struct target_health health;
	/*
	 * The installed version as the operator (or a package's drop-in) knows
	 * it, NULL when not configured: while the state does not know the
	 * version, this is taken as installed and as the floor (SPEC 14).
	 */
	char *version;
	const char *file; /* the file that defines it: config->file or one of config->dropins */
	size_t index;     /* its index in that file's targets: list */
	/* Directory targets only (set to their defaults when not configured). */
	char *releases;                 /* absolute; "releases" beside path */
	unsigned keep;                  /* releases kept, current and previous included */
	uint64_t max_unpacked;          /* bytes; 4 x max_download */
};

struct config {
	char *file; /* the path it was loaded from */
	char *socket_path;
	char *scripts_dir;
	char *state_dir;
	uint64_t interval_sec; /* 0: no periodic checks */
	uint64_t splay_sec;
	uint64_t min_interval_sec;
	uint64_t script_timeout_sec;
	char *script_user;     /* CONFIG_DEFAULT_SCRIPT_USER unless configured */
	bool allow_unsigned;   /* a root daemon may run without trusted_keys (SPEC 14) */
	uint64_t max_download; /* bytes */
	uint64_t max_rate;     /* bytes per second, UPDATER_MAX_RATE to the scripts; 0: no limit */
	struct minisign_pubkey *trusted_keys;
	size_t n_trusted_keys;
	/* Fleet pacing (SPEC 16). */
	double rollout_bucket;   /* 0.0-1.0 from `rollout_bucket:`; < 0: from the machine-id */
	char *machine_id_file;   /* NULL: /etc/machine-id, else STATE_DIR/machine-id */
	char *metrics_file;      /* NULL: none */
	uint64_t max_inhibit_sec; /* 0: no limit */
	struct target_config *targets; /* may be none: the daemon then only answers */
	size_t n_targets;
	char *dropin_dir;  /* the directory drop-ins are read from */
	char **dropins;    /* the drop-in files read, in order */
	size_t n_dropins;
};

/* At most this many drop-in files: far beyond one per application. */
#define CONFIG_DROPINS_MAX 1024

/*
 * Load and validate FILE and its drop-ins. On success returns 0 and stores a new config in
 * *ret_config. On failure returns -EINVAL (invalid content) or another
 * negative errno (the file cannot be read), leaves *ret_config untouched and,
 * when ret_errors is not NULL, stores a malloc'd string of newline-terminated
 * error lines in *ret_errors (the caller frees it).
 */
int config_load(const char *file, struct config **ret_config, char **ret_errors);
/*
 * The drop-in directory of FILE, malloc'd (see above); NULL when out of
 * memory.
 */
char *config_dropin_dir(const char *file);
void config_free(struct config *config);

/* The rate the scripts of TARGET may use (its own max_rate, else the global one); 0: no limit. */
uint64_t config_max_rate(const struct config *config, const struct target_config *target);

/* The target called NAME, or NULL. */
const struct target_config *config_find_target(const struct config *config, const char *name);

/*
 * "45s", "5m", "6h", "2d" or bare seconds -> seconds. Returns 0 or -EINVAL
 * (also on overflow).
 */
int config_parse_duration(const char *text, uint64_t *ret_seconds);
/* "512KiB", "100MiB", "1GiB" (also KB/MB/GB as powers of 1000) or bare bytes. */
int config_parse_size(const char *text, uint64_t *ret_bytes);
/* "SIGUSR2", "USR2" or a number -> signal number. */
int config_parse_signal(const char *text, int *ret_signal);

#endif
