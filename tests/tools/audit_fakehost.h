/*
 * audit_fakehost.h -- a jw_host table for driving a plugin .so without the
 * jetway host (plugins/audit/tests/, plugins/tools/tests/,
 * tests/tools/audit_gen.c): logging to stderr, counters by name, every
 * other service JW_ENOTSUP. Plugins are pure C against the ABI, so this is
 * all the audit plugin needs.
 *
 * Threads: every function may be called from any thread (counters are
 * atomic, registration takes a mutex), as the ABI promises.
 */
#ifndef JW_AUDIT_FAKEHOST_H
#define JW_AUDIT_FAKEHOST_H

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jetway/plugin.h"

#define FH_MAX_COUNTERS 16

/* Process-wide: one fake host at a time. */
typedef struct fake_host {
    pthread_mutex_t mu;
    const char *names[FH_MAX_COUNTERS];
    _Atomic uint64_t values[FH_MAX_COUNTERS];
    unsigned ncounters;
    int quiet; /* don't print logs below WARN */
} fake_host;

static fake_host fh_state = {.mu = PTHREAD_MUTEX_INITIALIZER};

static inline void
fh_log(jw_instance *inst, const jw_msg *msg, jw_log_level level, const char *fmt, ...)
{
    (void)inst;
    if (fh_state.quiet && level > JW_LOG_WARN)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[plugin %d] %s%s%s\n", (int)level, line, msg && msg->message_id ? " id=" : "",
            msg && msg->message_id ? msg->message_id : "");
}

static inline int
fh_counter_register(jw_instance *inst, const char *name, const char *help, uint32_t *id)
{
    (void)inst;
    (void)help;
    pthread_mutex_lock(&fh_state.mu);
    unsigned i = 0;
    while (i < fh_state.ncounters && strcmp(fh_state.names[i], name) != 0)
        i++;
    if (i == fh_state.ncounters) {
        if (i == FH_MAX_COUNTERS) {
            pthread_mutex_unlock(&fh_state.mu);
            return JW_ENOMEM;
        }
        fh_state.names[i] = name; /* the plugin's static string */
        fh_state.ncounters++;
    }
    pthread_mutex_unlock(&fh_state.mu);
    *id = i;
    return JW_OK;
}

static inline void
fh_counter_add(jw_instance *inst, uint32_t id, uint64_t n)
{
    (void)inst;
    if (id < FH_MAX_COUNTERS)
        atomic_fetch_add(&fh_state.values[id], n);
}

/* A counter's value by name; 0 when never registered. */
static inline uint64_t
fh_counter(const char *name)
{
    for (unsigned i = 0; i < fh_state.ncounters; i++) {
        if (strcmp(fh_state.names[i], name) == 0)
            return atomic_load(&fh_state.values[i]);
    }
    return 0;
}

static inline void
fh_counters_reset(void)
{
    for (unsigned i = 0; i < FH_MAX_COUNTERS; i++)
        atomic_store(&fh_state.values[i], 0);
}

static inline int
fh_publish(jw_instance *inst, const jw_msg *cause, const char *subject, const void *data,
           size_t len, const char *msg_id, const jw_header *headers, size_t nheaders)
{
    (void)inst, (void)cause, (void)subject, (void)data, (void)len, (void)msg_id, (void)headers,
        (void)nheaders;
    return JW_ENOTSUP;
}

static inline int
fh_header(const jw_msg *msg, const char *key, const char **value)
{
    (void)msg, (void)key, (void)value;
    return JW_ENOENT;
}

static inline const jw_host *
fh_host(void)
{
    static const jw_host host = {
        .struct_size = sizeof(jw_host),
        .abi_major = JW_ABI_MAJOR,
        .abi_minor = JW_ABI_MINOR,
        .log = fh_log,
        .publish = fh_publish,
        .msg_header = fh_header,
        .free = free,
        .counter_register = fh_counter_register,
        .counter_add = fh_counter_add,
    };
    return &host;
}

/* dlopen so and return its checked descriptor, or NULL (printed why). */
static inline const jw_plugin *
fh_load(const char *so)
{
    void *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "dlopen %s: %s\n", so, dlerror());
        return NULL;
    }
    jw_plugin_query_fn q = (jw_plugin_query_fn)dlsym(dl, JW_PLUGIN_QUERY_SYMBOL);
    const jw_plugin *p = q ? q(JW_ABI_MAJOR, JW_ABI_MINOR) : NULL;
    if (!p || p->magic != JW_PLUGIN_MAGIC || p->struct_size != sizeof(jw_plugin) ||
        strcmp(p->build_sig, JW_BUILD_SIG) != 0) {
        fprintf(stderr, "%s: not a plugin of this ABI\n", so);
        return NULL;
    }
    return p; /* never dlclose'd: tests are short, and ASan reports read better */
}

/* A message view like the host's for a stream event. */
static inline jw_msg
fh_msg(const char *subject, const char *stream, uint64_t seq, const char *id, const char *data)
{
    jw_msg m = {
        .struct_size = sizeof(jw_msg),
        .subject = subject,
        .data = data,
        .len = data ? strlen(data) : 0,
        .stream = stream,
        .consumer = "audit",
        .stream_seq = seq,
        .deliveries = 1,
        .message_id = id,
        .trace_id = "00000000000000000000000000000000",
        .span_id = "0000000000000000",
    };
    return m;
}

/* Run handle() as the host would, returning the verdict (reason into res). */
static inline jw_verdict
fh_handle(const jw_plugin *p, void *ctx, const jw_msg *m, jw_result *res)
{
    memset(res, 0, sizeof *res);
    res->verdict = JW_ACK;
    res->delay_ms = -1;
    p->handle(ctx, m, res);
    return res->verdict;
}

#endif /* JW_AUDIT_FAKEHOST_H */
