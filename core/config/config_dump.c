/*
 * config_dump.c -- the normalized topology as YAML: every section, every
 * default filled in, in a fixed order, so two dumps compare with diff and
 * the output loads back as the same topology. Secrets (passwords, tokens,
 * the password in a URL, plugin keys named like secrets) are printed as
 * "<redacted>".
 *
 * Threads: any thread holding the (immutable) config.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_int.h"

#define REDACTED "\"<redacted>\""

static bool
looks_typed(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off",
                                        "null", "~",     "y",   "n",  NULL};
    for (int i = 0; words[i]; i++) {
        if (strcasecmp(s, words[i]) == 0)
            return true;
    }
    char *end;
    (void)strtod(s, &end);
    return *end == '\0';
}

/* A plain scalar when that reads back as the same string, else quoted. */
static void
put_str(FILE *fp, const char *s, bool force_quotes)
{
    bool plain = !force_quotes && *s != '\0' && !looks_typed(s) && !isspace((unsigned char)*s) &&
                 !isspace((unsigned char)s[strlen(s) - 1]) && strchr("-?", *s) == NULL;
    for (const char *p = s; plain && *p; p++) {
        if (strchr(":#{}[],&*!|>'\"%@`\\", *p) != NULL || (unsigned char)*p < 0x20)
            plain = false;
    }
    if (plain) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(fp, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", fp);
        else if (*p == '\t')
            fputs("\\t", fp);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(fp, "\\x%02x", *p);
        else
            fputc(*p, fp);
    }
    fputc('"', fp);
}

static void
kv_str(FILE *fp, int ind, const char *k, const char *v)
{
    fprintf(fp, "%*s%s: ", ind, "", k);
    if (v == NULL)
        fputs("null", fp);
    else
        put_str(fp, v, false);
    fputc('\n', fp);
}

static void
kv_secret(FILE *fp, int ind, const char *k, const char *v)
{
    fprintf(fp, "%*s%s: %s\n", ind, "", k, v != NULL ? REDACTED : "null");
}

static void
kv_url(FILE *fp, int ind, const char *k, const char *url)
{
    char *r = url != NULL ? cfg_redact_url(url) : NULL;
    kv_str(fp, ind, k, r != NULL ? r : url != NULL ? "<redacted>" : NULL);
    free(r);
}

static void
kv_int(FILE *fp, int ind, const char *k, int64_t v)
{
    fprintf(fp, "%*s%s: %" PRId64 "\n", ind, "", k, v);
}

static void
kv_bool(FILE *fp, int ind, const char *k, bool v)
{
    fprintf(fp, "%*s%s: %s\n", ind, "", k, v ? "true" : "false");
}

static void
kv_dur(FILE *fp, int ind, const char *k, int64_t ms)
{
    char b[48];
    cfg_format_duration(ms, b, sizeof(b));
    fprintf(fp, "%*s%s: %s\n", ind, "", k, b);
}

/* -1 = unlimited, printed as null (which loads back as the default). */
static void
kv_size(FILE *fp, int ind, const char *k, int64_t v)
{
    char b[48];
    if (v < 0) {
        fprintf(fp, "%*s%s: null # unlimited\n", ind, "", k);
        return;
    }
    cfg_format_size(v, b, sizeof(b));
    fprintf(fp, "%*s%s: %s\n", ind, "", k, b);
}

static void
list_str(FILE *fp, int ind, const char *k, char *const *v, size_t n)
{
    fprintf(fp, "%*s%s:%s\n", ind, "", k, n == 0 ? " []" : "");
    for (size_t i = 0; i < n; i++) {
        fprintf(fp, "%*s- ", ind + 2, "");
        put_str(fp, v[i] ? v[i] : "", false);
        fputc('\n', fp);
    }
}

static bool
secret_key(const char *k)
{
    return strcasestr(k, "password") != NULL || strcasestr(k, "token") != NULL ||
           strcasestr(k, "secret") != NULL;
}

/* A plugin's config subtree, as it was written (after ${VAR}). */
static void
dump_node(FILE *fp, const cfgnode *n, int ind)
{
    for (size_t i = 0; i < n->n; i++) {
        const cfgnode *v = n->items[i];
        if (n->type == CFGNODE_MAP) {
            fprintf(fp, "%*s", ind, "");
            put_str(fp, n->keys[i], false);
            fputc(':', fp);
        } else {
            fprintf(fp, "%*s-", ind, "");
        }
        if (v->type == CFGNODE_SCALAR) {
            fputc(' ', fp);
            if (n->type == CFGNODE_MAP && secret_key(n->keys[i]) && !cfg_is_null(v))
                fputs(REDACTED, fp);
            else if (cfg_is_null(v))
                fputs("null", fp);
            else if (!v->quoted && looks_typed(v->scalar))
                fputs(v->scalar, fp); /* a number or boolean stays one */
            else
                put_str(fp, v->scalar, v->quoted);
            fputc('\n', fp);
        } else if (v->n == 0) {
            fputs(v->type == CFGNODE_MAP ? " {}\n" : " []\n", fp);
        } else {
            fputc('\n', fp);
            dump_node(fp, v, ind + 2);
        }
    }
}

