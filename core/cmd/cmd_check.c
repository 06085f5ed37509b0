/*
 * cmd_check.c -- `jetway check -c FILE [--quiet]`: load and validate a
 * config exactly as `run` and a reload would, print every error (stderr,
 * one a line, then the count) or the normalized topology (stdout).
 *
 * Threads: the main thread only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config/config.h"
#include "plugin/plugin.h"

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: jetway check -c FILE [--quiet]\n\n"
                "Validate a topology file without connecting to anything: YAML syntax, keys,\n"
                "types, durations, sizes, references between sections and timing relations.\n"
                "Prints the normalized topology (defaults filled in, secrets redacted) and\n"
                "exits 0, or prints every error as FILE:LINE:COL: key.path: message and\n"
                "exits 1.\n\n"
                "options:\n"
                "  -c, --config FILE  the topology to check\n"
                "  -q, --quiet        print nothing on success\n"
                "  -h, --help         this help\n");
}

/*
 * Plugin checks: load each declared plugin exactly as `run` would (path,
 * permissions, ABI stamp) and validate its `config:` block against the
 * options it declares. No plugin code runs: init() is not called.
 */
static int
check_plugins(const jw_config *cfg, cfg_errors *errs)
{
    size_t before = errs->n;
    for (size_t i = 0; i < cfg->nplugins; i++) {
        const cfg_plugin *p = &cfg->plugins[i];
        plugin_module *m = NULL;
        char err[512];
        if (plugin_module_load(cfg->plugin_dir, p->file, &m, err, sizeof(err)) != 0) {
            cfg_errors_add(errs, "%s:%d:%d: plugins.instances[%zu]: %s", cfg->path, p->loc.line,
                           p->loc.column, i, err);
            continue;
        }
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "plugins.instances[%zu].config", i);
        char *json = NULL;
        if (plugin_options_to_json(m->desc, p->config, cfg->path, prefix, &json, errs) == 0)
            free(json);
        plugin_module_unload(m);
    }
    return errs->n > before ? -1 : 0;
}

int
cmd_check(int argc, char **argv)
{
    const char *file = NULL;
    bool quiet = false;
    /* -h is parsed here, not with cmd_wants_help() (main.c), so this file
     * links into the unit tests, which link every core object but main.o. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            file = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            file = argv[i] + 9;
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else {
            fprintf(stderr, "jetway check: unexpected argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "jetway check: missing -c FILE\n\n");
        usage(stderr);
        return 2;
    }
    cfg_errors errs = {0};
    jw_config *cfg = NULL;
    if (config_load(file, &cfg, &errs) == 0)
        check_plugins(cfg, &errs);
    if (errs.n > 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i].text);
        fprintf(stderr, "%zu error%s\n", errs.n, errs.n == 1 ? "" : "s");
        cfg_errors_free(&errs);
        config_free(cfg);
        return 1;
    }
    if (!quiet)
        config_dump(cfg, stdout);
    config_free(cfg);
    return fflush(stdout) == 0 ? 0 : 1;
}
