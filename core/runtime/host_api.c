/*
 * host_api.c -- see host_api.h.
 */
#include "host_api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubasync_int.h"
#include "redis/redis.h"
#include "base/base.h"
#include "obs/obs.h"

rt_host *rt_get(void);

static rt_job *
view_job(const jw_msg *m)
{
    return m ? (rt_job *)m->host_private : NULL;
}

static void host_log(jw_instance *inst, const jw_msg *m, jw_log_level level, const char *fmt, ...)
    JW_PRINTF(4, 5);
static void
host_log(jw_instance *inst, const jw_msg *m, jw_log_level level, const char *fmt, ...)
{
    if (!log_level_enabled((int)level))
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_ctx lc = {.plugin = inst ? inst->name : NULL};
    if (m) {
        lc.consumer = m->consumer;
        lc.stream = m->stream;
        lc.seq = m->stream_seq;
        lc.message_id = m->message_id;
        lc.trace_id = m->trace_id;
        lc.span_id = m->span_id;
    }
    jw_log((int)level, &lc, "%s", buf);
}

static int
status_to_jw(natsStatus s)
{
    switch (s) {
    case NATS_OK:
        return JW_OK;
    case NATS_TIMEOUT:
        return JW_ETIMEDOUT;
    case NATS_NO_MEMORY:
        return JW_ENOMEM;
    case NATS_INVALID_ARG:
        return JW_EINVAL;
    default:
        return JW_EIO;
    }
}

/*
 * W3C trace context for a message caused by `cause`: traceparent names this
 * handling's span as the parent; the incoming tracestate travels on (cut to
 * TRACE_STATE_MAX at a member boundary), but only when the incoming
 * traceparent was valid: a new trace must not inherit another trace's
 * vendor state. Read from the cause's message, which the job owns until it
 * settles, so the job carries no copy.
 */
static natsStatus
add_trace(natsMsg *nm, const jw_msg *cause)
{
    if (!cause || !cause->trace_id || !cause->span_id)
        return NATS_OK;
    char tp[64];
    snprintf(tp, sizeof(tp), "00-%s-%s-01", cause->trace_id, cause->span_id);
    natsStatus s = natsMsgHeader_Set(nm, "traceparent", tp);
    rt_job *j = view_job(cause);
    const char *in_tp = NULL, *in_ts = NULL;
    trace_ctx tc;
    if (s == NATS_OK && j && j->msg &&
        natsMsgHeader_Get(j->msg, "traceparent", &in_tp) == NATS_OK &&
        natsMsgHeader_Get(j->msg, "tracestate", &in_ts) == NATS_OK &&
        trace_parse(in_tp, in_ts, &tc) == 0 && tc.tracestate[0])
        s = natsMsgHeader_Set(nm, "tracestate", tc.tracestate);
    return s;
}

static stats_consumer *
cause_stats(const jw_msg *cause)
{
    rt_job *j = view_job(cause);
    return j && j->kind == RT_JOB_MESSAGE ? j->c->st : NULL;
}

static int64_t
request_timeout(const jw_msg *cause)
{
    rt_job *j = view_job(cause);
    if (j && j->g->cfg->nats.request_timeout_ms > 0)
        return j->g->cfg->nats.request_timeout_ms;
    return 5000;
}

/* The message a plugin publishes: headers, Nats-Msg-Id (given, or derived
 * from the cause's id and the subject) and the trace context. */
static natsStatus
build_pub_msg(const jw_msg *cause, const char *subject, const void *data, size_t len,
              const char *msg_id, const jw_header *headers, size_t nheaders, natsMsg **out)
{
    natsMsg *nm = NULL;
    natsStatus s = natsMsg_Create(&nm, subject, NULL, data, (int)len);
    for (size_t i = 0; s == NATS_OK && i < nheaders; i++)
        s = natsMsgHeader_Add(nm, headers[i].key, headers[i].value);
    char derived[512];
    if (s == NATS_OK && !msg_id && cause && cause->message_id) {
        /* Same input, same id: a re-run publishes no duplicate. */
        snprintf(derived, sizeof(derived), "%s:%s", cause->message_id, subject);
        msg_id = derived;
    }
    if (s == NATS_OK && msg_id)
        s = natsMsgHeader_Set(nm, "Nats-Msg-Id", msg_id);
    if (s == NATS_OK)
        s = add_trace(nm, cause);
    if (s != NATS_OK) {
        natsMsg_Destroy(nm);
        nm = NULL;
    }
    *out = nm;
    return s;
}

static void
log_publish_failure(jw_instance *inst, const jw_msg *cause, const char *what, const char *subject,
                    natsStatus s, int jerr)
{
    log_ctx lc = {.plugin = inst ? inst->name : NULL, .error = natsStatus_GetText(s)};
    if (cause) {
        lc.consumer = cause->consumer;
        lc.stream = cause->stream;
        lc.seq = cause->stream_seq;
        lc.message_id = cause->message_id;
        lc.trace_id = cause->trace_id;
        lc.span_id = cause->span_id;
    }
    jw_log(JW_LOG_WARN, &lc, "%s to %s failed (jerr %d)", what, subject, jerr);
}

