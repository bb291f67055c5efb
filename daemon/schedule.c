/* schedule.c - see schedule.h. */
#include <errno.h>
#include <stdint.h>
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
	if (next == SCHEDULE_NEVER)
		return SCHEDULE_NEVER;
	return max64(next, gate(s));
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
