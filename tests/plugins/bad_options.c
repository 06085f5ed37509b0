/*
 * bad_options.so -- negative test fixture: an int option whose default is not an integer.
 * The descriptor is built by hand (not JW_PLUGIN_STAMP) so it can be wrong.
 */
#include "fixture.h"
#include <stdio.h>

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
