/*
 * order.c -- the order plugin of the worked example.
 *
 * Serves the request/reply endpoint orders.create: validates the order,
 * gives it an id, publishes orders.created.v1 and answers "accepted" only
 * once JetStream has acknowledged that publish. A request with an
 * idempotency key (the Nats-Msg-Id header or the body's "idempotency_key")
 * may be retried safely: its order id is derived from the key, a Redis
 * record (ORDER_SCRIPT_IDEM_BEGIN) makes a repeat answer the first answer
 * without publishing again, and a repeat after a crash between the record
 * and the PubAck publishes under the same message id
 * ("orders.created:<order_id>"), which the stream's duplicate window drops
 * if the first publish did land. A request without a key gets a random id
 * and is not retry-safe (or is refused: require_idempotency_key).
 *
 * Then consumes the outcomes of payment (payments.completed/failed.v1)
 * and inventory (inventory.reserved/rejected.v1), keeps each order's state in Redis
 * (order_scripts.h) and publishes the decision, orders.confirmed.v1 or
 * orders.cancelled.v1, exactly once per order (the decision is made once in
 * Redis; its publish carries the message id "orders.<decision>:<order_id>",
 * so a re-publish after a crash is dropped by the stream's dedup window).
 *
 * On an ABI 1.1 host the publishes are asynchronous (the host sends the
 * "accepted" reply, or ACKs the event, only once the PubAck is in) and the
 * outcome events arrive in batches whose record scripts run in one
 * pipelined Redis round trip; on a 1.0 host the same code runs per message
 * with blocking publishes.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jetway/plugin.h"
#include "../shared/orders_common.h"
#include "order_scripts.h"

#define ORDER_ERR_MAX 200
#define ORDER_KEY_MAX 255 /* bytes of an idempotency key */
/* "ord-" + 32 hex digits: 128 bits of the key's SHA-256 (or random bits). */
#define ORDER_ID_LEN (4 + 32)

/* One instance's context: set in init, read-only afterwards (any worker thread). */
typedef struct order_ctx {
    const jw_host *host;
    jw_instance *inst;
    int max_items;        /* items per order */
    int64_t state_ttl_ms; /* TTL of ord:<id>, 0 = keep */
    int64_t idem_ttl_ms;  /* TTL of ord:idem:<key hash>, 0 = keep */
    int require_key;      /* refuse orders.create without an idempotency key */
    uint32_t c_accepted, c_invalid, c_unavailable, c_confirmed, c_cancelled;
    uint32_t c_replayed, c_without_key;
} order_ctx;

/*
 * Check an orders.create request. Returns 0, or -1 with a message naming
 * the offending field in err.
 */
