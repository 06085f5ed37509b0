/*
 * obs/obs.h -- the interface of core/obs/: observability: trace context, the HTTP endpoint and its
 * routes, the Prometheus text renderer, the OTLP span exporter.
 *
 * Other folders include this header only; files named *_int.h are private
 * to this folder.
 */
#ifndef JW_CORE_OBS_H
#define JW_CORE_OBS_H

#include <stddef.h>
#include <stdint.h>

/*
 * trace -- W3C Trace Context (traceparent / tracestate) and the span
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

/*
 * http -- the operator endpoint: GET /metrics (Prometheus text 0.0.4),
 * /healthz (the loop is alive), /readyz (ready to take work) and the live
 * status page at / (its data at /status.json).
 *
 * A small HTTP/1.0-1.1 responder serves it on its own thread with its own
 * libuv loop, never on the main loop. Handlers only read stats (atomics,
 * and the registries under stats_lock) and call the ready callback, so the
 * main loop never waits on HTTP and a stalled loop is still reported.
 * Every answer has a Content-Length and `Connection: close` (one request
 * per connection). A request head over 8 KiB gets 431; a connection is
 * closed 10 s after it was accepted, whatever its state (slow or idle
 * clients); beyond 64 open connections, new ones are accepted and closed.
 * The query string does not route (/metrics?x=1 is /metrics).
 *
 *   /healthz  200 "ok" while stats.loop_heartbeat_ms (CLOCK_MONOTONIC ms,
 *             the same clock as uv_hrtime()/1000000 and uv_now()) is less
 *             than HTTP_HEALTH_STALE_MS old; else 503
 *             {"status":"stalled","since_ms":N} with N the heartbeat's age
 *             (-1 when the loop never ticked).
 *   /readyz   200 {"status":"ready"} when the ready callback says so, else
 *             503 {"status":"not ready","reason":"..."}.
 *   other paths 404; methods other than GET and HEAD 405 (with Allow);
 *   HEAD answers the headers of GET, without the body; a malformed
 *   request line 400; an HTTP version other than 1.0 and 1.1 505.
 */

#define HTTP_HEALTH_STALE_MS 5000

/*
 * Readiness. Runs on the HTTP thread: it may only read atomics or take
 * short locks. Returns 1 when ready; else 0 with a short reason written
 * into `reason` (NUL-terminated, at most reasonlen bytes).
 */
typedef int (*http_ready_fn)(void *ud, char *reason, size_t reasonlen);

/*
 * Default readiness from stats: NATS connected, not draining, Redis
 * connected if stats.needs_redis, and every active consumer bound. `ud`
 * is unused.
 */
int http_default_ready(void *ud, char *reason, size_t reasonlen);

/* Owned by the caller of http_start(); freed by http_stop(). */
typedef struct http_server http_server;

/*
 * Listen on host:port (host "127.0.0.1", "::1", "localhost"...; NULL =
 * 127.0.0.1; port 0 = any free port, see http_port()). `ready` NULL means
 * http_default_ready. Returns 0, or -1 with a reason in err.
 * Called on the main (or loop) thread.
 */
int http_start(const char *host, int port, http_ready_fn ready, void *ud, http_server **out,
               char *err, size_t errlen);

/* The bound port (useful with port 0). */
int http_port(const http_server *s);

/* The service label of /metrics (copied; any thread, e.g. after a reload). */
void http_set_service(http_server *s, const char *service);

/* Stop serving, wait for the HTTP thread to finish, free. NULL is a no-op. */
void http_stop(http_server *s);

/*
 * http_routes -- what the operator endpoint answers (core/http.c is the
 * transport): GET/HEAD /metrics, /healthz, /readyz as documented above,
 * and the status page (/, /status.css, /status.js, /status.json, see
 * status below); 405 for other methods, 404 for other paths. Runs on the HTTP
 * thread; reads only atomics and the stats registries under stats_lock.
 */

/*
 * A response under construction. `body` is malloc'd (NULL: out of memory);
 * `headers` (NULL = none) are extra header lines, each ending in CRLF, in
 * static storage.
 */
