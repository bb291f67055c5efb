/* schedule.c - see schedule.h. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "schedule.h"

static int64_t add_sat(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static uint64_t random_u64(void)
{
	uint64_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), 0) == (ssize_t)sizeof(v))
		return v;
	/* Only a splay depends on this: a weak fallback beats no daemon. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec;
}

/* Uniform in [0, bound], by rejection so no value is favoured. */
static uint64_t default_random(uint64_t bound)
{
	uint64_t range, limit, v;

	if (bound == 0)
		return 0;
	if (bound == UINT64_MAX)
		return random_u64();
	range = bound + 1;
	limit = UINT64_MAX - (UINT64_MAX % range);
	do
		v = random_u64();
	while (v >= limit);
	return v % range;
}

static int64_t draw_splay(const struct schedule *s)
{
	uint64_t r;

	if (s->p.splay_ms <= 0)
		return 0;
	r = s->random((uint64_t)s->p.splay_ms);
	if (r > (uint64_t)s->p.splay_ms)
		r = (uint64_t)s->p.splay_ms;
	return (int64_t)r;
}

static void plan_periodic(struct schedule *s)
{
	int64_t anchor;

	if (s->p.interval_ms <= 0) {
		s->periodic = SCHEDULE_NEVER;
		return;
	}
	if (s->last_end == INT64_MIN)
		anchor = s->started_at; /* never checked: start-up + splay */
	else
		anchor = add_sat(s->last_end, s->p.interval_ms);
	s->periodic = add_sat(anchor, draw_splay(s));
}

void schedule_init(struct schedule *s, const struct schedule_params *p, schedule_random_fn random,
                   int64_t now, int64_t since_last_ms)
{
	*s = (struct schedule){
		.p = *p,
		.random = random ? random : default_random,
		.started_at = now,
		.last_start = INT64_MIN,
		.last_end = INT64_MIN,
		.periodic = SCHEDULE_NEVER,
		.retry = SCHEDULE_NEVER,
		.wake = SCHEDULE_NEVER,
	};
	/* A last check "in the future" (the clock was set back) counts as just now. */
	if (since_last_ms >= 0)
		s->last_end = add_sat(now, -since_last_ms);
	else if (since_last_ms != -1)
		s->last_end = now;
	plan_periodic(s);
}

void schedule_set_params(struct schedule *s, const struct schedule_params *p)
{
	bool replan = p->interval_ms != s->p.interval_ms || p->splay_ms != s->p.splay_ms;

	s->p = *p;
	if (s->p.interval_ms <= 0)
		s->retry = SCHEDULE_NEVER;
	if (replan)
		plan_periodic(s);
}

/* The earliest time a check that is not forced may start. */
static int64_t gate(const struct schedule *s)
{
	if (s->last_start == INT64_MIN)
		return INT64_MIN;
	return add_sat(s->last_start, s->p.min_interval_ms);
}

int64_t schedule_next(const struct schedule *s)
{
	int64_t next = SCHEDULE_NEVER;

	if (s->forced)
		return INT64_MIN;
	if (s->pending)
		next = INT64_MIN;
	next = min64(next, s->periodic);
	next = min64(next, s->retry);
	if (next != SCHEDULE_NEVER)
		next = max64(next, gate(s));
	return min64(next, s->wake);
}

void schedule_wake(struct schedule *s, int64_t at)
{
	s->wake = min64(s->wake, at);
}

bool schedule_due(const struct schedule *s, int64_t now)
{
	return !s->running && schedule_next(s) <= now;
}

enum schedule_answer schedule_request(struct schedule *s, int64_t now, int64_t *ret_wait_ms,
                                      bool *ret_coalesced)
{
	int64_t start;

	*ret_coalesced = s->pending;
	*ret_wait_ms = 0;
	s->pending = true;
	if (s->running)
		return SCHEDULE_RUNNING;
	start = schedule_next(s);
	if (start <= now)
		return SCHEDULE_QUEUED;
	*ret_wait_ms = start - now;
	return SCHEDULE_DEFERRED;
}

void schedule_force(struct schedule *s)
{
	s->pending = true;
	s->forced = true;
}

void schedule_started(struct schedule *s, int64_t now)
{
	s->running = true;
	s->pending = false;
	s->forced = false;
	s->wake = SCHEDULE_NEVER;
	s->last_start = now;
}

int64_t schedule_backoff_ms(const struct schedule_params *p, unsigned failures)
{
	int64_t cap = SCHEDULE_BACKOFF_MAX_MS, b = SCHEDULE_BACKOFF_FIRST_MS;

	if (p->interval_ms > 0)
		cap = min64(cap, p->interval_ms);
	for (unsigned i = 1; i < failures && b < cap; i++)
		b *= 2;
	return min64(b, cap);
}

void schedule_finished(struct schedule *s, int64_t now, bool failed)
{
	s->running = false;
	s->last_end = now;
	plan_periodic(s);
	if (failed) {
		if (s->failures < UINT32_MAX)
			s->failures++;
		s->retry = s->p.interval_ms > 0 ? add_sat(now, schedule_backoff_ms(&s->p, s->failures))
		                                : SCHEDULE_NEVER;
	} else {
		s->failures = 0;
		s->retry = SCHEDULE_NEVER;
	}
}