static int
order_validate_request(const cJSON *req, int max_items, char *err, size_t errlen)
{
    const cJSON *items, *amount, *item;
    const char *cur;
    int n, i = 0;

    if (!cJSON_IsObject(req)) {
        snprintf(err, errlen, "request must be a JSON object");
        return -1;
    }
    if (oc_req_string(req, "customer_id", err, errlen) == NULL)
        return -1;
    if (strlen(cJSON_GetObjectItemCaseSensitive(req, "customer_id")->valuestring) > 128) {
        snprintf(err, errlen, "customer_id: longer than 128 bytes");
        return -1;
    }
    items = cJSON_GetObjectItemCaseSensitive(req, "items");
    if (items == NULL) {
        snprintf(err, errlen, "items: missing");
        return -1;
    }
    if (!cJSON_IsArray(items)) {
        snprintf(err, errlen, "items: must be an array");
        return -1;
    }
    n = cJSON_GetArraySize(items);
    if (n == 0) {
        snprintf(err, errlen, "items: must not be empty");
        return -1;
    }
    if (n > max_items) {
        snprintf(err, errlen, "items: more than %d lines", max_items);
        return -1;
    }
    cJSON_ArrayForEach(item, items)
    {
        const cJSON *sku = cJSON_GetObjectItemCaseSensitive(item, "sku");
        const cJSON *qty = cJSON_GetObjectItemCaseSensitive(item, "qty");
        const cJSON *prev;
        int j = 0;

        if (!cJSON_IsObject(item)) {
            snprintf(err, errlen, "items[%d]: must be an object", i);
            return -1;
        }
        if (!cJSON_IsString(sku) || !oc_id_ok(sku->valuestring, OC_ID_MAX)) {
            snprintf(err, errlen, "items[%d].sku: must be a string matching [A-Za-z0-9._:-]{1,%d}",
                     i, OC_ID_MAX);
            return -1;
        }
        if (!cJSON_IsNumber(qty) || qty->valuedouble < 1 || qty->valuedouble > 1000000 ||
            qty->valuedouble != (double)(int)qty->valuedouble) {
            snprintf(err, errlen, "items[%d].qty: must be an integer from 1 to 1000000", i);
            return -1;
        }
        cJSON_ArrayForEach(prev, items)
        {
            if (j++ == i)
                break;
            if (strcmp(cJSON_GetObjectItemCaseSensitive(prev, "sku")->valuestring,
                       sku->valuestring) == 0) {
                snprintf(err, errlen, "items[%d].sku: duplicate of items[%d].sku", i, j - 1);
                return -1;
            }
        }
        i++;
    }
    amount = cJSON_GetObjectItemCaseSensitive(req, "total_amount");
    if (amount == NULL) {
        snprintf(err, errlen, "total_amount: missing");
        return -1;
    }
    if (!oc_amount_ok(amount)) {
        snprintf(err, errlen, "total_amount: must be a number > 0");
        return -1;
    }
    if ((cur = oc_req_string(req, "currency", err, errlen)) == NULL)
        return -1;
    if (!oc_currency_ok(cur)) {
        snprintf(err, errlen, "currency: must be three uppercase letters (ISO 4217)");
        return -1;
    }
    return 0;
}

/* The orders.created.v1 event of a validated request, or NULL (no memory). */
static cJSON *
order_created_event(const cJSON *req, const char *order_id, const char *message_id)
{
    cJSON *ev = cJSON_CreateObject(), *items = cJSON_CreateArray();
    const cJSON *item;
    char ts[64];

    if (ev == NULL || items == NULL) {
        cJSON_Delete(ev);
        cJSON_Delete(items);
        return NULL;
    }
    oc_now_rfc3339(ts);
    cJSON_AddItemToObject(ev, "items", items);
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(req, "items"))
    {
        cJSON *line = cJSON_CreateObject();
        if (line == NULL || !cJSON_AddItemToArray(items, line))
            goto oom;
        if (!cJSON_AddStringToObject(line, "sku",
                                     cJSON_GetObjectItemCaseSensitive(item, "sku")->valuestring) ||
            !cJSON_AddNumberToObject(line, "qty",
                                     cJSON_GetObjectItemCaseSensitive(item, "qty")->valuedouble))
            goto oom;
    }
    if (!cJSON_AddStringToObject(ev, "message_id", message_id) ||
        !cJSON_AddStringToObject(ev, "order_id", order_id) ||
        !cJSON_AddStringToObject(
            ev, "customer_id", cJSON_GetObjectItemCaseSensitive(req, "customer_id")->valuestring) ||
        !cJSON_AddNumberToObject(
            ev, "total_amount",
            cJSON_GetObjectItemCaseSensitive(req, "total_amount")->valuedouble) ||
        !cJSON_AddStringToObject(ev, "currency",
                                 cJSON_GetObjectItemCaseSensitive(req, "currency")->valuestring) ||
        !cJSON_AddStringToObject(ev, "ts", ts))
        goto oom;
    return ev;
oom:
    cJSON_Delete(ev);
    return NULL;
}

/*
 * Answer a request with {key: value} (plus status:accepted for an order id,
 * and replayed:true when it repeats an earlier answer).
 */
