/*
 * config.c - see config.h.
 *
 * The file is read whole (bounded), turned into a small tree by libyaml's
 * event API, and the tree is then validated against the schema of SPEC
 * section 3. Building our own tree instead of using libyaml's document API
 * lets us bound the nesting while parsing and refuse aliases, so a hostile
 * file cannot make the validator walk an exponential graph.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"

#ifndef SCRIPTSDIR
#define SCRIPTSDIR "/usr/lib/updater"
#endif

/* Far beyond any real configuration; keeps a hostile file cheap to refuse. */
#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_DEPTH_MAX 16
/* Durations are turned into milliseconds by the daemon: keep them sane. */
#define CONFIG_DURATION_MAX (3650ULL * 24 * 3600)
#define CONFIG_USER_MAX 32

enum ynode_type {
	Y_SCALAR,
	Y_SEQ,
	Y_MAP,
};

struct ynode {
	enum ynode_type type;
	unsigned long line; /* 1-based */
	char *value;        /* Y_SCALAR */
	size_t len;
	bool plain;          /* unquoted scalar: may be a null */
	struct ynode **kids; /* Y_SEQ: items; Y_MAP: key, value, key, value ... */
	size_t n_kids;
	size_t cap_kids;
};

/* Collected error lines. */
struct errors {
	const char *file;
	char *buf;
	size_t len;
	size_t cap;
	size_t count;
	bool oom;
};

static void errors_add(struct errors *e, unsigned long line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void errors_add(struct errors *e, unsigned long line, const char *key, const char *fmt, ...)
{
	char msg[1024];
	char full[1536];
	va_list ap;
	int n;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Line 0: a problem with the file itself, not with a line of it. */
	if (line == 0)
		n = snprintf(full, sizeof(full), "%s: %s\n", e->file, msg);
	else if (key && *key)
		n = snprintf(full, sizeof(full), "%s:%lu: %s: %s\n", e->file, line, key, msg);
	else
		n = snprintf(full, sizeof(full), "%s:%lu: %s\n", e->file, line, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(full))
		n = sizeof(full) - 1;
	e->count++;
	if (e->len + (size_t)n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 256;
		char *p;

		while (cap < e->len + (size_t)n + 1)
			cap *= 2;
		p = realloc(e->buf, cap);
		if (!p) {
			e->oom = true;
			return;
		}
		e->buf = p;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, full, (size_t)n);
	e->len += (size_t)n;
	e->buf[e->len] = '\0';
}

static void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_kids; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
}

static int ynode_append(struct ynode *parent, struct ynode *kid)
{
	if (parent->n_kids == parent->cap_kids) {
		size_t cap = parent->cap_kids ? parent->cap_kids * 2 : 8;
		struct ynode **p = reallocarray(parent->kids, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		parent->kids = p;
		parent->cap_kids = cap;
	}
	parent->kids[parent->n_kids++] = kid;
	return 0;
}

static const char *yaml_error_name(yaml_error_type_t t)
{
	switch (t) {
	case YAML_MEMORY_ERROR:
		return "out of memory";
	case YAML_READER_ERROR:
		return "invalid characters";
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		return "YAML syntax error";
	default:
		return "YAML error";
	}
}

/*
 * Parse TEXT into a tree. Returns 0 and the root (NULL for an empty file), or
 * -EINVAL after reporting the problem, or -ENOMEM.
 */
static int parse_tree(const char *text, size_t len, struct errors *errs, struct ynode **ret_root)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ynode *root = NULL;
	struct ynode *stack[CONFIG_DEPTH_MAX + 1];
	size_t depth = 0;
	int documents = 0;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

	while (!done) {
		struct ynode *n = NULL;
		unsigned long line;

		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				r = -ENOMEM;
			} else {
				const char *problem = parser.problem ? parser.problem : "unknown problem";

				if (parser.context)
					errors_add(errs, (unsigned long)parser.problem_mark.line + 1, NULL,
					           "%s: %s %s", yaml_error_name(parser.error), problem,
					           parser.context);
				else
					errors_add(errs, (unsigned long)parser.problem_mark.line + 1, NULL,
					           "%s: %s", yaml_error_name(parser.error), problem);
				r = -EINVAL;
			}
			break;
		}
		line = (unsigned long)ev.start_mark.line + 1;

		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++documents > 1) {
				errors_add(errs, line, NULL, "only one YAML document is allowed");
				r = -EINVAL;
				done = true;
			}
			break;
		case YAML_ALIAS_EVENT:
			errors_add(errs, line, NULL, "YAML aliases are not supported");
			r = -EINVAL;
			done = true;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			n = calloc(1, sizeof(*n));
			if (!n) {
				r = -ENOMEM;
				done = true;
				break;
			}
			n->line = line;
			if (ev.type == YAML_SCALAR_EVENT) {
				n->type = Y_SCALAR;
				n->len = ev.data.scalar.length;
				n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
				n->value = malloc(n->len + 1);
				if (!n->value) {
					free(n);
					r = -ENOMEM;
					done = true;
					break;
				}
				memcpy(n->value, ev.data.scalar.value, n->len);
				n->value[n->len] = '\0';
			} else {
				n->type = ev.type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP;
			}
			if (depth == 0) {
				/* The root: there is only one document, so only one root. */
				root = n;
			} else if (ynode_append(stack[depth - 1], n) < 0) {
				ynode_free(n);
				r = -ENOMEM;
				done = true;
				break;
			}
			if (n->type != Y_SCALAR) {
				if (depth == CONFIG_DEPTH_MAX) {
					errors_add(errs, line, NULL, "nested deeper than %d levels",
					           CONFIG_DEPTH_MAX);
					r = -EINVAL;
					done = true;
					break;
				}
				stack[depth++] = n;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);

	if (r < 0) {
		ynode_free(root);
		return r;
	}
	*ret_root = root;
	return 0;
}

