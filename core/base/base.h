/*
 * base/base.h -- the interface of core/base/: the foundations every layer uses: version, clocks,
 * logging, randomness, the MPSC queue, the worker pool, fail points and statistics.
 *
 * Other folders include this header only; files named *_int.h are private
 * to this folder.
 */
#ifndef JW_CORE_BASE_H
#define JW_CORE_BASE_H

#include <stdint.h>
#include <time.h>
#include <stddef.h>
#include <uv.h>
#include <pthread.h>
#include <stdatomic.h>

#include "jetway/plugin.h"


#define JW_VERSION "0.1.0"

/*
 * clock -- time helpers. Monotonic for durations, realtime for stream
 * timestamps (which JetStream stamps in UNIX nanoseconds).
 */

static inline uint64_t
clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int64_t
clock_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

/*
 * Condition-variable waits on the monotonic clock. pthread_cond_timedwait
 * measures its deadline against the condvar's clock, which is CLOCK_REALTIME
 * unless its attribute says otherwise: a wall-clock step (NTP, an operator's
 * `date`) would then stretch a 200 ms wait into hours or spin it. Every
 * condvar that is ever waited on with a deadline is made with
 * clock_cond_init_mono, and every deadline comes from clock_deadline_ms.
 *
 * Threads: any.
 */

/* Initialise *ca (caller destroys it) with CLOCK_MONOTONIC; 0 or an errno. */
int clock_condattr_init_mono(pthread_condattr_t *ca);
/* Initialise *cv to time its waits with CLOCK_MONOTONIC; 0 or an errno. */
int clock_cond_init_mono(pthread_cond_t *cv);
/* *ts = CLOCK_MONOTONIC now + ms (ms >= 0): a deadline for
 * pthread_cond_timedwait on a condvar from clock_cond_init_mono. */
void clock_deadline_ms(struct timespec *ts, int64_t ms);

/*
 * thread -- thread roles and affinity assertions. Every thread jetway starts
 * tags itself with its role when it starts (thread-local); functions whose
 * comment states an affinity ("loop thread only", "worker only") check it
 * at entry with JW_ASSERT_THREAD(mask) or JW_ASSERT_NOT_THREAD(mask). The
 * checks are compiled into test builds (FAILPOINTS=1, sanitizers: every
 * `make test` build) and out of release and bench builds; a violation
 * aborts, naming the function, the roles it allows and the caller's role.
 * The roles are described in core/runtime/rt_int.h's thread map.
 *
 * Threads: any; the role is thread-local.
 */

typedef enum {
    JW_ROLE_NONE = 0,         /* not tagged: a plugin's or a library's thread */
    JW_ROLE_MAIN = 1 << 0,    /* main thread before the loop exists (start-up, commands) */
    JW_ROLE_LOOP = 1 << 1,    /* the libuv loop (the main thread from then on) */
    JW_ROLE_WORKER = 1 << 2,  /* the worker pool: plugin code, blocking chores */
    JW_ROLE_FETCHER = 1 << 3, /* one per consumer */
    JW_ROLE_RELOAD = 1 << 4,  /* the short-lived reload thread */
    JW_ROLE_CNATS = 1 << 5,   /* a cnats callback thread (events, request deliveries) */
    JW_ROLE_HTTP = 1 << 6,    /* the /metrics endpoint's own loop */
    JW_ROLE_OTLP = 1 << 7,    /* the span exporter */
} jw_role;

/* Tag the calling thread (replacing its role). */
void jw_thread_set_role(unsigned role);
/* Tag the calling thread only if it has no role yet: for callbacks that run
 * on threads others created (cnats), so that one run inline on a tagged
 * thread keeps that thread's role. */
void jw_thread_adopt_role(unsigned role);
unsigned jw_thread_role(void);
/* Abort with "<func>: called on a <actual> thread; allowed: <roles>". */
_Noreturn void jw_thread_role_fail(const char *func, unsigned allowed, int negated);

#if !defined(JW_THREAD_CHECKS) && \
    (defined(JW_FAILPOINTS) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__))
#define JW_THREAD_CHECKS 1
#endif

#if defined(JW_THREAD_CHECKS) && JW_THREAD_CHECKS
/* The calling thread's role must be one of `mask`. */
#define JW_ASSERT_THREAD(mask)                        \
    do {                                              \
        if (!(jw_thread_role() & (unsigned)(mask)))   \
            jw_thread_role_fail(__func__, (mask), 0); \
    } while (0)
/* The calling thread's role must be none of `mask` (untagged threads pass). */
#define JW_ASSERT_NOT_THREAD(mask)                    \
    do {                                              \
        if (jw_thread_role() & (unsigned)(mask))      \
            jw_thread_role_fail(__func__, (mask), 1); \
    } while (0)
#else
#define JW_ASSERT_THREAD(mask)     ((void)0)
#define JW_ASSERT_NOT_THREAD(mask) ((void)0)
#endif

