/*
 * rt -- the running host's internal types: plugin instances, topology
 * generations, consumers, request/reply services, and the job that carries
 * one message from fetch to settlement.
 *
 * Thread map (who owns what):
 *   loop thread   rt itself, the generation list, the consumer and service
 *                 lists, Redis (rds), signals, timers, reload and drain. It
 *                 never blocks and never runs plugin code.
 *   fetcher (one per consumer)  its pull client (pull_int.h: a private
 *                 inbox, a pull request kept outstanding within the
 *                 credits), hands batches of jobs on; also refreshes the
 *                 consumer's server-side numbers for /metrics.
 *   workers (pool)  plugin handle/init/fini, dead-letter publishes, host
 *                 services (publish, kv) called by plugins.
 *   cnats threads   connection events, request/reply deliveries and the
 *                 PubAcks of publish_async (pubasync_int.h); they only
 *                 hand work on.
 *   reload thread   one at a time, short-lived: validate, provision, build
 *                 the next generation (plugin init of new instances).
 *   main thread     start-up until the loop exists; it is then the loop
 *                 thread until uv_run returns, and the main thread again
 *                 for teardown (which may run plugin fini itself, the pool
 *                 being stopped).
 *   http, otlp      the /metrics endpoint's own loop; the span exporter.
 *
 * Each thread tags itself with its role when it starts (jw_role in
 * base/base.h: JW_ROLE_LOOP, _WORKER, _FETCHER, _RELOAD, _MAIN, _CNATS,
 * _HTTP, _OTLP; cnats callbacks adopt _CNATS only on untagged threads), and
 * functions whose comment states an affinity assert it at entry with
 * JW_ASSERT_THREAD / JW_ASSERT_NOT_THREAD. The assertions are compiled into
 * test builds (FAILPOINTS=1, sanitizers) and abort naming the function and
 * the caller's role; release and bench builds compile them out.
 *
 * One message, dedup on:  fetcher -> claim_q (mpsc) -> loop: rds_claim ->
 *   CLAIMED -> pool -> worker: handle -> done_q (mpsc) -> loop: rds_commit
 *   -> "+ACK" (jsack_send) -> job_finish (credit back to the fetcher).
 * Dedup off: fetcher -> pool -> worker: handle -> "+ACK" -> job_finish.
 */
#ifndef JW_RT_H
#define JW_RT_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "jetway/plugin.h"
#include "nats/nats.h"
#include "base/base.h"
#include "plugin/plugin.h"

typedef struct rt_host rt_host;
typedef struct rt_gen rt_gen;
typedef struct rt_consumer rt_consumer;
typedef struct rt_service rt_service;

/*
 * A topology generation: one parsed config and its instances. The loop holds
 * one reference to the current generation; every job holds one to the
 * generation it was dispatched with, so a reload can never free settings or
 * instances that an in-flight message still uses.
 */
struct rt_gen {
    jw_config *cfg;
    plugin_instance **insts; /* parallel to cfg->plugins */
    atomic_long refs;
    uint64_t id;
};

typedef enum {
    RT_JOB_MESSAGE = 0, /* a JetStream message of a consumer */
    RT_JOB_REQUEST,     /* a core NATS request of a service */
    RT_JOB_TASK,        /* host chore run on a worker (fini, reload build) */
} rt_job_kind;

typedef enum {
    SETTLE_NONE = 0,
    SETTLE_ACK,  /* handler succeeded */
    SETTLE_NAK,  /* redeliver after delay_ms */
    SETTLE_DEAD, /* dead letter published: TERM */
    SETTLE_DUP,  /* already done: ACK without handling */
} settle_kind;

/*
 * One message in flight. Allocated from its consumer's free list by the
 * fetcher, then owned by exactly one stage at a time (loop queue, pool,
 * worker, Redis callback) until rt_job_finish() returns it.
 */
typedef struct rt_job {
    mpsc_node node; /* link on a loop queue */
    pool_item item; /* link on a pool queue */
    rt_job_kind kind;
    rt_consumer *c;         /* RT_JOB_MESSAGE */
    rt_service *svc;        /* RT_JOB_REQUEST */
    rt_gen *g;              /* referenced */
    plugin_instance *inst;  /* the handler, from g */
    const cfg_consumer *cc; /* from g->cfg */
    natsMsg *msg;           /* owned */
    jsmeta meta;
    int parsed; /* meta, id, trace and key filled in (job_parse) */
    int has_id;
    int replay_at;           /* a replayed dead letter: index + 1 of the separator before the replay
                                marker in id (0 = not a replay); the key uses MSGID_KEY_REPLAY_SEP */
    int claimed;             /* a Redis claim is held (token below) */
    int unclaimed;           /* processed without claim (on_unavailable: process) */
    int rejected;            /* handler said REJECT: its dead letter counts as result "reject" */
    int busy;                /* claim held elsewhere: its NAK counts as result "busy" */
    const char *dead_reason; /* dead-letter without calling the handler */
    settle_kind settle;
    int64_t delay_ms;
    uint64_t t_recv_ns;
    void (*task)(void *arg); /* RT_JOB_TASK */
    void *task_arg;
    /*
     * Asynchronous publishes (jw_host.publish_async, see pubasync_int.h).
     * holds: 1 from dispatch until the handler has returned, plus one per
     * publish_async whose PubAck (or failure, or timeout) has not come; the
     * thread that drops it to 0 settles the job (the worker, or the cnats
     * PubAck thread through done_q). pub_failed: one of them failed.
     * in_handler: publish_async is accepted only while the handler runs.
     * npubs: publish_async calls made for the job. held_reply: a request's
     * respond() after a publish_async, sent when holds reaches 0.
     */
    atomic_int holds;
    atomic_int pub_failed;
    atomic_int in_handler;
    atomic_int npubs;
    void *held_reply; /* malloc'ed, REQUEST jobs */
    size_t held_len;
    int has_held_reply;
    struct rt_job *batch_next; /* the other jobs of one handle_batch call */
    char id[MSGID_MAX * 2 + 2];
    char key[MSGID_MAX * 2 + 320];
    char token[33];
    char trace_id[33];
    char span_id[17];
    char parent_span_id[17];
    char reason[JW_REASON_MAX];
} rt_job;