/* --- values ------------------------------------------------------------ */

static int mul_checked(uint64_t value, uint64_t mult, uint64_t *ret)
{
	if (mult && value > UINT64_MAX / mult)
		return -EINVAL;
	*ret = value * mult;
	return 0;
}

/* Leading decimal digits of TEXT; *ret_end points after them. At least one digit. */
static int parse_digits(const char *text, uint64_t *ret_value, const char **ret_end)
{
	uint64_t v = 0;
	const char *p = text;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*ret_value = v;
	*ret_end = p;
	return 0;
}

int config_parse_duration(const char *text, uint64_t *ret_seconds)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
	};
	const char *end;
	uint64_t v;

	if (!text || parse_digits(text, &v, &end) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].suffix) == 0)
			return mul_checked(v, units[i].mult, ret_seconds);
	return -EINVAL;
}

int config_parse_size(const char *text, uint64_t *ret_bytes)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1 },
		{ "B", 1 },
		{ "KiB", 1ULL << 10 },
		{ "MiB", 1ULL << 20 },
		{ "GiB", 1ULL << 30 },
		{ "TiB", 1ULL << 40 },
		{ "KB", 1000ULL },
		{ "MB", 1000ULL * 1000 },
		{ "GB", 1000ULL * 1000 * 1000 },
		{ "TB", 1000ULL * 1000 * 1000 * 1000 },
	};
	const char *end;
	uint64_t v;

	if (!text || parse_digits(text, &v, &end) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].suffix) == 0)
			return mul_checked(v, units[i].mult, ret_bytes);
	return -EINVAL;
}

static const struct {
	const char *name;
	int number;
} signal_names[] = {
	{ "HUP", SIGHUP },     { "INT", SIGINT },     { "QUIT", SIGQUIT },   { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },   { "ABRT", SIGABRT },   { "IOT", SIGIOT },     { "BUS", SIGBUS },
	{ "FPE", SIGFPE },     { "KILL", SIGKILL },   { "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },   { "PIPE", SIGPIPE },   { "ALRM", SIGALRM },   { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },   { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },   { "TTOU", SIGTTOU },   { "URG", SIGURG },
	{ "XCPU", SIGXCPU },   { "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH }, { "IO", SIGIO },       { "POLL", SIGPOLL },   { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int config_parse_signal(const char *text, int *ret_signal)
{
	const char *name = text;
	const char *end;
	uint64_t v;

	if (!text || !*text)
		return -EINVAL;
	if (isdigit((unsigned char)*text)) {
		if (parse_digits(text, &v, &end) < 0 || *end || v < 1 || v >= (uint64_t)_NSIG)
			return -EINVAL;
		*ret_signal = (int)v;
		return 0;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
		if (strcasecmp(name, signal_names[i].name) == 0) {
			*ret_signal = signal_names[i].number;
			return 0;
		}
	}
	return -EINVAL;
}

static bool parse_bool(const char *text, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*ret = true;
			return true;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*ret = false;
			return true;
		}
	}
	return false;
}

static bool valid_target_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > CONFIG_NAME_MAX)
		return false;
	/* The name becomes a directory under state_dir: never "." or "..". */
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

static bool valid_user_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > CONFIG_USER_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '.' || c == '_' || c == '-')
			continue;
		if (c == '$' && i == n - 1 && n > 1)
			continue;
		return false;
	}
	return true;
}

/* --- schema ------------------------------------------------------------ */

struct validator {
	struct errors *errs;
	struct config *config;
	const char *file; /* the file being validated, owned by config */
	int r;            /* -ENOMEM when allocation failed */
};

static const char *node_kind(const struct ynode *n)
{
	switch (n->type) {
	case Y_SCALAR:
		return "a string";
	case Y_SEQ:
		return "a list";
	default:
		return "a mapping";
	}
}

static bool node_is_null(const struct ynode *n)
{
	return n->type == Y_SCALAR && n->plain &&
	       (n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
	        strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0);
}

/*
 * A scalar with a value, or an error. Refuses embedded NUL bytes (a
 * double-quoted "\0" escape) that would silently cut a path.
 */
static const char *want_string(struct validator *v, const struct ynode *n, const char *key)
{
	if (n->type != Y_SCALAR) {
		errors_add(v->errs, n->line, key, "must be a string, not %s", node_kind(n));
		return NULL;
	}
	if (node_is_null(n)) {
		errors_add(v->errs, n->line, key, "has no value");
		return NULL;
	}
	if (strlen(n->value) != n->len) {
		errors_add(v->errs, n->line, key, "contains a NUL byte");
		return NULL;
	}
	return n->value;
}

static char *dup_or_oom(struct validator *v, const char *s)
{
	char *d = strdup(s);

	if (!d)
		v->r = -ENOMEM;
	return d;
}

static void set_string(struct validator *v, char **field, const char *s)
{
	char *d = dup_or_oom(v, s);

	if (!d)
		return;
	free(*field);
	*field = d;
}

