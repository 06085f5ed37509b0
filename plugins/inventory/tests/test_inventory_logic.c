/*
 * test_inventory_logic.c -- the inventory plugin against a fake host:
 * loading the configured stock (keep or reset), merging order lines into
 * the reserve script's keys and arguments, what it publishes for each
 * answer, release and sale, and REJECT reasons of malformed events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../inventory.c"
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
    assert_int_equal(P->init(&fh_host, NULL, "{\"record_ttl\":5000}", &ctx, err, sizeof(err)), 0);
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

static void
test_init_loads_stock(void **state)
{
    char err[256] = "";
    void *ctx = NULL;

    (void)state;
    fh.nevals = 0;
    fh_queue_int(1);
    fh_queue_int(0);
    assert_int_equal(
        P->init(&fh_host, NULL, "{\"stock\":{\"A\":5,\"B-2\":0}}", &ctx, err, sizeof(err)), 0);
    assert_int_equal(fh.nevals, 2);
    assert_ptr_equal(fh.evals[0].script, INVENTORY_SCRIPT_INIT);
    assert_string_equal(fh.evals[0].keys[0], "inv:stock:A");
    assert_string_equal(fh.evals[0].keys[1], "inv:reserved:A");
    assert_string_equal(fh.evals[0].keys[2], "inv:sold:A");
    assert_string_equal(fh.evals[0].keys[3], "inv:initial:A");
    assert_string_equal(fh.evals[0].args[0], "5");
    assert_string_equal(fh.evals[0].args[1], "0"); /* keep existing stock */
    assert_string_equal(fh.evals[1].keys[0], "inv:stock:B-2");
    assert_string_equal(fh.evals[1].args[0], "0");
    P->fini(ctx);

    fh_queue_int(1);
    assert_int_equal(P->init(&fh_host, NULL, "{\"stock\":{\"A\":5},\"reset_stock\":true}", &ctx,
                             err, sizeof(err)),
                     0);
    assert_string_equal(fh.evals[2].args[1], "1");
    P->fini(ctx);
}

static void
test_init_refuses_bad_stock(void **state)
{
    static const struct {
        const char *config, *err;
    } cases[] = {
        {"{\"stock\":{\"A\":-1}}", "stock.A: must be an integer >= 0"},
        {"{\"stock\":{\"A\":1.5}}", "stock.A: must be an integer >= 0"},
        {"{\"stock\":{\"A\":\"3\"}}", "stock.A: must be an integer >= 0"},
        {"{\"stock\":{\"a b\":3}}", "stock: SKU 'a b' must match [A-Za-z0-9._:-]{1,64}"},
        {"{\"stock\":[1]}", "stock: must be a mapping of SKU to quantity"},
        {"{\"stock\":{\"A\":3}}", "stock.A: could not load into Redis: unavailable"},
        {"{\"record_ttl\":-1}", "record_ttl: must not be negative"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        void *ctx = NULL;
        assert_int_equal(P->init(&fh_host, NULL, cases[i].config, &ctx, err, sizeof(err)), -1);
        assert_string_equal(err, cases[i].err);
        assert_null(ctx);
    }
}

#define CREATED(items)                                                                           \
    "{\"message_id\":\"orders.created:ord-1\",\"order_id\":\"ord-1\",\"ts\":\"2026-01-01T00:00:" \
    "00Z\",\"items\":" items ",\"total_amount\":5,\"currency\":\"EUR\"}"
#define EV "{\"message_id\":\"x:ord-1\",\"order_id\":\"ord-1\",\"ts\":1,\"reason\":\"declined\"}"

static void
test_reserve_merges_lines(void **state)
{
    jw_msg m = fh_msg("orders.created.v1", CREATED("[{\"sku\":\"A\",\"qty\":2},{\"sku\":\"B\","
                                                   "\"qty\":1},{\"sku\":\"A\",\"qty\":1}]"));
    const cJSON *items;

    fh_queue_strings("RESERVED", "", "1", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_ptr_equal(fh.evals[0].script, INVENTORY_SCRIPT_RESERVE);
    assert_int_equal(fh.evals[0].nkeys, 5);
    assert_string_equal(fh.evals[0].keys[0], "inv:res:ord-1");
    assert_string_equal(fh.evals[0].keys[1], "inv:stock:A");
    assert_string_equal(fh.evals[0].keys[2], "inv:reserved:A");
    assert_string_equal(fh.evals[0].keys[3], "inv:stock:B");
    assert_string_equal(fh.evals[0].keys[4], "inv:reserved:B");
    assert_int_equal(fh.evals[0].nargs, 5);
    assert_string_equal(fh.evals[0].args[0], "5000");
    assert_string_equal(fh.evals[0].args[1], "A");
    assert_string_equal(fh.evals[0].args[2], "3");
    assert_string_equal(fh.evals[0].args[3], "B");
    assert_string_equal(fh.evals[0].args[4], "1");
    assert_int_equal(fh.npubs, 1);
    assert_string_equal(fh.pubs[0].subject, "inventory.reserved.v1");
    assert_string_equal(fh.pubs[0].msg_id, "inventory.reserved:ord-1");
    assert_string_equal(fh_str(fh.pubs[0].doc, "message_id"), "inventory.reserved:ord-1");
    items = cJSON_GetObjectItem(fh.pubs[0].doc, "items");
    assert_int_equal(cJSON_GetArraySize(items), 2);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "qty")->valueint, 3);
    assert_int_equal(fh_counter("reservations"), 1);
}

