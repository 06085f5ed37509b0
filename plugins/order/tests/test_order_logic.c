/*
 * test_order_logic.c -- the order plugin against a fake host: request
 * validation (bad requests get an error reply and publish nothing), the
 * accept-after-PubAck rule, idempotency keys (the order id derived from
 * the key, a repeat answered without a second publish, a repeat after a
 * crash published again under the same message id), event validation (REJECT with a precise
 * reason) and what it does with each answer of the decision script.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../order.c"
#include "../../shared/tests/orders_fake_host.h"

static const jw_plugin *P;

static int
setup(void **state)
{
    char err[256] = "";
    void *ctx = NULL;

    fh_reset();
    P = jw_plugin_query(JW_ABI_MAJOR, JW_ABI_MINOR);
    assert_non_null(P);
    assert_int_equal(
        P->init(&fh_host, NULL, "{\"max_items\":3,\"state_ttl\":1000}", &ctx, err, sizeof(err)), 0);
    *state = ctx;
    return 0;
}

static int
teardown(void **state)
{
    fh_drop_unused();
    P->fini(*state);
    fh_reset();
    return 0;
}

static jw_msg
request(const char *json)
{
    jw_msg m = fh_msg("orders.create", json);
    m.reply = "_INBOX.x";
    m.stream = NULL;
    m.stream_seq = 0;
    m.deliveries = 0;
    m.dedup_key = NULL;
    m.claim_token = NULL;
    m.message_id = NULL; /* no Nats-Msg-Id header: no idempotency key */
    return m;
}

/* A request with an idempotency key in its Nats-Msg-Id header. */
static jw_msg
keyed_request(const char *json, const char *key)
{
    jw_msg m = request(json);
    m.message_id = key;
    return m;
}

#define GOOD_ORDER                                                                          \
    "{\"customer_id\":\"c-1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2},{\"sku\":\"SKU-2\"," \
    "\"qty\":1}],\"total_amount\":59.9,\"currency\":\"EUR\"}"

static void
test_accepts_valid_order(void **state)
{
    jw_msg m = request(GOOD_ORDER);
    jw_result res = fh_handle(P, *state, &m);
    const char *oid;

    assert_int_equal(res.verdict, JW_ACK);
    assert_int_equal(fh.npubs, 1);
    assert_string_equal(fh.pubs[0].subject, "orders.created.v1");
    assert_int_equal(fh.nresponses, 1);
    oid = fh_str(fh.response, "order_id");
    assert_int_equal(strlen(oid), 4 + 16);
    assert_memory_equal(oid, "ord-", 4);
    assert_string_equal(fh_str(fh.response, "status"), "accepted");
    /* the event: same id, message id derived from it, the request's data */
    assert_string_equal(fh_str(fh.pubs[0].doc, "order_id"), oid);
    assert_string_equal(fh_str(fh.pubs[0].doc, "message_id"), fh.pubs[0].msg_id);
    assert_true(strncmp(fh.pubs[0].msg_id, "orders.created:", 15) == 0);
    assert_string_equal(fh.pubs[0].msg_id + 15, oid);
    assert_string_equal(fh_str(fh.pubs[0].doc, "customer_id"), "c-1");
    assert_string_equal(fh_str(fh.pubs[0].doc, "currency"), "EUR");
    assert_true(cJSON_GetObjectItem(fh.pubs[0].doc, "total_amount")->valuedouble == 59.9);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(fh.pubs[0].doc, "items")), 2);
    assert_true(strlen(fh_str(fh.pubs[0].doc, "ts")) >= 20);
    assert_int_equal(fh_counter("orders_accepted"), 1);
}

static void
test_order_ids_are_unique(void **state)
{
    char first[64];
    jw_msg m = request(GOOD_ORDER);

    fh_handle(P, *state, &m);
    snprintf(first, sizeof(first), "%s", fh_str(fh.response, "order_id"));
    fh_handle(P, *state, &m);
    assert_int_equal(fh.npubs, 2);
    assert_string_not_equal(first, fh_str(fh.response, "order_id"));
}

