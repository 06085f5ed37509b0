/*
 * config_conn.c -- the connection sections: nats (servers, auth, TLS,
 * timeouts) and redis (URL, ACL user, password, timeout). Secrets come
 * from the key itself, a file (<key>_file, relative to the config file)
 * or an environment variable (<key>_env); at most one of the three, and
 * no message ever contains the value.
 *
 * Threads: whatever thread runs config_load().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

#define SECRET_MAX (64 * 1024)

/* Reads a secret file; trailing newlines are dropped. 0, or -1 with errno. */
static int
read_secret(const char *path, char **out)
{
    FILE *fp = fopen(path, "re");
    if (fp == NULL)
        return -1;
    char *buf = malloc(SECRET_MAX + 1);
    if (buf == NULL) {
        fclose(fp);
        errno = ENOMEM;
        return -1;
    }
    size_t n = fread(buf, 1, SECRET_MAX + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || n > SECRET_MAX) {
        free(buf);
        errno = bad ? EIO : EFBIG;
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static bool
env_name_valid(const char *s)
{
    if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
        return false;
    for (; *s; s++) {
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9')))
            return false;
    }
    return true;
}

/*
 * A secret from `base`, `base_file` or `base_env` (at most one). Messages
 * name the key, the file or the variable, never the value. Returns 1 when
 * set, 0 when none is given, -1 on error.
 */
static int
get_secret(cfg_ctx *c, const cfgnode *m, const char *base, char **out)
{
    char kf[32], ke[32];
    snprintf(kf, sizeof(kf), "%s_file", base);
    snprintf(ke, sizeof(ke), "%s_env", base);
    const char *keys[] = {base, kf, ke};
    int given = 0, rc = 0;
    for (int i = 0; i < 3; i++) {
        const cfgnode *v = cfg_get_node(m, keys[i]);
        if (v == NULL)
            continue;
        size_t mark = cfg_path_key(c, keys[i]);
        char *s = NULL;
        const char *env = NULL;
        if (given++ > 0) {
            cfg_err_at(c, v, "only one of %s, %s and %s may be set", base, kf, ke);
            rc = -1;
        } else if (cfg_is_poisoned(c, v)) {
            rc = -1;
        } else if (v->type != CFGNODE_SCALAR) {
            cfg_err_at(c, v, "expected a scalar, got a %s", cfg_node_kind(v));
            rc = -1;
        } else if (i == 0) {
            s = strdup(v->scalar);
        } else if (i == 1) {
            char *path = strdup(v->scalar);
            cfg_absolutize(c, &path);
            if (path != NULL && read_secret(path, &s) != 0)
                cfg_err_at(c, v, "cannot read '%s': %s", path, strerror(errno));
            else if (s != NULL && *s == '\0')
                cfg_err_at(c, v, "the file '%s' is empty", path);
            free(path);
        } else if (!env_name_valid(v->scalar)) {
            cfg_err_at(c, v, "bad environment variable name '%s'", v->scalar);
        } else if ((env = getenv(v->scalar)) == NULL) {
            cfg_err_at(c, v, "environment variable '%s' is not set", v->scalar);
        } else {
            s = strdup(env);
        }
        cfg_path_pop(c, mark);
        if (s != NULL) {
            free(*out);
            *out = s;
            rc = rc < 0 ? rc : 1;
        } else if (rc == 0) {
            rc = -1;
        }
    }
    return rc;
}

static void
check_server(cfg_ctx *c, const cfgnode *node, const char *url)
{
    const char *sep = strstr(url, "://");
    char *shown = cfg_redact_url(url);
    if (*url == '\0')
        cfg_err_at(c, node, "empty server URL");
    else if (strpbrk(url, " \t,") != NULL)
        cfg_err_at(c, node, "one URL per list item, without spaces or commas: '%s'",
                   shown ? shown : "?");
    else if (sep != NULL && strncmp(url, "nats://", 7) != 0 && strncmp(url, "tls://", 6) != 0)
        cfg_err_at(c, node, "unsupported scheme in '%s' (use nats:// or tls://)",
                   shown ? shown : "?");
    free(shown);
}

static void
parse_tls(cfg_ctx *c, const cfgnode *n, cfg_nats *nt)
{
    static const char *const keys[] = {"ca", "cert", "key", "hostname", NULL};
    bool bad;
    const cfgnode *t = cfg_get_section(c, n, "tls", &bad);
    size_t mark = cfg_path_key(c, "tls");
    cfg_check_keys(c, t, keys);
    cfg_get_file(c, t, "ca", &nt->tls_ca);
    cfg_get_file(c, t, "cert", &nt->tls_cert);
    cfg_get_file(c, t, "key", &nt->tls_key);
    cfg_get_str(c, t, "hostname", &nt->tls_hostname);
    if ((nt->tls_cert == NULL) != (nt->tls_key == NULL))
        cfg_err_at(c, t, "cert and key go together: set both or neither");
    cfg_path_pop(c, mark);
}

void
config_parse_nats(cfg_ctx *c, const cfgnode *root, jw_config *cfg)
{
    /* clang-format off */
    static const char *const keys[] = {"servers",         "name",           "user",
                                       "password",        "password_file",  "password_env",
                                       "token",           "token_file",     "token_env",
                                       "nkey_seed_file",  "creds_file",     "tls",
                                       "connect_timeout", "reconnect_wait", "reconnect_wait_max",
                                       "request_timeout", "inbox_prefix",   "send_asap",
                                       "max_auth_failures", NULL};
    /* clang-format on */
    bool bad;
    const cfgnode *n = cfg_get_section(c, root, "nats", &bad);
    size_t mark = cfg_path_key(c, "nats");
    cfg_nats *nt = &cfg->nats;
    nt->connect_timeout_ms = 2000;
    nt->reconnect_wait_ms = 250;
    nt->reconnect_wait_max_ms = 5000;
    nt->request_timeout_ms = 5000;
    nt->max_auth_failures = 3;
    cfg_check_keys(c, n, keys);

    int rc = cfg_get_strlist(c, n, "servers", &nt->servers, &nt->nservers);
    const cfgnode *sv = cfgnode_get(n, "servers");
    if (rc == 1 && nt->nservers == 0) {
        size_t m2 = cfg_path_key(c, "servers");
        cfg_err_at(c, sv, "must list at least one server");
        cfg_path_pop(c, m2);
    }
    for (size_t i = 0; rc == 1 && i < nt->nservers; i++) {
        size_t m2 = cfg_path_key(c, "servers");
        if (sv->type == CFGNODE_SEQ)
            cfg_path_index(c, i);
        check_server(c, sv->type == CFGNODE_SEQ ? sv->items[i] : sv, nt->servers[i]);
        cfg_path_pop(c, m2);
    }
    if (rc == 0) {
        nt->servers = calloc(1, sizeof(*nt->servers));
        if (nt->servers != NULL) {
            nt->nservers = 1;
            cfg_set_default(c, &nt->servers[0], "nats://127.0.0.1:4222");
        }
    }
    cfg_get_str(c, n, "name", &nt->name);
    cfg_set_default(c, &nt->name, cfg->service.name ? cfg->service.name : "jetway");
    cfg_get_str(c, n, "user", &nt->user);
    int pw = get_secret(c, n, "password", &nt->password);
    int tk = get_secret(c, n, "token", &nt->token);
    cfg_get_file(c, n, "nkey_seed_file", &nt->nkey_seed_file);
    cfg_get_file(c, n, "creds_file", &nt->creds_file);
    if (pw == 1 && nt->user == NULL)
        cfg_err_key(c, n, "password", "a password needs a user");
    int methods =
        (nt->user != NULL) + (tk == 1) + (nt->nkey_seed_file != NULL) + (nt->creds_file != NULL);
    if (methods > 1)
        cfg_err_at(c, n,
                   "choose one authentication: user/password, token, nkey_seed_file or "
                   "creds_file");
    parse_tls(c, n, nt);
    cfg_get_duration(c, n, "connect_timeout", 1, &nt->connect_timeout_ms);
    int w1 = cfg_get_duration(c, n, "reconnect_wait", 1, &nt->reconnect_wait_ms);
    int w2 = cfg_get_duration(c, n, "reconnect_wait_max", 1, &nt->reconnect_wait_max_ms);
    if (w1 >= 0 && w2 >= 0 && nt->reconnect_wait_max_ms < nt->reconnect_wait_ms) {
        char a[32], b[32];
        cfg_format_duration(nt->reconnect_wait_max_ms, a, sizeof(a));
        cfg_format_duration(nt->reconnect_wait_ms, b, sizeof(b));
        size_t m2 = cfg_path_key(c, "reconnect_wait_max");
        cfg_err_at(c, cfg_loc_of(n, w2 == 1 ? "reconnect_wait_max" : "reconnect_wait"),
                   "reconnect_wait_max (%s) must be at least reconnect_wait (%s)", a, b);
        cfg_path_pop(c, m2);
    }
    cfg_get_duration(c, n, "request_timeout", 1, &nt->request_timeout_ms);
    if (cfg_get_str(c, n, "inbox_prefix", &nt->inbox_prefix) == 1) {
        char err[160];
        if (!cfg_subject_valid(nt->inbox_prefix, false, err, sizeof(err))) {
            size_t m2 = cfg_path_key(c, "inbox_prefix");
            cfg_err_at(c, cfgnode_get(n, "inbox_prefix"), "%s", err);
            cfg_path_pop(c, m2);
        }
    }
    cfg_get_bool(c, n, "send_asap", &nt->send_asap);
    cfg_get_intv(c, n, "max_auth_failures", 0, 1000000, &nt->max_auth_failures);
    cfg_path_pop(c, mark);
}

void
config_parse_redis(cfg_ctx *c, const cfgnode *root, jw_config *cfg)
{
    static const char *const keys[] = {"url",
                                       "user",
                                       "password",
                                       "password_file",
                                       "password_env",
                                       "timeout",
                                       "allow_eviction",
                                       "max_auth_failures",
                                       NULL};
    bool bad;
    const cfgnode *r = cfg_get_section(c, root, "redis", &bad);
    cfg_redis *rd = &cfg->redis;
    rd->timeout_ms = 2000;
    rd->max_auth_failures = 3;
    if (r == NULL && !bad)
        return;
    cfg->has_redis = true;
    c->redis_node = r;
    size_t mark = cfg_path_key(c, "redis");
    cfg_check_keys(c, r, keys);
    cfg_get_str(c, r, "url", &rd->url);
    cfg_set_default(c, &rd->url, "redis://127.0.0.1:6379");
    char err[160];
    cfg_redis u;
    if (rd->url != NULL && cfg_parse_redis_url(rd->url, &u, err, sizeof(err)) != 0) {
        size_t m2 = cfg_path_key(c, "url");
        cfg_err_at(c, cfg_loc_of(r, "url"), "bad url: %s", err);
        cfg_path_pop(c, m2);
    } else if (rd->url != NULL) {
        rd->host = u.host;
        rd->port = u.port;
        rd->unix_path = u.unix_path;
        rd->db = u.db;
        rd->user = u.user;
        rd->password = u.password;
    }
    char *user = NULL, *pw = NULL;
    if (cfg_get_str(c, r, "user", &user) == 1 && rd->user != NULL)
        cfg_err_at(c, cfgnode_get(r, "user"), "the user is given both in url and in redis.user");
    if (get_secret(c, r, "password", &pw) == 1 && rd->password != NULL)
        cfg_err_at(c, r, "the password is given both in url and by a password key");
    if (user != NULL) {
        free(rd->user);
        rd->user = user;
    }
    if (pw != NULL) {
        free(rd->password);
        rd->password = pw;
    }
    cfg_get_duration(c, r, "timeout", 1, &rd->timeout_ms);
    cfg_get_bool(c, r, "allow_eviction", &rd->allow_eviction);
    cfg_get_intv(c, r, "max_auth_failures", 0, 1000000, &rd->max_auth_failures);
    cfg_path_pop(c, mark);
}
