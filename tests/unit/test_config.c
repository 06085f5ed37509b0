/*
 * test_config.c -- config_load() end to end on YAML files written to a
 * temporary directory: every error class with its position and key path,
 * defaults, env substitution, secrets, plugin dir resolution, the dump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "config/config.h"

static char dir[64];
static char cfgpath[128];

/* A topology every error test starts from (valid on its own). */
#define BASE              \
    "plugins:\n"          \
    "  dir: plugins\n"    \
    "  instances:\n"      \
    "    - name: order\n" \
    "streams:\n"          \
    "  - name: ORDERS\n"  \
    "    subjects: [orders.>]\n"

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/jwcfg.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    char p[128];
    snprintf(p, sizeof(p), "%s/plugins", dir);
    snprintf(cfgpath, sizeof(cfgpath), "%s/t.yaml", dir);
    return mkdir(p, 0755);
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static int
load(const char *text, jw_config **cfg, cfg_errors *errs)
{
    write_file(cfgpath, text);
    return config_load(cfgpath, cfg, errs);
}

/* Loads text that must be valid. */
static jw_config *
load_ok(const char *text)
{
    jw_config *cfg = NULL;
    cfg_errors errs = {0};
    int rc = load(text, &cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("unexpected: %s\n", errs.v[i].text);
    assert_int_equal(rc, 0);
    assert_int_equal(errs.n, 0);
    assert_non_null(cfg);
    cfg_errors_free(&errs);
    return cfg;
}

/*
 * Loads text that must fail with exactly the listed errors, in order; each
 * expected string is "LINE:COL: key.path: message-part" and must follow
 * the file path at the start of the error.
 */
static void
expect_errors(const char *text, ...)
{
    jw_config *cfg = (jw_config *)1;
    cfg_errors errs = {0};
    va_list ap;
    size_t n = 0;
    int rc = load(text, &cfg, &errs);
    assert_int_equal(rc, -1);
    assert_null(cfg);
    va_start(ap, text);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL; n++) {
        if (n >= errs.n) {
            print_message("missing error: %s\n", want);
            fail();
        }
        const char *got = errs.v[n].text;
        size_t pl = strlen(cfgpath);
        if (strncmp(got, cfgpath, pl) != 0 || got[pl] != ':' ||
            strncmp(got + pl + 1, want, strlen(want)) != 0) {
            print_message("error %zu\n  got:  %s\n  want: %s:%s...\n", n, got, cfgpath, want);
            fail();
        }
    }
    va_end(ap);
    for (size_t i = n; i < errs.n; i++)
        print_message("extra error: %s\n", errs.v[i].text);
    assert_int_equal(errs.n, n);
    cfg_errors_free(&errs);
}

