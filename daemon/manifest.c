/* manifest.c - see manifest.h. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "manifest.h"

#define PUBKEY_BYTES (2 + MINISIGN_KEYID_BYTES + MINISIGN_PK_BYTES)
#define SIG_BYTES (2 + MINISIGN_KEYID_BYTES + crypto_sign_BYTES)
#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
/* The longest comment line minisign writes is well under this. */
#define COMMENT_MAX 1024

static void set_err(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_size == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

/* Decode base64 TEXT[0..len) into exactly WANT bytes. */
static int decode_exact(const char *text, size_t len, uint8_t *out, size_t want)
{
	size_t got = 0;

	/*
	 * sodium_base642bin() compares characters in a way that takes some bytes
	 * with the high bit set for base64 digits ('/' ^ 0x80 reads as '/'); minisign
	 * refuses them, and so do we.
	 */
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '='))
			return -EINVAL;
	}
	if (sodium_base642bin(out, want, text, len, NULL, &got, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -EINVAL;
	return got == want ? 0 : -EINVAL;
}

int minisign_pubkey_parse(const char *text, struct minisign_pubkey *ret_key)
{
	uint8_t raw[PUBKEY_BYTES];
	const char *line = text;
	size_t len;

	if (!text)
		return -EINVAL;
	/* A whole .pub file starts with a comment line; the key is the next one. */
	if (strncmp(line, "untrusted comment:", 18) == 0) {
		line = strchr(line, '\n');
		if (!line)
			return -EINVAL;
		line++;
	}
	while (*line == ' ' || *line == '\t')
		line++;
	len = strcspn(line, "\r\n");
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	/* Nothing but blank space may follow the key line. */
	for (const char *p = line + len; *p; p++)
		if (!isspace((unsigned char)*p))
			return -EINVAL;
	if (decode_exact(line, len, raw, sizeof(raw)) < 0)
		return -EINVAL;
	if (raw[0] != 'E' || raw[1] != 'd')
		return -EINVAL;
	memcpy(ret_key->id, raw + 2, MINISIGN_KEYID_BYTES);
	memcpy(ret_key->pk, raw + 2 + MINISIGN_KEYID_BYTES, MINISIGN_PK_BYTES);
	return 0;
}

/* Key ids are printed as minisign prints them: the 8 bytes, last first, in hex. */
static void keyid_hex(const uint8_t id[MINISIGN_KEYID_BYTES], char out[2 * MINISIGN_KEYID_BYTES + 1])
{
	static const char digits[] = "0123456789ABCDEF";

	for (int i = 0; i < MINISIGN_KEYID_BYTES; i++) {
		uint8_t b = id[MINISIGN_KEYID_BYTES - 1 - i];
		out[2 * i] = digits[b >> 4];
		out[2 * i + 1] = digits[b & 0xf];
	}
	out[2 * MINISIGN_KEYID_BYTES] = '\0';
}

struct line {
	const char *start;
	size_t len;  /* without the newline */
	bool has_nl; /* ended by '\n' */
};

/* The line starting at offset POS of TEXT. */
static struct line line_at(const char *text, size_t len, size_t pos)
{
	const char *nl = memchr(text + pos, '\n', len - pos);
	struct line l = { .start = text + pos };

	l.len = nl ? (size_t)(nl - (text + pos)) : len - pos;
	l.has_nl = nl != NULL;
	return l;
}

/* Offset of the first line that starts with "untrusted comment:", or LEN. */
static size_t find_signature(const char *text, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		struct line l = line_at(text, len, pos);

		if (l.len >= 18 && memcmp(l.start, "untrusted comment:", 18) == 0)
			return pos;
		pos += l.len + (l.has_nl ? 1 : 0);
	}
	return len;
}

