/*
 * config_get.c -- typed, located access to a mapping of the tree. Every
 * getter reports its own errors at the value, with the key path extended
 * by the key, so the section mappers stay a list of "this key, this type".
 *
 * Threads: whatever thread runs config_load().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

bool
cfg_is_null(const cfgnode *n)
{
    if (n == NULL || n->type != CFGNODE_SCALAR || n->quoted)
        return false;
    const char *s = n->scalar;
    return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

bool
cfg_is_poisoned(const cfg_ctx *c, const cfgnode *n)
{
    for (size_t i = 0; i < c->npoison; i++) {
        if (c->poison[i] == n)
            return true;
    }
    return false;
}

const char *
cfg_node_kind(const cfgnode *n)
{
    switch (n->type) {
    case CFGNODE_MAP:
        return "mapping";
    case CFGNODE_SEQ:
        return "sequence";
    default:
        return "scalar";
    }
}

void
cfg_check_keys(cfg_ctx *c, const cfgnode *map, const char *const *allowed)
{
    if (map == NULL || map->type != CFGNODE_MAP)
        return;
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i], *best = NULL;
        size_t bestd = (size_t)-1;
        bool known = false;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(*a, k) == 0) {
                known = true;
                break;
            }
            size_t d = cfg_edit_distance(k, *a);
            if (d < bestd) {
                bestd = d;
                best = *a;
            }
        }
        if (known)
            continue;
        size_t mark = cfg_path_key(c, k);
        /* A suggestion only when it is plausibly a typo: at most 2 edits, and
         * fewer than half of the key's letters. */
        if (best != NULL && bestd <= 2 && bestd * 2 < strlen(k))
            cfg_err(c, map->key_lines[i], map->key_columns[i],
                    "unknown key '%s' (did you mean '%s'?)", k, best);
        else
            cfg_err(c, map->key_lines[i], map->key_columns[i], "unknown key '%s'", k);
        cfg_path_pop(c, mark);
    }
}

const cfgnode *
cfg_get_node(const cfgnode *map, const char *key)
{
    const cfgnode *v = cfgnode_get(map, key);
    return cfg_is_null(v) ? NULL : v;
}

const cfgnode *
cfg_loc_of(const cfgnode *map, const char *key)
{
    const cfgnode *v = cfgnode_get(map, key);
    return v != NULL ? v : map;
}

/* The scalar text of key, or NULL (absent, null, or a reported type error: *rc = -1). */
static const cfgnode *
scalar_of(cfg_ctx *c, const cfgnode *map, const char *key, int *rc)
{
    const cfgnode *v = cfg_get_node(map, key);
    *rc = 0;
    if (v == NULL)
        return NULL;
    if (cfg_is_poisoned(c, v)) {
        *rc = -1;
        return NULL;
    }
    if (v->type != CFGNODE_SCALAR) {
        size_t mark = cfg_path_key(c, key);
        cfg_err_at(c, v, "expected a scalar, got a %s", cfg_node_kind(v));
        cfg_path_pop(c, mark);
        *rc = -1;
        return NULL;
    }
    *rc = 1;
    return v;
}

int
cfg_get_str(cfg_ctx *c, const cfgnode *map, const char *key, char **out)
{
    int rc;
    const cfgnode *v = scalar_of(c, map, key, &rc);
    if (v == NULL)
        return rc;
    char *s = strdup(v->scalar);
    if (s == NULL) {
        cfg_err_at(c, v, "out of memory");
        return -1;
    }
    free(*out);
    *out = s;
    return 1;
}

int
cfg_req_str(cfg_ctx *c, const cfgnode *map, const char *key, char **out)
{
    int rc = cfg_get_str(c, map, key, out);
    if (rc == 0) {
        cfg_err_at(c, map, "missing required key '%s'", key);
        return -1;
    }
    if (rc == 1 && **out == '\0') {
        size_t mark = cfg_path_key(c, key);
        cfg_err_at(c, cfgnode_get(map, key), "must not be empty");
        cfg_path_pop(c, mark);
        return -1;
    }
    return rc;
}

