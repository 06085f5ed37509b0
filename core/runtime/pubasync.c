/*
 * pubasync.c -- see pubasync_int.h.
 */
#include "pubasync_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/base.h"
#include "settle_int.h"

#define PA_BITS    12
#define PA_BUCKETS (1u << PA_BITS)
#define PA_FREE    1024 /* entries kept for reuse */

/* One outstanding publish: cnats's message (the key) and its job. */
typedef struct pa_entry {
    natsMsg *m;
    rt_job *j;
    struct pa_entry *next;
} pa_entry;

/* The table of outstanding publishes, process-wide like rt itself; every
 * field under mu (workers insert, the PubAck thread removes). */
static struct {
    pthread_mutex_t mu;
    pa_entry *b[PA_BUCKETS];
    pa_entry *free;
    int nfree;
} pa = {.mu = PTHREAD_MUTEX_INITIALIZER};

static unsigned
pa_hash(const natsMsg *m)
{
    return (unsigned)((((uintptr_t)m >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - PA_BITS));
}

static int
pa_insert(natsMsg *m, rt_job *j)
{
    pthread_mutex_lock(&pa.mu);
    pa_entry *e = pa.free;
    if (e) {
        pa.free = e->next;
        pa.nfree--;
    } else {
        e = malloc(sizeof(*e));
    }
    if (e) {
        unsigned h = pa_hash(m);
        e->m = m;
        e->j = j;
        e->next = pa.b[h];
        pa.b[h] = e;
    }
    pthread_mutex_unlock(&pa.mu);
    return e ? 0 : -1;
}

/* Remove m's entry; its job, or NULL when m is not (any more) in the table. */
static rt_job *
pa_remove(const natsMsg *m)
{
    rt_job *j = NULL;
    pa_entry *gone = NULL;
    pthread_mutex_lock(&pa.mu);
    for (pa_entry **pp = &pa.b[pa_hash(m)]; *pp; pp = &(*pp)->next) {
        if ((*pp)->m == m) {
            gone = *pp;
            *pp = gone->next;
            j = gone->j;
            break;
        }
    }
    if (gone && pa.nfree < PA_FREE) {
        gone->next = pa.free;
        pa.free = gone;
        pa.nfree++;
        gone = NULL;
    }
    pthread_mutex_unlock(&pa.mu);
    free(gone);
    return j;
}

int
pubasync_release(rt_job *j)
{
    return atomic_fetch_sub_explicit(&j->holds, 1, memory_order_acq_rel) == 1;
}

/* cnats's PubAck thread: one call per accepted publish, exactly once. */
static void
on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa_ok, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)closure;
    rt_job *j = pa_remove(msg);
    if (j && (pae || !pa_ok)) {
        atomic_store_explicit(&j->pub_failed, 1, memory_order_relaxed);
        log_ctx lc = {.error = pae ? (pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err))
                                   : "no PubAck"};
        if (j->kind == RT_JOB_MESSAGE) {
            lc.consumer = j->cc->name;
            lc.stream = j->cc->stream;
            lc.seq = j->meta.stream_seq;
            lc.message_id = j->has_id ? j->id : NULL;
        } else if (j->svc) {
            lc.consumer = j->svc->name;
        }
        lc.plugin = j->inst ? j->inst->name : NULL;
        lc.trace_id = j->trace_id;
        lc.span_id = j->span_id;
        jw_log(JW_LOG_WARN, &lc, "asynchronous publish to %s %s (jerr %d)", natsMsg_GetSubject(msg),
               pae && pae->Err == NATS_TIMEOUT ? "got no PubAck in time" : "failed",
               pae ? (int)pae->ErrCode : 0);
        if (j->kind == RT_JOB_MESSAGE)
            atomic_fetch_add_explicit(&j->c->st->publish_errors, 1, memory_order_relaxed);
    }
    natsMsg_Destroy(msg);
    if (j && pubasync_release(j))
        settle_pubs_done(j);
}

int
pubasync_init(rt_host *r, int64_t timeout_ms)
{
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = timeout_ms > 0 ? timeout_ms : 5000;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = r;
    jo.PublishAsync.MaxPending = PUBASYNC_MAX_PENDING;
    jo.PublishAsync.StallWait = jo.Wait;
    natsStatus s = natsConnection_JetStream(&r->js_async, r->nc, &jo);
    if (s != NATS_OK) {
        log_error("nats: cannot create the asynchronous publish context: %s",
                  natsStatus_GetText(s));
        r->js_async = NULL;
        return -1;
    }
    return 0;
}

void
pubasync_close(rt_host *r)
{
    if (r->js_async)
        jsCtx_Destroy(r->js_async);
    r->js_async = NULL;
}

natsStatus
pubasync_publish(rt_host *r, rt_job *j, natsMsg **nm, int64_t timeout_ms)
{
    if (!r->js_async)
        return NATS_ILLEGAL_STATE;
    natsMsg *m = *nm;
    /* In the table and held before cnats has it: its PubAck may come
     * before js_PublishMsgAsync returns. */
    if (pa_insert(m, j) != 0)
        return NATS_NO_MEMORY;
    atomic_fetch_add_explicit(&j->holds, 1, memory_order_relaxed);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = timeout_ms > 0 ? timeout_ms : 5000;
    natsStatus s = js_PublishMsgAsync(r->js_async, nm, &po);
    if (s != NATS_OK) {
        /* cnats did not take it: no PubAck callback will come. The
         * handler's own hold keeps j from settling here. */
        pa_remove(m);
        atomic_fetch_sub_explicit(&j->holds, 1, memory_order_relaxed);
        return s;
    }
    atomic_fetch_add_explicit(&j->npubs, 1, memory_order_relaxed);
    return NATS_OK;
}
