/*
 * stamp.c -- bench fixture: records, for each message, the time from its
 * publish to the moment jetway hands it to the handler, and answers JW_ACK.
 *
 * The publisher (build/bench/fill --rate) puts "seq" (from 1) and "ts"
 * (CLOCK_REALTIME ns at publish) in the JSON payload. The latency goes into
 * a file mapped MAP_SHARED, one int64_t per slot at (seq - 1) % slots, so
 * recording costs a clock read, two short scans of the payload and one
 * store: no syscall, no lock, no allocation on the hot path. The bench
 * driver reads the file after the run (build/bench/latstat); the page cache
 * makes the stores visible to it without msync.
 *
 * Config:  path: FILE   (required; created, truncated to slots * 8 bytes)
 *          slots: N     (default 1048576)
 *
 * Threads: handle() runs on several workers at once; each message owns its
 * slot, and a redelivery of the same seq just overwrites it (relaxed atomic
 * store, so even that is no data race).
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "jetway/plugin.h"

/* Owned by the instance; the mapping is written by every worker thread. */
typedef struct stamp_ctx {
    int64_t *slots;
    uint64_t nslots;
} stamp_ctx;

static const jw_option stamp_options[] = {
    {"path", JW_OPT_STRING, NULL, 1, "latency file to write (int64 ns per slot)"},
    {"slots", JW_OPT_INT, "1048576", 0, "number of slots; seq maps to (seq-1) % slots"},
    {NULL, 0, NULL, 0, NULL},
};

static int
stamp_init(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx, char *err,
           size_t errlen)
{
    (void)host;
    (void)inst;
    cJSON *cfg = cJSON_Parse(config_json);
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(cfg, "path");
    const cJSON *slots = cJSON_GetObjectItemCaseSensitive(cfg, "slots");
    if (!cJSON_IsString(path) || path->valuestring[0] == '\0') {
        snprintf(err, errlen, "stamp: 'path' is required");
        cJSON_Delete(cfg);
        return JW_EINVAL;
    }
    double n = cJSON_IsNumber(slots) ? slots->valuedouble : 1048576.0;
    if (n < 1 || n > (double)(1 << 28)) {
        snprintf(err, errlen, "stamp: 'slots' must be within 1..%d", 1 << 28);
        cJSON_Delete(cfg);
        return JW_EINVAL;
    }
    stamp_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        cJSON_Delete(cfg);
        return JW_ENOMEM;
    }
    c->nslots = (uint64_t)n;
    size_t bytes = (size_t)c->nslots * sizeof(int64_t);
    int fd = open(path->valuestring, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) {
        snprintf(err, errlen, "stamp: cannot create %s", path->valuestring);
        if (fd >= 0)
            close(fd);
        free(c);
        cJSON_Delete(cfg);
        return JW_EIO;
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    cJSON_Delete(cfg);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "stamp: mmap failed");
        free(c);
        return JW_EIO;
    }
    c->slots = p;
    *ctx = c;
    return 0;
}

/* The unsigned decimal after `key` in a payload that is not NUL-terminated. */
static int
stamp_field(const void *data, size_t len, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    const char *p = memmem(data, len, key, klen);
    if (p == NULL)
        return -1;
    const char *end = (const char *)data + len;
    uint64_t v = 0;
    int digits = 0;
    for (p += klen; p < end && *p >= '0' && *p <= '9' && digits < 20; p++, digits++)
        v = v * 10 + (uint64_t)(*p - '0');
    *out = v;
    return digits > 0 ? 0 : -1;
}

static void
stamp_handle(void *ctx, const jw_msg *msg, jw_result *res)
{
    stamp_ctx *c = ctx;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    res->verdict = JW_ACK;
    uint64_t seq = 0;
    uint64_t ts = 0;
    if (stamp_field(msg->data, msg->len, "\"seq\":", &seq) != 0 || seq == 0 ||
        stamp_field(msg->data, msg->len, "\"ts\":", &ts) != 0)
        return; /* not a bench message: nothing to record, still ACK */
    int64_t d = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - (int64_t)ts;
    __atomic_store_n(&c->slots[(seq - 1) % c->nslots], d > 0 ? d : 1, __ATOMIC_RELAXED);
}

static void
stamp_fini(void *ctx)
{
    stamp_ctx *c = ctx;
    munmap(c->slots, (size_t)c->nslots * sizeof(int64_t));
    free(c);
}

static const jw_plugin stamp_plugin = {
    JW_PLUGIN_STAMP,    .name = "stamp",        .version = "1.0.0", .options = stamp_options,
    .init = stamp_init, .handle = stamp_handle, .fini = stamp_fini,
};

JW_PLUGIN_DEFINE(stamp_plugin)
