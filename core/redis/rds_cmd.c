/*
 * rds_cmd.c -- the command plumbing of the rds client (rds_int.h): the
 * request pool, RESP formatting and sending, the FIFO of outstanding
 * commands, reply dispatch and the timeout check.
 *
 * The request keeps copies of its arguments so that a NOSCRIPT reply (Redis
 * restarted, SCRIPT FLUSH) can be answered by sending the same call once
 * more (rds_dedup.c does that).
 */
#include "rds_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* ---- requests ---- */

int
rds_req_grow(rds *r)
{
    rds_slab *s = malloc(sizeof(*s));
    if (!s)
        return -1;
    s->next = r->slabs;
    r->slabs = s;
    for (int i = 0; i < RDS_SLAB_REQS; i++) {
        s->reqs[i].next = r->free_reqs;
        r->free_reqs = &s->reqs[i];
    }
    return 0;
}

rds_req *
rds_req_get(rds *r)
{
    if (!r->free_reqs && rds_req_grow(r) != 0)
        return NULL;
    rds_req *q = r->free_reqs;
    r->free_reqs = q->next;
    q->r = r;
    q->retried = 0;
    q->native = 0;
    q->members = NULL;
    q->nmembers = 0;
    q->args = q->inl;
    q->klen = q->tlen = q->mlen = 0;
    return q;
}

void
rds_req_put(rds *r, rds_req *q)
{
    if (q->args != q->inl)
        free(q->args);
    q->next = r->free_reqs;
    r->free_reqs = q;
}

void
rds_req_free_all(rds *r)
{
    while (r->slabs) {
        rds_slab *s = r->slabs;
        r->slabs = s->next;
        free(s);
    }
    r->free_reqs = NULL;
    free(r->fbuf);
    r->fbuf = NULL;
    r->fcap = 0;
}

int
rds_req_args(rds_req *q, const char *key, const char *token, const char *mark)
{
    size_t kl = strlen(key), tl = token ? strlen(token) : 0, ml = mark ? strlen(mark) : 0;
    if (kl > UINT16_MAX || tl > UINT16_MAX || ml > UINT16_MAX)
        return -1;
    size_t need = kl + tl + ml + 3;
    if (need > sizeof(q->inl)) {
        q->args = malloc(need);
        if (!q->args) {
            q->args = q->inl;
            return -1;
        }
    }
    char *p = q->args;
    memcpy(p, key, kl + 1);
    p += kl + 1;
    if (tl)
        memcpy(p, token, tl);
    p[tl] = '\0';
    p += tl + 1;
    if (ml)
        memcpy(p, mark, ml);
    p[ml] = '\0';
    q->klen = (uint16_t)kl;
    q->tlen = (uint16_t)tl;
    q->mlen = (uint16_t)ml;
    return 0;
}

static void
fifo_push(rds *r, rds_req *q)
{
    q->next = NULL;
    q->prev = r->tail;
    if (r->tail)
        r->tail->next = q;
    else
        r->head = q;
    r->tail = q;
}

static void
fifo_remove(rds *r, rds_req *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        r->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        r->tail = q->prev;
    q->next = q->prev = NULL;
}

void
rds_req_finish(rds *r, rds_req *q, rds_result res, int64_t aux)
{
    rds_req *m = q->members;
    q->members = NULL;
    rds_cb cb = q->cb;
    void *ud = q->ud;
    rds_req_put(r, q);
    if (cb)
        cb(ud, res, aux);
    while (m) {
        rds_req *next = m->next;
        rds_req_finish(r, m, res, aux);
        m = next;
    }
}

/* ---- sending ---- */

