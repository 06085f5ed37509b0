/*
 * jsinfo.c -- print a JetStream consumer's state as one JSON line, or wait
 * for a condition on it. This is how the bench driver times jetway and the
 * baseline alike: from the outside, by the server's own view of the consumer.
 *
 *   jsinfo -s URL --stream S --consumer C
 *       print {"num_pending":..,"num_ack_pending":..,...}; exit 3 if the
 *       consumer does not exist
 *   jsinfo ... --wait exists|waiting|drained [--expect SEQ] [--timeout SECS]
 *              [--interval-ms 5] [--pid PID]
 *       poll until the consumer exists / has a pull request waiting (its
 *       client is fetching) / has acked everything up to stream sequence SEQ
 *       with nothing pending; then print the state with "at_ns", the
 *       CLOCK_REALTIME time the condition was seen. Exit 1 on timeout, or as
 *       soon as process PID has been gone (dead or a zombie) for 2 s, so
 *       that a crashed consumer fails the bench at once, not at the timeout.
 */
#include <getopt.h>
#include <inttypes.h>
#include <unistd.h>

#include "bench_util.h"

typedef enum { WAIT_NONE = 0, WAIT_EXISTS, WAIT_WAITING, WAIT_DRAINED } jsinfo_wait;

typedef struct jsinfo_opts {
    const char *url;
    const char *stream;
    const char *consumer;
    jsinfo_wait wait;
    uint64_t expect;
    long long timeout_s;
    long long interval_ms;
    long long pid;
} jsinfo_opts;

static void
jsinfo_usage(void)
{
    fprintf(stderr, "usage: jsinfo -s URL --stream S --consumer C [--wait exists|waiting|drained]\n"
                    "              [--expect SEQ] [--timeout 60] [--interval-ms 5] [--pid PID]\n");
    exit(2);
}

static void
jsinfo_parse(int argc, char **argv, jsinfo_opts *o)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"stream", required_argument, NULL, 'S'},
        {"consumer", required_argument, NULL, 'c'},
        {"wait", required_argument, NULL, 'w'},
        {"expect", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 't'},
        {"interval-ms", required_argument, NULL, 'i'},
        {"pid", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    *o = (jsinfo_opts){.url = "nats://127.0.0.1:4222", .timeout_s = 60, .interval_ms = 5};
    int c;
    while ((c = getopt_long(argc, argv, "s:", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->url = optarg;
            break;
        case 'S':
            o->stream = optarg;
            break;
        case 'c':
            o->consumer = optarg;
            break;
        case 'w':
            if (strcmp(optarg, "exists") == 0)
                o->wait = WAIT_EXISTS;
            else if (strcmp(optarg, "waiting") == 0)
                o->wait = WAIT_WAITING;
            else if (strcmp(optarg, "drained") == 0)
                o->wait = WAIT_DRAINED;
            else
                jsinfo_usage();
            break;
        case 'e':
            o->expect = (uint64_t)bench_arg_ll("--expect", optarg);
            break;
        case 't':
            o->timeout_s = bench_arg_ll("--timeout", optarg);
            break;
        case 'i':
            o->interval_ms = bench_arg_ll("--interval-ms", optarg);
            break;
        case 'p':
            o->pid = bench_arg_ll("--pid", optarg);
            break;
        default:
            jsinfo_usage();
        }
    }
    if (optind != argc || o->stream == NULL || o->consumer == NULL ||
        (o->wait == WAIT_DRAINED && o->expect == 0))
        jsinfo_usage();
}

/* True when process `pid` no longer runs: gone, or a zombie not yet reaped. */
static int
jsinfo_pid_gone(long long pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return 1;
    char buf[512];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    return p == NULL || p[1] == '\0' || p[2] == 'Z' || p[2] == 'X';
}

static void
jsinfo_print(const jsinfo_opts *o, const jsConsumerInfo *ci, int64_t at_ns)
{
    printf("{\"stream\":\"%s\",\"consumer\":\"%s\",\"num_pending\":%" PRIu64
           ",\"num_ack_pending\":%" PRId64 ",\"num_redelivered\":%" PRId64
           ",\"num_waiting\":%" PRId64 ",\"delivered_stream_seq\":%" PRIu64
           ",\"ack_floor_stream_seq\":%" PRIu64 ",\"max_ack_pending\":%" PRId64
           ",\"at_ns\":%" PRId64 "}\n",
           o->stream, o->consumer, ci->NumPending, ci->NumAckPending, ci->NumRedelivered,
           ci->NumWaiting, ci->Delivered.Stream, ci->AckFloor.Stream,
           ci->Config ? ci->Config->MaxAckPending : 0, at_ns);
    fflush(stdout);
}

static int
jsinfo_met(const jsinfo_opts *o, const jsConsumerInfo *ci)
{
    switch (o->wait) {
    case WAIT_EXISTS:
        return 1;
    case WAIT_WAITING:
        return ci->NumWaiting > 0;
    case WAIT_DRAINED:
        return ci->AckFloor.Stream >= o->expect && ci->NumAckPending == 0 && ci->NumPending == 0;
    case WAIT_NONE:
        break;
    }
    return 1;
}

int
main(int argc, char **argv)
{
    jsinfo_opts o;
    jsinfo_parse(argc, argv, &o);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    bench_connect(o.url, 0, &nc, &js);

    int64_t deadline = bench_mono_ns() + o.timeout_s * 1000000000;
    int64_t gone_at = 0;
    int rc = 1;
    for (;;) {
        jsConsumerInfo *ci = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_GetConsumerInfo(&ci, js, o.stream, o.consumer, NULL, &jerr);
        int64_t at = bench_now_ns();
        if (s == NATS_OK) {
            if (jsinfo_met(&o, ci)) {
                jsinfo_print(&o, ci, at);
                jsConsumerInfo_Destroy(ci);
                rc = 0;
                break;
            }
            jsConsumerInfo_Destroy(ci);
        } else if (s != NATS_NOT_FOUND) {
            /* A busy server may time an API call out: retry until the deadline. */
            fprintf(stderr, "jsinfo: consumer info: %s\n", natsStatus_GetText(s));
        }
        if (o.wait == WAIT_NONE) {
            fprintf(stderr, "jsinfo: consumer %s/%s: %s\n", o.stream, o.consumer,
                    natsStatus_GetText(s));
            rc = s == NATS_NOT_FOUND ? 3 : 1;
            break;
        }
        /* The server applies acks asynchronously: give a process that has
         * just exited (the baseline, done) a moment before calling it dead. */
        if (o.pid > 0 && gone_at == 0 && jsinfo_pid_gone(o.pid))
            gone_at = bench_mono_ns();
        if (gone_at != 0 && bench_mono_ns() - gone_at > (int64_t)2000000000) {
            fprintf(stderr, "jsinfo: process %lld exited before the condition was met\n", o.pid);
            break;
        }
        if (bench_mono_ns() > deadline) {
            fprintf(stderr, "jsinfo: timed out after %llds waiting on %s/%s\n", o.timeout_s,
                    o.stream, o.consumer);
            break;
        }
        usleep((useconds_t)(o.interval_ms * 1000));
    }
    bench_close(nc, js);
    return rc;
}
