/*
 * no_symbol.so -- negative test fixture: a complete descriptor, but the
 * query function is hidden, so the object exports no jw_plugin_query (only
 * a decoy of another name).
 */
#include <jetway/plugin.h>

static int
fx_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
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
fx_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    (void)ctx;
    (void)msg;
    res->verdict = JW_ACK;
}

static void
fx_fini(void *ctx)
{
    (void)ctx;
}

static const jw_plugin fx_desc = {
    JW_PLUGIN_STAMP, .name = "no_symbol", .version = "1",
    .init = fx_init, .handle = fx_handle, .fini = fx_fini,
};

/* Not exported: -fvisibility=hidden applies. */
const jw_plugin *jw_plugin_query(uint32_t host_major, uint32_t host_minor);

const jw_plugin *
jw_plugin_query(uint32_t host_major, uint32_t host_minor)
{
    (void)host_major;
    (void)host_minor;
    return &fx_desc;
}

JW_EXPORT const jw_plugin *jw_plugin_query_v0(uint32_t host_major, uint32_t host_minor);

const jw_plugin *
jw_plugin_query_v0(uint32_t host_major, uint32_t host_minor)
{
    return jw_plugin_query(host_major, host_minor);
}