static void
count_publish(const jw_msg *cause, natsStatus s)
{
    stats_consumer *st = cause_stats(cause);
    if (st) {
        atomic_fetch_add_explicit(&st->publishes, 1, memory_order_relaxed);
        if (s != NATS_OK)
            atomic_fetch_add_explicit(&st->publish_errors, 1, memory_order_relaxed);
    }
}

static int
host_publish(jw_instance *inst, const jw_msg *cause, const char *subject, const void *data,
             size_t len, const char *msg_id, const jw_header *headers, size_t nheaders)
{
    JW_ASSERT_THREAD(JW_ROLE_WORKER | JW_ROLE_RELOAD);
    rt_host *r = rt_get();
    if (!subject || !*subject)
        return JW_EINVAL;
    natsMsg *nm = NULL;
    natsStatus s = build_pub_msg(cause, subject, data, len, msg_id, headers, nheaders, &nm);
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    if (s == NATS_OK) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = request_timeout(cause);
        s = js_PublishMsg(&pa, r->js, nm, &po, &jerr);
    }
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(nm);
    count_publish(cause, s);
    if (s != NATS_OK)
        log_publish_failure(inst, cause, "publish", subject, s, (int)jerr);
    return status_to_jw(s);
}

/*
 * ABI 1.1: hand the message to cnats and return; the PubAck (or its
 * failure, or its timeout after the publish timeout) comes to pubasync's
 * handler, which settles the cause once it has all of them.
 */
static int
host_publish_async(jw_instance *inst, const jw_msg *cause, const char *subject, const void *data,
                   size_t len, const char *msg_id, const jw_header *headers, size_t nheaders)
{
    JW_ASSERT_THREAD(JW_ROLE_WORKER);
    rt_host *r = rt_get();
    rt_job *j = view_job(cause);
    if (!subject || !*subject || !j || (j->kind != RT_JOB_MESSAGE && j->kind != RT_JOB_REQUEST) ||
        !atomic_load_explicit(&j->in_handler, memory_order_relaxed))
        return JW_EINVAL;
    natsMsg *nm = NULL;
    natsStatus s = build_pub_msg(cause, subject, data, len, msg_id, headers, nheaders, &nm);
    if (s == NATS_OK)
        s = pubasync_publish(r, j, &nm, request_timeout(cause));
    natsMsg_Destroy(nm); /* NULL once cnats owns it */
    count_publish(cause, s);
    if (s != NATS_OK) {
        log_publish_failure(inst, cause, "asynchronous publish", subject, s, 0);
        /* Stalled behind PUBASYNC_MAX_PENDING outstanding publishes for
         * the whole publish timeout. */
        return s == NATS_TIMEOUT ? JW_ETIMEDOUT : status_to_jw(s);
    }
    return JW_OK;
}

int
host_api_send_reply(const rt_job *j, const void *data, size_t len, int unavailable)
{
    const char *reply = natsMsg_GetReply(j->msg);
    if (!reply || !*reply)
        return JW_EINVAL;
    static const char err_body[] = "{\"error\":\"a publish this reply depends on failed\"}";
    if (unavailable) {
        data = err_body;
        len = sizeof(err_body) - 1;
    }
    jw_msg v = {.struct_size = sizeof(v),
                .trace_id = j->trace_id,
                .span_id = j->span_id,
                .host_private = (void *)j};
    natsMsg *nm = NULL;
    natsStatus s = natsMsg_Create(&nm, reply, NULL, data, (int)len);
    if (s == NATS_OK && unavailable)
        s = natsMsgHeader_Set(nm, "Jetway-Status", "503");
    if (s == NATS_OK)
        s = add_trace(nm, &v);
    if (s == NATS_OK)
        s = natsConnection_PublishMsg(rt_get()->nc, nm);
    natsMsg_Destroy(nm);
    return status_to_jw(s);
}

static int
host_respond(jw_instance *inst, const jw_msg *req, const void *data, size_t len)
{
    (void)inst;
    if (!req || !req->reply)
        return JW_EINVAL;
    rt_job *j = view_job(req);
    if (j && j->kind == RT_JOB_REQUEST && atomic_load(&j->npubs) > 0) {
        /* Held until the PubAcks of its publish_async calls are in
         * (service_request_done sends it, or a 503 if one failed). */
        void *copy = malloc(len ? len : 1);
        if (!copy)
            return JW_ENOMEM;
        if (len)
            memcpy(copy, data, len);
        free(j->held_reply);
        j->held_reply = copy;
        j->held_len = len;
        j->has_held_reply = 1;
        return JW_OK;
    }
    natsMsg *nm = NULL;
    natsStatus s = natsMsg_Create(&nm, req->reply, NULL, data, (int)len);
    if (s == NATS_OK)
        s = add_trace(nm, req);
    if (s == NATS_OK)
        s = natsConnection_PublishMsg(rt_get()->nc, nm);
    natsMsg_Destroy(nm);
    return status_to_jw(s);
}