size_t
rds_fmt_i64(char *buf, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* "<c><decimal>\r\n" at p; returns the end. */
static char *
resp_head(char *p, char c, size_t v)
{
    char tmp[24];
    size_t n = 0;
    *p++ = c;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/*
 * Format the command as RESP ourselves and hand it over ready-made: hiredis's
 * argv formatter builds it with an sds call per argument, which showed up as
 * ~10% of the loop thread's time in the dedup profile. Then queue q for the
 * timeout check. 0, or -1 when hiredis refused (or out of memory).
 */
int
rds_req_write(rds *r, rds_req *q, int argc, const char **argv, const size_t *lens)
{
    size_t need = 24;
    for (int i = 0; i < argc; i++)
        need += lens[i] + 28;
    if (need > r->fcap) {
        char *b = realloc(r->fbuf, need);
        if (!b)
            return -1;
        r->fbuf = b;
        r->fcap = need;
    }
    char *p = resp_head(r->fbuf, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        p = resp_head(p, '$', lens[i]);
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    if (!r->ac ||
        redisAsyncFormattedCommand(r->ac, on_reply, q, r->fbuf, (size_t)(p - r->fbuf)) != REDIS_OK)
        return -1;
    q->deadline = uv_now(r->loop) + r->timeout_ms;
    fifo_push(r, q);
    return 0;
}

/* Pipelined with whatever else this loop iteration sends. The connection's
 * own commands are built here, the dedup scripts by rds_dedup_send. */
int
rds_req_send(rds *r, rds_req *q)
{
    const char *argv[4];
    size_t lens[4];
    int argc = 0;
    char num[24];

    switch (q->op) {
    case RDS_OP_PING:
        argv[argc] = "PING";
        lens[argc++] = 4;
        break;
    case RDS_OP_AUTH:
        argv[argc] = "AUTH";
        lens[argc++] = 4;
        if (r->user) {
            argv[argc] = r->user;
            lens[argc++] = strlen(r->user);
        }
        argv[argc] = r->password;
        lens[argc++] = strlen(r->password);
        break;
    case RDS_OP_SELECT:
        argv[argc] = "SELECT";
        lens[argc++] = 6;
        argv[argc] = num;
        lens[argc++] = rds_fmt_i64(num, r->db);
        break;
    case RDS_OP_CONFIG:
        argv[argc] = "CONFIG";
        lens[argc++] = 6;
        argv[argc] = "GET";
        lens[argc++] = 3;
        argv[argc] = rds_config_params[q->num];
        lens[argc++] = strlen(rds_config_params[q->num]);
        break;
    case RDS_OP_INFO:
        /* no section: the default set holds memory, persistence and stats
         * on every version (several section names need Redis 7) */
        argv[argc] = "INFO";
        lens[argc++] = 4;
        break;
    case RDS_OP_LOAD:
        argv[argc] = "SCRIPT";
        lens[argc++] = 6;
        argv[argc] = "LOAD";
        lens[argc++] = 4;
        argv[argc] = rds_scripts[q->num];
        lens[argc++] = strlen(rds_scripts[q->num]);
        break;
    default: /* a script */
        return rds_dedup_send(r, q);
    }
    return rds_req_write(r, q, argc, argv, lens);
}

/* ---- replies ---- */

void
rds_errlog(rds *r, const char *what, const redisReply *rep)
{
    uint64_t now = uv_now(r->loop);
    if (now - r->last_errlog < RDS_ERRLOG_EVERY_MS && r->last_errlog)
        return;
    r->last_errlog = now;
    log_warn("redis: %s: %.*s", what, rep ? (int)rep->len : 1, rep ? rep->str : "?");
}

int
rds_is_str(const redisReply *rep, const char *s, size_t n)
{
    return (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) && rep->len == n &&
           memcmp(rep->str, s, n) == 0;
}

/* Every command's callback: hiredis calls it with the reply, or with NULL
 * when the connection went (then for every outstanding command). */
static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    rds_req *q = privdata;
    rds *r = q->r;
    redisReply *rep = reply;
    fifo_remove(r, q);
    if (!rep)
        rds_conn_lost(r, ac, 0, ac->c.errstr[0] ? ac->c.errstr : "disconnected");
    if (q->op == RDS_OP_CONFIG || q->op == RDS_OP_INFO) {
        rds_check_reply(r, ac, q, rep);
        return;
    }
    if (q->op > RDS_OP_PING) {
        rds_conn_handshake_reply(r, ac, q, rep);
        return;
    }
    if (!rep) {
        rds_req_finish(r, q, RDS_ERROR, 0);
        return;
    }
    if (q->op != RDS_OP_PING) {
        rds_dedup_reply(r, q, rep);
        return;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        rds_errlog(r, "command failed", rep);
        rds_req_finish(r, q, RDS_ERROR, 0);
        return;
    }
    if (rds_is_str(rep, "PONG", 4)) {
        rds_req_finish(r, q, RDS_OK, 0);
        return;
    }
    rds_errlog(r, "unexpected reply", NULL);
    rds_req_finish(r, q, RDS_ERROR, 0);
}

/* ---- timeouts ---- */

/*
 * hiredis 0.14.1 has no async timeouts. Replies on one connection come in
 * order, so only the oldest outstanding command can be late: when it is
 * past its deadline (or a connect or handshake past the connect deadline)
 * the connection is dropped, which fails every pending command.
 */
void
rds_on_tick(uv_timer_t *t)
{
    rds *r = t->data;
    uint64_t now = uv_now(r->loop);
    if ((r->state == RDS_ST_CONNECTING || r->state == RDS_ST_HANDSHAKE) && r->ac &&
        now >= r->connect_deadline) {
        atomic_fetch_add(&stats.redis_timeouts, 1);
        rds_conn_lost(r, r->ac, 1, "connect timeout"); /* logged once per outage */
        return;
    }
    if (!r->head || now < r->head->deadline || !r->ac)
        return;
    /* The loop itself may have been late (timers run before I/O in an
     * iteration): take in whatever already arrived before judging. */
    redisAsyncHandleRead(r->ac);
    if (!r->head || !r->ac)
        return;
    uv_update_time(r->loop);
    if (uv_now(r->loop) < r->head->deadline)
        return;
    atomic_fetch_add(&stats.redis_timeouts, 1);
    log_warn("redis: no reply within %llu ms; reconnecting", (unsigned long long)r->timeout_ms);
    rds_conn_lost(r, r->ac, 1, "command timeout");
}