/*
 * log -- structured logging: one JSON object a line on stderr (or text),
 * with the fields operators filter on: ts, level, msg, service, consumer,
 * stream, seq, message_id, trace_id, span_id, error.
 *
 * Threads: every function is safe from any thread. A line is formatted into
 * a stack buffer and written with one write(2), so lines never interleave.
 * log_setup() is called on the main thread before any other thread starts.
 */

/* Optional context of a line; any field may be NULL/0. */
typedef struct log_ctx {
    const char *consumer;
    const char *stream;
    uint64_t seq;
    const char *message_id;
    const char *trace_id;
    const char *span_id;
    const char *plugin;
    const char *error;
} log_ctx;

void log_setup(int json, int level, const char *service);
/* The service name may change on reload; the string is copied. */
void log_set_service(const char *service);
void log_set_level(int level);
int log_level_enabled(int level);
int log_level_parse(const char *s); /* -1 when unknown */

void jw_log(int level, const log_ctx *ctx, const char *fmt, ...) JW_PRINTF(3, 4);

#define log_error(...) jw_log(JW_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...)  jw_log(JW_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...)  jw_log(JW_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...)                               \
    do {                                             \
        if (log_level_enabled(JW_LOG_DEBUG))         \
            jw_log(JW_LOG_DEBUG, NULL, __VA_ARGS__); \
    } while (0)

/*
 * rnd -- fast per-thread random numbers for ids that must be unique but
 * not secret: claim tokens, span ids, jitter. xoshiro-style generator seeded
 * from getrandom(2) once per thread.
 *
 * Threads: any; state is thread-local.
 */

uint64_t rnd_u64(void);
/* Write 2*nbytes lowercase hex characters and a NUL into out. */
void rnd_hex(char *out, size_t nbytes);
/* value +- pct percent, never negative. */
int64_t rnd_jitter(int64_t value, int pct);

/*
 * mpsc -- a many-producer, single-consumer hand-off into the libuv loop:
 * a mutex-protected intrusive list plus one uv_async_t. Producers (fetcher
 * and worker threads) append a whole batch under the lock and wake the loop;
 * wake-ups coalesce, so the loop callback always takes the entire list at
 * once (the nginx done-list / Redis unblock pattern).
 *
 * Items are any struct whose first member is `struct mpsc_node`.
 *
 * Threads: mpsc_init/mpsc_close on the loop thread; mpsc_push from any
 * thread, also after mpsc_close has been requested but before the loop ran
 * the close (the send happens under the lock, and the closing flag is set
 * under it too). The drain callback runs on the loop thread.
 */

typedef struct mpsc_node {
    struct mpsc_node *next;
} mpsc_node;

typedef struct mpsc mpsc;
/* Called on the loop with the drained list in FIFO order. */
typedef void (*mpsc_drain_fn)(mpsc *q, mpsc_node *list);

struct mpsc {
    uv_mutex_t mu;
    mpsc_node *head, *tail;
    int closing;
    uv_async_t async;
    mpsc_drain_fn drain;
    void *data; /* the owner's */
};

int mpsc_init(uv_loop_t *loop, mpsc *q, mpsc_drain_fn drain, void *data);
/* Append first..last (already linked) and wake the loop. */
void mpsc_push_list(mpsc *q, mpsc_node *first, mpsc_node *last);
void mpsc_push(mpsc *q, mpsc_node *n);
/* Loop thread: stop accepting wake-ups and close the handle. */
void mpsc_close(mpsc *q, uv_close_cb cb);

/*
 * pool -- jetway's own bounded worker pool, where every line of plugin
 * code runs (handle, init, fini). Not libuv's threadpool: that one is shared
 * with fs/DNS work, has small stacks on libuv 1.44, and has no per-consumer
 * limits.
 *
 * Work is queued per pool_queue (one per consumer or request/reply
 * service). A queue has a concurrency limit: at most `limit` of its items
 * run at once. Queues that have waiting work and spare concurrency sit on a
 * round-robin "runnable" list, so one busy consumer cannot starve another.
 * A worker takes one lock per item (finishing the previous item and taking
 * the next in the same critical section).
 *
 * Threads: pool_submit/pool_queue_take_waiting from any thread; the run
 * function is called on a worker thread. pool_start/pool_stop on the main or
 * loop thread. A pool_queue is owned by its consumer/service and must
 * outlive every item submitted to it.
 */

typedef struct pool_item {
    struct pool_item *next;
} pool_item;

typedef struct pool_queue pool_queue;
typedef void (*pool_run_fn)(pool_queue *q, pool_item *item);

struct pool_queue {
    pool_item *head, *tail; /* waiting items, under pool.mu */
    int waiting;
    int running;
    int limit; /* max concurrent runs; changeable under pool.mu */
    int on_runnable;
    pool_queue *next_runnable;
    pool_run_fn run;
    void *data; /* the owner's */
};

