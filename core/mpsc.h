/*
 * mpsc.h -- a many-producer, single-consumer hand-off into the libuv loop:
 * a mutex-protected intrusive list plus one uv_async_t. Producers (fetcher
 * and worker threads) append a whole batch under the lock and wake the loop;
 * wake-ups coalesce, so the loop callback always takes the entire list at
 * once (the nginx done-list / Redis unblock pattern).
 *
 * Items are any struct whose first member is `struct mpsc_node`.
 *
 * Threads: mpsc_init/mpsc_close on the loop thread; mpsc_push from any
 * thread, also after mpsc_close has been requested but before the loop ran
 * the close (the send happens under the lock, and the closing flag is set
 * under it too). The drain callback runs on the loop thread.
 */
#ifndef JW_MPSC_H
#define JW_MPSC_H

#include <uv.h>

typedef struct mpsc_node {
    struct mpsc_node *next;
} mpsc_node;

typedef struct mpsc mpsc;
/* Called on the loop with the drained list in FIFO order. */
typedef void (*mpsc_drain_fn)(mpsc *q, mpsc_node *list);

struct mpsc {
    uv_mutex_t mu;
    mpsc_node *head, *tail;
    int closing;
    uv_async_t async;
    mpsc_drain_fn drain;
    void *data; /* the owner's */
};

int mpsc_init(uv_loop_t *loop, mpsc *q, mpsc_drain_fn drain, void *data);
/* Append first..last (already linked) and wake the loop. */
void mpsc_push_list(mpsc *q, mpsc_node *first, mpsc_node *last);
void mpsc_push(mpsc *q, mpsc_node *n);
/* Loop thread: stop accepting wake-ups and close the handle. */
void mpsc_close(mpsc *q, uv_close_cb cb);

#endif /* JW_MPSC_H */
