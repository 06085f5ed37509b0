/*
 * gen.c -- see gen.h.
 */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "log.h"

static void
gen_free(rt *r, gen *g)
{
    for (size_t i = 0; g->insts && i < g->cfg->nplugins; i++) {
        if (g->insts[i])
            instance_unref(r, g->insts[i]);
    }
    free(g->insts);
    config_free(g->cfg);
    free(g);
}

gen *
gen_create(rt *r, jw_config *cfg, const gen *prev, cfg_errors *errs)
{
    gen *g = calloc(1, sizeof(*g));
    if (!g || !(g->insts = calloc(cfg->nplugins ? cfg->nplugins : 1, sizeof(instance *)))) {
        free(g);
        config_free(cfg);
        cfg_errors_add(errs, "out of memory");
        return NULL;
    }
    g->cfg = cfg;
    atomic_init(&g->refs, 1);
    int failed = 0;
    for (size_t i = 0; i < cfg->nplugins; i++) {
        const cfg_plugin *p = &cfg->plugins[i];
        instance *reuse = prev ? gen_instance(prev, p->name) : NULL;
        if (reuse && instance_matches(reuse, cfg, p)) {
            instance_ref(reuse);
            g->insts[i] = reuse;
            continue;
        }
        g->insts[i] = instance_create(r, cfg, p, errs);
        if (!g->insts[i])
            failed = 1;
    }
    if (failed) {
        gen_free(r, g);
        return NULL;
    }
    return g;
}

void
gen_ref(gen *g, long n)
{
    atomic_fetch_add(&g->refs, n);
}

void
gen_unref(rt *r, gen *g, long n)
{
    if (atomic_fetch_sub(&g->refs, n) == n)
        gen_free(r, g);
}

instance *
gen_instance(const gen *g, const char *handler)
{
    for (size_t i = 0; i < g->cfg->nplugins; i++) {
        if (strcmp(g->cfg->plugins[i].name, handler) == 0)
            return g->insts[i];
    }
    return NULL;
}
