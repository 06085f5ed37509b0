/*
 * http.c -- see http.h.
 *
 * A deliberately small HTTP/1.x responder on a private libuv loop: one
 * request per connection, answered with `Connection: close`. Each
 * connection reads its request head into a fixed buffer; once the head is
 * complete (an empty line) it is answered, the write side is shut down, and
 * whatever the client still sends is read and discarded until it closes
 * (so a client still sending, e.g. an oversized head, gets the answer
 * rather than a reset). Request bodies are never read: every route is GET.
 *
 * Slow and hostile clients must not starve the probes (a kubelet that gets
 * no answer restarts the pod): a request head must be complete within
 * HTTP_HEAD_TIMEOUT_MS of the accept, an answered connection is given
 * HTTP_LINGER_MS more to take its answer, and when HTTP_MAX_CONNS are open
 * a new connection is not refused: the open connection that has been
 * waiting longest for its head (or discarding input after its answer) is
 * dropped to make room, so a new probe always gets in. At most
 * HTTP_EVICT_PER_TURN are dropped per loop iteration (further connections
 * wait in the backlog for the next one): else a client reopening as fast as
 * it is cut could push a probe out between its accept and the read of its
 * request, which comes one poll later. And a connection gets
 * HTTP_EVICT_GRACE_MS to send its head before it can be dropped: a probe
 * whose client is slow to write after connecting (a loaded machine) is not
 * pushed out by reopeners; while every open connection is that young, new
 * ones wait in the backlog (FIFO, so a probe's turn comes) and the accept
 * is retried on a short timer.
 */
#include "obs.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/base.h"

/* A request head (request line and headers) larger than this gets 431. */
#define HTTP_REQ_MAX 8192
/* The request head must be complete this long after the accept (slowloris). */
#define HTTP_HEAD_TIMEOUT_MS 3000
/* An answered connection is closed this long after the answer (stuck readers). */
#define HTTP_LINGER_MS 5000
/* Open connections; at the cap the oldest idle or slow one makes room. */
#define HTTP_MAX_CONNS 64
/* Connections whose close is still under way count too: beyond this many
 * allocated, a new connection is accepted and closed at once. */
#define HTTP_MAX_ALLOC      (2 * HTTP_MAX_CONNS)
#define HTTP_BACKLOG        128
#define HTTP_EVICT_PER_TURN 4
#define HTTP_EVICT_GRACE_MS 500
#define HTTP_RETRY_MS       50

typedef struct http_conn http_conn;

/*
 * Owned by whoever called http_start(). `ready`, `ud` and `port` are set
 * before the HTTP thread starts and read-only afterwards; `service` is
 * written by any thread under `mu` and read by the HTTP thread under `mu`.
 * The loop and everything below it belong to the HTTP thread, except
 * `stop_async`, which http_stop() signals from its own thread.
 */
struct http_server {
    http_ready_fn ready;
    void *ud;
    int port;
    pthread_mutex_t mu;
    char service[128];

    pthread_t thread;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop_async;
    http_conn *conns;  /* open connections, to close them at stop */
    int nconns;        /* allocated connections (freed in the close callback) */
    int nopen;         /* of them not closing (those in `conns`) */
    uint64_t evicted;  /* connections dropped to make room (logged) */
    int evict_budget;  /* left this loop iteration; refilled by `turn` */
    uv_prepare_t turn; /* before each poll: refill, take a deferred accept */
    uv_timer_t retry;  /* a deferred accept while every connection is in grace */
    uv_tcp_t spare;    /* accepts a connection over the limit, to close it */
    int spare_busy;
    int accept_pending; /* a connection waits for the spare: retry on a close */
    int stopping;
};

enum conn_state {
    CONN_READING, /* accumulating the request head */
    CONN_WRITING, /* response written, then the write side shut down */
    CONN_DRAINING /* answered: discard input until the client closes */
};

/*
 * One connection. Allocated on accept and freed when both handles are
 * closed; HTTP thread only.
 */
struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    http_server *s;
    http_conn *prev, *next;
    enum conn_state state;
    int closing;
    int open_handles;  /* freed at 0 */
    int eof;           /* the client shut its write side down */
    uint64_t t_accept; /* uv_now() of the accept: the oldest goes first */
    char *body;        /* the response body (malloc'd) */
    size_t body_len;
    char head[1024]; /* the response status line and headers */
    size_t len;      /* bytes of req */
    char req[HTTP_REQ_MAX];
};

/* ---- connections ---------------------------------------------------------- */

static void on_connection(uv_stream_t *listener, int status);

