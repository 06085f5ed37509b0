/*
 * no_symbol.so -- negative test fixture: a complete descriptor, but the
 * query function is hidden, so the object exports no jw_plugin_query (only
 * a decoy of another name).
 */
#include "fixture.h"

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
