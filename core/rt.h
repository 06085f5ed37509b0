/*
 * rt.h -- the running host's internal types: plugin instances, topology
 * generations, consumers, request/reply services, and the job that carries
 * one message from fetch to settlement.
 *
 * Thread map (who owns what):
 *   loop thread   rt itself, the generation list, the consumer and service
 *                 lists, Redis (rds), signals, timers, reload and drain. It
 *                 never blocks and never runs plugin code.
 *   fetcher (one per consumer)  its natsSubscription; pulls batches with
 *                 natsSubscription_Fetch and hands jobs on; also refreshes
 *                 the consumer's server-side numbers for /metrics.
 *   workers (pool)  plugin handle/init/fini, dead-letter publishes, host
 *                 services (publish, kv) called by plugins.
 *   cnats threads   connection events and request/reply deliveries; they
 *                 only hand work on.
 *
 * One message, dedup on:  fetcher -> claim_q (mpsc) -> loop: rds_claim ->
 *   CLAIMED -> pool -> worker: handle -> done_q (mpsc) -> loop: rds_commit
 *   -> natsMsg_Ack -> job_finish (credit back to the fetcher).
 * Dedup off: fetcher -> pool -> worker: handle -> natsMsg_Ack -> job_finish.
 */
#ifndef JW_RT_H
#define JW_RT_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "jetway/plugin.h"
#include "jsmeta.h"
#include "mpsc.h"
#include "msgid.h"
#include "plugin_loader.h"
#include "pool.h"
#include "stats.h"

typedef struct rt rt;
typedef struct gen gen;
typedef struct consumer_rt consumer_rt;
typedef struct service_rt service_rt;

/*
 * One initialised plugin instance (the plugin's jw_instance). Shared by every
 * generation whose config declares it with the same file bytes and the same
 * config; refs counts those generations. fini() and unload happen on a
 * worker once refs reaches zero. Immutable after init except refs.
 */
struct jw_instance {
    char *name; /* instance name from plugins.instances[].name */
    char *file;
    plugin_module *mod;
    char *config_json; /* what init() got; compared on reload */
    void *ctx;         /* the plugin's */
    atomic_int refs;
    stats_plugin *st;
};
typedef struct jw_instance instance;

/*
 * A topology generation: one parsed config and its instances. The loop holds
 * one reference to the current generation; every job holds one to the
 * generation it was dispatched with, so a reload can never free settings or
 * instances that an in-flight message still uses.
 */
struct gen {
    jw_config *cfg;
    instance **insts; /* parallel to cfg->plugins */
    atomic_long refs;
    uint64_t id;
};

typedef enum {
    JOB_MESSAGE = 0, /* a JetStream message of a consumer */
    JOB_REQUEST,     /* a core NATS request of a service */
    JOB_TASK,        /* host chore run on a worker (fini, reload build) */
} job_kind;

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
 * worker, Redis callback) until job_finish() returns it.
 */
typedef struct job {
    mpsc_node node; /* link on a loop queue */
    pool_item item; /* link on a pool queue */
    job_kind kind;
    consumer_rt *c;         /* JOB_MESSAGE */
    service_rt *svc;        /* JOB_REQUEST */
    gen *g;                 /* referenced */
    instance *inst;         /* the handler, from g */
    const cfg_consumer *cc; /* from g->cfg */
    natsMsg *msg;           /* owned */
    jsmeta meta;
    int parsed; /* meta, id, trace and key filled in (job_parse) */
    int has_id;
    int claimed;             /* a Redis claim is held (token below) */
    int unclaimed;           /* processed without claim (on_unavailable: process) */
    int rejected;            /* handler said REJECT: its dead letter counts as result "reject" */
    int busy;                /* claim held elsewhere: its NAK counts as result "busy" */
    const char *dead_reason; /* dead-letter without calling the handler */
    settle_kind settle;
    int64_t delay_ms;
    uint64_t t_recv_ns;
    void (*task)(void *arg); /* JOB_TASK */
    void *task_arg;
    char id[MSGID_MAX * 2 + 2];
    char key[MSGID_MAX * 2 + 320];
    char token[33];
    char trace_id[33];
    char span_id[17];
    char parent_span_id[17];
    char reason[JW_REASON_MAX];
} job;

/*
 * A durable pull consumer being served. Lives from its first appearance in
 * a generation until it is removed by a reload (or shutdown) and drained.
 * Fields under mu are shared by the fetcher, the workers and the loop.
 */
struct consumer_rt {
    rt *r;
    char *name;
    char *stream;
    natsSubscription *sub; /* the fetcher's; destroyed after it is joined */
    pthread_t thread;
    int thread_started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    gen *g;                 /* under mu: current generation, referenced */
    const cfg_consumer *cc; /* under mu: from g */
    instance *inst;         /* under mu: from g */
    int inflight;           /* under mu: messages fetched and not finished */
    int max_inflight;       /* under mu */
    int fetcher_waiting;    /* under mu */
    job *free_jobs;         /* under mu */
    int defer_acks;         /* under mu: workers leave ACKs to the fetcher */
    job *acks;              /* under mu: jobs whose ACK the fetcher sends */
    int nfree;

    atomic_int stop;           /* fetcher: exit after the current fetch */
    atomic_int exited;         /* fetcher has returned */
    atomic_int dedup;          /* claims needed */
    atomic_int pause_on_redis; /* dedup with on_unavailable: pause */
    pool_queue q;
    stats_consumer *st;
    int removed;       /* loop: removed by reload, draining */
    int prune;         /* loop: delete the durable once drained */
    consumer_rt *next; /* loop: rt list */
};

/* A request/reply endpoint (core NATS queue subscription). */
struct service_rt {
    rt *r;
    char *name;
    natsSubscription *sub;
    pthread_mutex_t mu;
    gen *g;                   /* under mu */
    instance *inst;           /* under mu */
    const cfg_service_ep *ep; /* under mu */
    pool_queue q;
    atomic_int inflight;
    int removed;      /* loop: removed by reload, draining */
    service_rt *next; /* loop: rt list */
};

struct rt {
    uv_loop_t *loop;
    char *config_path;
    char *pid_file;
    natsConnection *nc;
    jsCtx *js;
    struct rds *rds;
    pool *pool;
    gen *cur; /* loop: current generation */
    uint64_t next_gen_id;
    consumer_rt *consumers; /* loop */
    service_rt *services;   /* loop */
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
    atomic_int stopping; /* for threads: shutting down */
    jw_host host;        /* the table handed to plugins */
    void *http;          /* http server, when configured */
    void *otlp;          /* span exporter, when configured */
    int grace_expired;
    /* loop: CLAIMED jobs of one consumer gathered while claim replies are
     * read, handed to the pool 16 at a time or from run_check at the end of
     * the iteration (one pool lock and wake-up per group, not per job). */
    job *run_head, *run_tail;
    consumer_rt *run_c;
    int run_n;
    uv_check_t run_check;
    job *commit_retry;        /* loop: commits that failed on Redis, re-sent on reconnect */
    uint64_t commit_retry_ms; /* loop: when they were last re-sent */
    int64_t grace_deadline_ms;
};

#endif /* JW_RT_H */
