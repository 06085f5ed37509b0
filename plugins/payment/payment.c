/*
 * payment.c -- the payment plugin of the worked example.
 *
 * orders.created.v1: charge the order through a simulated gateway, record
 * the outcome in Redis once per order (payment_scripts.h, fenced by the
 * host's dedup claim), publish payments.completed.v1 or payments.failed.v1.
 * orders.cancelled.v1: refund the order's charge once and publish
 * payments.refunded.v1; an order cancelled before it was charged is marked
 * so that a late charge is refused.
 *
 * Batches (ABI 1.1 handle_batch): the scripts of a batch's messages go to
 * Redis in one pipelined round trip and the outcomes are published without
 * waiting (publish_async: the host ACKs a message only once its publish has
 * its PubAck); each charge is still one fenced script, so the effect and the
 * dedup fence stay atomic per order. On a 1.0 host the same code runs one
 * message at a time with kv_eval and a blocking publish.
 *
 * The gateway is deterministic per order: a hash of order_id and `seed`
 * decides a decline (decline_rate) and a transient failure
 * (transient_error_rate, first delivery only, so the retry succeeds).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jetway/plugin.h"
#include "../shared/orders_common.h"
#include "payment_scripts.h"

#define PAYMENT_ERR_MAX  200
#define PAYMENT_NO_FENCE "jw:nofence" /* KEYS[1] when dedup is off; never read */

/* One instance's context: set in init, read-only afterwards (any worker thread). */
typedef struct payment_ctx {
    const jw_host *host;
    jw_instance *inst;
    int64_t latency_ms;    /* simulated gateway latency */
    double transient_rate; /* share of orders whose first attempt fails transiently */
    double decline_rate;   /* share of orders declined */
    int64_t seed;
    int gateway_down; /* simulated outage: every charge attempt fails, retryably */
    uint32_t c_charges, c_declines, c_refunds, c_transient, c_outage;
} payment_ctx;

/* The simulated gateway's answer for one attempt. */
typedef enum { GW_CHARGED, GW_DECLINED, GW_TRANSIENT } payment_gw;

