/*
 * settle.c -- see settle.h. The delivery protocol of DESIGN.md ("Delivery
 * semantics") lives here; delivery-notes.md §2.3 has the reasoning.
 */
#include "settle_int.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "breaker_int.h"
#include "consumer_int.h"
#include "pubasync_int.h"
#include "service_int.h"
#include "dlq/dlq.h"
#include "redis/redis.h"
#include "span_int.h"
#include "obs/obs.h"

#define JOB_OF(ptr, member) ((rt_job *)((char *)(ptr)-offsetof(rt_job, member)))

/* NAK delay while Redis is unreachable: long enough not to burn deliveries. */
#define REDIS_DOWN_NAK_MS 2000

int64_t
settle_backoff_ms(const cfg_consumer *cc, uint64_t deliveries)
{
    if (!cc->nbackoff)
        return rnd_jitter(1000, 10);
    size_t i = deliveries > 0 ? (size_t)(deliveries - 1) : 0;
    if (i >= cc->nbackoff)
        i = cc->nbackoff - 1;
    return rnd_jitter(cc->backoff_ms[i], 10);
}

static void
rt_job_log_ctx(const rt_job *j, log_ctx *lc)
{
    memset(lc, 0, sizeof(*lc));
    lc->consumer = j->cc->name;
    lc->stream = j->cc->stream;
    lc->seq = j->meta.stream_seq;
    lc->message_id = j->has_id ? j->id : NULL;
    lc->trace_id = j->trace_id;
    lc->span_id = j->span_id;
}

/*
 * Perform the NATS side of the settlement. Any thread. The acknowledgement
 * is published to the message's reply subject (jsack_send: the fetcher's
 * inbox is a plain subscription, which cnats's natsMsg_Ack refuses) and
 * buffered: cnats's flusher writes the ACKs of a millisecond together.
 */
static void
nats_settle(rt_job *j)
{
    stats_consumer *st = j->c->st;
    natsConnection *nc = j->c->r->nc;
    natsStatus s = NATS_OK;
    stats_result res = STATS_RESULT_ACK;
    switch (j->settle) {
    case SETTLE_ACK:
        s = jsack_send(nc, j->msg, JSACK_ACK, 0);
        break;
    case SETTLE_DUP:
        s = jsack_send(nc, j->msg, JSACK_ACK, 0);
        res = STATS_RESULT_DUPLICATE;
        break;
    case SETTLE_NAK:
        s = jsack_send(nc, j->msg, JSACK_NAK, j->delay_ms);
        res = j->busy ? STATS_RESULT_BUSY : STATS_RESULT_RETRY;
        break;
    case SETTLE_DEAD:
        s = jsack_send(nc, j->msg, JSACK_TERM, 0);
        res = j->rejected ? STATS_RESULT_REJECT : STATS_RESULT_DEAD_LETTER;
        break;
    case SETTLE_NONE:
        return;
    }
    atomic_fetch_add_explicit(&st->results[res], 1, memory_order_relaxed);
    if (s != NATS_OK) {
        /* The server redelivers after ack_wait; nothing is lost. */
        log_ctx lc;
        rt_job_log_ctx(j, &lc);
        lc.error = natsStatus_GetText(s);
        jw_log(JW_LOG_WARN, &lc, "settling the message failed; it will be redelivered");
    }
}

static void
settle_nak(rt_job *j, int64_t delay_ms)
{
    j->settle = SETTLE_NAK;
    j->delay_ms = delay_ms;
}

static void
dead_letter(rt_job *j, const char *reason)
{
    log_ctx lc;
    rt_job_log_ctx(j, &lc);
    lc.error = reason;
    char err[256];
    dlq_source src = {
        .js = j->c->r->js,
        .msg = j->msg,
        .cc = j->cc,
        .meta = &j->meta,
        .message_id = j->has_id ? j->id : NULL,
        .timeout_ms = j->g->cfg->nats.request_timeout_ms,
    };
    if (dlq_publish(&src, reason, err, sizeof(err)) == 0) {
        FAILPOINT("after_dead_letter", j->has_id ? j->id : NULL);
        jw_log(JW_LOG_WARN, &lc, "message dead-lettered to %s after %llu deliveries",
               j->cc->dead_letter ? j->cc->dead_letter : "(none)",
               (unsigned long long)j->meta.delivered);
        j->settle = SETTLE_DEAD;
        return;
    }
    /* Never drop: try again later. */
    jw_log(JW_LOG_ERROR, &lc, "dead-letter publish failed (%s); the message will be retried", err);
    settle_nak(j, settle_backoff_ms(j->cc, j->meta.delivered));
}

