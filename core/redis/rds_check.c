/*
 * rds_check.c -- the guardrails of the rds client on the Redis server
 * (redis.h, rds_int.h): a dedup store must not silently forget.
 *
 * A done marker that is evicted turns the next redelivery or publisher
 * retry of its message into a second run of the handler. Redis evicts keys
 * when maxmemory is reached and the policy is anything but noeviction:
 * allkeys-* evicts any key, volatile-* the keys with a TTL, which every claim
 * and done key has. So the handshake reads the policy and refuses the
 * server unless redis.allow_eviction says the risk is accepted; while up,
 * INFO is read every RDS_WATCH_MS and evicted_keys watched.
 *
 * CONFIG may be renamed or disabled (rename-command, managed services): its
 * error is not a handshake failure, the same facts are then taken from INFO
 * (maxmemory, maxmemory_policy, aof_enabled); appendfsync and the RDB save
 * points exist in CONFIG only and are then reported as unknown.
 *
 * Threads: the loop thread only, like the rest of rds.
 */
#include "rds_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* Warnings logged once per state (rds.warned_cfg), not at every reconnect. */
enum {
    RDS_WARN_EVICT_ALLOWED = 1u << 0,
    RDS_WARN_NO_PERSIST = 1u << 1,
    RDS_WARN_FSYNC = 1u << 2,
    RDS_WARN_UNKNOWN_POLICY = 1u << 3,
};

const char *const rds_config_params[RDS_NCONFIG] = {"maxmemory-policy", "maxmemory", "appendfsync",
                                                    "save"};

void
rds_check_reset(rds *r)
{
    memset(&r->srv, 0, sizeof(r->srv));
    r->srv.maxmemory = -1;
    r->srv.aof = -1;
    r->srv.rdb = -1;
    r->srv.evicted = -1;
}