/* An absolute directory; trailing slashes are dropped so paths join cleanly. */
static void take_dir(struct validator *v, const struct ynode *n, const char *key, char **field)
{
	const char *s = want_string(v, n, key);
	char *d;
	size_t len;

	if (!s)
		return;
	if (s[0] != '/') {
		errors_add(v->errs, n->line, key, "must be an absolute path");
		return;
	}
	if (strlen(s) >= PATH_MAX) {
		errors_add(v->errs, n->line, key, "is too long");
		return;
	}
	d = dup_or_oom(v, s);
	if (!d)
		return;
	len = strlen(d);
	while (len > 1 && d[len - 1] == '/')
		d[--len] = '\0';
	free(*field);
	*field = d;
}

static void take_socket(struct validator *v, const struct ynode *n, const char *key)
{
	const char *s = want_string(v, n, key);
	struct sockaddr_un sa;

	if (!s)
		return;
	if (s[0] != '/') {
		errors_add(v->errs, n->line, key, "must be an absolute path");
		return;
	}
	if (strlen(s) >= sizeof(sa.sun_path)) {
		errors_add(v->errs, n->line, key, "is longer than %zu bytes", sizeof(sa.sun_path) - 1);
		return;
	}
	if (s[strlen(s) - 1] == '/') {
		errors_add(v->errs, n->line, key, "must name a file, not a directory");
		return;
	}
	set_string(v, &v->config->socket_path, s);
}

static void take_duration(struct validator *v, const struct ynode *n, const char *key,
                          uint64_t *field, uint64_t min)
{
	const char *s = want_string(v, n, key);
	uint64_t sec;

	if (!s)
		return;
	if (config_parse_duration(s, &sec) < 0) {
		errors_add(v->errs, n->line, key,
		           "'%s' is not a duration (a number of seconds, or with s, m, h or d)", s);
		return;
	}
	if (sec > CONFIG_DURATION_MAX) {
		errors_add(v->errs, n->line, key, "'%s' is too long (at most %llud)", s,
		           CONFIG_DURATION_MAX / 86400);
		return;
	}
	if (sec < min) {
		errors_add(v->errs, n->line, key, "must be at least %" PRIu64 "s", min);
		return;
	}
	*field = sec;
}

static void take_size(struct validator *v, const struct ynode *n, const char *key, uint64_t *field)
{
	const char *s = want_string(v, n, key);
	uint64_t bytes;

	if (!s)
		return;
	if (config_parse_size(s, &bytes) < 0) {
		errors_add(v->errs, n->line, key,
		           "'%s' is not a size (bytes, or with KiB, MiB, GiB, KB, MB or GB)", s);
		return;
	}
	if (bytes == 0) {
		errors_add(v->errs, n->line, key, "must be greater than 0");
		return;
	}
	*field = bytes;
}

static void take_user(struct validator *v, const struct ynode *n, const char *key)
{
	const char *s = want_string(v, n, key);

	if (!s)
		return;
	if (!valid_user_name(s)) {
		errors_add(v->errs, n->line, key, "'%s' is not a valid user name", s);
		return;
	}
	set_string(v, &v->config->script_user, s);
}

static void take_keys(struct validator *v, const struct ynode *n, const char *key)
{
	struct config *c = v->config;
	char sub[256];

	if (node_is_null(n))
		return;
	if (n->type != Y_SEQ) {
		errors_add(v->errs, n->line, key, "must be a list, not %s", node_kind(n));
		return;
	}
	free(c->trusted_keys);
	c->trusted_keys = NULL;
	c->n_trusted_keys = 0;
	if (n->n_kids == 0)
		return;
	c->trusted_keys = calloc(n->n_kids, sizeof(*c->trusted_keys));
	if (!c->trusted_keys) {
		v->r = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n->n_kids; i++) {
		const struct ynode *item = n->kids[i];
		const char *s;

		(void)snprintf(sub, sizeof(sub), "%s[%zu]", key, i);
		s = want_string(v, item, sub);
		if (!s)
			continue;
		if (minisign_pubkey_parse(s, &c->trusted_keys[c->n_trusted_keys]) < 0) {
			errors_add(v->errs, item->line, sub, "not a minisign public key");
			continue;
		}
		c->n_trusted_keys++;
	}
}

/* A mapping's keys must be strings and appear once. Returns false when KEY_NODE is unusable. */
static bool check_key(struct validator *v, const struct ynode *map, size_t i, const char *prefix)
{
	const struct ynode *k = map->kids[i];

	if (k->type != Y_SCALAR || strlen(k->value) != k->len) {
		errors_add(v->errs, k->line, prefix, "keys must be plain strings");
		return false;
	}
	for (size_t j = 0; j < i; j += 2) {
		const struct ynode *prev = map->kids[j];

		if (prev->type == Y_SCALAR && strcmp(prev->value, k->value) == 0) {
			char name[160];

			(void)snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "", k->value);
			errors_add(v->errs, k->line, name, "duplicate key (first on line %lu)", prev->line);
			return false;
		}
	}
	return true;
}