static void
test_rejects_bad_requests(void **state)
{
    static const struct {
        const char *json, *error;
    } cases[] = {
        {"not json", "request is not valid JSON"},
        {"[1]", "request must be a JSON object"},
        {"{\"items\":[{\"sku\":\"A\",\"qty\":1}],\"total_amount\":1,\"currency\":\"EUR\"}",
         "customer_id: missing"},
        {"{\"customer_id\":7,\"items\":[{\"sku\":\"A\",\"qty\":1}],\"total_amount\":1,"
         "\"currency\":\"EUR\"}",
         "customer_id: must be a string"},
        {"{\"customer_id\":\"c\",\"total_amount\":1,\"currency\":\"EUR\"}", "items: missing"},
        {"{\"customer_id\":\"c\",\"items\":{},\"total_amount\":1,\"currency\":\"EUR\"}",
         "items: must be an array"},
        {"{\"customer_id\":\"c\",\"items\":[],\"total_amount\":1,\"currency\":\"EUR\"}",
         "items: must not be empty"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1},{\"sku\":\"B\",\"qty\":1},"
         "{\"sku\":\"C\",\"qty\":1},{\"sku\":\"D\",\"qty\":1}],\"total_amount\":1,"
         "\"currency\":\"EUR\"}",
         "items: more than 3 lines"},
        {"{\"customer_id\":\"c\",\"items\":[\"A\"],\"total_amount\":1,\"currency\":\"EUR\"}",
         "items[0]: must be an object"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"a b\",\"qty\":1}],\"total_amount\":1,"
         "\"currency\":\"EUR\"}",
         "items[0].sku: must be a string matching [A-Za-z0-9._:-]{1,64}"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":0}],\"total_amount\":1,"
         "\"currency\":\"EUR\"}",
         "items[0].qty: must be an integer from 1 to 1000000"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1},{\"sku\":\"B\",\"qty\":1.5}],"
         "\"total_amount\":1,\"currency\":\"EUR\"}",
         "items[1].qty: must be an integer from 1 to 1000000"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":\"2\"}],\"total_amount\":1,"
         "\"currency\":\"EUR\"}",
         "items[0].qty: must be an integer from 1 to 1000000"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1},{\"sku\":\"A\",\"qty\":1}],"
         "\"total_amount\":1,\"currency\":\"EUR\"}",
         "items[1].sku: duplicate of items[0].sku"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1}],\"currency\":\"EUR\"}",
         "total_amount: missing"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1}],\"total_amount\":0,"
         "\"currency\":\"EUR\"}",
         "total_amount: must be a number > 0"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1}],\"total_amount\":\"5\","
         "\"currency\":\"EUR\"}",
         "total_amount: must be a number > 0"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1}],\"total_amount\":5}",
         "currency: missing"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1}],\"total_amount\":5,"
         "\"currency\":\"eur\"}",
         "currency: must be three uppercase letters (ISO 4217)"},
        {"{\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1}],\"total_amount\":5,"
         "\"currency\":\"EURO\"}",
         "currency: must be three uppercase letters (ISO 4217)"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jw_msg m = request(cases[i].json);
        fh_handle(P, *state, &m);
        assert_int_equal(fh.nresponses, (int)i + 1);
        assert_string_equal(fh_str(fh.response, "error"), cases[i].error);
        assert_null(cJSON_GetObjectItem(fh.response, "order_id"));
    }
    assert_int_equal(fh.npubs, 0);
    assert_int_equal(fh_counter("orders_invalid"), (long long)(sizeof(cases) / sizeof(cases[0])));
    assert_int_equal(fh_counter("orders_accepted"), 0);
}

static void
test_publish_failure_is_unavailable(void **state)
{
    jw_msg m = request(GOOD_ORDER);

    fh.publish_rc = JW_ETIMEDOUT;
    fh_handle(P, *state, &m);
    assert_int_equal(fh.nresponses, 1);
    assert_string_equal(fh_str(fh.response, "error"), "unavailable");
    assert_null(cJSON_GetObjectItem(fh.response, "order_id"));
    assert_int_equal(fh_counter("orders_accepted"), 0);
    assert_int_equal(fh_counter("orders_unavailable"), 1);
}

#define EV(extra) \
    "{\"message_id\":\"m-1\",\"order_id\":\"ord-1\",\"ts\":\"2026-01-01T00:00:00Z\"" extra "}"

