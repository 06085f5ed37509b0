/*
 * test_nats_jspull.c -- the wire side of jetway's pull client
 * (nats/jspull.c): which status a pull inbox receives means what, the
 * server's count of undelivered messages, the pull request body and the
 * acknowledgement bodies. The statuses are those nats-server 2.9.10 sends
 * (observed on the wire: "100 Idle Heartbeat", "408 Request Timeout" with
 * Nats-Pending-Messages, "408 Requests Pending", "400 Bad Request -
 * heartbeat value too large").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "nats/nats.h"

/* A message as cnats hands over a status: the status line lifted into the
 * Status and Description headers, no payload, no reply subject. */
static natsMsg *
status_msg(const char *code, const char *desc, const char *pending)
{
    natsMsg *m = NULL;
    assert_int_equal(natsMsg_Create(&m, "_INBOX.abc.7", NULL, NULL, 0), NATS_OK);
    if (code)
        assert_int_equal(natsMsgHeader_Set(m, "Status", code), NATS_OK);
    if (desc)
        assert_int_equal(natsMsgHeader_Set(m, "Description", desc), NATS_OK);
    if (pending)
        assert_int_equal(natsMsgHeader_Set(m, "Nats-Pending-Messages", pending), NATS_OK);
    return m;
}

static void
jspull_status__codes__classified(void **state)
{
    (void)state;
    assert_int_equal(jspull_status("100", "Idle Heartbeat"), JSPULL_HEARTBEAT);
    assert_int_equal(jspull_status("404", "No Messages"), JSPULL_ENDED);
    assert_int_equal(jspull_status("408", "Request Timeout"), JSPULL_ENDED);
    assert_int_equal(jspull_status("408", "Requests Pending"), JSPULL_ENDED);
    assert_int_equal(jspull_status("409", "Exceeded MaxWaiting"), JSPULL_ENDED);
    assert_int_equal(jspull_status("409", "Message Size Exceeds MaxBytes"), JSPULL_ENDED);
    assert_int_equal(jspull_status("409", "Leadership Change"), JSPULL_ENDED);
    assert_int_equal(jspull_status("409", "Consumer Deleted"), JSPULL_GONE);
    assert_int_equal(jspull_status("409", "Consumer is push based"), JSPULL_GONE);
    assert_int_equal(jspull_status("409", "Exceeded MaxRequestBatch of 10"), JSPULL_REFUSED);
    assert_int_equal(jspull_status("409", "Exceeded MaxRequestExpires of 1s"), JSPULL_REFUSED);
    assert_int_equal(jspull_status("400", "Bad Request - heartbeat value too large"),
                     JSPULL_REFUSED);
    assert_int_equal(jspull_status("503", NULL), JSPULL_NO_RESPONDERS);
    /* unknown or missing: the request is taken as over, never waited on */
    assert_int_equal(jspull_status("418", "Teapot"), JSPULL_ENDED);
    assert_int_equal(jspull_status("409", NULL), JSPULL_ENDED);
    assert_int_equal(jspull_status(NULL, NULL), JSPULL_ENDED);
}

static void
jspull_classify__stream_message__is_msg(void **state)
{
    (void)state;
    natsMsg *m = NULL;
    /* a stream message with an empty body and headers is still a message:
     * its reply subject says so */
    assert_int_equal(natsMsg_Create(&m, "orders.created",
                                    "$JS.ACK.ORDERS.pay.1.5.6.1700000000000000000.0", NULL, 0),
                     NATS_OK);
    assert_int_equal(natsMsgHeader_Set(m, "Status", "408"), NATS_OK);
    int undelivered = 99;
    assert_int_equal(jspull_classify(m, &undelivered), JSPULL_MSG);
    assert_int_equal(undelivered, -1);
    natsMsg_Destroy(m);
}

