/*
 * fuzz-events.c - what a subscriber may send on its events connection.
 *
 * Each input is classified by events_parse() as one packet (an inhibitor
 * request or a refusal with a reason), and then sent
 * for real: split at 0xff bytes into at most 16 packets on a SOCK_SEQPACKET
 * connection the events module adopted, which events_reap() reads and
 * answers; no owner grants inhibitors here, so every answer must be one
 * "error REASON" packet of printable
 * ASCII, at most one per packet sent, and the connection must survive
 * anything but an empty packet (which reads as the end of the connection).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "events.h"
#include "fuzz.h"

static void parse(const uint8_t *data, size_t size)
{
	size_t len = size > UPDATER_PROTO_REQUEST_MAX ? UPDATER_PROTO_REQUEST_MAX : size;
	struct events_request req;
	char err[128];
	int r = events_parse(data, len, size > len, &req, err, sizeof(err));

	/* An inhibitor request names a valid target (or every one) and a bounded reason. */
	if (r == 0) {
		if (req.kind != EVENTS_REQ_INHIBIT || !memchr(req.target, '\0', sizeof(req.target)) ||
		    !memchr(req.why, '\0', sizeof(req.why)) || strlen(req.target) > UPDATER_PROTO_TARGET_MAX)
			abort();
		for (const char *p = req.target; *p; p++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", *p))
				abort();
		return;
	}
	/* Anything else is refused, with a reason. */
	if (r != -EINVAL || memchr(err, '\0', sizeof(err)) == NULL || !err[0])
		abort();
}

static void converse(const uint8_t *data, size_t size)
{
	struct events ev = { .fd = -1, .epfd = -1 };
	char reply[512];
	int sv[2], packets = 0, replies = 0;
	bool empty = false;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return;
	for (size_t start = 0; start <= size && packets < 16;) {
		const uint8_t *end = memchr(data + start, 0xff, size - start);
		size_t len = (end ? (size_t)(end - data) : size) - start;

		if (send(sv[1], data + start, len, MSG_DONTWAIT) < 0)
			break;
		empty |= len == 0;
		packets++;
		start += len + 1;
	}
	if (events_adopt(&ev, sv[0]) != 0)
		abort();
	(void)events_reap(&ev);
	if (ev.n != (empty ? 0u : 1u))
		abort();
	while ((n = recv(sv[1], reply, sizeof(reply), MSG_DONTWAIT)) > 0) {
		if ((size_t)n < strlen(UPDATER_REPLY_ERROR) + 1 ||
		    memcmp(reply, UPDATER_REPLY_ERROR, strlen(UPDATER_REPLY_ERROR)) != 0)
			abort();
		for (ssize_t i = 0; i < n; i++)
			if (reply[i] < 0x20 || reply[i] > 0x7e)
				abort();
		replies++;
	}
	if (replies > packets)
		abort();
	events_close(&ev, true);
	(void)close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16 * (UPDATER_PROTO_REQUEST_MAX + 2))
		return 0;
	parse(data, size);
	converse(data, size);
	return 0;
}
