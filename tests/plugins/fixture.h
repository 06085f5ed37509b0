/*
 * fixture.h -- what the ABI-negative fixture plugins share: do-nothing
 * callbacks, a descriptor whose every stamp field is spelled out (so each
 * fixture can get exactly one of them wrong), and an exported query that
 * hands it out whatever the host asks for. Included by one .c per fixture;
 * not a plugin of its own.
 */
#ifndef JW_TEST_FIXTURE_H
#define JW_TEST_FIXTURE_H

#include <jetway/plugin.h>
#include <stddef.h>

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

/* unused by missing_handle.so, which leaves handle NULL on purpose */
__attribute__((unused)) static void
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

/* The descriptor with each stamp field given; the right values are
 * JW_PLUGIN_MAGIC, JW_ABI_MAJOR, JW_ABI_MINOR, sizeof(jw_plugin), JW_BUILD_SIG. */
#define FX_DESCRIPTOR(NAME, MAGIC, MAJOR, MINOR, SIZE, SIG, HANDLE)                       \
    static const jw_plugin fx_desc = {                                                    \
        .magic = (MAGIC),                                                                 \
        .abi_major = (MAJOR),                                                             \
        .abi_minor = (MINOR),                                                             \
        .struct_size = (SIZE),                                                            \
        .build_sig = (SIG),                                                               \
        .name = (NAME),                                                                   \
        .version = "1",                                                                   \
        .init = fx_init,                                                                  \
        .handle = (HANDLE),                                                               \
        .fini = fx_fini,                                                                  \
    };                                                                                    \
    JW_EXPORT const jw_plugin *jw_plugin_query(uint32_t host_major, uint32_t host_minor); \
    const jw_plugin *jw_plugin_query(uint32_t host_major, uint32_t host_minor)            \
    {                                                                                     \
        (void)host_major;                                                                 \
        (void)host_minor;                                                                 \
        return &fx_desc;                                                                  \
    }

#endif /* JW_TEST_FIXTURE_H */
