/*
 * orders_fake_host.h -- a fake jw_host table for the unit tests of the
 * order, payment and inventory plugins: records what a plugin publishes,
 * answers and evaluates, and hands kv_eval replies queued by the test.
 * fh_host is an ABI 1.0 host; fh_host11 adds publish_async and kv_pipeline
 * (its commands take the queued replies in order, as evals).
 * Only the plugin's own logic is under test here; the scripts themselves
 * run against a real redis-server in t_orders_scripts.sh.
 *
 * One test thread; state is a file-scope struct reset by fh_reset().
 */
#ifndef ORDERS_FAKE_HOST_H
#define ORDERS_FAKE_HOST_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jetway/plugin.h"

#define FH_MAX 64

typedef struct fh_pub {
    char subject[128];
    char msg_id[160];
    cJSON *doc;          /* the payload, parsed */
    int async;           /* 1: publish_async */
    const jw_msg *cause; /* the cause given */
} fh_pub;

typedef struct fh_eval {
    const char *script;
    char keys[FH_MAX][128];
    char args[FH_MAX][128];
    size_t nkeys, nargs;
} fh_eval;

static struct {
    fh_pub pubs[FH_MAX];
    int npubs;
    int publish_rc;  /* what publish and publish_async return */
    int npipelines;  /* kv_pipeline calls */
    int pipeline_rc; /* what kv_pipeline returns (JW_OK: take queued replies) */
    cJSON *response; /* the last respond(), parsed */
    int nresponses;
    jw_kv_reply *replies[FH_MAX]; /* queued kv_eval replies; NULL entry = JW_EIO */
    int nreplies, next_reply;
    fh_eval evals[FH_MAX];
    int nevals;
    char counter_names[32][64];
    uint64_t counters[32];
    uint32_t ncounters;
} fh;

static inline void
fh_reset(void)
{
    for (int i = 0; i < fh.npubs; i++)
        cJSON_Delete(fh.pubs[i].doc);
    cJSON_Delete(fh.response);
    memset(&fh, 0, sizeof(fh));
}

static inline void
fh_log(jw_instance *inst, const jw_msg *msg, jw_log_level level, const char *fmt, ...)
{
    (void)inst;
    (void)msg;
    (void)level;
    (void)fmt;
}

static inline int
fh_publish(jw_instance *inst, const jw_msg *cause, const char *subject, const void *data,
           size_t len, const char *msg_id, const jw_header *headers, size_t nheaders)
{
    (void)inst;
    (void)cause;
    (void)headers;
    (void)nheaders;
    if (fh.publish_rc != JW_OK)
        return fh.publish_rc;
    if (fh.npubs < FH_MAX) {
        fh_pub *p = &fh.pubs[fh.npubs++];
        snprintf(p->subject, sizeof(p->subject), "%s", subject);
        snprintf(p->msg_id, sizeof(p->msg_id), "%s", msg_id ? msg_id : "");
        p->doc = cJSON_ParseWithLength(data, len);
    }
    return JW_OK;
}

static inline int
fh_publish_async(jw_instance *inst, const jw_msg *cause, const char *subject, const void *data,
                 size_t len, const char *msg_id, const jw_header *headers, size_t nheaders)
{
    int rc = fh_publish(inst, cause, subject, data, len, msg_id, headers, nheaders);

    if (rc == JW_OK && fh.npubs > 0) {
        fh.pubs[fh.npubs - 1].async = 1;
        fh.pubs[fh.npubs - 1].cause = cause;
    }
    return rc;
}

static inline int
fh_respond(jw_instance *inst, const jw_msg *req, const void *data, size_t len)
{
    (void)inst;
    (void)req;
    cJSON_Delete(fh.response);
    fh.response = cJSON_ParseWithLength(data, len);
    fh.nresponses++;
    return JW_OK;
}

static inline int
fh_eval_fn(jw_instance *inst, const char *script, size_t nkeys, const char *const *keys,
           size_t nargs, const char *const *args, jw_kv_reply **reply)
{
    (void)inst;
    if (fh.nevals < FH_MAX) {
        fh_eval *e = &fh.evals[fh.nevals++];
        e->script = script;
        e->nkeys = nkeys;
        e->nargs = nargs;
        for (size_t i = 0; i < nkeys && i < FH_MAX; i++)
            snprintf(e->keys[i], sizeof(e->keys[i]), "%s", keys[i]);
        for (size_t i = 0; i < nargs && i < FH_MAX; i++)
            snprintf(e->args[i], sizeof(e->args[i]), "%s", args[i]);
    }
    *reply = fh.next_reply < fh.nreplies ? fh.replies[fh.next_reply++] : NULL;
    return *reply ? JW_OK : JW_EIO;
}

static inline void fh_reply_free(jw_kv_reply *r);

/* kv_pipeline: records every command as an eval; replies from the queue. */
static inline int
fh_pipeline(jw_instance *inst, const jw_kv_cmd *cmds, size_t n, jw_kv_reply **replies)
{
    fh.npipelines++;
    for (size_t i = 0; i < n; i++) {
        replies[i] = NULL;
        fh_eval_fn(inst, cmds[i].script, cmds[i].nkeys, cmds[i].keys, cmds[i].nargs, cmds[i].args,
                   &replies[i]);
    }
    if (fh.pipeline_rc != JW_OK) {
        for (size_t i = 0; i < n; i++) {
            fh_reply_free(replies[i]);
            replies[i] = NULL;
        }
        return fh.pipeline_rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (replies[i] == NULL) { /* the queue ran dry: the whole pipeline fails */
            for (size_t k = 0; k < n; k++) {
                fh_reply_free(replies[k]);
                replies[k] = NULL;
            }
            return JW_EIO;
        }
    }
    return JW_OK;
}

