/*
 * util_log.h -- one line per event, to stderr (foreground) or syslog.
 *
 * Lines read "<id> <event> key=value ..." (STYLE.md, Logs). The id is a
 * session id or a queue id; callers format the rest.
 */
#ifndef TLSMTA_UTIL_LOG_H
#define TLSMTA_UTIL_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Choose the sink: to_stderr true writes "time tlsmta[pid]: line" to stderr,
 * false opens syslog with the mail facility under ident. Call once at start;
 * before any call, lines go to stderr. */
void log_open(const char *ident, bool to_stderr);

/* Lowest priority written (LOG_ERR .. LOG_DEBUG); default LOG_INFO. */
void log_set_level(int priority);

/* Write one event line at the given syslog priority. The text must not
 * contain a newline; any control character in it is written as '?', so a
 * peer's bytes quoted in a line can never forge another line. */
void log_msg(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Log at LOG_CRIT with file and line, then abort(): a broken invariant. */
#define log_fatal(...) log_fatal_at(__FILE__, __LINE__, __VA_ARGS__)
void log_fatal_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#endif
