/*
 * metrics_render.h -- the Prometheus text exposition (format 0.0.4) of
 * everything in stats.h.
 *
 * Metric names are a stable interface (dashboards and autoscalers use them):
 * every sample carries service="<service>"; per-consumer samples add
 * consumer, stream and handler. Families and labels are listed in
 * metrics_render.c.
 *
 * Threads: metrics_render() may run on any thread (the HTTP thread in
 * practice). It reads the counters without locks and takes stats_lock while
 * it walks the consumer and plugin registries.
 */
#ifndef JW_METRICS_RENDER_H
#define JW_METRICS_RENDER_H

#include <stddef.h>

/* A growable text buffer. Owned by the caller; one thread at a time. */
typedef struct metrics_render_buf {
    char *data; /* NUL-terminated while len > 0; malloc'd */
    size_t len;
    size_t cap;
    int failed; /* an allocation failed: the text is incomplete */
} metrics_render_buf;

/* Append printf-formatted text; on allocation failure sets failed. */
void metrics_render_printf(metrics_render_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append a label value escaped per the text format (\\, \", \n). */
void metrics_render_escape(metrics_render_buf *b, const char *value);
void metrics_render_buf_free(metrics_render_buf *b);

/*
 * Render every family into `out` (appending). `service` (NULL = "") is the
 * value of the service label. Returns 0, or -1 when memory ran out (the
 * buffer then holds a truncated exposition and must not be served).
 */
int metrics_render(const char *service, metrics_render_buf *out);

#endif /* JW_METRICS_RENDER_H */
