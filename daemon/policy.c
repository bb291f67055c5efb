/* policy.c - see policy.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "policy.h"

double policy_bucket(const char *machine_id, const char *target, const char *version)
{
	static const char prefix[] = "updater-rollout"; /* and its NUL */
	crypto_hash_sha256_state h;
	uint8_t digest[crypto_hash_sha256_BYTES];
	uint64_t v = 0;

	(void)crypto_hash_sha256_init(&h);
	(void)crypto_hash_sha256_update(&h, (const uint8_t *)prefix, sizeof(prefix));
	(void)crypto_hash_sha256_update(&h, (const uint8_t *)machine_id, strlen(machine_id) + 1);
	(void)crypto_hash_sha256_update(&h, (const uint8_t *)target, strlen(target) + 1);
	(void)crypto_hash_sha256_update(&h, (const uint8_t *)version, strlen(version));
	(void)crypto_hash_sha256_final(&h, digest);
	for (int i = 0; i < 8; i++)
		v = v << 8 | digest[i];
	/* ldexp is exact for the top 53 bits; a v close to 2^64 must not round up to 1.0. */
	{
		double b = ldexp((double)(v >> 11), -53);

		return b < 1.0 ? b : nextafter(1.0, 0.0);
	}
}

/* The first line of PATH, when it is a usable id. */
static int read_id(const char *path, char ret[POLICY_MACHINE_ID_MAX + 1])
{
	char buf[POLICY_MACHINE_ID_MAX + 2];
	ssize_t n;
	size_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	len = strcspn(buf, "\n");
	buf[len] = '\0';
	if (len == 0 || len > POLICY_MACHINE_ID_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e)
			return -EBADMSG;
	memcpy(ret, buf, len + 1);
	return 0;
}

static int make_id(const char *path, char ret[POLICY_MACHINE_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[16];
	char line[34];
	int fd, r = 0;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		line[2 * i] = hex[raw[i] >> 4];
		line[2 * i + 1] = hex[raw[i] & 15];
	}
	line[32] = '\n';
	line[33] = '\0';
	/* O_EXCL: of two racing makers, the first id wins and is read back. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EEXIST ? read_id(path, ret) : -errno;
	if (write(fd, line, 33) != 33 || fsync(fd) < 0)
		r = -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(path);
		return r;
	}
	line[32] = '\0';
	memcpy(ret, line, 33);
	return 0;
}

int policy_machine_id(const char *file, const char *state_dir, char ret[POLICY_MACHINE_ID_MAX + 1])
{
	char path[PATH_MAX];
	int r;

	r = read_id(file ? file : POLICY_MACHINE_ID_DEFAULT, ret);
	if (r == 0 || file)
		return r; /* a configured file that cannot be read is an error, not a fallback */
	if (!state_dir)
		return -ENOENT;
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, POLICY_MACHINE_ID_STATE) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = read_id(path, ret);
	if (r == -ENOENT)
		r = make_id(path, ret);
	return r;
}

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool policy_pin_matches(const char *pin, const char *version)
{
	size_t len = strlen(pin);
	const char *colon = strchr(version, ':');

	if (!strchr(pin, ':') && colon)
		version = colon + 1;
	if (len == 0 || strncmp(pin, version, len) != 0)
		return false;
	/* The pin must end where a component ends: 1.4 is not a prefix of 1.40 or 1.4a. */
	return !is_alnum(version[len]) || !is_alnum(pin[len - 1]);
}

static void fmt_time(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, size, "%" PRId64, ms / 1000);
}

int64_t policy_turn_ms(const struct policy_input *in)
{
	double offset;

	if (in->rollout_start < 0)
		return -1;
	offset = in->bucket * (double)(in->rollout_duration > 0 ? in->rollout_duration : 0) * 1000.0;
	return in->rollout_start * 1000 + (int64_t)ceil(offset);
}

static void decide(struct policy_decision *d, enum policy_verdict v,
                   const char *rule, int64_t until_ms, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void decide(struct policy_decision *d, enum policy_verdict v,
                   const char *rule, int64_t until_ms, const char *fmt, ...)
{
	va_list ap;

	d->verdict = v;
	d->rule = rule;
	d->until_ms = until_ms;
	va_start(ap, fmt);
	(void)vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
}

void policy_decide(const struct policy_input *in, struct policy_decision *ret)
{
	char when[40];
	int64_t turn;

	*ret = (struct policy_decision){ .verdict = POLICY_INSTALL, .until_ms = -1 };
	if (in->pin && !policy_pin_matches(in->pin, in->version)) {
		decide(ret, POLICY_REFUSE, POLICY_RULE_PIN, -1, "pinned to %s", in->pin);
		return;
	}
	if (in->rollout_percent <= 0) {
		decide(ret, POLICY_REFUSE, POLICY_RULE_HALTED,
		       -1, "the rollout is halted (rollout_percent=0)");
		return;
	}
	if (in->rollout_percent < 100 && in->bucket >= (double)in->rollout_percent / 100.0) {
		decide(ret, POLICY_REFUSE, POLICY_RULE_ROLLOUT, -1,
		       "the rollout has not reached this machine (bucket %.4f, rollout_percent=%d)",
		       in->bucket, in->rollout_percent);
		return;
	}
	turn = policy_turn_ms(in);
	if (turn >= 0 && in->now_ms < turn) {
		fmt_time(turn + 999, when, sizeof(when));
		decide(ret, POLICY_DEFER, POLICY_RULE_ROLLOUT, turn,
		       "the rollout reaches this machine (bucket %.4f) at %s", in->bucket, when);
		return;
	}
	if (in->held) {
		decide(ret, POLICY_DEFER, POLICY_RULE_HOLD, -1, "held (until updaterctl unhold %s)",
		       in->target);
		return;
	}
	if (in->has_window && !in->window_open) {
		if (in->window_opens < 0) {
			decide(ret, POLICY_DEFER, POLICY_RULE_WINDOW, -1, "outside its window, which never opens");
			return;
		}
		fmt_time(in->window_opens * 1000, when, sizeof(when));
		decide(ret, POLICY_DEFER, POLICY_RULE_WINDOW, in->window_opens * 1000,
		       "outside its window, which opens at %s", when);
		return;
	}
	if (in->inhibitors > 0) {
		int64_t expiry = in->max_inhibit_ms > 0 ? in->inhibited_since_ms + in->max_inhibit_ms : -1;

		if (expiry >= 0 && in->now_ms >= expiry) {
			decide(ret, POLICY_INSTALL, "max_inhibit", -1,
			       "an inhibitor%s%s has been held for longer than max_inhibit; going ahead",
			       in->inhibitor_why ? ": " : "", in->inhibitor_why ? in->inhibitor_why : "");
			return;
		}
		if (expiry >= 0)
			fmt_time(expiry + 999, when, sizeof(when));
		decide(ret, POLICY_DEFER, POLICY_RULE_INHIBITOR, expiry,
		       "inhibited by %zu inhibitor%s%s%s (until released%s%s)", in->inhibitors,
		       in->inhibitors == 1 ? "" : "s", in->inhibitor_why ? ": " : "",
		       in->inhibitor_why ? in->inhibitor_why : "", expiry >= 0 ? ", at most until " : "",
		       expiry >= 0 ? when : "");
		return;
	}
}