/* A list of arguments as a NULL-terminated array (NULL on error or for a null value). */
static char **take_argv(struct validator *v, const struct ynode *n, const char *key)
{
	char sub[256];
	size_t count = 0;
	char **argv;

	if (node_is_null(n))
		return NULL;
	if (n->type != Y_SEQ) {
		errors_add(v->errs, n->line, key, "must be a list of arguments, not %s", node_kind(n));
		return NULL;
	}
	argv = calloc(n->n_kids + 1, sizeof(char *));
	if (!argv) {
		v->r = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n->n_kids; i++) {
		const struct ynode *item = n->kids[i];

		(void)snprintf(sub, sizeof(sub), "%s[%zu]", key, i);
		if (item->type != Y_SCALAR) {
			errors_add(v->errs, item->line, sub, "must be a string, not %s", node_kind(item));
			continue;
		}
		/* An empty argument is a legitimate argument; only NUL is refused. */
		if (strlen(item->value) != item->len) {
			errors_add(v->errs, item->line, sub, "contains a NUL byte");
			continue;
		}
		argv[count] = dup_or_oom(v, item->value);
		if (!argv[count])
			break;
		count++;
	}
	return argv;
}

static void take_smoke_test(struct validator *v, struct target_config *t, const struct ynode *n,
                            const char *key)
{
	t->smoke_test = take_argv(v, n, key);
}

/* health: {command: [ABS, ARG...], expect_version, timeout, interval} (SPEC section 15). */
static void take_health(struct validator *v, struct target_config *t, const struct ynode *n,
                        const char *key)
{
	char sub[256];
	bool has_command = false;

	t->health.timeout_sec = CONFIG_HEALTH_TIMEOUT_DEFAULT;
	t->health.interval_sec = CONFIG_HEALTH_INTERVAL_DEFAULT;
	if (node_is_null(n))
		return;
	if (n->type != Y_MAP) {
		errors_add(v->errs, n->line, key, "must be a mapping, not %s", node_kind(n));
		return;
	}
	for (size_t i = 0; i + 1 < n->n_kids; i += 2) {
		const struct ynode *k = n->kids[i];
		const struct ynode *val = n->kids[i + 1];
		const char *s;

		if (!check_key(v, n, i, key))
			continue;
		(void)snprintf(sub, sizeof(sub), "%s.%s", key, k->value);
		if (strcmp(k->value, "command") == 0) {
			has_command = true;
			if (val->type != Y_SEQ || val->n_kids == 0) {
				errors_add(v->errs, val->line, sub,
				           "must be a list: the program's absolute path, then its arguments");
				continue;
			}
			t->health.command = take_argv(v, val, sub);
			if (t->health.command && t->health.command[0] && t->health.command[0][0] != '/')
				errors_add(v->errs, val->line, sub,
				           "'%s' must be an absolute path (the command runs without a shell or PATH search)",
				           t->health.command[0]);
		} else if (strcmp(k->value, "expect_version") == 0) {
			s = want_string(v, val, sub);
			if (s && !parse_bool(s, &t->health.expect_version))
				errors_add(v->errs, val->line, sub, "'%s' is not true or false", s);
		} else if (strcmp(k->value, "timeout") == 0) {
			take_duration(v, val, sub, &t->health.timeout_sec, 1);
		} else if (strcmp(k->value, "interval") == 0) {
			take_duration(v, val, sub, &t->health.interval_sec, 1);
		} else {
			errors_add(v->errs, k->line, sub, "unknown key");
		}
	}
	if (!has_command)
		errors_add(v->errs, n->line, key, "missing required key 'command'");
}

static void take_target_path(struct validator *v, struct target_config *t, const struct ynode *n,
                             const char *key)
{
	const char *s = want_string(v, n, key);
	const char *base;

	if (!s)
		return;
	if (s[0] != '/') {
		errors_add(v->errs, n->line, key, "must be an absolute path");
		return;
	}
	if (strlen(s) >= PATH_MAX) {
		errors_add(v->errs, n->line, key, "is too long");
		return;
	}
	base = strrchr(s, '/') + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		errors_add(v->errs, n->line, key, "must name a file, not a directory");
		return;
	}
	t->path = dup_or_oom(v, s);
}

/* channel:, pin:, window: of a target (SPEC 16). Returns false when KEY is none of them. */
static bool take_pacing(struct validator *v, struct target_config *t, const char *name,
                        const struct ynode *val, const char *key)
{
	const char *s;
	char err[256];

	if (strcmp(name, "channel") != 0 && strcmp(name, "pin") != 0 && strcmp(name, "window") != 0)
		return false;
	s = want_string(v, val, key);
	if (!s)
		return true;
	if (strcmp(name, "channel") == 0) {
		if (!valid_target_name(s)) {
			errors_add(v->errs, val->line, key, "'%s' is not a valid channel (1 to %d of A-Z a-z 0-9 . _ -)",
			           s, CONFIG_NAME_MAX);
			return true;
		}
		set_string(v, &t->channel, s);
	} else if (strcmp(name, "pin") == 0) {
		if (!version_is_valid(s)) {
			errors_add(v->errs, val->line, key, "'%s' is not a version (or its leading components)", s);
			return true;
		}
		set_string(v, &t->pin, s);
	} else {
		if (schedule_windows_parse(s, &t->windows, err, sizeof(err)) < 0) {
			errors_add(v->errs, val->line, key, "%s", err);
			return true;
		}
		set_string(v, &t->window, s);
	}
	return true;
}

/*
 * Where OTHER is defined, as seen from an error about T: "targets[N]" in the
 * same file, "targets[N] in 'FILE'" in another.
 */
