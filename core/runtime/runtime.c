/*
 * runtime.c -- see runtime.h. The loop side: signals, the tick, the drain,
 * and the start/stop sequence. Reload lives in reload.c.
 */
#include "runtime.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "consumer_int.h"
#include "gen_int.h"
#include "host_api_int.h"
#include "pubasync_int.h"
#include "redis/redis.h"
#include "nats/nats.h"
#include "rt_obs_int.h"
#include "reload_int.h"
#include "watch_int.h"
#include "breaker_int.h" /* ops18: pause/breaker registry, control socket */
#include "ctlsock_int.h"
#include "service_int.h"
#include "settle_int.h"

/* How long dedup consumers wait for Redis's first outcome (connected,
 * refused) before their on_unavailable policy applies: a first fetch must
 * not process without claims on a server the check is about to refuse. */
#define REDIS_SETTLE_MS 3000
#define TICK_MS         100
/* How often commits that failed without a disconnect are sent again. */
#define COMMIT_RETRY_MS 1000

static rt_host the_rt;
static pthread_t loop_thread;
static int loop_running;
static pool_queue task_q;

rt_host *
rt_get(void)
{
    return &the_rt;
}

int
rt_on_loop_thread(void)
{
    return loop_running && pthread_equal(pthread_self(), loop_thread);
}

static void
task_run(pool_queue *q, pool_item *item)
{
    (void)q;
    rt_job *t = (rt_job *)((char *)item - offsetof(rt_job, item));
    t->task(t->task_arg);
    free(t);
}

void
rt_run_task(rt_host *r, void (*fn)(void *), void *arg)
{
    rt_job *t = calloc(1, sizeof(*t));
    if (!t) {
        log_error("out of memory queueing a host task; running it here");
        fn(arg);
        return;
    }
    t->kind = RT_JOB_TASK;
    t->task = fn;
    t->task_arg = arg;
    pool_submit(r->pool, &task_q, &t->item, &t->item, 1);
}

/* Run fn(arg) on a worker and wait for it (start-up only). */
typedef struct sync_task {
    void (*fn)(void *);
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} sync_task;

