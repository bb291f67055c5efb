/* log.c - see log.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static bool use_prefix = true;
static bool verbose;

void log_init(void)
{
	int saved = errno;
	const char *js = getenv("JOURNAL_STREAM");

	use_prefix = (js && *js) || !isatty(STDERR_FILENO);
	errno = saved;
}

void log_set_verbose(bool on)
{
	verbose = on;
}

bool log_is_verbose(void)
{
	return verbose;
}

static const char *priority_word(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

void log_vmsg(int priority, const char *fmt, va_list ap)
{
	int saved = errno;
	char line[4096];
	int n;

	if (priority == LOG_DEBUG && !verbose) {
		errno = saved;
		return;
	}
	errno = saved; /* so %m in fmt names the caller's error */
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		n = 0;
	/* One write per line, so lines from concurrent writers never interleave. */
	if (use_prefix)
		(void)fprintf(stderr, "<%d>%s\n", priority, line);
	else
		(void)fprintf(stderr, "%s%s\n", priority_word(priority), line);
	errno = saved;
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(priority, fmt, ap);
	va_end(ap);
}