static void
test_rejects_malformed_events(void **state)
{
    static const struct {
        const char *subject, *json, *reason;
    } cases[] = {
        {"payments.completed.v1", "nope", "payments.completed.v1: payload is not a JSON object"},
        {"payments.completed.v1", "[]", "payments.completed.v1: payload is not a JSON object"},
        {"payments.failed.v1", "{\"order_id\":\"o\",\"ts\":1}",
         "payments.failed.v1: message_id: missing"},
        {"payments.failed.v1", "{\"message_id\":\"m\",\"ts\":1}",
         "payments.failed.v1: order_id: missing"},
        {"payments.failed.v1", "{\"message_id\":\"m\",\"order_id\":5,\"ts\":1}",
         "payments.failed.v1: order_id: must be a string"},
        {"payments.failed.v1", "{\"message_id\":\"m\",\"order_id\":\"a/b\",\"ts\":1}",
         "payments.failed.v1: order_id: must match [A-Za-z0-9._:-]{1,64}"},
        {"payments.failed.v1", "{\"message_id\":\"m\",\"order_id\":\"o\"}",
         "payments.failed.v1: ts: missing"},
        {"payments.failed.v1", "{\"message_id\":\"m\",\"order_id\":\"o\",\"ts\":true}",
         "payments.failed.v1: ts: must be an RFC 3339 string or UNIX milliseconds"},
        {"payments.failed.v1", EV(""), "payments.failed.v1: reason: missing"},
        {"payments.completed.v1", EV(",\"currency\":\"EUR\""),
         "payments.completed.v1: amount: must be a number > 0"},
        {"payments.completed.v1", EV(",\"amount\":3,\"currency\":\"E\""),
         "payments.completed.v1: currency: must be three uppercase letters"},
        {"inventory.rejected.v1", EV(",\"reason\":\"out_of_stock\""),
         "inventory.rejected.v1: sku: missing"},
        {"orders.created.v1", EV(""), "orders.created.v1: unexpected subject orders.created.v1"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jw_msg m = fh_msg(cases[i].subject, cases[i].json);
        jw_result res = fh_handle(P, *state, &m);
        assert_int_equal(res.verdict, JW_REJECT);
        assert_string_equal(res.reason, cases[i].reason);
    }
    assert_int_equal(fh.nevals, 0);
    assert_int_equal(fh.npubs, 0);
}

static void
test_decision_confirmed(void **state)
{
    jw_msg m = fh_msg("inventory.reserved.v1", EV(""));
    jw_result res;

    fh_queue_strings("DECIDED", "confirmed", "", NULL);
    fh_queue_int(1);
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_ACK);
    assert_int_equal(fh.nevals, 2);
    assert_ptr_equal(fh.evals[0].script, ORDER_SCRIPT_RECORD);
    assert_string_equal(fh.evals[0].keys[0], "ord:ord-1");
    assert_string_equal(fh.evals[0].args[0], "inventory");
    assert_string_equal(fh.evals[0].args[1], "reserved");
    assert_string_equal(fh.evals[0].args[2], "1000");
    assert_ptr_equal(fh.evals[1].script, ORDER_SCRIPT_PUBLISHED);
    assert_int_equal(fh.npubs, 1);
    assert_string_equal(fh.pubs[0].subject, "orders.confirmed.v1");
    assert_string_equal(fh.pubs[0].msg_id, "orders.confirmed:ord-1");
    assert_string_equal(fh_str(fh.pubs[0].doc, "message_id"), "orders.confirmed:ord-1");
    assert_string_equal(fh_str(fh.pubs[0].doc, "order_id"), "ord-1");
    assert_null(cJSON_GetObjectItem(fh.pubs[0].doc, "reason"));
    assert_int_equal(fh_counter("orders_confirmed"), 1);
}

static void
test_decision_republished_not_recounted(void **state)
{
    jw_msg m = fh_msg("payments.completed.v1", EV(",\"amount\":5,\"currency\":\"EUR\""));
    jw_result res;

    fh_queue_strings("UNPUBLISHED", "cancelled", "out_of_stock", NULL);
    fh_queue_int(1);
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_ACK);
    assert_string_equal(fh.evals[0].args[0], "payment");
    assert_string_equal(fh.evals[0].args[1], "completed");
    assert_int_equal(fh.npubs, 1);
    assert_string_equal(fh.pubs[0].subject, "orders.cancelled.v1");
    assert_string_equal(fh.pubs[0].msg_id, "orders.cancelled:ord-1");
    assert_string_equal(fh_str(fh.pubs[0].doc, "reason"), "out_of_stock");
    assert_int_equal(fh_counter("orders_cancelled"), 0);
}

