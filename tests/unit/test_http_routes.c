/*
 * test_http_routes.c -- what the operator endpoint answers: status codes,
 * content types and bodies of /metrics, /healthz and /readyz, the status
 * page's files and /status.json, 404 and 405, and the default readiness
 * from the stats (no sockets: http_route only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "base/base.h"
#include "obs/obs.h"

/* The heartbeat's clock: CLOCK_MONOTONIC in ms. */
static int64_t
now_ms(void)
{
    return (int64_t)(clock_mono_ns() / 1000000);
}

/* Route one request; the caller frees r->body. */
static http_resp
route(const char *method, const char *target, http_ready_fn ready, void *ud)
{
    http_resp r = {0};
    http_route(method, target, "svc", ready, ud, &r);
    assert_non_null(r.body);
    assert_int_equal(r.len, strlen(r.body));
    return r;
}

/* A parsed JSON body's string member, or NULL. */
static const char *
json_str(cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
ready_no(void *ud, char *reason, size_t reasonlen)
{
    snprintf(reason, reasonlen, "%s", (const char *)ud);
    return 0;
}

static int
ready_yes(void *ud, char *reason, size_t reasonlen)
{
    (void)ud;
    (void)reason;
    (void)reasonlen;
    return 1;
}

static void
test_not_found_and_method(void **state)
{
    (void)state;
    http_resp r = route("GET", "/nope", ready_yes, NULL);
    assert_int_equal(r.status, 404);
    free(r.body);
    r = route("GET", "/metrics/", ready_yes, NULL);
    assert_int_equal(r.status, 404);
    free(r.body);
    r = route("POST", "/metrics", ready_yes, NULL);
    assert_int_equal(r.status, 405);
    free(r.body);
    r = route("get", "/healthz", ready_yes, NULL); /* methods are case-sensitive */
    assert_int_equal(r.status, 405);
    free(r.body);
}

/* The control hook's stand-in: records the last call. */
static char ctl_last[128];
static int ctl_last_pause = -1;

static int
ctl_fake(const char *consumer, int pause, char *msg, size_t msglen)
{
    snprintf(ctl_last, sizeof(ctl_last), "%s", consumer);
    ctl_last_pause = pause;
    if (strcmp(consumer, "worker") != 0) {
        snprintf(msg, msglen, "no consumer named '%s' is running", consumer);
        return -1;
    }
    snprintf(msg, msglen, "consumer %s %s", consumer, pause ? "paused" : "resumed");
    return 0;
}

/* POST /consumers/NAME/pause|resume: only POST, only on a loopback listener,
 * only with a hook, only well-formed names; the hook's answer is the body. */
static void
test_control(void **state)
{
    (void)state;
    http_set_control(NULL);
    http_set_control_allowed(1);
    http_resp r = route("POST", "/consumers/worker/pause", ready_yes, NULL);
    assert_int_equal(r.status, 404); /* no hook */
    free(r.body);
    http_set_control(ctl_fake);
    r = route("POST", "/consumers/worker/pause", ready_yes, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok consumer worker paused\n");
    assert_string_equal(ctl_last, "worker");
    assert_int_equal(ctl_last_pause, 1);
    free(r.body);
    r = route("POST", "/consumers/worker/resume", ready_yes, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(ctl_last_pause, 0);
    free(r.body);
    r = route("POST", "/consumers/nosuch/pause", ready_yes, NULL);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "no consumer named 'nosuch'"));
    free(r.body);
    ctl_last_pause = -1;
    r = route("GET", "/consumers/worker/pause", ready_yes, NULL);
    assert_int_equal(r.status, 405);
    assert_int_equal(ctl_last_pause, -1); /* not called */
    free(r.body);
    const char *bad[] = {"/consumers/worker/stop",    "/consumers//pause",
                         "/consumers/a.b/pause",      "/consumers/worker",
                         "/consumers/worker/pause/x", "/consumers/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = route("POST", bad[i], ready_yes, NULL);
        assert_int_equal(r.status, 404);
        free(r.body);
    }
    assert_int_equal(ctl_last_pause, -1);
    http_set_control_allowed(0); /* a listener beyond loopback */
    r = route("POST", "/consumers/worker/pause", ready_yes, NULL);
    assert_int_equal(r.status, 403);
    assert_int_equal(ctl_last_pause, -1);
    free(r.body);
    http_set_control(NULL);
}

static void
test_healthz(void **state)
{
    (void)state;
    atomic_store(&stats.loop_heartbeat_ms, now_ms());
    http_resp r = route("GET", "/healthz", ready_yes, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    free(r.body);
    r = route("HEAD", "/healthz", ready_yes, NULL); /* same answer; the transport drops the body */
    assert_int_equal(r.status, 200);
    free(r.body);

    atomic_store(&stats.loop_heartbeat_ms, now_ms() - HTTP_HEALTH_STALE_MS - 1000);
    r = route("GET", "/healthz", ready_yes, NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.ctype, "application/json");
    cJSON *o = cJSON_Parse(r.body);
    assert_non_null(o);
    assert_string_equal(json_str(o, "status"), "stalled");
    const cJSON *since = cJSON_GetObjectItemCaseSensitive(o, "since_ms");
    assert_true(cJSON_IsNumber(since) && since->valuedouble >= HTTP_HEALTH_STALE_MS + 1000);
    cJSON_Delete(o);
    free(r.body);

    atomic_store(&stats.loop_heartbeat_ms, 0); /* never ticked */
    r = route("GET", "/healthz", ready_yes, NULL);
    assert_int_equal(r.status, 503);
    o = cJSON_Parse(r.body);
    assert_non_null(o);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(o, "since_ms")->valuedouble, -1);
    cJSON_Delete(o);
    free(r.body);
}

static void
test_readyz(void **state)
{
    (void)state;
    http_resp r = route("GET", "/readyz", ready_yes, NULL);
    assert_int_equal(r.status, 200);
    cJSON *o = cJSON_Parse(r.body);
    assert_string_equal(json_str(o, "status"), "ready");
    assert_null(json_str(o, "reason"));
    cJSON_Delete(o);
    free(r.body);

    char why[] = "consumer x not bound";
    r = route("GET", "/readyz", ready_no, why);
    assert_int_equal(r.status, 503);
    o = cJSON_Parse(r.body);
    assert_string_equal(json_str(o, "status"), "not ready");
    assert_string_equal(json_str(o, "reason"), "consumer x not bound");
    cJSON_Delete(o);
    free(r.body);
}

/* The default readiness answers `status` with `why` in the body. */
static void
expect_default_ready(int status, const char *why)
{
    http_resp r = route("GET", "/readyz", NULL, NULL);
    assert_int_equal(r.status, status);
    if (why)
        assert_non_null(strstr(r.body, why));
    free(r.body);
}

/* NULL readiness falls back to the stats: NATS, drain, Redis, bindings. */
static void
test_default_readiness(void **state)
{
    (void)state;
    atomic_store(&stats.nats_connected, 0);
    expect_default_ready(503, "nats disconnected");

    atomic_store(&stats.nats_connected, 1);
    atomic_store(&stats.needs_redis, 1);
    atomic_store(&stats.redis_connected, 0);
    expect_default_ready(503, "redis unreachable");

    atomic_store(&stats.redis_connected, 1);
    stats_consumer *c = stats_consumer_get("orders", "ORDERS", "order");
    atomic_store(&c->bound, 0);
    expect_default_ready(503, "consumer orders not bound");

    atomic_store(&c->bound, 1);
    expect_default_ready(200, "\"ready\"");

    atomic_store(&stats.draining, 1);
    expect_default_ready(503, "draining");
    atomic_store(&stats.draining, 0);
}

static void
test_metrics(void **state)
{
    (void)state;
    stats_consumer *c = stats_consumer_get("orders", "ORDERS", "order");
    atomic_store(&c->received, 7);
    atomic_store(&c->pulls, 2);
    http_resp r = route("GET", "/metrics", ready_yes, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "jetway_messages_received_total{service=\"svc\",consumer="
                                   "\"orders\",stream=\"ORDERS\",handler=\"order\"} 7\n"));
    assert_non_null(strstr(r.body, "jetway_consumer_pulls_total{service=\"svc\",consumer="
                                   "\"orders\",stream=\"ORDERS\",handler=\"order\"} 2\n"));
    free(r.body);
}

