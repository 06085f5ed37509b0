/*
 * test_metrics_render.c -- the Prometheus exposition of stats: names,
 * labels, escaping, histogram arithmetic, one HELP/TYPE per family, the
 * process_* / build / readiness families of metrics_render_process, and
 * `promtool check metrics` on the whole output (promtool must be installed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <time.h>
#include <uv.h>

#include "obs/obs.h"
#include "base/base.h"

static stats_consumer *orders;

static void
populate(void)
{
    stats_shutdown();
    memset(&stats, 0, sizeof(stats));
    orders = stats_consumer_get("orders", "ORDERS", "order");
    atomic_store(&orders->received, 7);
    atomic_store(&orders->results[STATS_RESULT_ACK], 4);
    atomic_store(&orders->results[STATS_RESULT_RETRY], 1);
    atomic_store(&orders->results[STATS_RESULT_DEAD_LETTER], 2);
    atomic_store(&orders->dedup[STATS_DEDUP_CLAIMED], 5);
    atomic_store(&orders->dedup[STATS_DEDUP_LEASE_LOST], 1);
    atomic_store(&orders->in_flight, 3);
    atomic_store(&orders->publishes, 9);
    atomic_store(&orders->publish_errors, 1);
    atomic_store(&orders->server_pending, 42);
    atomic_store(&orders->server_ack_pending, 6);
    atomic_store(&orders->server_redelivered, 2);
    atomic_store(&orders->bound, 1);
    stats_hist_observe_us(&orders->handler_seconds, 50);      /* 0.00005 s: first bucket */
    stats_hist_observe_us(&orders->handler_seconds, 3000);    /* 0.003 s: le 0.005 */
    stats_hist_observe_us(&orders->handler_seconds, 7000000); /* 7 s: +Inf only */

    /* A label value that needs every escape. */
    stats_consumer *odd = stats_consumer_get("we\"ird\\na\nme", "S", "h");
    atomic_store(&odd->received, 1);

    /* A consumer removed by a reload: counters stay, server gauges go. */
    stats_consumer *gone = stats_consumer_get("gone", "OLD", "old");
    atomic_store(&gone->received, 11);
    atomic_store(&gone->server_pending, 99);
    stats_lock();
    gone->active = 0;
    stats_unlock();

    atomic_store(&stats.nats_connected, 1);
    atomic_store(&stats.nats_reconnects, 2);
    atomic_store(&stats.redis_connected, 0);
    atomic_store(&stats.redis_timeouts, 3);
    atomic_store(&stats.reloads_ok, 4);
    atomic_store(&stats.reloads_failed, 1);
    atomic_store(&stats.last_reload_ts, 1700000000);
    atomic_store(&stats.last_reload_ok, 1);
    atomic_store(&stats.spans_exported, 12);
    atomic_store(&stats.spans_dropped, 13);
    atomic_store(&stats.span_export_failures, 2);
    atomic_store(&stats.draining, 0);
    stats.start_ts = 1699999999;
    stats_lock();
    snprintf(stats.config_digest, sizeof(stats.config_digest), "%s", "abc123");
    stats_unlock();

    /* Two instances of one plugin share a counter family. */
    const char *names[] = {"order-a", "order-b"};
    for (int i = 0; i < 2; i++) {
        stats_plugin *p = stats_plugin_get(names[i]);
        stats_lock();
        snprintf(p->plugin, sizeof(p->plugin), "order");
        snprintf(p->version, sizeof(p->version), "1.2.3");
        snprintf(p->abi, sizeof(p->abi), "1.0");
        p->ncounters = 2;
        snprintf(p->counter_names[0], sizeof(p->counter_names[0]), "orders_total");
        snprintf(p->counter_help[0], sizeof(p->counter_help[0]), "Orders seen.");
        snprintf(p->counter_names[1], sizeof(p->counter_names[1]), "bad-name.x");
        snprintf(p->counter_help[1], sizeof(p->counter_help[1]), "Help with \\ and\nnewline.");
        stats_unlock();
        atomic_store(&p->counters[0], (uint_fast64_t)(10 + i));
        atomic_store(&p->counters[1], 1);
    }
}

/* Render with a leading newline so every line can be matched as "\n...\n". */
static char *
render(const char *service)
{
    metrics_render_buf b = {0};
    metrics_render_printf(&b, "\n");
    assert_int_equal(metrics_render(service, &b), 0);
    assert_non_null(b.data);
    return b.data;
}

