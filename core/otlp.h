/*
 * otlp.h -- span export as OTLP/HTTP JSON (ExportTraceServiceRequest POSTed
 * to e.g. http://collector:4318/v1/traces).
 *
 * The hot path only copies a span into a bounded ring under a mutex
 * (otlp_submit never waits on the network and never allocates); when the
 * ring is full the span is dropped and counted in stats.spans_dropped. A
 * background thread wakes every interval, or as soon as the ring is half
 * full, and POSTs batches with libcurl (short timeouts, no retries: a batch
 * that fails is dropped, counted in stats.span_export_failures and
 * stats.spans_dropped, and logged at debug). Accepted spans are counted in
 * stats.spans_exported.
 */
#ifndef JW_OTLP_H
#define JW_OTLP_H

#include <stdint.h>

#include "trace.h"

/* Owned by the caller of otlp_start(); freed by otlp_stop(). */
typedef struct otlp_exporter otlp_exporter;

/*
 * Start the exporter thread. endpoint: the full URL; queue_size > 0;
 * interval_ms > 0; service_name -> resource attribute service.name.
 * Call on the main thread (it loads and initialises libcurl, see
 * curl_dyn.h). Returns 0, or -1 with the reason logged (e.g. libcurl.so.4
 * cannot be loaded).
 */
int otlp_start(const char *endpoint, int queue_size, int64_t interval_ms, const char *service_name,
               otlp_exporter **out);

/* Queue a copy of a finished span. Any thread; never blocks on I/O. */
void otlp_submit(otlp_exporter *e, const trace_span *span);

/*
 * While held, the exporter thread sends nothing (spans queue up and
 * overflow is counted); otlp_stop still flushes. For tests that need a
 * deterministic full queue, and for pausing export.
 */
void otlp_hold(otlp_exporter *e, int hold);

/*
 * Flush what is queued (bounded: OTLP_STOP_FLUSH_MS at most), stop and
 * join the thread, free. NULL is a no-op.
 */
#define OTLP_STOP_FLUSH_MS 5000
void otlp_stop(otlp_exporter *e);

/*
 * Encode spans as an ExportTraceServiceRequest JSON document (malloc'd,
 * caller frees; NULL on allocation failure). Exposed for unit tests.
 */
char *otlp_encode(const char *service_name, const trace_span *spans, int n);

#endif /* JW_OTLP_H */