/* The host a message or request job belongs to. */
static inline rt_host *rt_job_host(const rt_job *j);

/*
 * A durable pull consumer being served. Lives from its first appearance in
 * a generation until it is removed by a reload (or shutdown) and drained.
 * Fields under mu are shared by the fetcher, the workers and the loop.
 */
struct rt_consumer {
    rt_host *r;
    char *name;
    char *stream;
    pthread_t thread;
    int thread_started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    rt_gen *g;              /* under mu: current generation, referenced */
    const cfg_consumer *cc; /* under mu: from g */
    plugin_instance *inst;  /* under mu: from g */
    int inflight;           /* under mu: messages fetched and not finished */
    int max_inflight;       /* under mu */
    int fetcher_waiting;    /* under mu */
    int wake_inflight;      /* under mu: rt_job_finish wakes the waiting fetcher at or below */
    rt_job *free_jobs;      /* under mu */
    int nfree;

    atomic_int stop;           /* fetcher: exit after the current fetch */
    atomic_int exited;         /* fetcher has returned */
    atomic_int dedup;          /* claims needed */
    atomic_int pause_on_redis; /* dedup with on_unavailable: pause */
    pool_queue q;
    stats_consumer *st;
    struct rt_ctl *ctl; /* pause and breaker (breaker_int.h); NULL: neither */
    int removed;        /* loop: removed by reload, draining */
    int prune;          /* loop: delete the durable once drained */
    rt_consumer *next;  /* loop: rt list */
};

/* A request/reply endpoint (core NATS queue subscription). */
struct rt_service {
    rt_host *r;
    char *name;
    natsSubscription *sub;
    pthread_mutex_t mu;
    rt_gen *g;                /* under mu */
    plugin_instance *inst;    /* under mu */
    const cfg_service_ep *ep; /* under mu */
    pool_queue q;
    atomic_int inflight;
    int removed;      /* loop: removed by reload, draining */
    rt_service *next; /* loop: rt list */
};

struct rt_host {
    uv_loop_t *loop;
    char *config_path;
    char *pid_file;
    natsConnection *nc;
    jsCtx *js;
    jsCtx *js_async; /* publish_async's context: its PubAck handler is ours */
    struct rds *rds;
    pool *pool;
    rt_gen *cur; /* loop: current generation */
    uint64_t next_gen_id;
    rt_consumer *consumers; /* loop */
    rt_service *services;   /* loop */
    mpsc claim_q;           /* fetchers -> loop: jobs to claim */
    mpsc done_q;            /* workers -> loop: jobs to commit/release */
    mpsc event_q;           /* any thread -> loop: reload results, nats events */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t tick;
    uv_timer_t grace;
    int draining;
    int sigint_count;
    int reloading;
    int reload_pending;
    uint64_t reload_seq;
    atomic_int redis_up;
    atomic_int redis_refused;  /* the Redis server's configuration is refused (rds on_state -1) */
    atomic_int redis_settled;  /* Redis's first outcome is known (up, down, refused), or
                                * REDIS_SETTLE_MS passed: dedup consumers wait for it */
    uint64_t redis_started_ms; /* loop: when rds_start ran (monotonic ms) */
    atomic_int stopping;       /* for threads: shutting down */
    jw_host host;              /* the table handed to plugins */
    void *http;                /* http server, when configured */
    void *otlp;                /* span exporter, when configured */
    void *watch;               /* loop: the config watcher (run --watch-config), see watch_int.h */
    void *ctlsock; /* loop: the control socket next to the pid file, see ctlsock_int.h */
    int grace_expired;
    /* loop: CLAIMED jobs of one consumer gathered while claim replies are
     * read, handed to the pool 16 at a time or from run_check at the end of
     * the iteration (one pool lock and wake-up per group, not per job). */
    rt_job *run_head, *run_tail;
    rt_consumer *run_c;
    int run_n;
    int run_batch; /* the gathered jobs are one handle_batch item */
    uv_check_t run_check;
    rt_job *commit_retry;     /* loop: commits that failed on Redis, re-sent on reconnect */
    uint64_t commit_retry_ms; /* loop: when they were last re-sent */
    int64_t grace_deadline_ms;
};

static inline rt_host *
rt_job_host(const rt_job *j)
{
    return j->kind == RT_JOB_REQUEST ? j->svc->r : j->c->r;
}

#endif /* JW_RT_H */
