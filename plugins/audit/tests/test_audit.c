/*
 * test_audit.c -- the audit log: record format and chain (audit_format.h),
 * and the plugin itself, dlopen'ed from $JETWAY_BUILD/plugins/audit.so and
 * driven through the ABI with a fake host: appends, invalid JSON, rotation,
 * recovery after a restart, a torn tail, idempotent redelivery, concurrent
 * handlers. Each log written is checked with the example's chain verifier
 * (plugins/tools/audit_chain.c), whose own tests on every kind of
 * corruption are plugins/tools/tests/test_audit_verify.c.
 */
#include "audit_testlib.h"

/* ---- format ------------------------------------------------------------ */

static void
test_sha256(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(aud_sha256_hex("abc", 3, NULL, 0, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char split[65];
    assert_int_equal(aud_sha256_hex("a", 1, "bc", 2, split), 0);
    assert_string_equal(split, hex);
}

static void
test_record_format(void **state)
{
    (void)state;
    aud_buf b = {0};
    char hash[65];
    aud_event ev = {.ts = "2024-01-01T00:00:00.000Z",
                    .subject = "orders.\"x\"\n",
                    .stream = NULL,
                    .seq = 42,
                    .message_id = "m-1",
                    .data = "{\"p\":1.10}",
                    .datalen = 10};
    assert_int_equal(aud_record_build(&b, 7, &ev, AUD_ZERO_HASH, hash), 0);
    assert_int_equal(b.p[b.len - 1], '\n');
    assert_null(memchr(b.p, '\n', b.len - 1));
    aud_rec rec;
    cJSON *o = NULL;
    assert_int_equal(aud_line_check(b.p, b.len - 1, &rec, &o), AUD_OK);
    assert_int_equal(rec.n, 7);
    assert_string_equal(rec.prev, AUD_ZERO_HASH);
    assert_string_equal(rec.hash, hash);
    assert_string_equal(cJSON_GetObjectItem(o, "subject")->valuestring, "orders.\"x\"\n");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "stream")));
    assert_int_equal(cJSON_GetObjectItem(o, "seq")->valueint, 42);
    cJSON_Delete(o);
    /* data is embedded byte for byte */
    assert_non_null(strstr(b.p, ",\"data\":{\"p\":1.10},\"prev\":"));
    /* the canonical bytes are the record without its hash member */
    const char *h = strstr(b.p, ",\"hash\":\"");
    assert_non_null(h);
    char want[65];
    assert_int_equal(aud_sha256_hex(b.p, (size_t)(h - b.p), "}", 1, want), 0);
    assert_string_equal(want, hash);
    free(b.p);
}

static void
test_line_check_errors(void **state)
{
    (void)state;
    aud_buf b = {0};
    char hash[65];
    aud_event ev = {.ts = "t", .subject = "s", .seq = 1, .data = "{}", .datalen = 2};
    assert_int_equal(aud_record_build(&b, 1, &ev, AUD_ZERO_HASH, hash), 0);
    size_t len = b.len - 1;
    aud_rec rec;
    char *copy = malloc(len);
    assert_non_null(copy);

    memcpy(copy, b.p, len);
    copy[strstr(copy, "\"s\"") - copy + 1] = 't'; /* subject s -> t */
    assert_int_equal(aud_line_check(copy, len, &rec, NULL), AUD_HASH_MISMATCH);

    memcpy(copy, b.p, len);
    copy[len - 3] = copy[len - 3] == '0' ? '1' : '0'; /* last hex digit of hash */
    assert_int_equal(aud_line_check(copy, len, &rec, NULL), AUD_HASH_MISMATCH);

    assert_int_equal(aud_line_check(b.p, len - 1, &rec, NULL), AUD_BAD_JSON);
    assert_int_equal(aud_line_check("{\"a\":1}", 7, &rec, NULL), AUD_BAD_RECORD);
    assert_int_equal(aud_line_check("", 0, &rec, NULL), AUD_BAD_JSON);

    memcpy(copy, b.p, len);
    for (char *p = strstr(copy, "\"hash\":\"") + 8; *p != '"'; p++)
        *p = (char)(*p >= 'a' ? *p - 32 : *p); /* uppercase hex is not the format */
    assert_int_equal(aud_line_check(copy, len, &rec, NULL), AUD_BAD_RECORD);
    free(copy);
    free(b.p);
}