int
cfg_get_int(cfg_ctx *c, const cfgnode *map, const char *key, int64_t min, int64_t max, int64_t *out)
{
    int rc;
    const cfgnode *v = scalar_of(c, map, key, &rc);
    if (v == NULL)
        return rc;
    size_t mark = cfg_path_key(c, key);
    char *end;
    const char *s = v->scalar;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    rc = -1;
    if (*s == '\0' || *end != '\0' || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        cfg_err_at(c, v, "expected an integer, got '%s'", s);
    else if (errno == ERANGE || x < min || x > max)
        cfg_err_at(c, v, "must be between %lld and %lld, got %s", (long long)min, (long long)max,
                   s);
    else
        rc = 1;
    cfg_path_pop(c, mark);
    if (rc == 1)
        *out = x;
    return rc;
}

int
cfg_get_intv(cfg_ctx *c, const cfgnode *map, const char *key, int min, int max, int *out)
{
    int64_t v;
    int rc = cfg_get_int(c, map, key, min, max, &v);
    if (rc == 1)
        *out = (int)v;
    return rc;
}

int
cfg_get_bool(cfg_ctx *c, const cfgnode *map, const char *key, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON",  NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no",  "No",
                                     "NO",    "off",   "Off",   "OFF", NULL};
    int rc;
    const cfgnode *v = scalar_of(c, map, key, &rc);
    if (v == NULL)
        return rc;
    for (int i = 0; yes[i]; i++) {
        if (strcmp(v->scalar, yes[i]) == 0) {
            *out = true;
            return 1;
        }
        if (strcmp(v->scalar, no[i]) == 0) {
            *out = false;
            return 1;
        }
    }
    size_t mark = cfg_path_key(c, key);
    cfg_err_at(c, v, "expected a boolean (true or false), got '%s'", v->scalar);
    cfg_path_pop(c, mark);
    return -1;
}

int
cfg_get_duration(cfg_ctx *c, const cfgnode *map, const char *key, int64_t min_ms, int64_t *out)
{
    int rc;
    const cfgnode *v = scalar_of(c, map, key, &rc);
    if (v == NULL)
        return rc;
    size_t mark = cfg_path_key(c, key);
    char err[160], minb[32];
    int64_t ms;
    rc = -1;
    if (cfg_duration_parse(v->scalar, &ms, err, sizeof(err)) != 0) {
        cfg_err_at(c, v, "bad duration '%s': %s%s", v->scalar, err,
                   strchr(err, '(') ? "" : " (e.g. 250ms, 30s, 2m, 1h30m)");
    } else if (ms < min_ms) {
        cfg_format_duration(min_ms, minb, sizeof(minb));
        cfg_err_at(c, v, "must be at least %s, got '%s'", minb, v->scalar);
    } else {
        *out = ms;
        rc = 1;
    }
    cfg_path_pop(c, mark);
    return rc;
}

int
cfg_get_size(cfg_ctx *c, const cfgnode *map, const char *key, int64_t min, int64_t max,
             int64_t *out)
{
    int rc;
    const cfgnode *v = scalar_of(c, map, key, &rc);
    if (v == NULL)
        return rc;
    size_t mark = cfg_path_key(c, key);
    char err[160], lo[32], hi[32];
    int64_t b;
    rc = -1;
    if (cfg_size_parse(v->scalar, &b, err, sizeof(err)) != 0) {
        cfg_err_at(c, v, "bad size '%s': %s%s", v->scalar, err,
                   strchr(err, '(') ? "" : " (e.g. 512, 64KiB, 1GiB, 10MB)");
    } else if (b < min || b > max) {
        cfg_format_size(min, lo, sizeof(lo));
        cfg_format_size(max, hi, sizeof(hi));
        cfg_err_at(c, v, "must be between %s and %s, got '%s'", lo, hi, v->scalar);
    } else {
        *out = b;
        rc = 1;
    }
    cfg_path_pop(c, mark);
    return rc;
}

int
cfg_get_enum(cfg_ctx *c, const cfgnode *map, const char *key, const char *const *names, int *out)
{
    int rc;
    const cfgnode *v = scalar_of(c, map, key, &rc);
    if (v == NULL)
        return rc;
    char allowed[256];
    size_t o = 0;
    for (int i = 0; names[i]; i++) {
        if (strcmp(v->scalar, names[i]) == 0) {
            *out = i;
            return 1;
        }
        if (o < sizeof(allowed))
            o +=
                (size_t)snprintf(allowed + o, sizeof(allowed) - o, "%s%s", i ? ", " : "", names[i]);
    }
    size_t mark = cfg_path_key(c, key);
    cfg_err_at(c, v, "bad value '%s' (allowed: %s)", v->scalar, allowed);
    cfg_path_pop(c, mark);
    return -1;
}

