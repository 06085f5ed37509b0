/*
 * rds.c -- see rds.h.
 *
 * One redisAsyncContext at a time, attached to the loop with hiredis's libuv
 * adapter. Life of a connection:
 *
 *   IDLE --(retry timer)--> RESOLVING (uv_getaddrinfo, names only)
 *        --> CONNECTING (non-blocking connect, bounded by redis.timeout)
 *        --> HANDSHAKE (AUTH, SELECT, SCRIPT LOAD x4, pipelined)
 *        --> UP (on_state(1)) --(error, EOF, timeout)--> IDLE (on_state(0))
 *
 * Every command, ours or the caller's, is an rds_req taken from a free list
 * (slabs, never returned until rds_stop), so the hot path allocates nothing
 * of its own; hiredis still allocates its formatted command and callback
 * node. Outstanding requests are also kept in a FIFO (replies on one
 * connection arrive in order), so the timeout check looks at the head only.
 *
 * The request keeps copies of its arguments so that a NOSCRIPT reply (Redis
 * restarted, SCRIPT FLUSH) can be answered by sending the same call once
 * more as EVAL with the script's text, which also puts the script back in
 * Redis's cache for the EVALSHAs that follow.
 *
 * Two shortcuts keep Redis's share of the hot path small, with the same
 * answers as the scripts:
 *  - a claim is first sent as the native SET key P|token NX PX lease (what
 *    the claim script does when the key is absent, and no Lua); only when
 *    the key exists is the claim script sent to tell DONE from BUSY;
 *  - commits issued in one loop iteration are sent as one call of a
 *    commit-many script (one Lua call for up to RDS_BATCH_MAX keys, each
 *    with its own answer) from an idle handle, before the loop next polls.
 *
 * Lifetime rules that keep hiredis happy:
 *  - hiredis frees a context itself after a failed connect or an I/O error,
 *    and may defer redisAsyncFree() until its callback returns; so `r->ac`
 *    is cleared first (conn_lost) and every later event of that context is
 *    recognised as stale by comparing against it.
 *  - the adapter's cleanup hook is wrapped to count live contexts, and the
 *    struct is freed only from uv_close callbacks after the last one went,
 *    never from inside a hiredis call.
 */
#include "redis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <hiredis/adapters/libuv.h>
#pragma GCC diagnostic pop

#include "base/base.h"

#define RDS_BACKOFF_MIN_MS  100
#define RDS_BACKOFF_MAX_MS  2000
#define RDS_SLAB_REQS       128
#define RDS_REQ_INLINE      224 /* key + token + mark, NULs included; longer ones are malloc'd */
#define RDS_ERRLOG_EVERY_MS 1000
#define RDS_BATCH_MAX       256 /* commits per commit-many call */

/* Lua sources: delivery-notes §2.3. KEYS[1] is the dedup key everywhere. */
static const char script_claim[] = "local v = redis.call('GET', KEYS[1])\n"
                                   "if not v then\n"
                                   "  redis.call('SET', KEYS[1], 'P|' .. ARGV[1], 'PX', ARGV[2])\n"
                                   "  return {'CLAIMED'}\n"
                                   "end\n"
                                   "if string.sub(v, 1, 2) == 'D|' then return {'DONE'} end\n"
                                   "return {'BUSY', redis.call('PTTL', KEYS[1])}\n";

/* Absent means our lease ran out and nobody claimed since: the effect is
 * ours and done, so the marker is written. */
