/*
 * metrics_render.c -- see metrics_render.h.
 *
 * Families (every sample also has service=...; "C" = consumer, stream,
 * handler labels):
 *   jetway_messages_received_total{C}            counter
 *   jetway_consumer_pulls_total{C}               counter (received / pulls = per request)
 *   jetway_consumer_handler_batches_total{C}     counter (handle_batch calls)
 *   jetway_messages_settled_total{C,result}      counter
 *   jetway_handler_duration_seconds{C}           histogram
 *   jetway_message_age_seconds{C}                histogram
 *   jetway_in_flight_messages{C}                 gauge
 *   jetway_consumer_pending_messages{C}          gauge (server)
 *   jetway_consumer_ack_pending_messages{C}      gauge (server)
 *   jetway_consumer_redelivered_messages{C}      gauge (server)
 *   jetway_consumer_bound{C}                     gauge
 *   jetway_consumer_paused{C}                    gauge (1 operator, 2 breaker, 3 both)
 *   jetway_consumer_breaker_state{C}             gauge (0 closed, 1 open, 2 half-open)
 *   jetway_consumer_breaker_opened_total{C}      counter
 *   jetway_consumer_outage_deliveries_total{C}   counter (RETRYs not counted toward max_deliver)
 *   jetway_dead_letters_total{C}                 counter
 *   jetway_dedup_total{C,outcome}                counter
 *   jetway_publishes_total{C}, jetway_publish_errors_total{C}
 *   jetway_nats_connected, jetway_nats_reconnects_total,
 *   jetway_redis_connected, jetway_redis_reconnects_total,
 *   jetway_redis_timeouts_total, jetway_redis_evicted_keys, jetway_redis_refused,
 *   jetway_reloads_total{outcome},
 *   jetway_last_reload_timestamp_seconds, jetway_last_reload_success,
 *   jetway_config_info{digest}, jetway_plugin_info{instance,plugin,version,abi},
 *   jetway_plugin_<counter>_total{plugin}, jetway_spans_exported_total,
 *   jetway_spans_dropped_total, jetway_span_export_failures_total,
 *   jetway_start_time_seconds, jetway_draining
 * and, from metrics_render_process (not stats):
 *   process_cpu_seconds_total, process_resident_memory_bytes,
 *   process_virtual_memory_bytes, process_open_fds, process_max_fds,
 *   process_start_time_seconds, jetway_build_info{version,abi,libuv,cnats,
 *   hiredis}, jetway_ready, jetway_ready_reason{reason}
 *
 * A consumer removed by a reload keeps its counters (they never go
 * backwards) but loses its gauges from the server and its bound gauge, which
 * would otherwise report stale values forever.
 */
#include "obs.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/base.h"
#include "jetway/plugin.h"

static const char *const result_names[STATS_NRESULTS] = {
    "ack", "retry", "reject", "duplicate", "dead_letter", "busy",
};

static const char *const dedup_names[STATS_NDEDUP] = {
    "claimed", "duplicate", "busy", "lease_lost", "error", "unclaimed",
};