static void
sync_task_run(void *arg)
{
    sync_task *t = arg;
    t->fn(t->arg);
    pthread_mutex_lock(&t->mu);
    t->done = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void
run_on_worker_and_wait(rt_host *r, void (*fn)(void *), void *arg)
{
    sync_task t = {.fn = fn, .arg = arg, .done = 0};
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    rt_run_task(r, sync_task_run, &t);
    pthread_mutex_lock(&t.mu);
    while (!t.done)
        pthread_cond_wait(&t.cv, &t.mu);
    pthread_mutex_unlock(&t.mu);
    pthread_mutex_destroy(&t.mu);
    pthread_cond_destroy(&t.cv);
}

/* ---- NATS connection events (cnats threads: atomics only) ---- */

/* Set before we close the connection ourselves: cnats then reports a
 * disconnect that is no outage and must not be logged as one. */
static atomic_int nats_closing;

static void
on_nats_disconnected(void *ud)
{
    (void)ud;
    atomic_store(&stats.nats_connected, 0);
    if (atomic_load(&nats_closing))
        return;
    stats_set_reason(stats.nats_reason, NULL); /* /readyz: "nats disconnected" */
    log_warn("nats: disconnected; reconnecting");
}

/* Stays set: cnats may report the closed connection's disconnect late (it is
 * cleared before the next connection is opened). */
static void
close_nats(natsConnection *nc, jsCtx *js)
{
    atomic_store(&nats_closing, 1);
    natsconn_close(nc, js);
}

static void
on_nats_reconnected(void *ud)
{
    (void)ud;
    atomic_store(&stats.nats_connected, 1);
    atomic_fetch_add(&stats.nats_reconnects, 1);
    stats_set_reason(stats.nats_reason, NULL);
    log_info("nats: reconnected");
}

static void
on_nats_closed(void *ud)
{
    (void)ud;
    atomic_store(&stats.nats_connected, 0);
}

static natsconn_events nats_events = {
    .disconnected = on_nats_disconnected,
    .reconnected = on_nats_reconnected,
    .closed = on_nats_closed,
};

/* ---- Redis state (loop) ---- */

static void begin_drain(rt_host *r, const char *why);

/* Redis refusals in a row (loop thread), and the limit (0 = none). */
static int redis_refusals, redis_max_refusals;
static int exit_status; /* rt_main's status after a drain that was a failure */

static void
on_redis_state(void *ud, int up)
{
    rt_host *r = ud;
    /* Set after redis_refused below: a fetcher that sees "settled" must
     * also see a refusal that came with it. */
    if (up == RDS_STATE_AUTH_REFUSED) {
        atomic_store(&r->redis_settled, 1);
        /* WRONGPASS/NOAUTH: retrying will not fix a password. */
        if (redis_max_refusals > 0 && ++redis_refusals == redis_max_refusals) {
            log_error("redis: the server refused our credentials %d times in a row; stopping "
                      "(check redis.password/user; redis.max_auth_failures: 0 or run "
                      "--retry-auth keeps retrying)",
                      redis_refusals);
            exit_status = 1;
            begin_drain(r, "redis refused the credentials");
        }
        return;
    }
    if (up < 0) {
        /* the server is refused (rds logged why): dedup consumers stop
         * fetching whatever their on_unavailable says */
        atomic_store(&r->redis_refused, 1);
        atomic_store(&r->redis_settled, 1);
        return;
    }
    atomic_store(&r->redis_up, up);
    if (up)
        atomic_store(&r->redis_refused, 0);
    atomic_store(&r->redis_settled, 1);
    if (up) {
        redis_refusals = 0;
        log_info("redis: connected");
        settle_redis_up(r);
    } else {
        log_warn("redis: unreachable; consumers that need claims pause");
    }
}

/* ---- drain and stop ---- */

static void
on_closed_noop(uv_handle_t *h)
{
    (void)h;
}

static void
rds_stopped(void *ud)
{
    (void)ud;
}

static void
finish_loop(rt_host *r)
{
    if (uv_is_closing((uv_handle_t *)&r->tick))
        return;
    uv_timer_stop(&r->tick);
    uv_close((uv_handle_t *)&r->tick, on_closed_noop);
    uv_close((uv_handle_t *)&r->grace, on_closed_noop);
    uv_close((uv_handle_t *)&r->sig_term, on_closed_noop);
    uv_close((uv_handle_t *)&r->sig_int, on_closed_noop);
    uv_close((uv_handle_t *)&r->sig_hup, on_closed_noop);
    reload_close(r);
    watch_stop(r);
    ctlsock_stop(r); /* ops18 */
    obs_stop_http(r);
    if (r->rds) {
        rds_stop(r->rds, rds_stopped, r);
        r->rds = NULL;
    }
    settle_close(r, on_closed_noop);
    mpsc_close(&r->claim_q, on_closed_noop);
    mpsc_close(&r->done_q, on_closed_noop);
    mpsc_close(&r->event_q, on_closed_noop);
}

static int
all_drained(rt_host *r)
{
    for (rt_consumer *c = r->consumers; c; c = c->next) {
        if (!consumer_drained(c))
            return 0;
    }
    for (rt_service *s = r->services; s; s = s->next) {
        if (!service_drained(s))
            return 0;
    }
    return r->commit_retry == NULL && !r->reloading;
}

static void
on_grace(uv_timer_t *t)
{
    rt_host *r = t->data;
    int n = 0;
    for (rt_consumer *c = r->consumers; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        n += c->inflight;
        pthread_mutex_unlock(&c->mu);
    }
    log_warn("drain: shutdown_grace expired with %d messages in flight; they will be "
             "redelivered after ack_wait",
             n);
    r->grace_expired = 1;
    finish_loop(r);
}

static void
begin_drain(rt_host *r, const char *why)
{
    if (r->draining)
        return;
    r->draining = 1;
    atomic_store(&r->stopping, 1);
    atomic_store(&stats.draining, 1);
    log_info("%s: draining (stop fetching, finish in-flight messages)", why);
    for (rt_service *s = r->services; s; s = s->next)
        service_stop(s);
    for (rt_consumer *c = r->consumers; c; c = c->next)
        consumer_stop(c);
    /* Queued but not started: give them back now rather than after ack_wait. */
    for (rt_consumer *c = r->consumers; c; c = c->next)
        settle_give_back_waiting(r, c);
    int64_t grace = r->cur ? r->cur->cfg->service.shutdown_grace_ms : 30000;
    uv_timer_start(&r->grace, on_grace, (uint64_t)(grace > 0 ? grace : 1), 0);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    rt_host *r = h->data;
    if (signum == SIGHUP) {
        if (!r->draining)
            reload_request(r);
        return;
    }
    if (signum == SIGINT && ++r->sigint_count > 1) {
        log_warn("second SIGINT: exiting now");
        _exit(130);
    }
    begin_drain(r, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Reap consumers removed by reload once drained. */
static void
reap_removed(rt_host *r)
{
    rt_consumer **pp = &r->consumers;
    while (*pp) {
        rt_consumer *c = *pp;
        if (c->removed && consumer_drained(c)) {
            *pp = c->next;
            reload_consumer_gone(r, c);
            consumer_free(c);
            continue;
        }
        pp = &c->next;
    }
    rt_service **sp = &r->services;
    while (*sp) {
        rt_service *s = *sp;
        if (s->removed && service_drained(s)) {
            *sp = s->next;
            service_free(s);
            continue;
        }
        sp = &s->next;
    }
}

static void
on_tick(uv_timer_t *t)
{
    rt_host *r = t->data;
    uint64_t now_ms = clock_mono_ns() / 1000000;
    atomic_store(&stats.loop_heartbeat_ms, (int_fast64_t)now_ms);
    /* Redis unreachable from the start reports nothing: after a while the
     * dedup consumers go on with their on_unavailable policy. */
    if (r->rds && !atomic_load(&r->redis_settled) &&
        now_ms - r->redis_started_ms >= REDIS_SETTLE_MS)
        atomic_store(&r->redis_settled, 1);
    reap_removed(r);
    /* Commits whose outcome was unknown are re-sent when Redis comes back;
     * an error that did not drop the connection (a refused or garbled
     * reply) gets no such event, so retry those every second too. */
    if (r->commit_retry && r->rds && rds_connected(r->rds) &&
        now_ms - r->commit_retry_ms >= COMMIT_RETRY_MS) {
        r->commit_retry_ms = now_ms;
        settle_redis_up(r);
    }
    if (r->draining && all_drained(r)) {
        log_info("drain: complete");
        finish_loop(r);
    }
}

static void
on_event(mpsc *q, mpsc_node *list)
{
    rt_host *r = q->data;
    while (list) {
        mpsc_node *next = list->next;
        reload_on_event(r, list);
        list = next;
    }
    /* A fetcher that exited also pokes this queue: check the drain now. */
    if (r->draining && all_drained(r))
        finish_loop(r);
}

/* ---- start ---- */

typedef struct build_args {
    rt_host *r;
    jw_config *cfg;
    rt_gen *g;
    cfg_errors errs;
} build_args;

static void
build_gen_task(void *arg)
{
    build_args *a = arg;
    a->g = rt_gen_create(a->r, a->cfg, NULL, &a->errs);
}

/*
 * Connect and check that JetStream answers. Unreachable servers are retried
 * (for up to ~5 minutes); a refusal (authorization, TLS) ends the start
 * after max_auth_failures in a row (0 = never). Every failure's kind and
 * text go to /readyz (stats.nats_reason), which is already serving.
 */
static int
connect_nats(rt_host *r, const jw_config *cfg, int retry_auth)
{
    char err[512];
    int refused = 0, max = retry_auth ? 0 : cfg->nats.max_auth_failures;
    for (int attempt = 0;; attempt++) {
        natsconn_fail kind;
        atomic_store(&nats_closing, 0);
        if (natsconn_open(&cfg->nats, &nats_events, &r->nc, &r->js, err, sizeof(err)) == 0) {
            const char *probe = cfg->nstreams ? cfg->streams[0].name : NULL;
            if (natsconn_check_jetstream(r->js, probe, &kind, err, sizeof(err)) == 0) {
                atomic_store(&stats.nats_connected, 1);
                stats_set_reason(stats.nats_reason, NULL);
                return 0;
            }
            close_nats(r->nc, r->js);
            r->nc = NULL;
            r->js = NULL;
        } else {
            kind = natsconn_failure_kind(err);
        }
        const char *text = strncmp(err, "nats: ", 6) == 0 ? err + 6 : err;
        stats_set_reason(stats.nats_reason, "%s: %s", natsconn_failure_name(kind), text);
        int refusal = kind == NATSCONN_FAIL_AUTH || kind == NATSCONN_FAIL_TLS;
        refused = refusal ? refused + 1 : 0;
        if (refusal && max > 0 && refused >= max) {
            log_error("nats: %s %d time%s in a row: %s; not starting (check the nats "
                      "credentials and tls settings; nats.max_auth_failures: 0 or run "
                      "--retry-auth keeps retrying)",
                      natsconn_failure_name(kind), refused, refused == 1 ? "" : "s", text);
            return -1;
        }
        if (attempt == 0 || attempt % 10 == 0)
            jw_log(refusal ? JW_LOG_ERROR : JW_LOG_WARN, NULL, "nats: %s: %s; retrying",
                   natsconn_failure_name(kind), text);
        if (attempt >= 600) {
            log_error("giving up connecting to NATS: %s", text);
            return -1;
        }
        usleep(500 * 1000);
    }
}

static int
needs_redis(const jw_config *cfg)
{
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        if (cfg->consumers[i].dedup.enabled)
            return 1;
    }
    return 0;
}

static int
needs_fsync(const jw_config *cfg)
{
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        if (cfg->consumers[i].dedup.enabled && cfg->consumers[i].dedup.require_fsync)
            return 1;
    }
    return 0;
}

static void
write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        log_warn("cannot write pid file %s: %s", path, strerror(errno));
        return;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
}

