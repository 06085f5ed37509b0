/*
 * retry.so -- test fixture: every message gets RETRY ("always retry"), so
 * the host's backoff, max_deliver and dead-lettering can be observed.
 */
#include <jetway/plugin.h>
#include <stdio.h>

static int
retry_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
           size_t errlen)
{
    (void)host;
    (void)inst;
    (void)config_json;
    (void)err;
    (void)errlen;
    *ctx = NULL;
    return 0;
}

static void
retry_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    (void)ctx;
    (void)msg;
    res->verdict = JW_RETRY;
    snprintf(res->reason, sizeof(res->reason), "always retry");
}

static void
retry_fini(void *ctx)
{
    (void)ctx;
}

static const jw_plugin retry_desc = {
    JW_PLUGIN_STAMP,    .name = "retry",        .version = "1",
    .init = retry_init, .handle = retry_handle, .fini = retry_fini,
};

JW_PLUGIN_DEFINE(retry_desc)
