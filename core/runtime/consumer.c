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
#include "breaker_int.h"
#include "gen_int.h"
#include "pull_int.h"
#include "settle_int.h"

/* The fetcher waits at most this long for a first message, so a stop
 * request is noticed within it (and the inbox drains within it at exit). */
#define FETCH_WAIT_MS 500
/* At exit, how long the inbox may take to drain (the server confirming the
 * unsubscribe); only a server that does not answer makes it last. */
#define FETCH_EXIT_WAIT_MS 3000
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
    if (c->fetcher_waiting && c->inflight <= c->wake_inflight)
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
    char *id_at = p;
    p = key_put(p, end, j->id);
    *p = '\0';
    /* A replay's key must be one no producer can publish: the id shown as
     * "X~DLQ:5" is keyed "X DLQ:5", and no valid id has a space. */
    if (j->replay_at > 0 && id_at + j->replay_at - 1 < p)
        id_at[j->replay_at - 1] = MSGID_KEY_REPLAY_SEP;
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
    /* deliveries spent on a downstream outage do not count (breaker_int.h) */
    uint64_t outage = breaker_discount(j->c->ctl, j->meta.stream_seq);
    j->meta.delivered = j->meta.delivered > outage ? j->meta.delivered - outage : 1;
    const cfg_dedup *d = &cc->dedup;
    int header_first = !d->id_from || strcmp(d->id_from, "header") == 0;
    const char *field = d->id_field ? d->id_field : "message_id";
    if (!header_first)
        field = d->id_from;
    char why[JW_REASON_MAX];
    if (msgid_extract(m, header_first, field, j->id, sizeof(j->id), why, sizeof(why)) == NULL) {
        j->has_id = 1;
        /* where msgid_extract put the replay marker (the id itself may hold
         * a '~' too: count from the end) */
        const char *rp = NULL;
        if (strchr(j->id, MSGID_REPLAY_SEP) &&
            natsMsgHeader_Get(m, "Jetway-Replay", &rp) == NATS_OK && rp)
            j->replay_at = (int)(strlen(j->id) - strlen(rp));
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

/* JetStream liveness for /readyz (stats.js_fail_since_ms): any fetcher's
 * success ends a failure streak; the first failure starts one. */
static void
js_live_ok(void)
{
    JW_ASSERT_THREAD(JW_ROLE_FETCHER);
    if (atomic_load(&stats.js_fail_since_ms) != 0)
        atomic_store(&stats.js_fail_since_ms, 0);
}

static void
js_live_fail(const char *what, natsStatus s)
{
    JW_ASSERT_THREAD(JW_ROLE_FETCHER);
    int_fast64_t zero = 0;
    int_fast64_t now = (int_fast64_t)(clock_mono_ns() / 1000000);
    atomic_compare_exchange_strong(&stats.js_fail_since_ms, &zero, now > 0 ? now : 1);
    stats_lock();
    const char *detail = nats_GetLastError(NULL); /* this thread's */
    snprintf(stats.js_error, sizeof(stats.js_error), "%s: %s%s%.100s%s", what,
             natsStatus_GetText(s), detail && *detail ? " (" : "", detail ? detail : "",
             detail && *detail ? ")" : "");
    stats_unlock();
}

static void
fetcher_refresh_info(rt_consumer *c)
{
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, c->r->js, c->stream, c->name, NULL, &jerr);
    if (s == NATS_OK)
        js_live_ok();
    else if (!atomic_load(&c->stop))
        js_live_fail("consumer info", s);
    if (s == NATS_OK && ci) {
        atomic_store(&c->st->server_pending, (int_fast64_t)ci->NumPending);
        atomic_store(&c->st->server_ack_pending, (int_fast64_t)ci->NumAckPending);
        atomic_store(&c->st->server_redelivered, (int_fast64_t)ci->NumRedelivered);
        jsConsumerInfo_Destroy(ci);
    }
}

/*
 * The fetcher thread, in the order of one round (fetcher_main): bind once,
 * then refresh the server's numbers when due, wait for credits, keep a pull
 * request outstanding within them (pull_int.h), take what has arrived and
 * dispatch it as one batch. Each step below says why it exists; only
 * fetcher_main loops.
 */

/*
 * What the fetcher carries from one round to the next. Owned by the fetcher
 * thread alone (on its stack); nothing here is shared.
 */
typedef struct fetcher {
    rt_consumer *c;
    log_ctx lc;
    rt_pull pull;   /* the pull client; pull.sub is NULL until bound */
    natsMsg **msgs; /* one batch's messages (msgs_cap long), handed to jobs */
    int msgs_cap;
    uint64_t next_info; /* clock_mono_ns() when the server numbers are due */
    int backoff_ms;     /* the next nap after a failed bind or pull */
    int lost;           /* a lost pull was logged; quiet until the server is heard */
    int silent;         /* silences in a row (pull_int.h: two missed heartbeats each) */
} fetcher;

