/*
 * config_parse.c -- the top-level sections of the YAML onto jw_config:
 * service, plugins, streams, services, http, log, tracing (nats and redis:
 * config_conn.c, consumers: config_consumer.c). Each mapper checks its keys, types and
 * ranges, fills the documented defaults, and records for every list item
 * where it came from (cfg_item) for config_validate.c.
 *
 * Relative file paths (plugins.dir, *_file, tls files) are resolved
 * against the config file's directory and stored absolute.
 *
 * Threads: whatever thread runs config_load().
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"

static const char *const top_keys[] = {"service", "nats",      "redis",    "plugins",
                                       "streams", "consumers", "services", "http",
                                       "log",     "tracing",   "health",   NULL};

/* *f = strdup(v) unless already set. */
void
cfg_set_default(cfg_ctx *c, char **f, const char *v)
{
    if (*f == NULL && (*f = strdup(v)) == NULL)
        cfg_err(c, 1, 1, "out of memory");
}

/* Makes *p absolute against the config file's directory. */
void
cfg_absolutize(cfg_ctx *c, char **p)
{
    char *abs;
    if (*p == NULL || (*p)[0] == '/' || (*p)[0] == '\0')
        return;
    if (asprintf(&abs, "%s/%s", c->dir, *p) < 0) {
        cfg_err(c, 1, 1, "out of memory");
        return;
    }
    free(*p);
    *p = abs;
}

/* A file path key: absolute, and readable now (a typo shows up in check). */
void
cfg_get_file(cfg_ctx *c, const cfgnode *m, const char *key, char **out)
{
    if (cfg_get_str(c, m, key, out) != 1)
        return;
    cfg_absolutize(c, out);
    /* (set when cfg_get_str returns 1; tested for clang-analyzer, which cannot see that) */
    if (*out != NULL && access(*out, R_OK) != 0) {
        size_t mark = cfg_path_key(c, key);
        cfg_err_at(c, cfgnode_get(m, key), "cannot read '%s': %s", *out, strerror(errno));
        cfg_path_pop(c, mark);
    }
}

static void
parse_service(cfg_ctx *c, const cfgnode *root, jw_config *cfg)
{
    static const char *const keys[] = {"name", "workers", "shutdown_grace", "instance_id", NULL};
    bool bad;
    const cfgnode *s = cfg_get_section(c, root, "service", &bad);
    size_t mark = cfg_path_key(c, "service");
    cfg_service_section *sv = &cfg->service;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    sv->workers = cpus < 1 ? 2 : cpus > 128 ? 256 : (int)cpus * 2;
    sv->shutdown_grace_ms = 30000;
    cfg_check_keys(c, s, keys);
    if (cfg_get_str(c, s, "name", &sv->name) == 1 && sv->name[0] == '\0') {
        size_t m2 = cfg_path_key(c, "name");
        cfg_err_at(c, cfgnode_get(s, "name"), "must not be empty");
        cfg_path_pop(c, m2);
    }
    cfg_set_default(c, &sv->name, "jetway");
    cfg_get_intv(c, s, "workers", 1, 256, &sv->workers);
    cfg_get_duration(c, s, "shutdown_grace", 0, &sv->shutdown_grace_ms);
    cfg_get_str(c, s, "instance_id", &sv->instance_id);
    if (sv->instance_id == NULL) {
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        if (asprintf(&sv->instance_id, "%s-%ld", host, (long)getpid()) < 0)
            sv->instance_id = NULL;
        cfg_set_default(c, &sv->instance_id, "jetway");
    }
    cfg_path_pop(c, mark);
}

/* Grows the item table of a list section; the arrays have seq->n slots. */
static void
parse_plugin(cfg_ctx *c, const cfgnode *it, cfg_plugin *p)
{
    static const char *const keys[] = {"name", "file", "config", NULL};
    cfg_check_keys(c, it, keys);
    p->loc = (cfg_loc){it->line, it->column};
    if (cfg_req_str(c, it, "name", &p->name) == 1 && !cfg_name_valid(p->name)) {
        size_t m = cfg_path_key(c, "name");
        cfg_err_at(c, cfgnode_get(it, "name"), "bad name '%s': use letters, digits, '_' and '-'",
                   p->name);
        cfg_path_pop(c, m);
    }
    if (cfg_get_str(c, it, "file", &p->file) == 1 &&
        (p->file[0] == '\0' || strchr(p->file, '/') != NULL || strcmp(p->file, "..") == 0)) {
        size_t m = cfg_path_key(c, "file");
        cfg_err_at(c, cfgnode_get(it, "file"),
                   "'%s' must be a file name inside plugins.dir, without '/'", p->file);
        cfg_path_pop(c, m);
    }
    if (p->file == NULL && p->name != NULL && asprintf(&p->file, "%s.so", p->name) < 0)
        p->file = NULL;
    const cfgnode *conf = cfgnode_get(it, "config");
    if (conf != NULL && !cfg_is_null(conf)) {
        if (conf->type != CFGNODE_MAP) {
            size_t m = cfg_path_key(c, "config");
            cfg_err_at(c, conf, "expected a mapping, got a %s", cfg_node_kind(conf));
            cfg_path_pop(c, m);
        } else if ((p->config = cfgnode_clone(conf)) == NULL) {
            cfg_err_at(c, conf, "out of memory");
        }
    }
}

