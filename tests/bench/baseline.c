/*
 * baseline.c -- the reference the bench compares jetway against: a raw cnats
 * pull consumer that does nothing but fetch and ack each message, on the same
 * stream and with the same durable settings jetway uses (AckExplicit, no
 * server-side delivery limit).
 *
 * It creates its durable with js_AddConsumer (so startup costs what jetway's
 * startup costs), binds to it, fetches batches of --batch and acks every
 * message with natsMsg_Ack until -n messages are acked, flushes the acks and
 * prints {"msgs":N,"seconds":S,"msgs_per_s":R,"cpu_s":C} (S counts from
 * process start; C is the process's user + system CPU time so far).
 *
 * Fetching: a no_wait request for --batch returns whatever is stored right
 * away; only when nothing is available does it wait, and then for ONE
 * message, so that a message arriving on an idle consumer is handed over at
 * once. (cnats 3.4.1's natsSubscription_Fetch(256, t) waits for the full 256
 * or the timeout once the consumer is idle: at 5,000 msg/s that alone adds
 * ~50 ms to every message.) On a full stream both behave the same.
 *
 * With --latency-file it also records, for each message, the time from its
 * publish ("ts" in the payload) to the moment the consumer has it in hand,
 * before the ack: the same point at which jetway calls a handler (the stamp
 * plugin). Format of the file: bench_util.h. Latency runs use --send-asap,
 * so that each pull request leaves at once instead of after cnats's 1 ms
 * flusher delay (which would otherwise dominate an idle consumer's latency).
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench_util.h"

typedef struct base_opts {
    const char *url;
    const char *stream;
    const char *durable;
    const char *latency_file;
    long long n;
    long long batch;
    long long max_ack_pending;
    long long slots;
    long long idle_s;
    int send_asap;
} base_opts;

static void
base_usage(void)
{
    fprintf(stderr, "usage: baseline -s URL [--stream BENCH] [--durable bench_baseline] -n N\n"
                    "                [--batch 256] [--max-ack-pending 20000] [--idle-timeout 30]\n"
                    "                [--send-asap]\n"
                    "                [--latency-file FILE [--slots 1048576]]\n");
    exit(2);
}

static void
base_parse(int argc, char **argv, base_opts *o)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"stream", required_argument, NULL, 'S'},
        {"durable", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'},
        {"max-ack-pending", required_argument, NULL, 'a'},
        {"latency-file", required_argument, NULL, 'l'},
        {"slots", required_argument, NULL, 'k'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"send-asap", no_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    *o = (base_opts){.url = "nats://127.0.0.1:4222",
                     .stream = "BENCH",
                     .durable = "bench_baseline",
                     .n = 0,
                     .batch = 256,
                     .max_ack_pending = 20000,
                     .slots = 1 << 20,
                     .idle_s = 30};
    int c;
    while ((c = getopt_long(argc, argv, "s:n:", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->url = optarg;
            break;
        case 'S':
            o->stream = optarg;
            break;
        case 'd':
            o->durable = optarg;
            break;
        case 'n':
            o->n = bench_arg_ll("-n", optarg);
            break;
        case 'b':
            o->batch = bench_arg_ll("--batch", optarg);
            break;
        case 'a':
            o->max_ack_pending = bench_arg_ll("--max-ack-pending", optarg);
            break;
        case 'l':
            o->latency_file = optarg;
            break;
        case 'k':
            o->slots = bench_arg_ll("--slots", optarg);
            break;
        case 'i':
            o->idle_s = bench_arg_ll("--idle-timeout", optarg);
            break;
        case 'A':
            o->send_asap = 1;
            break;
        default:
            base_usage();
        }
    }
    if (optind != argc || o->n < 1 || o->batch < 1 || o->batch > 100000 || o->slots < 1)
        base_usage();
}

/* Map a zeroed latency file of `slots` int64 slots; exits on failure. */
static int64_t *
base_map_latency(const char *path, long long slots)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)slots * 8) != 0) {
        perror(path);
        exit(1);
    }
    void *p = mmap(NULL, (size_t)slots * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

/*
 * Fetch up to `batch` messages: what is stored now, or else wait up to
 * wait_ms for the next one. Returns NATS_OK with list->Count >= 1, or
 * NATS_TIMEOUT when nothing came.
 */
static natsStatus
base_fetch(natsSubscription *sub, int batch, int64_t wait_ms, natsMsgList *list)
{
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = batch;
    req.NoWait = true;
    req.Expires = (int64_t)5000 * 1000000; /* bound on waiting for the answer */
    natsStatus s = natsSubscription_FetchRequest(list, sub, &req);
    if (s == NATS_OK)
        return s;
    if (s != NATS_NOT_FOUND && s != NATS_TIMEOUT)
        bench_die("fetch", s);
    jsFetchRequest_Init(&req);
    req.Batch = 1;
    req.Expires = wait_ms * 1000000;
    s = natsSubscription_FetchRequest(list, sub, &req);
    if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) {
        return NATS_TIMEOUT;
    }
    if (s != NATS_OK)
        bench_die("fetch", s);
    return s;
}

