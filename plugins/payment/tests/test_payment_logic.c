/*
 * test_payment_logic.c -- the payment plugin against a fake host: event
 * validation, the simulated gateway (deterministic per order; transient
 * errors only on the first delivery), what it publishes for each answer of
 * the charge and refund scripts, and the dedup fence arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../payment.c"
#include "../../shared/tests/orders_fake_host.h"

static const jw_plugin *P;

static void *
start(const char *config)
{
    char err[256] = "";
    void *ctx = NULL;

    assert_int_equal(P->init(&fh_host, NULL, config, &ctx, err, sizeof(err)), 0);
    return ctx;
}

static int
setup(void **state)
{
    fh_reset();
    P = jw_plugin_query(JW_ABI_MAJOR, JW_ABI_MINOR);
    assert_non_null(P);
    *state = start("{}");
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

#define CREATED(id)                                                                                \
    "{\"message_id\":\"orders.created:" id "\",\"order_id\":\"" id "\",\"ts\":\"2026-01-01T00:00:" \
    "00Z\",\"customer_id\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1}],\"total_amount\":59.9,"     \
    "\"currency\":\"EUR\"}"
#define CANCELLED(id, reason)                                                                   \
    "{\"message_id\":\"orders.cancelled:" id "\",\"order_id\":\"" id "\",\"ts\":1767225600000," \
    "\"reason\":\"" reason "\"}"

static void
test_charge_publishes_completed(void **state)
{
    jw_msg m = fh_msg("orders.created.v1", CREATED("ord-1"));
    jw_result res;

    fh_queue_strings("OK", "charged", "59.9", "EUR", NULL);
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_ACK);
    assert_int_equal(fh.nevals, 1);
    assert_ptr_equal(fh.evals[0].script, PAYMENT_SCRIPT_CHARGE);
    assert_int_equal(fh.evals[0].nkeys, 4);
    assert_string_equal(fh.evals[0].keys[0], "jw:c:mid");
    assert_string_equal(fh.evals[0].keys[1], "pay:charge:ord-1");
    assert_string_equal(fh.evals[0].keys[2], "pay:charges_total");
    assert_string_equal(fh.evals[0].keys[3], "pay:charge_count:ord-1");
    assert_string_equal(fh.evals[0].args[0], "tok");
    assert_string_equal(fh.evals[0].args[1], "charged");
    assert_string_equal(fh.evals[0].args[2], "59.9");
    assert_string_equal(fh.evals[0].args[3], "EUR");
    assert_int_equal(fh.npubs, 1);
    assert_string_equal(fh.pubs[0].subject, "payments.completed.v1");
    assert_string_equal(fh.pubs[0].msg_id, "payments.completed:ord-1");
    assert_string_equal(fh_str(fh.pubs[0].doc, "message_id"), "payments.completed:ord-1");
    assert_string_equal(fh_str(fh.pubs[0].doc, "order_id"), "ord-1");
    assert_true(cJSON_GetObjectItem(fh.pubs[0].doc, "amount")->valuedouble == 59.9);
    assert_string_equal(fh_str(fh.pubs[0].doc, "currency"), "EUR");
    assert_true(fh_str(fh.pubs[0].doc, "ts")[0] != '\0');
    assert_int_equal(fh_counter("charges"), 1);
}

static void
test_repeat_republishes_without_counting(void **state)
{
    jw_msg m = fh_msg("orders.created.v1", CREATED("ord-1"));

    fh_queue_strings("ALREADY", "declined", "59.9", "EUR", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_int_equal(fh.npubs, 1);
    assert_string_equal(fh.pubs[0].subject, "payments.failed.v1");
    assert_string_equal(fh.pubs[0].msg_id, "payments.failed:ord-1");
    assert_string_equal(fh_str(fh.pubs[0].doc, "reason"), "declined");
    assert_int_equal(fh_counter("declines"), 0);
    assert_int_equal(fh_counter("charges"), 0);
}

static void
test_fence_outcomes(void **state)
{
    jw_msg m = fh_msg("orders.created.v1", CREATED("ord-1"));
    jw_result res;

    fh_queue_strings("DUP", "", "", "", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    fh_queue_strings("LEASE_LOST", "", "", "", NULL);
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_RETRY);
    assert_string_equal(res.reason, "dedup lease lost before the payment was recorded");
    fh_queue_strings("CANCELLED", "cancelled", "", "", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_int_equal(fh.npubs, 0);
    assert_int_equal(fh_counter("charges"), 0);
}

static void
test_no_dedup_no_fence(void **state)
{
    jw_msg m = fh_msg("orders.created.v1", CREATED("ord-1"));

    m.dedup_key = NULL;
    m.claim_token = NULL;
    fh_queue_strings("OK", "charged", "59.9", "EUR", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_string_equal(fh.evals[0].keys[0], "jw:nofence");
    assert_string_equal(fh.evals[0].args[0], "");
}

static void
test_decline_rate_one_declines(void **state)
{
    void *ctx = start("{\"decline_rate\":1,\"seed\":7}");
    jw_msg m = fh_msg("orders.created.v1", CREATED("ord-2"));

    (void)state;
    fh_queue_strings("OK", "declined", "59.9", "EUR", NULL);
    assert_int_equal(fh_handle(P, ctx, &m).verdict, JW_ACK);
    assert_string_equal(fh.evals[0].args[1], "declined");
    assert_string_equal(fh.pubs[0].subject, "payments.failed.v1");
    assert_int_equal(fh_counter("declines"), 1);
    P->fini(ctx);
}

static void
test_transient_only_on_first_delivery(void **state)
{
    void *ctx = start("{\"transient_error_rate\":1}");
    jw_msg m = fh_msg("orders.created.v1", CREATED("ord-3"));
    jw_result res;

    (void)state;
    res = fh_handle(P, ctx, &m);
    assert_int_equal(res.verdict, JW_RETRY);
    assert_string_equal(res.reason, "payment gateway: transient error (simulated) for ord-3");
    assert_int_equal(fh.nevals, 0);
    assert_int_equal(fh.npubs, 0);
    m.deliveries = 2;
    fh_queue_strings("OK", "charged", "59.9", "EUR", NULL);
    res = fh_handle(P, ctx, &m);
    assert_int_equal(res.verdict, JW_ACK);
    assert_int_equal(fh.npubs, 1);
    assert_int_equal(fh_counter("gateway_transient_errors"), 1);
    P->fini(ctx);
}

static void
test_gateway_deterministic_and_proportional(void **state)
{
    payment_ctx c = {.decline_rate = 0.3, .transient_rate = 0.2, .seed = 42};
    payment_ctx other = c;
    int declined = 0, transient = 0, differ = 0;

    (void)state;
    other.seed = 43;
    for (int i = 0; i < 2000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "ord-%016x", i * 2654435761u);
        payment_gw a = payment_gateway(&c, id, 1);
        assert_int_equal(a, payment_gateway(&c, id, 1)); /* same order, same answer */
        declined += a == GW_DECLINED;
        transient += a == GW_TRANSIENT;
        assert_int_not_equal(payment_gateway(&c, id, 2), GW_TRANSIENT);
        differ += a != payment_gateway(&other, id, 1);
    }
    /* 2000 coins: the shares land near the rates (the hash is fixed, so this is exact) */
    assert_in_range(transient, 300, 500);
    assert_in_range(declined, 400, 720); /* 0.3 of the non-transient 0.8 */
    assert_true(differ > 100);           /* the seed matters */
}

