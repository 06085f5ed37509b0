/*
 * otlp.c -- see otlp.h.
 */
#include "obs.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curl_dyn_int.h"
#include "base/base.h"

#define OTLP_BATCH_MAX          512
#define OTLP_CONNECT_TIMEOUT_MS 2000
#define OTLP_REQUEST_TIMEOUT_MS 5000

/*
 * Owned by the caller of otlp_start(). The ring and the flags are shared by
 * submitting threads and the exporter thread, always under `mu`; `curl`,
 * `headers` and `batch` belong to the exporter thread alone; the rest,
 * `cd` (libcurl's entry points) included, is read-only after otlp_start().
 */
struct otlp_exporter {
    char *endpoint;
    char endpoint_log[256]; /* the endpoint without user:password@, for logs */
    char *service;
    int64_t interval_ms;
    pthread_t thread;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    trace_span *ring;
    int cap;
    int head; /* oldest */
    int count;
    int half; /* wake the exporter at this many */
    int stop;
    int hold;

    const curl_dyn *cd;
    CURL *curl;
    struct curl_slist *headers;
    trace_span *batch;
    int batch_max;
};

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy a URL for logging with any "user:password@" left out. */
static void
redact_url(const char *url, char *out, size_t outlen)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (at && (!slash || at < slash))
        snprintf(out, outlen, "%.*s***@%s", (int)(host - url), url, at + 1);
    else
        snprintf(out, outlen, "%s", url);
}

static void
add_str_attr(cJSON *attrs, const char *key, const char *value)
{
    if (!value || !*value)
        return;
    cJSON *a = cJSON_CreateObject();
    cJSON *v = cJSON_CreateObject();
    if (!a || !v) {
        cJSON_Delete(a);
        cJSON_Delete(v);
        return;
    }
    cJSON_AddStringToObject(a, "key", key);
    cJSON_AddStringToObject(v, "stringValue", value);
    cJSON_AddItemToObject(a, "value", v);
    cJSON_AddItemToArray(attrs, a);
}

/* int64 values are decimal strings in the protobuf JSON mapping. */
static void
add_int_attr(cJSON *attrs, const char *key, int64_t value)
{
    if (value < 0)
        return;
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)value);
    cJSON *a = cJSON_CreateObject();
    cJSON *v = cJSON_CreateObject();
    if (!a || !v) {
        cJSON_Delete(a);
        cJSON_Delete(v);
        return;
    }
    cJSON_AddStringToObject(a, "key", key);
    cJSON_AddStringToObject(v, "intValue", num);
    cJSON_AddItemToObject(a, "value", v);
    cJSON_AddItemToArray(attrs, a);
}

static void
add_ns(cJSON *o, const char *key, int64_t ns)
{
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)(ns > 0 ? ns : 0));
    cJSON_AddStringToObject(o, key, num);
}

static cJSON *
encode_span(const trace_span *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char hex[2 * TRACE_ID_LEN + 1];
    trace_hex(s->trace_id, TRACE_ID_LEN, hex);
    cJSON_AddStringToObject(o, "traceId", hex);
    trace_hex(s->span_id, TRACE_SPAN_LEN, hex);
    cJSON_AddStringToObject(o, "spanId", hex);
    static const uint8_t zero[TRACE_SPAN_LEN];
    if (memcmp(s->parent_span_id, zero, TRACE_SPAN_LEN) != 0) {
        trace_hex(s->parent_span_id, TRACE_SPAN_LEN, hex);
        cJSON_AddStringToObject(o, "parentSpanId", hex);
    }
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddNumberToObject(o, "kind", (double)s->kind);
    add_ns(o, "startTimeUnixNano", s->start_ns);
    add_ns(o, "endTimeUnixNano", s->end_ns);
    cJSON *attrs = cJSON_AddArrayToObject(o, "attributes");
    if (attrs) {
        add_str_attr(attrs, "messaging.system", "nats");
        add_str_attr(attrs, "messaging.destination.name", s->destination);
        add_str_attr(attrs, "messaging.nats.stream", s->stream);
        add_int_attr(attrs, "messaging.nats.sequence", s->sequence);
        add_int_attr(attrs, "messaging.nats.deliveries", s->deliveries);
        add_str_attr(attrs, "jetway.consumer", s->consumer);
        add_str_attr(attrs, "jetway.result", s->result);
    }
    cJSON *st = cJSON_AddObjectToObject(o, "status");
    if (st) {
        cJSON_AddNumberToObject(st, "code", (double)s->status);
        if (s->status_message[0])
            cJSON_AddStringToObject(st, "message", s->status_message);
    }
    return o;
}