static int
rt_start_topology(rt_host *r)
{
    const jw_config *cfg = r->cur->cfg;
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        rt_consumer *c = consumer_start(r, r->cur, &cfg->consumers[i]);
        if (!c)
            return -1;
        c->next = r->consumers;
        r->consumers = c;
    }
    for (size_t i = 0; i < cfg->nservices; i++) {
        rt_service *s = service_start(r, r->cur, &cfg->services[i]);
        if (!s)
            return -1;
        s->next = r->services;
        r->services = s;
    }
    return 0;
}

static void
print_errors(const cfg_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        log_error("%s", errs->v[i].text);
}

static void
teardown(rt_host *r, int abandon_workers)
{
    if (abandon_workers) {
        /* Grace expired with handlers still running: don't wait for them
         * (their messages come back after ack_wait), and free nothing a
         * running worker may still touch. */
        log_info("exiting without waiting for running handlers");
        for (rt_consumer *c = r->consumers; c; c = c->next)
            consumer_stop(c);
        pubasync_close(r);
        close_nats(r->nc, r->js);
        return;
    }
    /* Drained: every job has finished and no worker touches a consumer. */
    while (r->consumers) {
        rt_consumer *c = r->consumers;
        r->consumers = c->next;
        consumer_free(c);
    }
    while (r->services) {
        rt_service *s = r->services;
        r->services = s->next;
        service_stop(s);
        service_free(s);
    }
    pool_stop(r->pool); /* runs queued tasks (plugin fini) first */
    r->pool = NULL;
    obs_stop_tracing(r);
    if (r->cur) {
        rt_gen_unref(r, r->cur, 1); /* last reference: fini on this thread */
        r->cur = NULL;
    }
    pubasync_close(r);
    close_nats(r->nc, r->js);
    r->nc = NULL;
    r->js = NULL;
    kv_teardown();
}

