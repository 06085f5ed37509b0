/*
 * config_int -- internals shared by the config_*.c files and their unit
 * tests; not for the rest of the host (use config.h).
 *
 * The loader runs in passes over one cfg_ctx:
 *   config_yaml.c      libyaml events -> cfgnode tree (syntax, anchors,
 *                      multi-document), then duplicate keys and ${VAR};
 *   config_parse.c     top-level sections -> jw_config (types, ranges,
 *                      enums, unknown keys, defaults);
 *   config_conn.c      the nats and redis sections, secrets;
 *   config_consumer.c  the consumers section (the largest one);
 *   config_validate.c  relations between sections (references, subjects,
 *                      names, timing across a consumer and its stream);
 *   config_get.c       typed, located getters every mapper uses;
 *   config_value.c     pure parsers: durations, sizes, times;
 *   config_url.c       redis URLs, host:port, redaction;
 *   config_subject.c   NATS subjects and names;
 *   config_dump.c      the normalized topology as YAML.
 * Every error goes to ctx->errs as "file:line:col: key.path: message".
 *
 * Threads: a cfg_ctx lives on the stack of one config_load() call.
 */
#ifndef JW_CONFIG_INT_H
#define JW_CONFIG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "jetway/plugin.h"

/* A sequence item mapped onto the config: where it came from. */
typedef struct cfg_item {
    const cfgnode *node; /* the item's mapping in the tree */
    size_t index;        /* its index in the YAML sequence (for key paths) */
    bool bad;            /* it had errors: skip relation checks that use it */
} cfg_item;

typedef struct cfg_ctx {
    const char *file; /* the config path, as given, for messages */
    char dir[4096];   /* absolute directory of the file */
    cfg_errors *errs;
    char path[512]; /* current key path, e.g. "consumers[1].dedup" */
    size_t plen;
    /* Parallel to cfg->streams, ->consumers, ->plugins, ->services. */
    cfg_item *streams, *consumers, *plugins, *services;
    const cfgnode *redis_node; /* the redis section, or NULL */
    /* Scalars whose ${VAR} failed: already reported, so getters stay quiet. */
    const cfgnode **poison;
    size_t npoison;
} cfg_ctx;

/* Errors, located; the key path printed is ctx->path (omitted when empty). */
void cfg_err(cfg_ctx *c, int line, int col, const char *fmt, ...) JW_PRINTF(4, 5);
void cfg_err_at(cfg_ctx *c, const cfgnode *n, const char *fmt, ...) JW_PRINTF(3, 4);
/* At the value of key in map (or the map), with the path extended by key. */
void cfg_err_key(cfg_ctx *c, const cfgnode *map, const char *key, const char *fmt, ...)
    JW_PRINTF(4, 5);
size_t cfg_errors_count(const cfg_ctx *c);

/* Key path: push returns the old length, pop restores it. */
size_t cfg_path_key(cfg_ctx *c, const char *key);
size_t cfg_path_index(cfg_ctx *c, size_t i);
void cfg_path_pop(cfg_ctx *c, size_t len);

/* config_yaml.c: parse text into a tree (NULL after a syntax error). */
cfgnode *config_yaml_parse(cfg_ctx *c, const char *text, size_t len);
/* Drop duplicate keys (reported) and substitute ${VAR} in every scalar. */
void config_yaml_resolve(cfg_ctx *c, cfgnode *root);
/* ${VAR}, ${VAR:-default} (the default may itself hold ${...}, nested up to
 * 4 deep), $${ -> ${. 0, or -1 with a message in err. */
int cfg_subst(const char *in, char **out, char *err, size_t errlen);

/* config_get.c: the value of `key` in `map`, typed. Each returns 1 when the
 * key is set and valid (*out replaced), 0 when it is absent or null (*out
 * untouched), -1 after reporting an error. */
bool cfg_is_null(const cfgnode *n);
bool cfg_is_poisoned(const cfg_ctx *c, const cfgnode *n);
const char *cfg_node_kind(const cfgnode *n);
void cfg_check_keys(cfg_ctx *c, const cfgnode *map, const char *const *allowed);
const cfgnode *cfg_get_node(const cfgnode *map, const char *key); /* NULL if absent/null */
int cfg_get_str(cfg_ctx *c, const cfgnode *map, const char *key, char **out);
int cfg_req_str(cfg_ctx *c, const cfgnode *map, const char *key, char **out);
int cfg_get_int(cfg_ctx *c, const cfgnode *map, const char *key, int64_t min, int64_t max,
                int64_t *out);
