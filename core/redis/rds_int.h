/*
 * rds_int.h -- private to core/redis/: the insides of the rds client
 * (redis.h has its interface), shared by its three files:
 *
 *   rds_conn.c   the connection: resolve, connect through hiredis's libuv
 *                adapter (with its poll-error fix), handshake, backoff and
 *                reconnect, up/down notification, start/stop, PING.
 *   rds_cmd.c    the command plumbing: the request pool, RESP formatting
 *                and sending, the FIFO of outstanding commands, reply
 *                dispatch, and the timeout check.
 *   rds_dedup.c  the dedup protocol: the Lua scripts (claim, commit,
 *                commit-many, release, extend), the native SET NX claim,
 *                commit batching, NOSCRIPT fallback and reply parsing.
 *   rds_check.c  the guardrails on the server: its eviction policy and
 *                persistence, read in the handshake (CONFIG GET, falling
 *                back to INFO when CONFIG is renamed or disabled), and the
 *                evicted_keys watch while up.
 *
 * Life of a connection:
 *
 *   IDLE --(retry timer)--> RESOLVING (uv_getaddrinfo, names only)
 *        --> CONNECTING (non-blocking connect, bounded by redis.timeout)
 *        --> HANDSHAKE (AUTH, SELECT, SCRIPT LOAD x5, CONFIG GET x4, INFO,
 *                       pipelined)
 *        --> UP (on_state(1)) --(error, EOF, timeout)--> IDLE (on_state(0))
 *   HANDSHAKE or UP --(evicting policy, not allowed)--> IDLE (on_state(-1)):
 *        the connection is dropped and the check repeated on every
 *        reconnect, so a server whose policy is fixed is taken back.
 *
 * Every command, ours or the caller's, is an rds_req taken from a free list
 * (slabs, never returned until rds_stop), so the hot path allocates nothing
 * of its own; hiredis still allocates its formatted command and callback
 * node. Outstanding requests are also kept in a FIFO (replies on one
 * connection arrive in order), so the timeout check looks at the head only.
 *
 * Lifetime rules that keep hiredis happy:
 *  - hiredis frees a context itself after a failed connect or an I/O error,
 *    and may defer redisAsyncFree() until its callback returns; so `r->ac`
 *    is cleared first (rds_conn_lost) and every later event of that context
 *    is recognised as stale by comparing against it.
 *  - the adapter's cleanup hook is wrapped to count live contexts, and the
 *    struct is freed only from uv_close callbacks after the last one went,
 *    never from inside a hiredis call.
 *
 * Threads: everything here on the loop thread only, like the interface.
 */
#ifndef JW_RDS_INT_H
#define JW_RDS_INT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "redis.h"

#define RDS_BACKOFF_MIN_MS  100
#define RDS_BACKOFF_MAX_MS  2000
#define RDS_SLAB_REQS       128
#define RDS_REQ_INLINE      224 /* key + token + mark, NULs included; longer ones are malloc'd */
#define RDS_ERRLOG_EVERY_MS 1000
#define RDS_BATCH_MAX       256  /* commits per commit-many call */
#define RDS_WATCH_MS        2000 /* INFO (evicted_keys, policy) while up */

/* Operations; the first five index rds_scripts[] and rds.sha[]. */
enum {
    RDS_OP_CLAIM = 0,
    RDS_OP_COMMIT,
    RDS_OP_RELEASE,
    RDS_OP_EXTEND,
    RDS_OP_COMMIT_MANY,
    RDS_OP_NSCRIPTS,
    RDS_OP_PING = RDS_OP_NSCRIPTS,
    /* the handshake's own commands: every op above PING */
    RDS_OP_AUTH,
    RDS_OP_SELECT,
    RDS_OP_LOAD,
    RDS_OP_CONFIG, /* CONFIG GET rds_config_params[num] (rds_check.c) */
    RDS_OP_INFO,   /* INFO; num 0 = the handshake's, 1 = the watch's */
};

