/*
 * jetway/plugin.h -- the plugin ABI of jetway. This is the only header a
 * handler plugin includes; it links against nothing of the host's.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * jw_plugin_query(), which returns a const descriptor (jw_plugin) or NULL to
 * decline the host's ABI. The host checks the descriptor's stamp (magic, ABI
 * major/minor, struct size, build signature) before touching anything else,
 * validates the instance's YAML options against the declared schema, and only
 * then calls init(). Every service the host offers arrives through the
 * jw_host table passed to init(); plugins never resolve host symbols (build
 * them with -fvisibility=hidden -Wl,-z,defs).
 *
 * Versioning: a change of JW_ABI_MAJOR is incompatible and the host refuses a
 * plugin built with another major. Minor versions only append members at the
 * end of jw_host and jw_plugin; check struct_size before using a member
 * newer than your minimum.
 *
 * Threads: init() and fini() run on a host worker thread, never concurrently
 * with handle() of the same instance. handle() runs on host worker threads,
 * up to the consumer's `concurrency` calls at once for one instance, so the
 * plugin context must be thread-safe when concurrency > 1. No plugin code
 * ever runs on the host's event loop. Every jw_host function is thread-safe.
 * Threads a plugin starts must be joined in fini(); nothing may call into the
 * plugin after fini() returns. Plugins must not touch process-wide state
 * (signals, fork, exit, setlocale, chdir, environment).
 */
#ifndef JETWAY_PLUGIN_H
#define JETWAY_PLUGIN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JW_ABI_MAJOR    1u
#define JW_ABI_MINOR    0u
#define JW_PLUGIN_MAGIC 0x4a573031u /* "JW01" */

#define JW_STR_(x) #x
#define JW_STR(x)  JW_STR_(x)
/* Everything that must agree for the ABI structs to mean the same bytes. */
#define JW_BUILD_SIG                                                           \
    "p" JW_STR(__SIZEOF_POINTER__) ".z" JW_STR(__SIZEOF_SIZE_T__) ".l" JW_STR( \
        __SIZEOF_LONG__) ".o" JW_STR(__BYTE_ORDER__)

#if defined(__GNUC__)
#define JW_EXPORT       __attribute__((visibility("default")))
#define JW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define JW_EXPORT
#define JW_PRINTF(f, a)
#endif

/* Status codes: 0 is success, negative values are -errno (libuv style). */
enum {
    JW_OK = 0,
    JW_EINVAL = -EINVAL,       /* bad argument */
    JW_ENOMEM = -ENOMEM,       /* out of memory */
    JW_ENOENT = -ENOENT,       /* key or header absent */
    JW_ETIMEDOUT = -ETIMEDOUT, /* the service did not answer in time */
    JW_EIO = -EIO,             /* the service failed (NATS, Redis) */
    JW_ENOTSUP = -ENOTSUP,     /* not available in this context */
};

/* Opaque handle of one plugin instance; valid from init() until fini(). */
typedef struct jw_instance jw_instance;

/* A message header, borrowed. */
typedef struct jw_header {
    const char *key;
    const char *value;
} jw_header;

/*
 * Read-only view of one message, borrowed: valid only during handle().
 * Copy anything you keep. For a request/reply service, `reply` is set and
 * stream/seq/deliveries are 0; answer with host->respond().
 */
typedef struct jw_msg {
    uint32_t struct_size;    /* sizeof(jw_msg) of the host */
    const char *subject;     /* the subject the message was published to */
    const char *reply;       /* request/reply services only, else NULL */
    const void *data;        /* payload, not NUL-terminated */
    size_t len;              /* payload length in bytes */
    const char *stream;      /* JetStream stream, or NULL */
    const char *consumer;    /* durable consumer or service name */
    uint64_t stream_seq;     /* stream sequence, 0 for requests */
    uint64_t deliveries;     /* 1 on the first delivery */
    int64_t timestamp_ns;    /* stream timestamp (UNIX ns), 0 if unknown */
    const char *message_id;  /* dedup id (Nats-Msg-Id or JSON field), or NULL */
    const char *dedup_key;   /* the Redis key of this message's claim, or NULL */
    const char *claim_token; /* the claim's token, for fenced scripts, or NULL */
    const char *trace_id;    /* W3C trace id (32 hex), never NULL */
    const char *span_id;     /* this handling's span id (16 hex), never NULL */
    void *host_private;      /* the host's; do not touch */
} jw_msg;