#define FETCHER_BACKOFF_MIN_MS 100
#define FETCHER_BACKOFF_MAX_MS 2000

/* Double the nap after each failure in a row, up to a cap, so a server that
 * is down is not hammered and one that comes back is noticed within 2 s. */
static void
fetcher_backoff_grow(fetcher *f)
{
    f->backoff_ms =
        f->backoff_ms < FETCHER_BACKOFF_MAX_MS ? f->backoff_ms * 2 : FETCHER_BACKOFF_MAX_MS;
}

/*
 * One attempt to bind to the durable: it must exist and be a pull consumer
 * (provisioning created it beforehand; a bind never creates or deletes it,
 * so a missing durable or a JetStream not yet up is a condition to wait
 * out, not an error to exit on), then the pull client's inbox.
 */
static int
fetcher_bind_once(fetcher *f)
{
    rt_consumer *c = f->c;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, c->r->js, c->stream, c->name, NULL, &jerr);
    int push = s == NATS_OK && ci && ci->Config && ci->Config->DeliverSubject &&
               ci->Config->DeliverSubject[0];
    if (ci)
        jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK || push) {
        if (push)
            jw_log(JW_LOG_WARN, &f->lc,
                   "cannot bind to the durable consumer: it is a push consumer; retrying");
        else
            jw_log(JW_LOG_WARN, &f->lc, "cannot bind to the durable consumer: %s (%s); retrying",
                   natsStatus_GetText(s), nats_GetLastError(NULL));
        return -1;
    }
    pthread_mutex_lock(&c->mu);
    const char *pfx = c->g->cfg->nats.inbox_prefix;
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s", pfx ? pfx : "_INBOX");
    pthread_mutex_unlock(&c->mu);
    if (rt_pull_open(&f->pull, c->r->nc, prefix, c->stream, c->name) != 0) {
        jw_log(JW_LOG_WARN, &f->lc, "cannot subscribe to the pull inbox: %s; retrying",
               nats_GetLastError(NULL));
        return -1;
    }
    atomic_store(&c->st->bound, 1);
    jw_log(JW_LOG_INFO, &f->lc, "bound to durable pull consumer");
    return 0;
}

/* Sleep up to ms, returning early when asked to stop. */
static void
fetcher_nap(rt_consumer *c, int ms)
{
    struct timespec ts;
    clock_deadline_ms(&ts, ms);
    pthread_mutex_lock(&c->mu);
    if (!atomic_load(&c->stop))
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    pthread_mutex_unlock(&c->mu);
}

/*
 * Bind, retrying with backoff until bound or stopped. The consumer
 * exists in the topology even while its durable cannot be reached, so that
 * a reload or a drain can still remove it; a stop ends the retries.
 */
static void
fetcher_bind(fetcher *f)
{
    rt_consumer *c = f->c;
    while (!atomic_load(&c->stop) && !f->pull.sub) {
        if (fetcher_bind_once(f) == 0)
            break;
        fetcher_nap(c, f->backoff_ms);
        fetcher_backoff_grow(f);
    }
    f->backoff_ms = FETCHER_BACKOFF_MIN_MS;
}

/*
 * Refresh the server-side numbers for /metrics when due. The
 * fetcher does it because it already talks to JetStream and may block; the
 * loop must not, and a worker's time belongs to handlers.
 */
static void
fetcher_refresh_due(fetcher *f)
{
    uint64_t now = clock_mono_ns();
    if (now >= f->next_info) {
        fetcher_refresh_info(f->c);
        f->next_info = now + INFO_EVERY_NS;
    }
}

/* A consumer that needs claims pauses while Redis is down (on_unavailable:
 * pause): pulling then would only fill memory with messages it cannot
 * claim, while JetStream keeps them safely. Every dedup consumer pauses
 * while the server is refused (an evicting policy): processing without
 * claims there is exactly the silent forgetting the refusal prevents.
 * Paused, no new pull request goes out; one already at the server cannot be
 * recalled and may still bring what it asked for (a batch at most:
 * fetcher_top_up), which the fetcher takes and hands on as usual
 * (fetcher_pull_busy), so that it is handled and settled rather than left
 * on the inbox, delivered and ack-pending, until the pause ends. */
