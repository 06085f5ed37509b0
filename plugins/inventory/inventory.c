/*
 * inventory.c -- the inventory plugin of the worked example.
 *
 * Loads the initial stock of its config into Redis (without overwriting
 * stock that exists, unless reset_stock), then:
 *   orders.created.v1   reserve every line or none (inventory_scripts.h),
 *                       publish inventory.reserved.v1 or .rejected.v1
 *   payments.failed.v1  give the order's reservation back, once
 *   orders.confirmed.v1 the reservation becomes sold, once
 * so that, per SKU, available + reserved + sold == initial at all times.
 *
 * Batches (ABI 1.1 handle_batch): the scripts of a batch's messages go to
 * Redis in one pipelined round trip and the outcomes are published without
 * waiting (the host ACKs a message only once its publish has its PubAck).
 * On a 1.0 host the same code runs one message at a time.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jetway/plugin.h"
#include "../shared/orders_common.h"
#include "inventory_scripts.h"

#define INV_ERR_MAX   200
#define INV_LINES_MAX 1000
#define INV_KEY_MAX   (OC_ID_MAX + 16)

/* One instance's context: set in init, read-only afterwards (any worker thread). */
typedef struct inventory_ctx {
    const jw_host *host;
    jw_instance *inst;
    int64_t record_ttl_ms; /* TTL of inv:res:<id>, 0 = keep */
    uint32_t c_reserved, c_rejected, c_released, c_sold;
} inventory_ctx;

/* One order line after merging repeated SKUs; sku borrowed from the event. */
typedef struct inventory_line {
    const char *sku;
    long qty;
} inventory_line;

/*
 * Check an order's items and merge repeated SKUs into lines (caller frees).
 * Returns the number of lines, or -1 with err set.
 */
