/*
 * reserved_set.so -- negative test fixture: reserved[0] is not NULL.
 * The descriptor is built by hand (not JW_PLUGIN_STAMP) so it can be wrong.
 */
#include "fixture.h"
#include <stdio.h>

static const jw_plugin fx_desc = {
    .magic = JW_PLUGIN_MAGIC,
    .abi_major = JW_ABI_MAJOR,
    .abi_minor = JW_ABI_MINOR,
    .struct_size = sizeof(jw_plugin),
    .build_sig = JW_BUILD_SIG,
    .name = "reserved_set",
    .version = "1",
    .init = fx_init,
    .handle = fx_handle,
    .fini = fx_fini,
    .reserved = {(void *)&fx_desc},
};

JW_EXPORT const jw_plugin *jw_plugin_query(uint32_t host_major, uint32_t host_minor);

const jw_plugin *
jw_plugin_query(uint32_t host_major, uint32_t host_minor)
{
    (void)host_major;
    (void)host_minor;
    return &fx_desc;
}
