/*
 * hello.c -- the smallest useful jetway plugin, built out of tree against
 * the installed header and pkg-config file (see README, "Writing a plugin"):
 *
 *   cc $(pkg-config --cflags jetway-plugin) -o hello.so hello.c \
 *      $(pkg-config --libs jetway-plugin)
 *
 * It logs every message and publishes a greeting to `<subject>.hello`.
 */
#include <jetway/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hello {
    const jw_host *host;
    jw_instance *inst;
} hello;

static int
hello_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
           size_t errlen)
{
    (void)config_json;
    hello *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return JW_ENOMEM;
    }
    h->host = host;
    h->inst = inst;
    *ctx = h;
    return JW_OK;
}

static void
hello_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    hello *h = ctx;
    h->host->log(h->inst, msg, JW_LOG_INFO, "hello from %s (%zu bytes)", msg->subject, msg->len);
    char subject[256];
    snprintf(subject, sizeof(subject), "%s.hello", msg->subject);
    /* msg_id NULL: the host derives one from this message's id. */
    if (h->host->publish(h->inst, msg, subject, "hi", 2, NULL, NULL, 0) != JW_OK) {
        res->verdict = JW_RETRY;
        snprintf(res->reason, sizeof(res->reason), "publish failed");
    }
}

static void
hello_fini(void *ctx)
{
    free(ctx);
}

static const jw_plugin hello_plugin = {
    JW_PLUGIN_STAMP,    .name = "hello",        .version = "1.0.0",
    .init = hello_init, .handle = hello_handle, .fini = hello_fini,
};

JW_PLUGIN_DEFINE(hello_plugin)
