/* status.c - see status.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

/* A growing string for a rendering. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_reserve(struct sbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom || b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 512;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/*
 * Decode one UTF-8 sequence at S (N bytes left). Returns its length and the
 * code point, or 0 when it is not valid UTF-8 (overlong forms, surrogates
 * and values past U+10FFFF included).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	uint32_t cp, min;
	size_t len;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return len;
}

static void sb_json_string(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	sb_add(b, "\"", 1);
	while (n > 0) {
		uint32_t cp;
		size_t len = utf8_decode(p, n, &cp);

		if (len == 0) {
			cp = 0xfffd; /* not UTF-8: say so rather than emit invalid JSON */
			len = 1;
		}
		if (cp == '"') {
			sb_add(b, "\\\"", 2);
		} else if (cp == '\\') {
			sb_add(b, "\\\\", 2);
		} else if (cp == '\n') {
			sb_add(b, "\\n", 2);
		} else if (cp == '\t') {
			sb_add(b, "\\t", 2);
		} else if (cp == '\r') {
			sb_add(b, "\\r", 2);
		} else if (cp >= 0x20 && cp < 0x7f) {
			char c = (char)cp;

			sb_add(b, &c, 1);
		} else if (cp < 0x10000) {
			sb_printf(b, "\\u%04" PRIx32, cp);
		} else {
			cp -= 0x10000;
			sb_printf(b, "\\u%04" PRIx32 "\\u%04" PRIx32, 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
		}
		p += len;
		n -= len;
	}
	sb_add(b, "\"", 1);
}

static void sb_json_string_or_null(struct sbuf *b, const char *s)
{
	if (s)
		sb_json_string(b, s);
	else
		sb_puts(b, "null");
}

static void sb_json_time(struct sbuf *b, int64_t t)
{
	if (t < 0)
		sb_puts(b, "null");
	else
		sb_printf(b, "%" PRId64, t);
}

int status_render_json(const struct status_view *st, char **ret_json, size_t *ret_len)
{
	struct sbuf b = { 0 };

	sb_puts(&b, "{\"version\":");
	sb_json_string_or_null(&b, st->version);
	sb_puts(&b, ",\"state\":");
	sb_json_string_or_null(&b, st->state);
	sb_puts(&b, ",\"last_check\":");
	sb_json_time(&b, st->last_check);
	sb_puts(&b, ",\"last_result\":");
	sb_json_string_or_null(&b, st->last_result);
	sb_puts(&b, ",\"next_check\":");
	sb_json_time(&b, st->next_check);
	sb_printf(&b, ",\"requests\":{\"received\":%" PRIu64 ",\"coalesced\":%" PRIu64 ",\"rejected\":%" PRIu64 "}",
	          st->received, st->coalesced, st->rejected);
	sb_puts(&b, ",\"targets\":[");
	for (size_t i = 0; i < st->n_targets; i++) {
		const struct status_target *t = &st->targets[i];

		sb_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		sb_json_string_or_null(&b, t->name);
		sb_puts(&b, ",\"path\":");
		sb_json_string_or_null(&b, t->path);
		sb_puts(&b, ",\"version\":");
		sb_json_string_or_null(&b, t->version);
		sb_puts(&b, ",\"sha256\":");
		sb_json_string_or_null(&b, t->sha256 && *t->sha256 ? t->sha256 : NULL);
		sb_puts(&b, ",\"updated_at\":");
		sb_json_time(&b, t->updated_at);
		sb_puts(&b, t->held ? ",\"held\":true" : ",\"held\":false");
		sb_puts(&b, ",\"pending\":");
		if (t->pending_version) {
			sb_puts(&b, "{\"version\":");
			sb_json_string(&b, t->pending_version);
			sb_puts(&b, ",\"at\":");
			sb_json_time(&b, t->pending_at);
			sb_puts(&b, ",\"why\":");
			sb_json_string_or_null(&b, t->pending_why);
			sb_puts(&b, "}");
		} else {
			sb_puts(&b, "null");
		}
		sb_puts(&b, ",\"last_error\":");
		sb_json_string_or_null(&b, t->last_error);
		sb_puts(&b, ",\"probation_until\":");
		sb_json_time(&b, t->probation_until > 0 ? t->probation_until : -1);
		sb_puts(&b, ",\"quarantined\":");
		sb_json_string_or_null(&b, t->quarantined);
		sb_puts(&b, ",\"stale\":[");
		for (size_t j = 0; j < t->n_stale_procs; j++) {
			sb_printf(&b, "%s{\"pid\":%d,\"comm\":", j ? "," : "", (int)t->stale_procs[j].pid);
			sb_json_string(&b, t->stale_procs[j].comm);
			sb_puts(&b, "}");
		}
		sb_puts(&b, "]}");
	}
	sb_puts(&b, "]}");
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*ret_json = b.p;
	*ret_len = b.len;
	return 0;
}

