/*
 * test_runtime_settle.c -- the pure part of runtime/settle.c: the NAK delay
 * schedule by delivery count, the last value repeating, with jitter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "runtime/settle_int.h"

static void
backoff__by_delivery__last_repeats(void **state)
{
    (void)state;
    int64_t b[] = {100, 1000, 5000};
    cfg_consumer cc;
    memset(&cc, 0, sizeof(cc));
    cc.backoff_ms = b;
    cc.nbackoff = 3;
    for (int i = 0; i < 50; i++) {
        int64_t d1 = settle_backoff_ms(&cc, 1);
        int64_t d2 = settle_backoff_ms(&cc, 2);
        int64_t d9 = settle_backoff_ms(&cc, 9);
        assert_in_range(d1, 90, 110);
        assert_in_range(d2, 900, 1100);
        assert_in_range(d9, 4500, 5500);
    }
    cc.nbackoff = 0;
    assert_in_range(settle_backoff_ms(&cc, 1), 900, 1100);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff__by_delivery__last_repeats),
    };
    return cmocka_run_group_tests_name("runtime_settle", tests, NULL, NULL);
}