static int
buf_reserve(metrics_render_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void
metrics_render_printf(metrics_render_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (buf_reserve(b, (size_t)n) < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        memcpy(b->data + b->len, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

static void
buf_putc(metrics_render_buf *b, char c)
{
    if (buf_reserve(b, 1) < 0)
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void
metrics_render_escape(metrics_render_buf *b, const char *value)
{
    for (const char *p = value ? value : ""; *p; p++) {
        switch (*p) {
        case '\\':
            buf_putc(b, '\\');
            buf_putc(b, '\\');
            break;
        case '"':
            buf_putc(b, '\\');
            buf_putc(b, '"');
            break;
        case '\n':
            buf_putc(b, '\\');
            buf_putc(b, 'n');
            break;
        default:
            buf_putc(b, *p);
        }
    }
}

/* HELP text escapes only backslash and newline. */
static void
escape_help(metrics_render_buf *b, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        if (*p == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, '\\');
        } else if (*p == '\n') {
            buf_putc(b, '\\');
            buf_putc(b, 'n');
        } else {
            buf_putc(b, *p);
        }
    }
}

void
metrics_render_buf_free(metrics_render_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static void
family(metrics_render_buf *b, const char *name, const char *type, const char *help)
{
    metrics_render_printf(b, "# HELP %s ", name);
    escape_help(b, help);
    metrics_render_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void
label(metrics_render_buf *b, const char *key, const char *value)
{
    metrics_render_printf(b, ",%s=\"", key);
    metrics_render_escape(b, value);
    buf_putc(b, '"');
}

/* `name{service="..."` -- the caller adds labels, then closes with end_u64 etc. */
static void
open_sample(metrics_render_buf *b, const char *name, const char *service)
{
    metrics_render_printf(b, "%s{service=\"", name);
    metrics_render_escape(b, service);
    buf_putc(b, '"');
}

static void
consumer_labels(metrics_render_buf *b, const stats_consumer *c)
{
    label(b, "consumer", c->name);
    label(b, "stream", c->stream);
    label(b, "handler", c->handler);
}

static void
end_u64(metrics_render_buf *b, uint64_t v)
{
    metrics_render_printf(b, "} %" PRIu64 "\n", v);
}

static void
end_i64(metrics_render_buf *b, int64_t v)
{
    metrics_render_printf(b, "} %" PRId64 "\n", v);
}

static uint64_t
ld_u(atomic_uint_fast64_t *v)
{
    return (uint64_t)atomic_load_explicit(v, memory_order_relaxed);
}

static int64_t
ld_i(atomic_int_fast64_t *v)
{
    return (int64_t)atomic_load_explicit(v, memory_order_relaxed);
}

static int
ld_int(atomic_int *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* A global sample with only the service label. */
static void
global_u64(metrics_render_buf *b, const char *service, const char *name, const char *type,
           const char *help, uint64_t v)
{
    family(b, name, type, help);
    open_sample(b, name, service);
    end_u64(b, v);
}

static void
global_i64(metrics_render_buf *b, const char *service, const char *name, const char *type,
           const char *help, int64_t v)
{
    family(b, name, type, help);
    open_sample(b, name, service);
    end_i64(b, v);
}

/*
 * Cumulative buckets. _count is the +Inf bucket as read here, so the two
 * always agree even while other threads observe concurrently.
 */
static void
histogram(metrics_render_buf *b, const char *service, const char *name, const stats_consumer *c,
          stats_hist *h)
{
    char sname[160];
    uint64_t cum = 0;
    snprintf(sname, sizeof(sname), "%s_bucket", name);
    for (int i = 0; i <= STATS_NBUCKETS; i++) {
        cum += ld_u(&h->buckets[i]);
        open_sample(b, sname, service);
        consumer_labels(b, c);
        if (i < STATS_NBUCKETS)
            metrics_render_printf(b, ",le=\"%g\"", stats_bucket_bounds[i]);
        else
            metrics_render_printf(b, ",le=\"+Inf\"");
        end_u64(b, cum);
    }
    uint64_t sum_us = ld_u(&h->sum_us);
    snprintf(sname, sizeof(sname), "%s_sum", name);
    open_sample(b, sname, service);
    consumer_labels(b, c);
    metrics_render_printf(b, "} %" PRIu64 ".%06" PRIu64 "\n", sum_us / 1000000, sum_us % 1000000);
    snprintf(sname, sizeof(sname), "%s_count", name);
    open_sample(b, sname, service);
    consumer_labels(b, c);
    end_u64(b, cum);
}

typedef enum {
    CF_RECEIVED,
    CF_PULLS,
    CF_BATCHES,
    CF_DEAD,
    CF_PUB,
    CF_PUBERR,
    CF_BRK_OPENED,
    CF_OUTAGE
} consumer_counter;

static uint64_t
consumer_counter_value(stats_consumer *c, consumer_counter which)
{
    switch (which) {
    case CF_RECEIVED:
        return ld_u(&c->received);
    case CF_PULLS:
        return ld_u(&c->pulls);
    case CF_BATCHES:
        return ld_u(&c->batches);
    case CF_DEAD:
        return ld_u(&c->results[STATS_RESULT_DEAD_LETTER]) + ld_u(&c->results[STATS_RESULT_REJECT]);
    case CF_PUB:
        return ld_u(&c->publishes);
    case CF_PUBERR:
        return ld_u(&c->publish_errors);
    case CF_BRK_OPENED:
        return ld_u(&c->breaker_opened);
    case CF_OUTAGE:
        return ld_u(&c->outage_deliveries);
    }
    return 0;
}

static void
consumer_counter_family(metrics_render_buf *b, const char *service, const char *name,
                        const char *help, consumer_counter which)
{
    family(b, name, "counter", help);
    for (stats_consumer *c = stats_consumers(); c; c = c->next) {
        open_sample(b, name, service);
        consumer_labels(b, c);
        end_u64(b, consumer_counter_value(c, which));
    }
}

typedef enum {
    CG_PENDING,
    CG_ACK_PENDING,
    CG_REDELIVERED,
    CG_BOUND,
    CG_PAUSED,
    CG_BREAKER
} consumer_gauge;

/* Gauges from the server and the bound flag: active consumers only. */
static void
consumer_gauge_family(metrics_render_buf *b, const char *service, const char *name,
                      const char *help, consumer_gauge which)
{
    family(b, name, "gauge", help);
    for (stats_consumer *c = stats_consumers(); c; c = c->next) {
        if (!c->active)
            continue;
        int64_t v = 0;
        switch (which) {
        case CG_PENDING:
            v = ld_i(&c->server_pending);
            break;
        case CG_ACK_PENDING:
            v = ld_i(&c->server_ack_pending);
            break;
        case CG_REDELIVERED:
            v = ld_i(&c->server_redelivered);
            break;
        case CG_BOUND:
            v = ld_int(&c->bound);
            break;
        case CG_PAUSED:
            v = ld_int(&c->paused);
            break;
        case CG_BREAKER:
            v = ld_int(&c->breaker);
            break;
        }
        open_sample(b, name, service);
        consumer_labels(b, c);
        end_i64(b, v);
    }
}

static void
render_consumers(metrics_render_buf *b, const char *service)
{
    consumer_counter_family(b, service, "jetway_messages_received_total",
                            "Messages handed to jetway by JetStream (every delivery).",
                            CF_RECEIVED);
    consumer_counter_family(b, service, "jetway_consumer_pulls_total",
                            "Pull requests sent; received / pulls is the messages per "
                            "request.",
                            CF_PULLS);
    consumer_counter_family(b, service, "jetway_consumer_handler_batches_total",
                            "handle_batch calls (ABI 1.1 plugins); messages handled / batches "
                            "is the mean batch a handler sees.",
                            CF_BATCHES);

    family(b, "jetway_messages_settled_total", "counter",
           "Messages settled, each once, by result: ack, retry (NAK), reject (handler REJECT, "
           "dead-lettered), duplicate (ACK, already done), dead_letter (dead-lettered for "
           "another reason), busy (NAK, claim held elsewhere).");
    for (stats_consumer *c = stats_consumers(); c; c = c->next) {
        for (int r = 0; r < STATS_NRESULTS; r++) {
            open_sample(b, "jetway_messages_settled_total", service);
            consumer_labels(b, c);
            label(b, "result", result_names[r]);
            end_u64(b, ld_u(&c->results[r]));
        }
    }

    family(b, "jetway_handler_duration_seconds", "histogram",
           "Time spent in the handler's handle() call.");
    for (stats_consumer *c = stats_consumers(); c; c = c->next)
        histogram(b, service, "jetway_handler_duration_seconds", c, &c->handler_seconds);

    family(b, "jetway_message_age_seconds", "histogram",
           "Age of a message (now - stream timestamp) when handling starts.");
    for (stats_consumer *c = stats_consumers(); c; c = c->next)
        histogram(b, service, "jetway_message_age_seconds", c, &c->age_seconds);

    family(b, "jetway_in_flight_messages", "gauge", "Messages fetched and not yet settled.");
    for (stats_consumer *c = stats_consumers(); c; c = c->next) {
        open_sample(b, "jetway_in_flight_messages", service);
        consumer_labels(b, c);
        end_i64(b, ld_i(&c->in_flight));
    }

    consumer_gauge_family(b, service, "jetway_consumer_pending_messages",
                          "Messages in the stream not yet delivered to the consumer (server).",
                          CG_PENDING);
    consumer_gauge_family(b, service, "jetway_consumer_ack_pending_messages",
                          "Messages delivered and not yet acknowledged (server).", CG_ACK_PENDING);
    consumer_gauge_family(b, service, "jetway_consumer_redelivered_messages",
                          "Messages redelivered and not yet acknowledged (server).",
                          CG_REDELIVERED);
    consumer_gauge_family(b, service, "jetway_consumer_bound",
                          "1 while the consumer is bound to its durable on the server.", CG_BOUND);
    consumer_gauge_family(b, service, "jetway_consumer_paused",
                          "Non-zero while the consumer fetches nothing: 1 paused by the operator, "
                          "2 by its circuit breaker, 3 both.",
                          CG_PAUSED);
    consumer_gauge_family(b, service, "jetway_consumer_breaker_state",
                          "The consumer's circuit breaker: 0 closed, 1 open, 2 half-open.",
                          CG_BREAKER);

    consumer_counter_family(b, service, "jetway_dead_letters_total",
                            "Messages published to the dead-letter subject, then terminated.",
                            CF_DEAD);
    consumer_counter_family(b, service, "jetway_consumer_breaker_opened_total",
                            "Times the consumer's circuit breaker opened.", CF_BRK_OPENED);
    consumer_counter_family(b, service, "jetway_consumer_outage_deliveries_total",
                            "RETRYs that met a downstream outage (breaker open or opening): "
                            "not counted toward max_deliver.",
                            CF_OUTAGE);

    family(b, "jetway_dedup_total", "counter", "Dedup claim outcomes.");
    for (stats_consumer *c = stats_consumers(); c; c = c->next) {
        for (int d = 0; d < STATS_NDEDUP; d++) {
            open_sample(b, "jetway_dedup_total", service);
            consumer_labels(b, c);
            label(b, "outcome", dedup_names[d]);
            end_u64(b, ld_u(&c->dedup[d]));
        }
    }

    consumer_counter_family(b, service, "jetway_publishes_total",
                            "Messages published by handlers (acknowledged by JetStream).", CF_PUB);
    consumer_counter_family(b, service, "jetway_publish_errors_total",
                            "Handler publishes that failed.", CF_PUBERR);
}

/*
 * A plugin counter name as a metric name fragment: [a-zA-Z0-9_] kept, the
 * rest mapped to '_', a trailing "_total" removed (the family adds it).
 */
static void
sanitize_counter(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < outlen; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_';
        out[n++] = ok ? ch : '_'; // NOLINT(bugprone-narrowing-conversions): '_' and ch are chars
    }
    out[n] = '\0';
    if (n >= 6 && strcmp(out + n - 6, "_total") == 0)
        out[n - 6] = '\0';
}

static void
render_plugins(metrics_render_buf *b, const char *service)
{
    family(b, "jetway_plugin_info", "gauge",
           "Loaded plugin instances: instance, descriptor name, version and ABI.");
    for (stats_plugin *p = stats_plugins(); p; p = p->next) {
        if (!p->active)
            continue;
        open_sample(b, "jetway_plugin_info", service);
        label(b, "instance", p->name);
        label(b, "plugin", p->plugin);
        label(b, "version", p->version);
        label(b, "abi", p->abi);
        end_u64(b, 1);
    }

    /*
     * Plugin counters: one family per counter name, shared by every
     * instance that registered it; a family is emitted where its name is
     * first seen, with the samples of all instances.
     */
    for (stats_plugin *p = stats_plugins(); p; p = p->next) {
        int n = p->ncounters < 32 ? p->ncounters : 32;
        for (int i = 0; i < n; i++) {
            char frag[64];
            sanitize_counter(p->counter_names[i], frag, sizeof(frag));
            if (!frag[0])
                continue;
            int seen = 0;
            for (stats_plugin *q = stats_plugins(); q != p && !seen; q = q->next) {
                int qn = q->ncounters < 32 ? q->ncounters : 32;
                for (int j = 0; j < qn && !seen; j++) {
                    char qf[64];
                    sanitize_counter(q->counter_names[j], qf, sizeof(qf));
                    seen = strcmp(qf, frag) == 0;
                }
            }
            for (int j = 0; j < i && !seen; j++) {
                char qf[64];
                sanitize_counter(p->counter_names[j], qf, sizeof(qf));
                seen = strcmp(qf, frag) == 0;
            }
            if (seen)
                continue;
            char name[128];
            snprintf(name, sizeof(name), "jetway_plugin_%s_total", frag);
            family(b, name, "counter", p->counter_help[i]);
            for (stats_plugin *q = p; q; q = q->next) {
                int qn = q->ncounters < 32 ? q->ncounters : 32;
                for (int j = 0; j < qn; j++) {
                    char qf[64];
                    sanitize_counter(q->counter_names[j], qf, sizeof(qf));
                    if (strcmp(qf, frag) != 0)
                        continue;
                    open_sample(b, name, service);
                    label(b, "plugin", q->name);
                    end_u64(b, ld_u(&q->counters[j]));
                    break; /* one sample per plugin_instance */
                }
            }
        }
    }
}

static void
render_globals(metrics_render_buf *b, const char *service)
{
    global_i64(b, service, "jetway_nats_connected", "gauge", "1 while connected to NATS.",
               ld_int(&stats.nats_connected));
    global_u64(b, service, "jetway_nats_reconnects_total", "counter", "NATS reconnections.",
               ld_u(&stats.nats_reconnects));
    global_i64(b, service, "jetway_redis_connected", "gauge", "1 while connected to Redis.",
               ld_int(&stats.redis_connected));
    global_u64(b, service, "jetway_redis_reconnects_total", "counter", "Redis reconnections.",
               ld_u(&stats.redis_reconnects));
    global_u64(b, service, "jetway_redis_timeouts_total", "counter",
               "Redis commands that timed out.", ld_u(&stats.redis_timeouts));
    global_i64(b, service, "jetway_redis_evicted_keys", "gauge",
               "Keys the Redis server evicted since it started (INFO evicted_keys); any "
               "increase may have lost dedup markers.",
               (int64_t)atomic_load(&stats.redis_evicted_keys));
    global_i64(b, service, "jetway_redis_refused", "gauge",
               "1 while the Redis server's configuration is refused for dedup (an evicting "
               "maxmemory-policy).",
               ld_int(&stats.redis_refused));

    family(b, "jetway_reloads_total", "counter", "Configuration reloads, by outcome.");
    open_sample(b, "jetway_reloads_total", service);
    label(b, "outcome", "ok");
    end_u64(b, ld_u(&stats.reloads_ok));
    open_sample(b, "jetway_reloads_total", service);
    label(b, "outcome", "failed");
    end_u64(b, ld_u(&stats.reloads_failed));

    global_i64(b, service, "jetway_last_reload_timestamp_seconds", "gauge",
               "UNIX time of the last reload attempt (0 = none yet).", ld_i(&stats.last_reload_ts));
    global_i64(b, service, "jetway_last_reload_success", "gauge",
               "1 if the last reload attempt succeeded.", ld_int(&stats.last_reload_ok));

    family(b, "jetway_config_info", "gauge", "The running configuration: SHA-256 of the file.");
    open_sample(b, "jetway_config_info", service);
    label(b, "digest", stats.config_digest); /* written under stats_lock, held here */
    end_u64(b, 1);

    global_u64(b, service, "jetway_spans_exported_total", "counter",
               "Spans accepted by the OTLP endpoint.", ld_u(&stats.spans_exported));
    global_u64(b, service, "jetway_spans_dropped_total", "counter",
               "Spans dropped (export queue full or export failed).", ld_u(&stats.spans_dropped));
    global_u64(b, service, "jetway_span_export_failures_total", "counter",
               "OTLP export requests that failed.", ld_u(&stats.span_export_failures));
    global_i64(b, service, "jetway_start_time_seconds", "gauge", "UNIX time the process started.",
               stats.start_ts);
    global_i64(b, service, "jetway_draining", "gauge",
               "1 while shutting down (fetching stopped, in-flight draining).",
               ld_int(&stats.draining));
}

int
metrics_render(const char *service, metrics_render_buf *out)
{
    if (!service)
        service = "";
    stats_lock();
    render_consumers(out, service);
    render_globals(out, service);
    render_plugins(out, service);
    stats_unlock();
    return out->failed ? -1 : 0;
}

/* A global sample whose value is a float (seconds). */
static void
global_seconds(metrics_render_buf *b, const char *service, const char *name, const char *type,
               const char *help, double v)
{
    family(b, name, type, help);
    open_sample(b, name, service);
    metrics_render_printf(b, "} %.3f\n", v);
}

int
metrics_render_process(const char *service, int ready, const char *reason, metrics_render_buf *out)
{
    if (!service)
        service = "";
    proc_self ps;
    proc_self_read(&ps);
    /*
     * The process_* names and meanings are the ones every Prometheus client
     * exports, so the usual process dashboards and alerts work unchanged;
     * like every jetway sample they also carry service.
     */
    if (ps.cpu_seconds >= 0)
        global_seconds(out, service, "process_cpu_seconds_total", "counter",
                       "Total user and system CPU time spent in seconds.", ps.cpu_seconds);
    if (ps.rss_bytes >= 0)
        global_i64(out, service, "process_resident_memory_bytes", "gauge",
                   "Resident memory size in bytes.", ps.rss_bytes);
    if (ps.vsize_bytes >= 0)
        global_i64(out, service, "process_virtual_memory_bytes", "gauge",
                   "Virtual memory size in bytes.", ps.vsize_bytes);
    if (ps.open_fds >= 0)
        global_i64(out, service, "process_open_fds", "gauge", "Number of open file descriptors.",
                   ps.open_fds);
    if (ps.max_fds >= 0)
        global_i64(out, service, "process_max_fds", "gauge",
                   "Maximum number of open file descriptors.", ps.max_fds);
    if (ps.start_time >= 0)
        global_seconds(out, service, "process_start_time_seconds", "gauge",
                       "Start time of the process since unix epoch in seconds.", ps.start_time);

    family(out, "jetway_build_info", "gauge",
           "The running binary: jetway version, plugin ABI, and the libuv, cnats and hiredis "
           "versions it runs with (hiredis: the one it was built against).");
    open_sample(out, "jetway_build_info", service);
    label(out, "version", JW_VERSION);
    char v[64];
    snprintf(v, sizeof(v), "%u.%u", JW_ABI_MAJOR, JW_ABI_MINOR);
    label(out, "abi", v);
    label(out, "libuv", uv_version_string());
    label(out, "cnats", nats_GetVersion());
    snprintf(v, sizeof(v), "%d.%d.%d", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    label(out, "hiredis", v);
    end_u64(out, 1);

    global_i64(out, service, "jetway_ready", "gauge",
               "1 while /readyz answers 200 (ready to take work).", ready ? 1 : 0);
    family(out, "jetway_ready_reason", "gauge",
           "While not ready: why, as /readyz says it (one sample, value 1).");
    if (!ready) {
        open_sample(out, "jetway_ready_reason", service);
        label(out, "reason", reason && *reason ? reason : "unknown");
        end_u64(out, 1);
    }
    return out->failed ? -1 : 0;
}
