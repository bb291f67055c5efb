/* backoff.c - see run.h: the wait before PROGRAM starts again. */
#include "run.h"

#define BACKOFF_MAX_S 60
#define BACKOFF_RESET_MS (60 * 1000)

unsigned run_backoff_next(unsigned prev_s, int64_t uptime_ms)
{
	/* A start that ran for a while was a success of sorts: whatever made
	 * it fail now is new, so the wait starts over. */
	if (uptime_ms >= BACKOFF_RESET_MS)
		prev_s = 0;
	if (prev_s == 0)
		return 1;
	return prev_s >= BACKOFF_MAX_S / 2 ? BACKOFF_MAX_S : prev_s * 2;
}
