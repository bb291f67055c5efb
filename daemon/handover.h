/*
 * handover.h - what one image of updaterd hands the next when it updates
 * itself (SPEC section 8): counters, the pending request, the schedule, the
 * socket files to remove at stop and the last result.
 *
 * The sockets cross the exec as descriptors (libupdater's updater_keep_fd):
 * the control socket ("control"), the events socket ("events") and every
 * subscriber's connection ("subscriber", one each; who it is, is read again
 * with SO_PEERCRED). Everything else travels as text in a memfd
 * ("handover"), because the new image may be another version and no struct
 * is shared. The format, version 1, is one item a line, unknown lines
 * ignored (so either side may be newer; version 1 images also wrote
 * "subscriber UID HEXADDR" lines for datagram subscribers, which are gone):
 *
 *     updaterd-handover 1          first line, exactly
 *     counters RECEIVED COALESCED REJECTED
 *     pending 0|1                  a check request is waiting
 *     last_start_ago MS            the last check started MS ago (boot clock)
 *     socket DEV INO HEXPATH       the control socket file we created, to remove at stop
 *     events DEV INO HEXPATH       the events socket file we created, likewise
 *     last_result HEXTEXT          at most HANDOVER_TEXT_MAX bytes of text
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
	char *events_path; /* NULL: none */
	dev_t events_dev;
	ino_t events_ino;
	char *last_result; /* NULL: none */
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
