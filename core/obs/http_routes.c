/*
 * http_routes.c -- see http_routes.h.
 */
#include "obs.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "base/base.h"

int
http_default_ready(void *ud, char *reason, size_t reasonlen)
{
    (void)ud;
    if (!atomic_load(&stats.nats_connected)) {
        stats_lock();
        snprintf(reason, reasonlen, "nats %s",
                 stats.nats_reason[0]           ? stats.nats_reason
                 : atomic_load(&stats.starting) ? "connecting"
                                                : "disconnected");
        stats_unlock();
        return 0;
    }
    int64_t since = atomic_load(&stats.js_fail_since_ms);
    int64_t limit = atomic_load(&stats.js_timeout_ms);
    int64_t now = (int64_t)(clock_mono_ns() / 1000000);
    if (since > 0 && limit > 0 && now - since >= limit) {
        stats_lock();
        snprintf(reason, reasonlen, "jetstream unavailable: %s (for %llds)", stats.js_error,
                 (long long)((now - since) / 1000));
        stats_unlock();
        return 0;
    }
    if (atomic_load(&stats.draining)) {
        snprintf(reason, reasonlen, "draining");
        return 0;
    }
    if (atomic_load(&stats.needs_redis) && atomic_load(&stats.redis_refused)) {
        stats_lock();
        snprintf(reason, reasonlen, "redis refused: %s", stats.redis_refusal);
        stats_unlock();
        return 0;
    }
    if (atomic_load(&stats.needs_redis) && !atomic_load(&stats.redis_connected)) {
        stats_lock();
        snprintf(reason, reasonlen, "redis %s",
                 stats.redis_reason[0] ? stats.redis_reason : "unreachable");
        stats_unlock();
        return 0;
    }
    if (atomic_load(&stats.starting)) {
        snprintf(reason, reasonlen, "starting: provisioning and loading plugins");
        return 0;
    }
    int ready = 1;
    stats_lock();
    for (stats_consumer *c = stats_consumers(); c; c = c->next) {
        if (c->active && atomic_load(&c->bound) != 1) {
            snprintf(reason, reasonlen, "consumer %s not bound", c->name);
            ready = 0;
            break;
        }
    }
    /* A paused consumer takes no work: say so, and why (operator first). */
    for (stats_consumer *c = stats_consumers(); ready && c; c = c->next) {
        int p = c->active ? atomic_load(&c->paused) : 0;
        if (p) {
            snprintf(reason, reasonlen, "consumer %s paused (%s)", c->name,
                     (p & STATS_PAUSED_OPERATOR)     ? "operator"
                     : atomic_load(&c->breaker) == 2 ? "circuit breaker half-open"
                                                     : "circuit breaker open");
            ready = 0;
        }
    }
    stats_unlock();
    return ready;
}

void
http_resp_text(http_resp *r, int status, const char *text)
{
    r->status = status;
    r->ctype = "text/plain; charset=utf-8";
    r->body = strdup(text);
    r->len = r->body ? strlen(r->body) : 0;
}

static void
resp_json(http_resp *r, int status, cJSON *obj)
{
    char *body = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!body) {
        http_resp_text(r, 500, "out of memory\n");
        return;
    }
    r->status = status;
    r->ctype = "application/json";
    r->body = body; /* cJSON allocates with malloc by default */
    r->len = strlen(body);
}

static void
serve_metrics(const char *service, http_ready_fn ready, void *ud, http_resp *r)
{
    /* Readiness first: the callback takes stats_lock, which metrics_render holds. */
    char reason[256] = "";
    int ok = ready(ud, reason, sizeof(reason));
    metrics_render_buf b = {0};
    if (metrics_render(service, &b) < 0 || metrics_render_process(service, ok, reason, &b) < 0) {
        metrics_render_buf_free(&b);
        http_resp_text(r, 500, "out of memory\n");
        return;
    }
    r->status = 200;
    r->ctype = "text/plain; version=0.0.4; charset=utf-8";
    r->body = b.data;
    r->len = b.len;
}