/* A connection waited for the spare handle: take it now that one closed. */
static void
retry_accept(http_server *s)
{
    if (s->accept_pending && !s->stopping) {
        s->accept_pending = 0;
        on_connection((uv_stream_t *)&s->listener, 0);
    }
}

static void
conn_handle_closed(uv_handle_t *h)
{
    http_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    http_server *s = c->s;
    free(c->body);
    free(c);
    s->nconns--;
    retry_accept(s);
}

static void
conn_close(http_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    http_server *s = c->s;
    s->nopen--;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void
on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    http_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0 || c->eof)
        conn_close(c);
    else
        c->state = CONN_DRAINING;
}

static void
on_written(uv_write_t *req, int status)
{
    http_conn *c = req->data;
    free(c->body);
    c->body = NULL;
    if (c->closing)
        return;
    if (status < 0 || uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
}

static const char *
reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/*
 * Send `r` (its body is taken over) and move on to shutting the write side
 * down. `head_only`: HEAD, headers (with the body's length) but no body.
 */
static void
conn_respond(http_conn *c, http_resp *r, int head_only, int http10)
{
    if (!r->body) {
        /* Out of memory: a static answer, no allocation needed. */
        r->status = 500;
        r->ctype = "text/plain; charset=utf-8";
        r->len = 0;
    }
    c->body = r->body;
    c->body_len = r->len;
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.%d %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "%s%s"
                     "Connection: close\r\n"
                     "\r\n",
                     http10 ? 0 : 1, r->status, reason_phrase(r->status), r->ctype, r->len,
                     r->status == 405 ? "Allow: GET, HEAD\r\n" : "", r->headers ? r->headers : "");
    if (n < 0 || (size_t)n >= sizeof(c->head)) { /* a route's headers too long: a bug */
        conn_close(c);
        return;
    }
    uv_buf_t bufs[2] = {
        uv_buf_init(c->head, (unsigned int)n),
        uv_buf_init(c->body ? c->body : c->head, (unsigned int)c->body_len),
    };
    c->state = CONN_WRITING;
    /* the head deadline is over: now a bounded time to take the answer */
    uv_timer_start(&c->timer, on_timeout, HTTP_LINGER_MS, 0);
    c->wreq.data = c;
    c->sreq.data = c;
    unsigned int nbufs = head_only || c->body_len == 0 ? 1 : 2;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, nbufs, on_written) < 0)
        conn_close(c);
}

/* Answer with a fixed text (errors found while parsing). */
static void
conn_respond_text(http_conn *c, int status, const char *text)
{
    http_resp r = {0};
    http_resp_text(&r, status, text);
    conn_respond(c, &r, 0, 0);
}

/*
 * The head is complete: c->req holds it, NUL-terminated. Parse the request
 * line "METHOD SP TARGET SP HTTP/1.x" and route it. The headers are not
 * needed.
 */
static void
conn_dispatch(http_conn *c)
{
    char *line = c->req;
    line[strcspn(line, "\r\n")] = '\0';
    char *method = line;
    char *sp1 = strchr(method, ' ');
    char *target = sp1 ? sp1 + 1 : NULL;
    char *sp2 = target ? strchr(target, ' ') : NULL;
    char *version = sp2 ? sp2 + 1 : NULL;
    if (!version || sp1 == method || sp2 == target || strchr(version, ' ')) {
        conn_respond_text(c, 400, "bad request\n");
        return;
    }
    *sp1 = '\0';
    *sp2 = '\0';
    int http10;
    if (strcmp(version, "HTTP/1.1") == 0) {
        http10 = 0;
    } else if (strcmp(version, "HTTP/1.0") == 0) {
        http10 = 1;
    } else if (strncmp(version, "HTTP/", 5) == 0) {
        conn_respond_text(c, 505, "http version not supported\n");
        return;
    } else {
        conn_respond_text(c, 400, "bad request\n");
        return;
    }
    target[strcspn(target, "?#")] = '\0'; /* the query does not route */

    http_server *s = c->s;
    char service[sizeof(s->service)];
    pthread_mutex_lock(&s->mu);
    memcpy(service, s->service, sizeof(service));
    pthread_mutex_unlock(&s->mu);
    http_resp r = {0};
    int head = strcmp(method, "HEAD") == 0;
    http_route(method, target, service, s->ready, s->ud, &r);
    conn_respond(c, &r, head, http10);
}