static void
test_refund(void **state)
{
    jw_msg m = fh_msg("orders.cancelled.v1", CANCELLED("ord-4", "out_of_stock"));

    fh_queue_strings("REFUNDED", "59.9", "EUR", "", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_ptr_equal(fh.evals[0].script, PAYMENT_SCRIPT_REFUND);
    assert_string_equal(fh.evals[0].keys[0], "jw:c:mid");
    assert_string_equal(fh.evals[0].keys[1], "pay:charge:ord-4");
    assert_string_equal(fh.evals[0].keys[2], "pay:refund:ord-4");
    assert_string_equal(fh.evals[0].keys[3], "pay:refunds_total");
    assert_string_equal(fh.evals[0].args[0], "tok");
    assert_string_equal(fh.evals[0].args[1], "out_of_stock");
    assert_int_equal(fh.npubs, 1);
    assert_string_equal(fh.pubs[0].subject, "payments.refunded.v1");
    assert_string_equal(fh.pubs[0].msg_id, "payments.refunded:ord-4");
    assert_true(cJSON_GetObjectItem(fh.pubs[0].doc, "amount")->valuedouble == 59.9);
    assert_string_equal(fh_str(fh.pubs[0].doc, "reason"), "out_of_stock");
    assert_int_equal(fh_counter("refunds"), 1);
    /* nothing to refund */
    fh_queue_strings("NO_CHARGE", "", "", "", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    fh_queue_strings("VOIDED", "", "", "", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_int_equal(fh.npubs, 1);
    /* refunded before: publish again (same id), count once */
    fh_queue_strings("ALREADY", "59.9", "EUR", "", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_int_equal(fh.npubs, 2);
    assert_string_equal(fh.pubs[1].msg_id, "payments.refunded:ord-4");
    assert_int_equal(fh_counter("refunds"), 1);
}

static void
test_rejects_malformed_events(void **state)
{
    static const struct {
        const char *subject, *json, *reason;
    } cases[] = {
        {"orders.created.v1", "{", "orders.created.v1: payload is not a JSON object"},
        {"orders.created.v1", "{\"order_id\":\"o\",\"ts\":1,\"total_amount\":1}",
         "orders.created.v1: message_id: missing"},
        {"orders.created.v1",
         "{\"message_id\":\"m\",\"order_id\":\"o\",\"ts\":1,\"total_amount\":-1,\"currency\":"
         "\"EUR\"}",
         "orders.created.v1: total_amount: must be a number > 0"},
        {"orders.created.v1",
         "{\"message_id\":\"m\",\"order_id\":\"o\",\"ts\":1,\"total_amount\":1,\"currency\":"
         "\"EU1\"}",
         "orders.created.v1: currency: must be three uppercase letters"},
        {"orders.cancelled.v1", "{\"message_id\":\"m\",\"order_id\":\"o\",\"ts\":1}",
         "orders.cancelled.v1: reason: missing"},
        {"orders.cancelled.v1", "{\"message_id\":\"m\",\"order_id\":\"o\",\"ts\":1,\"reason\":3}",
         "orders.cancelled.v1: reason: must be a string"},
        {"orders.confirmed.v1", "{}", "unexpected subject orders.confirmed.v1"},
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
test_failures_retry(void **state)
{
    jw_msg m = fh_msg("orders.created.v1", CREATED("ord-5"));
    jw_result res;

    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_RETRY);
    assert_string_equal(res.reason, "redis: unavailable");
    fh_queue_strings("OK", "charged", "59.9", "EUR", NULL);
    fh.publish_rc = JW_ETIMEDOUT;
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_RETRY);
    assert_string_equal(res.reason, "publish payments.completed.v1 failed (-110)");
}

static void
test_init_refuses_bad_config(void **state)
{
    char err[256] = "";
    void *ctx = NULL;

    (void)state;
    assert_int_equal(P->init(&fh_host, NULL, "{\"decline_rate\":1.5}", &ctx, err, sizeof(err)), -1);
    assert_string_equal(err, "decline_rate: must be from 0 to 1");
    assert_int_equal(
        P->init(&fh_host, NULL, "{\"transient_error_rate\":-0.1}", &ctx, err, sizeof(err)), -1);
    assert_string_equal(err, "transient_error_rate: must be from 0 to 1");
    assert_null(ctx);
}

/* An instance on the ABI 1.1 fake host (kv_pipeline, publish_async). */
static void *
start11(const char *config)
{
    char err[256] = "";
    void *ctx = NULL;

    assert_int_equal(P->init(&fh_host11, NULL, config, &ctx, err, sizeof(err)), 0);
    return ctx;
}

/* A batch: one pipelined round trip, mixed verdicts, asynchronous publishes. */
static void
test_batch_mixed_verdicts(void **state)
{
    void *ctx = start11("{}");
    jw_msg m[4] = {
        fh_msg("orders.created.v1", CREATED("ord-1")),
        fh_msg("orders.created.v1", "{bad"),
        fh_msg("orders.cancelled.v1", CANCELLED("ord-2", "out_of_stock")),
        fh_msg("orders.created.v1", CREATED("ord-3")),
    };
    jw_result res[4];

    (void)state;
    fh_queue_strings("OK", "charged", "59.9", "EUR", NULL);
    fh_queue_strings("REFUNDED", "10", "EUR", "", NULL);
    fh_queue_strings("LEASE_LOST", "", "", "", NULL);
    fh_handle_batch(P, ctx, m, res, 4);
    assert_int_equal(fh.npipelines, 1);
    assert_int_equal(fh.nevals, 3);
    assert_ptr_equal(fh.evals[0].script, PAYMENT_SCRIPT_CHARGE);
    assert_string_equal(fh.evals[0].keys[1], "pay:charge:ord-1");
    assert_ptr_equal(fh.evals[1].script, PAYMENT_SCRIPT_REFUND);
    assert_string_equal(fh.evals[1].keys[2], "pay:refund:ord-2");
    assert_string_equal(fh.evals[1].args[1], "out_of_stock");
    assert_ptr_equal(fh.evals[2].script, PAYMENT_SCRIPT_CHARGE);
    assert_string_equal(fh.evals[2].keys[1], "pay:charge:ord-3");
    /* the fence of each message is its own claim */
    assert_string_equal(fh.evals[2].keys[0], "jw:c:mid");
    assert_string_equal(fh.evals[2].args[0], "tok");
    assert_int_equal(res[0].verdict, JW_ACK);
    assert_int_equal(res[1].verdict, JW_REJECT);
    assert_int_equal(res[2].verdict, JW_ACK);
    assert_int_equal(res[3].verdict, JW_RETRY);
    assert_string_equal(res[3].reason, "dedup lease lost before the payment was recorded");
    assert_int_equal(fh.npubs, 2);
    assert_string_equal(fh.pubs[0].subject, "payments.completed.v1");
    assert_true(fh.pubs[0].async);
    assert_ptr_equal(fh.pubs[0].cause, &m[0]);
    assert_string_equal(fh.pubs[1].subject, "payments.refunded.v1");
    assert_true(fh.pubs[1].async);
    assert_ptr_equal(fh.pubs[1].cause, &m[2]);
    assert_int_equal(fh_counter("charges"), 1);
    assert_int_equal(fh_counter("refunds"), 1);
    P->fini(ctx);
}

/* The round trip fails: every message that needed it retries, none publishes. */
static void
test_batch_redis_down_retries(void **state)
{
    void *ctx = start11("{}");
    jw_msg m[3] = {
        fh_msg("orders.created.v1", CREATED("ord-1")),
        fh_msg("orders.created.v1", "{bad"),
        fh_msg("orders.created.v1", CREATED("ord-2")),
    };
    jw_result res[3];

    (void)state;
    fh.pipeline_rc = JW_ETIMEDOUT;
    fh_handle_batch(P, ctx, m, res, 3);
    assert_int_equal(fh.npipelines, 1);
    assert_int_equal(res[0].verdict, JW_RETRY);
    assert_string_equal(res[0].reason, "redis: unavailable");
    assert_int_equal(res[1].verdict, JW_REJECT);
    assert_int_equal(res[2].verdict, JW_RETRY);
    assert_int_equal(fh.npubs, 0);
    /* a publish refused at once retries that message only */
    fh.pipeline_rc = JW_OK;
    fh_queue_strings("OK", "charged", "59.9", "EUR", NULL);
    fh_queue_error("ERR boom");
    fh.publish_rc = JW_EIO;
    fh_handle_batch(P, ctx, m, res, 3);
    assert_int_equal(res[0].verdict, JW_RETRY);
    assert_string_equal(res[0].reason, "publish payments.completed.v1 failed (-5)");
    assert_int_equal(res[2].verdict, JW_RETRY);
    assert_string_equal(res[2].reason, "redis: ERR boom");
    P->fini(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_charge_publishes_completed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_republishes_without_counting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fence_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_dedup_no_fence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decline_rate_one_declines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transient_only_on_first_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gateway_deterministic_and_proportional, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refund, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_malformed_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_refuses_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_mixed_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_redis_down_retries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