static void
test_segment_names(void **state)
{
    (void)state;
    char name[AUD_SEG_NAME_MAX];
    uint32_t no = 0;
    aud_segment_name(1, name);
    assert_string_equal(name, "audit-000001.jsonl");
    assert_true(aud_segment_parse(name, &no));
    assert_int_equal(no, 1);
    aud_segment_name(1234567, name);
    assert_true(aud_segment_parse(name, &no));
    assert_int_equal(no, 1234567);
    assert_false(aud_segment_parse("audit-1.jsonl", &no));
    assert_false(aud_segment_parse("audit-0000001.jsonl", &no));
    assert_false(aud_segment_parse("audit-000000.jsonl", &no));
    assert_false(aud_segment_parse("audit-000001.json", &no));
    assert_false(aud_segment_parse("audit-000001.jsonl.tmp", &no));
}

/* ---- the plugin ---------------------------------------------------------- */

static void
test_append_and_verify(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fh_counters_reset();
    void *ctx = start(CFG_DEFAULT, dir);
    feed_n(ctx, 1, 21);
    plugin->fini(ctx);
    assert_int_equal(fh_counter("audit_records"), 20);
    assert_int_equal(fh_counter("audit_segments"), 1);
    assert_true(fh_counter("audit_fsyncs") >= 1);
    assert_true(fh_counter("audit_fsyncs") <= 20);
    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_int_equal(r.records, 20);
    assert_int_equal(r.segments, 1);
    /* head is the last record's hash; the first chains to zeros */
    size_t len;
    char *buf = slurp(seg_path(dir, 1), &len);
    assert_non_null(strstr(buf, "\"prev\":\"" AUD_ZERO_HASH "\""));
    assert_memory_equal(buf + len - 67, r.head, 64);
    assert_non_null(strstr(buf, "\"n\":20,"));
    free(buf);
    rmtree(dir);
}

static void
test_invalid_json_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {"{bad", "", "{\"a\":\"x\ny\"}", "[1,2", "{} {}", "nul"};
    char *dir = tmpdir();
    fh_counters_reset();
    void *ctx = start(CFG_DEFAULT, dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jw_msg m = fh_msg("orders.created", "ORDERS", i + 1, "x", bad[i]);
        jw_result res;
        assert_int_equal(fh_handle(plugin, ctx, &m, &res), JW_REJECT);
        assert_memory_equal(res.reason, "invalid JSON", 12);
    }
    jw_msg m = fh_msg("orders.created", "ORDERS", 9, "y", "{\"a\":1}");
    m.len = 8; /* includes the NUL */
    jw_result res;
    assert_int_equal(fh_handle(plugin, ctx, &m, &res), JW_REJECT);
    assert_memory_equal(res.reason, "invalid JSON", 12);
    plugin->fini(ctx);
    assert_int_equal(fh_counter("audit_records"), 0);
    assert_int_equal(count_lines(seg_path(dir, 1)), 0);
    rmtree(dir);
}

static void
test_data_minified_verbatim(void **state)
{
    (void)state;
    char *dir = tmpdir();
    void *ctx = start(CFG_DEFAULT, dir);
    jw_msg m = fh_msg("payments.authorized", NULL, 3, NULL,
                      " {\n  \"amount\" : 1.10,\t\"big\": 12345678901234567890,\n"
                      "  \"s\": \"a  b\\n\" }\n");
    jw_result res;
    assert_int_equal(fh_handle(plugin, ctx, &m, &res), JW_ACK);
    plugin->fini(ctx);
    size_t len;
    char *buf = slurp(seg_path(dir, 1), &len);
    assert_non_null(
        strstr(buf, "\"data\":{\"amount\":1.10,\"big\":12345678901234567890,\"s\":\"a  b\\n\"}"));
    assert_non_null(strstr(buf, "\"stream\":null,\"seq\":3,\"message_id\":null,"));
    free(buf);
    rmtree(dir);
}

