/*
 * status.c -- the live status page (see obs.h, status): its files and the
 * /status.json document.
 *
 * The page's HTML, CSS and JS are byte arrays in the binary (status_int.h).
 * /status.json is built on the HTTP thread from what /metrics reads (the
 * stats atomics, the registries under stats_lock, /proc/self) plus two
 * things only the loop knows, handed over as copies under `mu`: the
 * topology of the running generation (a JSON text the runtime renders at
 * start and after each reload) and the last reload's error. The document
 * holds counters and histogram buckets, not rates: the page derives rates
 * and windowed quantiles from two consecutive documents, so the server
 * keeps no per-client state and any number of pages can watch.
 */
#include "obs.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "jetway/plugin.h"
#include "status_int.h"

/*
 * Written by the loop (status_set_topology, status_note_reload), read by the
 * HTTP thread; both copy under mu, so neither waits for the other's work.
 */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *topology;     /* malloc'd JSON text, or NULL */
static char *reload_error; /* malloc'd; NULL after a successful reload */

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void
status_set_topology(const char *json)
{
    char *copy = dup_or_null(json);
    pthread_mutex_lock(&mu);
    char *old = topology;
    topology = copy;
    pthread_mutex_unlock(&mu);
    free(old);
}

void
status_note_reload(int ok, const char *error)
{
    char *copy = ok ? NULL : strdup(error && *error ? error : "failed");
    pthread_mutex_lock(&mu);
    char *old = reload_error;
    reload_error = copy;
    pthread_mutex_unlock(&mu);
    free(old);
}

void
status_reset(void)
{
    status_set_topology(NULL);
    status_note_reload(1, NULL);
}

/* ---- files ----------------------------------------------------------------- */

/*
 * The page loads only its own files and its own JSON: a strict policy keeps
 * it so (and makes injected markup inert, should a name ever slip through
 * the page's escaping).
 */
static const char page_headers[] =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n";

static const char *
asset_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    return "application/octet-stream";
}

int
status_serve_file(const char *name, http_resp *r)
{
    for (size_t i = 0; i < status_nassets; i++) {
        const status_asset *a = &status_assets[i];
        if (strcmp(a->name, name) != 0)
            continue;
        r->status = 200;
        r->ctype = asset_type(name);
        r->headers = page_headers;
        r->body = malloc(a->len + 1);
        r->len = r->body ? a->len : 0;
        if (r->body) {
            memcpy(r->body, a->data, a->len);
            r->body[a->len] = '\0';
        }
        return 1;
    }
    return 0;
}

/* ---- /status.json ------------------------------------------------------------ */

static const char *const result_keys[STATS_NRESULTS] = {
    "ack", "retry", "reject", "duplicate", "dead_letter", "busy",
};

static const char *const dedup_keys[STATS_NDEDUP] = {
    "claimed", "duplicate", "busy", "lease_lost", "error", "unclaimed",
};

static double
ldu(atomic_uint_fast64_t *v)
{
    return (double)atomic_load_explicit(v, memory_order_relaxed);
}

static double
ldi(atomic_int_fast64_t *v)
{
    return (double)atomic_load_explicit(v, memory_order_relaxed);
}

