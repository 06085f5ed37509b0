/*
 * redis/redis.h -- the interface of core/redis/: Redis: the dedup client of the loop thread (rds)
 * and the blocking key-value service of the workers (kv).
 *
 * Other folders include this header only; files named *_int.h are private
 * to this folder.
 */
#ifndef JW_CORE_REDIS_H
#define JW_CORE_REDIS_H

#include <stdint.h>
#include <uv.h>
#include <stddef.h>

#include "config/config.h"
#include "jetway/plugin.h"

/*
 * rds -- Redis for the hot path: one hiredis async connection driven by
 * the libuv loop, with the dedup scripts (claim, commit, release, extend)
 * loaded once and re-loaded after NOSCRIPT.
 *
 * hiredis 0.14.1 has no async timeouts, so rds keeps its own: commands on
 * one connection complete in FIFO order, so only the oldest outstanding
 * command can be late; a uv_timer checks it, and when it is older than
 * redis.timeout the connection is dropped (every pending callback then gets
 * an error) and re-established with backoff. Commands issued while
 * disconnected fail at once (callback with RDS_ERROR, synchronously is
 * allowed) so the caller can NAK and pause.
 *
 * Threads: every function, and every callback, on the loop thread only.
 * Commands issued in one loop iteration are written to the socket together,
 * which pipelines a whole fetched batch into one round trip.
 */

typedef struct rds rds;

typedef enum {
    RDS_OK = 0,     /* commit/release/extend applied */
    RDS_CLAIMED,    /* claim: key was absent, now P|token with the lease */
    RDS_DONE,       /* claim: D|... present; commit: already done */
    RDS_BUSY,       /* claim: P|other; aux = remaining lease ms */
    RDS_LEASE_LOST, /* commit/release/extend: the claim is no longer ours */
    RDS_ERROR,      /* disconnected, timed out or Redis error: outcome unknown */
} rds_result;

typedef void (*rds_cb)(void *ud, rds_result res, int64_t aux);
/*
 * Connection state changes: up = 1 connected (scripts loaded, server
 * checked), 0 lost, -1 refused: the server's configuration would make dedup
 * silently forget (an evicting maxmemory-policy while redis.allow_eviction
 * is off; the reason is logged and in stats.redis_refusal). A refused server
 * is checked again on every reconnect attempt, and 1 follows once fixed.
 *
 * The guardrails: at every (re)connect rds reads maxmemory-policy,
 * maxmemory, appendonly/aof_enabled, appendfsync and save (CONFIG GET, or
 * INFO when CONFIG is renamed or disabled); it refuses an evicting policy
 * (allkeys-* and volatile-*: claim and done keys carry TTLs) with a maxmemory
 * set, unless allowed (then a loud warning); it warns when neither AOF nor
 * RDB persists the markers, and, when rds_set_require_fsync() was called
 * with 1, when AOF is off or not appendfsync always. While up it reads INFO
 * every RDS_WATCH_MS: evicted_keys goes to stats.redis_evicted_keys and an
 * increase is logged as an error; a policy turned evicting refuses.
 */
/* RDS_STATE_AUTH_REFUSED: the server refused the credentials (AUTH failed,
 * or NOAUTH: it needs a password); the client keeps retrying, the caller
 * decides whether to give up (run: redis.max_auth_failures). */
#define RDS_STATE_AUTH_REFUSED (-2)
typedef void (*rds_state_cb)(void *ud, int up);

int rds_start(uv_loop_t *loop, const cfg_redis *cfg, rds_state_cb on_state, void *ud, rds **out);
/* Disconnect; pending callbacks get RDS_ERROR; `done` runs when all is closed. */
void rds_stop(rds *r, void (*done)(void *ud), void *ud);
int rds_connected(const rds *r);
/* Some dedup consumer has dedup.require_fsync (checked at the next connect). */
void rds_set_require_fsync(rds *r, int on);

/* The dedup protocol (delivery-notes §2.3). key and token are copied. */
void rds_claim(rds *r, const char *key, const char *token, int64_t lease_ms, rds_cb cb, void *ud);
/* mark: stored after "D|" (e.g. "ok", "dlq") */
void rds_commit(rds *r, const char *key, const char *token, int64_t ttl_ms, const char *mark,
                rds_cb cb, void *ud);
void rds_release(rds *r, const char *key, const char *token, rds_cb cb, void *ud);
void rds_extend(rds *r, const char *key, const char *token, int64_t lease_ms, rds_cb cb, void *ud);
/* PING, for readiness. */
void rds_ping(rds *r, rds_cb cb, void *ud);

/*
 * kv -- the key-value service plugins get through jw_host (kv_get, kv_set,
 * kv_setnx, kv_del, kv_incr, kv_eval): blocking Redis calls from worker
 * threads, on one synchronous hiredis connection per calling thread
 * (thread-local, created on first use, reconnected after an error), with
 * redis.timeout as the socket timeout. The loop never calls these.
 *
 * kv_eval caches each script's SHA-1 and uses EVALSHA, falling back to EVAL
 * on NOSCRIPT. Replies are deep-copied into jw_kv_reply trees the caller
 * frees with kv_reply_free.
 *
 * kv_pipeline (ABI 1.1) writes n commands at once (redisAppendCommandArgv)
 * and then reads the n replies (redisGetReply): one round trip. A script
 * not yet run on this connection goes as EVAL (which also caches it in
 * Redis), later ones as EVALSHA; a NOSCRIPT reply (Redis's cache flushed
 * under a live connection) is answered by re-sending that command as EVAL
 * after the others, the one case where a script runs out of order. Any
 * transport failure drops the connection and returns every reply NULL: the
 * caller cannot know which commands ran, exactly as with a lost reply.
 *
 * Threads: any thread except the loop; kv_setup() once at start (main
 * thread) with the config's redis section, kv_thread_cleanup() at the exit
 * of every thread that used kv (the worker pool calls it).
 */

void kv_setup(const cfg_redis *cfg); /* copies what it needs; NULL = no redis */
void kv_teardown(void);
void kv_thread_cleanup(void);

int kv_get(const char *key, char **value, size_t *len);
int kv_set(const char *key, const void *value, size_t len, int64_t ttl_ms);
int kv_setnx(const char *key, const void *value, size_t len, int64_t ttl_ms);
int kv_del(const char *key);
int kv_incr(const char *key, int64_t by, int64_t *result);
int kv_eval(const char *script, size_t nkeys, const char *const *keys, size_t nargs,
            const char *const *args, jw_kv_reply **reply);
int kv_pipeline(const jw_kv_cmd *cmds, size_t n, jw_kv_reply **replies);
void kv_reply_free(jw_kv_reply *reply);

#endif /* JW_CORE_REDIS_H */