static void
order_reply_ex(order_ctx *ctx, const jw_msg *msg, const char *key, const char *value, int replayed)
{
    cJSON *doc = cJSON_CreateObject();
    char *text = NULL;

    if (doc != NULL && cJSON_AddStringToObject(doc, key, value) &&
        (strcmp(key, "order_id") != 0 || cJSON_AddStringToObject(doc, "status", "accepted")) &&
        (!replayed || cJSON_AddTrueToObject(doc, "replayed")))
        text = cJSON_PrintUnformatted(doc);
    if (text == NULL) {
        static const char oom[] = "{\"error\":\"unavailable\"}";
        ctx->host->respond(ctx->inst, msg, oom, sizeof(oom) - 1);
    } else if (ctx->host->respond(ctx->inst, msg, text, strlen(text)) != JW_OK) {
        ctx->host->log(ctx->inst, msg, JW_LOG_WARN, "could not send the reply");
    }
    cJSON_free(text);
    cJSON_Delete(doc);
}

static void
order_reply(order_ctx *ctx, const jw_msg *msg, const char *key, const char *value)
{
    order_reply_ex(ctx, msg, key, value, 0);
}

/* out = lowercase hex of the first nbytes of SHA-256(a || b). 0 or -1. */
static int
order_sha256_hex(const char *a, const void *b, size_t blen, char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c != NULL && nbytes <= sizeof(md) && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, a, strlen(a)) == 1 && EVP_DigestUpdate(c, b, blen) == 1 &&
             EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == sizeof(md);

    EVP_MD_CTX_free(c);
    if (!ok)
        return -1;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

/*
 * The idempotency key of a request: the Nats-Msg-Id header (msg->message_id
 * of a request) or the body's "idempotency_key"; both given, they must be
 * equal. Returns 1 with *key set, 0 for no key, -1 with err set.
 */
static int
order_request_key(const jw_msg *msg, const cJSON *req, const char **key, char *err, size_t errlen)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "idempotency_key");
    const char *k = msg->message_id;
    size_t n;

    if (f != NULL && !cJSON_IsString(f)) {
        snprintf(err, errlen, "idempotency_key: must be a string");
        return -1;
    }
    if (f != NULL && k != NULL && strcmp(f->valuestring, k) != 0) {
        snprintf(err, errlen, "idempotency_key: differs from the Nats-Msg-Id header");
        return -1;
    }
    if (k == NULL && f != NULL)
        k = f->valuestring;
    if (k == NULL)
        return 0;
    /* Printable ASCII without spaces: safe in logs and JSON, and what UUIDs,
     * ULIDs and base64 keys are made of. */
    for (n = 0; n <= ORDER_KEY_MAX && k[n] != '\0'; n++) {
        if ((unsigned char)k[n] < 0x21 || (unsigned char)k[n] > 0x7e)
            break;
    }
    if (n == 0 || n > ORDER_KEY_MAX || k[n] != '\0') {
        snprintf(err, errlen,
                 "idempotency_key: must be 1 to %d printable ASCII characters without spaces",
                 ORDER_KEY_MAX);
        return -1;
    }
    *key = k;
    return 1;
}

/*
 * The fingerprint of a validated request: SHA-256 of its order fields,
 * re-encoded (so key order, spacing and the key field itself do not count):
 * a key reused for another order is refused, a retry of the same one is not.
 */
static int
order_fingerprint(const cJSON *req, char out[65])
{
    cJSON *doc = cJSON_CreateObject(), *items = cJSON_CreateArray();
    const cJSON *item;
    char *text = NULL;
    int rc = -1;

    if (doc == NULL || items == NULL || !cJSON_AddItemToObject(doc, "items", items)) {
        cJSON_Delete(items);
        goto out;
    }
    /* Validated: every line is {sku: string, qty: integer}, in any member order. */
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(req, "items"))
    {
        cJSON *line = cJSON_CreateObject();
        if (line == NULL || !cJSON_AddItemToArray(items, line) ||
            !cJSON_AddStringToObject(line, "sku",
                                     cJSON_GetObjectItemCaseSensitive(item, "sku")->valuestring) ||
            !cJSON_AddNumberToObject(line, "qty",
                                     cJSON_GetObjectItemCaseSensitive(item, "qty")->valuedouble))
            goto out;
    }
    if (!cJSON_AddStringToObject(
            doc, "customer_id",
            cJSON_GetObjectItemCaseSensitive(req, "customer_id")->valuestring) ||
        !cJSON_AddNumberToObject(
            doc, "total_amount",
            cJSON_GetObjectItemCaseSensitive(req, "total_amount")->valuedouble) ||
        !cJSON_AddStringToObject(doc, "currency",
                                 cJSON_GetObjectItemCaseSensitive(req, "currency")->valuestring))
        goto out;
    if ((text = cJSON_PrintUnformatted(doc)) != NULL)
        rc = order_sha256_hex("orders.create request\n", text, strlen(text), out, 32);