static int
fetcher_paused(rt_consumer *c)
{
    if (ctl_holds(c->ctl)) /* the operator's pause, or the circuit breaker */
        return 1;
    if (atomic_load(&c->dedup) &&
        (atomic_load(&c->r->redis_refused) || !atomic_load(&c->r->redis_settled)))
        return 1;
    return atomic_load(&c->pause_on_redis) && !atomic_load(&c->r->redis_up);
}

/* Messages (and statuses) queued on the inbox, not yet taken. */
static int
fetcher_queued(fetcher *f)
{
    int msgs = 0, bytes = 0;
    if (natsSubscription_GetPending(f->pull.sub, &msgs, &bytes) != NATS_OK)
        return 0;
    return msgs;
}

/* A request is at the server, or what one brought is on the inbox: even
 * paused, the fetcher takes it (fetcher_paused). */
static int
fetcher_pull_busy(fetcher *f)
{
    return f->pull.outstanding > 0 || fetcher_queued(f) > 0;
}

/*
 * Wait until there are credits (and Redis, when claims need it), or, paused,
 * until a request still out may bring something to take. Returns the free
 * credits (> 0); in *full the most one pull request may ask for (the batch,
 * within max in flight; see fetcher_top_up); in *held whether fetching is
 * paused, so that no new request may go out. 0 to start the round over
 * (the server numbers fell due: the wait wakes every 200 ms so that neither
 * a stop nor the refresh waits on a handler), or -1 when stopping.
 *
 * When nothing is asked for and nothing has arrived (a backlog: every
 * request was filled at once), the wait lasts until a full request's worth
 * of credits is free (or half of them, when a request may ask for more than
 * half): rt_pull_top_up refills at half a request, and one request then
 * asks for many messages, where waking per returned credit would pull them
 * one by one. The handlers still hold the rest meanwhile. rt_job_finish
 * wakes this wait only once inflight is down to c->wake_inflight.
 */
static int
fetcher_wait_credit(fetcher *f, int *full, int *held)
{
    rt_consumer *c = f->c;
    int idle_pull = f->pull.outstanding == 0 && fetcher_queued(f) == 0;
    pthread_mutex_lock(&c->mu);
    int paused = 0;
    while (!atomic_load(&c->stop)) {
        int batch = c->cc->batch > 0 ? c->cc->batch : 64;
        *full = batch < c->max_inflight ? batch : c->max_inflight;
        int half = c->max_inflight / 2 > 0 ? c->max_inflight / 2 : 1;
        paused = fetcher_paused(c);
        int need = paused || !idle_pull ? 1 : (*full < half ? *full : half);
        if (c->max_inflight - c->inflight >= need && (!paused || fetcher_pull_busy(f)))
            break;
        struct timespec ts;
        clock_deadline_ms(&ts, 200);
        c->wake_inflight = c->max_inflight - need;
        c->fetcher_waiting = 1;
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        c->fetcher_waiting = 0;
        if (clock_mono_ns() >= f->next_info)
            break;
    }
    int credits = c->max_inflight - c->inflight;
    pthread_mutex_unlock(&c->mu);
    *held = paused;
    if (atomic_load(&c->stop))
        return -1;
    if (credits <= 0 || (paused && !fetcher_pull_busy(f)))
        return 0;
    return credits;
}

/*
 * Keep a pull request outstanding within the credits, and within `full`
 * (the batch): a pause cannot recall a request already at the server, so
 * what one may ask for is what a pause may still let through (at most a
 * batch, as README promises). A failed publish (the connection is closed;
 * while it reconnects cnats buffers) naps with a growing backoff.
 */
static void
fetcher_top_up(fetcher *f, int credits, int full)
{
    rt_consumer *c = f->c;
    int asked = rt_pull_top_up(&f->pull, credits, full);
    if (asked > 0) {
        atomic_fetch_add_explicit(&c->st->pulls, 1, memory_order_relaxed);
        return;
    }
    if (asked < 0 && !atomic_load(&c->stop)) {
        jw_log(JW_LOG_WARN, &f->lc, "pull request failed: %s", nats_GetLastError(NULL));
        js_live_fail("pull request", NATS_CONNECTION_CLOSED);
        fetcher_nap(c, f->backoff_ms);
        fetcher_backoff_grow(f);
    }
}

/* Give a message back to JetStream at once (never handled: it may go to
 * another instance right away instead of waiting out ack_wait). */
static void
fetcher_give_back(natsMsg *m, void *ud)
{
    rt_consumer *c = ud;
    jsack_send(c->r->nc, m, JSACK_NAK, 0);
    natsMsg_Destroy(m);
}

