/*
 * test_config_values.c -- the pure parsers of config_value.c and the ${VAR}
 * substitution: durations, sizes, RFC 3339, redis URLs, host:port, NATS
 * subject matching, URL redaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config_int.h"

static void
test_duration_good(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } cases[] = {
        {"0", 0},         {"250", 250},       {"250ms", 250},        {"30s", 30000},
        {"2m", 120000},   {"72h", 259200000}, {"1h30m", 5400000},    {"1.5s", 1500},
        {"0.25s", 250},   {"1d", 86400000},   {"1m30s500ms", 90500}, {"0s", 0},
        {"2.5m", 150000}, {"1.001s", 1001},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = -1;
        assert_int_equal(cfg_parse_duration(cases[i].s, &ms), 0);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void
test_duration_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {"",
                                      "-1s",
                                      "-5",
                                      "10",
                                      "1.5",
                                      "30 s",
                                      " 30s",
                                      "30S",
                                      "1us",
                                      "0.5ms",
                                      "1.s",
                                      "s",
                                      "5x",
                                      "1h-3m",
                                      "99999999999999999999",
                                      "9223372036854775807s",
                                      "1.0000000001s",
                                      NULL};
    for (int i = 0; bad[i]; i++) {
        int64_t ms = 0;
        if (strcmp(bad[i], "10") == 0) /* bare integer = ms: valid */
            continue;
        char err[128] = "";
        assert_int_not_equal(cfg_duration_parse(bad[i], &ms, err, sizeof(err)), 0);
        assert_true(err[0] != '\0');
    }
    char err[128];
    int64_t ms;
    assert_int_not_equal(cfg_duration_parse("-1s", &ms, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "negative"));
    assert_int_not_equal(cfg_duration_parse("3w", &ms, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "unknown unit 'w'"));
    assert_int_not_equal(cfg_duration_parse("0.5ms", &ms, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "whole number"));
}

static void
test_duration_format_roundtrip(void **state)
{
    (void)state;
    static const int64_t v[] = {0, 1, 250, 1000, 1500, 60000, 90500, 5400000, 259200000, 3601001};
    static const char *const want[] = {"0s", "1ms",     "250ms", "1s",  "1.5s",
                                       "1m", "1m30.5s", "1h30m", "72h", "1h1.001s"};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char b[64];
        int64_t back = -1;
        cfg_format_duration(v[i], b, sizeof(b));
        assert_string_equal(b, want[i]);
        assert_int_equal(cfg_parse_duration(b, &back), 0);
        assert_int_equal(back, v[i]);
    }
}

static void
test_size(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t b;
    } good[] = {
        {"0", 0},           {"512", 512},         {"512B", 512},    {"512KiB", 524288},
        {"1MiB", 1048576},  {"1GiB", 1073741824}, {"10KB", 10000},  {"10kB", 10000},
        {"10MB", 10000000}, {"1GB", 1000000000},  {"1.5KiB", 1536}, {"2TiB", 2199023255552LL},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t b = -1;
        assert_int_equal(cfg_parse_size(good[i].s, &b), 0);
        assert_int_equal(b, good[i].b);
    }
    static const char *const bad[] = {"",    "-1", "-1KiB", "1.5", "10XB",          "1 KiB",
                                      "KiB", "1k", "1.3B",  "1mb", "9999999999TiB", NULL};
    for (int i = 0; bad[i]; i++) {
        int64_t b = 0;
        assert_int_not_equal(cfg_parse_size(bad[i], &b), 0);
    }
    char buf[32];
    cfg_format_size(1073741824, buf, sizeof(buf));
    assert_string_equal(buf, "1GiB");
    cfg_format_size(10000000, buf, sizeof(buf));
    assert_string_equal(buf, "10MB");
    cfg_format_size(1000, buf, sizeof(buf));
    assert_string_equal(buf, "1KB");
    cfg_format_size(1001, buf, sizeof(buf));
    assert_string_equal(buf, "1001");
}

