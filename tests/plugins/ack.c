/*
 * ack.so -- test fixture: ACKs every message. Counts its calls in an atomic
 * and in a plugin counter (jetway_plugin_calls_total), and logs the count at
 * fini. Options: note (string, default ""), ignored.
 *
 * ack_v2.c includes this file with another ACK_VERSION, so tests can swap
 * the bytes of a plugin on disk and see the new descriptor.
 */
#include <jetway/plugin.h>
#include <stdatomic.h>
#include <stdlib.h>

#ifndef ACK_VERSION
#define ACK_VERSION "1"
#endif

/* Owned by the instance; handle() may run on several threads at once. */
typedef struct ack_ctx {
    const jw_host *host;
    jw_instance *inst;
    uint32_t counter;
    int have_counter;
    atomic_ulong calls;
} ack_ctx;

static int
ack_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
         size_t errlen)
{
    (void)config_json;
    (void)err;
    (void)errlen;
    ack_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return JW_ENOMEM;
    c->host = host;
    c->inst = inst;
    atomic_init(&c->calls, 0);
    if (host && host->counter_register &&
        host->counter_register(inst, "calls", "handle() calls of the ack test plugin",
                               &c->counter) == 0)
        c->have_counter = 1;
    *ctx = c;
    return 0;
}

static void
ack_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    (void)msg;
    ack_ctx *c = ctx;
    atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);
    if (c->have_counter)
        c->host->counter_add(c->inst, c->counter, 1);
    res->verdict = JW_ACK;
}

static void
ack_fini(void *ctx)
{
    ack_ctx *c = ctx;
    if (c->host && c->host->log)
        c->host->log(c->inst, NULL, JW_LOG_INFO, "ack plugin version %s handled %lu messages",
                     ACK_VERSION, (unsigned long)atomic_load(&c->calls));
    free(c);
}

static const jw_option ack_options[] = {
    {"note", JW_OPT_STRING, "", 0, "free text, ignored"},
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin ack_desc = {
    JW_PLUGIN_STAMP,  .name = "ack",        .version = ACK_VERSION, .options = ack_options,
    .init = ack_init, .handle = ack_handle, .fini = ack_fini,
};

JW_PLUGIN_DEFINE(ack_desc)