static int
count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void
has_line(const char *text, const char *line)
{
    char want[1024];
    snprintf(want, sizeof(want), "\n%s\n", line);
    if (!strstr(text, want)) {
        print_error("missing line: %s\n", line);
        fail();
    }
}

#define C "service=\"svc\",consumer=\"orders\",stream=\"ORDERS\",handler=\"order\""

static void
test_consumer_families(void **state)
{
    (void)state;
    populate();
    char *t = render("svc");
    has_line(t, "jetway_messages_received_total{" C "} 7");
    has_line(t, "jetway_messages_settled_total{" C ",result=\"ack\"} 4");
    has_line(t, "jetway_messages_settled_total{" C ",result=\"retry\"} 1");
    has_line(t, "jetway_messages_settled_total{" C ",result=\"reject\"} 0");
    has_line(t, "jetway_messages_settled_total{" C ",result=\"duplicate\"} 0");
    has_line(t, "jetway_messages_settled_total{" C ",result=\"dead_letter\"} 2");
    has_line(t, "jetway_messages_settled_total{" C ",result=\"busy\"} 0");
    has_line(t, "jetway_in_flight_messages{" C "} 3");
    has_line(t, "jetway_consumer_pending_messages{" C "} 42");
    has_line(t, "jetway_consumer_ack_pending_messages{" C "} 6");
    has_line(t, "jetway_consumer_redelivered_messages{" C "} 2");
    has_line(t, "jetway_consumer_bound{" C "} 1");
    has_line(t, "jetway_dead_letters_total{" C "} 2");
    has_line(t, "jetway_dedup_total{" C ",outcome=\"claimed\"} 5");
    has_line(t, "jetway_dedup_total{" C ",outcome=\"lease_lost\"} 1");
    has_line(t, "jetway_dedup_total{" C ",outcome=\"unclaimed\"} 0");
    has_line(t, "jetway_publishes_total{" C "} 9");
    has_line(t, "jetway_publish_errors_total{" C "} 1");
    free(t);
}

static void
test_histogram(void **state)
{
    (void)state;
    populate();
    char *t = render("svc");
    const char *h = "jetway_handler_duration_seconds";
    char line[512];
    snprintf(line, sizeof(line), "%s_bucket{" C ",le=\"0.0001\"} 1", h);
    has_line(t, line);
    snprintf(line, sizeof(line), "%s_bucket{" C ",le=\"0.0025\"} 1", h);
    has_line(t, line);
    snprintf(line, sizeof(line), "%s_bucket{" C ",le=\"0.005\"} 2", h);
    has_line(t, line);
    snprintf(line, sizeof(line), "%s_bucket{" C ",le=\"5\"} 2", h);
    has_line(t, line);
    snprintf(line, sizeof(line), "%s_bucket{" C ",le=\"+Inf\"} 3", h);
    has_line(t, line);
    snprintf(line, sizeof(line), "%s_sum{" C "} 7.003050", h);
    has_line(t, line);
    snprintf(line, sizeof(line), "%s_count{" C "} 3", h);
    has_line(t, line);
    has_line(t, "jetway_message_age_seconds_count{" C "} 0");
    assert_int_equal(count_of(t, "\njetway_handler_duration_seconds_bucket{"),
                     3 * (STATS_NBUCKETS + 1));
    free(t);
}

static void
test_escaping_and_inactive(void **state)
{
    (void)state;
    populate();
    char *t = render("s\"v");
    has_line(t,
             "jetway_messages_received_total{service=\"s\\\"v\",consumer=\"we\\\"ird\\\\na\\nme\","
             "stream=\"S\",handler=\"h\"} 1");
    /* the removed consumer keeps its counter... */
    has_line(t,
             "jetway_messages_received_total{service=\"s\\\"v\",consumer=\"gone\",stream=\"OLD\","
             "handler=\"old\"} 11");
    /* ...but not its stale server gauge or bound flag */
    assert_null(strstr(t, "jetway_consumer_pending_messages{service=\"s\\\"v\",consumer=\"gone\""));
    assert_null(strstr(t, "jetway_consumer_bound{service=\"s\\\"v\",consumer=\"gone\""));
    /* HELP escapes backslash and newline */
    assert_non_null(
        strstr(t, "\n# HELP jetway_plugin_bad_name_x_total Help with \\\\ and\\nnewline.\n"));
    free(t);
}