char *
otlp_encode(const char *service_name, const trace_span *spans, int n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *rss = cJSON_AddArrayToObject(root, "resourceSpans");
    cJSON *rs = cJSON_CreateObject();
    if (!root || !rss || !rs) {
        cJSON_Delete(rs);
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddItemToArray(rss, rs);
    cJSON *res = cJSON_AddObjectToObject(rs, "resource");
    cJSON *rattrs = res ? cJSON_AddArrayToObject(res, "attributes") : NULL;
    if (rattrs)
        add_str_attr(rattrs, "service.name", service_name ? service_name : "jetway");
    cJSON *sss = cJSON_AddArrayToObject(rs, "scopeSpans");
    cJSON *ss = cJSON_CreateObject();
    if (!sss || !ss) {
        cJSON_Delete(ss);
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddItemToArray(sss, ss);
    cJSON *scope = cJSON_AddObjectToObject(ss, "scope");
    if (scope) {
        cJSON_AddStringToObject(scope, "name", "jetway");
        cJSON_AddStringToObject(scope, "version", JW_VERSION);
    }
    cJSON *arr = cJSON_AddArrayToObject(ss, "spans");
    if (!arr) {
        cJSON_Delete(root);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        cJSON *o = encode_span(&spans[i]);
        if (!o) {
            cJSON_Delete(root);
            return NULL;
        }
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

static size_t
discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* Exporter thread: POST one batch. Returns 0 when the collector took it. */
static int
post_batch(otlp_exporter *e, int n, long timeout_ms)
{
    char *body = otlp_encode(e->service, e->batch, n);
    if (!body) {
        log_debug("otlp: cannot encode %d spans: out of memory", n);
        return -1;
    }
    e->cd->easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
    e->cd->easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    e->cd->easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    CURLcode rc = e->cd->easy_perform(e->curl);
    long status = 0;
    if (rc == CURLE_OK)
        e->cd->easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
    free(body);
    if (rc != CURLE_OK) {
        log_debug("otlp: POST %s failed: %s", e->endpoint_log, e->cd->easy_strerror(rc));
        return -1;
    }
    if (status < 200 || status > 299) {
        log_debug("otlp: POST %s: HTTP %ld", e->endpoint_log, status);
        return -1;
    }
    return 0;
}

/* Under mu: move up to batch_max spans from the ring into e->batch. */
static int
take_batch(otlp_exporter *e)
{
    int n = e->count < e->batch_max ? e->count : e->batch_max;
    for (int i = 0; i < n; i++) {
        e->batch[i] = e->ring[e->head];
        e->head = (e->head + 1) % e->cap;
    }
    e->count -= n;
    return n;
}

/* Called with mu held; returns with mu held. */
static void
export_one(otlp_exporter *e, long timeout_ms)
{
    int n = take_batch(e);
    pthread_mutex_unlock(&e->mu);
    if (post_batch(e, n, timeout_ms) == 0) {
        atomic_fetch_add(&stats.spans_exported, (uint_fast64_t)n);
    } else {
        atomic_fetch_add(&stats.span_export_failures, 1);
        atomic_fetch_add(&stats.spans_dropped, (uint_fast64_t)n);
    }
    pthread_mutex_lock(&e->mu);
}

static void *
exporter_main(void *arg)
{
    pthread_setname_np(pthread_self(), "jw-otlp"); /* for top -H, perf, gdb */
    jw_thread_set_role(JW_ROLE_OTLP);
    otlp_exporter *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        struct timespec until;
        clock_deadline_ms(&until, e->interval_ms);
        while (!e->stop && (e->hold || e->count < e->half)) {
            if (pthread_cond_timedwait(&e->cond, &e->mu, &until) != 0)
                break; /* the interval passed */
        }
        if (e->stop)
            break;
        while (!e->stop && !e->hold && e->count > 0)
            export_one(e, OTLP_REQUEST_TIMEOUT_MS);
    }
    /* Flush, bounded in time; what cannot be sent in time is dropped. */
    int64_t deadline = mono_ms() + OTLP_STOP_FLUSH_MS;
    while (e->count > 0) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        export_one(e, left < OTLP_REQUEST_TIMEOUT_MS ? (long)left : OTLP_REQUEST_TIMEOUT_MS);
    }
    if (e->count > 0) {
        log_debug("otlp: dropping %d spans at shutdown", e->count);
        atomic_fetch_add(&stats.spans_dropped, (uint_fast64_t)e->count);
        e->count = 0;
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static void
exporter_free(otlp_exporter *e)
{
    if (e->headers)
        e->cd->slist_free_all(e->headers);
    if (e->curl)
        e->cd->easy_cleanup(e->curl);
    free(e->ring);
    free(e->batch);
    free(e->endpoint);
    free(e->service);
    free(e);
}

int
otlp_start(const char *endpoint, int queue_size, int64_t interval_ms, const char *service_name,
           otlp_exporter **out)
{
    *out = NULL;
    if (!endpoint || !*endpoint || queue_size <= 0 || interval_ms <= 0) {
        log_error("otlp: bad exporter settings (endpoint, queue_size > 0, interval > 0)");
        return -1;
    }
    char err[512];
    const curl_dyn *cd = curl_dyn_load(err, sizeof(err));
    if (!cd) {
        log_error("otlp: %s", err);
        return -1;
    }
    if (cd->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("otlp: libcurl initialisation failed");
        return -1;
    }
    otlp_exporter *e = calloc(1, sizeof(*e));
    if (!e) {
        cd->global_cleanup();
        return -1;
    }
    e->cd = cd;
    e->cap = queue_size;
    e->half = queue_size / 2 > 0 ? queue_size / 2 : 1;
    e->batch_max = queue_size < OTLP_BATCH_MAX ? queue_size : OTLP_BATCH_MAX;
    e->interval_ms = interval_ms;
    e->endpoint = strdup(endpoint);
    redact_url(endpoint, e->endpoint_log, sizeof(e->endpoint_log));
    e->service = strdup(service_name ? service_name : "jetway");
    e->ring = calloc((size_t)e->cap, sizeof(trace_span));
    e->batch = calloc((size_t)e->batch_max, sizeof(trace_span));
    e->curl = e->cd->easy_init();
    e->headers = e->cd->slist_append(NULL, "Content-Type: application/json");
    if (!e->endpoint || !e->service || !e->ring || !e->batch || !e->curl || !e->headers) {
        log_error("otlp: out of memory");
        exporter_free(e);
        cd->global_cleanup();
        return -1;
    }
    e->cd->easy_setopt(e->curl, CURLOPT_URL, e->endpoint);
    e->cd->easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->headers);
    e->cd->easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM from a non-main thread */
    e->cd->easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)OTLP_CONNECT_TIMEOUT_MS);
    e->cd->easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, discard_body);
    e->cd->easy_setopt(e->curl, CURLOPT_USERAGENT, "jetway/" JW_VERSION);

    pthread_mutex_init(&e->mu, NULL);
    if (clock_cond_init_mono(&e->cond) != 0) {
        log_error("otlp: cannot create the exporter's condition variable");
        pthread_mutex_destroy(&e->mu);
        exporter_free(e);
        cd->global_cleanup();
        return -1;
    }
    if (pthread_create(&e->thread, NULL, exporter_main, e) != 0) {
        log_error("otlp: cannot start the exporter thread");
        pthread_cond_destroy(&e->cond);
        pthread_mutex_destroy(&e->mu);
        exporter_free(e);
        cd->global_cleanup();
        return -1;
    }
    log_info("otlp: exporting spans to %s every %lld ms (queue %d)", e->endpoint_log,
             (long long)interval_ms, queue_size);
    *out = e;
    return 0;
}

void
otlp_submit(otlp_exporter *e, const trace_span *span)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    if (e->count == e->cap || e->stop) {
        pthread_mutex_unlock(&e->mu);
        atomic_fetch_add_explicit(&stats.spans_dropped, 1, memory_order_relaxed);
        return;
    }
    e->ring[(e->head + e->count) % e->cap] = *span;
    e->count++;
    int wake = e->count == e->half;
    pthread_mutex_unlock(&e->mu);
    if (wake)
        pthread_cond_signal(&e->cond);
}

void
otlp_hold(otlp_exporter *e, int hold)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->hold = hold;
    pthread_mutex_unlock(&e->mu);
    pthread_cond_signal(&e->cond);
}

void
otlp_stop(otlp_exporter *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_mutex_unlock(&e->mu);
    pthread_cond_signal(&e->cond);
    pthread_join(e->thread, NULL);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->mu);
    const curl_dyn *cd = e->cd;
    exporter_free(e);
    cd->global_cleanup();
}
