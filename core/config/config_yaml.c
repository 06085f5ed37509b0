/*
 * config_yaml.c -- libyaml events -> located cfgnode tree, then the
 * resolve pass: duplicate keys and ${VAR} substitution.
 *
 * Refused on purpose: anchors and aliases (a topology is small, and a
 * shared node would make "where was this set" ambiguous), more than one
 * document, and keys that are not scalars. A syntax error stops the parse
 * (libyaml cannot resume) and is reported at libyaml's own position.
 *
 * Threads: whatever thread runs config_load().
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_int.h"

#define MAX_DEPTH 64

typedef struct ybuild {
    yaml_parser_t parser;
    cfg_ctx *c;
    const char *text;
    size_t len;
} ybuild;

/* Line and column (1-based) of a byte offset, for reader errors. */
static void
offset_pos(const char *text, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void
syntax_error(ybuild *b)
{
    yaml_parser_t *p = &b->parser;
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    const char *problem = p->problem ? p->problem : "cannot parse";
    if (p->error == YAML_READER_ERROR) {
        offset_pos(b->text, b->len, p->problem_offset, &line, &col);
        cfg_err(b->c, line, col, "syntax error: %s", problem);
    } else if (p->error == YAML_MEMORY_ERROR) {
        cfg_err(b->c, 1, 1, "out of memory while parsing");
    } else if (p->context != NULL) {
        cfg_err(b->c, line, col, "syntax error: %s (%s at line %d column %d)", problem, p->context,
                (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    } else {
        cfg_err(b->c, line, col, "syntax error: %s", problem);
    }
}

static int
next_event(ybuild *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev)) {
        syntax_error(b);
        return -1;
    }
    return 0;
}

static cfgnode *
node_new(cfgnode_type t, const yaml_mark_t *m)
{
    cfgnode *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->type = t;
    n->line = (int)m->line + 1;
    n->column = (int)m->column + 1;
    return n;
}

/* Appends item (and key, for mappings) to n; takes ownership of both. */
static int
node_append(cfgnode *n, char *key, int kline, int kcol, cfgnode *item)
{
    size_t k = n->n + 1;
    /* sizeof(*p) of an array of pointers is meant */
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    cfgnode **items = realloc(n->items, k * sizeof(*items));
    if (items == NULL)
        goto fail;
    n->items = items;
    if (n->type == CFGNODE_MAP) {
        char **keys = realloc(n->keys, k * sizeof(*keys));
        if (keys != NULL)
            n->keys = keys;
        int *kl = realloc(n->key_lines, k * sizeof(*kl));
        if (kl != NULL)
            n->key_lines = kl;
        int *kc = realloc(n->key_columns, k * sizeof(*kc));
        if (kc != NULL)
            n->key_columns = kc;
        if (keys == NULL || kl == NULL || kc == NULL)
            goto fail;
        n->keys[n->n] = key;
        n->key_lines[n->n] = kline;
        n->key_columns[n->n] = kcol;
    }
    n->items[n->n++] = item;
    return 0;
fail:
    free(key);
    cfgnode_free(item);
    return -1;
}

static void
refuse_anchor(ybuild *b, const yaml_event_t *ev, const yaml_char_t *anchor)
{
    if (anchor != NULL)
        cfg_err(b->c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "anchors (&%s) are not supported", (const char *)anchor);
}

static cfgnode *build(ybuild *b, yaml_event_t *ev, int depth);

/* Children of a sequence or mapping until its end event. */
static int
build_children(ybuild *b, cfgnode *n, int depth)
{
    yaml_event_type_t end =
        n->type == CFGNODE_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
    for (;;) {
        yaml_event_t ev;
        if (next_event(b, &ev) != 0)
            return -1;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return 0;
        }
        cfgnode *k = build(b, &ev, depth + 1);
        if (k == NULL)
            return -1;
        if (n->type == CFGNODE_SEQ) {
            if (node_append(n, NULL, 0, 0, k) != 0)
                return -1;
            continue;
        }
        if (next_event(b, &ev) != 0) {
            cfgnode_free(k);
            return -1;
        }
        cfgnode *v = build(b, &ev, depth + 1);
        if (v == NULL) {
            cfgnode_free(k);
            return -1;
        }
        char *key = NULL;
        if (k->type != CFGNODE_SCALAR) {
            cfg_err(b->c, k->line, k->column, "a mapping key must be a scalar, not a %s",
                    cfg_node_kind(k));
            key = strdup("?");
        } else {
            key = k->scalar;
            k->scalar = NULL;
        }
        int kl = k->line, kc = k->column;
        cfgnode_free(k);
        if (key == NULL || node_append(n, key, kl, kc, v) != 0) {
            if (key == NULL)
                cfgnode_free(v);
            return -1;
        }
    }
}