/* A label value: backslash, double quote and newline escaped, as the text format wants. */
static void sb_label(struct sbuf *b, const char *name, const char *value)
{
	sb_puts(b, name);
	sb_puts(b, "=\"");
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\')
			sb_puts(b, "\\\\");
		else if (*p == '"')
			sb_puts(b, "\\\"");
		else if (*p == '\n')
			sb_puts(b, "\\n");
		else
			sb_add(b, p, 1);
	}
	sb_puts(b, "\"");
}

static void sb_family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_puts(b, "# HELP ");
	sb_puts(b, name);
	sb_puts(b, " ");
	sb_puts(b, help);
	sb_puts(b, "\n# TYPE ");
	sb_puts(b, name);
	sb_puts(b, " ");
	sb_puts(b, type);
	sb_puts(b, "\n");
}

/* NAME{target="T"} VALUE */
static void sb_target_sample(struct sbuf *b, const char *name, const struct status_target *t, uint64_t value)
{
	sb_puts(b, name);
	sb_puts(b, "{");
	sb_label(b, "target", t->name);
	sb_printf(b, "} %" PRIu64 "\n", value);
}

int status_render_metrics(const struct status_view *st, char **ret_text, size_t *ret_len)
{
	struct sbuf b = { 0 };
	uint64_t accepted = st->received - (st->coalesced + st->rejected > st->received
	                                        ? st->received : st->coalesced + st->rejected);

	sb_family(&b, "updater_target_info", "gauge", "The version installed of each target (empty: unknown).");
	for (size_t i = 0; i < st->n_targets; i++) {
		sb_puts(&b, "updater_target_info{");
		sb_label(&b, "target", st->targets[i].name);
		sb_puts(&b, ",");
		sb_label(&b, "version", st->targets[i].version);
		sb_puts(&b, "} 1\n");
	}
	sb_family(&b, "updater_last_check_timestamp_seconds", "gauge", "When the last check round ended.");
	if (st->last_check >= 0)
		sb_printf(&b, "updater_last_check_timestamp_seconds %" PRId64 "\n", st->last_check);
	sb_family(&b, "updater_last_success_timestamp_seconds", "gauge",
	          "When the last check of a target ended without failure.");
	for (size_t i = 0; i < st->n_targets; i++)
		if (st->targets[i].last_success >= 0)
			sb_target_sample(&b, "updater_last_success_timestamp_seconds", &st->targets[i],
			                 (uint64_t)st->targets[i].last_success);
	sb_family(&b, "updater_updates_total", "counter", "Updates installed.");
	for (size_t i = 0; i < st->n_targets; i++)
		sb_target_sample(&b, "updater_updates_total", &st->targets[i], st->targets[i].updates);
	sb_family(&b, "updater_rollbacks_total", "counter", "Rollbacks, by reason (manual or health).");
	for (size_t i = 0; i < st->n_targets; i++) {
		for (int h = 0; h < 2; h++) {
			sb_puts(&b, "updater_rollbacks_total{");
			sb_label(&b, "target", st->targets[i].name);
			sb_puts(&b, ",");
			sb_label(&b, "reason", h ? "health" : "manual");
			sb_printf(&b, "} %" PRIu64 "\n",
			          h ? st->targets[i].rollbacks_health : st->targets[i].rollbacks_manual);
		}
	}
	sb_family(&b, "updater_check_failures_total", "counter",
	          "Checks of a target that failed (check, download, verification or swap).");
	for (size_t i = 0; i < st->n_targets; i++)
		sb_target_sample(&b, "updater_check_failures_total", &st->targets[i], st->targets[i].check_failures);
	sb_family(&b, "updater_download_bytes_total", "counter", "Bytes downloaded.");
	for (size_t i = 0; i < st->n_targets; i++)
		sb_target_sample(&b, "updater_download_bytes_total", &st->targets[i], st->targets[i].download_bytes);
	sb_family(&b, "updater_stale_processes", "gauge", "Processes still running a replaced image of the target.");
	for (size_t i = 0; i < st->n_targets; i++)
		sb_target_sample(&b, "updater_stale_processes", &st->targets[i], st->targets[i].stale);
	sb_family(&b, "updater_requests_total", "counter",
	          "Control requests: accepted, coalesced into a waiting check, or rejected.");
	sb_printf(&b, "updater_requests_total{result=\"accepted\"} %" PRIu64 "\n", accepted);
	sb_printf(&b, "updater_requests_total{result=\"coalesced\"} %" PRIu64 "\n", st->coalesced);
	sb_printf(&b, "updater_requests_total{result=\"rejected\"} %" PRIu64 "\n", st->rejected);
	sb_family(&b, "updater_pending_timestamp_seconds", "gauge",
	          "When a version found but held back by the rollout or a window is due.");
	for (size_t i = 0; i < st->n_targets; i++) {
		const struct status_target *t = &st->targets[i];

		if (!t->pending_version || t->pending_at < 0)
			continue;
		sb_puts(&b, "updater_pending_timestamp_seconds{");
		sb_label(&b, "target", t->name);
		sb_puts(&b, ",");
		sb_label(&b, "version", t->pending_version);
		sb_printf(&b, "} %" PRId64 "\n", t->pending_at);
	}
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*ret_text = b.p;
	*ret_len = b.len;
	return 0;
}
