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
    uint32_t c_charges, c_declines, c_refunds, c_transient;
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
 * Run a fenced script. Returns the reply's status string (reply in *r,
 * caller frees) or NULL after setting a RETRY verdict.
 */
static const char *
payment_eval(payment_ctx *ctx, const char *script, const char *const keys[4],
             const char *const *args, size_t nargs, jw_kv_reply **r, jw_result *res)
{
    const char *st;
    int rc = ctx->host->kv_eval(ctx->inst, script, 4, keys, nargs, args, r);

    if (rc != JW_OK || *r == NULL || (*r)->type == JW_KV_ERROR) {
        oc_verdict(res, JW_RETRY, "redis: %s",
                   *r && (*r)->type == JW_KV_ERROR ? (*r)->str : "unavailable");
        return NULL;
    }
    if ((st = oc_reply_str(*r, 0)) == NULL || oc_reply_str(*r, 3) == NULL) {
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

/* orders.created.v1: charge once, publish the outcome. */
static void
payment_charge(payment_ctx *ctx, const jw_msg *msg, jw_result *res)
{
    char err[PAYMENT_ERR_MAX], ckey[OC_ID_MAX + 16], nkey[OC_ID_MAX + 24], amount[32];
    const char *oid, *cur, *st;
    const cJSON *amt;
    cJSON *ev = oc_parse_event(msg, &oid, err, sizeof(err));
    jw_kv_reply *r = NULL;
    payment_gw gw;
    int rc;

    if (ev == NULL) {
        oc_verdict(res, JW_REJECT, "%s: %s", msg->subject, err);
        return;
    }
    amt = cJSON_GetObjectItemCaseSensitive(ev, "total_amount");
    if (!oc_amount_ok(amt)) {
        oc_verdict(res, JW_REJECT, "%s: total_amount: must be a number > 0", msg->subject);
        goto out;
    }
    if ((cur = oc_req_string(ev, "currency", err, sizeof(err))) == NULL || !oc_currency_ok(cur)) {
        oc_verdict(res, JW_REJECT, "%s: currency: must be three uppercase letters", msg->subject);
        goto out;
    }
    gw = payment_gateway(ctx, oid, msg->deliveries);
    if (gw == GW_TRANSIENT) {
        ctx->host->counter_add(ctx->inst, ctx->c_transient, 1);
        oc_verdict(res, JW_RETRY, "payment gateway: transient error (simulated) for %s", oid);
        goto out;
    }
    oc_fmt_amount(amt->valuedouble, amount);
    snprintf(ckey, sizeof(ckey), "pay:charge:%s", oid);
    snprintf(nkey, sizeof(nkey), "pay:charge_count:%s", oid);
    {
        const char *token = msg->dedup_key && msg->claim_token ? msg->claim_token : "";
        const char *keys[4] = {msg->dedup_key && *token ? msg->dedup_key : PAYMENT_NO_FENCE, ckey,
                               "pay:charges_total", nkey};
        const char *args[] = {token, gw == GW_CHARGED ? "charged" : "declined", amount, cur};
        if ((st = payment_eval(ctx, PAYMENT_SCRIPT_CHARGE, keys, args, 4, &r, res)) == NULL)
            goto out;
    }
    if (strcmp(st, "DUP") == 0 || strcmp(st, "CANCELLED") == 0) {
        if (st[0] == 'C')
            ctx->host->log(ctx->inst, msg, JW_LOG_INFO, "order %s was cancelled before payment",
                           oid);
        goto out;
    }
    {
        /* OK (recorded now) or ALREADY (recorded by an earlier attempt): the record decides. */
        int charged = strcmp(oc_reply_str(r, 1), "charged") == 0;
        if (st[0] == 'O')
            ctx->host->counter_add(ctx->inst, charged ? ctx->c_charges : ctx->c_declines, 1);
        rc = payment_publish(ctx, msg, charged ? "completed" : "failed", oid, oc_reply_str(r, 2),
                             oc_reply_str(r, 3), charged ? NULL : "declined");
        if (rc != JW_OK)
            oc_verdict(res, JW_RETRY, "publish payments.%s.v1 failed (%d)",
                       charged ? "completed" : "failed", rc);
    }
out:
    if (r != NULL)
        ctx->host->kv_reply_free(r);
    cJSON_Delete(ev);
}

/* orders.cancelled.v1: refund a charge once, publish payments.refunded.v1. */
static void
payment_refund(payment_ctx *ctx, const jw_msg *msg, jw_result *res)
{
    char err[PAYMENT_ERR_MAX], ckey[OC_ID_MAX + 16], fkey[OC_ID_MAX + 16];
    const char *oid, *why, *st;
    cJSON *ev = oc_parse_event(msg, &oid, err, sizeof(err));
    jw_kv_reply *r = NULL;
    int rc;

    if (ev == NULL) {
        oc_verdict(res, JW_REJECT, "%s: %s", msg->subject, err);
        return;
    }
    if ((why = oc_req_string(ev, "reason", err, sizeof(err))) == NULL) {
        oc_verdict(res, JW_REJECT, "%s: %s", msg->subject, err);
        goto out;
    }
    snprintf(ckey, sizeof(ckey), "pay:charge:%s", oid);
    snprintf(fkey, sizeof(fkey), "pay:refund:%s", oid);
    {
        const char *token = msg->dedup_key && msg->claim_token ? msg->claim_token : "";
        const char *keys[4] = {msg->dedup_key && *token ? msg->dedup_key : PAYMENT_NO_FENCE, ckey,
                               fkey, "pay:refunds_total"};
        const char *args[] = {token, why};
        if ((st = payment_eval(ctx, PAYMENT_SCRIPT_REFUND, keys, args, 2, &r, res)) == NULL)
            goto out;
    }
    if (strcmp(st, "REFUNDED") != 0 && strcmp(st, "ALREADY") != 0)
        goto out; /* DUP, NO_CHARGE, VOIDED: nothing to refund */
    if (st[0] == 'R')
        ctx->host->counter_add(ctx->inst, ctx->c_refunds, 1);
    rc = payment_publish(ctx, msg, "refunded", oid, oc_reply_str(r, 1), oc_reply_str(r, 2), why);
    if (rc != JW_OK)
        oc_verdict(res, JW_RETRY, "publish payments.refunded.v1 failed (%d)", rc);
out:
    if (r != NULL)
        ctx->host->kv_reply_free(r);
    cJSON_Delete(ev);
}

static void
payment_handle(void *vctx, const jw_msg *msg, jw_result *res)
{
    payment_ctx *ctx = vctx;

    if (strcmp(msg->subject, "orders.created.v1") == 0)
        payment_charge(ctx, msg, res);
    else if (strcmp(msg->subject, "orders.cancelled.v1") == 0)
        payment_refund(ctx, msg, res);
    else
        oc_verdict(res, JW_REJECT, "unexpected subject %s", msg->subject);
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
                               &ctx->c_transient) != JW_OK) {
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
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin payment_plugin = {
    JW_PLUGIN_STAMP,      .name = "payment",
    .version = "1.0.0",   .options = payment_options,
    .init = payment_init, .handle = payment_handle,
    .fini = payment_fini,
};

JW_PLUGIN_DEFINE(payment_plugin)
