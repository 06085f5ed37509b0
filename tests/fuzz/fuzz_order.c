/*
 * fuzz_order.c -- the order plugin's decoding (plugins/order/order.c):
 * orders.create requests (validation, the created event) and the events it
 * decides on (oc_parse_event, order_outcome). See fuzz_plugin.h.
 */
#include "../../plugins/order/order.c"
#include "../../plugins/shared/tests/orders_fake_host.h"
#include "fuzz.h"

#define FUZZ_SUBJECTS                                                                           \
    "orders.create", "inventory.reserved.v1", "inventory.rejected.v1", "payments.completed.v1", \
        "payments.failed.v1", "orders.created.v1", "unknown.v1", "inventory.released.v1"
#define FUZZ_CONFIG  "{\"max_items\":8,\"state_ttl\":1000}"
#define FUZZ_REPLY_A "DECIDED", "confirmed", "ok"
#define FUZZ_REPLY_B "UNPUBLISHED", "cancelled", "payment declined"

#include "fuzz_plugin.h"