out:
    cJSON_free(text);
    cJSON_Delete(doc);
    return rc;
}

/*
 * The order id of an idempotency key: "ord-" and 128 bits of SHA-256 over
 * the key, so every retry of a request names the same order, and two keys
 * name the same order only by a SHA-256 collision.
 */
static int
order_id_of_key(const char *key, char out[ORDER_ID_LEN + 1])
{
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): order_sha256_hex terminates it
    memcpy(out, "ord-", 4);
    return order_sha256_hex("orders.create key\n", key, strlen(key), out + 4, 16);
}

/* Publish orders.created.v1 of a request; JW_OK or the host's error. */
static int
order_publish_created(order_ctx *ctx, const jw_msg *msg, const cJSON *req, const char *order_id,
                      int wait)
{
    char message_id[ORDER_ID_LEN + 16];
    cJSON *ev;
    int rc;

    snprintf(message_id, sizeof(message_id), "orders.created:%s", order_id);
    if ((ev = order_created_event(req, order_id, message_id)) == NULL)
        return JW_ENOMEM;
    if (wait) {
        char *text = cJSON_PrintUnformatted(ev);
        rc = text == NULL ? JW_ENOMEM
                          : ctx->host->publish(ctx->inst, msg, "orders.created.v1", text,
                                               strlen(text), message_id, NULL, 0);
        cJSON_free(text);
    } else {
        rc = oc_publish(ctx->host, ctx->inst, msg, "orders.created.v1", ev, message_id);
    }
    cJSON_Delete(ev);
    if (rc != JW_OK) {
        ctx->host->counter_add(ctx->inst, ctx->c_unavailable, 1);
        ctx->host->log(ctx->inst, msg, JW_LOG_WARN, "publish orders.created.v1 of %s failed: %d",
                       order_id, rc);
    }
    return rc;
}

/*
 * A keyed orders.create: record the key (or find the first answer), publish
 * unless the order is known to be accepted, mark it accepted, answer.
 *
 * The publish waits for its PubAck (publish, not publish_async) because the
 * record may say "accepted" only once the event is in the stream: marked
 * before, a crash before the PubAck would leave a key whose retries answer
 * an order that does not exist. A crash anywhere leaves the record PENDING
 * at worst, and the retry publishes again under the same message id.
 */