static void
build_view(rt_job *j, jw_msg *v)
{
    memset(v, 0, sizeof(*v));
    v->struct_size = sizeof(*v);
    v->subject = natsMsg_GetSubject(j->msg);
    v->data = natsMsg_GetData(j->msg);
    v->len = (size_t)natsMsg_GetDataLength(j->msg);
    v->stream = j->cc->stream;
    v->consumer = j->cc->name;
    v->stream_seq = j->meta.stream_seq;
    v->deliveries = j->meta.delivered;
    v->timestamp_ns = j->meta.timestamp_ns;
    v->message_id = j->has_id ? j->id : NULL;
    v->dedup_key = j->claimed ? j->key : NULL;
    v->claim_token = j->claimed ? j->token : NULL;
    v->trace_id = j->trace_id;
    v->span_id = j->span_id;
    v->host_private = j;
}

/*
 * Before the handler, on the claim key KEYS[1] and the start journal
 * KEYS[2]: ours or free -> ours with a fresh lease (ARGV[2] ms), and when
 * ARGV[4] is "1" count this handler start in the journal (TTL ARGV[3] ms)
 * and return the count, else 0; done elsewhere -> -1; held elsewhere -> -2.
 */
static const char script_prestart[] = "local v = redis.call('GET', KEYS[1])\n"
                                      "if v and v ~= 'P|' .. ARGV[1] then\n"
                                      "  if string.sub(v, 1, 2) == 'D|' then return -1 end\n"
                                      "  return -2\n"
                                      "end\n"
                                      "redis.call('SET', KEYS[1], 'P|' .. ARGV[1], 'PX', ARGV[2])\n"
                                      "if ARGV[4] ~= '1' then return 0 end\n"
                                      "local n = redis.call('INCR', KEYS[2])\n"
                                      "redis.call('PEXPIRE', KEYS[2], ARGV[3])\n"
                                      "return n\n";

/*
 * Worker thread, before the handler of a claimed message. Two checks that
 * need Redis, done in one script and only when needed:
 *
 *  - The claim was taken when the message was fetched; if the job then
 *    waited in the queue (or the process was stopped) for half the lease or
 *    more, the lease may have run out and the server may have redelivered
 *    the message to another process, which holds or has finished it.
 *    Calling the handler then would run it without a claim. So an old claim
 *    is renewed (or taken again if nobody holds it) first.
 *  - A redelivery's count also grows when the process died with the
 *    message merely fetched or queued: after a crash loop caused by one
 *    poison message, its batch-mates are seen with deliveries >
 *    max_deliver without the handler ever having seen them. So handler
 *    starts on redeliveries are journaled (<key>|starts), and "the host died
 *    on the last try" is concluded only when the handler was started on
 *    max_deliver deliveries (the first delivery assumed started).
 *
 * Returns 1 to call the handler; 0 when not, with j->settle set: done
 * elsewhere -> ACK as a duplicate; held elsewhere -> leave the delivery to
 * its holder; Redis unreachable (known, or the script failed) -> NAK via
 * release; crash loop -> dead letter.
 */