/* What the host does with the message once handle() returns. */
typedef enum jw_verdict {
    JW_ACK = 0,    /* done: commit the dedup claim, then ACK */
    JW_RETRY = 1,  /* transient failure: redeliver after delay_ms or the backoff */
    JW_REJECT = 2, /* permanent failure: dead-letter with `reason`, then TERM */
} jw_verdict;

#define JW_REASON_MAX 256

/* Filled by handle(); the host pre-sets verdict = JW_ACK, delay_ms = -1. */
typedef struct jw_result {
    jw_verdict verdict;
    int64_t delay_ms;           /* JW_RETRY: >= 0 overrides the backoff list */
    char reason[JW_REASON_MAX]; /* JW_RETRY/JW_REJECT: logged, put in the letter */
} jw_result;

/* Declared options of a plugin; the host validates the YAML against them. */
typedef enum jw_opt_type {
    JW_OPT_STRING = 1,
    JW_OPT_INT,      /* integer */
    JW_OPT_FLOAT,    /* number */
    JW_OPT_BOOL,     /* true/false */
    JW_OPT_DURATION, /* "250ms", "30s"... handed to the plugin as milliseconds */
    JW_OPT_SIZE,     /* "512KiB"... handed to the plugin as bytes */
    JW_OPT_LIST,     /* a YAML sequence, passed through as a JSON array */
    JW_OPT_MAP,      /* a YAML mapping, passed through as a JSON object */
} jw_opt_type;

typedef struct jw_option { /* an entry with key == NULL ends the array */
    const char *key;
    jw_opt_type type;
    const char *def; /* default in YAML scalar syntax, or NULL */
    int required;    /* non-zero: the key must be present */
    const char *help;
} jw_option;

typedef enum jw_log_level {
    JW_LOG_ERROR = 0,
    JW_LOG_WARN = 1,
    JW_LOG_INFO = 2,
    JW_LOG_DEBUG = 3,
} jw_log_level;

/* A Redis reply, owned by the host; release with host->kv_reply_free(). */
typedef enum jw_kv_type {
    JW_KV_NIL = 0,
    JW_KV_INT,
    JW_KV_STRING, /* bulk or status string */
    JW_KV_ARRAY,
    JW_KV_ERROR, /* str holds Redis's error text */
} jw_kv_type;

typedef struct jw_kv_reply {
    jw_kv_type type;
    long long integer;
    char *str; /* NUL-terminated; len excludes the NUL */
    size_t len;
    struct jw_kv_reply **elements;
    size_t nelements;
} jw_kv_reply;

/*
 * Host services. Append-only: never reorder or remove; new members go at the
 * end with a JW_ABI_MINOR bump. All functions are thread-safe; the blocking
 * ones (publish, kv_*) are bounded by the host's configured timeouts.
 */
