/*
 * config/config.h -- the interface of core/config/: the YAML topology: loading, defaults,
 * validation, normalized dump, and the config node tree plugins get.
 *
 * Other folders include this header only; files named *_int.h are private
 * to this folder.
 */
#ifndef JW_CORE_CONFIG_H
#define JW_CORE_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "jetway/plugin.h"

/*
 * cfgnode -- a located YAML tree: what libyaml parsed, with line and
 * column of every node, before it is mapped onto the typed config structs.
 * Plugin `config:` blocks stay in this form until the loader validates them
 * against the plugin's declared options and turns them into JSON.
 *
 * Ownership: a node owns its children, keys and scalar text. Threads: plain
 * data, read-only once built.
 */

typedef enum { CFGNODE_SCALAR = 0, CFGNODE_SEQ, CFGNODE_MAP } cfgnode_type;

typedef struct cfgnode cfgnode;
struct cfgnode {
    cfgnode_type type;
    int line, column; /* 1-based position of the node's value */
    int quoted;       /* scalar was quoted (so "true" is a string) */
    char *scalar;     /* CFGNODE_SCALAR: text after ${VAR} substitution */
    /* CFGNODE_MAP: keys[i] -> items[i]; CFGNODE_SEQ: items[i] */
    char **keys;
    int *key_lines, *key_columns;
    cfgnode **items;
    size_t n;
};

void cfgnode_free(cfgnode *n);
cfgnode *cfgnode_clone(const cfgnode *n);
/* Value of key in a mapping, or NULL. */
const cfgnode *cfgnode_get(const cfgnode *map, const char *key);

/*
 * config -- the topology: the YAML file parsed into plain, immutable data.
 *
 * config_load() reads a file with libyaml, substitutes ${VAR} and
 * ${VAR:-default}, checks the schema, the references between sections and
 * the timing relations, and returns either a complete jw_config or a list of
 * every error found, each naming file:line:column and the key path.
 *
 * Ownership: a jw_config owns every string and array it points to; one
 * config_free() releases it all. Threads: built on whatever thread calls
 * config_load() (the loop's threadpool during a reload), then read-only and
 * shared by every thread of the generation that uses it.
 */

typedef enum { CFG_STORAGE_FILE = 0, CFG_STORAGE_MEMORY } cfg_storage;
typedef enum {
    CFG_RETENTION_LIMITS = 0,
    CFG_RETENTION_WORKQUEUE,
    CFG_RETENTION_INTEREST
} cfg_retention;
typedef enum { CFG_DISCARD_OLD = 0, CFG_DISCARD_NEW } cfg_discard;
typedef enum {
    CFG_DELIVER_ALL = 0,
    CFG_DELIVER_NEW,
    CFG_DELIVER_LAST,
    CFG_DELIVER_BY_START_SEQUENCE,
    CFG_DELIVER_BY_START_TIME,
} cfg_deliver;
typedef enum { CFG_LOG_JSON = 0, CFG_LOG_TEXT } cfg_log_format;
typedef enum { CFG_UNAVAILABLE_PAUSE = 0, CFG_UNAVAILABLE_PROCESS } cfg_unavailable;

/* Where a value came from, for messages about it. */
typedef struct cfg_loc {
    int line;   /* 1-based */
    int column; /* 1-based */
} cfg_loc;

typedef struct cfg_service_section {
    char *name;                /* service name in logs and metrics; default "jetway" */
    int workers;               /* handler worker threads; default 2 x CPUs, max 256 */
    int64_t shutdown_grace_ms; /* SIGTERM: wait this long for running handlers; default 30s */
    char *instance_id;         /* unique id of this process; default hostname-pid */
} cfg_service_section;

typedef struct cfg_nats {
    char **servers; /* nats://host:port URLs; default {"nats://127.0.0.1:4222"} */
    size_t nservers;
    char *name;           /* connection name; default service.name */
    char *user;           /* user/password auth */
    char *password;       /* secret: never printed */
    char *token;          /* secret */
    char *nkey_seed_file; /* file holding an NKey seed */
    char *creds_file;     /* JWT user credentials file */
    char *tls_ca;         /* CA bundle; setting any tls_* enables TLS */
    char *tls_cert;
    char *tls_key;
    char *tls_hostname;            /* expected server name, optional */
    int64_t connect_timeout_ms;    /* default 2s */
    int64_t reconnect_wait_ms;     /* default 250ms; jittered, grows to reconnect_wait_max */
    int64_t reconnect_wait_max_ms; /* default 5s */
    int64_t request_timeout_ms;    /* JetStream API and publish timeout; default 5s */
    char *inbox_prefix;            /* custom inbox prefix, optional */
    bool send_asap;                /* write each publish/ack/pull at once instead of via cnats's
                                      flusher (lower latency, more syscalls); default false */
    /* `run` exits (status 1) after this many connection attempts in a row
     * that the server refused (authorization violation, TLS failure):
     * credentials do not fix themselves. 0 = keep retrying. Default 3. */
    int max_auth_failures;
} cfg_nats;