static int
claim_check(rt_job *j)
{
    const cfg_consumer *cc = j->cc;
    int64_t lease = cc->dedup.lease_ms;
    int count = cc->max_deliver > 0 && j->meta.delivered >= 2;
    int old = (int64_t)((clock_mono_ns() - j->t_recv_ns) / 1000000) >= lease / 2;
    if (!j->claimed)
        return 1;
    if (cc->dedup.on_unavailable == CFG_UNAVAILABLE_PAUSE && !atomic_load(&j->c->r->redis_up)) {
        /* Redis went away after the claim (DESIGN.md delivery 7): NAK what
         * is in flight instead of running handlers whose commit, and often
         * their own effects, need it. The release fails; the lease runs out. */
        atomic_fetch_add_explicit(&j->c->st->dedup[STATS_DEDUP_ERROR], 1, memory_order_relaxed);
        settle_nak(j, rnd_jitter(REDIS_DOWN_NAK_MS, 10));
        return 0;
    }
    if (!old && !count)
        return 1;
    char ms[32], ttl[32], jkey[sizeof(j->key) + 8];
    snprintf(ms, sizeof(ms), "%lld", (long long)lease);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)cc->dedup.ttl_ms);
    snprintf(jkey, sizeof(jkey), "%s|starts", j->key);
    const char *keys[] = {j->key, jkey};
    const char *args[] = {j->token, ms, ttl, count ? "1" : "0"};
    jw_kv_reply *rep = NULL;
    int rc = kv_eval(script_prestart, 2, keys, 4, args, &rep);
    long long v = rc == JW_OK && rep && rep->type == JW_KV_INT ? rep->integer : -3;
    kv_reply_free(rep);
    stats_consumer *st = j->c->st;
    log_ctx lc;
    rt_job_log_ctx(j, &lc);
    if (v >= 0) {
        if (!count || j->meta.delivered <= (uint64_t)cc->max_deliver || v < cc->max_deliver)
            return 1;
        snprintf(j->reason, sizeof(j->reason),
                 "max deliveries exceeded: delivery %llu of max_deliver %d, the handler started "
                 "%lld times without a verdict",
                 (unsigned long long)j->meta.delivered, cc->max_deliver, v);
        dead_letter(j, j->reason);
        return 0;
    }
    if (v == -3) {
        atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_ERROR], 1, memory_order_relaxed);
        settle_nak(j, rnd_jitter(REDIS_DOWN_NAK_MS, 10));
        return 0;
    }
    atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_LEASE_LOST], 1, memory_order_relaxed);
    jw_log(JW_LOG_WARN, &lc, "claim lease ran out before the handler started; %s",
           v == -1 ? "done elsewhere, acked as a duplicate" : "held elsewhere, left to its holder");
    /* Not ours any more: nothing to release. */
    j->claimed = 0;
    j->settle = v == -1 ? SETTLE_DUP : SETTLE_NONE;
    return 0;
}

static void
observe_age(rt_job *j)
{
    if (j->meta.timestamp_ns > 0) {
        int64_t age = clock_real_ns() - j->meta.timestamp_ns;
        stats_hist_observe_us(&j->c->st->age_seconds, age > 0 ? (uint64_t)age / 1000 : 0);
    }
}

/* Worker thread, before any handler: 1 when j goes to its handler; 0 when
 * it is decided without (dead letter, or claim_check's outcome). */
static int
pre_handle(rt_job *j)
{
    observe_age(j);
    if (j->dead_reason) {
        dead_letter(j, j->dead_reason);
        return 0;
    }
    return claim_check(j);
}

/* Worker thread: turn the handler's result into the job's settlement (a
 * dead letter is published here). */
static void
apply_verdict(rt_job *j, jw_result *res)
{
    res->reason[sizeof(res->reason) - 1] = '\0';
    uint64_t dl = j->meta.delivered;
    int last = j->cc->max_deliver > 0 && dl >= (uint64_t)j->cc->max_deliver;
    /* The circuit breaker hears every verdict (breaker_int.h); a RETRY
     * that met an outage is NAKed even on the last delivery. */
    int outage = 0;
    if (res->verdict == JW_RETRY)
        outage = breaker_retry(j->c->ctl, j->meta.stream_seq);
    else
        breaker_answered(j->c->ctl, j->meta.stream_seq);
    switch (res->verdict) {
    case JW_ACK:
        j->settle = SETTLE_ACK;
        break;
    case JW_RETRY:
        if (last && !outage) {
            snprintf(j->reason, sizeof(j->reason),
                     "retries exhausted after %llu deliveries: %.180s", (unsigned long long)dl,
                     res->reason[0] ? res->reason : "handler asked to retry");
            dead_letter(j, j->reason);
        } else {
            settle_nak(j, res->delay_ms >= 0 ? res->delay_ms : settle_backoff_ms(j->cc, dl));
            log_ctx lc;
            rt_job_log_ctx(j, &lc);
            lc.error = res->reason[0] ? res->reason : NULL;
            jw_log(JW_LOG_INFO, &lc, "handler asked to retry in %lld ms (delivery %llu)",
                   (long long)j->delay_ms, (unsigned long long)dl);
        }
        break;
    case JW_REJECT:
    default:
        j->rejected = res->verdict == JW_REJECT;
        snprintf(j->reason, sizeof(j->reason), "%s",
                 res->verdict == JW_REJECT ? (res->reason[0] ? res->reason : "rejected by handler")
                                           : "handler returned an invalid verdict");
        dead_letter(j, j->reason);
        break;
    }
}

