/*
 * slow_init.so -- test fixture: init() first creates the file named by the
 * `marker` option (if any), then sleeps `init_sleep`, so a test knows a
 * reload is inside plugin init and can signal the host right then. handle()
 * ACKs; fini() removes the marker.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jetway/plugin.h"

/* Owned by the instance; immutable after init. */
typedef struct slow_ctx {
    char *marker;
} slow_ctx;

static int
slow_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
          size_t errlen)
{
    (void)host;
    (void)inst;
    (void)err;
    (void)errlen;
    cJSON *cfg = cJSON_Parse(config_json);
    slow_ctx *c = calloc(1, sizeof(*c));
    if (!cfg || !c) {
        cJSON_Delete(cfg);
        free(c);
        return JW_ENOMEM;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cfg, "marker");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(cfg, "init_sleep");
    int64_t ms = cJSON_IsNumber(s) ? (int64_t)s->valuedouble : 0;
    if (cJSON_IsString(m) && *m->valuestring) {
        c->marker = strdup(m->valuestring);
        int fd = c->marker ? open(c->marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
        if (fd >= 0)
            close(fd);
    }
    cJSON_Delete(cfg);
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    *ctx = c;
    return 0;
}

static void
slow_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    (void)ctx;
    (void)msg;
    res->verdict = JW_ACK;
}

static void
slow_fini(void *ctx)
{
    slow_ctx *c = ctx;
    if (c->marker)
        unlink(c->marker);
    free(c->marker);
    free(c);
}

static const jw_option slow_options[] = {
    {"init_sleep", JW_OPT_DURATION, "0", 0, "sleep this long in init()"},
    {"marker", JW_OPT_STRING, "", 0, "file created when init() starts, removed by fini()"},
    {NULL, 0, NULL, 0, NULL},
};

static const jw_plugin slow_plugin = {
    JW_PLUGIN_STAMP,   .name = "slow_init",   .version = "1",    .options = slow_options,
    .init = slow_init, .handle = slow_handle, .fini = slow_fini,
};

JW_PLUGIN_DEFINE(slow_plugin)
