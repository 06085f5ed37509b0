/*
 * test_archive.c -- the audit archive's pieces that need no S3 server (the
 * upload itself is tests/integration/t_audit_archive.sh, against s3rver):
 * checksums as S3 spells them, settings and credentials, and the plugin with
 * an endpoint nobody answers: sealed segments are retried, never marked or
 * deleted, and fini does not wait for the bucket.
 */
#include "audit_testlib.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "../audit_s3.c"

static void
test_sums(void **state)
{
    (void)state;
    audit_s3_sums s;
    assert_int_equal(audit_s3_sums_of("hello\n", 6, &s), 0);
    assert_string_equal(s.md5_hex, "b1946ac92492d2347c6235b4d2611184");
    assert_string_equal(s.md5_b64, "sZRqySSS0jR8YjW00mERhA==");
    assert_string_equal(s.sha256_hex,
                        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    assert_string_equal(s.sha256_b64, "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=");
    assert_int_equal(strlen(s.sha256_b64), 44);
}

static void
expect_init_error(const char *endpoint, const char *bucket, const char *prefix, const char *creds,
                  const char *want)
{
    audit_s3 s;
    char err[256] = "";
    assert_true(audit_s3_init(&s, endpoint, bucket, prefix, NULL, creds, err, sizeof err) < 0);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

static void
test_settings(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    unsetenv("AWS_SESSION_TOKEN");
    expect_init_error("s3.example.com", "b", "", NULL, "http:// or https://");
    expect_init_error("http://h", "", "", NULL, "bucket");
    expect_init_error("http://h", "a b", "", NULL, "bucket");
    expect_init_error("http://h", "a/b", "", NULL, "bucket");
    expect_init_error("http://h", "b", "/p/", NULL, "prefix");
    expect_init_error("http://h", "b", "p q/", NULL, "prefix");
    audit_s3 s;
    char err[256] = "";
    assert_int_equal(audit_s3_init(&s, "http://h:9000//", "b", "p/", NULL, NULL, err, sizeof err),
                     0);
    assert_string_equal(s.endpoint, "http://h:9000");
    assert_string_equal(s.region, "us-east-1");
    assert_string_equal(s.access_key, "AKID");
    assert_string_equal(s.secret_key, "SECRET");
    assert_null(s.session_token);
    audit_s3_free(&s);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    expect_init_error("http://h", "b", "", NULL, "no credentials");
}

static void
test_credentials_file(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/credentials", dir);
    const char *text = "# comment\n[other]\naws_access_key_id = WRONG\naws_secret_access_key = "
                       "WRONG\n\n[default]\n aws_access_key_id=AK2 \naws_secret_access_key = "
                       "S2\naws_session_token = T2\n";
    spit(path, text, strlen(text));
    audit_s3 s;
    char err[256] = "";
    assert_int_equal(audit_s3_init(&s, "https://h", "b", "", "eu-west-1", path, err, sizeof err),
                     0);
    assert_string_equal(s.access_key, "AK2");
    assert_string_equal(s.secret_key, "S2");
    assert_string_equal(s.session_token, "T2");
    assert_string_equal(s.region, "eu-west-1");
    audit_s3_free(&s);
    text = "[default]\naws_access_key_id = AK\n";
    spit(path, text, strlen(text));
    expect_init_error("http://h", "b", "", path, "no aws_access_key_id and aws_secret_access_key");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    expect_init_error("http://h", "b", "", missing, "No such file");
    rmtree(dir);
}

static void
expect_plugin_error(const char *extra, const char *want)
{
    char *dir = tmpdir();
    char cfg[1024], err[256] = "";
    snprintf(cfg, sizeof cfg, "{\"dir\":\"%s\"%s}", dir, extra);
    void *ctx = NULL;
    assert_true(plugin->init(fh_host(), (jw_instance *)&fh_state, cfg, &ctx, err, sizeof err) < 0);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not say \"%s\"", err, want);
    rmtree(dir);
}

static void
test_plugin_settings(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    expect_plugin_error(",\"archive_bucket\":\"b\"", "archive_endpoint is not");
    expect_plugin_error(",\"archive_endpoint\":\"http://127.0.0.1:1\"", "archive_bucket");
    expect_plugin_error(",\"archive_endpoint\":\"http://127.0.0.1:1\",\"archive_bucket\":\"b\","
                        "\"archive_keep_local\":-2",
                        "archive_keep_local");
    expect_plugin_error(",\"archive_endpoint\":\"http://127.0.0.1:1\",\"archive_bucket\":\"b\","
                        "\"archive_retry_min\":5000,\"archive_retry_max\":1000",
                        "archive_retry_min");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    expect_plugin_error(",\"archive_endpoint\":\"http://127.0.0.1:1\",\"archive_bucket\":\"b\"",
                        "no credentials");
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nobody listens on the endpoint: every sealed segment stays, unmarked. */
static void
test_bucket_unreachable(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    fh_counters_reset();
    char *dir = tmpdir();
    void *ctx = start(CFG_SMALL ",\"archive_endpoint\":\"http://127.0.0.1:1\","
                                "\"archive_bucket\":\"b\",\"archive_keep_local\":0,"
                                "\"archive_retry_min\":10,\"archive_retry_max\":20",
                      dir);
    feed_n(ctx, 1, 19);
    int64_t deadline = now_ms() + 20000;
    while (fh_counter("audit_archive_failures") < 3 && now_ms() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    assert_true(fh_counter("audit_archive_failures") >= 3);
    int64_t t0 = now_ms();
    plugin->fini(ctx);
    /* fini abandons the retries; a slow curl timeout would take seconds */
    assert_true(now_ms() - t0 < 5000);
    assert_int_equal(fh_counter("audit_archived"), 0);
    assert_int_equal(fh_counter("audit_archive_deleted"), 0);
    audit_chain_result r;
    assert_int_equal(verify(dir, 1, &r), 0);
    assert_int_equal(r.records, 18);
    assert_true(r.segments >= 3);
    size_t lines = 0;
    for (uint32_t no = 1; no <= r.segments; no++) {
        lines += count_lines(seg_path(dir, no));
        char side[600];
        snprintf(side, sizeof side, "%s.archived", seg_path(dir, no));
        assert_int_equal(access(seg_path(dir, no), F_OK), 0);
        assert_int_not_equal(access(side, F_OK), 0);
    }
    assert_int_equal(lines, 18);
    rmtree(dir);
}

/* A server that takes the connection and never answers: fini must not wait
 * for curl's 30 s timeout. */
static void
test_fini_abandons_slow_upload(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    fh_counters_reset();
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof sa;
    assert_true(ls >= 0);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 4), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &salen), 0);
    char extra[512];
    snprintf(extra, sizeof extra,
             CFG_SMALL ",\"archive_endpoint\":\"http://127.0.0.1:%u\",\"archive_bucket\":\"b\"",
             (unsigned)ntohs(sa.sin_port));
    char *dir = tmpdir();
    void *ctx = start(extra, dir);
    feed_n(ctx, 1, 19);
    /* The uploader has connected once the connection waits in the backlog. */
    struct pollfd p = {.fd = ls, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 20000), 1);
    int64_t t0 = now_ms();
    plugin->fini(ctx);
    assert_true(now_ms() - t0 < 5000);
    assert_int_equal(fh_counter("audit_archived"), 0);
    char side[600];
    snprintf(side, sizeof side, "%s.archived", seg_path(dir, 1));
    assert_int_equal(access(seg_path(dir, 1), F_OK), 0);
    assert_int_not_equal(access(side, F_OK), 0);
    close(ls);
    rmtree(dir);
}

int
main(void)
{
    (void)line_off; /* a helper of audit_testlib.h this test has no use for */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_credentials_file),
        cmocka_unit_test(test_plugin_settings),
        cmocka_unit_test(test_bucket_unreachable),
        cmocka_unit_test(test_fini_abandons_slow_upload),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