typedef struct cfg_redis {
    char *url;  /* redis://[user[:password]@]host:port[/db] or unix:///path; default
                   redis://127.0.0.1:6379 */
    char *host; /* parsed from url (IP literal or name), or NULL for unix */
    int port;
    char *unix_path; /* unix socket path, or NULL */
    int db;
    char *user;            /* ACL user, optional */
    char *password;        /* secret: from url, password, password_file or password_env */
    int64_t timeout_ms;    /* per command; default 2s */
    bool allow_eviction;   /* run dedup consumers even on an evicting maxmemory-policy (done markers
                              can then be evicted and a duplicate handled again); default false */
    int max_auth_failures; /* as cfg_nats's, for WRONGPASS/NOAUTH; default 3; 0 = forever */
} cfg_redis;

typedef struct cfg_dedup {
    bool enabled;     /* default true when a redis section exists */
    char *key_prefix; /* default "jw" -> key "<prefix>:<consumer>:<id>" */
    char *id_from;    /* "header" (Nats-Msg-Id, then JSON field) or a JSON field name; default
                         "message_id" */
    char *id_field;   /* the JSON field tried when the header is absent; default "message_id" */
    int64_t lease_ms; /* claim lease; default ack_wait * 2/3; must be < ack_wait */
    int64_t ttl_ms;   /* done-marker TTL; default 72h; must be >= stream duplicate_window */
    cfg_unavailable on_unavailable; /* default pause */
    bool require_fsync; /* this consumer's done markers must survive a Redis crash: warn unless
                           Redis runs AOF with appendfsync always; default false */
    cfg_loc loc;
} cfg_dedup;

/*
 * A consumer's circuit breaker (runtime/breaker.c): `consecutive_retries`
 * RETRY verdicts in a row, the first and the last within `window`, open it:
 * fetching pauses for `cool_down`, then one message probes (half-open) and
 * an ACK or REJECT closes it. Deliveries spent on a RETRY while it is open
 * (and the streak that opened it) do not count toward max_deliver.
 */
typedef struct cfg_breaker {
    bool enabled;            /* a `breaker` section is present */
    int consecutive_retries; /* default 5 */
    int64_t window_ms;       /* default 10s */
    int64_t cool_down_ms;    /* default 30s */
    cfg_loc loc;
} cfg_breaker;

typedef struct cfg_plugin {
    char *name;      /* instance name the consumers' `handler` refers to */
    char *file;      /* file name inside plugins.dir (no '/'), default "<name>.so" */
    cfgnode *config; /* the `config:` subtree (a mapping) or NULL; owned */
    cfg_loc loc;
} cfg_plugin;

typedef struct cfg_stream {
    char *name;
    char **subjects;
    size_t nsubjects;
    cfg_storage storage;         /* default file */
    cfg_retention retention;     /* default limits */
    cfg_discard discard;         /* default old */
    int64_t max_age_ms;          /* 0 = unlimited */
    int64_t max_bytes;           /* -1 = unlimited */
    int64_t max_msgs;            /* -1 = unlimited */
    int64_t max_msg_size;        /* -1 = unlimited */
    int replicas;                /* default 1 */
    int64_t duplicate_window_ms; /* default 2m */
    /* manage: false makes the stream bind-only: another config owns it, so
     * this one never creates or changes it; it must exist and is checked for
     * compatibility (subjects covered, retention, the consumers' filters and
     * dedup.ttl against the server's values). Its subjects may be omitted. */
    bool bind_only;         /* manage: false; default false (a zeroed struct is managed) */
    bool retention_set;     /* retention was written (compared when bind-only) */
    bool explicit_settings; /* a limit/storage key was written (bind-only: diffed, not applied) */
    cfg_loc loc;
} cfg_stream;