static void
parse_plugin_dir(cfg_ctx *c, const cfgnode *pl, jw_config *cfg)
{
    if (cfg_get_str(c, pl, "dir", &cfg->plugin_dir) != 1)
        return;
    size_t m = cfg_path_key(c, "dir");
    const cfgnode *v = cfgnode_get(pl, "dir");
    struct stat st;
    cfg_absolutize(c, &cfg->plugin_dir);
    char *real = cfg->plugin_dir ? realpath(cfg->plugin_dir, NULL) : NULL;
    if (real == NULL || stat(real, &st) != 0)
        cfg_err_at(c, v, "plugin directory '%s': %s", cfg->plugin_dir ? cfg->plugin_dir : "",
                   strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        cfg_err_at(c, v, "'%s' is not a directory", real);
    if (real != NULL) {
        free(cfg->plugin_dir);
        cfg->plugin_dir = real;
    }
    cfg_path_pop(c, m);
}

static void
parse_plugins(cfg_ctx *c, const cfgnode *root, jw_config *cfg)
{
    static const char *const keys[] = {"dir", "instances", NULL};
    bool bad;
    const cfgnode *pl = cfg_get_section(c, root, "plugins", &bad);
    if (pl == NULL)
        return;
    size_t mark = cfg_path_key(c, "plugins");
    cfg_check_keys(c, pl, keys);
    parse_plugin_dir(c, pl, cfg);
    const cfgnode *seq = cfg_get_seq(c, pl, "instances");
    if (seq != NULL && seq->n > 0) {
        if (cfg->plugin_dir == NULL && cfg_get_node(pl, "dir") == NULL)
            cfg_err_at(c, pl, "missing required key 'dir' (where the plugin files are)");
        cfg->plugins = calloc(seq->n, sizeof(*cfg->plugins));
        c->plugins = calloc(seq->n, sizeof(*c->plugins));
        if (cfg->plugins == NULL || c->plugins == NULL) {
            cfg_err_at(c, seq, "out of memory");
            cfg_path_pop(c, mark);
            return;
        }
        size_t m2 = cfg_path_key(c, "instances");
        for (size_t i = 0; i < seq->n; i++) {
            size_t m3 = cfg_path_index(c, i);
            const cfgnode *it = seq->items[i];
            if (it->type != CFGNODE_MAP) {
                cfg_err_at(c, it, "expected a mapping (name, file, config), got a %s",
                           cfg_node_kind(it));
            } else {
                size_t k = cfg->nplugins++, e0 = cfg_errors_count(c);
                parse_plugin(c, it, &cfg->plugins[k]);
                c->plugins[k] = (cfg_item){it, i, cfg_errors_count(c) > e0};
            }
            cfg_path_pop(c, m3);
        }
        cfg_path_pop(c, m2);
    }
    cfg_path_pop(c, mark);
}

static void
parse_stream(cfg_ctx *c, const cfgnode *it, cfg_stream *s)
{
    static const char *const keys[] = {"name",     "subjects",         "storage",  "retention",
                                       "max_age",  "max_bytes",        "max_msgs", "max_msg_size",
                                       "replicas", "duplicate_window", "discard",  "manage",
                                       NULL};
    static const char *const storage[] = {"file", "memory", NULL};
    static const char *const retention[] = {"limits", "workqueue", "interest", NULL};
    static const char *const discard[] = {"old", "new", NULL};
    char err[160];
    int e;
    cfg_check_keys(c, it, keys);
    s->loc = (cfg_loc){it->line, it->column};
    s->max_bytes = s->max_msgs = s->max_msg_size = -1;
    s->replicas = 1;
    s->duplicate_window_ms = 120000;
    bool manage = true;
    cfg_get_bool(c, it, "manage", &manage);
    s->bind_only = !manage;
    if (cfg_req_str(c, it, "name", &s->name) == 1 && !cfg_name_valid(s->name)) {
        size_t m = cfg_path_key(c, "name");
        cfg_err_at(c, cfgnode_get(it, "name"),
                   "bad stream name '%s': use letters, digits, '_' and '-'", s->name);
        cfg_path_pop(c, m);
    }
    int rc = cfg_get_strlist(c, it, "subjects", &s->subjects, &s->nsubjects);
    const cfgnode *sn = cfgnode_get(it, "subjects");
    size_t m = cfg_path_key(c, "subjects");
    if (rc == 0 && s->bind_only) {
        cfg_path_pop(c, m); /* bind-only: the owner's subjects are checked on the server */
    } else if (rc == 0) {
        cfg_path_pop(c, m);
        cfg_err_at(c, it,
                   "missing required key 'subjects' (or manage: false to bind to a "
                   "stream another config owns)");
    } else if (rc == 1 && s->nsubjects == 0) {
        cfg_err_at(c, sn, "must list at least one subject");
    }
    for (size_t i = 0; rc == 1 && i < s->nsubjects; i++) {
        const cfgnode *at = sn->type == CFGNODE_SEQ ? sn->items[i] : sn;
        size_t m2 = sn->type == CFGNODE_SEQ ? cfg_path_index(c, i) : c->plen;
        if (!cfg_subject_valid(s->subjects[i], true, err, sizeof(err)))
            cfg_err_at(c, at, "%s", err);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->subjects[j], s->subjects[i]) == 0)
                cfg_err_at(c, at, "duplicate subject '%s'", s->subjects[i]);
        }
        cfg_path_pop(c, m2);
    }
    cfg_path_pop(c, m);
    if (cfg_get_enum(c, it, "storage", storage, &e) == 1)
        s->storage = (cfg_storage)e;
    if (cfg_get_enum(c, it, "retention", retention, &e) == 1) {
        s->retention = (cfg_retention)e;
        s->retention_set = true;
    }
    if (cfg_get_enum(c, it, "discard", discard, &e) == 1)
        s->discard = (cfg_discard)e;
    int age = cfg_get_duration(c, it, "max_age", 0, &s->max_age_ms);
    cfg_get_size(c, it, "max_bytes", 1, INT64_MAX, &s->max_bytes);
    cfg_get_int(c, it, "max_msgs", 1, INT64_MAX, &s->max_msgs);
    cfg_get_size(c, it, "max_msg_size", 1, INT32_MAX, &s->max_msg_size);
    cfg_get_intv(c, it, "replicas", 1, 5, &s->replicas);
    int dw = cfg_get_duration(c, it, "duplicate_window", 1, &s->duplicate_window_ms);
    static const char *const settings[] = {"storage",   "discard",         "max_age",
                                           "max_bytes", "max_msgs",        "max_msg_size",
                                           "replicas",  "duplicate_window"};
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        s->explicit_settings |= cfgnode_get(it, settings[i]) != NULL;
    if (age >= 0 && s->max_age_ms > 0 && s->duplicate_window_ms > s->max_age_ms) {
        if (dw == 0) { /* as nats-server does: the default window shrinks to max_age */
            s->duplicate_window_ms = s->max_age_ms;
        } else if (dw == 1) {
            char a[32], b[32];
            cfg_format_duration(s->duplicate_window_ms, a, sizeof(a));
            cfg_format_duration(s->max_age_ms, b, sizeof(b));
            size_t m2 = cfg_path_key(c, "duplicate_window");
            cfg_err_at(c, cfgnode_get(it, "duplicate_window"),
                       "duplicate_window (%s) must not exceed max_age (%s)", a, b);
            cfg_path_pop(c, m2);
        }
    }
}

