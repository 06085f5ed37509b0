/*
 * saga.c -- the pipeline's baseline: the order saga's NATS traffic done by
 * raw cnats, with nothing else, so that `make bench` can put jetway's
 * four-role pipeline next to what the messaging alone costs on the same
 * machine, servers and load generator (`jetway-orders-load`).
 *
 * It does what the happy path of the order system does on the wire, in one
 * process with one connection per role:
 *
 *   order      answers orders.create (core NATS queue group): publishes
 *              orders.created.v1, replies {"order_id":...} once the PubAck
 *              is in; consumes PAYMENTS and INVENTORY and, when both results
 *              of an order are in, publishes orders.confirmed.v1;
 *   payment    consumes orders.created.v1, publishes payments.completed.v1;
 *   inventory  consumes orders.created.v1, publishes inventory.reserved.v1;
 *              consumes orders.confirmed.v1;
 *   audit      consumes ORDERS, PAYMENTS and INVENTORY.
 *
 * That is 4 JetStream publishes (with Nats-Msg-Id, on the same file streams
 * as the roles), 9 consumes, a request and a reply per order. Every consumer
 * is a durable pull consumer on a thread of its own, fetching like jetway's
 * fetcher (one no-wait pull of up to --batch with an expiry), publishing the
 * batch's events asynchronously, waiting for their PubAcks, then acking the
 * batch: the cheapest order a correct client can do it in. No Redis, no
 * JSON parsing, no handler threads, always confirmed: an upper bound, not a
 * rival implementation.
 *
 * It creates the streams (deleting them first, so they start empty) and its
 * durables, prints "ready" on stdout, runs until SIGTERM or SIGINT, then
 * deletes the streams again (the roles provision them afresh) and prints
 * {"orders":N,"confirmed":N,"publish_errors":N,"cpu_s":C}.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "bench_util.h"

#define SAGA_FETCH_WAIT_MS 500
#define SAGA_RING          65536 /* reply subjects by order number; > load's in-flight */
#define SAGA_REPLY_MAX     96
#define SAGA_ID_MAX        40

enum saga_action { ACT_PAYMENT, ACT_INVENTORY, ACT_JOIN, ACT_NONE };

/* One durable pull consumer and what it does with each message. Owned by
 * main; used by its thread only (js is this consumer's own context). */
typedef struct saga_consumer {
    const char *durable;
    const char *stream;
    const char *filter; /* NULL: the whole stream */
    enum saga_action action;
    int role; /* index into saga.conns */
    jsCtx *js;
    natsSubscription *sub;
    pthread_t thread;
} saga_consumer;

/* Process-wide state. The atomics are shared by every thread; the rest is
 * written by main before the threads start. */
typedef struct saga {
    natsConnection *conns[4]; /* order, payment, inventory, audit */
    jsCtx *resp_js;           /* the orders.create responder's context */
    natsSubscription *resp_sub;
    long long batch;
    size_t njoin;
    atomic_uchar *join;              /* results seen per order number */
    char (*replies)[SAGA_REPLY_MAX]; /* reply subject per order, ring */
    atomic_long next_order, confirmed, publish_errors;
    atomic_int stop;
} saga;

static saga S;

static const char *const saga_streams[][2] = {
    {"ORDERS", "orders.*.v1"},
    {"PAYMENTS", "payments.>"},
    {"INVENTORY", "inventory.>"},
};

static saga_consumer saga_consumers[] = {
    {"saga-payment-orders", "ORDERS", "orders.created.v1", ACT_PAYMENT, 1, NULL, NULL, 0},
    {"saga-inventory-orders", "ORDERS", "orders.created.v1", ACT_INVENTORY, 2, NULL, NULL, 0},
    {"saga-order-payments", "PAYMENTS", NULL, ACT_JOIN, 0, NULL, NULL, 0},
    {"saga-order-inventory", "INVENTORY", NULL, ACT_JOIN, 0, NULL, NULL, 0},
    {"saga-inventory-confirmations", "ORDERS", "orders.confirmed.v1", ACT_NONE, 2, NULL, NULL, 0},
    {"saga-audit-orders", "ORDERS", NULL, ACT_NONE, 3, NULL, NULL, 0},
    {"saga-audit-payments", "PAYMENTS", NULL, ACT_NONE, 3, NULL, NULL, 0},
    {"saga-audit-inventory", "INVENTORY", NULL, ACT_NONE, 3, NULL, NULL, 0},
};
#define SAGA_NCONSUMERS (sizeof(saga_consumers) / sizeof(saga_consumers[0]))