static int
inventory_lines(const cJSON *ev, inventory_line **out, char *err, size_t errlen)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(ev, "items"), *item;
    inventory_line *lines;
    int n = 0, i = 0;

    if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) == 0) {
        snprintf(err, errlen, "items: must be a non-empty array");
        return -1;
    }
    if (cJSON_GetArraySize(items) > INV_LINES_MAX) {
        snprintf(err, errlen, "items: more than %d lines", INV_LINES_MAX);
        return -1;
    }
    if ((lines = calloc((size_t)cJSON_GetArraySize(items), sizeof(*lines))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cJSON_ArrayForEach(item, items)
    {
        const cJSON *sku = cJSON_GetObjectItemCaseSensitive(item, "sku");
        const cJSON *qty = cJSON_GetObjectItemCaseSensitive(item, "qty");
        int j;

        if (!cJSON_IsString(sku) || !oc_id_ok(sku->valuestring, OC_ID_MAX)) {
            snprintf(err, errlen, "items[%d].sku: must be a string matching [A-Za-z0-9._:-]{1,%d}",
                     i, OC_ID_MAX);
            goto bad;
        }
        if (!cJSON_IsNumber(qty) || qty->valuedouble < 1 || qty->valuedouble > 1000000 ||
            qty->valuedouble != (double)(long)qty->valuedouble) {
            snprintf(err, errlen, "items[%d].qty: must be an integer from 1 to 1000000", i);
            goto bad;
        }
        for (j = 0; j < n && strcmp(lines[j].sku, sku->valuestring) != 0; j++) {
        }
        if (j == n)
            lines[n++].sku = sku->valuestring;
        lines[j].qty += (long)qty->valuedouble;
        i++;
    }
    *out = lines;
    return n;
bad:
    free(lines);
    return -1;
}

/* Publish inventory.<kind>.v1 (reserved with the lines, rejected with the SKU). */
static int
inventory_publish(inventory_ctx *ctx, const jw_msg *msg, const char *kind, const char *order_id,
                  const inventory_line *lines, int n, const char *sku)
{
    char subject[64], mid[OC_ID_MAX + 32], ts[64];
    cJSON *ev = cJSON_CreateObject(), *items;
    int rc = JW_ENOMEM;

    snprintf(subject, sizeof(subject), "inventory.%s.v1", kind);
    snprintf(mid, sizeof(mid), "inventory.%s:%s", kind, order_id);
    oc_now_rfc3339(ts);
    if (ev == NULL || !cJSON_AddStringToObject(ev, "message_id", mid) ||
        !cJSON_AddStringToObject(ev, "order_id", order_id))
        goto out;
    if (sku != NULL) {
        if (!cJSON_AddStringToObject(ev, "reason", "out_of_stock") ||
            !cJSON_AddStringToObject(ev, "sku", sku))
            goto out;
    } else {
        if ((items = cJSON_AddArrayToObject(ev, "items")) == NULL)
            goto out;
        for (int i = 0; i < n; i++) {
            cJSON *line = cJSON_CreateObject();
            if (line == NULL || !cJSON_AddItemToArray(items, line) ||
                !cJSON_AddStringToObject(line, "sku", lines[i].sku) ||
                !cJSON_AddNumberToObject(line, "qty", (double)lines[i].qty))
                goto out;
        }
    }
    if (cJSON_AddStringToObject(ev, "ts", ts))
        rc = oc_publish(ctx->host, ctx->inst, msg, subject, ev, mid);
out:
    cJSON_Delete(ev);
    return rc;
}

/*
 * One message of a batch: prepared (parsed, checked, its script built),
 * then finished with the script's reply. Owned by the handling call, on one
 * worker thread; the heap arrays are freed by inventory_job_free().
 */
typedef struct inventory_job {
    const jw_msg *msg;
    jw_result *res;
    cJSON *ev;
    const char *oid;
    int what; /* 0 reserve (orders.created.v1), 1 release (payments.failed.v1), 2 commit */
    int run;  /* 1: cmd is to run; 0: the verdict is already final */
    inventory_line *lines;
    int nlines;
    char (*kbuf)[INV_KEY_MAX];
    char (*qbuf)[24];
    const char **keys, **args;
    char key[INV_KEY_MAX]; /* settle: inv:res:<id> */
    const char *skeys[1], *sargs[2];
    char ttl[24];
    jw_kv_cmd cmd;
} inventory_job;

static void
inventory_job_free(inventory_job *j)
{
    cJSON_Delete(j->ev);
    free(j->lines);
    free(j->kbuf);
    free(j->qbuf);
    free(j->keys);
    free(j->args);
}

/* orders.created.v1: the reservation script of every line. */
static void
inventory_prepare_reserve(inventory_job *j)
{
    char err[INV_ERR_MAX];
    int n;

    if ((n = inventory_lines(j->ev, &j->lines, err, sizeof(err))) < 0) {
        oc_verdict(j->res, JW_REJECT, "%s: %s", j->msg->subject, err);
        return;
    }
    j->nlines = n;
    j->kbuf = calloc((size_t)(2 * n + 1), sizeof(*j->kbuf));
    // NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI): inventory_lines() returns n >= 1
    j->qbuf = calloc((size_t)n, sizeof(*j->qbuf));
    j->keys = calloc((size_t)(2 * n + 1), sizeof(*j->keys));
    j->args = calloc((size_t)(2 * n + 1), sizeof(*j->args));
    if (j->kbuf == NULL || j->qbuf == NULL || j->keys == NULL || j->args == NULL) {
        oc_verdict(j->res, JW_RETRY, "out of memory");
        return;
    }
    snprintf(j->kbuf[0], INV_KEY_MAX, "inv:res:%s", j->oid);
    j->keys[0] = j->kbuf[0];
    j->args[0] = j->ttl;
    for (int i = 0; i < n; i++) {
        snprintf(j->kbuf[2 * i + 1], INV_KEY_MAX, "inv:stock:%s", j->lines[i].sku);
        snprintf(j->kbuf[2 * i + 2], INV_KEY_MAX, "inv:reserved:%s", j->lines[i].sku);
        snprintf(j->qbuf[i], sizeof(j->qbuf[i]), "%ld", j->lines[i].qty);
        j->keys[2 * i + 1] = j->kbuf[2 * i + 1];
        j->keys[2 * i + 2] = j->kbuf[2 * i + 2];
        j->args[2 * i + 1] = j->lines[i].sku;
        j->args[2 * i + 2] = j->qbuf[i];
    }
    j->cmd = (jw_kv_cmd){INVENTORY_SCRIPT_RESERVE, (size_t)(2 * n + 1), j->keys,
                         (size_t)(2 * n + 1), j->args};
    j->run = 1;
}

static void
inventory_prepare(inventory_ctx *ctx, inventory_job *j)
{
    char err[INV_ERR_MAX];
    const char *subject = j->msg->subject;

    if (strcmp(subject, "orders.created.v1") == 0)
        j->what = 0;
    else if (strcmp(subject, "payments.failed.v1") == 0)
        j->what = 1;
    else if (strcmp(subject, "orders.confirmed.v1") == 0)
        j->what = 2;
    else {
        oc_verdict(j->res, JW_REJECT, "unexpected subject %s", subject);
        return;
    }
    if ((j->ev = oc_parse_event(j->msg, &j->oid, err, sizeof(err))) == NULL) {
        oc_verdict(j->res, JW_REJECT, "%s: %s", subject, err);
        return;
    }
    snprintf(j->ttl, sizeof(j->ttl), "%" PRId64, ctx->record_ttl_ms);
    if (j->what == 0) {
        inventory_prepare_reserve(j);
        return;
    }
    snprintf(j->key, sizeof(j->key), "inv:res:%s", j->oid);
    j->skeys[0] = j->key;
    j->sargs[0] = "inv:";
    j->sargs[1] = j->ttl;
    j->cmd = (jw_kv_cmd){j->what == 1 ? INVENTORY_SCRIPT_RELEASE : INVENTORY_SCRIPT_COMMIT, 1,
                         j->skeys, j->what == 1 ? 2 : 1, j->sargs};
    j->run = 1;
}

/* A script's reply with at least nreply strings, or NULL after setting a RETRY verdict. */
static const jw_kv_reply *
inventory_reply(const jw_kv_reply *r, size_t nreply, jw_result *res)
{
    if (r == NULL || r->type == JW_KV_ERROR)
        oc_verdict(res, JW_RETRY, "redis: %s", r ? r->str : "unavailable");
    else if (oc_reply_str(r, nreply - 1) == NULL)
        oc_verdict(res, JW_RETRY, "redis: unexpected script reply");
    else
        return r;
    return NULL;
}

/* After the reservation script: publish inventory.reserved.v1 or .rejected.v1. */
static void
inventory_finish_reserve(inventory_ctx *ctx, inventory_job *j, const jw_kv_reply *r)
{
    const char *outcome = oc_reply_str(r, 0);
    int reserved = strcmp(outcome, "RESERVED") == 0, rc;

    if (strcmp(outcome, "VOID") == 0) {
        ctx->host->log(ctx->inst, j->msg, JW_LOG_INFO, "order %s failed before it was reserved",
                       j->oid);
        return;
    }
    if (strcmp(oc_reply_str(r, 2), "1") == 0)
        ctx->host->counter_add(ctx->inst, reserved ? ctx->c_reserved : ctx->c_rejected, 1);
    if (reserved)
        rc = inventory_publish(ctx, j->msg, "reserved", j->oid, j->lines, j->nlines, NULL);
    else
        rc = inventory_publish(ctx, j->msg, "rejected", j->oid, NULL, 0, oc_reply_str(r, 1));
    if (rc != JW_OK)
        oc_verdict(j->res, JW_RETRY, "publish inventory.%s.v1 failed (%d)",
                   reserved ? "reserved" : "rejected", rc);
}

/* After release (payments.failed.v1) or commit (orders.confirmed.v1). */
static void
inventory_finish_settle(inventory_ctx *ctx, inventory_job *j, const jw_kv_reply *r)
{
    const char *outcome = oc_reply_str(r, 0);

    if (strcmp(outcome, "RELEASED") == 0)
        ctx->host->counter_add(ctx->inst, ctx->c_released, 1);
    else if (strcmp(outcome, "SOLD") == 0)
        ctx->host->counter_add(ctx->inst, ctx->c_sold, 1);
    else if (strcmp(outcome, "NOT_RESERVED") == 0)
        oc_verdict(j->res, JW_REJECT, "%s: order %s has no reservation (status '%s')",
                   j->msg->subject, j->oid, oc_reply_str(r, 1));
}

/*
 * Handle n messages: prepare each, run their scripts in one Redis round trip
 * (one kv_eval each on a 1.0 host), then publish the reservations' outcomes
 * (asynchronously on a 1.1 host). Each reservation is still one script, all
 * lines or none.
 */
static void
inventory_run(inventory_ctx *ctx, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    /* One message (handle()) needs no heap for the batch arrays. */
    inventory_job one_job, *jobs = &one_job;
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
        inventory_prepare(ctx, &jobs[i]);
        if (jobs[i].run)
            cmds[ncmd++] = jobs[i].cmd;
    }
    oc_kv_run(ctx->host, ctx->inst, cmds, ncmd, replies);
    ncmd = 0;
    for (size_t i = 0; i < n; i++) {
        inventory_job *j = &jobs[i];
        const jw_kv_reply *r;

        if (!j->run)
            continue;
        if ((r = inventory_reply(replies[ncmd++], j->what == 0 ? 3 : 2, j->res)) == NULL)
            continue;
        if (j->what == 0)
            inventory_finish_reserve(ctx, j, r);
        else
            inventory_finish_settle(ctx, j, r);
    }
    for (size_t i = 0; i < ncmd; i++) {
        if (replies[i] != NULL)
            ctx->host->kv_reply_free(replies[i]);
    }
out:
    for (size_t i = 0; jobs && cmds && replies && i < n; i++)
        inventory_job_free(&jobs[i]);
    if (n > 1) {
        free(replies);
        free(cmds);
        free(jobs);
    }
}

