/*
 * cfgnode_tmp.c -- TEMPORARY stand-ins for the cfgnode helpers the config
 * module owns (cfgnode_free, cfgnode_clone, cfgnode_get), so the plugin
 * loader's unit tests can build trees by hand before config.c is merged.
 * DELETE THIS FILE when the real cfgnode implementation lands. The
 * definitions are weak, so the real ones win if both are linked.
 */
#include <stdlib.h>
#include <string.h>

#include "cfgnode.h"

#define WEAK __attribute__((weak))

WEAK void
cfgnode_free(cfgnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        cfgnode_free(n->items[i]);
    }
    free(n->keys);
    free(n->key_lines);
    free(n->key_columns);
    free(n->items);
    free(n->scalar);
    free(n);
}

WEAK cfgnode *
cfgnode_clone(const cfgnode *n)
{
    if (!n)
        return NULL;
    cfgnode *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    *c = *n;
    c->scalar = NULL;
    c->keys = NULL;
    c->key_lines = c->key_columns = NULL;
    c->items = NULL;
    c->n = 0;
    if (n->scalar && !(c->scalar = strdup(n->scalar)))
        goto fail;
    if (n->n) {
        c->items = calloc(n->n, sizeof(*c->items));
        if (!c->items)
            goto fail;
        if (n->keys) {
            c->keys = calloc(n->n, sizeof(*c->keys));
            c->key_lines = calloc(n->n, sizeof(int));
            c->key_columns = calloc(n->n, sizeof(int));
            if (!c->keys || !c->key_lines || !c->key_columns)
                goto fail;
        }
        for (size_t i = 0; i < n->n; i++) {
            c->n = i + 1;
            if (n->keys) {
                if (!(c->keys[i] = strdup(n->keys[i])))
                    goto fail;
                c->key_lines[i] = n->key_lines ? n->key_lines[i] : 0;
                c->key_columns[i] = n->key_columns ? n->key_columns[i] : 0;
            }
            if (!(c->items[i] = cfgnode_clone(n->items[i])))
                goto fail;
        }
    }
    return c;
fail:
    cfgnode_free(c);
    return NULL;
}

WEAK const cfgnode *
cfgnode_get(const cfgnode *map, const char *key)
{
    if (!map || map->type != CFGNODE_MAP || !map->keys)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    }
    return NULL;
}
