/*
 * config_tmp.c -- TEMPORARY stand-ins for the config module (config.c is
 * written on another branch). They let this branch link; every call fails
 * with a message saying so. DELETE THIS FILE WHEN MERGING the config branch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int
config_load(const char *path, jw_config **out, cfg_errors *errs)
{
    *out = NULL;
    if (errs) {
        errs->v = calloc(1, sizeof(cfg_error));
        if (errs->v) {
            char buf[512];
            snprintf(buf, sizeof(buf), "%s: config_load: not available in this tree", path);
            errs->v[0].text = strdup(buf);
            errs->n = 1;
            errs->cap = 1;
        }
    }
    return -1;
}

void
config_free(jw_config *cfg)
{
    (void)cfg;
}

void
cfg_errors_free(cfg_errors *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->v[i].text);
    free(errs->v);
    errs->v = NULL;
    errs->n = errs->cap = 0;
}