/* The order id "s-<n>" of an event (its first "order_id"), and n. */
static int
saga_order_id(const void *data, int len, char *id, long *n)
{
    static const char key[] = "\"order_id\":\"";
    const char *p = memmem(data, (size_t)len, key, sizeof(key) - 1);
    if (p == NULL)
        return -1;
    p += sizeof(key) - 1;
    const char *end = memchr(p, '"', (size_t)((const char *)data + len - p));
    if (end == NULL || end - p >= SAGA_ID_MAX || end - p < 3 || p[0] != 's' || p[1] != '-')
        return -1;
    memcpy(id, p, (size_t)(end - p));
    id[end - p] = '\0';
    *n = strtol(id + 2, NULL, 10);
    return 0;
}

/* Publish event `kind` ("payments.completed", ...) of order `id`,
 * asynchronously on js, with the message id jetway's plugins use. */
static void
saga_publish(jsCtx *js, const char *kind, const char *id, const void *order, int order_len)
{
    char subject[64], mid[96], body[1024];
    snprintf(subject, sizeof(subject), "%s.v1", kind);
    snprintf(mid, sizeof(mid), "%s:%s", kind, id);
    int n = snprintf(body, sizeof(body), "{\"order_id\":\"%s\",\"event\":\"%s\",\"order\":%.*s}",
                     id, kind, order_len, (const char *)order);
    if (n < 0 || n >= (int)sizeof(body))
        n = snprintf(body, sizeof(body), "{\"order_id\":\"%s\",\"event\":\"%s\"}", id, kind);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = mid;
    if (js_PublishAsync(js, subject, body, n, &po) != NATS_OK)
        atomic_fetch_add(&S.publish_errors, 1);
}

/* What consumer c does with one message; returns 1 when it published. */
static int
saga_act(saga_consumer *c, natsMsg *m)
{
    char id[SAGA_ID_MAX];
    long n = 0;
    const char *data = natsMsg_GetData(m);
    int len = natsMsg_GetDataLength(m);
    if (c->action == ACT_NONE || saga_order_id(data, len, id, &n) != 0)
        return 0;
    switch (c->action) {
    case ACT_PAYMENT:
        saga_publish(c->js, "payments.completed", id, data, len);
        return 1;
    case ACT_INVENTORY:
        saga_publish(c->js, "inventory.reserved", id, data, len);
        return 1;
    case ACT_JOIN:
        /* The second of the two results decides (a redelivery of the first
         * could count twice: not on this bench, where nothing fails). */
        if (atomic_fetch_add(&S.join[(size_t)n % S.njoin], 1) == 1) {
            saga_publish(c->js, "orders.confirmed", id, data, len);
            atomic_fetch_add(&S.confirmed, 1);
            return 1;
        }
        return 0;
    case ACT_NONE:
        break;
    }
    return 0;
}

static void *
saga_consume(void *arg)
{
    saga_consumer *c = arg;
    while (!atomic_load(&S.stop)) {
        jsFetchRequest req;
        jsFetchRequest_Init(&req);
        req.Batch = (int)S.batch;
        req.NoWait = true;
        req.Expires = (int64_t)SAGA_FETCH_WAIT_MS * 1000000;
        natsMsgList list = {0};
        natsStatus s = natsSubscription_FetchRequest(&list, c->sub, &req);
        if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND)
            continue;
        if (s != NATS_OK) {
            if (atomic_load(&S.stop))
                break;
            bench_die(c->durable, s);
        }
        int published = 0;
        for (int i = 0; i < list.Count; i++)
            published += saga_act(c, list.Msgs[i]);
        /* The events are stored before their inputs are acked. */
        if (published > 0 && js_PublishAsyncComplete(c->js, NULL) != NATS_OK)
            atomic_fetch_add(&S.publish_errors, 1);
        for (int i = 0; i < list.Count; i++) {
            if (natsMsg_Ack(list.Msgs[i], NULL) != NATS_OK)
                bench_die("ack", NATS_ERR);
        }
        natsMsgList_Destroy(&list);
    }
    return NULL;
}

/* orders.create: publish orders.created.v1; the reply waits for its PubAck
 * (saga_on_created). Runs on cnats's subscription thread. */
static void
saga_on_create(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    (void)nc;
    (void)sub;
    (void)closure;
    long n = atomic_fetch_add(&S.next_order, 1) + 1;
    const char *reply = natsMsg_GetReply(m);
    char id[SAGA_ID_MAX];
    snprintf(id, sizeof(id), "s-%ld", n);
    snprintf(S.replies[n % SAGA_RING], SAGA_REPLY_MAX, "%s", reply ? reply : "");
    saga_publish(S.resp_js, "orders.created", id, natsMsg_GetData(m), natsMsg_GetDataLength(m));
    natsMsg_Destroy(m);
}

/* The PubAck of an orders.created.v1: now the order is accepted. */
static void
saga_on_created(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)pae;
    (void)closure;
    char id[SAGA_ID_MAX], body[80];
    long n = 0;
    if (pa == NULL || saga_order_id(natsMsg_GetData(m), natsMsg_GetDataLength(m), id, &n) != 0) {
        atomic_fetch_add(&S.publish_errors, 1);
    } else {
        const char *reply = S.replies[n % SAGA_RING];
        int len = snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", id);
        if (reply[0] != '\0')
            natsConnection_Publish(S.conns[0], reply, body, len);
    }
    natsMsg_Destroy(m);
}

