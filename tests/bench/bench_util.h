/*
 * bench_util.h -- small helpers shared by the bench tools (fill, baseline,
 * jsinfo, latstat). Each tool is a single .c linked on its own (the Makefile
 * builds tests/bench/NAME.c into build/bench/NAME), so the helpers are
 * static inline here rather than a separate object.
 *
 * The payload format is the contract between the publisher (fill), the
 * baseline consumer and the stamp plugin (tests/plugins/stamp.c):
 *
 *   {"message_id":"<prefix>-<seq>","seq":<seq>,"ts":<ns>,"pad":"xxx..."}
 *
 * where seq counts from 1 and ts is CLOCK_REALTIME in nanoseconds taken just
 * before the publish. Latency files hold one int64_t per slot, slot =
 * (seq - 1) % slots, value = nanoseconds from publish to processing (>= 1),
 * 0 = never seen.
 */
#ifndef JW_BENCH_UTIL_H
#define JW_BENCH_UTIL_H

#include <nats/nats.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline int64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t
bench_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* This process's user + system CPU time so far, in seconds. */
static inline double
bench_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Print cnats's error stack with a context line and exit 1. */
static inline void
bench_die(const char *what, natsStatus s)
{
    fprintf(stderr, "%s: %s\n", what, natsStatus_GetText(s));
    nats_PrintLastErrorStack(stderr);
    exit(1);
}

/*
 * Connect to `url` with a JetStream context; exits on failure. With
 * `send_asap` every publish is written at once: cnats 3.4.1's flusher thread
 * otherwise waits 1 ms to coalesce writes, which would put up to 1 ms on
 * every latency-run publish and every pull request of an idle consumer.
 */
static inline void
bench_connect(const char *url, int send_asap, natsConnection **nc, jsCtx **js)
{
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, url);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, 5000);
    /* A big pending buffer so a fast consumer is never a slow consumer. */
    if (s == NATS_OK)
        s = natsOptions_SetMaxPendingMsgs(opts, 1000000);
    if (s == NATS_OK && send_asap)
        s = natsOptions_SetSendAsap(opts, true);
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK)
        bench_die("connect", s);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 10000;
    s = natsConnection_JetStream(js, *nc, &jo);
    if (s != NATS_OK)
        bench_die("jetstream context", s);
}

static inline void
bench_close(natsConnection *nc, jsCtx *js)
{
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
}

/*
 * Create stream `name` on `subject` (one subject, storage as given, the 2m
 * duplicate window of the configs); exits on failure. The caller decides
 * whether an existing one is deleted or kept first.
 */
static inline void
bench_add_stream(jsCtx *js, const char *name, const char *subject, jsStorageType storage)
{
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[1] = {subject};
    sc.Name = name;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = storage;
    sc.Duplicates = (int64_t)120 * 1000000000;
    jsStreamInfo *si = NULL;
    natsStatus s = js_AddStream(&si, js, &sc, NULL, NULL);
    if (s != NATS_OK)
        bench_die(name, s);
    jsStreamInfo_Destroy(si);
}

/*
 * Create durable pull consumer `durable` on `stream` (filter NULL: the whole
 * stream) with the settings jetway gives its durables (explicit ACK, all
 * deliveries, 30 s ack wait, no max deliver) and bind *sub to it; exits on
 * failure.
 */
static inline void
bench_pull_consumer(jsCtx *js, const char *stream, const char *durable, const char *filter,
                    int64_t max_ack_pending, natsSubscription **sub)
{
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable;
    cc.FilterSubject = filter;
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.AckWait = (int64_t)30 * 1000000000;
    cc.MaxDeliver = -1;
    cc.MaxAckPending = max_ack_pending;
    jsConsumerInfo *ci = NULL;
    natsStatus s = js_AddConsumer(&ci, js, stream, &cc, NULL, NULL);
    if (s != NATS_OK)
        bench_die(durable, s);
    jsConsumerInfo_Destroy(ci);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Consumer = durable;
    s = js_PullSubscribe(sub, js, NULL, durable, NULL, &so, NULL);
    if (s != NATS_OK)
        bench_die(durable, s);
}

/*
 * Parse the unsigned decimal after `key` (e.g. "\"seq\":") in a payload that
 * is not NUL-terminated. Returns 0 and *out, or -1 when absent.
 */
static inline int
bench_field_u64(const void *data, size_t len, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    const char *p = memmem(data, len, key, klen);
    if (p == NULL)
        return -1;
    const char *end = (const char *)data + len;
    p += klen;
    uint64_t v = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 20) {
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (digits == 0)
        return -1;
    *out = v;
    return 0;
}

/* Parse a decimal argument or exit with a usage error naming the option. */
static inline long long
bench_arg_ll(const char *opt, const char *v)
{
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || n < 0) {
        fprintf(stderr, "%s: expected a non-negative integer, got '%s'\n", opt, v);
        exit(2);
    }
    return n;
}

#endif /* JW_BENCH_UTIL_H */
