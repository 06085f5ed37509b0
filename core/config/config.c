/*
 * config.c -- config_load(): read, digest, parse, map, validate; located
 * error collection; config_free() and lookups.
 *
 * The passes (config_int.h) never stop at the first error: each reports
 * what it finds and goes on with defaults, and the errors are sorted by
 * position at the end, so one run shows every mistake of a file.
 *
 * Threads: config_load() on any one thread; the result is read-only.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"

#define MAX_FILE (4 * 1024 * 1024)

void
cfg_errors_add(cfg_errors *errs, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    int rc = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (rc < 0)
        text = NULL;
    if (errs->n == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        cfg_error *v = realloc(errs->v, cap * sizeof(*v));
        if (v == NULL) {
            free(text);
            return;
        }
        errs->v = v;
        errs->cap = cap;
    }
    /* Out of memory still counts as an error, so a load never "succeeds". */
    errs->v[errs->n++].text = text != NULL ? text : strdup("out of memory");
}

void
cfg_errors_free(cfg_errors *errs)
{
    if (errs == NULL)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->v[i].text);
    free(errs->v);
    errs->v = NULL;
    errs->n = errs->cap = 0;
}

/* (the attribute lets clang's -Wformat-nonliteral see fmt is checked at the callers) */
static void verr(cfg_ctx *c, int line, int col, const char *fmt, va_list ap) JW_PRINTF(4, 0);
static void
verr(cfg_ctx *c, int line, int col, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (c->plen > 0)
        cfg_errors_add(c->errs, "%s:%d:%d: %s: %s", c->file, line, col, c->path, msg);
    else
        cfg_errors_add(c->errs, "%s:%d:%d: %s", c->file, line, col, msg);
}

void
cfg_err(cfg_ctx *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(c, line, col, fmt, ap);
    va_end(ap);
}

void
cfg_err_at(cfg_ctx *c, const cfgnode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(c, n ? n->line : 1, n ? n->column : 1, fmt, ap);
    va_end(ap);
}

void
cfg_err_key(cfg_ctx *c, const cfgnode *map, const char *key, const char *fmt, ...)
{
    va_list ap;
    size_t mark = cfg_path_key(c, key);
    const cfgnode *n = cfg_loc_of(map, key);
    va_start(ap, fmt);
    verr(c, n ? n->line : 1, n ? n->column : 1, fmt, ap);
    va_end(ap);
    cfg_path_pop(c, mark);
}

size_t
cfg_errors_count(const cfg_ctx *c)
{
    return c->errs->n;
}

size_t
cfg_path_key(cfg_ctx *c, const char *key)
{
    size_t old = c->plen;
    int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s", c->plen ? "." : "", key);
    if (n > 0)
        c->plen += (size_t)n;
    if (c->plen >= sizeof(c->path))
        c->plen = sizeof(c->path) - 1;
    return old;
}

size_t
cfg_path_index(cfg_ctx *c, size_t i)
{
    size_t old = c->plen;
    int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "[%zu]", i);
    if (n > 0)
        c->plen += (size_t)n;
    if (c->plen >= sizeof(c->path))
        c->plen = sizeof(c->path) - 1;
    return old;
}

void
cfg_path_pop(cfg_ctx *c, size_t len)
{
    c->plen = len;
    c->path[len] = '\0';
}

/* Reads the whole file (NUL-terminated). 0, or -1 with errno. */
static int
read_file(const char *path, char **text, size_t *len)
{
    FILE *fp = fopen(path, "rbe");
    if (fp == NULL)
        return -1;
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n + 1 >= cap) {
            if (cap >= MAX_FILE) {
                free(buf);
                fclose(fp);
                errno = EFBIG;
                return -1;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL)
                break;
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, fp);
        n += r;
        if (r == 0) {
            if (ferror(fp))
                break;
            fclose(fp);
            buf[n] = '\0';
            *text = buf;
            *len = n;
            return 0;
        }
    }
    int e = errno ? errno : ENOMEM;
    free(buf);
    fclose(fp);
    errno = e;
    return -1;
}