/* Worker thread: call the handler (or dead-letter) and decide. */
static void
run_message(rt_job *j)
{
    uint64_t t0 = clock_mono_ns();
    int verdict = -1;
    if (pre_handle(j)) {
        jw_msg v;
        build_view(j, &v);
        jw_result res = {.verdict = JW_ACK, .delay_ms = -1};
        res.reason[0] = '\0';
        atomic_store_explicit(&j->in_handler, 1, memory_order_relaxed);
        j->inst->mod->desc->handle(j->inst->ctx, &v, &res);
        atomic_store_explicit(&j->in_handler, 0, memory_order_relaxed);
        verdict = (int)res.verdict;
        stats_hist_observe_us(&j->c->st->handler_seconds, (clock_mono_ns() - t0) / 1000);
        FAILPOINT("after_handle", j->has_id ? j->id : NULL);
        apply_verdict(j, &res);
    }
    span_finish(j, t0, verdict);
}

void
settle_after_pubs(rt_job *j)
{
    if (j->kind != RT_JOB_MESSAGE || !atomic_load_explicit(&j->pub_failed, memory_order_relaxed) ||
        j->settle != SETTLE_ACK)
        return;
    /* Not every publish is durable: never ACK. The redelivery re-runs the
     * handler, whose publishes carry the same message ids, so the stream's
     * duplicate window drops the ones that did land. */
    settle_nak(j, settle_backoff_ms(j->cc, j->meta.delivered));
    snprintf(j->reason, sizeof(j->reason), "a publish_async got no PubAck");
    log_ctx lc;
    rt_job_log_ctx(j, &lc);
    lc.error = j->reason;
    jw_log(JW_LOG_INFO, &lc, "retry in %lld ms (delivery %llu): not every publish is durable",
           (long long)j->delay_ms, (unsigned long long)j->meta.delivered);
}

void
settle_pubs_done(rt_job *j)
{
    JW_ASSERT_THREAD(JW_ROLE_CNATS);
    settle_after_pubs(j);
    mpsc_push(&rt_job_host(j)->done_q, &j->node);
}

/* Worker: what follows the handler for a job whose publishes are all
 * answered (holds reached 0 here). */
static void
settle_after_handler(rt_job *j)
{
    settle_after_pubs(j);
    if (j->claimed) {
        /* Commit or release through the loop, which owns Redis. */
        mpsc_push(&j->c->r->done_q, &j->node);
        return;
    }
    nats_settle(j);
    rt_job_finish(j);
}

/*
 * Worker thread: the jobs chained from head (batch_next) through the
 * plugin's handle_batch in one call. Each job keeps its own claim check,
 * verdict, dead letter and publishes; the claimed ones whose publishes are
 * all answered go to the loop together (one push, one wake-up), where their
 * commits leave in one round trip. Returns 0 when out of memory (nothing
 * done: the caller falls back to handle() per message).
 */
