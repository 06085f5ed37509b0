/*
 * stats.h -- the numbers jetway keeps about itself, for /metrics.
 *
 * Counters are relaxed atomics bumped on the hot path by whichever thread
 * settles a message; the HTTP thread reads them without locks. The registry
 * of per-consumer blocks is changed only on the loop thread (start, reload)
 * under stats_lock, which the HTTP renderer also takes while it walks.
 *
 * Ownership: stats_consumer blocks are owned by the registry and live until
 * stats_shutdown(): a consumer removed by reload keeps its block (marked
 * inactive) so its counters never go backwards, and re-adding it reuses it.
 */
#ifndef JW_STATS_H
#define JW_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* Histogram bucket upper bounds in seconds, shared by every histogram. */
#define STATS_NBUCKETS 14
extern const double stats_bucket_bounds[STATS_NBUCKETS];

typedef struct stats_hist {
    atomic_uint_fast64_t buckets[STATS_NBUCKETS + 1]; /* last = +Inf */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us; /* sum in microseconds */
} stats_hist;

void stats_hist_observe_us(stats_hist *h, uint64_t us);

typedef enum {
    STATS_RESULT_ACK = 0,
    STATS_RESULT_RETRY,
    STATS_RESULT_REJECT,
    STATS_RESULT_DUPLICATE,
    STATS_RESULT_DEAD_LETTER,
    STATS_RESULT_BUSY, /* claim held by someone else: NAKed with the lease's rest */
    STATS_NRESULTS
} stats_result;

typedef enum {
    STATS_DEDUP_CLAIMED = 0,
    STATS_DEDUP_DUPLICATE,
    STATS_DEDUP_BUSY,
    STATS_DEDUP_LEASE_LOST,
    STATS_DEDUP_ERROR,
    STATS_DEDUP_UNCLAIMED, /* processed without a claim (on_unavailable: process) */
    STATS_NDEDUP
} stats_dedup;

typedef struct stats_consumer {
    char name[128];
    char stream[128];
    char handler[128];
    int active; /* 0 once removed by a reload */

    atomic_uint_fast64_t received;
    atomic_uint_fast64_t pulls; /* pull requests that brought messages */
    atomic_uint_fast64_t results[STATS_NRESULTS];
    atomic_uint_fast64_t dedup[STATS_NDEDUP];
    atomic_int_fast64_t in_flight;
    atomic_uint_fast64_t publishes;
    atomic_uint_fast64_t publish_errors;
    stats_hist handler_seconds; /* handle() duration */
    stats_hist age_seconds;     /* now - stream timestamp, when handling starts */

    /* From the server, refreshed on a timer by the loop. */
    atomic_int_fast64_t server_pending;
    atomic_int_fast64_t server_ack_pending;
    atomic_int_fast64_t server_redelivered;
    atomic_int bound; /* 1 while the consumer is bound on the server */

    struct stats_consumer *next;
} stats_consumer;

typedef struct stats_plugin {
    char name[128];   /* instance name */
    char plugin[128]; /* descriptor name */
    char version[64];
    char abi[16];
    int active;
    /* plugin-registered counters */
    int ncounters;
    char counter_names[32][64];
    char counter_help[32][128];
    atomic_uint_fast64_t counters[32];
    struct stats_plugin *next;
} stats_plugin;

typedef struct stats_global {
    atomic_int nats_connected;
    atomic_uint_fast64_t nats_reconnects;
    atomic_int redis_connected;
    atomic_uint_fast64_t redis_reconnects;
    atomic_uint_fast64_t redis_timeouts;
    atomic_uint_fast64_t reloads_ok;
    atomic_uint_fast64_t reloads_failed;
    atomic_int_fast64_t last_reload_ts; /* unix seconds */
    atomic_int last_reload_ok;
    char config_digest[65]; /* written on the loop under stats_lock */
    atomic_int draining;
    atomic_int_fast64_t loop_heartbeat_ms; /* monotonic ms of the loop's last tick */
    atomic_uint_fast64_t spans_dropped;
    atomic_uint_fast64_t spans_exported;
    atomic_uint_fast64_t span_export_failures; /* OTLP POSTs that failed */
    atomic_int needs_redis; /* some active consumer dedups through Redis (for /readyz) */
    int64_t start_ts;
} stats_global;

extern stats_global stats;

void stats_lock(void);
void stats_unlock(void);
/* Loop thread: find or create the block of a consumer (marks it active). */
stats_consumer *stats_consumer_get(const char *name, const char *stream, const char *handler);
stats_plugin *stats_plugin_get(const char *instance);
/* Walk (caller holds stats_lock). */
stats_consumer *stats_consumers(void);
stats_plugin *stats_plugins(void);
void stats_shutdown(void);

#endif /* JW_STATS_H */