static void
test_rotation(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fh_counters_reset();
    void *ctx = start(CFG_SMALL, dir);
    feed_n(ctx, 1, 41);
    plugin->fini(ctx);
    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_int_equal(r.records, 40);
    assert_true(r.segments >= 3);
    assert_int_equal(fh_counter("audit_segments"), r.segments);
    size_t total = 0;
    for (uint32_t s = 1; s <= r.segments; s++) {
        struct stat st;
        assert_int_equal(stat(seg_path(dir, s), &st), 0);
        assert_true(st.st_size <= 1500);
        assert_true(st.st_size > 0);
        total += count_lines(seg_path(dir, s));
    }
    assert_int_equal(total, 40);
    /* the first record of segment 2 chains to the last of segment 1 */
    size_t l1, l2;
    char *s1 = slurp(seg_path(dir, 1), &l1), *s2 = slurp(seg_path(dir, 2), &l2);
    const char *prev2 = strstr(s2, "\"prev\":\"") + 8;
    assert_memory_equal(prev2, s1 + l1 - 67, 64);
    free(s1);
    free(s2);
    rmtree(dir);
}

static void
test_recovery_continues_chain(void **state)
{
    (void)state;
    char *dir = tmpdir();
    void *ctx = start(CFG_SMALL, dir);
    feed_n(ctx, 1, 14);
    plugin->fini(ctx);
    audit_chain_result before;
    assert_int_equal(verify(dir, 1, &before), 0);
    ctx = start(CFG_SMALL, dir);
    feed_n(ctx, 14, 30);
    plugin->fini(ctx);
    ctx = start(CFG_DEFAULT, dir); /* a restart with other settings */
    feed_n(ctx, 30, 31);
    plugin->fini(ctx);
    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_int_equal(r.records, 30);
    assert_true(r.segments > before.segments);
    rmtree(dir);
}

static void
test_idempotent_redelivery(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fh_counters_reset();
    void *ctx = start(CFG_SMALL, dir);
    feed_n(ctx, 1, 6);
    feed(ctx, 3); /* same plugin_instance */
    assert_int_equal(fh_counter("audit_records"), 5);
    /* the same id on another stream is another event */
    jw_msg m = fh_msg("inventory.reserved", "INVENTORY", 1, "e3", "{}");
    jw_result res;
    assert_int_equal(fh_handle(plugin, ctx, &m, &res), JW_ACK);
    assert_int_equal(fh_counter("audit_records"), 6);
    plugin->fini(ctx);

    /* after a restart (the crash between append and ACK) */
    fh_counters_reset();
    ctx = start(CFG_SMALL, dir);
    feed(ctx, 5);
    feed(ctx, 1);
    assert_int_equal(fh_handle(plugin, ctx, &m, &res), JW_ACK);
    assert_int_equal(fh_counter("audit_records"), 0);
    /* still remembered one rotation later (the previous segment) */
    uint64_t segs = fh_counter("audit_segments");
    unsigned i = 100;
    while (fh_counter("audit_segments") == segs && i < 200)
        feed(ctx, i++);
    assert_int_equal(fh_counter("audit_segments"), segs + 1);
    uint64_t recs = fh_counter("audit_records");
    feed(ctx, 100);
    assert_int_equal(fh_counter("audit_records"), recs);
    plugin->fini(ctx);

    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_int_equal(r.records, 6 + recs);
    rmtree(dir);
}

/* Rotate n segments by feeding new events from *next on. */
static void
rotate_n(void *ctx, unsigned *next, unsigned n)
{
    uint64_t want = fh_counter("audit_segments") + n;
    while (fh_counter("audit_segments") < want && *next < 100000)
        feed(ctx, (*next)++);
    assert_int_equal(fh_counter("audit_segments"), want);
}

