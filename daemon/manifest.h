/*
 * manifest.h - parse and verify update manifests (SPEC section 7).
 *
 * A manifest is UTF-8 "key=value" lines, at most MANIFEST_MAX bytes. In its
 * signed form the manifest lines are followed by the four lines of a minisign
 * signature over exactly those bytes:
 *
 *     untrusted comment: ...
 *     <base64: "ED" || key id (8) || Ed25519(BLAKE2b-512(manifest)) (64)>
 *     trusted comment: ...
 *     <base64: Ed25519(signature (64) || trusted comment text)>
 *
 * manifest_load() verifies the signature before it parses anything: with keys
 * configured, a missing signature, a legacy "Ed" (non-prehashed) signature, an
 * unknown key id, a bad signature or a bad global signature rejects the text.
 * What `minisign -Vm` accepts is accepted, and nothing else.
 *
 * Functions here have no side effects and never log; they describe what was
 * wrong in the caller's ERR buffer (one sentence, no trailing newline).
 */
#ifndef UPDATER_MANIFEST_H
#define UPDATER_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MANIFEST_MAX (64 * 1024)
#define MINISIGN_KEYID_BYTES 8
#define MINISIGN_PK_BYTES 32

struct minisign_pubkey {
	uint8_t id[MINISIGN_KEYID_BYTES];
	uint8_t pk[MINISIGN_PK_BYTES];
};

/* At most this many delta- keys in one manifest. */
#define MANIFEST_DELTAS_MAX 64

/*
 * delta-BASESHA256=URL SIZE SHA256 (SPEC 17): the file can also be made from
 * the file whose sha256 is BASE, with the zstd patch at URL (SIZE bytes,
 * SHA256). The daemon checks the result as it checks any download.
 */
struct manifest_delta {
	char base_hex[65];
	char *url;
	uint64_t size;
	char sha256_hex[65];
};

struct manifest {
	char *target;
	char *version;
	char *url;
	uint64_t size;
	uint8_t sha256[32];
	char sha256_hex[65]; /* 64 lowercase hex digits */
	int64_t expires;     /* Unix seconds; -1 when absent */
	/* Fleet pacing (SPEC 16), signed like the rest. */
	int64_t rollout_start;    /* Unix seconds; -1 when absent */
	int64_t rollout_duration; /* seconds; 0 when absent */
	int rollout_percent;      /* 0-100; 100 when absent */
	bool signed_by_key;  /* a trusted key verified it */
	struct manifest_delta *deltas;
	size_t n_deltas;
};

/* The delta that applies to a file with sha256 BASE_HEX, or NULL. */
const struct manifest_delta *manifest_find_delta(const struct manifest *m, const char *base_hex);

/*
 * Decode the base64 line of a minisign .pub file (or the whole .pub file
 * text, comment line included). Returns 0 or -EINVAL.
 */
int minisign_pubkey_parse(const char *text, struct minisign_pubkey *ret_key);

/*
 * Split TEXT into manifest body and signature, verify the signature against
 * KEYS (skipped when n_keys is 0: an unsigned manifest is then accepted and a
 * signature is ignored), then parse the body strictly: required keys target,
 * version, url, size, sha256; no repeated key; size a decimal number; sha256
 * 64 lowercase hex; target equal to EXPECTED_TARGET; expires (RFC 3339 UTC,
 * "2026-12-31T00:00:00Z") not before NOW; rollout_start (the same form),
 * rollout_duration (seconds, or a number with s, m, h or d; only with
 * rollout_start) and rollout_percent (0-100); each delta-BASE key (BASE 64
 * lowercase hex, at most MANIFEST_DELTAS_MAX) with the value "URL SIZE
 * SHA256". Unknown keys are ignored.
 *
 * Returns 0 and fills *ret (free with manifest_clear), or -EINVAL (bad
 * content), -EBADMSG (signature problem), -ESTALE (expired), -ENOMEM; on
 * failure *ret is untouched and ERR says why.
 */
int manifest_load(const char *text, size_t len, const struct minisign_pubkey *keys, size_t n_keys,
                  const char *expected_target, time_t now, struct manifest *ret, char *err,
                  size_t err_size);

/* Only the signature step: 0 when valid. *ret_body_len is the signed part. */
int manifest_verify(const char *text, size_t len, const struct minisign_pubkey *keys, size_t n_keys,
                    size_t *ret_body_len, char *err, size_t err_size);

/* Only the parse step, on an unsigned body. */
int manifest_parse(const char *body, size_t len, const char *expected_target, time_t now,
                   struct manifest *ret, char *err, size_t err_size);

void manifest_clear(struct manifest *m);

/*
 * Compare two version strings by Debian's rules (epoch:upstream-revision,
 * '~' sorts before everything, letters before non-letters), giving the same
 * answers as `dpkg --compare-versions`. Returns <0, 0 or >0.
 */
int version_compare(const char *a, const char *b);
/* True when TEXT is a version dpkg would accept (non-empty, starts with a digit after the epoch, allowed characters). */
bool version_is_valid(const char *text);

#endif
