/*
 * http.h -- the operator endpoint: GET /metrics (Prometheus text 0.0.4),
 * /healthz (the loop is alive) and /readyz (ready to take work).
 *
 * A small HTTP/1.0-1.1 responder serves it on its own thread with its own
 * libuv loop, never on the main loop. Handlers only read stats (atomics,
 * and the registries under stats_lock) and call the ready callback, so the
 * main loop never waits on HTTP and a stalled loop is still reported.
 * Every answer has a Content-Length and `Connection: close` (one request
 * per connection). A request head over 8 KiB gets 431; a connection is
 * closed 10 s after it was accepted, whatever its state (slow or idle
 * clients); beyond 64 open connections, new ones are accepted and closed.
 * The query string does not route (/metrics?x=1 is /metrics).
 *
 *   /healthz  200 "ok" while stats.loop_heartbeat_ms (CLOCK_MONOTONIC ms,
 *             the same clock as uv_hrtime()/1000000 and uv_now()) is less
 *             than HTTP_HEALTH_STALE_MS old; else 503
 *             {"status":"stalled","since_ms":N} with N the heartbeat's age
 *             (-1 when the loop never ticked).
 *   /readyz   200 {"status":"ready"} when the ready callback says so, else
 *             503 {"status":"not ready","reason":"..."}.
 *   other paths 404; methods other than GET and HEAD 405 (with Allow);
 *   HEAD answers the headers of GET, without the body; a malformed
 *   request line 400; an HTTP version other than 1.0 and 1.1 505.
 */
#ifndef JW_HTTP_H
#define JW_HTTP_H

#include <stddef.h>

#define HTTP_HEALTH_STALE_MS 5000

/*
 * Readiness. Runs on the HTTP thread: it may only read atomics or take
 * short locks. Returns 1 when ready; else 0 with a short reason written
 * into `reason` (NUL-terminated, at most reasonlen bytes).
 */
typedef int (*http_ready_fn)(void *ud, char *reason, size_t reasonlen);

/*
 * Default readiness from stats: NATS connected, not draining, Redis
 * connected if stats.needs_redis, and every active consumer bound. `ud`
 * is unused.
 */
int http_default_ready(void *ud, char *reason, size_t reasonlen);

/* Owned by the caller of http_start(); freed by http_stop(). */
typedef struct http_server http_server;

/*
 * Listen on host:port (host "127.0.0.1", "::1", "localhost"...; NULL =
 * 127.0.0.1; port 0 = any free port, see http_port()). `ready` NULL means
 * http_default_ready. Returns 0, or -1 with a reason in err.
 * Called on the main (or loop) thread.
 */
int http_start(const char *host, int port, http_ready_fn ready, void *ud, http_server **out,
               char *err, size_t errlen);

/* The bound port (useful with port 0). */
int http_port(const http_server *s);

/* The service label of /metrics (copied; any thread, e.g. after a reload). */
void http_set_service(http_server *s, const char *service);

/* Stop serving, wait for the HTTP thread to finish, free. NULL is a no-op. */
void http_stop(http_server *s);

#endif /* JW_HTTP_H */