static const char script_commit[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and string.sub(v, 1, 2) == 'D|' then return 'ALREADY_DONE' end\n"
    "if v and v ~= 'P|' .. ARGV[1] then return 'LEASE_LOST' end\n"
    "redis.call('SET', KEYS[1], 'D|' .. ARGV[3], 'PX', ARGV[2])\n"
    "return 'OK'\n";

/* The commit script for #KEYS keys at once; ARGV holds token, ttl, mark per
 * key. Answers 0 OK, 1 ALREADY_DONE, 2 LEASE_LOST per key. */
static const char script_commit_many[] =
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local v = redis.call('GET', KEYS[i])\n"
    "  if v and string.sub(v, 1, 2) == 'D|' then out[i] = 1\n"
    "  elseif v and v ~= 'P|' .. ARGV[3 * i - 2] then out[i] = 2\n"
    "  else\n"
    "    redis.call('SET', KEYS[i], 'D|' .. ARGV[3 * i], 'PX', ARGV[3 * i - 1])\n"
    "    out[i] = 0\n"
    "  end\n"
    "end\n"
    "return out\n";

static const char script_release[] = "if redis.call('GET', KEYS[1]) == 'P|' .. ARGV[1] then\n"
                                     "  return redis.call('DEL', KEYS[1])\n"
                                     "end\n"
                                     "return 0\n";

static const char script_extend[] = "if redis.call('GET', KEYS[1]) == 'P|' .. ARGV[1] then\n"
                                    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                    "end\n"
                                    "return 0\n";

/* Operations; the first five index scripts[] and rds.sha[]. */
enum {
    OP_CLAIM = 0,
    OP_COMMIT,
    OP_RELEASE,
    OP_EXTEND,
    OP_COMMIT_MANY,
    OP_NSCRIPTS,
    OP_PING = OP_NSCRIPTS,
    OP_AUTH,
    OP_SELECT,
    OP_LOAD,
};

static const char *const scripts[OP_NSCRIPTS] = {script_claim, script_commit, script_release,
                                                 script_extend, script_commit_many};

enum { ST_IDLE = 0, ST_RESOLVING, ST_CONNECTING, ST_HANDSHAKE, ST_UP, ST_STOPPING };

/*
 * One command. Owned by its rds: on the free list, or outstanding (in the
 * FIFO and inside hiredis as the callback's privdata). Loop thread only.
 */
typedef struct rds_req {
    struct rds_req *next; /* FIFO, or free list */
    struct rds_req *prev;
    struct rds *r;
    rds_cb cb; /* NULL for the handshake's own commands */
    void *ud;
    uint64_t deadline; /* uv_now() ms */
    int64_t num;       /* lease/ttl ms; script index for OP_LOAD */
    uint8_t op;
    uint8_t retried; /* NOSCRIPT already answered with EVAL once */
    uint8_t native;  /* OP_CLAIM: still the SET NX attempt */
    uint16_t klen, tlen, mlen;
    struct rds_req *members; /* OP_COMMIT_MANY: the commits, linked by next */
    int nmembers;
    char *args; /* "key\0token\0mark\0", inl or malloc'd */
    char inl[RDS_REQ_INLINE];
} rds_req;

/* A block of requests; owned by rds, freed by rds_stop. */
typedef struct rds_slab {
    struct rds_slab *next;
    rds_req reqs[RDS_SLAB_REQS];
} rds_slab;

/* The client. Created by rds_start, freed after rds_stop's last close.
 * Loop thread only. */
struct rds {
    uv_loop_t *loop;
    /* config copy */
    char *host;
    char *unix_path;
    char *user;
    char *password;
    int port;
    int db;
    uint64_t timeout_ms;

    rds_state_cb on_state;
    void *ud;

    int state;
    int up;      /* on_state(1) was reported and not yet taken back */
    int was_up;  /* a later up counts as a reconnect */
    int live_ac; /* contexts attached to the loop, not yet cleaned up */
    int handshake_left;
    int warned; /* a failure was logged at warn since the last up */
    redisAsyncContext *ac;
    char sha[OP_NSCRIPTS][41];
    char addr[INET6_ADDRSTRLEN];

    uv_timer_t tick;  /* deadline checks */
    uv_timer_t retry; /* reconnect backoff */
    uv_getaddrinfo_t gai;
    int gai_busy;
    uint64_t backoff_ms;
    uint64_t connect_deadline;
    uint64_t last_errlog;
    unsigned rng;
    unsigned attempt; /* picks the next of a name's addresses on each try */

    rds_req *head, *tail; /* outstanding, oldest first */
    rds_req *free_reqs;
    rds_slab *slabs;

    uv_idle_t flush;            /* sends the commits gathered this iteration */
    rds_req *cm_head, *cm_tail; /* commits not yet sent */
    int cm_n;
    const char **argv; /* scratch for commit-many calls, grown on demand */
    size_t *lens;
    char *nums;
    size_t argv_cap; /* keys the scratch holds */
    char *fbuf;      /* the command being formatted, grown on demand */
    size_t fcap;

    int closing; /* handles whose close callback is still due */
    void (*done)(void *ud);
    void *done_ud;
};

static void start_connect(rds *r);
static void flush_commits(rds *r);
static void on_retry(uv_timer_t *t);
static void conn_lost(rds *r, redisAsyncContext *ac, int do_free, const char *why);

/* ---- requests ---- */

static int
slab_grow(rds *r)
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

static rds_req *
req_get(rds *r)
{
    if (!r->free_reqs && slab_grow(r) != 0)
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

static void
req_put(rds *r, rds_req *q)
{
    if (q->args != q->inl)
        free(q->args);
    q->next = r->free_reqs;
    r->free_reqs = q;
}

/* Copy key, token and mark into the request; 0 or -1 (too long / ENOMEM). */
static int
req_args(rds_req *q, const char *key, const char *token, const char *mark)
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

/* Return the request to the pool, then tell its owner (every member's
 * owner, for a commit-many). */
static void
req_finish(rds *r, rds_req *q, rds_result res, int64_t aux)
{
    rds_req *m = q->members;
    q->members = NULL;
    rds_cb cb = q->cb;
    void *ud = q->ud;
    req_put(r, q);
    if (cb)
        cb(ud, res, aux);
    while (m) {
        rds_req *next = m->next;
        req_finish(r, m, res, aux);
        m = next;
    }
}

/* Decimal without snprintf; buf holds at least 21 bytes. Returns the length. */
static size_t
fmt_i64(char *buf, int64_t v)
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
static int
req_write(rds *r, rds_req *q, int argc, const char **argv, const size_t *lens)
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

/* Room for n keys in the commit-many scratch; 0 or -1. */
static int
scratch_grow(rds *r, size_t n)
{
    if (n <= r->argv_cap)
        return 0;
    size_t argc = 3 + 4 * n;
    const char **av = realloc(r->argv, argc * sizeof(*av));
    if (!av)
        return -1;
    r->argv = av;
    size_t *al = realloc(r->lens, argc * sizeof(*al));
    if (!al)
        return -1;
    r->lens = al;
    char *nums = realloc(r->nums, n * 24);
    if (!nums)
        return -1;
    r->nums = nums;
    r->argv_cap = n;
    return 0;
}

/* One EVALSHA (or EVAL after NOSCRIPT) of commit-many for q's members. */
static int
send_many(rds *r, rds_req *q)
{
    size_t n = (size_t)q->nmembers;
    if (scratch_grow(r, n) != 0)
        return -1;
    const char **av = r->argv;
    size_t *al = r->lens;
    char cnt[24];
    av[0] = q->retried ? "EVAL" : "EVALSHA";
    al[0] = q->retried ? 4 : 7;
    av[1] = q->retried ? scripts[OP_COMMIT_MANY] : r->sha[OP_COMMIT_MANY];
    al[1] = q->retried ? strlen(scripts[OP_COMMIT_MANY]) : 40;
    av[2] = cnt;
    al[2] = fmt_i64(cnt, (int64_t)n);
    size_t k = 3, a = 3 + n, i = 0;
    for (rds_req *m = q->members; m; m = m->next, i++) {
        const char *key = m->args;
        const char *token = key + m->klen + 1;
        const char *mark = token + m->tlen + 1;
        char *num = r->nums + i * 24;
        av[k] = key;
        al[k++] = m->klen;
        av[a] = token;
        al[a++] = m->tlen;
        av[a] = num;
        al[a++] = fmt_i64(num, m->num);
        av[a] = mark;
        al[a++] = m->mlen;
    }
    return req_write(r, q, (int)a, av, al);
}

/* Write q to the connection (pipelined with whatever else this iteration
 * sends) and queue it for the timeout check. 0, or -1 when hiredis refused. */
static int
req_send(rds *r, rds_req *q)
{
    const char *argv[8];
    size_t lens[8];
    int argc = 0;
    char num[24];
    const char *key = q->args;
    const char *token = key + q->klen + 1;
    const char *mark = token + q->tlen + 1;

    if (q->op == OP_CLAIM && q->native) {
        /* "P|" and the token, as the claim script writes it */
        char val[RDS_REQ_INLINE + 2];
        val[0] = 'P';
        val[1] = '|';
        memcpy(val + 2, token, q->tlen);
        const char *av[6] = {"SET", key, val, "NX", "PX", num};
        size_t al[6] = {3, q->klen, (size_t)q->tlen + 2, 2, 2, fmt_i64(num, q->num)};
        return req_write(r, q, 6, av, al);
    }

    switch (q->op) {
    case OP_PING:
        argv[argc] = "PING";
        lens[argc++] = 4;
        break;
    case OP_AUTH:
        argv[argc] = "AUTH";
        lens[argc++] = 4;
        if (r->user) {
            argv[argc] = r->user;
            lens[argc++] = strlen(r->user);
        }
        argv[argc] = r->password;
        lens[argc++] = strlen(r->password);
        break;
    case OP_SELECT:
        argv[argc] = "SELECT";
        lens[argc++] = 6;
        argv[argc] = num;
        lens[argc++] = fmt_i64(num, r->db);
        break;
    case OP_LOAD:
        argv[argc] = "SCRIPT";
        lens[argc++] = 6;
        argv[argc] = "LOAD";
        lens[argc++] = 4;
        argv[argc] = scripts[q->num];
        lens[argc++] = strlen(scripts[q->num]);
        break;
    case OP_COMMIT_MANY:
        return send_many(r, q);
    default: /* a script */
        if (q->retried) {
            argv[argc] = "EVAL";
            lens[argc++] = 4;
            argv[argc] = scripts[q->op];
            lens[argc++] = strlen(scripts[q->op]);
        } else {
            argv[argc] = "EVALSHA";
            lens[argc++] = 7;
            argv[argc] = r->sha[q->op];
            lens[argc++] = 40;
        }
        argv[argc] = "1";
        lens[argc++] = 1;
        argv[argc] = key;
        lens[argc++] = q->klen;
        argv[argc] = token;
        lens[argc++] = q->tlen;
        if (q->op != OP_RELEASE) {
            argv[argc] = num;
            lens[argc++] = fmt_i64(num, q->num);
        }
        if (q->op == OP_COMMIT) {
            argv[argc] = mark;
            lens[argc++] = q->mlen;
        }
        break;
    }
    return req_write(r, q, argc, argv, lens);
}

/* ---- connection ---- */

static void
schedule_retry(rds *r)
{
    if (r->state == ST_STOPPING)
        return;
    r->state = ST_IDLE;
    /* 75%..125% of the current step, then double it up to the cap */
    r->rng = r->rng * 1103515245u + 12345u;
    uint64_t jitter = (r->rng >> 8) % (r->backoff_ms / 2 + 1);
    uint64_t delay = r->backoff_ms - r->backoff_ms / 4 + jitter;
    r->backoff_ms *= 2;
    if (r->backoff_ms > RDS_BACKOFF_MAX_MS)
        r->backoff_ms = RDS_BACKOFF_MAX_MS;
    uv_timer_start(&r->retry, on_retry, delay, 0);
}

/* A connect attempt failed: say so once at warn, then at debug. */
static void
note_fail(rds *r, const char *why)
{
    if (!r->warned) {
        r->warned = 1;
        if (r->unix_path)
            log_warn("redis: cannot connect to %s: %s (retrying)", r->unix_path, why);
        else
            log_warn("redis: cannot connect to %s:%d: %s (retrying)", r->host, r->port, why);
    } else {
        log_debug("redis: connect failed: %s", why);
    }
}

static void
set_up(rds *r)
{
    r->state = ST_UP;
    r->up = 1;
    r->backoff_ms = RDS_BACKOFF_MIN_MS;
    atomic_store(&stats.redis_connected, 1);
    if (r->was_up)
        atomic_fetch_add(&stats.redis_reconnects, 1);
    r->was_up = 1;
    r->warned = 0;
    if (r->unix_path)
        log_info("redis: connected to %s", r->unix_path);
    else
        log_info("redis: connected to %s:%d", r->addr, r->port);
    if (r->on_state)
        r->on_state(r->ud, 1);
}

/*
 * The connection `ac` is gone or must go. Idempotent per context: only the
 * first call for the current context acts. Reports the loss before the
 * pending commands fail, so the caller pauses before it sees the errors.
 */
static void
conn_lost(rds *r, redisAsyncContext *ac, int do_free, const char *why)
{
    if (!ac || r->ac != ac)
        return;
    r->ac = NULL;
    atomic_store(&stats.redis_connected, 0);
    if (r->state != ST_STOPPING)
        r->state = ST_IDLE;
    if (r->up) {
        r->up = 0;
        if (r->state != ST_STOPPING) {
            log_warn("redis: connection lost: %s", why ? why : "?");
            r->warned = 1;
            if (r->on_state)
                r->on_state(r->ud, 0);
        }
    } else if (r->state != ST_STOPPING) {
        note_fail(r, why ? why : "?");
    }
    if (do_free)
        redisAsyncFree(ac); /* pending callbacks run now (or when hiredis returns) */
    schedule_retry(r);
}

static void
stop_closed(uv_handle_t *h)
{
    rds *r = h->data;
    if (--r->closing > 0)
        return;
    while (r->slabs) {
        rds_slab *s = r->slabs;
        r->slabs = s->next;
        free(s);
    }
    free(r->argv);
    free(r->lens);
    free(r->nums);
    free(r->fbuf);
    void (*done)(void *) = r->done;
    void *ud = r->done_ud;
    free(r->host);
    free(r->unix_path);
    free(r->user);
    free(r->password);
    free(r);
    if (done)
        done(ud);
}

/* Once stopping and no context or lookup is left, close the timers; the
 * last close callback frees everything. */
static void
stop_progress(rds *r)
{
    if (r->state != ST_STOPPING || r->live_ac > 0 || r->gai_busy || r->closing)
        return;
    r->closing = 3;
    uv_close((uv_handle_t *)&r->tick, stop_closed);
    uv_close((uv_handle_t *)&r->retry, stop_closed);
    uv_close((uv_handle_t *)&r->flush, stop_closed);
}

/*
 * hiredis 0.14.1's libuv adapter drops poll errors: libuv reports POLLERR
 * as status UV_EBADF (and stops the handle), the adapter returns, and
 * hiredis never sees a refused connect or a reset, which then hangs until a
 * timeout. Upstream fixed it in 9ce15c4 (after 0.14.1) by running the
 * handlers that were waited for; the same fix, installed over the adapter's
 * hooks after redisLibuvAttach().
 */
static void
ev_poll(uv_poll_t *h, int status, int events)
{
    redisLibuvEvents *p = h->data;
    int ev = status ? p->events : events;
    if (p->context && (ev & UV_READABLE))
        redisAsyncHandleRead(p->context);
    if (p->context && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->context);
}

static void
ev_update(redisLibuvEvents *p, int add, int del)
{
    int ev = (p->events | add) & ~del;
    if (ev == p->events && uv_is_active((uv_handle_t *)&p->handle))
        return; /* hiredis asks for write once per command: skip the no-ops */
    p->events = ev;
    if (p->events)
        uv_poll_start(&p->handle, p->events, ev_poll);
    else
        uv_poll_stop(&p->handle);
}

static void
ev_add_read(void *privdata)
{
    ev_update(privdata, UV_READABLE, 0);
}

static void
ev_del_read(void *privdata)
{
    ev_update(privdata, 0, UV_READABLE);
}

static void
ev_add_write(void *privdata)
{
    ev_update(privdata, UV_WRITABLE, 0);
}

static void
ev_del_write(void *privdata)
{
    ev_update(privdata, 0, UV_WRITABLE);
}

/* Wraps the adapter's cleanup to know when hiredis is done with a context. */
static void
ev_cleanup(void *privdata)
{
    redisLibuvEvents *p = privdata;
    rds *r = p->context ? p->context->data : NULL;
    redisLibuvCleanup(privdata);
    if (r) {
        r->live_ac--;
        stop_progress(r);
    }
}

static void
handshake_next(rds *r, int op, int64_t num)
{
    rds_req *q = req_get(r);
    if (q) {
        q->op = (uint8_t)op;
        q->num = num;
        q->cb = NULL;
        q->ud = NULL;
        if (req_send(r, q) == 0) {
            r->handshake_left++;
            return;
        }
        req_put(r, q);
    }
    /* Freeing the context inside its connect callback is a use after free
     * in hiredis; the connect deadline (on_tick) drops it instead. */
    r->handshake_left++;
    log_error("redis: cannot send the handshake");
}

static void
on_connect(const redisAsyncContext *cac, int status)
{
    rds *r = cac->data;
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    if (r->ac != ac)
        return;
    if (status != REDIS_OK) {
        conn_lost(r, ac, 0, ac->c.errstr); /* hiredis frees it when we return */
        return;
    }
    r->state = ST_HANDSHAKE;
    r->handshake_left = 0;
    if (r->password)
        handshake_next(r, OP_AUTH, 0);
    if (r->db != 0 && r->ac == ac)
        handshake_next(r, OP_SELECT, 0);
    for (int i = 0; i < OP_NSCRIPTS && r->ac == ac; i++)
        handshake_next(r, OP_LOAD, i);
}

static void
on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    conn_lost(cac->data, ac, 0, status == REDIS_OK ? "closed" : ac->c.errstr);
}

static void
connect_to(rds *r, const char *ip)
{
    redisAsyncContext *ac;
    if (r->unix_path) {
        ac = redisAsyncConnectUnix(r->unix_path);
    } else {
        snprintf(r->addr, sizeof(r->addr), "%s", ip);
        ac = redisAsyncConnect(ip, r->port);
    }
    if (!ac) {
        note_fail(r, "out of memory");
        schedule_retry(r);
        return;
    }
    if (ac->err) {
        note_fail(r, ac->c.errstr);
        redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        ac->ev.cleanup = NULL; /* the adapter's would dereference its NULL data */
        redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    r->live_ac++;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->state = ST_CONNECTING;
    r->connect_deadline = uv_now(r->loop) + r->timeout_ms;
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rds *r = req->data;
    r->gai_busy = 0;
    if (r->state == ST_STOPPING) {
        if (res)
            uv_freeaddrinfo(res);
        stop_progress(r);
        return;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    if (status == 0 && res) {
        /* a name may map to several addresses (::1 and 127.0.0.1 for
         * localhost) and only some may listen: each attempt takes the next */
        unsigned n = 0;
        for (struct addrinfo *a = res; a; a = a->ai_next)
            n++;
        const struct addrinfo *pick = res;
        for (unsigned k = r->attempt++ % n; k > 0; k--)
            pick = pick->ai_next;
        const void *a = pick->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr;
        inet_ntop(pick->ai_family, a, ip, sizeof(ip));
    }
    if (res)
        uv_freeaddrinfo(res);
    if (!ip[0]) {
        note_fail(r, status ? uv_strerror(status) : "no address");
        schedule_retry(r);
        return;
    }
    connect_to(r, ip);
}

static void
on_retry(uv_timer_t *t)
{
    start_connect(t->data);
}

/* hiredis 0.14.1 resolves names with a blocking getaddrinfo(); names go
 * through the threadpool first, so hiredis only ever sees IP literals. */
static void
start_connect(rds *r)
{
    if (r->state == ST_STOPPING || r->ac)
        return;
    if (r->unix_path) {
        connect_to(r, NULL);
        return;
    }
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, r->host, buf) == 1 || inet_pton(AF_INET6, r->host, buf) == 1) {
        connect_to(r, r->host);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->gai.data = r;
    if (uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->host, NULL, &hints) != 0) {
        schedule_retry(r);
        return;
    }
    r->gai_busy = 1;
    r->state = ST_RESOLVING;
}

/* ---- replies ---- */

static void
errlog(rds *r, const char *what, const redisReply *rep)
{
    uint64_t now = uv_now(r->loop);
    if (now - r->last_errlog < RDS_ERRLOG_EVERY_MS && r->last_errlog)
        return;
    r->last_errlog = now;
    log_warn("redis: %s: %.*s", what, rep ? (int)rep->len : 1, rep ? rep->str : "?");
}

static int
is_str(const redisReply *rep, const char *s, size_t n)
{
    return (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) && rep->len == n &&
           memcmp(rep->str, s, n) == 0;
}

static void
handshake_reply(rds *r, redisAsyncContext *ac, rds_req *q, redisReply *rep)
{
    int op = q->op;
    int64_t idx = q->num;
    req_put(r, q);
    if (!rep || r->ac != ac)
        return; /* connection already gone */
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[160];
        snprintf(why, sizeof(why), "%s: %.*s",
                 op == OP_AUTH     ? "AUTH"
                 : op == OP_SELECT ? "SELECT"
                                   : "SCRIPT LOAD",
                 (int)rep->len, rep->str);
        log_error("redis: %s", why);
        conn_lost(r, ac, 1, why);
        return;
    }
    if (op == OP_LOAD) {
        if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
            conn_lost(r, ac, 1, "unexpected SCRIPT LOAD reply");
            return;
        }
        memcpy(r->sha[idx], rep->str, 40);
        r->sha[idx][40] = '\0';
    }
    if (--r->handshake_left == 0 && r->state == ST_HANDSHAKE)
        set_up(r);
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    rds_req *q = privdata;
    rds *r = q->r;
    redisReply *rep = reply;
    fifo_remove(r, q);
    if (!rep)
        conn_lost(r, ac, 0, ac->c.errstr[0] ? ac->c.errstr : "disconnected");
    if (q->op > OP_PING) {
        handshake_reply(r, ac, q, rep);
        return;
    }
    if (!rep) {
        req_finish(r, q, RDS_ERROR, 0);
        return;
    }
    if (q->op == OP_CLAIM && q->native && rep->type != REDIS_REPLY_ERROR) {
        if (is_str(rep, "OK", 2)) {
            req_finish(r, q, RDS_CLAIMED, 0);
            return;
        }
        /* The key exists: the script tells DONE from BUSY (or claims it,
         * should the lease have run out in between). */
        q->native = 0;
        if (rep->type == REDIS_REPLY_NIL && r->state == ST_UP && req_send(r, q) == 0)
            return;
        errlog(r, "unexpected reply", rep->type == REDIS_REPLY_NIL ? NULL : rep);
        req_finish(r, q, RDS_ERROR, 0);
        return;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        if (!q->retried && q->op < OP_NSCRIPTS && rep->len >= 8 &&
            memcmp(rep->str, "NOSCRIPT", 8) == 0 && r->state == ST_UP) {
            q->retried = 1;
            if (req_send(r, q) == 0)
                return;
        }
        errlog(r, "command failed", rep);
        req_finish(r, q, RDS_ERROR, 0);
        return;
    }

    rds_result res = RDS_ERROR;
    int64_t aux = 0;
    switch (q->op) {
    case OP_CLAIM:
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1) {
            const redisReply *e = rep->element[0];
            if (is_str(e, "CLAIMED", 7)) {
                res = RDS_CLAIMED;
            } else if (is_str(e, "DONE", 4)) {
                res = RDS_DONE;
            } else if (is_str(e, "BUSY", 4)) {
                res = RDS_BUSY;
                if (rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_INTEGER)
                    aux = rep->element[1]->integer;
            }
        }
        break;
    case OP_COMMIT:
        if (is_str(rep, "OK", 2))
            res = RDS_OK;
        else if (is_str(rep, "ALREADY_DONE", 12))
            res = RDS_DONE;
        else if (is_str(rep, "LEASE_LOST", 10))
            res = RDS_LEASE_LOST;
        break;
    case OP_RELEASE:
    case OP_EXTEND:
        if (rep->type == REDIS_REPLY_INTEGER)
            res = rep->integer == 1 ? RDS_OK : RDS_LEASE_LOST;
        break;
    case OP_PING:
        if (is_str(rep, "PONG", 4))
            res = RDS_OK;
        break;
    case OP_COMMIT_MANY:
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)q->nmembers) {
            static const rds_result map[3] = {RDS_OK, RDS_DONE, RDS_LEASE_LOST};
            rds_req *m = q->members;
            q->members = NULL;
            req_put(r, q);
            for (size_t i = 0; m; i++) {
                rds_req *next = m->next;
                const redisReply *e = rep->element[i];
                int ok = e->type == REDIS_REPLY_INTEGER && e->integer >= 0 && e->integer <= 2;
                if (!ok)
                    errlog(r, "unexpected reply", NULL);
                req_finish(r, m, ok ? map[e->integer] : RDS_ERROR, 0);
                m = next;
            }
            return;
        }
        break;
    default:
        break;
    }
    if (res == RDS_ERROR)
        errlog(r, "unexpected reply", NULL);
    req_finish(r, q, res, aux);
}

