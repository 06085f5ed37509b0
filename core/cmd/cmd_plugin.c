/*
 * cmd_plugin.c -- `jetway plugin describe FILE [--json]`: what a plugin .so
 * declares, read exactly as `run` would load it (the same permission,
 * symlink and ABI checks) without calling any of its code: name, version,
 * the ABI it was built for and its option table (type, default, required,
 * help), i.e. what its `config:` block may hold.
 *
 * Threads: the main thread only.
 */
#include <cJSON.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "plugin/plugin.h"

static void
plugin_usage(FILE *fp)
{
    fprintf(fp, "usage: jetway plugin describe FILE [--json]\n\n"
                "Load FILE as `run` would (it must not be group/world-writable nor a\n"
                "symlink; its ABI major must be the host's) without running its code, and\n"
                "print its name, version, ABI and the options its `config:` block takes\n"
                "(type, default, required, help). --json prints one JSON object.\n");
}

static const char *
opt_type_name(jw_opt_type t)
{
    switch (t) {
    case JW_OPT_STRING:
        return "string";
    case JW_OPT_INT:
        return "int";
    case JW_OPT_FLOAT:
        return "float";
    case JW_OPT_BOOL:
        return "bool";
    case JW_OPT_DURATION:
        return "duration";
    case JW_OPT_SIZE:
        return "size";
    case JW_OPT_LIST:
        return "list";
    case JW_OPT_MAP:
        return "map";
    }
    return "?";
}

static void
describe_text(const plugin_module *m)
{
    const jw_plugin *d = m->desc;
    printf("plugin   %s\nversion  %s\nabi      %u.%u (host %u.%u)\nfile     %s\nsha256   %s\n",
           d->name, d->version ? d->version : "-", (unsigned)d->abi_major, (unsigned)d->abi_minor,
           (unsigned)JW_ABI_MAJOR, (unsigned)JW_ABI_MINOR, m->path, m->sha256);
    if (!d->options || !d->options[0].key) {
        printf("options  none (its config: block must be empty)\n");
        return;
    }
    int w = 6;
    for (const jw_option *o = d->options; o->key; o++) {
        int n = (int)strlen(o->key);
        w = n > w ? n : w;
    }
    printf("options:\n  %-*s  %-8s  %-12s  %s\n", w, "name", "type", "default", "help");
    for (const jw_option *o = d->options; o->key; o++)
        printf("  %-*s  %-8s  %-12s  %s\n", w, o->key, opt_type_name(o->type),
               o->required ? "(required)"
               : o->def    ? o->def
                           : "-",
               o->help ? o->help : "");
}

static int
describe_json(const plugin_module *m)
{
    const jw_plugin *d = m->desc;
    char abi[32];
    cJSON *o = cJSON_CreateObject(), *opts = cJSON_AddArrayToObject(o, "options");
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "version", d->version ? d->version : "");
    snprintf(abi, sizeof(abi), "%u.%u", (unsigned)d->abi_major, (unsigned)d->abi_minor);
    cJSON_AddStringToObject(o, "abi", abi);
    cJSON_AddStringToObject(o, "file", m->path);
    cJSON_AddStringToObject(o, "sha256", m->sha256);
    for (const jw_option *op = d->options; op && op->key; op++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", op->key);
        cJSON_AddStringToObject(e, "type", opt_type_name(op->type));
        if (op->def)
            cJSON_AddStringToObject(e, "default", op->def);
        else
            cJSON_AddNullToObject(e, "default");
        cJSON_AddBoolToObject(e, "required", op->required != 0);
        cJSON_AddStringToObject(e, "help", op->help ? op->help : "");
        cJSON_AddItemToArray(opts, e);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return 1;
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

int
cmd_plugin(int argc, char **argv)
{
    const char *file = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            plugin_usage(stdout);
            return 0;
        }
    }
    if (argc < 3 || strcmp(argv[1], "describe") != 0) {
        plugin_usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else {
            fprintf(stderr, "jetway plugin: unexpected argument '%s'\n\n", argv[i]);
            plugin_usage(stderr);
            return 2;
        }
    }
    if (!file) {
        plugin_usage(stderr);
        return 2;
    }
    /* The loader takes a directory and a bare file name, as in a config. */
    char *d = strdup(file), *b = strdup(file);
    if (!d || !b) {
        free(d);
        free(b);
        fprintf(stderr, "jetway plugin: out of memory\n");
        return 1;
    }
    plugin_module *m = NULL;
    char err[512];
    int rc = plugin_module_load(dirname(d), basename(b), &m, err, sizeof(err));
    free(d);
    free(b);
    if (rc != 0) {
        fprintf(stderr, "jetway plugin: %s\n", err);
        return 1;
    }
    rc = 0;
    if (json)
        rc = describe_json(m);
    else
        describe_text(m);
    plugin_module_unload(m);
    return rc;
}
