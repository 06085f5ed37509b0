/*
 * rds.h -- Redis for the hot path: one hiredis async connection driven by
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
#ifndef JW_RDS_H
#define JW_RDS_H

#include <stdint.h>
#include <uv.h>

#include "config.h"

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
/* Connection state changes: up = 1 connected (scripts loaded), 0 lost. */
typedef void (*rds_state_cb)(void *ud, int up);

int rds_start(uv_loop_t *loop, const cfg_redis *cfg, rds_state_cb on_state, void *ud, rds **out);
/* Disconnect; pending callbacks get RDS_ERROR; `done` runs when all is closed. */
void rds_stop(rds *r, void (*done)(void *ud), void *ud);
int rds_connected(const rds *r);

/* The dedup protocol (delivery-notes §2.3). key and token are copied. */
void rds_claim(rds *r, const char *key, const char *token, int64_t lease_ms, rds_cb cb, void *ud);
/* mark: stored after "D|" (e.g. "ok", "dlq") */
void rds_commit(rds *r, const char *key, const char *token, int64_t ttl_ms, const char *mark,
                rds_cb cb, void *ud);
void rds_release(rds *r, const char *key, const char *token, rds_cb cb, void *ud);
void rds_extend(rds *r, const char *key, const char *token, int64_t lease_ms, rds_cb cb, void *ud);
/* PING, for readiness. */
void rds_ping(rds *r, rds_cb cb, void *ud);

#endif /* JW_RDS_H */