static void
order_create_keyed(order_ctx *ctx, const jw_msg *msg, const cJSON *req, const char *key)
{
    char oid[ORDER_ID_LEN + 1], fp[65], hk[64 + 1], rkey[16 + 64 + 1], skey[4 + ORDER_ID_LEN + 1];
    char ttl[24];
    const char *keys[2] = {rkey, skey}, *args[3] = {oid, fp, ttl}, *st, *got;
    jw_kv_reply *r = NULL;
    int rc, pending;

    if (order_id_of_key(key, oid) != 0 || order_fingerprint(req, fp) != 0 ||
        order_sha256_hex("", key, strlen(key), hk, 32) != 0) {
        ctx->host->log(ctx->inst, msg, JW_LOG_ERROR, "SHA-256 failed");
        order_reply(ctx, msg, "error", "unavailable");
        return;
    }
    snprintf(rkey, sizeof(rkey), "ord:idem:%s", hk);
    snprintf(skey, sizeof(skey), "ord:%s", oid);
    snprintf(ttl, sizeof(ttl), "%" PRId64, ctx->idem_ttl_ms);
    rc = ctx->host->kv_eval(ctx->inst, ORDER_SCRIPT_IDEM_BEGIN, 2, keys, 3, args, &r);
    st = rc == JW_OK ? oc_reply_str(r, 0) : NULL;
    got = rc == JW_OK ? oc_reply_str(r, 1) : NULL;
    if (st == NULL || got == NULL || !oc_id_ok(got, OC_ID_MAX)) {
        ctx->host->counter_add(ctx->inst, ctx->c_unavailable, 1);
        ctx->host->log(ctx->inst, msg, JW_LOG_WARN, "redis: idempotency record of %s: %s", oid,
                       r != NULL && r->type == JW_KV_ERROR ? r->str : "no usable reply");
        order_reply(ctx, msg, "error", "unavailable");
        goto out;
    }
    if (strcmp(st, "MISMATCH") == 0) {
        ctx->host->counter_add(ctx->inst, ctx->c_invalid, 1);
        order_reply(ctx, msg, "error",
                    "idempotency_key: already used for a different order request");
        goto out;
    }
    if (strcmp(st, "DONE") == 0) {
        ctx->host->counter_add(ctx->inst, ctx->c_replayed, 1);
        order_reply_ex(ctx, msg, "order_id", got, 1);
        goto out;
    }
    if (strcmp(st, "NEW") != 0 && strcmp(st, "PENDING") != 0) {
        ctx->host->counter_add(ctx->inst, ctx->c_unavailable, 1);
        ctx->host->log(ctx->inst, msg, JW_LOG_WARN, "redis: idempotency record of %s: status %s",
                       oid, st);
        order_reply(ctx, msg, "error", "unavailable");
        goto out;
    }
    /* The recorded id (the same unless the derivation ever changes); st
     * and got die with r, freed before the next script. */
    pending = strcmp(st, "PENDING") == 0;
    snprintf(oid, sizeof(oid), "%s", got);
    ctx->host->kv_reply_free(r);
    r = NULL;
    if (order_publish_created(ctx, msg, req, oid, 1) != JW_OK) {
        order_reply(ctx, msg, "error", "unavailable");
        goto out;
    }
    /* Not fatal when it fails: the record stays PENDING and a retry
     * publishes again under the same message id. */
    if (ctx->host->kv_eval(ctx->inst, ORDER_SCRIPT_IDEM_ACCEPTED, 1, keys, 0, NULL, &r) != JW_OK)
        ctx->host->log(ctx->inst, msg, JW_LOG_WARN, "could not mark %s accepted", oid);
    ctx->host->counter_add(ctx->inst, pending ? ctx->c_replayed : ctx->c_accepted, 1);
    order_reply_ex(ctx, msg, "order_id", oid, pending);
out:
    if (r != NULL)
        ctx->host->kv_reply_free(r);
}

/* orders.create: validate, publish orders.created.v1, then (only then) accept. */
static void
order_create(order_ctx *ctx, const jw_msg *msg)
{
    cJSON *req = cJSON_ParseWithLength((const char *)msg->data, msg->len);
    char err[ORDER_ERR_MAX], order_id[ORDER_ID_LEN + 1];
    const char *key = NULL;
    int haskey = 0;

    if (req == NULL) {
        ctx->host->counter_add(ctx->inst, ctx->c_invalid, 1);
        order_reply(ctx, msg, "error", "request is not valid JSON");
        return;
    }
    if (order_validate_request(req, ctx->max_items, err, sizeof(err)) != 0 ||
        (haskey = order_request_key(msg, req, &key, err, sizeof(err))) < 0) {
        ctx->host->counter_add(ctx->inst, ctx->c_invalid, 1);
        order_reply(ctx, msg, "error", err);
        goto out;
    }
    if (haskey) {
        order_create_keyed(ctx, msg, req, key);
        goto out;
    }
    if (ctx->require_key) {
        ctx->host->counter_add(ctx->inst, ctx->c_invalid, 1);
        order_reply(ctx, msg, "error",
                    "idempotency_key: missing (send a Nats-Msg-Id header or an idempotency_key "
                    "field)");
        goto out;
    }
    /* No key: a random id, and a retry is a new order (documented). */
    ctx->host->counter_add(ctx->inst, ctx->c_without_key, 1);
    memcpy(order_id, "ord-", 4);
    if (oc_rand_hex(order_id + 4, 8) != 0) {
        ctx->host->log(ctx->inst, msg, JW_LOG_ERROR, "getrandom failed");
        order_reply(ctx, msg, "error", "unavailable");
        goto out;
    }
    if (order_publish_created(ctx, msg, req, order_id, 0) != JW_OK) {
        order_reply(ctx, msg, "error", "unavailable");
        goto out;
    }
    ctx->host->counter_add(ctx->inst, ctx->c_accepted, 1);
    order_reply(ctx, msg, "order_id", order_id);
out:
    cJSON_Delete(req);
}