static void
test_waiting_and_done_publish_nothing(void **state)
{
    jw_msg m = fh_msg("payments.failed.v1", EV(",\"reason\":\"declined\""));
    jw_result res;

    fh_queue_strings("WAITING", "", "", NULL);
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_ACK);
    fh_queue_strings("DONE", "cancelled", "payment_declined", NULL);
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_ACK);
    assert_int_equal(fh.nevals, 2);
    assert_string_equal(fh.evals[1].args[1], "failed");
    assert_int_equal(fh.npubs, 0);
}

static void
test_refund_event_ignored(void **state)
{
    jw_msg m = fh_msg("payments.refunded.v1", EV(",\"amount\":5,\"currency\":\"EUR\""));
    jw_result res = fh_handle(P, *state, &m);

    assert_int_equal(res.verdict, JW_ACK);
    assert_int_equal(fh.nevals, 0);
    assert_int_equal(fh.npubs, 0);
}

static void
test_failures_retry(void **state)
{
    jw_msg m = fh_msg("inventory.rejected.v1", EV(",\"reason\":\"out_of_stock\",\"sku\":\"A\""));
    jw_result res;

    /* Redis unreachable */
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_RETRY);
    assert_string_equal(res.reason, "redis: record inventory=rejected: unavailable");
    /* script error */
    fh_queue_error("ERR boom");
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_RETRY);
    assert_string_equal(res.reason, "redis: record inventory=rejected: ERR boom");
    /* decision publish fails: retry, and the decision is not marked published */
    fh_queue_strings("DECIDED", "cancelled", "out_of_stock", NULL);
    fh.publish_rc = JW_EIO;
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_RETRY);
    assert_string_equal(res.reason, "publish orders.cancelled.v1 failed (-5)");
    assert_int_equal(fh.nevals, 3);
    assert_int_equal(fh_counter("orders_cancelled"), 0);
}

static void
test_init_refuses_bad_config(void **state)
{
    char err[256] = "";
    void *ctx = NULL;

    (void)state;
    assert_int_equal(P->init(&fh_host, NULL, "{\"max_items\":0}", &ctx, err, sizeof(err)), -1);
    assert_string_equal(err, "max_items: must be from 1 to 10000");
    assert_null(ctx);
}

/* An instance on the ABI 1.1 fake host (kv_pipeline, publish_async). */
static void *
start11(void)
{
    char err[256] = "";
    void *ctx = NULL;

    assert_int_equal(P->init(&fh_host11, NULL, "{\"state_ttl\":1000}", &ctx, err, sizeof(err)), 0);
    return ctx;
}

/*
 * A batch on a 1.1 host: the record scripts in one round trip, in mark mode
 * (the decision is marked published as it is made: no second script), a
 * redelivery flagged so that a decided order is published again.
 */
static void
test_batch_marks_decisions(void **state)
{
    void *ctx = start11();
    jw_msg m[4] = {
        fh_msg("inventory.reserved.v1", EV("")),
        fh_msg("payments.completed.v1", EV(",\"amount\":5,\"currency\":\"EUR\"")),
        fh_msg("payments.refunded.v1", EV("")),
        fh_msg("inventory.rejected.v1", EV("")), /* no reason, no sku */
    };
    jw_result res[4];

    (void)state;
    m[1].deliveries = 2;
    fh_queue_strings("DECIDED", "confirmed", "", NULL);
    fh_queue_strings("UNPUBLISHED", "confirmed", "", NULL);
    fh_handle_batch(P, ctx, m, res, 4);
    assert_int_equal(fh.npipelines, 1);
    assert_int_equal(fh.nevals, 2);
    assert_ptr_equal(fh.evals[0].script, ORDER_SCRIPT_RECORD);
    assert_int_equal(fh.evals[0].nargs, 5);
    assert_string_equal(fh.evals[0].args[3], "1");
    assert_string_equal(fh.evals[0].args[4], "0");
    assert_string_equal(fh.evals[1].args[0], "payment");
    assert_string_equal(fh.evals[1].args[4], "1");
    assert_int_equal(res[0].verdict, JW_ACK);
    assert_int_equal(res[1].verdict, JW_ACK);
    assert_int_equal(res[2].verdict, JW_ACK);
    assert_int_equal(res[3].verdict, JW_REJECT);
    assert_int_equal(fh.npubs, 2);
    assert_true(fh.pubs[0].async && fh.pubs[1].async);
    assert_ptr_equal(fh.pubs[0].cause, &m[0]);
    assert_ptr_equal(fh.pubs[1].cause, &m[1]);
    assert_string_equal(fh.pubs[1].msg_id, "orders.confirmed:ord-1");
    assert_int_equal(fh_counter("orders_confirmed"), 1);
    /* a publish refused at once retries that message */
    fh.publish_rc = JW_EIO;
    fh_queue_strings("DECIDED", "cancelled", "out_of_stock", NULL);
    fh_handle_batch(P, ctx, m, res, 1);
    assert_int_equal(res[0].verdict, JW_RETRY);
    assert_string_equal(res[0].reason, "publish orders.cancelled.v1 failed (-5)");
    P->fini(ctx);
}

