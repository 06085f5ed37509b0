/*
 * config_consumer.c -- the consumers section: durable pull consumers, their
 * delivery limits, retry timing and dedup settings, with the relations
 * that only involve one consumer (lease < ack_wait, concurrency <=
 * max_ack_pending, deliver_policy and its start option). Relations with
 * other sections (its stream, handler, dead-letter subject, redis) are
 * checked in config_validate.c.
 *
 * Threads: whatever thread runs config_load().
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

#define MAX_COUNT 1000000

static const char *const consumer_keys[] = {"name",       "stream",          "filter_subject",
                                            "handler",    "ack_wait",        "max_deliver",
                                            "backoff",    "max_ack_pending", "concurrency",
                                            "batch",      "deliver_policy",  "start_sequence",
                                            "start_time", "dead_letter",     "dedup",
                                            "prune",      "breaker",         NULL};

/* backoff: a list of durations (> 0), or one duration. */
static void
parse_backoff(cfg_ctx *c, const cfgnode *it, cfg_consumer *k)
{
    const cfgnode *b = cfg_get_node(it, "backoff");
    char err[160];
    if (b == NULL) {
        if ((k->backoff_ms = malloc(sizeof(*k->backoff_ms))) != NULL) {
            k->backoff_ms[0] = 1000;
            k->nbackoff = 1;
        }
        return;
    }
    size_t m = cfg_path_key(c, "backoff");
    if (b->type == CFGNODE_MAP) {
        cfg_err_at(c, b, "expected a list of durations, got a mapping");
    } else if (b->type == CFGNODE_SEQ && b->n == 0) {
        cfg_err_at(c, b, "must list at least one duration");
    } else {
        size_t n = b->type == CFGNODE_SEQ ? b->n : 1;
        k->backoff_ms = calloc(n, sizeof(*k->backoff_ms));
        if (k->backoff_ms == NULL) {
            cfg_err_at(c, b, "out of memory");
            cfg_path_pop(c, m);
            return;
        }
        k->nbackoff = n;
        for (size_t i = 0; i < n; i++) {
            const cfgnode *v = b->type == CFGNODE_SEQ ? b->items[i] : b;
            size_t m2 = b->type == CFGNODE_SEQ ? cfg_path_index(c, i) : c->plen;
            if (cfg_is_poisoned(c, v))
                ; /* its ${VAR} error is reported */
            else if (v->type != CFGNODE_SCALAR)
                cfg_err_at(c, v, "expected a duration, got a %s", cfg_node_kind(v));
            else if (cfg_duration_parse(v->scalar, &k->backoff_ms[i], err, sizeof(err)) != 0)
                cfg_err_at(c, v, "bad duration '%s': %s", v->scalar, err);
            else if (k->backoff_ms[i] <= 0)
                cfg_err_at(c, v, "backoff values must be greater than 0");
            cfg_path_pop(c, m2);
        }
    }
    cfg_path_pop(c, m);
}

