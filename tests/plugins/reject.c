/*
 * reject.so -- test fixture: every message gets REJECT ("rejected by test"), so
 * the host's dead-lettering of permanent failures can be observed.
 */
#include <jetway/plugin.h>
#include <stdio.h>

static int
reject_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
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
reject_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    (void)ctx;
    (void)msg;
    res->verdict = JW_REJECT;
    snprintf(res->reason, sizeof(res->reason), "rejected by test");
}

static void
reject_fini(void *ctx)
{
    (void)ctx;
}

static const jw_plugin reject_desc = {
    JW_PLUGIN_STAMP,     .name = "reject",        .version = "1",
    .init = reject_init, .handle = reject_handle, .fini = reject_fini,
};

JW_PLUGIN_DEFINE(reject_desc)