static void
jspull_classify__timeout__undelivered_counted(void **state)
{
    (void)state;
    int undelivered = 0;
    natsMsg *m = status_msg("408", "Request Timeout", "4");
    assert_int_equal(jspull_classify(m, &undelivered), JSPULL_ENDED);
    assert_int_equal(undelivered, 4);
    natsMsg_Destroy(m);

    m = status_msg("409", "Exceeded MaxWaiting", NULL);
    assert_int_equal(jspull_classify(m, &undelivered), JSPULL_ENDED);
    assert_int_equal(undelivered, -1); /* unknown: the caller starts over */
    natsMsg_Destroy(m);

    m = status_msg("408", "Request Timeout", "-3");
    assert_int_equal(jspull_classify(m, &undelivered), JSPULL_ENDED);
    assert_int_equal(undelivered, -1);
    natsMsg_Destroy(m);

    m = status_msg("408", "Request Timeout", "12x");
    assert_int_equal(jspull_classify(m, &undelivered), JSPULL_ENDED);
    assert_int_equal(undelivered, -1);
    natsMsg_Destroy(m);

    m = status_msg("100", "Idle Heartbeat", NULL);
    assert_int_equal(jspull_classify(m, &undelivered), JSPULL_HEARTBEAT);
    natsMsg_Destroy(m);

    m = status_msg("409", "Consumer Deleted", NULL);
    assert_int_equal(jspull_classify(m, &undelivered), JSPULL_GONE);
    natsMsg_Destroy(m);

    /* no reply subject, no status: nothing a pull inbox should get */
    m = status_msg(NULL, NULL, NULL);
    assert_int_equal(jspull_classify(m, &undelivered), JSPULL_ENDED);
    natsMsg_Destroy(m);
}

static void
jspull_request__body__as_the_api_wants(void **state)
{
    (void)state;
    char b[160];
    int n = jspull_request(b, sizeof(b), 64, 30000000000LL, 5000000000LL);
    assert_string_equal(b, "{\"batch\":64,\"expires\":30000000000,\"idle_heartbeat\":5000000000}");
    assert_int_equal(n, (int)strlen(b));
    jspull_request(b, sizeof(b), 1, 500000000LL, 0);
    assert_string_equal(b, "{\"batch\":1,\"expires\":500000000}");
    assert_int_equal(jspull_request(b, 10, 64, 30000000000LL, 0), -1);
}

static void
jsack_body__kinds(void **state)
{
    (void)state;
    char b[64];
    assert_int_equal(jsack_body(b, sizeof(b), JSACK_ACK, 0), 4);
    assert_string_equal(b, "+ACK");
    jsack_body(b, sizeof(b), JSACK_NAK, 0);
    assert_string_equal(b, "-NAK");
    jsack_body(b, sizeof(b), JSACK_NAK, 1500);
    assert_string_equal(b, "-NAK {\"delay\":1500000000}");
    jsack_body(b, sizeof(b), JSACK_TERM, 0);
    assert_string_equal(b, "+TERM");
    jsack_body(b, sizeof(b), JSACK_PROGRESS, 0);
    assert_string_equal(b, "+WPI");
    assert_int_equal(jsack_body(b, 4, JSACK_ACK, 0), -1);
}

static void
jsack_send__not_a_jetstream_message__refused(void **state)
{
    (void)state;
    natsMsg *m = NULL;
    assert_int_equal(natsMsg_Create(&m, "x", "_INBOX.reply", "d", 1), NATS_OK);
    /* refused before the connection is touched */
    assert_int_equal(jsack_send(NULL, m, JSACK_ACK, 0), NATS_ILLEGAL_STATE);
    assert_int_equal(jsack_send(NULL, NULL, JSACK_ACK, 0), NATS_ILLEGAL_STATE);
    natsMsg_Destroy(m);
}

/* cnats's message and header calls need the library initialised. */
static int
group_setup(void **state)
{
    (void)state;
    return nats_Open(-1) == NATS_OK ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jspull_status__codes__classified),
        cmocka_unit_test(jspull_classify__stream_message__is_msg),
        cmocka_unit_test(jspull_classify__timeout__undelivered_counted),
        cmocka_unit_test(jspull_request__body__as_the_api_wants),
        cmocka_unit_test(jsack_body__kinds),
        cmocka_unit_test(jsack_send__not_a_jetstream_message__refused),
    };
    int rc = cmocka_run_group_tests_name("nats_jspull", tests, group_setup, NULL);
    nats_Close();
    return rc;
}