/* A member by path ("a.b.c"), or NULL. */
static const cJSON *
at(const cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    return o;
}

static double
num_at(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    if (!cJSON_IsNumber(v)) {
        print_error("%s: not a number\n", path);
        fail();
    }
    return v->valuedouble;
}

static void
test_status_files(void **state)
{
    (void)state;
    http_resp r = route("GET", "/", ready_yes, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/html; charset=utf-8");
    assert_non_null(strstr(r.body, "<script src=\"status.js\""));
    assert_non_null(r.headers);
    assert_non_null(
        strstr(r.headers, "Content-Security-Policy: default-src 'none'; script-src 'self'"));
    assert_non_null(strstr(r.headers, "X-Content-Type-Options: nosniff\r\n"));
    free(r.body);
    r = route("HEAD", "/status.js", ready_yes, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/javascript; charset=utf-8");
    assert_non_null(strstr(r.body, "fetch('status.json'"));
    free(r.body);
    r = route("GET", "/status.css", ready_yes, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/css; charset=utf-8");
    free(r.body);
    /* Only the three names route: no other file, no directory walk. */
    const char *bad[] = {
        "/index.html", "/status.js/", "/status.jso", "//status.js", "/../status.js", "/status", "",
        "status.js",   "/STATUS.JSON"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = route("GET", bad[i], ready_yes, NULL);
        if (r.status != 404) {
            print_error("%s: %d, want 404\n", bad[i], r.status);
            fail();
        }
        assert_null(r.headers);
        free(r.body);
    }
    const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "get"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        r = route(methods[i], "/status.json", ready_yes, NULL);
        assert_int_equal(r.status, 405);
        free(r.body);
    }
}

static void
test_status_json(void **state)
{
    (void)state;
    stats_shutdown();
    stats_consumer *c = stats_consumer_get("orders", "ORDERS", "order");
    atomic_store(&c->bound, 1);
    atomic_store(&c->received, 70);
    atomic_store(&c->publishes, 30);
    atomic_store(&c->results[STATS_RESULT_ACK], 60);
    atomic_store(&c->results[STATS_RESULT_REJECT], 2);
    atomic_store(&c->dedup[STATS_DEDUP_DUPLICATE], 4);
    atomic_store(&c->server_pending, 12);
    atomic_store(&c->server_ack_pending, 3);
    stats_hist_observe_us(&c->handler_seconds, 50);
    stats_hist_observe_us(&c->handler_seconds, 3000);
    stats_consumer *gone = stats_consumer_get("old", "S", "h");
    atomic_store(&gone->server_pending, 99);
    stats_lock();
    gone->active = 0;
    snprintf(stats.config_digest, sizeof(stats.config_digest), "%s", "d1g3st");
    stats_unlock();
    stats_plugin *p = stats_plugin_get("order");
    stats_lock();
    snprintf(p->plugin, sizeof(p->plugin), "order");
    snprintf(p->version, sizeof(p->version), "2.0.1");
    snprintf(p->abi, sizeof(p->abi), "1.1");
    stats_unlock();
    atomic_store(&stats.nats_connected, 1);
    atomic_store(&stats.redis_connected, 0);
    atomic_store(&stats.needs_redis, 1);
    atomic_store(&stats.reloads_failed, 1);
    status_set_topology("{\"consumers\":[{\"name\":\"orders\",\"dead_letter\":\"dlq.orders\"}]}");
    status_note_reload(0, "line 3: bad \"value\"");

    char why[] = "redis unreachable";
    http_resp r = route("GET", "/status.json", ready_no, why);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "application/json");
    cJSON *d = cJSON_Parse(r.body);
    assert_non_null(d);
    assert_string_equal(json_str(d, "service"), "svc");
    assert_true(cJSON_IsFalse(at(d, "ready")));
    assert_string_equal(json_str(d, "reason"), "redis unreachable");
    assert_true(cJSON_IsTrue(at(d, "nats.connected")));
    assert_true(cJSON_IsFalse(at(d, "redis.connected")));
    assert_true(cJSON_IsTrue(at(d, "redis.needed")));
    assert_string_equal(at(d, "reload.digest")->valuestring, "d1g3st");
    assert_string_equal(at(d, "reload.error")->valuestring, "line 3: bad \"value\"");
    assert_int_equal((int)num_at(d, "reload.failed"), 1);
    assert_string_equal(at(d, "topology.consumers")->child->child->next->valuestring, "dlq.orders");
    assert_true(num_at(d, "process.rss_bytes") > 0);
    assert_int_equal(cJSON_GetArraySize(at(d, "bucket_bounds_s")), STATS_NBUCKETS);
    /* Consumers in registration order; the removed one without server gauges. */
    const cJSON *cons = at(d, "consumers");
    assert_int_equal(cJSON_GetArraySize(cons), 2);
    const cJSON *o = cJSON_GetArrayItem(cons, 0);
    assert_string_equal(json_str((cJSON *)o, "name"), "orders");
    assert_true(cJSON_IsTrue(at(o, "bound")) && cJSON_IsTrue(at(o, "active")));
    assert_int_equal((int)num_at(o, "received"), 70);
    assert_int_equal((int)num_at(o, "publishes"), 30);
    assert_int_equal((int)num_at(o, "settled.ack"), 60);
    assert_int_equal((int)num_at(o, "settled.reject"), 2);
    assert_int_equal((int)num_at(o, "dedup.duplicate"), 4);
    assert_int_equal((int)num_at(o, "pending"), 12);
    assert_int_equal((int)num_at(o, "ack_pending"), 3);
    assert_int_equal((int)num_at(o, "handler_seconds.count"), 2);
    const cJSON *b = at(o, "handler_seconds.buckets");
    assert_int_equal(cJSON_GetArraySize(b), STATS_NBUCKETS + 1);
    assert_int_equal((int)cJSON_GetArrayItem(b, 0)->valuedouble, 1); /* 50 us */
    assert_int_equal((int)cJSON_GetArrayItem(b, 5)->valuedouble, 1); /* 3 ms: le 0.005 */
    const cJSON *old = cJSON_GetArrayItem(cons, 1);
    assert_true(cJSON_IsFalse(at(old, "active")) && cJSON_IsFalse(at(old, "bound")));
    assert_null(at(old, "pending"));
    const cJSON *pl = cJSON_GetArrayItem(at(d, "plugins"), 0);
    assert_string_equal(json_str((cJSON *)pl, "version"), "2.0.1");
    cJSON_Delete(d);
    free(r.body);

    /* A successful reload clears the error; no topology is null, not absent. */
    status_note_reload(1, NULL);
    status_set_topology(NULL);
    r = route("GET", "/status.json", ready_yes, NULL);
    d = cJSON_Parse(r.body);
    assert_non_null(d);
    assert_true(cJSON_IsTrue(at(d, "ready")));
    assert_null(at(d, "reload.error"));
    assert_true(cJSON_IsNull(at(d, "topology")));
    cJSON_Delete(d);
    free(r.body);
    status_reset();
    stats_shutdown();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_healthz),
        cmocka_unit_test(test_readyz),
        cmocka_unit_test(test_default_readiness),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_status_files),
        cmocka_unit_test(test_status_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