static int
run_batch(rt_job *head)
{
    size_t n = 0;
    for (rt_job *j = head; j; j = j->batch_next)
        n++;
    size_t each = sizeof(rt_job *) * 2 + sizeof(jw_msg) + sizeof(jw_msg *) + sizeof(jw_result);
    char *mem = malloc(n * each);
    if (!mem)
        return 0;
    rt_job **all = (rt_job **)mem;
    rt_job **jobs = all + n;
    jw_result *results = (jw_result *)(jobs + n);
    jw_msg *views = (jw_msg *)(results + n);
    const jw_msg **ptrs = (const jw_msg **)(views + n);
    size_t k = 0, m = 0;
    for (rt_job *j = head; j; j = j->batch_next)
        all[k++] = j;
    uint64_t t0 = clock_mono_ns();
    for (k = 0; k < n; k++) {
        rt_job *j = all[k];
        j->batch_next = NULL;
        rt_job_parse(j);
        if (!pre_handle(j)) {
            span_finish(j, t0, -1);
            continue;
        }
        jobs[m] = j;
        build_view(j, &views[m]);
        ptrs[m] = &views[m];
        results[m] = (jw_result){.verdict = JW_ACK, .delay_ms = -1};
        results[m].reason[0] = '\0';
        atomic_store_explicit(&j->in_handler, 1, memory_order_relaxed);
        m++;
    }
    if (m > 0) {
        plugin_instance *inst = jobs[0]->inst;
        uint64_t th = clock_mono_ns();
        inst->mod->handle_batch(inst->ctx, ptrs, results, m);
        uint64_t us = (clock_mono_ns() - th) / 1000;
        stats_consumer *st = jobs[0]->c->st;
        atomic_fetch_add_explicit(&st->batches, 1, memory_order_relaxed);
        FAILPOINT("after_batch", ptrs[0]->message_id);
        for (k = 0; k < m; k++) {
            atomic_store_explicit(&jobs[k]->in_handler, 0, memory_order_relaxed);
            /* One observation per message (the histogram's count stays
             * "messages handled"), each the whole call's duration. */
            stats_hist_observe_us(&st->handler_seconds, us);
            FAILPOINT("after_handle", jobs[k]->has_id ? jobs[k]->id : NULL);
            apply_verdict(jobs[k], &results[k]);
            span_finish(jobs[k], t0, (int)results[k].verdict);
        }
    }
    rt_job *dh = NULL, *dt = NULL;
    rt_host *r = head->c->r;
    for (k = 0; k < n; k++) {
        rt_job *j = all[k];
        if (!pubasync_release(j))
            continue; /* its last PubAck settles it */
        settle_after_pubs(j);
        if (j->claimed) {
            j->node.next = NULL;
            if (dt)
                dt->node.next = &j->node;
            else
                dh = j;
            dt = j;
            continue;
        }
        nats_settle(j);
        rt_job_finish(j);
    }
    if (dh)
        mpsc_push_list(&r->done_q, &dh->node, &dt->node);
    free(mem);
    return 1;
}

void
settle_run_job(pool_queue *q, pool_item *item)
{
    JW_ASSERT_THREAD(JW_ROLE_WORKER);
    (void)q;
    rt_job *j = JOB_OF(item, item);
    if (j->inst->mod->handle_batch && run_batch(j))
        return;
    /* handle() per message: also a batch run_batch had no memory for. */
    while (j) {
        rt_job *next = j->batch_next;
        j->batch_next = NULL;
        rt_job_parse(j);
        run_message(j);
        /* Publishes still without their PubAck: the last one settles it. */
        if (pubasync_release(j))
            settle_after_handler(j);
        j = next;
    }
}

void
settle_submit_run(rt_consumer *c, plugin_instance *inst, pool_item *first, pool_item *last, int n)
{
    if (n > 1 && inst->mod->handle_batch) {
        /* One pool item, one wake-up, one handle_batch for the fetch. */
        for (pool_item *it = first; it != last; it = it->next)
            JOB_OF(it, item)->batch_next = JOB_OF(it->next, item);
        JOB_OF(last, item)->batch_next = NULL;
        first->next = NULL;
        pool_submit(c->r->pool, &c->q, first, first, 1);
        return;
    }
    pool_submit(c->r->pool, &c->q, first, last, n);
}

/* Claimed jobs handed to the pool at most this many at a time, so that the
 * workers start on a batch while the rest of its claims are read. */
#define RUN_GATHER_MAX 16

/* Hand the gathered CLAIMED jobs to the pool: as one handle_batch item
 * (chained by batch_next) or as run_n items. Loop. */
static void
settle_submit_gathered(rt_host *r)
{
    if (r->run_n == 0)
        return;
    if (r->run_batch)
        pool_submit(r->pool, &r->run_c->q, &r->run_head->item, &r->run_head->item, 1);
    else
        pool_submit(r->pool, &r->run_c->q, &r->run_head->item, &r->run_tail->item, r->run_n);
    r->run_head = r->run_tail = NULL;
    r->run_c = NULL;
    r->run_n = 0;
    r->run_batch = 0;
}

static void
on_run_check(uv_check_t *h)
{
    uv_check_stop(h);
    settle_submit_gathered(h->data);
}

/* Queue a CLAIMED job for the pool; sent once RUN_GATHER_MAX are gathered,
 * when another consumer's job comes (one pool queue per submit), or at the
 * end of this loop iteration (right after its I/O callbacks). Loop. */
