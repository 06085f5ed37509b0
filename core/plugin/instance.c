/*
 * instance.c -- plugin instances: load, validate options, init; shared while
 * unchanged, finalised once unused (see plugin.h).
 */
#include "plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static char *
options_json(const jw_config *cfg, const cfg_plugin *p, const jw_plugin *desc, cfg_errors *errs)
{
    char prefix[192];
    size_t idx = (size_t)(p - cfg->plugins);
    snprintf(prefix, sizeof(prefix), "plugins.instances[%zu].config", idx);
    char *json = NULL;
    if (plugin_options_to_json(desc, p->config, cfg->path, prefix, &json, errs) != 0)
        return NULL;
    return json;
}

plugin_instance *
plugin_instance_create(const jw_host *host, const jw_config *cfg, const cfg_plugin *p,
                       cfg_errors *errs)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
    char err[512];
    plugin_module *mod = NULL;
    if (plugin_module_load(cfg->plugin_dir, p->file, &mod, err, sizeof(err)) != 0) {
        cfg_errors_add(errs, "%s:%d:%d: plugins.instances[%zu]: %s", cfg->path, p->loc.line,
                       p->loc.column, (size_t)(p - cfg->plugins), err);
        return NULL;
    }
    char *json = options_json(cfg, p, mod->desc, errs);
    if (!json) {
        plugin_module_unload(mod);
        return NULL;
    }
    plugin_instance *inst = calloc(1, sizeof(*inst));
    if (!inst) {
        free(json);
        plugin_module_unload(mod);
        cfg_errors_add(errs, "out of memory");
        return NULL;
    }
    inst->name = strdup(p->name);
    inst->file = strdup(p->file);
    inst->mod = mod;
    inst->config_json = json;
    atomic_init(&inst->refs, 1);
    inst->st = stats_plugin_get(p->name);
    if (inst->st) {
        stats_lock();
        snprintf(inst->st->plugin, sizeof(inst->st->plugin), "%s", mod->desc->name);
        snprintf(inst->st->version, sizeof(inst->st->version), "%s",
                 mod->desc->version ? mod->desc->version : "");
        snprintf(inst->st->abi, sizeof(inst->st->abi), "%u.%u", mod->desc->abi_major,
                 mod->desc->abi_minor);
        stats_unlock();
    }
    char perr[256] = "";
    int rc = mod->desc->init(host, inst, json, &inst->ctx, perr, sizeof(perr));
    if (rc != 0) {
        cfg_errors_add(errs, "%s:%d:%d: plugins.instances[%zu]: plugin '%s' init failed: %s",
                       cfg->path, p->loc.line, p->loc.column, (size_t)(p - cfg->plugins), p->name,
                       perr[0] ? perr : "no reason given");
        inst->ctx = NULL;
        atomic_store(&inst->refs, 0);
        free(inst->name);
        free(inst->file);
        free(inst->config_json);
        plugin_module_unload(mod);
        free(inst);
        return NULL;
    }
    log_info("plugin instance '%s' loaded: %s %s (ABI %u.%u, sha256 %.12s)", p->name,
             mod->desc->name, mod->desc->version ? mod->desc->version : "?", mod->desc->abi_major,
             mod->desc->abi_minor, mod->sha256);
    return inst;
}

int
plugin_instance_matches(const plugin_instance *inst, const jw_config *cfg, const cfg_plugin *p)
{
    if (strcmp(inst->file, p->file) != 0)
        return 0;
    char hex[65], err[256];
    if (plugin_file_digest(cfg->plugin_dir, p->file, hex, err, sizeof(err)) != 0)
        return 0;
    if (strcmp(hex, inst->mod->sha256) != 0)
        return 0;
    cfg_errors errs = {0};
    char *json = options_json(cfg, p, inst->mod->desc, &errs);
    cfg_errors_free(&errs);
    int same = json && strcmp(json, inst->config_json) == 0;
    free(json);
    return same;
}

void
plugin_instance_ref(plugin_instance *inst)
{
    atomic_fetch_add(&inst->refs, 1);
}

void
plugin_instance_destroy(plugin_instance *inst)
{
    JW_ASSERT_NOT_THREAD(JW_ROLE_LOOP);
    if (!inst)
        return;
    if (inst->ctx && inst->mod->desc->fini)
        inst->mod->desc->fini(inst->ctx);
    log_info("plugin instance '%s' finalised and unloaded", inst->name);
    plugin_module_unload(inst->mod);
    free(inst->name);
    free(inst->file);
    free(inst->config_json);
    free(inst);
}

int
plugin_instance_unref(plugin_instance *inst)
{
    return atomic_fetch_sub(&inst->refs, 1) == 1;
}
