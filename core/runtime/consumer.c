/*
 * consumer.c -- see consumer.h.
 */
#include "consumer_int.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "gen_int.h"
#include "settle_int.h"

/* Fetch waits at most this long for a first message, so a stop request is
 * noticed within it. */
#define FETCH_WAIT_MS 500
/* How often the fetcher refreshes the server's numbers for /metrics. */
#define INFO_EVERY_NS (2 * 1000000000ull)

static rt_job *
rt_job_alloc(rt_consumer *c)
{
    rt_job *j = c->free_jobs;
    if (j) {
        c->free_jobs = (rt_job *)j->node.next;
        c->nfree--;
        return j;
    }
    return malloc(sizeof(rt_job));
}

void
rt_job_finish(rt_job *j)
{
    rt_consumer *c = j->c;
    if (j->msg) {
        natsMsg_Destroy(j->msg);
        j->msg = NULL;
    }
    rt_gen *g = j->g;
    rt_host *r = c->r;
    atomic_fetch_sub_explicit(&c->st->in_flight, 1, memory_order_relaxed);
    pthread_mutex_lock(&c->mu);
    c->inflight--;
    /* Keep a bounded cache of job structs: the hot path then never calls
     * malloc once warmed up. */
    if (c->nfree < c->max_inflight) {
        j->node.next = (mpsc_node *)c->free_jobs;
        c->free_jobs = j;
        c->nfree++;
        j = NULL;
    }
    if (c->fetcher_waiting)
        pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    free(j);
    rt_gen_unref(r, g, 1);
}

/* Append s at p, never past end - 1 (where the NUL goes); returns the end. */
static char *
key_put(char *p, char *end, const char *s)
{
    while (*s && p < end - 1)
        *p++ = *s++;
    return p;
}

void
rt_job_dedup_key(rt_job *j)
{
    /* "<prefix>:<consumer>:<id>", truncated like snprintf would, without
     * its cost on every message */
    const cfg_dedup *d = &j->cc->dedup;
    char *end = j->key + sizeof(j->key);
    char *p = key_put(j->key, end, d->key_prefix ? d->key_prefix : "jw");
    p = key_put(p, end, ":");
    p = key_put(p, end, j->cc->name);
    p = key_put(p, end, ":");
    p = key_put(p, end, j->id);
    *p = '\0';
}

/*
 * Bind a fetched message to a job (fetcher thread): only what routing needs.
 * The parse (job_parse) is left to whoever needs it first, so that the
 * fetcher, one thread per consumer, goes back to the server quickly.
 */
static void
rt_job_bind(rt_consumer *c, rt_job *j, natsMsg *m, rt_gen *g, const cfg_consumer *cc,
            plugin_instance *inst, uint64_t now_ns)
{
    memset(j, 0, offsetof(rt_job, id));
    j->id[0] = j->key[0] = j->token[0] = j->reason[0] = j->parent_span_id[0] = '\0';
    j->trace_id[0] = j->span_id[0] = '\0';
    j->kind = RT_JOB_MESSAGE;
    j->c = c;
    j->g = g;
    j->cc = cc;
    j->inst = inst;
    j->msg = m;
    j->t_recv_ns = now_ns;
    atomic_init(&j->holds, 1); /* the handler's own, dropped when it returns */
}

void
rt_job_parse(rt_job *j)
{
    if (j->parsed)
        return;
    j->parsed = 1;
    natsMsg *m = j->msg;
    const cfg_consumer *cc = j->cc;
    if (jsmeta_parse(natsMsg_GetReply(m), &j->meta) != 0) {
        memset(&j->meta, 0, sizeof(j->meta));
        j->meta.delivered = 1;
    }
    const cfg_dedup *d = &cc->dedup;
    int header_first = !d->id_from || strcmp(d->id_from, "header") == 0;
    const char *field = d->id_field ? d->id_field : "message_id";
    if (!header_first)
        field = d->id_from;
    char why[JW_REASON_MAX];
    if (msgid_extract(m, header_first, field, j->id, sizeof(j->id), why, sizeof(why)) == NULL) {
        j->has_id = 1;
    } else {
        j->id[0] = '\0';
        if (d->enabled) {
            snprintf(j->reason, sizeof(j->reason), "%s", why);
            j->dead_reason = j->reason;
        }
    }
    settle_trace_extract(j);
    if (d->enabled && j->has_id) {
        rt_job_dedup_key(j);
        rnd_hex(j->token, 16);
    }
    if (!d->enabled && !j->dead_reason && cc->max_deliver > 0 &&
        j->meta.delivered > (uint64_t)cc->max_deliver) {
        /* With dedup, claim_check() decides this against the start journal. */
        snprintf(j->reason, sizeof(j->reason),
                 "max deliveries exceeded: delivery %llu of max_deliver %d",
                 (unsigned long long)j->meta.delivered, cc->max_deliver);
        j->dead_reason = j->reason;
    }
}

