/*
 * fuzz-control.c - control_parse() and control_sanitize() on datagrams.
 *
 * The daemon receives at most CONTROL_REQUEST_MAX bytes of a datagram and
 * learns from MSG_TRUNC whether there was more; an input is treated the same
 * way. Each input is also parsed with the truncated flag set, which must
 * always be refused, so both values of the flag are exercised on every input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "fuzz.h"

static bool is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

static void parse(const uint8_t *data, size_t size)
{
	size_t len = size > CONTROL_REQUEST_MAX ? CONTROL_REQUEST_MAX : size;
	bool truncated = size > CONTROL_REQUEST_MAX;
	struct control_request req;
	char err[128];
	int r;

	r = control_parse(data, len, truncated, &req, err, sizeof(err));
	if (r < 0) {
		if (r != -EINVAL || memchr(err, '\0', sizeof(err)) == NULL || !err[0])
			abort();
	} else if (r != 0 || truncated || len == 0) {
		abort();
	} else if (req.command == CONTROL_ROLLBACK) {
		size_t n = strnlen(req.target, sizeof(req.target));

		if (n == 0 || n > CONFIG_NAME_MAX)
			abort();
		for (size_t i = 0; i < n; i++)
			if (!is_name_char(req.target[i]))
				abort();
	}
	if (control_parse(data, len, true, &req, err, sizeof(err)) != -EINVAL)
		abort();
}

/* The daemon sanitizes NUL-terminated text (names, errors, versions) into small buffers. */
static void sanitize(const uint8_t *data, size_t size)
{
	char out[17];
	size_t want = size > 0 ? data[0] % (sizeof(out) + 1) : 0;
	char *text = strndup((const char *)data, size);
	size_t n;

	if (!text)
		return;
	memset(out, 'X', sizeof(out));
	control_sanitize(text, out, want);
	if (want > 0) {
		n = strnlen(out, want);
		if (n == want || n > strlen(text))
			abort();
		for (size_t i = 0; i < n; i++)
			if (out[i] < 0x20 || out[i] > 0x7e)
				abort();
	}
	/* Nothing past the buffer it was given. */
	for (size_t i = want; i < sizeof(out); i++)
		if (out[i] != 'X')
			abort();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse(data, size);
	sanitize(data, size);
	return 0;
}
