/*
 * fuzz_inventory.c -- the inventory plugin's decoding
 * (plugins/inventory/inventory.c): orders.created.v1 (its item lines),
 * payments.failed.v1 and orders.confirmed.v1. See fuzz_plugin.h.
 */
#include "../../plugins/inventory/inventory.c"
#include "../../plugins/shared/tests/orders_fake_host.h"
#include "fuzz.h"

#define FUZZ_SUBJECTS \
    "orders.created.v1", "payments.failed.v1", "orders.confirmed.v1", "orders.x.v1"
/* (no `stock`: loading it at init asks the fake Redis) */
#define FUZZ_CONFIG  "{\"record_ttl\":5000}"
#define FUZZ_REPLY_A "RESERVED", "", "1"
#define FUZZ_REPLY_B "REJECTED", "SKU-2 out of stock", "1"

#include "fuzz_plugin.h"