static void
test_good_file(void **state)
{
    (void)state;
    jw_config *cfg = NULL;
    cfg_errors errs = {0};
    assert_int_equal(config_load("tests/configs/good.yaml", &cfg, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_string_equal(cfg->service.name, "orders");
    assert_int_equal(cfg->service.workers, 4);
    assert_int_equal(cfg->service.shutdown_grace_ms, 20000);
    assert_int_equal(cfg->nstreams, 3);
    assert_int_equal(cfg->nconsumers, 2);
    assert_int_equal(cfg->nplugins, 2);
    assert_int_equal(cfg->nservices, 1);
    const cfg_consumer *k = config_find_consumer(cfg, "order-created");
    assert_non_null(k);
    assert_int_equal(k->nbackoff, 3);
    assert_int_equal(k->backoff_ms[2], 30000);
    assert_int_equal(k->concurrency, 8);
    assert_int_equal(k->batch, 32);
    assert_int_equal(k->max_ack_pending, 64);
    assert_true(k->dedup.enabled);
    assert_int_equal(k->dedup.lease_ms, 20000);
    const cfg_stream *s = config_find_stream(cfg, "PAYMENTS");
    assert_non_null(s);
    assert_int_equal(s->storage, CFG_STORAGE_MEMORY);
    assert_int_equal(s->retention, CFG_RETENTION_WORKQUEUE);
    assert_int_equal(config_find_stream(cfg, "ORDERS")->max_bytes, 1073741824LL);
    assert_null(config_find_stream(cfg, "NOPE"));
    const cfg_plugin *p = config_find_plugin(cfg, "payment");
    assert_string_equal(p->file, "pay.so");
    p = config_find_plugin(cfg, "order");
    assert_string_equal(p->file, "order.so");
    assert_non_null(p->config);
    assert_string_equal(cfgnode_get(p->config, "limit")->scalar, "10");
    assert_int_equal(cfgnode_get(p->config, "limit")->line, 25);
    assert_true(cfg->plugin_dir[0] == '/');
    assert_non_null(strstr(cfg->plugin_dir, "tests/configs/plugins"));
    assert_string_equal(cfg->http.host, "127.0.0.1");
    assert_int_equal(cfg->http.port, 9090);
    assert_int_equal(cfg->log.format, CFG_LOG_TEXT);
    assert_int_equal(cfg->log.level, 3);
    assert_int_equal(cfg->redis.db, 0);
    assert_int_equal(cfg->redis.timeout_ms, 1000);

    /* digest = SHA-256 of the bytes */
    FILE *fp = fopen("tests/configs/good.yaml", "rb");
    assert_non_null(fp);
    char buf[65536];
    size_t len = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    unsigned char md[32];
    unsigned int mdlen = 0;
    assert_true(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL));
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(cfg->digest, hex);
    config_free(cfg);
}

static void
test_defaults(void **state)
{
    (void)state;
    jw_config *cfg = load_ok(BASE "consumers:\n"
                                  "  - name: c\n"
                                  "    stream: ORDERS\n"
                                  "    handler: order\n"
                                  "    dead_letter: dlq.c\n");
    assert_string_equal(cfg->service.name, "jetway");
    assert_true(cfg->service.workers >= 2 && cfg->service.workers <= 256);
    assert_int_equal(cfg->service.shutdown_grace_ms, 30000);
    assert_non_null(cfg->service.instance_id);
    assert_int_equal(cfg->nats.nservers, 1);
    assert_string_equal(cfg->nats.servers[0], "nats://127.0.0.1:4222");
    assert_string_equal(cfg->nats.name, "jetway");
    assert_int_equal(cfg->nats.connect_timeout_ms, 2000);
    assert_int_equal(cfg->nats.reconnect_wait_ms, 250);
    assert_int_equal(cfg->nats.reconnect_wait_max_ms, 5000);
    assert_int_equal(cfg->nats.request_timeout_ms, 5000);
    assert_false(cfg->nats.send_asap);
    assert_false(cfg->has_redis);
    const cfg_stream *s = &cfg->streams[0];
    assert_int_equal(s->storage, CFG_STORAGE_FILE);
    assert_int_equal(s->retention, CFG_RETENTION_LIMITS);
    assert_int_equal(s->discard, CFG_DISCARD_OLD);
    assert_int_equal(s->max_age_ms, 0);
    assert_int_equal(s->max_bytes, -1);
    assert_int_equal(s->max_msgs, -1);
    assert_int_equal(s->max_msg_size, -1);
    assert_int_equal(s->replicas, 1);
    assert_int_equal(s->duplicate_window_ms, 120000);
    const cfg_consumer *k = &cfg->consumers[0];
    assert_int_equal(k->ack_wait_ms, 30000);
    assert_int_equal(k->max_deliver, 5);
    assert_int_equal(k->nbackoff, 1);
    assert_int_equal(k->backoff_ms[0], 1000);
    assert_int_equal(k->concurrency, 1);
    assert_int_equal(k->batch, 64);
    assert_int_equal(k->max_ack_pending, 128);
    assert_int_equal(k->deliver_policy, CFG_DELIVER_ALL);
    assert_null(k->filter_subject);
    assert_false(k->prune);
    assert_false(k->dedup.enabled); /* no redis section */
    assert_string_equal(k->dedup.key_prefix, "jw");
    assert_string_equal(k->dedup.id_from, "header");
    assert_string_equal(k->dedup.id_field, "message_id");
    assert_int_equal(k->dedup.lease_ms, 20000);
    assert_int_equal(k->dedup.ttl_ms, 72LL * 3600 * 1000);
    assert_int_equal(k->dedup.on_unavailable, CFG_UNAVAILABLE_PAUSE);
    assert_int_equal(cfg->log.format, CFG_LOG_JSON);
    assert_int_equal(cfg->log.level, 2);
    assert_null(cfg->http.listen);
    assert_null(cfg->tracing.otlp_endpoint);
    assert_int_equal(cfg->tracing.export_interval_ms, 1000);
    assert_int_equal(cfg->tracing.queue_size, 4096);
    config_free(cfg);

    /* A redis section, even empty, turns dedup on by default. */
    cfg = load_ok(BASE "redis:\n"
                       "consumers:\n"
                       "  - {name: c, stream: ORDERS, handler: order, dead_letter: dlq.c,\n"
                       "     concurrency: 300, ack_wait: 3s}\n");
    assert_true(cfg->has_redis);
    assert_string_equal(cfg->redis.host, "127.0.0.1");
    assert_int_equal(cfg->redis.port, 6379);
    assert_int_equal(cfg->redis.timeout_ms, 2000);
    assert_true(cfg->consumers[0].dedup.enabled);
    assert_int_equal(cfg->consumers[0].dedup.lease_ms, 2000);
    assert_int_equal(cfg->consumers[0].max_ack_pending, 300); /* max(2*batch, concurrency) */
    config_free(cfg);

    cfg = load_ok("nats:\n  send_asap: true\n");
    assert_true(cfg->nats.send_asap);
    config_free(cfg);
    expect_errors("nats:\n  send_asap: 1\n",
                  "2:14: nats.send_asap: expected a boolean (true or false), got '1'", NULL);

    /* An empty file is all defaults. */
    cfg = load_ok("");
    assert_int_equal(cfg->nstreams, 0);
    assert_string_equal(cfg->service.name, "jetway");
    config_free(cfg);
}

static void
test_letter_too_large_for_dlq(void **state)
{
    (void)state;
    expect_errors(BASE "    max_msg_size: 1KiB\n"
                       "  - name: DLQ\n    subjects: [dlq.>]\n    max_msg_size: 2KiB\n"
                       "consumers:\n"
                       "  - {name: c, stream: ORDERS, handler: order, dead_letter: dlq.c}\n",
                  "13:60: consumers[0].dead_letter: dead-letter stream 'DLQ' has max_msg_size 2048",
                  NULL);
}

static void
test_syntax_error(void **state)
{
    (void)state;
    expect_errors("service:\n  name: [a, b\nnats: {}\n", "3:5: syntax error:", NULL);
    expect_errors("a: b\n c: d\n", "2:3: syntax error: mapping values are not allowed", NULL);
    expect_errors("service:\n\tname: x\n", "2:1: syntax error:", NULL);
}

static void
test_anchor_multidoc(void **state)
{
    (void)state;
    expect_errors(BASE "consumers:\n"
                       "  - &c {name: c, stream: ORDERS, handler: order, dead_letter: d.c}\n"
                       "  - *c\n",
                  "9:5: anchors (&c) are not supported", "10:5: aliases (*c) are not supported",
                  "10:5: consumers[1]: expected a mapping, got a scalar", NULL);
    expect_errors("service: {name: a}\n---\nservice: {name: b}\n", "2:1: a second YAML document",
                  NULL);
}

static void
test_unknown_keys(void **state)
{
    (void)state;
    expect_errors(BASE "servce:\n  name: x\n"
                       "nats:\n  conect_timeout: 1s\n  tls: {ca_file: x}\n"
                       "consumers:\n"
                       "  - name: c\n    stream: ORDERS\n    handler: order\n"
                       "    dead_letter: d.c\n"
                       "    dedup: {leese: 1s, zzzzzzzzzz: 1}\n",
                  "8:1: servce: unknown key 'servce' (did you mean 'service'?)",
                  "11:3: nats.conect_timeout: unknown key 'conect_timeout' (did you mean "
                  "'connect_timeout'?)",
                  "12:9: nats.tls.ca_file: unknown key 'ca_file'",
                  "18:13: consumers[0].dedup.leese: unknown key 'leese' (did you mean 'lease'?)",
                  "18:24: consumers[0].dedup.zzzzzzzzzz: unknown key 'zzzzzzzzzz'\0", NULL);
}

static void
test_wrong_types(void **state)
{
    (void)state;
    expect_errors("nats: 5\n"
                  "streams: {name: x}\n"
                  "service:\n  workers: many\n  name: [a]\n"
                  "consumers:\n  - prune: maybe\n    name: c\n    stream: S\n    handler: h\n"
                  "    dead_letter: d\n"
                  "    backoff: {a: 1}\n",
                  "1:7: nats: expected a mapping, got a scalar",
                  "2:10: streams: expected a list, got a mapping",
                  "4:12: service.workers: expected an integer, got 'many'",
                  "5:9: service.name: expected a scalar, got a sequence",
                  "7:12: consumers[0].prune: expected a boolean (true or false), got 'maybe'",
                  /* references are still checked */
                  "9:13: consumers[0].stream: unknown stream 'S'",
                  "10:14: consumers[0].handler: unknown handler 'h'",
                  "12:14: consumers[0].backoff: expected a list of durations, got a mapping", NULL);
}

static void
test_bad_values(void **state)
{
    (void)state;
    expect_errors(BASE "  - name: S2\n    subjects: [s2.x]\n    max_bytes: 10XB\n"
                       "    storage: disk\n    max_age: 5 days\n    replicas: 7\n"
                       "log: {level: loud}\n",
                  "10:16: streams[1].max_bytes: bad size '10XB': unknown unit 'XB'",
                  "11:14: streams[1].storage: bad value 'disk' (allowed: file, memory)",
                  "12:14: streams[1].max_age: bad duration '5 days'",
                  "13:15: streams[1].replicas: must be between 1 and 5, got 7",
                  "14:14: log.level: bad value 'loud' (allowed: error, warn, info, debug)", NULL);
    expect_errors("service: {shutdown_grace: -5s, workers: 0}\n",
                  "1:27: service.shutdown_grace: bad duration '-5s': negative",
                  "1:41: service.workers: must be between 1 and 256, got 0", NULL);
}

static void
test_duplicate_keys(void **state)
{
    (void)state;
    expect_errors("log:\n  level: info\n  level: debug\nlog: {}\n",
                  "3:3: log.level: duplicate key 'level' (first at line 2 column 3)",
                  "4:1: log: duplicate key 'log' (first at line 1 column 1)", NULL);
}

static void
test_duplicate_names(void **state)
{
    (void)state;
    expect_errors("plugins:\n  dir: plugins\n  instances:\n"
                  "    - name: order\n"
                  "    - name: order\n"
                  "streams:\n"
                  "  - {name: ORDERS, subjects: [orders.>]}\n"
                  "  - {name: ORDERS, subjects: [x.>]}\n"
                  "consumers:\n"
                  "  - {name: c, stream: ORDERS, handler: order, dead_letter: d.c}\n"
                  "  - {name: c, stream: ORDERS, handler: order, dead_letter: d.c}\n"
                  "services:\n"
                  "  - {name: s, subject: api.x, handler: order}\n"
                  "  - {name: s, subject: api.y, handler: order}\n",
                  "5:13: plugins.instances[1].name: duplicate plugin instance name 'order' "
                  "(first at line 4)",
                  "8:12: streams[1].name: duplicate stream name 'ORDERS' (first at line 7)",
                  "11:12: consumers[1].name: duplicate consumer name 'c' (first at line 10)",
                  "14:12: services[1].name: duplicate service name 's' (first at line 13)", NULL);
}

static void
test_missing_required(void **state)
{
    (void)state;
    expect_errors(BASE "  - name: S2\n"
                       "consumers:\n"
                       "  - name: c\n    stream: ORDERS\n    dead_letter: d.c\n"
                       "services:\n  - {name: s, handler: order}\n"
                       "plugins: {}\n",
                  "8:5: streams[1]: missing required key 'subjects'",
                  "10:5: consumers[0]: missing required key 'handler'",
                  "14:5: services[0]: missing required key 'subject'",
                  "15:1: plugins: duplicate key 'plugins'", NULL);
    expect_errors("plugins:\n  instances: [{name: a}]\n",
                  "2:3: plugins: missing required key 'dir'", NULL);
}

static void
test_references(void **state)
{
    (void)state;
    expect_errors(BASE "consumers:\n"
                       "  - name: c\n    stream: ORDRES\n    handler: ordr\n"
                       "    dead_letter: d.c\n"
                       "  - name: d\n    stream: ORDERS\n    handler: order\n"
                       "    filter_subject: payments.x\n    dead_letter: d.d\n"
                       "services:\n  - {name: s, subject: api.x, handler: nothing}\n",
                  "10:13: consumers[0].stream: unknown stream 'ORDRES' (did you mean 'ORDERS'?)",
                  "11:14: consumers[0].handler: unknown handler 'ordr': not in "
                  "plugins.instances (did you mean 'order'?)",
                  "16:21: consumers[1].filter_subject: filter_subject 'payments.x' is not within "
                  "the subjects of stream 'ORDERS'",
                  "19:40: services[0].handler: unknown handler 'nothing'", NULL);
}

static void
test_filter_subject_within(void **state)
{
    (void)state;
    jw_config *cfg = load_ok(BASE "  - name: P\n    subjects: [pay.*.x, pay.y]\n"
                                  "consumers:\n"
                                  "  - {name: a, stream: ORDERS, handler: order, "
                                  "filter_subject: orders.*.created, dead_letter: d.a}\n"
                                  "  - {name: b, stream: P, handler: order, "
                                  "filter_subject: pay.*.x, dead_letter: d.b}\n"
                                  "  - {name: c, stream: P, handler: order, "
                                  "filter_subject: pay.y, dead_letter: d.c}\n");
    config_free(cfg);
    expect_errors(BASE "  - name: P\n    subjects: [pay.*.x]\n"
                       "consumers:\n"
                       "  - {name: b, stream: P, handler: order, "
                       "filter_subject: pay.>, dead_letter: d.b}\n",
                  "11:58: consumers[0].filter_subject: filter_subject 'pay.>' is not within", NULL);
}

static void
test_env(void **state)
{
    (void)state;
    setenv("JW_TEST_NAME", "from-env", 1);
    unsetenv("JW_TEST_UNSET");
    jw_config *cfg = load_ok("service:\n"
                             "  name: ${JW_TEST_NAME}\n"
                             "  instance_id: \"${JW_TEST_UNSET:-i-1}\"\n"
                             "nats:\n  name: 'lit-$${JW_TEST_NAME}'\n");
    assert_string_equal(cfg->service.name, "from-env");
    assert_string_equal(cfg->service.instance_id, "i-1");
    assert_string_equal(cfg->nats.name, "lit-${JW_TEST_NAME}");
    config_free(cfg);
    expect_errors("service:\n  name: x\n  shutdown_grace: ${JW_TEST_UNSET}\n"
                  "nats:\n  servers: [nats://a:1, \"${JW_TEST_UNSET}\"]\n",
                  "3:19: service.shutdown_grace: environment variable 'JW_TEST_UNSET' is not set",
                  "5:25: nats.servers[1]: environment variable 'JW_TEST_UNSET' is not set", NULL);
}

static void
test_timing(void **state)
{
    (void)state;
    expect_errors(BASE "  - name: S2\n    subjects: [s2.>]\n    duplicate_window: 2h\n"
                       "redis: {}\n"
                       "consumers:\n"
                       "  - name: a\n    stream: ORDERS\n    handler: order\n"
                       "    dead_letter: d.a\n    ack_wait: 10s\n"
                       "    dedup: {lease: 10s}\n"
                       "  - name: b\n    stream: S2\n    handler: order\n"
                       "    dead_letter: d.b\n"
                       "    dedup: {ttl: 1h}\n",
                  "18:20: consumers[0].dedup.lease: dedup.lease (10s) must be shorter than "
                  "ack_wait (10s)",
                  "23:18: consumers[1].dedup.ttl: dedup.ttl (1h) must be at least the "
                  "duplicate_window (2h) of stream 'S2'",
                  NULL);
    expect_errors(BASE "consumers:\n"
                       "  - name: a\n    stream: ORDERS\n    handler: order\n"
                       "    dead_letter: d.a\n"
                       "    backoff: [1s, 0ms]\n"
                       "    max_deliver: 0\n"
                       "    batch: 0\n"
                       "    concurrency: 20\n"
                       "    max_ack_pending: 10\n",
                  "13:19: consumers[0].backoff[1]: backoff values must be greater than 0",
                  "14:18: consumers[0].max_deliver: must be between 1 and 2147483647, got 0",
                  "15:12: consumers[0].batch: must be between 1 and 1000000, got 0",
                  "16:18: consumers[0].concurrency: concurrency (20) must not exceed "
                  "max_ack_pending (10)",
                  NULL);
    expect_errors(BASE "consumers:\n"
                       "  - {name: a, stream: ORDERS, handler: order, dead_letter: d.a,\n"
                       "     deliver_policy: by_start_sequence}\n"
                       "  - {name: b, stream: ORDERS, handler: order, dead_letter: d.b,\n"
                       "     deliver_policy: by_start_time}\n"
                       "  - {name: c, stream: ORDERS, handler: order, dead_letter: d.c,\n"
                       "     start_sequence: 10, start_time: 2024-01-01T00:00:00Z}\n"
                       "  - {name: d, stream: ORDERS, handler: order, dead_letter: d.d,\n"
                       "     deliver_policy: by_start_time, start_time: yesterday}\n",
                  "10:22: consumers[0].deliver_policy: deliver_policy by_start_sequence requires "
                  "start_sequence",
                  "12:22: consumers[1].deliver_policy: deliver_policy by_start_time requires "
                  "start_time",
                  "14:22: consumers[2].start_sequence: start_sequence is only used with "
                  "deliver_policy by_start_sequence",
                  "14:38: consumers[2].start_time: start_time is only used with",
                  "16:49: consumers[3].start_time: bad time 'yesterday'", NULL);
    jw_config *cfg = load_ok(BASE "consumers:\n"
                                  "  - {name: a, stream: ORDERS, handler: order, dead_letter: "
                                  "d.a, deliver_policy: by_start_sequence, start_sequence: 42}\n"
                                  "  - {name: b, stream: ORDERS, handler: order, dead_letter: "
                                  "d.b, deliver_policy: by_start_time, "
                                  "start_time: \"2024-05-01T12:00:00Z\"}\n");
    assert_int_equal(cfg->consumers[0].opt_start_seq, 42);
    assert_int_equal(cfg->consumers[1].opt_start_time_ns, 1714564800LL * 1000000000LL);
    config_free(cfg);
}

static void
test_dead_letter_and_redis(void **state)
{
    (void)state;
    expect_errors(BASE "consumers:\n"
                       "  - name: a\n    stream: ORDERS\n    handler: order\n"
                       "    dead_letter: orders.dead\n"
                       "    dedup: {enabled: true}\n"
                       "  - name: b\n    stream: ORDERS\n    handler: order\n"
                       "    dead_letter: dlq.*\n",
                  "12:18: consumers[0].dead_letter: dead_letter 'orders.dead' is captured by "
                  "subject 'orders.>' of the consumer's own stream 'ORDERS'",
                  "13:22: consumers[0].dedup.enabled: dedup needs a redis section",
                  "17:18: consumers[1].dead_letter: wildcards are not allowed here", NULL);
}

static void
test_secrets(void **state)
{
    (void)state;
    char pwfile[160], text[1024];
    snprintf(pwfile, sizeof(pwfile), "%s/pw.txt", dir);
    write_file(pwfile, "file-secret\n");
    setenv("JW_TEST_TOKEN", "env-secret", 1);
    snprintf(text, sizeof(text),
             "nats:\n  user: app\n  password_file: %s\n"
             "redis:\n  url: redis://u:url-secret@127.0.0.1:6379/2\n",
             pwfile);
    jw_config *cfg = load_ok(text);
    assert_string_equal(cfg->nats.password, "file-secret");
    assert_string_equal(cfg->redis.password, "url-secret");
    assert_string_equal(cfg->redis.user, "u");
    assert_int_equal(cfg->redis.db, 2);
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    config_dump(cfg, fp);
    fclose(fp);
    assert_null(strstr(out, "file-secret"));
    assert_null(strstr(out, "url-secret"));
    assert_non_null(strstr(out, "  password: \"<redacted>\"\n"));
    assert_non_null(strstr(out, "redis://u:<redacted>@127.0.0.1:6379/2"));
    free(out);
    config_free(cfg);

    cfg = load_ok("nats:\n  token_env: JW_TEST_TOKEN\n"
                  "plugins:\n  dir: plugins\n  instances:\n"
                  "    - {name: p, config: {api_token: plug-secret, level: 3}}\n");
    assert_string_equal(cfg->nats.token, "env-secret");
    fp = open_memstream(&out, &len);
    config_dump(cfg, fp);
    fclose(fp);
    assert_null(strstr(out, "env-secret"));
    assert_null(strstr(out, "plug-secret"));
    assert_non_null(strstr(out, "api_token: \"<redacted>\""));
    assert_non_null(strstr(out, "level: 3\n"));
    free(out);
    config_free(cfg);

    /* Errors about secrets name the key, never the value. */
    cfg_errors errs = {0};
    unsetenv("JW_TEST_UNSET");
    assert_int_equal(load("nats:\n  user: a\n  password: pw-one\n  password_env: JW_TEST_UNSET\n"
                          "  token_env: JW_TEST_UNSET\n"
                          "redis:\n  url: redis://u:url-two@host:badport\n",
                          &cfg, &errs),
                     -1);
    assert_int_equal(errs.n, 3);
    for (size_t i = 0; i < errs.n; i++) {
        assert_null(strstr(errs.v[i].text, "pw-one"));
        assert_null(strstr(errs.v[i].text, "url-two"));
    }
    assert_non_null(strstr(errs.v[0].text, "4:17: nats.password_env: only one of password"));
    assert_non_null(strstr(errs.v[1].text, "5:14: nats.token_env: environment variable "
                                           "'JW_TEST_UNSET' is not set"));
    assert_non_null(strstr(errs.v[2].text, "7:8: redis.url: bad url: bad port"));
    /* Two authentications at once is its own error. */
    assert_int_equal(load("nats:\n  user: a\n  token: t\n", &cfg, &errs), -1);
    assert_int_equal(errs.n, 4);
    assert_non_null(strstr(errs.v[3].text, "2:3: nats: choose one authentication"));
    cfg_errors_free(&errs);
}

static void
test_plugin_dir(void **state)
{
    (void)state;
    jw_config *cfg = load_ok("plugins:\n  dir: ./plugins/\n");
    char want[160];
    char *real = realpath(dir, NULL);
    snprintf(want, sizeof(want), "%s/plugins", real);
    free(real);
    assert_string_equal(cfg->plugin_dir, want);
    config_free(cfg);
    expect_errors("plugins:\n  dir: no-such-dir\n", "2:8: plugins.dir: plugin directory '", NULL);
    expect_errors("plugins:\n  dir: t.yaml\n", "2:8: plugins.dir: '", NULL);
    expect_errors("plugins:\n  dir: plugins\n  instances:\n    - {name: a, file: ../a.so}\n",
                  "4:23: plugins.instances[0].file: '../a.so' must be a file name inside", NULL);
}

static void
test_workqueue_and_overlap(void **state)
{
    (void)state;
    expect_errors(BASE "  - name: W\n    subjects: [work.*]\n    retention: workqueue\n"
                       "  - name: X\n    subjects: [orders.x]\n"
                       "consumers:\n"
                       "  - {name: a, stream: W, handler: order, dead_letter: d.a}\n"
                       "  - {name: b, stream: W, handler: order, dead_letter: d.b, "
                       "deliver_policy: last}\n"
                       "services:\n  - {name: s, subject: orders.api, handler: order}\n",
                  "12:16: streams[2].subjects[0]: subject 'orders.x' overlaps subject 'orders.>' "
                  "of stream 'ORDERS'",
                  "15:23: consumers[1].stream: consumer 'b' overlaps consumer 'a' on workqueue",
                  "15:76: consumers[1].deliver_policy: stream 'W' has workqueue retention",
                  "17:24: services[0].subject: subject 'orders.api' is captured by subject "
                  "'orders.>' of stream 'ORDERS'",
                  NULL);
}

static void
test_sections_misc(void **state)
{
    (void)state;
    unsetenv("JW_TEST_UNSET");
    expect_errors("nats:\n"
                  "  servers: [\"nats://a:1\", \"http://b:2\", \"nats://c:3,nats://d:4\"]\n"
                  "  creds_file: missing.creds\n"
                  "  tls: {cert: c.pem}\n"
                  "  reconnect_wait: 10s\n"
                  "  reconnect_wait_max: 1s\n"
                  "  inbox_prefix: \"_IN.>\"\n"
                  "http: {listen: \"localhost\"}\n"
                  "tracing: {otlp_endpoint: \"udp://x\", queue_size: 0}\n"
                  "services:\n"
                  "  - {name: s, subject: \"api.x\", queue: \"q 1\", handler: h}\n"
                  "consumers:\n"
                  "  - {name: \"${JW_TEST_UNSET}\", stream: S, handler: h, dead_letter: d, "
                  "dedup: 5}\n",
                  "2:27: nats.servers[1]: unsupported scheme in 'http://b:2'",
                  "2:41: nats.servers[2]: one URL per list item",
                  "3:15: nats.creds_file: cannot read '", "4:8: nats.tls: cert and key go together",
                  "4:15: nats.tls.cert: cannot read '",
                  "6:23: nats.reconnect_wait_max: reconnect_wait_max (1s) must be at least "
                  "reconnect_wait (10s)",
                  "7:17: nats.inbox_prefix: wildcards are not allowed here",
                  "8:16: http.listen: bad address 'localhost': missing ':port'",
                  "9:26: tracing.otlp_endpoint: 'udp://x' is not an http:// or https:// URL",
                  "9:49: tracing.queue_size: must be between 1 and 10000000, got 0",
                  "11:40: services[0].queue: bad queue group",
                  "11:56: services[0].handler: unknown handler 'h'",
                  /* the unset variable is the only error about the name */
                  "13:12: consumers[0].name: environment variable 'JW_TEST_UNSET' is not set",
                  "13:40: consumers[0].stream: unknown stream 'S'",
                  "13:52: consumers[0].handler: unknown handler 'h'",
                  "13:78: consumers[0].dedup: expected a mapping, got a scalar", NULL);
}

/* The acceptance case: five different mistakes, five located errors. */
static void
test_five_mistakes(void **state)
{
    (void)state;
    jw_config *cfg = (jw_config *)1;
    cfg_errors errs = {0};
    assert_int_equal(config_load("tests/configs/five-mistakes.yaml", &cfg, &errs), -1);
    assert_null(cfg);
    assert_int_equal(errs.n, 5);
    static const char *const want[] = {
        "tests/configs/five-mistakes.yaml:4:19: service.shutdown_grace: bad duration '30 sec'",
        "tests/configs/five-mistakes.yaml:8:3: nats.reconect_wait: unknown key 'reconect_wait' "
        "(did you mean 'reconnect_wait'?)",
        "tests/configs/five-mistakes.yaml:21:14: streams[0].storage: bad value 'ssd' (allowed: "
        "file, memory)",
        "tests/configs/five-mistakes.yaml:25:13: consumers[0].stream: unknown stream 'ORDER' "
        "(did you mean 'ORDERS'?)",
        "tests/configs/five-mistakes.yaml:30:14: consumers[0].dedup.lease: dedup.lease (45s) "
        "must be shorter than ack_wait (30s)",
    };
    for (size_t i = 0; i < 5; i++) {
        if (strncmp(errs.v[i].text, want[i], strlen(want[i])) != 0)
            print_message("got:  %s\nwant: %s\n", errs.v[i].text, want[i]);
        assert_int_equal(strncmp(errs.v[i].text, want[i], strlen(want[i])), 0);
    }
    cfg_errors_free(&errs);
}

/* Header lines (path, digest) aside, a dump loads back into the same dump. */
static void
test_dump_roundtrip(void **state)
{
    (void)state;
    jw_config *cfg = NULL;
    cfg_errors errs = {0};
    assert_int_equal(config_load("tests/configs/good.yaml", &cfg, &errs), 0);
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    FILE *fp = fopen(cfgpath, "w");
    assert_non_null(fp);
    config_dump(cfg, fp);
    fclose(fp);
    fp = open_memstream(&a, &alen);
    config_dump(cfg, fp);
    fclose(fp);
    config_free(cfg);
    cfg = NULL;
    int rc = config_load(cfgpath, &cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("reload: %s\n", errs.v[i].text);
    assert_int_equal(rc, 0);
    fp = open_memstream(&b, &blen);
    config_dump(cfg, fp);
    fclose(fp);
    config_free(cfg);
    const char *ab = strstr(a, "\nservice:"), *bb = strstr(b, "\nservice:");
    assert_non_null(ab);
    assert_non_null(bb);
    assert_string_equal(ab, bb);
    free(a);
    free(b);
}

static void
test_unreadable_and_free(void **state)
{
    (void)state;
    jw_config *cfg = (jw_config *)1;
    cfg_errors errs = {0};
    assert_int_equal(config_load("/nonexistent/jw.yaml", &cfg, &errs), -1);
    assert_null(cfg);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.v[0].text, "/nonexistent/jw.yaml: cannot read"));
    cfg_errors_free(&errs);
    assert_int_equal(errs.n, 0);
    config_free(NULL);
    cfg_errors_free(NULL);
    expect_errors("- a\n- b\n", "1:1: the file must be a mapping", NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_anchor_multidoc),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_filter_subject_within),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_timing),
        cmocka_unit_test(test_dead_letter_and_redis),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_plugin_dir),
        cmocka_unit_test(test_workqueue_and_overlap),
        cmocka_unit_test(test_sections_misc),
        cmocka_unit_test(test_five_mistakes),
        cmocka_unit_test(test_letter_too_large_for_dlq),
        cmocka_unit_test(test_dump_roundtrip),
        cmocka_unit_test(test_unreadable_and_free),
    };
    return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
