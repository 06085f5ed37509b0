/* test_provision.c -- the pure config diffs of provision and dlq helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nats/nats.h"
#include "dlq/dlq.h"

static char *subj[] = {(char *)"orders.>"};

static cfg_stream
a_stream(void)
{
    cfg_stream st = {.name = (char *)"ORDERS",
                     .subjects = subj,
                     .nsubjects = 1,
                     .max_bytes = -1,
                     .max_msgs = -1,
                     .max_msg_size = -1,
                     .replicas = 1,
                     .duplicate_window_ms = 120000};
    return st;
}

static jsStreamConfig
server_of(const cfg_stream *st)
{
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = st->name;
    sc.Subjects = (const char **)st->subjects;
    sc.SubjectsLen = (int)st->nsubjects;
    sc.MaxBytes = -1;
    sc.MaxMsgs = -1;
    sc.MaxMsgSize = -1;
    sc.Replicas = 1;
    sc.Duplicates = 120000LL * 1000000;
    return sc;
}

static void
stream_diff(void **state)
{
    (void)state;
    cfg_stream st = a_stream();
    jsStreamConfig sc = server_of(&st);
    char ch[512], ref[512];
    assert_int_equal(provision_stream_diff(&st, &sc, ch, sizeof(ch), ref, sizeof(ref)), 0);
    assert_string_equal(ch, "");

    st.max_age_ms = 3600000;
    assert_int_equal(provision_stream_diff(&st, &sc, ch, sizeof(ch), ref, sizeof(ref)), 1);
    assert_string_equal(ch, "max_age: 0 -> 1h");
    assert_string_equal(ref, "");

    st.storage = CFG_STORAGE_MEMORY;
    provision_stream_diff(&st, &sc, ch, sizeof(ch), ref, sizeof(ref));
    assert_string_equal(ref, "storage is 'file' on the server, config says 'memory': JetStream "
                             "cannot change it in place");
}

static void
consumer_diff(void **state)
{
    (void)state;
    cfg_stream st = a_stream();
    cfg_consumer cc = {.name = (char *)"payment",
                       .stream = (char *)"ORDERS",
                       .ack_wait_ms = 30000,
                       .max_deliver = 5,
                       .max_ack_pending = 128};
    jsConsumerConfig want;
    provision_consumer_config(&st, &cc, &want);
    assert_int_equal(want.MaxDeliver, -1);
    assert_null(want.BackOff);
    assert_int_equal(want.AckPolicy, js_AckExplicit);
    assert_null(want.DeliverSubject);

    jsConsumerConfig srv = want;
    char ch[512], ref[512];
    assert_int_equal(provision_consumer_diff(&st, &cc, &srv, ch, sizeof(ch), ref, sizeof(ref)), 0);

    cc.max_ack_pending = 64;
    cc.ack_wait_ms = 10000;
    assert_int_equal(provision_consumer_diff(&st, &cc, &srv, ch, sizeof(ch), ref, sizeof(ref)), 2);
    assert_string_equal(ch, "ack_wait: 30s -> 10s; max_ack_pending: 128 -> 64");

    cc.deliver_policy = CFG_DELIVER_NEW;
    provision_consumer_diff(&st, &cc, &srv, ch, sizeof(ch), ref, sizeof(ref));
    assert_string_equal(ref, "deliver_policy is 'all' on the server, config says 'new': "
                             "JetStream cannot change it in place");

    cc.deliver_policy = CFG_DELIVER_ALL;
    srv.DeliverSubject = "push.inbox";
    provision_consumer_diff(&st, &cc, &srv, ch, sizeof(ch), ref, sizeof(ref));
    assert_string_equal(ref, "type is 'push' on the server, config says 'pull': JetStream "
                             "cannot change it in place");
}

static void
subject_matching(void **state)
{
    (void)state;
    assert_true(dlq_subject_matches("dlq.>", "dlq.payment"));
    assert_true(dlq_subject_matches("dlq.>", "dlq.a.b"));
    assert_false(dlq_subject_matches("dlq.>", "dlq"));
    assert_true(dlq_subject_matches("dlq.*", "dlq.payment"));
    assert_false(dlq_subject_matches("dlq.*", "dlq.a.b"));
    assert_true(dlq_subject_matches("dlq.payment", "dlq.payment"));
    assert_false(dlq_subject_matches("dlq.payment", "dlq.paymentx"));
    assert_false(dlq_subject_matches("dlq.pay", "dlq.payment"));
    assert_true(dlq_subject_matches(">", "a.b.c"));
    assert_true(dlq_subject_matches("*.b.*", "a.b.c"));
    assert_false(dlq_subject_matches("*.b", "a.b.c"));
}

static void
replay_header_filter(void **state)
{
    (void)state;
    assert_true(dlq_replay_drops_header("Nats-Msg-Id"));
    assert_true(dlq_replay_drops_header("Jetway-Error"));
    assert_true(dlq_replay_drops_header("jetway-message-id"));
    assert_true(dlq_replay_drops_header("Nats-Expected-Last-Sequence"));
    assert_false(dlq_replay_drops_header("traceparent"));
    assert_false(dlq_replay_drops_header("X-Tenant"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_diff),
        cmocka_unit_test(consumer_diff),
        cmocka_unit_test(subject_matching),
        cmocka_unit_test(replay_header_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