static payment_gw
payment_gateway(const payment_ctx *ctx, const char *order_id, uint64_t deliveries)
{
    if (ctx->latency_ms > 0) {
        struct timespec ts = {ctx->latency_ms / 1000, (ctx->latency_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0) {
        }
    }
    if (deliveries <= 1 && oc_hash01(order_id, ctx->seed, "transient") < ctx->transient_rate)
        return GW_TRANSIENT;
    if (oc_hash01(order_id, ctx->seed, "decline") < ctx->decline_rate)
        return GW_DECLINED;
    return GW_CHARGED;
}

/* Publish payments.<kind>.v1 for an order; JW_OK or the host's error. */
static int
payment_publish(payment_ctx *ctx, const jw_msg *msg, const char *kind, const char *order_id,
                const char *amount, const char *currency, const char *reason)
{
    char subject[64], mid[OC_ID_MAX + 32], ts[64];
    cJSON *ev = cJSON_CreateObject();
    int rc = JW_ENOMEM;

    snprintf(subject, sizeof(subject), "payments.%s.v1", kind);
    snprintf(mid, sizeof(mid), "payments.%s:%s", kind, order_id);
    oc_now_rfc3339(ts);
    if (ev != NULL && cJSON_AddStringToObject(ev, "message_id", mid) &&
        cJSON_AddStringToObject(ev, "order_id", order_id) &&
        cJSON_AddNumberToObject(ev, "amount", strtod(amount, NULL)) &&
        cJSON_AddStringToObject(ev, "currency", currency) &&
        (reason == NULL || cJSON_AddStringToObject(ev, "reason", reason)) &&
        cJSON_AddStringToObject(ev, "ts", ts))
        rc = oc_publish(ctx->host, ctx->inst, msg, subject, ev, mid);
    cJSON_Delete(ev);
    return rc;
}

/*
 * One message of a batch on its way through the plugin: prepared (parsed,
 * checked, the gateway asked, its script built), then finished with the
 * script's reply. Owned by the handling call, on one worker thread.
 */
typedef struct payment_job {
    const jw_msg *msg;
    jw_result *res;
    cJSON *ev;       /* the parsed event, or NULL */
    const char *oid; /* order id, borrowed from ev */
    const char *why; /* refund: the cancel reason, borrowed from ev */
    int refund;      /* 0: charge (orders.created.v1), 1: refund */
    int run;         /* 1: cmd is to run; 0: the verdict is already final */
    char amount[32];
    char k1[OC_ID_MAX + 24], k2[OC_ID_MAX + 24];
    const char *keys[4];
    const char *args[4];
    jw_kv_cmd cmd;
} payment_job;

/* The fence key and token of a message: its dedup claim, or none. */
static void
payment_fence(const jw_msg *msg, const char **key, const char **token)
{
    *token = msg->dedup_key && msg->claim_token ? msg->claim_token : "";
    *key = msg->dedup_key && **token ? msg->dedup_key : PAYMENT_NO_FENCE;
}

/* orders.created.v1: check the event, ask the gateway, build the charge script. */
static void
payment_prepare_charge(payment_ctx *ctx, payment_job *j)
{
    char err[PAYMENT_ERR_MAX];
    const jw_msg *msg = j->msg;
    const char *cur;
    const cJSON *amt = cJSON_GetObjectItemCaseSensitive(j->ev, "total_amount");
    payment_gw gw;

    if (!oc_amount_ok(amt)) {
        oc_verdict(j->res, JW_REJECT, "%s: total_amount: must be a number > 0", msg->subject);
        return;
    }
    if ((cur = oc_req_string(j->ev, "currency", err, sizeof(err))) == NULL ||
        !oc_currency_ok(cur)) {
        oc_verdict(j->res, JW_REJECT, "%s: currency: must be three uppercase letters",
                   msg->subject);
        return;
    }
    if (ctx->gateway_down) {
        /* The outage switch (gateway_down: true, reloadable): what a
         * gateway that does not answer looks like to the handler. */
        ctx->host->counter_add(ctx->inst, ctx->c_outage, 1);
        oc_verdict(j->res, JW_RETRY, "payment gateway unavailable (simulated outage) for %s",
                   j->oid);
        return;
    }
    gw = payment_gateway(ctx, j->oid, msg->deliveries);
    if (gw == GW_TRANSIENT) {
        ctx->host->counter_add(ctx->inst, ctx->c_transient, 1);
        oc_verdict(j->res, JW_RETRY, "payment gateway: transient error (simulated) for %s", j->oid);
        return;
    }
    oc_fmt_amount(amt->valuedouble, j->amount);
    snprintf(j->k1, sizeof(j->k1), "pay:charge:%s", j->oid);
    snprintf(j->k2, sizeof(j->k2), "pay:charge_count:%s", j->oid);
    payment_fence(msg, &j->keys[0], &j->args[0]);
    j->keys[1] = j->k1;
    j->keys[2] = "pay:charges_total";
    j->keys[3] = j->k2;
    j->args[1] = gw == GW_CHARGED ? "charged" : "declined";
    j->args[2] = j->amount;
    j->args[3] = cur;
    j->cmd = (jw_kv_cmd){PAYMENT_SCRIPT_CHARGE, 4, j->keys, 4, j->args};
    j->run = 1;
}

/* orders.cancelled.v1: check the event, build the refund script. */
static void
payment_prepare_refund(payment_job *j)
{
    char err[PAYMENT_ERR_MAX];

    if ((j->why = oc_req_string(j->ev, "reason", err, sizeof(err))) == NULL) {
        oc_verdict(j->res, JW_REJECT, "%s: %s", j->msg->subject, err);
        return;
    }
    snprintf(j->k1, sizeof(j->k1), "pay:charge:%s", j->oid);
    snprintf(j->k2, sizeof(j->k2), "pay:refund:%s", j->oid);
    payment_fence(j->msg, &j->keys[0], &j->args[0]);
    j->keys[1] = j->k1;
    j->keys[2] = j->k2;
    j->keys[3] = "pay:refunds_total";
    j->args[1] = j->why;
    j->cmd = (jw_kv_cmd){PAYMENT_SCRIPT_REFUND, 4, j->keys, 2, j->args};
    j->run = 1;
}

static void
payment_prepare(payment_ctx *ctx, payment_job *j)
{
    char err[PAYMENT_ERR_MAX];
    const jw_msg *msg = j->msg;

    if (strcmp(msg->subject, "orders.created.v1") == 0) {
        j->refund = 0;
    } else if (strcmp(msg->subject, "orders.cancelled.v1") == 0) {
        j->refund = 1;
    } else {
        oc_verdict(j->res, JW_REJECT, "unexpected subject %s", msg->subject);
        return;
    }
    if ((j->ev = oc_parse_event(msg, &j->oid, err, sizeof(err))) == NULL) {
        oc_verdict(j->res, JW_REJECT, "%s: %s", msg->subject, err);
        return;
    }
    if (j->refund)
        payment_prepare_refund(j);
    else
        payment_prepare_charge(ctx, j);
}

/*
 * Check a fenced script's reply. Returns its status string, or NULL after
 * setting a RETRY verdict.
 */
static const char *
payment_status(const jw_kv_reply *r, jw_result *res)
{
    const char *st;

    if (r == NULL || r->type == JW_KV_ERROR) {
        oc_verdict(res, JW_RETRY, "redis: %s", r ? r->str : "unavailable");
        return NULL;
    }
    if ((st = oc_reply_str(r, 0)) == NULL || oc_reply_str(r, 3) == NULL) {
        oc_verdict(res, JW_RETRY, "redis: unexpected script reply");
        return NULL;
    }
    if (strcmp(st, "LEASE_LOST") == 0) {
        /* Another delivery holds the claim now; it will do the work. */
        oc_verdict(res, JW_RETRY, "dedup lease lost before the payment was recorded");
        return NULL;
    }
    return st;
}

/* After the charge script: publish the recorded outcome. */
static void
payment_finish_charge(payment_ctx *ctx, payment_job *j, const jw_kv_reply *r, const char *st)
{
    int charged, rc;

    if (strcmp(st, "DUP") == 0 || strcmp(st, "CANCELLED") == 0) {
        if (st[0] == 'C')
            ctx->host->log(ctx->inst, j->msg, JW_LOG_INFO, "order %s was cancelled before payment",
                           j->oid);
        return;
    }
    /* OK (recorded now) or ALREADY (recorded by an earlier attempt): the record decides. */
    charged = strcmp(oc_reply_str(r, 1), "charged") == 0;
    if (st[0] == 'O')
        ctx->host->counter_add(ctx->inst, charged ? ctx->c_charges : ctx->c_declines, 1);
    rc = payment_publish(ctx, j->msg, charged ? "completed" : "failed", j->oid, oc_reply_str(r, 2),
                         oc_reply_str(r, 3), charged ? NULL : "declined");
    if (rc != JW_OK)
        oc_verdict(j->res, JW_RETRY, "publish payments.%s.v1 failed (%d)",
                   charged ? "completed" : "failed", rc);
}

/* After the refund script: publish payments.refunded.v1 when there was a refund. */
static void
payment_finish_refund(payment_ctx *ctx, payment_job *j, const jw_kv_reply *r, const char *st)
{
    int rc;

    if (strcmp(st, "REFUNDED") != 0 && strcmp(st, "ALREADY") != 0)
        return; /* DUP, NO_CHARGE, VOIDED: nothing to refund */
    if (st[0] == 'R')
        ctx->host->counter_add(ctx->inst, ctx->c_refunds, 1);
    rc = payment_publish(ctx, j->msg, "refunded", j->oid, oc_reply_str(r, 1), oc_reply_str(r, 2),
                         j->why);
    if (rc != JW_OK)
        oc_verdict(j->res, JW_RETRY, "publish payments.refunded.v1 failed (%d)", rc);
}

/*
 * Handle n messages: prepare each, run their scripts in one Redis round trip
 * (kv_pipeline; one kv_eval each on a 1.0 host), then publish each outcome
 * (asynchronously on a 1.1 host). Each message's charge stays one fenced
 * script, so the batch changes the round trips, not what is atomic.
 */
static void
payment_run(payment_ctx *ctx, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    /* One message (handle()) needs no heap. */
    payment_job one_job, *jobs = &one_job;
    jw_kv_cmd one_cmd, *cmds = &one_cmd;
    jw_kv_reply *one_reply, **replies = &one_reply;
    size_t ncmd = 0;

    memset(&one_job, 0, sizeof(one_job));
    if (n > 1) {
        jobs = calloc(n, sizeof(*jobs));
        cmds = calloc(n, sizeof(*cmds));
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of reply pointers
        replies = calloc(n, sizeof(*replies));
    }
    if (jobs == NULL || cmds == NULL || replies == NULL) {
        for (size_t i = 0; i < n; i++)
            oc_verdict(&results[i], JW_RETRY, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        jobs[i].msg = msgs[i];
        jobs[i].res = &results[i];
        payment_prepare(ctx, &jobs[i]);
        if (jobs[i].run)
            cmds[ncmd++] = jobs[i].cmd;
    }
    oc_kv_run(ctx->host, ctx->inst, cmds, ncmd, replies);
    ncmd = 0;
    for (size_t i = 0; i < n; i++) {
        payment_job *j = &jobs[i];
        const jw_kv_reply *r;
        const char *st;

        if (!j->run)
            continue;
        r = replies[ncmd++];
        if ((st = payment_status(r, j->res)) == NULL)
            continue;
        if (j->refund)
            payment_finish_refund(ctx, j, r, st);
        else
            payment_finish_charge(ctx, j, r, st);
    }
out:
    for (size_t i = 0; jobs && cmds && replies && i < n; i++)
        cJSON_Delete(jobs[i].ev);
    for (size_t i = 0; replies && i < ncmd; i++) {
        if (replies[i] != NULL)
            ctx->host->kv_reply_free(replies[i]);
    }
    if (n > 1) {
        free(replies);
        free(cmds);
        free(jobs);
    }
}

static void
payment_handle(void *vctx, const jw_msg *msg, jw_result *res)
{
    payment_run(vctx, &msg, res, 1);
}

static void
payment_handle_batch(void *vctx, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    payment_run(vctx, msgs, results, n);
}

static int
payment_init(const jw_host *host, jw_instance *inst, const char *config_json, void **out, char *err,
             size_t errlen)
{
    cJSON *cfg = cJSON_Parse(config_json ? config_json : "{}");
    const cJSON *v;
    payment_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL || cfg == NULL) {
        snprintf(err, errlen, ctx ? "config is not JSON" : "out of memory");
        goto fail;
    }
    ctx->host = host;
    ctx->inst = inst;
    ctx->seed = 1;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(cfg, "latency")))
        ctx->latency_ms = (int64_t)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(cfg, "transient_error_rate")))
        ctx->transient_rate = v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(cfg, "decline_rate")))
        ctx->decline_rate = v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(cfg, "seed")))
        ctx->seed = (int64_t)v->valuedouble;
    ctx->gateway_down = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "gateway_down"));
    if (ctx->latency_ms < 0 || ctx->latency_ms > 60000) {
        snprintf(err, errlen, "latency: must be from 0 to 60s");
        goto fail;
    }
    if (!(ctx->transient_rate >= 0 && ctx->transient_rate <= 1)) {
        snprintf(err, errlen, "transient_error_rate: must be from 0 to 1");
        goto fail;
    }
    if (!(ctx->decline_rate >= 0 && ctx->decline_rate <= 1)) {
        snprintf(err, errlen, "decline_rate: must be from 0 to 1");
        goto fail;
    }
    if (host->counter_register(inst, "charges", "orders charged", &ctx->c_charges) != JW_OK ||
        host->counter_register(inst, "declines", "orders declined", &ctx->c_declines) != JW_OK ||
        host->counter_register(inst, "refunds", "charges refunded", &ctx->c_refunds) != JW_OK ||
        host->counter_register(inst, "gateway_transient_errors",
                               "simulated transient gateway failures",
                               &ctx->c_transient) != JW_OK ||
        host->counter_register(inst, "gateway_outage_errors",
                               "charge attempts refused by the simulated outage (gateway_down)",
                               &ctx->c_outage) != JW_OK) {
        snprintf(err, errlen, "could not register counters");
        goto fail;
    }
    cJSON_Delete(cfg);
    *out = ctx;
    return 0;
fail:
    cJSON_Delete(cfg);
    free(ctx);
    return -1;
}

static void
payment_fini(void *ctx)
{
    free(ctx);
}

static const jw_option payment_options[] = {
    {"latency", JW_OPT_DURATION, "0ms", 0, "simulated gateway latency per charge"},
    {"transient_error_rate", JW_OPT_FLOAT, "0", 0,
     "share of orders (0..1) whose first charge attempt fails transiently"},
    {"decline_rate", JW_OPT_FLOAT, "0", 0, "share of orders (0..1) the gateway declines"},
    {"seed", JW_OPT_INT, "1", 0, "seed of the per-order gateway decisions"},
    {"gateway_down", JW_OPT_BOOL, "false", 0,
     "simulate a gateway outage: every charge RETRYs (reload to switch)"},
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin payment_plugin = {
    JW_PLUGIN_STAMP,      .name = "payment",
    .version = "1.1.0",   .options = payment_options,
    .init = payment_init, .handle = payment_handle,
    .fini = payment_fini, .handle_batch = payment_handle_batch,
};

JW_PLUGIN_DEFINE(payment_plugin)
