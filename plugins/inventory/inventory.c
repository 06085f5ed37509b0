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

/* Run a script; its reply, or NULL after setting a RETRY verdict. */
static jw_kv_reply *
inventory_eval(inventory_ctx *ctx, const char *script, size_t nkeys, const char *const *keys,
               size_t nargs, const char *const *args, size_t nreply, jw_result *res)
{
    jw_kv_reply *r = NULL;
    int rc = ctx->host->kv_eval(ctx->inst, script, nkeys, keys, nargs, args, &r);

    if (rc != JW_OK || r == NULL || r->type == JW_KV_ERROR) {
        oc_verdict(res, JW_RETRY, "redis: %s",
                   r && r->type == JW_KV_ERROR ? r->str : "unavailable");
    } else if (oc_reply_str(r, nreply - 1) == NULL) {
        oc_verdict(res, JW_RETRY, "redis: unexpected script reply");
    } else {
        return r;
    }
    if (r != NULL)
        ctx->host->kv_reply_free(r);
    return NULL;
}

/* orders.created.v1: reserve all lines or none, publish the outcome. */
static void
inventory_reserve(inventory_ctx *ctx, const jw_msg *msg, const cJSON *ev, const char *oid,
                  jw_result *res)
{
    char err[INV_ERR_MAX], ttl[24];
    inventory_line *lines = NULL;
    char(*kbuf)[INV_KEY_MAX] = NULL, (*qbuf)[24] = NULL;
    const char **keys = NULL, **args = NULL;
    jw_kv_reply *r = NULL;
    const char *outcome;
    int n, rc;

    if ((n = inventory_lines(ev, &lines, err, sizeof(err))) < 0) {
        oc_verdict(res, JW_REJECT, "%s: %s", msg->subject, err);
        return;
    }
    kbuf = calloc((size_t)(2 * n + 1), sizeof(*kbuf));
    // NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI): inventory_lines() returns n >= 1
    qbuf = calloc((size_t)n, sizeof(*qbuf));
    keys = calloc((size_t)(2 * n + 1), sizeof(*keys));
    args = calloc((size_t)(2 * n + 1), sizeof(*args));
    if (kbuf == NULL || qbuf == NULL || keys == NULL || args == NULL) {
        oc_verdict(res, JW_RETRY, "out of memory");
        goto out;
    }
    snprintf(kbuf[0], INV_KEY_MAX, "inv:res:%s", oid);
    snprintf(ttl, sizeof(ttl), "%" PRId64, ctx->record_ttl_ms);
    keys[0] = kbuf[0];
    args[0] = ttl;
    for (int i = 0; i < n; i++) {
        snprintf(kbuf[2 * i + 1], INV_KEY_MAX, "inv:stock:%s", lines[i].sku);
        snprintf(kbuf[2 * i + 2], INV_KEY_MAX, "inv:reserved:%s", lines[i].sku);
        snprintf(qbuf[i], sizeof(qbuf[i]), "%ld", lines[i].qty);
        keys[2 * i + 1] = kbuf[2 * i + 1];
        keys[2 * i + 2] = kbuf[2 * i + 2];
        args[2 * i + 1] = lines[i].sku;
        args[2 * i + 2] = qbuf[i];
    }
    r = inventory_eval(ctx, INVENTORY_SCRIPT_RESERVE, (size_t)(2 * n + 1), keys,
                       (size_t)(2 * n + 1), args, 3, res);
    if (r == NULL)
        goto out;
    outcome = oc_reply_str(r, 0);
    if (strcmp(outcome, "VOID") == 0) {
        ctx->host->log(ctx->inst, msg, JW_LOG_INFO, "order %s failed before it was reserved", oid);
        goto out;
    }
    if (strcmp(oc_reply_str(r, 2), "1") == 0)
        ctx->host->counter_add(
            ctx->inst, strcmp(outcome, "RESERVED") == 0 ? ctx->c_reserved : ctx->c_rejected, 1);
    if (strcmp(outcome, "RESERVED") == 0)
        rc = inventory_publish(ctx, msg, "reserved", oid, lines, n, NULL);
    else
        rc = inventory_publish(ctx, msg, "rejected", oid, NULL, 0, oc_reply_str(r, 1));
    if (rc != JW_OK)
        oc_verdict(res, JW_RETRY, "publish inventory.%s.v1 failed (%d)",
                   strcmp(outcome, "RESERVED") == 0 ? "reserved" : "rejected", rc);
out:
    if (r != NULL)
        ctx->host->kv_reply_free(r);
    free(lines);
    free(kbuf);
    free(qbuf);
    free(keys);
    free(args);
}

/* payments.failed.v1 (release) and orders.confirmed.v1 (commit). */
static void
inventory_settle(inventory_ctx *ctx, const jw_msg *msg, const char *oid, int release,
                 jw_result *res)
{
    char key[INV_KEY_MAX], ttl[24];
    const char *keys[] = {key};
    const char *args[] = {"inv:", ttl};
    const char *outcome;
    jw_kv_reply *r;

    snprintf(key, sizeof(key), "inv:res:%s", oid);
    snprintf(ttl, sizeof(ttl), "%" PRId64, ctx->record_ttl_ms);
    r = inventory_eval(ctx, release ? INVENTORY_SCRIPT_RELEASE : INVENTORY_SCRIPT_COMMIT, 1, keys,
                       release ? 2 : 1, args, 2, res);
    if (r == NULL)
        return;
    outcome = oc_reply_str(r, 0);
    if (strcmp(outcome, "RELEASED") == 0)
        ctx->host->counter_add(ctx->inst, ctx->c_released, 1);
    else if (strcmp(outcome, "SOLD") == 0)
        ctx->host->counter_add(ctx->inst, ctx->c_sold, 1);
    else if (strcmp(outcome, "NOT_RESERVED") == 0)
        oc_verdict(res, JW_REJECT, "%s: order %s has no reservation (status '%s')", msg->subject,
                   oid, oc_reply_str(r, 1));
    ctx->host->kv_reply_free(r);
}

static void
inventory_handle(void *vctx, const jw_msg *msg, jw_result *res)
{
    inventory_ctx *ctx = vctx;
    char err[INV_ERR_MAX];
    const char *oid;
    int what;
    cJSON *ev;

    if (strcmp(msg->subject, "orders.created.v1") == 0)
        what = 0;
    else if (strcmp(msg->subject, "payments.failed.v1") == 0)
        what = 1;
    else if (strcmp(msg->subject, "orders.confirmed.v1") == 0)
        what = 2;
    else {
        oc_verdict(res, JW_REJECT, "unexpected subject %s", msg->subject);
        return;
    }
    if ((ev = oc_parse_event(msg, &oid, err, sizeof(err))) == NULL) {
        oc_verdict(res, JW_REJECT, "%s: %s", msg->subject, err);
        return;
    }
    if (what == 0)
        inventory_reserve(ctx, msg, ev, oid, res);
    else
        inventory_settle(ctx, msg, oid, what == 1, res);
    cJSON_Delete(ev);
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
    .version = "1.0.0",     .options = inventory_options,
    .init = inventory_init, .handle = inventory_handle,
    .fini = inventory_fini,
};

JW_PLUGIN_DEFINE(inventory_plugin)