/* ---- timeouts ---- */

static void
on_tick(uv_timer_t *t)
{
    rds *r = t->data;
    uint64_t now = uv_now(r->loop);
    if ((r->state == ST_CONNECTING || r->state == ST_HANDSHAKE) && r->ac &&
        now >= r->connect_deadline) {
        atomic_fetch_add(&stats.redis_timeouts, 1);
        conn_lost(r, r->ac, 1, "connect timeout"); /* logged once per outage */
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
    conn_lost(r, r->ac, 1, "command timeout");
}

/* ---- public ---- */

int
rds_start(uv_loop_t *loop, const cfg_redis *cfg, rds_state_cb on_state, void *ud, rds **out)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    *out = NULL;
    if (!loop || !cfg || (!cfg->unix_path && !cfg->host))
        return -1;
    rds *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    r->loop = loop;
    r->host = cfg->host ? strdup(cfg->host) : NULL;
    r->unix_path = cfg->unix_path ? strdup(cfg->unix_path) : NULL;
    r->user = cfg->user && cfg->user[0] ? strdup(cfg->user) : NULL;
    r->password = cfg->password ? strdup(cfg->password) : NULL;
    r->port = cfg->port > 0 ? cfg->port : 6379;
    r->db = cfg->db;
    r->timeout_ms = cfg->timeout_ms > 0 ? (uint64_t)cfg->timeout_ms : 2000;
    r->on_state = on_state;
    r->ud = ud;
    r->backoff_ms = RDS_BACKOFF_MIN_MS;
    r->rng = (unsigned)(uintptr_t)r ^ (unsigned)uv_hrtime();
    if ((cfg->host && !r->host) || (cfg->unix_path && !r->unix_path) ||
        (cfg->password && !r->password) || slab_grow(r) != 0) {
        free(r->host);
        free(r->unix_path);
        free(r->user);
        free(r->password);
        free(r->slabs);
        free(r);
        return -1;
    }
    uv_timer_init(loop, &r->tick);
    uv_timer_init(loop, &r->retry);
    uv_idle_init(loop, &r->flush);
    r->tick.data = r;
    r->retry.data = r;
    r->flush.data = r;
    /* check a few times per timeout, at most every 100 ms */
    uint64_t period = r->timeout_ms / 4;
    if (period > 100)
        period = 100;
    if (period < 5)
        period = 5;
    uv_timer_start(&r->tick, on_tick, period, period);
    uv_unref((uv_handle_t *)&r->tick);
    *out = r;
    start_connect(r);
    return 0;
}