static void
serve_healthz(http_resp *r)
{
    int64_t hb = atomic_load(&stats.loop_heartbeat_ms);
    int64_t age = hb > 0 ? (int64_t)(clock_mono_ns() / 1000000) - hb : -1;
    /* Still connecting (the loop has not run yet): alive, doing its job;
     * /readyz says what it waits for. A liveness probe must not kill it. */
    if (hb == 0 && atomic_load(&stats.starting)) {
        http_resp_text(r, 200, "starting\n");
        return;
    }
    if (age >= 0 && age < HTTP_HEALTH_STALE_MS) {
        http_resp_text(r, 200, "ok\n");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "status", "stalled");
        cJSON_AddNumberToObject(o, "since_ms", (double)age);
    }
    resp_json(r, 503, o);
}

static void
serve_readyz(http_ready_fn ready, void *ud, http_resp *r)
{
    char reason[256] = "";
    int ok = ready(ud, reason, sizeof(reason));
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "status", ok ? "ready" : "not ready");
        if (!ok)
            cJSON_AddStringToObject(o, "reason", reason[0] ? reason : "unknown");
    }
    resp_json(r, ok ? 200 : 503, o);
}

/* The control hook and whether it may be used (see obs.h). Written by the
 * loop/main thread around http_start/http_stop, read by the HTTP thread. */
static _Atomic(http_control_fn) control_fn;
static atomic_int control_allowed;

void
http_set_control(http_control_fn fn)
{
    atomic_store(&control_fn, fn);
}

void
http_set_control_allowed(int allowed)
{
    atomic_store(&control_allowed, allowed);
}

/* POST /consumers/NAME/pause|resume. NAME as the config allows it. */
static void
serve_control(const char *method, const char *target, http_resp *r)
{
    const char *name = target + strlen("/consumers/");
    const char *slash = strchr(name, '/');
    size_t n = slash ? (size_t)(slash - name) : 0;
    int pause = -1;
    if (slash && strcmp(slash, "/pause") == 0)
        pause = 1;
    else if (slash && strcmp(slash, "/resume") == 0)
        pause = 0;
    int name_ok = n > 0 && n < 128;
    for (size_t i = 0; name_ok && i < n; i++) {
        char ch = name[i];
        name_ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
    }
    http_control_fn fn = atomic_load(&control_fn);
    if (pause < 0 || !name_ok || !fn) {
        http_resp_text(r, 404, "not found\n");
        return;
    }
    if (strcmp(method, "POST") != 0) {
        http_resp_text(r, 405, "method not allowed (POST)\n");
        return;
    }
    if (!atomic_load(&control_allowed)) {
        http_resp_text(r, 403,
                       "forbidden: control is answered on a loopback listener only; use "
                       "jetway consumer pause|resume\n");
        return;
    }
    char consumer[128], msg[256];
    memcpy(consumer, name, n);
    consumer[n] = '\0';
    int rc = fn(consumer, pause, msg, sizeof(msg));
    char text[300];
    snprintf(text, sizeof(text), "%s %s\n", rc == 0 ? "ok" : "error", msg);
    http_resp_text(r, rc == 0 ? 200 : 404, text);
}

void
http_route(const char *method, const char *target, const char *service, http_ready_fn ready,
           void *ud, http_resp *r)
{
    if (strncmp(target, "/consumers/", 11) == 0)
        serve_control(method, target, r);
    else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        http_resp_text(r, 405, "method not allowed\n");
    else if (strcmp(target, "/metrics") == 0)
        serve_metrics(service, ready ? ready : http_default_ready, ud, r);
    else if (strcmp(target, "/healthz") == 0)
        serve_healthz(r);
    else if (strcmp(target, "/readyz") == 0)
        serve_readyz(ready ? ready : http_default_ready, ud, r);
    else if (strcmp(target, "/status.json") == 0)
        status_serve_json(service, ready ? ready : http_default_ready, ud, r);
    else if (strcmp(target, "/") == 0)
        status_serve_file("index.html", r);
    else if ((strcmp(target, "/status.css") == 0 || strcmp(target, "/status.js") == 0) &&
             status_serve_file(target + 1, r))
        ;
    else
        http_resp_text(r, 404, "not found\n");
}