int manifest_verify(const char *text, size_t len, const struct minisign_pubkey *keys, size_t n_keys,
                    size_t *ret_body_len, char *err, size_t err_size)
{
	struct line lines[4];
	uint8_t sig[SIG_BYTES], global[crypto_sign_BYTES];
	uint8_t prehash[crypto_generichash_BYTES_MAX];
	uint8_t *signed_comment = NULL;
	const struct minisign_pubkey *key = NULL;
	size_t body_len, pos, comment_len;
	char idhex[2 * MINISIGN_KEYID_BYTES + 1];
	int r = -EBADMSG;

	if (len > MANIFEST_MAX + 4 * COMMENT_MAX) {
		set_err(err, err_size, "manifest is larger than %d bytes", MANIFEST_MAX);
		return -EINVAL;
	}
	body_len = find_signature(text, len);
	if (body_len == len) {
		set_err(err, err_size, "manifest is not signed, but trusted_keys are configured");
		return -EBADMSG;
	}
	if (body_len > MANIFEST_MAX) {
		set_err(err, err_size, "manifest is larger than %d bytes", MANIFEST_MAX);
		return -EINVAL;
	}
	pos = body_len;
	for (int i = 0; i < 4; i++) {
		if (pos >= len) {
			set_err(err, err_size, "signature is truncated: %d of 4 lines", i);
			return -EBADMSG;
		}
		lines[i] = line_at(text, len, pos);
		if (lines[i].len > COMMENT_MAX) {
			set_err(err, err_size, "signature line %d is too long", i + 1);
			return -EBADMSG;
		}
		pos += lines[i].len + (lines[i].has_nl ? 1 : 0);
	}
	if (pos != len) {
		set_err(err, err_size, "unexpected text after the signature");
		return -EBADMSG;
	}
	/*
	 * minisign requires the blank after "untrusted comment:", reads the line
	 * into 1024 bytes (1022 characters, the newline and a NUL) and loses its
	 * end at a NUL byte: refuse what it refuses.
	 */
	if (lines[0].len < strlen(UNTRUSTED_PREFIX) ||
	    memcmp(lines[0].start, UNTRUSTED_PREFIX, strlen(UNTRUSTED_PREFIX)) != 0) {
		set_err(err, err_size, "signature does not start with an 'untrusted comment: ' line");
		return -EBADMSG;
	}
	if (lines[0].len > COMMENT_MAX - 2 || memchr(lines[0].start, '\0', lines[0].len)) {
		set_err(err, err_size, "untrusted comment is longer than 1022 bytes or holds a NUL byte");
		return -EBADMSG;
	}
	if (decode_exact(lines[1].start, lines[1].len, sig, sizeof(sig)) < 0) {
		set_err(err, err_size, "signature line is not a minisign signature");
		return -EBADMSG;
	}
	if (sig[0] == 'E' && sig[1] == 'd') {
		set_err(err, err_size, "legacy (not prehashed) minisign signature refused; sign with minisign 0.10 or later");
		return -EBADMSG;
	}
	if (sig[0] != 'E' || sig[1] != 'D') {
		set_err(err, err_size, "unknown signature algorithm");
		return -EBADMSG;
	}
	for (size_t i = 0; i < n_keys; i++) {
		if (memcmp(keys[i].id, sig + 2, MINISIGN_KEYID_BYTES) == 0) {
			key = &keys[i];
			break;
		}
	}
	keyid_hex(sig + 2, idhex);
	if (!key) {
		set_err(err, err_size, "signed by key %s, which is not in trusted_keys", idhex);
		return -EBADMSG;
	}
	crypto_generichash(prehash, sizeof(prehash), (const uint8_t *)text, body_len, NULL, 0);
	if (crypto_sign_verify_detached(sig + 2 + MINISIGN_KEYID_BYTES, prehash, sizeof(prehash),
	                                key->pk) != 0) {
		set_err(err, err_size, "signature by key %s does not match the manifest", idhex);
		return -EBADMSG;
	}
	if (lines[2].len < strlen(TRUSTED_PREFIX) ||
	    memcmp(lines[2].start, TRUSTED_PREFIX, strlen(TRUSTED_PREFIX)) != 0) {
		set_err(err, err_size, "signature has no trusted comment line");
		return -EBADMSG;
	}
	if (decode_exact(lines[3].start, lines[3].len, global, sizeof(global)) < 0) {
		set_err(err, err_size, "global signature line is malformed");
		return -EBADMSG;
	}
	/* The global signature covers the signature and the trusted comment. */
	comment_len = lines[2].len - strlen(TRUSTED_PREFIX);
	signed_comment = malloc(crypto_sign_BYTES + comment_len);
	if (!signed_comment) {
		set_err(err, err_size, "out of memory");
		return -ENOMEM;
	}
	memcpy(signed_comment, sig + 2 + MINISIGN_KEYID_BYTES, crypto_sign_BYTES);
	memcpy(signed_comment + crypto_sign_BYTES, lines[2].start + strlen(TRUSTED_PREFIX),
	       comment_len);
	if (crypto_sign_verify_detached(global, signed_comment, crypto_sign_BYTES + comment_len,
	                                key->pk) != 0) {
		set_err(err, err_size, "global signature (over the trusted comment) is not valid");
		goto out;
	}
	if (ret_body_len)
		*ret_body_len = body_len;
	r = 0;
out:
	free(signed_comment);
	return r;
}

