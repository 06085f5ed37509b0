/*
 * obs_check.c -- drives the observability modules for the integration
 * tests, with real sockets and no NATS or Redis.
 *
 *   obs_check http PORTFILE [CMDFILE]
 *       Populates stats, serves http on 127.0.0.1 (a free port, written to
 *       PORTFILE once listening), keeps a heartbeat going (like the loop
 *       does) and applies commands read from CMDFILE (a FIFO; default
 *       stdin -- a background job of a script has /dev/null there), one a
 *       line, answering
 *       "ok <command>" on stdout once applied:
 *         nats 0|1   redis 0|1   needs_redis 0|1   draining 0|1
 *         bound 0|1 (consumer "orders")   stall   beat   quit
 *       Exits 0 on quit or end of input.
 *
 *   obs_check otlp URL QUEUE NSPANS OUTFILE release|stop
 *       Starts an exporter (queue QUEUE, interval 200 ms) held, so the queue
 *       fills deterministically; submits one root span and NSPANS-1
 *       children of it (NSPANS > QUEUE overflows); checks the overflow was
 *       counted; then either releases the exporter and waits until every
 *       queued span is accounted for (exported or failed), or calls
 *       otlp_stop() at once (the flush-at-stop path). Writes
 *       "trace=<hex> root=<hex> exported=N dropped=N failures=N" to OUTFILE.
 *
 * Threads: main reads commands and owns the servers; one heartbeat thread.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "obs/obs.h"
#include "base/base.h"

static atomic_int stalled;
static atomic_int quitting;

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Stands in for the loop's heartbeat timer. */
static void *
heartbeat_main(void *arg)
{
    (void)arg;
    /* The only writer of the heartbeat: 0 = beating, 1 = stall asked, 2 = stalled. */
    while (!atomic_load(&quitting)) {
        int st = atomic_load(&stalled);
        if (st == 0) {
            atomic_store(&stats.loop_heartbeat_ms, mono_ms());
        } else if (st == 1) {
            atomic_store(&stats.loop_heartbeat_ms, mono_ms() - 10000);
            atomic_store(&stalled, 2);
        }
        sleep_ms(100);
    }
    return NULL;
}

