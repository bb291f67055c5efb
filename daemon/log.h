/*
 * log.h - log lines with priorities, for updaterd.
 *
 * Lines go to stderr. When stderr is the journal (JOURNAL_STREAM is set) or
 * not a terminal, each line starts with an sd-daemon priority prefix such as
 * "<3>", so journald and syslog-style collectors keep the level. On a
 * terminal the prefix is a word ("error: ") instead.
 *
 * Every function preserves errno, so "log_err(...); return -errno;" is safe.
 * Debug lines are printed only after log_set_verbose(true).
 */
#ifndef UPDATER_LOG_H
#define UPDATER_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/* Decide the prefix style from the environment and stderr. Call once, early. */
void log_init(void);
void log_set_verbose(bool verbose);
bool log_is_verbose(void);

void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int priority, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