static void
base_record(int64_t *lat, long long slots, natsMsg *m)
{
    int64_t now = bench_now_ns();
    uint64_t seq = 0;
    uint64_t ts = 0;
    const void *data = natsMsg_GetData(m);
    size_t len = (size_t)natsMsg_GetDataLength(m);
    if (bench_field_u64(data, len, "\"seq\":", &seq) != 0 || seq == 0 ||
        bench_field_u64(data, len, "\"ts\":", &ts) != 0)
        return;
    int64_t d = now - (int64_t)ts;
    lat[(seq - 1) % (uint64_t)slots] = d > 0 ? d : 1;
}

int
main(int argc, char **argv)
{
    int64_t start = bench_mono_ns();
    base_opts o;
    base_parse(argc, argv, &o);
    int64_t *lat = o.latency_file ? base_map_latency(o.latency_file, o.slots) : NULL;

    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    /* Latency runs: pull requests go out at once (see bench_connect). */
    bench_connect(o.url, o.send_asap, &nc, &js);
    natsSubscription *sub = NULL;
    bench_pull_consumer(js, o.stream, o.durable, NULL, o.max_ack_pending, &sub);
    natsStatus s;

    long long acked = 0;
    int64_t idle_ns = o.idle_s * 1000000000;
    int64_t last_progress = bench_mono_ns();
    while (acked < o.n) {
        natsMsgList list = {0};
        long long want = o.n - acked < o.batch ? o.n - acked : o.batch;
        s = base_fetch(sub, (int)want, 1000, &list);
        if (s == NATS_TIMEOUT) {
            if (bench_mono_ns() - last_progress > idle_ns) {
                fprintf(stderr, "baseline: no message for %llds, stalled at %lld of %lld\n",
                        o.idle_s, acked, o.n);
                return 1;
            }
            continue;
        }
        for (int i = 0; i < list.Count; i++) {
            if (lat != NULL)
                base_record(lat, o.slots, list.Msgs[i]);
            s = natsMsg_Ack(list.Msgs[i], NULL);
            if (s != NATS_OK)
                bench_die("ack", s);
        }
        acked += list.Count;
        natsMsgList_Destroy(&list);
        last_progress = bench_mono_ns();
    }
    /* The acks are plain publishes: make sure the server has them all. */
    s = natsConnection_FlushTimeout(nc, 10000);
    if (s != NATS_OK)
        bench_die("flush", s);
    double secs = (double)(bench_mono_ns() - start) / 1e9;
    printf("{\"msgs\":%lld,\"seconds\":%.3f,\"msgs_per_s\":%.0f,\"cpu_s\":%.3f}\n", acked, secs,
           (double)acked / secs, bench_cpu_s());
    fflush(stdout);

    /* Destroy, never Unsubscribe: the durable stays (and we created it). */
    natsSubscription_Destroy(sub);
    if (lat != NULL)
        munmap(lat, (size_t)o.slots * 8);
    bench_close(nc, js);
    return 0;
}