static bool is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ" -> Unix seconds; the date and the time must exist. */
static int parse_rfc3339_utc(const char *s, int64_t *ret)
{
	static const char form[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm = { 0 }, norm;
	char *end;
	time_t t;

	if (strlen(s) != strlen(form))
		return -EINVAL;
	/* strptime() would skip a blank before a number: insist on the digits. */
	for (size_t i = 0; form[i]; i++)
		if (form[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != form[i])
			return -EINVAL;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -EINVAL;
	norm = tm;
	t = timegm(&norm);
	if (t == (time_t)-1)
		return -EINVAL;
	/* timegm() turns February 30 into March 2: a date it had to move does not exist. */
	if (norm.tm_year != tm.tm_year || norm.tm_mon != tm.tm_mon || norm.tm_mday != tm.tm_mday ||
	    norm.tm_hour != tm.tm_hour || norm.tm_min != tm.tm_min || norm.tm_sec != tm.tm_sec)
		return -EINVAL;
	*ret = (int64_t)t;
	return 0;
}

void manifest_clear(struct manifest *m)
{
	if (!m)
		return;
	free(m->target);
	free(m->version);
	free(m->url);
	for (size_t i = 0; i < m->n_deltas; i++)
		free(m->deltas[i].url);
	free(m->deltas);
	memset(m, 0, sizeof(*m));
	m->expires = -1;
	m->rollout_start = -1;
	m->rollout_percent = 100;
}

const struct manifest_delta *manifest_find_delta(const struct manifest *m, const char *base_hex)
{
	if (!base_hex || !*base_hex)
		return NULL;
	for (size_t i = 0; i < m->n_deltas; i++)
		if (strcmp(m->deltas[i].base_hex, base_hex) == 0)
			return &m->deltas[i];
	return NULL;
}

#define DELTA_PREFIX "delta-"

/*
 * One "delta-BASE=URL SIZE SHA256" line (KEY, KLEN: the key; VALUE, VLEN) added
 * to M. Returns 0, -EINVAL with ERR, or -ENOMEM.
 */
static int parse_delta(struct manifest *m, const char *key, size_t klen, const char *value,
                       size_t vlen, int lineno, char *err, size_t err_size)
{
	const size_t plen = strlen(DELTA_PREFIX);
	struct manifest_delta d = { 0 }, *grown;
	const char *sp1, *sp2, *end = value + vlen;
	char num[32];

	if (klen != plen + 64 || !is_lower_hex(key + plen, 64)) {
		set_err(err, err_size, "line %d: a delta key is delta- and 64 lowercase hex digits", lineno);
		return -EINVAL;
	}
	memcpy(d.base_hex, key + plen, 64);
	for (size_t i = 0; i < m->n_deltas; i++) {
		if (strcmp(m->deltas[i].base_hex, d.base_hex) == 0) {
			set_err(err, err_size, "line %d: key 'delta-%s' is repeated", lineno, d.base_hex);
			return -EINVAL;
		}
	}
	if (m->n_deltas >= MANIFEST_DELTAS_MAX) {
		set_err(err, err_size, "line %d: more than %d delta keys", lineno, MANIFEST_DELTAS_MAX);
		return -EINVAL;
	}
	sp1 = memchr(value, ' ', vlen);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
	if (!sp1 || sp1 == value || !sp2 || sp2 == sp1 + 1 || (size_t)(sp2 - sp1 - 1) >= sizeof(num) ||
	    (size_t)(end - sp2 - 1) != 64 || !is_lower_hex(sp2 + 1, 64)) {
		set_err(err, err_size, "line %d: a delta is 'URL SIZE SHA256' (SHA256: 64 lowercase hex digits)",
		        lineno);
		return -EINVAL;
	}
	memcpy(num, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	num[sp2 - sp1 - 1] = '\0';
	if (parse_u64(num, &d.size) < 0) {
		set_err(err, err_size, "line %d: delta size '%s' is not a number of bytes", lineno, num);
		return -EINVAL;
	}
	memcpy(d.sha256_hex, sp2 + 1, 64);
	d.url = strndup(value, (size_t)(sp1 - value));
	grown = d.url ? realloc(m->deltas, (m->n_deltas + 1) * sizeof(*m->deltas)) : NULL;
	if (!grown) {
		free(d.url);
		set_err(err, err_size, "out of memory");
		return -ENOMEM;
	}
	m->deltas = grown;
	m->deltas[m->n_deltas++] = d;
	return 0;
}

/* "172800", "45s", "5m", "6h", "2d" -> seconds (at most ten years). */
static int parse_duration(const char *s, int64_t *ret)
{
	uint64_t v, mult = 1;
	char num[24];
	size_t len = strlen(s);

	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len + 1);
	switch (num[len - 1]) {
	case 's': mult = 1; num[--len] = '\0'; break;
	case 'm': mult = 60; num[--len] = '\0'; break;
	case 'h': mult = 3600; num[--len] = '\0'; break;
	case 'd': mult = 86400; num[--len] = '\0'; break;
	default: break;
	}
	if (parse_u64(num, &v) < 0 || v > 3650ULL * 86400 / mult)
		return -EINVAL;
	*ret = (int64_t)(v * mult);
	return 0;
}

enum {
	K_TARGET,
	K_VERSION,
	K_URL,
	K_SIZE,
	K_SHA256, /* the last required key */
	K_EXPIRES,
	K_ROLLOUT_START,
	K_ROLLOUT_DURATION,
	K_ROLLOUT_PERCENT,
	K_COUNT
};
static const char *const known_keys[K_COUNT] = { "target", "version", "url", "size", "sha256", "expires",
	                                         "rollout_start", "rollout_duration", "rollout_percent" };

int manifest_parse(const char *body, size_t len, const char *expected_target, time_t now,
                   struct manifest *ret, char *err, size_t err_size)
{
	struct manifest m = { .expires = -1, .rollout_start = -1, .rollout_percent = 100 };
	char *values[K_COUNT] = { 0 };
	int lineno = 0, r = -EINVAL;
	size_t pos = 0;

	if (len > MANIFEST_MAX) {
		set_err(err, err_size, "manifest is larger than %d bytes", MANIFEST_MAX);
		return -EINVAL;
	}
	if (memchr(body, '\0', len)) {
		set_err(err, err_size, "manifest contains a NUL byte");
		return -EINVAL;
	}
	while (pos < len) {
		struct line l = line_at(body, len, pos);
		const char *eq;
		size_t klen;
		int k;

		pos += l.len + (l.has_nl ? 1 : 0);
		lineno++;
		if (l.len == 0)
			continue; /* blank lines carry nothing and are allowed */
		for (size_t i = 0; i < l.len; i++) {
			unsigned char c = (unsigned char)l.start[i];
			if (c < 0x20 || c == 0x7f) {
				set_err(err, err_size, "line %d: control character in manifest", lineno);
				goto fail;
			}
		}
		eq = memchr(l.start, '=', l.len);
		if (!eq || eq == l.start) {
			set_err(err, err_size, "line %d: expected key=value", lineno);
			goto fail;
		}
		klen = (size_t)(eq - l.start);
		if (klen >= strlen(DELTA_PREFIX) && memcmp(l.start, DELTA_PREFIX, strlen(DELTA_PREFIX)) == 0) {
			r = parse_delta(&m, l.start, klen, eq + 1, l.len - klen - 1, lineno, err, err_size);
			if (r < 0)
				goto fail;
			r = -EINVAL;
			continue;
		}
		for (k = 0; k < K_COUNT; k++)
			if (strlen(known_keys[k]) == klen && memcmp(known_keys[k], l.start, klen) == 0)
				break;
		if (k == K_COUNT)
			continue; /* unknown keys are ignored, for forward compatibility */
		if (values[k]) {
			set_err(err, err_size, "line %d: key '%s' is repeated", lineno, known_keys[k]);
			goto fail;
		}
		values[k] = strndup(eq + 1, l.len - klen - 1);
		if (!values[k]) {
			set_err(err, err_size, "out of memory");
			r = -ENOMEM;
			goto fail;
		}
	}
	for (int k = 0; k < K_COUNT; k++) {
		if (k <= K_SHA256 && !values[k]) {
			set_err(err, err_size, "required key '%s' is missing", known_keys[k]);
			goto fail;
		}
	}
	if (strcmp(values[K_TARGET], expected_target) != 0) {
		set_err(err, err_size, "manifest is for target '%s', not '%s'", values[K_TARGET],
		        expected_target);
		goto fail;
	}
	if (!version_is_valid(values[K_VERSION])) {
		set_err(err, err_size, "version '%s' is not a valid version", values[K_VERSION]);
		goto fail;
	}
	if (!*values[K_URL]) {
		set_err(err, err_size, "url is empty");
		goto fail;
	}
	if (parse_u64(values[K_SIZE], &m.size) < 0) {
		set_err(err, err_size, "size '%s' is not a number of bytes", values[K_SIZE]);
		goto fail;
	}
	if (strlen(values[K_SHA256]) != 64 || !is_lower_hex(values[K_SHA256], 64)) {
		set_err(err, err_size, "sha256 must be 64 lowercase hex digits");
		goto fail;
	}
	if (values[K_EXPIRES]) {
		if (parse_rfc3339_utc(values[K_EXPIRES], &m.expires) < 0) {
			set_err(err, err_size, "expires '%s' is not of the form 2026-12-31T00:00:00Z",
			        values[K_EXPIRES]);
			goto fail;
		}
		if (m.expires < (int64_t)now) {
			set_err(err, err_size, "manifest expired at %s", values[K_EXPIRES]);
			r = -ESTALE;
			goto fail;
		}
	}
	if (values[K_ROLLOUT_START] && parse_rfc3339_utc(values[K_ROLLOUT_START], &m.rollout_start) < 0) {
		set_err(err, err_size, "rollout_start '%s' is not of the form 2026-12-31T00:00:00Z",
		        values[K_ROLLOUT_START]);
		goto fail;
	}
	if (values[K_ROLLOUT_DURATION]) {
		if (parse_duration(values[K_ROLLOUT_DURATION], &m.rollout_duration) < 0) {
			set_err(err, err_size, "rollout_duration '%s' is not a duration (seconds, or with s, m, h or d)",
			        values[K_ROLLOUT_DURATION]);
			goto fail;
		}
		if (!values[K_ROLLOUT_START]) {
			set_err(err, err_size, "rollout_duration needs rollout_start");
			goto fail;
		}
	}
	if (values[K_ROLLOUT_PERCENT]) {
		uint64_t pct;

		if (parse_u64(values[K_ROLLOUT_PERCENT], &pct) < 0 || pct > 100) {
			set_err(err, err_size, "rollout_percent '%s' is not a number from 0 to 100",
			        values[K_ROLLOUT_PERCENT]);
			goto fail;
		}
		m.rollout_percent = (int)pct;
	}
	memcpy(m.sha256_hex, values[K_SHA256], 65);
	for (int i = 0; i < 32; i++) {
		unsigned hi = (unsigned)(isdigit((unsigned char)m.sha256_hex[2 * i]) ? m.sha256_hex[2 * i] - '0' : m.sha256_hex[2 * i] - 'a' + 10);
		unsigned lo = (unsigned)(isdigit((unsigned char)m.sha256_hex[2 * i + 1]) ? m.sha256_hex[2 * i + 1] - '0' : m.sha256_hex[2 * i + 1] - 'a' + 10);
		m.sha256[i] = (uint8_t)(hi << 4 | lo);
	}
	m.target = values[K_TARGET];
	m.version = values[K_VERSION];
	m.url = values[K_URL];
	values[K_TARGET] = values[K_VERSION] = values[K_URL] = NULL;
	*ret = m;
	r = 0;
fail:
	if (r < 0) {
		for (size_t i = 0; i < m.n_deltas; i++)
			free(m.deltas[i].url);
		free(m.deltas);
	}
	for (int k = 0; k < K_COUNT; k++)
		free(values[k]);
	return r;
}

int manifest_load(const char *text, size_t len, const struct minisign_pubkey *keys, size_t n_keys,
                  const char *expected_target, time_t now, struct manifest *ret, char *err,
                  size_t err_size)
{
	size_t body_len;
	int r;

	if (n_keys > 0) {
		r = manifest_verify(text, len, keys, n_keys, &body_len, err, err_size);
		if (r < 0)
			return r;
	} else {
		/* Nothing to verify against: a signature, if any, is not part of the manifest. */
		body_len = find_signature(text, len);
	}
	r = manifest_parse(text, body_len, expected_target, now, ret, err, err_size);
	if (r == 0)
		ret->signed_by_key = n_keys > 0;
	return r;
}

/*
 * Debian version comparison (deb-version(7)): [epoch:]upstream[-revision].
 * Non-digit runs compare character by character where '~' sorts before
 * everything, even the end of the run, and letters sort before non-letters;
 * digit runs compare numerically.
 */
static int char_order(char c)
{
	if (c == '~')
		return -1;
	if (isdigit((unsigned char)c))
		return 0;
	if (!c)
		return 0;
	if (isalpha((unsigned char)c))
		return (unsigned char)c;
	return (unsigned char)c + 256;
}

static int compare_part(const char *a, const char *a_end, const char *b, const char *b_end)
{
	while (a < a_end || b < b_end) {
		int first_diff = 0;

		while ((a < a_end && !isdigit((unsigned char)*a)) ||
		       (b < b_end && !isdigit((unsigned char)*b))) {
			int ac = a < a_end ? char_order(*a) : 0;
			int bc = b < b_end ? char_order(*b) : 0;

			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		/* Numbers of any length: skip leading zeros, then longer is larger. */
		while (a < a_end && *a == '0')
			a++;
		while (b < b_end && *b == '0')
			b++;
		while (a < a_end && isdigit((unsigned char)*a) && b < b_end &&
		       isdigit((unsigned char)*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (a < a_end && isdigit((unsigned char)*a))
			return 1;
		if (b < b_end && isdigit((unsigned char)*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

struct split_version {
	unsigned long long epoch;
	const char *up, *up_end;
	const char *rev, *rev_end;
};

static void split(const char *v, struct split_version *s)
{
	const char *colon = strchr(v, ':');
	const char *dash;

	s->epoch = 0;
	if (colon) {
		s->epoch = strtoull(v, NULL, 10);
		v = colon + 1;
	}
	dash = strrchr(v, '-');
	s->up = v;
	if (dash) {
		s->up_end = dash;
		s->rev = dash + 1;
		s->rev_end = dash + 1 + strlen(dash + 1);
	} else {
		s->up_end = v + strlen(v);
		s->rev = s->rev_end = s->up_end;
	}
}

int version_compare(const char *a, const char *b)
{
	struct split_version sa, sb;
	int r;

	split(a, &sa);
	split(b, &sb);
	if (sa.epoch != sb.epoch)
		return sa.epoch < sb.epoch ? -1 : 1;
	r = compare_part(sa.up, sa.up_end, sb.up, sb.up_end);
	if (r)
		return r < 0 ? -1 : 1;
	r = compare_part(sa.rev, sa.rev_end, sb.rev, sb.rev_end);
	return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

bool version_is_valid(const char *text)
{
	const char *colon, *up, *dash;
	size_t len;

	if (!text || !*text)
		return false;
	len = strlen(text);
	if (len > 256)
		return false;
	colon = strchr(text, ':');
	up = text;
	if (colon) {
		if (colon == text)
			return false;
		for (const char *p = text; p < colon; p++)
			if (!isdigit((unsigned char)*p))
				return false;
		if (colon - text > 9)
			return false;
		up = colon + 1;
	}
	if (!isdigit((unsigned char)*up))
		return false;
	dash = strrchr(up, '-');
	for (const char *p = up; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (isalnum(c) || c == '.' || c == '+' || c == '~')
			continue;
		if (c == '-' && dash)
			continue;
		if (c == ':' && colon && p > up) /* dpkg allows ':' in upstream only with an epoch */
			continue;
		return false;
	}
	if (dash && dash[1] == '\0')
		return false;
	return true;
}
