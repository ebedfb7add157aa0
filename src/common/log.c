/*
 * log.c - one-line log records on stderr: UTC time, level, subsystem, text.
 * A record is formatted into a stack buffer and written with one write() so
 * lines from different event-loop threads never interleave.
 */
#include "common.h"

#include <stdio.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum roost_log_level roost_log_threshold = ROOST_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

int roost_log_level_parse(const char *name, enum roost_log_level *out_level)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(level_names); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out_level = (enum roost_log_level)i;
            return 0;
        }
    }
    return ROOST_EINVAL;
}

void roost_log_write(enum roost_log_level lvl, const char *sub, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %-8s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)(tv.tv_usec / 1000), level_names[lvl], sub);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