/*
 * Map an outcome event to the field and value it records, after checking
 * its subject-specific fields. Returns 0, 1 for an event of the subscribed
 * streams that does not concern the decision (payments.refunded.v1), or -1
 * with err set.
 */
static int
order_outcome(const char *subject, const cJSON *ev, const char **field, const char **value,
              char *err, size_t errlen)
{
    if (strcmp(subject, "payments.completed.v1") == 0) {
        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(ev, "currency");
        if (!oc_amount_ok(cJSON_GetObjectItemCaseSensitive(ev, "amount"))) {
            snprintf(err, errlen, "amount: must be a number > 0");
            return -1;
        }
        if (!cJSON_IsString(cur) || !oc_currency_ok(cur->valuestring)) {
            snprintf(err, errlen, "currency: must be three uppercase letters");
            return -1;
        }
        *field = "payment";
        *value = "completed";
    } else if (strcmp(subject, "payments.failed.v1") == 0) {
        if (oc_req_string(ev, "reason", err, errlen) == NULL)
            return -1;
        *field = "payment";
        *value = "failed";
    } else if (strcmp(subject, "inventory.reserved.v1") == 0) {
        *field = "inventory";
        *value = "reserved";
    } else if (strcmp(subject, "inventory.rejected.v1") == 0) {
        if (oc_req_string(ev, "reason", err, errlen) == NULL ||
            oc_req_string(ev, "sku", err, errlen) == NULL)
            return -1;
        *field = "inventory";
        *value = "rejected";
    } else if (strcmp(subject, "payments.refunded.v1") == 0) {
        return 1;
    } else {
        snprintf(err, errlen, "unexpected subject %s", subject);
        return -1;
    }
    return 0;
}

/* Publish a decision; JW_OK or the host's error. */
static int
order_publish_decision(order_ctx *ctx, const jw_msg *msg, const char *order_id,
                       const char *decision, const char *reason)
{
    char subject[64], mid[OC_ID_MAX + 32], ts[64];
    cJSON *ev = cJSON_CreateObject();
    int rc = JW_ENOMEM;

    snprintf(subject, sizeof(subject), "orders.%s.v1", decision);
    snprintf(mid, sizeof(mid), "orders.%s:%s", decision, order_id);
    oc_now_rfc3339(ts);
    if (ev != NULL && cJSON_AddStringToObject(ev, "message_id", mid) &&
        cJSON_AddStringToObject(ev, "order_id", order_id) &&
        cJSON_AddStringToObject(ev, "ts", ts) &&
        (reason[0] == '\0' || cJSON_AddStringToObject(ev, "reason", reason)))
        rc = oc_publish(ctx->host, ctx->inst, msg, subject, ev, mid);
    cJSON_Delete(ev);
    return rc;
}

/*
 * One outcome event of a batch: prepared (parsed, checked, its record
 * script built), then finished with the script's reply. Owned by the
 * handling call, on one worker thread.
 */
typedef struct order_job {
    const jw_msg *msg;
    jw_result *res;
    cJSON *ev;
    const char *oid, *field, *value;
    int run; /* 1: cmd is to run; 0: the verdict is already final */
    char key[OC_ID_MAX + 8];
    char ttl[24];
    const char *keys[1], *args[5];
    jw_kv_cmd cmd;
} order_job;