int
rt_main(const rt_options *opts)
{
    jw_thread_set_role(JW_ROLE_MAIN);
    rt_host *r = &the_rt;
    memset(r, 0, sizeof(*r));
    signal(SIGPIPE, SIG_IGN);
    r->config_path = strdup(opts->config_path);
    r->pid_file = opts->pid_file ? strdup(opts->pid_file) : NULL;
    stats.start_ts = (int64_t)time(NULL);
    host_api_init(&r->host);

    cfg_errors errs = {0};
    jw_config *cfg = NULL;
    if (config_load(r->config_path, &cfg, &errs) != 0) {
        print_errors(&errs);
        log_error("%zu configuration error%s; not starting", errs.n, errs.n == 1 ? "" : "s");
        cfg_errors_free(&errs);
        free(r->config_path);
        free(r->pid_file);
        return 1;
    }
    log_setup(cfg->log.format == CFG_LOG_JSON, cfg->log.level, cfg->service.name);
    log_info("jetway starting: config %s (sha256 %.12s), %zu consumers, %zu services", cfg->path,
             cfg->digest, cfg->nconsumers, cfg->nservices);

    int rc = 1;
    /* HTTP first: while NATS or Redis is down or refuses us, /healthz says
     * "starting" and /readyz why, instead of refusing connections. */
    atomic_store(&stats.starting, 1);
    atomic_store(&stats.needs_redis, needs_redis(cfg));
    redis_max_refusals = opts->retry_auth ? 0 : cfg->redis.max_auth_failures;
    obs_start_http(r, cfg);
    if (connect_nats(r, cfg, opts->retry_auth) != 0)
        goto fail_cfg;
    if (pubasync_init(r, cfg->nats.request_timeout_ms) != 0)
        goto fail_nats;
    kv_setup(cfg->has_redis ? &cfg->redis : NULL);
    char err[1024];
    if (provision_apply(r->js, cfg, 0, err, sizeof(err)) != 0) {
        log_error("provisioning failed: %s", err);
        goto fail_nats;
    }
    if (pool_start(cfg->service.workers > 0 ? cfg->service.workers : 4, &r->pool) != 0)
        goto fail_nats;
    pool_set_thread_exit(kv_thread_cleanup);
    pool_queue_init(&task_q, 2, task_run, r);

    build_args ba = {.r = r, .cfg = cfg};
    run_on_worker_and_wait(r, build_gen_task, &ba);
    cfg = NULL; /* owned by the generation now, or freed */
    if (!ba.g) {
        print_errors(&ba.errs);
        log_error("plugins could not be loaded; not starting");
        cfg_errors_free(&ba.errs);
        goto fail_pool;
    }
    cfg_errors_free(&ba.errs);
    r->cur = ba.g;
    r->cur->id = ++r->next_gen_id;
    stats_lock();
    snprintf(stats.config_digest, sizeof(stats.config_digest), "%s", r->cur->cfg->digest);
    stats_unlock();

    r->loop = uv_default_loop();
    loop_thread = pthread_self();
    jw_thread_set_role(JW_ROLE_LOOP); /* the main thread is the loop until uv_run returns */
    loop_running = 1;
    settle_init(r);
    mpsc_init(r->loop, &r->claim_q, settle_claim_drain, r);
    mpsc_init(r->loop, &r->done_q, settle_done_drain, r);
    mpsc_init(r->loop, &r->event_q, on_event, r);
    uv_signal_init(r->loop, &r->sig_term);
    uv_signal_init(r->loop, &r->sig_int);
    uv_signal_init(r->loop, &r->sig_hup);
    r->sig_term.data = r->sig_int.data = r->sig_hup.data = r;
    uv_signal_start(&r->sig_term, on_signal, SIGTERM);
    uv_signal_start(&r->sig_int, on_signal, SIGINT);
    uv_signal_start(&r->sig_hup, on_signal, SIGHUP);
    uv_timer_init(r->loop, &r->tick);
    uv_timer_init(r->loop, &r->grace);
    r->tick.data = r->grace.data = r;
    uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);
    atomic_store(&stats.loop_heartbeat_ms, (int_fast64_t)(clock_mono_ns() / 1000000));
    reload_init(r);

    const jw_config *cur = r->cur->cfg;
    atomic_store(&stats.needs_redis, needs_redis(cur));
    atomic_store(&stats.js_timeout_ms, cur->health.jetstream_timeout_ms);
    if (cur->has_redis) {
        r->redis_started_ms = clock_mono_ns() / 1000000;
        if (rds_start(r->loop, &cur->redis, on_redis_state, r, &r->rds) != 0)
            log_error("redis: cannot start the client");
        else
            rds_set_require_fsync(r->rds, needs_fsync(cur));
    }
    obs_start(r);
    if (rt_start_topology(r) != 0)
        begin_drain(r, "start-up failure");
    else if (opts->watch_config && watch_start(r) != 0)
        begin_drain(r, "start-up failure (--watch-config)");
    if (r->pid_file) {
        write_pid_file(r->pid_file);
        ctlsock_start(r); /* ops18: jetway consumer pause|resume */
    }
    atomic_store(&stats.starting, 0);
    log_info("jetway running (pid %ld)", (long)getpid());

    uv_run(r->loop, UV_RUN_DEFAULT);
    loop_running = 0;
    /* The loop has returned: teardown runs on the main thread, which may
     * now run plugin fini itself (rt_on_loop_thread() is false too). */
    jw_thread_set_role(JW_ROLE_MAIN);
    int busy = uv_loop_close(r->loop);
    if (busy)
        log_warn("event loop closed with open handles");
    rc = exit_status;
    if (r->pid_file)
        unlink(r->pid_file);
    teardown(r, r->grace_expired);
    log_info("jetway stopped");
    goto out;

fail_pool:
    pool_stop(r->pool);
fail_nats:
    pubasync_close(r);
    close_nats(r->nc, r->js);
    kv_teardown();
fail_cfg:
    obs_stop_http(r);
    config_free(cfg);
out:
    ctl_shutdown(); /* ops18: before the stats blocks it points to */
    stats_shutdown();
    free(r->config_path);
    free(r->pid_file);
    nats_Close();
    return rc;
}