/* orders.create on a 1.1 host: publish_async, then the reply (the host holds it). */
static void
test_create_async(void **state)
{
    void *ctx = start11();
    jw_msg m = request(GOOD_ORDER);
    jw_result res = fh_handle(P, ctx, &m);

    (void)state;
    assert_int_equal(res.verdict, JW_ACK);
    assert_int_equal(fh.npubs, 1);
    assert_true(fh.pubs[0].async);
    assert_ptr_equal(fh.pubs[0].cause, &m);
    assert_int_equal(fh.nresponses, 1);
    assert_string_equal(fh_str(fh.response, "status"), "accepted");
    P->fini(ctx);
}

#define KEYED_ORDER                                                                          \
    "{\"customer_id\":\"c-1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total_amount\":9," \
    "\"currency\":\"EUR\"}"
/* The same order, its members in another order and spacing, the key in the body. */
#define KEYED_ORDER_BODY_KEY                                                                   \
    "{ \"currency\":\"EUR\", \"idempotency_key\":\"k-1\", \"total_amount\":9,\"customer_id\":" \
    "\"c-1\",\"items\":[{\"qty\":2,\"sku\":\"SKU-1\"}]}"

/*
 * The key -> order id path: the id is ord- and 32 hex digits, the same for
 * the same key whether it comes as Nats-Msg-Id or as the body's
 * idempotency_key, another for another key; the record script gets the
 * key's record, the order's state key, the id and the request's
 * fingerprint (equal for the same order however it is spelled).
 */
static void
test_key_derives_order_id(void **state)
{
    jw_msg a = keyed_request(KEYED_ORDER, "k-1"), b = request(KEYED_ORDER_BODY_KEY);
    jw_msg c = keyed_request(KEYED_ORDER, "k-2");
    char oid[128], fp[128];

    fh_queue_strings("NEW", "x", NULL); /* "x": the plugin answers the id the script returns */
    fh_queue_int(1);
    fh_handle(P, *state, &a);
    assert_int_equal(fh.nevals, 2);
    assert_ptr_equal(fh.evals[0].script, ORDER_SCRIPT_IDEM_BEGIN);
    assert_int_equal(fh.evals[0].nkeys, 2);
    snprintf(oid, sizeof(oid), "%s", fh.evals[0].args[0]);
    snprintf(fp, sizeof(fp), "%s", fh.evals[0].args[1]);
    assert_int_equal(strlen(oid), 4 + 32);
    assert_memory_equal(oid, "ord-", 4);
    assert_int_equal(strspn(oid + 4, "0123456789abcdef"), 32);
    assert_int_equal(strlen(fp), 64);
    assert_true(strncmp(fh.evals[0].keys[0], "ord:idem:", 9) == 0);
    assert_int_equal(strlen(fh.evals[0].keys[0]), 9 + 64);
    assert_string_not_equal(fh.evals[0].keys[0] + 9, oid + 4); /* different hashes */
    assert_string_equal(fh.evals[0].keys[1] + 4, oid);
    assert_memory_equal(fh.evals[0].keys[1], "ord:", 4);
    assert_string_equal(fh.evals[0].args[2], "1000"); /* idempotency_ttl */
    assert_ptr_equal(fh.evals[1].script, ORDER_SCRIPT_IDEM_ACCEPTED);
    assert_string_equal(fh.evals[1].keys[0], fh.evals[0].keys[0]);
    assert_string_equal(fh_str(fh.response, "order_id"), "x");

    fh_queue_strings("NEW", "y", NULL);
    fh_queue_int(1);
    fh_handle(P, *state, &b);
    assert_string_equal(fh.evals[2].args[0], oid);
    assert_string_equal(fh.evals[2].args[1], fp);
    assert_string_equal(fh.evals[2].keys[0], fh.evals[0].keys[0]);

    fh_queue_strings("NEW", "z", NULL);
    fh_queue_int(1);
    fh_handle(P, *state, &c);
    assert_string_not_equal(fh.evals[4].args[0], oid);
    assert_string_not_equal(fh.evals[4].keys[0], fh.evals[0].keys[0]);
    assert_string_equal(fh.evals[4].args[1], fp); /* the same order, another key */
}

