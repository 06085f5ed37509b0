/*
 * test_nats_msgid.c -- message id rules (nats/msgid.c): which ids are
 * acceptable, and extraction from a JSON field with a reason when it fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nats/nats.h"

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(msgid__check__classes),
        cmocka_unit_test(msgid__json_field__extracted_or_reason),
    };
    return cmocka_run_group_tests_name("nats_msgid", tests, NULL, NULL);
}
