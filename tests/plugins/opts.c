/*
 * opts.c -- fixture: a plugin that declares options (prefix, limit) and
 * acks everything. Used by the `jetway check` tests, which validate a
 * config's plugin blocks against the declared options.
 */
#include <jetway/plugin.h>
#include <stdlib.h>

static int
opts_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
          size_t errlen)
{
    (void)host;
    (void)inst;
    (void)config_json;
    (void)err;
    (void)errlen;
    *ctx = NULL;
    return JW_OK;
}

static void
opts_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    (void)ctx;
    (void)msg;
    res->verdict = JW_ACK;
}

static void
opts_fini(void *ctx)
{
    (void)ctx;
}

static const jw_option opts_options[] = {
    {"prefix", JW_OPT_STRING, "", 0, "a subject prefix"},
    {"limit", JW_OPT_INT, "0", 0, "a limit"},
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin opts_plugin = {
    JW_PLUGIN_STAMP,   .name = "opts",        .version = "1.0.0", .options = opts_options,
    .init = opts_init, .handle = opts_handle, .fini = opts_fini,
};

JW_PLUGIN_DEFINE(opts_plugin)