void
rds_stop(rds *r, void (*done)(void *ud), void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    if (!r || r->state == ST_STOPPING)
        return;
    r->done = done;
    r->done_ud = ud;
    r->state = ST_STOPPING;
    uv_timer_stop(&r->tick);
    uv_timer_stop(&r->retry);
    if (r->gai_busy)
        uv_cancel((uv_req_t *)&r->gai); /* its callback still runs, with ECANCELED */
    atomic_store(&stats.redis_connected, 0);
    r->up = 0;
    uv_idle_stop(&r->flush);
    flush_commits(r); /* not sent yet: they fail (state is STOPPING) */
    if (r->ac)
        conn_lost(r, r->ac, 1, "stopping");
    stop_progress(r);
}

int
rds_connected(const rds *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    return r && r->state == ST_UP;
}

/* Queue a script call; fails it at once unless the connection is up. */
static void
script_call(rds *r, int op, const char *key, const char *token, int64_t num, const char *mark,
            rds_cb cb, void *ud)
{
    rds_req *q;
    if (r->state != ST_UP || !(q = req_get(r))) {
        cb(ud, RDS_ERROR, 0);
        return;
    }
    q->op = (uint8_t)op;
    q->num = num;
    q->cb = cb;
    q->ud = ud;
    if (req_args(q, key, token, mark) != 0 || req_send(r, q) != 0)
        req_finish(r, q, RDS_ERROR, 0);
}