static int
write_file(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fputs(text, f);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static stats_consumer *
populate(void)
{
    stats.start_ts = (int64_t)time(NULL);
    stats_lock();
    snprintf(stats.config_digest, sizeof(stats.config_digest), "%s", "0123456789abcdef");
    stats_unlock();
    atomic_store(&stats.nats_connected, 1);
    atomic_store(&stats.redis_connected, 1);
    atomic_store(&stats.needs_redis, 1);

    stats_consumer *c = stats_consumer_get("orders", "ORDERS", "order");
    atomic_store(&c->bound, 1);
    atomic_store(&c->received, 5);
    atomic_store(&c->results[STATS_RESULT_ACK], 4);
    atomic_store(&c->results[STATS_RESULT_DEAD_LETTER], 1);
    atomic_store(&c->server_pending, 17);
    stats_hist_observe_us(&c->handler_seconds, 1500);
    stats_hist_observe_us(&c->age_seconds, 20000);

    stats_plugin *p = stats_plugin_get("order");
    stats_lock();
    snprintf(p->plugin, sizeof(p->plugin), "order");
    snprintf(p->version, sizeof(p->version), "1.0.0");
    snprintf(p->abi, sizeof(p->abi), "1.0");
    p->ncounters = 1;
    snprintf(p->counter_names[0], sizeof(p->counter_names[0]), "orders_accepted");
    snprintf(p->counter_help[0], sizeof(p->counter_help[0]), "Orders accepted.");
    stats_unlock();
    atomic_store(&p->counters[0], 3);
    return c;
}

static int
run_http(const char *portfile, const char *cmdfile)
{
    stats_consumer *orders = populate();
    atomic_store(&stats.loop_heartbeat_ms, mono_ms());
    pthread_t hb;
    if (pthread_create(&hb, NULL, heartbeat_main, NULL) != 0)
        return 1;

    http_server *srv;
    char err[256];
    if (http_start("127.0.0.1", 0, NULL, NULL, &srv, err, sizeof(err)) < 0) {
        fprintf(stderr, "obs_check: %s\n", err);
        atomic_store(&quitting, 1);
        pthread_join(hb, NULL);
        return 1;
    }
    http_set_service(srv, "obs");
    char port[32];
    snprintf(port, sizeof(port), "%d\n", http_port(srv));
    if (write_file(portfile, port) < 0) {
        perror("obs_check: port file");
        return 1;
    }

    FILE *in = cmdfile ? fopen(cmdfile, "r") : stdin;
    if (!in) {
        perror("obs_check: command file");
        in = stdin;
    }
    char line[256];
    while (fgets(line, sizeof(line), in)) {
        line[strcspn(line, "\r\n")] = '\0';
        char cmd[64] = "";
        int v = 0;
        int n = sscanf(line, "%63s %d", cmd, &v);
        if (n < 1)
            continue;
        if (strcmp(cmd, "quit") == 0)
            break;
        if (strcmp(cmd, "nats") == 0 && n == 2)
            atomic_store(&stats.nats_connected, v);
        else if (strcmp(cmd, "redis") == 0 && n == 2)
            atomic_store(&stats.redis_connected, v);
        else if (strcmp(cmd, "needs_redis") == 0 && n == 2)
            atomic_store(&stats.needs_redis, v);
        else if (strcmp(cmd, "draining") == 0 && n == 2)
            atomic_store(&stats.draining, v);
        else if (strcmp(cmd, "bound") == 0 && n == 2)
            atomic_store(&orders->bound, v);
        else if (strcmp(cmd, "stall") == 0)
            atomic_store(&stalled, 1);
        else if (strcmp(cmd, "beat") == 0)
            atomic_store(&stalled, 0);
        else {
            printf("unknown %s\n", line);
            fflush(stdout);
            continue;
        }
        printf("ok %s\n", line);
        fflush(stdout);
    }
    if (in != stdin)
        fclose(in);
    http_stop(srv);
    atomic_store(&quitting, 1);
    pthread_join(hb, NULL);
    stats_shutdown();
    return 0;
}

static int
run_otlp(const char *url, int queue, int nspans, const char *outfile, const char *mode)
{
    otlp_exporter *e;
    if (otlp_start(url, queue, 200, "obs-check", &e) < 0)
        return 1;
    otlp_hold(e, 1);

    trace_span root;
    trace_span_start(&root, "obs root", TRACE_KIND_SERVER, NULL);
    trace_span_end(&root, TRACE_STATUS_OK, NULL);
    otlp_submit(e, &root);
    trace_ctx ctx;
    trace_span_context(&root, NULL, &ctx);
    for (int i = 1; i < nspans; i++) {
        trace_span s;
        trace_span_start(&s, "ORDERS process", TRACE_KIND_CONSUMER, &ctx);
        snprintf(s.destination, sizeof(s.destination), "orders.created");
        snprintf(s.stream, sizeof(s.stream), "ORDERS");
        snprintf(s.consumer, sizeof(s.consumer), "orders");
        snprintf(s.result, sizeof(s.result), "ack");
        s.sequence = i;
        s.deliveries = 1;
        trace_span_end(&s, TRACE_STATUS_OK, NULL);
        otlp_submit(e, &s);
    }
    int queued = nspans < queue ? nspans : queue;
    uint64_t overflow = (uint64_t)(nspans - queued);
    uint64_t dropped = atomic_load(&stats.spans_dropped);
    if (dropped != overflow) {
        fprintf(stderr, "obs_check: %llu spans dropped on overflow, expected %llu\n",
                (unsigned long long)dropped, (unsigned long long)overflow);
        otlp_stop(e);
        return 1;
    }

    int rc = 0;
    if (strcmp(mode, "release") == 0) {
        otlp_hold(e, 0);
        int64_t deadline = mono_ms() + 30000;
        for (;;) {
            uint64_t done =
                atomic_load(&stats.spans_exported) + (atomic_load(&stats.spans_dropped) - overflow);
            if (done >= (uint64_t)queued)
                break;
            if (mono_ms() > deadline) {
                fprintf(stderr, "obs_check: only %llu of %d spans accounted for\n",
                        (unsigned long long)done, queued);
                rc = 1;
                break;
            }
            sleep_ms(20);
        }
    }
    otlp_stop(e);

    char hex[2 * TRACE_ID_LEN + 1], sid[2 * TRACE_SPAN_LEN + 1], out[256];
    trace_hex(root.trace_id, TRACE_ID_LEN, hex);
    trace_hex(root.span_id, TRACE_SPAN_LEN, sid);
    snprintf(out, sizeof(out), "trace=%s root=%s exported=%llu dropped=%llu failures=%llu\n", hex,
             sid, (unsigned long long)atomic_load(&stats.spans_exported),
             (unsigned long long)atomic_load(&stats.spans_dropped),
             (unsigned long long)atomic_load(&stats.span_export_failures));
    fputs(out, stdout);
    if (write_file(outfile, out) < 0)
        rc = 1;
    return rc;
}

int
main(int argc, char **argv)
{
    log_setup(0, JW_LOG_DEBUG, "obs_check");
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "http") == 0)
        return run_http(argv[2], argc == 4 ? argv[3] : NULL);
    if (argc == 7 && strcmp(argv[1], "otlp") == 0)
        return run_otlp(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5], argv[6]);
    fprintf(stderr, "usage: obs_check http PORTFILE [CMDFILE]\n"
                    "       obs_check otlp URL QUEUE NSPANS OUTFILE release|stop\n");
    return 2;
}