static void
parse_dedup(cfg_ctx *c, const cfgnode *it, cfg_consumer *k, bool has_redis, bool ack_ok)
{
    static const char *const keys[] = {"enabled",        "lease",         "ttl",
                                       "key_prefix",     "id_from",       "id_field",
                                       "on_unavailable", "require_fsync", NULL};
    static const char *const unavail[] = {"pause", "process", NULL};
    bool bad;
    const cfgnode *d = cfg_get_section(c, it, "dedup", &bad);
    size_t m = cfg_path_key(c, "dedup");
    cfg_dedup *dd = &k->dedup;
    const cfgnode *at = d != NULL ? d : it;
    dd->loc = (cfg_loc){at->line, at->column};
    dd->enabled = has_redis;
    dd->ttl_ms = 72LL * 3600 * 1000;
    dd->on_unavailable = CFG_UNAVAILABLE_PAUSE;
    cfg_check_keys(c, d, keys);
    if (cfg_get_bool(c, d, "enabled", &dd->enabled) == 1 && dd->enabled && !has_redis)
        cfg_err_key(c, d, "enabled",
                    "dedup needs a redis section (add one, or set dedup.enabled: false)");
    const char *strs[] = {"key_prefix", "id_from", "id_field"};
    char **dst[] = {&dd->key_prefix, &dd->id_from, &dd->id_field};
    const char *defs[] = {"jw", "header", "message_id"};
    for (int i = 0; i < 3; i++) {
        if (cfg_get_str(c, d, strs[i], dst[i]) == 1 && (*dst[i])[0] == '\0')
            cfg_err_key(c, d, strs[i], "must not be empty");
        if (*dst[i] == NULL && (*dst[i] = strdup(defs[i])) == NULL)
            cfg_err_at(c, at, "out of memory");
    }
    int e;
    if (cfg_get_enum(c, d, "on_unavailable", unavail, &e) == 1)
        dd->on_unavailable = (cfg_unavailable)e;
    cfg_get_duration(c, d, "ttl", 1, &dd->ttl_ms);
    cfg_get_bool(c, d, "require_fsync", &dd->require_fsync);
    int lr = cfg_get_duration(c, d, "lease", 1, &dd->lease_ms);
    if (lr == 0) {
        dd->lease_ms = k->ack_wait_ms * 2 / 3;
        if (dd->lease_ms < 1)
            dd->lease_ms = 1;
    } else if (lr == 1 && ack_ok && dd->enabled && dd->lease_ms >= k->ack_wait_ms) {
        char a[32], b[32];
        cfg_format_duration(dd->lease_ms, a, sizeof(a));
        cfg_format_duration(k->ack_wait_ms, b, sizeof(b));
        cfg_err_key(c, d, "lease",
                    "dedup.lease (%s) must be shorter than ack_wait (%s): the lease must expire "
                    "before the server redelivers",
                    a, b);
    }
    cfg_path_pop(c, m);
}

/* The optional circuit breaker (cfg_breaker in config.h). */
static void
parse_breaker(cfg_ctx *c, const cfgnode *it, cfg_consumer *k)
{
    static const char *const keys[] = {"consecutive_retries", "window", "cool_down", NULL};
    bool bad;
    const cfgnode *b = cfg_get_section(c, it, "breaker", &bad);
    cfg_breaker *bk = &k->breaker;
    bk->consecutive_retries = 5;
    bk->window_ms = 10000;
    bk->cool_down_ms = 30000;
    if (b == NULL)
        return;
    size_t m = cfg_path_key(c, "breaker");
    bk->enabled = true;
    bk->loc = (cfg_loc){b->line, b->column};
    cfg_check_keys(c, b, keys);
    cfg_get_intv(c, b, "consecutive_retries", 1, 10000, &bk->consecutive_retries);
    cfg_get_duration(c, b, "window", 1, &bk->window_ms);
    cfg_get_duration(c, b, "cool_down", 1, &bk->cool_down_ms);
    cfg_path_pop(c, m);
}

/* deliver_policy and the start option it needs (and only it). */
static void
parse_deliver(cfg_ctx *c, const cfgnode *it, cfg_consumer *k)
{
    static const char *const policies[] = {"all",           "new", "last", "by_start_sequence",
                                           "by_start_time", NULL};
    int e, prc;
    int64_t seq = 0;
    prc = cfg_get_enum(c, it, "deliver_policy", policies, &e);
    if (prc == 1)
        k->deliver_policy = (cfg_deliver)e;
    int src = cfg_get_int(c, it, "start_sequence", 1, INT64_MAX, &seq);
    if (src == 1)
        k->opt_start_seq = (uint64_t)seq;
    char *st = NULL;
    int trc = cfg_get_str(c, it, "start_time", &st);
    if (trc == 1 && cfg_parse_rfc3339(st, &k->opt_start_time_ns) != 0) {
        cfg_err_key(c, it, "start_time",
                    "bad time '%s': expected RFC 3339 after 1970, like 2024-05-01T12:00:00Z", st);
        trc = -1;
    }
    free(st);
    if (prc < 0)
        return;
    if (k->deliver_policy == CFG_DELIVER_BY_START_SEQUENCE && src == 0)
        cfg_err_key(c, it, "deliver_policy", "deliver_policy %s requires start_sequence",
                    "by_start_sequence");
    if (k->deliver_policy == CFG_DELIVER_BY_START_TIME && trc == 0)
        cfg_err_key(c, it, "deliver_policy", "deliver_policy %s requires start_time",
                    "by_start_time");
    if (k->deliver_policy != CFG_DELIVER_BY_START_SEQUENCE && src == 1)
        cfg_err_key(c, it, "start_sequence", "start_sequence is only used with deliver_policy %s",
                    "by_start_sequence");
    if (k->deliver_policy != CFG_DELIVER_BY_START_TIME && trc == 1)
        cfg_err_key(c, it, "start_time", "start_time is only used with deliver_policy %s",
                    "by_start_time");
}

