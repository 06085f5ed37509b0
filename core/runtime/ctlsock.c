/*
 * ctlsock.c -- see ctlsock_int.h.
 */
#include "ctlsock_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base.h"
#include "breaker_int.h"

typedef struct ctl_conn ctl_conn;

/* The listener. Owned by rt_host.ctlsock; loop thread only. */
typedef struct ctlsock {
    uv_pipe_t listen;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    ctl_conn *conns; /* open connections, closed by ctlsock_stop */
} ctlsock;

/* One connection: its pipe, its deadline, the request read so far. Freed
 * once both handles are closed. Loop thread only. */
struct ctl_conn {
    uv_pipe_t pipe;
    uv_timer_t timer;
    uv_write_t wr;
    ctlsock *srv;
    ctl_conn *next;
    int open_handles;
    int closing;
    size_t len;
    char buf[CTLSOCK_LINE_MAX];
    char out[CTLSOCK_LINE_MAX];
};

int
ctlsock_handle(const char *line, char *out, size_t outlen)
{
    char msg[CTLSOCK_LINE_MAX - 16];
    int pause = -1;
    const char *name = NULL;
    if (strncmp(line, "pause ", 6) == 0) {
        pause = 1;
        name = line + 6;
    } else if (strncmp(line, "resume ", 7) == 0) {
        pause = 0;
        name = line + 7;
    }
    if (pause < 0 || !*name) {
        snprintf(out, outlen, "error unknown request (want: pause NAME, resume NAME)\n");
        return -1;
    }
    int rc = ctl_operator(name, pause, msg, sizeof(msg));
    snprintf(out, outlen, "%s %s\n", rc == 0 ? "ok" : "error", msg);
    return rc;
}

static void
conn_closed(uv_handle_t *h)
{
    ctl_conn *k = h->data;
    if (--k->open_handles > 0)
        return;
    ctl_conn **pp = &k->srv->conns;
    while (*pp && *pp != k)
        pp = &(*pp)->next;
    if (*pp)
        *pp = k->next;
    free(k);
}

static void
conn_close(ctl_conn *k)
{
    if (k->closing)
        return;
    k->closing = 1;
    uv_close((uv_handle_t *)&k->pipe, conn_closed);
    uv_close((uv_handle_t *)&k->timer, conn_closed);
}

static void
on_written(uv_write_t *w, int status)
{
    (void)status;
    conn_close(w->data);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    ctl_conn *k = h->data;
    *buf = uv_buf_init(k->buf + k->len, (unsigned)(sizeof(k->buf) - 1 - k->len));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    ctl_conn *k = s->data;
    if (n < 0) {
        conn_close(k);
        return;
    }
    k->len += (size_t)n;
    k->buf[k->len] = '\0';
    char *nl = strchr(k->buf, '\n');
    if (!nl && k->len < sizeof(k->buf) - 1)
        return;
    uv_read_stop(s);
    if (nl)
        *nl = '\0';
    if (!nl)
        snprintf(k->out, sizeof(k->out), "error request line too long\n");
    else
        ctlsock_handle(k->buf, k->out, sizeof(k->out));
    uv_buf_t b = uv_buf_init(k->out, (unsigned)strlen(k->out));
    k->wr.data = k;
    if (uv_write(&k->wr, s, &b, 1, on_written) != 0)
        conn_close(k);
}

static void
on_deadline(uv_timer_t *t)
{
    conn_close(t->data);
}

static void
on_connection(uv_stream_t *server, int status)
{
    ctlsock *cs = server->data;
    if (status < 0)
        return;
    ctl_conn *k = calloc(1, sizeof(*k));
    if (!k)
        return;
    k->srv = cs;
    uv_pipe_init(server->loop, &k->pipe, 0);
    uv_timer_init(server->loop, &k->timer);
    k->pipe.data = k->timer.data = k;
    k->open_handles = 2;
    k->next = cs->conns;
    cs->conns = k;
    if (uv_accept(server, (uv_stream_t *)&k->pipe) != 0 ||
        uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read) != 0) {
        conn_close(k);
        return;
    }
    uv_timer_start(&k->timer, on_deadline, CTLSOCK_TIMEOUT_MS, 0);
}

static void
listener_closed(uv_handle_t *h)
{
    free(h->data);
}

int
ctlsock_start(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP | JW_ROLE_MAIN);
    if (!r->pid_file)
        return 0;
    ctlsock *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return -1;
    if ((size_t)snprintf(cs->path, sizeof(cs->path), "%s.sock", r->pid_file) >= sizeof(cs->path)) {
        log_warn("control socket: %s.sock is too long a path for a unix socket; `jetway consumer` "
                 "cannot reach this process",
                 r->pid_file);
        free(cs);
        return -1;
    }
    /* A socket left by a process that died: only ever remove a socket. */
    struct stat sb;
    if (lstat(cs->path, &sb) == 0 && S_ISSOCK(sb.st_mode))
        unlink(cs->path);
    uv_pipe_init(r->loop, &cs->listen, 0);
    cs->listen.data = cs;
    mode_t old = umask(077); /* the socket is born 0600 */
    int rc = uv_pipe_bind(&cs->listen, cs->path);
    umask(old);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&cs->listen, 8, on_connection);
    if (rc != 0) {
        log_warn("control socket %s: %s; `jetway consumer` cannot reach this process", cs->path,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)&cs->listen, listener_closed);
        return -1;
    }
    r->ctlsock = cs;
    return 0;
}

void
ctlsock_stop(rt_host *r)
{
    JW_ASSERT_THREAD(JW_ROLE_LOOP);
    ctlsock *cs = r->ctlsock;
    if (!cs)
        return;
    r->ctlsock = NULL;
    for (ctl_conn *k = cs->conns; k; k = k->next)
        conn_close(k);
    unlink(cs->path);
    uv_close((uv_handle_t *)&cs->listen, listener_closed);
}
