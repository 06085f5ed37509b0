/*
 * log.c -- see log.h. Formatting is done by hand into one buffer because the
 * line must reach stderr in a single write(2) and cJSON would allocate per
 * line; values are JSON-escaped here.
 */
#include "base.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static atomic_int log_json = 1;
static atomic_int log_min_level = JW_LOG_INFO;
/* Replaced on the loop thread during reload while other threads log: read
 * and written under log_service_mu (logging is not on the hot path). */
static char log_service[64] = "jetway";
static pthread_mutex_t log_service_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
log_setup(int json, int level, const char *service)
{
    atomic_store(&log_json, json);
    atomic_store(&log_min_level, level);
    if (service)
        log_set_service(service);
}

void
log_set_service(const char *service)
{
    pthread_mutex_lock(&log_service_mu);
    snprintf(log_service, sizeof(log_service), "%s", service);
    pthread_mutex_unlock(&log_service_mu);
}

void
log_set_level(int level)
{
    atomic_store(&log_min_level, level);
}

int
log_level_enabled(int level)
{
    return level <= atomic_load(&log_min_level);
}

int
log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    }
    if (strcasecmp(s, "warning") == 0)
        return JW_LOG_WARN;
    return -1;
}

/* Appends to buf at *pos, never past cap - 1; keeps the buffer terminated. */
static void
buf_put(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (*pos >= cap - 1)
        return;
    if (n > cap - 1 - *pos)
        n = cap - 1 - *pos;
    memcpy(buf + *pos, s, n);
    *pos += n;
    buf[*pos] = '\0';
}

static void
buf_put_json_str(char *buf, size_t cap, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    buf_put(buf, cap, pos, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[7];
        size_t n = 0;
        switch (*p) {
        case '"':
            n = 2, esc[0] = '\\', esc[1] = '"';
            break;
        case '\\':
            n = 2, esc[0] = '\\', esc[1] = '\\';
            break;
        case '\n':
            n = 2, esc[0] = '\\', esc[1] = 'n';
            break;
        case '\r':
            n = 2, esc[0] = '\\', esc[1] = 'r';
            break;
        case '\t':
            n = 2, esc[0] = '\\', esc[1] = 't';
            break;
        default:
            if (*p < 0x20) {
                /* the prefix of a 6-byte escape, written with its length */
                // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[*p >> 4];
                esc[5] = hex[*p & 15];
                n = 6;
            } else {
                esc[0] = (char)*p;
                n = 1;
            }
        }
        buf_put(buf, cap, pos, esc, n);
    }
    buf_put(buf, cap, pos, "\"", 1);
}

static void
put_field(char *buf, size_t cap, size_t *pos, int json, const char *key, const char *val)
{
    if (!val || !*val)
        return;
    if (json) {
        buf_put(buf, cap, pos, ",\"", 2);
        buf_put(buf, cap, pos, key, strlen(key));
        buf_put(buf, cap, pos, "\":", 2);
        buf_put_json_str(buf, cap, pos, val);
    } else {
        buf_put(buf, cap, pos, " ", 1);
        buf_put(buf, cap, pos, key, strlen(key));
        buf_put(buf, cap, pos, "=", 1);
        buf_put(buf, cap, pos, val, strlen(val));
    }
}

void
jw_log(int level, const log_ctx *ctx, const char *fmt, ...)
{
    if (!log_level_enabled(level))
        return;
    if (level < 0 || level > 3)
        level = JW_LOG_INFO;

    char msg[LOG_LINE_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wl = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wl, sizeof(when) - wl, ".%06ldZ", ts.tv_nsec / 1000);

    char buf[LOG_LINE_MAX];
    size_t pos = 0;
    buf[0] = '\0';
    int json = atomic_load(&log_json);
    char seq[24] = "";
    if (ctx && ctx->seq)
        snprintf(seq, sizeof(seq), "%llu", (unsigned long long)ctx->seq);

    if (json) {
        buf_put(buf, sizeof(buf), &pos, "{\"ts\":\"", 7);
        buf_put(buf, sizeof(buf), &pos, when, strlen(when));
        buf_put(buf, sizeof(buf), &pos, "\"", 1);
        put_field(buf, sizeof(buf), &pos, 1, "level", level_names[level]);
        put_field(buf, sizeof(buf), &pos, 1, "msg", msg);
    } else {
        snprintf(buf, sizeof(buf), "%s %-5s %s", when, level_names[level], msg);
        pos = strlen(buf);
    }
    char service[sizeof(log_service)];
    pthread_mutex_lock(&log_service_mu);
    memcpy(service, log_service, sizeof(service));
    pthread_mutex_unlock(&log_service_mu);
    put_field(buf, sizeof(buf), &pos, json, "service", service);
    if (ctx) {
        put_field(buf, sizeof(buf), &pos, json, "plugin", ctx->plugin);
        put_field(buf, sizeof(buf), &pos, json, "consumer", ctx->consumer);
        put_field(buf, sizeof(buf), &pos, json, "stream", ctx->stream);
        put_field(buf, sizeof(buf), &pos, json, "seq", seq);
        put_field(buf, sizeof(buf), &pos, json, "message_id", ctx->message_id);
        put_field(buf, sizeof(buf), &pos, json, "trace_id", ctx->trace_id);
        put_field(buf, sizeof(buf), &pos, json, "span_id", ctx->span_id);
        put_field(buf, sizeof(buf), &pos, json, "error", ctx->error);
    }
    if (json)
        buf_put(buf, sizeof(buf), &pos, "}", 1);
    /* Always end with a newline, even when the line was truncated. */
    if (pos >= sizeof(buf) - 1)
        pos = sizeof(buf) - 2;
    buf[pos++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, pos);
    (void)w;
}
