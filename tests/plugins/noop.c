/*
 * noop.c -- test and bench fixture: a handler that does nothing and always
 * answers JW_ACK. It measures the host's own cost per message (fetch, route,
 * dedup, worker hand-off, ack) with nothing of a plugin's on top.
 */
#include <stddef.h>

#include "jetway/plugin.h"

/* No state: the context is a non-NULL dummy so the host can tell "set". */
static int noop_ctx;

static int
noop_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
          size_t errlen)
{
    (void)host;
    (void)inst;
    (void)config_json;
    (void)err;
    (void)errlen;
    *ctx = &noop_ctx;
    return 0;
}

static void
noop_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    (void)ctx;
    (void)msg;
    res->verdict = JW_ACK;
}

static void
noop_fini(void *ctx)
{
    (void)ctx;
}

static const jw_plugin noop_plugin = {
    JW_PLUGIN_STAMP,   .name = "noop",        .version = "1.0.0", .options = NULL,
    .init = noop_init, .handle = noop_handle, .fini = noop_fini,
};

JW_PLUGIN_DEFINE(noop_plugin)