/* Redeliver e<i> as a batch of its own; 1 when the plugin logged it again. */
static int
batch_logs_again(void *ctx, unsigned i)
{
    char id[32], data[128];
    snprintf(id, sizeof id, "e%u", i);
    snprintf(data, sizeof data, "{\"message_id\":\"%s\",\"order_id\":\"o%u\",\"qty\":%u}", id, i,
             i);
    jw_msg m = fh_msg("orders.created", "ORDERS", i, id, data);
    const jw_msg *mp = &m;
    jw_result res = {.verdict = JW_ACK, .delay_ms = -1};
    uint64_t before = fh_counter("audit_records");
    plugin->handle_batch(ctx, &mp, &res, 1);
    assert_int_equal(res.verdict, JW_ACK);
    return fh_counter("audit_records") != before;
}

/*
 * The soak of issue 16: a kill -9 between the fsync of a batch and its
 * commit in Redis; the redeliveries come ack_wait later, claimed afresh,
 * after the restarted process has caught up a backlog worth several
 * segments. Within dedup_window they are recognised however many segments
 * were started meanwhile, by handle() and handle_batch(), and after a
 * restart; with the window at 0 only the current and the previous
 * segment are remembered (the old behaviour, which logged them twice).
 */
static void
test_dedup_window(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fh_counters_reset();
    void *ctx = start(CFG_SMALL, dir); /* dedup_window: the default 2m */
    feed_n(ctx, 1, 4);
    unsigned next = 1000;
    rotate_n(ctx, &next, 4);
    uint64_t recs = fh_counter("audit_records");
    feed(ctx, 1);
    assert_false(batch_logs_again(ctx, 2));
    assert_int_equal(fh_counter("audit_records"), recs);
    plugin->fini(ctx);

    /* recovery remembers the segments written within the window too */
    fh_counters_reset();
    ctx = start(CFG_SMALL, dir);
    assert_false(batch_logs_again(ctx, 3));
    feed(ctx, 1);
    assert_int_equal(fh_counter("audit_records"), 0);
    plugin->fini(ctx);
    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_int_equal(r.records, recs);
    rmtree(dir);

    /* window 0: two segments later an event is forgotten, at run time and
     * after a restart */
    dir = tmpdir();
    fh_counters_reset();
    ctx = start(CFG_SMALL ",\"dedup_window\":0", dir);
    feed_n(ctx, 1, 4);
    next = 1000;
    rotate_n(ctx, &next, 1);
    assert_false(batch_logs_again(ctx, 1)); /* the previous segment */
    rotate_n(ctx, &next, 2);
    assert_true(batch_logs_again(ctx, 1));
    plugin->fini(ctx);
    fh_counters_reset();
    ctx = start(CFG_SMALL ",\"dedup_window\":0", dir);
    assert_true(batch_logs_again(ctx, 2));
    plugin->fini(ctx);
    assert_int_equal(verify(dir, 1, &r), 0);
    rmtree(dir);
}

static void
test_no_message_id_always_appended(void **state)
{
    (void)state;
    char *dir = tmpdir();
    fh_counters_reset();
    void *ctx = start(CFG_DEFAULT, dir);
    jw_msg m = fh_msg("orders.created", "ORDERS", 1, NULL, "{}");
    jw_result res;
    assert_int_equal(fh_handle(plugin, ctx, &m, &res), JW_ACK);
    assert_int_equal(fh_handle(plugin, ctx, &m, &res), JW_ACK);
    plugin->fini(ctx);
    assert_int_equal(fh_counter("audit_records"), 2);
    rmtree(dir);
}

static void
test_torn_tail(void **state)
{
    (void)state;
    char *dir = tmpdir();
    void *ctx = start(CFG_DEFAULT, dir);
    feed_n(ctx, 1, 4);
    plugin->fini(ctx);
    /* a crash in the middle of appending record 4 */
    int fd = open(seg_path(dir, 1), O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"n\":4,\"ts\":\"20", 15), 15);
    close(fd);

    audit_chain_result r;
    assert_int_equal(verify(dir, 0, &r), 0); /* tolerated, and said */
    assert_int_equal(r.records, 3);
    assert_string_equal(r.torn_segment, "audit-000001.jsonl");
    assert_int_equal(r.torn_line, 4);
    assert_int_equal(verify(dir, 1, &r), 1); /* --strict */
    assert_string_equal(r.error, "torn final line");
    assert_int_equal(r.line, 4);

    fh_counters_reset();
    ctx = start(CFG_DEFAULT, dir); /* cuts it */
    feed(ctx, 4);
    plugin->fini(ctx);
    assert_int_equal(fh_counter("audit_records"), 1);
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_int_equal(r.records, 4);
    assert_string_equal(r.torn_segment, "");
    rmtree(dir);
}

