/*
 * reload.c -- see reload.h.
 */
#include "reload_int.h"

#include <pthread.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consumer_int.h"
#include "gen_int.h"
#include "base/base.h"
#include "rt_obs_int.h"
#include "nats/nats.h"
#include "redis/redis.h"
#include "service_int.h"
#include "settle_int.h"

void rt_run_task(rt_host *r, void (*fn)(void *), void *arg);

typedef struct reload_ev {
    mpsc_node node;
    rt_gen *g;
    cfg_errors errs;
} reload_ev;

/* CLOCK_REALTIME ns at which the running (or last) reload began; written
 * to the status file so `jetway reload` can tell an outcome that started
 * after its SIGHUP from one that was already under way. Loop thread. */
static int64_t reload_started_ns;

static int64_t
realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
status_path(const rt_host *r, char *buf, size_t n)
{
    snprintf(buf, n, "%s.reload", r->pid_file);
}

void
reload_init(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    /* A status left by an earlier process would have a seq this one only
     * reaches later: `jetway reload` could mistake the two. */
    if (r->pid_file) {
        char path[4096];
        status_path(r, path, sizeof(path));
        unlink(path);
    }
}

void
reload_close(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    (void)r;
}

/* Collects provisioning refusals and errors as located reload errors. */
typedef struct prov_collect {
    const jw_config *cfg;
    cfg_errors *errs;
} prov_collect;

static const cfg_loc *
prov_object_loc(const jw_config *cfg, const char *object)
{
    char name[256];
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        snprintf(name, sizeof(name), "consumer %s/%s", cfg->consumers[i].stream,
                 cfg->consumers[i].name);
        if (strcmp(name, object) == 0)
            return &cfg->consumers[i].loc;
    }
    for (size_t i = 0; i < cfg->nstreams; i++) {
        snprintf(name, sizeof(name), "stream %s", cfg->streams[i].name);
        if (strcmp(name, object) == 0)
            return &cfg->streams[i].loc;
    }
    return NULL;
}

static void
prov_collect_report(const prov_result *res, void *ud)
{
    prov_collect *pc = ud;
    if (res->outcome != PROV_REFUSED && res->outcome != PROV_ERROR)
        return;
    char line[1024];
    prov_result_format(res, line, sizeof(line));
    const cfg_loc *loc = prov_object_loc(pc->cfg, res->object);
    if (loc)
        cfg_errors_add(pc->errs, "%s:%d:%d: provisioning: %s", pc->cfg->path, loc->line,
                       loc->column, line);
    else
        cfg_errors_add(pc->errs, "%s: provisioning: %s", pc->cfg->path, line);
}

static void *
reload_main(void *arg)
{
    pthread_setname_np(pthread_self(), "jw-reload"); /* for top -H, perf, gdb */
    jw_thread_set_role(JW_ROLE_RELOAD);
    rt_host *r = arg;
    reload_ev *ev = calloc(1, sizeof(*ev));
    if (!ev) {
        log_error("reload: out of memory");
        return NULL;
    }
    jw_config *cfg = NULL;
    if (config_load(r->config_path, &cfg, &ev->errs) == 0) {
        char err[1024];
        prov_collect pc = {.cfg = cfg, .errs = &ev->errs};
        /* A dry run first: a refused change must fail the reload before
         * anything else of the new config (new consumers, stream updates)
         * is applied to the server. */
        if (provision_apply_ex(r->js, cfg, 1, prov_collect_report, &pc, err, sizeof(err)) != 0 ||
            provision_apply_ex(r->js, cfg, 0, prov_collect_report, &pc, err, sizeof(err)) != 0) {
            if (ev->errs.n == 0)
                cfg_errors_add(&ev->errs, "%s: provisioning failed: %s", cfg->path, err);
            config_free(cfg);
        } else {
            /* r->cur cannot change while a reload runs: only the loop swaps
             * it, and only when this thread's result arrives. */
            ev->g = rt_gen_create(r, cfg, r->cur, &ev->errs);
        }
    }
    mpsc_push(&r->event_q, &ev->node);
    nats_ReleaseThreadMemory();
    return NULL;
}

