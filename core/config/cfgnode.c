/*
 * cfgnode.c -- the located YAML tree: free, deep copy, lookup.
 *
 * Building the tree from libyaml events lives in config_yaml.c; this file
 * only knows the data structure, so the plugin loader can use it without
 * pulling in the parser.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"

void
cfgnode_free(cfgnode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys != NULL)
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

/* Copies the arrays of a mapping or sequence; 0, or -1 when out of memory. */
static int
clone_children(const cfgnode *n, cfgnode *c)
{
    /* sizeof(*p) of an array of pointers is meant */
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    c->items = calloc(n->n, sizeof(*c->items));
    if (c->items == NULL)
        return -1;
    if (n->type == CFGNODE_MAP) {
        c->keys = calloc(n->n, sizeof(*c->keys));
        c->key_lines = calloc(n->n, sizeof(*c->key_lines));
        c->key_columns = calloc(n->n, sizeof(*c->key_columns));
        if (c->keys == NULL || c->key_lines == NULL || c->key_columns == NULL)
            return -1;
    }
    /* c->n grows with every copied child so cfgnode_free sees only those. */
    for (size_t i = 0; i < n->n; i++) {
        if (c->keys != NULL) {
            c->keys[i] = strdup(n->keys[i]);
            if (c->keys[i] == NULL)
                return -1;
            c->key_lines[i] = n->key_lines[i];
            c->key_columns[i] = n->key_columns[i];
        }
        c->items[i] = cfgnode_clone(n->items[i]);
        c->n = i + 1;
        if (c->items[i] == NULL)
            return -1;
    }
    return 0;
}

cfgnode *
cfgnode_clone(const cfgnode *n)
{
    if (n == NULL)
        return NULL;
    cfgnode *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->type = n->type;
    c->line = n->line;
    c->column = n->column;
    c->quoted = n->quoted;
    if (n->scalar != NULL) {
        c->scalar = strdup(n->scalar);
        if (c->scalar == NULL)
            goto fail;
    }
    if (n->n > 0 && clone_children(n, c) != 0)
        goto fail;
    return c;
fail:
    cfgnode_free(c);
    return NULL;
}

const cfgnode *
cfgnode_get(const cfgnode *map, const char *key)
{
    if (map == NULL || map->type != CFGNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    }
    return NULL;
}