/*
 * A repeated request: the first is recorded and published (the publish
 * waits for its PubAck, even on a 1.1 host), then marked accepted; the
 * repeat (DONE) gets the same answer, marked replayed, and publishes
 * nothing; a repeat of a request whose PubAck was never recorded (a crash,
 * PENDING) publishes again under the same message id, then answers.
 */
static void
test_repeated_request_answers_first(void **state)
{
    void *ctx = NULL;
    char err[256] = "";
    jw_msg m = keyed_request(KEYED_ORDER, "key-abc");
    char oid[64], mid[96];

    (void)state;
    assert_int_equal(
        P->init(&fh_host11, NULL, "{\"idempotency_ttl\":5000}", &ctx, err, sizeof(err)), 0);
    fh_queue_strings("NEW", "ord-0123456789abcdef0123456789abcdef", NULL);
    fh_queue_int(1);
    fh_handle(P, ctx, &m);
    assert_int_equal(fh.npubs, 1);
    assert_false(fh.pubs[0].async);
    assert_string_equal(fh.pubs[0].subject, "orders.created.v1");
    snprintf(oid, sizeof(oid), "%s", fh_str(fh.response, "order_id"));
    assert_string_equal(oid, "ord-0123456789abcdef0123456789abcdef");
    snprintf(mid, sizeof(mid), "orders.created:%s", oid);
    assert_string_equal(fh.pubs[0].msg_id, mid);
    assert_string_equal(fh_str(fh.pubs[0].doc, "order_id"), oid);
    assert_null(cJSON_GetObjectItem(fh.pubs[0].doc, "idempotency_key"));
    assert_string_equal(fh_str(fh.response, "status"), "accepted");
    assert_null(cJSON_GetObjectItem(fh.response, "replayed"));
    assert_string_equal(fh.evals[0].args[2], "5000");
    assert_ptr_equal(fh.evals[1].script, ORDER_SCRIPT_IDEM_ACCEPTED);

    /* the repeat: same answer, nothing published, nothing marked */
    fh_queue_strings("DONE", oid, NULL);
    fh_handle(P, ctx, &m);
    assert_int_equal(fh.npubs, 1);
    assert_int_equal(fh.nevals, 3);
    assert_int_equal(fh.nresponses, 2);
    assert_string_equal(fh_str(fh.response, "order_id"), oid);
    assert_string_equal(fh_str(fh.response, "status"), "accepted");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(fh.response, "replayed")));

    /* after a crash between the record and the PubAck: published again, same id */
    fh_queue_strings("PENDING", oid, NULL);
    fh_queue_int(1);
    fh_handle(P, ctx, &m);
    assert_int_equal(fh.npubs, 2);
    assert_string_equal(fh.pubs[1].msg_id, mid);
    assert_string_equal(fh_str(fh.pubs[1].doc, "order_id"), oid);
    assert_ptr_equal(fh.evals[4].script, ORDER_SCRIPT_IDEM_ACCEPTED);
    assert_string_equal(fh_str(fh.response, "order_id"), oid);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(fh.response, "replayed")));
    assert_int_equal(fh_counter("orders_accepted"), 1);
    assert_int_equal(fh_counter("orders_replayed"), 2);
    assert_int_equal(fh_counter("orders_without_key"), 0);

    /* the PubAck does not come: unavailable, and the record is not marked */
    fh.publish_rc = JW_ETIMEDOUT;
    fh_queue_strings("PENDING", oid, NULL);
    fh_handle(P, ctx, &m);
    assert_string_equal(fh_str(fh.response, "error"), "unavailable");
    assert_int_equal(fh.nevals, 6);
    assert_int_equal(fh_counter("orders_unavailable"), 1);
    fh_drop_unused();
    P->fini(ctx);
}