static void describe_target(const struct target_config *other, const struct target_config *t,
                            char *buf, size_t size)
{
	if (other->file == t->file)
		(void)snprintf(buf, size, "targets[%zu]", other->index);
	else
		(void)snprintf(buf, size, "targets[%zu] in '%s'", other->index, other->file);
}

/* The keys of directory targets (SPEC section 18). False when KEY is not one of them. */
static bool take_directory_key(struct validator *v, struct target_config *t, const char *name,
                               const struct ynode *val, const char *key)
{
	const char *s;
	uint64_t u;

	if (strcmp(name, "type") == 0) {
		s = want_string(v, val, key);
		if (s && strcmp(s, "directory") == 0)
			t->type = TARGET_DIRECTORY;
		else if (s && strcmp(s, "file") != 0)
			errors_add(v->errs, val->line, key, "'%s' is not file or directory", s);
	} else if (strcmp(name, "releases") == 0) {
		s = want_string(v, val, key);
		if (s && (s[0] != '/' || strlen(s) >= PATH_MAX / 2))
			errors_add(v->errs, val->line, key, "must be an absolute path");
		else if (s) {
			t->releases = dup_or_oom(v, s);
			/* "/opt/shop/releases/" and "/opt/shop/releases" are one directory. */
			for (size_t n = t->releases ? strlen(t->releases) : 0; n > 1 && t->releases[n - 1] == '/'; n--)
				t->releases[n - 1] = '\0';
		}
	} else if (strcmp(name, "keep") == 0) {
		s = want_string(v, val, key);
		if (s && (!isdigit((unsigned char)s[0]) || config_parse_size(s, &u) < 0 || u < 1 || u > 1000))
			errors_add(v->errs, val->line, key, "'%s' is not a number from 1 to 1000", s);
		else if (s)
			t->keep = (unsigned)u;
	} else if (strcmp(name, "max_unpacked") == 0) {
		s = want_string(v, val, key);
		if (s && (config_parse_size(s, &u) < 0 || u == 0))
			errors_add(v->errs, val->line, key,
			           "'%s' is not a size greater than 0 (bytes, or with KiB, MiB, GiB)", s);
		else if (s)
			t->max_unpacked = u;
	} else {
		return false;
	}
	return true;
}