/* What rds_check.c learned of the server (rds.srv); reset per connection. */
typedef struct rds_server {
    char policy[32];     /* maxmemory-policy, "" = unknown */
    long long maxmemory; /* -1 = unknown */
    int aof;             /* aof_enabled / appendonly: 1, 0, -1 unknown */
    char fsync[16];      /* appendfsync, "" = unknown */
    int rdb;             /* RDB save points configured: 1, 0, -1 unknown */
    int config_ok;       /* CONFIG GET answered (not renamed or disabled) */
    long long evicted;   /* INFO stats evicted_keys, -1 = unknown */
} rds_server;

/* Connection states (rds.state). */
enum {
    RDS_ST_IDLE = 0,
    RDS_ST_RESOLVING,
    RDS_ST_CONNECTING,
    RDS_ST_HANDSHAKE,
    RDS_ST_UP,
    RDS_ST_STOPPING
};

/*
 * One command. Owned by its rds: on the free list, or outstanding (in the
 * FIFO and inside hiredis as the callback's privdata), or gathered for a
 * commit-many (rds.cm_head, then a commit-many's members). Loop thread only.
 */
typedef struct rds_req {
    struct rds_req *next; /* FIFO, or free list */
    struct rds_req *prev;
    struct rds *r;
    rds_cb cb; /* NULL for the handshake's own commands */
    void *ud;
    uint64_t deadline; /* uv_now() ms */
    int64_t num;       /* lease/ttl ms; script index for RDS_OP_LOAD */
    uint8_t op;
    uint8_t retried; /* NOSCRIPT already answered with EVAL once */
    uint8_t native;  /* RDS_OP_CLAIM: still the SET NX attempt */
    uint16_t klen, tlen, mlen;
    struct rds_req *members; /* RDS_OP_COMMIT_MANY: the commits, linked by next */
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
 * Loop thread only. Each group of fields is written by the file named. */
struct rds {
    uv_loop_t *loop;
    /* config copy (rds_conn.c) */
    char *host;
    char *unix_path;
    char *user;
    char *password;
    int port;
    int db;
    uint64_t timeout_ms;

    rds_state_cb on_state;
    void *ud;

    /* the connection (rds_conn.c) */
    int state;
    int up;      /* on_state(1) was reported and not yet taken back */
    int was_up;  /* a later up counts as a reconnect */
    int live_ac; /* contexts attached to the loop, not yet cleaned up */
    int handshake_left;
    int warned; /* a failure was logged at warn since the last up */
    redisAsyncContext *ac;
    char sha[RDS_OP_NSCRIPTS][41];
    char addr[INET6_ADDRSTRLEN];

    /* the server's guardrails (rds_check.c) */
    int allow_eviction;     /* config: redis.allow_eviction */
    int require_fsync;      /* some consumer has dedup.require_fsync */
    rds_server srv;         /* this connection's findings */
    long long evicted_base; /* evicted_keys last seen, -1 = none yet */
    unsigned warned_cfg;    /* RDS_WARN_* bits already logged (once per state) */
    int refused;            /* the last verdict refused the server */
    uv_timer_t watch;       /* INFO every RDS_WATCH_MS while up */
    int watch_busy;         /* a watch INFO is outstanding */

    uv_timer_t tick;  /* deadline checks (rds_cmd.c) */
    uv_timer_t retry; /* reconnect backoff */
    uv_getaddrinfo_t gai;
    int gai_busy;
    uint64_t backoff_ms;
    uint64_t connect_deadline;
    uint64_t last_errlog; /* rds_errlog */
    unsigned rng;
    unsigned attempt; /* picks the next of a name's addresses on each try */

    /* requests (rds_cmd.c) */
    rds_req *head, *tail; /* outstanding, oldest first */
    rds_req *free_reqs;
    rds_slab *slabs;
    char *fbuf; /* the command being formatted, grown on demand */
    size_t fcap;

    /* commit batching (rds_dedup.c) */
    uv_idle_t flush;            /* sends the commits gathered this iteration */
    rds_req *cm_head, *cm_tail; /* commits not yet sent */
    int cm_n;
    const char **argv; /* scratch for commit-many calls, grown on demand */
    size_t *lens;
    char *nums;
    size_t argv_cap; /* keys the scratch holds */

    /* stopping (rds_conn.c) */
    int closing; /* handles whose close callback is still due */
    void (*done)(void *ud);
    void *done_ud;
};

/* ---- rds_conn.c ---- */

/* The connection `ac` is gone or must go (see rds_conn.c). */
void rds_conn_lost(rds *r, redisAsyncContext *ac, int do_free, const char *why);
/* A reply to one of the handshake's commands (op above RDS_OP_PING); rep is
 * NULL when the connection went. Takes q back. */
void rds_conn_handshake_reply(rds *r, redisAsyncContext *ac, rds_req *q, redisReply *rep);
/* One handshake command of the connection `ac` was answered: the last one
 * brings the connection up (or refuses it, rds_check_verdict). */
void rds_conn_handshake_step(rds *r, redisAsyncContext *ac);
/* Drop an up or handshaking connection whose server was refused, and
 * tell the owner (on_state(-1)). */
void rds_conn_refuse(rds *r, redisAsyncContext *ac);

/* ---- rds_cmd.c ---- */

/* Requests: a fresh one from the pool, or NULL (out of memory). */
rds_req *rds_req_get(rds *r);
void rds_req_put(rds *r, rds_req *q);
/* Add a slab to the pool; 0 or -1. */
int rds_req_grow(rds *r);
/* Free the pool and the format buffer; only once nothing is outstanding. */
void rds_req_free_all(rds *r);
/* Copy key, token and mark into the request; 0 or -1 (too long / ENOMEM). */
int rds_req_args(rds_req *q, const char *key, const char *token, const char *mark);
/* Return the request to the pool, then tell its owner (every member's
 * owner, for a commit-many). */
void rds_req_finish(rds *r, rds_req *q, rds_result res, int64_t aux);
/* Write q to the connection and queue it for the timeout check. 0, or -1
 * when hiredis refused. */
int rds_req_send(rds *r, rds_req *q);
/* The same for a command already split into arguments. */
int rds_req_write(rds *r, rds_req *q, int argc, const char **argv, const size_t *lens);
/* The deadline check of the tick timer (rds_start starts it). */
void rds_on_tick(uv_timer_t *t);

/* Decimal without snprintf; buf holds at least 21 bytes. Returns the length. */
size_t rds_fmt_i64(char *buf, int64_t v);
/* A failed or unexpected reply, logged at most once per RDS_ERRLOG_EVERY_MS. */
void rds_errlog(rds *r, const char *what, const redisReply *rep);
/* A string or status reply of exactly s[0..n). */
int rds_is_str(const redisReply *rep, const char *s, size_t n);

/* ---- rds_check.c ---- */

/* The CONFIG GET parameters, indexed by an RDS_OP_CONFIG request's num. */
#define RDS_NCONFIG 4
extern const char *const rds_config_params[RDS_NCONFIG];
/* A new connection: forget the last one's findings. */
void rds_check_reset(rds *r);
/* The reply to a CONFIG GET or INFO (rep NULL when the connection went);
 * takes q back. A handshake reply counts down the handshake. */
void rds_check_reply(rds *r, redisAsyncContext *ac, rds_req *q, redisReply *rep);
/* The handshake's verdict: 0 accept (warnings logged), -1 refuse (logged,
 * reason in stats.redis_refusal). */
int rds_check_verdict(rds *r);
/* The watch timer's callback (rds_start starts it). */
void rds_check_on_watch(uv_timer_t *t);

/* ---- rds_dedup.c ---- */

/* The Lua sources, indexed by op (RDS_OP_CLAIM .. RDS_OP_COMMIT_MANY). */
extern const char *const rds_scripts[RDS_OP_NSCRIPTS];
/* Send a script op (or the native claim, or a commit-many); 0 or -1. */
int rds_dedup_send(rds *r, rds_req *q);
/* The reply (not NULL) to a script op: NOSCRIPT fallback, then parsing;
 * finishes q or sends it again. */
void rds_dedup_reply(rds *r, rds_req *q, redisReply *rep);
/* Send the gathered commits; they fail when the connection is not up. */
void rds_dedup_flush(rds *r);
/* Free the commit-many scratch. */
void rds_dedup_free(rds *r);

#endif /* JW_RDS_INT_H */