static void
fetcher_refresh_info(rt_consumer *c)
{
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    if (js_GetConsumerInfo(&ci, c->r->js, c->stream, c->name, NULL, &jerr) == NATS_OK && ci) {
        atomic_store(&c->st->server_pending, (int_fast64_t)ci->NumPending);
        atomic_store(&c->st->server_ack_pending, (int_fast64_t)ci->NumAckPending);
        atomic_store(&c->st->server_redelivered, (int_fast64_t)ci->NumRedelivered);
        jsConsumerInfo_Destroy(ci);
    }
}

int
consumer_defer_ack(rt_job *j)
{
    rt_consumer *c = j->c;
    pthread_mutex_lock(&c->mu);
    int taken = c->defer_acks;
    if (taken) {
        j->node.next = (mpsc_node *)c->acks;
        c->acks = j;
        if (c->fetcher_waiting)
            pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return taken;
}

/* Fetcher: send the ACKs the workers left (see consumer_defer_ack). */
static void
fetcher_send_acks(rt_consumer *c, int keep_deferring)
{
    pthread_mutex_lock(&c->mu);
    rt_job *list = c->acks;
    c->acks = NULL;
    if (!keep_deferring)
        c->defer_acks = 0;
    pthread_mutex_unlock(&c->mu);
    while (list) {
        rt_job *j = list;
        list = (rt_job *)j->node.next;
        settle_ack_deferred(j);
    }
}

static int
fetcher_bind(rt_consumer *c)
{
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = c->stream;
    so.Consumer = c->name;
    jsErrCode jerr = 0;
    natsStatus s = js_PullSubscribe(&c->sub, c->r->js, NULL, c->name, NULL, &so, &jerr);
    if (s != NATS_OK) {
        log_ctx lc = {.consumer = c->name, .stream = c->stream};
        jw_log(JW_LOG_WARN, &lc, "cannot bind to the durable consumer: %s (%s); retrying",
               natsStatus_GetText(s), nats_GetLastError(NULL));
        c->sub = NULL;
        return -1;
    }
    atomic_store(&c->st->bound, 1);
    log_ctx lc = {.consumer = c->name, .stream = c->stream};
    jw_log(JW_LOG_INFO, &lc, "bound to durable pull consumer");
    return 0;
}

/* Sleep up to ms, returning early when asked to stop. */
static void
fetcher_nap(rt_consumer *c, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&c->mu);
    if (!atomic_load(&c->stop))
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    pthread_mutex_unlock(&c->mu);
}

/*
 * Pull up to n messages with one pull request: no_wait with an expiry. On
 * nats-server 2.9 that request waits up to the expiry for the first message
 * when none is pending, and then returns as soon as the stream has nothing
 * more (end of stream), instead of holding the first message until the
 * whole batch has arrived as a plain waiting request does (and cnats
 * 3.4.1's simple Fetch would). So a busy consumer gets full batches and an
 * idle one sees its first message at once; a stop is noticed within the
 * expiry.
 */
static natsStatus
fetcher_pull(rt_consumer *c, natsMsgList *list, int n)
{
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = n;
    req.NoWait = true;
    req.Expires = (int64_t)FETCH_WAIT_MS * 1000000;
    return natsSubscription_FetchRequest(list, c->sub, &req);
}

