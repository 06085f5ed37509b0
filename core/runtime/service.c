/*
 * service.c -- see service.h.
 */
#include "service_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "gen_int.h"
#include "host_api_int.h"
#include "pubasync_int.h"
#include "settle_int.h"
#include "span_int.h"

#define JOB_OF_ITEM(ptr) ((rt_job *)((char *)(ptr)-offsetof(rt_job, item)))

static void
service_run(pool_queue *q, pool_item *item)
{
    rt_service *s = q->data;
    rt_job *j = JOB_OF_ITEM(item);
    if (!atomic_load(&s->r->stopping)) {
        jw_msg v;
        memset(&v, 0, sizeof(v));
        v.struct_size = sizeof(v);
        v.subject = natsMsg_GetSubject(j->msg);
        v.reply = natsMsg_GetReply(j->msg);
        v.data = natsMsg_GetData(j->msg);
        v.len = (size_t)natsMsg_GetDataLength(j->msg);
        v.consumer = s->name;
        const char *id = NULL;
        if (natsMsgHeader_Get(j->msg, "Nats-Msg-Id", &id) == NATS_OK)
            v.message_id = id;
        v.trace_id = j->trace_id;
        v.span_id = j->span_id;
        v.host_private = j;
        jw_result res = {.verdict = JW_ACK, .delay_ms = -1};
        uint64_t t0 = clock_mono_ns();
        atomic_store_explicit(&j->in_handler, 1, memory_order_relaxed);
        j->inst->mod->desc->handle(j->inst->ctx, &v, &res);
        atomic_store_explicit(&j->in_handler, 0, memory_order_relaxed);
        span_finish(j, t0, (int)res.verdict);
    }
    /* With publish_async calls still unanswered, the last PubAck finishes
     * the request (through the loop). */
    if (pubasync_release(j))
        service_request_done(j);
}

void
service_request_done(rt_job *j)
{
    rt_service *s = j->svc;
    if (j->has_held_reply) {
        int failed = atomic_load(&j->pub_failed);
        if (failed) {
            log_ctx lc = {.consumer = s->name,
                          .plugin = j->inst ? j->inst->name : NULL,
                          .trace_id = j->trace_id,
                          .span_id = j->span_id};
            jw_log(JW_LOG_WARN, &lc,
                   "a publish the reply depends on failed: answering Jetway-Status 503");
        }
        host_api_send_reply(j, j->held_reply, j->held_len, failed);
    }
    free(j->held_reply);
    natsMsg_Destroy(j->msg);
    rt_gen_unref(s->r, j->g, 1);
    free(j);
    atomic_fetch_sub(&s->inflight, 1);
}

/* cnats delivery thread: queue the request, nothing more. */
static void
service_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    rt_service *s = closure;
    rt_job *j = calloc(1, sizeof(*j));
    if (!j) {
        natsMsg_Destroy(msg);
        return;
    }
    j->kind = RT_JOB_REQUEST;
    j->svc = s;
    atomic_init(&j->holds, 1);
    j->msg = msg;
    j->t_recv_ns = clock_mono_ns();
    pthread_mutex_lock(&s->mu);
    j->g = s->g;
    rt_gen_ref(j->g, 1);
    j->inst = s->inst;
    pthread_mutex_unlock(&s->mu);
    settle_trace_extract(j);
    atomic_fetch_add(&s->inflight, 1);
    pool_submit(s->r->pool, &s->q, &j->item, &j->item, 1);
}

rt_service *
service_start(rt_host *r, rt_gen *g, const cfg_service_ep *ep)
{
    rt_service *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->r = r;
    s->name = strdup(ep->name);
    pthread_mutex_init(&s->mu, NULL);
    rt_gen_ref(g, 1);
    s->g = g;
    s->ep = ep;
    s->inst = rt_gen_instance(g, ep->handler);
    atomic_init(&s->inflight, 0);
    pool_queue_init(&s->q, ep->concurrency, service_run, s);
    natsStatus st = natsConnection_QueueSubscribe(
        &s->sub, r->nc, ep->subject, ep->queue ? ep->queue : ep->name, service_on_msg, s);
    if (st == NATS_OK)
        st = natsSubscription_SetPendingLimits(s->sub, 65536, 64 * 1024 * 1024);
    if (st != NATS_OK) {
        log_error("service %s: cannot subscribe to %s: %s", ep->name, ep->subject,
                  natsStatus_GetText(st));
        service_free(s);
        return NULL;
    }
    log_info("service %s: serving requests on %s (queue group %s)", ep->name, ep->subject,
             ep->queue ? ep->queue : ep->name);
    return s;
}

void
service_update(rt_service *s, rt_gen *g, const cfg_service_ep *ep)
{
    rt_gen_ref(g, 1);
    pthread_mutex_lock(&s->mu);
    rt_gen *old = s->g;
    s->g = g;
    s->ep = ep;
    s->inst = rt_gen_instance(g, ep->handler);
    pthread_mutex_unlock(&s->mu);
    pool_queue_set_limit(s->r->pool, &s->q, ep->concurrency);
    rt_gen_unref(s->r, old, 1);
}

void
service_stop(rt_service *s)
{
    if (s->sub)
        natsSubscription_Unsubscribe(s->sub);
}

int
service_drained(rt_service *s)
{
    /* As for consumers: the worker touches the queue after the last job. */
    return atomic_load(&s->inflight) == 0 && pool_queue_busy(s->r->pool, &s->q) == 0;
}

void
service_free(rt_service *s)
{
    if (s->sub)
        natsSubscription_Destroy(s->sub);
    if (s->g)
        rt_gen_unref(s->r, s->g, 1);
    pthread_mutex_destroy(&s->mu);
    free(s->name);
    free(s);
}