void
rds_claim(rds *r, const char *key, const char *token, int64_t lease_ms, rds_cb cb, void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rds_req *q;
    if (r->state != ST_UP || !(q = req_get(r))) {
        cb(ud, RDS_ERROR, 0);
        return;
    }
    q->op = OP_CLAIM;
    q->num = lease_ms > 0 ? lease_ms : 1;
    q->cb = cb;
    q->ud = ud;
    if (req_args(q, key, token, NULL) != 0) {
        req_finish(r, q, RDS_ERROR, 0);
        return;
    }
    /* SET NX first when "P|token" fits the native path's buffer */
    q->native = (size_t)q->tlen + 2 <= RDS_REQ_INLINE;
    if (req_send(r, q) != 0)
        req_finish(r, q, RDS_ERROR, 0);
}

/* Send the gathered commits: one alone as the commit script, more in
 * commit-many calls of up to RDS_BATCH_MAX. Fails them when down. */
static void
flush_commits(rds *r)
{
    while (r->cm_head) {
        rds_req *first = r->cm_head, *last = first;
        int n = 1;
        while (n < RDS_BATCH_MAX && last->next) {
            last = last->next;
            n++;
        }
        r->cm_head = last->next;
        last->next = NULL;
        r->cm_n -= n;
        rds_req *q = first;
        if (n > 1) {
            q = r->state == ST_UP ? req_get(r) : NULL;
            if (!q) {
                /* not connected (or out of memory): fail them all */
                for (rds_req *m = first; m;) {
                    rds_req *next = m->next;
                    req_finish(r, m, RDS_ERROR, 0);
                    m = next;
                }
                continue;
            }
            q->op = OP_COMMIT_MANY;
            q->cb = NULL;
            q->ud = NULL;
            q->members = first;
            q->nmembers = n;
        }
        if (r->state != ST_UP || req_send(r, q) != 0)
            req_finish(r, q, RDS_ERROR, 0);
    }
    r->cm_tail = NULL;
    r->cm_n = 0;
}