/*
 * Take up to n messages: wait up to FETCH_WAIT_MS for the first, so a stop
 * is noticed within it, then whatever is already queued. Acts on what the
 * server said on the way: heard from (readiness, backoff reset), a lost
 * request (asked again at the next top-up), a refusal or no JetStream
 * (back off), the durable gone (bind again). Returns the messages in f->msgs.
 */
static int
fetcher_receive(fetcher *f, int n)
{
    rt_consumer *c = f->c;
    if (n > f->msgs_cap) {
        natsMsg **m = realloc(f->msgs, sizeof(natsMsg *) * (size_t)n);
        if (!m) {
            fetcher_nap(c, f->backoff_ms);
            return 0;
        }
        f->msgs = m;
        f->msgs_cap = n;
    }
    rt_pull_events ev;
    int got = rt_pull_receive(&f->pull, f->msgs, n, FETCH_WAIT_MS, &ev);
    if (ev.heard) {
        js_live_ok();
        f->backoff_ms = FETCHER_BACKOFF_MIN_MS;
        f->lost = 0;
        f->silent = 0;
    }
    if (ev.lost && !f->lost) {
        f->lost = 1;
        jw_log(JW_LOG_INFO, &f->lc, "pull request presumed lost (%s); asking again",
               ev.lost == 1 ? "reconnected" : "no heartbeat");
    }
    if (ev.lost == 2 && ++f->silent == 2 && !atomic_load(&c->stop)) {
        /* Twice nothing at all, not even a heartbeat, on an inbox with a
         * request waiting: the server is not answering, or this user may
         * not subscribe to the inbox (the server refuses the subscription
         * asynchronously; nats.inbox_prefix must match the permissions). */
        jw_log(JW_LOG_WARN, &f->lc,
               "nothing heard on the pull inbox %s.* for %d s: is the server answering, and "
               "may this user subscribe there (nats.inbox_prefix)?",
               f->pull.inbox, 4 * PULL_HEARTBEAT_MS / 1000);
        js_live_fail("pull inbox silent", NATS_TIMEOUT);
    }
    if (ev.no_responders && !atomic_load(&c->stop)) {
        js_live_fail("pull", NATS_NO_RESPONDERS);
        fetcher_nap(c, f->backoff_ms);
        fetcher_backoff_grow(f);
    }
    if (ev.refused) {
        jw_log(JW_LOG_ERROR, &f->lc, "pull request refused by the server: %s", ev.why);
        fetcher_nap(c, f->backoff_ms);
        fetcher_backoff_grow(f);
    }
    if (ev.gone) {
        jw_log(JW_LOG_WARN, &f->lc, "the durable consumer is gone (%s); binding again", ev.why);
        rt_pull_close(&f->pull, fetcher_give_back, c, FETCH_WAIT_MS);
        atomic_store(&c->st->bound, 0);
    }
    return got;
}

/*
 * Charge the batch to the consumer in one critical section: the
 * generation (referenced once per message, so a reload cannot free what a
 * job uses), the credits, and as many cached job structs as there are.
 * Returns the cached jobs linked by node.next; *g, *cc and *inst are the
 * generation's, taken once for the whole batch.
 */
static rt_job *
fetcher_take_batch(rt_consumer *c, int count, rt_gen **g, const cfg_consumer **cc,
                   plugin_instance **inst)
{
    pthread_mutex_lock(&c->mu);
    *g = c->g;
    *cc = c->cc;
    *inst = c->inst;
    rt_gen_ref(*g, count);
    c->inflight += count;
    rt_job *cached = NULL;
    for (int i = 0; i < count && c->free_jobs; i++) {
        rt_job *j = rt_job_alloc(c);
        j->node.next = (mpsc_node *)cached;
        cached = j;
    }
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add_explicit(&c->st->received, (uint_fast64_t)count, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->st->in_flight, count, memory_order_relaxed);
    return cached;
}

/* Out of memory for a job: give the message back to JetStream for later
 * redelivery and return the credit and reference charged for it. */
static void
fetcher_drop_unjobbed(rt_consumer *c, rt_gen *g, natsMsg *m)
{
    jsack_send(c->r->nc, m, JSACK_NAK, 1000);
    natsMsg_Destroy(m);
    pthread_mutex_lock(&c->mu);
    c->inflight--;
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_sub(&c->st->in_flight, 1);
    rt_gen_unref(c->r, g, 1);
}

/*
 * Turn each message into a job and hand the batch on in two lists:
 * with dedup, to the loop for claiming (the claim needs the key now, so the
 * job is parsed here); otherwise, and for messages that will be
 * dead-lettered unhandled (no id), straight to the worker pool. One push per
 * list per batch, so the loop and the pool are woken once, not per message.
 */