static void
inventory_handle(void *vctx, const jw_msg *msg, jw_result *res)
{
    inventory_run(vctx, &msg, res, 1);
}

static void
inventory_handle_batch(void *vctx, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    inventory_run(vctx, msgs, results, n);
}

/* Load the configured stock: {SKU: qty, ...}; 0 or -1 with err set. */
static int
inventory_load_stock(inventory_ctx *ctx, const cJSON *stock, int reset, char *err, size_t errlen)
{
    const cJSON *e;

    if (stock == NULL || cJSON_IsNull(stock))
        return 0;
    if (!cJSON_IsObject(stock)) {
        snprintf(err, errlen, "stock: must be a mapping of SKU to quantity");
        return -1;
    }
    cJSON_ArrayForEach(e, stock)
    {
        char k[4][INV_KEY_MAX], qty[24];
        const char *keys[] = {k[0], k[1], k[2], k[3]};
        const char *args[] = {qty, reset ? "1" : "0"};
        jw_kv_reply *r = NULL;
        int rc;

        if (!oc_id_ok(e->string, OC_ID_MAX)) {
            snprintf(err, errlen, "stock: SKU '%.64s' must match [A-Za-z0-9._:-]{1,%d}", e->string,
                     OC_ID_MAX);
            return -1;
        }
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e15 ||
            e->valuedouble != (double)(long long)e->valuedouble) {
            snprintf(err, errlen, "stock.%s: must be an integer >= 0", e->string);
            return -1;
        }
        snprintf(qty, sizeof(qty), "%lld", (long long)e->valuedouble);
        snprintf(k[0], INV_KEY_MAX, "inv:stock:%s", e->string);
        snprintf(k[1], INV_KEY_MAX, "inv:reserved:%s", e->string);
        snprintf(k[2], INV_KEY_MAX, "inv:sold:%s", e->string);
        snprintf(k[3], INV_KEY_MAX, "inv:initial:%s", e->string);
        rc = ctx->host->kv_eval(ctx->inst, INVENTORY_SCRIPT_INIT, 4, keys, 2, args, &r);
        if (rc != JW_OK || r == NULL || r->type != JW_KV_INT) {
            snprintf(err, errlen, "stock.%s: could not load into Redis: %s", e->string,
                     r && r->type == JW_KV_ERROR ? r->str : "unavailable");
            if (r != NULL)
                ctx->host->kv_reply_free(r);
            return -1;
        }
        if (r->integer == 0)
            ctx->host->log(ctx->inst, NULL, JW_LOG_INFO,
                           "stock of %s exists in Redis: kept (reset_stock is off)", e->string);
        ctx->host->kv_reply_free(r);
    }
    return 0;
}