static void
parse_consumer(cfg_ctx *c, const cfgnode *it, cfg_consumer *k, bool has_redis)
{
    char err[160];
    cfg_check_keys(c, it, consumer_keys);
    k->loc = (cfg_loc){it->line, it->column};
    k->ack_wait_ms = 30000;
    k->max_deliver = 5;
    k->concurrency = 1;
    k->batch = 64;
    if (cfg_req_str(c, it, "name", &k->name) == 1 && !cfg_name_valid(k->name))
        cfg_err_key(c, it, "name", "bad consumer name '%s': use letters, digits, '_' and '-'",
                    k->name);
    cfg_req_str(c, it, "stream", &k->stream);
    if (cfg_get_str(c, it, "filter_subject", &k->filter_subject) == 1 &&
        !cfg_subject_valid(k->filter_subject, true, err, sizeof(err)))
        cfg_err_key(c, it, "filter_subject", "%s", err);
    cfg_req_str(c, it, "handler", &k->handler);
    bool ack_ok = cfg_get_duration(c, it, "ack_wait", 10, &k->ack_wait_ms) >= 0;
    cfg_get_intv(c, it, "max_deliver", 1, INT_MAX, &k->max_deliver);
    parse_backoff(c, it, k);
    int crc = cfg_get_intv(c, it, "concurrency", 1, MAX_COUNT, &k->concurrency);
    int brc = cfg_get_intv(c, it, "batch", 1, MAX_COUNT, &k->batch);
    int mrc = cfg_get_intv(c, it, "max_ack_pending", 1, INT_MAX, &k->max_ack_pending);
    if (mrc == 0 && crc >= 0 && brc >= 0)
        k->max_ack_pending = 2 * k->batch > k->concurrency ? 2 * k->batch : k->concurrency;
    else if (mrc == 1 && crc >= 0 && k->concurrency > k->max_ack_pending) {
        char a[24], b[24];
        snprintf(a, sizeof(a), "%d", k->concurrency);
        snprintf(b, sizeof(b), "%d", k->max_ack_pending);
        cfg_err_key(c, it, "concurrency",
                    "concurrency (%s) must not exceed max_ack_pending (%s): the extra handler "
                    "slots could never be used",
                    a, b);
    }
    parse_deliver(c, it, k);
    if (cfg_req_str(c, it, "dead_letter", &k->dead_letter) == 1 &&
        !cfg_subject_valid(k->dead_letter, false, err, sizeof(err)))
        cfg_err_key(c, it, "dead_letter", "%s", err);
    cfg_get_bool(c, it, "prune", &k->prune);
    parse_dedup(c, it, k, has_redis, ack_ok);
    parse_breaker(c, it, k);
}

static void
consumer_item(cfg_ctx *c, const cfgnode *it, void *elem, void *ud)
{
    parse_consumer(c, it, elem, *(const bool *)ud);
}

void
config_parse_consumers(cfg_ctx *c, const cfgnode *root, jw_config *cfg)
{
    cfg->consumers = cfg_parse_list(c, root, "consumers", sizeof(*cfg->consumers), &cfg->nconsumers,
                                    &c->consumers, consumer_item, &cfg->has_redis);
}