int cfg_get_intv(cfg_ctx *c, const cfgnode *map, const char *key, int min, int max, int *out);
int cfg_get_bool(cfg_ctx *c, const cfgnode *map, const char *key, bool *out);
int cfg_get_duration(cfg_ctx *c, const cfgnode *map, const char *key, int64_t min_ms, int64_t *out);
int cfg_get_size(cfg_ctx *c, const cfgnode *map, const char *key, int64_t min, int64_t max,
                 int64_t *out);
int cfg_get_enum(cfg_ctx *c, const cfgnode *map, const char *key, const char *const *names,
                 int *out);
/* A list of strings; a single scalar counts as a list of one. */
int cfg_get_strlist(cfg_ctx *c, const cfgnode *map, const char *key, char ***v, size_t *n);
/* A mapping section: NULL when absent; a null value is an empty section;
 * wrong type -> error and *bad = true. */
const cfgnode *cfg_get_section(cfg_ctx *c, const cfgnode *map, const char *key, bool *bad);
/* A sequence section: NULL when absent or null; wrong type -> error. */
const cfgnode *cfg_get_seq(cfg_ctx *c, const cfgnode *map, const char *key);
/* Where to point at for `key` in `map`: the value, else the map itself. */
const cfgnode *cfg_loc_of(const cfgnode *map, const char *key);

/* config_value.c, config_url.c, config_subject.c: pure parsers and formatters. */
int cfg_duration_parse(const char *s, int64_t *ms, char *err, size_t errlen);
int cfg_size_parse(const char *s, int64_t *bytes, char *err, size_t errlen);
void cfg_format_duration(int64_t ms, char *buf, size_t len);
void cfg_format_size(int64_t bytes, char *buf, size_t len);
int cfg_parse_rfc3339(const char *s, int64_t *ns);
void cfg_format_rfc3339(int64_t ns, char *buf, size_t len);
/* Fills host, port, unix_path, db, user, password of r (malloc'ed). The
 * message never contains the URL (it may carry a password). */
int cfg_parse_redis_url(const char *url, cfg_redis *r, char *err, size_t errlen);
int cfg_parse_hostport(const char *s, char **host, int *port, char *err, size_t errlen);
/* A URL with its userinfo replaced by <redacted> (malloc'ed). */
char *cfg_redact_url(const char *url);
bool cfg_name_valid(const char *s);
/* NATS subjects: tokens separated by '.', '*' one token, '>' the rest. */
bool cfg_subject_valid(const char *s, bool wildcards, char *err, size_t errlen);
bool cfg_subject_match(const char *pattern, const char *subject); /* subject literal */
bool cfg_subject_subset(const char *filter, const char *pattern); /* filter within */
bool cfg_subject_collide(const char *a, const char *b);           /* a subject in both */
size_t cfg_edit_distance(const char *a, const char *b);

/* config_parse.c / config_conn.c / config_consumer.c / config_validate.c */
void config_parse_root(cfg_ctx *c, const cfgnode *root, jw_config *cfg);
void config_parse_nats(cfg_ctx *c, const cfgnode *root, jw_config *cfg);
void config_parse_redis(cfg_ctx *c, const cfgnode *root, jw_config *cfg);
/* *f = strdup(v) unless *f is set. */
void cfg_set_default(cfg_ctx *c, char **f, const char *v);
/* *p made absolute against the config file's directory. */
void cfg_absolutize(cfg_ctx *c, char **p);
/* A file path key: absolute, and readable now (else an error). */
void cfg_get_file(cfg_ctx *c, const cfgnode *m, const char *key, char **out);
void config_parse_consumers(cfg_ctx *c, const cfgnode *root, jw_config *cfg);

/*
 * A list section (streams, consumers, services): the sequence `key` of
 * root, one mapping per item. Returns the calloc'ed array of elem_size
 * elements (NULL when absent or empty), counts the parsed items in *n,
 * records each item's node and whether it had errors in *items, and calls
 * parse(c, node, element, ud) for every mapping; other items are errors.
 */
typedef void (*cfg_item_fn)(cfg_ctx *c, const cfgnode *it, void *elem, void *ud);
void *cfg_parse_list(cfg_ctx *c, const cfgnode *root, const char *key, size_t elem_size, size_t *n,
                     cfg_item **items, cfg_item_fn parse, void *ud);
void config_validate(cfg_ctx *c, jw_config *cfg);

#endif /* JW_CONFIG_INT_H */
