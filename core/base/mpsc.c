/*
 * mpsc.c -- see mpsc.h.
 */
#include "base.h"

static void
mpsc_on_async(uv_async_t *h)
{
    mpsc *q = h->data;
    uv_mutex_lock(&q->mu);
    mpsc_node *list = q->head;
    q->head = q->tail = NULL;
    uv_mutex_unlock(&q->mu);
    if (list)
        q->drain(q, list);
}

int
mpsc_init(uv_loop_t *loop, mpsc *q, mpsc_drain_fn drain, void *data)
{
    q->head = q->tail = NULL;
    q->closing = 0;
    q->drain = drain;
    q->data = data;
    int rc = uv_mutex_init(&q->mu);
    if (rc)
        return rc;
    rc = uv_async_init(loop, &q->async, mpsc_on_async);
    if (rc) {
        uv_mutex_destroy(&q->mu);
        return rc;
    }
    q->async.data = q;
    return 0;
}

void
mpsc_push_list(mpsc *q, mpsc_node *first, mpsc_node *last)
{
    last->next = NULL;
    uv_mutex_lock(&q->mu);
    int was_empty = q->head == NULL;
    if (q->tail)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
    /* Only the empty -> non-empty transition needs a wake-up: the loop
     * takes the whole list, so later pushes ride along. Sending under the
     * lock keeps the send from racing with mpsc_close. */
    if (was_empty && !q->closing)
        uv_async_send(&q->async);
    uv_mutex_unlock(&q->mu);
}

void
mpsc_push(mpsc *q, mpsc_node *n)
{
    mpsc_push_list(q, n, n);
}

void
mpsc_close(mpsc *q, uv_close_cb cb)
{
    uv_mutex_lock(&q->mu);
    q->closing = 1;
    uv_mutex_unlock(&q->mu);
    uv_close((uv_handle_t *)&q->async, cb);
}