void
reload_request(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    if (r->reloading) {
        r->reload_pending = 1;
        log_info("reload: already running; one more will follow");
        return;
    }
    log_info("reload: reading %s", r->config_path);
    r->reloading = 1;
    reload_started_ns = realtime_ns();
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 8u << 20);
    if (pthread_create(&t, &attr, reload_main, r) != 0) {
        log_error("reload: cannot start the reload thread");
        r->reloading = 0;
    }
    pthread_attr_destroy(&attr);
}

static void
write_status(rt_host *r, int ok, const char *digest, const char *error)
{
    if (!r->pid_file)
        return;
    char path[4096], tmp[4100];
    status_path(r, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        log_warn("reload: cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    fprintf(f,
            "{\"seq\":%llu,\"ok\":%s,\"digest\":\"%s\",\"ts\":%lld,\"started_ns\":%lld,"
            "\"error\":\"",
            (unsigned long long)r->reload_seq, ok ? "true" : "false", digest ? digest : "",
            (long long)time(NULL), (long long)reload_started_ns);
    for (const char *p = error ? error : ""; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc(*p == '\n' ? ' ' : *p, f);
    }
    fprintf(f, "\"}\n");
    fclose(f);
    rename(tmp, path);
}

static rt_consumer *
find_consumer(rt_host *r, const char *name)
{
    for (rt_consumer *c = r->consumers; c; c = c->next) {
        if (!c->removed && strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

static rt_service *
find_service(rt_host *r, const char *name)
{
    for (rt_service *s = r->services; s; s = s->next) {
        if (!s->removed && strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

/* Append ",name" to a bounded list for the log line. */
static void
list_add(char *buf, size_t n, const char *name)
{
    size_t l = strlen(buf);
    snprintf(buf + l, n - l, "%s%s", l ? "," : "", name);
}

/*
 * A removed consumer finishes only the messages its handlers have started.
 * The ones still waiting for a worker are given back now (released and
 * NAKed without delay) so whoever else consumes the durable gets them at
 * once instead of after this host worked through its backlog; the claims
 * still on their way back from Redis are given back in claim_cb.
 */
static void
abandon_waiting(rt_host *r, rt_consumer *c)
{
    int n = settle_give_back_waiting(r, c);
    if (n)
        log_info("reload: consumer %s removed; %d waiting message%s given back for redelivery",
                 c->name, n, n == 1 ? "" : "s");
}

static void
apply(rt_host *r, rt_gen *g)
{
    const jw_config *cfg = g->cfg;
    rt_gen *old = r->cur;
    char added[512] = "", removed[512] = "", updated[512] = "", swapped[512] = "";

    for (size_t i = 0; i < cfg->nconsumers; i++) {
        const cfg_consumer *cc = &cfg->consumers[i];
        rt_consumer *c = find_consumer(r, cc->name);
        if (c) {
            if (rt_gen_instance(old, cc->handler) != rt_gen_instance(g, cc->handler) ||
                c->inst != rt_gen_instance(g, cc->handler))
                list_add(updated, sizeof(updated), cc->name);
            consumer_update(c, g, cc);
            continue;
        }
        c = consumer_start(r, g, cc);
        if (c) {
            c->next = r->consumers;
            r->consumers = c;
            list_add(added, sizeof(added), cc->name);
        }
    }
    for (rt_consumer *c = r->consumers; c; c = c->next) {
        if (c->removed || config_find_consumer(cfg, c->name))
            continue;
        pthread_mutex_lock(&c->mu);
        c->prune = c->cc->prune;
        pthread_mutex_unlock(&c->mu);
        c->removed = 1;
        consumer_stop(c);
        abandon_waiting(r, c);
        list_add(removed, sizeof(removed), c->name);
    }
    for (size_t i = 0; i < cfg->nservices; i++) {
        const cfg_service_ep *ep = &cfg->services[i];
        rt_service *s = find_service(r, ep->name);
        if (s) {
            service_update(s, g, ep);
            continue;
        }
        s = service_start(r, g, ep);
        if (s) {
            s->next = r->services;
            r->services = s;
            list_add(added, sizeof(added), ep->name);
        }
    }
    for (rt_service *s = r->services; s; s = s->next) {
        int keep = 0;
        for (size_t i = 0; i < cfg->nservices; i++)
            keep |= strcmp(cfg->services[i].name, s->name) == 0;
        if (!keep && !s->removed) {
            s->removed = 1;
            service_stop(s);
            list_add(removed, sizeof(removed), s->name);
        }
    }
    for (size_t i = 0; i < cfg->nplugins; i++) {
        if (rt_gen_instance(old, cfg->plugins[i].name) != g->insts[i])
            list_add(swapped, sizeof(swapped), cfg->plugins[i].name);
    }

    g->id = ++r->next_gen_id;
    r->cur = g;
    rt_gen_unref(r, old, 1);
    log_setup(cfg->log.format == CFG_LOG_JSON, cfg->log.level, cfg->service.name);
    obs_reconfigure(r);
    stats_lock();
    snprintf(stats.config_digest, sizeof(stats.config_digest), "%s", cfg->digest);
    stats_unlock();
    atomic_fetch_add(&stats.reloads_ok, 1);
    atomic_store(&stats.last_reload_ok, 1);
    atomic_store(&stats.last_reload_ts, (int_fast64_t)time(NULL));
    log_info("reload: ok, config sha256 %.12s, generation %llu; consumers added [%s] removed [%s] "
             "handler changed [%s]; plugins swapped [%s]",
             cfg->digest, (unsigned long long)g->id, added, removed, updated, swapped);
    write_status(r, 1, cfg->digest, NULL);
}

void
reload_on_event(rt_host *r, mpsc_node *node)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    reload_ev *ev = (reload_ev *)((char *)node - offsetof(reload_ev, node));
    r->reloading = 0;
    r->reload_seq++;
    if (!ev->g || r->draining) {
        char first[1024] = "";
        for (size_t i = 0; i < ev->errs.n; i++) {
            log_error("reload: %s", ev->errs.v[i].text);
            if (i == 0)
                snprintf(first, sizeof(first), "%s", ev->errs.v[i].text);
        }
        if (ev->g) {
            /* Built, but a drain began meanwhile: never swap it in. */
            rt_gen_unref(r, ev->g, 1);
            snprintf(first, sizeof(first), "draining");
            log_warn("reload: shutting down; the new configuration is dropped");
        } else {
            log_error("reload: failed (%zu error%s); the running configuration is unchanged",
                      ev->errs.n, ev->errs.n == 1 ? "" : "s");
        }
        atomic_fetch_add(&stats.reloads_failed, 1);
        atomic_store(&stats.last_reload_ok, 0);
        atomic_store(&stats.last_reload_ts, (int_fast64_t)time(NULL));
        write_status(r, 0, r->cur ? r->cur->cfg->digest : "", first);
    } else {
        apply(r, ev->g);
    }
    cfg_errors_free(&ev->errs);
    free(ev);
    if (r->reload_pending && !r->draining) {
        r->reload_pending = 0;
        reload_request(r);
    }
}

typedef struct prune_task {
    rt_host *r;
    char *stream;
    char *name;
} prune_task;

static void
prune_run(void *arg)
{
    prune_task *t = arg;
    char err[512];
    if (provision_consumer_delete(t->r->js, t->stream, t->name, err, sizeof(err)) == 0)
        log_info("reload: durable consumer %s/%s deleted (prune: true)", t->stream, t->name);
    else
        log_error("reload: cannot delete durable %s/%s: %s", t->stream, t->name, err);
    free(t->stream);
    free(t->name);
    free(t);
}

void
reload_consumer_gone(rt_host *r, rt_consumer *c)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    log_info("reload: consumer %s drained and stopped", c->name);
    if (!c->prune)
        return;
    prune_task *t = calloc(1, sizeof(*t));
    if (!t)
        return;
    t->r = r;
    t->stream = strdup(c->stream);
    t->name = strdup(c->name);
    rt_run_task(r, prune_run, t);
}