static void
digest_hex(const char *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    hex[0] = '\0';
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        return;
    for (unsigned int i = 0; i < mdlen && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* The absolute directory holding path (symlinks not resolved). */
static void
file_dir(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    char cwd[PATH_MAX];
    if (path[0] == '/') {
        snprintf(dir, len, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    } else if (getcwd(cwd, sizeof(cwd)) == NULL) { // NOLINT(bugprone-branch-clone)
        /* (the same fallback as the last branch, for another reason) */
        snprintf(dir, len, ".");
    } else if (slash == NULL) {
        snprintf(dir, len, "%s", cwd);
    } else if (snprintf(dir, len, "%s/%.*s", cwd, (int)(slash - path), path) >= (int)len) {
        snprintf(dir, len, "."); /* too long: relative paths fail visibly later */
    }
}

/* line and column of an error text "file:L:C: ...", 0 when it has none. */
static long
err_pos(const char *text, size_t flen)
{
    if (text == NULL || strlen(text) <= flen || text[flen] != ':')
        return 0;
    char *end;
    long line = strtol(text + flen + 1, &end, 10);
    if (*end != ':')
        return 0;
    long col = strtol(end + 1, &end, 10);
    return line * 100000 + col;
}

/* Stable sort of the errors added since `from`, by position. */
static void
sort_errors(cfg_errors *errs, size_t from, const char *file)
{
    size_t flen = strlen(file);
    for (size_t i = from + 1; i < errs->n; i++) {
        cfg_error e = errs->v[i];
        long key = err_pos(e.text, flen);
        size_t j = i;
        while (j > from && err_pos(errs->v[j - 1].text, flen) > key) {
            errs->v[j] = errs->v[j - 1];
            j--;
        }
        errs->v[j] = e;
    }
}

int
config_load(const char *path, jw_config **out, cfg_errors *errs)
{
    size_t before = errs->n, len = 0;
    char *text = NULL;
    *out = NULL;
    if (read_file(path, &text, &len) != 0) {
        cfg_errors_add(errs, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    jw_config *cfg = calloc(1, sizeof(*cfg));
    cfg_ctx c = {.file = path, .errs = errs};
    if (cfg == NULL || (cfg->path = strdup(path)) == NULL) {
        cfg_errors_add(errs, "%s: out of memory", path);
        free(text);
        config_free(cfg);
        return -1;
    }
    digest_hex(text, len, cfg->digest);
    file_dir(path, c.dir, sizeof(c.dir));
    cfgnode *root = config_yaml_parse(&c, text, len);
    free(text);
    if (root != NULL) {
        config_yaml_resolve(&c, root);
        config_parse_root(&c, root, cfg);
        config_validate(&c, cfg);
        cfgnode_free(root);
    }
    free(c.streams);
    free(c.consumers);
    free(c.plugins);
    free(c.services);
    free(c.poison);
    sort_errors(errs, before, path);
    if (errs->n > before) {
        config_free(cfg);
        return -1;
    }
    *out = cfg;
    return 0;
}

static void
free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n && v != NULL; i++)
        free(v[i]);
    free(v);
}

void
config_free(jw_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->service.name);
    free(cfg->service.instance_id);
    cfg_nats *n = &cfg->nats;
    free_strv(n->servers, n->nservers);
    free(n->name);
    free(n->user);
    free(n->password);
    free(n->token);
    free(n->nkey_seed_file);
    free(n->creds_file);
    free(n->tls_ca);
    free(n->tls_cert);
    free(n->tls_key);
    free(n->tls_hostname);
    free(n->inbox_prefix);
    free(cfg->redis.url);
    free(cfg->redis.host);
    free(cfg->redis.unix_path);
    free(cfg->redis.user);
    free(cfg->redis.password);
    free(cfg->plugin_dir);
    for (size_t i = 0; i < cfg->nplugins; i++) {
        free(cfg->plugins[i].name);
        free(cfg->plugins[i].file);
        cfgnode_free(cfg->plugins[i].config);
    }
    free(cfg->plugins);
    for (size_t i = 0; i < cfg->nstreams; i++) {
        free(cfg->streams[i].name);
        free_strv(cfg->streams[i].subjects, cfg->streams[i].nsubjects);
    }
    free(cfg->streams);
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        cfg_consumer *k = &cfg->consumers[i];
        free(k->name);
        free(k->stream);
        free(k->filter_subject);
        free(k->handler);
        free(k->backoff_ms);
        free(k->dead_letter);
        free(k->dedup.key_prefix);
        free(k->dedup.id_from);
        free(k->dedup.id_field);
    }
    free(cfg->consumers);
    for (size_t i = 0; i < cfg->nservices; i++) {
        free(cfg->services[i].name);
        free(cfg->services[i].subject);
        free(cfg->services[i].queue);
        free(cfg->services[i].handler);
    }
    free(cfg->services);
    free(cfg->http.listen);
    free(cfg->http.host);
    free(cfg->tracing.otlp_endpoint);
    free(cfg);
}

const cfg_consumer *
config_find_consumer(const jw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nconsumers; i++) {
        if (cfg->consumers[i].name != NULL && strcmp(cfg->consumers[i].name, name) == 0)
            return &cfg->consumers[i];
    }
    return NULL;
}

const cfg_stream *
config_find_stream(const jw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nstreams; i++) {
        if (cfg->streams[i].name != NULL && strcmp(cfg->streams[i].name, name) == 0)
            return &cfg->streams[i];
    }
    return NULL;
}

const cfg_plugin *
config_find_plugin(const jw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nplugins; i++) {
        if (cfg->plugins[i].name != NULL && strcmp(cfg->plugins[i].name, name) == 0)
            return &cfg->plugins[i];
    }
    return NULL;
}