static void
test_globals_and_plugins(void **state)
{
    (void)state;
    populate();
    char *t = render("svc");
    has_line(t, "jetway_nats_connected{service=\"svc\"} 1");
    has_line(t, "jetway_nats_reconnects_total{service=\"svc\"} 2");
    has_line(t, "jetway_redis_connected{service=\"svc\"} 0");
    has_line(t, "jetway_redis_reconnects_total{service=\"svc\"} 0");
    has_line(t, "jetway_redis_timeouts_total{service=\"svc\"} 3");
    has_line(t, "jetway_reloads_total{service=\"svc\",outcome=\"ok\"} 4");
    has_line(t, "jetway_reloads_total{service=\"svc\",outcome=\"failed\"} 1");
    has_line(t, "jetway_last_reload_timestamp_seconds{service=\"svc\"} 1700000000");
    has_line(t, "jetway_last_reload_success{service=\"svc\"} 1");
    has_line(t, "jetway_config_info{service=\"svc\",digest=\"abc123\"} 1");
    has_line(t, "jetway_spans_exported_total{service=\"svc\"} 12");
    has_line(t, "jetway_spans_dropped_total{service=\"svc\"} 13");
    has_line(t, "jetway_span_export_failures_total{service=\"svc\"} 2");
    has_line(t, "jetway_start_time_seconds{service=\"svc\"} 1699999999");
    has_line(t, "jetway_draining{service=\"svc\"} 0");
    has_line(t, "jetway_plugin_info{service=\"svc\",instance=\"order-a\",plugin=\"order\","
                "version=\"1.2.3\",abi=\"1.0\"} 1");
    has_line(t, "jetway_plugin_info{service=\"svc\",instance=\"order-b\",plugin=\"order\","
                "version=\"1.2.3\",abi=\"1.0\"} 1");
    has_line(t, "jetway_plugin_orders_total{service=\"svc\",plugin=\"order-a\"} 10");
    has_line(t, "jetway_plugin_orders_total{service=\"svc\",plugin=\"order-b\"} 11");
    has_line(t, "jetway_plugin_bad_name_x_total{service=\"svc\",plugin=\"order-a\"} 1");
    free(t);
}

/* Every family has exactly one HELP and one TYPE, placed before its samples. */
static void
test_one_help_type_per_family(void **state)
{
    (void)state;
    populate();
    char *t = render("svc");
    const char *fams[] = {
        "jetway_messages_received_total",
        "jetway_messages_settled_total",
        "jetway_handler_duration_seconds",
        "jetway_message_age_seconds",
        "jetway_in_flight_messages",
        "jetway_consumer_pending_messages",
        "jetway_consumer_ack_pending_messages",
        "jetway_consumer_redelivered_messages",
        "jetway_consumer_bound",
        "jetway_dead_letters_total",
        "jetway_dedup_total",
        "jetway_publishes_total",
        "jetway_publish_errors_total",
        "jetway_nats_connected",
        "jetway_reloads_total",
        "jetway_config_info",
        "jetway_plugin_info",
        "jetway_plugin_orders_total",
        "jetway_plugin_bad_name_x_total",
        "jetway_draining",
    };
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        char help[160], type[160];
        snprintf(help, sizeof(help), "\n# HELP %s ", fams[i]);
        snprintf(type, sizeof(type), "\n# TYPE %s ", fams[i]);
        if (count_of(t, help) != 1 || count_of(t, type) != 1) {
            print_error("family %s: %d HELP, %d TYPE\n", fams[i], count_of(t, help),
                        count_of(t, type));
            fail();
        }
        char sample[160];
        snprintf(sample, sizeof(sample), "\n%s", fams[i]);
        const char *first = strstr(t, sample);
        while (first && first[1] == '#')
            first = strstr(first + 1, sample);
        assert_non_null(first);
        assert_true(strstr(t, type) < first);
    }
    assert_int_equal(count_of(t, "# TYPE jetway_handler_duration_seconds histogram\n"), 1);
    free(t);
}