static void
run_soon(rt_job *j)
{
    rt_host *r = j->c->r;
    /* A consumer whose handler has handle_batch gathers up to its `batch`
     * (the claims of one fetch) into one item, and only jobs of one
     * instance (a reload may swap it between two fetches). */
    int batch = j->inst->mod->handle_batch != NULL;
    if (r->run_n > 0 &&
        (r->run_c != j->c || r->run_batch != batch || (batch && r->run_head->inst != j->inst)))
        settle_submit_gathered(r);
    j->item.next = NULL;
    j->batch_next = NULL;
    if (!r->run_tail)
        r->run_head = j;
    else if (batch)
        r->run_tail->batch_next = j;
    else
        r->run_tail->item.next = &j->item;
    r->run_tail = j;
    r->run_c = j->c;
    r->run_batch = batch;
    int max = batch ? (j->cc->batch > 0 ? j->cc->batch : 64) : RUN_GATHER_MAX;
    if (r->run_n++ == 0)
        uv_check_start(&r->run_check, on_run_check);
    if (r->run_n >= max)
        settle_submit_gathered(r);
}

void
settle_init(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    uv_check_init(r->loop, &r->run_check);
    r->run_check.data = r;
}

void
settle_close(rt_host *r, uv_close_cb cb)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    settle_submit_gathered(r);
    uv_close((uv_handle_t *)&r->run_check, cb);
}

static void
claim_cb(void *ud, rds_result res, int64_t aux)
{
    rt_job *j = ud;
    stats_consumer *st = j->c->st;
    switch (res) {
    case RDS_CLAIMED:
        j->claimed = 1;
        atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_CLAIMED], 1, memory_order_relaxed);
        FAILPOINT("after_claim", j->has_id ? j->id : NULL);
        if (j->c->r->draining || j->c->removed) {
            /* Claimed after the drain began, or after a reload removed the
             * consumer: give it back for redelivery. */
            settle_abandon(j);
            return;
        }
        /* deliveries > max_deliver: decided by claim_check() on the worker. */
        run_soon(j);
        return;
    case RDS_DONE:
        atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_DUPLICATE], 1, memory_order_relaxed);
        j->settle = SETTLE_DUP;
        break;
    case RDS_BUSY:
        atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_BUSY], 1, memory_order_relaxed);
        j->busy = 1;
        /* Someone holds the claim, or held it and crashed: come back when
         * the lease has run out. */
        settle_nak(j, rnd_jitter((aux > 100 ? aux : 100) + 50, 10));
        break;
    default:
        atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_ERROR], 1, memory_order_relaxed);
        settle_nak(j, rnd_jitter(REDIS_DOWN_NAK_MS, 10));
        break;
    }
    nats_settle(j);
    rt_job_finish(j);
}

void
settle_claim_drain(mpsc *q, mpsc_node *list)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rt_host *r = q->data;
    while (list) {
        rt_job *j = JOB_OF(list, node);
        list = list->next;
        if (!r->rds || !rds_connected(r->rds)) {
            stats_consumer *st = j->c->st;
            if (j->cc->dedup.on_unavailable == CFG_UNAVAILABLE_PROCESS) {
                atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_UNCLAIMED], 1,
                                          memory_order_relaxed);
                log_ctx lc;
                rt_job_log_ctx(j, &lc);
                jw_log(JW_LOG_WARN, &lc, "redis unavailable: processing without a claim");
                j->unclaimed = 1;
                pool_submit(r->pool, &j->c->q, &j->item, &j->item, 1);
            } else {
                atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_ERROR], 1, memory_order_relaxed);
                settle_nak(j, rnd_jitter(REDIS_DOWN_NAK_MS, 10));
                nats_settle(j);
                rt_job_finish(j);
            }
            continue;
        }
        rds_claim(r->rds, j->key, j->token, j->cc->dedup.lease_ms, claim_cb, j);
    }
}

static void
commit_cb(void *ud, rds_result res, int64_t aux)
{
    (void)aux;
    rt_job *j = ud;
    stats_consumer *st = j->c->st;
    if (res == RDS_ERROR) {
        /* Outcome unknown. Keep the message in flight and send the commit
         * again once Redis is back; acking now could lose the done marker,
         * nacking would re-run a handler that succeeded. */
        atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_ERROR], 1, memory_order_relaxed);
        rt_host *r = j->c->r;
        j->node.next = r->commit_retry ? &r->commit_retry->node : NULL;
        r->commit_retry = j;
        return;
    }
    if (res == RDS_LEASE_LOST) {
        atomic_fetch_add_explicit(&st->dedup[STATS_DEDUP_LEASE_LOST], 1, memory_order_relaxed);
        log_ctx lc;
        rt_job_log_ctx(j, &lc);
        jw_log(JW_LOG_WARN, &lc,
               "claim lease lost before commit (handler slower than dedup.lease?)");
    }
    FAILPOINT("after_commit", j->has_id ? j->id : NULL);
    nats_settle(j);
    rt_job_finish(j);
}

