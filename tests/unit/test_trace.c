/*
 * test_trace.c -- W3C traceparent parse/format round trips, every class of
 * malformed header, tracestate carriage, id generation, spans, and the
 * OTLP JSON encoding of spans.
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

#include "obs/obs.h"

#define TID  "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID  "00f067aa0ba902b7"
#define GOOD "00-" TID "-" SID "-01"

static void
test_round_trip(void **state)
{
    (void)state;
    trace_ctx c;
    assert_int_equal(trace_parse(GOOD, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", &c), 0);
    assert_int_equal(c.trace_id[0], 0x4b);
    assert_int_equal(c.trace_id[15], 0x36);
    assert_int_equal(c.span_id[0], 0x00);
    assert_int_equal(c.span_id[7], 0xb7);
    assert_int_equal(c.flags, 0x01);
    assert_string_equal(c.tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    char buf[TRACE_PARENT_LEN + 1];
    assert_int_equal(trace_format(&c, buf, sizeof(buf)), 0);
    assert_string_equal(buf, GOOD);
    assert_int_equal(trace_format(&c, buf, TRACE_PARENT_LEN), -1); /* no room for NUL */

    /* unsampled and unknown flag bits survive */
    assert_int_equal(trace_parse("00-" TID "-" SID "-00", NULL, &c), 0);
    assert_int_equal(c.flags, 0);
    assert_string_equal(c.tracestate, "");
    assert_int_equal(trace_parse("00-" TID "-" SID "-fe", NULL, &c), 0);
    assert_int_equal(c.flags, 0xfe);
    trace_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, "00-" TID "-" SID "-fe");
}

static void
test_future_versions(void **state)
{
    (void)state;
    trace_ctx c;
    char buf[TRACE_PARENT_LEN + 1];
    /* a higher version with exactly the version-00 fields is read as 00 */
    assert_int_equal(trace_parse("01-" TID "-" SID "-01", NULL, &c), 0);
    trace_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, GOOD); /* we always send version 00 */
    /* ...and may carry more fields after a dash */
    assert_int_equal(trace_parse("cc-" TID "-" SID "-01-what-the-future-holds", NULL, &c), 0);
    trace_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, GOOD);
    /* but not glued on without a dash */
    assert_int_equal(trace_parse("cc-" TID "-" SID "-01what", NULL, &c), -1);
}

/* Every class of malformed traceparent is refused and clears the context. */
static void
test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "00",
        "00-" TID "-" SID "-0",                           /* too short */
        "00-" TID "-" SID "-01-",                         /* version 00 too long */
        "00-" TID "-" SID "-010",                         /* version 00 too long */
        "ff-" TID "-" SID "-01",                          /* forbidden version */
        "0g-" TID "-" SID "-01",                          /* non-hex version */
        "0A-" TID "-" SID "-01",                          /* uppercase version */
        "00_" TID "-" SID "-01",                          /* bad separator 1 */
        "00-" TID "_" SID "-01",                          /* bad separator 2 */
        "00-" TID "-" SID "_01",                          /* bad separator 3 */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", /* uppercase trace id */
        "00-" TID "-00F067AA0BA902B7-01",                 /* uppercase parent id */
        "00-" TID "-" SID "-0A",                          /* uppercase flags */
        "00-4bf92f3577b34da6a3ce929d0e0e473z-" SID "-01", /* non-hex trace id */
        "00-" TID "-00f067aa0ba902bz-01",                 /* non-hex parent id */
        "00-" TID "-" SID "-0x",                          /* non-hex flags */
        "00-00000000000000000000000000000000-" SID "-01", /* all-zero trace id */
        "00-" TID "-0000000000000000-01",                 /* all-zero parent id */
        "00-" TID "-" SID "-01 ",                         /* trailing space */
        " 00-" TID "-" SID "-01",                         /* leading space */
        "00-4bf92f3577b34da6a3ce929d0e0e47-36" SID "-01", /* misplaced dash */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        trace_ctx c;
        memset(&c, 0xaa, sizeof(c));
        if (trace_parse(bad[i], "k=v", &c) != -1) {
            print_error("accepted malformed traceparent \"%s\"\n", bad[i]);
            fail();
        }
        /* zeroed: in particular tracestate is not carried alone */
        assert_int_equal(c.trace_id[0], 0);
        assert_int_equal(c.flags, 0);
        assert_string_equal(c.tracestate, "");
    }
    trace_ctx c;
    assert_int_equal(trace_parse(NULL, "k=v", &c), -1);
}