static int
inventory_init(const jw_host *host, jw_instance *inst, const char *config_json, void **out,
               char *err, size_t errlen)
{
    cJSON *cfg = cJSON_Parse(config_json ? config_json : "{}");
    const cJSON *v;
    inventory_ctx *ctx = calloc(1, sizeof(*ctx));
    int reset = 0;

    if (ctx == NULL || cfg == NULL) {
        snprintf(err, errlen, ctx ? "config is not JSON" : "out of memory");
        goto fail;
    }
    ctx->host = host;
    ctx->inst = inst;
    ctx->record_ttl_ms = 7 * 24 * 3600 * 1000LL;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(cfg, "record_ttl")))
        ctx->record_ttl_ms = (int64_t)v->valuedouble;
    if (ctx->record_ttl_ms < 0) {
        snprintf(err, errlen, "record_ttl: must not be negative");
        goto fail;
    }
    reset = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "reset_stock"));
    if (host->counter_register(inst, "reservations", "orders reserved", &ctx->c_reserved) !=
            JW_OK ||
        host->counter_register(inst, "rejections", "orders rejected for stock", &ctx->c_rejected) !=
            JW_OK ||
        host->counter_register(inst, "releases", "reservations given back", &ctx->c_released) !=
            JW_OK ||
        host->counter_register(inst, "sales", "reservations sold", &ctx->c_sold) != JW_OK) {
        snprintf(err, errlen, "could not register counters");
        goto fail;
    }
    if (inventory_load_stock(ctx, cJSON_GetObjectItemCaseSensitive(cfg, "stock"), reset, err,
                             errlen) != 0)
        goto fail;
    cJSON_Delete(cfg);
    *out = ctx;
    return 0;
fail:
    cJSON_Delete(cfg);
    free(ctx);
    return -1;
}

static void
inventory_fini(void *ctx)
{
    free(ctx);
}

static const jw_option inventory_options[] = {
    {"stock", JW_OPT_MAP, NULL, 0, "initial stock per SKU, loaded unless it exists"},
    {"reset_stock", JW_OPT_BOOL, "false", 0, "overwrite existing stock at start (tests)"},
    {"record_ttl", JW_OPT_DURATION, "168h", 0, "how long an order's reservation record is kept"},
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin inventory_plugin = {
    JW_PLUGIN_STAMP,        .name = "inventory",
    .version = "1.1.0",     .options = inventory_options,
    .init = inventory_init, .handle = inventory_handle,
    .fini = inventory_fini, .handle_batch = inventory_handle_batch,
};

JW_PLUGIN_DEFINE(inventory_plugin)