static void
saga_bind(saga_consumer *c)
{
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 10000;
    natsStatus s = natsConnection_JetStream(&c->js, S.conns[c->role], &jo);
    if (s != NATS_OK)
        bench_die("jetstream context", s);
    bench_pull_consumer(c->js, c->stream, c->durable, c->filter, 512, &c->sub);
}

static void
saga_usage(void)
{
    fprintf(stderr, "usage: saga -s URL [--batch 128] [--orders-max 1048576] [--send-asap]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"batch", required_argument, NULL, 'b'},
        {"orders-max", required_argument, NULL, 'm'},
        {"send-asap", no_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    const char *url = "nats://127.0.0.1:4222";
    int send_asap = 0, c;
    S.batch = 128;
    S.njoin = 1 << 20;
    while ((c = getopt_long(argc, argv, "s:", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            url = optarg;
            break;
        case 'b':
            S.batch = bench_arg_ll("--batch", optarg);
            break;
        case 'm':
            S.njoin = (size_t)bench_arg_ll("--orders-max", optarg);
            break;
        case 'A':
            send_asap = 1;
            break;
        default:
            saga_usage();
        }
    }
    if (optind != argc || S.batch < 1 || S.batch > 100000 || S.njoin < 1)
        saga_usage();
    S.join = calloc(S.njoin, sizeof(*S.join));
    S.replies = calloc(SAGA_RING, sizeof(*S.replies));
    if (S.join == NULL || S.replies == NULL) {
        fprintf(stderr, "saga: out of memory\n");
        return 1;
    }

    /* Signals go to sigwait below, not to cnats's threads. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    jsCtx *admin = NULL;
    for (int r = 0; r < 4; r++) {
        jsCtx *js = NULL;
        bench_connect(url, send_asap, &S.conns[r], &js);
        if (r == 0)
            admin = js;
        else
            jsCtx_Destroy(js);
    }
    for (size_t i = 0; i < sizeof(saga_streams) / sizeof(saga_streams[0]); i++) {
        js_DeleteStream(admin, saga_streams[i][0], NULL, NULL); /* start empty; absent is fine */
        bench_add_stream(admin, saga_streams[i][0], saga_streams[i][1], js_FileStorage);
    }
    for (size_t i = 0; i < SAGA_NCONSUMERS; i++)
        saga_bind(&saga_consumers[i]);

    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 10000;
    jo.PublishAsync.AckHandler = saga_on_created;
    jo.PublishAsync.MaxPending = 4096;
    natsStatus s = natsConnection_JetStream(&S.resp_js, S.conns[0], &jo);
    if (s == NATS_OK)
        s = natsConnection_QueueSubscribe(&S.resp_sub, S.conns[0], "orders.create", "saga",
                                          saga_on_create, NULL);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(S.resp_sub, -1, -1);
    if (s != NATS_OK)
        bench_die("orders.create", s);
    for (size_t i = 0; i < SAGA_NCONSUMERS; i++) {
        if (pthread_create(&saga_consumers[i].thread, NULL, saga_consume, &saga_consumers[i]) !=
            0) {
            fprintf(stderr, "saga: cannot start a thread\n");
            return 1;
        }
    }
    s = natsConnection_Flush(S.conns[0]);
    if (s != NATS_OK)
        bench_die("flush", s);
    printf("ready\n");
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    atomic_store(&S.stop, 1);
    natsSubscription_Unsubscribe(S.resp_sub);
    for (size_t i = 0; i < SAGA_NCONSUMERS; i++)
        pthread_join(saga_consumers[i].thread, NULL);

    printf("{\"orders\":%ld,\"confirmed\":%ld,\"publish_errors\":%ld,\"cpu_s\":%.3f}\n",
           atomic_load(&S.next_order), atomic_load(&S.confirmed), atomic_load(&S.publish_errors),
           bench_cpu_s());
    fflush(stdout);

    for (size_t i = 0; i < SAGA_NCONSUMERS; i++) {
        natsSubscription_Destroy(saga_consumers[i].sub);
        jsCtx_Destroy(saga_consumers[i].js);
    }
    natsSubscription_Destroy(S.resp_sub);
    for (size_t i = 0; i < sizeof(saga_streams) / sizeof(saga_streams[0]); i++)
        js_DeleteStream(admin, saga_streams[i][0], NULL, NULL);
    jsCtx_Destroy(S.resp_js);
    jsCtx_Destroy(admin);
    for (int r = 0; r < 4; r++)
        natsConnection_Destroy(S.conns[r]);
    nats_Close();
    free(S.join);
    free(S.replies);
    return 0;
}
