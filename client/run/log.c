/* log.c - see run.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "run.h"

static bool verbose;

void run_log_set_verbose(bool on)
{
	verbose = on;
}

bool run_log_is_verbose(void)
{
	return verbose;
}

void run_log(enum run_log_level level, const char *fmt, ...)
{
	int saved = errno;
	const char *word = "";
	char line[2048];
	va_list ap;

	if (level >= RUN_LOG_INFO && !verbose)
		return;
	if (level == RUN_LOG_ERR)
		word = "error: ";
	else if (level == RUN_LOG_WARN)
		word = "warning: ";
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One call per line, so that lines from PROGRAM sharing stderr never
	 * cut one of ours in two. */
	(void)fprintf(stderr, "updater-run: %s%s\n", word, line);
	errno = saved;
}