/* The node that starts with `ev` (consumed). NULL after an error that stops the parse. */
static cfgnode *
build(ybuild *b, yaml_event_t *ev, int depth)
{
    cfgnode *n = NULL;
    if (depth > MAX_DEPTH) {
        cfg_err(b->c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "nesting deeper than %d levels", MAX_DEPTH);
        yaml_event_delete(ev);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        refuse_anchor(b, ev, ev->data.scalar.anchor);
        n = node_new(CFGNODE_SCALAR, &ev->start_mark);
        if (n != NULL) {
            n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
            n->scalar = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
            if (n->scalar == NULL) {
                cfgnode_free(n);
                n = NULL;
            }
        }
        yaml_event_delete(ev);
        return n;
    case YAML_ALIAS_EVENT:
        cfg_err(b->c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "aliases (*%s) are not supported", (const char *)ev->data.alias.anchor);
        n = node_new(CFGNODE_SCALAR, &ev->start_mark);
        if (n != NULL && (n->scalar = strdup("")) == NULL) {
            cfgnode_free(n);
            n = NULL;
        }
        yaml_event_delete(ev);
        return n;
    case YAML_SEQUENCE_START_EVENT:
        refuse_anchor(b, ev, ev->data.sequence_start.anchor);
        n = node_new(CFGNODE_SEQ, &ev->start_mark);
        break;
    case YAML_MAPPING_START_EVENT:
        refuse_anchor(b, ev, ev->data.mapping_start.anchor);
        n = node_new(CFGNODE_MAP, &ev->start_mark);
        break;
    default:
        cfg_err(b->c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "unexpected YAML event %d", (int)ev->type);
        break;
    }
    yaml_event_delete(ev);
    if (n == NULL)
        return NULL;
    if (build_children(b, n, depth) != 0) {
        cfgnode_free(n);
        return NULL;
    }
    return n;
}

/* Expects an event of type t; reports anything else. */
static int
expect(ybuild *b, yaml_event_type_t t, yaml_event_t *ev)
{
    if (next_event(b, ev) != 0)
        return -1;
    if (ev->type != t) {
        cfg_err(b->c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "unexpected YAML event %d", (int)ev->type);
        yaml_event_delete(ev);
        return -1;
    }
    return 0;
}

static cfgnode *
parse_document(ybuild *b)
{
    yaml_event_t ev;
    yaml_mark_t start = {0, 0, 0};
    cfgnode *root = NULL;
    if (expect(b, YAML_STREAM_START_EVENT, &ev) != 0)
        return NULL;
    yaml_event_delete(&ev);
    if (next_event(b, &ev) != 0)
        return NULL;
    if (ev.type == YAML_STREAM_END_EVENT) { /* empty file: all defaults */
        yaml_event_delete(&ev);
        return node_new(CFGNODE_MAP, &start);
    }
    if (ev.type != YAML_DOCUMENT_START_EVENT) {
        yaml_event_delete(&ev);
        return NULL;
    }
    yaml_event_delete(&ev);
    if (next_event(b, &ev) != 0)
        return NULL;
    root = build(b, &ev, 0);
    if (root == NULL)
        return NULL;
    if (expect(b, YAML_DOCUMENT_END_EVENT, &ev) != 0)
        goto fail;
    yaml_event_delete(&ev);
    if (next_event(b, &ev) != 0)
        goto fail;
    if (ev.type == YAML_DOCUMENT_START_EVENT) {
        cfg_err(b->c, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                "a second YAML document: one file holds one topology");
        yaml_event_delete(&ev);
        goto fail;
    }
    yaml_event_delete(&ev);
    if (cfg_is_null(root)) { /* "---" alone */
        cfgnode_free(root);
        root = node_new(CFGNODE_MAP, &start);
    }
    return root;
fail:
    cfgnode_free(root);
    return NULL;
}