typedef struct http_resp {
    int status;
    const char *ctype;
    char *body;
    size_t len;
    const char *headers;
} http_resp;

/* Fill r with a plain-text answer (body copied). */
void http_resp_text(http_resp *r, int status, const char *text);

/*
 * Answer `method` `target` (the path, query already cut off) for the
 * service label `service`; `ready` NULL means http_default_ready. The
 * caller sends r and frees r->body.
 */
void http_route(const char *method, const char *target, const char *service, http_ready_fn ready,
                void *ud, http_resp *r);

/*
 * Operator control over HTTP: POST /consumers/NAME/pause and .../resume
 * (no body) call `fn`, which returns 0 (done; msg says what happened) or -1
 * (no such consumer; msg says so). Answered only while the listener is
 * bound to a loopback address (http_start sets that; the endpoint has no
 * access control of its own), else 403. fn runs on the HTTP thread and
 * must be thread-safe; NULL (the default) answers 404. Set before
 * http_start, cleared after http_stop.
 */
typedef int (*http_control_fn)(const char *consumer, int pause, char *msg, size_t msglen);
void http_set_control(http_control_fn fn);
/* http.c: whether the listener is loopback-only (control allowed). */
void http_set_control_allowed(int allowed);

/*
 * status -- the live status page: GET / (index.html), /status.css,
 * /status.js (compiled into the binary from core/obs/status/, served with a
 * Content-Security-Policy that allows nothing but these files and
 * /status.json), and /status.json: readiness and its reason, NATS and Redis
 * state, the last reload (outcome, time, config digest, error), process
 * figures, plugin versions, the topology, and per consumer the counters,
 * server gauges and handler-duration buckets /metrics has. The page turns
 * two consecutive documents into rates and windowed quantiles.
 *
 * Threads: status_serve_* run on the HTTP thread and read what /metrics
 * reads. status_set_topology and status_note_reload are called by the loop
 * (at start, after each reload attempt) and copy their argument.
 */

/* The running topology as a JSON text (copied; NULL clears). */
void status_set_topology(const char *json);
/* The outcome of a reload attempt: ok, or the (first) error. */
void status_note_reload(int ok, const char *error);
/* Forget both (tests; shutdown). */
void status_reset(void);
/* The compiled-in file `name` ("index.html"...): 1 with r filled, or 0. */
int status_serve_file(const char *name, http_resp *r);
void status_serve_json(const char *service, http_ready_fn ready, void *ud, http_resp *r);

/*
 * metrics_render -- the Prometheus text exposition (format 0.0.4) of
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

/*
 * Render the families that are not read from stats (appending to `out`;
 * same return as metrics_render):
 *   process_cpu_seconds_total, process_resident_memory_bytes,
 *   process_virtual_memory_bytes, process_open_fds, process_max_fds,
 *   process_start_time_seconds   (Prometheus client conventions, from
 *                                 /proc/self at the time of the call; a
 *                                 figure that cannot be read is left out)
 *   jetway_build_info{version,abi,libuv,cnats,hiredis} 1
 *   jetway_ready 0/1, and jetway_ready_reason{reason} 1 while not ready
 * `ready`/`reason` are what the readiness callback said; the caller calls
 * it first, outside stats_lock (the callback takes it).
 */
int metrics_render_process(const char *service, int ready, const char *reason,
                           metrics_render_buf *out);

/*
 * procstat -- this process's own figures, read from /proc/self (whichever
 * thread calls: /proc/self is the thread group). Each is -1 when it cannot
 * be read. Returns 0, or -1 when /proc/self/stat could not be read.
 */
typedef struct proc_self {
    double cpu_seconds;  /* user + system */
    int64_t rss_bytes;   /* resident set */
    int64_t vsize_bytes; /* virtual memory */
    int64_t open_fds;
    int64_t max_fds;   /* RLIMIT_NOFILE soft limit */
    double start_time; /* UNIX seconds, tick resolution */
} proc_self;

int proc_self_read(proc_self *out);

/*
 * otlp -- span export as OTLP/HTTP JSON (ExportTraceServiceRequest POSTed
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

#endif /* JW_CORE_OBS_H */