static void
fetcher_dispatch(fetcher *f, natsMsg **msgs, int count)
{
    rt_consumer *c = f->c;
    rt_host *r = c->r;
    uint64_t t_batch = clock_mono_ns();
    rt_gen *g;
    const cfg_consumer *cc;
    plugin_instance *inst;
    rt_job *cached = fetcher_take_batch(c, count, &g, &cc, &inst);

    rt_job *to_claim_h = NULL, *to_claim_t = NULL;
    pool_item *to_run_h = NULL, *to_run_t = NULL;
    int nrun = 0;
    for (int i = 0; i < count; i++) {
        rt_job *j = cached;
        if (j)
            cached = (rt_job *)j->node.next;
        else
            j = malloc(sizeof(rt_job));
        natsMsg *m = msgs[i];
        msgs[i] = NULL; /* the job owns it now */
        if (!j) {
            fetcher_drop_unjobbed(c, g, m);
            continue;
        }
        rt_job_bind(c, j, m, g, cc, inst, t_batch);
        if (cc->dedup.enabled) {
            /* A message without an id goes to a worker to be
             * dead-lettered. */
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
    if (to_claim_h)
        mpsc_push_list(&r->claim_q, &to_claim_h->node, &to_claim_t->node);
    if (to_run_h)
        settle_submit_run(c, inst, to_run_h, to_run_t, nrun);
}

/*
 * Leave. The inbox is drained (what the server sent before it saw the
 * unsubscribe is given back at once), and the loop is woken so that it
 * notices the exit promptly and can drain and free the consumer.
 */
static void
fetcher_exit(fetcher *f)
{
    rt_consumer *c = f->c;
    int given = rt_pull_close(&f->pull, fetcher_give_back, c, FETCH_EXIT_WAIT_MS);
    if (given > 0)
        jw_log(JW_LOG_INFO, &f->lc, "gave back %d messages that arrived while stopping", given);
    free(f->msgs);
    f->msgs = NULL;
    atomic_store(&c->exited, 1);
    nats_ReleaseThreadMemory();
    uv_async_send(&c->r->event_q.async);
}

static void *
fetcher_main(void *arg)
{
    pthread_setname_np(pthread_self(), "jw-fetch"); /* for top -H, perf, gdb */
    jw_thread_set_role(JW_ROLE_FETCHER);
    rt_consumer *c = arg;
    fetcher f = {
        .c = c,
        .lc = {.consumer = c->name, .stream = c->stream},
        .next_info = 0,
        .backoff_ms = FETCHER_BACKOFF_MIN_MS,
    };

    while (!atomic_load(&c->stop)) {
        if (!f.pull.sub) {
            fetcher_bind(&f); /* at start, and after the durable was gone */
            continue;
        }
        fetcher_refresh_due(&f);
        int full = 0, held = 0;
        int credits = fetcher_wait_credit(&f, &full, &held);
        if (credits < 0)
            break;
        if (credits == 0)
            continue;
        if (!held) {
            /* Half-open: the probe asks for exactly one message (the
             * request ends with it, so outstanding is 0 again for the
             * next probe after the cool-down). */
            full = ctl_cap(c->ctl, full);
            fetcher_top_up(&f, credits, full);
        }
        int n = credits < full ? credits : full;
        int got = fetcher_receive(&f, n);
        if (got > 0)
            fetcher_dispatch(&f, f.msgs, got);
    }
    fetcher_exit(&f);
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
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rt_consumer *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->r = r;
    c->name = strdup(cc->name);
    c->stream = strdup(cc->stream);
    /* c->cv is waited on with deadlines (fetcher_nap, fetcher_wait_credit):
     * monotonic, so a wall-clock step neither stretches nor spins them. */
    if (clock_cond_init_mono(&c->cv) != 0) {
        log_error("consumer %s: cannot create its condition variable", cc->name);
        free(c->name);
        free(c->stream);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
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
    c->ctl = ctl_attach(cc->name, c->st);
    ctl_configure(c->ctl, &cc->breaker);
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
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
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
    ctl_configure(c->ctl, &cc->breaker);
    rt_gen_unref(c->r, old, 1);
}

void
consumer_stop(rt_consumer *c)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP | JW_ROLE_MAIN); /* main: teardown */
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->stop, 1);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int
consumer_drained(rt_consumer *c)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
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
    JW_ASSERT_THREAD(JW_ROLE_LOOP | JW_ROLE_MAIN); /* main: teardown */
    consumer_stop(c);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    /* The fetcher closed its inbox as it left; the durable stays on the
     * server (a bind never creates or deletes it). */
    atomic_store(&c->st->bound, 0);
    ctl_detach(c->ctl);
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