static void *
fetcher_main(void *arg)
{
    pthread_setname_np(pthread_self(), "jw-fetch"); /* for top -H, perf, gdb */
    rt_consumer *c = arg;
    rt_host *r = c->r;
    log_ctx lc = {.consumer = c->name, .stream = c->stream};
    uint64_t next_info = 0;
    int backoff_ms = 100;

    while (!atomic_load(&c->stop) && !c->sub) {
        if (fetcher_bind(c) == 0)
            break;
        fetcher_nap(c, backoff_ms);
        backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
    }
    backoff_ms = 100;

    while (!atomic_load(&c->stop)) {
        uint64_t now = clock_mono_ns();
        if (now >= next_info) {
            fetcher_refresh_info(c);
            next_info = now + INFO_EVERY_NS;
        }
        fetcher_send_acks(c, 1);
        /* Wait for credits, and for Redis when claims are required. */
        pthread_mutex_lock(&c->mu);
        while (!atomic_load(&c->stop) &&
               (c->inflight >= c->max_inflight ||
                (atomic_load(&c->pause_on_redis) && !atomic_load(&r->redis_up)))) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            if (c->acks) {
                pthread_mutex_unlock(&c->mu);
                fetcher_send_acks(c, 1);
                pthread_mutex_lock(&c->mu);
                continue;
            }
            c->fetcher_waiting = 1;
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
            c->fetcher_waiting = 0;
            if (clock_mono_ns() >= next_info)
                break;
        }
        int credits = c->max_inflight - c->inflight;
        int batch = c->cc->batch > 0 ? c->cc->batch : 64;
        int may_defer = !c->cc->dedup.enabled; /* with dedup the loop ACKs after the commit */
        pthread_mutex_unlock(&c->mu);
        if (atomic_load(&c->stop))
            break;
        if (credits <= 0 || (atomic_load(&c->pause_on_redis) && !atomic_load(&r->redis_up)))
            continue;
        int n = credits < batch ? credits : batch;

        natsMsgList list = {0};
        uint64_t t0 = clock_mono_ns();
        natsStatus s = fetcher_pull(c, &list, n);
        /* A full batch: more is waiting, the next pull comes at once, and
         * the ACKs can ride with it. Otherwise workers ACK themselves (this
         * turns deferring off and sends what is held), or an idle consumer
         * would hold them for a whole pull expiry. */
        if (may_defer && s == NATS_OK && list.Count == n) {
            pthread_mutex_lock(&c->mu);
            c->defer_acks = 1;
            pthread_mutex_unlock(&c->mu);
        } else {
            fetcher_send_acks(c, 0);
        }
        if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) {
            /* Idle. cnats 3.4.1 may time out at once (nats.c #631): never
             * spin faster than every 50 ms when nothing comes. */
            uint64_t took_ms = (clock_mono_ns() - t0) / 1000000;
            if (took_ms < 50)
                fetcher_nap(c, (int)(50 - took_ms));
            continue;
        }
        if (s != NATS_OK) {
            if (!atomic_load(&c->stop))
                jw_log(JW_LOG_WARN, &lc, "fetch failed: %s (%s)", natsStatus_GetText(s),
                       nats_GetLastError(NULL));
            fetcher_nap(c, backoff_ms);
            backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
            continue;
        }
        backoff_ms = 100;
        if (list.Count <= 0) {
            natsMsgList_Destroy(&list);
            continue;
        }

        /* Take the generation once for the batch; one job per message. */
        uint64_t t_batch = clock_mono_ns();
        pthread_mutex_lock(&c->mu);
        rt_gen *g = c->g;
        const cfg_consumer *cc = c->cc;
        plugin_instance *inst = c->inst;
        rt_gen_ref(g, list.Count);
        c->inflight += list.Count;
        rt_job *cached = NULL;
        for (int i = 0; i < list.Count && c->free_jobs; i++) {
            rt_job *j = rt_job_alloc(c);
            j->node.next = (mpsc_node *)cached;
            cached = j;
        }
        pthread_mutex_unlock(&c->mu);
        atomic_fetch_add_explicit(&c->st->received, (uint_fast64_t)list.Count,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&c->st->pulls, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->st->in_flight, list.Count, memory_order_relaxed);

        rt_job *to_claim_h = NULL, *to_claim_t = NULL;
        pool_item *to_run_h = NULL, *to_run_t = NULL;
        int nrun = 0;
        for (int i = 0; i < list.Count; i++) {
            rt_job *j = cached;
            if (j)
                cached = (rt_job *)j->node.next;
            else
                j = malloc(sizeof(rt_job));
            natsMsg *m = list.Msgs[i];
            list.Msgs[i] = NULL; /* the job owns it now */
            if (!j) {
                /* Out of memory: let JetStream redeliver it later. */
                natsMsg_NakWithDelay(m, 1000, NULL);
                natsMsg_Destroy(m);
                pthread_mutex_lock(&c->mu);
                c->inflight--;
                pthread_mutex_unlock(&c->mu);
                atomic_fetch_sub(&c->st->in_flight, 1);
                rt_gen_unref(r, g, 1);
                continue;
            }
            rt_job_bind(c, j, m, g, cc, inst, t_batch);
            if (cc->dedup.enabled) {
                /* The claim needs the key now; a message without an id goes
                 * to a worker to be dead-lettered. */
                rt_job_parse(j);
                if (!j->dead_reason) {
                    j->node.next = NULL;
                    if (to_claim_t)
                        to_claim_t->node.next = &j->node;
                    else
                        to_claim_h = j;
                    to_claim_t = j;
                    continue;
                }
            }
            j->item.next = NULL;
            if (to_run_t)
                to_run_t->next = &j->item;
            else
                to_run_h = &j->item;
            to_run_t = &j->item;
            nrun++;
        }
        natsMsgList_Destroy(&list);
        if (to_claim_h)
            mpsc_push_list(&r->claim_q, &to_claim_h->node, &to_claim_t->node);
        if (to_run_h)
            settle_submit_run(c, inst, to_run_h, to_run_t, nrun);
    }
    fetcher_send_acks(c, 0);
    atomic_store(&c->exited, 1);
    nats_ReleaseThreadMemory();
    /* Wake the loop so it notices the exit promptly. */
    uv_async_send(&r->event_q.async);
    return NULL;
}

