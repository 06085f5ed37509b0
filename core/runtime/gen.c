/*
 * gen.c -- see gen_int.h.
 */
#include "gen_int.h"

#include <stdlib.h>
#include <string.h>

#include "plugin/plugin.h"
#include "base/base.h"
#include "runtime.h"

static void
plugin_instance_destroy_task(void *arg)
{
    plugin_instance_destroy(arg);
}

/* Drop a generation's reference to an instance; the last one finalises it,
 * on a worker when called on the loop (plugin code never runs there). */
static void
rt_gen_release_instance(rt_host *r, plugin_instance *inst)
{
    if (!plugin_instance_unref(inst))
        return;
    if (r && rt_on_loop_thread())
        rt_run_task(r, plugin_instance_destroy_task, inst);
    else
        plugin_instance_destroy(inst);
}

static void
rt_gen_free(rt_host *r, rt_gen *g)
{
    for (size_t i = 0; g->insts && i < g->cfg->nplugins; i++) {
        if (g->insts[i])
            rt_gen_release_instance(r, g->insts[i]);
    }
    free(g->insts);
    config_free(g->cfg);
    free(g);
}

rt_gen *
rt_gen_create(rt_host *r, jw_config *cfg, const rt_gen *prev, cfg_errors *errs)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
    rt_gen *g = calloc(1, sizeof(*g));
    if (!g || !(g->insts = calloc(cfg->nplugins ? cfg->nplugins : 1, sizeof(plugin_instance *)))) {
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
        plugin_instance *reuse = prev ? rt_gen_instance(prev, p->name) : NULL;
        if (reuse && plugin_instance_matches(reuse, cfg, p)) {
            plugin_instance_ref(reuse);
            g->insts[i] = reuse;
            continue;
        }
        g->insts[i] = plugin_instance_create(&r->host, cfg, p, errs);
        if (!g->insts[i])
            failed = 1;
    }
    if (failed) {
        rt_gen_free(r, g);
        return NULL;
    }
    return g;
}

void
rt_gen_ref(rt_gen *g, long n)
{
    atomic_fetch_add(&g->refs, n);
}

void
rt_gen_unref(rt_host *r, rt_gen *g, long n)
{
    if (atomic_fetch_sub(&g->refs, n) == n)
        rt_gen_free(r, g);
}

plugin_instance *
rt_gen_instance(const rt_gen *g, const char *handler)
{
    for (size_t i = 0; i < g->cfg->nplugins; i++) {
        if (strcmp(g->cfg->plugins[i].name, handler) == 0)
            return g->insts[i];
    }
    return NULL;
}