static void
on_flush(uv_idle_t *h)
{
    rds *r = h->data;
    uv_idle_stop(h);
    flush_commits(r);
}

void
rds_commit(rds *r, const char *key, const char *token, int64_t ttl_ms, const char *mark, rds_cb cb,
           void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rds_req *q;
    if (r->state != ST_UP || !(q = req_get(r))) {
        cb(ud, RDS_ERROR, 0);
        return;
    }
    q->op = OP_COMMIT;
    q->num = ttl_ms > 0 ? ttl_ms : 1;
    q->cb = cb;
    q->ud = ud;
    if (req_args(q, key, token, mark ? mark : "") != 0) {
        req_finish(r, q, RDS_ERROR, 0);
        return;
    }
    /* Gathered until the loop is idle, then sent together (on_flush). */
    q->next = NULL;
    if (r->cm_tail)
        r->cm_tail->next = q;
    else
        r->cm_head = q;
    r->cm_tail = q;
    if (r->cm_n++ == 0)
        uv_idle_start(&r->flush, on_flush);
}

void
rds_release(rds *r, const char *key, const char *token, rds_cb cb, void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    script_call(r, OP_RELEASE, key, token, 0, NULL, cb, ud);
}

void
rds_extend(rds *r, const char *key, const char *token, int64_t lease_ms, rds_cb cb, void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    script_call(r, OP_EXTEND, key, token, lease_ms > 0 ? lease_ms : 1, NULL, cb, ud);
}

void
rds_ping(rds *r, rds_cb cb, void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rds_req *q;
    if (r->state != ST_UP || !(q = req_get(r))) {
        cb(ud, RDS_ERROR, 0);
        return;
    }
    q->op = OP_PING;
    q->num = 0;
    q->cb = cb;
    q->ud = ud;
    if (req_send(r, q) != 0)
        req_finish(r, q, RDS_ERROR, 0);
}
