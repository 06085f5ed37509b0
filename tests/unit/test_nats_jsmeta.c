/*
 * test_nats_jsmeta.c -- JetStream reply subject metadata (nats/jsmeta.c):
 * the v1 and v2 ack subject forms, and malformed ones refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nats/nats.h"

static void
jsmeta__v1_subject__parsed(void **state)
{
    (void)state;
    jsmeta m;
    assert_int_equal(jsmeta_parse("$JS.ACK.ORDERS.pay.3.1042.77.1700000000123456789.12", &m), 0);
    assert_int_equal(m.stream_len, 6);
    assert_memory_equal(m.stream, "ORDERS", 6);
    assert_int_equal(m.delivered, 3);
    assert_int_equal(m.stream_seq, 1042);
    assert_int_equal(m.consumer_seq, 77);
    assert_int_equal(m.timestamp_ns, 1700000000123456789LL);
    assert_int_equal(m.pending, 12);
}

static void
jsmeta__v2_subject__parsed(void **state)
{
    (void)state;
    jsmeta m;
    assert_int_equal(
        jsmeta_parse("$JS.ACK.hub.ACCHASH.ORDERS.pay.1.5.6.1700000000000000000.0.tok", &m), 0);
    assert_memory_equal(m.stream, "ORDERS", 6);
    assert_int_equal(m.delivered, 1);
    assert_int_equal(m.stream_seq, 5);
}

static void
jsmeta__malformed__refused(void **state)
{
    (void)state;
    jsmeta m;
    assert_int_equal(jsmeta_parse(NULL, &m), -1);
    assert_int_equal(jsmeta_parse("_INBOX.abc", &m), -1);
    assert_int_equal(jsmeta_parse("$JS.ACK.S.C.1.2.3", &m), -1);
    assert_int_equal(jsmeta_parse("$JS.ACK.S.C.x.2.3.4.5", &m), -1);
    assert_int_equal(jsmeta_parse("$JS.ACK.S.C.1.2.3.4.99999999999999999999999", &m), -1);
    /* the last uint64 is taken, one more is refused */
    assert_int_equal(jsmeta_parse("$JS.ACK.S.C.1.2.3.4.18446744073709551615", &m), 0);
    assert_true(m.pending == UINT64_MAX);
    assert_int_equal(jsmeta_parse("$JS.ACK.S.C.1.2.3.4.18446744073709551616", &m), -1);
    assert_int_equal(jsmeta_parse("$JS.ACK.S.C.1.2.3.4.28446744073709551615", &m), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jsmeta__v1_subject__parsed),
        cmocka_unit_test(jsmeta__v2_subject__parsed),
        cmocka_unit_test(jsmeta__malformed__refused),
    };
    return cmocka_run_group_tests_name("nats_jsmeta", tests, NULL, NULL);
}