/* Defaults and cross-checks of a directory target, once all its keys are read. */
static void finish_directory_target(struct validator *v, struct target_config *t,
                                    const struct ynode *n, const char *prefix)
{
	const char *slash;

	if (t->type != TARGET_DIRECTORY) {
		if (t->releases || t->keep || t->max_unpacked)
			errors_add(v->errs, n->line, prefix,
			           "releases, keep and max_unpacked need type: directory");
		return;
	}
	if (!t->keep)
		t->keep = CONFIG_DEFAULT_KEEP;
	if (!t->releases && t->path) {
		slash = strrchr(t->path, '/');
		if (asprintf(&t->releases, "%.*s/releases", (int)(slash - t->path), t->path) < 0) {
			t->releases = NULL;
			v->r = -ENOMEM;
		}
	}
	/* Two targets pruning one directory would delete each other's releases. */
	for (size_t j = 0; t->releases && j + 1 < v->config->n_targets; j++) {
		const struct target_config *o = &v->config->targets[j];

		if ((o->releases && strcmp(o->releases, t->releases) == 0) ||
		    (o->path && strcmp(o->path, t->releases) == 0)) {
			errors_add(v->errs, n->line, prefix, "releases '%s' is already used by targets[%zu]",
			           t->releases, j);
			break;
		}
	}
	/* The program a smoke test runs is a file of the new release. */
	if (t->smoke_test && t->smoke_test[0]) {
		const char *p = t->smoke_test[0];

		if (p[0] == '/' || strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 ||
		    strstr(p, "/../") || (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
			errors_add(v->errs, n->line, prefix,
			           "smoke_test[0] must be a path relative to the release, without '..'");
	} else if (t->smoke_test) {
		errors_add(v->errs, n->line, prefix,
		           "smoke_test of a directory target names the program first (relative to the release)");
	}
}

static void take_target(struct validator *v, const struct ynode *n, size_t idx)
{
	struct config *c = v->config;
	struct target_config *t = &c->targets[c->n_targets];
	char prefix[64];
	char key[160];
	bool has_name = false, has_path = false, has_source = false;

	(void)snprintf(prefix, sizeof(prefix), "targets[%zu]", idx);
	/*
	 * Counted at once, so config_free() releases what this target holds
	 * even on error and indexes in messages match the file.
	 */
	memset(t, 0, sizeof(*t));
	t->file = v->file;
	t->index = idx;
	c->n_targets++;
	if (n->type != Y_MAP) {
		errors_add(v->errs, n->line, prefix, "must be a mapping, not %s", node_kind(n));
		return;
	}

	for (size_t i = 0; i + 1 < n->n_kids; i += 2) {
		const struct ynode *k = n->kids[i];
		const struct ynode *val = n->kids[i + 1];
		const char *s;

		if (!check_key(v, n, i, prefix))
			continue;
		(void)snprintf(key, sizeof(key), "%s.%s", prefix, k->value);
		if (strcmp(k->value, "name") == 0) {
			has_name = true;
			s = want_string(v, val, key);
			if (!s)
				continue;
			if (!valid_target_name(s)) {
				errors_add(v->errs, val->line, key,
				           "'%s' is not a valid name (1 to %d of A-Z a-z 0-9 . _ -, not . or ..)",
				           s, CONFIG_NAME_MAX);
				continue;
			}
			for (size_t j = 0; j + 1 < c->n_targets; j++) {
				if (strcmp(c->targets[j].name, s) == 0) {
					char where[PATH_MAX + 64];

					describe_target(&c->targets[j], t, where, sizeof(where));
					errors_add(v->errs, val->line, key,
					           "duplicate target name '%s' (also %s)", s, where);
					s = NULL;
					break;
				}
			}
			if (s)
				memcpy(t->name, s, strlen(s) + 1);
		} else if (strcmp(k->value, "path") == 0) {
			has_path = true;
			take_target_path(v, t, val, key);
			for (size_t j = 0; t->path && j + 1 < c->n_targets; j++) {
				if (c->targets[j].path && strcmp(c->targets[j].path, t->path) == 0) {
					char where[PATH_MAX + 64];

					describe_target(&c->targets[j], t, where, sizeof(where));
					errors_add(v->errs, val->line, key,
					           "'%s' is already the path of %s", t->path, where);
					break;
				}
			}
		} else if (strcmp(k->value, "source") == 0) {
			has_source = true;
			s = want_string(v, val, key);
			if (s)
				t->source = dup_or_oom(v, s);
		} else if (strcmp(k->value, "signal") == 0) {
			s = want_string(v, val, key);
			if (s && config_parse_signal(s, &t->signal) < 0)
				errors_add(v->errs, val->line, key,
				           "'%s' is not a signal (a name such as SIGUSR2, or a number)", s);
		} else if (strcmp(k->value, "smoke_test") == 0) {
			take_smoke_test(v, t, val, key);
		} else if (strcmp(k->value, "health") == 0) {
			take_health(v, t, val, key);
		} else if (strcmp(k->value, "allow_downgrade") == 0) {
			s = want_string(v, val, key);
			if (s && !parse_bool(s, &t->allow_downgrade))
				errors_add(v->errs, val->line, key, "'%s' is not true or false", s);
		} else if (strcmp(k->value, "max_rate") == 0) {
			take_size(v, val, key, &t->max_rate);
		} else if (take_pacing(v, t, k->value, val, key)) {
			/* done */
		} else if (strcmp(k->value, "version") == 0) {
			s = want_string(v, val, key);
			if (s && !version_is_valid(s))
				errors_add(v->errs, val->line, key, "'%s' is not a valid version", s);
			else if (s)
				t->version = dup_or_oom(v, s);
		} else if (take_directory_key(v, t, k->value, val, key)) {
			/* done */
		} else {
			errors_add(v->errs, k->line, key, "unknown key");
		}
	}
	if (!has_name)
		errors_add(v->errs, n->line, prefix, "missing required key 'name'");
	if (!has_path)
		errors_add(v->errs, n->line, prefix, "missing required key 'path'");
	if (!has_source)
		errors_add(v->errs, n->line, prefix, "missing required key 'source'");
	finish_directory_target(v, t, n, prefix);
}

/*
 * The targets of one file, appended to those of the files before it. None is
 * fine: a daemon without targets starts, answers and idles.
 */
static void take_targets(struct validator *v, const struct ynode *n, const char *key)
{
	struct config *c = v->config;
	struct target_config *p;

	if (node_is_null(n))
		return;
	if (n->type != Y_SEQ) {
		errors_add(v->errs, n->line, key, "must be a list, not %s", node_kind(n));
		return;
	}
	if (n->n_kids == 0)
		return;
	p = reallocarray(c->targets, c->n_targets + n->n_kids, sizeof(*c->targets));
	if (!p) {
		v->r = -ENOMEM;
		return;
	}
	c->targets = p;
	for (size_t i = 0; i < n->n_kids && v->r == 0; i++)
		take_target(v, n->kids[i], i);
}

/* rollout_bucket:, machine_id_file:, metrics_file:, max_inhibit: (SPEC 16). False when NAME is none of them. */
static bool take_fleet(struct validator *v, const char *name, const struct ynode *val)
{
	struct config *c = v->config;
	const char *s;
	char *end;
	double b;

	if (strcmp(name, "max_inhibit") == 0) {
		take_duration(v, val, name, &c->max_inhibit_sec, 0);
		return true;
	}
	if (strcmp(name, "machine_id_file") == 0 || strcmp(name, "metrics_file") == 0) {
		s = want_string(v, val, name);
		if (!s)
			return true;
		if (s[0] != '/' || strlen(s) >= PATH_MAX) {
			errors_add(v->errs, val->line, name, "must be an absolute path");
			return true;
		}
		set_string(v, name[1] == 'a' ? &c->machine_id_file : &c->metrics_file, s);
		return true;
	}
	if (strcmp(name, "rollout_bucket") != 0)
		return false;
	s = want_string(v, val, name);
	if (!s)
		return true;
	errno = 0;
	b = strtod(s, &end);
	if (errno || end == s || *end || !(b >= 0.0 && b <= 1.0)) {
		errors_add(v->errs, val->line, name, "'%s' is not a number from 0.0 (first) to 1.0 (last)", s);
		return true;
	}
	c->rollout_bucket = b;
	return true;
}

/* A file that is empty, or only comments, sets nothing. */
static void validate_root(struct validator *v, const struct ynode *root)
{
	struct config *c = v->config;

	if (!root)
		return;
	if (root->type != Y_MAP) {
		errors_add(v->errs, root->line, NULL, "the top level must be a mapping, not %s",
		           node_kind(root));
		return;
	}
	for (size_t i = 0; i + 1 < root->n_kids && v->r == 0; i += 2) {
		const struct ynode *k = root->kids[i];
		const struct ynode *val = root->kids[i + 1];
		const char *name;

		if (!check_key(v, root, i, ""))
			continue;
		name = k->value;
		if (strcmp(name, "socket") == 0)
			take_socket(v, val, name);
		else if (strcmp(name, "scripts_dir") == 0)
			take_dir(v, val, name, &c->scripts_dir);
		else if (strcmp(name, "state_dir") == 0)
			take_dir(v, val, name, &c->state_dir);
		else if (strcmp(name, "interval") == 0)
			take_duration(v, val, name, &c->interval_sec, 0);
		else if (strcmp(name, "splay") == 0)
			take_duration(v, val, name, &c->splay_sec, 0);
		else if (strcmp(name, "min_interval") == 0)
			take_duration(v, val, name, &c->min_interval_sec, 0);
		else if (strcmp(name, "script_timeout") == 0)
			/* A script that may run forever would stall every later update. */
			take_duration(v, val, name, &c->script_timeout_sec, 1);
		else if (strcmp(name, "script_user") == 0)
			take_user(v, val, name);
		else if (strcmp(name, "max_download") == 0)
			take_size(v, val, name, &c->max_download);
		else if (strcmp(name, "max_rate") == 0)
			take_size(v, val, name, &c->max_rate);
		else if (strcmp(name, "trusted_keys") == 0)
			take_keys(v, val, name);
		else if (strcmp(name, "allow_unsigned") == 0) {
			const char *s = want_string(v, val, name);

			if (s && !parse_bool(s, &c->allow_unsigned))
				errors_add(v->errs, val->line, name, "'%s' is not true or false", s);
		}
		else if (strcmp(name, "targets") == 0)
			take_targets(v, val, name);
		else if (take_fleet(v, name, val))
			continue;
		else
			errors_add(v->errs, k->line, name, "unknown key");
	}
}

/* A drop-in: only targets. Anything else belongs in the main file. */
static void validate_dropin(struct validator *v, const struct ynode *root)
{
	if (!root)
		return;
	if (root->type != Y_MAP) {
		errors_add(v->errs, root->line, NULL, "the top level must be a mapping, not %s",
		           node_kind(root));
		return;
	}
	for (size_t i = 0; i + 1 < root->n_kids && v->r == 0; i += 2) {
		const struct ynode *k = root->kids[i];

		if (!check_key(v, root, i, ""))
			continue;
		if (strcmp(k->value, "targets") == 0)
			take_targets(v, root->kids[i + 1], k->value);
		else
			errors_add(v->errs, k->line, k->value,
			           "not allowed in a drop-in, which holds only targets: set it in '%s'",
			           v->config->file);
	}
}

static struct config *config_new_defaults(const char *file)
{
	struct config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->file = strdup(file);
	c->socket_path = strdup(CONFIG_DEFAULT_SOCKET);
	c->scripts_dir = strdup(SCRIPTSDIR);
	c->state_dir = strdup(CONFIG_DEFAULT_STATE_DIR);
	c->script_user = strdup(CONFIG_DEFAULT_SCRIPT_USER);
	c->interval_sec = 6 * 3600;
	c->splay_sec = 30 * 60;
	c->min_interval_sec = 60;
	c->script_timeout_sec = 5 * 60;
	c->max_download = 1ULL << 30;
	c->rollout_bucket = -1.0;
	c->max_inhibit_sec = 6 * 3600;
	if (!c->file || !c->socket_path || !c->scripts_dir || !c->state_dir || !c->script_user) {
		config_free(c);
		return NULL;
	}
	return c;
}

uint64_t config_max_rate(const struct config *config, const struct target_config *target)
{
	return target && target->max_rate ? target->max_rate : config->max_rate;
}

/* Read at most CONFIG_FILE_MAX bytes. Returns 0, or a negative errno with a line in ERRS. */
static int read_file(const char *file, struct errors *errs, char **ret_text, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		errors_add(errs, 0, NULL, "cannot open: %s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		errors_add(errs, 0, NULL, "cannot stat: %s", strerror(-r));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		errors_add(errs, 0, NULL, "is a directory");
		goto fail;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			errors_add(errs, 0, NULL, "cannot read: %s", strerror(-r));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX) {
			r = -EFBIG;
			errors_add(errs, 0, NULL, "is larger than %d bytes", CONFIG_FILE_MAX);
			goto fail;
		}
	}
	(void)close(fd);
	buf[len] = '\0';
	*ret_text = buf;
	*ret_len = len;
	return 0;
fail:
	free(buf);
	(void)close(fd);
	return r;
}

char *config_dropin_dir(const char *file)
{
	size_t len = strlen(file);
	char *dir;

	if (len > 5 && strcmp(file + len - 5, ".yaml") == 0)
		len -= 5;
	dir = malloc(len + 3);
	if (!dir)
		return NULL;
	memcpy(dir, file, len);
	memcpy(dir + len, ".d", 3);
	return dir;
}

/* Read, parse and validate one file (the main file when DROPIN is false). */
static int load_one(struct validator *v, const char *file, bool dropin)
{
	struct ynode *root = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	v->file = file;
	v->errs->file = file;
	r = read_file(file, v->errs, &text, &len);
	if (r < 0)
		return r;
	r = parse_tree(text, len, v->errs, &root);
	free(text);
	if (r < 0)
		return r;
	if (dropin)
		validate_dropin(v, root);
	else
		validate_root(v, root);
	ynode_free(root);
	return v->r;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dropin_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".yaml") == 0;
}