typedef struct pool pool;

int pool_start(int nthreads, pool **out);
/* Finish everything queued, then join the threads. */
void pool_stop(pool *p);

void pool_queue_init(pool_queue *q, int limit, pool_run_fn run, void *data);
void pool_queue_set_limit(pool *p, pool_queue *q, int limit);
/* Enqueue first..last (n items, already linked). */
void pool_submit(pool *p, pool_queue *q, pool_item *first, pool_item *last, int n);
/* Remove and return the items of q that have not started (drain). */
pool_item *pool_queue_take_waiting(pool *p, pool_queue *q);
/* Items of q running or waiting, a snapshot. */
int pool_queue_busy(pool *p, pool_queue *q);

/* Thread-exit hook every worker runs (frees thread-local clients). */
void pool_set_thread_exit(void (*fn)(void));

/*
 * failpoint -- crash windows for the fault tests, compiled into test
 * builds only (make FAILPOINTS=1). FAILPOINT("after_claim") kills the
 * process with SIGKILL semantics (_exit without cleanup, like kill -9) when
 * the environment variable JW_FAILPOINT names that point; JW_FAILPOINT_SKIP=N
 * lets the first N hits pass, so a test can crash in the middle of a run.
 * The kill is logged with the message id (id may be NULL), so a test can
 * check what only that window produces for exactly that message.
 * In production builds the macro compiles to nothing (and `jetway version`
 * says "failpoints: off", so a fault test can refuse such a binary).
 */

#ifdef JW_FAILPOINTS
void failpoint_hit(const char *name, const char *id);
#define FAILPOINT(name, id) failpoint_hit(name, id)
#else
#define FAILPOINT(name, id) ((void)0)
#endif

/*
 * stats -- the numbers jetway keeps about itself, for /metrics.
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

#define STATS_PAUSED_OPERATOR 1 /* jetway consumer pause / POST .../pause */
#define STATS_PAUSED_BREAKER  2 /* circuit breaker open or half-open */

typedef struct stats_consumer {
    char name[128];
    char stream[128];
    char handler[128];
    int active; /* 0 once removed by a reload */

    atomic_uint_fast64_t received;
    atomic_uint_fast64_t pulls;   /* pull requests sent (continuous pull: few) */
    atomic_uint_fast64_t batches; /* handle_batch calls (ABI 1.1 plugins) */
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
    /* Written by runtime/breaker.c: STATS_PAUSED_* bits (0 = fetching) and
     * the breaker's state (0 closed, 1 open, 2 half-open). */
    atomic_int paused;
    atomic_int breaker;
    atomic_uint_fast64_t breaker_opened;    /* times the breaker opened */
    atomic_uint_fast64_t outage_deliveries; /* RETRYs not counted toward max_deliver */

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
    /* The dedup store's own guardrails (core/redis/rds_check.c): 1 while the
     * server's configuration is refused (an evicting maxmemory-policy), with
     * the reason in redis_refusal (written under stats_lock); the server's
     * INFO evicted_keys as last seen (0 until known). */
    atomic_int redis_refused;
    atomic_int_fast64_t redis_evicted_keys;
    char redis_refusal[192];
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
    /* JetStream liveness (for /readyz): monotonic ms of the first failure
     * of the current streak of failed JetStream calls (consumer info,
     * fetch), 0 while they succeed; the last error in js_error (under
     * stats_lock); not ready once the streak is js_timeout_ms old. */
    atomic_int_fast64_t js_fail_since_ms;
    atomic_int_fast64_t js_timeout_ms;
    char js_error[160];
    int64_t start_ts;
    /* Set while `run` connects and provisions, before "jetway running":
     * /healthz answers 200 "starting", /readyz 503 with the reason below. */
    atomic_int starting;
    /* Why NATS / Redis is not usable right now ("" when it is, or unknown):
     * "unreachable: ...", "authorization refused: ...", "TLS failure: ...",
     * "JetStream not enabled: ...". Written by whoever sees the failure,
     * read by /readyz; both under stats_lock (stats_set_reason). */
    char nats_reason[256];
    char redis_reason[256];
} stats_global;

extern stats_global stats;

void stats_lock(void);
void stats_unlock(void);
/* Any thread: set (fmt) or clear (fmt NULL) stats.nats_reason/redis_reason. */
void stats_set_reason(char *slot, const char *fmt, ...) JW_PRINTF(2, 3);
/* Loop thread: find or create the block of a consumer (marks it active). */
stats_consumer *stats_consumer_get(const char *name, const char *stream, const char *handler);
stats_plugin *stats_plugin_get(const char *instance);
/* Walk (caller holds stats_lock). */
stats_consumer *stats_consumers(void);
stats_plugin *stats_plugins(void);
void stats_shutdown(void);

#endif /* JW_CORE_BASE_H */