static void
test_rfc3339(void **state)
{
    (void)state;
    int64_t ns = 0;
    char b[64];
    assert_int_equal(cfg_parse_rfc3339("1970-01-01T00:00:00Z", &ns), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(cfg_parse_rfc3339("2024-05-01T12:00:00Z", &ns), 0);
    assert_int_equal(ns, 1714564800LL * 1000000000LL);
    assert_int_equal(cfg_parse_rfc3339("2024-05-01T14:00:00+02:00", &ns), 0);
    assert_int_equal(ns, 1714564800LL * 1000000000LL);
    assert_int_equal(cfg_parse_rfc3339("2024-02-29T00:00:00.5Z", &ns), 0);
    assert_int_equal(ns % 1000000000LL, 500000000LL);
    cfg_format_rfc3339(ns, b, sizeof(b));
    assert_string_equal(b, "2024-02-29T00:00:00.5Z");
    static const char *const bad[] = {"2024-05-01",
                                      "2024-05-01T12:00:00",
                                      "2023-02-29T00:00:00Z",
                                      "2024-13-01T00:00:00Z",
                                      "2024-05-01T24:00:00Z",
                                      "1969-12-31T23:59:59Z",
                                      "2024-05-01T12:00:00Zx",
                                      "yesterday",
                                      NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_not_equal(cfg_parse_rfc3339(bad[i], &ns), 0);
}

static void
redis_free(cfg_redis *r)
{
    free(r->host);
    free(r->unix_path);
    free(r->user);
    free(r->password);
}

static void
test_redis_url(void **state)
{
    (void)state;
    cfg_redis r;
    char err[160];
    assert_int_equal(cfg_parse_redis_url("redis://127.0.0.1:6380/3", &r, err, sizeof(err)), 0);
    assert_string_equal(r.host, "127.0.0.1");
    assert_int_equal(r.port, 6380);
    assert_int_equal(r.db, 3);
    assert_null(r.user);
    assert_null(r.password);
    assert_null(r.unix_path);
    redis_free(&r);

    assert_int_equal(
        cfg_parse_redis_url("redis://app:p%40ss@cache.local:6379", &r, err, sizeof(err)), 0);
    assert_string_equal(r.user, "app");
    assert_string_equal(r.password, "p@ss");
    assert_string_equal(r.host, "cache.local");
    assert_int_equal(r.db, 0);
    redis_free(&r);

    assert_int_equal(cfg_parse_redis_url("redis://:secret@[::1]", &r, err, sizeof(err)), 0);
    assert_null(r.user);
    assert_string_equal(r.password, "secret");
    assert_string_equal(r.host, "::1");
    assert_int_equal(r.port, 6379);
    redis_free(&r);

    assert_int_equal(cfg_parse_redis_url("unix:///run/redis.sock", &r, err, sizeof(err)), 0);
    assert_string_equal(r.unix_path, "/run/redis.sock");
    assert_null(r.host);
    redis_free(&r);

    static const char *const bad[] = {"http://x:1",           "redis://",
                                      "redis://host:0",       "redis://host:99999",
                                      "redis://host:6379/x",  "redis://a:b%zz@host",
                                      "unix://relative.sock", "rediss://host:6379",
                                      "redis://ho st:1",      NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        assert_int_not_equal(cfg_parse_redis_url(bad[i], &r, err, sizeof(err)), 0);
        assert_true(err[0] != '\0');
    }
    /* The message never repeats the URL (it may carry the password). */
    assert_int_not_equal(cfg_parse_redis_url("redis://u:topsecret@host:abc", &r, err, sizeof(err)),
                         0);
    assert_null(strstr(err, "topsecret"));
}

static void
test_hostport(void **state)
{
    (void)state;
    char *h = NULL, err[128];
    int port = 0;
    assert_int_equal(cfg_parse_hostport("127.0.0.1:9090", &h, &port, err, sizeof(err)), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(port, 9090);
    free(h);
    assert_int_equal(cfg_parse_hostport("[::1]:80", &h, &port, err, sizeof(err)), 0);
    assert_string_equal(h, "::1");
    free(h);
    assert_int_not_equal(cfg_parse_hostport("localhost", &h, &port, err, sizeof(err)), 0);
    assert_int_not_equal(cfg_parse_hostport(":9090", &h, &port, err, sizeof(err)), 0);
    assert_int_not_equal(cfg_parse_hostport("host:70000", &h, &port, err, sizeof(err)), 0);
}

static void
test_subject_valid(void **state)
{
    (void)state;
    char err[128];
    assert_true(cfg_subject_valid("orders.created", false, err, sizeof(err)));
    assert_true(cfg_subject_valid("orders.*.x", true, err, sizeof(err)));
    assert_true(cfg_subject_valid("orders.>", true, err, sizeof(err)));
    assert_false(cfg_subject_valid("orders.>", false, err, sizeof(err)));
    assert_false(cfg_subject_valid("orders.>.x", true, err, sizeof(err)));
    assert_false(cfg_subject_valid("orders..x", true, err, sizeof(err)));
    assert_false(cfg_subject_valid(".orders", true, err, sizeof(err)));
    assert_false(cfg_subject_valid("orders.", true, err, sizeof(err)));
    assert_false(cfg_subject_valid("or ders", true, err, sizeof(err)));
    assert_false(cfg_subject_valid("orders.a*", true, err, sizeof(err)));
    assert_false(cfg_subject_valid("", true, err, sizeof(err)));
}

static void
test_subject_match(void **state)
{
    (void)state;
    assert_true(cfg_subject_match("orders.>", "orders.created"));
    assert_true(cfg_subject_match("orders.>", "orders.a.b.c"));
    assert_false(cfg_subject_match("orders.>", "orders"));
    assert_true(cfg_subject_match("orders.*", "orders.x"));
    assert_false(cfg_subject_match("orders.*", "orders.x.y"));
    assert_true(cfg_subject_match("*.created", "orders.created"));
    assert_false(cfg_subject_match("orders.created", "orders.updated"));
    assert_true(cfg_subject_match("a.b", "a.b"));
    assert_false(cfg_subject_match("a.b", "a.bc"));
    assert_true(cfg_subject_match(">", "anything.at.all"));
}

static void
test_subject_subset(void **state)
{
    (void)state;
    assert_true(cfg_subject_subset("orders.created", "orders.>"));
    assert_true(cfg_subject_subset("orders.*", "orders.>"));
    assert_true(cfg_subject_subset("orders.>", "orders.>"));
    assert_true(cfg_subject_subset("orders.*.x", "orders.*.*"));
    assert_true(cfg_subject_subset("orders.*", "orders.*"));
    assert_false(cfg_subject_subset("orders.>", "orders.*"));
    assert_false(cfg_subject_subset("orders.*", "orders.created"));
    assert_false(cfg_subject_subset("orders", "orders.>"));
    assert_false(cfg_subject_subset("payments.x", "orders.>"));
    assert_false(cfg_subject_subset("orders.x.y", "orders.*"));
    assert_true(cfg_subject_subset("a.b.c", ">"));
}

static void
test_subject_collide(void **state)
{
    (void)state;
    assert_true(cfg_subject_collide("orders.>", "orders.created"));
    assert_true(cfg_subject_collide("orders.*", "*.created"));
    assert_true(cfg_subject_collide("a.b", "a.b"));
    assert_false(cfg_subject_collide("orders.*", "payments.*"));
    assert_false(cfg_subject_collide("orders.*", "orders.a.b"));
    assert_false(cfg_subject_collide("orders", "orders.>"));
}

static void
test_subst(void **state)
{
    (void)state;
    char *out = NULL, err[256];
    setenv("JW_T_HOST", "db.local", 1);
    setenv("JW_T_EMPTY", "", 1);
    unsetenv("JW_T_UNSET");
    assert_int_equal(cfg_subst("redis://${JW_T_HOST}:6379", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "redis://db.local:6379");
    free(out);
    assert_int_equal(cfg_subst("${JW_T_UNSET:-fallback}", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "fallback");
    free(out);
    assert_int_equal(cfg_subst("${JW_T_EMPTY:-used}", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "used");
    free(out);
    assert_int_equal(cfg_subst("x${JW_T_UNSET:-}y", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "xy");
    free(out);
    assert_int_equal(cfg_subst("$${JW_T_HOST} costs $5", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "${JW_T_HOST} costs $5");
    free(out);
    assert_int_equal(cfg_subst("${JW_T_HOST}${JW_T_HOST}", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "db.localdb.local");
    free(out);
    assert_int_equal(cfg_subst("${JW_T_UNSET}", &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'JW_T_UNSET' is not set"));
    assert_int_equal(cfg_subst("${JW_T_HOST", &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unterminated"));
    assert_int_equal(cfg_subst("${1BAD}", &out, err, sizeof(err)), -1);
    assert_int_equal(cfg_subst("${JW_T_HOST-x}", &out, err, sizeof(err)), -1);
    /* A default may refer to another variable (a role's own, else the
     * image's shared one, else a literal), a few levels deep at most. */
    assert_int_equal(cfg_subst("${JW_T_UNSET:-${JW_T_HOST:-x}}:1", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "db.local:1");
    free(out);
    assert_int_equal(
        cfg_subst("${JW_T_UNSET:-${JW_T_EMPTY:-lit}}/${JW_T_HOST}", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "lit/db.local");
    free(out);
    assert_int_equal(cfg_subst("${JW_T_HOST:-${JW_T_UNSET}}", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "db.local"); /* an unused default is not expanded */
    free(out);
    assert_int_equal(cfg_subst("${JW_T_UNSET:-${JW_T_UNSET}}", &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'JW_T_UNSET' is not set"));
    assert_int_equal(cfg_subst("${A:-${B:-${C:-${D:-${E:-x}}}}}", &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nested deeper"));
    assert_int_equal(cfg_subst("${JW_T_UNSET:-${JW_T_HOST:-x}", &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unterminated"));
}

static void
test_redact_and_names(void **state)
{
    (void)state;
    char *r = cfg_redact_url("redis://u:pw@h:1/0");
    assert_string_equal(r, "redis://u:<redacted>@h:1/0");
    free(r);
    r = cfg_redact_url("nats://tok@h:4222");
    assert_string_equal(r, "nats://<redacted>@h:4222");
    free(r);
    r = cfg_redact_url("nats://h:4222");
    assert_string_equal(r, "nats://h:4222");
    free(r);
    assert_true(cfg_name_valid("order-created_2"));
    assert_false(cfg_name_valid("orders.created"));
    assert_false(cfg_name_valid("a b"));
    assert_false(cfg_name_valid(""));
    assert_int_equal(cfg_edit_distance("servce", "service"), 1);
    assert_int_equal(cfg_edit_distance("abc", "abc"), 0);
    assert_int_equal(cfg_edit_distance("", "abc"), 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_good),
        cmocka_unit_test(test_duration_bad),
        cmocka_unit_test(test_duration_format_roundtrip),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_redis_url),
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_subject_valid),
        cmocka_unit_test(test_subject_match),
        cmocka_unit_test(test_subject_subset),
        cmocka_unit_test(test_subject_collide),
        cmocka_unit_test(test_subst),
        cmocka_unit_test(test_redact_and_names),
    };
    return cmocka_run_group_tests_name("config_values", tests, NULL, NULL);
}
