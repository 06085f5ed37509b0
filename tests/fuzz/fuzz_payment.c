/*
 * fuzz_payment.c -- the payment plugin's decoding
 * (plugins/payment/payment.c): orders.created.v1 (charge) and
 * orders.cancelled.v1 (refund). See fuzz_plugin.h.
 */
#include "../../plugins/payment/payment.c"
#include "../../plugins/shared/tests/orders_fake_host.h"
#include "fuzz.h"

#define FUZZ_SUBJECTS "orders.created.v1", "orders.cancelled.v1", "orders.confirmed.v1"
#define FUZZ_CONFIG   "{\"decline_rate\":0.5,\"transient_error_rate\":0.2}"
#define FUZZ_REPLY_A  "1", "charged", "59.90", "EUR"
#define FUZZ_REPLY_B  "0", "declined", "1", "EUR"

#include "fuzz_plugin.h"
