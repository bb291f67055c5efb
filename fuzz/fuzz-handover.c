/*
 * fuzz-handover.c - handover_parse() on what a previous image left in the
 * memfd (a newer or older version, or a corrupted one).
 *
 * Whatever parses must survive a round trip: written again with
 * handover_write() and parsed back, it is the same hand-over. The input is
 * tried as it is and behind the magic line, so the fuzzer need not find it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "handover.h"

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void round_trip(const struct handover *h)
{
	int fd = memfd_create("fuzz-handover", MFD_CLOEXEC);
	struct handover back;

	if (fd < 0)
		return;
	if (handover_write(fd, h) < 0 || handover_read(fd, &back) < 0)
		abort();
	(void)close(fd);
	if (back.received != h->received || back.coalesced != h->coalesced || back.rejected != h->rejected ||
	    back.pending != h->pending || back.has_last_start != h->has_last_start ||
	    (h->has_last_start && back.last_start_ago_ms != h->last_start_ago_ms) ||
	    !same_text(back.socket_path, h->socket_path) || !same_text(back.last_result, h->last_result) ||
	    !same_text(back.events_path, h->events_path) ||
	    (h->socket_path && (back.socket_dev != h->socket_dev || back.socket_ino != h->socket_ino)) ||
	    (h->events_path && (back.events_dev != h->events_dev || back.events_ino != h->events_ino)))
		abort();
	handover_clear(&back);
}

static void parse(const char *buf, size_t len)
{
	struct handover h;
	int r = handover_parse(buf, len, &h);

	if (r == -EINVAL || r == -ENOMEM)
		return;
	if (r != 0 || (h.last_result && strlen(h.last_result) > HANDOVER_TEXT_MAX) ||
	    (h.socket_path && (!*h.socket_path || strlen(h.socket_path) >= PATH_MAX)) ||
	    (h.events_path && (!*h.events_path || strlen(h.events_path) >= PATH_MAX)))
		abort();
	round_trip(&h);
	handover_clear(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t magic = sizeof(HANDOVER_MAGIC) - 1;
	char *buf;

	if (size > HANDOVER_MAX)
		return 0;
	parse((const char *)data, size);
	buf = malloc(magic + size);
	if (!buf)
		return 0;
	memcpy(buf, HANDOVER_MAGIC, magic);
	memcpy(buf + magic, data, size);
	parse(buf, magic + size);
	free(buf);
	return 0;
}