/* The value of "key:value" in an INFO text, copied into out; 0 or -1. */
static int
info_field(const char *s, size_t n, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    const char *end = s + n;
    for (const char *p = s; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if ((size_t)(le - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == ':') {
            const char *v = p + kl + 1;
            size_t vl = (size_t)(le - v);
            if (vl > 0 && v[vl - 1] == '\r')
                vl--;
            if (vl >= outlen)
                return -1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        p = le + 1;
    }
    return -1;
}

static long long
parse_ll(const char *s)
{
    char *e;
    long long v = strtoll(s, &e, 10);
    return (e != s && *e == '\0' && v >= 0) ? v : -1;
}

static void
copy_str(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* CONFIG GET <param>: an array [name, value], empty for an unknown name. */
static void
take_config(rds *r, int idx, const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY)
        return; /* CONFIG renamed or disabled: INFO fills in what it can */
    r->srv.config_ok = 1;
    if (rep->elements < 2 || rep->element[1]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *v = rep->element[1];
    char tmp[32];
    switch (idx) {
    case 0:
        copy_str(r->srv.policy, sizeof(r->srv.policy), v->str, v->len);
        break;
    case 1:
        copy_str(tmp, sizeof(tmp), v->str, v->len);
        r->srv.maxmemory = parse_ll(tmp);
        break;
    case 2:
        copy_str(r->srv.fsync, sizeof(r->srv.fsync), v->str, v->len);
        break;
    case 3:
        r->srv.rdb = v->len > 0; /* "" = no save points */
        break;
    default:
        break;
    }
}

/* INFO: evicted_keys and AOF; the policy and maxmemory where CONFIG did
 * not answer them (handshake), or always (the watch: the current values). */
static void
take_info(rds *r, const redisReply *rep, int watch)
{
    if (rep->type != REDIS_REPLY_STRING)
        return;
    char v[64];
    if ((watch || !r->srv.policy[0]) &&
        info_field(rep->str, rep->len, "maxmemory_policy", v, sizeof(v)) == 0)
        copy_str(r->srv.policy, sizeof(r->srv.policy), v, strlen(v));
    if ((watch || r->srv.maxmemory < 0) &&
        info_field(rep->str, rep->len, "maxmemory", v, sizeof(v)) == 0)
        r->srv.maxmemory = parse_ll(v);
    if (info_field(rep->str, rep->len, "aof_enabled", v, sizeof(v)) == 0)
        r->srv.aof = strcmp(v, "0") != 0;
    if (info_field(rep->str, rep->len, "evicted_keys", v, sizeof(v)) == 0)
        r->srv.evicted = parse_ll(v);
}

/* An evicting policy with a memory limit: done markers can vanish. */
static int
evicting(const rds_server *s)
{
    if (!s->policy[0] || strcmp(s->policy, "noeviction") == 0)
        return 0;
    return s->maxmemory != 0; /* unknown counts as set */
}

static void
set_refusal(const char *text)
{
    stats_lock();
    snprintf(stats.redis_refusal, sizeof(stats.redis_refusal), "%s", text ? text : "");
    stats_unlock();
    atomic_store(&stats.redis_refused, text != NULL);
}

/* Refuse (returns -1) or accept the server as rds.srv describes it. */
static int
judge_policy(rds *r)
{
    if (!evicting(&r->srv)) {
        r->warned_cfg &= ~RDS_WARN_EVICT_ALLOWED;
        return 0;
    }
    char mm[32];
    if (r->srv.maxmemory > 0)
        snprintf(mm, sizeof(mm), "%lld", r->srv.maxmemory);
    else
        snprintf(mm, sizeof(mm), "unknown");
    if (r->allow_eviction) {
        if (!(r->warned_cfg & RDS_WARN_EVICT_ALLOWED))
            log_warn("redis: maxmemory-policy %s with maxmemory %s EVICTS dedup markers when "
                     "memory runs out: an evicted done marker lets a duplicate run its handler "
                     "again; running anyway because redis.allow_eviction is true",
                     r->srv.policy, mm);
        r->warned_cfg |= RDS_WARN_EVICT_ALLOWED;
        return 0;
    }
    char why[192];
    snprintf(why, sizeof(why), "maxmemory-policy %s with maxmemory %s evicts dedup markers",
             r->srv.policy, mm);
    if (!r->refused)
        log_error("redis: refusing to run dedup consumers: %s (claim and done keys carry TTLs, "
                  "so volatile-* evicts them as well as allkeys-*); set maxmemory-policy "
                  "noeviction, or redis.allow_eviction: true to accept losing markers",
                  why);
    r->refused = 1;
    set_refusal(why);
    return -1;
}

/* evicted_keys to the metrics; an increase since the last look is an error. */
static void
note_evicted(rds *r)
{
    long long ev = r->srv.evicted;
    if (ev < 0)
        return;
    atomic_store(&stats.redis_evicted_keys, ev);
    if (r->evicted_base >= 0 && ev > r->evicted_base)
        log_error("redis: the server evicted %lld keys since the last check (evicted_keys %lld): "
                  "dedup markers may be lost, and duplicates handled again",
                  ev - r->evicted_base, ev);
    r->evicted_base = ev; /* a lower count: the server restarted */
}

int
rds_check_verdict(rds *r)
{
    if (!r->srv.policy[0]) {
        if (!(r->warned_cfg & RDS_WARN_UNKNOWN_POLICY))
            log_warn("redis: cannot read maxmemory-policy (CONFIG and INFO unavailable): "
                     "eviction of dedup markers cannot be ruled out");
        r->warned_cfg |= RDS_WARN_UNKNOWN_POLICY;
    }
    if (r->srv.aof == 0 && r->srv.rdb == 0) {
        if (!(r->warned_cfg & RDS_WARN_NO_PERSIST))
            log_warn("redis: neither AOF nor RDB snapshots are enabled: a Redis restart forgets "
                     "every dedup marker, and duplicates of already handled messages run again");
        r->warned_cfg |= RDS_WARN_NO_PERSIST;
    } else {
        r->warned_cfg &= ~RDS_WARN_NO_PERSIST;
    }
    int fsync_ok = r->srv.aof == 1 && strcmp(r->srv.fsync, "always") == 0;
    if (r->require_fsync && !fsync_ok) {
        const char *aof = r->srv.aof == 1 ? "on" : r->srv.aof == 0 ? "off" : "unknown";
        if (!(r->warned_cfg & RDS_WARN_FSYNC))
            log_warn("redis: a consumer sets dedup.require_fsync but the server has AOF %s, "
                     "appendfsync %s: markers written shortly before a Redis crash can be lost",
                     aof, r->srv.fsync[0] ? r->srv.fsync : "unknown (CONFIG unavailable)");
        r->warned_cfg |= RDS_WARN_FSYNC;
    } else {
        r->warned_cfg &= ~RDS_WARN_FSYNC;
    }
    if (judge_policy(r) != 0)
        return -1;
    if (r->refused)
        log_info("redis: maxmemory-policy is now %s; dedup consumers resume",
                 r->srv.policy[0] ? r->srv.policy : "unknown");
    r->refused = 0;
    set_refusal(NULL);
    note_evicted(r);
    return 0;
}

/* The watch's INFO while up: evicted_keys, and the policy again. */
static void
watch_reply(rds *r, redisAsyncContext *ac)
{
    note_evicted(r);
    if (judge_policy(r) != 0)
        rds_conn_refuse(r, ac);
}

void
rds_check_reply(rds *r, redisAsyncContext *ac, rds_req *q, redisReply *rep)
{
    int op = q->op;
    int64_t num = q->num;
    rds_req_put(r, q);
    if (op == RDS_OP_INFO && num == 1)
        r->watch_busy = 0;
    if (!rep || r->ac != ac)
        return; /* connection already gone */
    if (rep->type == REDIS_REPLY_ERROR)
        log_debug("redis: %s: %.*s", op == RDS_OP_CONFIG ? "CONFIG GET" : "INFO", (int)rep->len,
                  rep->str);
    else if (op == RDS_OP_CONFIG)
        take_config(r, (int)num, rep);
    else
        take_info(r, rep, num == 1);
    if (op == RDS_OP_INFO && num == 1) {
        if (r->state == RDS_ST_UP)
            watch_reply(r, ac);
        return;
    }
    rds_conn_handshake_step(r, ac);
}

void
rds_check_on_watch(uv_timer_t *t)
{
    rds *r = t->data;
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    if (r->state != RDS_ST_UP || r->watch_busy)
        return;
    rds_req *q = rds_req_get(r);
    if (!q)
        return;
    q->op = RDS_OP_INFO;
    q->num = 1;
    q->cb = NULL;
    q->ud = NULL;
    if (rds_req_send(r, q) != 0) {
        rds_req_put(r, q);
        return;
    }
    r->watch_busy = 1;
}
