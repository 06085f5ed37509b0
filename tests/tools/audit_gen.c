/*
 * audit_gen -- drive the audit plugin (.so) with a fake host: N events from
 * T threads at once (each also redelivers some of its events, which must not
 * be logged twice), then print the counters. Used by t_audit.sh to produce a
 * real log for `jetway-audit-verify`.
 *
 *   audit_gen PLUGIN.so DIR N THREADS [SEGMENT_SIZE [FSYNC_BATCH [FSYNC_INTERVAL_MS]]]
 *
 * AUDIT_GEN_EXTRA: more config members, appended verbatim to the JSON
 * object (e.g. "\"archive_endpoint\":\"http://...\""). AUDIT_GEN_WAIT=FILE:
 * once the events are in, keep the plugin running (its archive thread
 * working), print its archive counters to stderr whenever they change, and
 * stop only when FILE exists (t_audit_archive.sh).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "audit_fakehost.h"

/* One per driver thread; read-only after start, except acked (its own). */
typedef struct gen_thread {
    pthread_t tid;
    const jw_plugin *p;
    void *ctx;
    unsigned index, count;
    unsigned acked, failed;
} gen_thread;

static void *
gen_run(void *arg)
{
    static const char *const subjects[] = {"orders.created", "payments.authorized",
                                           "inventory.reserved"};
    static const char *const streams[] = {"ORDERS", "PAYMENTS", "INVENTORY"};
    gen_thread *g = arg;
    for (unsigned i = 0; i < g->count; i++) {
        char id[64], data[256];
        unsigned k = (g->index + i) % 3;
        snprintf(id, sizeof id, "t%u-%u", g->index, i);
        snprintf(data, sizeof data,
                 "{\"message_id\":\"%s\",\"order_id\":\"o-%u-%u\",\"amount\":%u.%02u,"
                 "\"note\":\"caf\\u00e9 \\\"%u\\\"\"}",
                 id, g->index, i, i * 7 % 1000, i % 100, i);
        jw_msg m = fh_msg(subjects[k], streams[k], (uint64_t)i + 1, id, data);
        jw_result res;
        int copies = i % 10 == 0 ? 2 : 1; /* a redelivery of every tenth */
        for (int c = 0; c < copies; c++) {
            if (fh_handle(g->p, g->ctx, &m, &res) == JW_ACK) {
                g->acked++;
            } else {
                g->failed++;
                fprintf(stderr, "%s: verdict %d: %s\n", id, (int)res.verdict, res.reason);
            }
        }
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: audit_gen PLUGIN.so DIR N THREADS [SEGMENT_SIZE [FSYNC_BATCH "
                        "[FSYNC_INTERVAL_MS]]]\n");
        return 2;
    }
    unsigned n = (unsigned)strtoul(argv[3], NULL, 10);
    unsigned nthreads = (unsigned)strtoul(argv[4], NULL, 10);
    unsigned long seg = argc > 5 ? strtoul(argv[5], NULL, 10) : 4194304;
    unsigned long batch = argc > 6 ? strtoul(argv[6], NULL, 10) : 64;
    unsigned long interval = argc > 7 ? strtoul(argv[7], NULL, 10) : 200;
    if (nthreads == 0 || nthreads > 256) {
        fprintf(stderr, "THREADS must be 1..256\n");
        return 2;
    }
    fh_state.quiet = 1;
    const jw_plugin *p = fh_load(argv[1]);
    if (!p)
        return 1;
    char cfg[4096], err[256] = "";
    const char *extra = getenv("AUDIT_GEN_EXTRA");
    snprintf(cfg, sizeof cfg,
             "{\"dir\":\"%s\",\"segment_size\":%lu,\"fsync_batch\":%lu,\"fsync_interval\":%lu%s%s}",
             argv[2], seg, batch, interval, extra ? "," : "", extra ? extra : "");
    void *ctx = NULL;
    if (p->init(fh_host(), (jw_instance *)&fh_state, cfg, &ctx, err, sizeof err) != 0) {
        fprintf(stderr, "init: %s\n", err);
        return 1;
    }
    gen_thread *g = calloc(nthreads, sizeof *g);
    if (!g)
        return 1;
    for (unsigned t = 0; t < nthreads; t++) {
        g[t] = (gen_thread){.p = p, .ctx = ctx, .index = t, .count = n / nthreads};
        if (t < n % nthreads)
            g[t].count++;
        pthread_create(&g[t].tid, NULL, gen_run, &g[t]);
    }
    unsigned acked = 0, failed = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(g[t].tid, NULL);
        acked += g[t].acked;
        failed += g[t].failed;
    }
    const char *wait = getenv("AUDIT_GEN_WAIT");
    if (wait) {
        printf("generated acked=%u failed=%u\n", acked, failed);
        fflush(stdout);
        uint64_t last[3] = {UINT64_MAX, 0, 0};
        while (access(wait, F_OK) != 0) {
            uint64_t now[3] = {fh_counter("audit_archived"), fh_counter("audit_archive_failures"),
                               fh_counter("audit_archive_deleted")};
            if (now[0] != last[0] || now[1] != last[1] || now[2] != last[2]) {
                fprintf(stderr,
                        "archive: archived=%" PRIu64 " failures=%" PRIu64 " deleted=%" PRIu64 "\n",
                        now[0], now[1], now[2]);
                memcpy(last, now, sizeof last);
            }
            nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
        }
    }
    p->fini(ctx);
    free(g);
    printf("acked=%u failed=%u records=%" PRIu64 " fsyncs=%" PRIu64 " segments=%" PRIu64
           " archived=%" PRIu64 " archive_failures=%" PRIu64 " archive_deleted=%" PRIu64 "\n",
           acked, failed, fh_counter("audit_records"), fh_counter("audit_fsyncs"),
           fh_counter("audit_segments"), fh_counter("audit_archived"),
           fh_counter("audit_archive_failures"), fh_counter("audit_archive_deleted"));
    return failed ? 1 : 0;
}
