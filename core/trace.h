/*
 * trace.h -- W3C Trace Context (traceparent / tracestate) and the span
 * record jetway exports.
 *
 * traceparent = "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>",
 * lowercase hex only. Parsing follows the W3C rules: version "ff" and
 * non-hex versions are invalid; version 00 must be exactly 55 characters;
 * a higher version must be at least 55 characters and, if longer, continue
 * with '-' (its first four fields are read as version 00's); all-zero trace
 * or parent ids are invalid. An invalid traceparent also discards
 * tracestate (the spec forbids propagating it alone). tracestate is carried
 * verbatim, up to TRACE_STATE_MAX bytes (cut at a list-member boundary).
 *
 * Threads: every function is reentrant; ids come from getrandom(2).
 */
#ifndef JW_TRACE_H
#define JW_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_ID_LEN       16 /* bytes */
#define TRACE_SPAN_LEN     8
#define TRACE_PARENT_LEN   55 /* "00-" 32 "-" 16 "-" 2 */
#define TRACE_STATE_MAX    512
#define TRACE_FLAG_SAMPLED 0x01

/* A propagated context (value type; owned by whoever embeds it). */
typedef struct trace_ctx {
    uint8_t trace_id[TRACE_ID_LEN];
    uint8_t span_id[TRACE_SPAN_LEN]; /* the parent's span, as received / sent */
    uint8_t flags;
    char tracestate[TRACE_STATE_MAX + 1]; /* "" when absent */
} trace_ctx;

/*
 * Parse a traceparent (and tracestate, may be NULL). Returns 0, or -1 when
 * traceparent is absent or invalid (out is then zeroed).
 */
int trace_parse(const char *traceparent, const char *tracestate, trace_ctx *out);

/* Format as a version 00 traceparent; buf needs TRACE_PARENT_LEN + 1 bytes. */
int trace_format(const trace_ctx *ctx, char *buf, size_t buflen);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void trace_hex(const uint8_t *bytes, size_t n, char *out);

/* Fill with random bytes, never all zero. */
void trace_new_trace_id(uint8_t id[TRACE_ID_LEN]);
void trace_new_span_id(uint8_t id[TRACE_SPAN_LEN]);

/* CLOCK_REALTIME in ns (span timestamps are UNIX ns). */
int64_t trace_now_ns(void);

/* OTLP SpanKind and StatusCode numbers. */
typedef enum trace_kind {
    TRACE_KIND_INTERNAL = 1,
    TRACE_KIND_SERVER = 2,
    TRACE_KIND_CLIENT = 3,
    TRACE_KIND_PRODUCER = 4,
    TRACE_KIND_CONSUMER = 5,
} trace_kind;

typedef enum trace_status {
    TRACE_STATUS_UNSET = 0,
    TRACE_STATUS_OK = 1,
    TRACE_STATUS_ERROR = 2,
} trace_status;

/*
 * One finished span: a fixed-size value copied into the exporter's queue,
 * so submitting allocates nothing. Owned by whoever fills it; the exporter
 * keeps its own copy. Empty strings and negative numbers are "not set".
 * messaging.system is always "nats".
 */
typedef struct trace_span {
    uint8_t trace_id[TRACE_ID_LEN];
    uint8_t span_id[TRACE_SPAN_LEN];
    uint8_t parent_span_id[TRACE_SPAN_LEN]; /* all zero = root span */
    uint8_t flags;
    char name[128];
    trace_kind kind;
    int64_t start_ns; /* UNIX ns */
    int64_t end_ns;
    trace_status status;
    char status_message[192];
    /* attributes */
    char destination[192]; /* messaging.destination.name (subject) */
    char stream[96];       /* messaging.nats.stream */
    int64_t sequence;      /* messaging.nats.sequence */
    int64_t deliveries;    /* messaging.nats.deliveries */
    char consumer[96];     /* jetway.consumer */
    char result[24];       /* jetway.result */
} trace_span;

/*
 * Start a span: new span id, start time now, name and kind; child of
 * `parent` when given (same trace, parent span id = parent->span_id, same
 * flags), else a new trace (sampled). Numbers are set to -1 (unset).
 */
void trace_span_start(trace_span *s, const char *name, trace_kind kind, const trace_ctx *parent);

/* End now with a status (message may be NULL). */
void trace_span_end(trace_span *s, trace_status status, const char *message);

/* The context to propagate downstream of a span (tracestate "" or given). */
void trace_span_context(const trace_span *s, const char *tracestate, trace_ctx *out);

#endif /* JW_TRACE_H */
