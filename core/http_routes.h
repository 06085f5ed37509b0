/*
 * http_routes.h -- what the operator endpoint answers (core/http.c is the
 * transport): GET/HEAD /metrics, /healthz, /readyz as documented in
 * http.h; 405 for other methods, 404 for other paths. Runs on the HTTP
 * thread; reads only atomics and the stats registries under stats_lock.
 */
#ifndef JW_HTTP_ROUTES_H
#define JW_HTTP_ROUTES_H

#include <stddef.h>

#include "http.h"

/* A response under construction. `body` is malloc'd (NULL: out of memory). */
typedef struct http_resp {
    int status;
    const char *ctype;
    char *body;
    size_t len;
} http_resp;

/* Fill r with a plain-text answer (body copied). */
void http_resp_text(http_resp *r, int status, const char *text);

/*
 * Answer `method` `target` (the path, query already cut off) for the
 * service label `service`; `ready` NULL means http_default_ready. The
 * caller sends r and frees r->body.
 */
void http_route(const char *method, const char *target, const char *service, http_ready_fn ready,
                void *ud, http_resp *r);

#endif /* JW_HTTP_ROUTES_H */