int
cfg_get_strlist(cfg_ctx *c, const cfgnode *map, const char *key, char ***v, size_t *n)
{
    const cfgnode *l = cfg_get_node(map, key);
    if (l == NULL)
        return 0;
    size_t mark = cfg_path_key(c, key);
    int rc = 1;
    if (l->type == CFGNODE_MAP) {
        cfg_err_at(c, l, "expected a list of strings, got a mapping");
        cfg_path_pop(c, mark);
        return -1;
    }
    size_t cnt = l->type == CFGNODE_SEQ ? l->n : 1;
    char **out = calloc(cnt ? cnt : 1, sizeof(*out));
    if (out == NULL) {
        cfg_err_at(c, l, "out of memory");
        cfg_path_pop(c, mark);
        return -1;
    }
    for (size_t i = 0; i < cnt; i++) {
        const cfgnode *it = l->type == CFGNODE_SEQ ? l->items[i] : l;
        size_t m2 = l->type == CFGNODE_SEQ ? cfg_path_index(c, i) : c->plen;
        if (cfg_is_poisoned(c, it)) {
            rc = -1;
        } else if (it->type != CFGNODE_SCALAR) {
            cfg_err_at(c, it, "expected a string, got a %s", cfg_node_kind(it));
            rc = -1;
        } else if ((out[i] = strdup(it->scalar)) == NULL) {
            cfg_err_at(c, it, "out of memory");
            rc = -1;
        }
        cfg_path_pop(c, m2);
    }
    /* The old list is replaced even on error, so config_free sees one list. */
    for (size_t i = 0; i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = out;
    *n = cnt;
    cfg_path_pop(c, mark);
    return rc;
}

const cfgnode *
cfg_get_section(cfg_ctx *c, const cfgnode *map, const char *key, bool *bad)
{
    const cfgnode *v = cfgnode_get(map, key);
    *bad = false;
    if (v == NULL || v->type == CFGNODE_MAP || cfg_is_null(v))
        return v; /* a null acts as an empty mapping (no keys) */
    size_t mark = cfg_path_key(c, key);
    cfg_err_at(c, v, "expected a mapping, got a %s", cfg_node_kind(v));
    cfg_path_pop(c, mark);
    *bad = true;
    return NULL;
}

const cfgnode *
cfg_get_seq(cfg_ctx *c, const cfgnode *map, const char *key)
{
    const cfgnode *v = cfg_get_node(map, key);
    if (v == NULL || v->type == CFGNODE_SEQ)
        return v;
    size_t mark = cfg_path_key(c, key);
    cfg_err_at(c, v, "expected a list, got a %s", cfg_node_kind(v));
    cfg_path_pop(c, mark);
    return NULL;
}

void *
cfg_parse_list(cfg_ctx *c, const cfgnode *root, const char *key, size_t elem_size, size_t *n,
               cfg_item **items, cfg_item_fn parse, void *ud)
{
    const cfgnode *seq = cfg_get_seq(c, root, key);
    if (seq == NULL || seq->n == 0)
        return NULL;
    char *arr = calloc(seq->n, elem_size);
    *items = calloc(seq->n, sizeof(**items));
    if (arr == NULL || *items == NULL) {
        cfg_err_at(c, seq, "out of memory");
        free(arr);
        return NULL;
    }
    size_t mark = cfg_path_key(c, key);
    for (size_t i = 0; i < seq->n; i++) {
        size_t m = cfg_path_index(c, i);
        const cfgnode *it = seq->items[i];
        if (it->type != CFGNODE_MAP) {
            cfg_err_at(c, it, "expected a mapping, got a %s", cfg_node_kind(it));
        } else {
            size_t k = (*n)++, e0 = cfg_errors_count(c);
            parse(c, it, arr + k * elem_size, ud);
            (*items)[k] = (cfg_item){it, i, cfg_errors_count(c) > e0};
        }
        cfg_path_pop(c, m);
    }
    cfg_path_pop(c, mark);
    return arr;
}