static void
test_tracestate_bounds(void **state)
{
    (void)state;
    trace_ctx c;
    /* verbatim, whitespace included */
    assert_int_equal(trace_parse(GOOD, " a=1 , b=2 ", &c), 0);
    assert_string_equal(c.tracestate, " a=1 , b=2 ");

    /* too long: cut at the last member boundary that fits */
    char longst[700];
    size_t n = 0;
    for (int i = 0; n + 12 < sizeof(longst); i++)
        n += (size_t)snprintf(longst + n, sizeof(longst) - n, "%sk%03d=vvvvv", i ? "," : "", i);
    assert_true(strlen(longst) > TRACE_STATE_MAX);
    assert_int_equal(trace_parse(GOOD, longst, &c), 0);
    size_t got = strlen(c.tracestate);
    assert_true(got > 0 && got <= TRACE_STATE_MAX);
    assert_memory_equal(c.tracestate, longst, got);
    assert_int_equal(longst[got], ',');

    /* one member longer than the limit: dropped */
    char huge[TRACE_STATE_MAX + 20];
    memset(huge, 'x', sizeof(huge) - 1);
    huge[0] = 'k';
    huge[1] = '=';
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(trace_parse(GOOD, huge, &c), 0);
    assert_string_equal(c.tracestate, "");
}

static void
test_ids_and_hex(void **state)
{
    (void)state;
    uint8_t a[TRACE_ID_LEN], b[TRACE_ID_LEN], s1[TRACE_SPAN_LEN], s2[TRACE_SPAN_LEN];
    trace_new_trace_id(a);
    trace_new_trace_id(b);
    trace_new_span_id(s1);
    trace_new_span_id(s2);
    assert_memory_not_equal(a, b, TRACE_ID_LEN);
    assert_memory_not_equal(s1, s2, TRACE_SPAN_LEN);
    static const uint8_t zero[TRACE_ID_LEN];
    assert_memory_not_equal(a, zero, TRACE_ID_LEN);
    assert_memory_not_equal(s1, zero, TRACE_SPAN_LEN);

    char hex[2 * TRACE_ID_LEN + 1];
    const uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
    trace_hex(bytes, 4, hex);
    assert_string_equal(hex, "000fa0ff");

    /* generated ids format into a traceparent that parses back */
    trace_ctx c = {0}, back;
    memcpy(c.trace_id, a, TRACE_ID_LEN);
    memcpy(c.span_id, s1, TRACE_SPAN_LEN);
    c.flags = 1;
    char tp[TRACE_PARENT_LEN + 1];
    trace_format(&c, tp, sizeof(tp));
    assert_int_equal(trace_parse(tp, NULL, &back), 0);
    assert_memory_equal(back.trace_id, a, TRACE_ID_LEN);
    assert_memory_equal(back.span_id, s1, TRACE_SPAN_LEN);
}

static void
test_spans(void **state)
{
    (void)state;
    trace_span root, child;
    trace_span_start(&root, "orders process", TRACE_KIND_CONSUMER, NULL);
    static const uint8_t zero[TRACE_ID_LEN];
    assert_memory_equal(root.parent_span_id, zero, TRACE_SPAN_LEN);
    assert_int_equal(root.flags, TRACE_FLAG_SAMPLED);
    assert_int_equal(root.sequence, -1);
    assert_true(root.start_ns > 0);

    trace_ctx ctx;
    trace_span_context(&root, "a=b", &ctx);
    assert_string_equal(ctx.tracestate, "a=b");
    trace_span_start(&child, "orders.created send", TRACE_KIND_PRODUCER, &ctx);
    assert_memory_equal(child.trace_id, root.trace_id, TRACE_ID_LEN);
    assert_memory_equal(child.parent_span_id, root.span_id, TRACE_SPAN_LEN);
    assert_memory_not_equal(child.span_id, root.span_id, TRACE_SPAN_LEN);
    trace_span_end(&child, TRACE_STATUS_ERROR, "boom");
    assert_true(child.end_ns >= child.start_ns);
    assert_int_equal(child.status, TRACE_STATUS_ERROR);
    assert_string_equal(child.status_message, "boom");
}

static const cJSON *
attr(const cJSON *span, const char *key)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(span, "attributes"))
    {
        if (strcmp(cJSON_GetObjectItem(a, "key")->valuestring, key) == 0)
            return cJSON_GetObjectItem(a, "value");
    }
    return NULL;
}