static void
test_recovery_refuses_corruption(void **state)
{
    (void)state;
    char *dir = tmpdir();
    void *ctx = start(CFG_DEFAULT, dir);
    feed_n(ctx, 1, 4);
    plugin->fini(ctx);
    size_t len;
    char *buf = slurp(seg_path(dir, 1), &len);
    char *q = strstr(buf + line_off(buf, 2), "\"qty\":2");
    assert_non_null(q);
    q[6] = '9';
    spit(seg_path(dir, 1), buf, len);
    free(buf);
    char cfg[512], err[256] = "";
    snprintf(cfg, sizeof cfg, "{\"dir\":\"%s\"}", dir);
    void *c2 = NULL;
    assert_true(plugin->init(fh_host(), (jw_instance *)&fh_state, cfg, &c2, err, sizeof err) < 0);
    assert_non_null(strstr(err, "audit-000001.jsonl:2: hash mismatch"));
    rmtree(dir);
}

static void
test_config_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"{}",
                                      "{\"dir\":\"\"}",
                                      "{\"dir\":\"/tmp/x\",\"segment_size\":0}",
                                      "{\"dir\":\"/tmp/x\",\"fsync_batch\":0}",
                                      "{\"dir\":\"/tmp/x\",\"fsync_interval\":-1}",
                                      "{\"dir\":\"/tmp/x\",\"dedup_window\":-1}",
                                      "{\"dir\":\"/tmp/x\",\"dedup_window\":\"2m\"}",
                                      "{\"dir\":\"/proc/no/such/dir\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        void *ctx = NULL;
        assert_true(
            plugin->init(fh_host(), (jw_instance *)&fh_state, bad[i], &ctx, err, sizeof err) < 0);
        assert_true(err[0] != '\0');
    }
}

/* Concurrent handlers share fsyncs and keep one unbroken chain. */
typedef struct conc_arg {
    void *ctx;
    unsigned base;
    unsigned acked;
} conc_arg;

static void *
conc_run(void *p)
{
    conc_arg *a = p;
    for (unsigned i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "c%u", a->base + i);
        jw_msg m = fh_msg("orders.created", "ORDERS", a->base + i, id, "{\"k\":[1,2,3]}");
        jw_result res;
        for (int copy = 0; copy < 1 + (i % 7 == 0); copy++)
            a->acked += fh_handle(plugin, a->ctx, &m, &res) == JW_ACK;
    }
    return NULL;
}

/*
 * T threads append 100 records each (every 7th twice: a redelivery): every
 * handler must return, every record be ACKed once and on disk in one
 * unbroken chain. Run with small segments that rotate under the appends and
 * the leader gathering (fsync_interval); then, in one segment (a redelivery
 * is known as such only within the current and the previous segment, and
 * with 16 threads two rotations can fall between the two copies), without
 * gathering (each fsync takes what is there) and with one record per
 * fsync, which hands leadership on after every fsync.
 */
static void
concurrent_handlers(const char *extra, unsigned nthreads, int rotates)
{
    char *dir = tmpdir();
    fh_counters_reset();
    void *ctx = start(extra, dir);
    pthread_t tid[16];
    conc_arg args[16];
    assert_true(nthreads <= 16);
    for (unsigned t = 0; t < nthreads; t++) {
        args[t] = (conc_arg){.ctx = ctx, .base = t * 1000};
        assert_int_equal(pthread_create(&tid[t], NULL, conc_run, &args[t]), 0);
    }
    unsigned acked = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        acked += args[t].acked;
    }
    plugin->fini(ctx);
    assert_int_equal(acked, nthreads * (100 + 15));
    assert_int_equal(fh_counter("audit_records"), nthreads * 100);
    assert_true(fh_counter("audit_fsyncs") <= nthreads * 100);
    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_int_equal(r.records, nthreads * 100);
    assert_int_equal(fh_counter("audit_segments"), r.segments);
    if (rotates)
        assert_true(r.segments > 2);
    else
        assert_int_equal(r.segments, 1);
    rmtree(dir);
}