/* Misuse of a key, and Redis trouble, get clear answers and publish nothing. */
static void
test_key_refusals(void **state)
{
    static const struct {
        const char *key, *json, *error;
    } cases[] = {
        {"k", KEYED_ORDER_BODY_KEY, "idempotency_key: differs from the Nats-Msg-Id header"},
        {NULL,
         "{\"idempotency_key\":5,\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1}],"
         "\"total_amount\":1,\"currency\":\"EUR\"}",
         "idempotency_key: must be a string"},
        {"has space", KEYED_ORDER,
         "idempotency_key: must be 1 to 255 printable ASCII characters without spaces"},
        {"", KEYED_ORDER,
         "idempotency_key: must be 1 to 255 printable ASCII characters without spaces"},
    };
    char longkey[300];
    jw_msg m;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        m = cases[i].key ? keyed_request(cases[i].json, cases[i].key) : request(cases[i].json);
        fh_handle(P, *state, &m);
        assert_string_equal(fh_str(fh.response, "error"), cases[i].error);
    }
    memset(longkey, 'k', 256);
    longkey[256] = '\0';
    m = keyed_request(KEYED_ORDER, longkey);
    fh_handle(P, *state, &m);
    assert_string_equal(
        fh_str(fh.response, "error"),
        "idempotency_key: must be 1 to 255 printable ASCII characters without spaces");
    longkey[255] = '\0'; /* 255 bytes: fine */
    m = keyed_request(KEYED_ORDER, longkey);
    fh_queue_strings("MISMATCH", "ord-1", NULL);
    fh_handle(P, *state, &m);
    assert_string_equal(fh_str(fh.response, "error"),
                        "idempotency_key: already used for a different order request");
    /* Redis down, a script error, a reply of no known status */
    fh_handle(P, *state, &m);
    assert_string_equal(fh_str(fh.response, "error"), "unavailable");
    fh_queue_error("ERR boom");
    fh_handle(P, *state, &m);
    assert_string_equal(fh_str(fh.response, "error"), "unavailable");
    fh_queue_strings("WHAT", "ord-1", NULL);
    fh_handle(P, *state, &m);
    assert_string_equal(fh_str(fh.response, "error"), "unavailable");
    assert_int_equal(fh.npubs, 0);
    assert_int_equal(fh_counter("orders_accepted"), 0);
    assert_int_equal(fh_counter("orders_invalid"), 6);
    assert_int_equal(fh_counter("orders_unavailable"), 3);
}

/* require_idempotency_key: a request without a key is refused, with a key accepted. */
static void
test_require_key(void **state)
{
    void *ctx = NULL;
    char err[256] = "";
    jw_msg m = request(GOOD_ORDER);

    (void)state;
    assert_int_equal(
        P->init(&fh_host, NULL, "{\"require_idempotency_key\":true}", &ctx, err, sizeof(err)), 0);
    fh_handle(P, ctx, &m);
    assert_string_equal(
        fh_str(fh.response, "error"),
        "idempotency_key: missing (send a Nats-Msg-Id header or an idempotency_key field)");
    assert_int_equal(fh.npubs, 0);
    m = keyed_request(GOOD_ORDER, "k");
    fh_queue_strings("NEW", "ord-1", NULL);
    fh_queue_int(1);
    fh_handle(P, ctx, &m);
    assert_string_equal(fh_str(fh.response, "order_id"), "ord-1");
    assert_int_equal(fh.npubs, 1);
    P->fini(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accepts_valid_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_ids_are_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_failure_is_unavailable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_malformed_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_confirmed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_republished_not_recounted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_and_done_publish_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refund_event_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_refuses_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_marks_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_derives_order_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_request_answers_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_require_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