static void
parse_service_ep(cfg_ctx *c, const cfgnode *it, cfg_service_ep *s)
{
    static const char *const keys[] = {"name", "subject", "queue", "handler", "concurrency", NULL};
    char err[160];
    cfg_check_keys(c, it, keys);
    s->loc = (cfg_loc){it->line, it->column};
    s->concurrency = 1;
    if (cfg_req_str(c, it, "name", &s->name) == 1 && !cfg_name_valid(s->name)) {
        size_t m = cfg_path_key(c, "name");
        cfg_err_at(c, cfgnode_get(it, "name"), "bad name '%s': use letters, digits, '_' and '-'",
                   s->name);
        cfg_path_pop(c, m);
    }
    if (cfg_req_str(c, it, "subject", &s->subject) == 1 &&
        !cfg_subject_valid(s->subject, true, err, sizeof(err))) {
        size_t m = cfg_path_key(c, "subject");
        cfg_err_at(c, cfgnode_get(it, "subject"), "%s", err);
        cfg_path_pop(c, m);
    }
    if (cfg_get_str(c, it, "queue", &s->queue) == 1 &&
        !cfg_subject_valid(s->queue, false, err, sizeof(err))) {
        size_t m = cfg_path_key(c, "queue");
        cfg_err_at(c, cfgnode_get(it, "queue"), "bad queue group: %s", err);
        cfg_path_pop(c, m);
    }
    if (s->name != NULL)
        cfg_set_default(c, &s->queue, s->name);
    cfg_req_str(c, it, "handler", &s->handler);
    cfg_get_intv(c, it, "concurrency", 1, 1000000, &s->concurrency);
}