static void
test_concurrent_handlers(void **state)
{
    (void)state;
    concurrent_handlers(",\"segment_size\":16384,\"fsync_batch\":16", 8, 1);
}

static void
test_concurrent_handlers_no_gathering(void **state)
{
    (void)state;
    concurrent_handlers(",\"fsync_batch\":64,\"fsync_interval\":0", 16, 0);
}

static void
test_concurrent_handlers_fsync_each(void **state)
{
    (void)state;
    concurrent_handlers(",\"fsync_batch\":1", 16, 0);
}

/*
 * handle_batch (ABI 1.1): a batch with valid events, an invalid payload, a
 * redelivery inside the batch and one of an earlier batch, over segments
 * that rotate mid-batch: verdicts per message, each event once, one chain.
 */
static void
test_batch(void **state)
{
    (void)state;
    assert_non_null(plugin->handle_batch);
    char *dir = tmpdir();
    fh_counters_reset();
    void *ctx = start(CFG_SMALL, dir);
    enum { N = 12 };
    char ids[N][16], data[N][96];
    jw_msg m[N];
    const jw_msg *mp[N];
    jw_result res[N];
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned i = 0; i < N; i++) {
            unsigned k = round * 10 + i; /* round 1 repeats e10, e11 of round 0 */
            snprintf(ids[i], sizeof ids[i], "e%u", k);
            snprintf(data[i], sizeof data[i], "{\"message_id\":\"%s\", \"qty\": %u}", ids[i], k);
            m[i] = fh_msg("orders.created", "ORDERS", k + 1, ids[i], data[i]);
            mp[i] = &m[i];
            res[i] = (jw_result){.verdict = JW_ACK, .delay_ms = -1};
        }
        m[3].data = "{bad";
        m[3].len = 4;
        m[5] = m[4]; /* a redelivery of e4 in the same batch */
        plugin->handle_batch(ctx, mp, res, N);
        for (unsigned i = 0; i < N; i++)
            assert_int_equal(res[i].verdict, i == 3 ? JW_REJECT : JW_ACK);
        assert_memory_equal(res[3].reason, "invalid JSON", 12);
    }
    /* round 0: e0..e11 minus e3, e5 (its slot holds e4 again) = 10;
     * round 1: e10..e21 minus e13, e15, and e10, e11 known = 8 */
    assert_int_equal(fh_counter("audit_records"), 18);
    assert_true(fh_counter("audit_fsyncs") >= 2);
    plugin->fini(ctx);
    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_int_equal(r.records, 18);
    assert_true(r.segments >= 2);
    /* the payload is minified as handle() does */
    size_t len;
    char *buf = slurp(seg_path(dir, 1), &len);
    assert_non_null(strstr(buf, "\"data\":{\"message_id\":\"e0\",\"qty\":0}"));
    free(buf);
    rmtree(dir);
}

/* ---- verify: each corruption is found and named ------------------------ */

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_record_format),
        cmocka_unit_test(test_line_check_errors),
        cmocka_unit_test(test_segment_names),
        cmocka_unit_test(test_append_and_verify),
        cmocka_unit_test(test_invalid_json_rejected),
        cmocka_unit_test(test_data_minified_verbatim),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_recovery_continues_chain),
        cmocka_unit_test(test_idempotent_redelivery),
        cmocka_unit_test(test_dedup_window),
        cmocka_unit_test(test_no_message_id_always_appended),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_recovery_refuses_corruption),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_concurrent_handlers),
        cmocka_unit_test(test_concurrent_handlers_no_gathering),
        cmocka_unit_test(test_concurrent_handlers_fsync_each),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
