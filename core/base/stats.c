/*
 * stats.c -- see stats.h.
 */
#include "base.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

const double stats_bucket_bounds[STATS_NBUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
};

stats_global stats;

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static stats_consumer *consumers;
static stats_plugin *plugins;

void
stats_hist_observe_us(stats_hist *h, uint64_t us)
{
    double s = (double)us / 1e6;
    int i = 0;
    while (i < STATS_NBUCKETS && s > stats_bucket_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

void
stats_set_reason(char *slot, const char *fmt, ...)
{
    stats_lock();
    slot[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(slot, sizeof(stats.nats_reason), fmt, ap);
        va_end(ap);
    }
    stats_unlock();
}

void
stats_lock(void)
{
    pthread_mutex_lock(&registry_mu);
}

void
stats_unlock(void)
{
    pthread_mutex_unlock(&registry_mu);
}

stats_consumer *
stats_consumer_get(const char *name, const char *stream, const char *handler)
{
    stats_lock();
    stats_consumer *c;
    for (c = consumers; c; c = c->next) {
        if (strcmp(c->name, name) == 0)
            break;
    }
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c) {
            stats_unlock();
            return NULL;
        }
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->next = consumers;
        consumers = c;
    }
    snprintf(c->stream, sizeof(c->stream), "%s", stream ? stream : "");
    snprintf(c->handler, sizeof(c->handler), "%s", handler ? handler : "");
    c->active = 1;
    stats_unlock();
    return c;
}

stats_plugin *
stats_plugin_get(const char *instance)
{
    stats_lock();
    stats_plugin *p;
    for (p = plugins; p; p = p->next) {
        if (strcmp(p->name, instance) == 0)
            break;
    }
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (p) {
            snprintf(p->name, sizeof(p->name), "%s", instance);
            p->next = plugins;
            plugins = p;
        }
    }
    if (p)
        p->active = 1;
    stats_unlock();
    return p;
}

stats_consumer *
stats_consumers(void)
{
    return consumers;
}

stats_plugin *
stats_plugins(void)
{
    return plugins;
}

void
stats_shutdown(void)
{
    stats_lock();
    while (consumers) {
        stats_consumer *n = consumers->next;
        free(consumers);
        consumers = n;
    }
    while (plugins) {
        stats_plugin *n = plugins->next;
        free(plugins);
        plugins = n;
    }
    stats_unlock();
}