typedef struct cfg_consumer {
    char *name;           /* durable name */
    char *stream;         /* a stream declared in `streams` */
    char *filter_subject; /* optional; must be within the stream's subjects */
    char *handler;        /* a plugin instance declared in `plugins` */
    int64_t ack_wait_ms;  /* server backstop; default 30s */
    int max_deliver;      /* host-enforced; default 5 */
    int64_t *backoff_ms;  /* NAK delays by delivery; the last repeats; default {1s} */
    size_t nbackoff;
    int max_ack_pending; /* server and host in-flight bound; default max(2*batch, concurrency) */
    int concurrency;     /* concurrent handler calls; default 1 */
    int batch;           /* fetch batch size; default 64 */
    cfg_deliver deliver_policy; /* default all */
    uint64_t opt_start_seq;     /* by_start_sequence */
    int64_t opt_start_time_ns;  /* by_start_time (RFC 3339 in YAML) */
    char *dead_letter; /* subject for letters, or NULL = log and TERM is refused: letters are
                          required when max_deliver is finite */
    cfg_dedup dedup;
    cfg_breaker breaker;
    bool prune; /* delete the durable when removed by a reload */
    cfg_loc loc;
} cfg_consumer;

typedef struct cfg_service_ep { /* request/reply endpoint (core NATS) */
    char *name;
    char *subject;
    char *queue;     /* queue group; default the name */
    char *handler;   /* plugin plugin_instance */
    int concurrency; /* default 1 */
    cfg_loc loc;
} cfg_service_ep;

typedef struct cfg_http {
    char *listen; /* "127.0.0.1:9090"; NULL = no HTTP endpoint */
    char *host;   /* parsed */
    int port;
} cfg_http;

typedef struct cfg_health {
    int64_t jetstream_timeout_ms; /* not ready after JetStream failed this long; default 15s */
} cfg_health;

typedef struct cfg_log {
    cfg_log_format format; /* default json */
    int level;             /* jw_log_level; default info */
} cfg_log;

typedef struct cfg_tracing {
    char *otlp_endpoint;        /* http://host:port/v1/traces, or NULL */
    int64_t export_interval_ms; /* default 1s */
    int queue_size;             /* spans buffered before dropping; default 4096 */
} cfg_tracing;

typedef struct jw_config {
    char *path;      /* the file it was read from */
    char digest[65]; /* sha-256 of the file's bytes, hex */
    cfg_service_section service;
    cfg_nats nats;
    cfg_redis redis;
    bool has_redis;   /* a redis section was given */
    char *plugin_dir; /* absolute; plugins.dir */
    cfg_plugin *plugins;
    size_t nplugins;
    cfg_stream *streams;
    size_t nstreams;
    cfg_consumer *consumers;
    size_t nconsumers;
    cfg_service_ep *services;
    size_t nservices;
    cfg_http http;
    cfg_health health;
    cfg_log log;
    cfg_tracing tracing;
} jw_config;

/* One located error. */
typedef struct cfg_error {
    char *text; /* "file:line:col: key.path: message" */
} cfg_error;

typedef struct cfg_errors {
    cfg_error *v;
    size_t n;
    size_t cap;
} cfg_errors;

/*
 * Parse and validate `path`. On success returns 0 and *out; on failure
 * returns -1, *out = NULL and every error in `errs` (caller frees with
 * cfg_errors_free). `getenv_fn` resolves ${VAR} (NULL = getenv).
 */
int config_load(const char *path, jw_config **out, cfg_errors *errs);
void config_free(jw_config *cfg);
void cfg_errors_free(cfg_errors *errs);
/* Append a formatted error. */
void cfg_errors_add(cfg_errors *errs, const char *fmt, ...) JW_PRINTF(2, 3);

/* Print the normalized topology as YAML, secrets as "<redacted>". */
void config_dump(const jw_config *cfg, FILE *fp);

/* Parse "250ms", "30s", "2m", "72h", "1h30m", bare integer = ms. 0 on success. */
int cfg_parse_duration(const char *s, int64_t *ms);
/* Parse "512", "512B", "512KiB", "1GiB", "10MB" (decimal), 0 on success. */
int cfg_parse_size(const char *s, int64_t *bytes);

const cfg_consumer *config_find_consumer(const jw_config *cfg, const char *name);
const cfg_stream *config_find_stream(const jw_config *cfg, const char *name);
const cfg_plugin *config_find_plugin(const jw_config *cfg, const char *name);
/* NATS subject algebra, for checks against a server's streams: every subject
 * `filter` matches is also matched by `pattern` ('*' and '>' wildcards). */
bool config_subject_within(const char *filter, const char *pattern);

#endif /* JW_CORE_CONFIG_H */