/*
 * The paths of the drop-ins in config->dropin_dir, sorted, into
 * config->dropins. A missing directory has none.
 */
static int list_dropins(struct validator *v)
{
	struct config *c = v->config;
	const char *dir = c->dropin_dir;
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		v->errs->file = dir;
		errors_add(v->errs, 0, NULL, "cannot read the drop-in directory: %s", strerror(-r));
		return r == -ENOMEM ? r : -EINVAL;
	}
	while ((errno = 0, de = readdir(d))) {
		char **p;
		char *path;

		if (!is_dropin_name(de->d_name))
			continue;
		if (c->n_dropins == CONFIG_DROPINS_MAX) {
			v->errs->file = dir;
			errors_add(v->errs, 0, NULL, "more than %d drop-ins", CONFIG_DROPINS_MAX);
			r = -EINVAL;
			break;
		}
		p = reallocarray(c->dropins, c->n_dropins + 1, sizeof(*p));
		if (!p || asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			if (p)
				c->dropins = p;
			r = -ENOMEM;
			break;
		}
		c->dropins = p;
		c->dropins[c->n_dropins++] = path;
	}
	if (r == 0 && errno != 0) {
		r = -errno;
		v->errs->file = dir;
		errors_add(v->errs, 0, NULL, "cannot read the drop-in directory: %s", strerror(-r));
		r = -EINVAL;
	}
	(void)closedir(d);
	if (c->n_dropins > 1)
		qsort(c->dropins, c->n_dropins, sizeof(*c->dropins), compare_names);
	return r;
}

