/*
 * updater-protocol.h - the wire format between updaterd and its clients
 * (SPEC section 4). Private: not installed; the daemon, libupdater,
 * updaterctl and updater-run include it, and no word of the protocol is
 * spelled anywhere else.
 *
 * The control socket is AF_UNIX SOCK_DGRAM. One request is one datagram of
 * at most UPDATER_PROTO_REQUEST_MAX bytes, ASCII, no NUL, one trailing
 * newline tolerated:
 *
 *     any single byte, or "check"   check now -> "queued" | "running" | "deferred N"
 *     "status"                      -> one JSON object
 *     "subscribe" / "unsubscribe"   -> "ok" | "error REASON"
 *     "rollback TARGET"             -> "ok VERSION" | "error REASON" (root only)
 *     "hold TARGET" / "unhold TARGET" -> "ok" | "error REASON" (root only)
 *     "metrics"                     -> Prometheus text (SPEC 16)
 *
 * Every failure is answered "error REASON". A reply is one datagram of at
 * most UPDATER_PROTO_REPLY_MAX bytes.
 *
 * Notifications, one datagram each, to every subscriber:
 *
 *     "updated TARGET VERSION"
 *     "rolledback TARGET VERSION REASON"
 *     "checked ok SUMMARY" | "checked failed SUMMARY"
 *
 * The words below end in a space where more follows them on the wire.
 */
#ifndef UPDATER_PROTOCOL_H
#define UPDATER_PROTOCOL_H

#include <stdbool.h>
#include <string.h>

#include "updater.h"

/* Where the daemon listens when neither the configuration nor UPDATER_SOCKET says. */
#define UPDATER_PROTO_SOCKET UPDATER_DEFAULT_SOCKET

/* Sizes. */
#define UPDATER_PROTO_REQUEST_MAX 256      /* bytes in one request */
#define UPDATER_PROTO_REPLY_MAX (256 * 1024) /* bytes in one reply (the status JSON) */
#define UPDATER_PROTO_NOTE_MAX 512         /* bytes in one notification */

/* Requests. */
#define UPDATER_REQ_CHECK "check"
#define UPDATER_REQ_STATUS "status"
#define UPDATER_REQ_SUBSCRIBE "subscribe"
#define UPDATER_REQ_UNSUBSCRIBE "unsubscribe"
#define UPDATER_REQ_ROLLBACK "rollback" /* followed by " TARGET" */
#define UPDATER_REQ_HOLD "hold"         /* followed by " TARGET" */
#define UPDATER_REQ_UNHOLD "unhold"     /* followed by " TARGET" */
#define UPDATER_REQ_METRICS "metrics"
/* The byte libupdater sends for a check: any single byte is one. */
#define UPDATER_REQ_CHECK_BYTE "!"

/* Replies. */
#define UPDATER_REPLY_QUEUED "queued"
#define UPDATER_REPLY_RUNNING "running"
#define UPDATER_REPLY_DEFERRED "deferred " /* N seconds */
#define UPDATER_REPLY_OK "ok"
#define UPDATER_REPLY_OK_VALUE "ok "   /* VERSION */
#define UPDATER_REPLY_ERROR "error "   /* REASON */

/* Notifications. */
#define UPDATER_NOTE_UPDATED "updated "        /* TARGET VERSION */
#define UPDATER_NOTE_ROLLEDBACK "rolledback "  /* TARGET VERSION REASON */
#define UPDATER_NOTE_CHECKED "checked "        /* ok|failed SUMMARY */
#define UPDATER_NOTE_CHECKED_OK "checked ok"
#define UPDATER_NOTE_CHECKED_FAILED "checked failed"

/* Reasons of a rollback. */
#define UPDATER_ROLLBACK_MANUAL "manual"
#define UPDATER_ROLLBACK_HEALTH "health"

/* True when S starts with PREFIX. */
static inline bool updater_proto_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* True for a notification that a target's file changed (updated or rolled back). */
static inline bool updater_proto_is_change(const char *note)
{
	return updater_proto_has_prefix(note, UPDATER_NOTE_UPDATED) ||
	       updater_proto_has_prefix(note, UPDATER_NOTE_ROLLEDBACK);
}

/* True for any notification (as opposed to a reply). */
static inline bool updater_proto_is_note(const char *s)
{
	return updater_proto_is_change(s) || updater_proto_has_prefix(s, UPDATER_NOTE_CHECKED);
}

#endif
