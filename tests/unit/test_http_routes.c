/*
 * test_http_routes.c -- what the operator endpoint answers: status codes,
 * content types and bodies of /metrics, /healthz and /readyz, 404 and 405,
 * and the default readiness from the stats (no sockets: http_route only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_healthz),
        cmocka_unit_test(test_readyz),
        cmocka_unit_test(test_default_readiness),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
