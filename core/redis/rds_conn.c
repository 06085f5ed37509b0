/*
 * rds_conn.c -- the connection of the rds client (redis.h, rds_int.h):
 * one redisAsyncContext at a time, attached to the loop with hiredis's
 * libuv adapter; name resolution, connect, the handshake, backoff and
 * reconnect, up/down notification, start and stop, and PING.
 */
#include "rds_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <hiredis/adapters/libuv.h>
#pragma GCC diagnostic pop

#include "base/base.h"

static void start_connect(rds *r);
static void stop_progress(rds *r);

/* ---- backoff and state ---- */

static void
on_retry(uv_timer_t *t)
{
    start_connect(t->data);
}

static void
schedule_retry(rds *r)
{
    if (r->state == RDS_ST_STOPPING)
        return;
    r->state = RDS_ST_IDLE;
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
    /* For /readyz; a refusal's reason was set by the handshake reply. */
    if (strncmp(why, "AUTH:", 5) != 0 && !strstr(why, "WRONGPASS") && !strstr(why, "NOAUTH"))
        stats_set_reason(stats.redis_reason, "unreachable: %s", why);
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
    r->state = RDS_ST_UP;
    r->up = 1;
    r->backoff_ms = RDS_BACKOFF_MIN_MS;
    atomic_store(&stats.redis_connected, 1);
    stats_set_reason(stats.redis_reason, NULL);
    if (r->was_up)
        atomic_fetch_add(&stats.redis_reconnects, 1);
    r->was_up = 1;
    r->warned = 0;
    r->watch_busy = 0;
    uv_timer_start(&r->watch, rds_check_on_watch, RDS_WATCH_MS, RDS_WATCH_MS);
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
void
rds_conn_lost(rds *r, redisAsyncContext *ac, int do_free, const char *why)
{
    if (!ac || r->ac != ac)
        return;
    r->ac = NULL;
    atomic_store(&stats.redis_connected, 0);
    uv_timer_stop(&r->watch);
    if (r->state != RDS_ST_STOPPING)
        r->state = RDS_ST_IDLE;
    if (r->up) {
        r->up = 0;
        if (r->state != RDS_ST_STOPPING) {
            stats_set_reason(stats.redis_reason, "unreachable: connection lost: %s",
                             why ? why : "?");
            log_warn("redis: connection lost: %s", why ? why : "?");
            r->warned = 1;
            if (r->on_state)
                r->on_state(r->ud, 0);
        }
    } else if (r->state != RDS_ST_STOPPING) {
        note_fail(r, why ? why : "?");
    }
    if (do_free)
        redisAsyncFree(ac); /* pending callbacks run now (or when hiredis returns) */
    schedule_retry(r);
}

/* ---- stopping ---- */

static void
stop_closed(uv_handle_t *h)
{
    rds *r = h->data;
    if (--r->closing > 0)
        return;
    rds_req_free_all(r);
    rds_dedup_free(r);
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
    if (r->state != RDS_ST_STOPPING || r->live_ac > 0 || r->gai_busy || r->closing)
        return;
    r->closing = 4;
    uv_close((uv_handle_t *)&r->watch, stop_closed);
    uv_close((uv_handle_t *)&r->tick, stop_closed);
    uv_close((uv_handle_t *)&r->retry, stop_closed);
    uv_close((uv_handle_t *)&r->flush, stop_closed);
}

/* ---- the libuv adapter ---- */

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

/* ---- the handshake ---- */

static void
handshake_next(rds *r, int op, int64_t num)
{
    rds_req *q = rds_req_get(r);
    if (q) {
        q->op = (uint8_t)op;
        q->num = num;
        q->cb = NULL;
        q->ud = NULL;
        if (rds_req_send(r, q) == 0) {
            r->handshake_left++;
            return;
        }
        rds_req_put(r, q);
    }
    /* Freeing the context inside its connect callback is a use after free
     * in hiredis; the connect deadline (rds_on_tick) drops it instead. */
    r->handshake_left++;
    log_error("redis: cannot send the handshake");
}

/* An error reply whose code (first word) is `code`. */
static int
is_err(const redisReply *rep, const char *code)
{
    size_t n = strlen(code);
    return rep->type == REDIS_REPLY_ERROR && rep->len >= n && memcmp(rep->str, code, n) == 0;
}

void
rds_conn_handshake_reply(rds *r, redisAsyncContext *ac, rds_req *q, redisReply *rep)
{
    int op = q->op;
    int64_t idx = q->num;
    rds_req_put(r, q);
    if (!rep || r->ac != ac)
        return; /* connection already gone */
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[160];
        snprintf(why, sizeof(why), "%s: %.*s",
                 op == RDS_OP_AUTH     ? "AUTH"
                 : op == RDS_OP_SELECT ? "SELECT"
                                       : "SCRIPT LOAD",
                 (int)rep->len, rep->str);
        log_error("redis: %s", why);
        /* WRONGPASS (bad password), NOAUTH (a password is needed), or any
         * AUTH error: a refusal, which retrying alone will not cure. */
        if (op == RDS_OP_AUTH || is_err(rep, "WRONGPASS") || is_err(rep, "NOAUTH")) {
            stats_set_reason(stats.redis_reason, "authentication refused: %s", why);
            if (r->on_state)
                r->on_state(r->ud, RDS_STATE_AUTH_REFUSED);
        }
        rds_conn_lost(r, ac, 1, why);
        return;
    }
    if (op == RDS_OP_LOAD) {
        if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
            rds_conn_lost(r, ac, 1, "unexpected SCRIPT LOAD reply");
            return;
        }
        memcpy(r->sha[idx], rep->str, 40);
        r->sha[idx][40] = '\0';
    }
    rds_conn_handshake_step(r, ac);
}