static void
test_otlp_encode(void **state)
{
    (void)state;
    trace_span s[2];
    trace_ctx parent;
    assert_int_equal(trace_parse(GOOD, NULL, &parent), 0);
    trace_span_start(&s[0], "ORDERS process", TRACE_KIND_CONSUMER, &parent);
    snprintf(s[0].destination, sizeof(s[0].destination), "orders.created");
    snprintf(s[0].stream, sizeof(s[0].stream), "ORDERS");
    snprintf(s[0].consumer, sizeof(s[0].consumer), "orders");
    snprintf(s[0].result, sizeof(s[0].result), "ack");
    s[0].sequence = 42;
    s[0].deliveries = 1;
    s[0].start_ns = 1700000000123456789LL;
    s[0].end_ns = 1700000000223456789LL;
    s[0].status = TRACE_STATUS_OK;
    trace_span_start(&s[1], "root", TRACE_KIND_SERVER, NULL);
    trace_span_end(&s[1], TRACE_STATUS_ERROR, "bad \"input\"");

    char *text = otlp_encode("order-svc", s, 2);
    assert_non_null(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    const cJSON *rs = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "resourceSpans"), 0);
    const cJSON *ra = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(rs, "resource"), "attributes"), 0);
    assert_string_equal(cJSON_GetObjectItem(ra, "key")->valuestring, "service.name");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(ra, "value"), "stringValue")->valuestring,
        "order-svc");
    const cJSON *ss = cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "scopeSpans"), 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(ss, "scope"), "name")->valuestring,
                        "jetway");
    const cJSON *spans = cJSON_GetObjectItem(ss, "spans");
    assert_int_equal(cJSON_GetArraySize(spans), 2);

    const cJSON *a = cJSON_GetArrayItem(spans, 0);
    assert_string_equal(cJSON_GetObjectItem(a, "traceId")->valuestring, TID);
    assert_string_equal(cJSON_GetObjectItem(a, "parentSpanId")->valuestring, SID);
    assert_int_equal(strlen(cJSON_GetObjectItem(a, "spanId")->valuestring), 16);
    assert_string_equal(cJSON_GetObjectItem(a, "name")->valuestring, "ORDERS process");
    assert_int_equal(cJSON_GetObjectItem(a, "kind")->valueint, 5);
    assert_string_equal(cJSON_GetObjectItem(a, "startTimeUnixNano")->valuestring,
                        "1700000000123456789");
    assert_string_equal(cJSON_GetObjectItem(a, "endTimeUnixNano")->valuestring,
                        "1700000000223456789");
    assert_string_equal(
        cJSON_GetObjectItem(attr(a, "messaging.system"), "stringValue")->valuestring, "nats");
    assert_string_equal(
        cJSON_GetObjectItem(attr(a, "messaging.destination.name"), "stringValue")->valuestring,
        "orders.created");
    assert_string_equal(
        cJSON_GetObjectItem(attr(a, "messaging.nats.stream"), "stringValue")->valuestring,
        "ORDERS");
    assert_string_equal(
        cJSON_GetObjectItem(attr(a, "messaging.nats.sequence"), "intValue")->valuestring, "42");
    assert_string_equal(
        cJSON_GetObjectItem(attr(a, "messaging.nats.deliveries"), "intValue")->valuestring, "1");
    assert_string_equal(cJSON_GetObjectItem(attr(a, "jetway.consumer"), "stringValue")->valuestring,
                        "orders");
    assert_string_equal(cJSON_GetObjectItem(attr(a, "jetway.result"), "stringValue")->valuestring,
                        "ack");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "status"), "code")->valueint, 1);

    const cJSON *b = cJSON_GetArrayItem(spans, 1);
    assert_null(cJSON_GetObjectItem(b, "parentSpanId")); /* a root span */
    assert_null(attr(b, "messaging.nats.sequence"));     /* unset numbers are left out */
    assert_null(attr(b, "jetway.result"));
    const cJSON *st = cJSON_GetObjectItem(b, "status");
    assert_int_equal(cJSON_GetObjectItem(st, "code")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(st, "message")->valuestring, "bad \"input\"");
    cJSON_Delete(root);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_future_versions),
        cmocka_unit_test(test_malformed),   cmocka_unit_test(test_tracestate_bounds),
        cmocka_unit_test(test_ids_and_hex), cmocka_unit_test(test_spans),
        cmocka_unit_test(test_otlp_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
