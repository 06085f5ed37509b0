/*
 * test_base_rnd.c -- the random helpers (base/rnd.c): hex ids and jitter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/base.h"

static void
rnd__hex_and_jitter(void **state)
{
    (void)state;
    char a[33], b[33];
    rnd_hex(a, 16);
    rnd_hex(b, 16);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
    for (const char *p = a; *p; p++)
        assert_true((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
    assert_int_equal(rnd_jitter(0, 10), 0);
    assert_int_equal(rnd_jitter(-5, 10), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rnd__hex_and_jitter),
    };
    return cmocka_run_group_tests_name("base_rnd", tests, NULL, NULL);
}
