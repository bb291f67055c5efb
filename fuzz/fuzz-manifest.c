/*
 * fuzz-manifest.c - manifest_load() and the version functions on arbitrary
 * bytes, as a check script's output would reach them.
 *
 * Each input is loaded twice: without keys (the signature, if any, is split
 * off and ignored) and with one trusted key, so the signature-splitting and
 * decoding code sees it too. Few mutations keep a real signature valid; the
 * corpus holds one that does, for the path past verification. The input's
 * two halves are then compared as versions.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "manifest.h"

/* The public half of a key pair made for the corpus (minisign -G -W); its secret key is not kept here. */
#define FUZZ_PUBKEY "RWSzn4DuH2NObTtdmoOVaeP25mqAbCjGFTwMsEdh+SLfuu0QdTcanJDC"
#define FUZZ_TARGET "hello"
/* A fixed "now", 2026-01-01T00:00:00Z, so an input's verdict never changes with the date. */
#define FUZZ_NOW ((time_t)1767225600)

static void load(const uint8_t *data, size_t size, const struct minisign_pubkey *keys, size_t n_keys)
{
	struct manifest m;
	char err[256];
	int r;

	r = manifest_load((const char *)data, size, keys, n_keys, FUZZ_TARGET, FUZZ_NOW, &m, err, sizeof(err));
	if (r < 0) {
		/* Every failure must say why, as one bounded string. */
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			abort();
		return;
	}
	if (strcmp(m.target, FUZZ_TARGET) != 0 || !version_is_valid(m.version) || !m.url[0] ||
	    strlen(m.sha256_hex) != 64 || m.signed_by_key != (n_keys > 0))
		abort();
	if (m.expires >= 0 && m.expires < (int64_t)FUZZ_NOW)
		abort();
	manifest_clear(&m);
}

static int sign_of(int v)
{
	return (v > 0) - (v < 0);
}

static void versions(const uint8_t *data, size_t size)
{
	size_t half = size / 2;
	char *a = strndup((const char *)data, half);
	char *b = strndup((const char *)data + half, size - half);
	int ab, ba;

	if (!a || !b)
		goto out;
	/* An order is only promised between valid versions, but no input may crash the comparison. */
	ab = version_compare(a, b);
	ba = version_compare(b, a);
	if (version_is_valid(a) && version_is_valid(b) && sign_of(ab) != -sign_of(ba))
		abort();
	if (version_is_valid(a) && version_compare(a, a) != 0)
		abort();
out:
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct minisign_pubkey key;
	static bool have_key;

	if (!have_key) {
		if (minisign_pubkey_parse(FUZZ_PUBKEY, &key) < 0)
			abort();
		have_key = true;
	}
	load(data, size, NULL, 0);
	load(data, size, &key, 1);
	versions(data, size);
	return 0;
}
