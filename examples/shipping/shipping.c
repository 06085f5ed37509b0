/*
 * shipping.c -- an example plugin to start from, built out of tree against
 * the installed jetway (see Makefile): a `shipping` handler on
 * orders.confirmed.v1 that schedules a shipment and publishes
 * shipping.scheduled.v1 (schema: shipping.scheduled.v1.json).
 *
 * It shows the pieces a real plugin has: declared options (validated by the
 * host before init sees them), per-instance state, parsing the event,
 * the verdicts (REJECT: dead-letter what can never work; RETRY: what may
 * work later), and a publish whose message id comes from the input, so a
 * redelivery publishes no duplicate.
 *
 * Threads: handle() runs on several workers at once (the consumer's
 * concurrency); it only reads the instance's state, set once in init().
 */
#include <jetway/plugin.h>
#include <jetway/plugin_util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const jw_option shipping_options[] = {
    {"carrier", JW_OPT_STRING, "post", 0, "carrier named in shipping.scheduled.v1"},
    {"subject", JW_OPT_STRING, "shipping.scheduled.v1", 0, "subject the events go to"},
    {NULL, 0, NULL, 0, NULL},
};

/* One per instance; read-only after init, so handle() needs no lock. */
typedef struct shipping {
    const jw_host *host;
    jw_instance *inst;
    char carrier[64];
    char subject[128];
} shipping;

static int
shipping_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx,
              char *err, size_t errlen)
{
    shipping *s = calloc(1, sizeof(*s));
    cJSON *cfg = cJSON_Parse(config_json); /* validated, defaults applied */
    if (!s || !cfg) {
        free(s);
        cJSON_Delete(cfg);
        snprintf(err, errlen, "out of memory");
        return JW_ENOMEM;
    }
    s->host = host;
    s->inst = inst;
    snprintf(s->carrier, sizeof(s->carrier), "%s",
             cJSON_GetObjectItemCaseSensitive(cfg, "carrier")->valuestring);
    snprintf(s->subject, sizeof(s->subject), "%s",
             cJSON_GetObjectItemCaseSensitive(cfg, "subject")->valuestring);
    cJSON_Delete(cfg);
    *ctx = s;
    return JW_OK;
}

static void
shipping_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    shipping *s = ctx;
    char err[160], mid[128], ts[64];
    cJSON *ev = jwu_parse_object(msg, err, sizeof(err));
    const char *order_id = ev ? jwu_req_string(ev, "order_id", err, sizeof(err)) : NULL;
    if (!order_id || !jwu_id_ok(order_id, 64)) {
        /* Malformed input never gets better: dead-letter it with the reason. */
        jwu_reject(res, "bad %s event: %s", msg->subject, order_id ? "order_id" : err);
        cJSON_Delete(ev);
        return;
    }
    /* The id is derived from the order: a redelivery publishes the same id,
     * and the stream's duplicate window drops the copy. */
    snprintf(mid, sizeof(mid), "shipping.scheduled:%s", order_id);
    jwu_now_rfc3339(ts);
    cJSON *out = cJSON_CreateObject();
    int rc = JW_ENOMEM;
    if (out && cJSON_AddStringToObject(out, "message_id", mid) &&
        cJSON_AddStringToObject(out, "order_id", order_id) &&
        cJSON_AddStringToObject(out, "carrier", s->carrier) &&
        cJSON_AddStringToObject(out, "ts", ts))
        rc = jwu_publish_json(s->host, s->inst, msg, s->subject, out, mid);
    if (rc != JW_OK)
        jwu_retry(res, "publish %s: error %d", s->subject, rc); /* NATS may be back soon */
    else
        s->host->log(s->inst, msg, JW_LOG_INFO, "shipment of %s scheduled with %s", order_id,
                     s->carrier);
    cJSON_Delete(out);
    cJSON_Delete(ev);
}

static void
shipping_fini(void *ctx)
{
    free(ctx);
}

static const jw_plugin shipping_plugin = {
    JW_PLUGIN_STAMP,       .name = "shipping",
    .version = "1.0.0",    .options = shipping_options,
    .init = shipping_init, .handle = shipping_handle,
    .fini = shipping_fini,
};
JW_PLUGIN_DEFINE(shipping_plugin)