static inline void
fh_reply_free(jw_kv_reply *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nelements; i++)
        fh_reply_free(r->elements[i]);
    free(r->elements);
    free(r->str);
    free(r);
}

static inline int
fh_counter_register(jw_instance *inst, const char *name, const char *help, uint32_t *id)
{
    (void)inst;
    (void)help;
    snprintf(fh.counter_names[fh.ncounters], sizeof(fh.counter_names[0]), "%s", name);
    *id = fh.ncounters++;
    return JW_OK;
}

static inline void
fh_counter_add(jw_instance *inst, uint32_t id, uint64_t n)
{
    (void)inst;
    fh.counters[id] += n;
}

/* Sum of the counters registered under a name by every instance (-1 when unknown). */
static inline long long
fh_counter(const char *name)
{
    long long sum = -1;

    for (uint32_t i = 0; i < fh.ncounters; i++) {
        if (strcmp(fh.counter_names[i], name) == 0)
            sum = (sum < 0 ? 0 : sum) + (long long)fh.counters[i];
    }
    return sum;
}

static const jw_host fh_host = {
    .struct_size = sizeof(jw_host),
    .abi_major = JW_ABI_MAJOR,
    .abi_minor = JW_ABI_MINOR,
    .log = fh_log,
    .publish = fh_publish,
    .respond = fh_respond,
    .kv_eval = fh_eval_fn,
    .kv_reply_free = fh_reply_free,
    .free = free,
    .counter_register = fh_counter_register,
    .counter_add = fh_counter_add,
};

/* An ABI 1.1 host: publish_async and kv_pipeline as well. */
static const jw_host fh_host11 = {
    .struct_size = sizeof(jw_host),
    .abi_major = JW_ABI_MAJOR,
    .abi_minor = JW_ABI_MINOR,
    .log = fh_log,
    .publish = fh_publish,
    .respond = fh_respond,
    .kv_eval = fh_eval_fn,
    .kv_reply_free = fh_reply_free,
    .free = free,
    .counter_register = fh_counter_register,
    .counter_add = fh_counter_add,
    .publish_async = fh_publish_async,
    .kv_pipeline = fh_pipeline,
};

/* Queue a kv_eval reply: an array of the given strings (NULL ends them). */
static inline void
fh_queue_strings(const char *first, ...)
{
    jw_kv_reply *r = calloc(1, sizeof(*r));
    va_list ap;

    r->type = JW_KV_ARRAY;
    r->elements = calloc(8, sizeof(*r->elements));
    va_start(ap, first);
    for (const char *s = first; s != NULL && r->nelements < 8; s = va_arg(ap, const char *)) {
        jw_kv_reply *e = calloc(1, sizeof(*e));
        e->type = JW_KV_STRING;
        e->str = strdup(s);
        e->len = strlen(s);
        r->elements[r->nelements++] = e;
    }
    va_end(ap);
    fh.replies[fh.nreplies++] = r;
}

static inline void
fh_queue_int(long long v)
{
    jw_kv_reply *r = calloc(1, sizeof(*r));
    r->type = JW_KV_INT;
    r->integer = v;
    fh.replies[fh.nreplies++] = r;
}

/* A Redis error reply (the script failed). */
static inline void
fh_queue_error(const char *text)
{
    jw_kv_reply *r = calloc(1, sizeof(*r));
    r->type = JW_KV_ERROR;
    r->str = strdup(text);
    r->len = strlen(text);
    fh.replies[fh.nreplies++] = r;
}

/* Free replies the plugin never asked for (end of a test). */
static inline void
fh_drop_unused(void)
{
    while (fh.next_reply < fh.nreplies)
        fh_reply_free(fh.replies[fh.next_reply++]);
}

/* A consumed message (first delivery, claimed by the host). */
static inline jw_msg
fh_msg(const char *subject, const char *json)
{
    jw_msg m = {
        .struct_size = sizeof(jw_msg),
        .subject = subject,
        .data = json,
        .len = strlen(json),
        .stream = "S",
        .consumer = "c",
        .stream_seq = 1,
        .deliveries = 1,
        .message_id = "mid",
        .dedup_key = "jw:c:mid",
        .claim_token = "tok",
        .trace_id = "0123456789abcdef0123456789abcdef",
        .span_id = "0123456789abcdef",
    };
    return m;
}

/* Handle one message through the plugin descriptor; the result. */
static inline jw_result
fh_handle(const jw_plugin *p, void *ctx, const jw_msg *m)
{
    jw_result res = {.verdict = JW_ACK, .delay_ms = -1};

    p->handle(ctx, m, &res);
    return res;
}

/* Handle n messages in one handle_batch call; results pre-set as the host does. */
static inline void
fh_handle_batch(const jw_plugin *p, void *ctx, const jw_msg *m, jw_result *res, size_t n)
{
    const jw_msg *mp[FH_MAX];

    for (size_t i = 0; i < n && i < FH_MAX; i++) {
        mp[i] = &m[i];
        res[i] = (jw_result){.verdict = JW_ACK, .delay_ms = -1};
    }
    p->handle_batch(ctx, mp, res, n);
}

/* String member of a published or answered document ("" when absent). */
static inline const char *
fh_str(const cJSON *doc, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

#endif /* ORDERS_FAKE_HOST_H */