static void
order_prepare(order_ctx *ctx, order_job *j, int mark)
{
    char err[ORDER_ERR_MAX];
    const jw_msg *msg = j->msg;
    int rc;

    if ((j->ev = oc_parse_event(msg, &j->oid, err, sizeof(err))) == NULL) {
        oc_verdict(j->res, JW_REJECT, "%s: %s", msg->subject, err);
        return;
    }
    rc = order_outcome(msg->subject, j->ev, &j->field, &j->value, err, sizeof(err));
    if (rc < 0)
        oc_verdict(j->res, JW_REJECT, "%s: %s", msg->subject, err);
    if (rc != 0)
        return;
    snprintf(j->key, sizeof(j->key), "ord:%s", j->oid);
    snprintf(j->ttl, sizeof(j->ttl), "%" PRId64, ctx->state_ttl_ms);
    j->keys[0] = j->key;
    j->args[0] = j->field;
    j->args[1] = j->value;
    j->args[2] = j->ttl;
    j->args[3] = "1";
    j->args[4] = msg->deliveries > 1 ? "1" : "0";
    j->cmd = (jw_kv_cmd){ORDER_SCRIPT_RECORD, 1, j->keys, mark ? 5 : 3, j->args};
    j->run = 1;
}

/*
 * After the record script: publish the decision when there is one to
 * publish. Returns 1 when a 1.0 host published it (it is to be marked
 * published), else 0.
 */
static int
order_finish(order_ctx *ctx, order_job *j, const jw_kv_reply *r, int mark)
{
    const char *st, *dec, *why;
    int rc;

    if (r == NULL || r->type == JW_KV_ERROR) {
        oc_verdict(j->res, JW_RETRY, "redis: record %s=%s: %s", j->field, j->value,
                   r ? r->str : "unavailable");
        return 0;
    }
    st = oc_reply_str(r, 0);
    dec = oc_reply_str(r, 1);
    why = oc_reply_str(r, 2);
    if (st == NULL || dec == NULL || why == NULL) {
        oc_verdict(j->res, JW_RETRY, "redis: unexpected reply of the record script");
        return 0;
    }
    if (strcmp(st, "DECIDED") != 0 && strcmp(st, "UNPUBLISHED") != 0)
        return 0; /* WAITING or DONE: nothing to publish */
    rc = order_publish_decision(ctx, j->msg, j->oid, dec, why);
    if (rc != JW_OK) {
        oc_verdict(j->res, JW_RETRY, "publish orders.%s.v1 failed (%d)", dec, rc);
        return 0;
    }
    if (strcmp(st, "DECIDED") == 0)
        ctx->host->counter_add(
            ctx->inst, strcmp(dec, "confirmed") == 0 ? ctx->c_confirmed : ctx->c_cancelled, 1);
    return !mark;
}

/*
 * Outcome events of payment and inventory: record each and decide (one
 * pipelined round trip for the batch on a 1.1 host), then publish the
 * decisions made. With publish_async the record script marks a decision
 * published as it makes it (the host ACKs the message only after the
 * PubAck, and a redelivery publishes again); on a 1.0 host the publish
 * waits for its PubAck and ORDER_SCRIPT_PUBLISHED marks it after.
 */
static void
order_events(order_ctx *ctx, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    /* One message (handle()) needs no heap. */
    order_job one_job, *jobs = &one_job;
    jw_kv_cmd one_cmd, *cmds = &one_cmd;
    jw_kv_reply *one_reply, **replies = &one_reply;
    int mark = oc_async_publish(ctx->host);
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
        order_prepare(ctx, &jobs[i], mark);
        if (jobs[i].run)
            cmds[ncmd++] = jobs[i].cmd;
    }
    oc_kv_run(ctx->host, ctx->inst, cmds, ncmd, replies);
    ncmd = 0;
    for (size_t i = 0; i < n; i++) {
        order_job *j = &jobs[i];

        if (!j->run || !order_finish(ctx, j, replies[ncmd++], mark))
            continue;
        {
            /* Not fatal when it fails: a later event re-publishes under the same id. */
            jw_kv_reply *r = NULL;
            if (ctx->host->kv_eval(ctx->inst, ORDER_SCRIPT_PUBLISHED, 1, j->keys, 0, NULL, &r) !=
                JW_OK)
                ctx->host->log(ctx->inst, j->msg, JW_LOG_WARN, "could not mark %s published",
                               j->oid);
            if (r != NULL)
                ctx->host->kv_reply_free(r);
        }
    }
    for (size_t i = 0; i < ncmd; i++) {
        if (replies[i] != NULL)
            ctx->host->kv_reply_free(replies[i]);
    }
out:
    for (size_t i = 0; jobs && cmds && replies && i < n; i++)
        cJSON_Delete(jobs[i].ev);
    if (n > 1) {
        free(replies);
        free(cmds);
        free(jobs);
    }
}