typedef struct jw_host {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Log a line attributed to the instance; `msg` (may be NULL) adds the
     * message's consumer, stream, seq, message id and trace ids. */
    void (*log)(jw_instance *inst, const jw_msg *msg, jw_log_level level, const char *fmt, ...)
        JW_PRINTF(4, 5);

    /*
     * Publish through JetStream and wait for the PubAck. `msg_id` becomes
     * Nats-Msg-Id, so a re-run after a crash publishes no duplicate within
     * the stream's duplicate window; NULL derives one from `cause` and the
     * subject. `cause` (may be NULL) is the message being handled: its trace
     * context is injected. Headers are copied. Returns JW_OK, JW_ETIMEDOUT or
     * JW_EIO. Worker threads only (inside handle() or init()).
     */
    int (*publish)(jw_instance *inst, const jw_msg *cause, const char *subject, const void *data,
                   size_t len, const char *msg_id, const jw_header *headers, size_t nheaders);

    /* Answer a request of a request/reply service (msg->reply != NULL). */
    int (*respond)(jw_instance *inst, const jw_msg *req, const void *data, size_t len);

    /* Look a header of the message up; JW_ENOENT when absent. The value is
     * borrowed for the duration of handle(). */
    int (*msg_header)(const jw_msg *msg, const char *key, const char **value);

    /* Tell the server and the dedup lease that a long handler is still
     * working on msg (extends ack_wait and the lease). */
    int (*in_progress)(const jw_msg *msg);

    /* Key-value store (Redis). Keys are used as given. */
    int (*kv_get)(jw_instance *inst, const char *key, char **value, size_t *len);
    int (*kv_set)(jw_instance *inst, const char *key, const void *value, size_t len,
                  int64_t ttl_ms);
    /* Returns 1 if set, 0 if the key existed, < 0 on error. */
    int (*kv_setnx)(jw_instance *inst, const char *key, const void *value, size_t len,
                    int64_t ttl_ms);
    int (*kv_del)(jw_instance *inst, const char *key);
    int (*kv_incr)(jw_instance *inst, const char *key, int64_t by, int64_t *result);
    /* Run a Lua script atomically (EVALSHA, loaded on NOSCRIPT). */
    int (*kv_eval)(jw_instance *inst, const char *script, size_t nkeys, const char *const *keys,
                   size_t nargs, const char *const *args, jw_kv_reply **reply);
    void (*kv_reply_free)(jw_kv_reply *reply);
    /* Free memory the host handed out (kv_get values). */
    void (*free)(void *p);

    /* Counters of the plugin's own, exported as jetway_plugin_<name>_total
     * with a `plugin` label. Register in init(); add from any thread. */
    int (*counter_register)(jw_instance *inst, const char *name, const char *help, uint32_t *id);
    void (*counter_add)(jw_instance *inst, uint32_t id, uint64_t n);

    /* -- ABI 1.0 ends here; add new members below this line -- */
} jw_host;

typedef struct jw_plugin {
    uint32_t magic;           /* JW_PLUGIN_MAGIC */
    uint16_t abi_major;       /* JW_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;       /* JW_ABI_MINOR the plugin was built with */
    uint32_t struct_size;     /* sizeof(jw_plugin) at build time */
    const char *build_sig;    /* JW_BUILD_SIG */
    const char *name;         /* [a-z0-9_]+ */
    const char *version;      /* the plugin's own version, informational */
    const jw_option *options; /* schema of the YAML `config:` block, or NULL */

    /* config_json: the validated `config:` block with defaults applied, as a
     * JSON object (durations in ms, sizes in bytes); borrowed during init().
     * Return 0 and set *ctx, or < 0 to refuse (the host logs `err`). */
    int (*init)(const jw_host *host, jw_instance *inst, const char *config_json, void **ctx,
                char *err, size_t errlen);
    void (*handle)(void *ctx, const jw_msg *msg, jw_result *res);
    void (*fini)(void *ctx);

    void *reserved[8]; /* must be NULL */
} jw_plugin;

#define JW_PLUGIN_QUERY_SYMBOL "jw_plugin_query"
typedef const jw_plugin *(*jw_plugin_query_fn)(uint32_t host_major, uint32_t host_minor);

/* Define the exported query for a plugin that supports this header's major. */
#define JW_PLUGIN_DEFINE(desc)                                                            \
    JW_EXPORT const jw_plugin *jw_plugin_query(uint32_t host_major, uint32_t host_minor); \
    const jw_plugin *jw_plugin_query(uint32_t host_major, uint32_t host_minor)            \
    {                                                                                     \
        (void)host_minor;                                                                 \
        return host_major == JW_ABI_MAJOR ? &(desc) : NULL;                               \
    }

/* Fill the stamp fields of a descriptor. */
#define JW_PLUGIN_STAMP                                                             \
    .magic = JW_PLUGIN_MAGIC, .abi_major = JW_ABI_MAJOR, .abi_minor = JW_ABI_MINOR, \
    .struct_size = sizeof(jw_plugin), .build_sig = JW_BUILD_SIG

#ifdef __cplusplus
}
#endif

#endif /* JETWAY_PLUGIN_H */