static int
host_msg_header(const jw_msg *m, const char *key, const char **value)
{
    rt_job *j = view_job(m);
    if (!j || !j->msg || !key || !value)
        return JW_EINVAL;
    natsStatus s = natsMsgHeader_Get(j->msg, key, value);
    if (s == NATS_NOT_FOUND)
        return JW_ENOENT;
    return status_to_jw(s);
}

/* Lease extension, fenced by the claim token (delivery-notes §2.3). */
static const char extend_script[] = "if redis.call('GET', KEYS[1]) == 'P|' .. ARGV[1] then "
                                    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

static int
host_in_progress(const jw_msg *m)
{
    rt_job *j = view_job(m);
    if (!j || j->kind != RT_JOB_MESSAGE)
        return JW_ENOTSUP;
    natsStatus s = jsack_send(j->c->r->nc, j->msg, JSACK_PROGRESS, 0);
    if (s != NATS_OK)
        return status_to_jw(s);
    if (j->claimed) {
        char lease[32];
        snprintf(lease, sizeof(lease), "%lld", (long long)j->cc->dedup.lease_ms);
        const char *keys[] = {j->key};
        const char *args[] = {j->token, lease};
        jw_kv_reply *rep = NULL;
        int rc = kv_eval(extend_script, 1, keys, 2, args, &rep);
        int extended = rc == JW_OK && rep && rep->type == JW_KV_INT && rep->integer == 1;
        kv_reply_free(rep);
        if (rc != JW_OK)
            return rc;
        if (!extended) {
            atomic_fetch_add_explicit(&j->c->st->dedup[STATS_DEDUP_LEASE_LOST], 1,
                                      memory_order_relaxed);
            return JW_EIO;
        }
    }
    return JW_OK;
}

static int
host_kv_get(jw_instance *inst, const char *key, char **value, size_t *len)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
    (void)inst;
    return kv_get(key, value, len);
}

static int
host_kv_set(jw_instance *inst, const char *key, const void *value, size_t len, int64_t ttl_ms)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
    (void)inst;
    return kv_set(key, value, len, ttl_ms);
}

static int
host_kv_setnx(jw_instance *inst, const char *key, const void *value, size_t len, int64_t ttl_ms)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
    (void)inst;
    return kv_setnx(key, value, len, ttl_ms);
}

static int
host_kv_del(jw_instance *inst, const char *key)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
    (void)inst;
    return kv_del(key);
}

static int
host_kv_incr(jw_instance *inst, const char *key, int64_t by, int64_t *result)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
    (void)inst;
    return kv_incr(key, by, result);
}

static int
host_kv_eval(jw_instance *inst, const char *script, size_t nkeys, const char *const *keys,
             size_t nargs, const char *const *args, jw_kv_reply **reply)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
    (void)inst;
    return kv_eval(script, nkeys, keys, nargs, args, reply);
}

static int
host_kv_pipeline(jw_instance *inst, const jw_kv_cmd *cmds, size_t n, jw_kv_reply **replies)
{
    (void)inst;
    return kv_pipeline(cmds, n, replies);
}

static void
host_free(void *p)
{
    free(p);
}

static int
host_counter_register(jw_instance *inst, const char *name, const char *help, uint32_t *id)
{
    stats_plugin *sp = inst ? inst->st : NULL;
    if (!sp || !name || !id)
        return JW_EINVAL;
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return JW_EINVAL;
    }
    stats_lock();
    int found = -1;
    for (int i = 0; i < sp->ncounters; i++) {
        if (strcmp(sp->counter_names[i], name) == 0)
            found = i;
    }
    if (found < 0 && sp->ncounters < 32) {
        found = sp->ncounters;
        snprintf(sp->counter_names[found], sizeof(sp->counter_names[found]), "%s", name);
        snprintf(sp->counter_help[found], sizeof(sp->counter_help[found]), "%s",
                 help ? help : name);
        sp->ncounters++;
    }
    stats_unlock();
    if (found < 0)
        return JW_ENOMEM;
    *id = (uint32_t)found;
    return JW_OK;
}

static void
host_counter_add(jw_instance *inst, uint32_t id, uint64_t n)
{
    if (inst && inst->st && id < 32)
        atomic_fetch_add_explicit(&inst->st->counters[id], n, memory_order_relaxed);
}

void
host_api_init(jw_host *h)
{
    memset(h, 0, sizeof(*h));
    h->struct_size = sizeof(*h);
    h->abi_major = JW_ABI_MAJOR;
    h->abi_minor = JW_ABI_MINOR;
    h->log = host_log;
    h->publish = host_publish;
    h->respond = host_respond;
    h->msg_header = host_msg_header;
    h->in_progress = host_in_progress;
    h->kv_get = host_kv_get;
    h->kv_set = host_kv_set;
    h->kv_setnx = host_kv_setnx;
    h->kv_del = host_kv_del;
    h->kv_incr = host_kv_incr;
    h->kv_eval = host_kv_eval;
    h->kv_reply_free = kv_reply_free;
    h->free = host_free;
    h->counter_register = host_counter_register;
    h->counter_add = host_counter_add;
    h->publish_async = host_publish_async;
    h->kv_pipeline = host_kv_pipeline;
}
