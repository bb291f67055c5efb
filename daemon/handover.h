/*
 * handover.h - what one image of updaterd hands the next when it updates
 * itself (SPEC section 8): counters, the pending request, the schedule, the
 * socket file to remove at stop, the last result and the subscribers.
 *
 * The control socket itself crosses the exec as a descriptor (libupdater's
 * updater_keep_fd); everything else travels as text in a memfd, because the
 * new image may be another version and no struct is shared. The format,
 * version 1, is one item a line, unknown lines ignored (so either side may
 * be newer):
 *
 *     updaterd-handover 1          first line, exactly
 *     counters RECEIVED COALESCED REJECTED
 *     pending 0|1                  a check request is waiting
 *     last_start_ago MS            the last check started MS ago (boot clock)
 *     socket DEV INO HEXPATH       the socket file we created, to remove at stop
 *     last_result HEXTEXT          at most HANDOVER_TEXT_MAX bytes of text
 *     subscriber UID HEXADDR       one per subscriber (a sockaddr_un)
 *
 * At most HANDOVER_MAX bytes are read; a line that does not parse is
 * skipped, never trusted in part. Nothing here logs.
 */
#ifndef UPDATER_HANDOVER_H
#define UPDATER_HANDOVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "notify.h"

#define HANDOVER_MAX (1024 * 1024)
#define HANDOVER_TEXT_MAX 4096
#define HANDOVER_MAGIC "updaterd-handover 1\n"

struct handover {
	uint64_t received, coalesced, rejected;
	bool pending;
	bool has_last_start;
	int64_t last_start_ago_ms;
	char *socket_path; /* NULL: none */
	dev_t socket_dev;
	ino_t socket_ino;
	char *last_result; /* NULL: none */
	struct subscribers subs;
};

/*
 * Write H into the memfd FD, replacing what it held (the memfd is made
 * once and rewritten before every attempt, so a failed re-exec leaves
 * nothing stale behind). Returns 0 or a negative errno.
 */
int handover_write(int fd, const struct handover *h);

/*
 * Parse LEN bytes of the format above into *RET (zeroed first). Returns 0,
 * or -EINVAL when the first line is not HANDOVER_MAGIC, or -ENOMEM. On
 * success the caller owns *RET (handover_clear).
 */
int handover_parse(const char *buf, size_t len, struct handover *ret);

/* Read at most HANDOVER_MAX bytes of FD from its start and parse them. */
int handover_read(int fd, struct handover *ret);

void handover_clear(struct handover *h);

#endif
