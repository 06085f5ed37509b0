/*
 * log.h -- structured logging: one JSON object a line on stderr (or text),
 * with the fields operators filter on: ts, level, msg, service, consumer,
 * stream, seq, message_id, trace_id, span_id, error.
 *
 * Threads: every function is safe from any thread. A line is formatted into
 * a stack buffer and written with one write(2), so lines never interleave.
 * log_setup() is called on the main thread before any other thread starts.
 */
#ifndef JW_LOG_H
#define JW_LOG_H

#include <stdint.h>

#include "jetway/plugin.h"

/* Optional context of a line; any field may be NULL/0. */
typedef struct log_ctx {
    const char *consumer;
    const char *stream;
    uint64_t seq;
    const char *message_id;
    const char *trace_id;
    const char *span_id;
    const char *plugin;
    const char *error;
} log_ctx;

void log_setup(int json, int level, const char *service);
/* The service name may change on reload; the string is copied. */
void log_set_service(const char *service);
void log_set_level(int level);
int log_level_enabled(int level);
int log_level_parse(const char *s); /* -1 when unknown */

void jw_log(int level, const log_ctx *ctx, const char *fmt, ...) JW_PRINTF(3, 4);

#define log_error(...) jw_log(JW_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...)  jw_log(JW_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...)  jw_log(JW_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...)                               \
    do {                                             \
        if (log_level_enabled(JW_LOG_DEBUG))         \
            jw_log(JW_LOG_DEBUG, NULL, __VA_ARGS__); \
    } while (0)

#endif /* JW_LOG_H */