cfgnode *
config_yaml_parse(cfg_ctx *c, const char *text, size_t len)
{
    ybuild b = {.c = c, .text = text, .len = len};
    if (!yaml_parser_initialize(&b.parser)) {
        cfg_err(c, 1, 1, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    cfgnode *root = parse_document(&b);
    yaml_parser_delete(&b.parser);
    return root;
}

static bool
var_start(int ch)
{
    return isalpha(ch) || ch == '_';
}

/* How deep ${A:-${B:-...}} defaults may nest: enough for a role's own
 * variable falling back to a shared one, and a bound for hostile input. */
#define SUBST_MAX_DEPTH 4

/* The '}' closing the reference whose name ends at e, counting the ${...}
 * nested in its default; NULL when unterminated. */
static const char *
subst_close(const char *e)
{
    int depth = 1;
    for (const char *q = e; *q; q++) {
        if (q[0] == '$' && q[1] == '{') {
            depth++;
            q++;
        } else if (*q == '}' && --depth == 0) {
            return q;
        }
    }
    return NULL;
}

static int subst_depth(const char *in, char **out, char *err, size_t errlen, int depth);

int
cfg_subst(const char *in, char **out, char *err, size_t errlen)
{
    return subst_depth(in, out, err, errlen, 0);
}

static int
subst_depth(const char *in, char **out, char *err, size_t errlen, int depth)
{
    size_t cap = strlen(in) + 1, len = 0;
    char *nested = NULL; /* a default expanded from its own ${...} */
    char *buf = malloc(cap);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (const char *p = in; *p;) {
        const char *piece = p;
        size_t plen = 1;
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            piece = "${"; /* the escape */
            plen = 2;
            p += 3;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *name = p + 2, *e = name;
            while (isalnum((unsigned char)*e) || *e == '_')
                e++;
            if (var_start((unsigned char)*name) && *e == '\0') {
                snprintf(err, errlen, "unterminated '${%.*s'", (int)(e - name), name);
                goto fail;
            }
            if (!var_start((unsigned char)*name) || (*e != '}' && strncmp(e, ":-", 2) != 0)) {
                snprintf(err, errlen,
                         "bad variable reference at '%.20s' (use ${NAME} or "
                         "${NAME:-default}, $${ for a literal ${)",
                         p);
                goto fail;
            }
            const char *close = *e == ':' ? subst_close(e) : strchr(e, '}');
            if (close == NULL) {
                snprintf(err, errlen, "unterminated '${%.*s'", (int)(e - name), name);
                goto fail;
            }
            char var[256];
            snprintf(var, sizeof(var), "%.*s", (int)(e - name), name);
            const char *val = getenv(var);
            if (*e == ':' && (val == NULL || *val == '\0')) {
                piece = e + 2;
                plen = (size_t)(close - piece);
                if (memmem(piece, plen, "${", 2) != NULL) {
                    /* The default refers to another variable:
                     * ${ORDER_HTTP:-${JETWAY_HTTP:-127.0.0.1:9101}}. */
                    if (depth + 1 >= SUBST_MAX_DEPTH) {
                        snprintf(err, errlen, "defaults nested deeper than %d at '%.20s'",
                                 SUBST_MAX_DEPTH, p);
                        goto fail;
                    }
                    char *inner = strndup(piece, plen);
                    free(nested);
                    nested = NULL;
                    if (inner == NULL) {
                        snprintf(err, errlen, "out of memory");
                        goto fail;
                    }
                    int rc = subst_depth(inner, &nested, err, errlen, depth + 1);
                    free(inner);
                    if (rc != 0)
                        goto fail;
                    piece = nested;
                    plen = strlen(nested);
                }
            } else if (val == NULL) {
                snprintf(err, errlen,
                         "environment variable '%s' is not set (give a default with "
                         "${%s:-value})",
                         var, var);
                goto fail;
            } else {
                piece = val;
                plen = strlen(val);
            }
            p = close + 1;
        } else {
            p++;
        }
        if (len + plen + 1 > cap) {
            cap = (len + plen + 1) * 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            buf = nb;
        }
        memcpy(buf + len, piece, plen);
        len += plen;
    }
    buf[len] = '\0';
    free(nested);
    *out = buf;
    return 0;
fail:
    free(nested);
    free(buf);
    return -1;
}

/* Removes entry i of a mapping. */
static void
map_remove(cfgnode *m, size_t i)
{
    free(m->keys[i]);
    cfgnode_free(m->items[i]);
    size_t rest = m->n - i - 1;
    memmove(&m->keys[i], &m->keys[i + 1], rest * sizeof(*m->keys));
    memmove(&m->key_lines[i], &m->key_lines[i + 1], rest * sizeof(*m->key_lines));
    memmove(&m->key_columns[i], &m->key_columns[i + 1], rest * sizeof(*m->key_columns));
    /* sizeof(*p) of an array of pointers is meant */
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    memmove(&m->items[i], &m->items[i + 1], rest * sizeof(*m->items));
    m->n--;
}

void
config_yaml_resolve(cfg_ctx *c, cfgnode *n)
{
    if (n->type == CFGNODE_SCALAR) {
        if (strchr(n->scalar, '$') == NULL)
            return;
        char err[256], *out;
        if (cfg_subst(n->scalar, &out, err, sizeof(err)) != 0) {
            cfg_err_at(c, n, "%s", err);
            /* sizeof(*p) of an array of pointers is meant */
            // NOLINTNEXTLINE(bugprone-sizeof-expression)
            const cfgnode **pv = realloc(c->poison, (c->npoison + 1) * sizeof(*pv));
            if (pv != NULL) {
                c->poison = pv;
                c->poison[c->npoison++] = n;
            }
            return;
        }
        free(n->scalar);
        n->scalar = out;
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        size_t mark;
        if (n->type == CFGNODE_MAP) {
            mark = cfg_path_key(c, n->keys[i]);
            size_t j;
            for (j = 0; j < i && strcmp(n->keys[j], n->keys[i]) != 0; j++)
                ;
            if (j < i) {
                cfg_err(c, n->key_lines[i], n->key_columns[i],
                        "duplicate key '%s' (first at line %d column %d)", n->keys[i],
                        n->key_lines[j], n->key_columns[j]);
                cfg_path_pop(c, mark);
                map_remove(n, i--);
                continue;
            }
        } else {
            mark = cfg_path_index(c, i);
        }
        config_yaml_resolve(c, n->items[i]);
        cfg_path_pop(c, mark);
    }
}
