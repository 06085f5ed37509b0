/*
 * fill.c -- the bench publisher: create (or recreate) the bench stream and
 * publish N JSON messages of about --size bytes, each with a unique
 * Nats-Msg-Id and the same id in its "message_id" field (the payload format
 * is described in bench_util.h).
 *
 * Two speeds: --rate 0 (default) publishes as fast as JetStream takes it,
 * with js_PublishAsync and a bounded window of unacknowledged publishes;
 * --rate R paces the publishes at R per second on an absolute schedule (no
 * drift, no bursts to catch up beyond what was missed), stamping each message
 * with the time it is sent, for the latency runs; a paced run writes every
 * publish to the socket at once (natsOptions_SetSendAsap).
 *
 * Prints one JSON line: {"msgs":N,"errors":E,"seconds":S,"msgs_per_s":R,
 * "stream_msgs":M}. Exits 1 when any publish failed or, after --reset, the
 * stream does not hold exactly N messages.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>

#include "bench_util.h"

typedef struct fill_opts {
    const char *url;
    const char *stream;
    const char *subject;
    const char *id_prefix;
    long long n;
    long long size;
    long long window;
    long long rate;
    int reset;
    int memory;
} fill_opts;

/* Failed publishes; written by cnats's reply thread, read by main. */
static atomic_long fill_errors;

static void
fill_on_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)closure;
    if (atomic_fetch_add(&fill_errors, 1) < 5)
        fprintf(stderr, "fill: publish failed: %s (%d)\n", pae->ErrText, (int)pae->ErrCode);
}

static void
fill_usage(void)
{
    fprintf(stderr, "usage: fill -s URL [--stream BENCH] [--subject bench.in] [-n N] [--reset]\n"
                    "            [--id-prefix P] [--size 200] [--window 4096] [--rate R]\n"
                    "            [--memory]\n");
    exit(2);
}

static void
fill_parse(int argc, char **argv, fill_opts *o)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"stream", required_argument, NULL, 'S'},
        {"subject", required_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'n'},
        {"reset", no_argument, NULL, 'r'},
        {"id-prefix", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 'z'},
        {"window", required_argument, NULL, 'w'},
        {"rate", required_argument, NULL, 'R'},
        {"memory", no_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    *o = (fill_opts){.url = "nats://127.0.0.1:4222",
                     .stream = "BENCH",
                     .subject = "bench.in",
                     .id_prefix = "m",
                     .n = 1000,
                     .size = 200,
                     .window = 4096};
    int c;
    while ((c = getopt_long(argc, argv, "s:n:", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->url = optarg;
            break;
        case 'S':
            o->stream = optarg;
            break;
        case 'j':
            o->subject = optarg;
            break;
        case 'n':
            o->n = bench_arg_ll("-n", optarg);
            break;
        case 'r':
            o->reset = 1;
            break;
        case 'p':
            o->id_prefix = optarg;
            break;
        case 'z':
            o->size = bench_arg_ll("--size", optarg);
            break;
        case 'w':
            o->window = bench_arg_ll("--window", optarg);
            break;
        case 'R':
            o->rate = bench_arg_ll("--rate", optarg);
            break;
        case 'm':
            o->memory = 1;
            break;
        default:
            fill_usage();
        }
    }
    if (optind != argc || o->window < 1 || o->size > 65536)
        fill_usage();
}

/*
 * Make sure the stream exists (recreated empty with --reset). The settings
 * match the bench configs (tests/bench/configs) so that jetway's own provisioning finds
 * the stream as it declares it.
 */
static void
fill_stream(jsCtx *js, const fill_opts *o)
{
    jsErrCode jerr = 0;
    natsStatus s;
    if (o->reset) {
        s = js_DeleteStream(js, o->stream, NULL, &jerr);
        if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
            bench_die("delete stream", s);
    }
    jsStreamInfo *si = NULL;
    s = js_GetStreamInfo(&si, js, o->stream, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return;
    }
    bench_add_stream(js, o->stream, o->subject, o->memory ? js_MemoryStorage : js_FileStorage);
}

/* Format message `seq` into buf; returns its length. */
static int
fill_payload(char *buf, size_t cap, char *id, size_t idcap, const fill_opts *o, uint64_t seq)
{
    snprintf(id, idcap, "%s-%" PRIu64, o->id_prefix, seq);
    int n = snprintf(buf, cap,
                     "{\"message_id\":\"%s\",\"seq\":%" PRIu64 ",\"ts\":%" PRId64 ",\"pad\":\"", id,
                     seq, bench_now_ns());
    if (n < 0 || (size_t)n + 3 > cap)
        return -1;
    while ((long long)n + 2 < o->size && (size_t)n + 3 < cap)
        buf[n++] = 'x';
    buf[n++] = '"';
    buf[n++] = '}';
    buf[n] = '\0';
    return n;
}

static void
fill_sleep_until(int64_t mono_ns)
{
    struct timespec ts = {.tv_sec = mono_ns / 1000000000, .tv_nsec = mono_ns % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

int
main(int argc, char **argv)
{
    fill_opts o;
    fill_parse(argc, argv, &o);

    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    /* Paced: write each publish at once, its timestamp is the send time. */
    bench_connect(o.url, o.rate > 0, &nc, &js);
    fill_stream(js, &o);

    /* A second context for publishing: the window and the error handler. */
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 10000;
    jo.PublishAsync.MaxPending = o.window;
    jo.PublishAsync.StallWait = 30000; /* block on a full window, don't fail */
    jo.PublishAsync.ErrHandler = fill_on_error;
    jsCtx *pjs = NULL;
    natsStatus s = natsConnection_JetStream(&pjs, nc, &jo);
    if (s != NATS_OK)
        bench_die("jetstream context", s);

    char buf[65600];
    char id[128];
    int64_t start = bench_mono_ns();
    int64_t interval = o.rate > 0 ? 1000000000 / o.rate : 0;
    for (long long i = 0; i < o.n; i++) {
        if (interval > 0)
            fill_sleep_until(start + i * interval);
        int len = fill_payload(buf, sizeof(buf), id, sizeof(id), &o, (uint64_t)i + 1);
        if (len < 0) {
            fprintf(stderr, "fill: payload does not fit\n");
            return 1;
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = id;
        s = js_PublishAsync(pjs, o.subject, buf, len, &po);
        if (s != NATS_OK)
            bench_die("publish", s);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    s = js_PublishAsyncComplete(pjs, &po);
    if (s != NATS_OK)
        bench_die("publish complete", s);
    double secs = (double)(bench_mono_ns() - start) / 1e9;

    jsErrCode jerr = 0;
    jsStreamInfo *si = NULL;
    s = js_GetStreamInfo(&si, js, o.stream, NULL, &jerr);
    if (s != NATS_OK)
        bench_die("stream info", s);
    uint64_t stream_msgs = si->State.Msgs;
    jsStreamInfo_Destroy(si);

    long errors = atomic_load(&fill_errors);
    printf("{\"msgs\":%lld,\"errors\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.0f,"
           "\"stream_msgs\":%" PRIu64 "}\n",
           o.n, errors, secs, secs > 0 ? (double)o.n / secs : 0.0, stream_msgs);
    jsCtx_Destroy(pjs);
    bench_close(nc, js);
    if (errors > 0)
        return 1;
    if (o.reset && stream_msgs != (uint64_t)o.n) {
        fprintf(stderr, "fill: stream holds %" PRIu64 " messages, expected %lld\n", stream_msgs,
                o.n);
        return 1;
    }
    return 0;
}