static void
order_handle(void *vctx, const jw_msg *msg, jw_result *res)
{
    order_ctx *ctx = vctx;

    if (msg->reply != NULL) {
        order_create(ctx, msg);
        res->verdict = JW_ACK; /* ignored for services */
        return;
    }
    order_events(ctx, &msg, res, 1);
}

/* Consumers only: the host calls handle() for the orders.create service. */
static void
order_handle_batch(void *vctx, const jw_msg *const *msgs, jw_result *results, size_t n)
{
    order_events(vctx, msgs, results, n);
}

static int
order_init(const jw_host *host, jw_instance *inst, const char *config_json, void **out, char *err,
           size_t errlen)
{
    cJSON *cfg = cJSON_Parse(config_json ? config_json : "{}");
    const cJSON *v;
    order_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL || cfg == NULL) {
        snprintf(err, errlen, ctx ? "config is not JSON" : "out of memory");
        goto fail;
    }
    ctx->host = host;
    ctx->inst = inst;
    ctx->max_items = 100;
    ctx->state_ttl_ms = 7 * 24 * 3600 * 1000LL;
    ctx->require_key =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "require_idempotency_key"));
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(cfg, "max_items")))
        ctx->max_items = (int)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(cfg, "state_ttl")))
        ctx->state_ttl_ms = (int64_t)v->valuedouble;
    /* As long as the order's state by default: a retry that comes after its
     * key is forgotten is still answered while ord:<id> lives (IDEM_BEGIN). */
    ctx->idem_ttl_ms = ctx->state_ttl_ms;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(cfg, "idempotency_ttl")))
        ctx->idem_ttl_ms = (int64_t)v->valuedouble;
    if (ctx->max_items < 1 || ctx->max_items > 10000) {
        snprintf(err, errlen, "max_items: must be from 1 to 10000");
        goto fail;
    }
    if (ctx->state_ttl_ms < 0) {
        snprintf(err, errlen, "state_ttl: must not be negative");
        goto fail;
    }
    if (ctx->idem_ttl_ms < 0) {
        snprintf(err, errlen, "idempotency_ttl: must not be negative");
        goto fail;
    }
    if (host->counter_register(inst, "orders_accepted", "orders accepted by orders.create",
                               &ctx->c_accepted) != JW_OK ||
        host->counter_register(inst, "orders_invalid", "orders.create requests refused as invalid",
                               &ctx->c_invalid) != JW_OK ||
        host->counter_register(inst, "orders_unavailable",
                               "orders.create requests failed by a publish error",
                               &ctx->c_unavailable) != JW_OK ||
        host->counter_register(inst, "orders_confirmed", "orders confirmed", &ctx->c_confirmed) !=
            JW_OK ||
        host->counter_register(inst, "orders_cancelled", "orders cancelled", &ctx->c_cancelled) !=
            JW_OK ||
        host->counter_register(inst, "orders_replayed",
                               "orders.create retries answered with the order of their key",
                               &ctx->c_replayed) != JW_OK ||
        host->counter_register(inst, "orders_without_key",
                               "orders.create requests without an idempotency key (not retry-safe)",
                               &ctx->c_without_key) != JW_OK) {
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
order_fini(void *ctx)
{
    free(ctx);
}

static const jw_option order_options[] = {
    {"max_items", JW_OPT_INT, "100", 0, "most lines one order may have"},
    {"state_ttl", JW_OPT_DURATION, "168h", 0, "how long an order's state is kept in Redis"},
    {"idempotency_ttl", JW_OPT_DURATION, NULL, 0,
     "how long an orders.create idempotency key is remembered (default: state_ttl; 0 = forever)"},
    {"require_idempotency_key", JW_OPT_BOOL, "false", 0,
     "refuse orders.create requests without an idempotency key"},
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin order_plugin = {
    JW_PLUGIN_STAMP,    .name = "order",
    .version = "1.1.0", .options = order_options,
    .init = order_init, .handle = order_handle,
    .fini = order_fini, .handle_batch = order_handle_batch,
};

JW_PLUGIN_DEFINE(order_plugin)
