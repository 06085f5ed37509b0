/*
 * bad_options.so -- negative test fixture: an int option whose default is not an integer.
 * The descriptor is built by hand (not JW_PLUGIN_STAMP) so it can be wrong.
 */
#include <jetway/plugin.h>
#include <stddef.h>
#include <stdio.h>

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

static const jw_option fx_options[] = {
    {"count", JW_OPT_INT, "many", 0, "the default is not an integer"},
    {NULL, 0, NULL, 0, NULL},
};
static const jw_plugin fx_desc = {
    .magic = JW_PLUGIN_MAGIC,
    .abi_major = JW_ABI_MAJOR,
    .abi_minor = JW_ABI_MINOR,
    .struct_size = sizeof(jw_plugin),
    .build_sig = JW_BUILD_SIG,
    .name = "bad_options",
    .version = "1",
    .init = fx_init,
    .handle = fx_handle,
    .fini = fx_fini,
    .options = fx_options,
};

JW_EXPORT const jw_plugin *jw_plugin_query(uint32_t host_major, uint32_t host_minor);

const jw_plugin *
jw_plugin_query(uint32_t host_major, uint32_t host_minor)
{
    (void)host_major;
    (void)host_minor;
    return &fx_desc;
}