/* The end of the head: an empty line (CRLF CRLF, or bare LF LF), or NULL. */
static const char *
head_end(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] != '\n')
            continue;
        if (p[i + 1] == '\n')
            return p + i + 2;
        if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
            return p + i + 3;
    }
    return NULL;
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    http_conn *c = h->data;
    if (c->state == CONN_READING) {
        /* One byte kept for the NUL of conn_dispatch. */
        *buf = uv_buf_init(c->req + c->len, (unsigned int)(sizeof(c->req) - 1 - c->len));
    } else {
        *buf = uv_buf_init(c->req, (unsigned int)sizeof(c->req)); /* discarded */
    }
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    http_conn *c = stream->data;
    if (c->closing)
        return;
    if (nread < 0) {
        if (nread == UV_EOF && c->state == CONN_WRITING) {
            /* Half-closed after sending its request: finish the answer. */
            c->eof = 1;
            uv_read_stop(stream);
        } else {
            conn_close(c);
        }
        return;
    }
    if (c->state != CONN_READING || nread == 0)
        return;
    /* The empty line may straddle two reads: look back 3 bytes. */
    size_t from = c->len > 3 ? c->len - 3 : 0;
    c->len += (size_t)nread;
    const char *end = head_end(c->req + from, c->len - from);
    if (end) {
        c->req[end - c->req] = '\0';
        conn_dispatch(c);
    } else if (c->len >= sizeof(c->req) - 1) {
        conn_respond_text(c, 431, "request header fields too large\n");
    }
}

static void
spare_closed(uv_handle_t *h)
{
    http_server *s = h->data;
    s->spare_busy = 0;
    retry_accept(s);
}

/*
 * At the cap: drop the connection that has waited longest without being
 * answered, or that was answered and is only discarding input. One being
 * answered right now (CONN_WRITING) is left to finish. Returns 0 when room
 * was made.
 */
static int
make_room(http_server *s)
{
    JW_ASSERT_THREAD(JW_ROLE_HTTP);
    http_conn *victim = NULL;
    uint64_t now = uv_now(&s->loop);
    for (http_conn *c = s->conns; c; c = c->next) {
        if (c->state == CONN_WRITING)
            continue;
        if (c->state == CONN_READING && now - c->t_accept < HTTP_EVICT_GRACE_MS)
            continue; /* still in its grace: may be a probe about to write */
        if (!victim || c->t_accept <= victim->t_accept)
            victim = c;
    }
    if (!victim || s->evict_budget <= 0)
        return -1;
    s->evict_budget--;
    if (s->evicted++ % 1000 == 0)
        log_warn("http: %d connections open: dropping the oldest idle or slow one to let a "
                 "new one in (%llu dropped so far)",
                 s->nopen, (unsigned long long)s->evicted);
    conn_close(victim);
    return 0;
}

static void
on_retry(uv_timer_t *t)
{
    http_server *s = t->data;
    if (!s->spare_busy)
        retry_accept(s);
}

static void
on_connection(uv_stream_t *listener, int status)
{
    http_server *s = listener->data;
    if (status < 0) {
        log_debug("http: accept: %s", uv_strerror(status));
        return;
    }
    if (s->stopping)
        return;
    if (s->nopen >= HTTP_MAX_CONNS && make_room(s) != 0 && s->nconns < HTTP_MAX_ALLOC) {
        /* No one to drop yet (budget spent, or all in their grace): libuv
         * holds the connection; taken by on_turn, a close or the timer. */
        s->accept_pending = 1;
        uv_timer_start(&s->retry, on_retry, HTTP_RETRY_MS, 0);
        return;
    }
    http_conn *c =
        s->nopen < HTTP_MAX_CONNS && s->nconns < HTTP_MAX_ALLOC ? malloc(sizeof(*c)) : NULL;
    if (!c) {
        /*
         * Over the limit (or out of memory): accept into the spare handle
         * and close. While the spare is closing, the connection stays
         * queued in libuv (which stops accepting until it is taken) and is
         * taken by retry_accept() on the next close.
         */
        if (s->spare_busy) {
            s->accept_pending = 1;
            return;
        }
        uv_tcp_init(&s->loop, &s->spare);
        s->spare.data = s;
        s->spare_busy = 1;
        uv_accept(listener, (uv_stream_t *)&s->spare);
        uv_close((uv_handle_t *)&s->spare, spare_closed);
        return;
    }
    memset(c, 0, offsetof(http_conn, req));
    c->s = s;
    c->state = CONN_READING;
    c->t_accept = uv_now(&s->loop);
    uv_tcp_init(&s->loop, &c->tcp);
    uv_timer_init(&s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    s->nconns++;
    s->nopen++;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0 ||
        uv_timer_start(&c->timer, on_timeout, HTTP_HEAD_TIMEOUT_MS, 0) < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

/* Before each poll: a new eviction budget, and the connection that waited
 * for it. */
static void
on_turn(uv_prepare_t *p)
{
    http_server *s = p->data;
    s->evict_budget = HTTP_EVICT_PER_TURN;
    if (!s->spare_busy)
        retry_accept(s);
}

/* ---- the server thread ---------------------------------------------------- */

/* On the HTTP thread, from http_stop(): close every handle so uv_run returns. */
static void
on_stop(uv_async_t *a)
{
    http_server *s = a->data;
    s->stopping = 1;
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->stop_async, NULL);
    uv_close((uv_handle_t *)&s->turn, NULL);
    uv_close((uv_handle_t *)&s->retry, NULL);
    while (s->conns)
        conn_close(s->conns);
}

static void *
http_main(void *arg)
{
    pthread_setname_np(pthread_self(), "jw-http"); /* for top -H, perf, gdb */
    jw_thread_set_role(JW_ROLE_HTTP);
    http_server *s = arg;
    /*
     * Signals are the main thread's business; blocked here, a write to a
     * reset connection also fails with EPIPE instead of raising SIGPIPE.
     */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

/*
 * Bind and listen on the first address of `ai` that takes it ("localhost"
 * may resolve to ::1 on a host without IPv6). Returns the socket or -1
 * with errno set.
 */
static int
listen_any(const struct addrinfo *ai)
{
    int saved = EADDRNOTAVAIL;
    for (; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, HTTP_BACKLOG) == 0)
            return fd;
        saved = errno;
        close(fd);
    }
    errno = saved;
    return -1;
}