int config_load(const char *file, struct config **ret_config, char **ret_errors)
{
	struct errors errs = { .file = file };
	struct validator v = { .errs = &errs };
	int r;

	v.config = config_new_defaults(file);
	if (!v.config) {
		r = -ENOMEM;
		goto out;
	}
	r = load_one(&v, v.config->file, false);
	if (r < 0 && r != -EINVAL)
		goto out;
	/*
	 * The main file's errors do not stop the drop-ins from being read: an
	 * operator fixes everything in one pass.
	 */
	v.config->dropin_dir = config_dropin_dir(file);
	if (!v.config->dropin_dir) {
		r = -ENOMEM;
		goto out;
	}
	r = list_dropins(&v);
	if (r == -ENOMEM)
		goto out;
	for (size_t i = 0; i < v.config->n_dropins; i++) {
		int q = load_one(&v, v.config->dropins[i], true);

		if (q == -ENOMEM) {
			r = q;
			goto out;
		}
	}
	/* max_download may come after the targets, or in the main file for a drop-in's target. */
	for (size_t i = 0; i < v.config->n_targets; i++)
		if (v.config->targets[i].type == TARGET_DIRECTORY && !v.config->targets[i].max_unpacked)
			v.config->targets[i].max_unpacked = v.config->max_download > UINT64_MAX / 4
			                                            ? UINT64_MAX
			                                            : 4 * v.config->max_download;
	if (v.r < 0)
		r = v.r;
	else if (errs.count > 0)
		r = -EINVAL;
	else if (errs.oom)
		r = -ENOMEM;
	else
		r = 0;
out:
	errs.file = file;
	if (r == 0 && errs.oom)
		r = -ENOMEM;
	if (r < 0) {
		config_free(v.config);
		if (r == -ENOMEM && errs.count == 0)
			errors_add(&errs, 0, NULL, "out of memory");
		if (ret_errors)
			*ret_errors = errs.buf;
		else
			free(errs.buf);
		return r;
	}
	free(errs.buf);
	*ret_config = v.config;
	return 0;
}

void config_free(struct config *config)
{
	if (!config)
		return;
	for (size_t i = 0; i < config->n_targets; i++) {
		struct target_config *t = &config->targets[i];

		free(t->path);
		free(t->source);
		free(t->version);
		free(t->releases);
		if (t->smoke_test)
			for (char **a = t->smoke_test; *a; a++)
				free(*a);
		free(t->smoke_test);
		free(t->channel);
		free(t->pin);
		free(t->window);
		if (t->health.command)
			for (char **a = t->health.command; *a; a++)
				free(*a);
		free(t->health.command);
	}
	free(config->targets);
	for (size_t i = 0; i < config->n_dropins; i++)
		free(config->dropins[i]);
	free(config->dropins);
	free(config->dropin_dir);
	free(config->trusted_keys);
	free(config->file);
	free(config->socket_path);
	free(config->scripts_dir);
	free(config->state_dir);
	free(config->script_user);
	free(config->machine_id_file);
	free(config->metrics_file);
	free(config);
}

const struct target_config *config_find_target(const struct config *config, const char *name)
{
	if (!config || !name)
		return NULL;
	for (size_t i = 0; i < config->n_targets; i++)
		if (strcmp(config->targets[i].name, name) == 0)
			return &config->targets[i];
	return NULL;
}