static int
ldn(atomic_int *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* Per-bucket (not cumulative) counts, the last one +Inf; count = their sum. */
static cJSON *
hist_json(stats_hist *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *b = cJSON_AddArrayToObject(o, "buckets");
    double count = 0;
    for (int i = 0; i <= STATS_NBUCKETS; i++) {
        double n = ldu(&h->buckets[i]);
        count += n;
        cJSON_AddItemToArray(b, cJSON_CreateNumber(n));
    }
    cJSON_AddNumberToObject(o, "count", count);
    cJSON_AddNumberToObject(o, "sum_s", ldu(&h->sum_us) / 1e6);
    return o;
}

static cJSON *
consumer_json(stats_consumer *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON_AddStringToObject(o, "stream", c->stream);
    cJSON_AddStringToObject(o, "handler", c->handler);
    cJSON_AddBoolToObject(o, "active", c->active);
    cJSON_AddBoolToObject(o, "bound", c->active && ldn(&c->bound) == 1);
    cJSON_AddNumberToObject(o, "received", ldu(&c->received));
    cJSON_AddNumberToObject(o, "pulls", ldu(&c->pulls));
    cJSON *res = cJSON_AddObjectToObject(o, "settled");
    for (int i = 0; i < STATS_NRESULTS; i++)
        cJSON_AddNumberToObject(res, result_keys[i], ldu(&c->results[i]));
    cJSON *dd = cJSON_AddObjectToObject(o, "dedup");
    for (int i = 0; i < STATS_NDEDUP; i++)
        cJSON_AddNumberToObject(dd, dedup_keys[i], ldu(&c->dedup[i]));
    cJSON_AddNumberToObject(o, "publishes", ldu(&c->publishes));
    cJSON_AddNumberToObject(o, "publish_errors", ldu(&c->publish_errors));
    cJSON_AddNumberToObject(o, "in_flight", ldi(&c->in_flight));
    if (c->active) { /* a removed consumer's server figures are stale: left out */
        cJSON_AddNumberToObject(o, "pending", ldi(&c->server_pending));
        cJSON_AddNumberToObject(o, "ack_pending", ldi(&c->server_ack_pending));
        cJSON_AddNumberToObject(o, "redelivered", ldi(&c->server_redelivered));
    }
    cJSON_AddItemToObject(o, "handler_seconds", hist_json(&c->handler_seconds));
    return o;
}

static void
add_process(cJSON *doc)
{
    proc_self ps;
    proc_self_read(&ps);
    cJSON *p = cJSON_AddObjectToObject(doc, "process");
    cJSON_AddNumberToObject(p, "pid", (double)getpid());
    cJSON_AddNumberToObject(p, "rss_bytes", (double)ps.rss_bytes);
    cJSON_AddNumberToObject(p, "cpu_seconds", ps.cpu_seconds);
    cJSON_AddNumberToObject(p, "open_fds", (double)ps.open_fds);
    cJSON_AddNumberToObject(p, "max_fds", (double)ps.max_fds);
}

/* Prepend (the registries are newest first; the page wants declaration order). */
static void
prepend(cJSON *arr, cJSON *item)
{
    if (item && !cJSON_InsertItemInArray(arr, 0, item))
        cJSON_Delete(item);
}

static cJSON *
status_document(const char *service, http_ready_fn ready, void *ud)
{
    /* Readiness first: the callback takes stats_lock itself. */
    char reason[256] = "";
    int ok = ready(ud, reason, sizeof(reason));

    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return NULL;
    cJSON_AddStringToObject(doc, "service", service ? service : "");
    cJSON_AddStringToObject(doc, "version", JW_VERSION);
    char abi[16];
    snprintf(abi, sizeof(abi), "%u.%u", JW_ABI_MAJOR, JW_ABI_MINOR);
    cJSON_AddStringToObject(doc, "abi", abi);
    int64_t now_ms = clock_real_ns() / 1000000;
    cJSON_AddNumberToObject(doc, "now_ms", (double)now_ms);
    cJSON_AddNumberToObject(doc, "start_ts", (double)stats.start_ts);
    cJSON_AddBoolToObject(doc, "ready", ok);
    cJSON_AddStringToObject(doc, "reason", ok ? "" : (reason[0] ? reason : "unknown"));
    cJSON_AddBoolToObject(doc, "draining", ldn(&stats.draining));
    int64_t hb = atomic_load(&stats.loop_heartbeat_ms);
    cJSON_AddNumberToObject(doc, "loop_age_ms",
                            hb > 0 ? (double)((int64_t)(clock_mono_ns() / 1000000) - hb) : -1);

    cJSON *n = cJSON_AddObjectToObject(doc, "nats");
    cJSON_AddBoolToObject(n, "connected", ldn(&stats.nats_connected));
    cJSON_AddNumberToObject(n, "reconnects", ldu(&stats.nats_reconnects));
    cJSON *rd = cJSON_AddObjectToObject(doc, "redis");
    cJSON_AddBoolToObject(rd, "needed", ldn(&stats.needs_redis));
    cJSON_AddBoolToObject(rd, "connected", ldn(&stats.redis_connected));
    cJSON_AddNumberToObject(rd, "reconnects", ldu(&stats.redis_reconnects));
    cJSON_AddNumberToObject(rd, "timeouts", ldu(&stats.redis_timeouts));

    cJSON *rl = cJSON_AddObjectToObject(doc, "reload");
    cJSON_AddNumberToObject(rl, "ok", ldu(&stats.reloads_ok));
    cJSON_AddNumberToObject(rl, "failed", ldu(&stats.reloads_failed));
    cJSON_AddNumberToObject(rl, "last_ts", ldi(&stats.last_reload_ts));
    cJSON_AddBoolToObject(rl, "last_ok", ldn(&stats.last_reload_ok));

    pthread_mutex_lock(&mu);
    cJSON *topo = topology ? cJSON_Parse(topology) : NULL;
    if (reload_error)
        cJSON_AddStringToObject(rl, "error", reload_error);
    pthread_mutex_unlock(&mu);
    cJSON_AddItemToObject(doc, "topology", topo ? topo : cJSON_CreateNull());

    add_process(doc);

    cJSON *bounds = cJSON_AddArrayToObject(doc, "bucket_bounds_s");
    for (int i = 0; i < STATS_NBUCKETS; i++)
        cJSON_AddItemToArray(bounds, cJSON_CreateNumber(stats_bucket_bounds[i]));

    cJSON *cons = cJSON_AddArrayToObject(doc, "consumers");
    cJSON *plugs = cJSON_AddArrayToObject(doc, "plugins");
    stats_lock();
    cJSON_AddStringToObject(rl, "digest", stats.config_digest);
    for (stats_consumer *c = stats_consumers(); c; c = c->next)
        prepend(cons, consumer_json(c));
    for (stats_plugin *p = stats_plugins(); p; p = p->next) {
        if (!p->active)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "instance", p->name);
        cJSON_AddStringToObject(o, "plugin", p->plugin);
        cJSON_AddStringToObject(o, "version", p->version);
        cJSON_AddStringToObject(o, "abi", p->abi);
        prepend(plugs, o);
    }
    stats_unlock();
    return doc;
}

void
status_serve_json(const char *service, http_ready_fn ready, void *ud, http_resp *r)
{
    cJSON *doc = status_document(service, ready, ud);
    char *body = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!body) {
        http_resp_text(r, 500, "out of memory\n");
        return;
    }
    r->status = 200;
    r->ctype = "application/json";
    r->headers = "X-Content-Type-Options: nosniff\r\n";
    r->body = body; /* cJSON allocates with malloc by default */
    r->len = strlen(body);
}