void
rds_conn_handshake_step(rds *r, redisAsyncContext *ac)
{
    if (r->ac != ac || --r->handshake_left != 0 || r->state != RDS_ST_HANDSHAKE)
        return;
    if (rds_check_verdict(r) != 0)
        rds_conn_refuse(r, ac);
    else
        set_up(r);
}

/* Dedup markers on this server could be evicted: claims must not run on
 * it. Dropping the connection fails whatever is outstanding (callers NAK or
 * hold commits as for any outage); the retry checks the server again. */
void
rds_conn_refuse(rds *r, redisAsyncContext *ac)
{
    rds_conn_lost(r, ac, 1, "server configuration refused (see the error above)");
    if (r->on_state && r->state != RDS_ST_STOPPING)
        r->on_state(r->ud, -1);
}

/* ---- connecting ---- */

static void
on_connect(const redisAsyncContext *cac, int status)
{
    rds *r = cac->data;
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    if (r->ac != ac)
        return;
    if (status != REDIS_OK) {
        rds_conn_lost(r, ac, 0, ac->c.errstr); /* hiredis frees it when we return */
        return;
    }
    r->state = RDS_ST_HANDSHAKE;
    r->handshake_left = 0;
    rds_check_reset(r);
    if (r->password)
        handshake_next(r, RDS_OP_AUTH, 0);
    if (r->db != 0 && r->ac == ac)
        handshake_next(r, RDS_OP_SELECT, 0);
    for (int i = 0; i < RDS_OP_NSCRIPTS && r->ac == ac; i++)
        handshake_next(r, RDS_OP_LOAD, i);
    for (int i = 0; i < RDS_NCONFIG && r->ac == ac; i++)
        handshake_next(r, RDS_OP_CONFIG, i);
    if (r->ac == ac)
        handshake_next(r, RDS_OP_INFO, 0);
}

static void
on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    rds_conn_lost(cac->data, ac, 0, status == REDIS_OK ? "closed" : ac->c.errstr);
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
    r->state = RDS_ST_CONNECTING;
    r->connect_deadline = uv_now(r->loop) + r->timeout_ms;
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rds *r = req->data;
    r->gai_busy = 0;
    if (r->state == RDS_ST_STOPPING) {
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

/* hiredis 0.14.1 resolves names with a blocking getaddrinfo(); names go
 * through the threadpool first, so hiredis only ever sees IP literals. */
static void
start_connect(rds *r)
{
    if (r->state == RDS_ST_STOPPING || r->ac)
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
    r->state = RDS_ST_RESOLVING;
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
    r->allow_eviction = cfg->allow_eviction;
    r->evicted_base = -1;
    r->rng = (unsigned)(uintptr_t)r ^ (unsigned)uv_hrtime();
    if ((cfg->host && !r->host) || (cfg->unix_path && !r->unix_path) ||
        (cfg->password && !r->password) || rds_req_grow(r) != 0) {
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
    uv_timer_init(loop, &r->watch);
    uv_unref((uv_handle_t *)&r->watch);
    r->watch.data = r;
    r->tick.data = r;
    r->retry.data = r;
    r->flush.data = r;
    /* check a few times per timeout, at most every 100 ms */
    uint64_t period = r->timeout_ms / 4;
    if (period > 100)
        period = 100;
    if (period < 5)
        period = 5;
    uv_timer_start(&r->tick, rds_on_tick, period, period);
    uv_unref((uv_handle_t *)&r->tick);
    *out = r;
    start_connect(r);
    return 0;
}

void
rds_stop(rds *r, void (*done)(void *ud), void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    if (!r || r->state == RDS_ST_STOPPING)
        return;
    r->done = done;
    r->done_ud = ud;
    r->state = RDS_ST_STOPPING;
    uv_timer_stop(&r->tick);
    uv_timer_stop(&r->retry);
    uv_timer_stop(&r->watch);
    if (r->gai_busy)
        uv_cancel((uv_req_t *)&r->gai); /* its callback still runs, with ECANCELED */
    atomic_store(&stats.redis_connected, 0);
    r->up = 0;
    uv_idle_stop(&r->flush);
    rds_dedup_flush(r); /* not sent yet: they fail (state is STOPPING) */
    if (r->ac)
        rds_conn_lost(r, r->ac, 1, "stopping");
    stop_progress(r);
}

void
rds_set_require_fsync(rds *r, int on)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    if (r)
        r->require_fsync = on;
}

int
rds_connected(const rds *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    return r && r->state == RDS_ST_UP;
}

/* For readiness: answered RDS_OK by PONG (rds_cmd.c reads the reply). */
void
rds_ping(rds *r, rds_cb cb, void *ud)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    rds_req *q;
    if (r->state != RDS_ST_UP || !(q = rds_req_get(r))) {
        cb(ud, RDS_ERROR, 0);
        return;
    }
    q->op = RDS_OP_PING;
    q->num = 0;
    q->cb = cb;
    q->ud = ud;
    if (rds_req_send(r, q) != 0)
        rds_req_finish(r, q, RDS_ERROR, 0);
}
