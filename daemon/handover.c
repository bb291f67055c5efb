/* handover.c - see handover.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "handover.h"
#include "util.h"

static void write_path(FILE *f, const char *key, const char *path, dev_t dev, ino_t ino)
{
	char hex[2 * PATH_MAX + 1];

	if (!path || strlen(path) >= PATH_MAX)
		return;
	hex_encode((const uint8_t *)path, strlen(path), hex);
	(void)fprintf(f, "%s %ju %ju %s\n", key, (uintmax_t)dev, (uintmax_t)ino, hex);
}

int handover_write(int fd, const struct handover *h)
{
	FILE *f;
	int copy, r;

	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	f = copy >= 0 ? fdopen(copy, "w") : NULL;
	if (!f) {
		r = -errno;
		if (copy >= 0)
			(void)close(copy);
		return r;
	}
	(void)fprintf(f, HANDOVER_MAGIC "counters %" PRIu64 " %" PRIu64 " %" PRIu64 "\npending %d\n",
	              h->received, h->coalesced, h->rejected, h->pending ? 1 : 0);
	if (h->has_last_start)
		(void)fprintf(f, "last_start_ago %" PRId64 "\n", h->last_start_ago_ms);
	write_path(f, "socket", h->socket_path, h->socket_dev, h->socket_ino);
	write_path(f, "events", h->events_path, h->events_dev, h->events_ino);
	if (h->last_result && strlen(h->last_result) <= HANDOVER_TEXT_MAX) {
		char hex[2 * HANDOVER_TEXT_MAX + 1];

		hex_encode((const uint8_t *)h->last_result, strlen(h->last_result), hex);
		(void)fprintf(f, "last_result %s\n", hex);
	}
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

/* HEX (2n digits) -> n bytes in OUT (at most SIZE). Returns n, or -1. */
static ssize_t hex_decode(const char *hex, uint8_t *out, size_t size)
{
	size_t len = strlen(hex), n = len / 2;

	if (len % 2 || n > size)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
		    sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (ssize_t)n;
}

/* A "socket"/"events" path: taken only when it decodes whole. -ENOMEM only. */
static int parse_path(const char *hex, uintmax_t dev, uintmax_t ino, char **ret_path, dev_t *ret_dev,
                      ino_t *ret_ino)
{
	uint8_t path[PATH_MAX];
	ssize_t n = hex_decode(hex, path, sizeof(path) - 1);
	char *copy;

	if (n <= 0 || memchr(path, '\0', (size_t)n))
		return 0;
	path[n] = '\0';
	copy = strdup((const char *)path);
	if (!copy)
		return -ENOMEM;
	free(*ret_path);
	*ret_path = copy;
	*ret_dev = (dev_t)dev;
	*ret_ino = (ino_t)ino;
	return 0;
}

/* One line; a line that does not parse whole is skipped. -ENOMEM only. */
static int parse_line(struct handover *h, const char *line)
{
	char hex[2 * HANDOVER_TEXT_MAX + 8];
	uint64_t a, b, c;
	uintmax_t dev, ino;
	int64_t ago;
	int pending, end = -1;

	if (strlen(line) >= sizeof(hex))
		return 0;
	if (sscanf(line, "counters %" SCNu64 " %" SCNu64 " %" SCNu64 "%n", &a, &b, &c, &end) == 3 &&
	    line[end] == '\0') {
		h->received = a;
		h->coalesced = b;
		h->rejected = c;
	} else if (sscanf(line, "pending %d%n", &pending, &end) == 1 && line[end] == '\0') {
		h->pending = pending != 0;
	} else if (sscanf(line, "last_start_ago %" SCNd64 "%n", &ago, &end) == 1 && line[end] == '\0') {
		if (ago >= 0) {
			h->has_last_start = true;
			h->last_start_ago_ms = ago;
		}
	} else if (sscanf(line, "socket %ju %ju %8199s", &dev, &ino, hex) == 3) {
		return parse_path(hex, dev, ino, &h->socket_path, &h->socket_dev, &h->socket_ino);
	} else if (sscanf(line, "events %ju %ju %8199s", &dev, &ino, hex) == 3) {
		return parse_path(hex, dev, ino, &h->events_path, &h->events_dev, &h->events_ino);
	} else if (sscanf(line, "last_result %8199s", hex) == 1) {
		uint8_t text[HANDOVER_TEXT_MAX + 1];
		ssize_t n = hex_decode(hex, text, sizeof(text) - 1);

		if (n >= 0 && !memchr(text, '\0', (size_t)n)) {
			text[n] = '\0';
			free(h->last_result);
			h->last_result = strdup((const char *)text);
			if (!h->last_result)
				return -ENOMEM;
		}
	}
	return 0;
}

int handover_parse(const char *buf, size_t len, struct handover *ret)
{
	const size_t magic = sizeof(HANDOVER_MAGIC) - 1;
	char line[2 * HANDOVER_TEXT_MAX + 64];
	struct handover h = { 0 };
	size_t pos;

	if (len < magic || memcmp(buf, HANDOVER_MAGIC, magic) != 0)
		return -EINVAL;
	for (pos = magic; pos < len;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - buf) : len) - pos;
		int r;

		/* Longer lines than any we write are skipped, as are lines with a NUL. */
		if (n < sizeof(line) && !memchr(buf + pos, '\0', n)) {
			memcpy(line, buf + pos, n);
			line[n] = '\0';
			r = parse_line(&h, line);
			if (r < 0) {
				handover_clear(&h);
				return r;
			}
		}
		pos += n + 1;
	}
	*ret = h;
	return 0;
}

int handover_read(int fd, struct handover *ret)
{
	char *buf = malloc(HANDOVER_MAX);
	size_t len = 0;
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	while (len < HANDOVER_MAX) {
		n = read(fd, buf + len, HANDOVER_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = handover_parse(buf, len, ret);
	free(buf);
	return r;
}

void handover_clear(struct handover *h)
{
	free(h->socket_path);
	free(h->events_path);
	free(h->last_result);
	*h = (struct handover){ 0 };
}