static void
dump_nats(FILE *fp, const cfg_nats *n)
{
    fputs("nats:\n", fp);
    fputs("  servers:\n", fp);
    for (size_t i = 0; i < n->nservers; i++) {
        char *r = cfg_redact_url(n->servers[i]);
        fputs("    - ", fp);
        put_str(fp, r ? r : "<redacted>", false);
        fputc('\n', fp);
        free(r);
    }
    kv_str(fp, 2, "name", n->name);
    kv_str(fp, 2, "user", n->user);
    kv_secret(fp, 2, "password", n->password);
    kv_secret(fp, 2, "token", n->token);
    kv_str(fp, 2, "nkey_seed_file", n->nkey_seed_file);
    kv_str(fp, 2, "creds_file", n->creds_file);
    fputs("  tls:\n", fp);
    kv_str(fp, 4, "ca", n->tls_ca);
    kv_str(fp, 4, "cert", n->tls_cert);
    kv_str(fp, 4, "key", n->tls_key);
    kv_str(fp, 4, "hostname", n->tls_hostname);
    kv_dur(fp, 2, "connect_timeout", n->connect_timeout_ms);
    kv_dur(fp, 2, "reconnect_wait", n->reconnect_wait_ms);
    kv_dur(fp, 2, "reconnect_wait_max", n->reconnect_wait_max_ms);
    kv_dur(fp, 2, "request_timeout", n->request_timeout_ms);
    kv_str(fp, 2, "inbox_prefix", n->inbox_prefix);
    kv_bool(fp, 2, "send_asap", n->send_asap);
    kv_int(fp, 2, "max_auth_failures", n->max_auth_failures);
}

static void
dump_streams(FILE *fp, const jw_config *cfg)
{
    static const char *const storage[] = {"file", "memory"};
    static const char *const retention[] = {"limits", "workqueue", "interest"};
    static const char *const discard[] = {"old", "new"};
    fprintf(fp, "streams:%s\n", cfg->nstreams == 0 ? " []" : "");
    for (size_t i = 0; i < cfg->nstreams; i++) {
        const cfg_stream *s = &cfg->streams[i];
        fputs("  - ", fp);
        kv_str(fp, 0, "name", s->name);
        if (s->bind_only) {
            /* Bind-only: only what is checked against the owner's stream. */
            fputs("    manage: false # bind-only: must exist, checked, never created or changed\n",
                  fp);
            if (s->nsubjects)
                list_str(fp, 4, "subjects", s->subjects, s->nsubjects);
            if (s->retention_set)
                kv_str(fp, 4, "retention", retention[s->retention]);
            continue;
        }
        list_str(fp, 4, "subjects", s->subjects, s->nsubjects);
        kv_str(fp, 4, "storage", storage[s->storage]);
        kv_str(fp, 4, "retention", retention[s->retention]);
        kv_str(fp, 4, "discard", discard[s->discard]);
        kv_dur(fp, 4, "max_age", s->max_age_ms);
        kv_size(fp, 4, "max_bytes", s->max_bytes);
        if (s->max_msgs < 0)
            fputs("    max_msgs: null # unlimited\n", fp);
        else
            kv_int(fp, 4, "max_msgs", s->max_msgs);
        kv_size(fp, 4, "max_msg_size", s->max_msg_size);
        kv_int(fp, 4, "replicas", s->replicas);
        kv_dur(fp, 4, "duplicate_window", s->duplicate_window_ms);
    }
}

static void
dump_consumer(FILE *fp, const cfg_consumer *k)
{
    static const char *const policies[] = {"all", "new", "last", "by_start_sequence",
                                           "by_start_time"};
    static const char *const unavail[] = {"pause", "process"};
    char b[64];
    fputs("  - ", fp);
    kv_str(fp, 0, "name", k->name);
    kv_str(fp, 4, "stream", k->stream);
    kv_str(fp, 4, "filter_subject", k->filter_subject);
    kv_str(fp, 4, "handler", k->handler);
    kv_dur(fp, 4, "ack_wait", k->ack_wait_ms);
    kv_int(fp, 4, "max_deliver", k->max_deliver);
    fputs("    backoff: [", fp);
    for (size_t j = 0; j < k->nbackoff; j++) {
        cfg_format_duration(k->backoff_ms[j], b, sizeof(b));
        fprintf(fp, "%s%s", j ? ", " : "", b);
    }
    fputs("]\n", fp);
    kv_int(fp, 4, "max_ack_pending", k->max_ack_pending);
    kv_int(fp, 4, "concurrency", k->concurrency);
    kv_int(fp, 4, "batch", k->batch);
    kv_str(fp, 4, "deliver_policy", policies[k->deliver_policy]);
    if (k->deliver_policy == CFG_DELIVER_BY_START_SEQUENCE)
        fprintf(fp, "    start_sequence: %" PRIu64 "\n", k->opt_start_seq);
    if (k->deliver_policy == CFG_DELIVER_BY_START_TIME) {
        cfg_format_rfc3339(k->opt_start_time_ns, b, sizeof(b));
        kv_str(fp, 4, "start_time", b);
    }
    kv_str(fp, 4, "dead_letter", k->dead_letter);
    fputs("    dedup:\n", fp);
    kv_bool(fp, 6, "enabled", k->dedup.enabled);
    kv_str(fp, 6, "key_prefix", k->dedup.key_prefix);
    kv_str(fp, 6, "id_from", k->dedup.id_from);
    kv_str(fp, 6, "id_field", k->dedup.id_field);
    kv_dur(fp, 6, "lease", k->dedup.lease_ms);
    kv_dur(fp, 6, "ttl", k->dedup.ttl_ms);
    kv_str(fp, 6, "on_unavailable", unavail[k->dedup.on_unavailable]);
    kv_bool(fp, 6, "require_fsync", k->dedup.require_fsync);
    if (k->breaker.enabled) {
        fputs("    breaker:\n", fp);
        fprintf(fp, "      consecutive_retries: %d\n", k->breaker.consecutive_retries);
        kv_dur(fp, 6, "window", k->breaker.window_ms);
        kv_dur(fp, 6, "cool_down", k->breaker.cool_down_ms);
    }
    kv_bool(fp, 4, "prune", k->prune);
}

