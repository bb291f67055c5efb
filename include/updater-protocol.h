/*
 * updater-protocol.h - the wire format between updaterd and its clients
 * (SPEC section 4). Private: not installed; the daemon, libupdater,
 * updaterctl and updater-run include it, and no word of the protocol is
 * spelled anywhere else.
 *
 * The control socket is AF_UNIX SOCK_DGRAM on a path. One request is one
 * datagram of at most UPDATER_PROTO_REQUEST_MAX bytes, ASCII, no NUL, one
 * trailing newline tolerated:
 *
 *     any single byte, or "check"   check now -> "queued" | "running" | "deferred N"
 *     "status"                      -> one JSON object
 *     "rollback TARGET"             -> "ok VERSION" | "error REASON" (root only)
 *     "hold TARGET" / "unhold TARGET" -> "ok" | "error REASON" (root only)
 *     "metrics"                     -> Prometheus text (SPEC 16)
 *     "subscribe" / "unsubscribe"   -> "error subscriptions are connections to events.sock"
 *     "seed TARGET VERSION"         -> "ok VERSION" | "error REASON" (root only):
 *                                      the installed version, and the floor (SPEC 14)
 *
 * Every failure is answered "error REASON". A reply is one datagram of at
 * most UPDATER_PROTO_REPLY_MAX bytes, sent only to a sender whose socket has
 * an abstract address (autobind), from a reply socket of the daemon's own:
 * a client sends with sendto() (never connect()), and takes a datagram as
 * the reply only when its SCM_CREDENTIALS carry the daemon's uid (root, or
 * the owner of the control socket's file: updater_proto_reply_uid_ok()).
 *
 * The events socket is AF_UNIX SOCK_SEQPACKET, "events.sock" in the control
 * socket's directory (updater_proto_events_path()). A connection is a
 * subscription: every notification reaches it as one packet, until either
 * side closes it. A connection the daemon refuses (too many) gets one packet
 * "error REASON" and is closed. Notifications:
 *
 *     "updated TARGET VERSION"
 *     "rolledback TARGET VERSION REASON"
 *     "healthy TARGET VERSION"
 *     "checked ok SUMMARY" | "checked failed SUMMARY"
 *
 * A subscriber may send packets of at most UPDATER_PROTO_REQUEST_MAX bytes
 * on its connection, for requests tied to it:
 *
 *     "inhibit TARGET [WHY]"        -> "ok" | "error REASON"; no swap of TARGET
 *                                      ("*": of any target) starts until the
 *                                      connection closes (SPEC 16; root, or the
 *                                      owner of TARGET's file)
 *
 * Anything else is answered "error REASON".
 *
 * The words below end in a space where more follows them on the wire.
 */
#ifndef UPDATER_PROTOCOL_H
#define UPDATER_PROTOCOL_H

#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include "updater.h"

/* Where the daemon listens when neither the configuration nor UPDATER_SOCKET says. */
#define UPDATER_PROTO_SOCKET UPDATER_DEFAULT_SOCKET
/* The events socket's name, in the control socket's directory, and its default path. */
#define UPDATER_PROTO_EVENTS_NAME "events.sock"
#define UPDATER_PROTO_EVENTS_SOCKET "/run/updater/" UPDATER_PROTO_EVENTS_NAME
/* Socket activation's names (FileDescriptorName=) of the two sockets. */
#define UPDATER_PROTO_FDNAME_CONTROL "control"
#define UPDATER_PROTO_FDNAME_EVENTS "events"

/* Sizes. */
#define UPDATER_PROTO_REQUEST_MAX 256      /* bytes in one request */
#define UPDATER_PROTO_REPLY_MAX (256 * 1024) /* bytes in one reply (the status JSON) */
#define UPDATER_PROTO_NOTE_MAX 4096        /* bytes in one notification (a summary runs to 2 KiB) */
#define UPDATER_PROTO_EVENTS_MAX 1024      /* connections to the events socket */
#define UPDATER_PROTO_EVENTS_PER_UID 16    /* of them, per uid */
#define UPDATER_PROTO_TARGET_MAX 64        /* characters in a target name */

/* Requests. */
#define UPDATER_REQ_CHECK "check"
#define UPDATER_REQ_STATUS "status"
#define UPDATER_REQ_SUBSCRIBE "subscribe"
#define UPDATER_REQ_UNSUBSCRIBE "unsubscribe"
#define UPDATER_REQ_ROLLBACK "rollback" /* followed by " TARGET" */
#define UPDATER_REQ_HOLD "hold"         /* followed by " TARGET" */
#define UPDATER_REQ_UNHOLD "unhold"     /* followed by " TARGET" */
#define UPDATER_REQ_METRICS "metrics"
#define UPDATER_REQ_SEED "seed "        /* TARGET VERSION */
/* On an events connection: followed by " TARGET" (or " *") and optionally " WHY". */
#define UPDATER_REQ_INHIBIT "inhibit"
#define UPDATER_REQ_INHIBIT_ALL "*"
/* The byte libupdater sends for a check: any single byte is one. */
#define UPDATER_REQ_CHECK_BYTE "!"

/* Replies. */
#define UPDATER_REPLY_QUEUED "queued"
#define UPDATER_REPLY_RUNNING "running"
#define UPDATER_REPLY_DEFERRED "deferred " /* N seconds */
#define UPDATER_REPLY_OK "ok"
#define UPDATER_REPLY_OK_VALUE "ok "   /* VERSION */
#define UPDATER_REPLY_ERROR "error "   /* REASON */
/* The reason "subscribe" and "unsubscribe" datagrams get. */
#define UPDATER_ERROR_SUBSCRIBE_MOVED "subscriptions are connections to " UPDATER_PROTO_EVENTS_NAME

/* Notifications. */
#define UPDATER_NOTE_UPDATED "updated "        /* TARGET VERSION */
#define UPDATER_NOTE_ROLLEDBACK "rolledback "  /* TARGET VERSION REASON */
#define UPDATER_NOTE_HEALTHY "healthy "        /* TARGET VERSION */
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
	return updater_proto_is_change(s) || updater_proto_has_prefix(s, UPDATER_NOTE_HEALTHY) ||
	       updater_proto_has_prefix(s, UPDATER_NOTE_CHECKED);
}

/*
 * The events socket beside the control socket CONTROL: its directory and
 * UPDATER_PROTO_EVENTS_NAME, into BUF. False when it does not fit or
 * CONTROL has no directory part.
 */
static inline bool updater_proto_events_path(const char *control, char *buf, size_t size)
{
	const char *slash = strrchr(control, '/');
	size_t dir = slash ? (size_t)(slash - control) + 1 : 0;

	if (!slash || dir + sizeof(UPDATER_PROTO_EVENTS_NAME) > size)
		return false;
	memcpy(buf, control, dir);
	memcpy(buf + dir, UPDATER_PROTO_EVENTS_NAME, sizeof(UPDATER_PROTO_EVENTS_NAME));
	return true;
}

/*
 * Whether a reply's sender UID (from SCM_CREDENTIALS, or SO_PEERCRED of the
 * events socket) can be the daemon: root, or OWNER, the uid that owns the
 * control socket's file ((uid_t)-1 when unknown) for a daemon run by a user.
 */
static inline bool updater_proto_reply_uid_ok(uid_t uid, uid_t owner)
{
	return uid == 0 || (owner != (uid_t)-1 && uid == owner);
}

#endif
