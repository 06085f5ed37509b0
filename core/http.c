/*
 * http.c -- see http.h.
 */
#include "http.h"

#include <cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "metrics_render.h"
#include "stats.h"

/*
 * Owned by whoever called http_start(). `daemon`, `ready` and `ud` are set
 * before the HTTP thread starts and read-only afterwards; `service` is
 * written by any thread under `mu` and read by the HTTP thread under `mu`.
 */
struct http_server {
    struct MHD_Daemon *daemon;
    http_ready_fn ready;
    void *ud;
    int port;
    pthread_mutex_t mu;
    char service[128];
};

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
http_default_ready(void *ud, char *reason, size_t reasonlen)
{
    (void)ud;
    if (!atomic_load(&stats.nats_connected)) {
        snprintf(reason, reasonlen, "nats disconnected");
        return 0;
    }
    if (atomic_load(&stats.draining)) {
        snprintf(reason, reasonlen, "draining");
        return 0;
    }
    if (atomic_load(&stats.needs_redis) && !atomic_load(&stats.redis_connected)) {
        snprintf(reason, reasonlen, "redis unreachable");
        return 0;
    }
    int ready = 1;
    stats_lock();
    for (stats_consumer *c = stats_consumers(); c; c = c->next) {
        if (c->active && atomic_load(&c->bound) != 1) {
            snprintf(reason, reasonlen, "consumer %s not bound", c->name);
            ready = 0;
            break;
        }
    }
    stats_unlock();
    return ready;
}

/* Queue a response whose body is `body` (malloc'd; MHD frees it). */
static enum MHD_Result
respond(struct MHD_Connection *conn, unsigned int status, const char *ctype, char *body, size_t len)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
respond_text(struct MHD_Connection *conn, unsigned int status, const char *text)
{
    char *body = strdup(text);
    if (!body)
        return MHD_NO;
    return respond(conn, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result
respond_json(struct MHD_Connection *conn, unsigned int status, cJSON *obj)
{
    char *body = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!body)
        return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    /* cJSON allocates with malloc by default, so MHD may free() it. */
    return respond(conn, status, "application/json", body, strlen(body));
}

static enum MHD_Result
serve_metrics(http_server *s, struct MHD_Connection *conn)
{
    char service[sizeof(s->service)];
    pthread_mutex_lock(&s->mu);
    memcpy(service, s->service, sizeof(service));
    pthread_mutex_unlock(&s->mu);

    metrics_render_buf b = {0};
    if (metrics_render(service, &b) < 0) {
        metrics_render_buf_free(&b);
        return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}

static enum MHD_Result
serve_healthz(struct MHD_Connection *conn)
{
    int64_t hb = atomic_load(&stats.loop_heartbeat_ms);
    int64_t age = hb > 0 ? mono_ms() - hb : -1;
    if (age >= 0 && age < HTTP_HEALTH_STALE_MS)
        return respond_text(conn, MHD_HTTP_OK, "ok\n");
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "status", "stalled");
        cJSON_AddNumberToObject(o, "since_ms", (double)age);
    }
    return respond_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE, o);
}

static enum MHD_Result
serve_readyz(http_server *s, struct MHD_Connection *conn)
{
    char reason[256] = "";
    int ok = s->ready(s->ud, reason, sizeof(reason));
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "status", ok ? "ready" : "not ready");
        if (!ok)
            cJSON_AddStringToObject(o, "reason", reason[0] ? reason : "unknown");
    }
    return respond_json(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, o);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    http_server *s = cls;
    /* Any body is refused on the first call: every route is GET. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(s, conn);
    if (strcmp(url, "/healthz") == 0)
        return serve_healthz(conn);
    if (strcmp(url, "/readyz") == 0)
        return serve_readyz(s, conn);
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

int
http_start(const char *host, int port, http_ready_fn ready, void *ud, http_server **out, char *err,
           size_t errlen)
{
    *out = NULL;
    if (!host || !*host)
        host = "127.0.0.1";
    if (port < 0 || port > 65535) {
        snprintf(err, errlen, "http: bad port %d", port);
        return -1;
    }
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "http: cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }

    http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        freeaddrinfo(ai);
        snprintf(err, errlen, "http: out of memory");
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->ready = ready ? ready : http_default_ready;
    s->ud = ud;

    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                         ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
    int saved = errno;
    freeaddrinfo(ai);
    if (!s->daemon) {
        snprintf(err, errlen, "http: cannot listen on %s:%d: %s", host, port,
                 saved ? strerror(saved) : "libmicrohttpd failed to start");
        pthread_mutex_destroy(&s->mu);
        free(s);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    log_info("http: serving /metrics /healthz /readyz on %s:%d", host, s->port);
    *out = s;
    return 0;
}

int
http_port(const http_server *s)
{
    return s ? s->port : -1;
}

void
http_set_service(http_server *s, const char *service)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    snprintf(s->service, sizeof(s->service), "%s", service ? service : "");
    pthread_mutex_unlock(&s->mu);
}

void
http_stop(http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon); /* joins the HTTP thread */
    pthread_mutex_destroy(&s->mu);
    free(s);
}