static void
dump_rest(FILE *fp, const jw_config *cfg)
{
    static const char *const formats[] = {"json", "text"};
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    fprintf(fp, "services:%s\n", cfg->nservices == 0 ? " []" : "");
    for (size_t i = 0; i < cfg->nservices; i++) {
        const cfg_service_ep *s = &cfg->services[i];
        fputs("  - ", fp);
        kv_str(fp, 0, "name", s->name);
        kv_str(fp, 4, "subject", s->subject);
        kv_str(fp, 4, "queue", s->queue);
        kv_str(fp, 4, "handler", s->handler);
        kv_int(fp, 4, "concurrency", s->concurrency);
    }
    fputs("http:\n", fp);
    kv_str(fp, 2, "listen", cfg->http.listen);
    fputs("health:\n", fp);
    kv_dur(fp, 2, "jetstream_timeout", cfg->health.jetstream_timeout_ms);
    fputs("log:\n", fp);
    kv_str(fp, 2, "format", formats[cfg->log.format]);
    kv_str(fp, 2, "level",
           cfg->log.level >= 0 && cfg->log.level <= 3 ? levels[cfg->log.level] : "info");
    fputs("tracing:\n", fp);
    kv_str(fp, 2, "otlp_endpoint", cfg->tracing.otlp_endpoint);
    kv_dur(fp, 2, "export_interval", cfg->tracing.export_interval_ms);
    kv_int(fp, 2, "queue_size", cfg->tracing.queue_size);
}

void
config_dump(const jw_config *cfg, FILE *fp)
{
    fprintf(fp, "# jetway: normalized topology of %s\n# sha256: %s\n", cfg->path, cfg->digest);
    fputs("service:\n", fp);
    kv_str(fp, 2, "name", cfg->service.name);
    kv_int(fp, 2, "workers", cfg->service.workers);
    kv_dur(fp, 2, "shutdown_grace", cfg->service.shutdown_grace_ms);
    kv_str(fp, 2, "instance_id", cfg->service.instance_id);
    dump_nats(fp, &cfg->nats);
    if (cfg->has_redis) {
        fputs("redis:\n", fp);
        kv_url(fp, 2, "url", cfg->redis.url);
        kv_str(fp, 2, "user", cfg->redis.user);
        kv_secret(fp, 2, "password", cfg->redis.password);
        kv_dur(fp, 2, "timeout", cfg->redis.timeout_ms);
        kv_bool(fp, 2, "allow_eviction", cfg->redis.allow_eviction);
        kv_int(fp, 2, "max_auth_failures", cfg->redis.max_auth_failures);
    } else {
        fputs("# redis: not configured (no dedup)\n", fp);
    }
    fputs("plugins:\n", fp);
    kv_str(fp, 2, "dir", cfg->plugin_dir);
    fprintf(fp, "  instances:%s\n", cfg->nplugins == 0 ? " []" : "");
    for (size_t i = 0; i < cfg->nplugins; i++) {
        const cfg_plugin *p = &cfg->plugins[i];
        fputs("    - ", fp);
        kv_str(fp, 0, "name", p->name);
        kv_str(fp, 6, "file", p->file);
        if (p->config == NULL || p->config->n == 0) {
            fputs("      config: {}\n", fp);
        } else {
            fputs("      config:\n", fp);
            dump_node(fp, p->config, 8);
        }
    }
    dump_streams(fp, cfg);
    fprintf(fp, "consumers:%s\n", cfg->nconsumers == 0 ? " []" : "");
    for (size_t i = 0; i < cfg->nconsumers; i++)
        dump_consumer(fp, &cfg->consumers[i]);
    dump_rest(fp, cfg);
}