static void
release_cb(void *ud, rds_result res, int64_t aux)
{
    (void)res;
    (void)aux;
    rt_job *j = ud;
    /* Whatever the release did, the NAK is right: an unreleased claim runs
     * out with its lease and the redelivery then claims it. */
    nats_settle(j);
    rt_job_finish(j);
}

static void
send_commit(rt_host *r, rt_job *j)
{
    const char *mark = j->settle == SETTLE_DEAD ? "dlq" : "ok";
    rds_commit(r->rds, j->key, j->token, j->cc->dedup.ttl_ms, mark, commit_cb, j);
}

void
settle_done_drain(mpsc *q, mpsc_node *list)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rt_host *r = q->data;
    while (list) {
        rt_job *j = JOB_OF(list, node);
        list = list->next;
        if (j->kind == RT_JOB_REQUEST) {
            /* Its publishes are answered: the held reply goes out. */
            service_request_done(j);
            continue;
        }
        if (!j->claimed) {
            /* Settled by its last PubAck, dedup off: nothing to commit. */
            nats_settle(j);
            rt_job_finish(j);
            continue;
        }
        switch (j->settle) {
        case SETTLE_ACK:
        case SETTLE_DEAD:
            send_commit(r, j);
            break;
        default:
            rds_release(r->rds, j->key, j->token, release_cb, j);
            break;
        }
    }
}

void
settle_redis_up(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rt_job *list = r->commit_retry;
    r->commit_retry = NULL;
    int n = 0;
    for (rt_job *j = list; j; j = j->node.next ? JOB_OF(j->node.next, node) : NULL)
        n++;
    /* The fault tests read this line: held commits must be re-sent. */
    if (n > 0)
        log_info("redis: re-sending %d held commits", n);
    while (list) {
        rt_job *j = list;
        list = (rt_job *)(j->node.next ? JOB_OF(j->node.next, node) : NULL);
        send_commit(r, j);
    }
}

int
settle_give_back_waiting(rt_host *r, rt_consumer *c)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    /* Gathered jobs would escape the take below and start later. */
    settle_submit_gathered(r);
    pool_item *it = pool_queue_take_waiting(r->pool, &c->q);
    int n = 0;
    while (it) {
        pool_item *next = it->next;
        for (rt_job *j = JOB_OF(it, item); j;) {
            rt_job *bnext = j->batch_next; /* a handle_batch item's other jobs */
            j->batch_next = NULL;
            settle_abandon(j);
            j = bnext;
            n++;
        }
        it = next;
    }
    return n;
}

void
settle_abandon(rt_job *j)
{
    settle_nak(j, 0);
    if (j->claimed) {
        mpsc_push(&j->c->r->done_q, &j->node);
        return;
    }
    nats_settle(j);
    rt_job_finish(j);
}

/*
 * The W3C rules live in trace_parse (unit-tested): a bad traceparent (wrong
 * length for its version, uppercase or non-hex, bad flags, zero ids) starts
 * a new trace instead of continuing a broken one.
 */
void
settle_trace_extract(rt_job *j)
{
    /* Touches only j (and the thread-local rnd): whoever owns the job. */
    JW_ASSERT_THREAD(JW_ROLE_FETCHER | JW_ROLE_WORKER | JW_ROLE_CNATS);
    const char *tp = NULL;
    trace_ctx tc;
    j->parent_span_id[0] = '\0';
    if (natsMsgHeader_Get(j->msg, "traceparent", &tp) == NATS_OK &&
        trace_parse(tp, NULL, &tc) == 0) {
        trace_hex(tc.trace_id, TRACE_ID_LEN, j->trace_id);
        trace_hex(tc.span_id, TRACE_SPAN_LEN, j->parent_span_id);
    } else {
        rnd_hex(j->trace_id, 16);
    }
    rnd_hex(j->span_id, 8);
}
