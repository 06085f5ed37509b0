/*
 * test_core_pure.c -- the pure pieces of the hot path: JetStream reply
 * subject metadata, message id extraction rules, the backoff schedule, the
 * random helpers and the worker pool's per-queue concurrency limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nats/nats.h"
#include "base/base.h"
#include "runtime/settle_int.h"

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

static void
msgid__check__classes(void **state)
{
    (void)state;
    assert_null(msgid_check("order-1:x", 9));
    assert_non_null(msgid_check("", 0));
    assert_non_null(msgid_check("a b", 3));
    assert_non_null(msgid_check("a\nb", 3));
    char big[200];
    memset(big, 'a', sizeof(big));
    assert_non_null(msgid_check(big, sizeof(big)));
    assert_null(msgid_check(big, 128));
}

static void
msgid__json_field__extracted_or_reason(void **state)
{
    (void)state;
    char out[300], why[256];
    const char *ok = "{\"message_id\":\"m-1\",\"x\":1}";
    assert_int_equal(
        msgid_from_json(ok, strlen(ok), "message_id", out, sizeof(out), why, sizeof(why)), 0);
    assert_string_equal(out, "m-1");
    const char *num = "{\"id\":42}";
    assert_int_equal(msgid_from_json(num, strlen(num), "id", out, sizeof(out), why, sizeof(why)),
                     0);
    assert_string_equal(out, "42");
    assert_int_equal(msgid_from_json("", 0, "message_id", out, sizeof(out), why, sizeof(why)), -1);
    assert_non_null(strstr(why, "empty payload"));
    const char *bad = "{\"message_id\": oops";
    assert_int_equal(
        msgid_from_json(bad, strlen(bad), "message_id", out, sizeof(out), why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not valid JSON"));
    const char *none = "{\"other\":1}";
    assert_int_equal(
        msgid_from_json(none, strlen(none), "message_id", out, sizeof(out), why, sizeof(why)), -1);
    assert_non_null(strstr(why, "no 'message_id' field"));
    const char *obj = "{\"message_id\":{}}";
    assert_int_equal(
        msgid_from_json(obj, strlen(obj), "message_id", out, sizeof(out), why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not a string"));
    const char *sp = "{\"message_id\":\"a b\"}";
    assert_int_equal(
        msgid_from_json(sp, strlen(sp), "message_id", out, sizeof(out), why, sizeof(why)), -1);
}

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

typedef struct limit_probe {
    atomic_int active;
    atomic_int max_active;
    atomic_int done;
} limit_probe;

static void
probe_run(pool_queue *q, pool_item *it)
{
    limit_probe *p = q->data;
    int now = atomic_fetch_add(&p->active, 1) + 1;
    int seen = atomic_load(&p->max_active);
    while (now > seen && !atomic_compare_exchange_weak(&p->max_active, &seen, now))
        ;
    usleep(200);
    atomic_fetch_sub(&p->active, 1);
    atomic_fetch_add(&p->done, 1);
    free(it);
}

static void
pool__queue_limit__never_exceeded(void **state)
{
    (void)state;
    pool *p = NULL;
    assert_int_equal(pool_start(8, &p), 0);
    limit_probe a = {0}, b = {0};
    pool_queue qa, qb;
    pool_queue_init(&qa, 2, probe_run, &a);
    pool_queue_init(&qb, 5, probe_run, &b);
    for (int i = 0; i < 300; i++) {
        pool_item *x = calloc(1, sizeof(*x));
        pool_item *y = calloc(1, sizeof(*y));
        pool_submit(p, &qa, x, x, 1);
        pool_submit(p, &qb, y, y, 1);
    }
    pool_stop(p); /* finishes everything queued */
    assert_int_equal(atomic_load(&a.done), 300);
    assert_int_equal(atomic_load(&b.done), 300);
    assert_true(atomic_load(&a.max_active) <= 2);
    assert_true(atomic_load(&b.max_active) <= 5);
    assert_true(atomic_load(&b.max_active) >= 2); /* the limit is really exercised */
}

static void
pool__take_waiting__removes_unstarted(void **state)
{
    (void)state;
    pool *p = NULL;
    assert_int_equal(pool_start(1, &p), 0);
    limit_probe a = {0};
    pool_queue qa;
    pool_queue_init(&qa, 1, probe_run, &a);
    for (int i = 0; i < 100; i++) {
        pool_item *x = calloc(1, sizeof(*x));
        pool_submit(p, &qa, x, x, 1);
    }
    pool_item *w = pool_queue_take_waiting(p, &qa);
    int n = 0;
    while (w) {
        pool_item *next = w->next;
        free(w);
        w = next;
        n++;
    }
    pool_stop(p);
    assert_int_equal(n + atomic_load(&a.done), 100);
    assert_true(n > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jsmeta__v1_subject__parsed),
        cmocka_unit_test(jsmeta__v2_subject__parsed),
        cmocka_unit_test(jsmeta__malformed__refused),
        cmocka_unit_test(msgid__check__classes),
        cmocka_unit_test(msgid__json_field__extracted_or_reason),
        cmocka_unit_test(backoff__by_delivery__last_repeats),
        cmocka_unit_test(rnd__hex_and_jitter),
        cmocka_unit_test(pool__queue_limit__never_exceeded),
        cmocka_unit_test(pool__take_waiting__removes_unstarted),
    };
    return cmocka_run_group_tests_name("core_pure", tests, NULL, NULL);
}