static const char *const day_names[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static int parse_day(const char *s, size_t len)
{
	if (len != 3)
		return -1;
	for (int i = 0; i < 7; i++)
		if (strncasecmp(s, day_names[i], 3) == 0)
			return i;
	return -1;
}

/* "HH:MM" or "HH:MM:SS" (24:00 allowed as an end) -> seconds; -1 when it is not one. */
static int32_t parse_clock(const char *s, size_t len)
{
	int h, m, sec = 0, n = 0;
	char buf[16];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (len == 5 && sscanf(buf, "%2d:%2d%n", &h, &m, &n) == 2 && n == 5) {
		/* done */
	} else if (len == 8 && sscanf(buf, "%2d:%2d:%2d%n", &h, &m, &sec, &n) == 3 && n == 8) {
		/* done */
	} else {
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)buf[i]) && buf[i] != ':')
			return -1;
	if (m > 59 || sec > 59 || h > 24 || (h == 24 && (m || sec)))
		return -1;
	return h * 3600 + m * 60 + sec;
}

static int parse_one_window(const char *s, size_t len, struct schedule_window *ret, char *err,
                            size_t err_size)
{
	const char *words[3], *p = s, *end = s + len;
	size_t wlen[3], n = 0;
	const char *dash;
	int32_t start, stop;

	*ret = (struct schedule_window){ .days = 0x7f };
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		if (n == 3) {
			(void)snprintf(err, err_size, "'%.*s' has too many words (DAYS HH:MM-HH:MM [UTC])", (int)len, s);
			return -EINVAL;
		}
		words[n] = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		wlen[n] = (size_t)(p - words[n]);
		n++;
	}
	if (n == 0) {
		(void)snprintf(err, err_size, "an empty window");
		return -EINVAL;
	}
	if (wlen[n - 1] == 3 && strncasecmp(words[n - 1], "utc", 3) == 0) {
		ret->utc = true;
		n--;
	}
	if (n == 0 || n > 2) {
		(void)snprintf(err, err_size, "'%.*s' is not DAYS HH:MM-HH:MM [UTC]", (int)len, s);
		return -EINVAL;
	}
	if (n == 2) {
		const char *d = words[0];
		size_t dl = wlen[0];
		int a, b;

		dash = memchr(d, '-', dl);
		a = parse_day(d, dash ? (size_t)(dash - d) : dl);
		b = dash ? parse_day(dash + 1, dl - (size_t)(dash - d) - 1) : a;
		if (a < 0 || b < 0) {
			(void)snprintf(err, err_size, "'%.*s' is not a day or a range of days (Mon, Mon-Fri)", (int)dl, d);
			return -EINVAL;
		}
		ret->days = 0;
		for (int i = a;; i = (i + 1) % 7) {
			ret->days |= (uint8_t)(1u << i);
			if (i == b)
				break;
		}
		words[0] = words[1];
		wlen[0] = wlen[1];
	}
	dash = memchr(words[0], '-', wlen[0]);
	start = dash ? parse_clock(words[0], (size_t)(dash - words[0])) : -1;
	stop = dash ? parse_clock(dash + 1, wlen[0] - (size_t)(dash - words[0]) - 1) : -1;
	if (start < 0 || stop < 0 || start >= 86400) {
		(void)snprintf(err, err_size, "'%.*s' is not a time range (02:00-05:00)", (int)wlen[0], words[0]);
		return -EINVAL;
	}
	ret->start_sec = start;
	ret->length_sec = stop > start ? stop - start : stop + 86400 - start;
	return 0;
}

int schedule_windows_parse(const char *text, struct schedule_windows *ret, char *err, size_t err_size)
{
	struct schedule_windows w = { .n = 0 };
	const char *p = text;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int r;

		if (w.n == SCHEDULE_WINDOWS_MAX) {
			(void)snprintf(err, err_size, "more than %d windows", SCHEDULE_WINDOWS_MAX);
			return -EINVAL;
		}
		r = parse_one_window(p, len, &w.w[w.n], err, err_size);
		if (r < 0)
			return r;
		w.n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	*ret = w;
	return 0;
}

/* Midnight of the day OFFSET days from the day of NOW, and its weekday. */
static int64_t midnight(int64_t now, int offset, bool utc, int *ret_wday)
{
	time_t t = (time_t)now, m;
	struct tm tm;

	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)))
		return -1;
	tm.tm_mday += offset;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	m = utc ? timegm(&tm) : mktime(&tm);
	*ret_wday = tm.tm_wday;
	return (int64_t)m;
}

/* When window W opens on the day OFFSET days from NOW's; -1 when it does not open that day. */
static int64_t opening(const struct schedule_window *w, int64_t now, int offset)
{
	time_t t = (time_t)now, o;
	struct tm tm;
	int wday;

	if (midnight(now, offset, w->utc, &wday) < 0 || !(w->days & (1u << wday)))
		return -1;
	if (!(w->utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)))
		return -1;
	tm.tm_mday += offset;
	tm.tm_hour = w->start_sec / 3600;
	tm.tm_min = w->start_sec / 60 % 60;
	tm.tm_sec = w->start_sec % 60;
	tm.tm_isdst = -1;
	o = w->utc ? timegm(&tm) : mktime(&tm);
	return (int64_t)o;
}

bool schedule_windows_open(const struct schedule_windows *w, int64_t now, int64_t *ret_next_open)
{
	int64_t next = -1;
	bool open = false;

	for (size_t i = 0; i < w->n; i++) {
		/* Yesterday's window may run past midnight; a week on, every day has come round. */
		for (int offset = -1; offset <= 7; offset++) {
			int64_t o = opening(&w->w[i], now, offset);

			if (o < 0)
				continue;
			if (o <= now && now < o + w->w[i].length_sec)
				open = true;
			else if (o > now && (next < 0 || o < next))
				next = o;
		}
	}
	*ret_next_open = next;
	return open;
}
