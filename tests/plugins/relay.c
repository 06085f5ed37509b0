/*
 * relay.so -- test fixture for trace propagation. For every message it logs,
 * through host->log (so the host adds the trace and span ids), one line
 *   "relay <message_id> traceparent=<value|-> tracestate=<value|->"
 * with the incoming message's W3C headers, then, when `to` is set, publishes
 * the payload to that subject through host->publish (the host derives the
 * Nats-Msg-Id and injects traceparent/tracestate) and ACKs. A failed publish
 * RETRYs.
 *
 * Options:
 *   to   default "": subject to publish the payload to; empty = only log
 */
#include <cjson/cJSON.h>
#include <jetway/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Owned by the instance; immutable after init; handle() may run on
 * several threads at once. */
typedef struct relay_ctx {
    const jw_host *host;
    jw_instance *inst;
    char *to;
} relay_ctx;

static int
relay_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
           size_t errlen)
{
    cJSON *cfg = cJSON_Parse(config_json ? config_json : "{}");
    relay_ctx *c = calloc(1, sizeof(*c));
    const cJSON *to = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "to") : NULL;
    if (c)
        c->to = strdup(cJSON_IsString(to) ? to->valuestring : "");
    cJSON_Delete(cfg);
    if (!c || !c->to) {
        if (c)
            free(c->to);
        free(c);
        snprintf(err, errlen, "out of memory");
        return JW_ENOMEM;
    }
    c->host = host;
    c->inst = inst;
    *ctx = c;
    return JW_OK;
}

static const char *
header(const relay_ctx *c, const jw_msg *msg, const char *key)
{
    const char *v = NULL;
    if (c->host->msg_header(msg, key, &v) != JW_OK || !v)
        return "-";
    return v;
}

static void
relay_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    relay_ctx *c = ctx;
    c->host->log(c->inst, msg, JW_LOG_INFO, "relay %s traceparent=%s tracestate=%s",
                 msg->message_id ? msg->message_id : "-", header(c, msg, "traceparent"),
                 header(c, msg, "tracestate"));
    if (!c->to[0])
        return;
    if (c->host->publish(c->inst, msg, c->to, msg->data, msg->len, NULL, NULL, 0) != JW_OK) {
        res->verdict = JW_RETRY;
        snprintf(res->reason, sizeof(res->reason), "publish to %s failed", c->to);
    }
}

static void
relay_fini(void *ctx)
{
    relay_ctx *c = ctx;
    free(c->to);
    free(c);
}

static const jw_option relay_options[] = {
    {"to", JW_OPT_STRING, "", 0, "subject to publish each payload to (empty: only log)"},
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin relay_desc = {
    JW_PLUGIN_STAMP,    .name = "relay",        .version = "1.0.0", .options = relay_options,
    .init = relay_init, .handle = relay_handle, .fini = relay_fini,
};

JW_PLUGIN_DEFINE(relay_desc)