/* Item mappers for cfg_parse_list. */
static void
stream_item(cfg_ctx *c, const cfgnode *it, void *elem, void *ud)
{
    (void)ud;
    parse_stream(c, it, elem);
}

static void
service_item(cfg_ctx *c, const cfgnode *it, void *elem, void *ud)
{
    (void)ud;
    parse_service_ep(c, it, elem);
}

static void
parse_misc(cfg_ctx *c, const cfgnode *root, jw_config *cfg)
{
    static const char *const http_keys[] = {"listen", NULL};
    static const char *const log_keys[] = {"format", "level", NULL};
    static const char *const tr_keys[] = {"otlp_endpoint", "export_interval", "queue_size", NULL};
    static const char *const formats[] = {"json", "text", NULL};
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    bool bad;
    char err[160];
    int e;

    const cfgnode *h = cfg_get_section(c, root, "http", &bad);
    size_t m = cfg_path_key(c, "http");
    cfg_check_keys(c, h, http_keys);
    if (cfg_get_str(c, h, "listen", &cfg->http.listen) == 1 &&
        cfg_parse_hostport(cfg->http.listen, &cfg->http.host, &cfg->http.port, err, sizeof(err)) !=
            0) {
        size_t m2 = cfg_path_key(c, "listen");
        cfg_err_at(c, cfgnode_get(h, "listen"), "bad address '%s': %s (expected host:port)",
                   cfg->http.listen, err);
        cfg_path_pop(c, m2);
    }
    cfg_path_pop(c, m);

    static const char *const health_keys[] = {"jetstream_timeout", NULL};
    const cfgnode *hl = cfg_get_section(c, root, "health", &bad);
    m = cfg_path_key(c, "health");
    cfg->health.jetstream_timeout_ms = 15000;
    cfg_check_keys(c, hl, health_keys);
    cfg_get_duration(c, hl, "jetstream_timeout", 1, &cfg->health.jetstream_timeout_ms);
    cfg_path_pop(c, m);

    const cfgnode *l = cfg_get_section(c, root, "log", &bad);
    m = cfg_path_key(c, "log");
    cfg->log.format = CFG_LOG_JSON;
    cfg->log.level = 2; /* JW_LOG_INFO */
    cfg_check_keys(c, l, log_keys);
    if (cfg_get_enum(c, l, "format", formats, &e) == 1)
        cfg->log.format = (cfg_log_format)e;
    cfg_get_enum(c, l, "level", levels, &cfg->log.level);
    cfg_path_pop(c, m);

    const cfgnode *t = cfg_get_section(c, root, "tracing", &bad);
    m = cfg_path_key(c, "tracing");
    cfg->tracing.export_interval_ms = 1000;
    cfg->tracing.queue_size = 4096;
    cfg_check_keys(c, t, tr_keys);
    if (cfg_get_str(c, t, "otlp_endpoint", &cfg->tracing.otlp_endpoint) == 1 &&
        strncmp(cfg->tracing.otlp_endpoint, "http://", 7) != 0 &&
        strncmp(cfg->tracing.otlp_endpoint, "https://", 8) != 0) {
        size_t m2 = cfg_path_key(c, "otlp_endpoint");
        cfg_err_at(c, cfgnode_get(t, "otlp_endpoint"), "'%s' is not an http:// or https:// URL",
                   cfg->tracing.otlp_endpoint);
        cfg_path_pop(c, m2);
    }
    cfg_get_duration(c, t, "export_interval", 1, &cfg->tracing.export_interval_ms);
    cfg_get_intv(c, t, "queue_size", 1, 10000000, &cfg->tracing.queue_size);
    cfg_path_pop(c, m);
}

void
config_parse_root(cfg_ctx *c, const cfgnode *root, jw_config *cfg)
{
    if (root->type != CFGNODE_MAP) {
        cfg_err_at(c, root,
                   "the file must be a mapping of sections (service, nats, streams...), "
                   "got a %s",
                   cfg_node_kind(root));
        return;
    }
    cfg_check_keys(c, root, top_keys);
    parse_service(c, root, cfg);
    config_parse_nats(c, root, cfg);
    config_parse_redis(c, root, cfg);
    parse_plugins(c, root, cfg);
    cfg->streams = cfg_parse_list(c, root, "streams", sizeof(*cfg->streams), &cfg->nstreams,
                                  &c->streams, stream_item, NULL);
    config_parse_consumers(c, root, cfg);
    cfg->services = cfg_parse_list(c, root, "services", sizeof(*cfg->services), &cfg->nservices,
                                   &c->services, service_item, NULL);
    parse_misc(c, root, cfg);
}