/*
 * 1 when the socket is bound to a loopback address (127/8, ::1, or a
 * v4-mapped 127/8): only the host itself can connect. The endpoint has no
 * access control of its own, so anything else deserves a warning.
 */
static int
bound_loopback(int fd)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return ss.ss_family == AF_UNIX;
}

static int
bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): getsockname() filled ss
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
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
    int fd = listen_any(ai);
    int saved = errno;
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errlen, "http: cannot listen on %s:%d: %s", host, port, strerror(saved));
        return -1;
    }

    http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        snprintf(err, errlen, "http: out of memory");
        return -1;
    }
    s->ready = ready ? ready : http_default_ready;
    s->ud = ud;
    s->port = bound_port(fd);
    int loopback = bound_loopback(fd);
    http_set_control_allowed(loopback);
    int rc = uv_loop_init(&s->loop);
    if (rc < 0) {
        close(fd);
        free(s);
        snprintf(err, errlen, "http: cannot create a loop: %s", uv_strerror(rc));
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    uv_tcp_init(&s->loop, &s->listener);
    s->listener.data = s;
    uv_async_init(&s->loop, &s->stop_async, on_stop);
    s->stop_async.data = s;
    uv_prepare_init(&s->loop, &s->turn);
    s->turn.data = s;
    uv_prepare_start(&s->turn, on_turn);
    uv_unref((uv_handle_t *)&s->turn);
    uv_timer_init(&s->loop, &s->retry);
    s->retry.data = s;
    s->evict_budget = HTTP_EVICT_PER_TURN;
    const char *what = "adopt the socket";
    rc = uv_tcp_open(&s->listener, fd);
    int adopted = rc == 0;
    if (rc == 0) {
        what = "listen";
        rc = uv_listen((uv_stream_t *)&s->listener, HTTP_BACKLOG, on_connection);
    }
    if (rc == 0) {
        what = "start the thread";
        rc = -pthread_create(&s->thread, NULL, http_main, s);
    }
    if (rc != 0) {
        snprintf(err, errlen, "http: cannot %s on %s:%d: %s", what, host, port, uv_strerror(rc));
        if (!adopted)
            close(fd);
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_close((uv_handle_t *)&s->stop_async, NULL);
        uv_close((uv_handle_t *)&s->turn, NULL);
        uv_close((uv_handle_t *)&s->retry, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return -1;
    }
    log_info("http: serving /metrics /healthz /readyz on %s:%d", host, s->port);
    if (!loopback)
        log_warn("http: %s:%d is not a loopback address and the endpoint has no access control: "
                 "anyone who can reach it reads /metrics (consumer, stream and plugin names, "
                 "config digest) and can load it; listen on 127.0.0.1, or restrict it with a "
                 "firewall or network policy",
                 host, s->port);
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
    uv_async_send(&s->stop_async);
    pthread_join(s->thread, NULL);
    int rc = uv_loop_close(&s->loop);
    if (rc != 0)
        log_error("http: loop did not close: %s", uv_strerror(rc));
    pthread_mutex_destroy(&s->mu);
    free(s);
}