static void
test_reserve_outcomes(void **state)
{
    jw_msg m = fh_msg("orders.created.v1", CREATED("[{\"sku\":\"A\",\"qty\":2}]"));

    fh_queue_strings("REJECTED", "A", "1", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_string_equal(fh.pubs[0].subject, "inventory.rejected.v1");
    assert_string_equal(fh.pubs[0].msg_id, "inventory.rejected:ord-1");
    assert_string_equal(fh_str(fh.pubs[0].doc, "reason"), "out_of_stock");
    assert_string_equal(fh_str(fh.pubs[0].doc, "sku"), "A");
    assert_int_equal(fh_counter("rejections"), 1);
    /* a repeat publishes again under the same id but counts nothing */
    fh_queue_strings("REJECTED", "A", "0", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_int_equal(fh.npubs, 2);
    assert_string_equal(fh.pubs[1].msg_id, "inventory.rejected:ord-1");
    assert_int_equal(fh_counter("rejections"), 1);
    /* released before it was reserved: nothing to publish */
    fh_queue_strings("VOID", "", "0", NULL);
    assert_int_equal(fh_handle(P, *state, &m).verdict, JW_ACK);
    assert_int_equal(fh.npubs, 2);
    /* failures retry */
    jw_result res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_RETRY);
    assert_string_equal(res.reason, "redis: unavailable");
    fh_queue_strings("RESERVED", "", "1", NULL);
    fh.publish_rc = JW_EIO;
    res = fh_handle(P, *state, &m);
    assert_int_equal(res.verdict, JW_RETRY);
    assert_string_equal(res.reason, "publish inventory.reserved.v1 failed (-5)");
}

static void
test_release_and_sale(void **state)
{
    jw_msg failed = fh_msg("payments.failed.v1", EV);
    jw_msg confirmed = fh_msg("orders.confirmed.v1", EV);
    jw_result res;

    fh_queue_strings("RELEASED", "reserved", NULL);
    assert_int_equal(fh_handle(P, *state, &failed).verdict, JW_ACK);
    assert_ptr_equal(fh.evals[0].script, INVENTORY_SCRIPT_RELEASE);
    assert_string_equal(fh.evals[0].keys[0], "inv:res:ord-1");
    assert_string_equal(fh.evals[0].args[0], "inv:");
    assert_string_equal(fh.evals[0].args[1], "5000");
    fh_queue_strings("NOTHING", "released", NULL);
    assert_int_equal(fh_handle(P, *state, &failed).verdict, JW_ACK);
    assert_int_equal(fh_counter("releases"), 1);

    fh_queue_strings("SOLD", "reserved", NULL);
    assert_int_equal(fh_handle(P, *state, &confirmed).verdict, JW_ACK);
    assert_ptr_equal(fh.evals[2].script, INVENTORY_SCRIPT_COMMIT);
    fh_queue_strings("ALREADY", "sold", NULL);
    assert_int_equal(fh_handle(P, *state, &confirmed).verdict, JW_ACK);
    assert_int_equal(fh_counter("sales"), 1);
    fh_queue_strings("NOT_RESERVED", "rejected", NULL);
    res = fh_handle(P, *state, &confirmed);
    assert_int_equal(res.verdict, JW_REJECT);
    assert_string_equal(res.reason,
                        "orders.confirmed.v1: order ord-1 has no reservation (status 'rejected')");
    assert_int_equal(fh.npubs, 0);
}

static void
test_rejects_malformed_events(void **state)
{
    static const struct {
        const char *subject, *json, *reason;
    } cases[] = {
        {"orders.created.v1", CREATED("[]"), "orders.created.v1: items: must be a non-empty array"},
        {"orders.created.v1", CREATED("7"), "orders.created.v1: items: must be a non-empty array"},
        {"orders.created.v1", CREATED("[{\"sku\":\"A\"}]"),
         "orders.created.v1: items[0].qty: must be an integer from 1 to 1000000"},
        {"orders.created.v1", CREATED("[{\"sku\":\"A\",\"qty\":1},{\"qty\":1}]"),
         "orders.created.v1: items[1].sku: must be a string matching [A-Za-z0-9._:-]{1,64}"},
        {"payments.failed.v1", "{\"message_id\":\"m\",\"ts\":1}",
         "payments.failed.v1: order_id: missing"},
        {"orders.confirmed.v1", "\"x\"", "orders.confirmed.v1: payload is not a JSON object"},
        {"orders.cancelled.v1", EV, "unexpected subject orders.cancelled.v1"},
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

/* A batch on a 1.1 host: one round trip for reserve, release and sale. */
static void
test_batch(void **state)
{
    char err[256] = "";
    void *ctx = NULL;
    jw_msg m[4] = {
        fh_msg("orders.created.v1", CREATED("[{\"sku\":\"A\",\"qty\":2}]")),
        fh_msg("payments.failed.v1", EV),
        fh_msg("orders.created.v1", CREATED("[]")),
        fh_msg("orders.confirmed.v1", EV),
    };
    jw_result res[4];

    (void)state;
    assert_int_equal(P->init(&fh_host11, NULL, "{\"record_ttl\":5000}", &ctx, err, sizeof(err)), 0);
    fh_queue_strings("RESERVED", "", "1", NULL);
    fh_queue_strings("RELEASED", "reserved", NULL);
    fh_queue_strings("NOT_RESERVED", "", NULL);
    fh_handle_batch(P, ctx, m, res, 4);
    assert_int_equal(fh.npipelines, 1);
    assert_int_equal(fh.nevals, 3);
    assert_ptr_equal(fh.evals[0].script, INVENTORY_SCRIPT_RESERVE);
    assert_string_equal(fh.evals[0].keys[1], "inv:stock:A");
    assert_string_equal(fh.evals[0].args[2], "2");
    assert_ptr_equal(fh.evals[1].script, INVENTORY_SCRIPT_RELEASE);
    assert_ptr_equal(fh.evals[2].script, INVENTORY_SCRIPT_COMMIT);
    assert_int_equal(res[0].verdict, JW_ACK);
    assert_int_equal(res[1].verdict, JW_ACK);
    assert_int_equal(res[2].verdict, JW_REJECT);
    assert_int_equal(res[3].verdict, JW_REJECT);
    assert_int_equal(fh.npubs, 1);
    assert_string_equal(fh.pubs[0].subject, "inventory.reserved.v1");
    assert_true(fh.pubs[0].async);
    assert_ptr_equal(fh.pubs[0].cause, &m[0]);
    assert_int_equal(fh_counter("reservations"), 1);
    assert_int_equal(fh_counter("releases"), 1);
    /* Redis down: the scripted messages retry, the invalid one stays rejected */
    fh.pipeline_rc = JW_EIO;
    fh_handle_batch(P, ctx, m, res, 4);
    assert_int_equal(res[0].verdict, JW_RETRY);
    assert_int_equal(res[1].verdict, JW_RETRY);
    assert_int_equal(res[2].verdict, JW_REJECT);
    assert_int_equal(res[3].verdict, JW_RETRY);
    assert_int_equal(fh.npubs, 1);
    P->fini(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_loads_stock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_refuses_bad_stock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserve_merges_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserve_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_and_sale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_malformed_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