static void
test_promtool(void **state)
{
    (void)state;
    /* A format check that cannot run is a failure, not a pass:
     * scripts/deps installs promtool (Debian package prometheus). */
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        fail_msg("promtool is not installed (Debian package prometheus; scripts/deps installs it)");
    populate();
    char *t = render("svc");
    metrics_render_buf b = {.data = t, .len = strlen(t), .cap = strlen(t) + 1};
    assert_int_equal(metrics_render_process("svc", 0, "redis unreachable", &b), 0);
    t = b.data;
    char path[] = "/tmp/jw_metrics_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(t + 1);
    assert_int_equal(write(fd, t + 1, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    int rc = system(cmd);
    unlink(path);
    free(t);
    assert_int_equal(rc, 0);
}

/* The value of the one sample `name{service="svc"}`, or -1 when absent. */
static double
sample_value(const char *text, const char *name)
{
    char want[256];
    snprintf(want, sizeof(want), "\n%s{service=\"svc\"} ", name);
    const char *p = strstr(text, want);
    return p ? strtod(p + strlen(want), NULL) : -1;
}

static char *
render_process(int ready, const char *reason)
{
    metrics_render_buf b = {0};
    metrics_render_printf(&b, "\n");
    assert_int_equal(metrics_render_process("svc", ready, reason, &b), 0);
    assert_non_null(b.data);
    return b.data;
}

static void
test_process_families(void **state)
{
    (void)state;
    char *t = render_process(1, "");
    double rss = sample_value(t, "process_resident_memory_bytes");
    double vsz = sample_value(t, "process_virtual_memory_bytes");
    double fds = sample_value(t, "process_open_fds");
    double maxfds = sample_value(t, "process_max_fds");
    double start = sample_value(t, "process_start_time_seconds");
    double cpu = sample_value(t, "process_cpu_seconds_total");
    assert_true(rss > 0 && vsz >= rss);
    assert_true(fds >= 3 && maxfds >= fds); /* stdin, stdout, stderr at least */
    assert_true(cpu >= 0);
    /* This test process started moments ago (the clock tick is 10 ms). */
    double now = (double)time(NULL);
    assert_true(start > now - 600 && start <= now + 1);
    assert_non_null(strstr(t, "\n# TYPE process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(t, "\n# TYPE process_resident_memory_bytes gauge\n"));
    free(t);

    /* Open descriptors are counted now, not cached: three more show. */
    int extra[3];
    for (int i = 0; i < 3; i++) {
        extra[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(extra[i] >= 0);
    }
    t = render_process(1, "");
    assert_true(sample_value(t, "process_open_fds") == fds + 3);
    free(t);
    for (int i = 0; i < 3; i++)
        close(extra[i]);

    /* The resident size follows memory actually touched. */
    size_t big = 64u << 20;
    char *mem = malloc(big);
    assert_non_null(mem);
    memset(mem, 1, big);
    t = render_process(1, "");
    assert_true(sample_value(t, "process_resident_memory_bytes") >= rss + (double)(big / 2));
    free(t);
    free(mem);
}

static void
test_build_info_and_ready(void **state)
{
    (void)state;
    char *t = render_process(1, "");
    char line[512];
    snprintf(line, sizeof(line),
             "jetway_build_info{service=\"svc\",version=\"%s\",abi=\"%u.%u\",libuv=\"%s\","
             "cnats=\"",
             JW_VERSION, JW_ABI_MAJOR, JW_ABI_MINOR, uv_version_string());
    assert_non_null(strstr(t, line));
    assert_non_null(strstr(t, "\",hiredis=\""));
    has_line(t, "jetway_ready{service=\"svc\"} 1");
    /* Ready: the reason family is declared but has no sample. */
    assert_non_null(strstr(t, "\n# TYPE jetway_ready_reason gauge\n"));
    assert_null(strstr(t, "\njetway_ready_reason{"));
    free(t);

    t = render_process(0, "consumer \"a\" not bound");
    has_line(t, "jetway_ready{service=\"svc\"} 0");
    has_line(t, "jetway_ready_reason{service=\"svc\",reason=\"consumer \\\"a\\\" not bound\"} 1");
    free(t);
    t = render_process(0, "");
    has_line(t, "jetway_ready_reason{service=\"svc\",reason=\"unknown\"} 1");
    free(t);
}

static void
test_buf_growth(void **state)
{
    (void)state;
    metrics_render_buf b = {0};
    for (int i = 0; i < 1000; i++)
        metrics_render_printf(&b, "%0300d\n", i);
    assert_int_equal(b.len, 1000 * 301);
    assert_int_equal(strlen(b.data), b.len);
    assert_false(b.failed);
    metrics_render_escape(&b, "a\"b");
    assert_string_equal(b.data + b.len - 4, "a\\\"b");
    metrics_render_buf_free(&b);
    assert_null(b.data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consumer_families),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_escaping_and_inactive),
        cmocka_unit_test(test_globals_and_plugins),
        cmocka_unit_test(test_one_help_type_per_family),
        cmocka_unit_test(test_process_families),
        cmocka_unit_test(test_build_info_and_ready),
        cmocka_unit_test(test_promtool),
        cmocka_unit_test(test_buf_growth),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    stats_shutdown();
    return rc;
}
