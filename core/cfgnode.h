/*
 * cfgnode.h -- a located YAML tree: what libyaml parsed, with line and
 * column of every node, before it is mapped onto the typed config structs.
 * Plugin `config:` blocks stay in this form until the loader validates them
 * against the plugin's declared options and turns them into JSON.
 *
 * Ownership: a node owns its children, keys and scalar text. Threads: plain
 * data, read-only once built.
 */
#ifndef JW_CFGNODE_H
#define JW_CFGNODE_H

#include <stddef.h>
#include <stdio.h>

typedef enum { CFGNODE_SCALAR = 0, CFGNODE_SEQ, CFGNODE_MAP } cfgnode_type;

typedef struct cfgnode cfgnode;
struct cfgnode {
    cfgnode_type type;
    int line, column; /* 1-based position of the node's value */
    int quoted;       /* scalar was quoted (so "true" is a string) */
    char *scalar;     /* CFGNODE_SCALAR: text after ${VAR} substitution */
    /* CFGNODE_MAP: keys[i] -> items[i]; CFGNODE_SEQ: items[i] */
    char **keys;
    int *key_lines, *key_columns;
    cfgnode **items;
    size_t n;
};

void cfgnode_free(cfgnode *n);
cfgnode *cfgnode_clone(const cfgnode *n);
/* Value of key in a mapping, or NULL. */
const cfgnode *cfgnode_get(const cfgnode *map, const char *key);

#endif /* JW_CFGNODE_H */