static int
consumer_max_inflight(const cfg_consumer *cc)
{
    int m = cc->max_ack_pending;
    if (m <= 0)
        m = cc->batch * 2 > cc->concurrency ? cc->batch * 2 : cc->concurrency;
    return m > 0 ? m : 1;
}

rt_consumer *
consumer_start(rt_host *r, rt_gen *g, const cfg_consumer *cc)
{
    rt_consumer *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->r = r;
    c->name = strdup(cc->name);
    c->stream = strdup(cc->stream);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    rt_gen_ref(g, 1);
    c->g = g;
    c->cc = cc;
    c->inst = rt_gen_instance(g, cc->handler);
    c->max_inflight = consumer_max_inflight(cc);
    atomic_init(&c->stop, 0);
    atomic_init(&c->exited, 0);
    atomic_init(&c->dedup, cc->dedup.enabled);
    atomic_init(&c->pause_on_redis,
                cc->dedup.enabled && cc->dedup.on_unavailable == CFG_UNAVAILABLE_PAUSE);
    pool_queue_init(&c->q, cc->concurrency, settle_run_job, c);
    c->st = stats_consumer_get(cc->name, cc->stream, cc->handler);
    atomic_store(&c->st->bound, 0);
    if (pthread_create(&c->thread, NULL, fetcher_main, c) != 0) {
        log_error("consumer %s: cannot start its fetcher thread", cc->name);
        rt_gen_unref(r, g, 1);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        free(c->name);
        free(c->stream);
        free(c);
        return NULL;
    }
    c->thread_started = 1;
    return c;
}

void
consumer_update(rt_consumer *c, rt_gen *g, const cfg_consumer *cc)
{
    rt_gen_ref(g, 1);
    pthread_mutex_lock(&c->mu);
    rt_gen *old = c->g;
    c->g = g;
    c->cc = cc;
    c->inst = rt_gen_instance(g, cc->handler);
    c->max_inflight = consumer_max_inflight(cc);
    atomic_store(&c->dedup, cc->dedup.enabled);
    atomic_store(&c->pause_on_redis,
                 cc->dedup.enabled && cc->dedup.on_unavailable == CFG_UNAVAILABLE_PAUSE);
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pool_queue_set_limit(c->r->pool, &c->q, cc->concurrency);
    stats_consumer_get(cc->name, cc->stream, cc->handler);
    rt_gen_unref(c->r, old, 1);
}

void
consumer_stop(rt_consumer *c)
{
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->stop, 1);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int
consumer_drained(rt_consumer *c)
{
    if (!atomic_load(&c->exited))
        return 0;
    pthread_mutex_lock(&c->mu);
    int n = c->inflight;
    pthread_mutex_unlock(&c->mu);
    /* A worker still returning from this consumer's last job touches its
     * pool queue (under the pool lock) after rt_job_finish() dropped inflight
     * to 0: the consumer may be freed only once the pool is done with it. */
    return n == 0 && pool_queue_busy(c->r->pool, &c->q) == 0;
}

void
consumer_free(rt_consumer *c)
{
    consumer_stop(c);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    /* Destroy, never Unsubscribe/Drain: the durable stays on the server
     * (we bound to it; cnats deletes only consumers it created itself). */
    if (c->sub)
        natsSubscription_Destroy(c->sub);
    atomic_store(&c->st->bound, 0);
    while (c->free_jobs) {
        rt_job *j = c->free_jobs;
        c->free_jobs = (rt_job *)j->node.next;
        free(j);
    }
    rt_gen_unref(c->r, c->g, 1);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->name);
    free(c->stream);
    free(c);
}
