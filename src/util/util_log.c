/*
 * util_log.c -- event lines to stderr or syslog.
 */
#include "util/util_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static bool log_stderr = true;
static int log_level = LOG_INFO;
static char log_ident[32] = "tlsmta";

void
log_open(const char *ident, bool to_stderr)
{
    snprintf(log_ident, sizeof(log_ident), "%s", ident);
    log_stderr = to_stderr;
    if (!to_stderr)
        openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_level(int priority)
{
    log_level = priority;
}

static void
log_vwrite(int priority, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];

    if (priority > log_level)
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (!log_stderr) {
        syslog(priority, "%s", line);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld %s[%ld]: %s\n", when, ts.tv_nsec / 1000000,
            log_ident, (long)getpid(), line);
}

void
log_msg(int priority, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(priority, fmt, ap);
    va_end(ap);
}

void
log_fatal_at(const char *file, int line, const char *fmt, ...)
{
    char text[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_msg(LOG_CRIT, "fatal %s:%d: %s", file, line, text);
    abort();
}
